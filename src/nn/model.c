/* A model built from a validated cg_model_spec: its layers compiled into a
 * list of steps over value slots.
 *
 * Slot 0 holds the model's input and slot i+1 the output of layer i. A layer
 * that is the identity at run time (dropout 0, flattening a flat input) is
 * no step: its slot is its input's. A layer whose only user is the next
 * layer may absorb it (a dense layer takes a following activation into its
 * fused kernel), and the pair is one step. Parameter names keep the spec's
 * layer indices, so a checkpoint reads like the model file (and like the
 * equivalent torch.nn.ModuleList). */
#include "internal.h"
#include "layer.h"

#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

typedef struct model_step {
    const cg_layer_spec *layer;
    void *state;
    int n_inputs;
    int inputs[CG_LAYER_MAX_INPUTS];   /* slots */
    int output;                        /* slot */
} model_step;

struct cg_model {
    cg_model_spec *spec;
    cg_params *params;
    cg_buffers *buffers;
    model_step *steps;
    size_t n_steps;
    int *slot;                 /* slot holding layer i's output */
    unsigned char *states;     /* every layer's run-time state */
};

/* ------------------------------------------------------------ compile */

static size_t state_offset(const cg_model_spec *spec, size_t i)
{
    size_t off = 0;
    for (size_t k = 0; k < i; k++) off += (spec->layers[k].type->state_size + 15) & ~(size_t)15;
    return off;
}

static int users(const cg_model_spec *spec, size_t i)
{
    int n = 0;
    for (size_t k = i + 1; k < spec->n_layers; k++)
        for (int j = 0; j < spec->layers[k].n_inputs; j++) n += spec->layers[k].inputs[j] == (int)i;
    return n;
}

/* Can layer i's step take in layer i+1? */
static bool absorbs_next(cg_model *m, size_t i, void *state)
{
    const cg_model_spec *spec = m->spec;
    if (i + 1 >= spec->n_layers || !spec->layers[i].type->absorb) return false;
    const cg_layer_spec *next = &spec->layers[i + 1];
    if (next->n_inputs != 1 || next->inputs[0] != (int)i || users(spec, i) != 1) return false;
    return spec->layers[i].type->absorb(state, next);
}

static int input_slot(const cg_model *m, int source)
{
    return source == CG_LAYER_INPUT ? 0 : m->slot[source];
}

static cg_status compile_layer(cg_model *m, size_t *i, cg_rng *rng)
{
    const cg_layer_spec *l = &m->spec->layers[*i];
    if (l->type->is_identity && l->type->is_identity(l)) {
        m->slot[*i] = input_slot(m, l->inputs[0]);
        return CG_OK;
    }
    model_step *step = &m->steps[m->n_steps++];
    step->layer = l;
    step->state = m->states + state_offset(m->spec, *i);
    step->n_inputs = l->n_inputs;
    for (int k = 0; k < l->n_inputs; k++) step->inputs[k] = input_slot(m, l->inputs[k]);
    if (l->type->build) {
        cg_layer_build b = {.params = m->params, .buffers = m->buffers, .rng = rng};
        snprintf(b.prefix, sizeof b.prefix, "layers.%zu", *i);
        cg_status s = l->type->build(&b, l, step->state);
        if (s != CG_OK) return s;
    }
    if (absorbs_next(m, *i, step->state)) ++*i;
    step->output = (int)*i + 1;
    m->slot[*i] = step->output;
    return CG_OK;
}

static cg_status compile(cg_model *m, cg_rng *rng)
{
    cg_status s = CG_OK;
    for (size_t i = 0; s == CG_OK && i < m->spec->n_layers; i++) s = compile_layer(m, &i, rng);
    return s;
}

cg_model *cg_model_create(const cg_model_spec *spec, cg_rng *rng)
{
    if (!spec || !rng) {
        cg_set_error(CG_ERR_ARG, "cg_model_create: spec or rng is NULL");
        return NULL;
    }
    if (cg_model_spec_check(spec) != CG_OK) return NULL;
    cg_model *m = calloc(1, sizeof *m);
    if (!m) goto nomem;
    m->spec = cg_model_spec_clone(spec);
    m->params = cg_params_create();
    m->buffers = cg__buffers_create();
    m->steps = calloc(spec->n_layers, sizeof *m->steps);
    m->slot = calloc(spec->n_layers, sizeof *m->slot);
    m->states = calloc(state_offset(spec, spec->n_layers) + 1, 1);
    if (!m->spec || !m->params || !m->buffers || !m->steps || !m->slot || !m->states) goto nomem;
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

static void release_states(cg_model *m)
{
    for (size_t i = 0; m->states && m->steps && i < m->n_steps; i++)
        if (m->steps[i].layer->type->release) m->steps[i].layer->type->release(m->steps[i].state);
}

bool cg_model_is_stateful(const cg_model *model)
{
    for (size_t i = 0; model && i < model->n_steps; i++) {
        const cg_layer_spec *l = model->steps[i].layer;
        if (l->type->is_stateful && l->type->is_stateful(l)) return true;
    }
    return false;
}

void cg_model_reset_state(cg_model *model)
{
    for (size_t i = 0; model && i < model->n_steps; i++)
        if (model->steps[i].layer->type->reset)
            model->steps[i].layer->type->reset(model->steps[i].state);
}

void cg_model_destroy(cg_model *model)
{
    if (!model) return;
    release_states(model);
    cg_model_spec_free(model->spec);
    cg_params_destroy(model->params);
    cg__buffers_destroy(model->buffers);
    free(model->steps);
    free(model->slot);
    free(model->states);
    free(model);
}

const cg_model_spec *cg_model_get_spec(const cg_model *model) { return model ? model->spec : NULL; }

cg_params *cg_model_params(cg_model *model) { return model ? model->params : NULL; }

size_t cg_model_buffer_count(const cg_model *model) { return model ? cg__buffers_count(model->buffers) : 0; }

cg_buffer *cg_model_buffer_at(cg_model *model, size_t i)
{
    return model ? cg__buffers_at(model->buffers, i) : NULL;
}

/* ------------------------------------------------------------ forward */

/* prefix: the first per-sample dimension (time) may be shorter. */
static bool input_matches(const cg_model_spec *spec, const cg_tensor *x, bool prefix)
{
    if (x->ndim != spec->input_ndim + 1) return false;
    for (int i = 0; i < spec->input_ndim; i++) {
        bool shorter = prefix && i == 0 && x->shape[1] >= 1 && x->shape[1] < spec->input[0];
        if (x->shape[i + 1] != spec->input[i] && !shorter) return false;
    }
    return true;
}

/* Prefixes the op's message with the layer it happened in, e.g.
 * "layers[3] (batchnorm): batch_norm: training needs ...". */
static cg_tensor *layer_failed(const cg_model *model, const model_step *step)
{
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", cg_last_error());
    cg_set_error(cg_last_status(), "layers[%td] (%s): %s", step->layer - model->spec->layers,
                 step->layer->type->name, msg);
    return NULL;
}

static cg_tensor *run_step(cg_ctx *ctx, const model_step *step, cg_tensor **slots)
{
    cg_tensor *in[CG_LAYER_MAX_INPUTS];
    for (int k = 0; k < step->n_inputs; k++) in[k] = slots[step->inputs[k]];
    const cg_layer_type *type = step->layer->type;
    if (!ctx->profile) return type->forward(ctx, step->layer, step->state, in, step->n_inputs);
    double t0 = cg__clock();
    cg_tensor *y = type->forward(ctx, step->layer, step->state, in, step->n_inputs);
    cg__profile_add(ctx->profile, CG_PASS_FORWARD, type->name, cg__clock() - t0);
    return y;
}

static cg_tensor *forward(cg_ctx *ctx, const cg_model *model, cg_tensor *x, bool prefix)
{
    if (!ctx || !model || !x) {
        if (!x && cg_last_status() != CG_OK) return NULL; /* keep the producer's message */
        cg_set_error(CG_ERR_ARG, "cg_model_forward: NULL argument");
        return NULL;
    }
    if (!input_matches(model->spec, x, prefix)) {
        char got[96], want[96] = "[N";
        cg_shape_str(x, got, sizeof got);
        for (int i = 0; i < model->spec->input_ndim; i++)
            snprintf(want + strlen(want), sizeof want - strlen(want), ", %lld",
                     (long long)model->spec->input[i]);
        snprintf(want + strlen(want), sizeof want - strlen(want), "]");
        cg_set_error(CG_ERR_ARG, "model input must be %s, got %s", want, got);
        return NULL;
    }
    /* The slots live in the step's arena: no allocation once it has grown. */
    size_t n_slots = model->spec->n_layers + 1;
    cg_tensor **slots = cg_arena_alloc(&ctx->arena, n_slots * sizeof *slots);
    if (!slots) return NULL;
    slots[0] = x;
    for (size_t i = 0; i < model->n_steps; i++) {
        cg_tensor *y = run_step(ctx, &model->steps[i], slots);
        if (!y) return layer_failed(model, &model->steps[i]);
        slots[model->steps[i].output] = y;
    }
    return slots[model->slot[model->spec->n_layers - 1]];
}

cg_tensor *cg_model_forward(cg_ctx *ctx, const cg_model *model, cg_tensor *x)
{
    return forward(ctx, model, x, false);
}

cg_tensor *cg_model_forward_prefix(cg_ctx *ctx, const cg_model *model, cg_tensor *x)
{
    return forward(ctx, model, x, true);
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
        /* A sequence output [N, T, C] is N·T rows of logits, one label each. */
        if (output->ndim > 2) {
            int64_t C = output->shape[output->ndim - 1];
            output = cg_reshape(ctx, output, 2, (int64_t[]){output->size / C, C});
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
    int64_t cols = out->shape[out->ndim - 1], rows = out->size / cols, hits = 0;
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
        if (d->labels && cg_dataset_labels_per_sample(d) != cg_model_spec_label_positions(spec))
            return cg_set_error(CG_ERR_ARG, "%s: the model takes %lld labels per sample (one per "
                                            "step of its output), the data have %lld",
                                d->source, (long long)cg_model_spec_label_positions(spec),
                                (long long)cg_dataset_labels_per_sample(d));
        return d->labels ? cg_dataset_check_labels(d, (int32_t)cg_model_spec_classes(spec))
                         : CG_OK;
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

/* Layers reading the model's input may restrict its values (token ids). */
static cg_status check_input_values(const cg_model_spec *spec, const cg_dataset *d)
{
    for (size_t i = 0; i < spec->n_layers; i++) {
        const cg_layer_spec *l = &spec->layers[i];
        bool reads_input = false;
        for (int k = 0; k < l->n_inputs; k++) reads_input |= l->inputs[k] == CG_LAYER_INPUT;
        if (reads_input && l->type->check_input) {
            cg_status s = l->type->check_input(l, d);
            if (s != CG_OK) return s;
        }
    }
    return CG_OK;
}

cg_status cg_model_check_data(const cg_model *model, const cg_dataset *data)
{
    if (!model || !data) return cg_set_error(CG_ERR_ARG, "cg_model_check_data: NULL argument");
    if (data->count < 1) return cg_set_error(CG_ERR_ARG, "%s: no samples", data->source);
    cg_status s = check_sample_shape(model->spec, data);
    if (s == CG_OK) s = check_targets(model->spec, data);
    return s == CG_OK ? check_input_values(model->spec, data) : s;
}

/* ------------------------------------------------------------ no_decay */

/* Whether parameter `name` ("layers.<i>.<rest>") falls under flags. */
static bool exempt(const cg_model_spec *spec, const char *name, unsigned flags)
{
    size_t len = strlen(name);
    if ((flags & CG_NO_DECAY_BIAS) && len >= 4 && strcmp(name + len - 4, "bias") == 0) return true;
    int i;
    if (!(flags & CG_NO_DECAY_NORM) || sscanf(name, "layers.%d.", &i) != 1 || i < 0 ||
        (size_t)i >= spec->n_layers)
        return false;
    return strstr(spec->layers[i].type->name, "norm") != NULL;
}

cg_status cg_model_apply_no_decay(const cg_model *model, cg_optim *opt)
{
    if (!model || !opt) return cg_set_error(CG_ERR_ARG, "cg_model_apply_no_decay: NULL argument");
    const unsigned flags = cg_optim_get_config(opt)->no_decay;
    for (size_t i = 0; flags && i < cg_params_count(model->params); i++) {
        const cg_tensor *t = cg_params_at(model->params, i);
        if (!exempt(model->spec, t->name, flags)) continue;
        cg_status s = cg_optim_exempt_decay(opt, t);
        if (s != CG_OK) return s;
    }
    return CG_OK;
}

/* ------------------------------------------------------------ weights from a file */

static const char *dtype_name(cg_dtype d) { return d == CG_DTYPE_I64 ? "I64" : "F32"; }

static cg_status check_entry(const char *name, cg_dtype dtype, int ndim, const int64_t *shape,
                             const cg_st_entry *e)
{
    char want[160], got[160];
    if (!e) return cg_set_error(CG_ERR_FORMAT, "tensor \"%s\" is missing", name);
    if (e->dtype != dtype)
        return cg_set_error(CG_ERR_FORMAT, "tensor \"%s\" must be %s, the file has %s", name,
                            dtype_name(dtype), dtype_name(e->dtype));
    bool same = e->ndim == ndim;
    for (int d = 0; same && d < e->ndim; d++) same = e->shape[d] == shape[d];
    if (!same)
        return cg_set_error(CG_ERR_FORMAT, "tensor \"%s\" has shape %s, the model needs %s", name,
                            cg_dims_str(e->ndim, e->shape, got, sizeof got),
                            cg_dims_str(ndim, shape, want, sizeof want));
    if (dtype != CG_DTYPE_F32) return CG_OK;
    /* Loading NaN/Inf weights would only fail later, as a NaN loss or NaN
     * predictions; refuse them here, where the file is to blame. */
    const float *v = e->data;
    int64_t size = cg__numel(ndim, shape);
    for (int64_t i = 0; i < size; i++)
        if (!isfinite(v[i]))
            return cg_set_error(CG_ERR_FORMAT, "tensor \"%s\" holds a non-finite value (%g) at "
                                               "element %lld",
                                name, (double)v[i], (long long)i);
    return CG_OK;
}

static size_t dtype_bytes(cg_dtype d) { return d == CG_DTYPE_I64 ? sizeof(int64_t) : sizeof(float); }

cg_status cg_model_load_weights(cg_model *model, const cg_st_file *file,
                                cg_missing_buffer_fn on_missing, void *user)
{
    if (!model || !file) return cg_set_error(CG_ERR_ARG, "cg_model_load_weights: NULL argument");
    size_t n = cg_params_count(model->params), nb = cg__buffers_count(model->buffers);
    /* Check everything first so a bad file leaves the model as it was. */
    for (size_t i = 0; i < n; i++) {
        const cg_tensor *p = cg_params_at(model->params, i);
        cg_status s = check_entry(p->name, CG_DTYPE_F32, p->ndim, p->shape, cg_st_find(file, p->name));
        if (s != CG_OK) return s;
    }
    for (size_t i = 0; i < nb; i++) {
        const cg_buffer *b = cg__buffers_at(model->buffers, i);
        const cg_st_entry *e = cg_st_find(file, b->name);
        cg_status s = e ? check_entry(b->name, b->dtype, b->ndim, b->shape, e) : CG_OK;
        if (s != CG_OK) return s;
    }
    for (size_t i = 0; i < n; i++) {
        cg_tensor *p = cg_params_at(model->params, i);
        memcpy(p->data, cg_st_find(file, p->name)->data, (size_t)p->size * sizeof(float));
    }
    for (size_t i = 0; i < nb; i++) {
        cg_buffer *b = cg__buffers_at(model->buffers, i);
        const cg_st_entry *e = cg_st_find(file, b->name);
        if (e)
            memcpy(b->data, e->data, (size_t)b->size * dtype_bytes(b->dtype));
        else if (on_missing)
            on_missing(user, b->name);
    }
    return CG_OK;
}

/* ------------------------------------------------------------ learning from data */

cg_status cg_model_adapt(cg_model *model, const cg_dataset *data)
{
    if (!model || !data) return cg_set_error(CG_ERR_ARG, "cg_model_adapt: NULL argument");
    for (size_t i = 0; i < model->n_steps; i++) {
        const model_step *step = &model->steps[i];
        if (!step->layer->type->adapt) continue;
        cg_status s = step->layer->type->adapt(step->layer, step->state, data);
        if (s != CG_OK) return s;
    }
    return CG_OK;
}

bool cg_model_spec_fills_missing(const cg_model_spec *spec)
{
    bool any = false;
    for (size_t i = 0; spec && i < spec->n_layers; i++) {
        const cg_layer_spec *l = &spec->layers[i];
        for (int k = 0; k < l->n_inputs; k++) {
            if (l->inputs[k] != CG_LAYER_INPUT) continue;
            if (!l->type->fills_missing || !l->type->fills_missing(l)) return false;
            any = true;
        }
    }
    return any;
}
