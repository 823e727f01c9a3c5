/* Products on a right operand packed in panels (panel_gemm.h), on the
 * register tile of panel_tile.h. Measured on Zen 3, one thread, the W4
 * step shapes: 32×1024×256 (Bᵀ) 90 GFLOP/s against sgemm's 72,
 * 32×256×1024 94 against 78 — sgemm's time includes packing B, which the
 * recurrent layers do once per sequence. */
#include "panel_gemm.h"

#include "internal.h"
#include "panel_tile.h"

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

void cg__panel_pack(bool tb, int64_t N, int64_t K, const float *B, int64_t ldb, float *panels)
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
    const int64_t tiles = (M + MR - 1) / MR;
    for (int64_t p = 0; p * CG_PANEL < N; p++) {
        int64_t n0 = p * CG_PANEL, nc = N - n0 < CG_PANEL ? N - n0 : CG_PANEL;
        const float *panel = panels + p * CG_PANEL * K;
        for (int64_t t = 0, i = 0; i < M; t++) {
            const int mr = tile_height(M, tiles, t, i);
            tile_rows(mr, false, 0, K, A + i * lda, lda, panel, CG_PANEL, nc, 1.0f, acc,
                      C + i * ldc + n0, ldc);
            i += mr;
        }
    }
}
