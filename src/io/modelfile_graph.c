/* Model files: the "layers" array. Each entry is parsed by its type's
 * table entry (nn/layers/); this file handles what every layer has — its
 * "type", "name" and "inputs" — and so how layers connect into a graph.
 *
 * A layer without "inputs" takes the previous layer's output (the model's
 * input for the first), so a plain list means a chain, as it always did.
 * Inputs may only name earlier layers: the file order is then a topological
 * order and the forward pass runs in it. */
#include "modelfile_internal.h"
#include "layer.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const common_keys[] = {"type", "name", "inputs", NULL};

/* The type names a file may use; a type with aliases (the activation
 * layer) is written by them. */
static void type_names(char *list, size_t size)
{
    list[0] = '\0';
    for (size_t i = 0; i < cg_layer_type_count(); i++) {
        const cg_layer_type *type = cg_layer_type_at(i);
        const char *const own[] = {type->name, NULL};
        for (const char *const *n = type->aliases ? type->aliases : own; *n; n++)
            snprintf(list + strlen(list), size - strlen(list), "%s%s", list[0] ? ", " : "", *n);
    }
}

static const cg_layer_type *find_type(const cJSON *obj, cg_json_path *p, const char **type_name)
{
    char list[512];
    if (cg__json_read_string(obj, "type", p, type_name) != CG_OK) return NULL;
    if (!*type_name) {
        type_names(list, sizeof list);
        cg__json_fail(p, "missing \"type\" (one of: %s)", list);
        return NULL;
    }
    const cg_layer_type *t = cg_layer_type_find(*type_name);
    if (t) return t;
    type_names(list, sizeof list);
    size_t mark = cg__json_key(p, "type");
    if (strcmp(*type_name, "softmax") == 0)
        cg__json_fail(p, "%s", CG__SOFTMAX_REFUSED);
    else
        cg__json_fail(p, "unknown layer type \"%s\" (expected one of: %s)", *type_name, list);
    cg__json_restore(p, mark);
    return NULL;
}

/* ------------------------------------------------------------ names */

static bool valid_name(const char *s)
{
    if (!*s || strlen(s) >= CG_LAYER_NAME_MAX) return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-') return false;
    return true;
}

/* Index of the earlier layer called name, or -1. */
static int find_layer(const cg_model_spec *spec, const char *name)
{
    for (size_t i = 0; i < spec->n_layers; i++)
        if (strcmp(spec->layers[i].name, name) == 0) return (int)i;
    return -1;
}

static cg_status parse_name(const cJSON *obj, cg_json_path *p, const cg_model_spec *spec,
                            cg_layer_spec *l)
{
    const char *name;
    cg_status s = cg__json_read_string(obj, "name", p, &name);
    if (s != CG_OK || !name) return s;
    size_t mark = cg__json_key(p, "name");
    if (!valid_name(name))
        s = cg__json_fail(p, "\"%s\" is not a layer name (1 to %d letters, digits, _ or -)", name,
                          CG_LAYER_NAME_MAX - 1);
    else if (strcasecmp(name, "input") == 0)
        s = cg__json_fail(p, "\"%s\" names the model's input; choose another name", name);
    else if (find_layer(spec, name) >= 0)
        s = cg__json_fail(p, "layers[%d] is already named \"%s\"", find_layer(spec, name), name);
    else
        snprintf(l->name, sizeof l->name, "%s", name);
    cg__json_restore(p, mark);
    return s;
}

/* ------------------------------------------------------------ inputs */

/* Position of a later entry of the layers array named name, or -1. */
static int later_index(const cJSON *later, size_t first, const char *name)
{
    size_t i = first;
    for (const cJSON *it = later; it; it = it->next, i++) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(it, "name");
        if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0) return (int)i;
    }
    return -1;
}

static cg_status resolve_input(const cJSON *v, cg_json_path *p, const cg_model_spec *spec,
                               const cJSON *later, const cg_layer_spec *self, int *out)
{
    if (!cJSON_IsString(v)) return cg__json_expected(p, "a layer name or \"input\"", v);
    const char *name = v->valuestring;
    if (strcmp(name, "input") == 0) {
        *out = CG_LAYER_INPUT;
        return CG_OK;
    }
    *out = find_layer(spec, name);
    if (*out >= 0) return CG_OK;
    if (strcmp(self->name, name) == 0)
        return cg__json_fail(p, "\"%s\" is this layer; a layer cannot take its own output", name);
    int ahead = later_index(later, spec->n_layers + 1, name);
    if (ahead >= 0)
        return cg__json_fail(p, "\"%s\" is layers[%d], which comes later; a layer's inputs must "
                                "come before it", name, ahead);
    return cg__json_fail(p, "no earlier layer is named \"%s\" (names: \"input\" for the model's "
                            "input, or an earlier layer's \"name\")", name);
}

static cg_status parse_inputs(const cJSON *obj, cg_json_path *p, const cg_model_spec *spec,
                              const cJSON *later, cg_layer_spec *l)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(obj, "inputs");
    if (!arr) {
        l->n_inputs = 1;
        l->inputs[0] = spec->n_layers ? (int)spec->n_layers - 1 : CG_LAYER_INPUT;
        return CG_OK;
    }
    size_t mark = cg__json_key(p, "inputs");
    int n = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : -1;
    char expected[80];
    snprintf(expected, sizeof expected, "an array of 1 to %d layer names", CG_LAYER_MAX_INPUTS);
    cg_status s = n < 1 || n > CG_LAYER_MAX_INPUTS ? cg__json_expected(p, expected, arr) : CG_OK;
    for (int i = 0; s == CG_OK && i < n; i++) {
        size_t m2 = cg__json_index(p, (size_t)i);
        s = resolve_input(cJSON_GetArrayItem(arr, i), p, spec, later, l, &l->inputs[i]);
        cg__json_restore(p, m2);
    }
    l->n_inputs = n;
    l->explicit_inputs = true;
    cg__json_restore(p, mark);
    return s;
}

static cg_status check_input_count(const cg_layer_spec *l, const char *type_name, cg_json_path *p)
{
    const cg_layer_type *t = l->type;
    if (l->n_inputs >= t->min_inputs && l->n_inputs <= t->max_inputs) return CG_OK;
    size_t mark = cg__json_key(p, "inputs");
    cg_status s;
    if (t->min_inputs == t->max_inputs)
        s = cg__json_fail(p, "%s takes %d input%s, got %d", type_name, t->min_inputs,
                          t->min_inputs == 1 ? "" : "s", l->n_inputs);
    else
        s = cg__json_fail(p, "%s takes %d to %d inputs, got %d (list them in \"inputs\")", type_name,
                          t->min_inputs, t->max_inputs, l->n_inputs);
    cg__json_restore(p, mark);
    return s;
}

static void copy_input_shapes(const cg_model_spec *spec, cg_layer_spec *l)
{
    for (int i = 0; i < l->n_inputs; i++) {
        int src = l->inputs[i];
        l->in_ndim[i] = src == CG_LAYER_INPUT ? spec->input_ndim : spec->layers[src].out_ndim;
        memcpy(l->in_shape[i], src == CG_LAYER_INPUT ? spec->input : spec->layers[src].out_shape,
               sizeof l->in_shape[i]);
    }
}

/* ------------------------------------------------------------ one layer */

static cg_status parse_layer(const cJSON *obj, cg_json_path *p, const cg_model_spec *spec,
                             const cJSON *later, cg_layer_spec *l)
{
    cg_status s = cg__json_require_object(obj, p);
    if (s != CG_OK) return s;
    const char *type_name;
    l->type = find_type(obj, p, &type_name);
    if (!l->type) return cg_last_status();
    if ((s = cg__json_check_keys(obj, p, common_keys, l->type->keys)) != CG_OK) return s;
    if ((s = parse_name(obj, p, spec, l)) != CG_OK) return s;
    if ((s = parse_inputs(obj, p, spec, later, l)) != CG_OK) return s;
    if ((s = check_input_count(l, type_name, p)) != CG_OK) return s;
    if ((s = l->type->parse(obj, p, type_name, l)) != CG_OK) return s;
    copy_input_shapes(spec, l);
    l->out_ndim = 0;
    l->n_params = l->n_buffers = 0;
    s = l->type->infer(l, p);
    return s == CG_OK && l->type->link ? l->type->link(l, spec, p) : s;
}

cg_status cg__spec_add_layer(cg_model_spec *spec, const cJSON *obj, cg_json_path *p,
                             const cJSON *later)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(obj, "type");
    if (cJSON_IsString(type) && strcasecmp(type->valuestring, "transformer_block") == 0)
        return cg__spec_add_block(spec, obj, p);
    cg_layer_spec l;
    memset(&l, 0, sizeof l);
    cg_status s = parse_layer(obj, p, spec, later, &l);
    int64_t params = spec->n_params, buffers = spec->n_buffers;
    if (s == CG_OK && (!cg__checked_add(params, l.n_params, &params) ||
                       !cg__checked_add(buffers, l.n_buffers, &buffers)))
        s = cg__json_fail(p, "the model's parameter count overflows");
    if (s != CG_OK) return s;
    cg_layer_spec *grown = realloc(spec->layers, (spec->n_layers + 1) * sizeof *grown);
    if (!grown) return cg_set_error(CG_ERR_NOMEM, "model file: no memory for %zu layers",
                                    spec->n_layers + 1);
    spec->layers = grown;
    spec->layers[spec->n_layers++] = l;
    spec->n_params = params;
    spec->n_buffers = buffers;
    spec->output_ndim = l.out_ndim;
    memcpy(spec->output, l.out_shape, sizeof spec->output);
    return CG_OK;
}

/* ------------------------------------------------------------ the whole graph */

cg_status cg__spec_check_graph(const cg_model_spec *spec)
{
    cg_json_path p = {.text = "", .len = 0};
    if (spec->n_layers == 0) return cg__json_fail(&p, "the model has no layers");
    bool *used = calloc(spec->n_layers, sizeof *used);
    if (!used) return cg_set_error(CG_ERR_NOMEM, "model file: out of memory");
    for (size_t i = 0; i < spec->n_layers; i++)
        for (int k = 0; k < spec->layers[i].n_inputs; k++)
            if (spec->layers[i].inputs[k] >= 0) used[spec->layers[i].inputs[k]] = true;
    cg_status s = CG_OK;
    for (size_t i = 0; s == CG_OK && i + 1 < spec->n_layers; i++) {
        if (used[i]) continue;
        const char *name = spec->layers[i].name;
        snprintf(p.text, sizeof p.text, "layers[%zu]", i);
        p.len = strlen(p.text);
        s = cg__json_fail(&p, "this layer's output%s%s%s is never used: no later layer takes it "
                              "as input, and the model's output is the last layer's",
                          *name ? " (\"" : "", name, *name ? "\")" : "");
    }
    free(used);
    return s;
}
