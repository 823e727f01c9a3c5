/* embedding: torch.nn.Embedding(vocab, dim), a table of `vocab` learned
 * vectors of `dim` values; every token id of the input (any per-sample
 * shape, typically [T]) becomes its vector, so [T] -> [T, dim]. The weight
 * [vocab, dim] starts as N(0, 1), as PyTorch's does. The op is
 * ops/embedding.c. */
#include "layer.h"

#include <math.h>
#include <stdio.h>

typedef struct embedding_config {
    int64_t vocab, dim;
    float init_std;     /* N(0, init_std) at creation: 1 is PyTorch's, GPT-2 uses 0.02 */
} embedding_config;
CG_LAYER_CONFIG_FITS(embedding_config);

typedef struct embedding_state {
    cg_tensor *weight;
} embedding_state;

static const char *const keys[] = {"vocab", "dim", "init_std", NULL};

static cg_status parse(const cJSON *obj, cg_json_path *p, const char *type, cg_layer_spec *l)
{
    embedding_config *c = CG_LAYER_CONFIG(l, embedding_config);
    *c = (embedding_config){.init_std = 1.0f};
    if (!cJSON_GetObjectItemCaseSensitive(obj, "vocab") || !cJSON_GetObjectItemCaseSensitive(obj, "dim"))
        return cg__json_fail(p, "embedding layer needs \"vocab\" and \"dim\"");
    /* Token ids travel as float32, exact up to 2^24. */
    cg_status s = cg__json_read_int(obj, "vocab", p, 1, 1 << 24, &c->vocab);
    if (s == CG_OK) s = cg__json_read_int(obj, "dim", p, 1, INT32_MAX, &c->dim);
    if (s == CG_OK) s = cg__json_read_float(obj, "init_std", p, CG_RANGE_POSITIVE, &c->init_std);
    return s;
}

static cg_status infer(cg_layer_spec *l, cg_json_path *p)
{
    const embedding_config *c = CG_LAYER_CONFIG(l, embedding_config);
    char shape[128];
    if (l->in_ndim[0] >= CG_MAX_DIMS)
        return cg__json_fail(p, "embedding adds a dimension to its input %s; at most %d are "
                                "supported", cg__layer_in_str(l, 0, shape, sizeof shape),
                             CG_MAX_DIMS - 1);
    l->out_ndim = l->in_ndim[0] + 1;
    for (int i = 0; i < l->in_ndim[0]; i++) l->out_shape[i] = l->in_shape[0][i];
    l->out_shape[l->in_ndim[0]] = c->dim;
    if (!cg__checked_mul(c->vocab, c->dim, &l->n_params))
        return cg__json_fail(p, "the parameter count (%lld x %lld) overflows",
                             (long long)c->vocab, (long long)c->dim);
    return CG_OK;
}

static void write(cg_json_writer *w, cJSON *obj, const cg_layer_spec *l)
{
    const embedding_config *c = CG_LAYER_CONFIG(l, embedding_config);
    cg__jw_string(w, obj, "type", "embedding");
    cg__jw_int(w, obj, "vocab", c->vocab);
    cg__jw_int(w, obj, "dim", c->dim);
    if (c->init_std != 1.0f) cg__jw_float(w, obj, "init_std", c->init_std);
}

static void describe(const cg_layer_spec *l, char *buf, size_t size)
{
    const embedding_config *c = CG_LAYER_CONFIG(l, embedding_config);
    snprintf(buf, size, "embedding %lld x %lld", (long long)c->vocab, (long long)c->dim);
}

static cg_status build(cg_layer_build *b, const cg_layer_spec *l, void *state)
{
    const embedding_config *c = CG_LAYER_CONFIG(l, embedding_config);
    embedding_state *st = state;
    char name[64];
    snprintf(name, sizeof name, "%s.weight", b->prefix);
    st->weight = cg_params_add(b->params, name, 2, (int64_t[]){c->vocab, c->dim});
    if (!st->weight) return cg_last_status();
    cg_init_normal(st->weight, 0.0f, c->init_std, b->rng);
    return CG_OK;
}

static cg_tensor *forward(cg_ctx *ctx, const cg_layer_spec *l, const void *state,
                          cg_tensor *const *x, int n)
{
    return cg_embedding(ctx, x[0], ((const embedding_state *)state)->weight);
}

static cg_status check_input(const cg_layer_spec *l, const cg_dataset *d)
{
    const int64_t V = CG_LAYER_CONFIG(l, embedding_config)->vocab, size = d->sample_size;
    for (int64_t i = 0; i < d->count * size; i++) {
        float v = d->x[i];
        if (v >= 0.0f && v < (float)V && v == floorf(v)) continue;
        return cg_set_error(CG_ERR_ARG, "%s: sample %lld, position %lld: token id %g is not in "
                                        "the embedding's vocabulary [0, %lld)",
                            d->source, (long long)(i / size), (long long)(i % size), (double)v,
                            (long long)V);
    }
    return CG_OK;
}

const cg_layer_type cg__layer_embedding = {
    .name = "embedding",
    .keys = keys,
    .min_inputs = 1,
    .max_inputs = 1,
    .parse = parse,
    .infer = infer,
    .write = write,
    .describe = describe,
    .state_size = sizeof(embedding_state),
    .build = build,
    .forward = forward,
    .check_input = check_input,
};
