/* What the maxpool2d and avgpool2d layer types share: their keys, `kernel`,
 * `stride` (default: the kernel) and `padding` (default 0), each an integer
 * or a [height, width] pair, and the shape rules of 2-D pooling over a
 * per-sample [C, H, W] input. Not installed. */
#ifndef CG_POOL2D_H
#define CG_POOL2D_H

#include "layer.h"

typedef struct cg_pool2d_config {
    int64_t kernel[2];        /* {height, width} */
    int64_t stride[2];
    int64_t padding[2];
} cg_pool2d_config;
CG_LAYER_CONFIG_FITS(cg_pool2d_config);

extern const char *const cg__pool2d_keys[];

/* Reads kernel (required), stride and padding of a `type` layer. */
cg_status cg__pool2d_parse(const cJSON *obj, cg_json_path *p, const char *type, cg_layer_spec *l);
/* [C, H, W] -> [C, H', W']; refuses another rank, padding > kernel/2 and a
 * kernel larger than the padded input, naming the key. */
cg_status cg__pool2d_infer(cg_layer_spec *l, cg_json_path *p);
/* Writes the layer's type and the three keys. */
void cg__pool2d_write(cg_json_writer *w, cJSON *obj, const cg_layer_spec *l);
/* "maxpool2d 3 stride 2 pad 1" (stride and padding when not the defaults). */
void cg__pool2d_describe(const cg_layer_spec *l, char *buf, size_t size);
/* The per-sample [C, H, W] rule that every 2-D layer of this family checks. */
cg_status cg__pool2d_require_chw(const cg_layer_spec *l, cg_json_path *p, const char *type);

#endif
