/* What optimizer.c shares with the update rules (sgd.c, adam.c, rmsprop.c,
 * adagrad.c). Each rule is a table entry: validation, the names of the
 * state buffers it needs for a config, their initial value, and one step. */
#ifndef CG_OPTIM_INTERNAL_H
#define CG_OPTIM_INTERNAL_H

#include "internal.h"

#define CG_OPTIM_MAX_STATE 3

struct cg_optim {
    cg_params *params;
    cg_optim_config cfg;
    int64_t numel;           /* parameter count at create; a step checks it */
    int64_t steps;           /* completed steps; rules read it as torch's state["step"] */
    size_t n_state;
    const char *state_names[CG_OPTIM_MAX_STATE];
    float *state[CG_OPTIM_MAX_STATE];
    /* Per value: 1 where weight decay does not apply (no_decay); NULL: none. */
    unsigned char *no_decay;
};

typedef struct cg_optim_rule {
    cg_optim_kind kind;
    const char *name;
    /* CG_OK, or CG_ERR_ARG with a message naming the field. */
    cg_status (*validate)(const cg_optim_config *c);
    /* Writes the names of the state buffers this config needs; returns how many. */
    size_t (*state_names)(const cg_optim_config *c, const char **names);
    /* Value a state buffer starts at (torch: zeros, except Adagrad's "sum"). */
    float (*state_init)(const cg_optim_config *c, const char *name);
    /* One update of params->data from params->grad; opt->steps is the count
     * before this step. */
    void (*step)(cg_optim *opt);
} cg_optim_rule;

extern const cg_optim_rule cg__optim_sgd, cg__optim_adam, cg__optim_adamw,
    cg__optim_rmsprop, cg__optim_adagrad;

/* Shared validation helpers: set the error naming `field` and return false. */
bool cg__optim_check_nonneg(const char *opt, const char *field, float v);
bool cg__optim_check_unit(const char *opt, const char *field, float v, bool closed_top);

/* State buffer by name (NULL if the config has none). */
float *cg__optim_state(const cg_optim *opt, const char *name);

/* Zero start for rules with no special state initialisation. */
float cg__optim_state_zero(const cg_optim_config *c, const char *name);

#endif
