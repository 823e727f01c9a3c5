/* The plain attention path's per-head products (ops/attention.c): S = Q·Kᵀ,
 * O = P·V and backward's four, each [T, T] by [T, dh] or alike, T = 64 and
 * dh = 32 in a small GPT. OpenBLAS ran them at 33–42 GFLOP/s (Zen 3, one
 * thread), paying a call, a packing and the whole T×T square each time,
 * where causal attention needs only the lower triangle. These products
 * skip, tile by tile, the part of the square that causal masking leaves
 * zero, and take the right operand packed in panels once per head. */
#ifndef CG_ATTENTION_KERNELS_H
#define CG_ATTENTION_KERNELS_H

#include <stdbool.h>
#include <stdint.h>

/* What causal masking leaves of a product, for rows i0..i1−1 of C (rows in
 * tiles; a tile's bounds are what count, so a tile may do a little more). */
typedef enum cg_attn_band {
    CG_ATTN_FULL,      /* everything */
    CG_ATTN_COLS,      /* columns j < i1 only (S = Q·Kᵀ, dP = dO·Vᵀ); from
                        * column ⌈i1/8⌉·8 on they are not written */
    CG_ATTN_K_BELOW,   /* terms k < i1 only (P·V, dS·K): A's rows are zero
                        * from column i+1 on */
    CG_ATTN_K_ABOVE,   /* terms k ≥ i0 only (Pᵀ·dO, dSᵀ·Q): A's row i is
                        * zero before column i */
} cg_attn_band;

/* C[M, N] (ldc) = alpha·A·op(B), or += when acc, over the band's terms; A
 * is [M, K] (lda), or given as Aᵀ [K, M] when ta; B is [K, N] (ldb), or
 * given as Bᵀ [N, K] when tb, which is packed into scratch
 * (cg__panel_floats(N, K) floats, panel_gemm.h; B itself is read in place). Each
 * value is one sum in k order, the same whatever thread runs it. */
void cg__attn_gemm(cg_attn_band band, bool ta, bool tb, int64_t M, int64_t N, int64_t K,
                   float alpha, const float *A, int64_t lda, const float *B, int64_t ldb, bool acc,
                   float *C, int64_t ldc, float *scratch);

/* Reductions over a row of n scores, eight lanes at a time (a sum one
 * value at a time waits on each add: it was as slow as the products). The
 * order is fixed by n alone. max keeps the larger of each pair as
 * `v > m ? v : m` does, so a NaN never wins. */
float cg__attn_row_max(const float *s, int64_t n);
float cg__attn_row_sum(const float *a, int64_t n);
float cg__attn_row_dot(const float *a, const float *b, int64_t n);

#endif
