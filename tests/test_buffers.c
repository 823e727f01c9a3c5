/* Buffers, through the batchnorm layer (their first user): PyTorch's names,
 * dtypes and initial values; training moves them and the optimizer never
 * does; checkpoints save and load them exactly; a weights file without them
 * loads with each one reported, and one with a wrong shape or dtype is
 * refused naming it. */
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
#include "tmpdir.h"

/* Per-sample [2, 3, 3]: batch norm over an image-like input (layer 0, as
 * BatchNorm2d) and over features (layer 3, as BatchNorm1d). */
static const char *const MODEL =
    "{\"input\": [2, 3, 3], \"layers\": ["
    " {\"type\": \"batchnorm\"},"
    " {\"type\": \"flatten\"},"
    " {\"type\": \"dense\", \"units\": 6},"
    " {\"type\": \"batchnorm\", \"momentum\": 0.2, \"eps\": 0.001},"
    " {\"type\": \"relu\"},"
    " {\"type\": \"dense\", \"units\": 2}],"
    " \"optimizer\": {\"type\": \"adam\", \"lr\": 0.01},"
    " \"train\": {\"epochs\": 2, \"batch\": 4, \"seed\": 5}}";

/* Its buffers in order, with their sizes. */
static const char *const BUFFERS[] = {
    "layers.0.running_mean", "layers.0.running_var", "layers.0.num_batches_tracked",
    "layers.3.running_mean", "layers.3.running_var", "layers.3.num_batches_tracked",
};
static const int64_t CHANNELS[] = {2, 2, 0, 6, 6, 0};   /* 0: the int64 scalar */
#define N_BUFFERS 6

#define N 22   /* ceil(22/4) = 6 steps an epoch, the last batch of 2 */
#define SAMPLE 18

static float xs[N * SAMPLE];
static int32_t labels[N];

static cg_dataset make_data(void)
{
    for (int i = 0; i < N; i++) {
        labels[i] = i % 2;
        for (int j = 0; j < SAMPLE; j++)
            xs[i * SAMPLE + j] = 3.0f * sinf((float)(i * SAMPLE + j)) + 2.0f * (float)labels[i];
    }
    cg_dataset d = {.count = N, .sample_ndim = 3, .sample_shape = {2, 3, 3},
                    .sample_size = SAMPLE, .x = xs, .labels = labels, .num_classes = 2};
    snprintf(d.source, sizeof d.source, "test data");
    return d;
}

static int setup(void **state)
{
    (void)state;
    return tmp_dir_create("test_buffers");
}

typedef struct run {
    cg_model_spec *spec;
    cg_model *model;
    cg_optim *opt;
} run;

static void run_open(run *r, const char *json)
{
    assert_int_equal(cg_model_spec_parse(json, &r->spec), CG_OK);
    cg_rng rng = cg_train_rng(r->spec->train.seed, 0, CG_STREAM_INIT);
    r->model = cg_model_create(r->spec, &rng);
    assert_non_null(r->model);
    r->opt = cg_optim_create(cg_model_params(r->model), &r->spec->optim);
    assert_non_null(r->opt);
}

static void run_close(run *r)
{
    cg_optim_destroy(r->opt);
    cg_model_destroy(r->model);
    cg_model_spec_free(r->spec);
}

static void train(run *r, int64_t epochs)
{
    cg_dataset d = make_data();
    cg_train_state st = cg_train_state_init(r->spec->train.seed);
    cg_train_options o = cg_train_options_from_spec(r->spec, r->spec->optim.lr);
    o.epochs = epochs;
    assert_int_equal(cg_train(r->model, r->opt, &d, NULL, &o, &st), CG_OK);
}

static const cg_buffer *buffer(cg_model *m, const char *name)
{
    for (size_t i = 0; i < cg_model_buffer_count(m); i++)
        if (!strcmp(cg_model_buffer_at(m, i)->name, name)) return cg_model_buffer_at(m, i);
    fail_msg("model has no buffer \"%s\"", name);
    return NULL;
}

static size_t buffer_bytes(const cg_buffer *b)
{
    return (size_t)b->size * (b->dtype == CG_DTYPE_I64 ? sizeof(int64_t) : sizeof(float));
}

static int64_t tracked(cg_model *m, const char *name)
{
    const cg_buffer *b = buffer(m, name);
    assert_int_equal(b->dtype, CG_DTYPE_I64);
    return *(const int64_t *)b->data;
}

static void assert_same_buffers(cg_model *a, cg_model *b)
{
    assert_int_equal(cg_model_buffer_count(a), cg_model_buffer_count(b));
    for (size_t i = 0; i < cg_model_buffer_count(a); i++) {
        const cg_buffer *x = cg_model_buffer_at(a, i), *y = cg_model_buffer_at(b, i);
        assert_string_equal(x->name, y->name);
        assert_memory_equal(x->data, y->data, buffer_bytes(x));
    }
}

/* ------------------------------------------------------------ the layer */

static void layer_has_pytorch_names_and_defaults(void **state)
{
    (void)state;
    run r;
    run_open(&r, MODEL);
    /* weight and bias per layer: 2·2 + 2·6; dense 18·6+6 and 6·2+2 */
    assert_int_equal(r.spec->n_params, 4 + 12 + 114 + 14);
    assert_int_equal(r.spec->layers[0].n_params, 4);
    assert_int_equal(r.spec->layers[0].n_buffers, 5);
    assert_int_equal(r.spec->layers[3].n_buffers, 13);
    assert_int_equal(r.spec->n_buffers, 18);
    assert_int_equal(r.spec->layers[0].out_ndim, 3);
    assert_int_equal(cg_model_buffer_count(r.model), N_BUFFERS);
    for (int i = 0; i < N_BUFFERS; i++) {
        const cg_buffer *b = cg_model_buffer_at(r.model, (size_t)i);
        assert_string_equal(b->name, BUFFERS[i]);
        if (CHANNELS[i] == 0) {
            assert_int_equal(b->dtype, CG_DTYPE_I64);
            assert_int_equal(b->ndim, 0);
            assert_int_equal(b->size, 1);
            assert_int_equal(*(const int64_t *)b->data, 0);
            continue;
        }
        assert_int_equal(b->dtype, CG_DTYPE_F32);
        assert_int_equal(b->ndim, 1);
        assert_int_equal(b->shape[0], CHANNELS[i]);
        float want = strstr(b->name, "running_var") ? 1.0f : 0.0f;
        for (int64_t k = 0; k < b->size; k++) assert_true(((const float *)b->data)[k] == want);
    }
    cg_params *p = cg_model_params(r.model);
    const cg_tensor *w = cg_params_find(p, "layers.3.weight");
    const cg_tensor *b = cg_params_find(p, "layers.3.bias");
    assert_non_null(w);
    assert_non_null(b);
    for (int k = 0; k < 6; k++) assert_true(w->data[k] == 1.0f && b->data[k] == 0.0f);
    for (size_t i = 0; i < cg_params_count(p); i++)
        assert_null(strstr(cg_params_at(p, i)->name, "running"));
    char text[128];
    assert_string_equal(cg_layer_describe(&r.spec->layers[0], text, sizeof text), "batchnorm 2");
    assert_string_equal(cg_layer_describe(&r.spec->layers[3], text, sizeof text),
                        "batchnorm 6, momentum 0.2, eps 0.001");
    run_close(&r);
}

static void layer_settings_round_trip_and_are_checked(void **state)
{
    (void)state;
    cg_model_spec *spec = cg_model_spec_create(1, (int64_t[]){5});
    assert_non_null(spec);
    assert_int_equal(cg_model_spec_add_layer(spec, "{\"type\": \"batchnorm\", \"affine\": false, "
                                                   "\"momentum\": 0.05}"), CG_OK);
    assert_int_equal(spec->n_params, 0);
    assert_int_equal(spec->n_buffers, 11);
    char text[128];
    assert_string_equal(cg_layer_describe(&spec->layers[0], text, sizeof text),
                        "batchnorm 5, momentum 0.05, eps 1e-05 (no affine)");
    char *json = cg_model_spec_to_json(spec);
    assert_non_null(json);
    assert_non_null(strstr(json, "\"type\":\"batchnorm\",\"momentum\":0.05,\"eps\":1e-05,"
                                 "\"affine\":false"));
    cg_model_spec *again;
    assert_int_equal(cg_model_spec_parse(json, &again), CG_OK);
    assert_memory_equal(&again->layers[0].config, &spec->layers[0].config,
                        sizeof spec->layers[0].config);
    free(json);
    cg_model_spec_free(again);
    cg_rng rng;
    cg_rng_seed(&rng, 1);
    cg_model *m = cg_model_create(spec, &rng);
    assert_non_null(m);
    assert_int_equal(cg_params_count(cg_model_params(m)), 0);
    assert_int_equal(cg_model_buffer_count(m), 3);
    cg_model_destroy(m);

    const char *bad[][2] = {
        {"{\"type\": \"batchnorm\", \"momentum\": 1.5}", "layers[1].momentum"},
        {"{\"type\": \"batchnorm\", \"eps\": 0}", "layers[1].eps"},
        {"{\"type\": \"batchnorm\", \"affine\": 1}", "layers[1].affine"},
        {"{\"type\": \"batchnorm\", \"units\": 3}", "units"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_not_equal(cg_model_spec_add_layer(spec, bad[i][0]), CG_OK);
        if (!strstr(cg_last_error(), bad[i][1]))
            fail_msg("%s: error \"%s\" does not name %s", bad[i][0], cg_last_error(), bad[i][1]);
    }
    cg_model_spec_free(spec);
}

/* ------------------------------------------------------------ training */

static void training_moves_buffers_evaluation_uses_them(void **state)
{
    (void)state;
    run r;
    run_open(&r, MODEL);
    train(&r, 1);
    assert_int_equal(tracked(r.model, "layers.0.num_batches_tracked"), 6);
    assert_int_equal(tracked(r.model, "layers.3.num_batches_tracked"), 6);
    const float *mean = buffer(r.model, "layers.0.running_mean")->data;
    const float *var = buffer(r.model, "layers.0.running_var")->data;
    for (int c = 0; c < 2; c++) assert_true(mean[c] != 0.0f && var[c] != 1.0f);

    /* Evaluation mode normalises layer 0 by its running statistics, and
     * leaves them where they are. */
    cg_ctx *ctx = cg_ctx_create(0);
    cg_ctx_set_training(ctx, false);
    cg_ctx_set_grad_enabled(ctx, false);
    cg_tensor *x = cg_tensor_from(ctx, 4, (int64_t[]){3, 2, 3, 3}, xs);
    float mean_kept[2], var_kept[2];
    memcpy(mean_kept, mean, sizeof mean_kept);
    memcpy(var_kept, var, sizeof var_kept);
    float out[3 * SAMPLE];
    cg_tensor *w0 = cg_params_find(cg_model_params(r.model), "layers.0.weight");
    cg_tensor *b0 = cg_params_find(cg_model_params(r.model), "layers.0.bias");
    cg_tensor *y = cg_batch_norm(ctx, x, w0, b0, mean_kept, var_kept, NULL, 0.1f, 1e-5f, false);
    assert_non_null(y);
    memcpy(out, y->data, sizeof out);
    assert_non_null(cg_model_forward(ctx, r.model, x));
    assert_memory_equal(mean, mean_kept, sizeof mean_kept);
    assert_memory_equal(var, var_kept, sizeof var_kept);
    assert_int_equal(tracked(r.model, "layers.0.num_batches_tracked"), 6);
    cg_ctx_destroy(ctx);
    /* The same through a one-layer model of batchnorm alone. */
    run one;
    run_open(&one, "{\"input\": [2, 3, 3], \"layers\": [{\"type\": \"batchnorm\"}], "
                   "\"loss\": \"mse\"}");
    cg_buffer *m0 = cg_model_buffer_at(one.model, 0), *v0 = cg_model_buffer_at(one.model, 1);
    memcpy(m0->data, mean_kept, sizeof mean_kept);
    memcpy(v0->data, var_kept, sizeof var_kept);
    cg_params *p1 = cg_model_params(one.model);
    memcpy(cg_params_find(p1, "layers.0.weight")->data, w0->data, 2 * sizeof(float));
    memcpy(cg_params_find(p1, "layers.0.bias")->data, b0->data, 2 * sizeof(float));
    ctx = cg_ctx_create(0);
    cg_ctx_set_training(ctx, false);
    y = cg_model_forward(ctx, one.model, cg_tensor_from(ctx, 4, (int64_t[]){3, 2, 3, 3}, xs));
    assert_non_null(y);
    assert_memory_equal(y->data, out, sizeof out);
    cg_ctx_destroy(ctx);
    run_close(&one);
    run_close(&r);
}

/* Only parameters are optimized: a step leaves every buffer as it was. */
static void optimizer_never_touches_buffers(void **state)
{
    (void)state;
    run r;
    run_open(&r, MODEL);
    cg_params *p = cg_model_params(r.model);
    int64_t trainable = cg_params_numel(p);
    assert_int_equal(trainable, r.spec->n_params);
    for (size_t i = 0; i < cg_model_buffer_count(r.model); i++) {
        cg_buffer *b = cg_model_buffer_at(r.model, i);
        if (b->dtype == CG_DTYPE_F32)
            for (int64_t k = 0; k < b->size; k++) ((float *)b->data)[k] = 0.5f + (float)k;
        else
            *(int64_t *)b->data = 7;
    }
    run before;
    run_open(&before, MODEL);
    for (size_t i = 0; i < cg_model_buffer_count(r.model); i++)
        memcpy(cg_model_buffer_at(before.model, i)->data, cg_model_buffer_at(r.model, i)->data,
               buffer_bytes(cg_model_buffer_at(r.model, i)));
    /* Evaluation mode, so the forward pass does not move them either. */
    cg_ctx *ctx = cg_ctx_create(0);
    cg_ctx_set_training(ctx, false);
    float *params0 = malloc((size_t)trainable * sizeof *params0);
    assert_non_null(params0);
    memcpy(params0, cg_params_data(p), (size_t)trainable * sizeof *params0);
    for (int step = 0; step < 3; step++) {
        cg_ctx_reset(ctx);
        cg_params_zero_grad(p);
        cg_tensor *x = cg_tensor_from(ctx, 4, (int64_t[]){4, 2, 3, 3}, xs);
        cg_tensor *out = cg_model_forward(ctx, r.model, x);
        cg_tensor *loss = cg_model_loss(ctx, r.model, out, labels, NULL);
        assert_int_equal(cg_backward(ctx, loss), CG_OK);
        assert_int_equal(cg_optim_step(r.opt), CG_OK);
    }
    assert_true(memcmp(params0, cg_params_data(p), (size_t)trainable * sizeof *params0) != 0);
    assert_same_buffers(r.model, before.model);
    /* The optimizer's state covers the parameters alone. */
    for (size_t s = 0; s < cg_optim_state_count(r.opt); s++)
        assert_non_null(cg_optim_state_data(r.opt, s));
    free(params0);
    cg_ctx_destroy(ctx);
    run_close(&before);
    run_close(&r);
}

/* ------------------------------------------------------------ checkpoints */

static void checkpoint_saves_and_loads_buffers(void **state)
{
    (void)state;
    run a;
    run_open(&a, MODEL);
    train(&a, 2);
    const char *path = tmp_path("bn.safetensors");
    assert_int_equal(cg_checkpoint_save(path, a.model, NULL, a.opt, NULL), CG_OK);

    cg_checkpoint *ck;
    assert_int_equal(cg_checkpoint_load(path, &ck), CG_OK);
    for (int i = 0; i < N_BUFFERS; i++) {
        const cg_st_entry *e = cg_st_find(ck->file, BUFFERS[i]);
        assert_non_null(e);
        if (CHANNELS[i] == 0) {
            assert_int_equal(e->dtype, CG_DTYPE_I64);
            assert_int_equal(e->ndim, 0);
            assert_int_equal(*(const int64_t *)e->data, 12);
        } else {
            assert_int_equal(e->dtype, CG_DTYPE_F32);
            assert_int_equal(e->ndim, 1);
            assert_int_equal(e->shape[0], CHANNELS[i]);
        }
        /* Not optimizer state: no "optim.<state>.<buffer>" entries. */
        char name[128];
        snprintf(name, sizeof name, "optim.exp_avg.%s", BUFFERS[i]);
        assert_null(cg_st_find(ck->file, name));
    }
    run b;
    run_open(&b, MODEL);
    assert_int_equal(cg_model_load_weights(b.model, ck->file, NULL, NULL), CG_OK);
    assert_same_buffers(a.model, b.model);
    assert_memory_equal(cg_params_data(cg_model_params(a.model)),
                        cg_params_data(cg_model_params(b.model)),
                        (size_t)cg_params_numel(cg_model_params(a.model)) * sizeof(float));

    /* Equal evaluation-mode outputs. */
    cg_ctx *ctx = cg_ctx_create(0);
    cg_ctx_set_training(ctx, false);
    int64_t shape[4] = {N, 2, 3, 3};
    cg_tensor *ya = cg_model_forward(ctx, a.model, cg_tensor_from(ctx, 4, shape, xs));
    cg_tensor *yb = cg_model_forward(ctx, b.model, cg_tensor_from(ctx, 4, shape, xs));
    assert_non_null(ya);
    assert_non_null(yb);
    assert_memory_equal(ya->data, yb->data, (size_t)ya->size * sizeof(float));
    cg_ctx_destroy(ctx);
    cg_checkpoint_free(ck);
    run_close(&a);
    run_close(&b);
}

typedef struct missing_log {
    int n;
    char names[N_BUFFERS + 1][64];
} missing_log;

static void note_missing(void *user, const char *name)
{
    missing_log *log = user;
    if (log->n <= N_BUFFERS) snprintf(log->names[log->n], sizeof log->names[0], "%s", name);
    log->n++;
}

/* The parameters of m as safetensors entries (entries has room for them). */
static size_t param_entries(cg_model *m, cg_st_entry *entries)
{
    cg_params *p = cg_model_params(m);
    for (size_t i = 0; i < cg_params_count(p); i++) {
        const cg_tensor *t = cg_params_at(p, i);
        entries[i] = (cg_st_entry){.name = t->name, .dtype = CG_DTYPE_F32, .ndim = t->ndim,
                                   .data = t->data};
        memcpy(entries[i].shape, t->shape, sizeof t->shape);
    }
    return cg_params_count(p);
}

/* A state_dict from before batch norm kept running statistics, or a
 * hand-made file: the parameters load, each missing buffer is reported and
 * keeps PyTorch's initial value. */
static void missing_buffers_are_reported(void **state)
{
    (void)state;
    run a, b;
    run_open(&a, MODEL);
    train(&a, 1);
    run_open(&b, MODEL);
    cg_st_entry entries[16];
    size_t n = param_entries(a.model, entries);
    const char *path = tmp_path("params_only.safetensors");
    assert_int_equal(cg_safetensors_save(path, entries, n, NULL, NULL, 0), CG_OK);
    cg_st_file *f;
    assert_int_equal(cg_safetensors_load(path, &f), CG_OK);
    missing_log log = {0};
    assert_int_equal(cg_model_load_weights(b.model, f, note_missing, &log), CG_OK);
    assert_int_equal(log.n, N_BUFFERS);
    for (int i = 0; i < N_BUFFERS; i++) assert_string_equal(log.names[i], BUFFERS[i]);
    assert_memory_equal(cg_params_data(cg_model_params(a.model)),
                        cg_params_data(cg_model_params(b.model)),
                        (size_t)cg_params_numel(cg_model_params(a.model)) * sizeof(float));
    assert_true(((const float *)buffer(b.model, "layers.3.running_var")->data)[0] == 1.0f);
    assert_int_equal(tracked(b.model, "layers.3.num_batches_tracked"), 0);
    /* Without a callback the same file loads all the same. */
    assert_int_equal(cg_model_load_weights(b.model, f, NULL, NULL), CG_OK);
    cg_safetensors_free(f);
    run_close(&a);
    run_close(&b);
}

/* A buffer the model has, in the file with another shape or dtype: refused
 * naming it, and nothing is copied. */
static void refuse(cg_model *m, cg_st_entry *entries, size_t n, const char *what,
                   const char *expect1, const char *expect2)
{
    const char *path = tmp_path("bad_buffer.safetensors");
    assert_int_equal(cg_safetensors_save(path, entries, n, NULL, NULL, 0), CG_OK);
    cg_st_file *f;
    assert_int_equal(cg_safetensors_load(path, &f), CG_OK);
    float w0 = cg_params_at(cg_model_params(m), 0)->data[0];
    cg_clear_error();
    assert_int_equal(cg_model_load_weights(m, f, NULL, NULL), CG_ERR_FORMAT);
    const char *msg = cg_last_error();
    if (!strstr(msg, expect1) || !strstr(msg, expect2))
        fail_msg("%s: error \"%s\" should name \"%s\" and \"%s\"", what, msg, expect1, expect2);
    assert_true(cg_params_at(cg_model_params(m), 0)->data[0] == w0);
    assert_true(((const float *)buffer(m, "layers.0.running_var")->data)[0] == 1.0f);
    cg_safetensors_free(f);
}

static void misfit_buffers_are_refused(void **state)
{
    (void)state;
    run a, b;
    run_open(&a, MODEL);
    train(&a, 1);
    run_open(&b, MODEL);
    cg_st_entry entries[16];
    size_t n = param_entries(a.model, entries);
    for (int i = 0; i < N_BUFFERS; i++) {
        const cg_buffer *buf = cg_model_buffer_at(a.model, (size_t)i);
        cg_st_entry *e = &entries[n + (size_t)i];
        *e = (cg_st_entry){.name = buf->name, .dtype = buf->dtype, .ndim = buf->ndim,
                           .data = buf->data};
        memcpy(e->shape, buf->shape, sizeof buf->shape);
    }
    size_t total = n + N_BUFFERS;
    cg_st_entry *mean0 = &entries[n], *tracked3 = &entries[n + 5];
    assert_string_equal(mean0->name, "layers.0.running_mean");
    assert_string_equal(tracked3->name, "layers.3.num_batches_tracked");

    /* Shape [1] instead of [2] (running_var's data: 2 floats). */
    cg_st_entry keep = *mean0;
    mean0->shape[0] = 1;
    refuse(b.model, entries, total, "shape", "\"layers.0.running_mean\"", "[1]");
    *mean0 = keep;
    /* A float32 step count, and an int64 running_mean. */
    int64_t as_i64[2] = {0, 0};
    float as_f32 = 6.0f;
    cg_st_entry keep3 = *tracked3;
    tracked3->dtype = CG_DTYPE_F32;
    tracked3->data = &as_f32;
    refuse(b.model, entries, total, "dtype", "\"layers.3.num_batches_tracked\"", "I64");
    *tracked3 = keep3;
    mean0->dtype = CG_DTYPE_I64;
    mean0->data = as_i64;
    refuse(b.model, entries, total, "dtype", "\"layers.0.running_mean\"", "F32");
    *mean0 = keep;
    /* PyTorch's scalar shape only: [1] is not []. */
    tracked3->ndim = 1;
    tracked3->shape[0] = 1;
    refuse(b.model, entries, total, "rank", "\"layers.3.num_batches_tracked\"", "[1]");
    *tracked3 = keep3;
    /* And the right file loads. */
    const char *path = tmp_path("good.safetensors");
    assert_int_equal(cg_safetensors_save(path, entries, total, NULL, NULL, 0), CG_OK);
    cg_st_file *f;
    assert_int_equal(cg_safetensors_load(path, &f), CG_OK);
    assert_int_equal(cg_model_load_weights(b.model, f, NULL, NULL), CG_OK);
    assert_same_buffers(a.model, b.model);
    cg_safetensors_free(f);
    run_close(&a);
    run_close(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(layer_has_pytorch_names_and_defaults),
        cmocka_unit_test(layer_settings_round_trip_and_are_checked),
        cmocka_unit_test(training_moves_buffers_evaluation_uses_them),
        cmocka_unit_test(optimizer_never_touches_buffers),
        cmocka_unit_test(checkpoint_saves_and_loads_buffers),
        cmocka_unit_test(missing_buffers_are_reported),
        cmocka_unit_test(misfit_buffers_are_refused),
    };
    return cmocka_run_group_tests(tests, setup, tmp_dir_remove);
}
