/* The layer contract. Each layer type is one file in this folder that fills
 * one cg_layer_type; table.c lists them. Everything that knows about a layer
 * type goes through its entry: the model-file parser and writer
 * (io/modelfile*.c), the memory estimate, the model builder (nn/model.c) and
 * `cgrad info`. See docs/architecture.md for how to add one.
 *
 * A layer's settings live in cg_layer_spec.config as the type's own struct
 * (a flat value: specs are copied with memcpy), its run-time state (the
 * parameter handles, a fused activation) in `state_size` bytes the model
 * allocates for it. Not installed. */
#ifndef CG_LAYER_H
#define CG_LAYER_H

#include "internal.h"
#include "json_read.h"
#include "json_write.h"

#include <assert.h>

/* What a layer's build function gets: where its tensors go and their prefix. */
typedef struct cg_layer_build {
    cg_params *params;
    struct cg_buffers *buffers;
    char prefix[32];          /* "layers.<i>" */
    cg_rng *rng;              /* initialisation stream */
} cg_layer_build;

struct cg_layer_type {
    const char *name;                /* "type" in a model file */
    const char *const *aliases;      /* other type names it answers to; NULL-terminated or NULL */
    const char *const *keys;         /* its own keys besides type, name and inputs */
    int min_inputs, max_inputs;

    /* Reads its keys from obj into l->config, with defaults for absent
     * ones; `type` is the name the file used (an alias picks a variant). */
    cg_status (*parse)(const cJSON *obj, cg_json_path *p, const char *type, cg_layer_spec *l);
    /* Output shape, n_params and n_buffers from l->in_*; fails naming p. */
    cg_status (*infer)(cg_layer_spec *l, cg_json_path *p);
    /* Writes "type" and every one of its keys, defaults included. */
    void (*write)(cg_json_writer *w, cJSON *obj, const cg_layer_spec *l);
    /* One line for `cgrad info`, e.g. "dense 256 relu". */
    void (*describe)(const cg_layer_spec *l, char *buf, size_t size);
    /* Floats per sample a training step keeps beyond the output and its
     * gradient (masks, saved statistics); NULL: none. */
    int64_t (*scratch_floats)(const cg_layer_spec *l);

    size_t state_size;
    /* Adds its parameters and buffers (PyTorch's names, layouts and default
     * initialisation) and fills state; NULL: it has none. */
    cg_status (*build)(cg_layer_build *b, const cg_layer_spec *l, void *state);
    /* True when it is the identity at run time (dropout 0, activation
     * "none"), so the model skips it; NULL: never. */
    bool (*is_identity)(const cg_layer_spec *l);
    /* Takes `next`, whose only input is this layer's output and which is
     * this output's only user, into its own forward (dense absorbs an
     * activation into its GEMM epilogue); NULL: never. */
    bool (*absorb)(void *state, const cg_layer_spec *next);
    /* The layer on a batch: x[0..n) are [N, in_shape...]. In training mode
     * it may update its buffers (batch norm's running statistics) through
     * pointers in its state, so one model is not trained from two threads
     * at once. */
    cg_tensor *(*forward)(cg_ctx *ctx, const cg_layer_spec *l, const void *state,
                          cg_tensor *const *x, int n);
    /* Learns its buffers from the training samples, once before the first
     * step (normalize's mean and variance); only layers that read the
     * model's input have it. NULL: nothing to learn. */
    cg_status (*adapt)(const cg_layer_spec *l, void *state, const cg_dataset *data);
    /* True when it fills in missing input values (NaN), so that a data set
     * may have them; NULL: never. */
    bool (*fills_missing)(const cg_layer_spec *l);
    /* Checks a data set's input values when this layer reads the model's
     * input directly (an embedding's token ids), before training or
     * evaluation starts, naming the sample; NULL: any values. */
    cg_status (*check_input)(const cg_layer_spec *l, const cg_dataset *d);
    /* Layers that carry state from one batch to the next (a stateful
     * recurrent layer): whether this one does, forgetting it (the start of
     * an epoch or of an evaluation), and freeing what the state holds.
     * NULL: never stateful / nothing to forget or free. */
    bool (*is_stateful)(const cg_layer_spec *l);
    void (*reset)(void *state);
    void (*release)(void *state);
    /* After infer, with the earlier layers in spec: resolves references to
     * other layers by name (a dense layer's "tie_to"), failing naming p;
     * NULL: none. */
    cg_status (*link)(cg_layer_spec *l, const cg_model_spec *spec, cg_json_path *p);
};

/* The table (table.c). */
extern const cg_layer_type cg__layer_dense, cg__layer_dropout, cg__layer_flatten,
    cg__layer_activation, cg__layer_add, cg__layer_concat;
extern const cg_layer_type cg__layer_batchnorm, cg__layer_layernorm;
extern const cg_layer_type cg__layer_conv2d;
extern const cg_layer_type cg__layer_maxpool2d, cg__layer_avgpool2d, cg__layer_global_avgpool,
    cg__layer_dropout2d;
extern const cg_layer_type cg__layer_embedding, cg__layer_rnn, cg__layer_lstm, cg__layer_gru;
extern const cg_layer_type cg__layer_attention, cg__layer_position_embedding;
extern const cg_layer_type cg__layer_normalize;

/* A layer's config as its type's struct. */
#define CG_LAYER_CONFIG(l, T) ((T *)(void *)(l)->config.bytes)
#define CG_LAYER_CONFIG_FITS(T) \
    static_assert(sizeof(T) <= CG_LAYER_CONFIG_BYTES, #T " does not fit cg_layer_spec.config")

/* ---- helpers the layer files share ---- */

/* An activation with its parameter (leaky_relu's negative_slope, elu's
 * alpha), as a standalone layer or fused into another. */
typedef struct cg_act_spec {
    cg_activation act;
    float param;
} cg_act_spec;

/* PyTorch's default parameter of act (0.01 slope, 1.0 alpha; 0 otherwise). */
float cg__act_default_param(cg_activation act);
/* Reads "negative_slope" (leaky_relu) or "alpha" (elu) into a->param;
 * either key with another activation is an error. */
cg_status cg__act_read_param(const cJSON *obj, cg_json_path *p, cg_act_spec *a);
/* Writes that key when the activation has one. */
void cg__act_write_param(cg_json_writer *w, cJSON *obj, cg_act_spec a);
/* "relu", "leaky_relu(0.2)". */
void cg__act_text(cg_act_spec a, char *buf, size_t size);
cg_tensor *cg__act_apply(cg_ctx *ctx, cg_tensor *x, cg_act_spec a);
/* Layers with a fused kernel (dense, conv2d): the kernel applies `kernel`
 * (PyTorch's default slope/alpha only), `after` runs as a separate op. */
void cg__act_split(cg_act_spec a, cg_activation *kernel, cg_act_spec *after);
/* Takes `next` in when it is an activation layer and no activation is set. */
bool cg__act_absorb(cg_activation *kernel, cg_act_spec *after, const cg_layer_spec *next);
/* y, or `after` applied to it. */
cg_tensor *cg__act_after(cg_ctx *ctx, cg_tensor *y, cg_act_spec after);
/* "3" or "3x2" for a [height, width] pair. */
void cg__pair_text(const int64_t v[2], char *buf, size_t size);
/* The activation of a standalone activation layer; false for other layers. */
bool cg__layer_as_activation(const cg_layer_spec *l, cg_act_spec *out);

/* infer for layers whose output has their (first) input's shape. */
cg_status cg__layer_same_shape(cg_layer_spec *l, cg_json_path *p);
/* "[1, 28, 28]" of input i / of the output. */
const char *cg__layer_in_str(const cg_layer_spec *l, int i, char *buf, size_t size);

/* A zero-filled buffer "<prefix>.<name>" (float32 or int64), saved in
 * checkpoints and never seen by the optimizer; NULL with the error set. */
void *cg__layer_buffer(cg_layer_build *b, const char *name, cg_dtype dtype, int ndim,
                       const int64_t *shape);

#endif
