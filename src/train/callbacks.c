/* What happens between epochs beyond the schedule: the monitored value and
 * Keras' EarlyStopping decision. Pure functions of a small state, so the
 * training loop can store that state in checkpoints and a resumed run
 * decides exactly as an uninterrupted one. */
#include "train_internal.h"

#include <math.h>
#include <strings.h>

static const char *const monitor_names[] = {
    [CG_MONITOR_VAL_LOSS] = "val_loss",
    [CG_MONITOR_VAL_ACCURACY] = "val_accuracy",
    [CG_MONITOR_TRAIN_LOSS] = "train_loss",
    [CG_MONITOR_TRAIN_ACCURACY] = "train_accuracy",
    [CG_MONITOR_VAL_MAE] = "val_mae",
    [CG_MONITOR_VAL_RMSE] = "val_rmse",
    [CG_MONITOR_VAL_R2] = "val_r2",
    [CG_MONITOR_VAL_TOP_K_ACCURACY] = "val_top_k_accuracy",
    [CG_MONITOR_TRAIN_MAE] = "train_mae",
    [CG_MONITOR_TRAIN_RMSE] = "train_rmse",
    [CG_MONITOR_TRAIN_R2] = "train_r2",
    [CG_MONITOR_TRAIN_TOP_K_ACCURACY] = "train_top_k_accuracy",
};

#define N_MONITORS (sizeof monitor_names / sizeof monitor_names[0])

bool cg_monitor_from_name(const char *name, cg_monitor *out)
{
    if (!name) return false;
    cg_monitor m;
    if (strcasecmp(name, "loss") == 0) {
        m = CG_MONITOR_TRAIN_LOSS;
    } else if (strcasecmp(name, "accuracy") == 0) {
        m = CG_MONITOR_TRAIN_ACCURACY;
    } else {
        size_t i = 0;
        while (i < N_MONITORS && strcasecmp(name, monitor_names[i]) != 0) i++;
        if (i == N_MONITORS) return false;
        m = (cg_monitor)i;
    }
    if (out) *out = m;
    return true;
}

const char *cg_monitor_name(cg_monitor m)
{
    return (unsigned)m < N_MONITORS ? monitor_names[m] : "unknown";
}

bool cg_monitor_maximizes(cg_monitor m)
{
    return m == CG_MONITOR_VAL_ACCURACY || m == CG_MONITOR_TRAIN_ACCURACY ||
           m == CG_MONITOR_VAL_R2 || m == CG_MONITOR_VAL_TOP_K_ACCURACY ||
           m == CG_MONITOR_TRAIN_R2 || m == CG_MONITOR_TRAIN_TOP_K_ACCURACY;
}

bool cg_monitor_needs_val(cg_monitor m)
{
    return m == CG_MONITOR_VAL_LOSS || m == CG_MONITOR_VAL_ACCURACY || m == CG_MONITOR_VAL_MAE ||
           m == CG_MONITOR_VAL_RMSE || m == CG_MONITOR_VAL_R2 ||
           m == CG_MONITOR_VAL_TOP_K_ACCURACY;
}

cg_early_stop_state cg_early_stop_start(const cg_early_stop_config *c)
{
    return (cg_early_stop_state){.best = cg_monitor_maximizes(c->monitor) ? -INFINITY : INFINITY};
}

/* Keras' _is_improvement: better than the reference by more than min_delta
 * (NaN never is). */
static bool improves(const cg_early_stop_config *c, double value, double best)
{
    double d = fabs(c->min_delta);
    bool max = cg_monitor_maximizes(c->monitor);
    if (isnan(best)) best = max ? -INFINITY : INFINITY; /* a fresh cg_train_state */
    return max ? value - d > best : value + d < best;
}

bool cg_early_stop_update(const cg_early_stop_config *c, cg_early_stop_state *s, int64_t epoch,
                          double value, bool *improved)
{
    bool better = improves(c, value, s->best);
    if (improved) *improved = better;
    s->wait++;
    if (better) {
        s->best = value;
        s->best_epoch = epoch;
        s->wait = 0;
        return false;
    }
    /* Keras never stops after the first epoch (its `epoch > 0`). */
    return c->patience > 0 && s->wait >= c->patience && epoch > 1;
}
