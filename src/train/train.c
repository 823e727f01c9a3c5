/* The training loop.
 *
 * One step: gather the batch straight into an arena tensor, forward, loss,
 * backward, NaN/Inf check, optional clipping, optimizer step. The arena is
 * reset at the start of each step and keeps its size, and the index and
 * label buffers are allocated once per run, so after the first step nothing
 * is allocated.
 *
 * Reproducibility: each epoch's order and dropout stream are derived from
 * (seed, epoch), and the dropout stream is carried in cg_train_state, so an
 * interrupted run saved in the middle of an epoch resumes bit-identically.
 *
 * Data-parallel runs (o->dist with more than one rank) share each batch out
 * in distributed.c's terms; what changes here is marked "group". Every rank
 * draws from the same dropout stream and the masks count from the whole
 * batch's first row (ops/dropout.c), so the ranks together drop what one
 * process would. */
#include "distributed.h"
#include "train_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Validation batches can be large: no gradients are kept. */
#define DEFAULT_EVAL_BATCH 1024

cg_train_options cg_train_options_from_spec(const cg_model_spec *spec, float lr)
{
    cg_train_options o = {
        .epochs = spec->train.epochs,
        .batch = spec->train.batch,
        .seed = spec->train.seed,
        .shuffle = spec->train.shuffle,
        .clip_grad_norm = spec->train.clip_grad_norm,
        .max_steps = spec->train.steps,
        .augment = spec->augment,
        .early_stop = spec->train.early_stop,
        .monitor = spec->train.early_stop.monitor,
    };
    o.schedule = cg_model_spec_schedule(spec, lr, o.epochs);
    return o;
}

/* ------------------------------------------------------------ the run */

typedef struct run {
    cg_model *model;
    cg_optim *opt;
    cg_params *params;
    const cg_dataset *train;
    const cg_dataset *val;
    const cg_train_options *o;
    cg_train_state *state;
    cg_ctx *ctx;
    int64_t *order;       /* train->count indices */
    int64_t *starts;      /* stateful models: batch b is order[starts[b] .. starts[b+1]) */
    cg_batch_buffers buf;
    int64_t batches;      /* per epoch */
    double since_save;    /* training seconds since the last checkpoint */
    cg_dist *dist;        /* NULL: this process alone */
    bool stop;            /* group: some rank was asked to stop */
    bool sync_bn;         /* group: batch norm statistics over all ranks */
    cg_schedule sched;    /* o->schedule with a per-step cosine's length resolved */
    cg__governor threads; /* how many threads run the steps */
} run;

/* A stateful model reads the data as `batch` streams, each a contiguous
 * run of ceil(n / batch) samples: row r of batch b is sample r·L + b, so
 * every row continues the row it was in the batch before (truncated
 * backpropagation through time). The last streams may be shorter; their
 * rows end, always the last ones of a batch. */
static void stream_order(run *r)
{
    const int64_t n = r->train->count, rows = r->o->batch, len = (n + rows - 1) / rows;
    int64_t k = 0;
    for (int64_t b = 0; b < len; b++) {
        r->starts[b] = k;
        for (int64_t row = 0; row < rows && row * len + b < n; row++) r->order[k++] = row * len + b;
    }
    r->starts[len] = k;
}

/* Group: a rank with no rows could not take part in synchronised batch
 * norm's sums (it runs no forward pass), so every batch needs a row a rank. */
static cg_status check_sync_shares(const run *r)
{
    int64_t smallest = r->o->batch, n = r->train->count, ranks = cg_dist_size(r->dist);
    if (r->starts) {
        for (int64_t b = 0; b < r->batches; b++)
            if (r->starts[b + 1] - r->starts[b] < smallest)
                smallest = r->starts[b + 1] - r->starts[b];
    } else if (n % r->o->batch != 0) {
        smallest = n % r->o->batch;
    }
    if (smallest >= ranks) return CG_OK;
    return cg_set_error(CG_ERR_ARG, "training: synchronised batch norm needs a sample on every "
                                    "rank in every batch, but a batch of %lld sample%s is shared "
                                    "over %lld ranks (choose a batch size that leaves a last "
                                    "batch of at least %lld, or use fewer ranks)",
                        (long long)smallest, smallest == 1 ? "" : "s", (long long)ranks,
                        (long long)ranks);
}

static cg_status run_init(run *r)
{
    int64_t n = r->train->count;
    bool stateful = cg_model_is_stateful(r->model);
    r->batches = (n + r->o->batch - 1) / r->o->batch;
    r->order = malloc((size_t)n * sizeof *r->order);
    r->ctx = cg_ctx_create(0);
    if (!r->order || !r->ctx) return cg_set_error(CG_ERR_NOMEM, "training: out of memory");
    if (stateful) {
        r->starts = malloc((size_t)(n + 1) * sizeof *r->starts);
        if (!r->starts) return cg_set_error(CG_ERR_NOMEM, "training: out of memory");
        stream_order(r);
        for (r->batches = 0; r->starts[r->batches] < n; r->batches++) continue;
    }
    /* A per-step cosine without t_max anneals over the run's steps after
     * warm-up (torch: CosineAnnealingLR(T_max=total_steps − warmup)). */
    r->sched = r->o->schedule;
    if (r->sched.per_step && r->sched.kind == CG_SCHED_COSINE && r->sched.t_max == 0) {
        int64_t steps = r->o->max_steps > 0 ? r->o->max_steps : r->o->epochs * r->batches;
        r->sched.t_max = steps - r->sched.warmup > 1 ? steps - r->sched.warmup : 1;
    }
    cg_status s = cg__batch_buffers_init(&r->buf, r->train, r->o->batch);
    if (s == CG_OK) s = cg__dist_attach(r->dist, r->ctx, r->params);
    if (s == CG_OK && r->sync_bn) s = check_sync_shares(r);
    return s;
}

static void run_release(run *r)
{
    free(r->order);
    free(r->starts);
    cg_ctx_destroy(r->ctx);
    cg__batch_buffers_release(&r->buf);
}

/* The order of epoch e: file order, or a permutation drawn from (seed, e). */
static void epoch_order(run *r, int64_t epoch)
{
    if (r->starts) return; /* a stateful model's stream order never changes */
    for (int64_t i = 0; i < r->train->count; i++) r->order[i] = i;
    if (!r->o->shuffle) return;
    cg_rng rng = cg_train_rng(r->o->seed, epoch, CG_STREAM_SHUFFLE);
    cg_rng_shuffle(&rng, r->order, r->train->count);
}

static void start_epoch(run *r, int64_t epoch)
{
    cg_train_state *st = r->state;
    if (st->batch_in_epoch > 0) return; /* resuming inside the epoch: keep its state */
    st->rng = cg_train_rng(r->o->seed, epoch, CG_STREAM_DROPOUT);
    st->loss_sum = 0.0;
    st->correct = 0;
    st->seen = 0;
    st->sums = (cg_metric_sums){0};
    st->seconds = 0.0;
    cg_model_reset_state(r->model);
}

static cg_status nonfinite_gradient(run *r, int64_t epoch, int64_t b, const cg_tensor *t)
{
    return cg_set_error(CG_ERR_NUMERIC,
                        "step %lld (epoch %lld, batch %lld): the gradient of \"%s\" is not "
                        "finite (NaN or Inf); stopped before updating the weights",
                        (long long)r->state->step + 1, (long long)epoch + 1, (long long)b + 1,
                        t ? t->name : "?");
}

static cg_status check_gradients(run *r, int64_t epoch, int64_t b)
{
    cg__params_finish_grads(r->params);
    if (cg__all_finite(cg_params_grad(r->params), cg_params_numel(r->params))) return CG_OK;
    return nonfinite_gradient(r, epoch, b, cg_params_first_nonfinite_grad(r->params));
}

static cg_status nonfinite_loss(run *r, int64_t epoch, int64_t b, float loss)
{
    return cg_set_error(CG_ERR_NUMERIC,
                        "step %lld (epoch %lld, batch %lld): the loss is %s; stopped before "
                        "updating the weights",
                        (long long)r->state->step + 1, (long long)epoch + 1, (long long)b + 1,
                        isnan(loss) ? "NaN" : "infinite");
}

/* Profiling: adds the time since *t to phase and restarts the clock there. */
static void lap(const run *r, cg_profile_phase phase, double *t)
{
    if (!r->o->profile) return;
    double now = cg__clock();
    cg__profile_phase(r->o->profile, phase, now - *t);
    *t = now;
}

static double lap_start(const run *r) { return r->o->profile ? cg__clock() : 0.0; }

/* Forward and backward of batch b, leaving gradients in the parameters
 * (not yet checked for NaN). */
static cg_status forward_backward(run *r, int64_t epoch, int64_t b, int64_t first, int64_t n)
{
    cg_ctx *ctx = r->ctx;
    double t = lap_start(r);
    cg_ctx_reset(ctx);
    cg_ctx_set_profile(ctx, r->o->profile);
    *cg_ctx_rng(ctx) = r->state->rng;
    cg_tensor *x = cg__gather(ctx, r->train, r->order + first, n, &r->buf);
    if (x && cg__augment_active(&r->o->augment) &&
        cg__augment_batch(ctx, &r->o->augment, x, r->order + first, r->o->seed, epoch) != CG_OK)
        return cg_last_status();
    lap(r, CG_PHASE_DATA, &t);
    cg_tensor *out = cg_model_forward(ctx, r->model, x);
    lap(r, CG_PHASE_FORWARD, &t);
    cg_tensor *loss = cg_model_loss(ctx, r->model, out, r->buf.labels, r->buf.targets);
    float value = loss ? loss->data[0] : NAN;
    cg_status s = !loss ? cg_last_status() : isfinite(value) ? CG_OK
                                                              : nonfinite_loss(r, epoch, b, value);
    /* Group: synchronised batch norm sums over the ranks inside backward,
     * so every rank runs it or none does. */
    if (r->sync_bn) s = cg_dist_agree(r->dist, s);
    if (s != CG_OK) return s;
    lap(r, CG_PHASE_LOSS, &t);
    cg_params_zero_grad(r->params);
    s = cg_backward(ctx, loss);
    if (s != CG_OK) return s;
    lap(r, CG_PHASE_BACKWARD, &t);
    r->state->loss_sum += (double)value * (double)n;
    r->state->correct += cg_model_count_correct(r->model, out, r->buf.labels, r->buf.targets);
    cg__metric_sums_add(&r->state->sums, r->model, out, r->buf.labels, r->buf.targets,
                        r->o->top_k);
    r->state->seen += n;
    return CG_OK;
}

static bool stop_requested(const run *r) { return r->o->stop && *r->o->stop; }

/* Group: every rank stops at the step where the first of them was asked to
 * (the request travels with the step's sums), so they stay in step. */
static bool stop_agreed(const run *r)
{
    return cg__dist_active(r->dist) ? r->stop : stop_requested(r);
}

/* Group: this rank's share of batch b [first, first + n), with the epoch's
 * running sums set aside (forward_backward then adds this rank's alone).
 * The backward pass starts averaging the gradients bucket by bucket as they
 * become final; cg__dist_grads_finish, on every rank after this, even one
 * whose step failed, sends the rest and waits. A rank whose share is empty
 * (a last batch smaller than the group) contributes zero gradients. */
static cg_status forward_backward_share(run *r, int64_t epoch, int64_t b, int64_t first,
                                        int64_t n)
{
    int64_t mine, count;
    cg__dist_share(r->dist, first, n, &mine, &count);
    cg__dist_step_begin(r->dist, r->state, r->ctx, mine - first, count, n);
    if (count > 0) return forward_backward(r, epoch, b, mine, count);
    cg_params_zero_grad(r->params);
    return CG_OK;
}

/* The first target value of the batch: the group's common origin for the
 * regression sums (a single process takes the same one). */
static double batch_shift(const run *r, int64_t first)
{
    const cg_dataset *d = r->train;
    return d->y ? (double)d->y[r->order[first] * d->target_size] : 0.0;
}

static cg_status train_step(run *r, int64_t epoch, int64_t b)
{
    int64_t first = r->starts ? r->starts[b] : b * r->o->batch;
    int64_t n = r->starts ? r->starts[b + 1] - first
                          : (r->train->count - first < r->o->batch ? r->train->count - first
                                                                   : r->o->batch);
    cg_train_state saved = *r->state;
    bool group = cg__dist_active(r->dist);
    cg_status s;
    double t;
    if (group) {
        s = forward_backward_share(r, epoch, b, first, n);
        t = lap_start(r);
        const cg_tensor *bad = cg__dist_grads_finish(r->dist);
        if (s == CG_OK && bad) s = nonfinite_gradient(r, epoch, b, bad);
        s = cg_dist_agree(r->dist, s);
        if (s == CG_OK)
            s = cg__dist_step_combine(r->dist, r->state, &saved, batch_shift(r, first),
                                      stop_requested(r), &r->stop);
        lap(r, CG_PHASE_SYNC, &t);
    } else {
        s = forward_backward(r, epoch, b, first, n);
        t = lap_start(r);
        if (s == CG_OK) s = check_gradients(r, epoch, b);
        lap(r, CG_PHASE_CHECKS, &t);
    }
    if (s != CG_OK) {
        *r->state = saved; /* the state still describes the last good weights */
        return s;
    }
    if (r->o->clip_grad_norm > 0.0f) {
        cg_params_clip_grad_norm(r->params, r->o->clip_grad_norm);
        lap(r, CG_PHASE_CLIP, &t);
    }
    s = cg_optim_step(r->opt);
    if (s != CG_OK) {
        *r->state = saved;
        return s;
    }
    lap(r, CG_PHASE_OPTIMIZER, &t);
    /* Group: every rank drew the same keys, except one with an empty share. */
    r->state->rng = *cg_ctx_rng(r->ctx);
    if (group) {
        if (n < cg_dist_size(r->dist)) cg__dist_rng_from_last(r->dist, &r->state->rng);
        cg__dist_broadcast_buffers(r->dist, r->model);
        lap(r, CG_PHASE_SYNC, &t);
    }
    cg__profile_step(r->o->profile);
    r->state->step++;
    r->state->batch_in_epoch = b + 1;
    return CG_OK;
}

static void report_batch(run *r, int64_t epoch, double t0)
{
    if (!r->o->on_batch) return;
    const cg_train_state *st = r->state;
    cg_progress p = {.epoch = epoch,
                     .epochs = r->o->epochs,
                     .batch = st->batch_in_epoch,
                     .batches = r->batches,
                     .samples = st->seen,
                     .step = st->step,
                     .loss = st->seen ? st->loss_sum / (double)st->seen : NAN,
                     .seconds = st->seconds + (cg__clock() - t0)};
    r->o->on_batch(r->o->user, &p);
}

/* Finite gradients can still carry the weights to Inf (a huge learning
 * rate): such weights must never replace the last good checkpoint. */
static cg_status check_weights(run *r)
{
    if (cg__all_finite(cg_params_data(r->params), cg_params_numel(r->params))) return CG_OK;
    const char *name = "?";
    for (size_t i = 0; i < cg_params_count(r->params); i++) {
        const cg_tensor *t = cg_params_at(r->params, i);
        if (!cg__all_finite(t->data, t->size)) {
            name = t->name;
            break;
        }
    }
    return cg_set_error(CG_ERR_NUMERIC,
                        "after step %lld the weights of \"%s\" are not finite (NaN or Inf); "
                        "stopped without saving them",
                        (long long)r->state->step, name);
}

/* Group: rank 0 writes every file (the same a single process would); the
 * others learn from the agreement whether it could. */
static bool writes_files(const run *r) { return cg_dist_rank(r->dist) == 0; }

static cg_status save_here(run *r)
{
    cg_status s = check_weights(r);
    if (s != CG_OK) return s;
    r->since_save = 0.0;
    if (!writes_files(r)) return CG_OK;
    return cg_checkpoint_save_with(r->o->save_path, r->model, r->o->save_spec, r->opt, r->state,
                                   r->o->save_meta);
}

static cg_status save(run *r)
{
    if (!r->o->save_path) return CG_OK;
    return cg_dist_agree(r->dist, save_here(r));
}

/* A checkpoint inside the epoch, for runs that may be killed; kept as a
 * numbered snapshot when asked. */
static cg_status periodic_save(run *r)
{
    cg_status s = save_here(r);
    if (s == CG_OK && r->o->keep > 0 && writes_files(r))
        s = cg__snapshot(r->o->save_path, r->state->step, r->o->keep);
    return cg_dist_agree(r->dist, s);
}

static cg_status interrupted(run *r)
{
    cg_status s = save(r);
    if (s != CG_OK) return s;
    const cg_train_state *st = r->state;
    if (st->batch_in_epoch == 0)
        return cg_set_error(CG_ERR_INTERRUPTED, "interrupted after epoch %lld (step %lld)",
                            (long long)st->epoch, (long long)st->step);
    return cg_set_error(CG_ERR_INTERRUPTED, "interrupted after step %lld (epoch %lld, batch %lld)",
                        (long long)st->step, (long long)st->epoch + 1,
                        (long long)st->batch_in_epoch);
}

/* ------------------------------------------------------------ between epochs */

static double monitored(const cg_train_state *st, cg_monitor m)
{
    switch (m) {
    case CG_MONITOR_VAL_LOSS: return st->val_loss;
    case CG_MONITOR_VAL_ACCURACY: return st->val_accuracy;
    case CG_MONITOR_TRAIN_LOSS: return st->train_loss;
    case CG_MONITOR_TRAIN_ACCURACY: return st->train_accuracy;
    case CG_MONITOR_VAL_MAE: return st->val_mae;
    case CG_MONITOR_VAL_RMSE: return st->val_rmse;
    case CG_MONITOR_VAL_R2: return st->val_r2;
    case CG_MONITOR_VAL_TOP_K_ACCURACY: return st->val_top_k_accuracy;
    case CG_MONITOR_TRAIN_MAE: return st->train_mae;
    case CG_MONITOR_TRAIN_RMSE: return st->train_rmse;
    case CG_MONITOR_TRAIN_R2: return st->train_r2;
    case CG_MONITOR_TRAIN_TOP_K_ACCURACY: return st->train_top_k_accuracy;
    }
    return NAN;
}

/* Keras' ModelCheckpoint(save_best_only): strictly better (NaN never). */
static bool beats(cg_monitor m, double value, double best)
{
    if (isnan(best)) return !isnan(value);
    return cg_monitor_maximizes(m) ? value > best : value < best;
}

static cg_status save_best(run *r)
{
    cg_status s = check_weights(r);
    if (s == CG_OK && writes_files(r))
        s = cg_checkpoint_save_with(r->o->save_best_path, r->model, r->o->save_spec, r->opt,
                                    r->state, r->o->save_meta);
    return cg_dist_agree(r->dist, s);
}

/* The weights (and buffers) of the best checkpoint, for restore_best.
 * Group: rank 0 reads the file it wrote and hands the weights on. */
static cg_status restore_best(run *r)
{
    cg_status s = CG_OK;
    if (writes_files(r)) {
        cg_checkpoint *ck = NULL;
        s = cg_checkpoint_load(r->o->save_best_path, &ck);
        if (s == CG_OK) s = cg_model_load_weights(r->model, ck->file, NULL, NULL);
        cg_checkpoint_free(ck);
    }
    s = cg_dist_agree(r->dist, s);
    return s == CG_OK ? cg_dist_broadcast_model(r->dist, r->model) : s;
}

/* The plateau schedule's step, early stopping and the best checkpoint, from
 * the metrics of the epoch just finished (already in the state). */
static cg_status after_epoch(run *r, int64_t epoch)
{
    const cg_train_options *o = r->o;
    cg_train_state *st = r->state;
    if (o->schedule.kind == CG_SCHED_PLATEAU)
        cg_plateau_step(&o->schedule.plateau, &st->plateau,
                        monitored(st, o->schedule.plateau.monitor));
    double value = monitored(st, o->monitor);
    bool improved = false, stop = false;
    if (o->early_stop.patience > 0)
        stop = cg_early_stop_update(&o->early_stop, &st->early_stop, epoch + 1, value, &improved);
    else
        improved = beats(o->monitor, value, st->best_value);
    if (o->save_best_path && improved) {
        st->best_value = value;
        st->best_epoch = epoch + 1;
        cg_status s = save_best(r);
        if (s != CG_OK) return s;
    }
    st->stopped_early = stop;
    /* Nothing to restore when no epoch ever improved (all NaN). */
    if (stop && o->early_stop.restore_best && st->best_epoch > 0 && st->best_epoch != epoch + 1)
        return restore_best(r);
    return CG_OK;
}

static cg_status finish_epoch(run *r, int64_t epoch, float lr)
{
    cg_train_state *st = r->state;
    cg_epoch_stats stats = {
        .epoch = epoch + 1,
        .epochs = r->o->epochs,
        .train_loss = st->loss_sum / (double)st->seen,
        .train_accuracy = cg__accuracy(r->model, st->correct, st->seen),
        .val_loss = NAN,
        .val_accuracy = NAN,
        .val_mae = NAN,
        .val_rmse = NAN,
        .val_r2 = NAN,
        .val_top_k_accuracy = NAN,
        .top_k = r->o->top_k,
        .lr = lr,
        .seconds = st->seconds,
        .samples_per_s = st->seconds > 0 ? (double)st->seen / st->seconds : 0.0,
        .samples = st->seen,
    };
    cg__metric_sums_result(&st->sums,
                           st->seen * cg_model_spec_label_positions(cg_model_get_spec(r->model)),
                           r->o->top_k, &stats.train_mae, &stats.train_rmse,
                           &stats.train_r2, &stats.train_top_k_accuracy);
    if (r->val) {
        cg_eval_result ev;
        int64_t eb = r->o->eval_batch > 0 ? r->o->eval_batch : DEFAULT_EVAL_BATCH;
        cg_ctx_set_profile(r->ctx, NULL); /* the profile is of training steps */
        cg_status s = cg__evaluate_group(r->ctx, r->model, r->val, eb, r->o->top_k, r->dist, &ev);
        if (s != CG_OK) return s;
        stats.val_loss = ev.loss;
        stats.val_accuracy = ev.accuracy;
        stats.val_mae = ev.mae;
        stats.val_rmse = ev.rmse;
        stats.val_r2 = ev.r2;
        stats.top_k = ev.top_k;
        stats.val_top_k_accuracy = ev.top_k_accuracy;
    }
    st->epoch = epoch + 1;
    st->batch_in_epoch = 0;
    st->train_loss = stats.train_loss;
    st->train_accuracy = stats.train_accuracy;
    st->val_loss = stats.val_loss;
    st->val_accuracy = stats.val_accuracy;
    st->val_mae = stats.val_mae;
    st->val_rmse = stats.val_rmse;
    st->val_r2 = stats.val_r2;
    st->val_top_k_accuracy = stats.val_top_k_accuracy;
    st->train_mae = stats.train_mae;
    st->train_rmse = stats.train_rmse;
    st->train_r2 = stats.train_r2;
    st->train_top_k_accuracy = stats.train_top_k_accuracy;
    cg_status s = cg__dist_check_replicas(r->dist, r->model, epoch);
    if (s == CG_OK) s = after_epoch(r, epoch);
    if (s == CG_OK) s = save(r);
    if (s != CG_OK) return s;
    if (r->o->on_epoch) r->o->on_epoch(r->o->user, &stats);
    return CG_OK;
}

static bool steps_done(const run *r)
{
    return r->o->max_steps > 0 && r->state->step >= r->o->max_steps;
}

/* Group: training time differs a little from rank to rank, so rank 0's
 * clock decides a time-based checkpoint for all (steps are the same). */
static bool periodic_due(run *r)
{
    bool due = cg__periodic_due(r->o, r->state->step, r->since_save);
    if (cg__dist_active(r->dist) && r->o->save_every_seconds > 0)
        cg__dist_broadcast(r->dist, &due, sizeof due);
    return due;
}

/* The lr of the epoch about to start, or per step of the step: t is the
 * epoch or the number of steps done. */
static cg_status set_lr(run *r, int64_t t)
{
    float lr = r->sched.kind == CG_SCHED_PLATEAU ? (float)r->state->plateau.lr
                                                 : cg_schedule_lr(&r->sched, t);
    if (isnan(lr) && cg_last_status() != CG_OK) return cg_last_status(); /* invalid schedule */
    if (!isfinite(lr))
        return cg_set_error(CG_ERR_NUMERIC, "the learning rate of %s %lld overflows (%g)",
                            r->sched.per_step ? "step" : "epoch", (long long)t + 1, (double)lr);
    cg_optim_set_lr(r->opt, lr);
    r->state->lr = lr;
    return CG_OK;
}

static cg_status run_epoch(run *r, int64_t epoch)
{
    cg_status ls = set_lr(r, r->sched.per_step ? r->state->step : epoch);
    if (ls != CG_OK) return ls;
    if (r->o->on_epoch_start) {
        cg_status s = r->o->on_epoch_start(r->o->start_user, epoch);
        if (s != CG_OK) return s;
    }
    epoch_order(r, epoch);
    start_epoch(r, epoch);
    cg_ctx_set_training(r->ctx, true);
    cg_ctx_set_grad_enabled(r->ctx, true);
    for (int64_t b = r->state->batch_in_epoch; b < r->batches; b++) {
        if (stop_agreed(r)) return interrupted(r);
        double t0 = cg__clock();
        cg_status s = r->sched.per_step ? set_lr(r, r->state->step) : CG_OK;
        if (s == CG_OK) s = train_step(r, epoch, b);
        if (s != CG_OK) return s;
        double took = cg__clock() - t0;
        cg__governor_step(&r->threads, took);
        report_batch(r, epoch, t0);
        took = cg__clock() - t0;
        r->state->seconds += took;
        r->since_save += took;
        /* After an epoch's last batch the epoch-end save follows at once (a
         * checkpoint between the two would describe an epoch both done and
         * not finished). */
        bool last = b + 1 == r->batches || steps_done(r);
        if (!last && periodic_due(r) &&
            (s = periodic_save(r)) != CG_OK)
            return s;
        if (steps_done(r)) break;
    }
    return finish_epoch(r, epoch, r->state->lr);
}

static cg_status check_options(const cg_train_options *o, const cg_dataset *train)
{
    if (o->epochs < 1 || o->batch < 1)
        return cg_set_error(CG_ERR_ARG, "training: epochs and batch must be >= 1 (got %lld, %lld)",
                            (long long)o->epochs, (long long)o->batch);
    if (train->count < 1)
        return cg_set_error(CG_ERR_ARG, "%s: no samples to train on", train->source);
    if (o->save_every_steps < 0 || o->save_every_seconds < 0 || o->keep < 0)
        return cg_set_error(CG_ERR_ARG, "training: save_every_steps, save_every_seconds and keep "
                                        "must be >= 0");
    if (cg__augment_active(&o->augment) &&
        (train->sample_ndim != 3 || o->augment.crop_padding >= train->sample_shape[1] ||
         o->augment.crop_padding >= train->sample_shape[2] || o->augment.crop_padding < 0))
        return cg_set_error(CG_ERR_ARG, "%s: augmentation needs images [C, H, W] larger than "
                                        "the crop padding (%lld)",
                            train->source, (long long)o->augment.crop_padding);
    if (o->early_stop.patience < 0 || !(o->early_stop.min_delta >= 0))
        return cg_set_error(CG_ERR_ARG, "training: early_stop patience and min_delta must be >= 0");
    if (o->early_stop.patience > 0 && o->early_stop.monitor != o->monitor)
        return cg_set_error(CG_ERR_ARG, "training: early stopping monitors %s but the best "
                                        "checkpoint %s; they must be the same",
                            cg_monitor_name(o->early_stop.monitor), cg_monitor_name(o->monitor));
    if (o->early_stop.patience > 0 && o->early_stop.restore_best && !o->save_best_path)
        return cg_set_error(CG_ERR_ARG, "training: restore_best needs save_best_path (the best "
                                        "weights are read back from it)");
    if (o->batch % cg_dist_size(o->dist) != 0)
        return cg_set_error(CG_ERR_ARG, "training: the batch (%lld) is the global batch and must "
                                        "divide evenly over the %d ranks",
                            (long long)o->batch, cg_dist_size(o->dist));
    /* A per-step cosine's default length is resolved in cg_train. */
    cg_schedule sched = o->schedule;
    if (sched.per_step && sched.kind == CG_SCHED_COSINE && sched.t_max == 0) sched.t_max = 1;
    return cg_schedule_check(&sched);
}

/* A monitored validation figure needs validation data. */
static cg_status check_monitors(const cg_train_options *o, const cg_dataset *val)
{
    const char *what = NULL;
    cg_monitor m = o->monitor;
    if ((o->save_best_path || o->early_stop.patience > 0) && cg_monitor_needs_val(o->monitor))
        what = o->early_stop.patience > 0 ? "early stopping" : "the best checkpoint";
    else if (o->schedule.kind == CG_SCHED_PLATEAU &&
             cg_monitor_needs_val(o->schedule.plateau.monitor))
        what = "the plateau schedule", m = o->schedule.plateau.monitor;
    if (!what || val) return CG_OK;
    return cg_set_error(CG_ERR_ARG, "%s monitors %s, but there is no validation data", what,
                        cg_monitor_name(m));
}

cg_status cg_train(cg_model *model, cg_optim *opt, const cg_dataset *train,
                   const cg_dataset *val, const cg_train_options *o, cg_train_state *state)
{
    if (!model || !opt || !train || !o || !state)
        return cg_set_error(CG_ERR_ARG, "cg_train: NULL argument");
    cg_status s = check_options(o, train);
    if (s == CG_OK) s = check_monitors(o, val);
    if (s == CG_OK && o->shuffle && cg_model_is_stateful(model))
        s = cg_set_error(CG_ERR_ARG, "training: a stateful layer carries its state from one "
                                     "batch to the next, so the data must stay in order: set "
                                     "\"shuffle\": false in \"train\" or pass --no-shuffle");
    if (s == CG_OK) s = cg__check_training_data(model, train);
    if (s == CG_OK && val) s = cg__check_training_data(model, val);
    /* Group: every early return below is taken by all ranks or by none. */
    s = cg_dist_agree(o->dist, s);
    if (s != CG_OK) return s;
    run r = {.model = model, .opt = opt, .params = cg_model_params(model), .train = train,
             .val = val, .o = o, .state = state, .dist = o->dist,
             .sync_bn = cg__dist_active(o->dist) &&
                        cg__model_spec_syncs_batch_norm(cg_model_get_spec(model))};
    if (o->schedule.kind == CG_SCHED_PLATEAU && isnan(state->plateau.lr))
        state->plateau = cg_plateau_start(&o->schedule.plateau, o->schedule.base_lr);
    s = cg_dist_agree(r.dist, run_init(&r));
    cg__governor_init(&r.threads, o->threads);
    for (int64_t e = state->epoch;
         s == CG_OK && e < o->epochs && !state->stopped_early && !steps_done(&r); e++)
        s = run_epoch(&r, e);
    cg__governor_end(&r.threads);
    run_release(&r);
    return s;
}
