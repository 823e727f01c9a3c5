/* Models as graphs: layers with names and inputs, add and concat merges,
 * validation that names the JSON path, the builder API, the layer table's
 * tidy rules (case-insensitive names, fused activation parameters), and the
 * gradient of a whole graph model against central differences. */
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
#include "tmpdir.h"


/* A residual block with a concat: "a" feeds b, c, the add and the concat. */
static const char *const GRAPH =
    "{\"name\": \"g\", \"description\": \"a graph\", \"input\": [3], \"loss\": \"mse\", \"layers\": ["
    " {\"type\": \"dense\", \"units\": 4, \"activation\": \"tanh\", \"name\": \"a\"},"
    " {\"type\": \"dense\", \"units\": 4, \"activation\": \"sigmoid\", \"name\": \"b\"},"
    " {\"type\": \"dense\", \"units\": 4, \"inputs\": [\"a\"], \"name\": \"c\"},"
    " {\"type\": \"add\", \"inputs\": [\"b\", \"c\", \"a\"], \"name\": \"s\"},"
    " {\"type\": \"concat\", \"inputs\": [\"s\", \"a\", \"input\"]},"
    " {\"type\": \"gelu\"},"
    " {\"type\": \"dense\", \"units\": 2}]}";

static void graph_shapes_and_round_trip(void **state)
{
    (void)state;
    cg_model_spec *spec = parse_spec(GRAPH);
    assert_int_equal(spec->n_layers, 7);
    assert_int_equal(spec->layers[1].inputs[0], 0);         /* the previous layer */
    assert_false(spec->layers[1].explicit_inputs);
    assert_int_equal(spec->layers[3].n_inputs, 3);
    assert_int_equal(spec->layers[4].inputs[2], CG_LAYER_INPUT);
    assert_int_equal(spec->layers[4].out_shape[0], 4 + 4 + 3);
    assert_int_equal(spec->n_params, 3 * 4 + 4 + 2 * (4 * 4 + 4) + 11 * 2 + 2);
    assert_string_equal(spec->name, "g");
    assert_string_equal(spec->description, "a graph");
    char *json = cg_model_spec_to_json(spec);
    assert_non_null(strstr(json, "\"inputs\":[\"s\",\"a\",\"input\"]"));
    assert_non_null(strstr(json, "\"name\":\"g\",\"description\":\"a graph\""));
    cg_model_spec *again = parse_spec(json);
    char *json2 = cg_model_spec_to_json(again);
    assert_string_equal(json, json2);
    free(json);
    free(json2);
    cg_model_spec_free(again);
    cg_model_spec_free(spec);
}

#define ONE_DENSE(extra) \
    "{\"input\": [3], \"layers\": [{\"type\": \"dense\", \"units\": 4, \"name\": \"a\"}, " extra "]}"

static void graph_mistakes_name_the_path(void **state)
{
    (void)state;
    expect_spec_error(ONE_DENSE("{\"type\": \"add\", \"inputs\": [\"a\", \"nope\"]}"),
                 "layers[1].inputs[1]: no earlier layer is named \"nope\"");
    expect_spec_error("{\"input\": [3], \"layers\": [{\"type\": \"dense\", \"units\": 4, \"inputs\": [\"z\"]},"
                 " {\"type\": \"dense\", \"units\": 4, \"name\": \"z\"}]}",
                 "layers[0].inputs[0]: \"z\" is layers[1], which comes later");
    expect_spec_error(ONE_DENSE("{\"type\": \"dense\", \"units\": 2, \"inputs\": [\"input\"]}"),
                 "layers[0]: this layer's output (\"a\") is never used");
    expect_spec_error(ONE_DENSE("{\"type\": \"dense\", \"units\": 5, \"name\": \"b\"}, "
                           "{\"type\": \"add\", \"inputs\": [\"a\", \"b\"]}"),
                 "layers[2]: add needs inputs of one shape, got [4] (input 0) and [5] (input 1)");
    expect_spec_error(ONE_DENSE("{\"type\": \"concat\", \"inputs\": [\"a\", \"input\"], \"axis\": 1}"),
                 "layers[1].axis: axis 1 is outside the inputs' 1 per-sample dimensions");
    expect_spec_error("{\"input\": [2, 3], \"layers\": [{\"type\": \"flatten\", \"name\": \"f\"},"
                 " {\"type\": \"concat\", \"inputs\": [\"f\", \"input\"]}]}",
                 "layers[1]: concat needs inputs with the same number of dimensions, got [6] "
                 "(input 0) and [2, 3] (input 1)");
    expect_spec_error("{\"input\": [2, 3], \"layers\": [{\"type\": \"relu\", \"name\": \"r\"},"
                 " {\"type\": \"concat\", \"inputs\": [\"r\", \"input\"], \"axis\": 0},"
                 " {\"type\": \"concat\", \"inputs\": [\"r\", \"input\"], \"axis\": 7}]}",
                 "layers[2].axis: axis 7 is outside the inputs' 2 per-sample dimensions");
    expect_spec_error("{\"input\": [2, 3], \"layers\": [{\"type\": \"flatten\", \"name\": \"f\"},"
                 " {\"type\": \"dense\", \"units\": 2, \"name\": \"d\"},"
                 " {\"type\": \"concat\", \"inputs\": [\"f\", \"d\"], \"axis\": 0},"
                 " {\"type\": \"reshape\"}]}",
                 "layers[3].type: unknown layer type \"reshape\"");
    expect_spec_error(ONE_DENSE("{\"type\": \"add\", \"inputs\": [\"a\", \"me\"], \"name\": \"me\"}"),
                 "layers[1].inputs[1]: \"me\" is this layer; a layer cannot take its own output");
    expect_spec_error(ONE_DENSE("{\"type\": \"dense\", \"units\": 2, \"name\": \"Input\"}"),
                 "layers[1].name: \"Input\" names the model's input");
    expect_spec_error(ONE_DENSE("{\"type\": \"dense\", \"units\": 2, \"name\": \"a\"}"),
                 "layers[1].name: layers[0] is already named \"a\"");
    expect_spec_error(ONE_DENSE("{\"type\": \"dense\", \"units\": 2, \"name\": \"input\"}"),
                 "layers[1].name: \"input\" names the model's input");
    expect_spec_error(ONE_DENSE("{\"type\": \"dense\", \"units\": 2, \"name\": \"a b\"}"),
                 "layers[1].name: \"a b\" is not a layer name");
    expect_spec_error(ONE_DENSE("{\"type\": \"add\"}"), "layers[1].inputs: add takes 2 to 8 inputs, got 1");
    expect_spec_error(ONE_DENSE("{\"type\": \"dense\", \"units\": 2, \"inputs\": [\"a\", \"input\"]}"),
                 "layers[1].inputs: dense takes 1 input, got 2");
    expect_spec_error(ONE_DENSE("{\"type\": \"ReLU\", \"inputs\": [\"a\", \"a\"]}"),
                 "layers[1].inputs: ReLU takes 1 input, got 2");
    expect_spec_error(ONE_DENSE("{\"type\": \"add\", \"inputs\": []}"),
                 "layers[1].inputs: expected an array of 1 to 8 layer names, got []");
    expect_spec_error(ONE_DENSE("{\"type\": \"add\", \"inputs\": [\"a\", 1]}"),
                 "layers[1].inputs[1]: expected a layer name or \"input\", got 1");
}

static void names_match_case_insensitively(void **state)
{
    (void)state;
    cg_model_spec *spec = parse_spec("{\"input\": [3], \"loss\": \"MSE\", \"layers\": [{\"type\": "
                                "\"Dense\", \"units\": 4, \"activation\": \"ReLU\"}, {\"type\": "
                                "\"TANH\"}, {\"type\": \"dense\", \"units\": 1}]}");
    char text[64];
    assert_string_equal(cg_layer_describe(&spec->layers[0], text, sizeof text), "dense 4 relu");
    assert_string_equal(cg_layer_describe(&spec->layers[1], text, sizeof text), "tanh");
    assert_int_equal(spec->loss, CG_LOSS_MSE);
    assert_ptr_equal(cg_layer_type_find("CONCAT"), cg_layer_type_find("concat"));
    assert_null(cg_layer_type_find("conv9d"));
    cg_model_spec_free(spec);
}

/* Runs a model in eval mode on a fixed batch; returns the outputs. */
static void outputs(const cg_model_spec *spec, uint64_t seed, const float *x, int64_t n, float *y)
{
    cg_rng rng;
    cg_rng_seed(&rng, seed);
    cg_model *m = cg_model_create(spec, &rng);
    assert_non_null(m);
    cg_ctx *ctx = cg_ctx_create(0);
    cg_ctx_set_training(ctx, false);
    int64_t shape[CG_MAX_DIMS] = {n};
    memcpy(shape + 1, spec->input, (size_t)spec->input_ndim * sizeof *shape);
    cg_tensor *out = cg_model_forward(ctx, m, cg_tensor_from(ctx, spec->input_ndim + 1, shape, x));
    assert_non_null(out);
    memcpy(y, out->data, (size_t)out->size * sizeof *y);
    cg_ctx_destroy(ctx);
    cg_model_destroy(m);
}

static void fused_activation_takes_its_parameter(void **state)
{
    (void)state;
    const float x[6] = {-2.0f, 0.5f, 1.5f, 3.0f, -1.0f, -0.25f};
    float fused[8], apart[8], plain[8];
    const char *const files[3] = {
        "{\"input\": [3], \"layers\": [{\"type\": \"dense\", \"units\": 4, \"activation\": "
        "\"leaky_relu\", \"negative_slope\": 0.2}]}",
        "{\"input\": [3], \"layers\": [{\"type\": \"dense\", \"units\": 4}, {\"type\": "
        "\"leaky_relu\", \"negative_slope\": 0.2}]}",
        "{\"input\": [3], \"layers\": [{\"type\": \"dense\", \"units\": 4}]}"};
    float *out[3] = {fused, apart, plain};
    for (int i = 0; i < 3; i++) {
        cg_model_spec *spec = parse_spec(files[i]);
        outputs(spec, 5, x, 2, out[i]);
        cg_model_spec_free(spec);
    }
    int negatives = 0;
    for (int i = 0; i < 8; i++) {
        float want = plain[i] > 0.0f ? plain[i] : 0.2f * plain[i];
        assert_float_equal(fused[i], want, 1e-6);
        assert_float_equal(apart[i], want, 1e-6);
        negatives += plain[i] < 0.0f;
    }
    assert_true(negatives > 0); /* the slope was exercised */
    expect_spec_error("{\"input\": [3], \"layers\": [{\"type\": \"dense\", \"units\": 4, \"activation\": "
                 "\"relu\", \"alpha\": 0.5}]}",
                 "layers[0].alpha: applies to the elu activation only, this layer's is relu");
    cg_model_spec *spec = parse_spec(files[0]);
    char text[64];
    assert_string_equal(cg_layer_describe(&spec->layers[0], text, sizeof text), "dense 4 leaky_relu(0.2)");
    cg_model_spec_free(spec);
}

/* add and concat compute what they say: the graph's output from its parts. */
static void merges_compute_sum_and_join(void **state)
{
    (void)state;
    cg_model_spec *spec = parse_spec("{\"input\": [2], \"loss\": \"mse\", \"layers\": ["
                                " {\"type\": \"dense\", \"units\": 3, \"name\": \"p\"},"
                                " {\"type\": \"dense\", \"units\": 3, \"inputs\": [\"input\"], \"name\": \"q\"},"
                                " {\"type\": \"add\", \"inputs\": [\"p\", \"q\", \"p\"], \"name\": \"s\"},"
                                " {\"type\": \"concat\", \"inputs\": [\"input\", \"s\"], \"axis\": 0}]}");
    const float x[4] = {0.5f, -1.0f, 2.0f, 0.25f};
    float y[2 * 5];
    outputs(spec, 3, x, 2, y);
    cg_rng rng;
    cg_rng_seed(&rng, 3);
    cg_model *m = cg_model_create(spec, &rng);
    cg_params *p = cg_model_params(m);
    const float *wp = cg_params_find(p, "layers.0.weight")->data, *bp = cg_params_find(p, "layers.0.bias")->data;
    const float *wq = cg_params_find(p, "layers.1.weight")->data, *bq = cg_params_find(p, "layers.1.bias")->data;
    for (int n = 0; n < 2; n++) {
        assert_float_equal(y[n * 5 + 0], x[n * 2 + 0], 0);
        assert_float_equal(y[n * 5 + 1], x[n * 2 + 1], 0);
        for (int o = 0; o < 3; o++) {
            double pv = bp[o], qv = bq[o];
            for (int i = 0; i < 2; i++) {
                pv += wp[o * 2 + i] * x[n * 2 + i];
                qv += wq[o * 2 + i] * x[n * 2 + i];
            }
            assert_float_equal(y[n * 5 + 2 + o], 2 * pv + qv, 1e-5);
        }
    }
    cg_model_destroy(m);
    cg_model_spec_free(spec);
}

/* ---------------------------------------------------------------- gradients */

enum { GN = 3 };

/* Σ R·model(x) in eval mode, in double. */
static double projected(cg_ctx *ctx, const cg_model *m, cg_tensor *x, const float *r)
{
    cg_ctx_reset(ctx);
    cg_ctx_set_grad_enabled(ctx, false);
    cg_tensor *xin = cg_tensor_from(ctx, x->ndim, x->shape, x->data);
    cg_tensor *y = cg_model_forward(ctx, m, xin);
    double f = 0;
    for (int64_t i = 0; i < y->size; i++) f += (double)r[i] * y->data[i];
    cg_ctx_set_grad_enabled(ctx, true);
    return f;
}

static void check_numeric(double analytic, double numeric, const char *what, int64_t i)
{
    double tol = 2e-3 + 2e-2 * fabs(numeric);
    if (fabs(analytic - numeric) > tol)
        fail_msg("%s[%lld]: analytic %.6g, numeric %.6g", what, (long long)i, analytic, numeric);
}

/* Every parameter's and the input's gradient through add and concat, with
 * a branch ("a") used four times, against central differences. */
static void graph_gradients_match_central_differences(void **state)
{
    (void)state;
    cg_model_spec *spec = parse_spec(GRAPH);
    cg_rng rng;
    cg_rng_seed(&rng, 11);
    cg_model *m = cg_model_create(spec, &rng);
    cg_ctx *ctx = cg_ctx_create(0);
    cg_ctx_set_training(ctx, false);
    static float xdata[GN * 3], r[GN * 2], xgrad[GN * 3];
    for (int i = 0; i < GN * 3; i++) xdata[i] = cg_rng_uniform(&rng) * 2 - 1;
    for (int i = 0; i < GN * 2; i++) r[i] = cg_rng_uniform(&rng) * 2 - 1;
    cg_tensor *x = cg_tensor_create(2, (int64_t[]){GN, 3});
    memcpy(x->data, xdata, sizeof xdata);

    cg_params *p = cg_model_params(m);
    cg_params_zero_grad(p);
    cg_tensor *xin = cg_tensor_from(ctx, 2, x->shape, x->data);
    cg_tensor_set_requires_grad(xin, true);
    cg_tensor *y = cg_model_forward(ctx, m, xin);
    assert_int_equal(cg_backward_seeded(ctx, y, r), CG_OK);
    memcpy(xgrad, xin->grad, sizeof xgrad);
    int64_t n = cg_params_numel(p);
    float *grad = malloc((size_t)n * sizeof *grad);
    memcpy(grad, cg_params_grad(p), (size_t)n * sizeof *grad);

    const float h = 5e-3f;
    float *w = cg_params_data(p);
    for (int64_t i = 0; i < n; i++) {
        float keep = w[i];
        w[i] = keep + h;
        double up = projected(ctx, m, x, r);
        w[i] = keep - h;
        double down = projected(ctx, m, x, r);
        w[i] = keep;
        check_numeric(grad[i], (up - down) / (2.0 * h), "parameter", i);
    }
    for (int i = 0; i < GN * 3; i++) {
        float keep = x->data[i];
        x->data[i] = keep + h;
        double up = projected(ctx, m, x, r);
        x->data[i] = keep - h;
        double down = projected(ctx, m, x, r);
        x->data[i] = keep;
        check_numeric(xgrad[i], (up - down) / (2.0 * h), "input", i);
    }
    free(grad);
    cg_tensor_free(x);
    cg_ctx_destroy(ctx);
    cg_model_destroy(m);
    cg_model_spec_free(spec);
}

/* ---------------------------------------------------------------- builder */

static void builder_makes_the_same_spec_as_a_file(void **state)
{
    (void)state;
    cg_model_spec *built = cg_model_spec_create(1, (int64_t[]){3});
    assert_non_null(built);
    assert_int_equal(cg_model_spec_set(built, "name", "\"g\""), CG_OK);
    assert_int_equal(cg_model_spec_set(built, "description", "\"a graph\""), CG_OK);
    assert_int_equal(cg_model_spec_set(built, "loss", "\"mse\""), CG_OK);
    assert_int_equal(cg_model_spec_add_layerf(built, "{\"type\": \"dense\", \"units\": %d, "
                                                     "\"activation\": \"tanh\", \"name\": \"a\"}", 4),
                     CG_OK);
    const char *rest[] = {
        "{\"type\": \"dense\", \"units\": 4, \"activation\": \"sigmoid\", \"name\": \"b\"}",
        "{\"type\": \"dense\", \"units\": 4, \"inputs\": [\"a\"], \"name\": \"c\"}",
        "{\"type\": \"add\", \"inputs\": [\"b\", \"c\", \"a\"], \"name\": \"s\"}",
        "{\"type\": \"concat\", \"inputs\": [\"s\", \"a\", \"input\"]}",
        "{\"type\": \"gelu\"}",
        "{\"type\": \"dense\", \"units\": 2}"};
    for (size_t i = 0; i < sizeof rest / sizeof *rest; i++)
        assert_int_equal(cg_model_spec_add_layer(built, rest[i]), CG_OK);
    assert_int_equal(cg_model_spec_check(built), CG_OK);
    cg_model_spec *file = parse_spec(GRAPH);
    char *a = cg_model_spec_to_json(built), *b = cg_model_spec_to_json(file);
    assert_string_equal(a, b);
    free(a);
    free(b);

    /* Mistakes name the layer being added, and leave the spec as it was. */
    assert_int_equal(cg_model_spec_add_layer(built, "{\"type\": \"dense\", \"units\": 0}"), CG_ERR_FORMAT);
    assert_non_null(strstr(cg_last_error(), "layers[7].units: expected a positive integer, got 0"));
    assert_int_equal(cg_model_spec_add_layer(built, "{\"type\": \"dense\""), CG_ERR_FORMAT);
    assert_non_null(strstr(cg_last_error(), "layers[7]: invalid JSON"));
    assert_int_equal(cg_model_spec_set(built, "optimizer", "{\"type\": \"adam\", \"lr\": -1}"),
                     CG_ERR_FORMAT);
    assert_non_null(strstr(cg_last_error(), "optimizer.lr: expected a number > 0, got -1"));
    assert_int_equal(cg_model_spec_set(built, "layers", "[]"), CG_ERR_ARG);
    assert_int_equal(built->n_layers, 7);
    assert_float_equal(built->optim.lr, 1e-3f, 0);

    /* An unfinished graph is refused when the model is built. */
    assert_int_equal(cg_model_spec_add_layer(built, "{\"type\": \"dense\", \"units\": 2, \"inputs\": [\"s\"]}"),
                     CG_OK);
    cg_rng rng;
    cg_rng_seed(&rng, 1);
    assert_null(cg_model_create(built, &rng));
    assert_non_null(strstr(cg_last_error(), "layers[6]: this layer's output is never used"));
    cg_model_spec *empty = cg_model_spec_create(1, (int64_t[]){3});
    assert_int_equal(cg_model_spec_check(empty), CG_ERR_FORMAT);
    assert_non_null(strstr(cg_last_error(), "the model has no layers"));
    assert_null(cg_model_spec_create(0, NULL));
    cg_model_spec_free(empty);
    cg_model_spec_free(file);
    cg_model_spec_free(built);
}

/* A checkpoint keeps the model file's name and description. */
static void checkpoint_keeps_name_and_description(void **state)
{
    (void)state;
    cg_model_spec *spec = parse_spec(GRAPH);
    cg_rng rng;
    cg_rng_seed(&rng, 1);
    cg_model *m = cg_model_create(spec, &rng);
    const char *path = tmp_path("named.safetensors");
    assert_int_equal(cg_checkpoint_save(path, m, NULL, NULL, NULL), CG_OK);
    cg_checkpoint *ck;
    assert_int_equal(cg_checkpoint_load(path, &ck), CG_OK);
    assert_string_equal(ck->spec->name, "g");
    assert_string_equal(ck->spec->description, "a graph");
    assert_int_equal(ck->spec->layers[4].inputs[1], 0);
    cg_checkpoint_free(ck);
    cg_model_destroy(m);
    cg_model_spec_free(spec);
}

static int setup(void **state)
{
    (void)state;
    return tmp_dir_create("cgrad_graph");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(graph_shapes_and_round_trip),
        cmocka_unit_test(graph_mistakes_name_the_path),
        cmocka_unit_test(names_match_case_insensitively),
        cmocka_unit_test(fused_activation_takes_its_parameter),
        cmocka_unit_test(merges_compute_sum_and_join),
        cmocka_unit_test(graph_gradients_match_central_differences),
        cmocka_unit_test(builder_makes_the_same_spec_as_a_file),
        cmocka_unit_test(checkpoint_keeps_name_and_description),
    };
    return cmocka_run_group_tests(tests, setup, tmp_dir_remove);
}
