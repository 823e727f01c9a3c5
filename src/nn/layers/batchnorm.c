/* batchnorm: torch.nn.BatchNorm1d / BatchNorm2d / BatchNorm3d (whichever
 * fits the input: per-sample [C], [C, L], [C, H, W], ...), normalising each
 * channel (the first per-sample dimension) over the batch and the rest
 * (ops/norm.c). Parameters weight (ones) and bias (zeros) when affine;
 * buffers running_mean (zeros), running_var (ones) and int64
 * num_batches_tracked, which training mode updates as PyTorch does and
 * evaluation mode normalises by. With "sync": true, data-parallel training
 * takes the statistics over the whole batch, on every process together
 * (torch.nn.SyncBatchNorm); alone, or in evaluation, it changes nothing. */
#include "layer.h"

#include <stdio.h>

/* torch.nn.BatchNorm*d's defaults. */
#define DEFAULT_MOMENTUM 0.1f
#define DEFAULT_EPS 1e-5f

typedef struct batchnorm_config {
    float momentum;
    float eps;
    bool affine;
    bool sync;
} batchnorm_config;
CG_LAYER_CONFIG_FITS(batchnorm_config);

/* Handles to the parameters and the buffers' data, which the forward pass
 * in training mode updates in place. */
typedef struct batchnorm_state {
    cg_tensor *weight, *bias;      /* NULL without affine */
    float *running_mean, *running_var;
    int64_t *num_batches_tracked;
} batchnorm_state;

static const char *const keys[] = {"momentum", "eps", "affine", "sync", NULL};

static cg_status parse(const cJSON *obj, cg_json_path *p, const char *type, cg_layer_spec *l)
{
    batchnorm_config *c = CG_LAYER_CONFIG(l, batchnorm_config);
    *c = (batchnorm_config){.momentum = DEFAULT_MOMENTUM, .eps = DEFAULT_EPS, .affine = true};
    cg_status s = cg__json_read_float(obj, "momentum", p, CG_RANGE_UNIT, &c->momentum);
    if (s == CG_OK) s = cg__json_read_float(obj, "eps", p, CG_RANGE_POSITIVE, &c->eps);
    if (s == CG_OK) s = cg__json_read_bool(obj, "affine", p, &c->affine);
    if (s == CG_OK) s = cg__json_read_bool(obj, "sync", p, &c->sync);
    return s;
}

static int64_t channels(const cg_layer_spec *l) { return l->in_shape[0][0]; }

static cg_status infer(cg_layer_spec *l, cg_json_path *p)
{
    char shape[128];
    if (l->in_ndim[0] < 1)
        return cg__json_fail(p, "batchnorm needs an input with channels ([C], [C, L] or "
                                "[C, H, W]), got %s", cg__layer_in_str(l, 0, shape, sizeof shape));
    int64_t c = channels(l), per_channel;
    /* running_mean and running_var, and num_batches_tracked; weight and bias */
    if (!cg__checked_mul(c, 2, &per_channel) || !cg__checked_add(per_channel, 1, &l->n_buffers))
        return cg__json_fail(p, "the buffer count of %lld channels overflows", (long long)c);
    l->n_params = CG_LAYER_CONFIG(l, batchnorm_config)->affine ? per_channel : 0;
    return cg__layer_same_shape(l, p);
}

static void write(cg_json_writer *w, cJSON *obj, const cg_layer_spec *l)
{
    const batchnorm_config *c = CG_LAYER_CONFIG(l, batchnorm_config);
    cg__jw_string(w, obj, "type", "batchnorm");
    cg__jw_float(w, obj, "momentum", c->momentum);
    cg__jw_float(w, obj, "eps", c->eps);
    cg__jw_bool(w, obj, "affine", c->affine);
    /* Written only when on, so files of models without it stay as they were. */
    if (c->sync) cg__jw_bool(w, obj, "sync", true);
}

/* "batchnorm 16", then ", momentum M, eps E" when either is not the
 * default, and " (no affine)". */
static void describe(const cg_layer_spec *l, char *buf, size_t size)
{
    const batchnorm_config *c = CG_LAYER_CONFIG(l, batchnorm_config);
    char settings[64] = "";
    if (c->momentum != DEFAULT_MOMENTUM || c->eps != DEFAULT_EPS)
        snprintf(settings, sizeof settings, ", momentum %g, eps %g", (double)c->momentum,
                 (double)c->eps);
    snprintf(buf, size, "batchnorm %lld%s%s%s", (long long)channels(l), settings,
             c->affine ? "" : " (no affine)", c->sync ? " (sync)" : "");
}

static cg_status build(cg_layer_build *b, const cg_layer_spec *l, void *state)
{
    const batchnorm_config *c = CG_LAYER_CONFIG(l, batchnorm_config);
    batchnorm_state *st = state;
    int64_t shape[1] = {channels(l)};
    char name[64];
    if (c->affine) {
        snprintf(name, sizeof name, "%s.weight", b->prefix);
        st->weight = cg_params_add(b->params, name, 1, shape);
        snprintf(name, sizeof name, "%s.bias", b->prefix);
        st->bias = st->weight ? cg_params_add(b->params, name, 1, shape) : NULL;
        if (!st->bias) return cg_last_status();
        cg_init_constant(st->weight, 1.0f);
    }
    st->running_mean = cg__layer_buffer(b, "running_mean", CG_DTYPE_F32, 1, shape);
    st->running_var = cg__layer_buffer(b, "running_var", CG_DTYPE_F32, 1, shape);
    /* A rank-0 scalar, as PyTorch's. The shape pointer is still passed:
     * zero dimensions are copied from it, and memcpy from NULL is undefined. */
    st->num_batches_tracked = cg__layer_buffer(b, "num_batches_tracked", CG_DTYPE_I64, 0, shape);
    if (!st->running_mean || !st->running_var || !st->num_batches_tracked) return cg_last_status();
    for (int64_t i = 0; i < shape[0]; i++) st->running_var[i] = 1.0f;
    return CG_OK;
}

static cg_tensor *forward(cg_ctx *ctx, const cg_layer_spec *l, const void *state,
                          cg_tensor *const *x, int n)
{
    const batchnorm_config *c = CG_LAYER_CONFIG(l, batchnorm_config);
    const batchnorm_state *st = state;
    return cg__batch_norm(ctx, x[0], st->weight, st->bias, st->running_mean, st->running_var,
                          st->num_batches_tracked, c->momentum, c->eps, cg_ctx_training(ctx),
                          c->sync);
}

bool cg__model_spec_syncs_batch_norm(const cg_model_spec *spec)
{
    for (size_t i = 0; i < spec->n_layers; i++) {
        const cg_layer_spec *l = &spec->layers[i];
        if (l->type == &cg__layer_batchnorm && CG_LAYER_CONFIG(l, batchnorm_config)->sync)
            return true;
    }
    return false;
}

const cg_layer_type cg__layer_batchnorm = {
    .name = "batchnorm",
    .keys = keys,
    .min_inputs = 1,
    .max_inputs = 1,
    .parse = parse,
    .infer = infer,
    .write = write,
    .describe = describe,
    .state_size = sizeof(batchnorm_state),
    .build = build,
    .forward = forward,
};
