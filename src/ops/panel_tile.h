/* The register tile that ops/panel_gemm.c (the recurrent layers' per-step
 * products) and ops/attention_kernels.c (attention's per-head products)
 * both run: MR rows × 16 columns of C in registers (12 of AVX2's 16
 * vector registers), k walked once, each step one load of a panel row and
 * MR broadcasts of A, from A's rows or, transposed, from one row of Aᵀ.
 * Written with GCC vector types: plain C loops of the same shape left the
 * accumulators in memory (4–51 GFLOP/s against OpenBLAS's 73, Zen 3).
 * Static inline, so that each caller's constant shapes fold in. */
#ifndef CG_PANEL_TILE_H
#define CG_PANEL_TILE_H

#include "panel_gemm.h"

#include <string.h>

#define MR 6
#define NP CG_PANEL

typedef float v8 __attribute__((vector_size(32)));
typedef int32_t vi8 __attribute__((vector_size(32)));

/* c + s·b with one fused multiply-add where the CPU has one: the library
 * builds as ISO C11, in which GCC contracts no a·b + c, and a separate
 * multiply and add halve the tile's speed on CPUs whose adds share the FMA
 * ports (Intel's; Zen 3 has adders of its own). A macro: a v8 argument
 * changes the ABI in builds without AVX. */
#ifdef __FMA__
#include <immintrin.h>
#define MADD(c, s, b) ((v8)_mm256_fmadd_ps(_mm256_set1_ps(s), (__m256)(b), (__m256)(c)))
#else
#define MADD(c, s, b) ((c) + (s) * (b))
#endif

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
static inline void tile_rows(int mr, bool ta, int64_t k0, int64_t k1, const float *A, int64_t lda,
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

/* Rows of the tile that starts at row i, the t-th of an M-row product cut
 * into `tiles` tiles: equal heights when each gets at least MR − 1, for a
 * tile of 4 rows or fewer runs at half speed (16 rows as 6 + 5 + 5, not
 * 6 + 6 + 4: 96 against 77 GFLOP/s at 16×1024×256; 32 rows: 97 against
 * 92). */
static inline int tile_height(int64_t M, int64_t tiles, int64_t t, int64_t i)
{
    if (M / tiles >= MR - 1) return (int)(M / tiles + (t < M % tiles));
    return M - i < MR ? (int)(M - i) : MR;
}

#endif
