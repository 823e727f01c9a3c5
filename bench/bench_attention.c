/* The attention op's two paths side by side: the plain one (one [T, T]
 * GEMM per head, the weights kept for backward) and the tiled one (online
 * softmax over key blocks, only a log-sum-exp per row kept). For each
 * sequence length: forward + backward time (median of runs) and the
 * arena's high-water mark of a training step (qkv and its gradient, the
 * output and its gradient, what the op keeps, backward scratch), as JSON
 * lines. Never part of the tests. --length T runs that length only (else
 * 128, 256, ..., 4096), --batch N sequences at once (W5's attention: --batch
 * 32 --length 64 --heads 4 --dim 128); --path plain or tiled runs one path.
 * --kernels 1 times instead the plain path's six per-head products alone
 * (S = Q·Kᵀ, O = P·V, dV = Pᵀ·dO, dP = dO·Vᵀ, dQ = dS·K, dK = dSᵀ·Q) for
 * each of batch·heads heads in turn, on ops/attention_kernels.c and on
 * cblas_sgemm (one thread), in GFLOP/s of the whole T×T products.
 *   bench_attention [--threads N] [--runs N] [--heads H] [--dim D] [--tile B] [--causal 0|1]
 *                   [--length T] [--batch N] [--path plain|tiled] [--kernels 1]
 */
#include "cgrad.h"
#include "../src/ops/attention_kernels.h"
#include "../src/ops/panel_gemm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef _OPENMP
#include <omp.h>
#endif

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Steps at length T in one context, reset between them as a training
 * loop does (the first, which touches the arena's pages, is not timed);
 * fills times[runs] with seconds, peak arena bytes in *peak. */
static void steps(int64_t N, int64_t T, int heads, int64_t D, int tile, int causal, int runs,
                  double *times, size_t *peak)
{
    cg_ctx *ctx = cg_ctx_create(0);
    cg_rng rng;
    cg_rng_seed(&rng, 1);
    for (int r = -1; r < runs; r++) {
        cg_ctx_reset(ctx);
        cg_tensor *qkv = cg_tensor_new(ctx, 3, (int64_t[]){N, T, 3 * D});
        cg_init_uniform(qkv, -1, 1, &rng);
        cg_tensor_set_requires_grad(qkv, true);
        double t0 = now();
        cg_attention_opts o = {.heads = heads, .causal = causal, .tile = tile};
        cg_tensor *y = cg_attention(ctx, qkv, NULL, &o);
        cg_tensor *dy = y ? cg_tensor_new(ctx, 3, y->shape) : NULL;
        if (!dy) {
            fprintf(stderr, "bench_attention: %s\n", cg_last_error());
            exit(1);
        }
        for (int64_t i = 0; i < dy->size; i++) dy->data[i] = 1e-3f * (float)(i % 17);
        if (cg_backward_seeded(ctx, y, dy->data) != CG_OK) {
            fprintf(stderr, "bench_attention: %s\n", cg_last_error());
            exit(1);
        }
        if (r >= 0) times[r] = now() - t0;
    }
    *peak = cg_ctx_arena_peak(ctx);
    cg_ctx_destroy(ctx);
}

/* CBLAS as OpenBLAS and MKL export it (see gemm_trace.c). */
void cblas_sgemm(int order, int ta, int tb, int m, int n, int k, float alpha, const float *a,
                 int lda, const float *b, int ldb, float beta, float *c, int ldc);
enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };

typedef struct head_bufs {
    int T, dh, D, causal;
    float *qkv, *dqkv, *p, *s, *o, *dO, *scratch;
} head_bufs;

/* One head's six products, as ops/attention.c issues them. */
static void six_products(const head_bufs *b, int nh, int heads, bool fused)
{
    const int T = b->T, dh = b->dh, D = b->D, ld = 3 * D, n = nh / heads, h = nh % heads;
    const float *q = b->qkv + (int64_t)n * T * ld + h * dh, *k = q + D, *v = q + 2 * D;
    float *dq = b->dqkv + (int64_t)n * T * ld + h * dh, *dk = dq + D, *dv = dq + 2 * D;
    float *p = b->p + (int64_t)nh * T * T, *o = b->o + (int64_t)n * T * D + h * dh;
    const float *g = b->dO + (int64_t)n * T * D + h * dh;
    const float sc = 0.17f;
    if (fused) {
        cg_attn_band F = CG_ATTN_FULL, cols = b->causal ? CG_ATTN_COLS : F,
                     below = b->causal ? CG_ATTN_K_BELOW : F, above = b->causal ? CG_ATTN_K_ABOVE : F;
        cg__attn_gemm(cols, false, true, T, T, dh, sc, q, ld, k, ld, false, p, T, b->scratch);
        cg__attn_gemm(below, false, false, T, dh, T, 1, p, T, v, ld, false, o, D, b->scratch);
        cg__attn_gemm(above, true, false, T, dh, T, 1, p, T, g, D, false, dv, ld, b->scratch);
        cg__attn_gemm(cols, false, true, T, T, dh, 1, g, D, v, ld, false, b->s, T, b->scratch);
        cg__attn_gemm(below, false, false, T, dh, T, sc, b->s, T, k, ld, false, dq, ld, b->scratch);
        cg__attn_gemm(above, true, false, T, dh, T, sc, b->s, T, q, ld, false, dk, ld, b->scratch);
        return;
    }
    cblas_sgemm(ROW_MAJOR, NO_TRANS, TRANS, T, T, dh, sc, q, ld, k, ld, 0, p, T);
    cblas_sgemm(ROW_MAJOR, NO_TRANS, NO_TRANS, T, dh, T, 1, p, T, v, ld, 0, o, D);
    cblas_sgemm(ROW_MAJOR, TRANS, NO_TRANS, T, dh, T, 1, p, T, g, D, 0, dv, ld);
    cblas_sgemm(ROW_MAJOR, NO_TRANS, TRANS, T, T, dh, 1, g, D, v, ld, 0, b->s, T);
    cblas_sgemm(ROW_MAJOR, NO_TRANS, NO_TRANS, T, dh, T, sc, b->s, T, k, ld, 0, dq, ld);
    cblas_sgemm(ROW_MAJOR, TRANS, NO_TRANS, T, dh, T, sc, b->s, T, q, ld, 0, dk, ld);
}

static float *filled(int64_t n, float scale)
{
    float *x = malloc((size_t)n * sizeof *x);
    if (!x) {
        fprintf(stderr, "bench_attention: out of memory\n");
        exit(1);
    }
    for (int64_t i = 0; i < n; i++) x[i] = scale * (float)((i * 7919) % 1000) / 1000.0f;
    return x;
}

/* Best of runs passes over all heads, each way; one JSON line. */
static void kernels(int batch, int T, int heads, int D, int causal, int runs)
{
    const int dh = D / heads, NH = batch * heads;
    head_bufs b = {T, dh, D, causal, filled((int64_t)batch * T * 3 * D, 1),
                   filled((int64_t)batch * T * 3 * D, 0), filled((int64_t)NH * T * T, 0.01f),
                   filled((int64_t)T * T, 0.01f), filled((int64_t)batch * T * D, 0),
                   filled((int64_t)batch * T * D, 1),
                   filled(cg__panel_floats(T > dh ? T : dh, T > dh ? T : dh), 0)};
    double best[2] = {1e30, 1e30};
    for (int r = 0; r < runs; r++)
        for (int way = 0; way < 2; way++) {
            double t0 = now();
            for (int nh = 0; nh < NH; nh++) six_products(&b, nh, heads, way == 1);
            double t = now() - t0;
            if (t < best[way]) best[way] = t;
        }
    const double flops = 6.0 * 2.0 * T * T * dh * NH;
    printf("{\"op\": \"attention_products\", \"batch\": %d, \"T\": %d, \"heads\": %d, \"dh\": %d, "
           "\"causal\": %d, \"sgemm_us_per_head\": %.2f, \"fused_us_per_head\": %.2f, "
           "\"sgemm_gflops\": %.1f, \"fused_gflops_of_full\": %.1f}\n",
           batch, T, heads, dh, causal, 1e6 * best[0] / NH, 1e6 * best[1] / NH,
           1e-9 * flops / best[0], 1e-9 * flops / best[1]);
    free(b.qkv), free(b.dqkv), free(b.p), free(b.s), free(b.o), free(b.dO), free(b.scratch);
}

int main(int argc, char **argv)
{
    int threads = 1, runs = 3, heads = 4, tile = 64, causal = 1;
    int64_t D = 128, length = 0, batch = 1;
    const char *only = NULL;
    int products = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        int v = atoi(argv[i + 1]);
        if (strcmp(argv[i], "--threads") == 0) threads = v;
        else if (strcmp(argv[i], "--runs") == 0) runs = v;
        else if (strcmp(argv[i], "--heads") == 0) heads = v;
        else if (strcmp(argv[i], "--dim") == 0) D = v;
        else if (strcmp(argv[i], "--tile") == 0) tile = v;
        else if (strcmp(argv[i], "--causal") == 0) causal = v;
        else if (strcmp(argv[i], "--length") == 0) length = v;
        else if (strcmp(argv[i], "--batch") == 0) batch = v;
        else if (strcmp(argv[i], "--path") == 0) only = argv[i + 1];
        else if (strcmp(argv[i], "--kernels") == 0) products = v;
    }
#ifdef _OPENMP
    omp_set_num_threads(threads);
#endif
    if (products) {
        cg_set_num_threads(1); /* and BLAS on one thread, as cgrad runs it */
        kernels((int)batch, length ? (int)length : 64, heads, (int)D, causal, runs);
        return 0;
    }
    double times[16];
    for (int64_t T = length ? length : 128; T <= (length ? length : 4096); T *= 2)
        for (int path = 0; path < 2; path++) {
            if (only && strcmp(only, path ? "tiled" : "plain") != 0) continue;
            size_t peak = 0;
            steps(batch, T, heads, D, path ? tile : 0, causal, runs < 16 ? runs : 16, times, &peak);
            qsort(times, (size_t)(runs < 16 ? runs : 16), sizeof *times, cmp);
            printf("{\"op\": \"attention\", \"path\": \"%s\", \"batch\": %lld, \"T\": %lld, \"heads\": %d, "
                   "\"dim\": %lld, "
                   "\"causal\": %d, \"tile\": %d, \"threads\": %d, \"fwd_bwd_ms\": %.2f, "
                   "\"peak_arena_mb\": %.2f}\n",
                   path ? "tiled" : "plain", (long long)batch, (long long)T, heads, (long long)D, causal,
                   path ? tile : 0, threads, 1e3 * times[runs / 2], (double)peak / 1048576.0);
            fflush(stdout);
        }
    return 0;
}
