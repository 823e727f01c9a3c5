/* The model-file side of 2-D pooling, shared by maxpool2d.c and avgpool2d.c
 * (declared in pool2d.h). The rules are PyTorch's: the output is
 * (H + 2·padding − kernel)/stride + 1 per dimension (ceil_mode=False), the
 * padding at most half the kernel, the kernel no larger than the padded
 * input. */
#include "pool2d.h"

#include <stdio.h>
#include <string.h>

/* Larger settings would make no sense for any input a model can hold. */
#define MAX_SETTING INT32_MAX

const char *const cg__pool2d_keys[] = {"kernel", "stride", "padding", NULL};

cg_status cg__pool2d_parse(const cJSON *obj, cg_json_path *p, const char *type, cg_layer_spec *l)
{
    cg_pool2d_config *c = CG_LAYER_CONFIG(l, cg_pool2d_config);
    memset(c, 0, sizeof *c);
    if (!cJSON_GetObjectItemCaseSensitive(obj, "kernel"))
        return cg__json_fail(p, "%s layer needs \"kernel\"", type);
    cg_status s = cg__json_read_int_pair(obj, "kernel", p, 1, MAX_SETTING, c->kernel);
    memcpy(c->stride, c->kernel, sizeof c->stride); /* PyTorch's default stride */
    if (s == CG_OK) s = cg__json_read_int_pair(obj, "stride", p, 1, MAX_SETTING, c->stride);
    if (s == CG_OK) s = cg__json_read_int_pair(obj, "padding", p, 0, MAX_SETTING, c->padding);
    return s;
}

cg_status cg__pool2d_require_chw(const cg_layer_spec *l, cg_json_path *p, const char *type)
{
    if (l->in_ndim[0] == 3) return CG_OK;
    char shape[128];
    return cg__json_fail(p, "%s needs a [C, H, W] input (channels, height, width), got %s",
                         type, cg__layer_in_str(l, 0, shape, sizeof shape));
}

/* Dimension d (0: height, 1: width): padding at most half the kernel, the
 * kernel within the padded input; fails naming the key at fault. */
static cg_status check_dim(const cg_layer_spec *l, cg_json_path *p, int d)
{
    const cg_pool2d_config *c = CG_LAYER_CONFIG(l, cg_pool2d_config);
    long long in = l->in_shape[0][1 + d], k = c->kernel[d], pad = c->padding[d];
    const char *axis = d ? "width" : "height", *key;
    char msg[256], shape[128];
    int64_t padded;
    if (!cg__checked_add(in, 2 * pad, &padded)) {
        key = "padding";
        snprintf(msg, sizeof msg, "the padded %s overflows", axis);
    } else if (pad > k / 2) {
        key = "padding";
        snprintf(msg, sizeof msg, "%lld along the %s is more than half the kernel %lld "
                                  "(PyTorch's limit)", pad, axis, k);
    } else if (k > padded) {
        key = "kernel";
        snprintf(msg, sizeof msg, "%lld along the %s is larger than the padded input's %s %lld "
                                  "(input %s, padding %lld)", k, axis, axis, (long long)padded,
                 cg__layer_in_str(l, 0, shape, sizeof shape), pad);
    } else {
        return CG_OK;
    }
    size_t mark = cg__json_key(p, key);
    cg_status s = cg__json_fail(p, "%s", msg);
    cg__json_restore(p, mark);
    return s;
}

cg_status cg__pool2d_infer(cg_layer_spec *l, cg_json_path *p)
{
    const cg_pool2d_config *c = CG_LAYER_CONFIG(l, cg_pool2d_config);
    cg_status s = cg__pool2d_require_chw(l, p, l->type->name);
    for (int d = 0; s == CG_OK && d < 2; d++) s = check_dim(l, p, d);
    if (s != CG_OK) return s;
    l->out_ndim = 3;
    l->out_shape[0] = l->in_shape[0][0];
    for (int d = 0; d < 2; d++)
        l->out_shape[1 + d] =
            (l->in_shape[0][1 + d] + 2 * c->padding[d] - c->kernel[d]) / c->stride[d] + 1;
    return CG_OK;
}

void cg__pool2d_write(cg_json_writer *w, cJSON *obj, const cg_layer_spec *l)
{
    const char *type = l->type->name;
    const cg_pool2d_config *c = CG_LAYER_CONFIG(l, cg_pool2d_config);
    cg__jw_string(w, obj, "type", type);
    cg__jw_int_pair(w, obj, "kernel", c->kernel);
    cg__jw_int_pair(w, obj, "stride", c->stride);
    cg__jw_int_pair(w, obj, "padding", c->padding);
}

void cg__pool2d_describe(const cg_layer_spec *l, char *buf, size_t size)
{
    const char *type = l->type->name;
    const cg_pool2d_config *c = CG_LAYER_CONFIG(l, cg_pool2d_config);
    char k[48], s[64] = "", pad[64] = "", v[48];
    cg__pair_text(c->kernel, k, sizeof k);
    if (memcmp(c->stride, c->kernel, sizeof c->stride) != 0) {
        cg__pair_text(c->stride, v, sizeof v);
        snprintf(s, sizeof s, " stride %s", v);
    }
    if (c->padding[0] || c->padding[1]) {
        cg__pair_text(c->padding, v, sizeof v);
        snprintf(pad, sizeof pad, " pad %s", v);
    }
    snprintf(buf, size, "%s %s%s%s", type, k, s, pad);
}
