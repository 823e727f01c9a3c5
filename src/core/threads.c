/* Threads: the count the user plans (cg_set_num_threads) and the count
 * running now.
 *
 * The planned count decides how work is cut (ops/gemm.c), and so the bits
 * of every result; the running count may be lower for a while (the
 * training loop's governor drops to fewer threads when the cores are busy),
 * which changes only the speed. BLAS always runs on one thread: all
 * parallelism is ours, in OpenMP loops whose results do not depend on the
 * number of threads running them. */
#include "internal.h"

#include <cblas.h>
#include <omp.h>
#include <stdlib.h>

static int planned; /* 0: not set, follow OpenMP's own default */

/* OMP_NUM_THREADS when it holds a positive count (what a batch scheduler or
 * a user sharing the machine sets), else every core. */
static int default_threads(void)
{
    const char *env = getenv("OMP_NUM_THREADS");
    char *end;
    long n = env ? strtol(env, &end, 10) : 0;
    if (env && end != env && (*end == '\0' || *end == ',') && n > 0 && n <= 4096) return (int)n;
    return omp_get_num_procs();
}

void cg__threads_init(void)
{
    static bool done;
    if (done) return;
    openblas_set_num_threads(1);
    done = true;
}

void cg_set_num_threads(int n)
{
    if (n <= 0) n = default_threads();
    cg__threads_init();
    planned = n;
    omp_set_num_threads(n);
}

int cg_get_num_threads(void) { return cg__plan_threads(); }

int cg__plan_threads(void) { return planned > 0 ? planned : omp_get_max_threads(); }

void cg__use_threads(int n)
{
    int plan = cg__plan_threads();
    omp_set_num_threads(n < 1 ? 1 : n > plan ? plan : n);
}
