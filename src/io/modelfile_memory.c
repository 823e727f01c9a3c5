/* Training memory of a model spec, estimated before anything is allocated,
 * so that a model too large for this machine is refused with the numbers
 * instead of dying in the allocator halfway through. */
#include "internal.h"
#include "layer.h"

#include <stdio.h>
#include <unistd.h>

static int optim_state_buffers(const cg_optim_config *c)
{
    switch (c->kind) {
    case CG_OPTIM_SGD: return c->momentum > 0.0f;
    case CG_OPTIM_ADAM:
    case CG_OPTIM_ADAMW: return c->amsgrad ? 3 : 2;
    case CG_OPTIM_RMSPROP: return 1 + (c->momentum > 0.0f) + c->centered;
    case CG_OPTIM_ADAGRAD: return 1;
    }
    return 3;
}

/* Floats per sample of one step's activations: the input, each layer's
 * output and its gradient, and what the layer keeps besides. */
static bool activations_per_sample(const cg_model_spec *spec, int64_t *out)
{
    int64_t total;
    bool ok = cg__shape_numel(spec->input_ndim, spec->input, &total);
    for (size_t i = 0; ok && i < spec->n_layers; i++) {
        const cg_layer_spec *l = &spec->layers[i];
        int64_t n, scratch = l->type->scratch_floats ? l->type->scratch_floats(l) : 0;
        ok = cg__shape_numel(l->out_ndim, l->out_shape, &n) && cg__checked_mul(n, 2, &n) &&
             cg__checked_add(total, n, &total) && cg__checked_add(total, scratch, &total);
    }
    *out = total;
    return ok;
}

cg_status cg_model_spec_memory(const cg_model_spec *spec, int64_t batch, uint64_t *bytes)
{
    if (!spec || !bytes || batch < 1) return cg_set_error(CG_ERR_ARG, "cg_model_spec_memory: bad argument");
    /* Parameters with their gradients and the optimizer's buffers; buffers
     * counted as 8 bytes a value, the most any takes. */
    int64_t param_floats, buffer_floats, per_sample, act_floats, total;
    bool ok = cg__checked_mul(spec->n_params, 2 + optim_state_buffers(&spec->optim), &param_floats) &&
              cg__checked_mul(spec->n_buffers, 2, &buffer_floats) &&
              cg__checked_add(param_floats, buffer_floats, &param_floats);
    ok = ok && activations_per_sample(spec, &per_sample);
    ok = ok && cg__checked_mul(per_sample, batch, &act_floats) &&
         cg__checked_add(param_floats, act_floats, &total) && cg__checked_mul(total, 4, &total);
    if (!ok)
        return cg_set_error(CG_ERR_NOMEM, "model too large: training it needs more than 8 EiB "
                                          "(%lld parameters)", (long long)spec->n_params);
    *bytes = (uint64_t)total;
    return CG_OK;
}

static uint64_t physical_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0) return UINT64_MAX; /* unknown: let the allocator decide */
    return (uint64_t)pages * (uint64_t)page;
}

static void bytes_text(double bytes, char *buf, size_t size)
{
    static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    int u = 0;
    while (bytes >= 1024.0 && u < 6) {
        bytes /= 1024.0;
        u++;
    }
    snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

cg_status cg_model_spec_check_memory(const cg_model_spec *spec, int64_t batch)
{
    uint64_t need;
    cg_status s = cg_model_spec_memory(spec, batch, &need);
    if (s != CG_OK) return s;
    uint64_t have = physical_memory();
    if (need <= have) return CG_OK;
    char need_text[32], have_text[32];
    bytes_text((double)need, need_text, sizeof need_text);
    bytes_text((double)have, have_text, sizeof have_text);
    return cg_set_error(CG_ERR_NOMEM,
                        "model too large: training it needs %s (%lld parameters with their "
                        "gradients and optimizer state, plus activations for batch %lld), more "
                        "than this machine's %s of memory",
                        need_text, (long long)spec->n_params, (long long)batch, have_text);
}
