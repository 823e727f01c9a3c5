/* Evaluation and prediction: the model in evaluation mode (dropout off, no
 * tape) over a data set in file order. */
#include "distributed.h"
#include "train_internal.h"

#include <math.h>
#include <stdlib.h>

cg_status cg__batch_buffers_init(cg_batch_buffers *b, const cg_dataset *data, int64_t batch)
{
    *b = (cg_batch_buffers){0};
    if (data->labels)
        b->labels = malloc((size_t)(batch * cg_dataset_labels_per_sample(data)) * sizeof *b->labels);
    if (data->y) b->targets = malloc((size_t)batch * (size_t)data->target_size * sizeof(float));
    if ((data->labels && !b->labels) || (data->y && !b->targets)) {
        cg__batch_buffers_release(b);
        return cg_set_error(CG_ERR_NOMEM, "no memory for batches of %lld samples",
                            (long long)batch);
    }
    return CG_OK;
}

void cg__batch_buffers_release(cg_batch_buffers *b)
{
    free(b->labels);
    free(b->targets);
    *b = (cg_batch_buffers){0};
}

cg_tensor *cg__gather(cg_ctx *ctx, const cg_dataset *data, const int64_t *indices, int64_t n,
                      cg_batch_buffers *buf)
{
    int64_t shape[CG_MAX_DIMS];
    shape[0] = n;
    for (int i = 0; i < data->sample_ndim; i++) shape[i + 1] = data->sample_shape[i];
    cg_tensor *x = cg_tensor_new(ctx, data->sample_ndim + 1, shape);
    if (!x) return NULL;
    if (cg_dataset_batch(data, indices, n, x->data, buf->labels, buf->targets) != CG_OK)
        return NULL;
    return x;
}

cg_status cg__check_training_data(const cg_model *model, const cg_dataset *data)
{
    if (!data->labels && !data->y)
        return cg_set_error(CG_ERR_ARG, "%s: the data have no targets (labels or values)",
                            data->source);
    return cg_model_check_data(model, data);
}

double cg__accuracy(const cg_model *model, int64_t correct, int64_t samples)
{
    const cg_model_spec *spec = cg_model_get_spec(model);
    if (samples <= 0) return NAN;
    /* Every labelled position counts: each step of a sequence output. */
    if (spec->loss == CG_LOSS_CROSS_ENTROPY)
        return (double)correct / ((double)samples * (double)cg_model_spec_label_positions(spec));
    if (spec->loss == CG_LOSS_BCE_WITH_LOGITS) {
        /* BCE counts every output value. */
        int64_t per_sample = 1;
        for (int i = 0; i < spec->output_ndim; i++) per_sample *= spec->output[i];
        return (double)correct / ((double)samples * (double)per_sample);
    }
    return NAN;
}

/* Indices first..first+n-1, for gathering consecutive samples. */
static void fill_range(int64_t *idx, int64_t first, int64_t n)
{
    for (int64_t i = 0; i < n; i++) idx[i] = first + i;
}

/* Runs fn over every batch's outputs in evaluation mode. */
typedef cg_status (*batch_fn)(void *user, int64_t first, int64_t n, const cg_tensor *out,
                              const cg_batch_buffers *buf);

/* One batch's indices and targets, in the arena of the step: evaluation
 * (every epoch's validation included) then allocates nothing after the
 * arena has grown to fit its first batch. */
static cg_status batch_scratch(cg_ctx *ctx, const cg_dataset *data, int64_t n, int64_t **idx,
                               cg_batch_buffers *buf)
{
    *buf = (cg_batch_buffers){0};
    *idx = cg_arena_alloc(&ctx->arena, (size_t)n * sizeof **idx);
    if (data->labels)
        buf->labels = cg_arena_alloc(&ctx->arena, (size_t)(n * cg_dataset_labels_per_sample(data)) *
                                                      sizeof *buf->labels);
    if (data->y) buf->targets = cg__scratch(ctx, n * data->target_size);
    bool ok = *idx && (!data->labels || buf->labels) && (!data->y || buf->targets);
    return ok ? CG_OK : cg_last_status();
}

/* Evaluation keeps every activation of a batch in the arena until the
 * batch is done (no tape, but nothing is freed sooner): a batch of 1,024
 * 64-character windows of the char GPT took 2 GB where its training steps
 * take a tenth of it. Batches run in chunks whose activations (as the
 * training estimate counts them, gradients included) stay within this, or
 * within one training batch's when that is larger. Results do not depend
 * on the chunking. */
#define EVAL_ACTIVATION_BYTES ((uint64_t)256 << 20)

static int64_t eval_chunk(const cg_model *model, int64_t batch)
{
    const cg_model_spec *spec = cg_model_get_spec(model);
    uint64_t one, two;
    if (!spec || cg_model_spec_memory(spec, 1, &one) != CG_OK ||
        cg_model_spec_memory(spec, 2, &two) != CG_OK || two <= one)
        return batch;
    int64_t cap = (int64_t)(EVAL_ACTIVATION_BYTES / (two - one));
    if (cap < spec->train.batch) cap = spec->train.batch;
    if (cap < 1) cap = 1;
    return batch < cap ? batch : cap;
}

/* Over samples [begin, end) of data only. */
static cg_status for_each_batch_in(cg_ctx *ctx, cg_model *model, const cg_dataset *data,
                                   int64_t begin, int64_t end, int64_t batch, batch_fn fn,
                                   void *user)
{
    if (batch < 1) return cg_set_error(CG_ERR_ARG, "batch size must be >= 1, got %lld", (long long)batch);
    /* A stateful model reads the data as one stream, in order: every
     * sample continues the one before. */
    if (cg_model_is_stateful(model)) batch = 1;
    batch = eval_chunk(model, batch);
    cg_model_reset_state(model);
    bool was_training = cg_ctx_training(ctx), had_grad = cg_ctx_grad_enabled(ctx);
    cg_ctx_set_training(ctx, false);
    cg_ctx_set_grad_enabled(ctx, false);
    cg_status s = CG_OK;
    for (int64_t first = begin; s == CG_OK && first < end; first += batch) {
        int64_t n = end - first < batch ? end - first : batch;
        cg_ctx_reset(ctx);
        int64_t *idx;
        cg_batch_buffers buf;
        s = batch_scratch(ctx, data, n, &idx, &buf);
        if (s != CG_OK) break;
        fill_range(idx, first, n);
        cg_tensor *out = cg_model_forward(ctx, model, cg__gather(ctx, data, idx, n, &buf));
        s = out ? fn(user, first, n, out, &buf) : cg_last_status();
    }
    cg_model_reset_state(model);
    cg_ctx_reset(ctx);
    cg_ctx_set_training(ctx, was_training);
    cg_ctx_set_grad_enabled(ctx, had_grad);
    return s;
}

static cg_status for_each_batch(cg_ctx *ctx, cg_model *model, const cg_dataset *data,
                                int64_t batch, batch_fn fn, void *user)
{
    return for_each_batch_in(ctx, model, data, 0, data->count, batch, fn, user);
}

typedef struct eval_sums {
    cg_ctx *ctx;
    cg_model *model;
    double loss_sum;
    int64_t correct;
    int top_k;
    cg_metric_sums m;
} eval_sums;

static void add_regression(cg_metric_sums *m, const float *out, const float *y, int64_t count)
{
    if (m->values == 0 && count > 0) m->shift = (double)y[0];
    for (int64_t i = 0; i < count; i++) {
        double d = (double)out[i] - (double)y[i], c = (double)y[i] - m->shift;
        m->abs_sum += fabs(d);
        m->sq_sum += d * d;
        m->y_sum += c;
        m->y_sq_sum += c * c;
    }
    m->values += count;
}

/* Labelled positions whose label's logit has fewer than k logits above it. */
static int64_t top_k_hits(const cg_tensor *out, const int32_t *labels, int k)
{
    int64_t classes = out->shape[out->ndim - 1], n = out->size / classes, hits = 0;
    for (int64_t i = 0; i < n; i++) {
        const float *row = out->data + i * classes;
        float own = row[labels[i]];
        int64_t above = 0;
        for (int64_t c = 0; c < classes; c++) above += row[c] > own;
        hits += above < k;
    }
    return hits;
}

void cg__metric_sums_add(cg_metric_sums *m, const cg_model *model, const cg_tensor *out,
                         const int32_t *labels, const float *targets, int top_k)
{
    cg_loss_kind loss = cg_model_get_spec(model)->loss;
    if ((loss == CG_LOSS_MSE || loss == CG_LOSS_L1) && targets)
        add_regression(m, out->data, targets, out->size);
    if (top_k >= 2 && labels && loss == CG_LOSS_CROSS_ENTROPY)
        m->top_k_correct += top_k_hits(out, labels, top_k);
}

void cg__metric_sums_result(const cg_metric_sums *m, int64_t samples, int top_k, double *mae,
                            double *rmse, double *r2, double *top_k_accuracy)
{
    *mae = *rmse = *r2 = NAN;
    if (m->values > 0) {
        double n = (double)m->values;
        double ss_tot = m->y_sq_sum - m->y_sum * m->y_sum / n;
        *mae = m->abs_sum / n;
        *rmse = sqrt(m->sq_sum / n);
        *r2 = ss_tot > 0.0 ? 1.0 - m->sq_sum / ss_tot : NAN;
    }
    *top_k_accuracy = top_k > 0 && samples > 0 ? (double)m->top_k_correct / (double)samples : NAN;
}

static cg_status add_batch_loss(void *user, int64_t first, int64_t n, const cg_tensor *out,
                                const cg_batch_buffers *buf)
{
    eval_sums *e = user;
    cg_tensor *loss = cg_model_loss(e->ctx, e->model, (cg_tensor *)out, buf->labels, buf->targets);
    if (!loss) return cg_last_status();
    e->loss_sum += (double)loss->data[0] * (double)n;
    e->correct += cg_model_count_correct(e->model, out, buf->labels, buf->targets);
    cg__metric_sums_add(&e->m, e->model, out, buf->labels, buf->targets, e->top_k);
    return CG_OK;
}

/* Group: the sums of every rank's share added up, from the origin a single
 * process takes (the first target value). */
static void add_over_group(cg_dist *dist, const cg_dataset *data, eval_sums *e)
{
    cg_metric_sums *m = &e->m;
    double origin = data->y && data->count > 0 ? (double)data->y[0] : 0.0;
    double delta = m->shift - origin, k = (double)m->values;
    m->y_sq_sum += 2.0 * delta * m->y_sum + k * delta * delta;
    m->y_sum += k * delta;
    m->shift = origin;
    double v[] = {e->loss_sum, (double)e->correct, m->abs_sum, m->sq_sum, m->y_sum, m->y_sq_sum,
                  (double)m->values, (double)m->top_k_correct};
    cg__dist_sum(dist, v, (int)(sizeof v / sizeof v[0]));
    e->loss_sum = v[0];
    e->correct = (int64_t)v[1];
    *m = (cg_metric_sums){.shift = origin, .abs_sum = v[2], .sq_sum = v[3], .y_sum = v[4],
                          .y_sq_sum = v[5], .values = (int64_t)v[6], .top_k_correct = (int64_t)v[7]};
}

static cg_status evaluate_with(cg_ctx *ctx, cg_model *model, const cg_dataset *data,
                               int64_t batch, int top_k, cg_dist *dist, cg_eval_result *out)
{
    eval_sums e = {.ctx = ctx, .model = model, .top_k = top_k};
    int64_t begin, count;
    cg__dist_share(dist, 0, data->count, &begin, &count);
    cg_status s = for_each_batch_in(ctx, model, data, begin, begin + count, batch, add_batch_loss,
                                    &e);
    s = cg_dist_agree(dist, s);
    if (s != CG_OK) return s;
    if (cg__dist_active(dist)) add_over_group(dist, data, &e);
    out->samples = data->count;
    out->correct = e.correct;
    out->loss = data->count ? e.loss_sum / (double)data->count : NAN;
    out->accuracy = cg__accuracy(model, e.correct, data->count);
    cg__metric_sums_result(&e.m, data->count * cg_model_spec_label_positions(cg_model_get_spec(model)), top_k, &out->mae, &out->rmse, &out->r2,
                           &out->top_k_accuracy);
    out->top_k = top_k;
    out->top_k_correct = e.m.top_k_correct;
    return CG_OK;
}

cg_status cg__evaluate_with(cg_ctx *ctx, cg_model *model, const cg_dataset *data, int64_t batch,
                            int top_k, cg_eval_result *out)
{
    return cg__evaluate_group(ctx, model, data, batch, top_k, NULL, out);
}

cg_status cg__evaluate_group(cg_ctx *ctx, cg_model *model, const cg_dataset *data, int64_t batch,
                             int top_k, cg_dist *dist, cg_eval_result *out)
{
    if (cg_model_get_spec(model)->loss != CG_LOSS_CROSS_ENTROPY) top_k = 0;
    return evaluate_with(ctx, model, data, batch, top_k, dist, out);
}

cg_status cg_evaluate_top_k(cg_model *model, const cg_dataset *data, int64_t batch, int top_k,
                            cg_eval_result *out)
{
    return cg_evaluate_group(model, data, batch, top_k, NULL, out);
}

cg_status cg_evaluate_group(cg_model *model, const cg_dataset *data, int64_t batch, int top_k,
                            cg_dist *dist, cg_eval_result *out)
{
    if (!model || !data || !out) return cg_set_error(CG_ERR_ARG, "cg_evaluate: NULL argument");
    const cg_model_spec *spec = cg_model_get_spec(model);
    if (top_k != 0) {
        if (spec->loss != CG_LOSS_CROSS_ENTROPY)
            return cg_set_error(CG_ERR_ARG, "top-k accuracy needs loss cross_entropy, the model's "
                                            "loss is %s", cg_loss_name(spec->loss));
        if (top_k < 2 || top_k > cg_model_spec_classes(spec))
            return cg_set_error(CG_ERR_ARG, "top-k: k must be between 2 and the number of "
                                            "classes (%lld), got %d",
                                (long long)cg_model_spec_classes(spec), top_k);
    }
    cg_status s = cg__check_training_data(model, data);
    if (s != CG_OK) return s;
    cg_ctx *ctx = cg_ctx_create(0);
    if (!ctx) return cg_last_status();
    s = evaluate_with(ctx, model, data, batch, top_k, dist, out);
    cg_ctx_destroy(ctx);
    return s;
}

cg_status cg_evaluate(cg_model *model, const cg_dataset *data, int64_t batch, cg_eval_result *out)
{
    return cg_evaluate_top_k(model, data, batch, 0, out);
}

typedef struct predict_call {
    cg_predict_fn fn;
    void *user;
    int64_t count;    /* samples in the data */
} predict_call;

static cg_status pass_outputs(void *user, int64_t first, int64_t n, const cg_tensor *out,
                              const cg_batch_buffers *buf)
{
    predict_call *c = user;
    return c->fn(c->user, first, out);
}

/* ---- prediction over a group: each rank its share, rank 0 calls fn ---- */

typedef struct share_sender {
    cg_dist *dist;
    int64_t sent;     /* batches */
} share_sender;

static cg_status send_outputs(void *user, int64_t first, int64_t n, const cg_tensor *out,
                              const cg_batch_buffers *buf)
{
    share_sender *to = user;
    to->sent++;
    return cg__dist_send_to_root(to->dist, CG_OK, out->data, out->size);
}

/* Ranks > 0: every batch of the share to rank 0, or where it stopped. */
static cg_status send_share(cg_ctx *ctx, cg_model *model, const cg_dataset *data, int64_t begin,
                            int64_t count, int64_t batch, cg_dist *dist)
{
    share_sender to = {dist, 0};
    cg_status s = for_each_batch_in(ctx, model, data, begin, begin + count, batch, send_outputs,
                                    &to);
    if (s != CG_OK && to.sent < (count + batch - 1) / batch)
        cg__dist_send_to_root(dist, s, NULL, 0); /* rank 0 stops listening to us */
    return s;
}

/* Rank 0: rank r's share batch by batch, handed to fn in data order. After a
 * failure (here or there) it keeps receiving but stops calling fn, so that
 * no rank waits forever. */
static cg_status receive_share(cg_ctx *ctx, const cg_model_spec *spec, int r, int64_t batch,
                               cg_dist *dist, predict_call *c, cg_status s)
{
    int64_t shape[CG_MAX_DIMS + 1], begin, count;
    cg__dist_share_of(dist, r, 0, c->count, &begin, &count);
    for (int i = 0; i < spec->output_ndim; i++) shape[i + 1] = spec->output[i];
    for (int64_t first = begin; first < begin + count; first += batch) {
        shape[0] = begin + count - first < batch ? begin + count - first : batch;
        cg_ctx_reset(ctx);
        cg_tensor *t = cg_tensor_new(ctx, spec->output_ndim + 1, shape);
        if (!t) return cg_last_status(); /* no memory: MPI's fatal handler ends the job */
        cg_status got = cg__dist_recv_from(dist, r, t->data, t->size);
        if (got != CG_OK) return s != CG_OK ? s : cg_set_error(got, "rank %d failed", r);
        if (s == CG_OK) s = c->fn(c->user, first, t);
    }
    return s;
}

static cg_status predict_group(cg_ctx *ctx, cg_model *model, const cg_dataset *data,
                               int64_t batch, cg_dist *dist, predict_call *c)
{
    int64_t begin, count;
    cg__dist_share(dist, 0, data->count, &begin, &count);
    if (cg_dist_rank(dist) > 0)
        return cg_dist_agree(dist, send_share(ctx, model, data, begin, count, batch, dist));
    cg_status s = for_each_batch_in(ctx, model, data, begin, begin + count, batch, pass_outputs, c);
    for (int r = 1; r < cg_dist_size(dist); r++)
        s = receive_share(ctx, cg_model_get_spec(model), r, batch, dist, c, s);
    cg_ctx_reset(ctx);
    return cg_dist_agree(dist, s);
}

cg_status cg_predict(cg_model *model, const cg_dataset *data, int64_t batch, cg_predict_fn fn,
                     void *user)
{
    return cg_predict_group(model, data, batch, NULL, fn, user);
}

cg_status cg_predict_group(cg_model *model, const cg_dataset *data, int64_t batch, cg_dist *dist,
                           cg_predict_fn fn, void *user)
{
    if (!model || !data || !fn) return cg_set_error(CG_ERR_ARG, "cg_predict: NULL argument");
    if (batch < 1) return cg_set_error(CG_ERR_ARG, "batch size must be >= 1, got %lld", (long long)batch);
    /* Prediction needs inputs only: targets, if any, are not checked. */
    cg_dataset inputs = *data;
    inputs.labels = NULL;
    inputs.y = NULL;
    inputs.target_size = 0;
    cg_status s = cg_model_check_data(model, &inputs);
    if (s != CG_OK) return s;
    cg_ctx *ctx = cg_ctx_create(0);
    if (!ctx) return cg_last_status();
    predict_call c = {fn, user, data->count};
    s = cg__dist_active(dist) ? predict_group(ctx, model, &inputs, batch, dist, &c)
                              : for_each_batch(ctx, model, &inputs, batch, pass_outputs, &c);
    cg_ctx_destroy(ctx);
    return s;
}
