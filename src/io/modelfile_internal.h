/* What the model-file sources share: modelfile.c parses the top level and
 * the sections, modelfile_graph.c the layers and how they connect,
 * modelfile_build.c builds a spec from C, modelfile_write.c writes one back,
 * modelfile_memory.c estimates training memory. Not installed. */
#ifndef CGRAD_MODELFILE_INTERNAL_H
#define CGRAD_MODELFILE_INTERNAL_H

#include "internal.h"
#include "json_read.h"

/* Appends the layer described by obj (a "layers" entry) to spec, p being
 * its path ("layers[i]"): common keys (type, name, inputs) here, the rest by
 * its type's table entry, then its shapes. `later` (may be NULL) is the
 * next entry of the same array, so that an input naming a later layer is
 * told apart from an unknown one. */
/* Expands a "transformer_block" entry into its layers (modelfile_block.c). */
cg_status cg__spec_add_block(cg_model_spec *spec, const cJSON *obj, cg_json_path *p);
cg_status cg__spec_add_layer(cg_model_spec *spec, const cJSON *obj, cg_json_path *p,
                             const cJSON *later);
/* Every layer's output is used by a later layer, except the last one's. */
cg_status cg__spec_check_graph(const cg_model_spec *spec);

/* The model file's defaults for loss, optimizer, schedule and training. */
void cg__spec_set_defaults(cg_model_spec *spec);
/* Parses one top-level section of root ("loss", "optimizer", "schedule",
 * "train", "name", "description") into spec. */
cg_status cg__spec_parse_section(const cJSON *root, cg_json_path *p, cg_model_spec *spec,
                                 const char *section);
/* The loss fits the model's output (cross_entropy needs [classes >= 2]). */
cg_status cg__spec_check_loss(const cg_model_spec *spec, cg_json_path *p);

#endif
