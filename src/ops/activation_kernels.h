/* Pointwise activation kernels shared by the standalone activation ops and
 * the fused dense op (matmul.c). The switch on the activation sits outside
 * the loops so each loop vectorises. */
#ifndef CG_ACTIVATION_KERNELS_H
#define CG_ACTIVATION_KERNELS_H

#include "internal.h"

/* Does the derivative need the pre-activation input? (Only GELU: every other
 * derivative is a function of the output, so the input need not be kept.) */
static inline bool cg__act_grad_needs_input(cg_activation act) { return act == CG_ACT_GELU; }

/* y[i] = act(x[i] + (bias ? bias[i % cols] : 0)) for n = rows*cols values;
 * x and y may alias. */
void cg__act_forward(cg_activation act, const float *x, const float *bias, float *y,
                     int64_t rows, int64_t cols);
/* dx[i] (=, or += when accumulate) dy[i]·act'(...) from the output y (or the
 * input x when cg__act_grad_needs_input). dx may alias dy when !accumulate. */
void cg__act_backward(cg_activation act, const float *x, const float *y, const float *dy,
                      float *dx, int64_t n, bool accumulate);

/* Parameterised variants used by the standalone ops. */
void cg__leaky_relu_forward(const float *x, float *y, int64_t n, float slope);
void cg__leaky_relu_backward(const float *y, const float *dy, float *dx, int64_t n,
                             float slope, bool accumulate);
void cg__elu_forward(const float *x, float *y, int64_t n, float alpha);
void cg__elu_backward(const float *y, const float *dy, float *dx, int64_t n, float alpha,
                      bool accumulate);

#endif
