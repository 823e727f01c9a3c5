/* Layer normalisation against PyTorch (fixtures/layernorm.safetensors,
 * written by fixtures/generate.py): torch.nn.LayerNorm with 1-D and
 * multi-dimensional normalized shapes, with and without
 * elementwise_affine, a large eps, two values a row, a large mean with a
 * small spread, and rows wider than the blocks of the parameter gradients.
 * Each case holds the float64 answer rounded once (y, dx, dw, db) and
 * torch's float32 CPU kernels' (y32, ...). Every case runs twice: through
 * the op (cg_layer_norm) and through a one-layer model built from the
 * model-file settings with the fixture's weights loaded.
 *
 * Also the op's own contract: argument errors name the problem and the
 * shapes, it records nothing without gradients, and results are bitwise the
 * same for any thread count. */
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

#define FIXTURE "fixtures/layernorm.safetensors"
/* Every value is computed in double from float32 inputs and rounded once:
 * within a few float32 ulps of the tensor's largest value. */
#define TOL 1e-6

static int load_fixture(void **state)
{
    (void)state;
    return fx_load(FIXTURE);
}

/* ---- fixture access ---- */

static const char *meta(const char *case_name, const char *field)
{
    const char *text = fx_meta_opt(case_name, field);
    if (!text) fail_msg("fixture has no metadata \"%s.%s\"", case_name, field);
    return text;
}

/* "2,4,5" into dims; returns the count. */
static int meta_dims(const char *case_name, const char *field, int64_t dims[CG_MAX_DIMS])
{
    const char *text = meta(case_name, field);
    int n = 0;
    for (char *end; *text && n < CG_MAX_DIMS; text = *end ? end + 1 : end) {
        dims[n++] = strtoll(text, &end, 10);
        if (*end != ',' && *end != '\0') fail_msg("%s.%s: bad list \"%s\"", case_name, field, text);
    }
    return n;
}

/* The largest error of each field over all cases. */
static fx_worst worst;

static void check(const float *got, int64_t n, const char *case_name, fx_field field)
{
    fx_check_field(got, n, case_name, field, TOL, worst);
}

static bool affine(const char *case_name)
{
    return strcmp(meta(case_name, "elementwise_affine"), "1") == 0;
}

static float eps_of(const char *case_name)
{
    return strtof(meta(case_name, "eps"), NULL);
}

/* ---- through the op ---- */

static void op_case(const char *case_name)
{
    int64_t norm[CG_MAX_DIMS];
    int k = meta_dims(case_name, "normalized_shape", norm);
    cg_ctx *ctx = cg_ctx_create(0);
    cg_tensor *x = fx_input(ctx, case_name, "x");
    cg_tensor *w = affine(case_name) ? fx_input(ctx, case_name, "w") : NULL;
    cg_tensor *b = affine(case_name) ? fx_input(ctx, case_name, "b") : NULL;
    cg_tensor *y = cg_layer_norm(ctx, x, k, w, b, eps_of(case_name));
    if (!y) fail_msg("%s: %s", case_name, cg_last_error());
    check(y->data, y->size, case_name, FX_Y);
    assert_int_equal(cg_backward_seeded(ctx, y, fx_entry(case_name, "dy")->data), CG_OK);
    check(x->grad, x->size, case_name, FX_DX);
    if (w) {
        check(w->grad, w->size, case_name, FX_DW);
        check(b->grad, b->size, case_name, FX_DB);
    }
    cg_ctx_destroy(ctx);
}

/* ---- through the layer: a one-layer model from the model-file keys ---- */

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
    bool with_affine = affine(case_name);
    cg_model_spec *spec = cg_model_spec_create(xe->ndim - 1, xe->shape + 1);
    assert_non_null(spec);
    cg_status s = cg_model_spec_add_layerf(
        spec,
        "{\"type\": \"layernorm\", \"normalized_shape\": [%s], \"eps\": %s, "
        "\"elementwise_affine\": %s}",
        meta(case_name, "normalized_shape"), meta(case_name, "eps"),
        with_affine ? "true" : "false");
    if (s != CG_OK) fail_msg("%s: %s", case_name, cg_last_error());
    assert_int_equal(cg_model_spec_set(spec, "loss", "\"mse\""), CG_OK);
    cg_rng rng;
    cg_rng_seed(&rng, 1);
    cg_model *model = cg_model_create(spec, &rng);
    if (!model) fail_msg("%s: %s", case_name, cg_last_error());
    assert_int_equal(cg_params_count(cg_model_params(model)), with_affine ? 2 : 0);
    if (with_affine) {
        copy_param(model, "layers.0.weight", case_name, "w");
        copy_param(model, "layers.0.bias", case_name, "b");
    }
    cg_params_zero_grad(cg_model_params(model));

    /* Evaluation mode computes the same as training mode. */
    for (int training = 1; training >= 0; training--) {
        cg_ctx *ctx = cg_ctx_create(0);
        cg_ctx_set_training(ctx, training);
        cg_tensor *x = fx_input(ctx, case_name, "x");
        cg_tensor *y = cg_model_forward(ctx, model, x);
        if (!y) fail_msg("%s: %s", case_name, cg_last_error());
        check(y->data, y->size, case_name, FX_Y);
        if (training) {
            assert_int_equal(cg_backward_seeded(ctx, y, fx_entry(case_name, "dy")->data), CG_OK);
            check(x->grad, x->size, case_name, FX_DX);
            if (with_affine) {
                cg_tensor *w = cg_params_find(cg_model_params(model), "layers.0.weight");
                cg_tensor *b = cg_params_find(cg_model_params(model), "layers.0.bias");
                check(w->grad, w->size, case_name, FX_DW);
                check(b->grad, b->size, case_name, FX_DB);
            }
        }
        cg_ctx_destroy(ctx);
    }
    cg_model_destroy(model);
    cg_model_spec_free(spec);
}

static void layer_norm_matches_torch(void **state)
{
    (void)state;
    char cases[32][64];
    int n = fx_split_list(cg_st_meta(fx_file(), "layernorm_cases"), cases, 32);
    assert_true(n >= 8);
    for (int i = 0; i < n; i++) {
        op_case(cases[i]);
        layer_case(cases[i]);
    }
    fx_print_worst("layer_norm", n, worst);
}

/* ---- the op's contract ---- */

static void layer_norm_argument_errors(void **state)
{
    (void)state;
    cg_ctx *ctx = cg_ctx_create(0);
    cg_tensor *x = cg_tensor_zeros(ctx, 3, (int64_t[]){2, 4, 5});
    cg_tensor *p5 = cg_tensor_zeros(ctx, 1, (int64_t[]){5});
    cg_tensor *p4 = cg_tensor_zeros(ctx, 1, (int64_t[]){4});
    cg_tensor *p45 = cg_tensor_zeros(ctx, 2, (int64_t[]){4, 5});
    cg_tensor *p54 = cg_tensor_zeros(ctx, 2, (int64_t[]){5, 4});
    cg_clear_error();
    assert_null(cg_layer_norm(ctx, x, 0, NULL, NULL, 1e-5f));
    assert_int_equal(cg_last_status(), CG_ERR_ARG);
    assert_error_mentions("normalized_ndim must be 1 to the input's rank 3, got 0", "[2, 4, 5]");
    assert_null(cg_layer_norm(ctx, x, 4, NULL, NULL, 1e-5f));
    assert_error_mentions("got 4", NULL);
    assert_null(cg_layer_norm(ctx, x, 1, p4, NULL, 1e-5f));
    assert_error_mentions("weight must be the normalized shape [5] (the last 1 dimension of "
                          "input [2, 4, 5]), got [4]", NULL);
    assert_null(cg_layer_norm(ctx, x, 2, p45, p5, 1e-5f));
    assert_error_mentions("bias must be the normalized shape [4, 5] (the last 2 dimensions", "got [5]");
    assert_null(cg_layer_norm(ctx, x, 2, p54, NULL, 1e-5f));
    assert_error_mentions("weight must be the normalized shape [4, 5]", "got [5, 4]");
    assert_null(cg_layer_norm(ctx, x, 1, NULL, NULL, -1e-5f));
    assert_error_mentions("eps must be finite and >= 0", NULL);
    assert_null(cg_layer_norm(ctx, x, 1, NULL, NULL, NAN));
    assert_error_mentions("eps must be finite and >= 0", NULL);
    assert_null(cg_layer_norm(NULL, x, 1, NULL, NULL, 1e-5f));
    assert_error_mentions("context is NULL", NULL);
    cg_clear_error();
    assert_null(cg_layer_norm(ctx, NULL, 1, NULL, NULL, 1e-5f));
    assert_error_mentions("layer_norm: input 0 is NULL", NULL);
    /* The valid ones: weight and bias of the normalized shape, eps 0, the
     * whole tensor normalized. */
    assert_non_null(cg_layer_norm(ctx, x, 1, p5, p5, 0.0f));
    assert_non_null(cg_layer_norm(ctx, x, 2, p45, p45, 1e-5f));
    assert_non_null(cg_layer_norm(ctx, x, 3, NULL, NULL, 1e-5f));
    cg_ctx_destroy(ctx);
}

/* Rows of one value normalise to 0 (then the bias), with a zero gradient;
 * nothing is recorded without gradients. */
static void layer_norm_edge_cases(void **state)
{
    (void)state;
    cg_ctx *ctx = cg_ctx_create(0);
    const float xv[3] = {1.0f, -7.0f, 1e30f};
    cg_tensor *x = cg_tensor_from(ctx, 2, (int64_t[]){3, 1}, xv);
    cg_tensor *b = cg_tensor_from(ctx, 1, (int64_t[]){1}, (float[]){0.25f});
    cg_tensor_set_requires_grad(x, true);
    cg_tensor *y = cg_layer_norm(ctx, x, 1, NULL, b, 1e-5f);
    assert_non_null(y);
    for (int i = 0; i < 3; i++) assert_true(y->data[i] == 0.25f);
    assert_int_equal(cg_backward_seeded(ctx, y, (float[]){1.0f, -2.0f, 3.0f}), CG_OK);
    for (int i = 0; i < 3; i++) assert_true(x->grad[i] == 0.0f);

    size_t tape = cg_ctx_tape_length(ctx);
    cg_tensor *plain = cg_tensor_from(ctx, 2, (int64_t[]){3, 1}, xv);
    assert_non_null(cg_layer_norm(ctx, plain, 2, NULL, NULL, 1e-5f));
    assert_int_equal(cg_ctx_tape_length(ctx), tape);
    cg_ctx_set_grad_enabled(ctx, false);
    assert_non_null(cg_layer_norm(ctx, x, 1, NULL, b, 1e-5f));
    assert_int_equal(cg_ctx_tape_length(ctx), tape);
    cg_ctx_destroy(ctx);
}

/* Forward and every gradient of inputs large enough for the threaded paths
 * (rows; blocks of columns for dw and db, the last one partial), with 1, 2
 * and 3 threads: bitwise equal. */
static cg_tensor *filled(cg_ctx *ctx, int ndim, const int64_t *shape, float start, float step)
{
    cg_tensor *t = cg_tensor_new(ctx, ndim, shape);
    assert_non_null(t);
    for (int64_t i = 0; i < t->size; i++) t->data[i] = start + step * (float)(i % 97);
    cg_tensor_set_requires_grad(t, true);
    return t;
}

enum { T_N = 37, T_T = 9, T_C = 150 };

static int64_t thread_run(int threads, float *out)
{
    cg_set_num_threads(threads);
    cg_ctx *ctx = cg_ctx_create(0);
    cg_tensor *x = filled(ctx, 3, (int64_t[]){T_N, T_T, T_C}, -1.0f, 0.021f);
    cg_tensor *w1 = filled(ctx, 1, (int64_t[]){T_C}, 0.5f, 0.013f);
    cg_tensor *b1 = filled(ctx, 1, (int64_t[]){T_C}, -0.2f, 0.007f);
    cg_tensor *w2 = filled(ctx, 2, (int64_t[]){T_T, T_C}, 1.5f, -0.011f);
    cg_tensor *h = cg_layer_norm(ctx, x, 1, w1, b1, 1e-5f);
    h = cg_layer_norm(ctx, cg_tanh(ctx, h), 2, w2, NULL, 1e-3f);
    cg_tensor *loss = cg_sum(ctx, cg_mul(ctx, h, cg_sigmoid(ctx, x)), CG_AXIS_ALL, false);
    assert_non_null(loss);
    assert_int_equal(cg_backward(ctx, loss), CG_OK);
    cg_tensor *ts[] = {x, w1, b1, w2};
    int64_t pos = h->size;
    memcpy(out, h->data, (size_t)h->size * sizeof *out);
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
        memcpy(out + pos, ts[i]->grad, (size_t)ts[i]->size * sizeof *out);
        pos += ts[i]->size;
    }
    cg_ctx_destroy(ctx);
    return pos;
}

static void layer_norm_does_not_depend_on_thread_count(void **state)
{
    (void)state;
    int saved = cg_get_num_threads();
    enum { MAX = 2 * T_N * T_T * T_C + 2 * T_C + T_T * T_C };
    float *one = malloc(MAX * sizeof *one), *other = malloc(MAX * sizeof *other);
    assert_non_null(one);
    assert_non_null(other);
    int64_t n = thread_run(1, one);
    assert_int_equal(n, MAX);
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
        cmocka_unit_test(layer_norm_matches_torch),
        cmocka_unit_test(layer_norm_argument_errors),
        cmocka_unit_test(layer_norm_edge_cases),
        cmocka_unit_test(layer_norm_does_not_depend_on_thread_count),
    };
    return cmocka_run_group_tests(tests, load_fixture, fx_free);
}
