/* Learning-rate schedules in closed form. torch's schedulers update the lr
 * recursively, step by step; the closed form gives the same values without
 * state, so resuming at step t needs only t. Arithmetic is in double, as in
 * Python, and rounded once at the end. */
#include "internal.h"

#include <math.h>
#include <strings.h>

static const char *const kind_names[] = {
    [CG_SCHED_CONSTANT] = "constant",
    [CG_SCHED_STEP] = "step",
    [CG_SCHED_EXPONENTIAL] = "exponential",
    [CG_SCHED_COSINE] = "cosine",
    [CG_SCHED_PLATEAU] = "plateau",
};

#define N_KINDS (sizeof kind_names / sizeof kind_names[0])

bool cg_schedule_kind_from_name(const char *name, cg_schedule_kind *out)
{
    if (!name) return false;
    for (size_t i = 0; i < N_KINDS; i++) {
        if (strcasecmp(name, kind_names[i]) == 0) {
            if (out) *out = (cg_schedule_kind)i;
            return true;
        }
    }
    return false;
}

const char *cg_schedule_kind_name(cg_schedule_kind kind)
{
    return (unsigned)kind < N_KINDS ? kind_names[kind] : "unknown";
}

cg_status cg_schedule_check(const cg_schedule *s)
{
    if (!s) return cg_set_error(CG_ERR_ARG, "schedule is NULL");
    if ((unsigned)s->kind >= N_KINDS)
        return cg_set_error(CG_ERR_ARG, "schedule: unknown kind %d", (int)s->kind);
    if (!(s->base_lr >= 0.0f && isfinite(s->base_lr)))
        return cg_set_error(CG_ERR_ARG, "schedule: base_lr must be finite and >= 0, got %g",
                            (double)s->base_lr);
    if (s->kind == CG_SCHED_STEP && s->step_size < 1)
        return cg_set_error(CG_ERR_ARG, "schedule step: step_size must be >= 1, got %lld",
                            (long long)s->step_size);
    if ((s->kind == CG_SCHED_STEP || s->kind == CG_SCHED_EXPONENTIAL) &&
        !(s->gamma >= 0.0f && isfinite(s->gamma)))
        return cg_set_error(CG_ERR_ARG, "schedule %s: gamma must be finite and >= 0, got %g",
                            kind_names[s->kind], (double)s->gamma);
    if (s->kind == CG_SCHED_COSINE && s->t_max < 1)
        return cg_set_error(CG_ERR_ARG, "schedule cosine: t_max must be >= 1, got %lld",
                            (long long)s->t_max);
    if (s->kind == CG_SCHED_COSINE && !(s->eta_min >= 0.0f && isfinite(s->eta_min)))
        return cg_set_error(CG_ERR_ARG, "schedule cosine: eta_min must be finite and >= 0, got %g",
                            (double)s->eta_min);
    if (s->kind == CG_SCHED_PLATEAU && s->per_step)
        return cg_set_error(CG_ERR_ARG, "schedule plateau: per step is not supported (it "
                                        "follows a metric measured once an epoch)");
    if (s->kind == CG_SCHED_PLATEAU && s->warmup != 0)
        return cg_set_error(CG_ERR_ARG, "schedule plateau: warmup_epochs is not supported "
                                        "(torch's ReduceLROnPlateau has no warm-up)");
    if (s->kind == CG_SCHED_PLATEAU) return cg_plateau_check(&s->plateau);
    if (s->warmup < 0)
        return cg_set_error(CG_ERR_ARG, "schedule: warmup must be >= 0, got %lld",
                            (long long)s->warmup);
    if (s->warmup > 0 && !(s->warmup_start_factor >= 0.0f && s->warmup_start_factor <= 1.0f))
        return cg_set_error(CG_ERR_ARG,
                            "schedule: warmup_start_factor must be in [0, 1], got %g",
                            (double)s->warmup_start_factor);
    return CG_OK;
}

/* The main rule at u steps after warm-up. */
static double main_rule(const cg_schedule *s, int64_t u)
{
    double base = s->base_lr;
    switch (s->kind) {
    case CG_SCHED_CONSTANT: return base;
    case CG_SCHED_STEP: return base * pow(s->gamma, (double)(u / s->step_size));
    case CG_SCHED_EXPONENTIAL: return base * pow(s->gamma, (double)u);
    case CG_SCHED_PLATEAU: return base; /* its lr comes from cg_plateau_step */
    case CG_SCHED_COSINE: {
        /* Past t_max the cosine keeps going and the lr climbs back, as torch's
         * closed form does (no clamping). */
        double eta = s->eta_min;
        return eta + (base - eta) * (1.0 + cos(M_PI * (double)u / (double)s->t_max)) / 2.0;
    }
    }
    return base;
}

/* warm-up: lr·(f + (1−f)·t/warmup) for t < warmup, then the main rule at t − warmup. */
float cg_schedule_lr(const cg_schedule *s, int64_t t)
{
    if (cg_schedule_check(s) != CG_OK) return NAN;
    if (t < 0) t = 0;
    if (t < s->warmup) {
        double f = s->warmup_start_factor;
        return (float)((double)s->base_lr * (f + (1.0 - f) * (double)t / (double)s->warmup));
    }
    return (float)main_rule(s, t - s->warmup);
}
