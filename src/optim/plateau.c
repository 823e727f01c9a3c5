/* ReduceLROnPlateau, step for step as torch.optim.lr_scheduler does it
 * (torch 1.13): the comparison against `best`, the bad-epoch count that
 * cooldown clears, and the reduction skipped when it would change the lr by
 * no more than eps = 1e-8. The lr is kept in double, as Python keeps
 * param_group["lr"], so a long run rounds exactly as torch's does. */
#include "internal.h"

#include <math.h>

#define PLATEAU_EPS 1e-8

cg_plateau_config cg_plateau_defaults(void)
{
    return (cg_plateau_config){.factor = 0.1, .patience = 10, .threshold = 1e-4};
}

cg_status cg_plateau_check(const cg_plateau_config *c)
{
    if (!c) return cg_set_error(CG_ERR_ARG, "schedule plateau: NULL config");
    if (!(c->factor >= 0.0 && c->factor < 1.0))
        return cg_set_error(CG_ERR_ARG, "schedule plateau: factor must be in [0, 1), got %g",
                            c->factor);
    if (c->patience < 0)
        return cg_set_error(CG_ERR_ARG, "schedule plateau: patience must be >= 0, got %lld",
                            (long long)c->patience);
    if (!(c->threshold >= 0.0 && isfinite(c->threshold)))
        return cg_set_error(CG_ERR_ARG,
                            "schedule plateau: threshold must be finite and >= 0, got %g",
                            c->threshold);
    if (c->cooldown < 0)
        return cg_set_error(CG_ERR_ARG, "schedule plateau: cooldown must be >= 0, got %lld",
                            (long long)c->cooldown);
    if (!(c->min_lr >= 0.0 && isfinite(c->min_lr)))
        return cg_set_error(CG_ERR_ARG, "schedule plateau: min_lr must be finite and >= 0, got %g",
                            c->min_lr);
    return CG_OK;
}

cg_plateau_state cg_plateau_start(const cg_plateau_config *c, double lr)
{
    return (cg_plateau_state){.lr = lr, .best = c->mode_max ? -INFINITY : INFINITY};
}

/* torch's is_better: a NaN metric compares false, so it counts as bad. */
static bool is_better(const cg_plateau_config *c, double a, double best)
{
    if (!c->mode_max)
        return c->threshold_abs ? a < best - c->threshold : a < best * (1.0 - c->threshold);
    return c->threshold_abs ? a > best + c->threshold : a > best * (c->threshold + 1.0);
}

double cg_plateau_step(const cg_plateau_config *c, cg_plateau_state *s, double metric)
{
    if (is_better(c, metric, s->best)) {
        s->best = metric;
        s->num_bad_epochs = 0;
    } else {
        s->num_bad_epochs++;
    }
    if (s->cooldown_counter > 0) { /* bad epochs in cooldown are ignored */
        s->cooldown_counter--;
        s->num_bad_epochs = 0;
    }
    if (s->num_bad_epochs > c->patience) {
        double old_lr = s->lr;
        double new_lr = fmax(old_lr * c->factor, c->min_lr);
        if (old_lr - new_lr > PLATEAU_EPS) s->lr = new_lr;
        s->cooldown_counter = c->cooldown;
        s->num_bad_epochs = 0;
    }
    return s->lr;
}
