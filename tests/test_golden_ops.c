/* Losses, activations, the fused linear op and batch norm against PyTorch
 * (fixtures/ops.safetensors, written by fixtures/generate.py): forward values
 * and input gradients for a fixed upstream gradient, and batch norm's running
 * statistics. The references were
 * computed in float64 from the same float32 inputs, so the tolerance is
 * float32 rounding of our kernels alone. */
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
#include "fixtures.h"

#define FIXTURE "fixtures/ops.safetensors"
#define RTOL 1e-5
#define ATOL 1e-6

static int load_fixture(void **state)
{
    (void)state;
    return fx_load(FIXTURE);
}

/* ---- fixture access ---- */

static float meta_float(const char *case_name, const char *field)
{
    const char *v = fx_meta_opt(case_name, field);
    if (!v) fail_msg("fixture has no metadata \"%s.%s\"", case_name, field);
    return strtof(v, NULL);
}

/* Arena tensor holding the F32 fixture tensor "<case>.<field>". */
static cg_tensor *input(cg_ctx *ctx, const char *case_name, const char *field, bool grad)
{
    const cg_st_entry *e = fx_entry(case_name, field);
    assert_int_equal(e->dtype, CG_DTYPE_F32);
    cg_tensor *t = cg_tensor_from(ctx, e->ndim, e->shape, e->data);
    assert_non_null(t);
    cg_tensor_set_requires_grad(t, grad);
    return t;
}

/* got (n floats) against "<case>.<field>". */
static void check(const float *got, int64_t n, const char *case_name, const char *field)
{
    if (!got) fail_msg("%s.%s: no result (%s)", case_name, field, cg_last_error());
    const cg_st_entry *e = fx_entry(case_name, field);
    int64_t want_n = 1;
    for (int i = 0; i < e->ndim; i++) want_n *= e->shape[i];
    if (want_n != n)
        fail_msg("%s.%s: %lld values, torch has %lld", case_name, field, (long long)n,
                 (long long)want_n);
    const float *want = e->data;
    for (int64_t i = 0; i < n; i++) {
        double diff = fabs((double)got[i] - (double)want[i]);
        if (!(diff <= ATOL + RTOL * fabs((double)want[i])))
            fail_msg("%s.%s[%lld]: got %.9g, torch %.9g (diff %.3g)", case_name, field,
                     (long long)i, (double)got[i], (double)want[i], diff);
    }
}

static void check_tensor(const cg_tensor *t, const char *case_name, const char *field)
{
    if (!t) fail_msg("%s: op failed: %s", case_name, cg_last_error());
    check(t->data, t->size, case_name, field);
}

static void check_grad(const cg_tensor *t, const char *case_name, const char *field)
{
    check(t->grad, t->size, case_name, field);
}

/* ---- activations ---- */

static cg_tensor *apply_activation(cg_ctx *ctx, const char *case_name, cg_tensor *x)
{
    const char *op = fx_meta_opt(case_name, "op");
    if (!op) fail_msg("%s: no op", case_name);
    if (!strcmp(op, "sigmoid")) return cg_sigmoid(ctx, x);
    if (!strcmp(op, "tanh")) return cg_tanh(ctx, x);
    if (!strcmp(op, "relu")) return cg_relu(ctx, x);
    if (!strcmp(op, "gelu")) return cg_gelu(ctx, x);
    if (!strcmp(op, "softplus")) return cg_softplus(ctx, x);
    if (!strcmp(op, "elu")) return cg_elu(ctx, x, meta_float(case_name, "alpha"));
    if (!strcmp(op, "leaky_relu"))
        return cg_leaky_relu(ctx, x, meta_float(case_name, "negative_slope"));
    if (!strcmp(op, "softmax")) return cg_softmax(ctx, x, (int)meta_float(case_name, "axis"));
    if (!strcmp(op, "log_softmax"))
        return cg_log_softmax(ctx, x, (int)meta_float(case_name, "axis"));
    fail_msg("%s: unknown op %s", case_name, op);
    return NULL;
}

/* y = op(x) and dx = (∂y/∂x)ᵀ·dy, for one case through `apply`. */
static void run_activation(const char *case_name, bool through_enum)
{
    cg_ctx *ctx = cg_ctx_create(0);
    cg_tensor *x = input(ctx, case_name, "x", true);
    cg_tensor *y;
    if (through_enum) {
        cg_activation act;
        assert_true(cg_activation_from_name(fx_meta_opt(case_name, "op"), &act));
        y = cg_activate(ctx, x, act);
    } else {
        y = apply_activation(ctx, case_name, x);
    }
    check_tensor(y, case_name, "y");
    const cg_st_entry *dy = fx_entry(case_name, "dy");
    assert_int_equal(cg_backward_seeded(ctx, y, dy->data), CG_OK);
    check_grad(x, case_name, "dx");
    cg_ctx_destroy(ctx);
}

/* Cases whose settings are the layer defaults (torch.nn.ELU(), LeakyReLU(), ...)
 * also go through cg_activate, whose enum fixes those defaults. */
static bool uses_layer_defaults(const char *case_name)
{
    const char *op = fx_meta_opt(case_name, "op");
    if (!strcmp(op, "softmax") || !strcmp(op, "log_softmax")) return false;
    const char *alpha = fx_meta_opt(case_name, "alpha");
    const char *slope = fx_meta_opt(case_name, "negative_slope");
    return (!alpha || strtof(alpha, NULL) == 1.0f) && (!slope || strtof(slope, NULL) == 0.01f);
}

static void activations_match_torch(void **state)
{
    (void)state;
    char cases[32][64];
    int n = fx_split_list(cg_st_meta(fx_file(), "activation_cases"), cases, 32);
    assert_true(n >= 13);
    for (int i = 0; i < n; i++) {
        run_activation(cases[i], false);
        if (uses_layer_defaults(cases[i])) run_activation(cases[i], true);
    }
}

/* ---- losses ---- */

static cg_tensor *apply_loss(cg_ctx *ctx, const char *case_name, cg_tensor *x, int32_t *labels)
{
    if (!strcmp(case_name, "cross_entropy")) {
        const cg_st_entry *e = fx_entry(case_name, "labels");
        assert_int_equal(e->dtype, CG_DTYPE_I64);
        const int64_t *l64 = e->data;
        for (int64_t i = 0; i < e->shape[0]; i++) labels[i] = (int32_t)l64[i];
        return cg_cross_entropy(ctx, x, labels);
    }
    cg_tensor *target = input(ctx, case_name, "target", false);
    if (!strcmp(case_name, "mse")) return cg_mse_loss(ctx, x, target);
    if (!strcmp(case_name, "l1")) return cg_l1_loss(ctx, x, target);
    if (!strcmp(case_name, "bce_with_logits")) return cg_bce_with_logits(ctx, x, target);
    fail_msg("unknown loss case %s", case_name);
    return NULL;
}

static void losses_match_torch(void **state)
{
    (void)state;
    char cases[16][64];
    int n = fx_split_list(cg_st_meta(fx_file(), "loss_cases"), cases, 16);
    assert_int_equal(n, 4);
    for (int i = 0; i < n; i++) {
        cg_ctx *ctx = cg_ctx_create(0);
        cg_tensor *x = input(ctx, cases[i], "x", true);
        int32_t labels[64];
        assert_true(x->shape[0] <= 64);
        cg_tensor *loss = apply_loss(ctx, cases[i], x, labels);
        check_tensor(loss, cases[i], "y");
        assert_int_equal(cg_backward(ctx, loss), CG_OK);
        check_grad(x, cases[i], "dx");
        cg_ctx_destroy(ctx);
    }
}

/* ---- linear ---- */

static bool has_tensor(const char *case_name, const char *field)
{
    char name[256];
    return cg_st_find(fx_file(), fx_join(name, sizeof name, case_name, field)) != NULL;
}

static void linear_matches_torch(void **state)
{
    (void)state;
    char cases[8][64];
    int n = fx_split_list(cg_st_meta(fx_file(), "linear_cases"), cases, 8);
    assert_int_equal(n, 3);
    for (int i = 0; i < n; i++) {
        cg_ctx *ctx = cg_ctx_create(0);
        cg_tensor *x = input(ctx, cases[i], "x", true);
        cg_tensor *w = input(ctx, cases[i], "w", true);
        cg_tensor *b = has_tensor(cases[i], "b") ? input(ctx, cases[i], "b", true) : NULL;
        cg_activation act;
        assert_true(cg_activation_from_name(fx_meta_opt(cases[i], "activation"), &act));
        cg_tensor *y = cg_linear(ctx, x, w, b, act);
        check_tensor(y, cases[i], "y");
        assert_int_equal(cg_backward_seeded(ctx, y, fx_entry(cases[i], "dy")->data), CG_OK);
        check_grad(x, cases[i], "dx");
        check_grad(w, cases[i], "dw");
        if (b) check_grad(b, cases[i], "db");
        cg_ctx_destroy(ctx);
    }
}

/* ---- batch norm ---- */

/* One step of nn.BatchNorm1d/2d: y, dx, dw, db against "<field><step>". */
static void batchnorm_step(const char *case_name, const char *step, bool affine, bool training,
                           float *mean, float *var, int64_t *tracked)
{
    char field[32];
    cg_ctx *ctx = cg_ctx_create(0);
    snprintf(field, sizeof field, "x%s", step);
    cg_tensor *x = input(ctx, case_name, field, true);
    cg_tensor *w = affine ? input(ctx, case_name, "w", true) : NULL;
    cg_tensor *b = affine ? input(ctx, case_name, "b", true) : NULL;
    cg_tensor *y = cg_batch_norm(ctx, x, w, b, mean, var, tracked,
                                 meta_float(case_name, "momentum"), meta_float(case_name, "eps"),
                                 training);
    snprintf(field, sizeof field, "y%s", step);
    check_tensor(y, case_name, field);
    snprintf(field, sizeof field, "dy%s", step);
    assert_int_equal(cg_backward_seeded(ctx, y, fx_entry(case_name, field)->data), CG_OK);
    snprintf(field, sizeof field, "dx%s", step);
    check_grad(x, case_name, field);
    if (affine) {
        snprintf(field, sizeof field, "dw%s", step);
        check_grad(w, case_name, field);
        snprintf(field, sizeof field, "db%s", step);
        check_grad(b, case_name, field);
    }
    cg_ctx_destroy(ctx);
}

static void check_running_stats(const char *case_name, const char *step, const float *mean,
                                const float *var, int64_t channels, int64_t tracked)
{
    char field[32];
    snprintf(field, sizeof field, "running_mean%s", step);
    check(mean, channels, case_name, field);
    snprintf(field, sizeof field, "running_var%s", step);
    check(var, channels, case_name, field);
    snprintf(field, sizeof field, "num_batches_tracked%s", step);
    const cg_st_entry *e = fx_entry(case_name, field);
    assert_int_equal(e->dtype, CG_DTYPE_I64);
    assert_int_equal(e->ndim, 0);
    assert_int_equal(tracked, *(const int64_t *)e->data);
}

/* Two training steps from PyTorch's initial running statistics, then
 * evaluation mode with the statistics they left. */
static void batchnorm_matches_torch(void **state)
{
    (void)state;
    char cases[8][64];
    int n = fx_split_list(cg_st_meta(fx_file(), "batchnorm_cases"), cases, 8);
    assert_int_equal(n, 4);
    for (int i = 0; i < n; i++) {
        bool affine = meta_float(cases[i], "affine") != 0.0f;
        int64_t C = fx_entry(cases[i], "x1")->shape[1], tracked = 0;
        float mean[16], var[16];
        assert_true(C <= 16);
        for (int64_t c = 0; c < C; c++) {
            mean[c] = 0.0f;
            var[c] = 1.0f;
        }
        batchnorm_step(cases[i], "1", affine, true, mean, var, &tracked);
        check_running_stats(cases[i], "1", mean, var, C, tracked);
        batchnorm_step(cases[i], "2", affine, true, mean, var, &tracked);
        check_running_stats(cases[i], "2", mean, var, C, tracked);
        batchnorm_step(cases[i], "_eval", affine, false, mean, var, &tracked);
        check_running_stats(cases[i], "2", mean, var, C, tracked);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(activations_match_torch),
        cmocka_unit_test(losses_match_torch),
        cmocka_unit_test(linear_matches_torch),
        cmocka_unit_test(batchnorm_matches_torch),
    };
    return cmocka_run_group_tests(tests, load_fixture, fx_free);
}
