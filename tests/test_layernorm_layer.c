/* The layernorm layer type in model files: keys and defaults (the normalized
 * shape defaults to the whole per-sample shape), inferred shapes and
 * parameter counts, the canonical JSON round trip, `cgrad info` text, the
 * memory estimate, every error naming its JSON path, the parameters a model
 * gets (PyTorch's names, shapes and initial values) and a model's forward
 * pass equal to the op. */
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
#include "specs.h"


#define ONE(input, layer) "{\"input\": " input ", \"layers\": [" layer "], \"loss\": \"mse\"}"

static void assert_same_shape(const cg_layer_spec *l)
{
    assert_int_equal(l->out_ndim, l->in_ndim[0]);
    for (int d = 0; d < l->out_ndim; d++) assert_int_equal(l->out_shape[d], l->in_shape[0][d]);
}

static const char *const MODEL =
    "{\"input\": [3, 8], \"loss\": \"mse\", \"layers\": ["
    " {\"type\": \"layernorm\"},"
    " {\"type\": \"LayerNorm\", \"normalized_shape\": 8},"
    " {\"type\": \"layernorm\", \"normalized_shape\": [3, 8], \"eps\": 0.001},"
    " {\"type\": \"layernorm\", \"normalized_shape\": [8], \"elementwise_affine\": false},"
    " {\"type\": \"layernorm\", \"eps\": 1e-6, \"elementwise_affine\": false}]}";

static void shapes_defaults_and_round_trip(void **state)
{
    (void)state;
    cg_model_spec *spec = parse_spec(MODEL);
    assert_int_equal(spec->n_layers, 5);
    const int64_t params[5] = {48, 16, 48, 0, 0};
    for (int i = 0; i < 5; i++) {
        assert_same_shape(&spec->layers[i]);
        assert_int_equal(spec->layers[i].n_params, params[i]);
        assert_int_equal(spec->layers[i].n_buffers, 0);
    }
    assert_int_equal(spec->n_params, 48 + 16 + 48);
    const char *const described[] = {"layernorm [3, 8]", "layernorm [8]",
                                     "layernorm [3, 8], eps 0.001", "layernorm [8] (no affine)",
                                     "layernorm [3, 8], eps 1e-06 (no affine)"};
    char text[96];
    for (int i = 0; i < 5; i++)
        assert_string_equal(cg_layer_describe(&spec->layers[i], text, sizeof text), described[i]);
    const char *const written[] = {
        "{\"type\":\"layernorm\",\"normalized_shape\":[3,8],\"eps\":1e-05,\"elementwise_affine\":true}",
        "{\"type\":\"layernorm\",\"normalized_shape\":[8],\"eps\":1e-05,\"elementwise_affine\":true}",
        "{\"type\":\"layernorm\",\"normalized_shape\":[3,8],\"eps\":0.001,\"elementwise_affine\":true}",
        "{\"type\":\"layernorm\",\"normalized_shape\":[8],\"eps\":1e-05,\"elementwise_affine\":false}",
        "{\"type\":\"layernorm\",\"normalized_shape\":[3,8],\"eps\":1e-06,\"elementwise_affine\":false}",
    };
    expect_spec_round_trip(spec, written, 5);
    cg_model_spec_free(spec);
    assert_non_null(cg_layer_type_find("LAYERNORM"));
}

/* Per sample, a training step keeps μ and rstd in double for each
 * normalized slice: 3 slices of [8] keep 8 floats more than 1 of [3, 8]. */
static void memory_counts_the_statistics(void **state)
{
    (void)state;
    const char *const shapes[2] = {"8", "[3, 8]"};
    uint64_t bytes[2];
    char text[256];
    for (int i = 0; i < 2; i++) {
        snprintf(text, sizeof text,
                 ONE("[3, 8]", "{\"type\": \"layernorm\", \"normalized_shape\": %s, "
                               "\"elementwise_affine\": false}"),
                 shapes[i]);
        cg_model_spec *spec = parse_spec(text);
        assert_int_equal(cg_model_spec_memory(spec, 16, &bytes[i]), CG_OK);
        cg_model_spec_free(spec);
    }
    assert_int_equal(bytes[0] - bytes[1], 16 * (3 - 1) * 4 * sizeof(float));
}

static void mistakes_name_the_path(void **state)
{
    (void)state;
    /* normalized_shape: PyTorch's rule, the input's trailing dimensions */
    expect_spec_error(ONE("[3, 8]", "{\"type\": \"layernorm\", \"normalized_shape\": 3}"),
                 "layers[0].normalized_shape: [3] is not the input's trailing dimensions: "
                 "it can be [8] or [3, 8] (input [3, 8])");
    expect_spec_error(ONE("[2, 3, 8]", "{\"type\": \"layernorm\", \"normalized_shape\": [2, 8]}"),
                 "layers[0].normalized_shape: [2, 8] is not the input's trailing dimensions: "
                 "it can be [8], [3, 8] or [2, 3, 8] (input [2, 3, 8])");
    expect_spec_error(ONE("[8]", "{\"type\": \"layernorm\", \"normalized_shape\": [1, 8]}"),
                 "layers[0].normalized_shape: [1, 8] is not the input's trailing dimensions: "
                 "it can be [8] (input [8])");
    /* ... naming the layer it happens in, after a shape change */
    expect_spec_error("{\"input\": [1, 4, 4], \"loss\": \"mse\", \"layers\": [{\"type\": \"flatten\"},"
                 " {\"type\": \"layernorm\", \"normalized_shape\": [4, 4]}]}",
                 "layers[1].normalized_shape: [4, 4] is not the input's trailing dimensions: "
                 "it can be [16] (input [16])");
    /* its values */
    expect_spec_error(ONE("[8]", "{\"type\": \"layernorm\", \"normalized_shape\": 0}"),
                 "layers[0].normalized_shape: expected a positive integer, got 0");
    expect_spec_error(ONE("[8]", "{\"type\": \"layernorm\", \"normalized_shape\": 2.5}"),
                 "layers[0].normalized_shape: expected a positive integer, got 2.5");
    expect_spec_error(ONE("[8]", "{\"type\": \"layernorm\", \"normalized_shape\": [8, 0]}"),
                 "layers[0].normalized_shape[1]: expected a positive integer, got 0");
    expect_spec_error(ONE("[8]", "{\"type\": \"layernorm\", \"normalized_shape\": [\"8\"]}"),
                 "layers[0].normalized_shape[0]: expected a positive integer, got \"8\"");
    expect_spec_error(ONE("[8]", "{\"type\": \"layernorm\", \"normalized_shape\": []}"),
                 "layers[0].normalized_shape: expected a positive integer or a list of 1 to 6 "
                 "of them, got []");
    expect_spec_error(ONE("[8]", "{\"type\": \"layernorm\", \"normalized_shape\": [1, 1, 1, 1, 1, 1, 8]}"),
                 "layers[0].normalized_shape: expected a positive integer or a list of 1 to 6");
    expect_spec_error(ONE("[8]", "{\"type\": \"layernorm\", \"normalized_shape\": \"8\"}"),
                 "layers[0].normalized_shape: expected a positive integer or a list");
    expect_spec_error(ONE("[8]", "{\"type\": \"layernorm\", \"normalized_shape\": null}"),
                 "layers[0].normalized_shape: expected a positive integer or a list");
    /* eps, elementwise_affine */
    expect_spec_error(ONE("[8]", "{\"type\": \"layernorm\", \"eps\": 0}"),
                 "layers[0].eps: expected a number > 0, got 0");
    expect_spec_error(ONE("[8]", "{\"type\": \"layernorm\", \"eps\": -1e-5}"), "layers[0].eps");
    expect_spec_error(ONE("[8]", "{\"type\": \"layernorm\", \"eps\": \"1e-5\"}"), "layers[0].eps");
    expect_spec_error(ONE("[8]", "{\"type\": \"layernorm\", \"elementwise_affine\": 1}"),
                 "layers[0].elementwise_affine: expected true or false, got 1");
    /* keys: PyTorch's name only */
    expect_spec_error(ONE("[8]", "{\"type\": \"layernorm\", \"affine\": false}"),
                 "layers[0]: unknown key \"affine\" (expected one of: type, name, inputs, "
                 "normalized_shape, eps, elementwise_affine)");
    /* one input */
    expect_spec_error("{\"input\": [8], \"loss\": \"mse\", \"layers\": [{\"type\": \"relu\", \"name\": \"a\"},"
                 " {\"type\": \"layernorm\", \"inputs\": [\"a\", \"input\"]}]}",
                 "layers[1].inputs: layernorm takes 1 input, got 2");
}

/* Through the C builder: the same checks and paths. */
static void builder(void **state)
{
    (void)state;
    cg_model_spec *spec = cg_model_spec_create(2, (int64_t[]){5, 6});
    assert_non_null(spec);
    assert_int_equal(cg_model_spec_add_layer(spec, "{\"type\": \"dense\", \"units\": 0}"),
                     CG_ERR_FORMAT);
    assert_int_equal(cg_model_spec_add_layer(spec, "{\"type\": \"layernorm\", \"normalized_shape\": 6}"),
                     CG_OK);
    assert_int_equal(cg_model_spec_add_layer(spec, "{\"type\": \"layernorm\", \"normalized_shape\": 5}"),
                     CG_ERR_FORMAT);
    if (!strstr(cg_last_error(), "layers[1].normalized_shape: [5] is not the input's trailing"))
        fail_msg("got: %s", cg_last_error());
    assert_int_equal(cg_model_spec_add_layer(spec, "{\"type\": \"layernorm\"}"), CG_OK);
    assert_int_equal(spec->n_layers, 2);
    assert_int_equal(spec->layers[1].n_params, 60);
    cg_model_spec_free(spec);
}

/* PyTorch's state_dict names and shapes, initialised as torch.nn.LayerNorm
 * (weight ones, bias zeros); none without elementwise_affine; no buffers. */
static void parameters_as_pytorch(void **state)
{
    (void)state;
    cg_model_spec *spec = parse_spec(
        "{\"input\": [2, 3, 4], \"loss\": \"mse\", \"layers\": ["
        " {\"type\": \"layernorm\", \"normalized_shape\": [3, 4]},"
        " {\"type\": \"layernorm\", \"elementwise_affine\": false},"
        " {\"type\": \"layernorm\", \"normalized_shape\": 4}]}");
    cg_rng rng;
    cg_rng_seed(&rng, 3);
    cg_model *model = cg_model_create(spec, &rng);
    assert_non_null(model);
    cg_params *p = cg_model_params(model);
    assert_int_equal(cg_params_count(p), 4);
    assert_int_equal(cg_model_buffer_count(model), 0);
    const char *const names[4] = {"layers.0.weight", "layers.0.bias", "layers.2.weight",
                                  "layers.2.bias"};
    const int ndims[4] = {2, 2, 1, 1};
    for (int i = 0; i < 4; i++) {
        cg_tensor *t = cg_params_at(p, (size_t)i);
        assert_string_equal(t->name, names[i]);
        assert_int_equal(t->ndim, ndims[i]);
        assert_int_equal(t->shape[t->ndim - 1], 4);
        if (t->ndim == 2) assert_int_equal(t->shape[0], 3);
        for (int64_t k = 0; k < t->size; k++)
            assert_true(t->data[k] == (i % 2 == 0 ? 1.0f : 0.0f));
    }
    cg_model_destroy(model);
    cg_model_spec_free(spec);
}

/* A model's forward pass is the op on the batch with the model's
 * parameters, in training and evaluation mode alike. */
static void model_forward_is_the_op(void **state)
{
    (void)state;
    cg_model_spec *spec = parse_spec(
        "{\"input\": [2, 5], \"loss\": \"mse\", \"layers\": ["
        " {\"type\": \"layernorm\", \"normalized_shape\": 5, \"eps\": 0.01}]}");
    cg_rng rng;
    cg_rng_seed(&rng, 3);
    cg_model *model = cg_model_create(spec, &rng);
    assert_non_null(model);
    cg_tensor *w = cg_params_find(cg_model_params(model), "layers.0.weight");
    cg_tensor *b = cg_params_find(cg_model_params(model), "layers.0.bias");
    for (int k = 0; k < 5; k++) {
        w->data[k] = 0.5f + 0.25f * (float)k;
        b->data[k] = -0.1f * (float)k;
    }
    cg_ctx *ctx = cg_ctx_create(0);
    int64_t shape[3] = {3, 2, 5};
    cg_tensor *x = cg_tensor_new(ctx, 3, shape);
    for (int64_t i = 0; i < x->size; i++) x->data[i] = sinf((float)i) * 3.0f;
    cg_tensor *want = cg_layer_norm(ctx, x, 1, w, b, 0.01f);
    assert_non_null(want);
    for (int training = 0; training <= 1; training++) {
        cg_ctx_set_training(ctx, training);
        cg_tensor *y = cg_model_forward(ctx, model, x);
        assert_non_null(y);
        assert_int_equal(y->ndim, 3);
        assert_memory_equal(y->data, want->data, (size_t)y->size * sizeof(float));
    }
    cg_ctx_destroy(ctx);
    cg_model_destroy(model);
    cg_model_spec_free(spec);
}

/* A model with layer norm learns (the loss falls), and a checkpoint of it
 * reads back as the same model: the spec from its model file, the weights,
 * the evaluation. */
#define N_TRAIN 64

static void record_loss(void *user, const cg_epoch_stats *s)
{
    double *losses = user;
    losses[s->epoch - 1] = s->train_loss;
}

static void trains_and_checkpoints(void **state)
{
    (void)state;
    static float xs[N_TRAIN * 6];
    static int32_t labels[N_TRAIN];
    for (int i = 0; i < N_TRAIN; i++) {
        labels[i] = i % 3;
        for (int j = 0; j < 6; j++)
            xs[i * 6 + j] = 5.0f + 0.8f * sinf((float)(i * 6 + j)) + 2.0f * (float)(labels[i] == j % 3);
    }
    cg_dataset d = {.count = N_TRAIN, .sample_ndim = 2, .sample_shape = {2, 3}, .sample_size = 6,
                    .x = xs, .labels = labels, .num_classes = 3};
    snprintf(d.source, sizeof d.source, "test data");
    cg_model_spec *spec = parse_spec(
        "{\"input\": [2, 3], \"layers\": ["
        " {\"type\": \"layernorm\", \"normalized_shape\": 3},"
        " {\"type\": \"flatten\"},"
        " {\"type\": \"dense\", \"units\": 16},"
        " {\"type\": \"layernorm\", \"eps\": 0.0001},"
        " {\"type\": \"relu\"},"
        " {\"type\": \"dense\", \"units\": 3}],"
        " \"optimizer\": {\"type\": \"adam\", \"lr\": 0.02},"
        " \"train\": {\"epochs\": 15, \"batch\": 8, \"seed\": 4}}");
    cg_rng rng = cg_train_rng(spec->train.seed, 0, CG_STREAM_INIT);
    cg_model *model = cg_model_create(spec, &rng);
    assert_non_null(model);
    cg_optim *opt = cg_optim_create(cg_model_params(model), &spec->optim);
    assert_non_null(opt);
    cg_train_state st = cg_train_state_init(spec->train.seed);
    cg_train_options o = cg_train_options_from_spec(spec, spec->optim.lr);
    double losses[15];
    o.on_epoch = record_loss;
    o.user = losses;
    assert_int_equal(cg_train(model, opt, &d, NULL, &o, &st), CG_OK);
    if (!(losses[14] < 0.5 * losses[0])) fail_msg("loss %g -> %g", losses[0], losses[14]);

    char path[512];
    const char *dir = getenv("CG_BUILD_DIR");
    snprintf(path, sizeof path, "%s/test_layernorm_layer.safetensors", dir ? dir : "/tmp");
    assert_int_equal(cg_checkpoint_save(path, model, NULL, opt, &st), CG_OK);
    cg_checkpoint *ck;
    assert_int_equal(cg_checkpoint_load(path, &ck), CG_OK);
    assert_non_null(ck->spec);
    char *a = cg_model_spec_to_json(spec), *b = cg_model_spec_to_json(ck->spec);
    assert_string_equal(a, b);
    free(a);
    free(b);
    cg_model *again = cg_model_create(ck->spec, &rng);
    assert_non_null(again);
    assert_int_equal(cg_model_load_weights(again, ck->file, NULL, NULL), CG_OK);
    cg_params *pa = cg_model_params(model), *pb = cg_model_params(again);
    assert_int_equal(cg_params_numel(pa), cg_params_numel(pb));
    assert_memory_equal(cg_params_data(pa), cg_params_data(pb),
                        (size_t)cg_params_numel(pa) * sizeof(float));
    cg_eval_result ra, rb;
    assert_int_equal(cg_evaluate(model, &d, 16, &ra), CG_OK);
    assert_int_equal(cg_evaluate(again, &d, 16, &rb), CG_OK);
    assert_true(ra.loss == rb.loss);
    if (!(ra.accuracy > 0.9)) fail_msg("accuracy %g, loss %g", ra.accuracy, ra.loss);
    cg_checkpoint_free(ck);
    remove(path);
    cg_model_destroy(again);
    cg_optim_destroy(opt);
    cg_model_destroy(model);
    cg_model_spec_free(spec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shapes_defaults_and_round_trip),
        cmocka_unit_test(memory_counts_the_statistics),
        cmocka_unit_test(mistakes_name_the_path),
        cmocka_unit_test(builder),
        cmocka_unit_test(parameters_as_pytorch),
        cmocka_unit_test(model_forward_is_the_op),
        cmocka_unit_test(trains_and_checkpoints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
