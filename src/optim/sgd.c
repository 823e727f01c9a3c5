/* SGD with momentum, dampening, Nesterov and L2 weight decay, as
 * torch.optim.SGD (single-tensor path). Scalars are formed in double, as
 * Python does, and rounded to float where torch hands them to a kernel. */
#include "optim_internal.h"

static cg_status sgd_validate(const cg_optim_config *c)
{
    if (!cg__optim_check_nonneg("sgd", "momentum", c->momentum)) return CG_ERR_ARG;
    if (!cg__optim_check_unit("sgd", "dampening", c->dampening, true)) return CG_ERR_ARG;
    if (c->nesterov && (c->momentum <= 0.0f || c->dampening != 0.0f))
        return cg_set_error(CG_ERR_ARG,
                            "cg_optim_create: sgd: nesterov requires momentum > 0 and "
                            "dampening = 0 (got momentum %g, dampening %g)",
                            (double)c->momentum, (double)c->dampening);
    return CG_OK;
}

static size_t sgd_state_names(const cg_optim_config *c, const char **names)
{
    if (c->momentum == 0.0f) return 0;
    names[0] = "momentum_buffer";
    return 1;
}

/* p −= lr·(g + wd·p) */
static void sgd_plain(float *p, const float *g, int64_t n, float lr, float wd)
{
    const float neg_lr = -lr;
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float d = g[i] + wd * p[i];
        p[i] = p[i] + neg_lr * d;
    }
}

/* d = g + wd·p;  b = μ·b + (1−τ)·d (b = d on the first step);
 * p −= lr·(nesterov ? d + μ·b : b) */
static void sgd_momentum(cg_optim *opt, float *p, const float *g, int64_t n)
{
    const cg_optim_config *c = &opt->cfg;
    float *buf = opt->state[0];
    const float mu = c->momentum, wd = c->weight_decay, neg_lr = -c->lr;
    const float keep = (float)(1.0 - (double)c->dampening);
    const bool first = opt->steps == 0, nesterov = c->nesterov;
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float d = g[i] + wd * p[i];
        float b = first ? d : buf[i] * mu + keep * d;
        buf[i] = b;
        float u = nesterov ? d + mu * b : b;
        p[i] = p[i] + neg_lr * u;
    }
}

static void sgd_step(cg_optim *opt)
{
    float *p = cg_params_data(opt->params);
    const float *g = cg_params_grad(opt->params);
    if (opt->cfg.momentum == 0.0f)
        sgd_plain(p, g, opt->numel, opt->cfg.lr, opt->cfg.weight_decay);
    else
        sgd_momentum(opt, p, g, opt->numel);
}

const cg_optim_rule cg__optim_sgd = {
    .kind = CG_OPTIM_SGD,
    .name = "sgd",
    .validate = sgd_validate,
    .state_names = sgd_state_names,
    .state_init = cg__optim_state_zero,
    .step = sgd_step,
};
