/* global_avgpool: the mean of each channel of a per-sample [C, H, W] input,
 * [C, H, W] -> [C] (torch.nn.AdaptiveAvgPool2d(1) followed by
 * torch.nn.Flatten()). No keys. */
#include "pool2d.h"

#include <stdio.h>

static cg_status parse(const cJSON *obj, cg_json_path *p, const char *type, cg_layer_spec *l)
{
    return CG_OK;
}

static cg_status infer(cg_layer_spec *l, cg_json_path *p)
{
    cg_status s = cg__pool2d_require_chw(l, p, "global_avgpool");
    if (s != CG_OK) return s;
    l->out_ndim = 1;
    l->out_shape[0] = l->in_shape[0][0];
    return CG_OK;
}

static void write(cg_json_writer *w, cJSON *obj, const cg_layer_spec *l)
{
    cg__jw_string(w, obj, "type", "global_avgpool");
}

static void describe(const cg_layer_spec *l, char *buf, size_t size)
{
    snprintf(buf, size, "global_avgpool");
}

static cg_tensor *forward(cg_ctx *ctx, const cg_layer_spec *l, const void *state,
                          cg_tensor *const *x, int n)
{
    return cg_global_avgpool(ctx, x[0]);
}

const cg_layer_type cg__layer_global_avgpool = {
    .name = "global_avgpool",
    .min_inputs = 1,
    .max_inputs = 1,
    .parse = parse,
    .infer = infer,
    .write = write,
    .describe = describe,
    .forward = forward,
};
