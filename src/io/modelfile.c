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
#include "modelfile_internal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Model files are small; anything larger is a mistake (e.g. a data file). */
#define MODEL_FILE_MAX_BYTES (16u << 20)
/* cg_linear hands sizes to BLAS as int. */
#define MAX_FEATURES INT32_MAX
/* Integers are exact in a JSON double only up to 2^53. */
#define MAX_JSON_INT 9007199254740992.0

/* ------------------------------------------------------------ names */

static const char *const loss_names[] = {
    [CG_LOSS_CROSS_ENTROPY] = "cross_entropy",
    [CG_LOSS_MSE] = "mse",
    [CG_LOSS_L1] = "l1",
    [CG_LOSS_BCE_WITH_LOGITS] = "bce_with_logits",
};
#define N_LOSSES (sizeof loss_names / sizeof loss_names[0])

static const char *const layer_kind_names[] = {
    [CG_LAYER_DENSE] = "dense",
    [CG_LAYER_DROPOUT] = "dropout",
    [CG_LAYER_FLATTEN] = "flatten",
    [CG_LAYER_ACTIVATION] = "activation",
};

bool cg_loss_from_name(const char *name, cg_loss_kind *out)
{
    for (size_t i = 0; name && i < N_LOSSES; i++) {
        if (strcmp(name, loss_names[i]) == 0) {
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

const char *cg_layer_kind_name(cg_layer_kind kind)
{
    return (unsigned)kind <= CG_LAYER_ACTIVATION ? layer_kind_names[kind] : "unknown";
}

/* ------------------------------------------------------------ JSON paths and errors */

typedef struct json_path {
    char text[256];
    size_t len;
} json_path;

static size_t path_key(json_path *p, const char *key)
{
    size_t old = p->len;
    int n = snprintf(p->text + p->len, sizeof p->text - p->len, "%s%s", p->len ? "." : "", key);
    if (n > 0) p->len = p->len + (size_t)n < sizeof p->text ? p->len + (size_t)n : sizeof p->text - 1;
    return old;
}

static size_t path_index(json_path *p, size_t i)
{
    size_t old = p->len;
    int n = snprintf(p->text + p->len, sizeof p->text - p->len, "[%zu]", i);
    if (n > 0) p->len = p->len + (size_t)n < sizeof p->text ? p->len + (size_t)n : sizeof p->text - 1;
    return old;
}

static void path_restore(json_path *p, size_t len)
{
    p->len = len;
    p->text[len] = '\0';
}

static cg_status fail(const json_path *p, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static cg_status fail(const json_path *p, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return cg_set_error(CG_ERR_FORMAT, "%s: %s", p->len ? p->text : "model file", msg);
}

/* The offending value as the user wrote it (JSON), shortened. */
static const char *describe(const cJSON *v, char *buf, size_t size)
{
    char *text = cJSON_PrintUnformatted(v);
    if (!text) {
        snprintf(buf, size, "a value");
        return buf;
    }
    if (strlen(text) > 40)
        snprintf(buf, size, "%.37s...", text);
    else
        snprintf(buf, size, "%s", text);
    free(text);
    return buf;
}

static cg_status fail_expected(const json_path *p, const char *expected, const cJSON *v)
{
    char got[64];
    return fail(p, "expected %s, got %s", expected, describe(v, got, sizeof got));
}

/* Unknown keys and duplicates are refused: a typo ("unit") would otherwise
 * silently fall back to a default. */
static cg_status check_keys(const cJSON *obj, json_path *p, const char *const *allowed)
{
    for (const cJSON *it = obj->child; it; it = it->next) {
        bool known = false;
        for (const char *const *a = allowed; *a && !known; a++) known = strcmp(*a, it->string) == 0;
        if (!known) {
            char list[256] = "";
            for (const char *const *a = allowed; *a; a++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
                         a == allowed ? "" : ", ", *a);
            return fail(p, "unknown key \"%s\" (expected one of: %s)", it->string, list);
        }
        for (const cJSON *other = it->next; other; other = other->next)
            if (strcmp(other->string, it->string) == 0)
                return fail(p, "key \"%s\" appears twice", it->string);
    }
    return CG_OK;
}

/* ------------------------------------------------------------ typed readers */
/* Each reader leaves *out unchanged when the key is absent (it holds the
 * default) and fails, naming the path, when the value has the wrong type or
 * range. */

static bool is_integer(const cJSON *v)
{
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) && floor(v->valuedouble) == v->valuedouble &&
           fabs(v->valuedouble) <= MAX_JSON_INT;
}

static cg_status int_value(const cJSON *v, json_path *p, int64_t min, int64_t max, int64_t *out)
{
    char expected[96];
    if (min == 1)
        snprintf(expected, sizeof expected, "a positive integer");
    else if (min == 0)
        snprintf(expected, sizeof expected, "an integer >= 0");
    else
        snprintf(expected, sizeof expected, "an integer");
    if (!is_integer(v) || v->valuedouble < (double)min) return fail_expected(p, expected, v);
    if (v->valuedouble > (double)max)
        return fail(p, "%.0f is too large (at most %lld)", v->valuedouble, (long long)max);
    *out = (int64_t)v->valuedouble;
    return CG_OK;
}

static cg_status read_int(const cJSON *obj, const char *key, json_path *p, int64_t min,
                          int64_t max, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) return CG_OK;
    size_t mark = path_key(p, key);
    cg_status s = int_value(v, p, min, max, out);
    path_restore(p, mark);
    return s;
}

typedef struct range {
    double lo, hi;
    bool lo_open, hi_open;
} range;

static const range NONNEG = {0, INFINITY, false, true};
static const range POSITIVE = {0, INFINITY, true, true};
static const range UNIT_OPEN_TOP = {0, 1, false, true};    /* [0, 1) */
static const range UNIT_CLOSED = {0, 1, false, false};     /* [0, 1] */
static const range ANY = {-INFINITY, INFINITY, true, true};

static bool in_range(double x, range r)
{
    if (!isfinite(x)) return false;
    if (r.lo_open ? !(x > r.lo) : !(x >= r.lo)) return false;
    if (r.hi_open ? !(x < r.hi) : !(x <= r.hi)) return false;
    return true;
}

static void range_text(range r, char *buf, size_t size)
{
    if (r.lo == -INFINITY)
        snprintf(buf, size, "a number");
    else if (r.hi == INFINITY)
        snprintf(buf, size, "a number %s %g", r.lo_open ? ">" : ">=", r.lo);
    else
        snprintf(buf, size, "a number in %c%g, %g%c", r.lo_open ? '(' : '[', r.lo, r.hi,
                 r.hi_open ? ')' : ']');
}

static cg_status float_value(const cJSON *v, json_path *p, range r, float *out)
{
    /* Also refuse values that only overflow once narrowed to float. */
    if (!cJSON_IsNumber(v) || !in_range(v->valuedouble, r) || !isfinite((float)v->valuedouble)) {
        char expected[96];
        range_text(r, expected, sizeof expected);
        return fail_expected(p, expected, v);
    }
    *out = (float)v->valuedouble;
    return CG_OK;
}

static cg_status read_float(const cJSON *obj, const char *key, json_path *p, range r, float *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) return CG_OK;
    size_t mark = path_key(p, key);
    cg_status s = float_value(v, p, r, out);
    path_restore(p, mark);
    return s;
}

static cg_status read_bool(const cJSON *obj, const char *key, json_path *p, bool *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) return CG_OK;
    size_t mark = path_key(p, key);
    cg_status s = CG_OK;
    if (!cJSON_IsBool(v))
        s = fail_expected(p, "true or false", v);
    else
        *out = cJSON_IsTrue(v);
    path_restore(p, mark);
    return s;
}

/* A string value, or NULL (absent). */
static cg_status read_string(const cJSON *obj, const char *key, json_path *p, const char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NULL;
    if (!v) return CG_OK;
    if (cJSON_IsString(v)) {
        *out = v->valuestring;
        return CG_OK;
    }
    size_t mark = path_key(p, key);
    cg_status s = fail_expected(p, "a string", v);
    path_restore(p, mark);
    return s;
}

static cg_status require_object(const cJSON *v, json_path *p)
{
    return cJSON_IsObject(v) ? CG_OK : fail_expected(p, "an object", v);
}

/* ------------------------------------------------------------ shapes */

/* Overflow checks (checked_mul, checked_add, shape_numel) live in
 * modelfile_internal.h, shared with the memory estimate. */

static cg_status parse_input(const cJSON *root, json_path *p, cg_model_spec *spec)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "input");
    size_t mark = path_key(p, "input");
    cg_status s = CG_OK;
    const char *expected = "an array of 1 to 5 positive integers (the shape of one sample)";
    int n = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : -1;
    if (!v)
        s = fail(p, "missing (the shape of one sample, e.g. [784] or [1, 28, 28])");
    else if (n < 1 || n > CG_MAX_DIMS - 1)
        s = fail_expected(p, expected, v);
    for (int i = 0; s == CG_OK && i < n; i++) {
        size_t m2 = path_index(p, (size_t)i);
        s = int_value(cJSON_GetArrayItem(v, i), p, 1, INT64_MAX, &spec->input[i]);
        path_restore(p, m2);
    }
    int64_t numel;
    if (s == CG_OK && !shape_numel(n, spec->input, &numel)) s = fail(p, "the shape's size overflows");
    spec->input_ndim = n;
    path_restore(p, mark);
    return s;
}

/* ------------------------------------------------------------ layers */

static cg_status infer_dense(cg_layer_spec *l, json_path *p)
{
    if (l->in_ndim != 1) {
        char shape[128];
        cg_dims_str(l->in_ndim, l->in_shape, shape, sizeof shape);
        return fail(p, "dense needs a flat input, got %s; add {\"type\": \"flatten\"} before it",
                    shape);
    }
    if (l->in_shape[0] > MAX_FEATURES)
        return fail(p, "dense input has %lld features; at most %d are supported",
                    (long long)l->in_shape[0], MAX_FEATURES);
    l->out_ndim = 1;
    l->out_shape[0] = l->units;
    int64_t weights;
    if (!checked_mul(l->units, l->in_shape[0], &weights) ||
        !checked_add(weights, l->bias ? l->units : 0, &l->n_params))
        return fail(p, "the parameter count (%lld x %lld) overflows", (long long)l->units,
                    (long long)l->in_shape[0]);
    return CG_OK;
}

static cg_status infer_shape(cg_layer_spec *l, json_path *p)
{
    l->out_ndim = l->in_ndim;
    memcpy(l->out_shape, l->in_shape, sizeof l->out_shape);
    l->n_params = 0;
    switch (l->kind) {
    case CG_LAYER_DENSE: return infer_dense(l, p);
    case CG_LAYER_FLATTEN:
        l->out_ndim = 1;
        if (!shape_numel(l->in_ndim, l->in_shape, &l->out_shape[0]))
            return fail(p, "the flattened size overflows");
        return CG_OK;
    case CG_LAYER_DROPOUT:
    case CG_LAYER_ACTIVATION: return CG_OK;
    }
    return CG_OK;
}

static cg_status parse_dense(const cJSON *obj, json_path *p, cg_layer_spec *l)
{
    static const char *const keys[] = {"type", "units", "activation", "bias", NULL};
    cg_status s = check_keys(obj, p, keys);
    if (s != CG_OK) return s;
    l->kind = CG_LAYER_DENSE;
    l->bias = true;
    l->activation = CG_ACT_NONE;
    if (!cJSON_GetObjectItemCaseSensitive(obj, "units")) return fail(p, "dense layer needs \"units\"");
    if ((s = read_int(obj, "units", p, 1, MAX_FEATURES, &l->units)) != CG_OK) return s;
    if ((s = read_bool(obj, "bias", p, &l->bias)) != CG_OK) return s;
    const char *act;
    if ((s = read_string(obj, "activation", p, &act)) != CG_OK) return s;
    if (act && !cg_activation_from_name(act, &l->activation)) {
        size_t mark = path_key(p, "activation");
        s = fail(p, "unknown activation \"%s\" (expected none, relu, sigmoid, tanh, leaky_relu, "
                    "elu, gelu or softplus)", act);
        path_restore(p, mark);
    }
    return s;
}

static cg_status parse_dropout(const cJSON *obj, json_path *p, cg_layer_spec *l)
{
    static const char *const keys[] = {"type", "rate", NULL};
    cg_status s = check_keys(obj, p, keys);
    if (s != CG_OK) return s;
    l->kind = CG_LAYER_DROPOUT;
    l->rate = 0.5f; /* torch.nn.Dropout's default */
    return read_float(obj, "rate", p, UNIT_OPEN_TOP, &l->rate);
}

static cg_status parse_activation(const cJSON *obj, json_path *p, cg_layer_spec *l,
                                  cg_activation act)
{
    l->kind = CG_LAYER_ACTIVATION;
    l->activation = act;
    if (act == CG_ACT_LEAKY_RELU) {
        static const char *const keys[] = {"type", "negative_slope", NULL};
        l->act_param = 0.01f;
        cg_status s = check_keys(obj, p, keys);
        return s != CG_OK ? s : read_float(obj, "negative_slope", p, ANY, &l->act_param);
    }
    if (act == CG_ACT_ELU) {
        static const char *const keys[] = {"type", "alpha", NULL};
        l->act_param = 1.0f;
        cg_status s = check_keys(obj, p, keys);
        return s != CG_OK ? s : read_float(obj, "alpha", p, ANY, &l->act_param);
    }
    static const char *const keys[] = {"type", NULL};
    return check_keys(obj, p, keys);
}

static cg_status parse_layer(const cJSON *obj, json_path *p, cg_layer_spec *l)
{
    cg_status s = require_object(obj, p);
    if (s != CG_OK) return s;
    const char *type;
    if ((s = read_string(obj, "type", p, &type)) != CG_OK) return s;
    if (!type) return fail(p, "missing \"type\" (dense, dropout, flatten or an activation)");
    cg_activation act;
    if (strcmp(type, "dense") == 0) return parse_dense(obj, p, l);
    if (strcmp(type, "dropout") == 0) return parse_dropout(obj, p, l);
    if (strcmp(type, "flatten") == 0) {
        static const char *const keys[] = {"type", NULL};
        l->kind = CG_LAYER_FLATTEN;
        return check_keys(obj, p, keys);
    }
    if (cg_activation_from_name(type, &act)) return parse_activation(obj, p, l, act);
    size_t mark = path_key(p, "type");
    s = fail(p, "unknown layer type \"%s\" (expected dense, dropout, flatten, relu, sigmoid, "
                "tanh, leaky_relu, elu, gelu or softplus)", type);
    path_restore(p, mark);
    return s;
}

static cg_status parse_layers(const cJSON *root, json_path *p, cg_model_spec *spec)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "layers");
    size_t mark = path_key(p, "layers");
    cg_status s = CG_OK;
    if (!arr)
        s = fail(p, "missing (the list of layers)");
    else if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0)
        s = fail_expected(p, "a non-empty array of layers", arr);
    if (s != CG_OK) {
        path_restore(p, mark);
        return s;
    }
    size_t n = (size_t)cJSON_GetArraySize(arr);
    spec->layers = calloc(n, sizeof *spec->layers);
    if (!spec->layers) {
        path_restore(p, mark);
        return cg_set_error(CG_ERR_NOMEM, "model file: no memory for %zu layers", n);
    }
    spec->n_layers = n;
    int ndim = spec->input_ndim;
    const int64_t *shape = spec->input;
    size_t i = 0;
    for (const cJSON *it = arr->child; it && s == CG_OK; it = it->next, i++) {
        cg_layer_spec *l = &spec->layers[i];
        size_t m2 = path_index(p, i);
        l->in_ndim = ndim;
        memcpy(l->in_shape, shape, (size_t)ndim * sizeof *shape);
        s = parse_layer(it, p, l);
        if (s == CG_OK) s = infer_shape(l, p);
        if (s == CG_OK && !checked_add(spec->n_params, l->n_params, &spec->n_params))
            s = fail(p, "the model's parameter count overflows");
        ndim = l->out_ndim;
        shape = l->out_shape;
        path_restore(p, m2);
    }
    spec->output_ndim = ndim;
    memcpy(spec->output, shape, (size_t)ndim * sizeof *shape);
    path_restore(p, mark);
    return s;
}

/* ------------------------------------------------------------ loss */

static cg_status check_loss_fits_output(const cg_model_spec *spec, json_path *p)
{
    if (spec->loss != CG_LOSS_CROSS_ENTROPY) return CG_OK;
    char shape[128];
    cg_dims_str(spec->output_ndim, spec->output, shape, sizeof shape);
    if (spec->output_ndim != 1)
        return fail(p, "cross_entropy needs the model's output to be [classes], got %s; add a "
                       "flatten and a dense layer", shape);
    if (spec->output[0] < 2)
        return fail(p, "cross_entropy needs at least 2 output classes, the model outputs %s",
                    shape);
    return CG_OK;
}

static cg_status parse_loss(const cJSON *root, json_path *p, cg_model_spec *spec)
{
    const char *name;
    cg_status s = read_string(root, "loss", p, &name);
    if (s != CG_OK) return s;
    spec->loss = CG_LOSS_CROSS_ENTROPY;
    size_t mark = path_key(p, "loss");
    if (name && !cg_loss_from_name(name, &spec->loss))
        s = fail(p, "unknown loss \"%s\" (expected cross_entropy, mse, l1 or bce_with_logits)",
                 name);
    if (s == CG_OK) s = check_loss_fits_output(spec, p);
    path_restore(p, mark);
    return s;
}

/* ------------------------------------------------------------ optimizer */

static cg_status read_betas(const cJSON *obj, json_path *p, cg_optim_config *c)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "betas");
    if (!v) return CG_OK;
    size_t mark = path_key(p, "betas");
    cg_status s = CG_OK;
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 2)
        s = fail_expected(p, "an array of two numbers in [0, 1)", v);
    float *dst[2] = {&c->beta1, &c->beta2};
    for (int i = 0; s == CG_OK && i < 2; i++) {
        size_t m2 = path_index(p, (size_t)i);
        s = float_value(cJSON_GetArrayItem(v, i), p, UNIT_OPEN_TOP, dst[i]);
        path_restore(p, m2);
    }
    path_restore(p, mark);
    return s;
}

static cg_status read_optim_fields(const cJSON *obj, json_path *p, cg_optim_config *c)
{
    cg_status s;
    if ((s = read_float(obj, "lr", p, POSITIVE, &c->lr)) != CG_OK) return s;
    if ((s = read_float(obj, "weight_decay", p, NONNEG, &c->weight_decay)) != CG_OK) return s;
    if ((s = read_float(obj, "momentum", p, NONNEG, &c->momentum)) != CG_OK) return s;
    if ((s = read_float(obj, "dampening", p, UNIT_CLOSED, &c->dampening)) != CG_OK) return s;
    if ((s = read_bool(obj, "nesterov", p, &c->nesterov)) != CG_OK) return s;
    if ((s = read_betas(obj, p, c)) != CG_OK) return s;
    if ((s = read_float(obj, "eps", p, NONNEG, &c->eps)) != CG_OK) return s;
    if ((s = read_bool(obj, "amsgrad", p, &c->amsgrad)) != CG_OK) return s;
    if ((s = read_float(obj, "alpha", p, UNIT_CLOSED, &c->alpha)) != CG_OK) return s;
    if ((s = read_bool(obj, "centered", p, &c->centered)) != CG_OK) return s;
    if ((s = read_float(obj, "lr_decay", p, NONNEG, &c->lr_decay)) != CG_OK) return s;
    return read_float(obj, "initial_accumulator_value", p, NONNEG, &c->initial_accumulator_value);
}

/* torch.optim's argument names, kind by kind. */
static const char *const *optim_keys(cg_optim_kind kind)
{
    static const char *const sgd[] = {"type", "lr", "momentum", "dampening", "nesterov",
                                      "weight_decay", NULL};
    static const char *const adam[] = {"type", "lr", "betas", "eps", "weight_decay", "amsgrad",
                                       NULL};
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

static cg_status parse_optimizer(const cJSON *root, json_path *p, cg_model_spec *spec)
{
    spec->optim = cg_optim_defaults(CG_OPTIM_ADAM);
    const cJSON *obj = cJSON_GetObjectItemCaseSensitive(root, "optimizer");
    if (!obj) return CG_OK;
    size_t mark = path_key(p, "optimizer");
    cg_status s = require_object(obj, p);
    const char *type = NULL;
    if (s == CG_OK) s = read_string(obj, "type", p, &type);
    cg_optim_kind kind = CG_OPTIM_ADAM;
    if (s == CG_OK && type && !cg_optim_kind_from_name(type, &kind)) {
        size_t m2 = path_key(p, "type");
        s = fail(p, "unknown optimizer \"%s\" (expected sgd, adam, adamw, rmsprop or adagrad)",
                 type);
        path_restore(p, m2);
    }
    if (s == CG_OK) s = check_keys(obj, p, optim_keys(kind));
    if (s == CG_OK) {
        spec->optim = cg_optim_defaults(kind);
        s = read_optim_fields(obj, p, &spec->optim);
    }
    if (s == CG_OK && spec->optim.nesterov &&
        (spec->optim.momentum <= 0.0f || spec->optim.dampening != 0.0f))
        s = fail(p, "nesterov needs momentum > 0 and dampening 0");
    path_restore(p, mark);
    return s;
}

/* ------------------------------------------------------------ schedule */

static const char *const *schedule_keys(cg_schedule_kind kind)
{
    static const char *const constant[] = {"type", "warmup_epochs", "warmup_start_factor", NULL};
    static const char *const step[] = {"type", "step_size", "gamma", "warmup_epochs",
                                       "warmup_start_factor", NULL};
    static const char *const exponential[] = {"type", "gamma", "warmup_epochs",
                                              "warmup_start_factor", NULL};
    static const char *const cosine[] = {"type", "t_max", "eta_min", "warmup_epochs",
                                         "warmup_start_factor", NULL};
    switch (kind) {
    case CG_SCHED_CONSTANT: return constant;
    case CG_SCHED_STEP: return step;
    case CG_SCHED_EXPONENTIAL: return exponential;
    case CG_SCHED_COSINE: return cosine;
    }
    return constant;
}

static cg_schedule schedule_defaults(cg_schedule_kind kind)
{
    /* torch's defaults: StepLR gamma 0.1, LinearLR start_factor 1/3. */
    return (cg_schedule){.kind = kind,
                         .gamma = kind == CG_SCHED_STEP ? 0.1f : 0.95f,
                         .step_size = 1,
                         .warmup_start_factor = 1.0f / 3.0f};
}

static cg_status read_schedule_fields(const cJSON *obj, json_path *p, cg_schedule *s)
{
    cg_status st;
    if ((st = read_int(obj, "warmup_epochs", p, 0, INT32_MAX, &s->warmup)) != CG_OK) return st;
    if ((st = read_float(obj, "warmup_start_factor", p, UNIT_CLOSED, &s->warmup_start_factor)) !=
        CG_OK)
        return st;
    if ((st = read_int(obj, "step_size", p, 1, INT32_MAX, &s->step_size)) != CG_OK) return st;
    if ((st = read_float(obj, "gamma", p, NONNEG, &s->gamma)) != CG_OK) return st;
    if ((st = read_int(obj, "t_max", p, 1, INT32_MAX, &s->t_max)) != CG_OK) return st;
    return read_float(obj, "eta_min", p, NONNEG, &s->eta_min);
}

static cg_status parse_schedule(const cJSON *root, json_path *p, cg_model_spec *spec)
{
    spec->schedule = schedule_defaults(CG_SCHED_CONSTANT);
    const cJSON *obj = cJSON_GetObjectItemCaseSensitive(root, "schedule");
    if (!obj) return CG_OK;
    size_t mark = path_key(p, "schedule");
    cg_status s = require_object(obj, p);
    const char *type = NULL;
    if (s == CG_OK) s = read_string(obj, "type", p, &type);
    cg_schedule_kind kind = CG_SCHED_CONSTANT;
    if (s == CG_OK && type && !cg_schedule_kind_from_name(type, &kind)) {
        size_t m2 = path_key(p, "type");
        s = fail(p, "unknown schedule \"%s\" (expected constant, step, exponential or cosine)",
                 type);
        path_restore(p, m2);
    }
    if (s == CG_OK) s = check_keys(obj, p, schedule_keys(kind));
    if (s == CG_OK) {
        spec->schedule = schedule_defaults(kind);
        s = read_schedule_fields(obj, p, &spec->schedule);
    }
    path_restore(p, mark);
    return s;
}

/* ------------------------------------------------------------ train */

static cg_status parse_train(const cJSON *root, json_path *p, cg_model_spec *spec)
{
    spec->train = (cg_train_config){.epochs = 10, .batch = 64, .seed = 1, .shuffle = true};
    const cJSON *obj = cJSON_GetObjectItemCaseSensitive(root, "train");
    if (!obj) return CG_OK;
    static const char *const keys[] = {"epochs", "batch", "seed", "shuffle", "clip_grad_norm",
                                       NULL};
    size_t mark = path_key(p, "train");
    cg_status s = require_object(obj, p);
    if (s == CG_OK) s = check_keys(obj, p, keys);
    if (s == CG_OK) s = read_int(obj, "epochs", p, 1, INT32_MAX, &spec->train.epochs);
    if (s == CG_OK) s = read_int(obj, "batch", p, 1, INT32_MAX, &spec->train.batch);
    int64_t seed = (int64_t)spec->train.seed;
    if (s == CG_OK) s = read_int(obj, "seed", p, 0, INT64_MAX, &seed);
    spec->train.seed = (uint64_t)seed;
    if (s == CG_OK) s = read_bool(obj, "shuffle", p, &spec->train.shuffle);
    if (s == CG_OK) s = read_float(obj, "clip_grad_norm", p, NONNEG, &spec->train.clip_grad_norm);
    path_restore(p, mark);
    return s;
}

/* ------------------------------------------------------------ top level */

static cg_status parse_root(const cJSON *root, cg_model_spec *spec)
{
    json_path p = {.text = "", .len = 0};
    static const char *const keys[] = {"name", "description", "input", "layers", "loss",
                                       "optimizer", "schedule", "train", NULL};
    if (!cJSON_IsObject(root)) return fail_expected(&p, "a JSON object", root);
    cg_status s = check_keys(root, &p, keys);
    const char *ignored;
    if (s == CG_OK) s = read_string(root, "name", &p, &ignored);
    if (s == CG_OK) s = read_string(root, "description", &p, &ignored);
    if (s == CG_OK) s = parse_input(root, &p, spec);
    if (s == CG_OK) s = parse_layers(root, &p, spec);
    if (s == CG_OK) s = parse_loss(root, &p, spec);
    if (s == CG_OK) s = parse_optimizer(root, &p, spec);
    if (s == CG_OK) s = parse_schedule(root, &p, spec);
    if (s == CG_OK) s = parse_train(root, &p, spec);
    if (s == CG_OK) s = cg_model_spec_check_memory(spec, spec->train.batch);
    return s;
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
    cg_layer_spec *layers = malloc(spec->n_layers * sizeof *layers);
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
    if (s.kind == CG_SCHED_COSINE && s.t_max == 0)
        s.t_max = epochs - s.warmup > 1 ? epochs - s.warmup : 1;
    return s;
}
