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

/* `key`: an integer for both dimensions or a [height, width] pair, each at
 * least min; absent leaves out unchanged. */
static cg_status read_pair(const cJSON *obj, const char *key, cg_json_path *p, int64_t min,
                           int64_t out[2])
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) return CG_OK;
    size_t mark = cg__json_key(p, key);
    const char *what = min == 1 ? "a positive integer or a pair [height, width]"
                                : "an integer >= 0 or a pair [height, width]";
    cg_status s = CG_OK;
    int64_t got[2];
    if (cJSON_IsArray(v)) {
        if (cJSON_GetArraySize(v) != 2) s = cg__json_expected(p, what, v);
        for (int i = 0; s == CG_OK && i < 2; i++) {
            size_t at = cg__json_index(p, (size_t)i);
            s = cg__json_int(cJSON_GetArrayItem(v, i), p, min, MAX_SETTING, &got[i]);
            cg__json_restore(p, at);
        }
    } else if (cJSON_IsNumber(v)) {
        s = cg__json_int(v, p, min, MAX_SETTING, &got[0]);
        got[1] = got[0];
    } else {
        s = cg__json_expected(p, what, v);
    }
    cg__json_restore(p, mark);
    if (s == CG_OK) memcpy(out, got, sizeof got);
    return s;
}

cg_status cg__pool2d_parse(const cJSON *obj, cg_json_path *p, const char *type, cg_layer_spec *l)
{
    cg_pool2d_config *c = CG_LAYER_CONFIG(l, cg_pool2d_config);
    memset(c, 0, sizeof *c);
    if (!cJSON_GetObjectItemCaseSensitive(obj, "kernel"))
        return cg__json_fail(p, "%s layer needs \"kernel\"", type);
    cg_status s = read_pair(obj, "kernel", p, 1, c->kernel);
    memcpy(c->stride, c->kernel, sizeof c->stride); /* PyTorch's default stride */
    if (s == CG_OK) s = read_pair(obj, "stride", p, 1, c->stride);
    if (s == CG_OK) s = read_pair(obj, "padding", p, 0, c->padding);
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

/* An integer when both dimensions agree, else [height, width]. */
static void write_pair(cg_json_writer *w, cJSON *obj, const char *key, const int64_t v[2])
{
    if (v[0] == v[1]) {
        cg__jw_int(w, obj, key, v[0]);
        return;
    }
    cJSON *array = cg__jw_checked(w, cJSON_CreateArray());
    if (!array) return;
    for (int i = 0; i < 2; i++) cg__jw_append(w, array, cg__jw_checked(w, cg__jw_int_value(v[i])));
    cg__jw_add(w, obj, key, array);
}

void cg__pool2d_write(cg_json_writer *w, cJSON *obj, const cg_layer_spec *l, const char *type)
{
    const cg_pool2d_config *c = CG_LAYER_CONFIG(l, cg_pool2d_config);
    cg__jw_string(w, obj, "type", type);
    write_pair(w, obj, "kernel", c->kernel);
    write_pair(w, obj, "stride", c->stride);
    write_pair(w, obj, "padding", c->padding);
}

/* "3" or "3x2". */
static void pair_text(const int64_t v[2], char *buf, size_t size)
{
    if (v[0] == v[1])
        snprintf(buf, size, "%lld", (long long)v[0]);
    else
        snprintf(buf, size, "%lldx%lld", (long long)v[0], (long long)v[1]);
}

void cg__pool2d_describe(const cg_layer_spec *l, const char *type, char *buf, size_t size)
{
    const cg_pool2d_config *c = CG_LAYER_CONFIG(l, cg_pool2d_config);
    char k[48], s[64] = "", pad[64] = "", v[48];
    pair_text(c->kernel, k, sizeof k);
    if (memcmp(c->stride, c->kernel, sizeof c->stride) != 0) {
        pair_text(c->stride, v, sizeof v);
        snprintf(s, sizeof s, " stride %s", v);
    }
    if (c->padding[0] || c->padding[1]) {
        pair_text(c->padding, v, sizeof v);
        snprintf(pad, sizeof pad, " padding %s", v);
    }
    snprintf(buf, size, "%s %s%s%s", type, k, s, pad);
}
