/* The training loop's NaN/Inf check (cg__all_finite in
 * src/train/train_internal.h), which sums in lanes and in chunks across
 * threads: one bad value anywhere, in any lane, chunk or tail, must be
 * found, and huge finite values must not be taken for Inf. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <float.h>
#include <cmocka.h>

#include "../../src/train/train_internal.h"

/* Sizes below and above the parallel threshold, with ragged tails. */
static const int64_t sizes[] = {1, 31, 33, 16384, 16385, 65537, 235146};

static void finite_values_pass(void **state)
{
    (void)state;
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        int64_t n = sizes[s];
        float *v = malloc((size_t)n * sizeof *v);
        assert_non_null(v);
        for (int64_t i = 0; i < n; i++) v[i] = i % 3 ? FLT_MAX : -FLT_MAX;
        assert_true(cg__all_finite(v, n));
        free(v);
    }
    assert_true(cg__all_finite(NULL, 0));
}

/* Every kind of bad value at positions that fall in different lanes,
 * chunks and in the tail. */
static void a_bad_value_anywhere_is_found(void **state)
{
    (void)state;
    const float bad[] = {NAN, INFINITY, -INFINITY};
    for (int threads = 1; threads <= 2; threads++) {
        cg_set_num_threads(threads);
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
            int64_t n = sizes[s];
            float *v = calloc((size_t)n, sizeof *v);
            assert_non_null(v);
            const int64_t at[] = {0, 1, 31, 32, n / 2, 16383, 16384, 65536, n - 2, n - 1};
            for (size_t a = 0; a < sizeof at / sizeof *at; a++) {
                if (at[a] < 0 || at[a] >= n) continue;
                for (size_t b = 0; b < sizeof bad / sizeof *bad; b++) {
                    v[at[a]] = bad[b];
                    assert_false(cg__all_finite(v, n));
                    v[at[a]] = 0.0f;
                }
            }
            assert_true(cg__all_finite(v, n));
            free(v);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(finite_values_pass),
        cmocka_unit_test(a_bad_value_anywhere_is_found),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
