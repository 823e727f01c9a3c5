/* The conv2d layer type: model-file keys and their defaults, shapes inferred
 * with PyTorch's formula, every error message with its JSON path, the
 * canonical JSON round trip, torch.nn.Conv2d's parameter layout and default
 * initialisation, the fused and absorbed activations, and the memory
 * estimate. (Its numbers against PyTorch: test_golden_conv.c.) */
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

/* {"input": INPUT, "layers": [LAYER, {"type": "flatten"}, {"type": "dense", "units": 2}]} */
static const char *model_json(const char *input, const char *layer)
{
    static char buf[2048];
    snprintf(buf, sizeof buf,
             "{\"input\": %s, \"layers\": [%s, {\"type\": \"flatten\"}, "
             "{\"type\": \"dense\", \"units\": 2}]}",
             input, layer);
    return buf;
}

static cg_model_spec *parse_ok(const char *input, const char *layer)
{
    cg_model_spec *spec = NULL;
    const char *json = model_json(input, layer);
    if (cg_model_spec_parse(json, &spec) != CG_OK)
        fail_msg("for %s\n  unexpected error: %s", json, cg_last_error());
    return spec;
}

/* The layer must be refused with a message containing `expect`. */
static void expect_error(const char *input, const char *layer, const char *expect)
{
    cg_model_spec *spec = (cg_model_spec *)1;
    const char *json = model_json(input, layer);
    cg_status s = cg_model_spec_parse(json, &spec);
    if (s == CG_OK || !strstr(cg_last_error(), expect))
        fail_msg("for %s\n  expected an error containing: %s\n  got (%s): %s", json, expect,
                 cg_status_name(s), cg_last_error());
    assert_int_equal(s, CG_ERR_FORMAT);
    assert_null(spec);
}

/* Layer 0's output shape, parameter count and description. */
static void expect_layer(const char *input, const char *layer, int64_t c, int64_t h, int64_t w,
                         int64_t params, const char *text)
{
    cg_model_spec *spec = parse_ok(input, layer);
    const cg_layer_spec *l = &spec->layers[0];
    char got[128];
    cg_layer_describe(l, got, sizeof got);
    if (l->out_ndim != 3 || l->out_shape[0] != c || l->out_shape[1] != h ||
        l->out_shape[2] != w || l->n_params != params || strcmp(got, text) != 0)
        fail_msg("for %s\n  expected [%lld, %lld, %lld] %lld params \"%s\"\n  got %s %lld params "
                 "\"%s\"",
                 layer, (long long)c, (long long)h, (long long)w, (long long)params, text,
                 cg_dims_str(l->out_ndim, l->out_shape, (char[64]){0}, 64),
                 (long long)l->n_params, got);
    cg_model_spec_free(spec);
}

static void shapes_follow_pytorch(void **state)
{
    (void)state;
    /* out = (in + 2·padding − dilation·(kernel − 1) − 1) / stride + 1 */
    expect_layer("[1, 28, 28]", "{\"type\": \"conv2d\", \"filters\": 32, \"kernel\": 3, \"padding\": 1, \"activation\": \"relu\"}",
                 32, 28, 28, 32 * 9 + 32, "conv2d 32 3x3 pad 1 relu");
    expect_layer("[1, 28, 28]", "{\"type\": \"conv2d\", \"filters\": 8, \"kernel\": 5}",
                 8, 24, 24, 8 * 25 + 8, "conv2d 8 5x5");
    expect_layer("[3, 32, 30]", "{\"type\": \"conv2d\", \"filters\": 16, \"kernel\": [3, 5], \"stride\": 2, \"padding\": [1, 2]}",
                 16, 16, 15, 16 * 3 * 15 + 16, "conv2d 16 3x5 stride 2 pad 1x2");
    expect_layer("[2, 9, 10]", "{\"type\": \"conv2d\", \"filters\": 4, \"kernel\": 3, \"stride\": [1, 3], \"dilation\": 2, \"bias\": false}",
                 4, 5, 2, 4 * 2 * 9, "conv2d 4 3x3 stride 1x3 dilation 2 (no bias)");
    expect_layer("[2, 9, 10]", "{\"type\": \"conv2d\", \"filters\": 4, \"kernel\": 3, \"dilation\": [2, 1], \"padding\": \"valid\"}",
                 4, 5, 8, 4 * 2 * 9 + 4, "conv2d 4 3x3 dilation 2x1");
    /* "same" keeps the size, even for even kernels and with dilation. */
    expect_layer("[3, 7, 6]", "{\"type\": \"conv2d\", \"filters\": 5, \"kernel\": [2, 4], \"padding\": \"same\", \"dilation\": [3, 1]}",
                 5, 7, 6, 5 * 3 * 8 + 5, "conv2d 5 2x4 pad same dilation 3x1");
    expect_layer("[3, 7, 6]", "{\"type\": \"conv2d\", \"filters\": 5, \"kernel\": 3, \"padding\": \"SAME\", \"activation\": \"leaky_relu\", \"negative_slope\": 0.2}",
                 5, 7, 6, 5 * 27 + 5, "conv2d 5 3x3 pad same leaky_relu(0.2)");
    /* groups: C/groups input channels per filter; depthwise */
    expect_layer("[8, 6, 6]", "{\"type\": \"conv2d\", \"filters\": 12, \"kernel\": 3, \"groups\": 4, \"padding\": 1}",
                 12, 6, 6, 12 * 2 * 9 + 12, "conv2d 12 3x3 pad 1 groups 4");
    expect_layer("[8, 6, 6]", "{\"type\": \"conv2d\", \"filters\": 8, \"kernel\": 3, \"groups\": 8, \"stride\": 2}",
                 8, 2, 2, 8 * 9 + 8, "conv2d 8 3x3 stride 2 groups 8");
    expect_layer("[8, 6, 6]", "{\"type\": \"conv2d\", \"filters\": 4, \"kernel\": 1, \"activation\": \"gelu\"}",
                 4, 6, 6, 4 * 8 + 4, "conv2d 4 1x1 gelu");
    /* A kernel exactly the padded input's size gives 1x1. */
    expect_layer("[1, 4, 4]", "{\"type\": \"conv2d\", \"filters\": 2, \"kernel\": 6, \"padding\": 1}",
                 2, 1, 1, 2 * 36 + 2, "conv2d 2 6x6 pad 1");
    /* Type names are case-insensitive. */
    expect_layer("[1, 4, 4]", "{\"type\": \"Conv2D\", \"filters\": 1, \"kernel\": 2}",
                 1, 3, 3, 5, "conv2d 1 2x2");
}

static void errors_name_the_path(void **state)
{
    (void)state;
    const char *img = "[3, 8, 8]";
    /* Found by fuzzing: a huge padding made the output size product overflow. */
    expect_error("[1, 28, 28]", "{\"type\": \"conv2d\", \"filters\": 32, \"kernel\": 3, "
                 "\"padding\": 1839819973}", "layers[0]: conv2d of [1, 28, 28] with 32 filters is too large");
    expect_error("[784]", "{\"type\": \"conv2d\", \"filters\": 4, \"kernel\": 3}",
                 "layers[0]: conv2d needs [channels, height, width] input, got [784]");
    expect_error("[1, 8, 8, 2]", "{\"type\": \"conv2d\", \"filters\": 4, \"kernel\": 3}",
                 "got [1, 8, 8, 2]");
    expect_error(img, "{\"type\": \"conv2d\", \"kernel\": 3}", "layers[0]: conv2d layer needs \"filters\"");
    expect_error(img, "{\"type\": \"conv2d\", \"filters\": 4}", "layers[0]: conv2d layer needs \"kernel\"");
    expect_error(img, "{\"type\": \"conv2d\", \"filters\": 0, \"kernel\": 3}",
                 "layers[0].filters: expected a positive integer, got 0");
    expect_error(img, "{\"type\": \"conv2d\", \"filters\": 4, \"kernel\": 0}",
                 "layers[0].kernel: expected a positive integer, got 0");
    expect_error(img, "{\"type\": \"conv2d\", \"filters\": 4, \"kernel\": [3, 0]}",
                 "layers[0].kernel[1]: expected a positive integer, got 0");
    expect_error(img, "{\"type\": \"conv2d\", \"filters\": 4, \"kernel\": [3]}",
                 "layers[0].kernel: expected a positive integer or a pair [height, width], got [3]");
    expect_error(img, "{\"type\": \"conv2d\", \"filters\": 4, \"kernel\": \"3\"}",
                 "layers[0].kernel: expected a positive integer or a pair");
    expect_error(img, "{\"type\": \"conv2d\", \"filters\": 4, \"kernel\": 2.5}",
                 "layers[0].kernel: expected a positive integer");
    expect_error(img, "{\"type\": \"conv2d\", \"filters\": 4, \"kernel\": 3, \"stride\": 0}",
                 "layers[0].stride: expected a positive integer");
    expect_error(img, "{\"type\": \"conv2d\", \"filters\": 4, \"kernel\": 3, \"dilation\": [1, -1]}",
                 "layers[0].dilation[1]: expected a positive integer");
    expect_error(img, "{\"type\": \"conv2d\", \"filters\": 4, \"kernel\": 3, \"padding\": -1}",
                 "layers[0].padding: expected an integer >= 0, got -1");
    expect_error(img, "{\"type\": \"conv2d\", \"filters\": 4, \"kernel\": 3, \"padding\": \"full\"}",
                 "layers[0].padding: expected an integer >= 0, a pair [height, width], \"same\" or \"valid\", got \"full\"");
    expect_error(img, "{\"type\": \"conv2d\", \"filters\": 4, \"kernel\": 3, \"padding\": \"same\", \"stride\": 2}",
                 "layers[0].padding: \"same\" needs stride 1");
    expect_error(img, "{\"type\": \"conv2d\", \"filters\": 4, \"kernel\": 3, \"groups\": 0}",
                 "layers[0].groups: expected a positive integer");
    /* channels (in or filters) not divisible by groups */
    expect_error(img, "{\"type\": \"conv2d\", \"filters\": 4, \"kernel\": 3, \"groups\": 2}",
                 "layers[0].groups: input channels 3 (input [3, 8, 8]) are not divisible by groups 2");
    expect_error("[4, 8, 8]", "{\"type\": \"conv2d\", \"filters\": 6, \"kernel\": 3, \"groups\": 4}",
                 "layers[0].groups: filters 6 are not divisible by groups 4");
    /* a kernel larger than the padded input */
    expect_error(img, "{\"type\": \"conv2d\", \"filters\": 4, \"kernel\": 9}",
                 "layers[0].kernel: 9x9 is larger than the padded input 8x8 (input [3, 8, 8])");
    expect_error(img, "{\"type\": \"conv2d\", \"filters\": 4, \"kernel\": [3, 11], \"padding\": 1}",
                 "layers[0].kernel: 3x11 is larger than the padded input 10x10");
    expect_error(img, "{\"type\": \"conv2d\", \"filters\": 4, \"kernel\": 3, \"dilation\": 4}",
                 "layers[0].kernel: 3x3 (9x9 dilated) is larger than the padded input 8x8");
    /* keys */
    expect_error(img, "{\"type\": \"conv2d\", \"filters\": 4, \"kernel\": 3, \"units\": 3}",
                 "filters, kernel, stride, padding, dilation, groups, bias, activation");
    expect_error(img, "{\"type\": \"conv2d\", \"filters\": 4, \"kernel\": 3, \"activation\": \"swish\"}",
                 "layers[0].activation: unknown activation \"swish\"");
    expect_error(img, "{\"type\": \"conv2d\", \"filters\": 4, \"kernel\": 3, \"activation\": \"relu\", \"alpha\": 1}",
                 "layers[0].alpha: applies to the elu activation only, this layer's is relu");
    expect_error(img, "{\"type\": \"conv2d\", \"filters\": 4, \"kernel\": 3, \"bias\": 1}",
                 "layers[0].bias: expected");
    /* A dense layer on a conv's output still needs a flatten. */
    cg_model_spec *spec = NULL;
    assert_int_equal(cg_model_spec_parse("{\"input\": [1, 6, 6], \"layers\": [{\"type\": \"conv2d\", "
                                         "\"filters\": 2, \"kernel\": 3}, {\"type\": \"dense\", "
                                         "\"units\": 2}]}",
                                         &spec),
                     CG_ERR_FORMAT);
    assert_non_null(strstr(cg_last_error(), "layers[1]: dense needs a flat input or a [time, features] sequence, got [2, 4, 4]"));
}

/* Every key is written, defaults included, and reads back as the same
 * model; pairs stay pairs, equal pairs become one number, "same" stays. */
static void round_trip_through_json(void **state)
{
    (void)state;
    cg_model_spec *a = parse_ok("[4, 9, 8]",
                                "{\"type\": \"conv2d\", \"filters\": 6, \"kernel\": [3, 2], "
                                "\"padding\": \"same\", \"dilation\": [1, 2], \"groups\": 2, "
                                "\"activation\": \"elu\", \"alpha\": 0.5}, "
                                "{\"type\": \"conv2d\", \"filters\": 3, \"kernel\": [2, 2], "
                                "\"stride\": [2, 1], \"padding\": [0, 1], \"bias\": false}");
    char *json = cg_model_spec_to_json(a);
    assert_non_null(json);
    const char *want[] = {
        "{\"type\":\"conv2d\",\"filters\":6,\"kernel\":[3,2],\"stride\":1,\"padding\":\"same\","
        "\"dilation\":[1,2],\"groups\":2,\"activation\":\"elu\",\"alpha\":0.5,\"bias\":true}",
        "{\"type\":\"conv2d\",\"filters\":3,\"kernel\":2,\"stride\":[2,1],\"padding\":[0,1],"
        "\"dilation\":1,\"groups\":1,\"activation\":\"none\",\"bias\":false}",
    };
    for (int i = 0; i < 2; i++)
        if (!strstr(json, want[i])) fail_msg("%s\n  should contain\n%s", json, want[i]);
    cg_model_spec *b = NULL;
    assert_int_equal(cg_model_spec_parse(json, &b), CG_OK);
    char *again = cg_model_spec_to_json(b);
    assert_string_equal(json, again);
    assert_int_equal(a->n_params, b->n_params);
    for (int i = 0; i < 2; i++) {
        char ta[128], tb[128];
        assert_string_equal(cg_layer_describe(&a->layers[i], ta, sizeof ta),
                            cg_layer_describe(&b->layers[i], tb, sizeof tb));
        assert_memory_equal(a->layers[i].out_shape, b->layers[i].out_shape,
                            sizeof a->layers[i].out_shape);
    }
    free(json);
    free(again);
    cg_model_spec_free(a);
    cg_model_spec_free(b);
}

/* torch.nn.Conv2d's names and layout ([filters, channels/groups, kh, kw],
 * [filters]) and default initialisation: kaiming_uniform(a=√5), which is
 * U(±1/√fan_in), and a bias U(±1/√fan_in), fan_in = channels/groups·kh·kw. */
static void parameters_as_torch(void **state)
{
    (void)state;
    cg_model_spec *spec = parse_ok("[6, 10, 10]",
                                   "{\"type\": \"conv2d\", \"filters\": 63, \"kernel\": [3, 5], "
                                   "\"groups\": 3}, {\"type\": \"conv2d\", \"filters\": 63, "
                                   "\"kernel\": 3, \"groups\": 63, \"bias\": false}");
    cg_rng rng;
    cg_rng_seed(&rng, 3);
    cg_model *model = cg_model_create(spec, &rng);
    assert_non_null(model);
    cg_params *p = cg_model_params(model);
    assert_int_equal(cg_params_count(p), 5);   /* 2 conv weights + 1 bias, dense weight + bias */
    cg_tensor *w = cg_params_find(p, "layers.0.weight"), *b = cg_params_find(p, "layers.0.bias");
    cg_tensor *dw = cg_params_find(p, "layers.1.weight");
    assert_non_null(w);
    assert_non_null(b);
    assert_non_null(dw);
    assert_null(cg_params_find(p, "layers.1.bias"));
    int64_t ws[4] = {63, 2, 3, 5}, dws[4] = {63, 1, 3, 3};
    assert_int_equal(w->ndim, 4);
    assert_memory_equal(w->shape, ws, sizeof ws);
    assert_int_equal(b->ndim, 1);
    assert_int_equal(b->shape[0], 63);
    assert_memory_equal(dw->shape, dws, sizeof dws);
    const struct {
        const cg_tensor *t;
        double fan_in;
    } inits[] = {{w, 2 * 3 * 5}, {b, 2 * 3 * 5}, {dw, 9}};
    for (size_t k = 0; k < 3; k++) {
        double bound = 1 / sqrt(inits[k].fan_in), lo = INFINITY, hi = -INFINITY, sum = 0;
        for (int64_t i = 0; i < inits[k].t->size; i++) {
            double v = inits[k].t->data[i];
            lo = fmin(lo, v), hi = fmax(hi, v), sum += v;
        }
        /* Inside the bound, spread over most of it, centred. */
        assert_true(lo >= -bound && hi <= bound);
        assert_true(lo < -0.8 * bound && hi > 0.8 * bound);
        assert_true(fabs(sum / (double)inits[k].t->size) < 0.2 * bound);
    }
    cg_model_destroy(model);
    cg_model_spec_free(spec);
}

/* y of a one-conv model (and of a conv followed by an activation layer,
 * which the conv absorbs) against the op with the same weights. */
static void activations_fused_absorbed_or_after(void **state)
{
    (void)state;
    static const struct {
        const char *layers, *op_act;
        float slope;
    } cases[] = {
        {"{\"type\": \"conv2d\", \"filters\": 3, \"kernel\": 3, \"padding\": 1, \"activation\": \"relu\"}", "relu", 0},
        {"{\"type\": \"conv2d\", \"filters\": 3, \"kernel\": 3, \"padding\": 1}, {\"type\": \"tanh\"}", "tanh", 0},
        {"{\"type\": \"conv2d\", \"filters\": 3, \"kernel\": 3, \"padding\": 1, \"activation\": \"leaky_relu\", \"negative_slope\": 0.3}", NULL, 0.3f},
        {"{\"type\": \"conv2d\", \"filters\": 3, \"kernel\": 3, \"padding\": 1}, {\"type\": \"leaky_relu\", \"negative_slope\": 0.3}", NULL, 0.3f},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char json[512];
        snprintf(json, sizeof json, "{\"input\": [2, 5, 4], \"layers\": [%s], \"loss\": \"mse\"}",
                 cases[k].layers);
        cg_model_spec *spec = NULL;
        if (cg_model_spec_parse(json, &spec) != CG_OK) fail_msg("%s: %s", json, cg_last_error());
        cg_rng rng;
        cg_rng_seed(&rng, 5);
        cg_model *model = cg_model_create(spec, &rng);
        assert_non_null(model);
        cg_ctx *ctx = cg_ctx_create(0);
        cg_tensor *x = cg_tensor_new(ctx, 4, (int64_t[]){3, 2, 5, 4});
        for (int64_t i = 0; i < x->size; i++) x->data[i] = (float)sin(0.7 * (double)i);
        cg_tensor *y = cg_model_forward(ctx, model, x);
        assert_non_null(y);
        cg_params *p = cg_model_params(model);
        cg_conv2d_params cp = {.padding = {1, 1}};
        if (cases[k].op_act) assert_true(cg_activation_from_name(cases[k].op_act, &cp.activation));
        cg_tensor *want = cg_conv2d(ctx, x, cg_params_find(p, "layers.0.weight"),
                                    cg_params_find(p, "layers.0.bias"), &cp);
        if (!cases[k].op_act) want = cg_leaky_relu(ctx, want, cases[k].slope);
        assert_non_null(want);
        assert_int_equal(y->size, want->size);
        for (int64_t i = 0; i < y->size; i++)
            if (y->data[i] != want->data[i])
                fail_msg("%s: y[%lld] = %g, want %g", cases[k].layers, (long long)i,
                         (double)y->data[i], (double)want->data[i]);
        cg_ctx_destroy(ctx);
        cg_model_destroy(model);
        cg_model_spec_free(spec);
    }
}

/* Leaf gradients after a seeded backward pass through out (which ctx made
 * from x, weight and bias): copied into g, x's first, then the weight's and
 * the bias's; the count of floats. */
static int64_t leaf_grads(cg_ctx *ctx, cg_tensor *out, cg_tensor *const *leaves, float *g)
{
    float *seed = malloc((size_t)out->size * sizeof *seed);
    assert_non_null(seed);
    for (int64_t i = 0; i < out->size; i++) seed[i] = (float)cos(0.3 * (double)i) - 0.2f;
    for (int k = 0; k < 3; k++) cg_tensor_zero_grad(leaves[k]);
    assert_int_equal(cg_backward_seeded(ctx, out, seed), CG_OK);
    free(seed);
    int64_t n = 0;
    for (int k = 0; k < 3; k++) {
        memcpy(g + n, leaves[k]->grad, (size_t)leaves[k]->size * sizeof *g);
        n += leaves[k]->size;
    }
    return n;
}

/* A maxpool2d after a conv2d with ReLU or no activation is pooled in the
 * conv's own pass over each sample (the layer absorbs it): its output and
 * every gradient are those of cg_conv2d then cg_maxpool2d, bit for bit, in
 * evaluation and training mode, whatever the pooling's overlap and
 * leftovers, with ties among the ReLU's zeros. A GELU conv is not fused
 * and must give the same too. */
static void maxpool_pooled_in_the_conv_pass(void **state)
{
    (void)state;
    static const struct {
        const char *act;
        int64_t kernel, stride, padding;
    } cases[] = {{"relu", 2, 2, 0}, {"none", 2, 2, 0}, {"relu", 3, 2, 1}, {"gelu", 2, 2, 0}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char json[512];
        snprintf(json, sizeof json,
                 "{\"input\": [2, 7, 9], \"layers\": [{\"type\": \"conv2d\", \"filters\": 5, "
                 "\"kernel\": 3, \"padding\": 1, \"activation\": \"%s\"}, {\"type\": "
                 "\"maxpool2d\", \"kernel\": %lld, \"stride\": %lld, \"padding\": %lld}], "
                 "\"loss\": \"mse\"}",
                 cases[k].act, (long long)cases[k].kernel, (long long)cases[k].stride,
                 (long long)cases[k].padding);
        cg_model_spec *spec = NULL;
        if (cg_model_spec_parse(json, &spec) != CG_OK) fail_msg("%s: %s", json, cg_last_error());
        cg_rng rng;
        cg_rng_seed(&rng, 9);
        cg_model *model = cg_model_create(spec, &rng);
        assert_non_null(model);
        cg_params *p = cg_model_params(model);
        cg_tensor *w = cg_params_find(p, "layers.0.weight"), *b = cg_params_find(p, "layers.0.bias");
        cg_conv2d_params cp = {.padding = {1, 1}};
        assert_true(cg_activation_from_name(cases[k].act, &cp.activation));
        const int64_t pk[2] = {cases[k].kernel, cases[k].kernel};
        const int64_t ps[2] = {cases[k].stride, cases[k].stride};
        const int64_t pp[2] = {cases[k].padding, cases[k].padding};
        for (int training = 0; training <= 1; training++) {
            cg_ctx *ctx = cg_ctx_create(0);
            cg_ctx_set_training(ctx, training);
            cg_tensor *x = cg_tensor_new(ctx, 4, (int64_t[]){3, 2, 7, 9});
            /* Negative stretches: the ReLU's zeros tie inside windows. */
            for (int64_t i = 0; i < x->size; i++)
                x->data[i] = (i / 11) % 3 == 0 ? -1.0f : (float)sin(0.7 * (double)i);
            cg_tensor_set_requires_grad(x, true);
            cg_tensor *y = cg_model_forward(ctx, model, x);
            cg_tensor *want = cg_maxpool2d(ctx, cg_conv2d(ctx, x, w, b, &cp), pk, ps, pp);
            assert_non_null(y);
            assert_non_null(want);
            assert_int_equal(y->size, want->size);
            assert_memory_equal(y->data, want->data, (size_t)y->size * sizeof(float));
            if (training) {
                cg_tensor *leaves[3] = {x, w, b};
                static float got[4096], ref[4096];
                int64_t n = leaf_grads(ctx, y, leaves, got);
                assert_true(n <= 4096);
                leaf_grads(ctx, want, leaves, ref);
                for (int64_t i = 0; i < n; i++)
                    if (memcmp(&got[i], &ref[i], sizeof got[i]) != 0)
                        fail_msg("%s: gradient %lld = %g, want %g", json, (long long)i,
                                 (double)got[i], (double)ref[i]);
            }
            cg_ctx_destroy(ctx);
        }
        cg_model_destroy(model);
        cg_model_spec_free(spec);
    }
}

/* The memory estimate counts GELU's kept pre-activation (per sample). */
static void memory_estimate(void **state)
{
    (void)state;
    cg_model_spec *plain = parse_ok("[1, 8, 8]", "{\"type\": \"conv2d\", \"filters\": 4, \"kernel\": 3, \"activation\": \"relu\"}");
    cg_model_spec *gelu = parse_ok("[1, 8, 8]", "{\"type\": \"conv2d\", \"filters\": 4, \"kernel\": 3, \"activation\": \"gelu\"}");
    uint64_t a, b;
    assert_int_equal(cg_model_spec_memory(plain, 10, &a), CG_OK);
    assert_int_equal(cg_model_spec_memory(gelu, 10, &b), CG_OK);
    assert_int_equal(b - a, 10 * 4 * 6 * 6 * sizeof(float));
    cg_model_spec_free(plain);
    cg_model_spec_free(gelu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shapes_follow_pytorch),
        cmocka_unit_test(maxpool_pooled_in_the_conv_pass),
        cmocka_unit_test(errors_name_the_path),
        cmocka_unit_test(round_trip_through_json),
        cmocka_unit_test(parameters_as_torch),
        cmocka_unit_test(activations_fused_absorbed_or_after),
        cmocka_unit_test(memory_estimate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
