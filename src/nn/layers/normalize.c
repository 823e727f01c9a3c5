/* normalize: standardises each input feature by the mean and variance of
 * the training set, y = (x − mean)/√var, as Keras' Normalization layer after
 * adapt(). The statistics are buffers ("mean", "var", [features]) learned
 * in one pass over the training data before the first step (never from
 * validation data), saved in checkpoints and used alike by training,
 * evaluation and prediction; the optimizer never sees them. A constant
 * feature gets variance 1, so it becomes 0 instead of a division by zero.
 * With "impute": "mean" a missing value (NaN from the data) is replaced by
 * its feature's mean, which the statistics leave out.
 *
 * It reads the model's input directly (the statistics are the data's), a
 * flat [features] input. In PyTorch: (x - mean) / var.sqrt(). */
#include "layer.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct normalize_config {
    bool impute_mean;
} normalize_config;
CG_LAYER_CONFIG_FITS(normalize_config);

typedef struct normalize_state {
    float *mean, *var;
} normalize_state;

static const char *const keys[] = {"impute", NULL};

static cg_status parse(const cJSON *obj, cg_json_path *p, const char *type, cg_layer_spec *l)
{
    (void)type;
    normalize_config *c = CG_LAYER_CONFIG(l, normalize_config);
    *c = (normalize_config){.impute_mean = false};
    const char *impute = NULL;
    cg_status s = cg__json_read_string(obj, "impute", p, &impute);
    if (s != CG_OK || !impute) return s;
    c->impute_mean = strcmp(impute, "mean") == 0;
    if (c->impute_mean || strcmp(impute, "none") == 0) return CG_OK;
    size_t mark = cg__json_key(p, "impute");
    s = cg__json_fail(p, "expected \"mean\" (fill in missing values) or \"none\", got \"%s\"",
                      impute);
    cg__json_restore(p, mark);
    return s;
}

static int64_t features(const cg_layer_spec *l) { return l->in_shape[0][0]; }

static cg_status infer(cg_layer_spec *l, cg_json_path *p)
{
    char shape[128];
    if (l->inputs[0] != CG_LAYER_INPUT)
        return cg__json_fail(p, "normalize learns its statistics from the data, so it must read "
                                "the model's input (make it the first layer, or \"inputs\": "
                                "[\"input\"])");
    if (l->in_ndim[0] != 1)
        return cg__json_fail(p, "normalize takes a flat input [features], got %s",
                             cg__layer_in_str(l, 0, shape, sizeof shape));
    if (!cg__checked_mul(features(l), 2, &l->n_buffers))
        return cg__json_fail(p, "the buffer count of %lld features overflows",
                             (long long)features(l));
    l->n_params = 0;
    return cg__layer_same_shape(l, p);
}

static void write(cg_json_writer *w, cJSON *obj, const cg_layer_spec *l)
{
    cg__jw_string(w, obj, "type", "normalize");
    cg__jw_string(w, obj, "impute", CG_LAYER_CONFIG(l, normalize_config)->impute_mean ? "mean" : "none");
}

static void describe(const cg_layer_spec *l, char *buf, size_t size)
{
    snprintf(buf, size, "normalize %lld%s", (long long)features(l),
             CG_LAYER_CONFIG(l, normalize_config)->impute_mean ? " (impute mean)" : "");
}

static cg_status build(cg_layer_build *b, const cg_layer_spec *l, void *state)
{
    normalize_state *st = state;
    int64_t shape[1] = {features(l)};
    st->mean = cg__layer_buffer(b, "mean", CG_DTYPE_F32, 1, shape);
    st->var = cg__layer_buffer(b, "var", CG_DTYPE_F32, 1, shape);
    if (!st->mean || !st->var) return cg_last_status();
    for (int64_t i = 0; i < shape[0]; i++) st->var[i] = 1.0f;
    return CG_OK;
}

/* A copy of x with every NaN replaced by its feature's mean. */
static cg_tensor *impute(cg_ctx *ctx, cg_tensor *x, const float *mean)
{
    cg_tensor *y = cg__tensor_like(ctx, x);
    if (!y) return NULL;
    int64_t n = x->shape[0], f = x->shape[1];
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < f; j++) {
            float v = x->data[i * f + j];
            y->data[i * f + j] = isnan(v) ? mean[j] : v;
        }
    return y;
}

static cg_tensor *forward(cg_ctx *ctx, const cg_layer_spec *l, const void *state,
                          cg_tensor *const *x, int n)
{
    (void)n;
    const normalize_state *st = state;
    cg_tensor *in = x[0];
    if (CG_LAYER_CONFIG(l, normalize_config)->impute_mean && !(in = impute(ctx, in, st->mean)))
        return NULL;
    /* Batch norm in evaluation mode with eps 0 is exactly (x − mean)/√var. */
    return cg_batch_norm(ctx, in, NULL, NULL, st->mean, st->var, NULL, 0.0f, 0.0f, false);
}

/* Welford's running mean and sum of squared deviations, in double, one
 * pass; missing values (NaN) are left out. */
static cg_status adapt(const cg_layer_spec *l, void *state, const cg_dataset *data)
{
    normalize_state *st = state;
    int64_t f = features(l);
    if (!data || data->sample_size != f || data->count < 1)
        return cg_set_error(CG_ERR_ARG, "normalize: the data has %lld values per sample, the layer "
                            "%lld features", data ? (long long)data->sample_size : 0LL, (long long)f);
    for (int64_t j = 0; j < f; j++) {
        double mean = 0, m2 = 0;
        int64_t seen = 0;
        for (int64_t i = 0; i < data->count; i++) {
            double v = data->x[i * f + j];
            if (isnan(v)) continue;
            double delta = v - mean;
            mean += delta / (double)++seen;
            m2 += delta * (v - mean);
        }
        double var = seen > 0 ? m2 / (double)seen : 0;
        st->mean[j] = (float)mean;
        st->var[j] = var > 0 && (float)var > 0 ? (float)var : 1.0f;
    }
    return CG_OK;
}

static bool fills_missing(const cg_layer_spec *l)
{
    return CG_LAYER_CONFIG(l, normalize_config)->impute_mean;
}

const cg_layer_type cg__layer_normalize = {
    .name = "normalize",
    .keys = keys,
    .min_inputs = 1,
    .max_inputs = 1,
    .parse = parse,
    .infer = infer,
    .write = write,
    .describe = describe,
    .state_size = sizeof(normalize_state),
    .build = build,
    .forward = forward,
    .adapt = adapt,
    .fills_missing = fills_missing,
};
