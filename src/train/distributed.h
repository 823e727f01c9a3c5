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

/* The flat gradient buffer summed over the ranks, in place (timed for
 * cg_dist_comm_seconds). */
cg_status cg__dist_sum_grads(cg_dist *d, float *g, int64_t n);

/* bytes at p copied from rank 0 to every rank. */
cg_status cg__dist_broadcast(cg_dist *d, void *p, size_t bytes);

/* The model's buffers (batch norm's running statistics) copied from rank 0,
 * as DDP's broadcast_buffers: ranks saw different batches. */
cg_status cg__dist_broadcast_buffers(cg_dist *d, cg_model *model);

/* ---- one training step across the group (train.c) ---- */

/* Before this rank's forward pass: sets the epoch's running sums in st
 * aside (the step then adds this rank's share alone) and gives the rank a
 * dropout stream of its own, derived from st->rng and the rank. */
void cg__dist_step_begin(const cg_dist *d, cg_train_state *st);

/* After every rank's backward pass: the step's loss, accuracy and metric
 * sums added over the ranks onto `saved` (the state before the step) into
 * st; *stop_any set when any rank's `stop` was; the gradients averaged with
 * each rank weighted by its share of the n samples. `shift` is the batch's
 * first target, the common origin of the regression sums. */
cg_status cg__dist_step_combine(cg_dist *d, cg_train_state *st, const cg_train_state *saved,
                                double shift, bool stop, bool *stop_any, cg_params *p, int64_t n);

/* The dropout stream of the next step, the same on every rank. */
cg_rng cg__dist_next_rng(const cg_rng *rng);

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
