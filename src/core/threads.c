/* One thread count for our OpenMP loops and for OpenBLAS (the OpenMP build
 * of OpenBLAS shares the pool, so the two never oversubscribe the cores).
 * OpenMP itself holds the setting; we keep no copy. */
#include "internal.h"

#include <cblas.h>
#include <omp.h>
#include <stdlib.h>

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

void cg_set_num_threads(int n)
{
    if (n <= 0) n = default_threads();
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}

int cg_get_num_threads(void) { return omp_get_max_threads(); }
