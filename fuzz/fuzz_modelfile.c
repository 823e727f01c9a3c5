/* libFuzzer target: arbitrary bytes as a JSON model file, graph form
 * included (names, inputs, add, concat). A spec that parses must pass the
 * whole-model check, describe every layer, and survive the round trip
 * through its canonical JSON unchanged (the text checkpoints store); a
 * refusal must come with a message. */
#include "cgrad.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    cg_model_spec *spec = NULL;
    cg_status s = cg_model_spec_parse(text, &spec);
    free(text);
    if (s != CG_OK) {
        if (spec || cg_last_error()[0] == '\0') __builtin_trap();
        return 0;
    }
    if (cg_model_spec_check(spec) != CG_OK) __builtin_trap();
    for (size_t i = 0; i < spec->n_layers; i++) {
        char text[128];
        const cg_layer_spec *l = &spec->layers[i];
        cg_layer_describe(l, text, sizeof text);
        for (int k = 0; k < l->n_inputs; k++)
            if (l->inputs[k] >= (int)i || l->inputs[k] < CG_LAYER_INPUT) __builtin_trap();
    }
    char *canonical = cg_model_spec_to_json(spec);
    if (!canonical) __builtin_trap();
    cg_model_spec *again = NULL;
    if (cg_model_spec_parse(canonical, &again) != CG_OK) __builtin_trap();
    char *twice = cg_model_spec_to_json(again);
    if (!twice || strcmp(canonical, twice) != 0) __builtin_trap();
    free(twice);
    free(canonical);
    cg_model_spec_free(again);
    cg_model_spec_free(spec);
    return 0;
}
