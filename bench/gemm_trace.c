/* GEMM trace for the benchmark's GEMM limit (bench/gemm_limit.c): loaded
 * with LD_PRELOAD in front of the BLAS, it records every cblas_sgemm call a
 * cgrad program makes (transposes, shapes, leading dimensions, beta, whether
 * it ran inside an OpenMP parallel region and on which thread, start and end
 * time) and passes it on to the real one. bench_train marks the end of each
 * optimizer step through gemm_trace_mark (found with dlsym, so it runs
 * unchanged without the trace). At exit the records go to $CG_GEMM_TRACE
 * (default gemm-trace.txt), one line each:
 *   G ta tb M N K lda ldb ldc beta in_parallel thread t_start t_end
 *   S step t
 * Whatever file issues a GEMM (matmul, conv, attention) is seen. The
 * recurrent layers' per-step products run on cgrad's own kernel for a
 * right operand packed once (src/ops/panel_gemm.c); it reports each through
 * cg_gemm_trace_product, which only this trace defines, and they are
 * recorded as the sgemm calls they replace (A·B, B as [K, N]), so the
 * limit still covers every product of the step at the BLAS's speed. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <omp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* CBLAS's signature with its enums as int and 32-bit integers (LP64), as
 * OpenBLAS and MKL's libmkl_rt both export it: the trace needs neither's
 * header. */
enum { NO_TRANS = 111 };
typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *,
                         int, float, float *, int);
void cblas_sgemm(int order, int ta, int tb, int m, int n, int k, float alpha, const float *a,
                 int lda, const float *b, int ldb, float beta, float *c, int ldc);

typedef struct record {
    char kind;          /* 'G' a call, 'S' the end of a step */
    char ta, tb, par;
    int m, n, k, lda, ldb, ldc, thread;
    float beta;
    long long step;
    double t0, t1;
} record;

enum { CAPACITY = 1 << 20 };
static record *records;
static atomic_long count;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Allocated before main: the first call may come from several threads. */
__attribute__((constructor)) static void start(void)
{
    records = calloc(CAPACITY, sizeof *records);
}

static record *next(void)
{
    long i = atomic_fetch_add(&count, 1);
    return records && i < CAPACITY ? &records[i] : NULL;
}

void gemm_trace_mark(long long step);
void gemm_trace_mark(long long step)
{
    record *r = next();
    if (r) *r = (record){.kind = 'S', .step = step, .t0 = now()};
}

void cblas_sgemm(int order, int ta, int tb, int m, int n, int k, float alpha, const float *a,
                 int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    static sgemm_fn real;
    if (!real) real = (sgemm_fn)dlsym(RTLD_NEXT, "cblas_sgemm");
    double t0 = now();
    real(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    double t1 = now();
    record *r = next();
    if (r)
        *r = (record){.kind = 'G', .ta = ta != NO_TRANS, .tb = tb != NO_TRANS,
                      .par = (char)omp_in_parallel(), .m = m, .n = n, .k = k, .lda = lda,
                      .ldb = ldb, .ldc = ldc, .thread = omp_get_thread_num(), .beta = beta,
                      .t0 = t0, .t1 = t1};
}

void cg_gemm_trace_product(int m, int n, int k, int lda, int ldc, int acc, double t0, double t1);
void cg_gemm_trace_product(int m, int n, int k, int lda, int ldc, int acc, double t0, double t1)
{
    record *r = next();
    if (r)
        *r = (record){.kind = 'G', .par = (char)omp_in_parallel(), .m = m, .n = n, .k = k,
                      .lda = lda, .ldb = n, .ldc = ldc, .thread = omp_get_thread_num(),
                      .beta = acc ? 1.0f : 0.0f, .t0 = t0, .t1 = t1};
}

__attribute__((destructor)) static void finish(void)
{
    const char *path = getenv("CG_GEMM_TRACE");
    FILE *f = fopen(path ? path : "gemm-trace.txt", "w");
    if (!f || !records) return;
    long n = atomic_load(&count);
    if (n > CAPACITY) n = CAPACITY;
    for (long i = 0; i < n; i++) {
        const record *r = &records[i];
        if (r->kind == 'S')
            fprintf(f, "S %lld %.9f\n", r->step, r->t0);
        else if (r->kind == 'G')
            fprintf(f, "G %d %d %d %d %d %d %d %d %g %d %d %.9f %.9f\n", r->ta, r->tb, r->m, r->n,
                    r->k, r->lda, r->ldb, r->ldc, (double)r->beta, r->par, r->thread, r->t0,
                    r->t1);
    }
    fclose(f);
}
