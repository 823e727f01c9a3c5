/* What the rnn, lstm and gru layer types share (recurrent.c): their keys,
 * stacking, both directions, dropout between stacked layers and the choice
 * between every step's output and the last one. Each type's file only
 * names its cell. Not installed. */
#ifndef CG_RECURRENT_H
#define CG_RECURRENT_H

#include "layer.h"

/* Stacked layers a model file may ask for. */
#define CG_RECURRENT_MAX_LAYERS 8

typedef struct cg_recurrent_config {
    cg_rnn_cell cell;
    int64_t units;
    int64_t num_layers;
    bool bidirectional;
    bool bias;
    bool return_sequences;    /* false: only the last step's output, [dirs·units] */
    float dropout;            /* between stacked layers, training only */
    bool stateful;            /* carry h (and c) from each batch to the next, detached */
} cg_recurrent_config;
CG_LAYER_CONFIG_FITS(cg_recurrent_config);

/* Parameters of layer k, direction d: weight_ih, weight_hh, bias_ih, bias_hh. */
/* The state a stateful layer carries between batches: h (and the LSTM's
 * c) of every stacked layer for `rows` rows; `live` false means zeros. */
typedef struct cg_recurrent_carry {
    float *values;            /* [num_layers][2: h, c][rows][units] */
    int64_t rows;
    bool live;
} cg_recurrent_carry;

typedef struct cg_recurrent_state {
    cg_tensor *w[CG_RECURRENT_MAX_LAYERS][2][4];
    cg_recurrent_carry *carry;   /* stateful layers only */
} cg_recurrent_state;

extern const char *const cg__recurrent_keys[];

/* Reads the shared keys (and rnn's "nonlinearity") of a layer whose cell is `cell`. */
cg_status cg__recurrent_parse(const cJSON *obj, cg_json_path *p, cg_rnn_cell cell,
                              cg_layer_spec *l);
/* [T, F] -> [T, dirs·units] or [dirs·units]. */
cg_status cg__recurrent_infer(cg_layer_spec *l, cg_json_path *p);
void cg__recurrent_write(cg_json_writer *w, cJSON *obj, const cg_layer_spec *l);
void cg__recurrent_describe(const cg_layer_spec *l, char *buf, size_t size);
int64_t cg__recurrent_scratch_floats(const cg_layer_spec *l);
/* PyTorch's names (weight_ih_l0, ..._reverse), layout and U(−1/√H, 1/√H). */
cg_status cg__recurrent_build(cg_layer_build *b, const cg_layer_spec *l, void *state);
cg_tensor *cg__recurrent_forward(cg_ctx *ctx, const cg_layer_spec *l, const void *state,
                                 cg_tensor *const *x, int n);
bool cg__recurrent_is_stateful(const cg_layer_spec *l);
void cg__recurrent_reset(void *state);
void cg__recurrent_release(void *state);

#endif
