/* dropout2d: torch.nn.Dropout2d on a per-sample [C, H, W] input: in
 * training mode each channel of each sample is zeroed whole with
 * probability `rate` and the others scaled by 1/(1-rate); the identity in
 * evaluation mode (ops/dropout.c). */
#include "pool2d.h"

#include <stdio.h>

typedef struct dropout2d_config {
    float rate;
} dropout2d_config;
CG_LAYER_CONFIG_FITS(dropout2d_config);

static const char *const keys[] = {"rate", NULL};

static cg_status parse(const cJSON *obj, cg_json_path *p, const char *type, cg_layer_spec *l)
{
    dropout2d_config *c = CG_LAYER_CONFIG(l, dropout2d_config);
    c->rate = 0.5f; /* torch.nn.Dropout2d's default */
    return cg__json_read_float(obj, "rate", p, CG_RANGE_UNIT_OPEN_TOP, &c->rate);
}

static cg_status infer(cg_layer_spec *l, cg_json_path *p)
{
    cg_status s = cg__pool2d_require_chw(l, p, "dropout2d");
    return s == CG_OK ? cg__layer_same_shape(l, p) : s;
}

static void write(cg_json_writer *w, cJSON *obj, const cg_layer_spec *l)
{
    cg__jw_string(w, obj, "type", "dropout2d");
    cg__jw_float(w, obj, "rate", CG_LAYER_CONFIG(l, dropout2d_config)->rate);
}

static void describe(const cg_layer_spec *l, char *buf, size_t size)
{
    snprintf(buf, size, "dropout2d %g", (double)CG_LAYER_CONFIG(l, dropout2d_config)->rate);
}

static bool is_identity(const cg_layer_spec *l)
{
    return CG_LAYER_CONFIG(l, dropout2d_config)->rate == 0.0f;
}

static cg_tensor *forward(cg_ctx *ctx, const cg_layer_spec *l, const void *state,
                          cg_tensor *const *x, int n)
{
    return cg_dropout2d(ctx, x[0], CG_LAYER_CONFIG(l, dropout2d_config)->rate);
}

const cg_layer_type cg__layer_dropout2d = {
    .name = "dropout2d",
    .keys = keys,
    .min_inputs = 1,
    .max_inputs = 1,
    .parse = parse,
    .infer = infer,
    .write = write,
    .describe = describe,
    .is_identity = is_identity,
    .forward = forward,
};
