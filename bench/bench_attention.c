/* The attention op's two paths side by side: the plain one (one [T, T]
 * GEMM per head, the weights kept for backward) and the tiled one (online
 * softmax over key blocks, only a log-sum-exp per row kept). For each
 * sequence length: forward + backward time (median of runs) and the
 * arena's high-water mark of a training step (qkv and its gradient, the
 * output and its gradient, what the op keeps, backward scratch), as JSON
 * lines. Never part of the tests.
 *   bench_attention [--threads N] [--runs N] [--heads H] [--dim D] [--tile B] [--causal 0|1]
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

/* One step at length T; returns seconds, peak arena bytes in *peak. */
static double step(int64_t T, int heads, int64_t D, int tile, int causal, size_t *peak)
{
    cg_ctx *ctx = cg_ctx_create(0);
    cg_rng rng;
    cg_rng_seed(&rng, 1);
    cg_tensor *qkv = cg_tensor_new(ctx, 3, (int64_t[]){1, T, 3 * D});
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
    double s = now() - t0;
    *peak = cg_ctx_arena_peak(ctx);
    cg_ctx_destroy(ctx);
    return s;
}

int main(int argc, char **argv)
{
    int threads = 1, runs = 3, heads = 4, tile = 64, causal = 1;
    int64_t D = 128;
    for (int i = 1; i + 1 < argc; i += 2) {
        int v = atoi(argv[i + 1]);
        if (strcmp(argv[i], "--threads") == 0) threads = v;
        else if (strcmp(argv[i], "--runs") == 0) runs = v;
        else if (strcmp(argv[i], "--heads") == 0) heads = v;
        else if (strcmp(argv[i], "--dim") == 0) D = v;
        else if (strcmp(argv[i], "--tile") == 0) tile = v;
        else if (strcmp(argv[i], "--causal") == 0) causal = v;
    }
#ifdef _OPENMP
    omp_set_num_threads(threads);
#endif
    double times[16];
    for (int64_t T = 128; T <= 4096; T *= 2)
        for (int path = 0; path < 2; path++) {
            size_t peak = 0;
            for (int r = 0; r < runs && r < 16; r++)
                times[r] = step(T, heads, D, path ? tile : 0, causal, &peak);
            qsort(times, (size_t)(runs < 16 ? runs : 16), sizeof *times, cmp);
            printf("{\"op\": \"attention\", \"path\": \"%s\", \"T\": %lld, \"heads\": %d, \"dim\": %lld, "
                   "\"causal\": %d, \"tile\": %d, \"threads\": %d, \"fwd_bwd_ms\": %.2f, "
                   "\"peak_arena_mb\": %.2f}\n",
                   path ? "tiled" : "plain", (long long)T, heads, (long long)D, causal,
                   path ? tile : 0, threads, 1e3 * times[runs / 2], (double)peak / 1048576.0);
            fflush(stdout);
        }
    return 0;
}
