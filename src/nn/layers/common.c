/* What the layer files share (declared in layer.h). */
#include "layer.h"

#include <stdio.h>
#include <string.h>

float cg__act_default_param(cg_activation act)
{
    if (act == CG_ACT_LEAKY_RELU) return CG_LEAKY_RELU_DEFAULT_SLOPE;
    if (act == CG_ACT_ELU) return CG_ELU_DEFAULT_ALPHA;
    return 0.0f;
}

/* The key holding act's parameter, or NULL. */
static const char *param_key(cg_activation act)
{
    return act == CG_ACT_LEAKY_RELU ? "negative_slope" : act == CG_ACT_ELU ? "alpha" : NULL;
}

cg_status cg__act_read_param(const cJSON *obj, cg_json_path *p, cg_act_spec *a)
{
    a->param = cg__act_default_param(a->act);
    const char *own = param_key(a->act);
    const char *const all[] = {"negative_slope", "alpha"};
    for (int i = 0; i < 2; i++) {
        if (own && strcmp(all[i], own) == 0) continue;
        if (!cJSON_GetObjectItemCaseSensitive(obj, all[i])) continue;
        size_t mark = cg__json_key(p, all[i]);
        cg_status s = cg__json_fail(p, "applies to the %s activation only, this layer's is %s",
                                    i == 0 ? "leaky_relu" : "elu", cg_activation_name(a->act));
        cg__json_restore(p, mark);
        return s;
    }
    return own ? cg__json_read_float(obj, own, p, CG_RANGE_ANY, &a->param) : CG_OK;
}

void cg__act_write_param(cg_json_writer *w, cJSON *obj, cg_act_spec a)
{
    const char *key = param_key(a.act);
    if (key) cg__jw_float(w, obj, key, a.param);
}

void cg__act_text(cg_act_spec a, char *buf, size_t size)
{
    if (param_key(a.act) && a.param != cg__act_default_param(a.act))
        snprintf(buf, size, "%s(%g)", cg_activation_name(a.act), (double)a.param);
    else
        snprintf(buf, size, "%s", cg_activation_name(a.act));
}

cg_tensor *cg__act_apply(cg_ctx *ctx, cg_tensor *x, cg_act_spec a)
{
    if (a.act == CG_ACT_LEAKY_RELU) return cg_leaky_relu(ctx, x, a.param);
    if (a.act == CG_ACT_ELU) return cg_elu(ctx, x, a.param);
    return cg_activate(ctx, x, a.act);
}

void cg__act_split(cg_act_spec a, cg_activation *kernel, cg_act_spec *after)
{
    bool fuse = a.param == cg__act_default_param(a.act);
    *kernel = fuse ? a.act : CG_ACT_NONE;
    *after = fuse ? (cg_act_spec){CG_ACT_NONE, 0.0f} : a;
}

bool cg__act_absorb(cg_activation *kernel, cg_act_spec *after, const cg_layer_spec *next)
{
    cg_act_spec a;
    if (*kernel != CG_ACT_NONE || after->act != CG_ACT_NONE || !cg__layer_as_activation(next, &a))
        return false;
    cg__act_split(a, kernel, after);
    return true;
}

cg_tensor *cg__act_after(cg_ctx *ctx, cg_tensor *y, cg_act_spec after)
{
    return after.act == CG_ACT_NONE ? y : cg__act_apply(ctx, y, after);
}

void cg__pair_text(const int64_t v[2], char *buf, size_t size)
{
    if (v[0] == v[1])
        snprintf(buf, size, "%lld", (long long)v[0]);
    else
        snprintf(buf, size, "%lldx%lld", (long long)v[0], (long long)v[1]);
}

cg_status cg__layer_same_shape(cg_layer_spec *l, cg_json_path *p)
{
    l->out_ndim = l->in_ndim[0];
    memcpy(l->out_shape, l->in_shape[0], sizeof l->out_shape);
    return CG_OK;
}

const char *cg__layer_in_str(const cg_layer_spec *l, int i, char *buf, size_t size)
{
    return cg_dims_str(l->in_ndim[i], l->in_shape[i], buf, size);
}

void *cg__layer_buffer(cg_layer_build *b, const char *name, cg_dtype dtype, int ndim,
                       const int64_t *shape)
{
    char full[96];
    snprintf(full, sizeof full, "%s.%s", b->prefix, name);
    return cg__buffers_add(b->buffers, full, dtype, ndim, shape);
}
