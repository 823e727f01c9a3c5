/* What ops/conv.c offers besides the public cg_conv2d: the convolution with
 * the max pooling that follows it done in the same pass over each sample
 * (the conv2d layer's step when a maxpool2d layer is its only user). */
#ifndef CG_OPS_CONV_H
#define CG_OPS_CONV_H

#include "internal.h"

/* cg_maxpool2d(cg_conv2d(x, weight, bias, params), kernel, stride, padding),
 * bit for bit, and recorded as those two ops; each sample's convolution is
 * pooled while it is in cache and, when nothing records, never stored
 * whole. params->activation must be CG_ACT_NONE or CG_ACT_RELU. */
cg_tensor *cg__conv2d_maxpool(cg_ctx *ctx, cg_tensor *x, cg_tensor *weight, cg_tensor *bias,
                              const cg_conv2d_params *params, const int64_t kernel[2],
                              const int64_t stride[2], const int64_t padding[2]);

#endif
