/* OpenBLAS's thread-count call on top of MKL (-DCG_BLAS=mkl), and MKL put
 * on GNU OpenMP: its default, Intel's libiomp5, would be a second thread
 * pool beside libgomp's, and the two would oversubscribe the cores. */
#include "cblas.h"

#include <mkl_service.h>

void openblas_set_num_threads(int n) { mkl_set_num_threads(n); }

/* Before any other MKL call, as MKL requires. */
__attribute__((constructor)) static void use_gnu_openmp(void)
{
    mkl_set_threading_layer(MKL_THREADING_GNU);
}
