/* Building a model spec from C: the same table, parsers and checks as a
 * model file, one layer at a time, so a spec built in code and one read
 * from a file cannot mean different things. */
#include "modelfile_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cg_model_spec *cg_model_spec_create(int input_ndim, const int64_t *input)
{
    int64_t numel;
    if (!input || input_ndim < 1 || input_ndim > CG_MAX_DIMS - 1) {
        cg_set_error(CG_ERR_ARG, "cg_model_spec_create: the input needs 1 to %d dimensions",
                     CG_MAX_DIMS - 1);
        return NULL;
    }
    for (int i = 0; i < input_ndim; i++)
        if (input[i] < 1) {
            cg_set_error(CG_ERR_ARG, "cg_model_spec_create: input dimension %d is %lld", i,
                         (long long)input[i]);
            return NULL;
        }
    if (!cg__shape_numel(input_ndim, input, &numel)) {
        cg_set_error(CG_ERR_ARG, "cg_model_spec_create: the input's size overflows");
        return NULL;
    }
    cg_model_spec *spec = calloc(1, sizeof *spec);
    if (!spec) {
        cg_set_error(CG_ERR_NOMEM, "cg_model_spec_create: out of memory");
        return NULL;
    }
    spec->input_ndim = input_ndim;
    memcpy(spec->input, input, (size_t)input_ndim * sizeof *input);
    cg__spec_set_defaults(spec);
    return spec;
}

static cJSON *parse_json(const char *text, const char *what)
{
    cJSON *v = text ? cJSON_Parse(text) : NULL;
    if (!v) cg_set_error(CG_ERR_FORMAT, "%s: invalid JSON", what);
    return v;
}

cg_status cg_model_spec_add_layer(cg_model_spec *spec, const char *layer_json)
{
    if (!spec) return cg_set_error(CG_ERR_ARG, "cg_model_spec_add_layer: spec is NULL");
    cg_json_path p = {.len = 0};
    snprintf(p.text, sizeof p.text, "layers[%zu]", spec->n_layers);
    p.len = strlen(p.text);
    cJSON *obj = parse_json(layer_json, p.text);
    if (!obj) return CG_ERR_FORMAT;
    cg_status s = cg__spec_add_layer(spec, obj, &p, NULL);
    cJSON_Delete(obj);
    return s;
}

cg_status cg_model_spec_add_layerf(cg_model_spec *spec, const char *fmt, ...)
{
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    int n = fmt ? vsnprintf(NULL, 0, fmt, ap) : -1;
    va_end(ap);
    char *text = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (text) vsnprintf(text, (size_t)n + 1, fmt, again);
    va_end(again);
    if (!text)
        return cg_set_error(n < 0 ? CG_ERR_ARG : CG_ERR_NOMEM, "cg_model_spec_add_layerf: %s",
                            n < 0 ? "bad format" : "out of memory");
    cg_status s = cg_model_spec_add_layer(spec, text);
    free(text);
    return s;
}

cg_status cg_model_spec_set(cg_model_spec *spec, const char *section, const char *value_json)
{
    if (!spec || !section) return cg_set_error(CG_ERR_ARG, "cg_model_spec_set: NULL argument");
    cJSON *value = parse_json(value_json, section);
    if (!value) return CG_ERR_FORMAT;
    cJSON *root = cJSON_CreateObject();
    if (!root || !cJSON_AddItemToObject(root, section, value)) {
        cJSON_Delete(value);
        cJSON_Delete(root);
        return cg_set_error(CG_ERR_NOMEM, "cg_model_spec_set: out of memory");
    }
    cg_json_path p = {.len = 0};
    cg_model_spec trial = *spec;  /* a failed set leaves the spec as it was */
    cg_status s = cg__spec_parse_section(root, &p, &trial, section);
    cJSON_Delete(root);
    if (s == CG_OK) *spec = trial;
    return s;
}

cg_status cg_model_spec_check(const cg_model_spec *spec)
{
    if (!spec) return cg_set_error(CG_ERR_ARG, "cg_model_spec_check: spec is NULL");
    cg_status s = cg__spec_check_graph(spec);
    cg_json_path p = {.text = "loss", .len = 4};
    if (s == CG_OK) s = cg__spec_check_loss(spec, &p);
    if (s == CG_OK) s = cg_model_spec_check_memory(spec, spec->train.batch);
    return s;
}
