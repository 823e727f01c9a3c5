/* Model files: "transformer_block", a convenience that is not a layer type
 * but expands, where it stands, into the layers of a pre-norm Transformer
 * block (GPT-2's), in the graph form:
 *
 *   NAME_ln1 layernorm      NAME_ln2  layernorm
 *   NAME_attn attention     NAME_fc   dense mlp, activation (gelu)
 *  [NAME_drop1 dropout]     NAME_proj dense D
 *   NAME_res add (x, attn) [NAME_drop2 dropout]
 *                           NAME     add (NAME_res, proj)
 *
 * so `cgrad info`, checkpoints and the model file written back show (and
 * name) the parts, and later layers take the block's output by its name.
 * A block without "name" is called "block<i>" (i: its first layer's index);
 * when its input is an unnamed layer, that layer is named NAME_in so the
 * residual add can refer to it. */
#include "modelfile_internal.h"
#include "layer.h"

#include <stdio.h>
#include <string.h>

static const char *const block_keys[] = {"type", "name", "inputs", "heads", "causal", "dropout",
                                         "mlp", "activation", "eps", "tile", NULL};

/* Index of the block's input: its one "inputs" name, or the previous layer. */
static cg_status block_input(const cJSON *obj, cg_json_path *p, const cg_model_spec *spec, int *x)
{
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(obj, "inputs");
    *x = spec->n_layers ? (int)spec->n_layers - 1 : CG_LAYER_INPUT;
    if (!in) return CG_OK;
    size_t mark = cg__json_key(p, "inputs");
    cg_status s = CG_OK;
    const cJSON *name = cJSON_GetArrayItem(in, 0);
    if (!cJSON_IsArray(in) || cJSON_GetArraySize(in) != 1 || !cJSON_IsString(name)) {
        s = cg__json_expected(p, "an array of one layer name", in);
    } else if (strcmp(name->valuestring, "input") == 0) {
        *x = CG_LAYER_INPUT;
    } else {
        *x = -2;
        for (size_t i = 0; i < spec->n_layers; i++)
            if (strcmp(spec->layers[i].name, name->valuestring) == 0) *x = (int)i;
        if (*x == -2)
            s = cg__json_fail(p, "no earlier layer is named \"%s\"", name->valuestring);
    }
    cg__json_restore(p, mark);
    return s;
}

/* Copies key from the block to the part when the block has it. */
static void pass_on(cJSON *part, const cJSON *block, const char *key, const char *as)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(block, key);
    if (v) cJSON_AddItemToObject(part, as ? as : key, cJSON_Duplicate(v, true));
}

/* {"type": type, "name": "<prefix>_<suffix>" (or prefix), "inputs": [a, b]} */
static cJSON *part(const char *type, const char *prefix, const char *suffix, const char *a,
                   const char *b)
{
    char name[2 * CG_LAYER_NAME_MAX];
    snprintf(name, sizeof name, "%s%s%s", prefix, *suffix ? "_" : "", suffix);
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "type", type);
    cJSON_AddStringToObject(o, "name", name);
    cJSON *in = cJSON_AddArrayToObject(o, "inputs");
    if (in && a) cJSON_AddItemToArray(in, cJSON_CreateString(a));
    if (in && b) cJSON_AddItemToArray(in, cJSON_CreateString(b));
    return o;
}

/* Adds one part; the name of what it made is written to made. */
static cg_status add_part(cg_model_spec *spec, cJSON *o, cg_json_path *p, char *made)
{
    if (!o) return cg_set_error(CG_ERR_NOMEM, "transformer_block: out of memory");
    cg_status s = cg__spec_add_layer(spec, o, p, NULL);
    if (s == CG_OK) snprintf(made, CG_LAYER_NAME_MAX, "%s", spec->layers[spec->n_layers - 1].name);
    cJSON_Delete(o);
    return s;
}

static cg_status add_parts(cg_model_spec *spec, const cJSON *obj, cg_json_path *p,
                           const char *name, const char *x, int64_t D)
{
    char ln1[CG_LAYER_NAME_MAX], attn[CG_LAYER_NAME_MAX], res[CG_LAYER_NAME_MAX];
    char ln2[CG_LAYER_NAME_MAX], fc[CG_LAYER_NAME_MAX], mlp[CG_LAYER_NAME_MAX];
    const cJSON *drop = cJSON_GetObjectItemCaseSensitive(obj, "dropout");
    const bool dropout = drop && (!cJSON_IsNumber(drop) || drop->valuedouble != 0.0);
    cJSON *o = part("layernorm", name, "ln1", x, NULL);
    if (o) cJSON_AddNumberToObject(o, "normalized_shape", (double)D);
    pass_on(o, obj, "eps", NULL);
    cg_status s = add_part(spec, o, p, ln1);
    if (s == CG_OK) {
        o = part("attention", name, "attn", ln1, NULL);
        pass_on(o, obj, "heads", NULL);
        pass_on(o, obj, "causal", NULL);
        pass_on(o, obj, "dropout", NULL);
        pass_on(o, obj, "tile", NULL);
        s = add_part(spec, o, p, attn);
    }
    if (s == CG_OK && dropout) {
        o = part("dropout", name, "drop1", attn, NULL);
        pass_on(o, obj, "dropout", "rate");
        s = add_part(spec, o, p, attn);
    }
    if (s == CG_OK) s = add_part(spec, part("add", name, "res", x, attn), p, res);
    if (s == CG_OK) {
        o = part("layernorm", name, "ln2", res, NULL);
        if (o) cJSON_AddNumberToObject(o, "normalized_shape", (double)D);
        pass_on(o, obj, "eps", NULL);
        s = add_part(spec, o, p, ln2);
    }
    if (s == CG_OK) {
        int64_t hidden = 4 * D;
        s = cg__json_read_int(obj, "mlp", p, 1, INT32_MAX, &hidden);
        o = s == CG_OK ? part("dense", name, "fc", ln2, NULL) : NULL;
        if (o) cJSON_AddNumberToObject(o, "units", (double)hidden);
        if (o && !cJSON_GetObjectItemCaseSensitive(obj, "activation"))
            cJSON_AddStringToObject(o, "activation", "gelu");
        if (o) pass_on(o, obj, "activation", NULL);
        if (s == CG_OK) s = add_part(spec, o, p, fc);
    }
    if (s == CG_OK) {
        o = part("dense", name, "proj", fc, NULL);
        if (o) cJSON_AddNumberToObject(o, "units", (double)D);
        s = add_part(spec, o, p, mlp);
    }
    if (s == CG_OK && dropout) {
        o = part("dropout", name, "drop2", mlp, NULL);
        pass_on(o, obj, "dropout", "rate");
        s = add_part(spec, o, p, mlp);
    }
    char out[CG_LAYER_NAME_MAX];
    return s == CG_OK ? add_part(spec, part("add", name, "", res, mlp), p, out) : s;
}

cg_status cg__spec_add_block(cg_model_spec *spec, const cJSON *obj, cg_json_path *p)
{
    cg_status s = cg__json_check_keys(obj, p, block_keys, NULL);
    const char *given = NULL;
    if (s == CG_OK) s = cg__json_read_string(obj, "name", p, &given);
    int x = CG_LAYER_INPUT;
    if (s == CG_OK) s = block_input(obj, p, spec, &x);
    if (s != CG_OK) return s;
    if (!cJSON_GetObjectItemCaseSensitive(obj, "heads"))
        return cg__json_fail(p, "transformer_block needs \"heads\"");
    char name[CG_LAYER_NAME_MAX], xname[CG_LAYER_NAME_MAX];
    if (given && strlen(given) > CG_LAYER_NAME_MAX - 8)
        return cg__json_fail(p, "a block's name may have at most %d characters (its parts "
                                "add a suffix)", CG_LAYER_NAME_MAX - 8);
    if (given)
        snprintf(name, sizeof name, "%s", given);
    else
        snprintf(name, sizeof name, "block%zu", spec->n_layers);
    const int ndim = x == CG_LAYER_INPUT ? spec->input_ndim : spec->layers[x].out_ndim;
    const int64_t *shape = x == CG_LAYER_INPUT ? spec->input : spec->layers[x].out_shape;
    if (ndim != 2) {
        char dims[128];
        return cg__json_fail(p, "transformer_block needs a per-sample [time, features] input, "
                                "got %s", cg_dims_str(ndim, shape, dims, sizeof dims));
    }
    if (x != CG_LAYER_INPUT && !spec->layers[x].name[0])
        snprintf(spec->layers[x].name, CG_LAYER_NAME_MAX, "%.*s_in", CG_LAYER_NAME_MAX - 8, name);
    snprintf(xname, sizeof xname, "%s", x == CG_LAYER_INPUT ? "input" : spec->layers[x].name);
    return add_parts(spec, obj, p, name, xname, shape[1]);
}
