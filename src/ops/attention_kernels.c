/* Attention's per-head products on the register tile of panel_tile.h
 * (which the recurrent layers' products share), with the causal bands:
 * each row tile takes only the terms and columns its band leaves. */
#include "attention_kernels.h"

#include "panel_gemm.h"
#include "panel_tile.h"

#include <string.h>

/* B as the kernel reads it: packed panels (Bᵀ), or B in place with its
 * last panel, short of 16 columns, packed. */
typedef struct operand {
    const float *B, *packed;
    int64_t ldb;
    bool whole;   /* every panel packed */
} operand;

/* Panel of columns n0.., its rows *ps floats apart. */
static const float *panel_at(const operand *b, int64_t n0, int64_t N, int64_t K, int64_t *ps)
{
    if (b->whole) {
        *ps = NP;
        return b->packed + n0 * K;
    }
    *ps = N - n0 < NP ? NP : b->ldb;
    return N - n0 < NP ? b->packed : b->B + n0;
}

/* Rows i0..i0+mr−1, one tile: the band's k range and columns, then every
 * panel among those columns. */
static void row_tile(cg_attn_band band, bool ta, int64_t i0, int mr, int64_t N, int64_t K,
                     float alpha, const float *A, int64_t lda, const operand *b, bool acc,
                     float *C, int64_t ldc)
{
    const int64_t i1 = i0 + mr;
    int64_t k0 = 0, k1 = K, cols = N;
    if (band == CG_ATTN_K_BELOW && i1 < K) k1 = i1;
    if (band == CG_ATTN_K_ABOVE) k0 = i0 < K ? i0 : K;
    if (band == CG_ATTN_COLS && i1 < N) cols = i1;
    const float *a = ta ? A + i0 : A + i0 * lda;
    for (int64_t n0 = 0; n0 < cols; n0 += NP) {
        int64_t ps, nc = N - n0 < NP ? N - n0 : NP;
        /* The causal band's last panel: half of it when that will do. */
        if (cols - n0 <= NP / 2 && nc > NP / 2) nc = NP / 2;
        const float *panel = panel_at(b, n0, N, K, &ps);
        tile_rows(mr, ta, k0, k1, a, lda, panel, ps, nc, alpha, acc, C + i0 * ldc + n0, ldc);
    }
}

void cg__attn_gemm(cg_attn_band band, bool ta, bool tb, int64_t M, int64_t N, int64_t K,
                   float alpha, const float *A, int64_t lda, const float *B, int64_t ldb, bool acc,
                   float *C, int64_t ldc, float *scratch)
{
    if (M <= 0) return;
    /* Bᵀ is packed whole; B is read in place, but for a last panel short
     * of 16 columns, which is copied out zero-padded. */
    operand b = {B, scratch, ldb, tb};
    if (tb)
        cg__panel_pack(true, N, K, B, ldb, scratch);
    else if (N % NP)
        cg__panel_pack(false, N % NP, K, B + N / NP * NP, ldb, scratch);
    const int64_t tiles = (M + MR - 1) / MR;
    for (int64_t t = 0, i = 0; i < M; t++) {
        const int mr = tile_height(M, tiles, t, i);
        row_tile(band, ta, i, mr, N, K, alpha, A, lda, &b, acc, C, ldc);
        i += mr;
    }
}

/* ------------------------------------------------------------ row sums */

/* The lanes of *v added in a fixed order. */
static float lanes_sum(const v8 *v)
{
    return (((*v)[0] + (*v)[1]) + ((*v)[2] + (*v)[3])) + (((*v)[4] + (*v)[5]) + ((*v)[6] + (*v)[7]));
}

float cg__attn_row_max(const float *s, int64_t n)
{
    float m = -__builtin_inff();
    int64_t j = 0;
    if (n >= 8) {
        v8 mv;
        memcpy(&mv, s, sizeof mv);
        for (j = 8; j + 8 <= n; j += 8) {
            v8 x;
            memcpy(&x, s + j, sizeof x);
            vi8 gt = x > mv; /* C has no ?: on vectors */
            mv = (v8)((gt & (vi8)x) | (~gt & (vi8)mv));
        }
        for (int l = 0; l < 8; l++) m = mv[l] > m ? mv[l] : m;
    }
    for (; j < n; j++) m = s[j] > m ? s[j] : m;
    return m;
}

float cg__attn_row_dot(const float *a, const float *b, int64_t n)
{
    v8 acc = {0};
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
        v8 x, y;
        memcpy(&x, a + j, sizeof x);
        memcpy(&y, b + j, sizeof y);
        acc += x * y;
    }
    float tail = 0.0f;
    for (; j < n; j++) tail += a[j] * b[j];
    return lanes_sum(&acc) + tail;
}

float cg__attn_row_sum(const float *a, int64_t n)
{
    v8 acc = {0};
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
        v8 x;
        memcpy(&x, a + j, sizeof x);
        acc += x;
    }
    float tail = 0.0f;
    for (; j < n; j++) tail += a[j];
    return lanes_sum(&acc) + tail;
}
