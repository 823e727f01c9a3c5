/* layernorm: torch.nn.LayerNorm(normalized_shape, eps, elementwise_affine),
 * normalising each sample over its trailing dimensions, the normalized
 * shape (ops/norm.c, cg_layer_norm). Parameters weight (ones) and bias
 * (zeros) of the normalized shape with elementwise_affine; no buffers, and
 * training and evaluation compute the same. */
#include "layer.h"

#include <stdio.h>
#include <string.h>

/* torch.nn.LayerNorm's default. */
#define DEFAULT_EPS 1e-5f

typedef struct layernorm_config {
    /* As written; 0 dimensions: absent (the whole per-sample shape). */
    int given_ndim;
    int64_t given[CG_MAX_DIMS];
    /* What infer resolved it to against the input. */
    int ndim;
    int64_t shape[CG_MAX_DIMS];
    float eps;
    bool affine;
} layernorm_config;
CG_LAYER_CONFIG_FITS(layernorm_config);

typedef struct layernorm_state {
    cg_tensor *weight, *bias;      /* NULL without elementwise_affine */
} layernorm_state;

static const char *const keys[] = {"normalized_shape", "eps", "elementwise_affine", NULL};

/* An integer (one dimension) or a list of 1 to CG_MAX_DIMS positive ones,
 * as torch.nn.LayerNorm takes. */
static cg_status read_shape(const cJSON *obj, cg_json_path *p, layernorm_config *c)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "normalized_shape");
    if (!v) return CG_OK;
    size_t mark = cg__json_key(p, "normalized_shape");
    char what[96];
    snprintf(what, sizeof what, "a positive integer or a list of 1 to %d of them", CG_MAX_DIMS);
    cg_status s = CG_OK;
    int64_t dims[CG_MAX_DIMS];
    int n = 0;
    if (cJSON_IsNumber(v)) {
        s = cg__json_int(v, p, 1, INT64_MAX, &dims[0]);
        n = 1;
    } else if (cJSON_IsArray(v) && cJSON_GetArraySize(v) >= 1 &&
               cJSON_GetArraySize(v) <= CG_MAX_DIMS) {
        n = cJSON_GetArraySize(v);
        for (int i = 0; s == CG_OK && i < n; i++) {
            size_t at = cg__json_index(p, (size_t)i);
            s = cg__json_int(cJSON_GetArrayItem(v, i), p, 1, INT64_MAX, &dims[i]);
            cg__json_restore(p, at);
        }
    } else {
        s = cg__json_expected(p, what, v);
    }
    cg__json_restore(p, mark);
    if (s == CG_OK) {
        c->given_ndim = n;
        for (int i = 0; i < n; i++) c->given[i] = dims[i];
    }
    return s;
}

static cg_status parse(const cJSON *obj, cg_json_path *p, const char *type, cg_layer_spec *l)
{
    layernorm_config *c = CG_LAYER_CONFIG(l, layernorm_config);
    *c = (layernorm_config){.eps = DEFAULT_EPS, .affine = true};
    cg_status s = read_shape(obj, p, c);
    if (s == CG_OK) s = cg__json_read_float(obj, "eps", p, CG_RANGE_POSITIVE, &c->eps);
    if (s == CG_OK) s = cg__json_read_bool(obj, "elementwise_affine", p, &c->affine);
    return s;
}

/* "[32] or [3, 32]": the normalized shapes the input allows. */
static void allowed_text(const cg_layer_spec *l, char *buf, size_t size)
{
    int nd = l->in_ndim[0];
    buf[0] = '\0';
    for (int k = 1; k <= nd; k++) {
        char dims[96];
        size_t len = strlen(buf);
        snprintf(buf + len, size - len, "%s%s", k == 1 ? "" : k == nd ? " or " : ", ",
                 cg_dims_str(k, l->in_shape[0] + nd - k, dims, sizeof dims));
    }
}

static cg_status infer(cg_layer_spec *l, cg_json_path *p)
{
    layernorm_config *c = CG_LAYER_CONFIG(l, layernorm_config);
    char in[128], given[128], allowed[512];
    int nd = l->in_ndim[0];
    if (nd < 1)
        return cg__json_fail(p, "layernorm needs an input with at least one dimension, got %s",
                             cg__layer_in_str(l, 0, in, sizeof in));
    bool fits = c->given_ndim <= nd;
    for (int i = 0; fits && i < c->given_ndim; i++)
        fits = c->given[i] == l->in_shape[0][nd - c->given_ndim + i];
    if (!fits) {
        /* PyTorch's rule: the normalized shape is the input's last dimensions. */
        allowed_text(l, allowed, sizeof allowed);
        size_t mark = cg__json_key(p, "normalized_shape");
        cg_status s = cg__json_fail(
            p, "%s is not the input's trailing dimensions: it can be %s (input %s)",
            cg_dims_str(c->given_ndim, c->given, given, sizeof given), allowed,
            cg__layer_in_str(l, 0, in, sizeof in));
        cg__json_restore(p, mark);
        return s;
    }
    c->ndim = c->given_ndim ? c->given_ndim : nd;
    for (int i = 0; i < c->ndim; i++) c->shape[i] = l->in_shape[0][nd - c->ndim + i];
    int64_t d;
    if (!cg__shape_numel(c->ndim, c->shape, &d) || !cg__checked_mul(d, c->affine ? 2 : 0, &l->n_params))
        return cg__json_fail(p, "the parameter count of normalized shape %s overflows",
                             cg_dims_str(c->ndim, c->shape, given, sizeof given));
    return cg__layer_same_shape(l, p);
}

static void write(cg_json_writer *w, cJSON *obj, const cg_layer_spec *l)
{
    const layernorm_config *c = CG_LAYER_CONFIG(l, layernorm_config);
    cg__jw_string(w, obj, "type", "layernorm");
    cJSON *shape = cg__jw_checked(w, cJSON_CreateArray());
    for (int i = 0; shape && i < c->ndim; i++) cg__jw_append(w, shape, cg__jw_int_value(c->shape[i]));
    if (shape) cg__jw_add(w, obj, "normalized_shape", shape);
    cg__jw_float(w, obj, "eps", c->eps);
    cg__jw_bool(w, obj, "elementwise_affine", c->affine);
}

/* "layernorm [64]", then ", eps E" when not the default, and " (no affine)". */
static void describe(const cg_layer_spec *l, char *buf, size_t size)
{
    const layernorm_config *c = CG_LAYER_CONFIG(l, layernorm_config);
    char shape[96], settings[32] = "";
    if (c->eps != DEFAULT_EPS) snprintf(settings, sizeof settings, ", eps %g", (double)c->eps);
    snprintf(buf, size, "layernorm %s%s%s", cg_dims_str(c->ndim, c->shape, shape, sizeof shape),
             settings, c->affine ? "" : " (no affine)");
}

/* μ and rstd in double for each normalized slice of a sample. */
static int64_t scratch_floats(const cg_layer_spec *l)
{
    const layernorm_config *c = CG_LAYER_CONFIG(l, layernorm_config);
    int64_t per_sample = 1, d = 1;
    for (int i = 0; i < l->out_ndim; i++) per_sample *= l->out_shape[i];
    for (int i = 0; i < c->ndim; i++) d *= c->shape[i];
    return 4 * (per_sample / d);
}

static cg_status build(cg_layer_build *b, const cg_layer_spec *l, void *state)
{
    const layernorm_config *c = CG_LAYER_CONFIG(l, layernorm_config);
    layernorm_state *st = state;
    if (!c->affine) return CG_OK;
    char name[64];
    snprintf(name, sizeof name, "%s.weight", b->prefix);
    st->weight = cg_params_add(b->params, name, c->ndim, c->shape);
    snprintf(name, sizeof name, "%s.bias", b->prefix);
    st->bias = st->weight ? cg_params_add(b->params, name, c->ndim, c->shape) : NULL;
    if (!st->bias) return cg_last_status();
    cg_init_constant(st->weight, 1.0f);
    return CG_OK;
}

static cg_tensor *forward(cg_ctx *ctx, const cg_layer_spec *l, const void *state,
                          cg_tensor *const *x, int n)
{
    const layernorm_config *c = CG_LAYER_CONFIG(l, layernorm_config);
    const layernorm_state *st = state;
    return cg_layer_norm(ctx, x[0], c->ndim, st->weight, st->bias, c->eps);
}

const cg_layer_type cg__layer_layernorm = {
    .name = "layernorm",
    .keys = keys,
    .min_inputs = 1,
    .max_inputs = 1,
    .parse = parse,
    .infer = infer,
    .write = write,
    .describe = describe,
    .scratch_floats = scratch_floats,
    .state_size = sizeof(layernorm_state),
    .build = build,
    .forward = forward,
};
