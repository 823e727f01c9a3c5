/* The GEMM limit of a training step: replays the cblas_sgemm calls of one
 * optimizer step, as a traced cgrad run issued them (bench/gemm_trace.c:
 * same transposes, shapes, leading dimensions and beta, in the same order),
 * with the same BLAS and thread count, and times them alone. Calls made
 * inside an OpenMP parallel region (conv's per-sample GEMMs) are replayed
 * inside one, each on the thread that made it, so the BLAS runs them
 * single-threaded as it did there. The step could not be faster than this
 * with these GEMMs; cgrad's fraction of the limit is replay time / step
 * time. Also reports, from the trace itself, the wall time the step spent
 * inside sgemm (any thread) and the traced step's own time.
 *   gemm_limit TRACE [--threads N] [--step K] [--units N] [--name W] [--shapes 1]
 *              [--seconds S]
 * --units: samples (or tokens) per step, for the limit in samples/s;
 * --step: the step to replay (default: the last complete one); --seconds:
 * replay for at least this long (default 1), and at least 15 times. One JSON
 * line. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cgrad.h"

/* CBLAS as OpenBLAS and MKL export it (see gemm_trace.c). */
void cblas_sgemm(int order, int ta, int tb, int m, int n, int k, float alpha, const float *a,
                 int lda, const float *b, int ldb, float beta, float *c, int ldc);
enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };

typedef struct call {
    int ta, tb, m, n, k, lda, ldb, ldc, par, thread;
    float beta;
    double t0, t1;
} call;

typedef struct step {
    call *calls;
    int n;
    double start, end;   /* the marks around it */
} step;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void fail(const char *msg, const char *arg)
{
    fprintf(stderr, "gemm_limit: %s%s\n", msg, arg ? arg : "");
    exit(1);
}

/* The calls between the marks of steps k-1 and k (k <= 0: the last
 * complete step). */
static step read_step(const char *path, long long k)
{
    FILE *f = fopen(path, "r");
    if (!f) fail("cannot open ", path);
    char line[512];
    long long last = -1, marks = 0;
    while (fgets(line, sizeof line, f))
        if (line[0] == 'S') last = atoll(line + 2), marks++;
    if (marks < 2) fail("fewer than two step marks in ", path);
    if (k <= 0 || k > last) k = last;
    rewind(f);
    step s = {0};
    int cap = 0;
    bool inside = false;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == 'S') {
            long long n;
            double t;
            if (sscanf(line, "S %lld %lf", &n, &t) != 2) continue;
            if (n == k - 1) inside = true, s.start = t;
            if (n == k) {
                s.end = t;
                break;
            }
            continue;
        }
        if (!inside || line[0] != 'G') continue;
        if (s.n == cap) {
            cap = cap ? 2 * cap : 256;
            s.calls = realloc(s.calls, (size_t)cap * sizeof *s.calls);
            if (!s.calls) fail("out of memory", NULL);
        }
        call *c = &s.calls[s.n];
        if (sscanf(line, "G %d %d %d %d %d %d %d %d %f %d %d %lf %lf", &c->ta, &c->tb, &c->m, &c->n,
                   &c->k, &c->lda, &c->ldb, &c->ldc, &c->beta, &c->par, &c->thread, &c->t0,
                   &c->t1) == 13)
            s.n++;
    }
    fclose(f);
    if (!s.n || s.end <= s.start) fail("no GEMM calls in the chosen step of ", path);
    return s;
}

static size_t size_a(const call *c) { return (size_t)(c->ta ? c->k : c->m) * (size_t)c->lda; }
static size_t size_b(const call *c) { return (size_t)(c->tb ? c->n : c->k) * (size_t)c->ldb; }
static size_t size_c(const call *c) { return (size_t)c->m * (size_t)c->ldc; }

typedef struct buffers {
    float *a, *b, *c;
} buffers;

static void run_call(const call *c, const buffers *w)
{
    cblas_sgemm(ROW_MAJOR, c->ta ? TRANS : NO_TRANS, c->tb ? TRANS : NO_TRANS, c->m, c->n, c->k,
                1.0f, w->a, c->lda, w->b, c->ldb, c->beta, w->c, c->ldc);
}

/* Calls i.. that ran inside one parallel region (consecutive in the trace),
 * each thread replaying its own. Returns the index after the group. */
static int run_group(const step *s, int i, const buffers *w, int threads)
{
    int end = i;
    while (end < s->n && s->calls[end].par) end++;
#pragma omp parallel num_threads(threads)
    {
        int t = omp_get_thread_num();
        for (int j = i; j < end; j++)
            if (s->calls[j].thread % threads == t) run_call(&s->calls[j], &w[t]);
    }
    return end;
}

static void replay(const step *s, const buffers *w, int threads)
{
    for (int i = 0; i < s->n;) {
        if (s->calls[i].par) {
            i = run_group(s, i, w, threads);
            continue;
        }
        run_call(&s->calls[i], &w[0]);
        i++;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Wall time during which some thread was inside sgemm (the union of the
 * calls' intervals). */
static double gemm_wall(const step *s)
{
    double *iv = malloc((size_t)s->n * 2 * sizeof *iv);
    if (!iv) fail("out of memory", NULL);
    for (int i = 0; i < s->n; i++) iv[2 * i] = s->calls[i].t0, iv[2 * i + 1] = s->calls[i].t1;
    /* Sort the intervals by start (pairs of doubles). */
    qsort(iv, (size_t)s->n, 2 * sizeof *iv, cmp_double);
    double total = 0.0, lo = iv[0], hi = iv[1];
    for (int i = 1; i < s->n; i++) {
        if (iv[2 * i] > hi) {
            total += hi - lo;
            lo = iv[2 * i];
        }
        if (iv[2 * i + 1] > hi) hi = iv[2 * i + 1];
    }
    free(iv);
    return total + (hi - lo);
}

static float *filled(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    if (!p) fail("out of memory", NULL);
    for (size_t i = 0; i < n; i++) p[i] = (float)((i * 2654435761u) % 1000) * 1e-4f - 0.05f;
    return p;
}

static bool same_shape(const call *a, const call *b)
{
    return a->ta == b->ta && a->tb == b->tb && a->m == b->m && a->n == b->n && a->k == b->k &&
           a->beta == b->beta && a->par == b->par;
}

/* The step's calls as traced, runs of one shape on one line. */
static void print_shapes(const step *s)
{
    for (int i = 0, j; i < s->n; i = j) {
        const call *c = &s->calls[i];
        double us = 0.0;
        for (j = i; j < s->n && same_shape(c, &s->calls[j]); j++)
            us += 1e6 * (s->calls[j].t1 - s->calls[j].t0);
        fprintf(stderr, "  %4d x %c%c M=%d N=%d K=%d beta=%g%s: %.1f us in the traced run\n", j - i,
                c->ta ? 'T' : 'N', c->tb ? 'T' : 'N', c->m, c->n, c->k, (double)c->beta,
                c->par ? " (in a parallel region)" : "", us);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) fail("usage: gemm_limit TRACE [--threads N] [--step K] [--units N] [--name W]", NULL);
    int threads = 2, shapes = 0;
    long long k = 0, units = 0;
    const char *name = "";
    double min_seconds = 1.0;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--step")) k = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--units")) units = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--name")) name = argv[i + 1];
        else if (!strcmp(argv[i], "--shapes")) shapes = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seconds")) min_seconds = atof(argv[i + 1]);
        else fail("unknown option ", argv[i]);
    }
    cg_set_num_threads(threads);
    step s = read_step(argv[1], k);
    size_t ma = 0, mb = 0, mc = 0;
    double flops = 0.0;
    for (int i = 0; i < s.n; i++) {
        const call *c = &s.calls[i];
        if (size_a(c) > ma) ma = size_a(c);
        if (size_b(c) > mb) mb = size_b(c);
        if (size_c(c) > mc) mc = size_c(c);
        flops += 2.0 * c->m * c->n * c->k;
    }
    buffers *w = malloc((size_t)threads * sizeof *w);
    if (!w) fail("out of memory", NULL);
    for (int t = 0; t < threads; t++) w[t] = (buffers){filled(ma), filled(mb), filled(mc)};
    if (shapes) print_shapes(&s);

    for (int r = 0; r < 3; r++) replay(&s, w, threads);
    enum { MAX_REPS = 400 };
    double times[MAX_REPS], spent = 0.0;
    int reps = 0;
    while (reps < MAX_REPS && (reps < 15 || spent < min_seconds)) {
        double t0 = now();
        replay(&s, w, threads);
        times[reps] = now() - t0;
        spent += times[reps++];
    }
    qsort(times, (size_t)reps, sizeof *times, cmp_double);
    double med = times[reps / 2];
    double step_s = s.end - s.start;
    printf("{\"workload\": \"%s\", \"threads\": %d, \"calls\": %d, \"gflop_per_step\": %.4f, "
           "\"replay_us\": %.1f, \"replay_min_us\": %.1f, \"replay_max_us\": %.1f, "
           "\"replay_gflops\": %.1f, \"traced_step_us\": %.1f, \"traced_gemm_wall_us\": %.1f",
           name, threads, s.n, flops * 1e-9, med * 1e6, times[0] * 1e6, times[reps - 1] * 1e6,
           flops / med * 1e-9, step_s * 1e6, gemm_wall(&s) * 1e6);
    if (units > 0) printf(", \"limit_per_s\": %.0f", (double)units / med);
    printf("}\n");
    for (int t = 0; t < threads; t++) free(w[t].a), free(w[t].b), free(w[t].c);
    free(w);
    free(s.calls);
    return 0;
}
