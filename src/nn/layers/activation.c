/* A standalone activation layer, written as {"type": "relu"} (every
 * activation name is a type name), with leaky_relu's "negative_slope" and
 * elu's "alpha" as torch.nn.LeakyReLU / torch.nn.ELU. A dense layer right
 * before it takes it into its fused kernel (see dense.c's absorb). */
#include "layer.h"

static const char *const aliases[] = {"relu", "sigmoid", "tanh", "leaky_relu", "elu", "gelu",
                                      "softplus", "none", "linear", "identity", NULL};
static const char *const keys[] = {"negative_slope", "alpha", NULL};

CG_LAYER_CONFIG_FITS(cg_act_spec);

static cg_status parse(const cJSON *obj, cg_json_path *p, const char *type, cg_layer_spec *l)
{
    cg_act_spec *a = CG_LAYER_CONFIG(l, cg_act_spec);
    if (!cg_activation_from_name(type, &a->act)) {
        size_t mark = cg__json_key(p, "type");
        cg_status s = cg__json_fail(p, "\"activation\" is not a layer type; write the "
                                       "activation's name, e.g. {\"type\": \"relu\"}");
        cg__json_restore(p, mark);
        return s;
    }
    a->param = cg__act_default_param(a->act);
    return cg__act_read_param(obj, p, a);
}

static void write(cg_json_writer *w, cJSON *obj, const cg_layer_spec *l)
{
    const cg_act_spec *a = CG_LAYER_CONFIG(l, cg_act_spec);
    cg__jw_string(w, obj, "type", cg_activation_name(a->act));
    cg__act_write_param(w, obj, *a);
}

static void describe(const cg_layer_spec *l, char *buf, size_t size)
{
    cg__act_text(*CG_LAYER_CONFIG(l, cg_act_spec), buf, size);
}

static bool is_identity(const cg_layer_spec *l)
{
    return CG_LAYER_CONFIG(l, cg_act_spec)->act == CG_ACT_NONE;
}

static cg_tensor *forward(cg_ctx *ctx, const cg_layer_spec *l, const void *state,
                          cg_tensor *const *x, int n)
{
    return cg__act_apply(ctx, x[0], *CG_LAYER_CONFIG(l, cg_act_spec));
}

bool cg__layer_as_activation(const cg_layer_spec *l, cg_act_spec *out)
{
    if (l->type != &cg__layer_activation) return false;
    *out = *CG_LAYER_CONFIG(l, cg_act_spec);
    return true;
}

const cg_layer_type cg__layer_activation = {
    .name = "activation",
    .aliases = aliases,
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
