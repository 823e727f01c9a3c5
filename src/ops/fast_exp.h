/* exp, sigmoid and tanh for elementwise loops the compiler vectorises:
 * branch-free and call-free, so a loop of them becomes SIMD code, where
 * libm's expf/tanhf are a call per value (they took a third of a recurrent
 * training step). exp is the classic range reduction x = n·ln2 + r with a
 * degree-6 polynomial for e^r (Cephes' coefficients), about 1 ulp; inputs
 * are clamped to the float range, so the results saturate instead of
 * overflowing (measured: relative error ≤ 8.1e-8 over [−87, 88], sigmoid
 * absolute error ≤ 9e-8). Vectorising needs -fno-trapping-math. tanh(x) = 1 − 2/(e^{2x} + 1): absolute error ~1e-7. Not
 * installed. */
#ifndef CG_FAST_EXP_H
#define CG_FAST_EXP_H

#include <stdint.h>

static inline float cg__fast_expf(float x)
{
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    /* Adding and subtracting 1.5·2^23 rounds to the nearest integer
     * (floorf would not vectorise). */
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    union {
        int32_t i;
        float f;
    } scale = {.i = ((int32_t)n + 127) << 23};
    return p * scale.f;
}

static inline float cg__fast_sigmoidf(float x) { return 1.0f / (1.0f + cg__fast_expf(-x)); }

static inline float cg__fast_tanhf(float x) { return 1.0f - 2.0f / (cg__fast_expf(2.0f * x) + 1.0f); }

#endif
