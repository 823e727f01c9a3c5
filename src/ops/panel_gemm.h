/* Products with a right operand packed once and used many times: the
 * recurrent layers multiply every step's [N, H] state by the same W_hh
 * (and backward every step's gate gradients by it), small products where
 * OpenBLAS, which repacks its operand at every call, spent a quarter of
 * their time packing. */
#ifndef CG_PANEL_GEMM_H
#define CG_PANEL_GEMM_H

#include <stdbool.h>
#include <stdint.h>

/* Columns per panel: a panel holds CG_PANEL columns of B as [K][CG_PANEL],
 * the last one zero-padded. */
#define CG_PANEL 16

/* Floats that the panels of an N-column, K-deep B take. */
static inline int64_t cg__panel_floats(int64_t N, int64_t K)
{
    return (N + CG_PANEL - 1) / CG_PANEL * CG_PANEL * K;
}

/* Packs B [K, N] (ldb), or Bᵀ when tb (B given as N rows of K, ldb apart),
 * the transpose 8×8 blocks at a time (one value at a time it cost a third
 * of an attention head's product). */
void cg__panel_pack(bool tb, int64_t N, int64_t K, const float *B, int64_t ldb, float *panels);

/* C[M, N] (ldc) = A[M, K] (lda)·B from B's panels; C += when acc. Each
 * value is one sum in k order, whatever the shape around it. */
void cg__panel_gemm(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                    const float *panels, bool acc, float *C, int64_t ldc);

/* Defined only by the benchmark's GEMM trace (bench/gemm_trace.c, loaded
 * with LD_PRELOAD), so that its GEMM limit counts the products cgrad runs
 * on its own kernels (these, and attention's per-head ones) as the sgemm
 * calls they replace; absent (NULL) in every other program. */
void cg_gemm_trace_product(int m, int n, int k, int lda, int ldc, int acc, double t0, double t1)
    __attribute__((weak));

#endif
