/* conv2d: a 2-D convolution laid out and initialised as torch.nn.Conv2d
 * (weight [filters, channels/groups, kh, kw], bias [filters]) over a
 * per-sample [channels, height, width] input, with an optional fused
 * activation (ops/conv.c, cg_conv2d). Keys: filters, kernel, stride,
 * padding (an integer, a pair, "same" or "valid"), dilation, groups, bias,
 * activation (+ negative_slope / alpha); the pairs are [height, width].
 * A maxpool2d layer right after it (its only user) is pooled in the same
 * pass over each sample (cg__conv2d_maxpool). */
#include "layer.h"
#include "pool2d.h"
#include "../../ops/conv.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* cg_conv2d hands sizes to BLAS as int; larger settings fit no input. */
#define MAX_SETTING INT32_MAX

typedef struct conv2d_config {
    int64_t filters;
    int64_t kernel[2];        /* {height, width} */
    int64_t stride[2];
    int64_t padding[2];       /* both sides; {0, 0} with same */
    int64_t dilation[2];
    int64_t groups;
    bool same;                /* padding "same" (PyTorch's split when odd) */
    bool bias;
    cg_act_spec act;          /* NONE when absent */
} conv2d_config;
CG_LAYER_CONFIG_FITS(conv2d_config);

typedef struct conv2d_state {
    cg_tensor *weight, *bias;
    cg_conv2d_params params;  /* its activation: what the fused kernel applies */
    cg_act_spec after;        /* an activation the kernel cannot fuse (a non-default slope/alpha) */
    const cg_pool2d_config *pool; /* an absorbed maxpool2d layer's settings, or NULL */
} conv2d_state;

static const char *const keys[] = {"filters", "kernel", "stride", "padding", "dilation", "groups",
                                   "bias", "activation", "negative_slope", "alpha", NULL};

/* ------------------------------------------------ parsing */

/* padding: a pair as above, or "same" / "valid" (PyTorch's strings). */
static cg_status read_padding(const cJSON *obj, cg_json_path *p, conv2d_config *c)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "padding");
    if (!cJSON_IsString(v)) return cg__json_read_int_pair(obj, "padding", p, 0, MAX_SETTING, c->padding);
    c->same = strcasecmp(v->valuestring, "same") == 0;
    if (c->same || strcasecmp(v->valuestring, "valid") == 0) return CG_OK;
    size_t mark = cg__json_key(p, "padding");
    cg_status s = cg__json_expected(p, "an integer >= 0, a pair [height, width], \"same\" or "
                                       "\"valid\"", v);
    cg__json_restore(p, mark);
    return s;
}

static cg_status fail_at(cg_json_path *p, const char *key, const char *msg)
{
    size_t mark = cg__json_key(p, key);
    cg_status s = cg__json_fail(p, "%s", msg);
    cg__json_restore(p, mark);
    return s;
}

static cg_status parse(const cJSON *obj, cg_json_path *p, const char *type, cg_layer_spec *l)
{
    conv2d_config *c = CG_LAYER_CONFIG(l, conv2d_config);
    *c = (conv2d_config){.stride = {1, 1}, .dilation = {1, 1}, .groups = 1, .bias = true,
                         .act = {CG_ACT_NONE, 0.0f}};
    if (!cJSON_GetObjectItemCaseSensitive(obj, "filters"))
        return cg__json_fail(p, "conv2d layer needs \"filters\"");
    if (!cJSON_GetObjectItemCaseSensitive(obj, "kernel"))
        return cg__json_fail(p, "conv2d layer needs \"kernel\"");
    cg_status s = cg__json_read_int(obj, "filters", p, 1, MAX_SETTING, &c->filters);
    if (s == CG_OK) s = cg__json_read_int_pair(obj, "kernel", p, 1, MAX_SETTING, c->kernel);
    if (s == CG_OK) s = cg__json_read_int_pair(obj, "stride", p, 1, MAX_SETTING, c->stride);
    if (s == CG_OK) s = read_padding(obj, p, c);
    if (s == CG_OK) s = cg__json_read_int_pair(obj, "dilation", p, 1, MAX_SETTING, c->dilation);
    if (s == CG_OK) s = cg__json_read_int(obj, "groups", p, 1, MAX_SETTING, &c->groups);
    if (s == CG_OK) s = cg__json_read_bool(obj, "bias", p, &c->bias);
    if (s == CG_OK) s = cg__json_read_activation(obj, "activation", p, &c->act.act);
    if (s == CG_OK) s = cg__act_read_param(obj, p, &c->act);
    if (s == CG_OK && c->same && (c->stride[0] != 1 || c->stride[1] != 1))
        s = fail_at(p, "padding", "\"same\" needs stride 1 (PyTorch refuses it with a stride)");
    if (s == CG_OK && c->filters % c->groups != 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "filters %lld are not divisible by groups %lld",
                 (long long)c->filters, (long long)c->groups);
        s = fail_at(p, "groups", msg);
    }
    return s;
}

/* ------------------------------------------------ shapes */

/* Zeros added before and after along dimension d (0: height, 1: width). */
static void pads(const conv2d_config *c, int d, int64_t *before, int64_t *after)
{
    if (!c->same) {
        *before = *after = c->padding[d];
        return;
    }
    int64_t total = c->dilation[d] * (c->kernel[d] - 1);
    *before = total / 2;
    *after = total - *before;
}

static cg_status infer(cg_layer_spec *l, cg_json_path *p)
{
    const conv2d_config *c = CG_LAYER_CONFIG(l, conv2d_config);
    char shape[128], msg[384];
    if (l->in_ndim[0] != 3)
        return cg__json_fail(p, "conv2d needs [channels, height, width] input, got %s",
                             cg__layer_in_str(l, 0, shape, sizeof shape));
    int64_t C = l->in_shape[0][0];
    if (C % c->groups != 0) {
        snprintf(msg, sizeof msg, "input channels %lld (input %s) are not divisible by groups %lld",
                 (long long)C, cg__layer_in_str(l, 0, shape, sizeof shape), (long long)c->groups);
        return fail_at(p, "groups", msg);
    }
    int64_t out[2], eff[2], padded[2];
    for (int d = 0; d < 2; d++) {
        int64_t before, after;
        pads(c, d, &before, &after);
        /* Settings are below 2^31, so these cannot overflow. */
        eff[d] = c->dilation[d] * (c->kernel[d] - 1) + 1;
        padded[d] = l->in_shape[0][1 + d] + before + after;
        out[d] = padded[d] >= eff[d] ? (padded[d] - eff[d]) / c->stride[d] + 1 : 0;
    }
    if (out[0] < 1 || out[1] < 1) {
        char dilated[64] = "";
        if (c->dilation[0] != 1 || c->dilation[1] != 1)
            snprintf(dilated, sizeof dilated, " (%lldx%lld dilated)", (long long)eff[0],
                     (long long)eff[1]);
        snprintf(msg, sizeof msg, "%lldx%lld%s is larger than the padded input %lldx%lld "
                                  "(input %s)",
                 (long long)c->kernel[0], (long long)c->kernel[1], dilated,
                 (long long)padded[0], (long long)padded[1],
                 cg__layer_in_str(l, 0, shape, sizeof shape));
        return fail_at(p, "kernel", msg);
    }
    l->out_ndim = 3;
    l->out_shape[0] = c->filters;
    l->out_shape[1] = out[0];
    l->out_shape[2] = out[1];
    int64_t K, weights, positions;
    if (!cg__checked_mul(C / c->groups, c->kernel[0] * c->kernel[1], &K) || K > INT32_MAX ||
        !cg__checked_mul(out[0], out[1], &positions) || positions > INT32_MAX ||
        !cg__checked_mul(c->filters, K, &weights) ||
        !cg__checked_add(weights, c->bias ? c->filters : 0, &l->n_params))
        return cg__json_fail(p, "conv2d of %s with %lld filters is too large",
                             cg__layer_in_str(l, 0, shape, sizeof shape), (long long)c->filters);
    return CG_OK;
}

/* ------------------------------------------------ writing, describing */

static void write(cg_json_writer *w, cJSON *obj, const cg_layer_spec *l)
{
    const conv2d_config *c = CG_LAYER_CONFIG(l, conv2d_config);
    cg__jw_string(w, obj, "type", "conv2d");
    cg__jw_int(w, obj, "filters", c->filters);
    cg__jw_int_pair(w, obj, "kernel", c->kernel);
    cg__jw_int_pair(w, obj, "stride", c->stride);
    if (c->same)
        cg__jw_string(w, obj, "padding", "same");
    else
        cg__jw_int_pair(w, obj, "padding", c->padding);
    cg__jw_int_pair(w, obj, "dilation", c->dilation);
    cg__jw_int(w, obj, "groups", c->groups);
    cg__jw_string(w, obj, "activation", cg_activation_name(c->act.act));
    cg__act_write_param(w, obj, c->act);
    cg__jw_bool(w, obj, "bias", c->bias);
}

/* "conv2d 32 3x3 pad 1 relu"; stride, padding, dilation and groups when not
 * the defaults. */
static void describe(const cg_layer_spec *l, char *buf, size_t size)
{
    const conv2d_config *c = CG_LAYER_CONFIG(l, conv2d_config);
    char v[48], stride[64] = "", pad[64] = "", dil[64] = "", groups[48] = "", act[48] = "";
    if (c->stride[0] != 1 || c->stride[1] != 1) {
        cg__pair_text(c->stride, v, sizeof v);
        snprintf(stride, sizeof stride, " stride %s", v);
    }
    if (c->same) {
        snprintf(pad, sizeof pad, " pad same");
    } else if (c->padding[0] || c->padding[1]) {
        cg__pair_text(c->padding, v, sizeof v);
        snprintf(pad, sizeof pad, " pad %s", v);
    }
    if (c->dilation[0] != 1 || c->dilation[1] != 1) {
        cg__pair_text(c->dilation, v, sizeof v);
        snprintf(dil, sizeof dil, " dilation %s", v);
    }
    if (c->groups != 1) snprintf(groups, sizeof groups, " groups %lld", (long long)c->groups);
    if (c->act.act != CG_ACT_NONE) {
        act[0] = ' ';
        cg__act_text(c->act, act + 1, sizeof act - 1);
    }
    snprintf(buf, size, "conv2d %lld %lldx%lld%s%s%s%s%s%s", (long long)c->filters,
             (long long)c->kernel[0], (long long)c->kernel[1], stride, pad, dil, groups, act,
             c->bias ? "" : " (no bias)");
}

/* The pre-activation GELU's derivative needs, per sample. */
static int64_t scratch_floats(const cg_layer_spec *l)
{
    const conv2d_config *c = CG_LAYER_CONFIG(l, conv2d_config);
    return c->act.act == CG_ACT_GELU ? l->out_shape[0] * l->out_shape[1] * l->out_shape[2] : 0;
}

/* ------------------------------------------------ torch.nn.Conv2d */

static cg_status build(cg_layer_build *b, const cg_layer_spec *l, void *state)
{
    const conv2d_config *c = CG_LAYER_CONFIG(l, conv2d_config);
    conv2d_state *st = state;
    int64_t shape[4] = {c->filters, l->in_shape[0][0] / c->groups, c->kernel[0], c->kernel[1]};
    char name[64];
    snprintf(name, sizeof name, "%s.weight", b->prefix);
    st->weight = cg_params_add(b->params, name, 4, shape);
    if (!st->weight) return cg_last_status();
    st->bias = NULL;
    if (c->bias) {
        snprintf(name, sizeof name, "%s.bias", b->prefix);
        st->bias = cg_params_add(b->params, name, 1, shape);
        if (!st->bias) return cg_last_status();
    }
    /* PyTorch's reset_parameters: kaiming_uniform(a=√5), i.e. U(±1/√fan_in),
     * then the bias U(±1/√fan_in), fan_in = channels/groups·kh·kw. */
    cg_status s = cg_init_kaiming_uniform(st->weight, sqrtf(5.0f), b->rng);
    if (s != CG_OK) return s;
    if (st->bias) {
        float bound = 1.0f / sqrtf((float)(shape[1] * shape[2] * shape[3]));
        cg_init_uniform(st->bias, -bound, bound, b->rng);
    }
    st->params = (cg_conv2d_params){
        .stride = {c->stride[0], c->stride[1]},
        .padding = {c->padding[0], c->padding[1]},
        .padding_same = c->same,
        .dilation = {c->dilation[0], c->dilation[1]},
        .groups = c->groups,
    };
    cg__act_split(c->act, &st->params.activation, &st->after);
    st->pool = NULL;
    return CG_OK;
}

/* A following activation goes into the kernel; so does a maxpool2d after
 * ReLU or no activation, pooled while each sample's output is in cache. */
static bool absorb(void *state, const cg_layer_spec *next)
{
    conv2d_state *st = state;
    cg_activation act = st->params.activation;
    if (next->type == &cg__layer_maxpool2d) {
        if ((act != CG_ACT_NONE && act != CG_ACT_RELU) || st->after.act != CG_ACT_NONE)
            return false;
        st->pool = CG_LAYER_CONFIG(next, cg_pool2d_config);
        return true;
    }
    return cg__act_absorb(&st->params.activation, &st->after, next);
}

static cg_tensor *forward(cg_ctx *ctx, const cg_layer_spec *l, const void *state,
                          cg_tensor *const *x, int n)
{
    const conv2d_state *st = state;
    const cg_pool2d_config *p = st->pool;
    if (p)
        return cg__conv2d_maxpool(ctx, x[0], st->weight, st->bias, &st->params, p->kernel,
                                  p->stride, p->padding);
    return cg__act_after(ctx, cg_conv2d(ctx, x[0], st->weight, st->bias, &st->params), st->after);
}

const cg_layer_type cg__layer_conv2d = {
    .name = "conv2d",
    .keys = keys,
    .min_inputs = 1,
    .max_inputs = 1,
    .parse = parse,
    .infer = infer,
    .write = write,
    .describe = describe,
    .scratch_floats = scratch_floats,
    .state_size = sizeof(conv2d_state),
    .build = build,
    .absorb = absorb,
    .forward = forward,
};
