/* A sequential model built from a validated cg_model_spec.
 *
 * The layer list is compiled into a shorter list of steps: a dense layer
 * followed by a standalone activation becomes one fused cg_linear, flattening
 * a leaf input is a free re-labelling of its shape, and dropout with rate 0
 * disappears. Parameter names keep the model file's layer indices, so the
 * checkpoint reads like the file (and like the equivalent torch.nn.Sequential). */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

typedef struct model_step {
    cg_layer_kind kind;
    cg_dense dense;            /* DENSE */
    float rate;                /* DROPOUT */
    cg_activation activation;  /* ACTIVATION */
    float act_param;           /* ACTIVATION: leaky_relu slope, elu alpha */
} model_step;

struct cg_model {
    cg_model_spec *spec;
    cg_params *params;
    model_step *steps;
    size_t n_steps;
};

/* Activations cg_linear can apply itself (leaky_relu/elu only with their
 * default parameters, which is all the fused kernel knows). */
static bool fusable(const cg_layer_spec *l)
{
    if (l->kind != CG_LAYER_ACTIVATION) return false;
    if (l->activation == CG_ACT_LEAKY_RELU) return l->act_param == 0.01f;
    if (l->activation == CG_ACT_ELU) return l->act_param == 1.0f;
    return true;
}

static cg_status add_dense(cg_model *m, size_t i, model_step *step, cg_rng *rng)
{
    const cg_layer_spec *l = &m->spec->layers[i];
    char prefix[32];
    snprintf(prefix, sizeof prefix, "layers.%zu", i);
    step->kind = CG_LAYER_DENSE;
    return cg_dense_init(&step->dense, m->params, prefix, l->in_shape[0], l->units, l->bias,
                         l->activation, rng);
}

static cg_status compile(cg_model *m, cg_rng *rng)
{
    const cg_model_spec *spec = m->spec;
    for (size_t i = 0; i < spec->n_layers; i++) {
        const cg_layer_spec *l = &spec->layers[i];
        model_step *step = &m->steps[m->n_steps];
        switch (l->kind) {
        case CG_LAYER_DENSE: {
            cg_status s = add_dense(m, i, step, rng);
            if (s != CG_OK) return s;
            bool fuse_next = l->activation == CG_ACT_NONE && i + 1 < spec->n_layers &&
                             fusable(&spec->layers[i + 1]);
            if (fuse_next) step->dense.activation = spec->layers[++i].activation;
            break;
        }
        case CG_LAYER_DROPOUT:
            if (l->rate == 0.0f) continue;
            step->kind = CG_LAYER_DROPOUT;
            step->rate = l->rate;
            break;
        case CG_LAYER_FLATTEN:
            if (l->in_ndim == 1) continue;
            step->kind = CG_LAYER_FLATTEN;
            break;
        case CG_LAYER_ACTIVATION:
            if (l->activation == CG_ACT_NONE) continue;
            step->kind = CG_LAYER_ACTIVATION;
            step->activation = l->activation;
            step->act_param = l->act_param;
            break;
        }
        m->n_steps++;
    }
    return CG_OK;
}

cg_model *cg_model_create(const cg_model_spec *spec, cg_rng *rng)
{
    if (!spec || !rng) {
        cg_set_error(CG_ERR_ARG, "cg_model_create: spec or rng is NULL");
        return NULL;
    }
    cg_model *m = calloc(1, sizeof *m);
    if (!m) goto nomem;
    m->spec = cg_model_spec_clone(spec);
    m->params = cg_params_create();
    m->steps = calloc(spec->n_layers, sizeof *m->steps);
    if (!m->spec || !m->params || !m->steps) goto nomem;
    if (compile(m, rng) != CG_OK) {
        cg_model_destroy(m);
        return NULL;
    }
    return m;
nomem:
    cg_model_destroy(m);
    cg_set_error(CG_ERR_NOMEM, "cg_model_create: out of memory");
    return NULL;
}

void cg_model_destroy(cg_model *model)
{
    if (!model) return;
    cg_model_spec_free(model->spec);
    cg_params_destroy(model->params);
    free(model->steps);
    free(model);
}

const cg_model_spec *cg_model_get_spec(const cg_model *model) { return model ? model->spec : NULL; }

cg_params *cg_model_params(cg_model *model) { return model ? model->params : NULL; }

/* ------------------------------------------------------------ forward */

static bool input_matches(const cg_model_spec *spec, const cg_tensor *x)
{
    if (x->ndim != spec->input_ndim + 1) return false;
    for (int i = 0; i < spec->input_ndim; i++)
        if (x->shape[i + 1] != spec->input[i]) return false;
    return true;
}

/* Flattening a tensor no gradient flows through needs no copy and no tape
 * entry: a second header over the same data will do. */
static cg_tensor *flatten(cg_ctx *ctx, cg_tensor *x)
{
    if (!x || x->requires_grad || x->node) return cg_flatten(ctx, x);
    cg_tensor *view = cg_arena_alloc(&ctx->arena, sizeof *view);
    if (!view) return NULL;
    *view = *x;
    view->ndim = 2;
    view->shape[1] = x->size / x->shape[0];
    view->grad = NULL;
    view->owns_data = false;
    view->name = NULL;
    return view;
}

static cg_tensor *activate(cg_ctx *ctx, const model_step *step, cg_tensor *x)
{
    if (step->activation == CG_ACT_LEAKY_RELU) return cg_leaky_relu(ctx, x, step->act_param);
    if (step->activation == CG_ACT_ELU) return cg_elu(ctx, x, step->act_param);
    return cg_activate(ctx, x, step->activation);
}

static cg_tensor *run_step(cg_ctx *ctx, const model_step *step, cg_tensor *x)
{
    switch (step->kind) {
    case CG_LAYER_DENSE: return cg_dense_forward(ctx, &step->dense, x);
    case CG_LAYER_DROPOUT: return cg_dropout(ctx, x, step->rate);
    case CG_LAYER_FLATTEN: return flatten(ctx, x);
    case CG_LAYER_ACTIVATION: return activate(ctx, step, x);
    }
    return x;
}

cg_tensor *cg_model_forward(cg_ctx *ctx, const cg_model *model, cg_tensor *x)
{
    if (!ctx || !model || !x) {
        if (!x && cg_last_status() != CG_OK) return NULL; /* keep the producer's message */
        cg_set_error(CG_ERR_ARG, "cg_model_forward: NULL argument");
        return NULL;
    }
    if (!input_matches(model->spec, x)) {
        char got[96], want[96] = "[N";
        cg_shape_str(x, got, sizeof got);
        for (int i = 0; i < model->spec->input_ndim; i++)
            snprintf(want + strlen(want), sizeof want - strlen(want), ", %lld",
                     (long long)model->spec->input[i]);
        snprintf(want + strlen(want), sizeof want - strlen(want), "]");
        cg_set_error(CG_ERR_ARG, "model input must be %s, got %s", want, got);
        return NULL;
    }
    for (size_t i = 0; i < model->n_steps && x; i++) x = run_step(ctx, &model->steps[i], x);
    return x;
}

/* ------------------------------------------------------------ loss and accuracy */

cg_tensor *cg_model_loss(cg_ctx *ctx, const cg_model *model, cg_tensor *output,
                         const int32_t *labels, const float *targets)
{
    if (!ctx || !model || !output) {
        if (!output && cg_last_status() != CG_OK) return NULL;
        cg_set_error(CG_ERR_ARG, "cg_model_loss: NULL argument");
        return NULL;
    }
    cg_loss_kind loss = model->spec->loss;
    if (loss == CG_LOSS_CROSS_ENTROPY) {
        if (!labels) {
            cg_set_error(CG_ERR_ARG, "cg_model_loss: cross_entropy needs class labels");
            return NULL;
        }
        return cg_cross_entropy(ctx, output, labels);
    }
    if (!targets) {
        cg_set_error(CG_ERR_ARG, "cg_model_loss: %s needs target values", cg_loss_name(loss));
        return NULL;
    }
    cg_tensor *t = cg_tensor_from(ctx, output->ndim, output->shape, targets);
    switch (loss) {
    case CG_LOSS_MSE: return cg_mse_loss(ctx, output, t);
    case CG_LOSS_L1: return cg_l1_loss(ctx, output, t);
    case CG_LOSS_BCE_WITH_LOGITS: return cg_bce_with_logits(ctx, output, t);
    case CG_LOSS_CROSS_ENTROPY: break;
    }
    return NULL;
}

static int64_t argmax_hits(const cg_tensor *out, const int32_t *labels)
{
    int64_t rows = out->shape[0], cols = out->size / rows, hits = 0;
    for (int64_t r = 0; r < rows; r++) {
        const float *row = out->data + r * cols;
        int64_t best = 0;
        /* Strictly greater: ties go to the first class, as torch.argmax. */
        for (int64_t c = 1; c < cols; c++)
            if (row[c] > row[best]) best = c;
        hits += best == labels[r];
    }
    return hits;
}

static int64_t threshold_hits(const cg_tensor *out, const float *targets)
{
    int64_t hits = 0;
    for (int64_t i = 0; i < out->size; i++) hits += (out->data[i] > 0.0f) == (targets[i] > 0.5f);
    return hits;
}

int64_t cg_model_count_correct(const cg_model *model, const cg_tensor *output,
                               const int32_t *labels, const float *targets)
{
    if (!model || !output || output->ndim < 1 || output->shape[0] == 0) return 0;
    if (model->spec->loss == CG_LOSS_CROSS_ENTROPY && labels) return argmax_hits(output, labels);
    if (model->spec->loss == CG_LOSS_BCE_WITH_LOGITS && targets)
        return threshold_hits(output, targets);
    return 0;
}

/* ------------------------------------------------------------ data */

static cg_status check_sample_shape(const cg_model_spec *spec, const cg_dataset *d)
{
    bool same = d->sample_ndim == spec->input_ndim;
    for (int i = 0; same && i < d->sample_ndim; i++) same = d->sample_shape[i] == spec->input[i];
    if (same) return CG_OK;
    char got[160], want[160];
    return cg_set_error(CG_ERR_ARG, "%s: samples have shape %s, the model's input is %s",
                        d->source, cg_dims_str(d->sample_ndim, d->sample_shape, got, sizeof got),
                        cg_dims_str(spec->input_ndim, spec->input, want, sizeof want));
}

static cg_status check_targets(const cg_model_spec *spec, const cg_dataset *d)
{
    const char *loss = cg_loss_name(spec->loss);
    if (spec->loss == CG_LOSS_CROSS_ENTROPY) {
        if (d->y && !d->labels)
            return cg_set_error(CG_ERR_ARG, "%s: loss %s needs class labels, the data have "
                                            "real-valued targets", d->source, loss);
        return d->labels ? cg_dataset_check_labels(d, (int32_t)spec->output[0]) : CG_OK;
    }
    if (d->labels && !d->y)
        return cg_set_error(CG_ERR_ARG, "%s: loss %s needs real-valued targets, the data have "
                                        "class labels", d->source, loss);
    int64_t per_sample = 1;
    for (int i = 0; i < spec->output_ndim; i++) per_sample *= spec->output[i];
    if (d->y && d->target_size != per_sample)
        return cg_set_error(CG_ERR_ARG, "%s: the model outputs %lld values per sample but the "
                                        "data have %d targets per sample",
                            d->source, (long long)per_sample, d->target_size);
    return CG_OK;
}

cg_status cg_model_check_data(const cg_model *model, const cg_dataset *data)
{
    if (!model || !data) return cg_set_error(CG_ERR_ARG, "cg_model_check_data: NULL argument");
    if (data->count < 1) return cg_set_error(CG_ERR_ARG, "%s: no samples", data->source);
    cg_status s = check_sample_shape(model->spec, data);
    return s != CG_OK ? s : check_targets(model->spec, data);
}

/* ------------------------------------------------------------ weights from a file */

static cg_status check_entry(const cg_tensor *p, const cg_st_entry *e)
{
    char want[160], got[160];
    if (!e) return cg_set_error(CG_ERR_FORMAT, "tensor \"%s\" is missing", p->name);
    if (e->dtype != CG_DTYPE_F32)
        return cg_set_error(CG_ERR_FORMAT, "tensor \"%s\" must be F32, the file has another dtype",
                            p->name);
    bool same = e->ndim == p->ndim;
    for (int d = 0; same && d < e->ndim; d++) same = e->shape[d] == p->shape[d];
    if (!same)
        return cg_set_error(CG_ERR_FORMAT, "tensor \"%s\" has shape %s, the model needs %s",
                            p->name, cg_dims_str(e->ndim, e->shape, got, sizeof got),
                            cg_shape_str(p, want, sizeof want));
    /* Loading NaN/Inf weights would only fail later, as a NaN loss or NaN
     * predictions; refuse them here, where the file is to blame. */
    const float *v = e->data;
    for (int64_t i = 0; i < p->size; i++)
        if (!isfinite(v[i]))
            return cg_set_error(CG_ERR_FORMAT, "tensor \"%s\" holds a non-finite value (%g) at "
                                               "element %lld",
                                p->name, (double)v[i], (long long)i);
    return CG_OK;
}

cg_status cg_model_load_weights(cg_model *model, const cg_st_file *file)
{
    if (!model || !file) return cg_set_error(CG_ERR_ARG, "cg_model_load_weights: NULL argument");
    size_t n = cg_params_count(model->params);
    /* Check everything first so a bad file leaves the model as it was. */
    for (size_t i = 0; i < n; i++) {
        const cg_tensor *p = cg_params_at(model->params, i);
        cg_status s = check_entry(p, cg_st_find(file, p->name));
        if (s != CG_OK) return s;
    }
    for (size_t i = 0; i < n; i++) {
        cg_tensor *p = cg_params_at(model->params, i);
        memcpy(p->data, cg_st_find(file, p->name)->data, (size_t)p->size * sizeof(float));
    }
    return CG_OK;
}
