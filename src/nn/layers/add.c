/* add: the element-wise sum of two or more inputs of one shape, the merge of
 * a residual (skip) connection. No broadcasting: inputs of different shapes
 * are a mistake in the model, reported with both shapes. */
#include "layer.h"

#include <stdio.h>
#include <string.h>

static cg_status parse(const cJSON *obj, cg_json_path *p, const char *type, cg_layer_spec *l)
{
    return CG_OK;
}

static cg_status infer(cg_layer_spec *l, cg_json_path *p)
{
    for (int i = 1; i < l->n_inputs; i++) {
        bool same = l->in_ndim[i] == l->in_ndim[0] &&
                    memcmp(l->in_shape[i], l->in_shape[0],
                           (size_t)l->in_ndim[0] * sizeof l->in_shape[0][0]) == 0;
        if (!same) {
            char a[128], b[128];
            return cg__json_fail(p, "add needs inputs of one shape, got %s (input 0) and %s "
                                    "(input %d)", cg__layer_in_str(l, 0, a, sizeof a),
                                 cg__layer_in_str(l, i, b, sizeof b), i);
        }
    }
    return cg__layer_same_shape(l, p);
}

static void write(cg_json_writer *w, cJSON *obj, const cg_layer_spec *l)
{
    cg__jw_string(w, obj, "type", "add");
}

static void describe(const cg_layer_spec *l, char *buf, size_t size)
{
    snprintf(buf, size, "add");
}

static cg_tensor *forward(cg_ctx *ctx, const cg_layer_spec *l, const void *state,
                          cg_tensor *const *x, int n)
{
    cg_tensor *sum = cg_add(ctx, x[0], x[1]);
    for (int i = 2; i < n; i++) sum = cg_add(ctx, sum, x[i]);
    return sum;
}

const cg_layer_type cg__layer_add = {
    .name = "add",
    .min_inputs = 2,
    .max_inputs = CG_LAYER_MAX_INPUTS,
    .parse = parse,
    .infer = infer,
    .write = write,
    .describe = describe,
    .forward = forward,
};
