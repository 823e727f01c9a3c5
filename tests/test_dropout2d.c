/* Channel dropout (cg_dropout2d): whole channels are zeroed, at the rate
 * asked for, independently per sample; survivors are scaled by exactly
 * 1/(1-p); backward uses the forward's mask; evaluation mode and p = 0 are
 * the identity; the mask follows the seed and not the thread count. */
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

/* [N, C, H, W] large enough for the parallel loop (> 32768 values). */
enum { N = 64, C = 32, H = 6, W = 5, PLANE = H * W, CHANNELS = N * C, SIZE = CHANNELS * PLANE };

/* Values away from zero, different in every position of a plane. */
static cg_tensor *input(cg_ctx *ctx)
{
    cg_tensor *x = cg_tensor_new(ctx, 4, (int64_t[]){N, C, H, W});
    assert_non_null(x);
    for (int64_t i = 0; i < x->size; i++) x->data[i] = 0.5f + 0.01f * (float)(i % 89);
    return x;
}

/* Which channels of y are dropped; fails unless each channel is either all
 * zero or exactly x·scale. Returns the number dropped. */
static int64_t dropped_channels(const float *x, const float *y, float scale, bool *dropped)
{
    int64_t count = 0;
    for (int64_t c = 0; c < CHANNELS; c++) {
        const float *xc = x + c * PLANE, *yc = y + c * PLANE;
        dropped[c] = yc[0] == 0.0f;
        count += dropped[c];
        for (int64_t i = 0; i < PLANE; i++) {
            float want = dropped[c] ? 0.0f : xc[i] * scale;
            if (yc[i] != want)
                fail_msg("channel %lld value %lld: %g, want %g (channel %s)", (long long)c,
                         (long long)i, (double)yc[i], (double)want, dropped[c] ? "dropped" : "kept");
        }
    }
    return count;
}

static void whole_channels_at_the_rate_scaled_exactly(void **state)
{
    (void)state;
    static bool dropped[CHANNELS], again[CHANNELS];
    const float rates[] = {0.1f, 0.3f, 0.5f, 0.8f};
    for (int r = 0; r < 4; r++) {
        float p = rates[r], scale = 1.0f / (1.0f - p);
        cg_ctx *ctx = cg_ctx_create(0);
        cg_rng_seed(cg_ctx_rng(ctx), 100 + (uint64_t)r);
        cg_tensor *x = input(ctx);
        cg_tensor_set_requires_grad(x, true);
        cg_tensor *y = cg_dropout2d(ctx, x, p);
        assert_non_null(y);
        int64_t count = dropped_channels(x->data, y->data, scale, dropped);
        /* Binomial(2048, p): within 5 standard deviations. */
        double mean = CHANNELS * (double)p, sd = sqrt(CHANNELS * (double)p * (1 - (double)p));
        if (fabs((double)count - mean) > 5 * sd)
            fail_msg("p = %g: %lld of %d channels dropped", (double)p, (long long)count, CHANNELS);
        /* Samples draw their own masks: channel c is not dropped in every
         * sample alike. */
        int64_t same = 0;
        for (int64_t c = 0; c < C; c++) same += dropped[c] == dropped[C + c];
        assert_true(same < C);
        /* dx = dy·mask·scale: with dy = x the same pattern as the forward. */
        assert_int_equal(cg_backward_seeded(ctx, y, x->data), CG_OK);
        assert_int_equal(dropped_channels(x->data, x->grad, scale, again), count);
        assert_memory_equal(dropped, again, sizeof dropped);
        cg_ctx_destroy(ctx);
    }
}

static void seed_decides_and_modes(void **state)
{
    (void)state;
    cg_ctx *ctx = cg_ctx_create(0);
    cg_tensor *x = input(ctx);
    cg_rng_seed(cg_ctx_rng(ctx), 42);
    cg_tensor *y = cg_dropout2d(ctx, x, 0.5f);
    cg_rng_seed(cg_ctx_rng(ctx), 42);
    cg_tensor *same = cg_dropout2d(ctx, x, 0.5f);
    cg_tensor *next = cg_dropout2d(ctx, x, 0.5f);
    assert_non_null(next);
    assert_memory_equal(y->data, same->data, SIZE * sizeof(float));
    assert_true(memcmp(y->data, next->data, SIZE * sizeof(float)) != 0);
    /* p = 0 and evaluation mode: the input itself, nothing recorded. */
    cg_tensor_set_requires_grad(x, true);
    size_t tape = cg_ctx_tape_length(ctx);
    assert_ptr_equal(cg_dropout2d(ctx, x, 0.0f), x);
    cg_ctx_set_training(ctx, false);
    assert_ptr_equal(cg_dropout2d(ctx, x, 0.5f), x);
    assert_int_equal(cg_ctx_tape_length(ctx), tape);
    /* [N, C]: every value is a channel of its own. */
    cg_ctx_set_training(ctx, true);
    cg_tensor *flat = cg_tensor_new(ctx, 2, (int64_t[]){N, C});
    for (int64_t i = 0; i < flat->size; i++) flat->data[i] = 1.0f;
    cg_tensor *yf = cg_dropout2d(ctx, flat, 0.5f);
    int64_t zeros = 0;
    for (int64_t i = 0; i < yf->size; i++) {
        assert_true(yf->data[i] == 0.0f || yf->data[i] == 2.0f);
        zeros += yf->data[i] == 0.0f;
    }
    assert_true(zeros > 0 && zeros < N * C);
    /* Errors: probability outside [0, 1), rank below 2, no context. */
    const float bad[] = {1.0f, -0.1f, NAN, 2.0f};
    for (int i = 0; i < 4; i++) {
        cg_clear_error();
        assert_null(cg_dropout2d(ctx, x, bad[i]));
        assert_int_equal(cg_last_status(), CG_ERR_ARG);
        assert_non_null(strstr(cg_last_error(), "dropout2d"));
    }
    assert_null(cg_dropout2d(ctx, cg_tensor_zeros(ctx, 1, (int64_t[]){5}), 0.5f));
    assert_non_null(strstr(cg_last_error(), "[5]"));
    assert_null(cg_dropout2d(NULL, x, 0.5f));
    cg_ctx_destroy(ctx);
}

/* Forward and backward with `threads` threads into out (2·SIZE floats). */
static void run(int threads, float *out)
{
    cg_set_num_threads(threads);
    cg_ctx *ctx = cg_ctx_create(0);
    cg_rng_seed(cg_ctx_rng(ctx), 7);
    cg_tensor *x = input(ctx);
    cg_tensor_set_requires_grad(x, true);
    cg_tensor *y = cg_dropout2d(ctx, x, 0.35f);
    assert_non_null(y);
    assert_int_equal(cg_backward(ctx, cg_sum(ctx, cg_mul(ctx, y, y), CG_AXIS_ALL, false)), CG_OK);
    memcpy(out, y->data, SIZE * sizeof *out);
    memcpy(out + SIZE, x->grad, SIZE * sizeof *out);
    cg_ctx_destroy(ctx);
}

static void mask_does_not_depend_on_thread_count(void **state)
{
    (void)state;
    int saved = cg_get_num_threads();
    float *one = malloc(2 * SIZE * sizeof *one), *other = malloc(2 * SIZE * sizeof *other);
    assert_non_null(one);
    assert_non_null(other);
    run(1, one);
    for (int threads = 2; threads <= 4; threads++) {
        run(threads, other);
        assert_memory_equal(one, other, 2 * SIZE * sizeof *one);
    }
    free(one);
    free(other);
    cg_set_num_threads(saved);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(whole_channels_at_the_rate_scaled_exactly),
        cmocka_unit_test(seed_decides_and_modes),
        cmocka_unit_test(mask_does_not_depend_on_thread_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
