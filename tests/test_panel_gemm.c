/* ops/panel_gemm.c, the recurrent layers' product from a packed operand,
 * against a double-precision loop: every edge of its 6 x 16 tile (rows and
 * columns short of a whole tile, a single row or column, K of 1), a
 * transposed and a plain right operand, rows in equal tiles and not,
 * leading dimensions wider than the rows, and accumulation into C, whose
 * padding must stay untouched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../src/ops/panel_gemm.h"

enum { PAD = 3, MAX_DIM = 40, MAX_K = 70 };

static float value(int64_t i, float scale) { return scale * sinf(0.7f * (float)i + 0.3f); }

static void check_shape(int64_t M, int64_t N, int64_t K, bool tb, bool acc)
{
    static float A[MAX_DIM * (MAX_K + PAD)], B[(MAX_K + PAD) * (MAX_DIM + PAD)];
    static float C[MAX_DIM * (MAX_DIM + PAD)], C0[MAX_DIM * (MAX_DIM + PAD)];
    static float panels[(MAX_DIM + CG_PANEL) * MAX_K];
    const int64_t lda = K + PAD, ldb = (tb ? K : N) + PAD, ldc = N + PAD;
    for (int64_t i = 0; i < M * lda; i++) A[i] = value(i, 1.0f);
    for (int64_t i = 0; i < (tb ? N : K) * ldb; i++) B[i] = value(3 * i + 1, 0.5f);
    for (int64_t i = 0; i < M * ldc; i++) C[i] = C0[i] = value(5 * i + 2, 2.0f);
    assert_true(cg__panel_floats(N, K) <= (int64_t)(sizeof panels / sizeof *panels));
    cg__panel_pack(tb, N, K, B, ldb, panels);
    cg__panel_gemm(M, N, K, A, lda, panels, acc, C, ldc);
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < ldc; j++) {
            float got = C[i * ldc + j];
            if (j >= N) { /* the padding of C */
                if (got != C0[i * ldc + j])
                    fail_msg("%lldx%lldx%lld: C's padding written", (long long)M,
                             (long long)N, (long long)K);
                continue;
            }
            double want = acc ? C0[i * ldc + j] : 0.0;
            for (int64_t k = 0; k < K; k++)
                want += (double)A[i * lda + k] * (tb ? B[j * ldb + k] : B[k * ldb + j]);
            if (fabs(got - want) > 1e-5 * (1.0 + fabs(want)))
                fail_msg("M %lld N %lld K %lld tb %d acc %d: C[%lld, %lld] = %g, want %g",
                         (long long)M, (long long)N, (long long)K, tb, acc, (long long)i,
                         (long long)j, got, want);
        }
}

static void products_match_a_plain_loop(void **state)
{
    (void)state;
    const int64_t Ms[] = {1, 5, 6, 7, 11, 13, 16, 32}, Ns[] = {1, 15, 16, 17, 40};
    const int64_t Ks[] = {1, 3, 70};
    for (size_t m = 0; m < sizeof Ms / sizeof *Ms; m++)
        for (size_t n = 0; n < sizeof Ns / sizeof *Ns; n++)
            for (size_t k = 0; k < sizeof Ks / sizeof *Ks; k++)
                for (int tb = 0; tb <= 1; tb++)
                    for (int acc = 0; acc <= 1; acc++) check_shape(Ms[m], Ns[n], Ks[k], tb, acc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(products_match_a_plain_loop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
