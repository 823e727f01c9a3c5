/* What the training loop, evaluation and prediction ask of a process group
 * (distributed.c). With d NULL or a group of one every call is a cheap
 * no-op, so callers need no #ifdef and no branch of their own. */
#ifndef CGRAD_DISTRIBUTED_H
#define CGRAD_DISTRIBUTED_H

#include "internal.h"

/* More than one rank? */
bool cg__dist_active(const cg_dist *d);

/* This rank's contiguous share [*mine, *mine + *count) of samples
 * [first, first + n): rank r takes [first + n*r/R, first + n*(r+1)/R), so
 * the shares keep the single-process order and differ by at most one. */
void cg__dist_share(const cg_dist *d, int64_t first, int64_t n, int64_t *mine, int64_t *count);
/* The same for another rank's share. */
void cg__dist_share_of(const cg_dist *d, int rank, int64_t first, int64_t n, int64_t *begin,
                       int64_t *count);

/* v[0..n) summed over the ranks, in place, on every rank. */
cg_status cg__dist_sum(cg_dist *d, double *v, int n);

/* bytes at p copied from rank 0 to every rank. */
cg_status cg__dist_broadcast(cg_dist *d, void *p, size_t bytes);

/* The model's buffers (batch norm's running statistics) copied from rank 0,
 * as DDP's broadcast_buffers: ranks saw different batches. */
cg_status cg__dist_broadcast_buffers(cg_dist *d, cg_model *model);

/* rng copied from the last rank, whose share of a batch is never empty. */
void cg__dist_rng_from_last(cg_dist *d, cg_rng *rng);

/* ---- one training step across the group (train.c) ---- */

/* Before a run: plans the gradient buckets of params and hooks the group
 * into ctx (ctx->share): the backward pass reports each final gradient,
 * and synchronised batch norm sums over the ranks. */
cg_status cg__dist_attach(cg_dist *d, cg_ctx *ctx, cg_params *params);

/* Before this rank's forward pass on rows [first_row, first_row + rows) of
 * a batch of total_rows: sets the epoch's running sums in st aside (the
 * step then adds this rank's share alone), tells ctx which rows it holds,
 * and readies the buckets. */
void cg__dist_step_begin(cg_dist *d, cg_train_state *st, cg_ctx *ctx, int64_t first_row,
                         int64_t rows, int64_t total_rows);

/* After this rank's backward pass (finished, failed or never run): the
 * buckets not yet on their way are launched, and all are waited for; then
 * every gradient is the average over the whole batch. Returns the first
 * parameter whose gradient was not finite on this rank before averaging,
 * or NULL. Every rank calls it once per step. */
const cg_tensor *cg__dist_grads_finish(cg_dist *d);

/* After that: the step's loss, accuracy and metric sums added over the
 * ranks onto `saved` (the state before the step) into st; *stop_any set
 * when any rank's `stop` was. `shift` is the batch's first target, the
 * common origin of the regression sums. */
cg_status cg__dist_step_combine(cg_dist *d, cg_train_state *st, const cg_train_state *saved,
                                double shift, bool stop, bool *stop_any);

/* Is value the same on every rank? */
bool cg__dist_all_equal(cg_dist *d, uint64_t value);

/* After each epoch: are the weights bit-identical on every rank, as they
 * must be? A cheap guard against a rank drifting (other data, other
 * build); CG_ERR_STATE naming the epoch when not. */
cg_status cg__dist_check_replicas(cg_dist *d, cg_model *model, int64_t epoch);

/* ---- outputs gathered on rank 0 (cg_predict_group) ---- */

/* Sends status and, when CG_OK, n values to rank 0. Returns status. */
cg_status cg__dist_send_to_root(cg_dist *d, cg_status status, const float *v, int64_t n);
/* On rank 0: the next status from `rank` and, when CG_OK, its n values. */
cg_status cg__dist_recv_from(cg_dist *d, int rank, float *v, int64_t n);

#endif
