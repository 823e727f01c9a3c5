/* The fuzz targets that link the whole library are built without OpenMP
 * (clang finds no omp.h); threads.c's two functions then have nothing to
 * set: everything runs on one thread. */
#include "cgrad.h"

void cg_set_num_threads(int n) { (void)n; }

int cg_get_num_threads(void) { return 1; }
