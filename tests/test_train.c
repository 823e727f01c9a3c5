/* The training loop and checkpoints through the library API: a checkpoint
 * round trip restores weights, optimizer state and training state exactly;
 * resuming in the middle of an epoch equals an uninterrupted run; a
 * non-finite gradient stops before the update and names the tensor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgrad.h"

static const char *const MODEL =
    "{\"input\": [3], \"layers\": [{\"type\": \"dense\", \"units\": 8, \"activation\": \"relu\"},"
    " {\"type\": \"dropout\", \"rate\": 0.3}, {\"type\": \"dense\", \"units\": 2}],"
    " \"optimizer\": {\"type\": \"adam\", \"lr\": 0.01},"
    " \"train\": {\"epochs\": 2, \"batch\": 4, \"seed\": 3}}";

#define N 22

static float xs[N * 3];
static int32_t labels[N];

/* A caller-built data set: N samples of 3 features, 2 classes. */
static cg_dataset make_data(void)
{
    for (int i = 0; i < N; i++) {
        labels[i] = i % 2;
        for (int j = 0; j < 3; j++) xs[i * 3 + j] = sinf((float)(i * 3 + j)) + (float)labels[i];
    }
    cg_dataset d = {.count = N, .sample_ndim = 1, .sample_shape = {3}, .sample_size = 3,
                    .x = xs, .labels = labels, .num_classes = 2};
    snprintf(d.source, sizeof d.source, "test data");
    return d;
}

static const char *temp_path(const char *name)
{
    static char buf[512];
    const char *dir = getenv("CG_BUILD_DIR");
    snprintf(buf, sizeof buf, "%s/%s", dir ? dir : "/tmp", name);
    return buf;
}

typedef struct run {
    cg_model_spec *spec;
    cg_model *model;
    cg_optim *opt;
    cg_train_state state;
    cg_train_options o;
} run;

static void run_open(run *r)
{
    assert_int_equal(cg_model_spec_parse(MODEL, &r->spec), CG_OK);
    cg_rng rng = cg_train_rng(r->spec->train.seed, 0, CG_STREAM_INIT);
    r->model = cg_model_create(r->spec, &rng);
    assert_non_null(r->model);
    r->opt = cg_optim_create(cg_model_params(r->model), &r->spec->optim);
    assert_non_null(r->opt);
    r->state = cg_train_state_init(r->spec->train.seed);
    r->o = cg_train_options_from_spec(r->spec, r->spec->optim.lr);
}

static void run_close(run *r)
{
    cg_optim_destroy(r->opt);
    cg_model_destroy(r->model);
    cg_model_spec_free(r->spec);
}

static void assert_same_params(cg_model *a, cg_model *b)
{
    cg_params *pa = cg_model_params(a), *pb = cg_model_params(b);
    assert_int_equal(cg_params_numel(pa), cg_params_numel(pb));
    assert_memory_equal(cg_params_data(pa), cg_params_data(pb),
                        (size_t)cg_params_numel(pa) * sizeof(float));
}

static void checkpoint_round_trip(void **state)
{
    (void)state;
    cg_dataset d = make_data();
    run a;
    run_open(&a);
    a.o.epochs = 1;
    assert_int_equal(cg_train(a.model, a.opt, &d, NULL, &a.o, &a.state), CG_OK);
    const char *path = temp_path("test_train_ckpt.safetensors");
    assert_int_equal(cg_checkpoint_save(path, a.model, NULL, a.opt, &a.state), CG_OK);

    cg_checkpoint *ck;
    assert_int_equal(cg_checkpoint_load(path, &ck), CG_OK);
    assert_true(ck->has_state);
    assert_non_null(ck->spec);
    assert_int_equal(ck->state.epoch, 1);
    assert_int_equal(ck->state.step, 6); /* ceil(22 / 4) */
    assert_int_equal(ck->state.rng.state, a.state.rng.state);
    assert_int_equal(ck->state.rng.inc, a.state.rng.inc);
    assert_true(ck->state.train_loss == a.state.train_loss);
    assert_non_null(cg_st_find(ck->file, "optim.exp_avg.layers.0.weight"));
    assert_string_equal(cg_st_meta(ck->file, "format"), "pt");

    run b;
    run_open(&b);
    assert_int_equal(cg_model_load_weights(b.model, ck->file, NULL, NULL), CG_OK);
    assert_int_equal(cg_checkpoint_restore_optim(ck, b.model, b.opt), CG_OK);
    assert_same_params(a.model, b.model);
    assert_int_equal(cg_optim_step_count(b.opt), 6);
    for (size_t s = 0; s < cg_optim_state_count(a.opt); s++)
        assert_memory_equal(cg_optim_state_data(a.opt, s), cg_optim_state_data(b.opt, s),
                            (size_t)cg_params_numel(cg_model_params(a.model)) * sizeof(float));
    cg_checkpoint_free(ck);
    remove(path);
    run_close(&a);
    run_close(&b);
}

static volatile sig_atomic_t stop_flag;

/* Raises the stop flag after `after` batches, as a SIGINT handler would. */
static void stop_after(void *user, const cg_progress *p)
{
    if (p->step == *(int64_t *)user) stop_flag = 1;
}

static void mid_epoch_resume_equals_straight_run(void **state)
{
    (void)state;
    cg_dataset d = make_data();
    run straight;
    run_open(&straight);
    assert_int_equal(cg_train(straight.model, straight.opt, &d, NULL, &straight.o, &straight.state),
                     CG_OK);

    run first;
    run_open(&first);
    const char *path = temp_path("test_train_stop.safetensors");
    int64_t stop_at = 8; /* inside epoch 2 */
    stop_flag = 0;
    first.o.stop = &stop_flag;
    first.o.on_batch = stop_after;
    first.o.user = &stop_at;
    first.o.save_path = path;
    assert_int_equal(cg_train(first.model, first.opt, &d, NULL, &first.o, &first.state),
                     CG_ERR_INTERRUPTED);
    assert_int_equal(first.state.epoch, 1);
    assert_int_equal(first.state.batch_in_epoch, 2);

    cg_checkpoint *ck;
    assert_int_equal(cg_checkpoint_load(path, &ck), CG_OK);
    run second;
    run_open(&second);
    assert_int_equal(cg_model_load_weights(second.model, ck->file, NULL, NULL), CG_OK);
    assert_int_equal(cg_checkpoint_restore_optim(ck, second.model, second.opt), CG_OK);
    second.state = ck->state;
    assert_int_equal(cg_train(second.model, second.opt, &d, NULL, &second.o, &second.state), CG_OK);
    assert_same_params(straight.model, second.model);
    assert_true(second.state.train_loss == straight.state.train_loss);
    cg_checkpoint_free(ck);
    remove(path);
    run_close(&straight);
    run_close(&first);
    run_close(&second);
}

static void nonfinite_gradient_stops_before_update(void **state)
{
    (void)state;
    /* h = 1e-3·x, logits = (2e38, -2e38)·h = ±2e35: a finite loss (4e35)
     * with saturated softmax, dlogits = (1, -1), so dh = 2e38 + 2e38
     * overflows to Inf and so does the first layer's gradient. */
    cg_model_spec *spec;
    assert_int_equal(cg_model_spec_parse("{\"input\": [1], \"layers\": [{\"type\": \"dense\", "
                                         "\"units\": 1}, {\"type\": \"dense\", \"units\": 2}], "
                                         "\"optimizer\": {\"type\": \"sgd\"}}",
                                         &spec),
                     CG_OK);
    cg_rng rng;
    cg_rng_seed(&rng, 1);
    cg_model *m = cg_model_create(spec, &rng);
    cg_params *p = cg_model_params(m);
    float w0 = 1e-3f, w1[2] = {2e38f, -2e38f};
    memcpy(cg_params_find(p, "layers.0.weight")->data, &w0, sizeof w0);
    memcpy(cg_params_find(p, "layers.1.weight")->data, w1, sizeof w1);
    memset(cg_params_find(p, "layers.0.bias")->data, 0, sizeof(float));
    memset(cg_params_find(p, "layers.1.bias")->data, 0, 2 * sizeof(float));
    float x[1] = {1.0f};
    int32_t y[1] = {1};
    cg_dataset d = {.count = 1, .sample_ndim = 1, .sample_shape = {1}, .sample_size = 1, .x = x,
                    .labels = y, .num_classes = 2};
    cg_optim *opt = cg_optim_create(p, &spec->optim);
    cg_train_state st = cg_train_state_init(1);
    cg_train_options o = cg_train_options_from_spec(spec, spec->optim.lr);
    o.epochs = 1;
    assert_int_equal(cg_train(m, opt, &d, NULL, &o, &st), CG_ERR_NUMERIC);
    assert_non_null(strstr(cg_last_error(), "step 1 (epoch 1, batch 1)"));
    assert_non_null(strstr(cg_last_error(), "gradient of \"layers.0.weight\""));
    assert_int_equal(st.step, 0);
    assert_float_equal(cg_params_find(p, "layers.0.weight")->data[0], w0, 0);
    cg_optim_destroy(opt);
    cg_model_destroy(m);
    cg_model_spec_free(spec);
}

static void data_that_does_not_fit_is_refused(void **state)
{
    (void)state;
    cg_dataset d = make_data();
    run r;
    run_open(&r);
    labels[5] = 2; /* the model has 2 classes */
    assert_int_equal(cg_train(r.model, r.opt, &d, NULL, &r.o, &r.state), CG_ERR_ARG);
    assert_non_null(strstr(cg_last_error(), "label 2"));
    d = make_data();
    d.sample_shape[0] = 1;
    d.sample_ndim = 2;
    d.sample_shape[1] = 3;
    assert_int_equal(cg_model_check_data(r.model, &d), CG_ERR_ARG);
    assert_non_null(strstr(cg_last_error(), "samples have shape [1, 3], the model's input is [3]"));
    run_close(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(checkpoint_round_trip),
        cmocka_unit_test(mid_epoch_resume_equals_straight_run),
        cmocka_unit_test(nonfinite_gradient_stops_before_update),
        cmocka_unit_test(data_that_does_not_fit_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
