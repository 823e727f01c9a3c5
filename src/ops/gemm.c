/* Every matrix product of the library goes through here, on cblas_sgemm.
 *
 * Threads: BLAS itself always runs on one thread; a product large enough
 * to share is cut into `parts` blocks of C, a number fixed by the shape and
 * the thread count the user asked for (cg_set_num_threads), never by how
 * many threads actually run. So a product's bits do not depend on the
 * threads that computed it: training may run a step on fewer threads when
 * the cores are busy (train/thread_governor.c) and still give exactly the
 * result of the planned count. OpenBLAS's own threading cannot promise
 * that (its 1- and 2-thread results differ in the last bits).
 *
 * Overwriting clears C with memset and accumulates with beta = 1: OpenBLAS's
 * beta = 0 path clears C with a generic scalar kernel on some CPUs, which
 * took 11% of an MLP training step on Zen. */
#include "internal.h"

#include <cblas.h>
#include <string.h>

/* A block gets at least this many multiply-adds (below it, waking a
 * second thread costs more than it saves) and this many rows or columns
 * (the micro-kernels work in panels of 8–16). */
#define GEMM_PART_MACS ((int64_t)1 << 17)
#define GEMM_PART_MIN 16

static void clear(int64_t M, int64_t N, float *C, int64_t ldc)
{
    if (ldc == N) {
        memset(C, 0, (size_t)(M * N) * sizeof *C);
        return;
    }
    for (int64_t i = 0; i < M; i++) memset(C + i * ldc, 0, (size_t)N * sizeof *C);
}

void cg__gemm_serial(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                     const float *A, int64_t lda, const float *B, int64_t ldb, bool acc, float *C,
                     int64_t ldc)
{
    if (M <= 0 || N <= 0) return;
    if (!acc) clear(M, N, C, ldc);
    if (K <= 0) return;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                (int)M, (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb, 1.0f, C, (int)ldc);
}

/* Blocks for an M x N x K product: a function of the shape and the planned
 * thread count alone. */
static int64_t parts_of(int64_t M, int64_t N, int64_t K)
{
    int64_t p = cg__plan_threads(), along = M > N ? M : N;
    int64_t by_work = M * N * K / GEMM_PART_MACS, by_size = along / GEMM_PART_MIN;
    if (p > by_work) p = by_work;
    if (p > by_size) p = by_size;
    return p > 1 ? p : 1;
}

void cg__gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
              int64_t lda, const float *B, int64_t ldb, bool acc, float *C, int64_t ldc)
{
    int64_t parts = parts_of(M, N, K);
    if (parts == 1) {
        cg__gemm_serial(ta, tb, M, N, K, alpha, A, lda, B, ldb, acc, C, ldc);
        return;
    }
    /* Cut the longer side of C, in multiples of 16 so every block but the
     * last runs whole micro-kernel panels. */
    bool rows = M > N;
    int64_t along = rows ? M : N, step = (along / parts + 15) / 16 * 16;
#pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < parts; p++) {
        int64_t lo = p * step, hi = lo + step < along ? lo + step : along;
        if (lo >= hi) continue;
        if (rows) /* rows lo..hi of op(A) and C */
            cg__gemm_serial(ta, tb, hi - lo, N, K, alpha, ta ? A + lo : A + lo * lda, lda, B, ldb,
                            acc, C + lo * ldc, ldc);
        else /* columns lo..hi of op(B) and C */
            cg__gemm_serial(ta, tb, M, hi - lo, K, alpha, A, lda, tb ? B + lo * ldb : B + lo, ldb,
                            acc, C + lo, ldc);
    }
}
