/* The micro-kernel holds a tile of MR rows × 16 columns of C in registers
 * (12 of AVX2's 16 vector registers) and walks k once, each step one load
 * of a panel row and MR broadcasts of A. It is written with GCC/Clang
 * vector types: plain C loops of the same shape left the accumulators in
 * memory (4–51 GFLOP/s against OpenBLAS's 73, Zen 3, M = 32, K = 256).
 * Measured there, one thread, the W4 step shapes: 32×1024×256 (Bᵀ) 90
 * GFLOP/s against sgemm's 72, 32×256×1024 94 against 78 — sgemm's time
 * includes packing B, which this kernel does once per sequence. */
#include "panel_gemm.h"

#include <string.h>

#define MR 6

typedef float v8 __attribute__((vector_size(32)));

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

void cg__panel_pack(bool tb, int64_t N, int64_t K, const float *B, int64_t ldb, float *panels)
{
    for (int64_t p = 0; p * CG_PANEL < N; p++) {
        int64_t n0 = p * CG_PANEL, nc = N - n0 < CG_PANEL ? N - n0 : CG_PANEL;
        float *dst = panels + p * CG_PANEL * K;
        for (int64_t k = 0; k < K; k++) {
            float *row = dst + k * CG_PANEL;
            for (int64_t j = 0; j < nc; j++)
                row[j] = tb ? B[(n0 + j) * ldb + k] : B[k * ldb + n0 + j];
            for (int64_t j = nc; j < CG_PANEL; j++) row[j] = 0.0f;
        }
    }
}

/* One tile: mr (<= MR) rows of A against one panel; writes the sums to
 * out[mr][16]. Inlined with a constant mr so the accumulators stay in
 * registers. */
static inline __attribute__((always_inline)) void tile(int mr, int64_t K, const float *A,
                                                       int64_t lda, const float *panel,
                                                       v8 out[MR][2])
{
    v8 acc[MR][2];
    for (int i = 0; i < mr; i++) acc[i][0] = acc[i][1] = (v8){0};
    for (int64_t k = 0; k < K; k++) {
        /* memcpy, not a v8 return: a 32-byte vector by value changes the
         * ABI in builds without AVX (-Wpsabi). */
        v8 b0, b1;
        memcpy(&b0, panel + k * CG_PANEL, sizeof b0);
        memcpy(&b1, panel + k * CG_PANEL + 8, sizeof b1);
        for (int i = 0; i < mr; i++) {
            float a = A[i * lda + k];
            acc[i][0] = MADD(acc[i][0], a, b0);
            acc[i][1] = MADD(acc[i][1], a, b1);
        }
    }
    for (int i = 0; i < mr; i++) out[i][0] = acc[i][0], out[i][1] = acc[i][1];
}

static void tile_rows(int mr, int64_t K, const float *A, int64_t lda, const float *panel,
                      v8 out[MR][2])
{
    switch (mr) {
    case 1: tile(1, K, A, lda, panel, out); break;
    case 2: tile(2, K, A, lda, panel, out); break;
    case 3: tile(3, K, A, lda, panel, out); break;
    case 4: tile(4, K, A, lda, panel, out); break;
    case 5: tile(5, K, A, lda, panel, out); break;
    default: tile(MR, K, A, lda, panel, out); break;
    }
}

/* The first nc columns of mr tile rows into C. */
static void store(int mr, int64_t nc, v8 out[MR][2], bool acc, float *C, int64_t ldc)
{
    if (nc == CG_PANEL && !acc) {
        for (int i = 0; i < mr; i++) {
            memcpy(C + i * ldc, &out[i][0], sizeof out[i][0]);
            memcpy(C + i * ldc + 8, &out[i][1], sizeof out[i][1]);
        }
        return;
    }
    for (int i = 0; i < mr; i++) {
        float row[CG_PANEL], *c = C + i * ldc;
        memcpy(row, &out[i][0], sizeof out[i][0]);
        memcpy(row + 8, &out[i][1], sizeof out[i][1]);
        if (acc)
            for (int64_t j = 0; j < nc; j++) c[j] += row[j];
        else
            memcpy(c, row, (size_t)nc * sizeof *c);
    }
}

/* Defined only by the benchmark's GEMM trace (bench/gemm_trace.c, loaded
 * with LD_PRELOAD), so that its GEMM limit counts these products as the
 * sgemm calls they replace; absent (NULL) in every other program. */
void cg_gemm_trace_product(int m, int n, int k, int lda, int ldc, int acc, double t0, double t1)
    __attribute__((weak));

static void compute(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                    const float *panels, bool acc, float *C, int64_t ldc);

void cg__panel_gemm(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                    const float *panels, bool acc, float *C, int64_t ldc)
{
    if (!cg_gemm_trace_product) {
        compute(M, N, K, A, lda, panels, acc, C, ldc);
        return;
    }
    double t0 = cg__clock();
    compute(M, N, K, A, lda, panels, acc, C, ldc);
    cg_gemm_trace_product((int)M, (int)N, (int)K, (int)lda, (int)ldc, acc, t0, cg__clock());
}

static void compute(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                    const float *panels, bool acc, float *C, int64_t ldc)
{
    /* Rows in tiles of equal height when each gets at least MR − 1: tiles of
     * 4 rows or fewer run at half speed, so 16 rows as 6 + 5 + 5, not
     * 6 + 6 + 4 (96 against 77 GFLOP/s at 16×1024×256; 32 rows: 97
     * against 92). */
    const int64_t tiles = (M + MR - 1) / MR;
    const bool balanced = M / tiles >= MR - 1;
    v8 out[MR][2];
    for (int64_t p = 0; p * CG_PANEL < N; p++) {
        int64_t n0 = p * CG_PANEL, nc = N - n0 < CG_PANEL ? N - n0 : CG_PANEL;
        const float *panel = panels + p * CG_PANEL * K;
        for (int64_t t = 0, i = 0; i < M; t++) {
            int mr = balanced       ? (int)(M / tiles + (t < M % tiles))
                     : M - i < MR ? (int)(M - i)
                                  : MR;
            tile_rows(mr, K, A + i * lda, lda, panel, out);
            store(mr, nc, out, acc, C + i * ldc + n0, ldc);
            i += mr;
        }
    }
}
