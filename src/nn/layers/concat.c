/* concat: joins two or more inputs along one per-sample axis ("axis": 0 is
 * the first dimension after the batch, negative counts from the end; -1 by
 * default, as Keras' Concatenate). */
#include "layer.h"

#include <stdio.h>

typedef struct concat_config {
    int64_t axis;       /* as written */
} concat_config;
CG_LAYER_CONFIG_FITS(concat_config);

static const char *const keys[] = {"axis", NULL};

static cg_status parse(const cJSON *obj, cg_json_path *p, const char *type, cg_layer_spec *l)
{
    concat_config *c = CG_LAYER_CONFIG(l, concat_config);
    c->axis = -1;
    /* Any integer here; infer says whether the inputs have that axis. */
    return cg__json_read_int(obj, "axis", p, -1000, 1000, &c->axis);
}

/* The axis within a sample, in [0, ndim). */
static int sample_axis(const cg_layer_spec *l)
{
    int64_t axis = CG_LAYER_CONFIG(l, concat_config)->axis;
    return (int)(axis < 0 ? axis + l->in_ndim[0] : axis);
}

static cg_status check_input(const cg_layer_spec *l, int i, int axis, cg_json_path *p)
{
    char a[128], b[128];
    if (l->in_ndim[i] != l->in_ndim[0])
        return cg__json_fail(p, "concat needs inputs with the same number of dimensions, got %s "
                                "(input 0) and %s (input %d)", cg__layer_in_str(l, 0, a, sizeof a),
                             cg__layer_in_str(l, i, b, sizeof b), i);
    bool fits = true;
    for (int d = 0; fits && d < l->in_ndim[0]; d++)
        fits = d == axis || l->in_shape[i][d] == l->in_shape[0][d];
    if (fits) return CG_OK;
    return cg__json_fail(p, "concat along axis %d needs inputs that differ only in that axis, "
                            "got %s (input 0) and %s (input %d)", axis,
                         cg__layer_in_str(l, 0, a, sizeof a), cg__layer_in_str(l, i, b, sizeof b), i);
}

static cg_status infer(cg_layer_spec *l, cg_json_path *p)
{
    int axis = sample_axis(l);
    if (axis < 0 || axis >= l->in_ndim[0]) {
        size_t mark = cg__json_key(p, "axis");
        cg_status s = cg__json_fail(p, "axis %lld is outside the inputs' %d per-sample "
                                       "dimensions", (long long)CG_LAYER_CONFIG(l, concat_config)->axis,
                                    l->in_ndim[0]);
        cg__json_restore(p, mark);
        return s;
    }
    cg_status s = cg__layer_same_shape(l, p);
    for (int i = 1; s == CG_OK && i < l->n_inputs; i++) {
        s = check_input(l, i, axis, p);
        if (s == CG_OK && !cg__checked_add(l->out_shape[axis], l->in_shape[i][axis],
                                           &l->out_shape[axis]))
            s = cg__json_fail(p, "the concatenated size overflows");
    }
    return s;
}

static void write(cg_json_writer *w, cJSON *obj, const cg_layer_spec *l)
{
    cg__jw_string(w, obj, "type", "concat");
    cg__jw_int(w, obj, "axis", CG_LAYER_CONFIG(l, concat_config)->axis);
}

static void describe(const cg_layer_spec *l, char *buf, size_t size)
{
    snprintf(buf, size, "concat axis %lld",
             (long long)CG_LAYER_CONFIG(l, concat_config)->axis);
}

static cg_tensor *forward(cg_ctx *ctx, const cg_layer_spec *l, const void *state,
                          cg_tensor *const *x, int n)
{
    return cg_concat(ctx, x, n, sample_axis(l) + 1);
}

const cg_layer_type cg__layer_concat = {
    .name = "concat",
    .keys = keys,
    .min_inputs = 2,
    .max_inputs = CG_LAYER_MAX_INPUTS,
    .parse = parse,
    .infer = infer,
    .write = write,
    .describe = describe,
    .forward = forward,
};
