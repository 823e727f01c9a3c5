/* conv2d against PyTorch (fixtures/conv.safetensors, written by
 * fixtures/generate.py): torch.nn.functional.conv2d with stride, padding
 * (numbers, "same" with an odd total, dilated "same"), dilation, groups,
 * depthwise, no bias and a fused relu. Each case holds the float64 answer
 * rounded once (y, dx, dw, db) and torch's float32 CPU kernels' (y32, ...).
 * Every case runs twice: through the op (cg_conv2d) and through a one-layer
 * model built from the model-file settings with the fixture's weights
 * loaded, so the layer's wiring of its keys is checked too.
 *
 * Also the op's own contract: argument errors name the problem and both
 * shapes, and results are bitwise the same for any thread count. */
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
#include "errors.h"
#include "fixtures.h"

#define FIXTURE "fixtures/conv.safetensors"
/* float32 sums of up to a few hundred products: a few ulps of the largest
 * value of the tensor (errors are absolute, from the terms, not the result). */
#define TOL 2e-6

static int load_fixture(void **state)
{
    (void)state;
    return fx_load(FIXTURE);
}

/* ---- fixture access ---- */

/* "a,b" metadata of a case into v[2]; false when it is not a pair. */
static bool meta_pair(const char *case_name, const char *field, int64_t v[2])
{
    const char *text = fx_meta_opt(case_name, field);
    if (!text) fail_msg("fixture has no metadata \"%s.%s\"", case_name, field);
    char *end;
    v[0] = strtoll(text, &end, 10);
    if (*end != ',') return false;
    v[1] = strtoll(end + 1, &end, 10);
    return *end == '\0';
}

static int64_t meta_int(const char *case_name, const char *field)
{
    const char *text = fx_meta_opt(case_name, field);
    if (!text) fail_msg("fixture has no metadata \"%s.%s\"", case_name, field);
    return strtoll(text, NULL, 10);
}

static bool has_tensor(const char *case_name, const char *field)
{
    char name[256];
    return cg_st_find(fx_file(), fx_join(name, sizeof name, case_name, field)) != NULL;
}

/* The largest error of each field over all cases. */
static fx_worst worst;

static void check(const float *got, int64_t n, const char *case_name, fx_field field)
{
    fx_check_field(got, n, case_name, field, TOL, worst);
}

static cg_conv2d_params params_of(const char *case_name)
{
    cg_conv2d_params p = {.groups = meta_int(case_name, "groups")};
    assert_true(meta_pair(case_name, "stride", p.stride));
    assert_true(meta_pair(case_name, "dilation", p.dilation));
    const char *padding = fx_meta_opt(case_name, "padding");
    p.padding_same = !strcmp(padding, "same");
    if (!p.padding_same && strcmp(padding, "valid") != 0)
        assert_true(meta_pair(case_name, "padding", p.padding));
    const char *act = fx_meta_opt(case_name, "activation");
    assert_true(cg_activation_from_name(act, &p.activation));
    return p;
}

/* ---- through the op ---- */

static void op_case(const char *case_name)
{
    cg_ctx *ctx = cg_ctx_create(0);
    cg_tensor *x = fx_input(ctx, case_name, "x"), *w = fx_input(ctx, case_name, "w");
    cg_tensor *b = has_tensor(case_name, "b") ? fx_input(ctx, case_name, "b") : NULL;
    cg_conv2d_params p = params_of(case_name);
    cg_tensor *y = cg_conv2d(ctx, x, w, b, &p);
    if (!y) fail_msg("%s: %s", case_name, cg_last_error());
    check(y->data, y->size, case_name, FX_Y);
    assert_int_equal(cg_backward_seeded(ctx, y, fx_entry(case_name, "dy")->data), CG_OK);
    check(x->grad, x->size, case_name, FX_DX);
    check(w->grad, w->size, case_name, FX_DW);
    if (b) check(b->grad, b->size, case_name, FX_DB);
    cg_ctx_destroy(ctx);
}

/* ---- through the layer: a one-layer model from the model-file keys ---- */

static void pair_json(const char *case_name, const char *field, char *buf, size_t size)
{
    int64_t v[2];
    if (meta_pair(case_name, field, v))
        snprintf(buf, size, "[%lld, %lld]", (long long)v[0], (long long)v[1]);
    else
        snprintf(buf, size, "\"%s\"", fx_meta_opt(case_name, field));
}

static void copy_param(cg_model *model, const char *name, const char *case_name,
                       const char *field)
{
    cg_tensor *t = cg_params_find(cg_model_params(model), name);
    assert_non_null(t);
    const cg_st_entry *e = fx_entry(case_name, field);
    assert_int_equal(t->ndim, e->ndim);
    for (int i = 0; i < e->ndim; i++) assert_int_equal(t->shape[i], e->shape[i]);
    memcpy(t->data, e->data, (size_t)t->size * sizeof(float));
}

static void layer_case(const char *case_name)
{
    const cg_st_entry *xe = fx_entry(case_name, "x");
    char kernel[64], stride[64], padding[64], dilation[64];
    pair_json(case_name, "kernel", kernel, sizeof kernel);
    pair_json(case_name, "stride", stride, sizeof stride);
    pair_json(case_name, "padding", padding, sizeof padding);
    pair_json(case_name, "dilation", dilation, sizeof dilation);
    bool bias = meta_int(case_name, "bias") != 0;
    cg_model_spec *spec = cg_model_spec_create(3, xe->shape + 1);
    assert_non_null(spec);
    cg_status s = cg_model_spec_add_layerf(
        spec,
        "{\"type\": \"conv2d\", \"filters\": %lld, \"kernel\": %s, \"stride\": %s, "
        "\"padding\": %s, \"dilation\": %s, \"groups\": %lld, \"bias\": %s, \"activation\": \"%s\"}",
        (long long)meta_int(case_name, "filters"), kernel, stride, padding, dilation,
        (long long)meta_int(case_name, "groups"), bias ? "true" : "false",
        fx_meta_opt(case_name, "activation"));
    if (s != CG_OK) fail_msg("%s: %s", case_name, cg_last_error());
    assert_int_equal(cg_model_spec_set(spec, "loss", "\"mse\""), CG_OK);
    cg_rng rng;
    cg_rng_seed(&rng, 1);
    cg_model *model = cg_model_create(spec, &rng);
    if (!model) fail_msg("%s: %s", case_name, cg_last_error());
    copy_param(model, "layers.0.weight", case_name, "w");
    if (bias) copy_param(model, "layers.0.bias", case_name, "b");
    cg_params_zero_grad(cg_model_params(model));

    cg_ctx *ctx = cg_ctx_create(0);
    cg_tensor *x = fx_input(ctx, case_name, "x");
    cg_tensor *y = cg_model_forward(ctx, model, x);
    if (!y) fail_msg("%s: %s", case_name, cg_last_error());
    check(y->data, y->size, case_name, FX_Y);
    assert_int_equal(cg_backward_seeded(ctx, y, fx_entry(case_name, "dy")->data), CG_OK);
    check(x->grad, x->size, case_name, FX_DX);
    cg_tensor *w = cg_params_find(cg_model_params(model), "layers.0.weight");
    check(w->grad, w->size, case_name, FX_DW);
    if (bias) {
        cg_tensor *b = cg_params_find(cg_model_params(model), "layers.0.bias");
        check(b->grad, b->size, case_name, FX_DB);
    }
    cg_ctx_destroy(ctx);
    cg_model_destroy(model);
    cg_model_spec_free(spec);
}

static void conv2d_matches_torch(void **state)
{
    (void)state;
    char cases[32][64];
    int n = fx_split_list(cg_st_meta(fx_file(), "conv_cases"), cases, 32);
    assert_true(n >= 15);
    for (int i = 0; i < n; i++) {
        op_case(cases[i]);
        layer_case(cases[i]);
    }
    fx_print_worst("conv2d", n, worst);
}

/* ---- the op's contract ---- */

static void conv2d_argument_errors(void **state)
{
    (void)state;
    cg_ctx *ctx = cg_ctx_create(0);
    cg_tensor *x = cg_tensor_zeros(ctx, 4, (int64_t[]){2, 4, 5, 5});
    cg_tensor *w = cg_tensor_zeros(ctx, 4, (int64_t[]){6, 4, 3, 3});
    cg_tensor *flat = cg_tensor_zeros(ctx, 2, (int64_t[]){2, 100});
    cg_tensor *w2 = cg_tensor_zeros(ctx, 4, (int64_t[]){6, 2, 3, 3});
    cg_tensor *w6 = cg_tensor_zeros(ctx, 4, (int64_t[]){6, 4, 6, 3});
    cg_tensor *b5 = cg_tensor_zeros(ctx, 1, (int64_t[]){5});
    cg_clear_error();
    assert_null(cg_conv2d(ctx, flat, w, NULL, NULL));
    assert_int_equal(cg_last_status(), CG_ERR_ARG);
    assert_error_mentions("[N, C, H, W]", "[2, 100]");
    assert_null(cg_conv2d(ctx, x, flat, NULL, NULL));
    assert_error_mentions("weight must be", "[2, 100]");
    assert_null(cg_conv2d(ctx, x, w2, NULL, NULL));
    assert_error_mentions("input has 4 channels", "[6, 2, 3, 3]");
    assert_null(cg_conv2d(ctx, x, w, NULL, &(cg_conv2d_params){.groups = 3}));
    assert_error_mentions("4 input channels are not divisible by groups 3", NULL);
    assert_null(cg_conv2d(ctx, x, w2, NULL, &(cg_conv2d_params){.groups = 4}));
    assert_error_mentions("6 output channels are not divisible by groups 4", NULL);
    assert_null(cg_conv2d(ctx, x, w, b5, NULL));
    assert_error_mentions("bias must be [out_channels]", "[5]");
    assert_null(cg_conv2d(ctx, x, w6, NULL, NULL));
    assert_error_mentions("kernel (6x3, dilated 6x3) is larger than the padded input (5x5)",
                          "[2, 4, 5, 5]");
    assert_null(cg_conv2d(ctx, x, w, NULL, &(cg_conv2d_params){.dilation = {3, 1}}));
    assert_error_mentions("dilated 7x3", NULL);
    /* ... which padding makes fit. */
    cg_tensor *y = cg_conv2d(ctx, x, w6, NULL, &(cg_conv2d_params){.padding = {1, 0}});
    assert_non_null(y);
    assert_int_equal(y->shape[2], 2);
    assert_int_equal(y->shape[3], 3);
    assert_null(cg_conv2d(ctx, x, w, NULL, &(cg_conv2d_params){.stride = {-1, 1}}));
    assert_error_mentions("stride must be >= 1", "-1");
    assert_null(cg_conv2d(ctx, x, w, NULL, &(cg_conv2d_params){.dilation = {1, -2}}));
    assert_error_mentions("dilation must be >= 1", "-2");
    assert_null(cg_conv2d(ctx, x, w, NULL, &(cg_conv2d_params){.padding = {-1, 0}}));
    assert_error_mentions("padding must be >= 0", NULL);
    assert_null(cg_conv2d(ctx, x, w, NULL, &(cg_conv2d_params){.groups = -1}));
    assert_error_mentions("groups must be >= 1", NULL);
    assert_null(cg_conv2d(ctx, x, w, NULL,
                          &(cg_conv2d_params){.padding_same = true, .stride = {2, 2}}));
    assert_error_mentions("padding_same needs stride 1", NULL);
    assert_null(cg_conv2d(ctx, x, w, NULL,
                          &(cg_conv2d_params){.padding_same = true, .padding = {1, 1}}));
    assert_error_mentions("padding_same and a padding", NULL);
    assert_null(cg_conv2d(ctx, x, w, NULL, &(cg_conv2d_params){.activation = (cg_activation)99}));
    assert_error_mentions("unknown activation", NULL);
    assert_null(cg_conv2d(NULL, x, w, NULL, NULL));
    assert_null(cg_conv2d(ctx, NULL, w, NULL, NULL));
    /* Zero settings are PyTorch's defaults; "same" keeps the size. */
    y = cg_conv2d(ctx, x, w, NULL, &(cg_conv2d_params){.padding_same = true, .dilation = {2, 1}});
    assert_non_null(y);
    assert_int_equal(y->shape[2], 5);
    assert_int_equal(y->shape[3], 5);
    cg_ctx_destroy(ctx);
}

/* Forward and every gradient of a batch large enough for the threaded
 * paths, with 1, 2 and 3 threads: bitwise equal. Covers the im2col path
 * (strided, dilated), the 1x1 path and depthwise; the gradients flow back
 * through a fused gelu. */
static cg_tensor *filled(cg_ctx *ctx, int ndim, const int64_t *shape, float start, float step)
{
    cg_tensor *t = cg_tensor_new(ctx, ndim, shape);
    assert_non_null(t);
    for (int64_t i = 0; i < t->size; i++) t->data[i] = start + step * (float)(i % 97);
    cg_tensor_set_requires_grad(t, true);
    return t;
}

enum { T_N = 23, T_C = 6, T_H = 11, T_W = 9, T_O = 12 };

static int64_t thread_run(int threads, float *out)
{
    cg_set_num_threads(threads);
    cg_ctx *ctx = cg_ctx_create(0);
    cg_tensor *x = filled(ctx, 4, (int64_t[]){T_N, T_C, T_H, T_W}, -1.0f, 0.021f);
    cg_tensor *w1 = filled(ctx, 4, (int64_t[]){T_O, T_C, 3, 3}, -0.3f, 0.0071f);
    cg_tensor *b1 = filled(ctx, 1, (int64_t[]){T_O}, -0.1f, 0.02f);
    cg_tensor *w2 = filled(ctx, 4, (int64_t[]){T_O, 1, 3, 2}, 0.4f, -0.013f);
    cg_tensor *w3 = filled(ctx, 4, (int64_t[]){5, T_O, 1, 1}, -0.2f, 0.009f);
    cg_tensor *b3 = filled(ctx, 1, (int64_t[]){5}, 0.1f, 0.03f);
    cg_tensor *h = cg_conv2d(ctx, x, w1, b1,
                             &(cg_conv2d_params){.stride = {2, 1}, .padding = {1, 2},
                                                 .dilation = {1, 2}, .activation = CG_ACT_GELU});
    h = cg_conv2d(ctx, h, w2, NULL, &(cg_conv2d_params){.groups = T_O, .padding_same = true});
    h = cg_conv2d(ctx, h, w3, b3, &(cg_conv2d_params){.activation = CG_ACT_TANH});
    cg_tensor *loss = cg_sum(ctx, cg_mul(ctx, h, h), CG_AXIS_ALL, false);
    assert_non_null(loss);
    assert_int_equal(cg_backward(ctx, loss), CG_OK);
    cg_tensor *ts[] = {x, w1, b1, w2, w3, b3};
    int64_t pos = 0;
    memcpy(out, h->data, (size_t)h->size * sizeof *out);
    pos += h->size;
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
        if (out) memcpy(out + pos, ts[i]->grad, (size_t)ts[i]->size * sizeof *out);
        pos += ts[i]->size;
    }
    cg_ctx_destroy(ctx);
    return pos;
}

static void conv2d_does_not_depend_on_thread_count(void **state)
{
    (void)state;
    int saved = cg_get_num_threads();
    enum { MAX = 1 << 17 };
    float *one = malloc(MAX * sizeof *one), *other = malloc(MAX * sizeof *other);
    assert_non_null(one);
    assert_non_null(other);
    int64_t n = thread_run(1, one);
    assert_true(n <= MAX);
    for (int threads = 2; threads <= 3; threads++) {
        assert_int_equal(thread_run(threads, other), n);
        assert_memory_equal(one, other, (size_t)n * sizeof *one);
    }
    free(one);
    free(other);
    cg_set_num_threads(saved);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conv2d_matches_torch),
        cmocka_unit_test(conv2d_argument_errors),
        cmocka_unit_test(conv2d_does_not_depend_on_thread_count),
    };
    return cmocka_run_group_tests(tests, load_fixture, fx_free);
}
