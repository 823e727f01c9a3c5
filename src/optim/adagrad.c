/* Adagrad, as torch.optim.Adagrad (single-tensor, dense path). */
#include "optim_internal.h"

#include <math.h>
#include <string.h>

static cg_status adagrad_validate(const cg_optim_config *c)
{
    if (!cg__optim_check_nonneg("adagrad", "lr_decay", c->lr_decay)) return CG_ERR_ARG;
    if (!cg__optim_check_nonneg("adagrad", "initial_accumulator_value",
                                c->initial_accumulator_value))
        return CG_ERR_ARG;
    if (!cg__optim_check_nonneg("adagrad", "eps", c->eps)) return CG_ERR_ARG;
    return CG_OK;
}

static size_t adagrad_state_names(const cg_optim_config *c, const char **names)
{
    (void)c;
    names[0] = "sum";
    return 1;
}

static float adagrad_state_init(const cg_optim_config *c, const char *name)
{
    return strcmp(name, "sum") == 0 ? c->initial_accumulator_value : 0.0f;
}

/* g += wd·p;  s += g²;  p −= lr/(1 + (t−1)·lr_decay) · g/(√s + ε) */
static void adagrad_step(cg_optim *opt)
{
    const cg_optim_config *c = &opt->cfg;
    float *p = cg_params_data(opt->params);
    const float *g = cg_params_grad(opt->params);
    float *sum = opt->state[0];
    const int64_t t = opt->steps + 1;
    const float neg_clr = (float)(-((double)c->lr / (1.0 + (double)(t - 1) * c->lr_decay)));
    const float wd = c->weight_decay, eps = c->eps;
    const int64_t n = opt->numel;
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float gi = g[i] + wd * p[i];
        float si = sum[i] + gi * gi;
        sum[i] = si;
        p[i] = p[i] + neg_clr * gi / (sqrtf(si) + eps);
    }
}

const cg_optim_rule cg__optim_adagrad = {
    .kind = CG_OPTIM_ADAGRAD,
    .name = "adagrad",
    .validate = adagrad_validate,
    .state_names = adagrad_state_names,
    .state_init = adagrad_state_init,
    .step = adagrad_step,
};
