/* flatten: torch.nn.Flatten, [N, d1, d2, ...] -> [N, d1*d2*...]. */
#include "layer.h"

#include <stdio.h>

static cg_status parse(const cJSON *obj, cg_json_path *p, const char *type, cg_layer_spec *l)
{
    return CG_OK;
}

static cg_status infer(cg_layer_spec *l, cg_json_path *p)
{
    l->out_ndim = 1;
    if (!cg__shape_numel(l->in_ndim[0], l->in_shape[0], &l->out_shape[0]))
        return cg__json_fail(p, "the flattened size overflows");
    return CG_OK;
}

static void write(cg_json_writer *w, cJSON *obj, const cg_layer_spec *l)
{
    cg__jw_string(w, obj, "type", "flatten");
}

static void describe(const cg_layer_spec *l, char *buf, size_t size) { snprintf(buf, size, "flatten"); }

static bool is_identity(const cg_layer_spec *l) { return l->in_ndim[0] == 1; }

/* Flattening a tensor no gradient flows through (the model's input) needs
 * no copy and no tape entry: a second header over the same data will do. */
static cg_tensor *forward(cg_ctx *ctx, const cg_layer_spec *l, const void *state,
                          cg_tensor *const *xs, int n)
{
    cg_tensor *x = xs[0];
    if (x->requires_grad || x->node) return cg_flatten(ctx, x);
    cg_tensor *view = cg_arena_alloc(&ctx->arena, sizeof *view);
    if (!view) return NULL;
    *view = *x;
    view->ndim = 2;
    view->shape[1] = x->size / x->shape[0];
    view->grad = NULL;
    view->owns_data = false;
    view->name = NULL;
    return view;
}

const cg_layer_type cg__layer_flatten = {
    .name = "flatten",
    .min_inputs = 1,
    .max_inputs = 1,
    .parse = parse,
    .infer = infer,
    .write = write,
    .describe = describe,
    .is_identity = is_identity,
    .forward = forward,
};
