/* RMSprop, as torch.optim.RMSprop (single-tensor path): eps is added to the
 * root of the (centered) average, and momentum accumulates g/denominator. */
#include "optim_internal.h"

#include <math.h>

static cg_status rmsprop_validate(const cg_optim_config *c)
{
    if (!cg__optim_check_unit("rmsprop", "alpha", c->alpha, true)) return CG_ERR_ARG;
    if (!cg__optim_check_nonneg("rmsprop", "eps", c->eps)) return CG_ERR_ARG;
    if (!cg__optim_check_nonneg("rmsprop", "momentum", c->momentum)) return CG_ERR_ARG;
    return CG_OK;
}

static size_t rmsprop_state_names(const cg_optim_config *c, const char **names)
{
    size_t n = 0;
    names[n++] = "square_avg";
    if (c->momentum > 0.0f) names[n++] = "momentum_buffer";
    if (c->centered) names[n++] = "grad_avg";
    return n;
}

/* g += wd·p;  v = α·v + (1−α)·g²;  [c = α·c + (1−α)·g;  v −→ v − c²]
 * d = √v + ε;  with momentum: b = μ·b + g/d, p −= lr·b;  else p −= lr·g/d */
static void rmsprop_step(cg_optim *opt)
{
    const cg_optim_config *c = &opt->cfg;
    float *p = cg_params_data(opt->params);
    const float *g = cg_params_grad(opt->params);
    float *sq = cg__optim_state(opt, "square_avg");
    float *buf = cg__optim_state(opt, "momentum_buffer");
    float *gavg = cg__optim_state(opt, "grad_avg");
    const bool momentum = buf != NULL, centered = gavg != NULL;
    const float alpha = c->alpha, one_minus_alpha = (float)(1.0 - (double)c->alpha);
    const float wd = c->weight_decay, eps = c->eps, mu = c->momentum, neg_lr = -c->lr;
    const int64_t n = opt->numel;
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float gi = g[i] + wd * p[i];
        float vi = sq[i] * alpha + one_minus_alpha * gi * gi;
        sq[i] = vi;
        if (centered) {
            float ci = gavg[i] * alpha + one_minus_alpha * gi;
            gavg[i] = ci;
            vi = vi + -1.0f * ci * ci;
        }
        float d = sqrtf(vi) + eps;
        if (momentum) {
            float b = buf[i] * mu + gi / d;
            buf[i] = b;
            p[i] = p[i] + neg_lr * b;
        } else {
            p[i] = p[i] + neg_lr * gi / d;
        }
    }
}

const cg_optim_rule cg__optim_rmsprop = {
    .kind = CG_OPTIM_RMSPROP,
    .name = "rmsprop",
    .validate = rmsprop_validate,
    .state_names = rmsprop_state_names,
    .state_init = cg__optim_state_zero,
    .step = rmsprop_step,
};
