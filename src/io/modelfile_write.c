/* Model files: a cg_model_spec back to JSON text, the inverse of
 * modelfile.c's parser (checkpoints embed it so a model can be rebuilt).
 *
 * Every key is written explicitly, defaults included, so the text means the
 * same thing if a default later changes. A failed allocation anywhere is
 * recorded and fails the whole call: a model file silently missing a key
 * would read back as a different model. */
#include "internal.h"
#include "json_write.h"
#include "layer.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

static cJSON *layer_json(cg_json_writer *w, const cg_model_spec *spec, const cg_layer_spec *l)
{
    cJSON *o = cg__jw_checked(w, cJSON_CreateObject());
    l->type->write(w, o, l);
    if (l->name[0]) cg__jw_string(w, o, "name", l->name);
    if (l->explicit_inputs) {
        cJSON *inputs = cg__jw_checked(w, cJSON_AddArrayToObject(o, "inputs"));
        for (int i = 0; i < l->n_inputs; i++) {
            int src = l->inputs[i];
            const char *name = src == CG_LAYER_INPUT ? "input" : spec->layers[src].name;
            cg__jw_append(w, inputs, cJSON_CreateString(name));
        }
    }
    return o;
}

static cJSON *optimizer_json(cg_json_writer *w, const cg_optim_config *c)
{
    cJSON *o = cg__jw_checked(w, cJSON_CreateObject());
    cg__jw_string(w, o, "type", cg_optim_kind_name(c->kind));
    cg__jw_float(w, o, "lr", c->lr);
    switch (c->kind) {
    case CG_OPTIM_SGD:
        cg__jw_float(w, o, "momentum", c->momentum);
        cg__jw_float(w, o, "dampening", c->dampening);
        cg__jw_bool(w, o, "nesterov", c->nesterov);
        break;
    case CG_OPTIM_ADAM:
    case CG_OPTIM_ADAMW: {
        cJSON *betas = cg__jw_checked(w, cJSON_AddArrayToObject(o, "betas"));
        cg__jw_append(w, betas, cg__jw_float_value(c->beta1));
        cg__jw_append(w, betas, cg__jw_float_value(c->beta2));
        cg__jw_float(w, o, "eps", c->eps);
        cg__jw_bool(w, o, "amsgrad", c->amsgrad);
        break;
    }
    case CG_OPTIM_RMSPROP:
        cg__jw_float(w, o, "alpha", c->alpha);
        cg__jw_float(w, o, "eps", c->eps);
        cg__jw_float(w, o, "momentum", c->momentum);
        cg__jw_bool(w, o, "centered", c->centered);
        break;
    case CG_OPTIM_ADAGRAD:
        cg__jw_float(w, o, "lr_decay", c->lr_decay);
        cg__jw_float(w, o, "initial_accumulator_value", c->initial_accumulator_value);
        cg__jw_float(w, o, "eps", c->eps);
        break;
    }
    cg__jw_float(w, o, "weight_decay", c->weight_decay);
    if (c->no_decay) {
        cJSON *list = cg__jw_checked(w, cJSON_CreateArray());
        if (list && (c->no_decay & CG_NO_DECAY_BIAS)) cg__jw_append(w, list, cJSON_CreateString("bias"));
        if (list && (c->no_decay & CG_NO_DECAY_NORM)) cg__jw_append(w, list, cJSON_CreateString("norm"));
        if (list) cg__jw_add(w, o, "no_decay", list);
    }
    return o;
}

/* Doubles as doubles: the plateau rule's arithmetic is Python's. */
static void add_double(cg_json_writer *w, cJSON *o, const char *key, double v)
{
    cg__jw_add(w, o, key, cJSON_CreateNumber(v));
}

static cJSON *plateau_json(cg_json_writer *w, cJSON *o, const cg_plateau_config *c)
{
    add_double(w, o, "factor", c->factor);
    cg__jw_int(w, o, "patience", c->patience);
    add_double(w, o, "threshold", c->threshold);
    cg__jw_string(w, o, "threshold_mode", c->threshold_abs ? "abs" : "rel");
    cg__jw_int(w, o, "cooldown", c->cooldown);
    add_double(w, o, "min_lr", c->min_lr);
    cg__jw_string(w, o, "mode", c->mode_max ? "max" : "min");
    cg__jw_string(w, o, "monitor", cg_monitor_name(c->monitor));
    return o;
}

static cJSON *schedule_json(cg_json_writer *w, const cg_schedule *s)
{
    cJSON *o = cg__jw_checked(w, cJSON_CreateObject());
    cg__jw_string(w, o, "type", cg_schedule_kind_name(s->kind));
    if (s->kind == CG_SCHED_PLATEAU) return plateau_json(w, o, &s->plateau);
    if (s->kind == CG_SCHED_STEP) cg__jw_int(w, o, "step_size", s->step_size);
    if (s->kind == CG_SCHED_STEP || s->kind == CG_SCHED_EXPONENTIAL)
        cg__jw_float(w, o, "gamma", s->gamma);
    if (s->kind == CG_SCHED_COSINE) {
        if (s->t_max > 0) cg__jw_int(w, o, "t_max", s->t_max);
        cg__jw_float(w, o, "eta_min", s->eta_min);
    }
    /* "per" only when it is not the default, so files written before it
     * existed read back unchanged. */
    if (s->per_step) cg__jw_string(w, o, "per", "step");
    cg__jw_int(w, o, s->per_step ? "warmup_steps" : "warmup_epochs", s->warmup);
    cg__jw_float(w, o, "warmup_start_factor", s->warmup_start_factor);
    return o;
}

static cJSON *train_json(cg_json_writer *w, const cg_train_config *t)
{
    cJSON *o = cg__jw_checked(w, cJSON_CreateObject());
    cg__jw_int(w, o, "epochs", t->epochs);
    cg__jw_int(w, o, "batch", t->batch);
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)t->seed);
    cg__jw_add(w, o, "seed", cJSON_CreateRaw(buf));
    cg__jw_bool(w, o, "shuffle", t->shuffle);
    cg__jw_float(w, o, "clip_grad_norm", t->clip_grad_norm);
    if (t->steps > 0) cg__jw_int(w, o, "steps", t->steps);
    if (t->early_stop.patience > 0) {
        cJSON *e = cg__jw_checked(w, cJSON_CreateObject());
        cg__jw_int(w, e, "patience", t->early_stop.patience);
        add_double(w, e, "min_delta", t->early_stop.min_delta);
        cg__jw_string(w, e, "monitor", cg_monitor_name(t->early_stop.monitor));
        cg__jw_bool(w, e, "restore_best", t->early_stop.restore_best);
        cg__jw_add(w, o, "early_stop", e);
    }
    return o;
}

/* Written only when on: "augment" is refused for non-image inputs. */
static void add_augment(cg_json_writer *w, cJSON *root, const cg_augment *a)
{
    if (a->crop_padding <= 0 && !a->hflip) return;
    cJSON *o = cg__jw_checked(w, cJSON_CreateObject());
    if (a->crop_padding > 0) {
        cJSON *crop = cg__jw_checked(w, cJSON_CreateObject());
        cg__jw_int(w, crop, "padding", a->crop_padding);
        cg__jw_add(w, o, "random_crop", crop);
    }
    cg__jw_bool(w, o, "hflip", a->hflip);
    cg__jw_add(w, root, "augment", o);
}

/* Written only when not the default, as "augment". */
static void add_data(cg_json_writer *w, cJSON *root, const cg_data_config *d)
{
    if (!d->unknown_ignore) return;
    cJSON *o = cg__jw_checked(w, cJSON_CreateObject());
    cg__jw_string(w, o, "unknown", "ignore");
    cg__jw_add(w, root, "data", o);
}

char *cg_model_spec_to_json(const cg_model_spec *spec)
{
    if (!spec) {
        cg_set_error(CG_ERR_ARG, "cg_model_spec_to_json: spec is NULL");
        return NULL;
    }
    cg_json_writer w = {.failed = false};
    cJSON *root = cg__jw_checked(&w, cJSON_CreateObject());
    if (spec->name[0]) cg__jw_string(&w, root, "name", spec->name);
    if (spec->description[0]) cg__jw_string(&w, root, "description", spec->description);
    cJSON *input = cg__jw_checked(&w, cJSON_AddArrayToObject(root, "input"));
    for (int i = 0; i < spec->input_ndim; i++) cg__jw_append(&w, input, cg__jw_int_value(spec->input[i]));
    cJSON *layers = cg__jw_checked(&w, cJSON_AddArrayToObject(root, "layers"));
    for (size_t i = 0; i < spec->n_layers; i++)
        cg__jw_append(&w, layers, layer_json(&w, spec, &spec->layers[i]));
    cg__jw_string(&w, root, "loss", cg_loss_name(spec->loss));
    cg__jw_add(&w, root, "optimizer", optimizer_json(&w, &spec->optim));
    cg__jw_add(&w, root, "schedule", schedule_json(&w, &spec->schedule));
    cg__jw_add(&w, root, "train", train_json(&w, &spec->train));
    add_augment(&w, root, &spec->augment);
    add_data(&w, root, &spec->data);
    char *text = w.failed ? NULL : cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!text) cg_set_error(CG_ERR_NOMEM, "cg_model_spec_to_json: out of memory");
    return text;
}
