/* The fuzz targets that link the whole library are built without OpenMP
 * (clang finds no omp.h); threads.c's functions then have nothing to set:
 * everything runs on one thread. */
#include "internal.h"

void cg_set_num_threads(int n) { (void)n; }

int cg_get_num_threads(void) { return 1; }

int cg__plan_threads(void) { return 1; }

void cg__use_threads(int n) { (void)n; }

void cg__threads_init(void) {}
