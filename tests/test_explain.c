/* Gradients with respect to the input (cg_model_input_grad) against
 * central differences for a dense net and a CNN with batch norm in
 * evaluation mode; the weights and their gradients left untouched; the
 * attribution methods (integrated gradients' completeness, gradient ×
 * input, saliency, SmoothGrad) and the errors for bad targets. */
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

static const char *const DENSE = "{\"input\": [4], \"loss\": \"cross_entropy\", \"layers\": ["
                                 " {\"type\": \"dense\", \"units\": 6, \"activation\": \"tanh\"},"
                                 " {\"type\": \"dropout\", \"rate\": 0.5},"
                                 " {\"type\": \"dense\", \"units\": 3}]}";

static const char *const CNN =
    "{\"input\": [2, 5, 5], \"loss\": \"cross_entropy\", \"layers\": ["
    " {\"type\": \"conv2d\", \"filters\": 3, \"kernel\": 3, \"padding\": 1},"
    " {\"type\": \"batchnorm\"},"
    " {\"type\": \"tanh\"},"
    " {\"type\": \"maxpool2d\", \"kernel\": 2},"
    " {\"type\": \"flatten\"},"
    " {\"type\": \"dense\", \"units\": 4}]}";

enum { N = 3 };

static cg_model *make_model(const char *json, cg_model_spec **spec, uint64_t seed)
{
    *spec = parse_spec(json);
    cg_rng rng;
    cg_rng_seed(&rng, seed);
    cg_model *m = cg_model_create(*spec, &rng);
    assert_non_null(m);
    /* Batch norm's running statistics away from their defaults, so that a
     * forward pass that used batch statistics instead would differ. */
    for (size_t i = 0; i < cg_model_buffer_count(m); i++) {
        cg_buffer *b = cg_model_buffer_at(m, i);
        if (b->dtype != CG_DTYPE_F32) continue;
        bool var = strstr(b->name, "running_var") != NULL;
        for (int64_t j = 0; j < b->size; j++)
            ((float *)b->data)[j] = var ? 0.5f + 0.3f * (float)j : 0.1f * (float)j - 0.2f;
    }
    return m;
}

static int64_t input_size(const cg_model_spec *spec)
{
    int64_t d = 1;
    for (int i = 0; i < spec->input_ndim; i++) d *= spec->input[i];
    return d;
}

static void random_fill(float *x, int64_t n, uint64_t seed)
{
    cg_rng rng;
    cg_rng_seed(&rng, seed);
    for (int64_t i = 0; i < n; i++) x[i] = cg_rng_uniform(&rng) * 2 - 1;
}

/* Σ over samples of the target value, in double, through the public API. */
static double target_sum(cg_model *m, const float *x, int64_t n, const cg_grad_target *t, int64_t d)
{
    float *g = malloc((size_t)(n * d) * sizeof *g);
    double *v = malloc((size_t)n * sizeof *v);
    assert_int_equal(cg_model_input_grad(m, x, n, t, g, v), CG_OK);
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += v[i];
    free(g);
    free(v);
    return s;
}

/* Every input's gradient against central differences of the summed target
 * (samples are independent, so ∂Σf/∂x_ij = ∂f_i/∂x_ij). */
static void check_central(cg_model *m, const cg_model_spec *spec, const cg_grad_target *t)
{
    int64_t d = input_size(spec);
    float *x = malloc((size_t)(N * d) * sizeof *x), *g = malloc((size_t)(N * d) * sizeof *g);
    random_fill(x, N * d, 5);
    assert_int_equal(cg_model_input_grad(m, x, N, t, g, NULL), CG_OK);
    const float h = 2e-3f;
    for (int64_t j = 0; j < N * d; j++) {
        float keep = x[j];
        x[j] = keep + h;
        double up = target_sum(m, x, N, t, d);
        x[j] = keep - h;
        double down = target_sum(m, x, N, t, d);
        x[j] = keep;
        double numeric = (up - down) / (2.0 * h);
        if (fabs(g[j] - numeric) > 2e-3 + 2e-2 * fabs(numeric))
            fail_msg("input[%lld]: analytic %.6g, numeric %.6g", (long long)j, g[j], numeric);
    }
    free(x);
    free(g);
}

static void all_targets_match_central_differences(const char *json)
{
    cg_model_spec *spec;
    cg_model *m = make_model(json, &spec, 3);
    static const int32_t labels[N] = {2, 0, 1};
    cg_grad_target targets[] = {
        {.kind = CG_GRAD_CLASS, .class_index = 1},
        {.kind = CG_GRAD_PREDICTED},
        {.kind = CG_GRAD_LOSS, .labels = labels},
    };
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++)
        check_central(m, spec, &targets[i]);
    cg_model_destroy(m);
    cg_model_spec_free(spec);
}

static void dense_input_grad_matches_central_differences(void **state)
{
    (void)state;
    all_targets_match_central_differences(DENSE);
}

static void cnn_input_grad_matches_central_differences(void **state)
{
    (void)state;
    all_targets_match_central_differences(CNN);
}

/* The parameters' values and accumulated gradients, and batch norm's
 * buffers, are what they were before. */
static void weights_and_their_gradients_are_untouched(void **state)
{
    (void)state;
    cg_model_spec *spec;
    cg_model *m = make_model(CNN, &spec, 4);
    cg_params *p = cg_model_params(m);
    int64_t np = cg_params_numel(p);
    for (int64_t i = 0; i < np; i++) cg_params_grad(p)[i] = 0.25f + (float)i;
    float *w = malloc((size_t)np * sizeof *w), *gw = malloc((size_t)np * sizeof *gw);
    memcpy(w, cg_params_data(p), (size_t)np * sizeof *w);
    memcpy(gw, cg_params_grad(p), (size_t)np * sizeof *gw);
    cg_buffer *mean = cg_model_buffer_at(m, 0);
    float mean0 = ((float *)mean->data)[1];

    int64_t d = input_size(spec);
    float *x = malloc((size_t)(N * d) * sizeof *x), *g = malloc((size_t)(N * d) * sizeof *g);
    random_fill(x, N * d, 6);
    cg_grad_target t = {.kind = CG_GRAD_PREDICTED};
    assert_int_equal(cg_model_input_grad(m, x, N, &t, g, NULL), CG_OK);
    assert_memory_equal(w, cg_params_data(p), (size_t)np * sizeof *w);
    assert_memory_equal(gw, cg_params_grad(p), (size_t)np * sizeof *gw);
    assert_true(((float *)mean->data)[1] == mean0);
    for (size_t i = 0; i < cg_params_count(p); i++) assert_true(cg_params_at(p, i)->requires_grad);
    free(w);
    free(gw);
    free(x);
    free(g);
    cg_model_destroy(m);
    cg_model_spec_free(spec);
}

static void expect_error(cg_status got, const char *fragment)
{
    assert_int_equal(got, CG_ERR_ARG);
    if (!strstr(cg_last_error(), fragment))
        fail_msg("message \"%s\" lacks \"%s\"", cg_last_error(), fragment);
}

static void bad_targets_are_refused(void **state)
{
    (void)state;
    cg_model_spec *spec;
    cg_model *m = make_model(DENSE, &spec, 7);
    float x[4] = {0}, g[4];
    cg_grad_target t = {.kind = CG_GRAD_CLASS, .class_index = 3};
    expect_error(cg_model_input_grad(m, x, 1, &t, g, NULL), "target class 3 is out of range");
    t.class_index = -1;
    expect_error(cg_model_input_grad(m, x, 1, &t, g, NULL), "out of range");
    t = (cg_grad_target){.kind = CG_GRAD_LOSS};
    expect_error(cg_model_input_grad(m, x, 1, &t, g, NULL), "needs class labels");
    t = (cg_grad_target){.kind = CG_GRAD_CLASS};
    expect_error(cg_model_input_grad(m, x, 0, &t, g, NULL), "at least one sample");
    cg_attr_options o = {.method = CG_ATTR_INTEGRATED_GRADIENTS, .steps = -1};
    expect_error(cg_model_attribute(m, x, 1, &o, g, NULL), "steps");
    cg_model_destroy(m);
    cg_model_spec_free(spec);
}

/* |Σ attributions − (f(x) − f(baseline))| for sample 0 of x with `steps`. */
static double completeness_error(cg_model *m, const float *x, const float *baseline, int64_t steps,
                                 int64_t d)
{
    cg_attr_options o = {.method = CG_ATTR_INTEGRATED_GRADIENTS,
                         .target = {.kind = CG_GRAD_PREDICTED},
                         .steps = steps,
                         .baseline = baseline};
    float *attr = malloc((size_t)d * sizeof *attr);
    cg_attr_info info;
    assert_int_equal(cg_model_attribute(m, x, 1, &o, attr, &info), CG_OK);
    free(attr);
    assert_true(isfinite(info.f_input) && isfinite(info.f_baseline));
    return fabs(info.attribution_sum - (info.f_input - info.f_baseline));
}

static void integrated_gradients_are_complete(void **state)
{
    (void)state;
    cg_model_spec *spec;
    cg_model *m = make_model(CNN, &spec, 8);
    int64_t d = input_size(spec);
    float *x = malloc((size_t)d * sizeof *x), *base = malloc((size_t)d * sizeof *base);
    random_fill(x, d, 9);
    for (int64_t j = 0; j < d; j++) {
        x[j] *= 2.0f;
        base[j] = 0.1f;
    }
    double coarse = completeness_error(m, x, NULL, 2, d);
    double e64 = completeness_error(m, x, NULL, 64, d);
    double fine = completeness_error(m, x, base, 256, d);
    print_message(
        "IG completeness error: 2 steps %.3g, 64 steps %.3g, 256 steps (baseline 0.1) %.3g\n",
        coarse, e64, fine);
    assert_true(e64 < 2e-2);
    assert_true(fine < 2e-2);
    assert_true(e64 < coarse);
    free(x);
    free(base);
    cg_model_destroy(m);
    cg_model_spec_free(spec);
}

/* Gradient × input is x times the gradient; saliency its magnitude;
 * SmoothGrad with no noise is saliency. */
static void methods_relate_to_the_gradient(void **state)
{
    (void)state;
    cg_model_spec *spec;
    cg_model *m = make_model(DENSE, &spec, 10);
    enum { D = 4 };
    float x[N * D], g[N * D], a[N * D];
    random_fill(x, N * D, 11);
    cg_grad_target t = {.kind = CG_GRAD_CLASS, .class_index = 2};
    assert_int_equal(cg_model_input_grad(m, x, N, &t, g, NULL), CG_OK);
    cg_attr_options o = {.method = CG_ATTR_GRAD_X_INPUT, .target = t};
    assert_int_equal(cg_model_attribute(m, x, N, &o, a, NULL), CG_OK);
    for (int i = 0; i < N * D; i++) assert_float_equal(a[i], x[i] * g[i], 1e-7);
    o.method = CG_ATTR_SALIENCY;
    assert_int_equal(cg_model_attribute(m, x, N, &o, a, NULL), CG_OK);
    for (int i = 0; i < N * D; i++) assert_float_equal(a[i], fabsf(g[i]), 1e-7);
    o.method = CG_ATTR_SMOOTHGRAD;
    o.samples = 3;
    assert_int_equal(cg_model_attribute(m, x, N, &o, a, NULL), CG_OK);
    for (int i = 0; i < N * D; i++) assert_float_equal(a[i], fabsf(g[i]), 1e-6);
    o.noise = 0.5f;
    assert_int_equal(cg_model_attribute(m, x, N, &o, a, NULL), CG_OK);
    bool differs = false;
    for (int i = 0; i < N * D; i++) differs |= fabsf(a[i] - fabsf(g[i])) > 1e-4f;
    assert_true(differs);
    cg_attr_method parsed;
    assert_true(cg_attr_method_from_name("integrated-gradients", &parsed));
    assert_int_equal(parsed, CG_ATTR_INTEGRATED_GRADIENTS);
    assert_false(cg_attr_method_from_name("lime", &parsed));
    cg_model_destroy(m);
    cg_model_spec_free(spec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dense_input_grad_matches_central_differences),
        cmocka_unit_test(cnn_input_grad_matches_central_differences),
        cmocka_unit_test(weights_and_their_gradients_are_untouched),
        cmocka_unit_test(bad_targets_are_refused),
        cmocka_unit_test(integrated_gradients_are_complete),
        cmocka_unit_test(methods_relate_to_the_gradient),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
