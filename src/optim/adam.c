/* Adam and AdamW, as torch.optim's single-tensor (foreach=False) path:
 * eps is added after dividing √v by √(1−β2ᵗ), not to √v̂ of the paper, and
 * AdamW decays the weights by lr·wd before the moment update. Scalars are
 * formed in double, as Python does, and rounded to float at the kernel. */
#include "optim_internal.h"

#include <math.h>
#include <stdbool.h>

static cg_status adam_validate(const cg_optim_config *c)
{
    const char *name = c->kind == CG_OPTIM_ADAMW ? "adamw" : "adam";
    if (!cg__optim_check_unit(name, "beta1", c->beta1, false)) return CG_ERR_ARG;
    if (!cg__optim_check_unit(name, "beta2", c->beta2, false)) return CG_ERR_ARG;
    if (!cg__optim_check_nonneg(name, "eps", c->eps)) return CG_ERR_ARG;
    return CG_OK;
}

static size_t adam_state_names(const cg_optim_config *c, const char **names)
{
    names[0] = "exp_avg";
    names[1] = "exp_avg_sq";
    if (!c->amsgrad) return 2;
    names[2] = "max_exp_avg_sq";
    return 3;
}

/* Per-step scalars, the way torch computes them before calling the kernels. */
typedef struct adam_scalars {
    float b1, one_minus_b1, b2, one_minus_b2;
    float neg_step_size;  /* −lr/(1−β1ᵗ) */
    float bc2_sqrt;       /* √(1−β2ᵗ) */
    float eps;
    float l2;             /* Adam: wd folded into the gradient; AdamW: 0 */
    float decay;          /* AdamW: 1 − lr·wd; Adam: 1 */
} adam_scalars;

static adam_scalars adam_scalars_at(const cg_optim_config *c, int64_t t)
{
    double b1 = c->beta1, b2 = c->beta2, lr = c->lr, wd = c->weight_decay;
    bool decoupled = c->kind == CG_OPTIM_ADAMW;
    return (adam_scalars){
        .b1 = c->beta1,
        .one_minus_b1 = (float)(1.0 - b1),
        .b2 = c->beta2,
        .one_minus_b2 = (float)(1.0 - b2),
        .neg_step_size = (float)(-(lr / (1.0 - pow(b1, (double)t)))),
        .bc2_sqrt = (float)sqrt(1.0 - pow(b2, (double)t)),
        .eps = c->eps,
        .l2 = decoupled ? 0.0f : c->weight_decay,
        .decay = decoupled ? (float)(1.0 - lr * wd) : 1.0f,
    };
}

/* g += wd·p (Adam) or p *= 1 − lr·wd (AdamW);
 * m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²;  [v̂max = max(v̂max, v)]
 * p −= lr/(1−β1ᵗ) · m / (√v / √(1−β2ᵗ) + ε) */
static void adam_step(cg_optim *opt)
{
    float *p = cg_params_data(opt->params);
    const float *g = cg_params_grad(opt->params);
    float *m = opt->state[0], *v = opt->state[1];
    float *vmax = opt->cfg.amsgrad ? opt->state[2] : NULL;
    const bool amsgrad = vmax != NULL;
    const adam_scalars s = adam_scalars_at(&opt->cfg, opt->steps + 1);
    /* Plain locals: gcc does not vectorise loads from a struct the OpenMP
     * region captured by reference. */
    const float b1 = s.b1, c1 = s.one_minus_b1, b2 = s.b2, c2 = s.one_minus_b2;
    const float neg_step = s.neg_step_size, bc2_sqrt = s.bc2_sqrt, eps = s.eps;
    const float l2 = s.l2, decay = s.decay;
    const int64_t n = opt->numel;
    /* no_decay values: as torch's parameter group with weight_decay 0. */
    const unsigned char *off = opt->no_decay;
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; i++) {
        const bool skip = off && off[i];
        float pi = skip ? p[i] : p[i] * decay;
        float gi = skip ? g[i] : g[i] + l2 * pi;
        float mi = m[i] * b1 + c1 * gi;
        float vi = v[i] * b2 + c2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        if (amsgrad) {
            vi = fmaxf(vmax[i], vi);
            vmax[i] = vi;
        }
        float denom = sqrtf(vi) / bc2_sqrt + eps;
        p[i] = pi + neg_step * mi / denom;
    }
}

const cg_optim_rule cg__optim_adam = {
    .kind = CG_OPTIM_ADAM,
    .name = "adam",
    .validate = adam_validate,
    .state_names = adam_state_names,
    .state_init = cg__optim_state_zero,
    .step = adam_step,
};

const cg_optim_rule cg__optim_adamw = {
    .kind = CG_OPTIM_ADAMW,
    .name = "adamw",
    .validate = adam_validate,
    .state_names = adam_state_names,
    .state_init = cg__optim_state_zero,
    .step = adam_step,
};
