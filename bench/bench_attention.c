/* The attention op's two paths side by side: the plain one (one [T, T]
 * GEMM per head, the weights kept for backward) and the tiled one (online
 * softmax over key blocks, only a log-sum-exp per row kept). For each
 * sequence length: forward + backward time (median of runs) and the
 * arena's high-water mark of a training step (qkv and its gradient, the
 * output and its gradient, what the op keeps, backward scratch), as JSON
 * lines. Never part of the tests. --length T runs that length only (else
 * 128, 256, ..., 4096), --batch N sequences at once (W5's attention: --batch
 * 32 --length 64 --heads 4 --dim 128); --path plain or tiled runs one path.
 *   bench_attention [--threads N] [--runs N] [--heads H] [--dim D] [--tile B] [--causal 0|1]
 *                   [--length T] [--batch N] [--path plain|tiled]
 */
#include "cgrad.h"

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

int main(int argc, char **argv)
{
    int threads = 1, runs = 3, heads = 4, tile = 64, causal = 1;
    int64_t D = 128, length = 0, batch = 1;
    const char *only = NULL;
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
    }
#ifdef _OPENMP
    omp_set_num_threads(threads);
#endif
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
