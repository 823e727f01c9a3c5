/* attention: multi-head self-attention as torch.nn.MultiheadAttention
 * (batch_first, query = key = value = the input) on a per-sample [T, D]
 * input: in_proj_weight [3D, D] and in_proj_bias [3D] make each step's
 * query, key and value, ops/attention.c attends per head, out_proj
 * (weight [D, D], bias [D]) mixes the heads. Names, layouts and the default
 * initialisation are PyTorch's (xavier_uniform in_proj, zero biases,
 * nn.Linear's out_proj weight), so a state dict loads with --init.
 *
 * Key padding: with "padding_id" the layer takes a second input, the token
 * ids (usually "input"), and no query attends to a key whose id is
 * padding_id — torch's key_padding_mask = (ids == padding_id). */
#include "layer.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct attention_config {
    int64_t heads, tile;
    int64_t dim;              /* as written; 0: absent (the input's) */
    bool causal, bias, padding;
    float dropout;
    int64_t padding_id;
} attention_config;
CG_LAYER_CONFIG_FITS(attention_config);

typedef struct attention_state {
    cg_tensor *in_w, *in_b, *out_w, *out_b;
} attention_state;

static const char *const keys[] = {"heads", "dim", "causal", "dropout", "bias", "padding_id",
                                   "tile", NULL};

static cg_status parse(const cJSON *obj, cg_json_path *p, const char *type, cg_layer_spec *l)
{
    attention_config *c = CG_LAYER_CONFIG(l, attention_config);
    *c = (attention_config){.heads = 1, .bias = true};
    if (!cJSON_GetObjectItemCaseSensitive(obj, "heads"))
        return cg__json_fail(p, "attention layer needs \"heads\"");
    cg_status s = cg__json_read_int(obj, "heads", p, 1, 4096, &c->heads);
    if (s == CG_OK) s = cg__json_read_bool(obj, "causal", p, &c->causal);
    if (s == CG_OK) s = cg__json_read_bool(obj, "bias", p, &c->bias);
    if (s == CG_OK)
        s = cg__json_read_float(obj, "dropout", p, CG_RANGE_UNIT_OPEN_TOP, &c->dropout);
    if (s == CG_OK) s = cg__json_read_int(obj, "tile", p, 0, 65536, &c->tile);
    c->padding = cJSON_GetObjectItemCaseSensitive(obj, "padding_id") != NULL;
    if (s == CG_OK) s = cg__json_read_int(obj, "padding_id", p, 0, 1 << 24, &c->padding_id);
    /* "dim" (torch's embed_dim) is checked against the input in infer. */
    if (s == CG_OK) s = cg__json_read_int(obj, "dim", p, 1, INT32_MAX, &c->dim);
    return s;
}

static cg_status infer(cg_layer_spec *l, cg_json_path *p)
{
    attention_config *c = CG_LAYER_CONFIG(l, attention_config);
    char in[128], ids[128];
    if (l->in_ndim[0] != 2)
        return cg__json_fail(p, "attention needs a per-sample [time, features] input, got %s",
                             cg__layer_in_str(l, 0, in, sizeof in));
    const int64_t T = l->in_shape[0][0], D = l->in_shape[0][1];
    if (c->dim && c->dim != D)
        return cg__json_fail(p, "\"dim\" is %lld but the input is %s (dim is its last size)",
                             (long long)c->dim, cg__layer_in_str(l, 0, in, sizeof in));
    if (D % c->heads != 0)
        return cg__json_fail(p, "%lld heads do not divide the input's %lld features (input %s)",
                             (long long)c->heads, (long long)D,
                             cg__layer_in_str(l, 0, in, sizeof in));
    if (c->padding != (l->n_inputs == 2))
        return cg__json_fail(p, c->padding ? "\"padding_id\" needs a second input, the token ids "
                                             "(\"inputs\": [\"<layer>\", \"input\"])"
                                           : "a second input (token ids) needs \"padding_id\"");
    if (c->padding && (l->in_ndim[1] != 1 || l->in_shape[1][0] != T))
        return cg__json_fail(p, "the token ids (input 1) must be [%lld] for input %s, got %s",
                             (long long)T, cg__layer_in_str(l, 0, in, sizeof in),
                             cg__layer_in_str(l, 1, ids, sizeof ids));
    /* Sizes come from the file: every product is checked, so the memory
     * estimate (scratch_floats) cannot overflow either. */
    int64_t dd, weights, td, tt, scratch;
    if (!cg__checked_mul(D, D, &dd) || !cg__checked_mul(dd, 4, &weights) ||
        !cg__checked_add(weights, c->bias ? 4 * D : 0, &l->n_params) ||
        !cg__checked_mul(T, D, &td) || !cg__checked_mul(td, 8, &td) ||
        !cg__checked_mul(T, c->tile ? 1 : T, &tt) || !cg__checked_mul(tt, c->heads, &tt) ||
        !cg__checked_add(td, tt, &scratch))
        return cg__json_fail(p, "the sizes overflow for input %s",
                             cg__layer_in_str(l, 0, in, sizeof in));
    return cg__layer_same_shape(l, p);
}

static void write(cg_json_writer *w, cJSON *obj, const cg_layer_spec *l)
{
    const attention_config *c = CG_LAYER_CONFIG(l, attention_config);
    cg__jw_string(w, obj, "type", "attention");
    cg__jw_int(w, obj, "heads", c->heads);
    cg__jw_int(w, obj, "dim", l->in_shape[0][1]);
    cg__jw_bool(w, obj, "causal", c->causal);
    cg__jw_float(w, obj, "dropout", c->dropout);
    cg__jw_bool(w, obj, "bias", c->bias);
    if (c->padding) cg__jw_int(w, obj, "padding_id", c->padding_id);
    cg__jw_int(w, obj, "tile", c->tile);
}

/* "attention 4 heads causal, dropout 0.1, padding 0, tiled 64". */
static void describe(const cg_layer_spec *l, char *buf, size_t size)
{
    const attention_config *c = CG_LAYER_CONFIG(l, attention_config);
    int n = snprintf(buf, size, "attention %lld head%s%s", (long long)c->heads,
                     c->heads == 1 ? "" : "s", c->causal ? " causal" : "");
    if (n > 0 && (size_t)n < size && c->dropout > 0.0f)
        n += snprintf(buf + n, size - (size_t)n, ", dropout %g", (double)c->dropout);
    if (n > 0 && (size_t)n < size && c->padding)
        n += snprintf(buf + n, size - (size_t)n, ", padding %lld", (long long)c->padding_id);
    if (n > 0 && (size_t)n < size && c->tile)
        n += snprintf(buf + n, size - (size_t)n, ", tiled %lld", (long long)c->tile);
    if (n > 0 && (size_t)n < size && !c->bias) snprintf(buf + n, size - (size_t)n, " (no bias)");
}

/* q/k/v and the heads' output with their gradients, and the weights kept
 * for backward (per head T² floats on the plain path, T on the tiled one). */
static int64_t scratch_floats(const cg_layer_spec *l)
{
    const attention_config *c = CG_LAYER_CONFIG(l, attention_config);
    const int64_t T = l->in_shape[0][0], D = l->in_shape[0][1];
    return 8 * T * D + c->heads * (c->tile ? T : T * T);
}

static cg_tensor *add_param(cg_layer_build *b, const char *name, int ndim, const int64_t *shape)
{
    char full[96];
    snprintf(full, sizeof full, "%s.%s", b->prefix, name);
    return cg_params_add(b->params, full, ndim, shape);
}

static cg_status build(cg_layer_build *b, const cg_layer_spec *l, void *state)
{
    const attention_config *c = CG_LAYER_CONFIG(l, attention_config);
    attention_state *st = state;
    const int64_t D = l->in_shape[0][1];
    st->in_w = add_param(b, "in_proj_weight", 2, (int64_t[]){3 * D, D});
    if (st->in_w && c->bias) st->in_b = add_param(b, "in_proj_bias", 1, (int64_t[]){3 * D});
    st->out_w = st->in_w ? add_param(b, "out_proj.weight", 2, (int64_t[]){D, D}) : NULL;
    if (st->out_w && c->bias) st->out_b = add_param(b, "out_proj.bias", 1, (int64_t[]){D});
    if (!st->out_w || (c->bias && !st->out_b)) return cg_last_status();
    /* MultiheadAttention._reset_parameters; out_proj keeps nn.Linear's
     * kaiming_uniform(a=√5) weight, its bias is zeroed. */
    cg_status s = cg_init_xavier_uniform(st->in_w, 1.0f, b->rng);
    if (s == CG_OK) s = cg_init_kaiming_uniform(st->out_w, sqrtf(5.0f), b->rng);
    return s;
}

/* [N, T, F] through a linear map as the N·T rows of one GEMM. */
static cg_tensor *per_step(cg_ctx *ctx, cg_tensor *x, cg_tensor *w, cg_tensor *bias)
{
    const int64_t N = x->shape[0], T = x->shape[1];
    cg_tensor *rows = cg_reshape(ctx, x, 2, (int64_t[]){N * T, x->shape[2]});
    cg_tensor *y = rows ? cg_linear(ctx, rows, w, bias, CG_ACT_NONE) : NULL;
    return y ? cg_reshape(ctx, y, 3, (int64_t[]){N, T, w->shape[0]}) : NULL;
}

/* torch's key_padding_mask: 1 where the token id is padding_id. */
static cg_tensor *padding_mask(cg_ctx *ctx, const attention_config *c, const cg_tensor *ids)
{
    cg_tensor *m = cg_tensor_new(ctx, 2, ids->shape);
    for (int64_t i = 0; m && i < m->size; i++)
        m->data[i] = ids->data[i] == (float)c->padding_id ? 1.0f : 0.0f;
    return m;
}

static cg_tensor *forward(cg_ctx *ctx, const cg_layer_spec *l, const void *state,
                          cg_tensor *const *x, int n)
{
    const attention_config *c = CG_LAYER_CONFIG(l, attention_config);
    const attention_state *st = state;
    if (!x[0] || (n > 1 && !x[1])) return NULL;
    cg_tensor *mask = NULL;
    if (c->padding && !(mask = padding_mask(ctx, c, x[1]))) return NULL;
    cg_attention_opts o = {.heads = (int)c->heads, .causal = c->causal, .dropout = c->dropout,
                           .tile = (int)c->tile};
    cg_tensor *qkv = per_step(ctx, x[0], st->in_w, st->in_b);
    cg_tensor *heads = qkv ? cg_attention(ctx, qkv, mask, &o) : NULL;
    return heads ? per_step(ctx, heads, st->out_w, st->out_b) : NULL;
}

const cg_layer_type cg__layer_attention = {
    .name = "attention",
    .keys = keys,
    .min_inputs = 1,
    .max_inputs = 2,
    .parse = parse,
    .infer = infer,
    .write = write,
    .describe = describe,
    .scratch_floats = scratch_floats,
    .state_size = sizeof(attention_state),
    .build = build,
    .forward = forward,
};
