/* Pointwise activation math, forward and derivative side by side. */
#include "activation_kernels.h"

#include "fast_exp.h"

#include <math.h>

#define SOFTPLUS_THRESHOLD 20.0f /* torch.nn.Softplus: linear above beta*x > 20 */

static inline float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

/* C11 mode compiles a·b + c without contraction; where the CPU has FMA the
 * polynomials below ask for it (fmaf is then one instruction, elsewhere a
 * libm call, hence the test). */
#ifdef __FMA__
#define GELU_MADD(a, b, c) fmaf(a, b, c)
#else
#define GELU_MADD(a, b, c) ((a) * (b) + (c))
#endif

/* Exact GELU's Φ(x) = ½·erfc(−x/√2), with erfc(z) = t·P(t)·e^{−z²},
 * t = 1/(1 + p·z), z ≥ 0 (Abramowitz & Stegun 7.1.26, |error| ≤ 1.5e-7).
 * Unlike a fit of e^{P(t) − z²} its one exp is e^{−x²/2}, which the
 * derivative's φ(x) needs too: *e gets it. GELU forward and backward were
 * 9% of a Transformer step with two exps per value in backward. */
static inline float gelu_cdf(float x, float *e)
{
    const float z = fabsf(x) * (float)M_SQRT1_2;
    const float t = 1.0f / GELU_MADD(0.3275911f, z, 1.0f);
    float p = GELU_MADD(1.061405429f, t, -1.453152027f);
    p = GELU_MADD(p, t, 1.421413741f);
    p = GELU_MADD(p, t, -0.284496736f);
    p = GELU_MADD(p, t, 0.254829592f);
    *e = cg__fast_expf(-z * z);
    const float tail = 0.5f * t * p * *e; /* Φ(−|x|) */
    return x < 0.0f ? tail : 1.0f - tail;
}

/* gelu(x) = x·Φ(x) */
static inline float gelu(float x)
{
    float e;
    return x * gelu_cdf(x, &e);
}

/* gelu'(x) = Φ(x) + x·φ(x), φ(x) = e^{−x²/2}/√(2π) */
static inline float gelu_grad(float x)
{
    float e;
    const float cdf = gelu_cdf(x, &e);
    return GELU_MADD(x * e, (float)(0.5 * M_2_SQRTPI * M_SQRT1_2), cdf);
}

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
    case CG_ACT_GELU: FORWARD_ROWS(gelu(v)); break;
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
    case CG_ACT_GELU: STORE_GRAD(dx, n, accumulate, dy[i] * gelu_grad(x[i])); break;
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
