/* A tile of MR rows × 16 columns of C in registers (12 of AVX2's 16 vector
 * registers), k walked once: each step one load of a panel row and MR
 * broadcasts of A, from A's rows or, transposed, from one row of Aᵀ. GCC
 * vector types, as in ops/panel_gemm.c, whose kernel this one follows and
 * extends with the transposed A and the causal bands. */
#include "attention_kernels.h"

#include <string.h>

#define MR 6
#define NP CG_ATTN_PANEL

typedef float v8 __attribute__((vector_size(32)));
typedef int32_t vi8 __attribute__((vector_size(32)));

/* c + s·b, s a float: one fused multiply-add where the CPU has one. The
 * library builds as ISO C11, in which GCC contracts no a·b + c into an FMA,
 * and a multiply and an add are two instructions on the same two ports:
 * half the speed. A macro: a v8 argument changes the ABI without AVX. */
#ifdef __FMA__
#include <immintrin.h>
#define MADD(c, s, b) ((v8)_mm256_fmadd_ps(_mm256_set1_ps(s), (__m256)(b), (__m256)(c)))
#else
#define MADD(c, s, b) ((c) + (s) * (b))
#endif

/* The 8×8 block at src (rows lds apart) transposed to dst (rows ldd
 * apart): unpack pairs of rows, then pairs of pairs, then the halves. */
static void transpose8(const float *src, int64_t lds, float *dst, int64_t ldd)
{
    v8 r[8], t[8], u[8];
    for (int j = 0; j < 8; j++) memcpy(&r[j], src + j * lds, sizeof r[j]);
    for (int j = 0; j < 8; j += 2) {
        t[j] = __builtin_shufflevector(r[j], r[j + 1], 0, 8, 1, 9, 4, 12, 5, 13);
        t[j + 1] = __builtin_shufflevector(r[j], r[j + 1], 2, 10, 3, 11, 6, 14, 7, 15);
    }
    for (int j = 0; j < 8; j += 4)
        for (int o = 0; o < 2; o++) {
            u[j + 2 * o] = __builtin_shufflevector(t[j + o], t[j + o + 2], 0, 1, 8, 9, 4, 5, 12, 13);
            u[j + 2 * o + 1] =
                __builtin_shufflevector(t[j + o], t[j + o + 2], 2, 3, 10, 11, 6, 7, 14, 15);
        }
    for (int c = 0; c < 4; c++) {
        v8 lo = __builtin_shufflevector(u[c], u[c + 4], 0, 1, 2, 3, 8, 9, 10, 11);
        v8 hi = __builtin_shufflevector(u[c], u[c + 4], 4, 5, 6, 7, 12, 13, 14, 15);
        memcpy(dst + c * ldd, &lo, sizeof lo);
        memcpy(dst + (c + 4) * ldd, &hi, sizeof hi);
    }
}

/* Packs B [K, N] (ldb), or Bᵀ when tb (B given as N rows of K, ldb apart),
 * the transpose 8×8 blocks at a time (one value at a time it cost a third
 * of the product). */
static void pack(bool tb, int64_t N, int64_t K, const float *B, int64_t ldb, float *panels)
{
    for (int64_t n0 = 0; n0 < N; n0 += NP) {
        const int64_t nc = N - n0 < NP ? N - n0 : NP;
        float *dst = panels + n0 * K;
        if (!tb) {
            for (int64_t k = 0; k < K; k++)
                for (int64_t j = 0; j < NP; j++) dst[k * NP + j] = j < nc ? B[k * ldb + n0 + j] : 0.0f;
            continue;
        }
        for (int64_t h = 0; h < NP; h += 8) {
            int64_t k = 0;
            if (h + 8 <= nc)
                for (; k + 8 <= K; k += 8) transpose8(B + (n0 + h) * ldb + k, ldb, dst + k * NP + h, NP);
            for (; k < K; k++)
                for (int64_t j = h; j < h + 8; j++)
                    dst[k * NP + j] = j < nc ? B[(n0 + j) * ldb + k] : 0.0f;
        }
    }
}

/* Row i of a tile, times alpha, into the first nc columns of c (the row
 * by pointer: a v8 by value changes the ABI without AVX). */
static inline __attribute__((always_inline)) void store_row(const v8 *sum, int64_t nc,
                                                            float alpha, bool acc, float *c)
{
    v8 lo = alpha * sum[0], hi = alpha * sum[1];
    if (nc == NP / 2) {
        if (acc) {
            v8 c0;
            memcpy(&c0, c, sizeof c0);
            lo += c0;
        }
        memcpy(c, &lo, sizeof lo);
        return;
    }
    if (nc == NP) {
        if (acc) {
            v8 c0, c1;
            memcpy(&c0, c, sizeof c0);
            memcpy(&c1, c + 8, sizeof c1);
            lo += c0;
            hi += c1;
        }
        memcpy(c, &lo, sizeof lo);
        memcpy(c + 8, &hi, sizeof hi);
        return;
    }
    float row[NP];
    memcpy(row, &lo, sizeof lo);
    memcpy(row + 8, &hi, sizeof hi);
    for (int64_t j = 0; j < nc; j++) c[j] = acc ? c[j] + row[j] : row[j];
}

/* Terms k0..k1−1 of mr (<= MR) rows against one panel's first 8·nv
 * columns, into the first nc of C. Inlined with constant mr, nv and ta so
 * the accumulators stay in registers. */
static inline __attribute__((always_inline)) void tile(int mr, int nv, bool ta, int64_t k0,
                                                       int64_t k1,
                                                       const float *A, int64_t lda,
                                                       const float *panel, int64_t ps, int64_t nc,
                                                       float alpha, bool acc, float *C,
                                                       int64_t ldc)
{
    v8 sum[MR][2];
    for (int i = 0; i < mr; i++) sum[i][0] = sum[i][1] = (v8){0};
    for (int64_t k = k0; k < k1; k++) {
        /* memcpy, not a v8 return: a 32-byte vector by value changes the
         * ABI in builds without AVX (-Wpsabi). */
        v8 b0, b1 = {0};
        memcpy(&b0, panel + k * ps, sizeof b0);
        if (nv == 2) memcpy(&b1, panel + k * ps + 8, sizeof b1);
        for (int i = 0; i < mr; i++) {
            float a = ta ? A[k * lda + i] : A[i * lda + k];
            sum[i][0] = MADD(sum[i][0], a, b0);
            if (nv == 2) sum[i][1] = MADD(sum[i][1], a, b1);
        }
    }
    for (int i = 0; i < mr; i++) store_row(sum[i], nc, alpha, acc, C + i * ldc);
}

#define TILE_CASES(NV, TA)                                                              \
    switch (mr) {                                                                       \
    case 1: tile(1, NV, TA, k0, k1, A, lda, panel, ps, nc, alpha, acc, C, ldc); break;   \
    case 2: tile(2, NV, TA, k0, k1, A, lda, panel, ps, nc, alpha, acc, C, ldc); break;   \
    case 3: tile(3, NV, TA, k0, k1, A, lda, panel, ps, nc, alpha, acc, C, ldc); break;   \
    case 4: tile(4, NV, TA, k0, k1, A, lda, panel, ps, nc, alpha, acc, C, ldc); break;   \
    case 5: tile(5, NV, TA, k0, k1, A, lda, panel, ps, nc, alpha, acc, C, ldc); break;   \
    default: tile(MR, NV, TA, k0, k1, A, lda, panel, ps, nc, alpha, acc, C, ldc); break; \
    }

/* One tile, half a panel wide (8 columns) when nc <= 8. */
static void tile_rows(int mr, bool ta, int64_t k0, int64_t k1, const float *A, int64_t lda,
                      const float *panel, int64_t ps, int64_t nc, float alpha, bool acc, float *C,
                      int64_t ldc)
{
    if (nc <= NP / 2) {
        if (ta)
            TILE_CASES(1, true)
        else
            TILE_CASES(1, false)
    } else {
        if (ta)
            TILE_CASES(2, true)
        else
            TILE_CASES(2, false)
    }
}

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
        pack(true, N, K, B, ldb, scratch);
    else if (N % NP)
        pack(false, N % NP, K, B + N / NP * NP, ldb, scratch);
    /* Rows in tiles of equal height when each gets at least MR − 1: a tile
     * of 4 rows or fewer runs at half speed (ops/panel_gemm.c). */
    const int64_t tiles = (M + MR - 1) / MR;
    const bool balanced = M / tiles >= MR - 1;
    for (int64_t t = 0, i = 0; i < M; t++) {
        int mr = balanced ? (int)(M / tiles + (t < M % tiles)) : M - i < MR ? (int)(M - i) : MR;
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
