/* Model files: a cg_model_spec back to JSON text, the inverse of
 * modelfile.c's parser (checkpoints embed it so a model can be rebuilt). */
#include "internal.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

/* The shortest decimal that reads back as the same float, so a saved model
 * file shows 0.001 rather than 0.0010000000474974513. */
static cJSON *float_json(float v)
{
    char buf[32];
    for (int digits = 6; digits <= 9; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, (double)v);
        if (strtof(buf, NULL) == v) break;
    }
    return cJSON_CreateRaw(buf);
}

static void add_float(cJSON *obj, const char *key, float v)
{
    cJSON_AddItemToObject(obj, key, float_json(v));
}

static void add_int(cJSON *obj, const char *key, int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    cJSON_AddItemToObject(obj, key, cJSON_CreateRaw(buf));
}

static cJSON *layer_json(const cg_layer_spec *l)
{
    cJSON *o = cJSON_CreateObject();
    switch (l->kind) {
    case CG_LAYER_DENSE:
        cJSON_AddStringToObject(o, "type", "dense");
        add_int(o, "units", l->units);
        cJSON_AddStringToObject(o, "activation", cg_activation_name(l->activation));
        cJSON_AddBoolToObject(o, "bias", l->bias);
        break;
    case CG_LAYER_DROPOUT:
        cJSON_AddStringToObject(o, "type", "dropout");
        add_float(o, "rate", l->rate);
        break;
    case CG_LAYER_FLATTEN: cJSON_AddStringToObject(o, "type", "flatten"); break;
    case CG_LAYER_ACTIVATION:
        cJSON_AddStringToObject(o, "type", cg_activation_name(l->activation));
        if (l->activation == CG_ACT_LEAKY_RELU) add_float(o, "negative_slope", l->act_param);
        if (l->activation == CG_ACT_ELU) add_float(o, "alpha", l->act_param);
        break;
    }
    return o;
}

static cJSON *optimizer_json(const cg_optim_config *c)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", cg_optim_kind_name(c->kind));
    add_float(o, "lr", c->lr);
    switch (c->kind) {
    case CG_OPTIM_SGD:
        add_float(o, "momentum", c->momentum);
        add_float(o, "dampening", c->dampening);
        cJSON_AddBoolToObject(o, "nesterov", c->nesterov);
        break;
    case CG_OPTIM_ADAM:
    case CG_OPTIM_ADAMW: {
        cJSON *betas = cJSON_AddArrayToObject(o, "betas");
        cJSON_AddItemToArray(betas, float_json(c->beta1));
        cJSON_AddItemToArray(betas, float_json(c->beta2));
        add_float(o, "eps", c->eps);
        cJSON_AddBoolToObject(o, "amsgrad", c->amsgrad);
        break;
    }
    case CG_OPTIM_RMSPROP:
        add_float(o, "alpha", c->alpha);
        add_float(o, "eps", c->eps);
        add_float(o, "momentum", c->momentum);
        cJSON_AddBoolToObject(o, "centered", c->centered);
        break;
    case CG_OPTIM_ADAGRAD:
        add_float(o, "lr_decay", c->lr_decay);
        add_float(o, "initial_accumulator_value", c->initial_accumulator_value);
        add_float(o, "eps", c->eps);
        break;
    }
    add_float(o, "weight_decay", c->weight_decay);
    return o;
}

static cJSON *schedule_json(const cg_schedule *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", cg_schedule_kind_name(s->kind));
    if (s->kind == CG_SCHED_STEP) add_int(o, "step_size", s->step_size);
    if (s->kind == CG_SCHED_STEP || s->kind == CG_SCHED_EXPONENTIAL) add_float(o, "gamma", s->gamma);
    if (s->kind == CG_SCHED_COSINE) {
        if (s->t_max > 0) add_int(o, "t_max", s->t_max);
        add_float(o, "eta_min", s->eta_min);
    }
    add_int(o, "warmup_epochs", s->warmup);
    add_float(o, "warmup_start_factor", s->warmup_start_factor);
    return o;
}

static cJSON *train_json(const cg_train_config *t)
{
    cJSON *o = cJSON_CreateObject();
    add_int(o, "epochs", t->epochs);
    add_int(o, "batch", t->batch);
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)t->seed);
    cJSON_AddItemToObject(o, "seed", cJSON_CreateRaw(buf));
    cJSON_AddBoolToObject(o, "shuffle", t->shuffle);
    add_float(o, "clip_grad_norm", t->clip_grad_norm);
    return o;
}

char *cg_model_spec_to_json(const cg_model_spec *spec)
{
    if (!spec) {
        cg_set_error(CG_ERR_ARG, "cg_model_spec_to_json: spec is NULL");
        return NULL;
    }
    cJSON *root = cJSON_CreateObject();
    cJSON *input = cJSON_AddArrayToObject(root, "input");
    for (int i = 0; i < spec->input_ndim; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "%lld", (long long)spec->input[i]);
        cJSON_AddItemToArray(input, cJSON_CreateRaw(buf));
    }
    cJSON *layers = cJSON_AddArrayToObject(root, "layers");
    for (size_t i = 0; i < spec->n_layers; i++)
        cJSON_AddItemToArray(layers, layer_json(&spec->layers[i]));
    cJSON_AddStringToObject(root, "loss", cg_loss_name(spec->loss));
    cJSON_AddItemToObject(root, "optimizer", optimizer_json(&spec->optim));
    cJSON_AddItemToObject(root, "schedule", schedule_json(&spec->schedule));
    cJSON_AddItemToObject(root, "train", train_json(&spec->train));
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!text) cg_set_error(CG_ERR_NOMEM, "cg_model_spec_to_json: out of memory");
    return text;
}
