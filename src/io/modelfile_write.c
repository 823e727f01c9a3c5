/* Model files: a cg_model_spec back to JSON text, the inverse of
 * modelfile.c's parser (checkpoints embed it so a model can be rebuilt).
 *
 * Every key is written explicitly, defaults included, so the text means the
 * same thing if a default later changes. A failed allocation anywhere is
 * recorded and fails the whole call: a model file silently missing a key
 * would read back as a different model. */
#include "internal.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

/* Records whether any cJSON allocation failed while building the tree. */
typedef struct json_writer {
    bool failed;
} json_writer;

/* cJSON_Add*ToObject results: NULL means the value was not added. */
static cJSON *checked(json_writer *w, cJSON *item)
{
    if (!item) w->failed = true;
    return item;
}

/* Adds item (which may be NULL after a failed create) under key; on any
 * failure the item is freed, since it then belongs to no tree. */
static void add_item(json_writer *w, cJSON *obj, const char *key, cJSON *item)
{
    if (item && obj && cJSON_AddItemToObject(obj, key, item)) return;
    cJSON_Delete(item);
    w->failed = true;
}

static void append(json_writer *w, cJSON *array, cJSON *item)
{
    if (item && array && cJSON_AddItemToArray(array, item)) return;
    cJSON_Delete(item);
    w->failed = true;
}

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

/* Integers as raw text: a double would round those above 2^53. */
static cJSON *int_json(int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    return cJSON_CreateRaw(buf);
}

static void add_float(json_writer *w, cJSON *obj, const char *key, float v)
{
    add_item(w, obj, key, float_json(v));
}

static void add_int(json_writer *w, cJSON *obj, const char *key, int64_t v)
{
    add_item(w, obj, key, int_json(v));
}

static void add_string(json_writer *w, cJSON *obj, const char *key, const char *v)
{
    checked(w, cJSON_AddStringToObject(obj, key, v));
}

static void add_bool(json_writer *w, cJSON *obj, const char *key, bool v)
{
    checked(w, cJSON_AddBoolToObject(obj, key, v));
}

static cJSON *layer_json(json_writer *w, const cg_layer_spec *l)
{
    cJSON *o = checked(w, cJSON_CreateObject());
    switch (l->kind) {
    case CG_LAYER_DENSE:
        add_string(w, o, "type", "dense");
        add_int(w, o, "units", l->units);
        add_string(w, o, "activation", cg_activation_name(l->activation));
        add_bool(w, o, "bias", l->bias);
        break;
    case CG_LAYER_DROPOUT:
        add_string(w, o, "type", "dropout");
        add_float(w, o, "rate", l->rate);
        break;
    case CG_LAYER_FLATTEN: add_string(w, o, "type", "flatten"); break;
    case CG_LAYER_ACTIVATION:
        add_string(w, o, "type", cg_activation_name(l->activation));
        if (l->activation == CG_ACT_LEAKY_RELU) add_float(w, o, "negative_slope", l->act_param);
        if (l->activation == CG_ACT_ELU) add_float(w, o, "alpha", l->act_param);
        break;
    }
    return o;
}

static cJSON *optimizer_json(json_writer *w, const cg_optim_config *c)
{
    cJSON *o = checked(w, cJSON_CreateObject());
    add_string(w, o, "type", cg_optim_kind_name(c->kind));
    add_float(w, o, "lr", c->lr);
    switch (c->kind) {
    case CG_OPTIM_SGD:
        add_float(w, o, "momentum", c->momentum);
        add_float(w, o, "dampening", c->dampening);
        add_bool(w, o, "nesterov", c->nesterov);
        break;
    case CG_OPTIM_ADAM:
    case CG_OPTIM_ADAMW: {
        cJSON *betas = checked(w, cJSON_AddArrayToObject(o, "betas"));
        append(w, betas, float_json(c->beta1));
        append(w, betas, float_json(c->beta2));
        add_float(w, o, "eps", c->eps);
        add_bool(w, o, "amsgrad", c->amsgrad);
        break;
    }
    case CG_OPTIM_RMSPROP:
        add_float(w, o, "alpha", c->alpha);
        add_float(w, o, "eps", c->eps);
        add_float(w, o, "momentum", c->momentum);
        add_bool(w, o, "centered", c->centered);
        break;
    case CG_OPTIM_ADAGRAD:
        add_float(w, o, "lr_decay", c->lr_decay);
        add_float(w, o, "initial_accumulator_value", c->initial_accumulator_value);
        add_float(w, o, "eps", c->eps);
        break;
    }
    add_float(w, o, "weight_decay", c->weight_decay);
    return o;
}

static cJSON *schedule_json(json_writer *w, const cg_schedule *s)
{
    cJSON *o = checked(w, cJSON_CreateObject());
    add_string(w, o, "type", cg_schedule_kind_name(s->kind));
    if (s->kind == CG_SCHED_STEP) add_int(w, o, "step_size", s->step_size);
    if (s->kind == CG_SCHED_STEP || s->kind == CG_SCHED_EXPONENTIAL)
        add_float(w, o, "gamma", s->gamma);
    if (s->kind == CG_SCHED_COSINE) {
        if (s->t_max > 0) add_int(w, o, "t_max", s->t_max);
        add_float(w, o, "eta_min", s->eta_min);
    }
    add_int(w, o, "warmup_epochs", s->warmup);
    add_float(w, o, "warmup_start_factor", s->warmup_start_factor);
    return o;
}

static cJSON *train_json(json_writer *w, const cg_train_config *t)
{
    cJSON *o = checked(w, cJSON_CreateObject());
    add_int(w, o, "epochs", t->epochs);
    add_int(w, o, "batch", t->batch);
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)t->seed);
    add_item(w, o, "seed", cJSON_CreateRaw(buf));
    add_bool(w, o, "shuffle", t->shuffle);
    add_float(w, o, "clip_grad_norm", t->clip_grad_norm);
    return o;
}

char *cg_model_spec_to_json(const cg_model_spec *spec)
{
    if (!spec) {
        cg_set_error(CG_ERR_ARG, "cg_model_spec_to_json: spec is NULL");
        return NULL;
    }
    json_writer w = {.failed = false};
    cJSON *root = checked(&w, cJSON_CreateObject());
    cJSON *input = checked(&w, cJSON_AddArrayToObject(root, "input"));
    for (int i = 0; i < spec->input_ndim; i++) append(&w, input, int_json(spec->input[i]));
    cJSON *layers = checked(&w, cJSON_AddArrayToObject(root, "layers"));
    for (size_t i = 0; i < spec->n_layers; i++)
        append(&w, layers, layer_json(&w, &spec->layers[i]));
    add_string(&w, root, "loss", cg_loss_name(spec->loss));
    add_item(&w, root, "optimizer", optimizer_json(&w, &spec->optim));
    add_item(&w, root, "schedule", schedule_json(&w, &spec->schedule));
    add_item(&w, root, "train", train_json(&w, &spec->train));
    char *text = w.failed ? NULL : cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!text) cg_set_error(CG_ERR_NOMEM, "cg_model_spec_to_json: out of memory");
    return text;
}
