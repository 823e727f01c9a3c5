/* position_embedding: adds a vector per position to a per-sample [T, D]
 * input, so attention (which sees a set) knows the order. "learned": a
 * weight [max_len, D] (N(0, init_std); 1, nn.Embedding's, by default), rows 0..T−1 added;
 * "sinusoidal": the fixed encoding of "Attention Is All You Need",
 * PE[t, 2i] = sin(t/10000^(2i/D)), PE[t, 2i+1] = cos(t/10000^(2i/D)), no
 * parameters. A shorter input (a prompt in `cgrad sample`) takes the first
 * rows. */
#include "layer.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

typedef struct position_config {
    int64_t max_len;
    bool sinusoidal;
    float init_std;     /* learned: N(0, init_std) at creation */
} position_config;
CG_LAYER_CONFIG_FITS(position_config);

typedef struct position_state {
    cg_tensor *weight;      /* NULL when sinusoidal */
} position_state;

static const char *const keys[] = {"max_len", "kind", "init_std", NULL};

static cg_status parse(const cJSON *obj, cg_json_path *p, const char *type, cg_layer_spec *l)
{
    position_config *c = CG_LAYER_CONFIG(l, position_config);
    *c = (position_config){.init_std = 1.0f};
    if (!cJSON_GetObjectItemCaseSensitive(obj, "max_len"))
        return cg__json_fail(p, "position_embedding layer needs \"max_len\"");
    cg_status s = cg__json_read_int(obj, "max_len", p, 1, 1 << 24, &c->max_len);
    const char *kind = NULL;
    if (s == CG_OK) s = cg__json_read_float(obj, "init_std", p, CG_RANGE_POSITIVE, &c->init_std);
    if (s == CG_OK) s = cg__json_read_string(obj, "kind", p, &kind);
    if (s != CG_OK || !kind || strcasecmp(kind, "learned") == 0) return s;
    if (strcasecmp(kind, "sinusoidal") == 0) {
        c->sinusoidal = true;
        return CG_OK;
    }
    size_t mark = cg__json_key(p, "kind");
    s = cg__json_fail(p, "expected \"learned\" or \"sinusoidal\", got \"%s\"", kind);
    cg__json_restore(p, mark);
    return s;
}

static cg_status infer(cg_layer_spec *l, cg_json_path *p)
{
    const position_config *c = CG_LAYER_CONFIG(l, position_config);
    char in[128];
    if (l->in_ndim[0] != 2)
        return cg__json_fail(p, "position_embedding needs a per-sample [time, features] input, "
                                "got %s", cg__layer_in_str(l, 0, in, sizeof in));
    if (l->in_shape[0][0] > c->max_len)
        return cg__json_fail(p, "the input %s has more steps than max_len %lld",
                             cg__layer_in_str(l, 0, in, sizeof in), (long long)c->max_len);
    if (!c->sinusoidal && !cg__checked_mul(c->max_len, l->in_shape[0][1], &l->n_params))
        return cg__json_fail(p, "the parameter count overflows");
    return cg__layer_same_shape(l, p);
}

static void write(cg_json_writer *w, cJSON *obj, const cg_layer_spec *l)
{
    const position_config *c = CG_LAYER_CONFIG(l, position_config);
    cg__jw_string(w, obj, "type", "position_embedding");
    cg__jw_int(w, obj, "max_len", c->max_len);
    cg__jw_string(w, obj, "kind", c->sinusoidal ? "sinusoidal" : "learned");
    if (!c->sinusoidal) cg__jw_float(w, obj, "init_std", c->init_std);
}

static void describe(const cg_layer_spec *l, char *buf, size_t size)
{
    const position_config *c = CG_LAYER_CONFIG(l, position_config);
    snprintf(buf, size, "position_embedding %s, max_len %lld",
             c->sinusoidal ? "sinusoidal" : "learned", (long long)c->max_len);
}

static cg_status build(cg_layer_build *b, const cg_layer_spec *l, void *state)
{
    const position_config *c = CG_LAYER_CONFIG(l, position_config);
    position_state *st = state;
    if (c->sinusoidal) return CG_OK;
    char name[64];
    snprintf(name, sizeof name, "%s.weight", b->prefix);
    st->weight = cg_params_add(b->params, name, 2, (int64_t[]){c->max_len, l->in_shape[0][1]});
    if (!st->weight) return cg_last_status();
    cg_init_normal(st->weight, 0.0f, c->init_std, b->rng);
    return CG_OK;
}

/* The fixed encoding of T positions of D features, a constant. */
static cg_tensor *sinusoid(cg_ctx *ctx, int64_t T, int64_t D)
{
    cg_tensor *pe = cg_tensor_new(ctx, 2, (int64_t[]){T, D});
    for (int64_t t = 0; pe && t < T; t++)
        for (int64_t j = 0; j < D; j++) {
            double angle = (double)t / pow(10000.0, (double)(j - j % 2) / (double)D);
            pe->data[t * D + j] = (float)(j % 2 ? cos(angle) : sin(angle));
        }
    return pe;
}

static cg_tensor *forward(cg_ctx *ctx, const cg_layer_spec *l, const void *state,
                          cg_tensor *const *x, int n)
{
    const position_config *c = CG_LAYER_CONFIG(l, position_config);
    const position_state *st = state;
    if (!x[0]) return NULL;
    const int64_t T = x[0]->shape[1];
    cg_tensor *pe = c->sinusoidal ? sinusoid(ctx, T, x[0]->shape[2])
                    : T == c->max_len ? st->weight
                                      : cg_slice(ctx, st->weight, 0, 0, T);
    return pe ? cg_add(ctx, x[0], pe) : NULL;
}

const cg_layer_type cg__layer_position_embedding = {
    .name = "position_embedding",
    .keys = keys,
    .min_inputs = 1,
    .max_inputs = 1,
    .parse = parse,
    .infer = infer,
    .write = write,
    .describe = describe,
    .state_size = sizeof(position_state),
    .build = build,
    .forward = forward,
};
