/* With -DCG_BLAS=mkl, cgrad's `#include <cblas.h>` finds this header: MKL's
 * CBLAS, plus the one OpenBLAS function the sources call, which
 * openblas_compat.c implements with MKL's. */
#ifndef CG_MKL_CBLAS_H
#define CG_MKL_CBLAS_H
#include <mkl_cblas.h>

void openblas_set_num_threads(int n);

#endif
