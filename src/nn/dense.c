/* Dense (fully connected) layer, laid out and initialised as torch.nn.Linear. */
#include "internal.h"

#include <math.h>
#include <stdio.h>

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
