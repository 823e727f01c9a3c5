/* maxpool2d: torch.nn.MaxPool2d (ceil_mode=False, dilation 1) over a
 * per-sample [C, H, W] input; keys in pool2d.c, the op in ops/pool.c. */
#include "pool2d.h"

/* The argmax indices a training step keeps: one int32 per output value. */
static int64_t scratch_floats(const cg_layer_spec *l)
{
    return l->out_shape[0] * l->out_shape[1] * l->out_shape[2];
}

static cg_tensor *forward(cg_ctx *ctx, const cg_layer_spec *l, const void *state,
                          cg_tensor *const *x, int n)
{
    const cg_pool2d_config *c = CG_LAYER_CONFIG(l, cg_pool2d_config);
    return cg_maxpool2d(ctx, x[0], c->kernel, c->stride, c->padding);
}

const cg_layer_type cg__layer_maxpool2d = {
    .name = "maxpool2d",
    .keys = cg__pool2d_keys,
    .min_inputs = 1,
    .max_inputs = 1,
    .parse = cg__pool2d_parse,
    .infer = cg__pool2d_infer,
    .write = cg__pool2d_write,
    .describe = cg__pool2d_describe,
    .scratch_floats = scratch_floats,
    .forward = forward,
};
