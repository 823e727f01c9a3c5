/* Pooling against PyTorch (fixtures/pool.safetensors, written by
 * fixtures/generate.py): max_pool2d with stride < kernel, padding and ties,
 * avg_pool2d with padding (count_include_pad=True), adaptive_avg_pool2d(1)
 * flattened. Each case holds the float64 answer rounded once (y, dx) and what
 * torch's float32 CPU kernels give (y32, dx32). Max and average pooling scan
 * and scatter in PyTorch's order, so they must equal the float32 kernels bit
 * for bit; the global average sums in double, so it is held to the float64
 * answer. Tie routing is also checked on hand-made inputs with exact values. */
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

#define FIXTURE "fixtures/pool.safetensors"
/* Against the float64 answer: float32 rounding of a window sum at most. */
#define RTOL 1e-6
#define ATOL 1e-6

static int load_fixture(void **state)
{
    (void)state;
    return fx_load(FIXTURE);
}

/* "a,b" metadata of a case into v[2]; false when absent. */
static bool meta_pair(const char *case_name, const char *field, int64_t v[2])
{
    const char *text = fx_meta_opt(case_name, field);
    if (!text) return false;
    char *end;
    v[0] = strtoll(text, &end, 10);
    assert_int_equal(*end, ',');
    v[1] = strtoll(end + 1, &end, 10);
    assert_int_equal(*end, '\0');
    return true;
}

static int64_t entry_numel(const cg_st_entry *e)
{
    int64_t n = 1;
    for (int i = 0; i < e->ndim; i++) n *= e->shape[i];
    return n;
}

/* got against "<case>.<field>": within tolerance (exact when rtol = atol =
 * 0); returns the largest difference. */
static double compare(const float *got, int64_t n, const char *case_name, const char *field,
                      double rtol, double atol)
{
    if (!got) fail_msg("%s.%s: no result (%s)", case_name, field, cg_last_error());
    const cg_st_entry *e = fx_entry(case_name, field);
    if (entry_numel(e) != n)
        fail_msg("%s.%s: %lld values, torch has %lld", case_name, field, (long long)n,
                 (long long)entry_numel(e));
    const float *want = e->data;
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double diff = fabs((double)got[i] - (double)want[i]);
        if (!(diff <= atol + rtol * fabs((double)want[i])))
            fail_msg("%s.%s[%lld]: got %.9g, torch %.9g (diff %.3g)", case_name, field,
                     (long long)i, (double)got[i], (double)want[i], diff);
        if (diff > worst) worst = diff;
    }
    return worst;
}

static void run_case(const char *case_name)
{
    const char *op = fx_meta_opt(case_name, "op");
    if (!op) fail_msg("%s: no op", case_name);
    int64_t kernel[2], stride[2], padding[2];
    bool windowed = meta_pair(case_name, "kernel", kernel);
    if (windowed) {
        assert_true(meta_pair(case_name, "stride", stride));
        assert_true(meta_pair(case_name, "padding", padding));
    }
    cg_ctx *ctx = cg_ctx_create(0);
    const cg_st_entry *xe = fx_entry(case_name, "x");
    cg_tensor *x = cg_tensor_from(ctx, xe->ndim, xe->shape, xe->data);
    assert_non_null(x);
    cg_tensor_set_requires_grad(x, true);
    cg_tensor *y = NULL;
    if (!strcmp(op, "maxpool2d"))
        y = cg_maxpool2d(ctx, x, kernel, stride, padding);
    else if (!strcmp(op, "avgpool2d"))
        y = cg_avgpool2d(ctx, x, kernel, stride, padding);
    else if (!strcmp(op, "global_avgpool"))
        y = cg_global_avgpool(ctx, x);
    else
        fail_msg("%s: unknown op %s", case_name, op);
    if (!y) fail_msg("%s: %s", case_name, cg_last_error());
    assert_int_equal(cg_backward_seeded(ctx, y, fx_entry(case_name, "dy")->data), CG_OK);
    double ey = compare(y->data, y->size, case_name, "y", RTOL, ATOL);
    double edx = compare(x->grad, x->size, case_name, "dx", RTOL, ATOL);
    if (windowed) {
        compare(y->data, y->size, case_name, "y32", 0, 0);
        compare(x->grad, x->size, case_name, "dx32", 0, 0);
    }
    print_message("%-16s max |diff| vs float64: y %.3g, dx %.3g%s\n", case_name, ey, edx,
                  windowed ? "; bitwise equal to torch float32" : "");
    cg_ctx_destroy(ctx);
}

static void pooling_matches_torch(void **state)
{
    (void)state;
    char cases[16][64];
    int n = fx_split_list(cg_st_meta(fx_file(), "pool_cases"), cases, 16);
    assert_true(n >= 8);
    for (int i = 0; i < n; i++) run_case(cases[i]);
}

/* ---- ties, -inf and NaN, by hand ---- */

/* maxpool2d of a [1, 1, H, W] plane, backward with dy; checks y and dx. */
static void check_max(int64_t H, int64_t W, const float *xv, const int64_t k[2],
                      const int64_t s[2], const int64_t p[2], const float *dy,
                      const float *want_y, const float *want_dx)
{
    cg_ctx *ctx = cg_ctx_create(0);
    cg_tensor *x = cg_tensor_from(ctx, 4, (int64_t[]){1, 1, H, W}, xv);
    cg_tensor_set_requires_grad(x, true);
    cg_tensor *y = cg_maxpool2d(ctx, x, k, s, p);
    assert_non_null(y);
    for (int64_t i = 0; i < y->size; i++) {
        if (isnan(want_y[i]) ? !isnan(y->data[i]) : y->data[i] != want_y[i])
            fail_msg("y[%lld] = %g, want %g", (long long)i, (double)y->data[i], (double)want_y[i]);
    }
    assert_int_equal(cg_backward_seeded(ctx, y, dy), CG_OK);
    for (int64_t i = 0; i < x->size; i++) {
        if (x->grad[i] != want_dx[i])
            fail_msg("dx[%lld] = %g, want %g", (long long)i, (double)x->grad[i],
                     (double)want_dx[i]);
    }
    cg_ctx_destroy(ctx);
}

/* The first maximum in row-major window order takes the whole gradient. */
static void ties_go_to_the_first_max(void **state)
{
    (void)state;
    /* 2x2 windows, stride 2: {1,3 / 3,2} -> (0,1); {3,0 / 1,3} -> (0,2). */
    const float x[8] = {1, 3, 3, 0,
                        3, 2, 1, 3};
    check_max(2, 4, x, (int64_t[]){2, 2}, NULL, NULL, (float[]){10, 20}, (float[]){3, 3},
              (float[]){0, 10, 20, 0, 0, 0, 0, 0});
    /* Stride 1 over a constant plane: every window's first element, so
     * overlapping windows add at their own corners. */
    const float flat[9] = {5, 5, 5, 5, 5, 5, 5, 5, 5};
    check_max(3, 3, flat, (int64_t[]){2, 2}, (int64_t[]){1, 1}, NULL, (float[]){1, 2, 4, 8},
              (float[]){5, 5, 5, 5}, (float[]){1, 2, 0, 4, 8, 0, 0, 0, 0});
    /* Padding never wins, even against -inf: a window of padding and -inf
     * gives -inf at its first input value. Row: [-inf, -inf, 2], kernel 3,
     * stride 1, padding 1: windows {pad,-inf,-inf}, {-inf,-inf,2}, {-inf,2,pad}. */
    const float neg[3] = {-INFINITY, -INFINITY, 2};
    check_max(1, 3, neg, (int64_t[]){1, 3}, (int64_t[]){1, 1}, (int64_t[]){0, 1},
              (float[]){1, 2, 4}, (float[]){-INFINITY, 2, 2}, (float[]){1, 0, 6});
    /* NaN wins, as in PyTorch (the last NaN of a window). */
    const float nan[4] = {1, NAN, 3, NAN};
    check_max(1, 4, nan, (int64_t[]){1, 2}, (int64_t[]){1, 1}, NULL, (float[]){1, 2, 4},
              (float[]){NAN, NAN, NAN}, (float[]){0, 3, 0, 4});
}

/* The 2x2 stride-2 path (its own vectorised loop) against a plain scan:
 * a small alphabet with -inf and NaN makes ties and NaN windows common, and
 * odd sizes leave a last row and column out. */
static void fast_2x2_path_matches_a_plain_scan(void **state)
{
    (void)state;
    enum { H = 7, W = 9, HO = 3, WO = 4 };
    const float alphabet[5] = {-INFINITY, 0.0f, 1.0f, NAN, 1.0f};
    float x[H * W], dy[HO * WO], want_y[HO * WO], want_dx[H * W] = {0};
    uint32_t r = 12345;
    for (int i = 0; i < H * W; i++) {
        r = r * 1664525u + 1013904223u;
        x[i] = alphabet[(r >> 16) % 5];
    }
    for (int o = 0; o < HO * WO; o++) dy[o] = (float)(o + 1);
    for (int oh = 0; oh < HO; oh++)
        for (int ow = 0; ow < WO; ow++) {
            int best = 2 * oh * W + 2 * ow;
            float m = -INFINITY;
            for (int ih = 2 * oh; ih < 2 * oh + 2; ih++)
                for (int iw = 2 * ow; iw < 2 * ow + 2; iw++)
                    if (x[ih * W + iw] > m || isnan(x[ih * W + iw])) {
                        m = x[ih * W + iw];
                        best = ih * W + iw;
                    }
            want_y[oh * WO + ow] = m;
            want_dx[best] += dy[oh * WO + ow];
        }
    check_max(H, W, x, (int64_t[]){2, 2}, NULL, NULL, dy, want_y, want_dx);
}

/* ---- argument errors ---- */

static void bad_arguments_are_errors(void **state)
{
    (void)state;
    cg_ctx *ctx = cg_ctx_create(0);
    cg_tensor *x = cg_tensor_zeros(ctx, 4, (int64_t[]){2, 3, 4, 5});
    cg_tensor *flat = cg_tensor_zeros(ctx, 3, (int64_t[]){3, 4, 5});
    const int64_t k2[2] = {2, 2}, k3[2] = {3, 3};
    cg_clear_error();
    assert_null(cg_maxpool2d(ctx, flat, k2, NULL, NULL));
    assert_int_equal(cg_last_status(), CG_ERR_ARG);
    assert_error_mentions("[N, C, H, W]", "[3, 4, 5]");
    assert_null(cg_avgpool2d(ctx, flat, k2, NULL, NULL));
    assert_error_mentions("avgpool2d", "[3, 4, 5]");
    assert_null(cg_global_avgpool(ctx, flat));
    assert_error_mentions("global_avgpool", "[3, 4, 5]");
    assert_null(cg_maxpool2d(ctx, x, NULL, NULL, NULL));
    assert_error_mentions("kernel", NULL);
    assert_null(cg_maxpool2d(ctx, x, (int64_t[]){0, 2}, NULL, NULL));
    assert_error_mentions("kernel 0", "[1, 2^31)");
    assert_null(cg_maxpool2d(ctx, x, (int64_t[]){INT64_MAX, 2}, NULL, (int64_t[]){INT64_MAX / 2, 0}));
    assert_error_mentions("[1, 2^31)", NULL);
    assert_null(cg_avgpool2d(ctx, x, k2, (int64_t[]){1, 0}, NULL));
    assert_error_mentions("stride 0", "width");
    assert_null(cg_maxpool2d(ctx, x, k2, NULL, (int64_t[]){-1, 0}));
    assert_error_mentions("padding -1", NULL);
    assert_null(cg_maxpool2d(ctx, x, k3, NULL, (int64_t[]){2, 1}));
    assert_error_mentions("more than half", "height");
    assert_null(cg_avgpool2d(ctx, x, (int64_t[]){2, 6}, NULL, NULL));
    assert_error_mentions("larger than the width 5", "[2, 3, 4, 5]");
    /* ... but a kernel that fits thanks to the padding is fine. */
    cg_tensor *y = cg_maxpool2d(ctx, x, (int64_t[]){6, 6}, NULL, (int64_t[]){1, 3});
    assert_non_null(y);
    assert_int_equal(y->shape[2], 1);
    assert_int_equal(y->shape[3], 1);
    /* A NULL input propagates the first error. */
    cg_clear_error();
    cg_tensor *bad = cg_add(ctx, x, cg_tensor_zeros(ctx, 1, (int64_t[]){7}));
    assert_null(bad);
    assert_null(cg_maxpool2d(ctx, bad, k2, NULL, NULL));
    assert_null(cg_avgpool2d(ctx, bad, k2, NULL, NULL));
    assert_null(cg_global_avgpool(ctx, bad));
    assert_null(cg_dropout2d(ctx, bad, 0.5f));
    assert_error_mentions("[2, 3, 4, 5]", "[7]");
    cg_ctx_destroy(ctx);
}

/* Without gradients nothing is recorded (and maxpool keeps no argmax). */
static void inference_records_nothing(void **state)
{
    (void)state;
    cg_ctx *ctx = cg_ctx_create(0);
    cg_tensor *x = cg_tensor_zeros(ctx, 4, (int64_t[]){2, 3, 4, 4});
    cg_tensor_set_requires_grad(x, true);
    cg_ctx_set_grad_enabled(ctx, false);
    size_t before = cg_ctx_arena_used(ctx);
    cg_tensor *y = cg_maxpool2d(ctx, x, (int64_t[]){2, 2}, NULL, NULL);
    assert_non_null(y);
    assert_null(y->node);
    assert_true(cg_ctx_arena_used(ctx) - before < 2 * 2 * 3 * 2 * 2 * sizeof(float) + 256);
    assert_non_null(cg_global_avgpool(ctx, cg_avgpool2d(ctx, x, (int64_t[]){2, 2}, NULL, NULL)));
    assert_int_equal(cg_ctx_tape_length(ctx), 0);
    cg_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pooling_matches_torch),
        cmocka_unit_test(ties_go_to_the_first_max),
        cmocka_unit_test(fast_2x2_path_matches_a_plain_scan),
        cmocka_unit_test(bad_arguments_are_errors),
        cmocka_unit_test(inference_records_nothing),
    };
    return cmocka_run_group_tests(tests, load_fixture, fx_free);
}
