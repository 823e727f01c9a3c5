/* Shared by the training loop, evaluation and prediction (src/train/). */
#ifndef CGRAD_TRAIN_INTERNAL_H
#define CGRAD_TRAIN_INTERNAL_H

#include "internal.h"

#include <time.h>

/* Per-run buffers for the targets of one batch (the inputs go straight into
 * an arena tensor). Only those the data set has are allocated. */
typedef struct cg_batch_buffers {
    int32_t *labels;    /* batch entries, or NULL */
    float *targets;     /* batch * target_size, or NULL */
} cg_batch_buffers;

cg_status cg__batch_buffers_init(cg_batch_buffers *b, const cg_dataset *data, int64_t batch);
void cg__batch_buffers_release(cg_batch_buffers *b);

/* Copies samples indices[0..n) into a new arena tensor [n, sample shape...]
 * and their targets into buf; NULL on failure. */
cg_tensor *cg__gather(cg_ctx *ctx, const cg_dataset *data, const int64_t *indices, int64_t n,
                      cg_batch_buffers *buf);

/* cg_model_check_data, and the data must have targets. */
cg_status cg__check_training_data(const cg_model *model, const cg_dataset *data);

/* Fraction correct from cg_model_count_correct's total over `samples`
 * samples; NaN for losses without an accuracy. */
double cg__accuracy(const cg_model *model, int64_t correct, int64_t samples);

/* cg_evaluate_top_k in a caller's context (switched to evaluation mode and
 * back); top_k applies to cross_entropy only. */
cg_status cg__evaluate_with(cg_ctx *ctx, cg_model *model, const cg_dataset *data, int64_t batch,
                            int top_k, cg_eval_result *out);
/* The same with each rank of dist evaluating its share (NULL: all here);
 * every rank gets the whole result. */
cg_status cg__evaluate_group(cg_ctx *ctx, cg_model *model, const cg_dataset *data, int64_t batch,
                             int top_k, cg_dist *dist, cg_eval_result *out);

/* Should the run save now, after `step` steps and since_save seconds of
 * training since its last save? (periodic.c) */
bool cg__periodic_due(const cg_train_options *o, int64_t step, double since_save);
/* Keeps the checkpoint at save_path as its step-<step> snapshot and deletes
 * all but the newest `keep` snapshots. */
cg_status cg__snapshot(const char *save_path, int64_t step, int keep);

/* Adds a batch's outputs to the regression sums (mse, l1 with targets) or
 * the top-k hits (labels, top_k >= 2). */
void cg__metric_sums_add(cg_metric_sums *m, const cg_model *model, const cg_tensor *out,
                         const int32_t *labels, const float *targets, int top_k);
/* MAE, RMSE, R2 (NaN unless regression sums exist; R2 NaN for constant
 * targets) and the top-k accuracy over `samples` (NaN without top_k). */
void cg__metric_sums_result(const cg_metric_sums *m, int64_t samples, int top_k, double *mae,
                            double *rmse, double *r2, double *top_k_accuracy);

/* All of v finite? Multiplying by zero turns Inf into NaN and keeps finite
 * values at zero, so sums answer it. 32 sums side by side: one running sum
 * waits on every add's latency (27 us for W1's 235k gradients, 4% of its
 * step on one thread; 15 us with 32, 9 us on two threads). */
static inline bool cg__all_finite(const float *v, int64_t n)
{
    enum { LANES = 32, CHUNK = 1 << 14 };
    bool finite = true;
#pragma omp parallel for reduction(&& : finite) schedule(static) if (n > 4 * CHUNK)
    for (int64_t c0 = 0; c0 < n; c0 += CHUNK) {
        const int64_t end = n - c0 < CHUNK ? n : c0 + CHUNK;
        float acc[LANES] = {0};
        int64_t i = c0;
        for (; i + LANES <= end; i += LANES)
            for (int j = 0; j < LANES; j++) acc[j] += v[i + j] * 0.0f;
        for (; i < end; i++) acc[0] += v[i] * 0.0f;
        float sum = 0.0f;
        for (int j = 0; j < LANES; j++) sum += acc[j];
        finite = finite && sum == 0.0f;
    }
    return finite;
}

/* ---- the thread governor (train/thread_governor.c): fewer threads while
 * the cores are busy ---- */
#define CG__GOV_WINDOW 8
typedef struct cg__governor {
    cg_thread_policy policy;
    int plan, now, before;      /* planned, running, running before a probe */
    bool probing;
    int n;                      /* steps timed in this window */
    double times[CG__GOV_WINDOW];
    double current, baseline;   /* median step: last window; after the last decision */
    double spent;               /* seconds in the probe so far */
    int64_t interval;           /* steps between probes */
    int64_t until_probe;        /* windows */
} cg__governor;

void cg__governor_init(cg__governor *g, cg_thread_policy policy);
/* After every training step, with its wall time. */
void cg__governor_step(cg__governor *g, double seconds);
/* Back to the planned threads. */
void cg__governor_end(cg__governor *g);


#endif
