/* Losses, each returning a rank-0 tensor: the mean over all elements (mse,
 * l1, bce_with_logits) or over the batch (cross_entropy). Per-element terms
 * go to scratch and are added by cg__sum_all, whose fixed chunking gives the
 * same loss for any thread count. */
#include "internal.h"

#include <math.h>
#include <string.h>

static cg_tensor *record_scalar_loss(cg_ctx *ctx, const cg_op_def *op, cg_tensor *const *in,
                                     int n_in, double mean, cg_node **node)
{
    *node = NULL;
    cg_tensor *y = cg__tensor_alloc(ctx, 0, NULL);
    if (!y) return NULL;
    y->data[0] = (float)mean;
    if (cg__needs_grad(ctx, in, n_in) && !(*node = cg__record(ctx, op, y, in, n_in)))
        return NULL;
    return y;
}

/* ------------------------------------------ pointwise losses: mse, l1, bce */

typedef enum pair_kind { PAIR_MSE, PAIR_L1, PAIR_BCE } pair_kind;

static inline float stable_sigmoid(float x)
{
    if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

/* Loss term of prediction (or logit) x against target t. */
static inline float pair_term(pair_kind kind, float x, float t)
{
    switch (kind) {
    case PAIR_MSE: return (x - t) * (x - t);
    case PAIR_L1: return fabsf(x - t);
    /* −[t·log σ(x) + (1−t)·log(1−σ(x))], without overflow for any x */
    case PAIR_BCE: return fmaxf(x, 0.0f) - x * t + log1pf(expf(-fabsf(x)));
    }
    return 0.0f;
}

/* ∂term/∂x (which = 0) or ∂term/∂t (which = 1):
 *   mse: ±2(x−t)   l1: ±sign(x−t), 0 at x = t as PyTorch   bce: σ(x)−t, −x */
static inline float pair_grad(pair_kind kind, int which, float x, float t)
{
    float sign = which ? -1.0f : 1.0f;
    switch (kind) {
    case PAIR_MSE: return sign * 2.0f * (x - t);
    case PAIR_L1: return sign * (float)((x > t) - (x < t));
    case PAIR_BCE: return which ? -x : stable_sigmoid(x) - t;
    }
    return 0.0f;
}

static void pair_backward(cg_ctx *ctx, cg_node *node)
{
    pair_kind kind = (pair_kind)node->iarg[0];
    const float *x = node->inputs[0]->data, *t = node->inputs[1]->data;
    int64_t n = node->inputs[0]->size;
    float s = node->out->grad[0] / (float)n;
    for (int which = 0; which < 2; which++) {
        bool acc;
        float *d = cg__grad_dest(ctx, node->inputs[which], &acc);
        if (!d) continue;
#pragma omp parallel for schedule(static) if (n > 32768)
        for (int64_t i = 0; i < n; i++) {
            float g = s * pair_grad(kind, which, x[i], t[i]);
            d[i] = acc ? d[i] + g : g;
        }
    }
}

const cg_op_def cg_op_mse_loss = {"mse_loss", pair_backward};
const cg_op_def cg_op_l1_loss = {"l1_loss", pair_backward};
const cg_op_def cg_op_bce_with_logits = {"bce_with_logits", pair_backward};

static cg_tensor *pair_loss(cg_ctx *ctx, const cg_op_def *op, pair_kind kind, cg_tensor *x,
                            cg_tensor *t)
{
    cg_tensor *in[2] = {x, t};
    if (cg__null_input(op->name, in, 2)) return NULL;
    if (!cg_tensor_same_shape(x, t)) {
        char sx[96], st[96];
        cg_set_error(CG_ERR_ARG, "%s: input %s and target %s must have the same shape",
                     op->name, cg_shape_str(x, sx, sizeof sx), cg_shape_str(t, st, sizeof st));
        return NULL;
    }
    if (!ctx) {
        cg_set_error(CG_ERR_ARG, "%s: context is NULL", op->name);
        return NULL;
    }
    int64_t n = x->size;
    float *terms = cg__scratch(ctx, n);
    if (!terms) return NULL;
    const float *xd = x->data, *td = t->data;
#pragma omp parallel for schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; i++) terms[i] = pair_term(kind, xd[i], td[i]);
    cg_node *node;
    cg_tensor *y = record_scalar_loss(ctx, op, in, 2, cg__sum_all(terms, n) / (double)n, &node);
    if (node) node->iarg[0] = kind;
    return y;
}

cg_tensor *cg_mse_loss(cg_ctx *ctx, cg_tensor *pred, cg_tensor *target)
{
    return pair_loss(ctx, &cg_op_mse_loss, PAIR_MSE, pred, target);
}

cg_tensor *cg_l1_loss(cg_ctx *ctx, cg_tensor *pred, cg_tensor *target)
{
    return pair_loss(ctx, &cg_op_l1_loss, PAIR_L1, pred, target);
}

cg_tensor *cg_bce_with_logits(cg_ctx *ctx, cg_tensor *logits, cg_tensor *target)
{
    return pair_loss(ctx, &cg_op_bce_with_logits, PAIR_BCE, logits, target);
}

/* ------------------------------------------------------------ cross_entropy */

typedef struct ce_saved {
    float *probs;      /* softmax of the logits, [N,C] */
    int32_t *labels;   /* copy of the caller's labels */
} ce_saved;

/* dx[r,c] = g/N·(p[r,c] − [c = label_r]) */
static void cross_entropy_backward(cg_ctx *ctx, cg_node *node)
{
    cg_tensor *x = node->inputs[0];
    bool acc;
    float *dx = cg__grad_dest(ctx, x, &acc);
    if (!dx) return;
    const ce_saved *sv = node->saved;
    int64_t N = x->shape[0], C = x->shape[1];
    float s = node->out->grad[0] / (float)N;
#pragma omp parallel for schedule(static) if (N * C > 32768)
    for (int64_t r = 0; r < N; r++) {
        const float *p = sv->probs + r * C;
        float *d = dx + r * C;
        for (int64_t c = 0; c < C; c++) {
            float g = s * (p[c] - (c == sv->labels[r] ? 1.0f : 0.0f));
            d[c] = acc ? d[c] + g : g;
        }
    }
}

const cg_op_def cg_op_cross_entropy = {"cross_entropy", cross_entropy_backward};

/* loss_r = logsumexp(x_r) − x_r[label_r]; probs, when wanted, = softmax(x_r).
 * The max is a plain comparison: libm's fmaxf, a call per logit because of
 * its NaN rules, gives the same value (a NaN logit makes the loss NaN
 * either way). expf and the division stay as they are: a faster exp made
 * the loss phase 4x faster (2% of the char-LSTM's step) but moved the
 * results by a rounding, and runs must resume bit for bit from old
 * checkpoints (tests/cli/legacy_checkpoint.sh). */
static void cross_entropy_rows(const float *x, const int32_t *labels, float *loss, float *probs,
                               int64_t N, int64_t C)
{
#pragma omp parallel for schedule(static) if (N * C > 32768)
    for (int64_t r = 0; r < N; r++) {
        const float *xr = x + r * C;
        float *pr = probs ? probs + r * C : NULL;
        float m = xr[0], sum = 0.0f;
        for (int64_t c = 1; c < C; c++) m = xr[c] > m ? xr[c] : m;
        for (int64_t c = 0; c < C; c++) {
            float e = expf(xr[c] - m);
            if (pr) pr[c] = e;
            sum += e;
        }
        loss[r] = m + logf(sum) - xr[labels[r]];
        if (pr)
            for (int64_t c = 0; c < C; c++) pr[c] /= sum;
    }
}

static bool labels_ok(const cg_tensor *logits, const int32_t *labels)
{
    char sx[96];
    if (!labels) {
        cg_set_error(CG_ERR_ARG, "cross_entropy: labels are NULL");
        return false;
    }
    int64_t N = logits->shape[0], C = logits->shape[1];
    for (int64_t r = 0; r < N; r++) {
        if (labels[r] < 0 || labels[r] >= C) {
            cg_set_error(CG_ERR_ARG, "cross_entropy: label %d at row %lld outside [0, %lld) "
                         "for logits %s", (int)labels[r], (long long)r, (long long)C,
                         cg_shape_str(logits, sx, sizeof sx));
            return false;
        }
    }
    return true;
}

/* Saves what backward needs; NULL on allocation failure. */
static ce_saved *cross_entropy_save(cg_ctx *ctx, const int32_t *labels, int64_t N, int64_t C)
{
    ce_saved *sv = cg_arena_alloc(&ctx->arena, sizeof *sv);
    if (!sv) return NULL;
    sv->probs = cg__scratch(ctx, N * C);
    sv->labels = cg_arena_alloc(&ctx->arena, (size_t)N * sizeof *labels);
    if (!sv->probs || !sv->labels) return NULL;
    memcpy(sv->labels, labels, (size_t)N * sizeof *labels);
    return sv;
}

cg_tensor *cg_cross_entropy(cg_ctx *ctx, cg_tensor *logits, const int32_t *labels)
{
    if (cg__null_input("cross_entropy", &logits, 1)) return NULL;
    if (logits->ndim != 2) {
        char sx[96];
        cg_set_error(CG_ERR_ARG, "cross_entropy: logits must be [N, C], got %s",
                     cg_shape_str(logits, sx, sizeof sx));
        return NULL;
    }
    if (!labels_ok(logits, labels)) return NULL;
    if (!ctx) {
        cg_set_error(CG_ERR_ARG, "cross_entropy: context is NULL");
        return NULL;
    }
    int64_t N = logits->shape[0], C = logits->shape[1];
    bool record = cg__needs_grad(ctx, &logits, 1);
    ce_saved *sv = record ? cross_entropy_save(ctx, labels, N, C) : NULL;
    float *loss = cg__scratch(ctx, N);
    if ((record && !sv) || !loss) return NULL;
    cross_entropy_rows(logits->data, labels, loss, sv ? sv->probs : NULL, N, C);
    cg_node *node;
    cg_tensor *y = record_scalar_loss(ctx, &cg_op_cross_entropy, &logits, 1,
                                      cg__sum_all(loss, N) / (double)N, &node);
    if (node) node->saved = sv;
    return y;
}
