/* dropout: torch.nn.Dropout (inverted dropout, identity in evaluation mode),
 * on inputs of any rank. */
#include "layer.h"

#include <stdio.h>

typedef struct dropout_config {
    float rate;
} dropout_config;
CG_LAYER_CONFIG_FITS(dropout_config);

static const char *const keys[] = {"rate", NULL};

static cg_status parse(const cJSON *obj, cg_json_path *p, const char *type, cg_layer_spec *l)
{
    dropout_config *c = CG_LAYER_CONFIG(l, dropout_config);
    c->rate = 0.5f; /* torch.nn.Dropout's default */
    return cg__json_read_float(obj, "rate", p, CG_RANGE_UNIT_OPEN_TOP, &c->rate);
}

static void write(cg_json_writer *w, cJSON *obj, const cg_layer_spec *l)
{
    cg__jw_string(w, obj, "type", "dropout");
    cg__jw_float(w, obj, "rate", CG_LAYER_CONFIG(l, dropout_config)->rate);
}

static void describe(const cg_layer_spec *l, char *buf, size_t size)
{
    snprintf(buf, size, "dropout %g", (double)CG_LAYER_CONFIG(l, dropout_config)->rate);
}

static bool is_identity(const cg_layer_spec *l)
{
    return CG_LAYER_CONFIG(l, dropout_config)->rate == 0.0f;
}

static cg_tensor *forward(cg_ctx *ctx, const cg_layer_spec *l, const void *state,
                          cg_tensor *const *x, int n)
{
    return cg_dropout(ctx, x[0], CG_LAYER_CONFIG(l, dropout_config)->rate);
}

const cg_layer_type cg__layer_dropout = {
    .name = "dropout",
    .keys = keys,
    .min_inputs = 1,
    .max_inputs = 1,
    .parse = parse,
    .infer = cg__layer_same_shape,
    .write = write,
    .describe = describe,
    .is_identity = is_identity,
    .forward = forward,
};
