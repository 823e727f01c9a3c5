/* avgpool2d: torch.nn.AvgPool2d (ceil_mode=False, count_include_pad=True)
 * over a per-sample [C, H, W] input; keys in pool2d.c, the op in
 * ops/pool.c. */
#include "pool2d.h"

static cg_tensor *forward(cg_ctx *ctx, const cg_layer_spec *l, const void *state,
                          cg_tensor *const *x, int n)
{
    const cg_pool2d_config *c = CG_LAYER_CONFIG(l, cg_pool2d_config);
    return cg_avgpool2d(ctx, x[0], c->kernel, c->stride, c->padding);
}

const cg_layer_type cg__layer_avgpool2d = {
    .name = "avgpool2d",
    .keys = cg__pool2d_keys,
    .min_inputs = 1,
    .max_inputs = 1,
    .parse = cg__pool2d_parse,
    .infer = cg__pool2d_infer,
    .write = cg__pool2d_write,
    .describe = cg__pool2d_describe,
    .forward = forward,
};
