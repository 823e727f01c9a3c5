/* The layer table: every layer type, by model-file name. Adding a type is a
 * new file in this folder and one line here. */
#include "layer.h"

#include <stdio.h>
#include <strings.h>

static const cg_layer_type *const table[] = {
    &cg__layer_dense,
    &cg__layer_dropout,
    &cg__layer_flatten,
    &cg__layer_activation,
    &cg__layer_add,
    &cg__layer_concat,
    &cg__layer_batchnorm,
    &cg__layer_layernorm,
    &cg__layer_conv2d,
    &cg__layer_maxpool2d,
    &cg__layer_avgpool2d,
    &cg__layer_global_avgpool,
    &cg__layer_dropout2d,
    &cg__layer_embedding,
    &cg__layer_rnn,
    &cg__layer_lstm,
    &cg__layer_gru,
    &cg__layer_attention,
    &cg__layer_position_embedding,
    &cg__layer_normalize,
};

#define N_TYPES (sizeof table / sizeof table[0])

size_t cg_layer_type_count(void) { return N_TYPES; }

const cg_layer_type *cg_layer_type_at(size_t i) { return i < N_TYPES ? table[i] : NULL; }

static bool answers_to(const cg_layer_type *t, const char *name)
{
    if (strcasecmp(t->name, name) == 0) return true;
    for (const char *const *a = t->aliases; a && *a; a++)
        if (strcasecmp(*a, name) == 0) return true;
    return false;
}

const cg_layer_type *cg_layer_type_find(const char *name)
{
    for (size_t i = 0; name && i < N_TYPES; i++)
        if (answers_to(table[i], name)) return table[i];
    return NULL;
}

const char *cg_layer_type_name(const cg_layer_type *type) { return type ? type->name : "unknown"; }

const char *cg_layer_describe(const cg_layer_spec *layer, char *buf, size_t size)
{
    if (!buf || size == 0) return buf;
    if (!layer || !layer->type)
        snprintf(buf, size, "unknown");
    else
        layer->type->describe(layer, buf, size);
    return buf;
}

bool cg_layer_learns_from_data(const cg_layer_spec *layer)
{
    return layer && layer->type && layer->type->adapt;
}
