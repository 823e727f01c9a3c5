/* dense: a fully connected layer laid out and initialised as torch.nn.Linear
 * (weight [out, in], bias [out]), with an optional fused activation that
 * runs in the GEMM's epilogue (ops/matmul.c, cg_linear). */
#include "layer.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* cg_linear hands sizes to BLAS as int. */
#define MAX_FEATURES INT32_MAX

typedef struct dense_config {
    int64_t units;
    bool bias;
    cg_act_spec act;          /* NONE when absent */
    /* "tie_to": an earlier embedding layer whose weight [vocab, dim] is
     * this layer's [units, in] weight (one tensor, two users). */
    char tie_name[CG_LAYER_NAME_MAX];
    int tie_index;            /* its layer index, set by link */
} dense_config;
CG_LAYER_CONFIG_FITS(dense_config);

typedef struct dense_state {
    cg_dense dense;           /* its activation: what the fused kernel applies */
    cg_act_spec after;        /* an activation the kernel cannot fuse (a non-default slope/alpha) */
} dense_state;

/* ------------------------------------------------ torch.nn.Linear */

cg_status cg_dense_init(cg_dense *layer, cg_params *params, const char *prefix,
                        int64_t in_features, int64_t out_features, bool bias,
                        cg_activation activation, cg_rng *rng)
{
    if (!layer || !params || !prefix || !rng)
        return cg_set_error(CG_ERR_ARG, "cg_dense_init: NULL argument");
    if (in_features <= 0 || out_features <= 0)
        return cg_set_error(CG_ERR_ARG, "dense %s: sizes must be positive, got in=%lld out=%lld",
                            prefix, (long long)in_features, (long long)out_features);
    char name[256];
    snprintf(name, sizeof name, "%s.weight", prefix);
    layer->weight = cg_params_add(params, name, 2, (int64_t[]){out_features, in_features});
    if (!layer->weight) return cg_last_status();
    layer->bias = NULL;
    if (bias) {
        snprintf(name, sizeof name, "%s.bias", prefix);
        layer->bias = cg_params_add(params, name, 1, (int64_t[]){out_features});
        if (!layer->bias) return cg_last_status();
    }
    layer->in_features = in_features;
    layer->out_features = out_features;
    layer->activation = activation;
    cg_init_kaiming_uniform(layer->weight, sqrtf(5.0f), rng);
    if (layer->bias) {
        float bound = 1.0f / sqrtf((float)in_features);
        cg_init_uniform(layer->bias, -bound, bound, rng);
    }
    return CG_OK;
}

cg_tensor *cg_dense_forward(cg_ctx *ctx, const cg_dense *layer, cg_tensor *x)
{
    if (!layer) {
        cg_set_error(CG_ERR_ARG, "cg_dense_forward: layer is NULL");
        return NULL;
    }
    return cg_linear(ctx, x, layer->weight, layer->bias, layer->activation);
}

/* ------------------------------------------------ the layer-table entry */

static const char *const keys[] = {"units", "activation", "bias", "negative_slope", "alpha",
                                   "tie_to", NULL};

static cg_status parse(const cJSON *obj, cg_json_path *p, const char *type, cg_layer_spec *l)
{
    dense_config *c = CG_LAYER_CONFIG(l, dense_config);
    *c = (dense_config){.bias = true, .act = {CG_ACT_NONE, 0.0f}};
    if (!cJSON_GetObjectItemCaseSensitive(obj, "units"))
        return cg__json_fail(p, "dense layer needs \"units\"");
    cg_status s = cg__json_read_int(obj, "units", p, 1, MAX_FEATURES, &c->units);
    if (s == CG_OK) s = cg__json_read_bool(obj, "bias", p, &c->bias);
    if (s == CG_OK) s = cg__json_read_activation(obj, "activation", p, &c->act.act);
    if (s == CG_OK) s = cg__act_read_param(obj, p, &c->act);
    const char *tie = NULL;
    if (s == CG_OK) s = cg__json_read_string(obj, "tie_to", p, &tie);
    if (s == CG_OK && tie) snprintf(c->tie_name, sizeof c->tie_name, "%s", tie);
    return s;
}

/* tie_to: the named earlier layer must be an embedding whose [vocab, dim]
 * weight is this layer's [units, in]; the weight is then counted there. */
static cg_status link(cg_layer_spec *l, const cg_model_spec *spec, cg_json_path *p)
{
    dense_config *c = CG_LAYER_CONFIG(l, dense_config);
    if (!c->tie_name[0]) return CG_OK;
    size_t mark = cg__json_key(p, "tie_to");
    cg_status s = CG_OK;
    int j = -1;
    for (size_t i = 0; i < spec->n_layers && j < 0; i++)
        if (strcmp(spec->layers[i].name, c->tie_name) == 0) j = (int)i;
    const int64_t in = l->in_shape[0][l->in_ndim[0] - 1];
    if (j < 0) {
        s = cg__json_fail(p, "no earlier layer is named \"%s\"", c->tie_name);
    } else if (spec->layers[j].type != &cg__layer_embedding) {
        s = cg__json_fail(p, "\"%s\" is a %s layer; a dense layer ties its weight to an "
                             "embedding's", c->tie_name, spec->layers[j].type->name);
    } else {
        const cg_layer_spec *e = &spec->layers[j];
        const int64_t dim = e->out_shape[e->out_ndim - 1], vocab = e->n_params / dim;
        if (vocab != c->units || dim != in)
            s = cg__json_fail(p, "the embedding \"%s\" is %lld x %lld; tying needs units = its "
                                 "vocab and an input of its dim (this layer: %lld units, %lld "
                                 "inputs)", c->tie_name, (long long)vocab, (long long)dim,
                              (long long)c->units, (long long)in);
    }
    cg__json_restore(p, mark);
    if (s != CG_OK) return s;
    c->tie_index = j;
    l->n_params -= c->units * in;
    return CG_OK;
}

static cg_status infer(cg_layer_spec *l, cg_json_path *p)
{
    const dense_config *c = CG_LAYER_CONFIG(l, dense_config);
    char shape[128];
    /* [T, F] is a sequence: the layer acts on every step, as torch.nn.Linear
     * does on its last dimension. Higher ranks are images that want a flatten. */
    if (l->in_ndim[0] > 2)
        return cg__json_fail(p, "dense needs a flat input or a [time, features] sequence, got "
                                "%s; add {\"type\": \"flatten\"} before it",
                             cg__layer_in_str(l, 0, shape, sizeof shape));
    const int last = l->in_ndim[0] - 1;
    int64_t in = l->in_shape[0][last];
    if (in > MAX_FEATURES)
        return cg__json_fail(p, "dense input has %lld features; at most %d are supported",
                             (long long)in, MAX_FEATURES);
    l->out_ndim = l->in_ndim[0];
    l->out_shape[0] = l->in_shape[0][0];
    l->out_shape[last] = c->units;
    int64_t weights;
    if (!cg__checked_mul(c->units, in, &weights) ||
        !cg__checked_add(weights, c->bias ? c->units : 0, &l->n_params))
        return cg__json_fail(p, "the parameter count (%lld x %lld) overflows",
                             (long long)c->units, (long long)in);
    return CG_OK;
}

static void write(cg_json_writer *w, cJSON *obj, const cg_layer_spec *l)
{
    const dense_config *c = CG_LAYER_CONFIG(l, dense_config);
    cg__jw_string(w, obj, "type", "dense");
    cg__jw_int(w, obj, "units", c->units);
    cg__jw_string(w, obj, "activation", cg_activation_name(c->act.act));
    cg__act_write_param(w, obj, c->act);
    cg__jw_bool(w, obj, "bias", c->bias);
    if (c->tie_name[0]) cg__jw_string(w, obj, "tie_to", c->tie_name);
}

static void describe(const cg_layer_spec *l, char *buf, size_t size)
{
    const dense_config *c = CG_LAYER_CONFIG(l, dense_config);
    char act[48] = "";
    if (c->act.act != CG_ACT_NONE) {
        act[0] = ' ';
        cg__act_text(c->act, act + 1, sizeof act - 1);
    }
    snprintf(buf, size, "dense %lld%s%s%s%s", (long long)c->units, act, c->bias ? "" : " (no bias)",
             c->tie_name[0] ? ", tied to " : "", c->tie_name);
}

/* The embedding's weight (built earlier) as this layer's; its own bias as
 * nn.Linear's. */
static cg_status build_tied(cg_layer_build *b, const cg_layer_spec *l, dense_state *st)
{
    const dense_config *c = CG_LAYER_CONFIG(l, dense_config);
    const int64_t in = l->in_shape[0][l->in_ndim[0] - 1];
    char name[64];
    snprintf(name, sizeof name, "layers.%d.weight", c->tie_index);
    st->dense = (cg_dense){.weight = cg_params_find(b->params, name), .in_features = in,
                           .out_features = c->units};
    if (!st->dense.weight)
        return cg_set_error(CG_ERR_ARG, "%s: tie_to: no parameter %s", b->prefix, name);
    if (c->bias) {
        snprintf(name, sizeof name, "%s.bias", b->prefix);
        st->dense.bias = cg_params_add(b->params, name, 1, (int64_t[]){c->units});
        if (!st->dense.bias) return cg_last_status();
        float bound = 1.0f / sqrtf((float)in);
        cg_init_uniform(st->dense.bias, -bound, bound, b->rng);
    }
    cg__act_split(c->act, &st->dense.activation, &st->after);
    return CG_OK;
}

static cg_status build(cg_layer_build *b, const cg_layer_spec *l, void *state)
{
    const dense_config *c = CG_LAYER_CONFIG(l, dense_config);
    dense_state *st = state;
    if (c->tie_name[0]) return build_tied(b, l, st);
    cg_status s = cg_dense_init(&st->dense, b->params, b->prefix,
                                l->in_shape[0][l->in_ndim[0] - 1], c->units,
                                c->bias, CG_ACT_NONE, b->rng);
    if (s == CG_OK) cg__act_split(c->act, &st->dense.activation, &st->after);
    return s;
}

static bool absorb(void *state, const cg_layer_spec *next)
{
    dense_state *st = state;
    return cg__act_absorb(&st->dense.activation, &st->after, next);
}

/* A sequence [N, T, F] runs as the N·T rows of one GEMM. */
static cg_tensor *forward(cg_ctx *ctx, const cg_layer_spec *l, const void *state,
                          cg_tensor *const *x, int n)
{
    const dense_state *st = state;
    cg_tensor *in = x[0];
    if (in && in->ndim == 3)
        in = cg_reshape(ctx, in, 2, (int64_t[]){in->shape[0] * in->shape[1], in->shape[2]});
    cg_tensor *y = cg__act_after(ctx, cg_dense_forward(ctx, &st->dense, in), st->after);
    if (y && x[0]->ndim == 3)
        y = cg_reshape(ctx, y, 3, (int64_t[]){x[0]->shape[0], x[0]->shape[1], y->shape[1]});
    return y;
}

const cg_layer_type cg__layer_dense = {
    .name = "dense",
    .keys = keys,
    .min_inputs = 1,
    .max_inputs = 1,
    .parse = parse,
    .infer = infer,
    .write = write,
    .describe = describe,
    .state_size = sizeof(dense_state),
    .build = build,
    .absorb = absorb,
    .forward = forward,
    .link = link,
};
