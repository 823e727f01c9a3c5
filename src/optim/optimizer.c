/* What every optimizer shares: configuration and its defaults, state buffers
 * allocated once at create, the step counter, checkpoint enumeration, and
 * dispatch to the update rule. The rules themselves live one per file. */
#include "optim_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const cg_optim_rule *const rules[] = {
    [CG_OPTIM_SGD] = &cg__optim_sgd,         [CG_OPTIM_ADAM] = &cg__optim_adam,
    [CG_OPTIM_ADAMW] = &cg__optim_adamw,     [CG_OPTIM_RMSPROP] = &cg__optim_rmsprop,
    [CG_OPTIM_ADAGRAD] = &cg__optim_adagrad,
};

#define N_RULES (sizeof rules / sizeof rules[0])

static const cg_optim_rule *rule_of(cg_optim_kind kind)
{
    return (unsigned)kind < N_RULES ? rules[kind] : NULL;
}

cg_optim_config cg_optim_defaults(cg_optim_kind kind)
{
    /* torch.optim's constructor defaults, kind by kind. memset rather than an
     * initializer so padding is zero too: configs compare and hash bytewise. */
    cg_optim_config c;
    memset(&c, 0, sizeof c);
    c.kind = kind;
    switch (kind) {
    case CG_OPTIM_SGD:
        c.lr = 0.01f; /* torch requires lr for SGD; 0.01 is the usual pick */
        break;
    case CG_OPTIM_ADAM:
    case CG_OPTIM_ADAMW:
        c.lr = 1e-3f;
        c.beta1 = 0.9f;
        c.beta2 = 0.999f;
        c.eps = 1e-8f;
        c.weight_decay = kind == CG_OPTIM_ADAMW ? 1e-2f : 0.0f;
        break;
    case CG_OPTIM_RMSPROP:
        c.lr = 1e-2f;
        c.alpha = 0.99f;
        c.eps = 1e-8f;
        break;
    case CG_OPTIM_ADAGRAD:
        c.lr = 1e-2f;
        c.eps = 1e-10f;
        break;
    }
    return c;
}

bool cg_optim_kind_from_name(const char *name, cg_optim_kind *out)
{
    if (!name) return false;
    for (size_t i = 0; i < N_RULES; i++) {
        if (strcasecmp(name, rules[i]->name) == 0) {
            if (out) *out = rules[i]->kind;
            return true;
        }
    }
    return false;
}

const char *cg_optim_kind_name(cg_optim_kind kind)
{
    const cg_optim_rule *r = rule_of(kind);
    return r ? r->name : "unknown";
}

bool cg__optim_check_nonneg(const char *opt, const char *field, float v)
{
    /* Written so that NaN fails too. */
    if (v >= 0.0f && isfinite(v)) return true;
    cg_set_error(CG_ERR_ARG, "cg_optim_create: %s: %s must be finite and >= 0, got %g", opt,
                 field, (double)v);
    return false;
}

bool cg__optim_check_unit(const char *opt, const char *field, float v, bool closed_top)
{
    if (v >= 0.0f && (closed_top ? v <= 1.0f : v < 1.0f)) return true;
    cg_set_error(CG_ERR_ARG, "cg_optim_create: %s: %s must be in [0, 1%s, got %g", opt, field,
                 closed_top ? "]" : ")", (double)v);
    return false;
}

float cg__optim_state_zero(const cg_optim_config *c, const char *name)
{
    (void)c;
    (void)name;
    return 0.0f;
}

float *cg__optim_state(const cg_optim *opt, const char *name)
{
    for (size_t i = 0; i < opt->n_state; i++)
        if (strcmp(opt->state_names[i], name) == 0) return opt->state[i];
    return NULL;
}

static cg_status validate(const cg_optim_rule *r, const cg_optim_config *c)
{
    if (!cg__optim_check_nonneg(r->name, "lr", c->lr)) return CG_ERR_ARG;
    if (!cg__optim_check_nonneg(r->name, "weight_decay", c->weight_decay)) return CG_ERR_ARG;
    return r->validate(c);
}

static bool alloc_state(cg_optim *opt, const cg_optim_rule *r)
{
    opt->n_state = r->state_names(&opt->cfg, opt->state_names);
    /* At least one float, so an empty parameter set still gets real buffers. */
    size_t n = opt->numel > 0 ? (size_t)opt->numel : 1;
    for (size_t i = 0; i < opt->n_state; i++) {
        opt->state[i] = calloc(n, sizeof(float));
        if (!opt->state[i]) return false;
        float v = r->state_init(&opt->cfg, opt->state_names[i]);
        if (v != 0.0f)
            for (size_t j = 0; j < n; j++) opt->state[i][j] = v;
    }
    return true;
}

cg_optim *cg_optim_create(cg_params *params, const cg_optim_config *config)
{
    if (!params || !config) {
        cg_set_error(CG_ERR_ARG, "cg_optim_create: params or config is NULL");
        return NULL;
    }
    const cg_optim_rule *r = rule_of(config->kind);
    if (!r) {
        cg_set_error(CG_ERR_ARG, "cg_optim_create: unknown optimizer kind %d", (int)config->kind);
        return NULL;
    }
    if (validate(r, config) != CG_OK) return NULL;
    cg_optim *opt = calloc(1, sizeof *opt);
    if (!opt) goto nomem;
    opt->params = params;
    opt->cfg = *config;
    opt->numel = cg_params_numel(params);
    if (!alloc_state(opt, r)) goto nomem;
    return opt;
nomem:
    cg_optim_destroy(opt);
    cg_set_error(CG_ERR_NOMEM, "cg_optim_create: %s: no memory for state of %lld parameters",
                 r->name, (long long)cg_params_numel(params));
    return NULL;
}

void cg_optim_destroy(cg_optim *opt)
{
    if (!opt) return;
    for (size_t i = 0; i < opt->n_state; i++) free(opt->state[i]);
    free(opt->no_decay);
    free(opt);
}

cg_status cg_optim_exempt_decay(cg_optim *opt, const cg_tensor *param)
{
    if (!opt || !param) return cg_set_error(CG_ERR_ARG, "cg_optim_exempt_decay: NULL argument");
    const float *base = cg_params_data(opt->params);
    if (param->data < base || param->data + param->size > base + opt->numel)
        return cg_set_error(CG_ERR_ARG, "cg_optim_exempt_decay: %s is not in the optimizer's "
                                        "parameters", param->name);
    if (!opt->no_decay && !(opt->no_decay = calloc((size_t)opt->numel, 1)))
        return cg_set_error(CG_ERR_NOMEM, "cg_optim_exempt_decay: out of memory");
    memset(opt->no_decay + (param->data - base), 1, (size_t)param->size);
    return CG_OK;
}

cg_status cg_optim_step(cg_optim *opt)
{
    if (!opt) return cg_set_error(CG_ERR_ARG, "cg_optim_step: optimizer is NULL");
    if (cg_params_numel(opt->params) != opt->numel)
        return cg_set_error(CG_ERR_STATE,
                            "cg_optim_step: the parameter set has %lld values but had %lld when "
                            "the optimizer was created (create it after adding parameters)",
                            (long long)cg_params_numel(opt->params), (long long)opt->numel);
    /* Parameters no backward reached this round get a zero gradient, as a
     * torch parameter whose .grad was zeroed. */
    cg__params_finish_grads(opt->params);
    rule_of(opt->cfg.kind)->step(opt);
    opt->steps++;
    return CG_OK;
}

void cg_optim_set_lr(cg_optim *opt, float lr)
{
    if (!opt) return;
    if (!(lr >= 0.0f && isfinite(lr))) {
        cg_set_error(CG_ERR_ARG, "cg_optim_set_lr: lr must be finite and >= 0, got %g",
                     (double)lr);
        return;
    }
    opt->cfg.lr = lr;
}

float cg_optim_lr(const cg_optim *opt) { return opt ? opt->cfg.lr : 0.0f; }

const cg_optim_config *cg_optim_get_config(const cg_optim *opt) { return opt ? &opt->cfg : NULL; }

int64_t cg_optim_step_count(const cg_optim *opt) { return opt ? opt->steps : 0; }

void cg_optim_set_step_count(cg_optim *opt, int64_t steps)
{
    if (!opt) return;
    if (steps < 0) {
        cg_set_error(CG_ERR_ARG, "cg_optim_set_step_count: steps must be >= 0, got %lld",
                     (long long)steps);
        return;
    }
    opt->steps = steps;
}

size_t cg_optim_state_count(const cg_optim *opt) { return opt ? opt->n_state : 0; }

const char *cg_optim_state_name(const cg_optim *opt, size_t i)
{
    return opt && i < opt->n_state ? opt->state_names[i] : NULL;
}

float *cg_optim_state_data(cg_optim *opt, size_t i)
{
    return opt && i < opt->n_state ? opt->state[i] : NULL;
}
