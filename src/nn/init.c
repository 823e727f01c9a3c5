/* Weight initialisers with torch.nn.init's formulas (the random streams
 * differ from PyTorch's; the distributions are the same). */
#include "internal.h"

#include <math.h>

void cg_init_constant(cg_tensor *t, float value)
{
    if (!t) return;
    for (int64_t i = 0; i < t->size; i++) t->data[i] = value;
}

void cg_init_uniform(cg_tensor *t, float lo, float hi, cg_rng *rng)
{
    if (!t || !rng) return;
    for (int64_t i = 0; i < t->size; i++) t->data[i] = lo + (hi - lo) * cg_rng_uniform(rng);
}

void cg_init_normal(cg_tensor *t, float mean, float std, cg_rng *rng)
{
    if (!t || !rng) return;
    for (int64_t i = 0; i < t->size; i++) t->data[i] = mean + std * cg_rng_normal(rng);
}

cg_status cg_fan_in_out(const cg_tensor *t, int64_t *fan_in, int64_t *fan_out)
{
    if (!t || !fan_in || !fan_out) return cg_set_error(CG_ERR_ARG, "fan in/out: NULL argument");
    if (t->ndim < 2)
        return cg_set_error(CG_ERR_ARG, "fan in/out needs a tensor of rank >= 2, got rank %d",
                            t->ndim);
    int64_t receptive = 1;
    for (int i = 2; i < t->ndim; i++) receptive *= t->shape[i];
    *fan_in = t->shape[1] * receptive;
    *fan_out = t->shape[0] * receptive;
    return CG_OK;
}

/* torch.nn.init.calculate_gain("leaky_relu", a). */
static float leaky_relu_gain(float a) { return sqrtf(2.0f / (1.0f + a * a)); }

cg_status cg_init_kaiming_uniform(cg_tensor *t, float a, cg_rng *rng)
{
    int64_t fan_in, fan_out;
    cg_status s = cg_fan_in_out(t, &fan_in, &fan_out);
    if (s != CG_OK) return s;
    float bound = sqrtf(3.0f) * leaky_relu_gain(a) / sqrtf((float)fan_in);
    cg_init_uniform(t, -bound, bound, rng);
    return CG_OK;
}

cg_status cg_init_kaiming_normal(cg_tensor *t, float a, cg_rng *rng)
{
    int64_t fan_in, fan_out;
    cg_status s = cg_fan_in_out(t, &fan_in, &fan_out);
    if (s != CG_OK) return s;
    cg_init_normal(t, 0.0f, leaky_relu_gain(a) / sqrtf((float)fan_in), rng);
    return CG_OK;
}

cg_status cg_init_xavier_uniform(cg_tensor *t, float gain, cg_rng *rng)
{
    int64_t fan_in, fan_out;
    cg_status s = cg_fan_in_out(t, &fan_in, &fan_out);
    if (s != CG_OK) return s;
    float bound = sqrtf(3.0f) * gain * sqrtf(2.0f / (float)(fan_in + fan_out));
    cg_init_uniform(t, -bound, bound, rng);
    return CG_OK;
}

cg_status cg_init_xavier_normal(cg_tensor *t, float gain, cg_rng *rng)
{
    int64_t fan_in, fan_out;
    cg_status s = cg_fan_in_out(t, &fan_in, &fan_out);
    if (s != CG_OK) return s;
    cg_init_normal(t, 0.0f, gain * sqrtf(2.0f / (float)(fan_in + fan_out)), rng);
    return CG_OK;
}
