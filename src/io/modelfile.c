/* Model files: JSON text -> validated cg_model_spec. Writing a spec back as
 * JSON is modelfile_write.c; its training-memory estimate, modelfile_memory.c.
 *
 * Everything is checked before anything is built, and every message starts
 * with the JSON path of the offending value, because a model file is written
 * by hand and "invalid model" alone sends the user hunting. Shapes are
 * inferred layer by layer so an impossible stack (a dense layer on an
 * unflattened image, a product that overflows) is refused here too. */
#include "internal.h"
#include "fileio.h"
#include "json_read.h"
#include "modelfile_internal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Model files are small; anything larger is a mistake (e.g. a data file). */
#define MODEL_FILE_MAX_BYTES (16u << 20)

/* ------------------------------------------------------------ names */

static const char *const loss_names[] = {
    [CG_LOSS_CROSS_ENTROPY] = "cross_entropy",
    [CG_LOSS_MSE] = "mse",
    [CG_LOSS_L1] = "l1",
    [CG_LOSS_BCE_WITH_LOGITS] = "bce_with_logits",
};
#define N_LOSSES (sizeof loss_names / sizeof loss_names[0])

bool cg_loss_from_name(const char *name, cg_loss_kind *out)
{
    for (size_t i = 0; name && i < N_LOSSES; i++) {
        if (strcasecmp(name, loss_names[i]) == 0) {
            if (out) *out = (cg_loss_kind)i;
            return true;
        }
    }
    return false;
}

const char *cg_loss_name(cg_loss_kind loss)
{
    return (unsigned)loss < N_LOSSES ? loss_names[loss] : "unknown";
}

bool cg_loss_is_classification(cg_loss_kind loss) { return loss == CG_LOSS_CROSS_ENTROPY; }

/* ------------------------------------------------------------ shapes */

/* Overflow checks (checked_mul, checked_add, shape_numel) live in
 * modelfile_internal.h, shared with the memory estimate. */

static cg_status parse_input(const cJSON *root, cg_json_path *p, cg_model_spec *spec)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "input");
    size_t mark = cg__json_key(p, "input");
    cg_status s = CG_OK;
    const char *expected = "an array of 1 to 5 positive integers (the shape of one sample)";
    int n = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : -1;
    if (!v)
        s = cg__json_fail(p, "missing (the shape of one sample, e.g. [784] or [1, 28, 28])");
    else if (n < 1 || n > CG_MAX_DIMS - 1)
        s = cg__json_expected(p, expected, v);
    for (int i = 0; s == CG_OK && i < n; i++) {
        size_t m2 = cg__json_index(p, (size_t)i);
        s = cg__json_int(cJSON_GetArrayItem(v, i), p, 1, INT64_MAX, &spec->input[i]);
        cg__json_restore(p, m2);
    }
    int64_t numel;
    if (s == CG_OK && !cg__shape_numel(n, spec->input, &numel)) s = cg__json_fail(p, "the shape's size overflows");
    spec->input_ndim = n;
    cg__json_restore(p, mark);
    return s;
}

/* ------------------------------------------------------------ layers */

static cg_status parse_layers(const cJSON *root, cg_json_path *p, cg_model_spec *spec)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "layers");
    size_t mark = cg__json_key(p, "layers");
    cg_status s = CG_OK;
    if (!arr)
        s = cg__json_fail(p, "missing (the list of layers)");
    else if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0)
        s = cg__json_expected(p, "a non-empty array of layers", arr);
    size_t i = 0;
    for (const cJSON *it = s == CG_OK ? arr->child : NULL; it && s == CG_OK; it = it->next, i++) {
        size_t m2 = cg__json_index(p, i);
        s = cg__spec_add_layer(spec, it, p, it->next);
        cg__json_restore(p, m2);
    }
    cg__json_restore(p, mark);
    return s;
}

/* ------------------------------------------------------------ loss */

cg_status cg__spec_check_loss(const cg_model_spec *spec, cg_json_path *p)
{
    if (spec->loss != CG_LOSS_CROSS_ENTROPY) return CG_OK;
    char shape[128];
    cg_dims_str(spec->output_ndim, spec->output, shape, sizeof shape);
    if (spec->output_ndim != 1 && spec->output_ndim != 2)
        return cg__json_fail(p, "cross_entropy needs the model's output to be [classes] (or "
                                "[time, classes] for a label at every step), got %s; add a "
                                "flatten and a dense layer", shape);
    if (cg_model_spec_classes(spec) < 2)
        return cg__json_fail(p, "cross_entropy needs at least 2 output classes, the model outputs %s",
                    shape);
    return CG_OK;
}

int64_t cg_model_spec_classes(const cg_model_spec *spec)
{
    return spec && spec->output_ndim > 0 ? spec->output[spec->output_ndim - 1] : 0;
}

int64_t cg_model_spec_label_positions(const cg_model_spec *spec)
{
    int64_t n = 1;
    for (int i = 0; spec && i + 1 < spec->output_ndim; i++) n *= spec->output[i];
    return n;
}

static cg_status parse_loss(const cJSON *root, cg_json_path *p, cg_model_spec *spec)
{
    const char *name;
    cg_status s = cg__json_read_string(root, "loss", p, &name);
    if (s != CG_OK) return s;
    size_t mark = cg__json_key(p, "loss");
    if (name && !cg_loss_from_name(name, &spec->loss))
        s = cg__json_fail(p, "unknown loss \"%s\" (expected cross_entropy, mse, l1 or bce_with_logits)",
                 name);
    cg__json_restore(p, mark);
    return s;
}

/* ------------------------------------------------------------ optimizer */

static cg_status read_betas(const cJSON *obj, cg_json_path *p, cg_optim_config *c)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "betas");
    if (!v) return CG_OK;
    size_t mark = cg__json_key(p, "betas");
    cg_status s = CG_OK;
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 2)
        s = cg__json_expected(p, "an array of two numbers in [0, 1)", v);
    float *dst[2] = {&c->beta1, &c->beta2};
    for (int i = 0; s == CG_OK && i < 2; i++) {
        size_t m2 = cg__json_index(p, (size_t)i);
        s = cg__json_float(cJSON_GetArrayItem(v, i), p, CG_RANGE_UNIT_OPEN_TOP, dst[i]);
        cg__json_restore(p, m2);
    }
    cg__json_restore(p, mark);
    return s;
}

/* "no_decay": a list of "bias" and "norm". */
static cg_status read_no_decay(const cJSON *obj, cg_json_path *p, cg_optim_config *c)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "no_decay");
    if (!v) return CG_OK;
    size_t mark = cg__json_key(p, "no_decay");
    cg_status s = cJSON_IsArray(v) ? CG_OK
                                   : cg__json_expected(p, "a list of \"bias\" and \"norm\"", v);
    c->no_decay = 0;
    for (int i = 0; s == CG_OK && i < cJSON_GetArraySize(v); i++) {
        const cJSON *e = cJSON_GetArrayItem(v, i);
        size_t at = cg__json_index(p, (size_t)i);
        if (cJSON_IsString(e) && strcmp(e->valuestring, "bias") == 0)
            c->no_decay |= CG_NO_DECAY_BIAS;
        else if (cJSON_IsString(e) && strcmp(e->valuestring, "norm") == 0)
            c->no_decay |= CG_NO_DECAY_NORM;
        else
            s = cg__json_expected(p, "\"bias\" or \"norm\"", e);
        cg__json_restore(p, at);
    }
    cg__json_restore(p, mark);
    return s;
}

static cg_status read_optim_fields(const cJSON *obj, cg_json_path *p, cg_optim_config *c)
{
    cg_status s;
    if ((s = cg__json_read_float(obj, "lr", p, CG_RANGE_POSITIVE, &c->lr)) != CG_OK) return s;
    if ((s = cg__json_read_float(obj, "weight_decay", p, CG_RANGE_NONNEG, &c->weight_decay)) != CG_OK) return s;
    if ((s = cg__json_read_float(obj, "momentum", p, CG_RANGE_NONNEG, &c->momentum)) != CG_OK) return s;
    if ((s = cg__json_read_float(obj, "dampening", p, CG_RANGE_UNIT, &c->dampening)) != CG_OK) return s;
    if ((s = cg__json_read_bool(obj, "nesterov", p, &c->nesterov)) != CG_OK) return s;
    if ((s = read_betas(obj, p, c)) != CG_OK) return s;
    if ((s = cg__json_read_float(obj, "eps", p, CG_RANGE_NONNEG, &c->eps)) != CG_OK) return s;
    if ((s = cg__json_read_bool(obj, "amsgrad", p, &c->amsgrad)) != CG_OK) return s;
    if ((s = cg__json_read_float(obj, "alpha", p, CG_RANGE_UNIT, &c->alpha)) != CG_OK) return s;
    if ((s = cg__json_read_bool(obj, "centered", p, &c->centered)) != CG_OK) return s;
    if ((s = cg__json_read_float(obj, "lr_decay", p, CG_RANGE_NONNEG, &c->lr_decay)) != CG_OK) return s;
    if ((s = read_no_decay(obj, p, c)) != CG_OK) return s;
    return cg__json_read_float(obj, "initial_accumulator_value", p, CG_RANGE_NONNEG, &c->initial_accumulator_value);
}

/* torch.optim's argument names, kind by kind. */
static const char *const *optim_keys(cg_optim_kind kind)
{
    static const char *const sgd[] = {"type", "lr", "momentum", "dampening", "nesterov",
                                      "weight_decay", NULL};
    static const char *const adam[] = {"type", "lr", "betas", "eps", "weight_decay", "amsgrad",
                                       "no_decay", NULL};
    static const char *const rmsprop[] = {"type", "lr", "alpha", "eps", "momentum", "centered",
                                          "weight_decay", NULL};
    static const char *const adagrad[] = {"type", "lr", "lr_decay", "weight_decay",
                                          "initial_accumulator_value", "eps", NULL};
    switch (kind) {
    case CG_OPTIM_SGD: return sgd;
    case CG_OPTIM_ADAM:
    case CG_OPTIM_ADAMW: return adam;
    case CG_OPTIM_RMSPROP: return rmsprop;
    case CG_OPTIM_ADAGRAD: return adagrad;
    }
    return sgd;
}

static cg_status parse_optimizer(const cJSON *root, cg_json_path *p, cg_model_spec *spec)
{
    const cJSON *obj = cJSON_GetObjectItemCaseSensitive(root, "optimizer");
    if (!obj) return CG_OK;
    size_t mark = cg__json_key(p, "optimizer");
    cg_status s = cg__json_require_object(obj, p);
    const char *type = NULL;
    if (s == CG_OK) s = cg__json_read_string(obj, "type", p, &type);
    cg_optim_kind kind = CG_OPTIM_ADAM;
    if (s == CG_OK && type && !cg_optim_kind_from_name(type, &kind)) {
        size_t m2 = cg__json_key(p, "type");
        s = cg__json_fail(p, "unknown optimizer \"%s\" (expected sgd, adam, adamw, rmsprop or adagrad)",
                 type);
        cg__json_restore(p, m2);
    }
    if (s == CG_OK) s = cg__json_check_keys(obj, p, optim_keys(kind), NULL);
    if (s == CG_OK) {
        spec->optim = cg_optim_defaults(kind);
        s = read_optim_fields(obj, p, &spec->optim);
    }
    if (s == CG_OK && spec->optim.nesterov &&
        (spec->optim.momentum <= 0.0f || spec->optim.dampening != 0.0f))
        s = cg__json_fail(p, "nesterov needs momentum > 0 and dampening 0");
    cg__json_restore(p, mark);
    return s;
}

/* ------------------------------------------------------------ schedule */

static const char *const *schedule_keys(cg_schedule_kind kind)
{
    static const char *const constant[] = {"type", "per", "warmup_epochs", "warmup_steps",
                                           "warmup_start_factor", NULL};
    static const char *const step[] = {"type", "per", "step_size", "gamma", "warmup_epochs",
                                       "warmup_steps", "warmup_start_factor", NULL};
    static const char *const exponential[] = {"type", "per", "gamma", "warmup_epochs",
                                              "warmup_steps", "warmup_start_factor", NULL};
    static const char *const cosine[] = {"type", "per", "t_max", "eta_min", "warmup_epochs",
                                         "warmup_steps", "warmup_start_factor", NULL};
    switch (kind) {
    case CG_SCHED_CONSTANT: return constant;
    case CG_SCHED_STEP: return step;
    case CG_SCHED_EXPONENTIAL: return exponential;
    case CG_SCHED_COSINE: return cosine;
    case CG_SCHED_PLATEAU: {
        static const char *const plateau[] = {"type", "factor", "patience", "threshold",
                                              "threshold_mode", "cooldown", "min_lr", "mode",
                                              "monitor", NULL};
        return plateau;
    }
    }
    return constant;
}

static cg_schedule schedule_defaults(cg_schedule_kind kind)
{
    /* torch's defaults: StepLR gamma 0.1, LinearLR start_factor 1/3. */
    return (cg_schedule){.kind = kind,
                         .gamma = kind == CG_SCHED_STEP ? 0.1f : 0.95f,
                         .step_size = 1,
                         .warmup_start_factor = 1.0f / 3.0f,
                         .plateau = cg_plateau_defaults()};
}

/* A number kept in double (torch's scheduler arithmetic is Python's). */
static cg_status read_double(const cJSON *obj, const char *key, cg_json_path *p, cg_json_range r,
                             double *out)
{
    float f;
    cg_status s = cg__json_read_float(obj, key, p, r, &f);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (s == CG_OK && v) *out = v->valuedouble;
    return s;
}

/* One of two words (case-insensitive); absent leaves *second. */
static cg_status read_choice(const cJSON *obj, const char *key, cg_json_path *p,
                             const char *first, const char *second_word, bool *second)
{
    const char *v = NULL;
    cg_status s = cg__json_read_string(obj, key, p, &v);
    if (s != CG_OK || !v) return s;
    if (strcasecmp(v, first) == 0 || strcasecmp(v, second_word) == 0) {
        *second = strcasecmp(v, second_word) == 0;
        return CG_OK;
    }
    size_t mark = cg__json_key(p, key);
    s = cg__json_fail(p, "expected \"%s\" or \"%s\", got \"%s\"", first, second_word, v);
    cg__json_restore(p, mark);
    return s;
}

/* "monitor": val_loss, val_accuracy, train_loss or train_accuracy. */
static cg_status read_monitor(const cJSON *obj, cg_json_path *p, cg_monitor *out)
{
    const char *v = NULL;
    cg_status s = cg__json_read_string(obj, "monitor", p, &v);
    if (s != CG_OK || !v || cg_monitor_from_name(v, out)) return s;
    size_t mark = cg__json_key(p, "monitor");
    s = cg__json_fail(p, "unknown monitor \"%s\" (expected val_loss, val_accuracy, val_mae, "
                         "val_rmse, val_r2, val_top_k_accuracy or the same with train_ instead "
                         "of val_)", v);
    cg__json_restore(p, mark);
    return s;
}

static cg_status read_plateau(const cJSON *obj, cg_json_path *p, cg_plateau_config *c)
{
    cg_status s = read_double(obj, "factor", p, CG_RANGE_UNIT_OPEN_TOP, &c->factor);
    if (s == CG_OK) s = cg__json_read_int(obj, "patience", p, 0, INT32_MAX, &c->patience);
    if (s == CG_OK) s = read_double(obj, "threshold", p, CG_RANGE_NONNEG, &c->threshold);
    if (s == CG_OK) s = read_choice(obj, "threshold_mode", p, "rel", "abs", &c->threshold_abs);
    if (s == CG_OK) s = cg__json_read_int(obj, "cooldown", p, 0, INT32_MAX, &c->cooldown);
    if (s == CG_OK) s = read_double(obj, "min_lr", p, CG_RANGE_NONNEG, &c->min_lr);
    bool mode_given = cJSON_GetObjectItemCaseSensitive(obj, "mode") != NULL;
    if (s == CG_OK) s = read_monitor(obj, p, &c->monitor);
    /* The mode follows the monitor (accuracies: max) unless given. */
    c->mode_max = cg_monitor_maximizes(c->monitor);
    if (s == CG_OK && mode_given) s = read_choice(obj, "mode", p, "min", "max", &c->mode_max);
    return s;
}

/* "per": "epoch" (the default) or "step"; the warm-up's key names the unit. */
static cg_status read_schedule_unit(const cJSON *obj, cg_json_path *p, cg_schedule *s)
{
    cg_status st = read_choice(obj, "per", p, "epoch", "step", &s->per_step);
    const char *wrong = s->per_step ? "warmup_epochs" : "warmup_steps";
    if (st != CG_OK || !cJSON_GetObjectItemCaseSensitive(obj, wrong)) return st;
    size_t mark = cg__json_key(p, wrong);
    st = cg__json_fail(p, s->per_step ? "the schedule runs per step: use \"warmup_steps\""
                                      : "\"warmup_steps\" needs \"per\": \"step\"");
    cg__json_restore(p, mark);
    return st;
}

static cg_status read_schedule_fields(const cJSON *obj, cg_json_path *p, cg_schedule *s)
{
    cg_status st;
    if ((st = read_schedule_unit(obj, p, s)) != CG_OK) return st;
    if ((st = cg__json_read_int(obj, s->per_step ? "warmup_steps" : "warmup_epochs", p, 0,
                                INT32_MAX, &s->warmup)) != CG_OK)
        return st;
    if ((st = cg__json_read_float(obj, "warmup_start_factor", p, CG_RANGE_UNIT, &s->warmup_start_factor)) !=
        CG_OK)
        return st;
    if ((st = cg__json_read_int(obj, "step_size", p, 1, INT32_MAX, &s->step_size)) != CG_OK) return st;
    if ((st = cg__json_read_float(obj, "gamma", p, CG_RANGE_NONNEG, &s->gamma)) != CG_OK) return st;
    if ((st = cg__json_read_int(obj, "t_max", p, 1, INT32_MAX, &s->t_max)) != CG_OK) return st;
    return cg__json_read_float(obj, "eta_min", p, CG_RANGE_NONNEG, &s->eta_min);
}

static cg_status parse_schedule(const cJSON *root, cg_json_path *p, cg_model_spec *spec)
{
    const cJSON *obj = cJSON_GetObjectItemCaseSensitive(root, "schedule");
    if (!obj) return CG_OK;
    size_t mark = cg__json_key(p, "schedule");
    cg_status s = cg__json_require_object(obj, p);
    const char *type = NULL;
    if (s == CG_OK) s = cg__json_read_string(obj, "type", p, &type);
    cg_schedule_kind kind = CG_SCHED_CONSTANT;
    if (s == CG_OK && type && !cg_schedule_kind_from_name(type, &kind)) {
        size_t m2 = cg__json_key(p, "type");
        s = cg__json_fail(p, "unknown schedule \"%s\" (expected constant, step, exponential, "
                             "cosine or plateau)",
                 type);
        cg__json_restore(p, m2);
    }
    if (s == CG_OK) s = cg__json_check_keys(obj, p, schedule_keys(kind), NULL);
    if (s == CG_OK) {
        spec->schedule = schedule_defaults(kind);
        s = read_schedule_fields(obj, p, &spec->schedule);
    }
    if (s == CG_OK && kind == CG_SCHED_PLATEAU) s = read_plateau(obj, p, &spec->schedule.plateau);
    cg__json_restore(p, mark);
    return s;
}

/* ------------------------------------------------------------ train */

/* "early_stop": {"patience", "min_delta", "monitor", "restore_best"}. */
static cg_status parse_early_stop(const cJSON *train, cg_json_path *p, cg_early_stop_config *c)
{
    const cJSON *obj = cJSON_GetObjectItemCaseSensitive(train, "early_stop");
    if (!obj) return CG_OK;
    static const char *const keys[] = {"patience", "min_delta", "monitor", "restore_best", NULL};
    size_t mark = cg__json_key(p, "early_stop");
    cg_status s = cg__json_require_object(obj, p);
    if (s == CG_OK) s = cg__json_check_keys(obj, p, keys, NULL);
    if (s == CG_OK) s = cg__json_read_int(obj, "patience", p, 0, INT32_MAX, &c->patience);
    if (s == CG_OK) s = read_double(obj, "min_delta", p, CG_RANGE_NONNEG, &c->min_delta);
    if (s == CG_OK) s = read_monitor(obj, p, &c->monitor);
    if (s == CG_OK) s = cg__json_read_bool(obj, "restore_best", p, &c->restore_best);
    cg__json_restore(p, mark);
    return s;
}

static cg_status parse_train(const cJSON *root, cg_json_path *p, cg_model_spec *spec)
{
    const cJSON *obj = cJSON_GetObjectItemCaseSensitive(root, "train");
    if (!obj) return CG_OK;
    static const char *const keys[] = {"epochs", "batch", "seed", "shuffle", "clip_grad_norm",
                                       "early_stop", "steps", NULL};
    size_t mark = cg__json_key(p, "train");
    cg_status s = cg__json_require_object(obj, p);
    if (s == CG_OK) s = cg__json_check_keys(obj, p, keys, NULL);
    if (s == CG_OK) s = cg__json_read_int(obj, "epochs", p, 1, INT32_MAX, &spec->train.epochs);
    if (s == CG_OK) s = cg__json_read_int(obj, "batch", p, 1, INT32_MAX, &spec->train.batch);
    int64_t seed = (int64_t)spec->train.seed;
    if (s == CG_OK) s = cg__json_read_int(obj, "seed", p, 0, INT64_MAX, &seed);
    spec->train.seed = (uint64_t)seed;
    if (s == CG_OK) s = cg__json_read_bool(obj, "shuffle", p, &spec->train.shuffle);
    if (s == CG_OK) s = cg__json_read_float(obj, "clip_grad_norm", p, CG_RANGE_NONNEG, &spec->train.clip_grad_norm);
    if (s == CG_OK) s = parse_early_stop(obj, p, &spec->train.early_stop);
    if (s == CG_OK) s = cg__json_read_int(obj, "steps", p, 0, INT64_MAX / 2, &spec->train.steps);
    cg__json_restore(p, mark);
    return s;
}

/* ------------------------------------------------------------ augment */

static cg_status parse_crop(const cJSON *obj, cg_json_path *p, cg_model_spec *spec)
{
    const cJSON *crop = cJSON_GetObjectItemCaseSensitive(obj, "random_crop");
    if (!crop) return CG_OK;
    size_t mark = cg__json_key(p, "random_crop");
    static const char *const keys[] = {"padding", NULL};
    cg_status s = cg__json_require_object(crop, p);
    if (s == CG_OK) s = cg__json_check_keys(crop, p, keys, NULL);
    if (s == CG_OK && !cJSON_GetObjectItemCaseSensitive(crop, "padding"))
        s = cg__json_fail(p, "random_crop needs \"padding\" (pixels of zeros around the image)");
    if (s == CG_OK) s = cg__json_read_int(crop, "padding", p, 1, INT32_MAX, &spec->augment.crop_padding);
    /* The crop window must overlap the image somewhere. */
    if (s == CG_OK && (spec->augment.crop_padding >= spec->input[1] ||
                       spec->augment.crop_padding >= spec->input[2])) {
        size_t m2 = cg__json_key(p, "padding");
        s = cg__json_fail(p, "%lld is not smaller than the image (%lld x %lld)",
                          (long long)spec->augment.crop_padding, (long long)spec->input[1],
                          (long long)spec->input[2]);
        cg__json_restore(p, m2);
    }
    cg__json_restore(p, mark);
    return s;
}

static cg_status parse_augment(const cJSON *root, cg_json_path *p, cg_model_spec *spec)
{
    const cJSON *obj = cJSON_GetObjectItemCaseSensitive(root, "augment");
    if (!obj) return CG_OK;
    static const char *const keys[] = {"random_crop", "hflip", NULL};
    size_t mark = cg__json_key(p, "augment");
    cg_status s = cg__json_require_object(obj, p);
    if (s == CG_OK) s = cg__json_check_keys(obj, p, keys, NULL);
    if (s == CG_OK && spec->input_ndim != 3) {
        char shape[128];
        s = cg__json_fail(p, "augmentation needs image inputs [channels, height, width], the "
                             "model's input is %s",
                          cg_dims_str(spec->input_ndim, spec->input, shape, sizeof shape));
    }
    spec->augment = (cg_augment){0};
    if (s == CG_OK) s = parse_crop(obj, p, spec);
    if (s == CG_OK) s = cg__json_read_bool(obj, "hflip", p, &spec->augment.hflip);
    cg__json_restore(p, mark);
    return s;
}

/* ------------------------------------------------------------ data */

static cg_status parse_data(const cJSON *root, cg_json_path *p, cg_model_spec *spec)
{
    const cJSON *obj = cJSON_GetObjectItemCaseSensitive(root, "data");
    spec->data = (cg_data_config){0};
    if (!obj) return CG_OK;
    static const char *const keys[] = {"unknown", NULL};
    size_t mark = cg__json_key(p, "data");
    cg_status s = cg__json_require_object(obj, p);
    if (s == CG_OK) s = cg__json_check_keys(obj, p, keys, NULL);
    const char *unknown = NULL;
    if (s == CG_OK) s = cg__json_read_string(obj, "unknown", p, &unknown);
    if (s == CG_OK && unknown) {
        spec->data.unknown_ignore = strcmp(unknown, "ignore") == 0;
        if (!spec->data.unknown_ignore && strcmp(unknown, "error") != 0) {
            size_t m2 = cg__json_key(p, "unknown");
            s = cg__json_fail(p, "expected \"error\" (refuse a category not seen in training) or "
                                 "\"ignore\" (read it as none of them), got \"%s\"", unknown);
            cg__json_restore(p, m2);
        }
    }
    cg__json_restore(p, mark);
    return s;
}

/* ------------------------------------------------------------ name, description */

static cg_status parse_text(const cJSON *root, cg_json_path *p, const char *key, char *dst,
                            size_t size)
{
    const char *text;
    cg_status s = cg__json_read_string(root, key, p, &text);
    if (s != CG_OK || !text) return s;
    if (strlen(text) >= size) {
        size_t mark = cg__json_key(p, key);
        s = cg__json_fail(p, "%zu characters is too long (at most %zu)", strlen(text), size - 1);
        cg__json_restore(p, mark);
        return s;
    }
    memcpy(dst, text, strlen(text) + 1);
    return CG_OK;
}

/* ------------------------------------------------------------ top level */

void cg__spec_set_defaults(cg_model_spec *spec)
{
    spec->loss = CG_LOSS_CROSS_ENTROPY;
    spec->optim = cg_optim_defaults(CG_OPTIM_ADAM);
    spec->schedule = schedule_defaults(CG_SCHED_CONSTANT);
    spec->train = (cg_train_config){.epochs = 10, .batch = 64, .seed = 1, .shuffle = true};
}

cg_status cg__spec_parse_section(const cJSON *root, cg_json_path *p, cg_model_spec *spec,
                                 const char *section)
{
    if (strcmp(section, "name") == 0) return parse_text(root, p, "name", spec->name, sizeof spec->name);
    if (strcmp(section, "description") == 0)
        return parse_text(root, p, "description", spec->description, sizeof spec->description);
    if (strcmp(section, "loss") == 0) return parse_loss(root, p, spec);
    if (strcmp(section, "optimizer") == 0) return parse_optimizer(root, p, spec);
    if (strcmp(section, "schedule") == 0) return parse_schedule(root, p, spec);
    if (strcmp(section, "train") == 0) return parse_train(root, p, spec);
    if (strcmp(section, "augment") == 0) return parse_augment(root, p, spec);
    if (strcmp(section, "data") == 0) return parse_data(root, p, spec);
    return cg_set_error(CG_ERR_ARG, "no model-file section \"%s\" (name, description, loss, "
                                    "optimizer, schedule, train, augment or data)", section);
}

static cg_status parse_root(const cJSON *root, cg_model_spec *spec)
{
    cg_json_path p = {.text = "", .len = 0};
    static const char *const keys[] = {"name", "description", "input", "layers", "loss",
                                       "optimizer", "schedule", "train", "augment", "data",
                                       NULL};
    if (!cJSON_IsObject(root)) return cg__json_expected(&p, "a JSON object", root);
    cg_status s = cg__json_check_keys(root, &p, keys, NULL);
    cg__spec_set_defaults(spec);
    if (s == CG_OK) s = cg__spec_parse_section(root, &p, spec, "name");
    if (s == CG_OK) s = cg__spec_parse_section(root, &p, spec, "description");
    if (s == CG_OK) s = parse_input(root, &p, spec);
    if (s == CG_OK) s = parse_layers(root, &p, spec);
    static const char *const sections[] = {"loss", "optimizer", "schedule", "train", "augment",
                                           "data"};
    for (size_t i = 0; s == CG_OK && i < 6; i++) s = cg__spec_parse_section(root, &p, spec, sections[i]);
    return s == CG_OK ? cg_model_spec_check(spec) : s;
}

static void line_column(const char *text, const char *at, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (const char *c = text; c < at && *c; c++) {
        if (*c == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

cg_status cg_model_spec_parse(const char *json, cg_model_spec **out)
{
    if (!out) return cg_set_error(CG_ERR_ARG, "cg_model_spec_parse: out is NULL");
    *out = NULL;
    if (!json) return cg_set_error(CG_ERR_ARG, "cg_model_spec_parse: text is NULL");
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(json, &end, true);
    if (!root) {
        int line, col;
        line_column(json, end ? end : json, &line, &col);
        return cg_set_error(CG_ERR_FORMAT, "invalid JSON at line %d, column %d", line, col);
    }
    cg_model_spec *spec = calloc(1, sizeof *spec);
    if (!spec) {
        cJSON_Delete(root);
        return cg_set_error(CG_ERR_NOMEM, "cg_model_spec_parse: out of memory");
    }
    cg_status s = parse_root(root, spec);
    cJSON_Delete(root);
    if (s != CG_OK) {
        cg_model_spec_free(spec);
        return s;
    }
    *out = spec;
    return CG_OK;
}

cg_status cg_model_spec_load(const char *path, cg_model_spec **out)
{
    if (!out) return cg_set_error(CG_ERR_ARG, "cg_model_spec_load: out is NULL");
    *out = NULL;
    char *text;
    size_t size;
    cg_status s = cg__read_file(path, MODEL_FILE_MAX_BYTES, &text, &size);
    if (s != CG_OK) return s;
    s = cg_model_spec_parse(text, out);
    free(text);
    if (s != CG_OK) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", cg_last_error());
        cg_set_error(s, "%s: %s", path, msg);
    }
    return s;
}

void cg_model_spec_free(cg_model_spec *spec)
{
    if (!spec) return;
    free(spec->layers);
    free(spec);
}

cg_model_spec *cg_model_spec_clone(const cg_model_spec *spec)
{
    if (!spec) return NULL;
    cg_model_spec *copy = malloc(sizeof *copy);
    cg_layer_spec *layers = malloc(spec->n_layers ? spec->n_layers * sizeof *layers : 1);
    if (!copy || !layers) {
        free(copy);
        free(layers);
        cg_set_error(CG_ERR_NOMEM, "cg_model_spec_clone: out of memory");
        return NULL;
    }
    *copy = *spec;
    memcpy(layers, spec->layers, spec->n_layers * sizeof *layers);
    copy->layers = layers;
    return copy;
}

cg_schedule cg_model_spec_schedule(const cg_model_spec *spec, float lr, int64_t epochs)
{
    cg_schedule s = spec->schedule;
    s.base_lr = lr;
    /* Per step, the run's step count is known once the data are: cg_train. */
    if (s.kind == CG_SCHED_COSINE && s.t_max == 0 && !s.per_step)
        s.t_max = epochs - s.warmup > 1 ? epochs - s.warmup : 1;
    return s;
}
