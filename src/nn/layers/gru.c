/* gru: torch.nn.GRU: gates r, z, n, the reset gate on the hidden projection.
 * Keys, stacking, directions and forward are shared with the other
 * recurrent types in recurrent.c; the op is ops/recurrent.c. */
#include "recurrent.h"

static cg_status parse(const cJSON *obj, cg_json_path *p, const char *type, cg_layer_spec *l)
{
    return cg__recurrent_parse(obj, p, CG_CELL_GRU, l);
}

const cg_layer_type cg__layer_gru = {
    .name = "gru",
    .keys = cg__recurrent_keys,
    .min_inputs = 1,
    .max_inputs = 1,
    .parse = parse,
    .infer = cg__recurrent_infer,
    .write = cg__recurrent_write,
    .describe = cg__recurrent_describe,
    .scratch_floats = cg__recurrent_scratch_floats,
    .state_size = sizeof(cg_recurrent_state),
    .build = cg__recurrent_build,
    .forward = cg__recurrent_forward,
    .is_stateful = cg__recurrent_is_stateful,
    .reset = cg__recurrent_reset,
    .release = cg__recurrent_release,
};
