/* One thread count for our OpenMP loops and for OpenBLAS (the OpenMP build
 * of OpenBLAS shares the pool, so the two never oversubscribe the cores).
 * OpenMP itself holds the setting; we keep no copy. */
#include "internal.h"

#include <cblas.h>
#include <omp.h>

void cg_set_num_threads(int n)
{
    if (n <= 0) n = omp_get_num_procs();
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}

int cg_get_num_threads(void) { return omp_get_max_threads(); }
