/* The pooling layer types and dropout2d in model files: keys and defaults,
 * inferred shapes, the canonical JSON round trip, `cgrad info` text, the
 * memory estimate, every error naming its JSON path, and a model's forward
 * pass equal to the ops it is made of. */
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


static void assert_shape(const cg_layer_spec *l, int ndim, int64_t a, int64_t b, int64_t c)
{
    const int64_t want[3] = {a, b, c};
    assert_int_equal(l->out_ndim, ndim);
    for (int d = 0; d < ndim; d++) assert_int_equal(l->out_shape[d], want[d]);
}

static const char *const CNN =
    "{\"input\": [3, 8, 8], \"layers\": ["
    " {\"type\": \"maxpool2d\", \"kernel\": 2},"
    " {\"type\": \"AvgPool2d\", \"kernel\": [3, 2], \"stride\": [1, 2], \"padding\": [1, 0]},"
    " {\"type\": \"dropout2d\", \"rate\": 0.25},"
    " {\"type\": \"maxpool2d\", \"kernel\": 3, \"stride\": 1, \"padding\": 1},"
    " {\"type\": \"dropout2d\"},"
    " {\"type\": \"global_avgpool\"},"
    " {\"type\": \"dense\", \"units\": 2}]}";

static void shapes_defaults_and_round_trip(void **state)
{
    (void)state;
    cg_model_spec *spec = parse_spec(CNN);
    assert_int_equal(spec->n_layers, 7);
    assert_shape(&spec->layers[0], 3, 3, 4, 4);   /* stride defaults to the kernel */
    assert_shape(&spec->layers[1], 3, 3, 4, 2);   /* (4+2-3)/1+1, (4-2)/2+1 */
    assert_shape(&spec->layers[2], 3, 3, 4, 2);
    assert_shape(&spec->layers[3], 3, 3, 4, 2);
    assert_shape(&spec->layers[5], 1, 3, 0, 0);
    assert_int_equal(spec->n_params, 3 * 2 + 2);
    for (int i = 0; i < 6; i++) assert_int_equal(spec->layers[i].n_params, 0);
    const char *const described[] = {"maxpool2d 2", "avgpool2d 3x2 stride 1x2 pad 1x0",
                                     "dropout2d 0.25", "maxpool2d 3 stride 1 pad 1",
                                     "dropout2d 0.5", "global_avgpool"};
    char text[96];
    for (int i = 0; i < 6; i++)
        assert_string_equal(cg_layer_describe(&spec->layers[i], text, sizeof text), described[i]);
    const char *const written[] = {
        "{\"type\":\"maxpool2d\",\"kernel\":2,\"stride\":2,\"padding\":0}",
        "{\"type\":\"avgpool2d\",\"kernel\":[3,2],\"stride\":[1,2],\"padding\":[1,0]}",
        "{\"type\":\"dropout2d\",\"rate\":0.25}",
        "{\"type\":\"maxpool2d\",\"kernel\":3,\"stride\":1,\"padding\":1}",
        "{\"type\":\"dropout2d\",\"rate\":0.5}",
        "{\"type\":\"global_avgpool\"}",
    };
    expect_spec_round_trip(spec, written, 6);
    cg_model_spec_free(spec);
    /* Case-insensitive type names. */
    assert_non_null(cg_layer_type_find("MaxPool2D"));
    assert_non_null(cg_layer_type_find("GLOBAL_AVGPOOL"));
}

/* maxpool2d keeps an int32 argmax per output value in a training step; the
 * same model with avgpool2d keeps nothing beyond its output. */
static void memory_counts_the_argmax(void **state)
{
    (void)state;
    const char *fmt = "{\"input\": [4, 10, 10], \"layers\": [{\"type\": \"%s\", \"kernel\": 2},"
                      " {\"type\": \"global_avgpool\"}, {\"type\": \"dense\", \"units\": 3}]}";
    char text[256];
    uint64_t bytes[2];
    const char *const types[2] = {"maxpool2d", "avgpool2d"};
    for (int i = 0; i < 2; i++) {
        snprintf(text, sizeof text, fmt, types[i]);
        cg_model_spec *spec = parse_spec(text);
        assert_int_equal(cg_model_spec_memory(spec, 16, &bytes[i]), CG_OK);
        cg_model_spec_free(spec);
    }
    assert_int_equal(bytes[0] - bytes[1], 16 * 4 * 5 * 5 * sizeof(float));
}

#define ONE(input, layer) "{\"input\": " input ", \"layers\": [" layer "]}"

static void mistakes_name_the_path(void **state)
{
    (void)state;
    /* rank of the input */
    const char *const layers[] = {"{\"type\": \"maxpool2d\", \"kernel\": 2}",
                                  "{\"type\": \"avgpool2d\", \"kernel\": 2}",
                                  "{\"type\": \"global_avgpool\"}", "{\"type\": \"dropout2d\"}"};
    const char *const names[] = {"maxpool2d", "avgpool2d", "global_avgpool", "dropout2d"};
    char json[256], want[128];
    for (int i = 0; i < 4; i++) {
        snprintf(json, sizeof json, ONE("[64]", "%s"), layers[i]);
        snprintf(want, sizeof want, "layers[0]: %s needs a [C, H, W] input", names[i]);
        expect_spec_error(json, want);
        expect_spec_error(json, "got [64]");
        snprintf(json, sizeof json, ONE("[2, 3, 4, 5]", "%s"), layers[i]);
        expect_spec_error(json, "got [2, 3, 4, 5]");
    }
    /* kernel: required, positive, an integer or a pair */
    expect_spec_error(ONE("[1, 4, 4]", "{\"type\": \"maxpool2d\"}"),
                 "layers[0]: maxpool2d layer needs \"kernel\"");
    expect_spec_error(ONE("[1, 4, 4]", "{\"type\": \"avgpool2d\", \"stride\": 1}"),
                 "layers[0]: avgpool2d layer needs \"kernel\"");
    expect_spec_error(ONE("[1, 4, 4]", "{\"type\": \"maxpool2d\", \"kernel\": 0}"),
                 "layers[0].kernel: expected a positive integer, got 0");
    expect_spec_error(ONE("[1, 4, 4]", "{\"type\": \"maxpool2d\", \"kernel\": 1.5}"),
                 "layers[0].kernel: expected a positive integer, got 1.5");
    expect_spec_error(ONE("[1, 4, 4]", "{\"type\": \"maxpool2d\", \"kernel\": \"2\"}"),
                 "layers[0].kernel: expected a positive integer or a pair [height, width]");
    expect_spec_error(ONE("[1, 4, 4]", "{\"type\": \"maxpool2d\", \"kernel\": [2]}"),
                 "layers[0].kernel: expected a positive integer or a pair [height, width]");
    expect_spec_error(ONE("[1, 4, 4]", "{\"type\": \"maxpool2d\", \"kernel\": [2, 2, 2]}"),
                 "layers[0].kernel: expected a positive integer or a pair");
    expect_spec_error(ONE("[1, 4, 4]", "{\"type\": \"maxpool2d\", \"kernel\": [2, 0]}"),
                 "layers[0].kernel[1]: expected a positive integer, got 0");
    expect_spec_error(ONE("[1, 4, 4]", "{\"type\": \"maxpool2d\", \"kernel\": [2, 4294967296]}"),
                 "layers[0].kernel[1]: 4294967296 is too large");
    /* stride and padding */
    expect_spec_error(ONE("[1, 4, 4]", "{\"type\": \"maxpool2d\", \"kernel\": 2, \"stride\": 0}"),
                 "layers[0].stride: expected a positive integer, got 0");
    expect_spec_error(ONE("[1, 4, 4]", "{\"type\": \"avgpool2d\", \"kernel\": 2, \"stride\": [1, true]}"),
                 "layers[0].stride[1]: expected a positive integer, got true");
    expect_spec_error(ONE("[1, 4, 4]", "{\"type\": \"maxpool2d\", \"kernel\": 2, \"padding\": -1}"),
                 "layers[0].padding: expected an integer >= 0, got -1");
    expect_spec_error(ONE("[1, 4, 4]", "{\"type\": \"avgpool2d\", \"kernel\": 2, \"padding\": null}"),
                 "layers[0].padding: expected an integer >= 0 or a pair");
    /* padding <= kernel/2 (PyTorch's rule), per dimension */
    expect_spec_error(ONE("[1, 8, 8]", "{\"type\": \"maxpool2d\", \"kernel\": 3, \"padding\": 2}"),
                 "layers[0].padding: 2 along the height is more than half the kernel 3");
    expect_spec_error(ONE("[1, 8, 8]", "{\"type\": \"avgpool2d\", \"kernel\": [3, 2], \"padding\": [1, 2]}"),
                 "layers[0].padding: 2 along the width is more than half the kernel 2");
    /* the kernel must fit the padded input */
    expect_spec_error(ONE("[1, 8, 6]", "{\"type\": \"maxpool2d\", \"kernel\": 9}"),
                 "layers[0].kernel: 9 along the height is larger than the padded input's height 8 "
                 "(input [1, 8, 6], padding 0)");
    expect_spec_error(ONE("[1, 8, 6]", "{\"type\": \"avgpool2d\", \"kernel\": [2, 9], \"padding\": [0, 1]}"),
                 "layers[0].kernel: 9 along the width is larger than the padded input's width 8 "
                 "(input [1, 8, 6], padding 1)");
    /* ... naming the layer it happens in */
    expect_spec_error("{\"input\": [1, 8, 8], \"layers\": [{\"type\": \"maxpool2d\", \"kernel\": 4},"
                 " {\"type\": \"maxpool2d\", \"kernel\": 3}]}",
                 "layers[1].kernel: 3 along the height is larger than the padded input's height 2");
    /* unknown keys and rates */
    expect_spec_error(ONE("[1, 4, 4]", "{\"type\": \"maxpool2d\", \"kernel_size\": 2}"),
                 "kernel, stride, padding");
    expect_spec_error(ONE("[1, 4, 4]", "{\"type\": \"global_avgpool\", \"kernel\": 2}"),
                 "layers[0]");
    expect_spec_error(ONE("[1, 4, 4]", "{\"type\": \"dropout2d\", \"rate\": 1}"), "layers[0].rate");
    expect_spec_error(ONE("[1, 4, 4]", "{\"type\": \"dropout2d\", \"p\": 0.5}"), "rate");
    /* A kernel exactly as large as the padded input is fine. */
    cg_model_spec *spec = parse_spec("{\"input\": [2, 4, 5], \"layers\": [{\"type\": \"maxpool2d\","
                                " \"kernel\": [6, 5], \"padding\": [1, 0]}, {\"type\": \"flatten\"}]}");
    assert_shape(&spec->layers[0], 3, 2, 1, 1);
    cg_model_spec_free(spec);
}

/* A model of pooling layers only, in evaluation and training mode, equals
 * the ops called directly with the same random stream. */
static void model_forward_is_the_ops(void **state)
{
    (void)state;
    cg_model_spec *spec = parse_spec(
        "{\"input\": [2, 6, 6], \"layers\": ["
        " {\"type\": \"maxpool2d\", \"kernel\": 3, \"stride\": 2, \"padding\": 1},"
        " {\"type\": \"avgpool2d\", \"kernel\": 2, \"stride\": 1, \"padding\": 1},"
        " {\"type\": \"dropout2d\", \"rate\": 0.5},"
        " {\"type\": \"global_avgpool\"}]}");
    cg_rng rng;
    cg_rng_seed(&rng, 1);
    cg_model *model = cg_model_create(spec, &rng);
    assert_non_null(model);
    enum { BATCH = 16, SAMPLE = 2 * 6 * 6 };
    static float xv[BATCH * SAMPLE];
    for (int i = 0; i < BATCH * SAMPLE; i++) xv[i] = sinf(0.37f * (float)i) * 2.0f;
    const int64_t shape[4] = {BATCH, 2, 6, 6};
    for (int training = 0; training <= 1; training++) {
        cg_ctx *ctx = cg_ctx_create(0);
        cg_ctx_set_training(ctx, training);
        cg_rng_seed(cg_ctx_rng(ctx), 5);
        cg_tensor *y = cg_model_forward(ctx, model, cg_tensor_from(ctx, 4, shape, xv));
        assert_non_null(y);
        assert_int_equal(y->ndim, 2);
        assert_int_equal(y->shape[0], BATCH);
        assert_int_equal(y->shape[1], 2);
        cg_rng_seed(cg_ctx_rng(ctx), 5);
        cg_tensor *h = cg_maxpool2d(ctx, cg_tensor_from(ctx, 4, shape, xv), (int64_t[]){3, 3},
                                    (int64_t[]){2, 2}, (int64_t[]){1, 1});
        h = cg_avgpool2d(ctx, h, (int64_t[]){2, 2}, (int64_t[]){1, 1}, (int64_t[]){1, 1});
        h = cg_global_avgpool(ctx, cg_dropout2d(ctx, h, 0.5f));
        assert_non_null(h);
        assert_memory_equal(y->data, h->data, (size_t)h->size * sizeof(float));
        if (training) {
            int zeros = 0;
            for (int64_t i = 0; i < y->size; i++) zeros += y->data[i] == 0.0f;
            assert_true(zeros > 0 && zeros < y->size);
        }
        cg_ctx_destroy(ctx);
    }
    cg_model_destroy(model);
    cg_model_spec_free(spec);
}

/* A CNN-shaped model trains: the loss falls on a separable toy problem
 * (the class is which quadrant of the image is bright). */
static void small_model_trains(void **state)
{
    (void)state;
    cg_model_spec *spec = parse_spec(
        "{\"input\": [1, 8, 8], \"layers\": ["
        " {\"type\": \"maxpool2d\", \"kernel\": 2},"
        " {\"type\": \"dropout2d\", \"rate\": 0.1},"
        " {\"type\": \"avgpool2d\", \"kernel\": 3, \"stride\": 1, \"padding\": 1},"
        " {\"type\": \"flatten\"},"
        " {\"type\": \"dense\", \"units\": 4}],"
        " \"optimizer\": {\"type\": \"adam\", \"lr\": 0.05},"
        " \"train\": {\"epochs\": 15, \"batch\": 16, \"seed\": 3}}");
    enum { COUNT = 128 };
    static float x[COUNT * 64];
    static int32_t labels[COUNT];
    cg_rng rng;
    cg_rng_seed(&rng, 11);
    for (int n = 0; n < COUNT; n++) {
        labels[n] = n % 4;
        for (int i = 0; i < 64; i++) {
            int r = i / 8, c = i % 8, q = (r >= 4) * 2 + (c >= 4);
            x[n * 64 + i] = 0.3f * cg_rng_normal(&rng) + (q == labels[n] ? 1.0f : 0.0f);
        }
    }
    cg_dataset data = {.count = COUNT, .sample_ndim = 3, .sample_shape = {1, 8, 8},
                       .sample_size = 64, .x = x, .labels = labels, .num_classes = 4,
                       .source = "quadrants"};
    cg_rng_seed(&rng, 2);
    cg_model *model = cg_model_create(spec, &rng);
    cg_optim *opt = cg_optim_create(cg_model_params(model), &spec->optim);
    assert_non_null(opt);
    cg_eval_result before, after;
    assert_int_equal(cg_evaluate(model, &data, 32, &before), CG_OK);
    cg_train_options o = cg_train_options_from_spec(spec, spec->optim.lr);
    cg_train_state st = cg_train_state_init(o.seed);
    assert_int_equal(cg_train(model, opt, &data, NULL, &o, &st), CG_OK);
    assert_int_equal(cg_evaluate(model, &data, 32, &after), CG_OK);
    if (!(after.loss < 0.5 * before.loss && after.accuracy > 0.9))
        fail_msg("loss %g -> %g, accuracy %g", before.loss, after.loss, after.accuracy);
    cg_optim_destroy(opt);
    cg_model_destroy(model);
    cg_model_spec_free(spec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shapes_defaults_and_round_trip),
        cmocka_unit_test(memory_counts_the_argmax),
        cmocka_unit_test(mistakes_name_the_path),
        cmocka_unit_test(model_forward_is_the_ops),
        cmocka_unit_test(small_model_trains),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
