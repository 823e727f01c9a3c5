/* Pointwise activation math, forward and derivative side by side. */
#include "activation_kernels.h"

#include "fast_exp.h"

#include <math.h>

#define SOFTPLUS_THRESHOLD 20.0f /* torch.nn.Softplus: linear above beta*x > 20 */

static inline float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

/* The loops below go parallel from 8192 values: a batch-64 layer of 256
 * units (16384 values) is then split across threads, which took ~10% off a
 * W1 training step on 2 cores (below that, waking the team costs more than
 * it saves). */

/* Writes dx = g (or adds) for n values; g computed by EXPR from index i. */
#define STORE_GRAD(dx, n, accumulate, EXPR)                                          \
    do {                                                                             \
        if (accumulate) {                                                            \
            _Pragma("omp parallel for simd schedule(static) if (n > 8192)")         \
            for (int64_t i = 0; i < (n); i++) (dx)[i] += (EXPR);                     \
        } else {                                                                     \
            _Pragma("omp parallel for simd schedule(static) if (n > 8192)")         \
            for (int64_t i = 0; i < (n); i++) (dx)[i] = (EXPR);                      \
        }                                                                            \
    } while (0)

/* y = f(x + bias) row by row; F is an expression in v. */
#define FORWARD_ROWS(F)                                                              \
    do {                                                                             \
        _Pragma("omp parallel for schedule(static) if (rows * cols > 8192)")        \
        for (int64_t r = 0; r < rows; r++) {                                         \
            const float *xr = x + r * cols;                                          \
            float *yr = y + r * cols;                                                \
            if (bias) {                                                              \
                for (int64_t c = 0; c < cols; c++) {                                 \
                    float v = xr[c] + bias[c];                                       \
                    yr[c] = (F);                                                     \
                }                                                                    \
            } else {                                                                 \
                for (int64_t c = 0; c < cols; c++) {                                 \
                    float v = xr[c];                                                 \
                    yr[c] = (F);                                                     \
                }                                                                    \
            }                                                                        \
        }                                                                            \
    } while (0)

void cg__act_forward(cg_activation act, const float *x, const float *bias, float *y,
                     int64_t rows, int64_t cols)
{
    switch (act) {
    case CG_ACT_NONE: FORWARD_ROWS(v); break;
    case CG_ACT_RELU: FORWARD_ROWS(v > 0.0f ? v : 0.0f); break;
    case CG_ACT_SIGMOID: FORWARD_ROWS(sigmoidf(v)); break;
    case CG_ACT_TANH: FORWARD_ROWS(tanhf(v)); break;
    case CG_ACT_LEAKY_RELU: FORWARD_ROWS(v > 0.0f ? v : CG_LEAKY_RELU_DEFAULT_SLOPE * v); break;
    case CG_ACT_ELU: FORWARD_ROWS(v > 0.0f ? v : CG_ELU_DEFAULT_ALPHA * expm1f(v)); break;
    /* gelu(v) = v·Φ(v) = v/2·(1 + erf(v/√2)) */
    case CG_ACT_GELU: FORWARD_ROWS(0.5f * v * (1.0f + cg__fast_erff(v * (float)M_SQRT1_2))); break;
    case CG_ACT_SOFTPLUS:
        FORWARD_ROWS(v > SOFTPLUS_THRESHOLD ? v : log1pf(expf(v)));
        break;
    }
}

void cg__act_backward(cg_activation act, const float *x, const float *y, const float *dy,
                      float *dx, int64_t n, bool accumulate)
{
    switch (act) {
    case CG_ACT_NONE: STORE_GRAD(dx, n, accumulate, dy[i]); break;
    /* relu' = [y > 0] */
    case CG_ACT_RELU: STORE_GRAD(dx, n, accumulate, y[i] > 0.0f ? dy[i] : 0.0f); break;
    /* σ' = y(1-y) */
    case CG_ACT_SIGMOID: STORE_GRAD(dx, n, accumulate, dy[i] * y[i] * (1.0f - y[i])); break;
    /* tanh' = 1 - y² */
    case CG_ACT_TANH: STORE_GRAD(dx, n, accumulate, dy[i] * (1.0f - y[i] * y[i])); break;
    case CG_ACT_LEAKY_RELU:
        cg__leaky_relu_backward(y, dy, dx, n, CG_LEAKY_RELU_DEFAULT_SLOPE, accumulate);
        break;
    case CG_ACT_ELU: cg__elu_backward(y, dy, dx, n, CG_ELU_DEFAULT_ALPHA, accumulate); break;
    /* gelu' = Φ(x) + x·φ(x) */
    case CG_ACT_GELU:
        STORE_GRAD(dx, n, accumulate,
                   dy[i] * (0.5f * (1.0f + cg__fast_erff(x[i] * (float)M_SQRT1_2)) +
                            x[i] * cg__fast_expf(-0.5f * x[i] * x[i]) *
                                (float)(0.5 * M_2_SQRTPI * M_SQRT1_2)));
        break;
    /* softplus' = σ(x) = 1 - e^(-y) */
    case CG_ACT_SOFTPLUS: STORE_GRAD(dx, n, accumulate, dy[i] * -expm1f(-y[i])); break;
    }
}

void cg__leaky_relu_forward(const float *x, float *y, int64_t n, float slope)
{
#pragma omp parallel for simd schedule(static) if (n > 8192)
    for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : slope * x[i];
}

/* The sign of y equals the sign of x for a positive slope. */
void cg__leaky_relu_backward(const float *y, const float *dy, float *dx, int64_t n,
                             float slope, bool accumulate)
{
    STORE_GRAD(dx, n, accumulate, y[i] > 0.0f ? dy[i] : slope * dy[i]);
}

void cg__elu_forward(const float *x, float *y, int64_t n, float alpha)
{
#pragma omp parallel for simd schedule(static) if (n > 8192)
    for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : alpha * expm1f(x[i]);
}

/* elu'(x) = 1 for x > 0, else alpha·e^x = y + alpha. */
void cg__elu_backward(const float *y, const float *dy, float *dx, int64_t n, float alpha,
                      bool accumulate)
{
    STORE_GRAD(dx, n, accumulate, y[i] > 0.0f ? dy[i] : dy[i] * (y[i] + alpha));
}
