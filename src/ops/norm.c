/* Batch normalisation, as torch.nn.functional.batch_norm.
 *
 * x is [N, C, *spatial]; channel c is normalised over its M = N·spatial
 * values:  y = (x − μ_c)·rstd_c·w_c + b_c,  rstd_c = 1/√(σ²_c + eps).
 * In training mode μ and σ² (biased) are the batch's, and the running
 * statistics move towards them: running = (1−momentum)·running +
 * momentum·stat, with the unbiased variance σ²·M/(M−1) for running_var. In
 * evaluation mode μ and σ² are the running statistics, so the op is a fixed
 * per-channel affine map.
 *
 * Threads take blocks of BLOCK channels and walk them sample by sample, so
 * memory is read in order whatever the layout ([N, C] rows or [N, C, H, W]
 * planes). Every channel is summed in double by one thread, in index order:
 * results do not depend on the thread count. Backward keeps only μ and
 * rstd per channel and recomputes x̂ = (x − μ)·rstd from the input, in
 * double: with few values per channel dx is a small difference of large
 * terms (for two values, O(eps/σ²) of them), which float32 x̂ would drown in
 * rounding.
 *
 * Synchronised (cg__batch_norm with sync, in a data-parallel share of a
 * batch: ctx->share): μ and σ² are those of the whole batch, summed over the
 * processes in two rounds (Σx, then Σ(x − μ)²), and backward sums Σg and
 * Σg·x̂ over them too, so the processes together compute what one process
 * with the whole batch would. dw and db stay this process's own sums, which
 * the gradient averaging adds up like every other gradient.
 *
 * Layer normalisation (torch.nn.functional.layer_norm) is the second half
 * of this file. */
#include "internal.h"

#include <math.h>

/* Channels per block: one cache line of an [N, C] row. */
#define BLOCK 16

/* Channel c of x [N, C, S] is the N runs x[(n·C + c)·S ..+ S). */
typedef struct bn_dims {
    int64_t N, C, S, M;
} bn_dims;

static bn_dims dims_of(const cg_tensor *x)
{
    bn_dims d = {x->shape[0], x->shape[1], x->size / (x->shape[0] * x->shape[1]), 0};
    d.M = d.N * d.S;
    return d;
}

/* Runs the statement that follows the other arguments for every value of
 * channels c0 .. c0+nc−1, in memory order: k is the channel within the
 * block, i the value's index in x. [N, C] (S = 1) has a loop of its own, one
 * the compiler vectorises across the block. */
#define FOR_BLOCK(d, c0, nc, k, i, ...)                                                \
    do {                                                                               \
        for (int64_t n_ = 0; n_ < (d).N; n_++) {                                       \
            if ((d).S == 1) {                                                          \
                for (int64_t k = 0, i = n_ * (d).C + (c0); k < (nc); k++, i++) {       \
                    __VA_ARGS__;                                                       \
                }                                                                      \
                continue;                                                              \
            }                                                                          \
            for (int64_t k = 0; k < (nc); k++)                                         \
                for (int64_t i = (n_ * (d).C + (c0) + k) * (d).S, end_ = i + (d).S;    \
                     i < end_; i++) {                                                  \
                    __VA_ARGS__;                                                       \
                }                                                                      \
        }                                                                              \
    } while (0)

/* node->iarg slots: the mode, where weight and bias are among the inputs
 * (0: absent), and whether the statistics were synchronised. node->saved: μ
 * then rstd, C doubles each. */
enum { BN_TRAINING, BN_WEIGHT, BN_BIAS, BN_SYNC };

/* The statistics of a synchronised batch norm come from the whole batch. */
static bool syncs(const cg_ctx *ctx, bool sync)
{
    return sync && ctx->share.sum && ctx->share.rows > 0;
}

/* ---------------------------------------------------------------- backward */
/* With x̂ = (x − μ)·rstd, g = dy and k = w·rstd, sums over a channel:
 *   training:   dx = (k/M)·(M·g − Σg − x̂·Σ(g·x̂))   (μ and σ² depend on x)
 *   evaluation: dx = k·g
 *   dw = Σ g·x̂,  db = Σ g */

typedef struct bn_backward {
    bn_dims d;
    bool training;
    const double *mean, *rstd;
    const float *x, *dy, *w;
    float *dx, *dw, *db;      /* NULL: not wanted */
    bool acc_x, acc_w, acc_b;
    /* Synchronised: this process's Σg then Σg·x̂ (C each), and the whole
     * batch's; NULL otherwise. */
    double *local, *global;
} bn_backward;

static void block_sums(const bn_backward *a, int64_t c0, int64_t nc, double *sum_g,
                       double *sum_gx)
{
    bn_dims d = a->d;
    const double *mu = a->mean + c0, *r = a->rstd + c0;
    for (int64_t k = 0; k < nc; k++) sum_g[k] = sum_gx[k] = 0.0;
    if (a->dw || a->db || (a->training && a->dx)) {
        FOR_BLOCK(d, c0, nc, k, i, sum_g[k] += a->dy[i];
                  sum_gx[k] += a->dy[i] * ((a->x[i] - mu[k]) * r[k]));
    }
}

/* dx, dw and db of one block of channels; synchronised, its sums are
 * already in a->local and a->global. */
static void backward_block(const bn_backward *a, int64_t c0, int64_t nc)
{
    bn_dims d = a->d;
    const double *r = a->rstd + c0;
    double own_g[BLOCK], own_gx[BLOCK];
    const double *sum_g = own_g, *sum_gx = own_gx;
    const double *all_g = own_g, *all_gx = own_gx; /* what dx centres with */
    if (a->local) {
        sum_g = a->local + c0, sum_gx = a->local + d.C + c0;
        all_g = a->global + c0, all_gx = a->global + d.C + c0;
    } else {
        block_sums(a, c0, nc, own_g, own_gx);
    }
    if (a->dx) {
        const double *mu = a->mean + c0;
        double scale[BLOCK], mean_g[BLOCK], mean_gx[BLOCK];
        for (int64_t k = 0; k < nc; k++) {
            scale[k] = (a->w ? a->w[c0 + k] : 1.0) * r[k];
            mean_g[k] = a->training ? all_g[k] / (double)d.M : 0.0;
            mean_gx[k] = a->training ? all_gx[k] / (double)d.M : 0.0;
        }
        FOR_BLOCK(d, c0, nc, k, i, double xhat = (a->x[i] - mu[k]) * r[k];
                  float v = (float)(scale[k] * (a->dy[i] - mean_g[k] - xhat * mean_gx[k]));
                  a->dx[i] = a->acc_x ? a->dx[i] + v : v);
    }
    for (int64_t k = 0; k < nc; k++) {
        if (a->dw) a->dw[c0 + k] = (a->acc_w ? a->dw[c0 + k] : 0.0f) + (float)sum_gx[k];
        if (a->db) a->db[c0 + k] = (a->acc_b ? a->db[c0 + k] : 0.0f) + (float)sum_g[k];
    }
}

/* Σg and Σg·x̂ over the whole batch into a->global, this process's into
 * a->local. Each process's dy is its loss's, a mean over its own rows, so
 * its sums count with weight rows / total_rows (as its gradients do in the
 * averaging); the whole batch's divided by this process's M are then the
 * means one process would take, in this process's units. */
static bool sync_backward_sums(cg_ctx *ctx, bn_backward *a)
{
    int64_t C = a->d.C, blocks = (C + BLOCK - 1) / BLOCK;
    a->local = cg_arena_alloc(&ctx->arena, 2 * (size_t)C * sizeof *a->local);
    a->global = cg_arena_alloc(&ctx->arena, 2 * (size_t)C * sizeof *a->global);
    if (!a->local || !a->global) {
        if (ctx->backward_status == CG_OK) ctx->backward_status = cg_last_status();
        return false;
    }
#pragma omp parallel for schedule(static) if (a->d.N * C * a->d.S > 32768 && blocks > 1)
    for (int64_t t = 0; t < blocks; t++) {
        int64_t c0 = t * BLOCK, nc = C - c0 < BLOCK ? C - c0 : BLOCK;
        block_sums(a, c0, nc, a->local + c0, a->local + C + c0);
    }
    const cg_ctx_share *sh = &ctx->share;
    double weight = (double)sh->rows / (double)sh->total_rows;
    for (int64_t c = 0; c < 2 * C; c++) a->global[c] = weight * a->local[c];
    sh->sum(sh->user, a->global, 2 * C);
    return true;
}

static void batch_norm_backward(cg_ctx *ctx, cg_node *node)
{
    cg_tensor *x = node->inputs[0];
    cg_tensor *w = node->iarg[BN_WEIGHT] ? node->inputs[node->iarg[BN_WEIGHT]] : NULL;
    cg_tensor *b = node->iarg[BN_BIAS] ? node->inputs[node->iarg[BN_BIAS]] : NULL;
    bn_backward a = {.d = dims_of(x), .training = node->iarg[BN_TRAINING], .x = x->data,
                     .dy = node->out->grad, .w = w ? w->data : NULL};
    a.mean = node->saved;
    a.rstd = a.mean + a.d.C;
    a.dx = cg__grad_dest(ctx, x, &a.acc_x);
    a.dw = w ? cg__grad_dest(ctx, w, &a.acc_w) : NULL;
    a.db = b ? cg__grad_dest(ctx, b, &a.acc_b) : NULL;
    int64_t blocks = (a.d.C + BLOCK - 1) / BLOCK;
    if (node->iarg[BN_SYNC] && !sync_backward_sums(ctx, &a)) return;
#pragma omp parallel for schedule(static) if (x->size > 32768 && blocks > 1)
    for (int64_t t = 0; t < blocks; t++) {
        int64_t c0 = t * BLOCK;
        backward_block(&a, c0, a.d.C - c0 < BLOCK ? a.d.C - c0 : BLOCK);
    }
}

const cg_op_def cg_op_batch_norm = {"batch_norm", batch_norm_backward};

/* ---------------------------------------------------------------- forward */

typedef struct bn_forward {
    bn_dims d;
    bool training;
    double momentum, eps;
    const float *x, *w, *b;   /* w, b: NULL without */
    float *y;
    float *running_mean, *running_var;   /* NULL: not tracked (training only) */
    double *saved;            /* μ and rstd for backward, or NULL */
    /* Synchronised: the whole batch's μ then σ² (C each), and how many
     * values per channel it has; NULL otherwise. */
    const double *stats;
    int64_t count;
} bn_forward;

/* Batch mean and biased variance of the block's channels: two passes. */
static void batch_stats(const bn_forward *a, int64_t c0, int64_t nc, double *mean, double *var)
{
    bn_dims d = a->d;
    for (int64_t k = 0; k < nc; k++) mean[k] = var[k] = 0.0;
    FOR_BLOCK(d, c0, nc, k, i, mean[k] += a->x[i]);
    for (int64_t k = 0; k < nc; k++) mean[k] /= (double)d.M;
    FOR_BLOCK(d, c0, nc, k, i, var[k] += (a->x[i] - mean[k]) * (a->x[i] - mean[k]));
    for (int64_t k = 0; k < nc; k++) var[k] /= (double)d.M;
}

static void forward_block(const bn_forward *a, int64_t c0, int64_t nc)
{
    bn_dims d = a->d;
    double mean[BLOCK], var[BLOCK], scale[BLOCK], shift[BLOCK];
    if (a->stats) {
        for (int64_t k = 0; k < nc; k++) {
            mean[k] = a->stats[c0 + k];
            var[k] = a->stats[d.C + c0 + k];
        }
    } else if (a->training) {
        batch_stats(a, c0, nc, mean, var);
    } else {
        for (int64_t k = 0; k < nc; k++) {
            mean[k] = a->running_mean[c0 + k];
            var[k] = a->running_var[c0 + k];
        }
    }
    for (int64_t k = 0, c = c0; k < nc; k++, c++) {
        if (a->training && a->running_mean) {
            double bessel = (double)a->count / (double)(a->count - 1); /* > 1 in training */
            a->running_mean[c] = (float)((1.0 - a->momentum) * a->running_mean[c] +
                                         a->momentum * mean[k]);
            a->running_var[c] = (float)((1.0 - a->momentum) * a->running_var[c] +
                                        a->momentum * var[k] * bessel);
        }
        double rstd = 1.0 / sqrt(var[k] + a->eps);
        scale[k] = rstd * (a->w ? a->w[c] : 1.0);
        shift[k] = a->b ? a->b[c] : 0.0;
        if (a->saved) {
            a->saved[c] = mean[k];
            a->saved[d.C + c] = rstd;
        }
    }
    FOR_BLOCK(d, c0, nc, k, i, a->y[i] = (float)((a->x[i] - mean[k]) * scale[k] + shift[k]));
}

/* The whole batch's μ and biased σ² into stats (C each): Σx over every
 * process gives μ, then Σ(x − μ)² gives σ², two passes as batch_stats. */
static double *sync_stats(cg_ctx *ctx, const bn_forward *a)
{
    bn_dims d = a->d;
    int64_t blocks = (d.C + BLOCK - 1) / BLOCK;
    double *stats = cg_arena_alloc(&ctx->arena, 2 * (size_t)d.C * sizeof *stats);
    if (!stats) return NULL;
    double *mean = stats, *var = stats + d.C;
    const cg_ctx_share *sh = &ctx->share;
#pragma omp parallel for schedule(static) if (d.N * d.C * d.S > 32768 && blocks > 1)
    for (int64_t t = 0; t < blocks; t++) {
        int64_t c0 = t * BLOCK, nc = d.C - c0 < BLOCK ? d.C - c0 : BLOCK;
        for (int64_t k = 0; k < nc; k++) mean[c0 + k] = 0.0;
        FOR_BLOCK(d, c0, nc, k, i, mean[c0 + k] += a->x[i]);
    }
    sh->sum(sh->user, mean, d.C);
    for (int64_t c = 0; c < d.C; c++) mean[c] /= (double)a->count;
#pragma omp parallel for schedule(static) if (d.N * d.C * d.S > 32768 && blocks > 1)
    for (int64_t t = 0; t < blocks; t++) {
        int64_t c0 = t * BLOCK, nc = d.C - c0 < BLOCK ? d.C - c0 : BLOCK;
        for (int64_t k = 0; k < nc; k++) var[c0 + k] = 0.0;
        FOR_BLOCK(d, c0, nc, k, i,
                  var[c0 + k] += (a->x[i] - mean[c0 + k]) * (a->x[i] - mean[c0 + k]));
    }
    sh->sum(sh->user, var, d.C);
    for (int64_t c = 0; c < d.C; c++) var[c] /= (double)a->count;
    return stats;
}

static bool param_ok(const cg_tensor *x, const cg_tensor *p, const char *what)
{
    if (!p || (p->ndim == 1 && p->shape[0] == x->shape[1])) return true;
    char sx[96], sp[96];
    cg_set_error(CG_ERR_ARG, "batch_norm: %s must be [C] = [%lld] for input %s, got %s", what,
                 (long long)x->shape[1], cg_shape_str(x, sx, sizeof sx),
                 cg_shape_str(p, sp, sizeof sp));
    return false;
}

/* Values per channel the statistics are taken over: this process's, or
 * (synchronised) the whole batch's. */
static int64_t stats_count(const cg_ctx *ctx, const cg_tensor *x, bool sync)
{
    bn_dims d = dims_of(x);
    const cg_ctx_share *sh = &ctx->share;
    return sync ? d.M / sh->rows * sh->total_rows : d.M;
}

static bool args_ok(const cg_ctx *ctx, const cg_tensor *x, const cg_tensor *w,
                    const cg_tensor *b, const float *rmean, const float *rvar, float momentum,
                    float eps, bool training, bool sync)
{
    char sx[96];
    const char *why = NULL;
    if (!ctx)
        why = "context is NULL";
    else if (!(eps >= 0.0f && isfinite(eps)))
        why = "eps must be finite and >= 0";
    else if (!(momentum >= 0.0f && momentum <= 1.0f))
        why = "momentum must be in [0, 1]";
    else if (!rmean != !rvar)
        why = "running_mean and running_var must be given together";
    else if (!training && !rmean)
        why = "evaluation mode needs running_mean and running_var";
    if (why) {
        cg_set_error(CG_ERR_ARG, "batch_norm: %s (eps %g, momentum %g)", why, (double)eps,
                     (double)momentum);
        return false;
    }
    if (x->ndim < 2) {
        cg_set_error(CG_ERR_ARG, "batch_norm: input must be [N, C] or [N, C, ...], got %s",
                     cg_shape_str(x, sx, sizeof sx));
        return false;
    }
    /* PyTorch refuses this too: one value has no spread to normalise by,
     * and its unbiased variance is undefined. */
    if (training && stats_count(ctx, x, sync) < 2) {
        cg_set_error(CG_ERR_ARG, "batch_norm: training needs more than one value per channel "
                                 "to take batch statistics from, got input %s",
                     cg_shape_str(x, sx, sizeof sx));
        return false;
    }
    return param_ok(x, w, "weight") && param_ok(x, b, "bias");
}

cg_tensor *cg_batch_norm(cg_ctx *ctx, cg_tensor *x, cg_tensor *weight, cg_tensor *bias,
                         float *running_mean, float *running_var, int64_t *num_batches_tracked,
                         float momentum, float eps, bool training)
{
    return cg__batch_norm(ctx, x, weight, bias, running_mean, running_var, num_batches_tracked,
                          momentum, eps, training, false);
}

cg_tensor *cg__batch_norm(cg_ctx *ctx, cg_tensor *x, cg_tensor *weight, cg_tensor *bias,
                          float *running_mean, float *running_var, int64_t *num_batches_tracked,
                          float momentum, float eps, bool training, bool sync)
{
    if (cg__null_input("batch_norm", &x, 1)) return NULL;
    /* A rows count that does not divide x (not batch-major) cannot be
     * synchronised; it would not be a batch norm over the batch. */
    sync = ctx && training && syncs(ctx, sync) && x->ndim >= 2 &&
           dims_of(x).M % ctx->share.rows == 0;
    if (!args_ok(ctx, x, weight, bias, running_mean, running_var, momentum, eps, training, sync))
        return NULL;
    bn_forward a = {.d = dims_of(x), .training = training, .momentum = momentum, .eps = eps,
                    .x = x->data, .w = weight ? weight->data : NULL,
                    .b = bias ? bias->data : NULL, .running_mean = running_mean,
                    .running_var = running_var, .count = stats_count(ctx, x, sync)};
    cg_tensor *in[3] = {x};
    int n_in = 1, w_at = 0, b_at = 0;
    if (weight) in[w_at = n_in++] = weight;
    if (bias) in[b_at = n_in++] = bias;
    /* Everything that can fail comes before the running statistics move. */
    cg_tensor *y = cg__tensor_like(ctx, x);
    if (!y) return NULL;
    a.y = y->data;
    if (cg__needs_grad(ctx, in, n_in)) {
        cg_node *node = cg__record(ctx, &cg_op_batch_norm, y, in, n_in);
        a.saved = cg_arena_alloc(&ctx->arena, 2 * (size_t)a.d.C * sizeof *a.saved);
        if (!node || !a.saved) return NULL;
        node->iarg[BN_TRAINING] = training;
        node->iarg[BN_WEIGHT] = w_at;
        node->iarg[BN_BIAS] = b_at;
        node->iarg[BN_SYNC] = sync;
        node->saved = a.saved;
    }
    if (sync && !(a.stats = sync_stats(ctx, &a))) return NULL;
    int64_t blocks = (a.d.C + BLOCK - 1) / BLOCK;
#pragma omp parallel for schedule(static) if (x->size > 32768 && blocks > 1)
    for (int64_t t = 0; t < blocks; t++) {
        int64_t c0 = t * BLOCK;
        forward_block(&a, c0, a.d.C - c0 < BLOCK ? a.d.C - c0 : BLOCK);
    }
    if (training && num_batches_tracked) ++*num_batches_tracked;
    return y;
}

/* ================================================================ layer norm
 *
 * As torch.nn.functional.layer_norm: x is [*, D_1, ..., D_k], the last
 * k = normalized_ndim dimensions being the normalized shape, so x is R rows
 * of D = D_1·…·D_k values, and each row is normalised by its own mean and
 * biased variance:  y = (x − μ_r)·rstd_r·w + b,  rstd_r = 1/√(σ²_r + eps),
 * with w and b of the normalized shape (or absent). No running statistics:
 * training and evaluation are the same.
 *
 * A row is one thread's, summed in double in index order (two passes), and
 * the parameter gradients are column sums taken by one thread per block of
 * columns in row order: results do not depend on the thread count. Backward
 * keeps μ and rstd per row and recomputes x̂ in double, for batch norm's
 * reason (with few values per row dx is a small difference of large terms). */

/* Columns per block of the parameter gradients: four cache lines of a row. */
#define LN_COLS 64

/* node->iarg slots: D, and where weight and bias are among the inputs (0:
 * absent). node->saved: μ then rstd, R doubles each. */
enum { LN_D, LN_WEIGHT, LN_BIAS };

/* ---------------------------------------------------------------- backward */
/* With x̂ = (x − μ)·rstd and g = dy·w, over the D values of a row:
 *   dx = rstd·(g − Σg/D − x̂·Σ(g·x̂)/D)
 * and over the R rows, per column j:  dw_j = Σ dy·x̂,  db_j = Σ dy */

typedef struct ln_backward {
    int64_t R, D;
    const double *mean, *rstd;
    const float *x, *dy, *w;
    float *dx, *dw, *db;      /* NULL: not wanted */
    bool acc_x, acc_w, acc_b;
} ln_backward;

/* Row sums in LN_LANES partial sums, added up at the end: the compiler
 * keeps them in vector registers, where one running double sum is a chain
 * of dependent adds (layer norm was 4% of a Transformer step). The order is
 * fixed, so results still do not depend on the thread count. */
#define LN_LANES 8

static double lanes_total(const double *lane)
{
    double t = 0.0;
    for (int k = 0; k < LN_LANES; k++) t += lane[k];
    return t;
}

/* Σ g and Σ g·x̂ of a row, g = dy·w (w NULL: 1). */
static void ln_row_grad_sums(const float *x, const float *dy, const float *w, int64_t D,
                             double mu, double rstd, double *sum_g, double *sum_gx)
{
    double lg[LN_LANES] = {0}, lgx[LN_LANES] = {0};
    int64_t j = 0;
    for (; j + LN_LANES <= D; j += LN_LANES)
        for (int k = 0; k < LN_LANES; k++) {
            double g = (double)dy[j + k] * (w ? (double)w[j + k] : 1.0);
            lg[k] += g;
            lgx[k] += g * ((x[j + k] - mu) * rstd);
        }
    for (int k = 0; j < D; j++, k++) {
        double g = (double)dy[j] * (w ? (double)w[j] : 1.0);
        lg[k] += g;
        lgx[k] += g * ((x[j] - mu) * rstd);
    }
    *sum_g = lanes_total(lg);
    *sum_gx = lanes_total(lgx);
}

static void ln_backward_row(const ln_backward *a, int64_t r)
{
    const float *x = a->x + r * a->D, *dy = a->dy + r * a->D, *w = a->w;
    float *dx = a->dx + r * a->D;
    double mu = a->mean[r], rstd = a->rstd[r], sum_g, sum_gx;
    ln_row_grad_sums(x, dy, w, a->D, mu, rstd, &sum_g, &sum_gx);
    double mean_g = sum_g / (double)a->D, mean_gx = sum_gx / (double)a->D;
    for (int64_t j = 0; j < a->D; j++) {
        double g = (double)dy[j] * (w ? (double)w[j] : 1.0), xhat = (x[j] - mu) * rstd;
        float v = (float)(rstd * (g - mean_g - xhat * mean_gx));
        dx[j] = a->acc_x ? dx[j] + v : v;
    }
}

static void ln_param_grad_block(const ln_backward *a, int64_t j0, int64_t nj)
{
    double sum_g[LN_COLS] = {0}, sum_gx[LN_COLS] = {0};
    for (int64_t r = 0; r < a->R; r++) {
        const float *x = a->x + r * a->D + j0, *dy = a->dy + r * a->D + j0;
        double mu = a->mean[r], rstd = a->rstd[r];
        for (int64_t k = 0; k < nj; k++) {
            sum_g[k] += dy[k];
            sum_gx[k] += dy[k] * ((x[k] - mu) * rstd);
        }
    }
    for (int64_t k = 0, j = j0; k < nj; k++, j++) {
        if (a->dw) a->dw[j] = (a->acc_w ? a->dw[j] : 0.0f) + (float)sum_gx[k];
        if (a->db) a->db[j] = (a->acc_b ? a->db[j] : 0.0f) + (float)sum_g[k];
    }
}

static void layer_norm_backward(cg_ctx *ctx, cg_node *node)
{
    cg_tensor *x = node->inputs[0];
    cg_tensor *w = node->iarg[LN_WEIGHT] ? node->inputs[node->iarg[LN_WEIGHT]] : NULL;
    cg_tensor *b = node->iarg[LN_BIAS] ? node->inputs[node->iarg[LN_BIAS]] : NULL;
    ln_backward a = {.D = node->iarg[LN_D], .x = x->data, .dy = node->out->grad,
                     .w = w ? w->data : NULL};
    a.R = x->size / a.D;
    a.mean = node->saved;
    a.rstd = a.mean + a.R;
    a.dx = cg__grad_dest(ctx, x, &a.acc_x);
    a.dw = w ? cg__grad_dest(ctx, w, &a.acc_w) : NULL;
    a.db = b ? cg__grad_dest(ctx, b, &a.acc_b) : NULL;
    bool big = x->size > 32768;
    if (a.dx) {
#pragma omp parallel for schedule(static) if (big && a.R > 1)
        for (int64_t r = 0; r < a.R; r++) ln_backward_row(&a, r);
    }
    if (a.dw || a.db) {
        int64_t blocks = (a.D + LN_COLS - 1) / LN_COLS;
#pragma omp parallel for schedule(static) if (big && blocks > 1)
        for (int64_t t = 0; t < blocks; t++) {
            int64_t j0 = t * LN_COLS;
            ln_param_grad_block(&a, j0, a.D - j0 < LN_COLS ? a.D - j0 : LN_COLS);
        }
    }
}

const cg_op_def cg_op_layer_norm = {"layer_norm", layer_norm_backward};

/* ---------------------------------------------------------------- forward */

typedef struct ln_forward {
    int64_t R, D;
    double eps;
    const float *x, *w, *b;   /* w, b: NULL without */
    float *y;
    double *saved;            /* μ and rstd for backward, or NULL */
} ln_forward;

/* Σ x, or Σ (x − mean)² when centred, of D values in lanes. */
static double ln_row_sum(const float *x, int64_t D, double mean, bool centred)
{
    double lane[LN_LANES] = {0};
    int64_t j = 0;
    for (; j + LN_LANES <= D; j += LN_LANES)
        for (int k = 0; k < LN_LANES; k++) {
            double v = (double)x[j + k] - mean;
            lane[k] += centred ? v * v : v;
        }
    for (int k = 0; j < D; j++, k++) {
        double v = (double)x[j] - mean;
        lane[k] += centred ? v * v : v;
    }
    return lanes_total(lane);
}

/* Mean and biased variance in two passes, then the affine map. */
static void ln_forward_row(const ln_forward *a, int64_t r)
{
    const float *x = a->x + r * a->D, *w = a->w, *b = a->b;
    float *y = a->y + r * a->D;
    double mean = ln_row_sum(x, a->D, 0.0, false) / (double)a->D;
    double var = ln_row_sum(x, a->D, mean, true) / (double)a->D;
    double rstd = 1.0 / sqrt(var + a->eps);
    if (a->saved) {
        a->saved[r] = mean;
        a->saved[a->R + r] = rstd;
    }
    for (int64_t j = 0; j < a->D; j++)
        y[j] = (float)((x[j] - mean) * rstd * (w ? (double)w[j] : 1.0) + (b ? (double)b[j] : 0.0));
}

/* weight and bias must be the normalized shape itself, as PyTorch requires. */
static bool ln_param_ok(const cg_tensor *x, int k, const cg_tensor *p, const char *what)
{
    const int64_t *norm = x->shape + x->ndim - k;
    bool ok = !p || p->ndim == k;
    for (int i = 0; ok && p && i < k; i++) ok = p->shape[i] == norm[i];
    if (ok) return true;
    char sn[96], sx[96], sp[96];
    cg_set_error(CG_ERR_ARG, "layer_norm: %s must be the normalized shape %s (the last %d "
                             "dimension%s of input %s), got %s",
                 what, cg_dims_str(k, norm, sn, sizeof sn), k, k == 1 ? "" : "s",
                 cg_shape_str(x, sx, sizeof sx), cg_shape_str(p, sp, sizeof sp));
    return false;
}

static bool ln_args_ok(const cg_ctx *ctx, const cg_tensor *x, int k, const cg_tensor *w,
                       const cg_tensor *b, float eps)
{
    char sx[96];
    if (!ctx) {
        cg_set_error(CG_ERR_ARG, "layer_norm: context is NULL");
        return false;
    }
    if (!(eps >= 0.0f && isfinite(eps))) {
        cg_set_error(CG_ERR_ARG, "layer_norm: eps must be finite and >= 0, got %g", (double)eps);
        return false;
    }
    /* PyTorch too wants a normalized shape of at least one dimension. */
    if (k < 1 || k > x->ndim) {
        cg_set_error(CG_ERR_ARG, "layer_norm: normalized_ndim must be 1 to the input's rank %d, "
                                 "got %d (input %s)",
                     x->ndim, k, cg_shape_str(x, sx, sizeof sx));
        return false;
    }
    return ln_param_ok(x, k, w, "weight") && ln_param_ok(x, k, b, "bias");
}

cg_tensor *cg_layer_norm(cg_ctx *ctx, cg_tensor *x, int normalized_ndim, cg_tensor *weight,
                         cg_tensor *bias, float eps)
{
    if (cg__null_input("layer_norm", &x, 1)) return NULL;
    if (!ln_args_ok(ctx, x, normalized_ndim, weight, bias, eps)) return NULL;
    ln_forward a = {.D = cg__numel(normalized_ndim, x->shape + x->ndim - normalized_ndim),
                    .eps = eps, .x = x->data, .w = weight ? weight->data : NULL,
                    .b = bias ? bias->data : NULL};
    a.R = x->size / a.D;
    cg_tensor *in[3] = {x};
    int n_in = 1, w_at = 0, b_at = 0;
    if (weight) in[w_at = n_in++] = weight;
    if (bias) in[b_at = n_in++] = bias;
    cg_tensor *y = cg__tensor_like(ctx, x);
    if (!y) return NULL;
    a.y = y->data;
    if (cg__needs_grad(ctx, in, n_in)) {
        cg_node *node = cg__record(ctx, &cg_op_layer_norm, y, in, n_in);
        a.saved = cg_arena_alloc(&ctx->arena, 2 * (size_t)a.R * sizeof *a.saved);
        if (!node || !a.saved) return NULL;
        node->iarg[LN_D] = a.D;
        node->iarg[LN_WEIGHT] = w_at;
        node->iarg[LN_BIAS] = b_at;
        node->saved = a.saved;
    }
#pragma omp parallel for schedule(static) if (x->size > 32768 && a.R > 1)
    for (int64_t r = 0; r < a.R; r++) ln_forward_row(&a, r);
    return y;
}
