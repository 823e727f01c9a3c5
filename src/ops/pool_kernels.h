/* Max pooling as pieces, for an op that pools its own output while it is
 * still in cache (conv.c's conv2d + maxpool2d, one pass per sample): the
 * geometry check and the planes of one sample, bit for bit the op's. */
#ifndef CG_POOL_KERNELS_H
#define CG_POOL_KERNELS_H

#include "internal.h"

typedef struct cg__pool_geom {
    int64_t planes;              /* N·C */
    int64_t H, W, Ho, Wo;
    int64_t kh, kw, sh, sw, ph, pw;
} cg__pool_geom;

/* cg_maxpool2d's checks for an input of shape [N, C, H, W] (x: the tensor
 * named in messages); false with CG_ERR_ARG set. */
bool cg__maxpool_geometry(const cg_tensor *x, const int64_t kernel[2], const int64_t stride[2],
                          const int64_t padding[2], cg__pool_geom *g);
/* y, and argmax when not NULL, of `planes` consecutive [H, W] planes of x,
 * on the calling thread. */
void cg__maxpool_planes(const cg__pool_geom *g, const float *x, float *y, int32_t *argmax,
                        int64_t planes);

#endif
