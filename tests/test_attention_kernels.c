/* The attention op's plain path (ops/attention.c on ops/attention_kernels.c,
 * whose products skip the causal upper triangle tile by tile) against a
 * double-precision loop of the same math: the output and the gradients of
 * Q, K and V, for lengths around the kernel's 6-row tiles and 16-column
 * panels (1, 5, 7, 22, 38, 64, 67; at 22 and 38 a tile of rows ends at row
 * 16 or 32, the first of a panel), head sizes 1, 8, 32 and 33, causal or
 * not, with key padding (a causal query whose only key is padded gets
 * zeros and no gradient) and with dropout, whose mask the reference draws
 * as the op does. A tile's band cut one row or panel short leaves a product's term
 * out; one too long reads a stale score: either moves some value far past
 * the tolerance. */
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

/* float32 against float64, relative to the tensor's largest value. */
#define TOL 2e-5

typedef struct shape {
    int64_t N, T, H, dh;
    bool causal, pad;
    float dropout;
} shape;

/* The op's dropout mask: SplitMix64 of (key, (head·T + i)·T + j), kept when
 * its top 24 bits reach p·2²⁴ (ops/attention.c, as ops/dropout.c). */
static double keep_factor(uint64_t key, const shape *s, int64_t nh, int64_t i, int64_t j)
{
    if (s->dropout == 0.0f) return 1.0;
    uint64_t at = ((uint64_t)nh * (uint64_t)s->T + (uint64_t)i) * (uint64_t)s->T + (uint64_t)j;
    uint64_t z = key + (at + 1) * 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    uint32_t bits = (uint32_t)((z ^ (z >> 31)) >> 40);
    uint32_t below = (uint32_t)((double)s->dropout * 16777216.0);
    return bits >= below ? 1.0 / (1.0 - (double)s->dropout) : 0.0;
}

/* Sample 0 pads every third key from key 0 on (so a causal query 0 sees
 * none), sample 1 its last key. */
static bool padded(const shape *s, int64_t n, int64_t j)
{
    if (!s->pad) return false;
    return n == 0 ? j % 3 == 0 : j == s->T - 1;
}

/* One head's forward and backward in double: y (stride D) and dqkv
 * (stride 3D) at this head's columns. */
static void reference_head(const shape *s, uint64_t key, int64_t n, int64_t h, const float *qkv,
                           const float *dy, double *y, double *dqkv)
{
    const int64_t T = s->T, dh = s->dh, D = s->H * dh, ld = 3 * D, nh = n * s->H + h;
    const float *q = qkv + n * T * ld + h * dh, *k = q + D, *v = q + 2 * D;
    const float *dO = dy + n * T * D + h * dh;
    double *o = y + n * T * D + h * dh, *dq = dqkv + n * T * ld + h * dh, *dk = dq + D,
           *dv = dq + 2 * D;
    const double scale = 1.0 / sqrt((double)dh);
    double *p = calloc((size_t)(T * T), sizeof *p), *ds = calloc((size_t)(T * T), sizeof *ds);
    assert_non_null(p);
    assert_non_null(ds);
    for (int64_t i = 0; i < T; i++) {
        double m = -INFINITY, *r = p + i * T;
        for (int64_t j = 0; j < T; j++) {
            if ((s->causal && j > i) || padded(s, n, j)) continue;
            double acc = 0;
            for (int64_t c = 0; c < dh; c++) acc += (double)q[i * ld + c] * k[j * ld + c];
            r[j] = acc * scale;
            m = fmax(m, r[j]);
        }
        double sum = 0;
        for (int64_t j = 0; j < T; j++) {
            bool off = (s->causal && j > i) || padded(s, n, j);
            r[j] = off ? 0.0 : exp(r[j] - m);
            sum += r[j];
        }
        for (int64_t j = 0; j < T; j++) r[j] = sum > 0 ? r[j] / sum : 0.0;
    }
    /* O = P̃·V; dV = P̃ᵀ·dO; dP = (dO·Vᵀ)⊙M/(1−p); dS = P⊙(dP − Σⱼ P⊙dP). */
    for (int64_t i = 0; i < T; i++) {
        double dot = 0;
        for (int64_t j = 0; j < T; j++) {
            const double pk = p[i * T + j] * keep_factor(key, s, nh, i, j);
            double g = 0;
            for (int64_t c = 0; c < dh; c++) {
                o[i * D + c] += pk * v[j * ld + c];
                dv[j * ld + c] += pk * dO[i * D + c];
                g += (double)dO[i * D + c] * v[j * ld + c];
            }
            ds[i * T + j] = g * keep_factor(key, s, nh, i, j);
            dot += ds[i * T + j] * p[i * T + j];
        }
        for (int64_t j = 0; j < T; j++) ds[i * T + j] = p[i * T + j] * (ds[i * T + j] - dot);
    }
    for (int64_t i = 0; i < T; i++)
        for (int64_t j = 0; j < T; j++)
            for (int64_t c = 0; c < dh; c++) {
                dq[i * ld + c] += scale * ds[i * T + j] * k[j * ld + c];
                dk[j * ld + c] += scale * ds[i * T + j] * q[i * ld + c];
            }
    free(p);
    free(ds);
}

/* got against want over n values: the largest error relative to want's
 * largest value, which must be below TOL. */
static void compare(const char *what, const shape *s, const float *got, const double *want,
                    int64_t n)
{
    double big = 0, worst = 0;
    int64_t at = 0;
    for (int64_t i = 0; i < n; i++) big = fmax(big, fabs(want[i]));
    for (int64_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]) / (big > 0 ? big : 1.0);
        if (!(e <= worst)) worst = e, at = i;
    }
    if (!(worst < TOL))
        fail_msg("T %lld dh %lld causal %d pad %d dropout %g: %s[%lld] = %g, want %g "
                 "(error %.3g of the largest %g)",
                 (long long)s->T, (long long)s->dh, s->causal, s->pad, (double)s->dropout, what,
                 (long long)at, (double)got[at], want[at], worst, big);
}

static void check(const shape *s)
{
    const int64_t T = s->T, D = s->H * s->dh;
    cg_ctx *ctx = cg_ctx_create(0);
    cg_ctx_set_training(ctx, true);
    cg_rng rng;
    cg_rng_seed(&rng, (uint64_t)(T * 100 + s->dh));
    cg_tensor *qkv = cg_tensor_new(ctx, 3, (int64_t[]){s->N, T, 3 * D});
    cg_init_uniform(qkv, -2, 2, &rng);
    cg_tensor_set_requires_grad(qkv, true);
    cg_tensor *mask = NULL;
    if (s->pad) {
        mask = cg_tensor_new(ctx, 2, (int64_t[]){s->N, T});
        for (int64_t n = 0; n < s->N; n++)
            for (int64_t j = 0; j < T; j++) mask->data[n * T + j] = padded(s, n, j) ? 1.0f : 0.0f;
    }
    /* The op draws its dropout key from the context's generator. */
    cg_rng_seed(cg_ctx_rng(ctx), 7);
    cg_rng draw = *cg_ctx_rng(ctx);
    uint64_t key = (uint64_t)cg_rng_u32(&draw) << 32;
    key |= cg_rng_u32(&draw);
    cg_attention_opts o = {.heads = (int)s->H, .causal = s->causal, .dropout = s->dropout};
    cg_tensor *y = cg_attention(ctx, qkv, mask, &o);
    assert_non_null(y);
    cg_tensor *dy = cg_tensor_new(ctx, 3, y->shape);
    cg_init_uniform(dy, -1, 1, &rng);
    assert_int_equal(cg_backward_seeded(ctx, y, dy->data), CG_OK);

    double *want_y = calloc((size_t)y->size, sizeof *want_y);
    double *want_g = calloc((size_t)qkv->size, sizeof *want_g);
    assert_non_null(want_y);
    assert_non_null(want_g);
    for (int64_t n = 0; n < s->N; n++)
        for (int64_t h = 0; h < s->H; h++)
            reference_head(s, key, n, h, qkv->data, dy->data, want_y, want_g);
    compare("output", s, y->data, want_y, y->size);
    /* Q's, K's and V's gradients, each over its own columns. */
    const char *names[3] = {"dQ", "dK", "dV"};
    for (int part = 0; part < 3; part++) {
        const int64_t rows = s->N * T;
        float *got = malloc((size_t)(rows * D) * sizeof *got);
        double *want = malloc((size_t)(rows * D) * sizeof *want);
        assert_non_null(got);
        assert_non_null(want);
        for (int64_t r = 0; r < rows; r++)
            for (int64_t c = 0; c < D; c++) {
                got[r * D + c] = qkv->grad[r * 3 * D + part * D + c];
                want[r * D + c] = want_g[r * 3 * D + part * D + c];
            }
        compare(names[part], s, got, want, rows * D);
        free(got);
        free(want);
    }
    free(want_y);
    free(want_g);
    cg_ctx_destroy(ctx);
}

static void plain_path_matches_double_reference(void **state)
{
    (void)state;
    const int64_t Ts[] = {1, 5, 7, 22, 38, 64, 67}, dhs[] = {1, 8, 32, 33};
    int cases = 0;
    for (size_t a = 0; a < sizeof Ts / sizeof *Ts; a++)
        for (size_t b = 0; b < sizeof dhs / sizeof *dhs; b++)
            for (int causal = 0; causal < 2; causal++)
                for (int variant = 0; variant < 3; variant++) {
                    shape s = {.N = 2, .T = Ts[a], .H = 2, .dh = dhs[b], .causal = causal,
                               .pad = variant == 1, .dropout = variant == 2 ? 0.25f : 0.0f};
                    check(&s);
                    cases++;
                }
    printf("plain attention: %d cases against the double-precision loop\n", cases);
}

/* The paths a transformer_block's attention takes with padding and
 * dropout at once, on more heads; and a length past which a head without
 * the causal skip goes back to sgemm (the causal one stays fused). */
static void padding_with_dropout_on_four_heads(void **state)
{
    (void)state;
    shape s = {.N = 2, .T = 64, .H = 4, .dh = 32, .causal = true, .pad = true, .dropout = 0.1f};
    check(&s);
    s.causal = false;
    check(&s);
    s = (shape){.N = 1, .T = 257, .H = 2, .dh = 5, .pad = true, .dropout = 0.1f};
    check(&s);
    s.causal = true;
    check(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_path_matches_double_reference),
        cmocka_unit_test(padding_with_dropout_on_four_heads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
