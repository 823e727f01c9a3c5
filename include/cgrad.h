/*
 * cgrad — neural networks trained by backpropagation, in C11.
 *
 * The whole public API. Conventions:
 *  - Every name starts with cg_ / CG_.
 *  - Functions that can fail return cg_status (CG_OK == 0) or a pointer that is
 *    NULL on failure; in both cases cg_last_error() holds a message naming the
 *    problem. The library never calls exit() or abort() on user input.
 *  - Op functions (cg_add, cg_matmul, ...) accept NULL inputs and return NULL,
 *    so a whole forward pass can be written without checks and the first
 *    error is reported once at the end.
 *  - Tensors are float32, contiguous, row-major, rank 0..CG_MAX_DIMS.
 *  - Activations and gradients of one step live in the context's arena and
 *    are released together by cg_ctx_reset(); parameters live in cg_params.
 */
#ifndef CGRAD_H
#define CGRAD_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CG_VERSION_MAJOR 0
#define CG_VERSION_MINOR 1
#define CG_VERSION_PATCH 0
#define CG_VERSION_STRING "0.1.0"

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */

typedef enum cg_status {
    CG_OK = 0,
    CG_ERR_ARG,         /* bad argument: wrong shape, out-of-range value, NULL */
    CG_ERR_NOMEM,       /* an allocation failed or would be too large */
    CG_ERR_IO,          /* a file could not be opened, read or written */
    CG_ERR_FORMAT,      /* a file or text is malformed or corrupt */
    CG_ERR_NUMERIC,     /* NaN or Inf where a finite value is required */
    CG_ERR_STATE,       /* call made in the wrong state (e.g. backward twice) */
    CG_ERR_INTERRUPTED  /* stopped by a signal */
} cg_status;

/* Message of the most recent failure on this thread ("" if none). */
const char *cg_last_error(void);
/* Short stable name of a status, e.g. "CG_ERR_ARG". */
const char *cg_status_name(cg_status status);
/* Set the thread's error message (printf-style) and return `status`.
 * Exposed so that programs built on cgrad can report in the same channel. */
cg_status cg_set_error(cg_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Status of the most recent failure on this thread (CG_OK if none). */
cg_status cg_last_status(void);
void cg_clear_error(void);

/* ------------------------------------------------------------------------ */
/* Threads                                                                   */
/* ------------------------------------------------------------------------ */

/* Threads used by cgrad's kernels and by BLAS (one shared OpenMP pool).
 * n <= 0 means OMP_NUM_THREADS when it is set to a count, else the number
 * of cores. */
void cg_set_num_threads(int n);
int cg_get_num_threads(void);

/* ------------------------------------------------------------------------ */
/* Random numbers: PCG32, seeded and reproducible; plain struct so it can be  */
/* saved and restored (checkpoints store it).                                */
/* ------------------------------------------------------------------------ */

typedef struct cg_rng {
    uint64_t state;
    uint64_t inc;
} cg_rng;

void cg_rng_seed(cg_rng *rng, uint64_t seed);
uint32_t cg_rng_u32(cg_rng *rng);
/* Uniform in [0, n) without modulo bias; n >= 1. */
uint32_t cg_rng_below(cg_rng *rng, uint32_t n);
/* Uniform float in [0, 1). */
float cg_rng_uniform(cg_rng *rng);
/* Standard normal (Box-Muller). */
float cg_rng_normal(cg_rng *rng);
/* Fisher-Yates shuffle of idx[0..n). */
void cg_rng_shuffle(cg_rng *rng, int64_t *idx, int64_t n);

/* ------------------------------------------------------------------------ */
/* Tensors                                                                   */
/* ------------------------------------------------------------------------ */

#define CG_MAX_DIMS 6

struct cg_node;

typedef struct cg_tensor {
    float *data;             /* size floats, row-major */
    float *grad;             /* NULL until a gradient is produced */
    int64_t shape[CG_MAX_DIMS];
    int ndim;
    int64_t size;            /* product of shape (1 for rank 0) */
    bool requires_grad;
    /* Internal bookkeeping; read-only for users. */
    bool grad_written;       /* grad holds a value of this accumulation round */
    bool owns_data;          /* heap tensor that frees data */
    struct cg_node *node;    /* op that produced it (NULL for leaves) */
    const char *name;        /* parameter name, or NULL */
} cg_tensor;

/* Heap tensor (zero-filled), independent of any context. Free with cg_tensor_free. */
cg_tensor *cg_tensor_create(int ndim, const int64_t *shape);
void cg_tensor_free(cg_tensor *t);
/* Writes "[2, 3, 4]" into buf (truncated to fit); returns buf. */
const char *cg_shape_str(const cg_tensor *t, char *buf, size_t bufsize);
/* The same for a shape given as ndim dimensions. */
const char *cg_dims_str(int ndim, const int64_t *dims, char *buf, size_t bufsize);
bool cg_tensor_same_shape(const cg_tensor *a, const cg_tensor *b);
/* Marks a tensor as a leaf whose gradient is wanted (e.g. an input). */
void cg_tensor_set_requires_grad(cg_tensor *t, bool requires_grad);
/* Starts a new accumulation round for a leaf's gradient (the next backward
 * overwrites it); cg_params_zero_grad does this for every parameter. */
void cg_tensor_zero_grad(cg_tensor *t);

/* ------------------------------------------------------------------------ */
/* Context: arena for one step's tensors, the tape of recorded ops, mode.    */
/* ------------------------------------------------------------------------ */

typedef struct cg_ctx cg_ctx;

/* arena_bytes: initial arena size (0 picks a default); the arena grows as a
 * step needs and keeps its size across resets, so a steady-state training
 * loop does not allocate. */
cg_ctx *cg_ctx_create(size_t arena_bytes);
void cg_ctx_destroy(cg_ctx *ctx);
/* Forget all tensors and recorded ops of the current step. */
void cg_ctx_reset(cg_ctx *ctx);
/* Gradient recording on (default) or off (inference: nothing recorded). */
void cg_ctx_set_grad_enabled(cg_ctx *ctx, bool enabled);
bool cg_ctx_grad_enabled(const cg_ctx *ctx);
/* Training mode (dropout active) or evaluation mode (default: training). */
void cg_ctx_set_training(cg_ctx *ctx, bool training);
bool cg_ctx_training(const cg_ctx *ctx);
/* Random stream used by stochastic ops (dropout). */
cg_rng *cg_ctx_rng(cg_ctx *ctx);
/* Bytes of arena in use now / high-water mark / reserved. */
size_t cg_ctx_arena_used(const cg_ctx *ctx);
size_t cg_ctx_arena_peak(const cg_ctx *ctx);
size_t cg_ctx_arena_reserved(const cg_ctx *ctx);
/* Number of ops on the tape. */
size_t cg_ctx_tape_length(const cg_ctx *ctx);

/* ---- profiling: where a training step's time goes ----
 * Attach a profile to a context (or pass it in cg_train_options.profile)
 * and every timed region adds to it: the phases of a training step, each
 * layer type's forward and each op's backward. Off (NULL) costs nothing. */
typedef struct cg_profile cg_profile;
typedef enum cg_profile_phase {
    CG_PHASE_DATA,       /* gathering (and augmenting) the batch */
    CG_PHASE_FORWARD,    /* the model's forward pass */
    CG_PHASE_LOSS,       /* the loss */
    CG_PHASE_BACKWARD,   /* the backward pass */
    CG_PHASE_CHECKS,     /* finiteness of gradients, running metrics */
    CG_PHASE_CLIP,       /* gradient-norm clipping */
    CG_PHASE_OPTIMIZER,  /* the optimizer's update */
    CG_PHASE_SYNC,       /* data-parallel exchanges */
    CG_PHASE_COUNT
} cg_profile_phase;
typedef enum cg_profile_pass { CG_PASS_FORWARD, CG_PASS_BACKWARD } cg_profile_pass;

cg_profile *cg_profile_create(void);
void cg_profile_destroy(cg_profile *p);
/* Times this context's forward layers and backward ops into p (NULL: off). */
void cg_ctx_set_profile(cg_ctx *ctx, cg_profile *p);
/* Steps timed by cg_train; seconds of a phase, or of one layer type
 * (CG_PASS_FORWARD) or op (CG_PASS_BACKWARD) by name, summed over steps. */
int64_t cg_profile_steps(const cg_profile *p);
double cg_profile_phase_seconds(const cg_profile *p, cg_profile_phase phase);
double cg_profile_seconds(const cg_profile *p, cg_profile_pass pass, const char *name);
/* A table per step: phases, then layer types and ops by time. */
cg_status cg_profile_write(const cg_profile *p, FILE *f);

/* Arena tensors: valid until the next cg_ctx_reset. */
cg_tensor *cg_tensor_new(cg_ctx *ctx, int ndim, const int64_t *shape);   /* uninitialised */
cg_tensor *cg_tensor_zeros(cg_ctx *ctx, int ndim, const int64_t *shape);
cg_tensor *cg_tensor_from(cg_ctx *ctx, int ndim, const int64_t *shape, const float *data);
cg_tensor *cg_tensor_scalar(cg_ctx *ctx, float value);

/* ------------------------------------------------------------------------ */
/* Autodiff                                                                  */
/* ------------------------------------------------------------------------ */

/* Reverse-mode differentiation of a scalar (size-1) tensor: gradients of
 * every leaf that requires grad, accumulated into ->grad (they accumulate
 * across calls until cg_params_zero_grad / cg_tensor_zero_grad). Gradient
 * buffers of intermediate tensors are scratch space: ops reuse them during
 * backward, so read gradients of leaves only. */
cg_status cg_backward(cg_ctx *ctx, cg_tensor *loss);
/* Same with an explicit upstream gradient of out's shape (seed->size == out->size). */
cg_status cg_backward_seeded(cg_ctx *ctx, cg_tensor *out, const float *seed);

/* ------------------------------------------------------------------------ */
/* Ops. Each returns a new arena tensor (NULL on error).                     */
/* ------------------------------------------------------------------------ */

#define CG_AXIS_ALL INT32_MIN

/* matmul: [M,K] x [K,N] -> [M,N]; trans_a / trans_b read an operand as its
 * transpose (no copy is made). */
cg_tensor *cg_matmul(cg_ctx *ctx, cg_tensor *a, cg_tensor *b, bool trans_a, bool trans_b);

typedef enum cg_activation {
    CG_ACT_NONE = 0,
    CG_ACT_RELU,
    CG_ACT_SIGMOID,
    CG_ACT_TANH,
    CG_ACT_LEAKY_RELU,  /* negative slope CG_LEAKY_RELU_DEFAULT_SLOPE, as torch.nn.LeakyReLU() */
    CG_ACT_ELU,         /* alpha CG_ELU_DEFAULT_ALPHA */
    CG_ACT_GELU,        /* exact, erf form */
    CG_ACT_SOFTPLUS     /* beta 1, threshold 20 */
} cg_activation;

/* The fixed parameters of CG_ACT_LEAKY_RELU and CG_ACT_ELU (PyTorch's defaults). */
#define CG_LEAKY_RELU_DEFAULT_SLOPE 0.01f
#define CG_ELU_DEFAULT_ALPHA 1.0f

/* Parses "relu", "sigmoid", "tanh", "leaky_relu", "elu", "gelu", "softplus",
 * "none"/"linear"/"identity"; returns false if unknown. */
bool cg_activation_from_name(const char *name, cg_activation *out);
const char *cg_activation_name(cg_activation act);

/* Fused dense op: act(x · wᵀ + b), x [N,in], w [out,in], b [out] or NULL. */
cg_tensor *cg_linear(cg_ctx *ctx, cg_tensor *x, cg_tensor *w, cg_tensor *b, cg_activation act);

/* Settings of cg_conv2d, pairs as {height, width}. Zero stride, dilation and
 * groups mean 1, so (cg_conv2d_params){.padding = {1, 1}} is a 3x3 "pad 1"
 * convolution's. */
typedef struct cg_conv2d_params {
    int64_t stride[2];
    int64_t padding[2];       /* zeros added on both sides */
    /* PyTorch's padding='same' (padding must be {0, 0}, stride 1): pads
     * dilation·(k−1) in all, half before, the odd one after (bottom, right). */
    bool padding_same;
    int64_t dilation[2];
    int64_t groups;           /* in and out channels split into independent groups */
    cg_activation activation; /* fused, with default parameters as cg_linear's */
} cg_conv2d_params;

/* 2-D convolution (torch.nn.functional.conv2d, cross-correlation) of x
 * [N, C, H, W] with weight [O, C/groups, kh, kw] and bias [O] or NULL:
 * act(conv + b), [N, O, OH, OW] with OH = (H + pads − dilation·(kh−1) − 1)
 * / stride + 1 (likewise OW). params NULL: stride 1, no padding. */
cg_tensor *cg_conv2d(cg_ctx *ctx, cg_tensor *x, cg_tensor *weight, cg_tensor *bias,
                     const cg_conv2d_params *params);

/* Elementwise with NumPy broadcasting. */
cg_tensor *cg_add(cg_ctx *ctx, cg_tensor *a, cg_tensor *b);
cg_tensor *cg_sub(cg_ctx *ctx, cg_tensor *a, cg_tensor *b);
cg_tensor *cg_mul(cg_ctx *ctx, cg_tensor *a, cg_tensor *b);
cg_tensor *cg_div(cg_ctx *ctx, cg_tensor *a, cg_tensor *b);
/* Scalar ops. */
cg_tensor *cg_add_scalar(cg_ctx *ctx, cg_tensor *a, float s);
cg_tensor *cg_mul_scalar(cg_ctx *ctx, cg_tensor *a, float s);
cg_tensor *cg_pow_scalar(cg_ctx *ctx, cg_tensor *a, float exponent);
cg_tensor *cg_neg(cg_ctx *ctx, cg_tensor *a);

/* Reductions over one axis (negative counts from the end) or CG_AXIS_ALL. */
cg_tensor *cg_sum(cg_ctx *ctx, cg_tensor *x, int axis, bool keepdim);
cg_tensor *cg_mean(cg_ctx *ctx, cg_tensor *x, int axis, bool keepdim);

/* Shape ops. reshape accepts one -1 dimension to infer. */
cg_tensor *cg_reshape(cg_ctx *ctx, cg_tensor *x, int ndim, const int64_t *shape);
/* [N, d1, d2, ...] -> [N, d1*d2*...] */
cg_tensor *cg_flatten(cg_ctx *ctx, cg_tensor *x);
cg_tensor *cg_concat(cg_ctx *ctx, cg_tensor *const *xs, int n, int axis);
/* Elements start..end-1 along axis. */
cg_tensor *cg_slice(cg_ctx *ctx, cg_tensor *x, int axis, int64_t start, int64_t end);

/* Activations. */
cg_tensor *cg_sigmoid(cg_ctx *ctx, cg_tensor *x);
cg_tensor *cg_tanh(cg_ctx *ctx, cg_tensor *x);
cg_tensor *cg_relu(cg_ctx *ctx, cg_tensor *x);
cg_tensor *cg_leaky_relu(cg_ctx *ctx, cg_tensor *x, float negative_slope);
cg_tensor *cg_elu(cg_ctx *ctx, cg_tensor *x, float alpha);
cg_tensor *cg_gelu(cg_ctx *ctx, cg_tensor *x);
cg_tensor *cg_softplus(cg_ctx *ctx, cg_tensor *x);
cg_tensor *cg_activate(cg_ctx *ctx, cg_tensor *x, cg_activation act);
cg_tensor *cg_softmax(cg_ctx *ctx, cg_tensor *x, int axis);
cg_tensor *cg_log_softmax(cg_ctx *ctx, cg_tensor *x, int axis);

/* Inverted dropout: in training mode zeroes with probability p and scales
 * survivors by 1/(1-p); identity in evaluation mode. */
cg_tensor *cg_dropout(cg_ctx *ctx, cg_tensor *x, float p);
/* Channel dropout (torch.nn.functional.dropout2d): in training mode zeroes
 * each channel x[n, c, ...] of x [N, C, ...] whole with probability p and
 * scales the others by 1/(1-p); identity in evaluation mode. The mask is
 * drawn as cg_dropout's, so it does not depend on the thread count. */
cg_tensor *cg_dropout2d(cg_ctx *ctx, cg_tensor *x, float p);

/* Pooling over H and W of x [N, C, H, W] (torch.nn.functional.max_pool2d /
 * avg_pool2d with ceil_mode=False, dilation 1). kernel, stride and padding
 * are {height, width} pairs; stride NULL means stride = kernel, padding NULL
 * means 0. Padding is implicit: max pooling never picks it (-inf), average
 * pooling counts it as zeros and divides by kh·kw (count_include_pad=True).
 * padding <= kernel/2 and kernel <= the padded input, as PyTorch requires;
 * the output is [N, C, (H + 2ph - kh)/sh + 1, (W + 2pw - kw)/sw + 1].
 * Max pooling's gradient goes to the window's maximum, on ties to the first
 * in row-major order (PyTorch's choice); it keeps argmax indices in the arena. */
cg_tensor *cg_maxpool2d(cg_ctx *ctx, cg_tensor *x, const int64_t kernel[2],
                        const int64_t stride[2], const int64_t padding[2]);
cg_tensor *cg_avgpool2d(cg_ctx *ctx, cg_tensor *x, const int64_t kernel[2],
                        const int64_t stride[2], const int64_t padding[2]);
/* Mean over H and W: [N, C, H, W] -> [N, C] (adaptive_avg_pool2d to 1x1, flattened). */
cg_tensor *cg_global_avgpool(cg_ctx *ctx, cg_tensor *x);

/* Batch normalisation (torch.nn.functional.batch_norm) of x [N,C] or
 * [N,C,*spatial] over N and the spatial dims, per channel (dim 1); weight
 * and bias are [C] or NULL (affine=False). training: normalises by the
 * batch's mean and biased variance, and, when running_mean/running_var
 * ([C] each, or both NULL) are given, moves them towards the batch's mean
 * and unbiased variance by `momentum`, and adds 1 to *num_batches_tracked
 * (may be NULL); N·spatial must exceed 1. Otherwise: normalises by the
 * running statistics, which are required and left unchanged. */
cg_tensor *cg_batch_norm(cg_ctx *ctx, cg_tensor *x, cg_tensor *weight, cg_tensor *bias,
                         float *running_mean, float *running_var, int64_t *num_batches_tracked,
                         float momentum, float eps, bool training);
/* Layer normalisation (torch.nn.functional.layer_norm) of x over its last
 * normalized_ndim dimensions (1 to x->ndim; their sizes are the normalized
 * shape): every slice of that shape is normalised by its own mean and biased
 * variance, y = (x − mean)/√(var + eps)·weight + bias. weight and bias have
 * the normalized shape, or are NULL (elementwise_affine=False). No running
 * statistics: training and evaluation mode compute the same. */
cg_tensor *cg_layer_norm(cg_ctx *ctx, cg_tensor *x, int normalized_ndim, cg_tensor *weight,
                         cg_tensor *bias, float eps);

/* Embedding lookup (torch.nn.functional.embedding): ids of any shape [N, ...]
 * hold token ids as floats, each an integer in [0, vocab) (anything else is
 * an error naming the sample and position); the output is [N, ..., dim],
 * row id of weight [vocab, dim] for each id. Only weight is differentiated. */
cg_tensor *cg_embedding(cg_ctx *ctx, cg_tensor *ids, cg_tensor *weight);

/* Scaled dot-product self-attention, the core of torch.nn.MultiheadAttention
 * between its projections: qkv [N, T, 3·D] holds each step's query, key and
 * value (D = heads·dh; head h at columns h·dh of each), the result [N, T, D]
 * the heads' outputs side by side, softmax(Q·Kᵀ/√dh)·V per head. causal:
 * step i sees keys 0..i. key_mask: NULL or [N, T], nonzero marks a key no
 * query attends to (padding); a query with no key left gets zeros. dropout
 * applies to the attention weights in training mode. tile 0 keeps the
 * weights for backward (N·heads·T² floats); tile > 0 computes the same in
 * blocks of tile queries and keys with an online softmax and recomputes
 * them in backward, so memory stays linear in T. Only qkv is
 * differentiated. */
typedef struct cg_attention_opts {
    int heads;
    bool causal;
    float dropout;
    int tile;
} cg_attention_opts;
cg_tensor *cg_attention(cg_ctx *ctx, cg_tensor *qkv, cg_tensor *key_mask,
                        const cg_attention_opts *opts);

/* Recurrent cells, as torch.nn.RNN (tanh or relu), LSTM (gates i, f, g, o)
 * and GRU (gates r, z, n; r applied to the hidden projection). */
typedef enum cg_rnn_cell { CG_CELL_RNN_TANH, CG_CELL_RNN_RELU, CG_CELL_LSTM, CG_CELL_GRU } cg_rnn_cell;

/* State carried into and out of a sequence (truncated backpropagation
 * through time): h0 and c0 [N, H] start the sequence (NULL: zeros) and are
 * constants, never differentiated; the state after the last step is
 * written to h_n and c_n [N, H] when they are not NULL. c0 and c_n are the
 * LSTM's cell state (ignored for other cells). h_n may alias h0. */
typedef struct cg_rnn_carry {
    const float *h0, *c0;
    float *h_n, *c_n;
} cg_rnn_carry;

/* One recurrent layer in one direction over x [N, T, F] (batch first):
 * w_ih [G·H, F], w_hh [G·H, H], b_ih and b_hh [G·H] or both NULL, with G = 1
 * (rnn), 4 (lstm) or 3 (gru) in PyTorch's layout. Returns y [N, T, H], the
 * hidden state after each step; reverse walks t from T − 1 to 0 (the second
 * direction of a bidirectional layer). carry may be NULL. */
cg_tensor *cg_recurrent(cg_ctx *ctx, cg_rnn_cell cell, cg_tensor *x, cg_tensor *w_ih,
                        cg_tensor *w_hh, cg_tensor *b_ih, cg_tensor *b_hh, bool reverse,
                        const cg_rnn_carry *carry);

/* Losses (mean over all elements / over the batch); each returns a scalar. */
cg_tensor *cg_mse_loss(cg_ctx *ctx, cg_tensor *pred, cg_tensor *target);
cg_tensor *cg_l1_loss(cg_ctx *ctx, cg_tensor *pred, cg_tensor *target);
/* logits [N,C], labels[N] in [0,C): fused log-softmax + NLL, mean over N. */
cg_tensor *cg_cross_entropy(cg_ctx *ctx, cg_tensor *logits, const int32_t *labels);
cg_tensor *cg_bce_with_logits(cg_ctx *ctx, cg_tensor *logits, cg_tensor *target);

/* Op registry: every differentiable op by name (drives tests and tools). */
size_t cg_op_count(void);
const char *cg_op_name(size_t i);

/* ------------------------------------------------------------------------ */
/* Parameters: named tensors whose data and gradients live in two flat       */
/* buffers (one optimizer loop, one checkpoint write, one allreduce).        */
/* ------------------------------------------------------------------------ */

typedef struct cg_params cg_params;

cg_params *cg_params_create(void);
void cg_params_destroy(cg_params *p);
/* Adds a zero-filled parameter; the returned handle stays valid for the
 * lifetime of p (its data pointer may move while parameters are added). */
cg_tensor *cg_params_add(cg_params *p, const char *name, int ndim, const int64_t *shape);
size_t cg_params_count(const cg_params *p);
cg_tensor *cg_params_at(const cg_params *p, size_t i);
cg_tensor *cg_params_find(const cg_params *p, const char *name);
int64_t cg_params_numel(const cg_params *p);
float *cg_params_data(cg_params *p);
float *cg_params_grad(cg_params *p);
/* Starts a new accumulation round: the next backward overwrites gradients. */
void cg_params_zero_grad(cg_params *p);
/* Adds l1·sign(w) + l2·w to every gradient: the gradient of
 * l1·Σ|w| + (l2/2)·Σw² added to the loss. */
void cg_params_regularize(cg_params *p, float l1, float l2);
/* torch.nn.utils.clip_grad_norm_: scales all gradients so their global L2
 * norm is at most max_norm; returns the norm before clipping (NaN with
 * CG_ERR_ARG set when max_norm is not a positive finite number). */
float cg_params_clip_grad_norm(cg_params *p, float max_norm);
/* First parameter whose gradient holds NaN/Inf, or NULL. */
const cg_tensor *cg_params_first_nonfinite_grad(const cg_params *p);

/* ------------------------------------------------------------------------ */
/* Initialisers (PyTorch's torch.nn.init semantics; fan_in = shape[1]·receptive). */
/* ------------------------------------------------------------------------ */

void cg_init_constant(cg_tensor *t, float value);
void cg_init_uniform(cg_tensor *t, float lo, float hi, cg_rng *rng);
void cg_init_normal(cg_tensor *t, float mean, float std, cg_rng *rng);
cg_status cg_init_kaiming_uniform(cg_tensor *t, float a, cg_rng *rng);   /* He, leaky_relu gain */
cg_status cg_init_kaiming_normal(cg_tensor *t, float a, cg_rng *rng);
cg_status cg_init_xavier_uniform(cg_tensor *t, float gain, cg_rng *rng); /* Glorot */
cg_status cg_init_xavier_normal(cg_tensor *t, float gain, cg_rng *rng);
/* fan_in / fan_out as torch.nn.init._calculate_fan_in_and_fan_out. */
cg_status cg_fan_in_out(const cg_tensor *t, int64_t *fan_in, int64_t *fan_out);

/* ------------------------------------------------------------------------ */
/* Layers                                                                    */
/* ------------------------------------------------------------------------ */

/* Dense layer as torch.nn.Linear: weight [out,in], bias [out], default init
 * kaiming_uniform(a=sqrt(5)) and bias U(±1/sqrt(in)). Parameters are named
 * "<prefix>.weight" / "<prefix>.bias". */
typedef struct cg_dense {
    cg_tensor *weight;
    cg_tensor *bias;   /* NULL without bias */
    int64_t in_features;
    int64_t out_features;
    cg_activation activation;
} cg_dense;

cg_status cg_dense_init(cg_dense *layer, cg_params *params, const char *prefix,
                        int64_t in_features, int64_t out_features, bool bias,
                        cg_activation activation, cg_rng *rng);
cg_tensor *cg_dense_forward(cg_ctx *ctx, const cg_dense *layer, cg_tensor *x);

/* ------------------------------------------------------------------------ */
/* Optimizers: torch.optim's exact update rules over a cg_params set.        */
/* ------------------------------------------------------------------------ */

typedef enum cg_optim_kind {
    CG_OPTIM_SGD = 0,
    CG_OPTIM_ADAM,
    CG_OPTIM_ADAMW,
    CG_OPTIM_RMSPROP,
    CG_OPTIM_ADAGRAD
} cg_optim_kind;

typedef struct cg_optim_config {
    cg_optim_kind kind;
    float lr;
    float weight_decay;
    /* SGD, RMSprop */
    float momentum;
    float dampening;                 /* SGD */
    bool nesterov;                   /* SGD */
    /* Adam, AdamW */
    float beta1, beta2;
    float eps;                       /* Adam, AdamW, RMSprop, Adagrad */
    bool amsgrad;
    /* RMSprop */
    float alpha;
    bool centered;
    /* Adagrad */
    float lr_decay;
    float initial_accumulator_value;
    /* Adam, AdamW: CG_NO_DECAY_* flags, parameters weight_decay skips
     * (applied by cg_model_apply_no_decay). */
    unsigned no_decay;
} cg_optim_config;

/* "no_decay": ["bias", "norm"] as GPT recipes group parameters: biases
 * (names ending in "bias") and the parameters of normalisation layers
 * (layernorm, batchnorm) get no weight decay. */
enum { CG_NO_DECAY_BIAS = 1u, CG_NO_DECAY_NORM = 2u };

typedef struct cg_optim cg_optim;

/* torch.optim's defaults for `kind` (lr too: SGD has none in torch, 0.01 here). */
cg_optim_config cg_optim_defaults(cg_optim_kind kind);
bool cg_optim_kind_from_name(const char *name, cg_optim_kind *out);
const char *cg_optim_kind_name(cg_optim_kind kind);
/* The optimizer keeps a pointer to params, which must outlive it. */
cg_optim *cg_optim_create(cg_params *params, const cg_optim_config *config);
void cg_optim_destroy(cg_optim *opt);
cg_status cg_optim_step(cg_optim *opt);
void cg_optim_set_lr(cg_optim *opt, float lr);
float cg_optim_lr(const cg_optim *opt);
const cg_optim_config *cg_optim_get_config(const cg_optim *opt);
/* Steps taken (restored on resume). */
int64_t cg_optim_step_count(const cg_optim *opt);
void cg_optim_set_step_count(cg_optim *opt, int64_t steps);
/* State buffers, each cg_params_numel floats: e.g. "exp_avg", "exp_avg_sq",
 * "momentum_buffer". Enumerated for checkpoints. */
size_t cg_optim_state_count(const cg_optim *opt);
const char *cg_optim_state_name(const cg_optim *opt, size_t i);
float *cg_optim_state_data(cg_optim *opt, size_t i);
/* Exempts one parameter tensor of the optimizer's set from weight decay
 * (torch: a parameter group with weight_decay 0). */
cg_status cg_optim_exempt_decay(cg_optim *opt, const cg_tensor *param);

/* What a callback watches after each epoch (Keras' `monitor`); losses and
 * errors improve downwards, accuracies and R² upwards. */
typedef enum cg_monitor {
    CG_MONITOR_VAL_LOSS = 0,
    CG_MONITOR_VAL_ACCURACY,
    CG_MONITOR_TRAIN_LOSS,
    CG_MONITOR_TRAIN_ACCURACY,
    CG_MONITOR_VAL_MAE,                /* regression */
    CG_MONITOR_VAL_RMSE,
    CG_MONITOR_VAL_R2,
    CG_MONITOR_VAL_TOP_K_ACCURACY,     /* classification, with a top-k setting */
    CG_MONITOR_TRAIN_MAE,
    CG_MONITOR_TRAIN_RMSE,
    CG_MONITOR_TRAIN_R2,
    CG_MONITOR_TRAIN_TOP_K_ACCURACY
} cg_monitor;

/* "val_loss", "val_accuracy", "train_loss", "train_accuracy", "val_mae",
 * "val_rmse", "val_r2", "val_top_k_accuracy" and their "train_" twins (also
 * "loss"/"accuracy" for the training figures, as Keras names them). */
bool cg_monitor_from_name(const char *name, cg_monitor *out);
const char *cg_monitor_name(cg_monitor m);
/* True for the accuracies (bigger is better). */
bool cg_monitor_maximizes(cg_monitor m);
/* Does it need validation data? */
bool cg_monitor_needs_val(cg_monitor m);

/* ReduceLROnPlateau (torch.optim.lr_scheduler's exact rule), which, unlike
 * the closed-form schedules above, has state: fed one metric value per
 * epoch, it multiplies the lr by factor (never below min_lr; a change of at
 * most 1e-8 is skipped) once the metric has not improved for more than
 * `patience` epochs, then ignores `cooldown` epochs. Improvement: rel mode
 * a < best·(1 − threshold) (max: a > best·(1 + threshold)), abs mode
 * a < best − threshold (max: a > best + threshold); NaN never improves. */
typedef struct cg_plateau_config {
    double factor;          /* < 1; torch's default 0.1 */
    int64_t patience;       /* 10 */
    double threshold;       /* 1e-4 */
    bool threshold_abs;     /* false: "rel" */
    int64_t cooldown;       /* 0 */
    double min_lr;          /* 0 */
    bool mode_max;          /* false: "min" */
    cg_monitor monitor;     /* what the training loop feeds it (val_loss) */
} cg_plateau_config;

/* Everything torch's scheduler carries between epochs; checkpoints store it. */
typedef struct cg_plateau_state {
    double lr;              /* the lr in use (a Python float in torch) */
    double best;            /* +Inf (min) or -Inf (max) before the first value */
    int64_t num_bad_epochs;
    int64_t cooldown_counter;
} cg_plateau_state;

/* torch's defaults (above). */
cg_plateau_config cg_plateau_defaults(void);
/* CG_OK, or CG_ERR_ARG naming the bad field (factor outside [0, 1),
 * negative patience, threshold, cooldown or min_lr). */
cg_status cg_plateau_check(const cg_plateau_config *c);
/* The state before the first epoch, with lr as the starting rate. */
cg_plateau_state cg_plateau_start(const cg_plateau_config *c, double lr);
/* One epoch's metric (torch's scheduler.step(metric)); returns the new lr,
 * also left in s->lr. */
double cg_plateau_step(const cg_plateau_config *c, cg_plateau_state *s, double metric);

/* Keras' EarlyStopping: an epoch improves when its value is better than the
 * best so far by more than min_delta; training stops once `patience` epochs
 * in a row have not improved. */
typedef struct cg_early_stop_config {
    int64_t patience;       /* 0: off */
    double min_delta;       /* >= 0 */
    cg_monitor monitor;
    bool restore_best;      /* end with the best epoch's weights */
} cg_early_stop_config;

/* The decision state, stored in checkpoints so that it survives --resume. */
typedef struct cg_early_stop_state {
    double best;            /* +Inf (min) or -Inf (max) before the first value */
    int64_t best_epoch;     /* 1-based; 0 before the first value */
    int64_t wait;           /* epochs since the last improvement */
} cg_early_stop_state;

cg_early_stop_state cg_early_stop_start(const cg_early_stop_config *c);
/* Feeds the value of (1-based) epoch; *improved tells whether it became the
 * best (may be NULL). Returns true when training should stop now. */
bool cg_early_stop_update(const cg_early_stop_config *c, cg_early_stop_state *s, int64_t epoch,
                          double value, bool *improved);

/* Learning-rate schedules, evaluated in closed form at an epoch (or step)
 * index t = 0, 1, ...: an optional linear warm-up (LinearLR from
 * warmup_start_factor to 1 over warmup steps) followed by the main rule. */
typedef enum cg_schedule_kind {
    CG_SCHED_CONSTANT = 0,
    CG_SCHED_STEP,         /* lr·gamma^floor(t/step_size)           (StepLR) */
    CG_SCHED_EXPONENTIAL,  /* lr·gamma^t                     (ExponentialLR) */
    CG_SCHED_COSINE,       /* eta_min + (lr-eta_min)(1+cos(pi t/t_max))/2 */
    CG_SCHED_PLATEAU       /* ReduceLROnPlateau: stateful, driven by a metric
                            * (cg_plateau_step); cg_schedule_lr gives base_lr */
} cg_schedule_kind;

typedef struct cg_schedule {
    cg_schedule_kind kind;
    float base_lr;
    int64_t step_size;      /* STEP */
    float gamma;            /* STEP, EXPONENTIAL */
    int64_t t_max;          /* COSINE: length of the annealing (after warm-up) */
    float eta_min;          /* COSINE */
    int64_t warmup;         /* warm-up length; 0 for none */
    float warmup_start_factor;
    cg_plateau_config plateau; /* PLATEAU */
    /* t counts optimizer steps (the lr changes before every step, as a torch
     * scheduler stepped after every optimizer.step()); false: epochs. warmup
     * and t_max then count steps; a cosine's t_max 0 becomes the run's steps
     * after warm-up. Not for PLATEAU. */
    bool per_step;
} cg_schedule;

bool cg_schedule_kind_from_name(const char *name, cg_schedule_kind *out);
const char *cg_schedule_kind_name(cg_schedule_kind kind);
/* CG_OK, or CG_ERR_ARG naming the bad field (step_size or t_max < 1, negative
 * gamma, warmup < 0, warmup_start_factor outside [0,1], ...). */
cg_status cg_schedule_check(const cg_schedule *s);
/* lr at t (t < 0 counts as 0); NaN, with the error set, if s fails cg_schedule_check. */
float cg_schedule_lr(const cg_schedule *s, int64_t t);

/* ------------------------------------------------------------------------ */
/* safetensors files                                                         */
/* ------------------------------------------------------------------------ */

typedef enum cg_dtype { CG_DTYPE_F32 = 0, CG_DTYPE_I64 } cg_dtype;

typedef struct cg_st_entry {
    const char *name;
    cg_dtype dtype;
    int ndim;
    int64_t shape[CG_MAX_DIMS];
    const void *data;          /* contiguous, little-endian */
} cg_st_entry;

/* Writes atomically: temporary file in the same directory, fsync, rename.
 * meta_keys/meta_values: n_meta strings for "__metadata__". */
cg_status cg_safetensors_save(const char *path, const cg_st_entry *entries, size_t n,
                              const char *const *meta_keys, const char *const *meta_values,
                              size_t n_meta);

typedef struct cg_st_file cg_st_file;

/* Reads and validates the whole file (header, offsets, sizes). */
cg_status cg_safetensors_load(const char *path, cg_st_file **out);
void cg_safetensors_free(cg_st_file *f);
size_t cg_st_count(const cg_st_file *f);
/* Entry i (data points into f); NULL if out of range. */
const cg_st_entry *cg_st_at(const cg_st_file *f, size_t i);
const cg_st_entry *cg_st_find(const cg_st_file *f, const char *name);
/* Metadata value for key, or NULL. */
const char *cg_st_meta(const cg_st_file *f, const char *key);

/* ------------------------------------------------------------------------ */
/* Data sets (src/data/)                                                     */
/* ------------------------------------------------------------------------ */

/* How a CSV table's columns became samples, learned from the training data
 * and stored with the model (a checkpoint's "table" metadata), so that eval
 * and predict read new tables the same way. Numeric feature columns give
 * one value each, categorical ones (text) one-hot over their categories; the
 * target gives class indices (numbers, or class names mapped to their index
 * in `classes`) or real values. */
typedef struct cg_table_feature {
    int64_t column;            /* 0-based column of the training table */
    int32_t n_categories;      /* > 0: one-hot over categories; 0: a number */
    char **categories;         /* sorted (strcmp), n_categories of them */
} cg_table_feature;

typedef struct cg_table {
    int64_t n_columns;         /* columns of the training table */
    char **names;              /* n_columns names from its header, or NULL (no header) */
    bool header_detected;      /* the header was detected, not asked for (header=yes) */
    int64_t target;            /* 0-based column of the target, -1: none */
    int64_t n_features;
    cg_table_feature *features; /* in sample order */
    int32_t n_classes;         /* > 0: string class labels */
    char **classes;            /* class names, index order; NULL: labels are numbers */
    int64_t sample_size;       /* values per sample: numeric features + categories */
} cg_table;

/* The table as JSON (malloc'ed; free() it), as checkpoints store it. */
char *cg_table_to_json(const cg_table *t);
/* Parses cg_table_to_json's text, checking every index; *out is NULL on failure. */
cg_status cg_table_from_json(const char *json, cg_table **out);
/* Frees a table from cg_table_from_json or a data set's; NULL is fine. */
void cg_table_free(cg_table *t);
/* The class names as a JSON array ("[\"setosa\", ...]", malloc'ed), or
 * NULL when the labels are numbers; checkpoints store it as "classes". */
char *cg_table_classes_json(const cg_table *t);

/* A data set in memory: `count` samples of `sample_shape` floats each, with
 * class labels (classification), regression targets, or neither (inputs
 * only). Loaders fill a caller-owned struct; on failure it is left zeroed,
 * with nothing to free. Every loader error names the file, and CSV errors
 * the line and column ("data.csv:12:7: ..."). */
typedef struct cg_dataset {
    int64_t count;
    int sample_ndim;
    int64_t sample_shape[CG_MAX_DIMS];
    int64_t sample_size;      /* product of sample_shape */
    float *x;                 /* count * sample_size, row-major */
    int target_size;          /* floats of y per sample: 1 with y, else 0 */
    float *y;                 /* count * target_size regression targets, or NULL */
    int32_t *labels;          /* count · label_size class indices, or NULL */
    int64_t label_size;       /* labels per sample: T for next-token targets
                               * (text:), else 1 (0 is read as 1) */
    int32_t num_classes;      /* max label + 1 (0 without labels) */
    int32_t *vocab;           /* text: the symbol of each token id (Unicode code
                               * points; 0xDC80 + b for a byte b that is not
                               * UTF-8), sorted; NULL otherwise */
    int64_t vocab_size;
    int32_t *tokens;          /* text: the whole token stream, n_tokens ids */
    int64_t n_tokens;
    bool owns_data;           /* false for views made by cg_dataset_split */
    char source[256];         /* spec or path it came from, for messages */
    cg_table *table;          /* CSV: how its columns were read; NULL for other kinds */
} cg_dataset;

/* IDX files (the MNIST format), plain or gzip-compressed (detected from the
 * content). Images: magic 0x0000 08 NN (NN = rank >= 2); the first
 * dimension counts samples, the rest is the sample shape. Element types
 * u8 (scaled by 1/255 into [0,1]), i8, i16, i32, f32, f64 (taken as they
 * are; must be finite). labels_path may be NULL (no labels); otherwise a
 * rank-1 IDX file of non-negative integers, one per image. */
cg_status cg_dataset_load_idx(cg_dataset *out, const char *images_path,
                              const char *labels_path);

/* A CSV table: one sample per line, the last column the target, the others
 * features (cg_dataset_load_spec's options choose other columns and read
 * class names). Line 1 is a header when none of its fields is a number; a
 * first line mixing numbers and text is data (so a typo in it is an error
 * naming its column). A column whose values are mostly text is a category
 * (one-hot over its sorted values); text labels are classes in sorted order
 * (the table is in out->table). classification: the target is a class
 * index (non-negative integer) or a class name and goes to labels;
 * otherwise it is a real number and goes to y. Features are reshaped to
 * sample_shape (sample_ndim dims; their product must equal the values per
 * sample), or kept flat when sample_shape is NULL. Accepts CRLF, a UTF-8
 * BOM, spaces around fields, "quoted" fields (with commas, "" for a quote)
 * and blank lines at the end; refuses ragged rows, non-numbers in numeric
 * columns, missing values (empty, NA, NaN) and Inf, naming line and column. */
cg_status cg_dataset_load_csv(cg_dataset *out, const char *path, bool classification,
                              const int64_t *sample_shape, int sample_ndim);

/* Options for cg_dataset_load_spec; zero-initialised means defaults. */
typedef struct cg_data_options {
    bool regression;          /* csv: the target is a real number, not a class */
    int32_t num_classes;      /* csv, > 0: labels must be below it; errors name line and column */
    int sample_ndim;          /* > 0: reshape samples to sample_shape */
    int64_t sample_shape[CG_MAX_DIMS];
    /* csv: the columns, when learning a table from this file (no `table`):
     * by header name or 1-based index; features comma-separated. NULL: the
     * last column is the target, all others are features. */
    const char *target, *features;
    const char *classes_path; /* csv: class names, one a line, in index order (default: the
                                 sorted labels of the data when they are text) */
    const cg_table *table;    /* csv: read the columns as this table says (a model's) */
    bool targets_optional;    /* csv: a table without its target column loads as inputs only */
    bool unit_targets;        /* csv: real targets must lie in [0, 1] (bce_with_logits) */
    bool allow_missing;       /* csv: empty, NA and NaN feature cells load as NaN */
    bool unknown_ignore;      /* csv with table: an unseen category is an all-zero one-hot */
    /* text: the vocabulary to map symbols with (a checkpoint's, so ids
     * mean what they meant in training); NULL: built from the file. */
    const int32_t *vocab;
    int64_t vocab_size;
} cg_data_options;

/* A character-level language-model data set from a UTF-8 text file: the
 * file's symbols (code points) become token ids through `vocab` (vocab_size
 * sorted code points; NULL: the file's own symbols, sorted), and the token
 * stream is cut into count = (tokens − 1) / T windows of T ids, each
 * labelled with the T ids that follow its positions (label_size T). A
 * symbol missing from a given vocab, an empty file or one shorter than
 * T + 1 symbols is an error naming the file. */
cg_status cg_dataset_load_text(cg_dataset *out, const char *path, int64_t T,
                               const int32_t *vocab, int64_t vocab_size);
/* Re-cuts windows 0 .. count−2 of a text data set at random offsets: window
 * j starts u_j ∈ [0, T) tokens after j·T, u_j drawn from (seed, epoch), so
 * each epoch sees other windows of the text, as sampling random windows
 * does; window count−1 stays where it is, so no window reaches past it (into
 * a held-out tail that follows). Offsets from the same (seed, epoch) are the
 * same. CG_ERR_ARG for a data set that is not text. */
cg_status cg_dataset_text_recut(cg_dataset *d, int64_t count, uint64_t seed, int64_t epoch);
/* The token ids of text (UTF-8) under vocab; CG_ERR_ARG naming the first
 * symbol vocab lacks. ids must hold strlen(text) entries; *n gets the count. */
cg_status cg_text_encode(const char *text, const int32_t *vocab, int64_t vocab_size,
                         int32_t *ids, int64_t *n);
/* The UTF-8 bytes of one vocabulary symbol (at most 4) into buf; returns the length. */
int cg_text_symbol_utf8(int32_t symbol, char buf[5]);

/* Loads a data set named by a spec:
 *   "fashion-mnist:train", "fashion-mnist:test"  Debian's dataset-fashion-mnist
 *        files in /usr/share/datasets/fashion-mnist (or $CG_FASHION_MNIST_DIR);
 *        samples [1,28,28] in [0,1], 10 classes
 *   "idx:IMAGES[,LABELS]"                          cg_dataset_load_idx
 *   "csv:PATH[,header=yes|no]"                     cg_dataset_load_csv, with the
 *        options below (header=: line 1 is, or is not, a header)
 *   "text:PATH"                                    cg_dataset_load_text with
 *        T = sample_shape[0] (needs sample_ndim 1) and opts->vocab
 * opts may be NULL. */
cg_status cg_dataset_load_spec(cg_dataset *out, const char *spec, const cg_data_options *opts);

/* Frees what the data set owns (nothing for a view) and zeroes it; NULL and
 * zeroed data sets are fine. */
void cg_dataset_free(cg_dataset *d);

/* A fingerprint of the samples and targets, "<count> samples, crc32 <hex>"
 * (CRC-32 of the values' bytes, targets included), so that a checkpoint can
 * tell whether it is resumed on the data it was trained on. Writes "" for
 * an empty or NULL data set. */
void cg_dataset_fingerprint(const cg_dataset *d, char *buf, size_t size);

/* Changes the sample shape; the number of elements must stay the same. */
cg_status cg_dataset_reshape(cg_dataset *d, int sample_ndim, const int64_t *sample_shape);

/* CG_ERR_ARG unless every label is in [0, num_classes) (a model's output
 * count); the message names the first offending sample and its label. */
/* label_size, with 0 read as 1. */
int64_t cg_dataset_labels_per_sample(const cg_dataset *d);
cg_status cg_dataset_check_labels(const cg_dataset *d, int32_t num_classes);

/* Copies samples indices[0..n) (e.g. a shuffled permutation slice) into
 * caller buffers: x_out [n, sample_size], labels_out [n], y_out
 * [n, target_size]. labels_out / y_out may be NULL to skip them. Does not
 * allocate; parallel over samples for large batches. CG_ERR_ARG for an
 * index outside [0, count) or for labels/targets the data set lacks. */
cg_status cg_dataset_batch(const cg_dataset *d, const int64_t *indices, int64_t n,
                           float *x_out, int32_t *labels_out, float *y_out);

/* Splits off the last round(val_fraction * count) samples as a validation
 * set (0 < val_fraction < 1; both parts must be non-empty). train_out and
 * val_out are views into d (no copy): d must outlive them, and freeing a
 * view frees nothing. Both keep d's num_classes. */
cg_status cg_dataset_split(const cg_dataset *d, double val_fraction, cg_dataset *train_out,
                           cg_dataset *val_out);

/* ------------------------------------------------------------------------ */
/* Models from model files (src/nn/model.c, src/io/modelfile.c)             */
/* ------------------------------------------------------------------------ */

/* A model file (JSON, see docs/model-file.md and models/) describes a model:
 * an input shape, a list of layers, a loss, an optimizer, an LR schedule and
 * training defaults. Layers run in file order; each takes the previous
 * layer's output unless it names its "inputs" (earlier layers' names or
 * "input"), so a model is a graph: skip connections merge with "add" or
 * "concat". The model's output is the last layer's. Parsing validates
 * everything and infers every layer's shape before anything is allocated;
 * errors name the JSON path, e.g.
 * `layers[2].units: expected a positive integer, got "ten"`. */

/* A layer type: one file in src/nn/layers/, one entry in the layer table. */
typedef struct cg_layer_type cg_layer_type;

size_t cg_layer_type_count(void);
const cg_layer_type *cg_layer_type_at(size_t i);
/* The type a model file's "type" names (case-insensitive; activation names
 * such as "relu" are the activation layer), or NULL. */
const cg_layer_type *cg_layer_type_find(const char *name);
/* Its model-file name: "dense", "dropout", "flatten", "activation", "add",
 * "concat", ... */
const char *cg_layer_type_name(const cg_layer_type *type);

#define CG_LAYER_MAX_INPUTS 8
#define CG_LAYER_NAME_MAX 64
#define CG_LAYER_CONFIG_BYTES 256
/* inputs[] value meaning the model's input. */
#define CG_LAYER_INPUT (-1)

/* One layer of a model, with its inferred per-sample shapes (the batch
 * dimension is not included). */
typedef struct cg_layer_spec {
    const cg_layer_type *type;
    char name[CG_LAYER_NAME_MAX];   /* "" when unnamed */
    int n_inputs;
    int inputs[CG_LAYER_MAX_INPUTS];     /* earlier layer indices, or CG_LAYER_INPUT */
    bool explicit_inputs;                /* "inputs" was written (else: the previous layer) */
    int in_ndim[CG_LAYER_MAX_INPUTS];
    int64_t in_shape[CG_LAYER_MAX_INPUTS][CG_MAX_DIMS];
    int out_ndim;
    int64_t out_shape[CG_MAX_DIMS];
    int64_t n_params;               /* trainable values this layer owns */
    int64_t n_buffers;              /* non-trainable values (e.g. running statistics) */
    /* The type's own settings, laid out by its file; read them through
     * cg_layer_describe or the model file cg_model_spec_to_json writes. */
    union {
        double align;
        unsigned char bytes[CG_LAYER_CONFIG_BYTES];
    } config;
} cg_layer_spec;

/* One line about a layer, as `cgrad info` prints it ("dense 256 relu"). */
const char *cg_layer_describe(const cg_layer_spec *layer, char *buf, size_t size);
/* True when the layer learns buffers from the training data before the
 * first step (normalize; see cg_model_adapt). */
bool cg_layer_learns_from_data(const cg_layer_spec *layer);

typedef enum cg_loss_kind {
    CG_LOSS_CROSS_ENTROPY = 0,  /* logits [N,C], integer class targets */
    CG_LOSS_MSE,
    CG_LOSS_L1,
    CG_LOSS_BCE_WITH_LOGITS     /* logits, targets in [0,1] */
} cg_loss_kind;

/* Parses a model file's loss name ("cross_entropy", "mse", "l1",
 * "bce_with_logits"); false if unknown. */
bool cg_loss_from_name(const char *name, cg_loss_kind *out);
/* The model-file name of a loss ("unknown" if out of range). */
const char *cg_loss_name(cg_loss_kind loss);
/* Does the loss take class indices as targets? (Only cross-entropy; BCE
 * takes real targets but still has a thresholded accuracy.) */
bool cg_loss_is_classification(cg_loss_kind loss);

/* Training defaults of a model file ("train": {...}); command-line flags
 * override them. */
typedef struct cg_train_config {
    int64_t epochs;         /* total epochs */
    int64_t batch;          /* minibatch size; the last partial batch is kept */
    uint64_t seed;          /* initialisation, shuffling and dropout */
    bool shuffle;           /* reshuffle the training set every epoch */
    float clip_grad_norm;   /* clip the global gradient norm to this; 0: off */
    cg_early_stop_config early_stop; /* "early_stop": patience 0 is off */
    int64_t steps;          /* > 0: stop after this many optimizer steps in all */
} cg_train_config;

#define CG_MODEL_NAME_MAX 128
#define CG_MODEL_DESCRIPTION_MAX 2048

/* Data augmentation for image inputs [C, H, W], applied to training batches
 * only, per sample, from (seed, epoch, sample index): reproducible, the same
 * for any thread count, and unchanged by resuming ("augment": {...}). */
typedef struct cg_augment {
    int64_t crop_padding;     /* > 0: random crop back to H x W from the image zero-padded by this */
    bool hflip;               /* flip left-right with probability 1/2 */
} cg_augment;

/* How tables (CSV) are read for the model ("data": {...}). */
typedef struct cg_data_config {
    bool unknown_ignore;      /* "unknown": "ignore": a category not seen in training reads as
                                 none of them (all-zero one-hot); "error" (default) refuses it */
} cg_data_config;

typedef struct cg_model_spec {
    char name[CG_MODEL_NAME_MAX];                 /* the model file's "name", or "" */
    char description[CG_MODEL_DESCRIPTION_MAX];   /* its "description", or "" */
    int input_ndim;
    int64_t input[CG_MAX_DIMS];     /* per-sample input shape */
    size_t n_layers;
    cg_layer_spec *layers;
    int output_ndim;
    int64_t output[CG_MAX_DIMS];    /* per-sample output shape */
    int64_t n_params;               /* trainable values */
    int64_t n_buffers;              /* non-trainable values */
    cg_loss_kind loss;
    cg_optim_config optim;
    /* Evaluated once per epoch. base_lr is ignored (optim.lr is used) and a
     * cosine t_max of 0 means "anneal until the last epoch". */
    cg_schedule schedule;
    cg_train_config train;
    cg_augment augment;             /* none by default */
    cg_data_config data;
} cg_model_spec;

/* Parses and validates model-file JSON text. On failure returns CG_ERR_FORMAT
 * (malformed JSON, unknown or mistyped keys, impossible shapes) or
 * CG_ERR_NOMEM (a model too large for this machine's memory, with the size it
 * would need), and *out is NULL. */
cg_status cg_model_spec_parse(const char *json, cg_model_spec **out);
/* cg_model_spec_parse of a file; messages start with the file name. */
cg_status cg_model_spec_load(const char *path, cg_model_spec **out);
/* Frees a spec from parse/load/clone; NULL is fine. */
void cg_model_spec_free(cg_model_spec *spec);
/* A deep copy (NULL with the error set when out of memory). */
cg_model_spec *cg_model_spec_clone(const cg_model_spec *spec);
/* ---- building a spec in C, through the same layer table and checks as a
 * model file (errors name "layers[<i>].<key>") ---------------------------- */

/* An empty spec for samples of shape input[0..input_ndim): no layers yet,
 * the model file's defaults for loss, optimizer, schedule and training. */
cg_model_spec *cg_model_spec_create(int input_ndim, const int64_t *input);
/* Appends one layer, given as the JSON object a model file's "layers" array
 * would hold, e.g. {"type": "dense", "units": 64, "activation": "relu",
 * "name": "h1"}; the layer's shape is inferred at once. */
cg_status cg_model_spec_add_layer(cg_model_spec *spec, const char *layer_json);
/* The same with printf-style formatting. */
cg_status cg_model_spec_add_layerf(cg_model_spec *spec, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Sets a top-level section from its JSON value: "loss" ("\"mse\""),
 * "optimizer", "schedule", "train", "augment", "data" (objects), "name",
 * "description". */
cg_status cg_model_spec_set(cg_model_spec *spec, const char *section, const char *value_json);
/* Whole-model checks a parsed file always passes and a spec built in C must
 * pass before cg_model_create (which runs it): at least one layer, every
 * layer's output used by a later layer except the last one's, the loss fits
 * the output, training fits in memory. */
cg_status cg_model_spec_check(const cg_model_spec *spec);

/* The spec as a model file with every default filled in (malloc'ed, free()
 * it); parsing it gives back the same spec. Checkpoints store this text. */
char *cg_model_spec_to_json(const cg_model_spec *spec);
/* Bytes that training with this batch size needs at least: parameters,
 * gradients, optimizer state and one step's activations. CG_ERR_NOMEM if the
 * count itself overflows. */
cg_status cg_model_spec_memory(const cg_model_spec *spec, int64_t batch, uint64_t *bytes);
/* CG_ERR_NOMEM, naming the size needed, when cg_model_spec_memory exceeds
 * this machine's physical memory. */
cg_status cg_model_spec_check_memory(const cg_model_spec *spec, int64_t batch);
/* For a classification loss: the classes (the output's last dimension), and
 * the positions of a sample that each take a label (the product of the
 * other dimensions: 1 for an output [C], T for a sequence output [T, C]). */
int64_t cg_model_spec_classes(const cg_model_spec *spec);
int64_t cg_model_spec_label_positions(const cg_model_spec *spec);
/* Resolved schedule for a run of `epochs` epochs starting from lr. */
cg_schedule cg_model_spec_schedule(const cg_model_spec *spec, float lr, int64_t epochs);

/* A model built from a spec: parameters named "layers.<i>.weight" and
 * "layers.<i>.bias", <i> being the layer's index in the spec's layers, with
 * PyTorch's layouts and default initialisation. */
typedef struct cg_model cg_model;

/* The model keeps its own copy of spec. rng drives the initialisation. */
cg_model *cg_model_create(const cg_model_spec *spec, cg_rng *rng);
/* Frees the model and its parameters; NULL is fine. */
void cg_model_destroy(cg_model *model);
/* The model's own copy of its spec. */
const cg_model_spec *cg_model_get_spec(const cg_model *model);
/* Its trainable parameters, in layer order (for optimizers and checkpoints). */
cg_params *cg_model_params(cg_model *model);
/* Exempts the model's parameters its optimizer config's no_decay names
 * (CG_NO_DECAY_*) from opt's weight decay; nothing when no_decay is 0. */
cg_status cg_model_apply_no_decay(const cg_model *model, cg_optim *opt);
/* x: [N, input...] -> [N, output...]. Dropout is active when the context is
 * in training mode. */
cg_tensor *cg_model_forward(cg_ctx *ctx, const cg_model *model, cg_tensor *x);
/* The same on the first t steps of a sequence model's input, x [N, t, ...]
 * with 1 <= t <= T for an input [T, ...]: generation starts from a prompt
 * shorter than the training windows. Works when every layer works at any
 * length (embedding, rnn/lstm/gru, dense, activations, dropout, layernorm
 * over features); a layer that needs the full length fails naming itself. */
cg_tensor *cg_model_forward_prefix(cg_ctx *ctx, const cg_model *model, cg_tensor *x);
/* Does a layer carry its state from one batch to the next (a recurrent
 * layer with "stateful": true, for truncated backpropagation through
 * time)? Row r of a batch then continues row r of the batch before. */
bool cg_model_is_stateful(const cg_model *model);
/* Forgets the carried state: the next batch starts from zeros. Training
 * does it at every epoch's start, evaluation before it runs. */
void cg_model_reset_state(cg_model *model);
/* The spec's loss of output against the targets: class indices (labels,
 * N entries) for cross-entropy, values (targets, output->size floats)
 * otherwise. Returns a scalar tensor, NULL on error. */
cg_tensor *cg_model_loss(cg_ctx *ctx, const cg_model *model, cg_tensor *output,
                         const int32_t *labels, const float *targets);
/* Correct predictions in a batch: argmax against labels for cross-entropy,
 * (logit > 0) against (target > 0.5) per value for BCE; 0 for regression. */
int64_t cg_model_count_correct(const cg_model *model, const cg_tensor *output,
                               const int32_t *labels, const float *targets);
/* Buffers: non-trainable tensors a layer keeps (batch norm's running_mean,
 * running_var and int64 num_batches_tracked), named like parameters
 * ("layers.<i>.running_mean"), saved in checkpoints, never optimized. */
typedef struct cg_buffer {
    const char *name;
    cg_dtype dtype;            /* CG_DTYPE_F32 or CG_DTYPE_I64 */
    int ndim;
    int64_t shape[CG_MAX_DIMS];
    int64_t size;              /* elements */
    void *data;
} cg_buffer;

size_t cg_model_buffer_count(const cg_model *model);
cg_buffer *cg_model_buffer_at(cg_model *model, size_t i);

/* Called for each buffer a weights file lacks; the buffer keeps its
 * default (PyTorch's initial value). */
typedef void (*cg_missing_buffer_fn)(void *user, const char *name);

/* Copies every parameter and buffer from a safetensors file (same name,
 * shape and dtype: F32, I64 for integer buffers), e.g. a PyTorch
 * state_dict saved with safetensors. Tensors the model does not have are
 * ignored. A missing or mis-shaped parameter is CG_ERR_FORMAT naming it
 * (the model is then unchanged); a missing buffer keeps its default and is
 * reported to on_missing (may be NULL). */
cg_status cg_model_load_weights(cg_model *model, const cg_st_file *file,
                                cg_missing_buffer_fn on_missing, void *user);

/* ------------------------------------------------------------------------ */
/* Training loop and checkpoints (src/train/)                               */
/* ------------------------------------------------------------------------ */

/* Where a training run stands, beyond its weights and optimizer state.
 * Checkpoints store it so that --resume continues bit-identically: each
 * epoch's shuffle is derived from (seed, epoch), and the dropout stream is
 * saved, so even a run interrupted in the middle of an epoch resumes exactly
 * where it stopped. */
/* Running sums behind the regression metrics (MAE, RMSE, R2) and the top-k
 * accuracy of a pass over data, in double. */
typedef struct cg_metric_sums {
    double shift;                 /* the first target: sums of y - shift stay well conditioned */
    double abs_sum, sq_sum;       /* sum |out - y|, sum (out - y)^2 */
    double y_sum, y_sq_sum;       /* sum (y - shift), sum (y - shift)^2 */
    int64_t values;               /* target values summed */
    int64_t top_k_correct;
} cg_metric_sums;

typedef struct cg_train_state {
    int64_t epoch;            /* epochs completed */
    int64_t step;             /* optimizer steps taken in all */
    int64_t batch_in_epoch;   /* batches of the epoch under way already done */
    cg_rng rng;               /* dropout stream at this point */
    /* Running sums of the epoch under way (batch_in_epoch > 0). */
    double loss_sum;          /* Σ batch mean loss × batch size */
    int64_t correct;
    int64_t seen;
    double seconds;           /* training time of the epoch so far */
    float lr;                 /* learning rate in use */
    /* Metrics of the last completed epoch (NaN when unknown). */
    double train_loss, train_accuracy, val_loss, val_accuracy;
    double val_mae, val_rmse, val_r2, val_top_k_accuracy;
    double train_mae, train_rmse, train_r2, train_top_k_accuracy;
    cg_metric_sums sums;      /* the epoch under way's, for the train_* metrics above */
    /* Decisions between epochs, so that a resumed run makes the same ones. */
    double best_value;        /* --save-best: best monitored value (NaN: none yet) */
    int64_t best_epoch;       /* its epoch (0: none) */
    cg_early_stop_state early_stop;
    cg_plateau_state plateau; /* lr NaN: not started */
    bool stopped_early;       /* early stopping ended the run */
} cg_train_state;

/* A fresh state: epoch 0, rng seeded from seed, metrics unknown. */
cg_train_state cg_train_state_init(uint64_t seed);

/* ---- checkpoints: safetensors files --------------------------------------
 * Tensors: the parameters ("layers.<i>.weight", PyTorch layouts), the buffers
 * ("layers.<i>.running_mean") and, when
 * an optimizer is given, its state per parameter ("optim.<buffer>.<param>",
 * e.g. "optim.exp_avg.layers.0.weight") and step count ("optim.step", I64
 * scalar). __metadata__: "format" ("pt"), "cgrad_format_version", "model"
 * (the model file with every value resolved), "optimizer" (its
 * hyper-parameters as JSON), "epoch", "step", "lr", the RNG state, the
 * metrics of cg_train_state and its between-epoch decisions ("best_value",
 * "best_epoch", "early_stop_best", "early_stop_best_epoch",
 * "early_stop_wait", "stopped_early", and "plateau_lr", "plateau_best",
 * "plateau_num_bad_epochs", "plateau_cooldown_counter" for the plateau
 * schedule). Written atomically. */

/* model: required; opt and state may be NULL (weights only). `spec`, when
 * not NULL, is the configuration stored as "model" instead of the model's
 * own (e.g. with command-line overrides applied). */
cg_status cg_checkpoint_save(const char *path, cg_model *model, const cg_model_spec *spec,
                             cg_optim *opt, const cg_train_state *state);
/* The same with more __metadata__: extra_meta is a NULL-terminated list of
 * key, value strings (e.g. {"run_log", "metrics.jsonl", NULL}); keys should
 * not be cgrad's own (a "run_" prefix is kept free for callers). */
cg_status cg_checkpoint_save_with(const char *path, cg_model *model, const cg_model_spec *spec,
                                  cg_optim *opt, const cg_train_state *state,
                                  const char *const *extra_meta);

typedef struct cg_checkpoint {
    cg_st_file *file;
    cg_model_spec *spec;      /* from "model"; NULL for a plain weights file */
    bool has_state;           /* training state present (a cgrad training checkpoint) */
    cg_train_state state;
} cg_checkpoint;

/* Can `file` hold the weights of `spec`? CG_ERR_FORMAT when its F32
 * "layers.*" tensors hold fewer values than the spec's parameters. Checked
 * before a model is built, so a checkpoint whose model description was
 * altered into a huge model is refused without allocating it. */
cg_status cg_model_spec_check_file(const cg_model_spec *spec, const cg_st_file *file);

/* Loads any safetensors file; *out is NULL on failure. */
cg_status cg_checkpoint_load(const char *path, cg_checkpoint **out);
/* Frees the checkpoint, its file and spec; NULL is fine. */
void cg_checkpoint_free(cg_checkpoint *ck);
/* Restores the state and step count of opt (created over model's parameters);
 * CG_ERR_FORMAT naming a missing or mis-shaped tensor (opt is then unchanged). */
cg_status cg_checkpoint_restore_optim(const cg_checkpoint *ck, cg_model *model, cg_optim *opt);
/* Can a checkpoint be written to path? (Creates and removes a temporary
 * file in its directory; the path itself is not touched.) */
cg_status cg_checkpoint_check_writable(const char *path);

/* ---- the training loop ---------------------------------------------------- */

/* Independent random streams of a run, each derived from the seed alone, so
 * that resuming needs nothing but the seed and the epoch. */
typedef enum cg_rng_stream {
    CG_STREAM_INIT = 0,   /* parameter initialisation */
    CG_STREAM_SHUFFLE,    /* the order of each epoch */
    CG_STREAM_DROPOUT,    /* dropout masks, from the start of each epoch */
    CG_STREAM_AUGMENT     /* data augmentation, mixed with each sample's index */
} cg_rng_stream;

/* The generator of `stream` for `epoch` of a run seeded with `seed`. */
cg_rng cg_train_rng(uint64_t seed, int64_t epoch, cg_rng_stream stream);

/* Checks that data fit the model: sample shape equal to the model's input,
 * class labels in [0, classes) for cross-entropy, one target per output
 * value otherwise (data without targets pass: inputs for prediction).
 * CG_ERR_ARG with a message naming the data set. */
cg_status cg_model_check_data(const cg_model *model, const cg_dataset *data);
/* Lets the layers that learn from data learn it: normalize's mean and
 * variance per feature, in one pass over data (the training samples only,
 * before the first step; resuming or loading weights overwrites them). */
cg_status cg_model_adapt(cg_model *model, const cg_dataset *data);
/* True when every layer that reads the model's input fills in missing
 * values (normalize with "impute": "mean"), so that data may have them. */
bool cg_model_spec_fills_missing(const cg_model_spec *spec);

/* Reported after every training step. */
typedef struct cg_progress {
    int64_t epoch;        /* 0-based epoch under way */
    int64_t epochs;       /* total */
    int64_t batch;        /* batches of this epoch done */
    int64_t batches;      /* batches per epoch */
    int64_t samples;      /* samples of this epoch done */
    int64_t step;         /* optimizer steps in all */
    double loss;          /* mean training loss of the epoch so far */
    double seconds;       /* training time of the epoch so far */
} cg_progress;

/* Reported after every epoch. Accuracies are fractions in [0,1], NaN for
 * regression losses; validation figures are NaN without validation data. */
typedef struct cg_epoch_stats {
    int64_t epoch;        /* 1-based number of the epoch just finished */
    int64_t epochs;
    double train_loss, train_accuracy;
    double val_loss, val_accuracy;
    float lr;
    double seconds;       /* training time (without validation) */
    double samples_per_s;
    int64_t samples;
    double val_mae, val_rmse, val_r2;  /* regression losses with validation data; else NaN */
    int top_k;                         /* o->top_k, when it applies; else 0 */
    double val_top_k_accuracy;         /* with top_k; else NaN */
    /* The same over the epoch's training batches (as the model was at each). */
    double train_mae, train_rmse, train_r2, train_top_k_accuracy;
} cg_epoch_stats;

/* ---- data-parallel training across processes (MPI) -------------------------
 * A cg_dist is the group of processes one job runs on (docs/distributed.md).
 * Built without MPI, or started without an MPI launcher (mpirun, srun), it is
 * a group of one and the calls below do nothing. Every function except
 * cg_dist_compiled, cg_dist_rank, cg_dist_size, cg_dist_comm_seconds and
 * cg_dist_set_bucket_bytes is collective: all ranks call it, in the same order. */
typedef struct cg_dist cg_dist;

/* Was cgrad built with MPI? */
bool cg_dist_compiled(void);
/* Joins the job (MPI_Init) when an MPI launcher started this process;
 * otherwise *out is a group of one. Once per process. */
cg_status cg_dist_init(int *argc, char ***argv, cg_dist **out);
/* Leaves the job (MPI_Finalize) and frees d; NULL is fine. */
void cg_dist_finalize(cg_dist *d);
int cg_dist_rank(const cg_dist *d);   /* 0 for NULL */
int cg_dist_size(const cg_dist *d);   /* 1 for NULL */
/* Every rank's status in, the same status out on every rank: CG_OK when all
 * are; otherwise the lowest failing rank's status, and on every rank its
 * message as "rank R: <message>". The way ranks agree before a step that
 * one of them could not take (a file missing on one host, a NaN). */
cg_status cg_dist_agree(cg_dist *d, cg_status local);
/* Every rank's exit code in (0: fine); out, on every rank, the code of the
 * lowest rank whose code is not 0 (0 when none), that rank in *rank. For a
 * program's own steps between the library's calls. */
int cg_dist_first_failure(cg_dist *d, int code, int *rank);
/* Copies rank 0's parameters and buffers to every rank. */
cg_status cg_dist_broadcast_model(cg_dist *d, cg_model *model);
/* Seconds spent averaging gradients so far (this rank): starting the
 * buckets' allreduces during the backward pass and waiting for them after. */
double cg_dist_comm_seconds(const cg_dist *d);
/* Gradients are averaged in buckets of about `bytes` (whole parameters;
 * default 1 MiB), each started as soon as the backward pass has finished
 * all of its gradients, overlapping the rest of it; 0: one allreduce of
 * the whole buffer after the backward pass. Every rank must set the same;
 * not collective. */
void cg_dist_set_bucket_bytes(cg_dist *d, size_t bytes);
/* Ends every process of the job with `code` (MPI_Abort): for a program that
 * can no longer reach an agreement point. The library never calls it. */
void cg_dist_abort(cg_dist *d, int code);

/* How many threads training steps run on (cg_train_options.threads). The
 * planned count (cg_set_num_threads) fixes how work is divided and so every
 * result bit; fewer threads may run it without changing a bit. */
typedef enum cg_thread_policy {
    CG_THREADS_ADAPT,     /* the planned count, or one while that is faster (busy cores) */
    CG_THREADS_FIXED,     /* always the planned count */
    CG_THREADS_ALTERNATE  /* planned and one, step after step: to test the claim above */
} cg_thread_policy;

typedef struct cg_train_options {
    int64_t epochs;             /* total; a resumed run continues up to it */
    int64_t batch;
    uint64_t seed;
    bool shuffle;
    float clip_grad_norm;       /* 0: off */
    /* > 0: stop after this many optimizer steps in all; the epoch it falls
     * in ends there (validation, on_epoch, checkpoint) and is the last. */
    int64_t max_steps;
    cg_augment augment;         /* applied to training batches (image inputs) */
    cg_schedule schedule;       /* lr of each epoch */
    const char *save_path;      /* checkpoint after every epoch and when stopped; NULL: none */
    const cg_model_spec *save_spec;  /* configuration recorded in checkpoints; NULL: the model's */
    const char *const *save_meta;    /* more __metadata__ for them (cg_checkpoint_save_with); may be NULL */
    /* Periodic checkpoints to save_path inside epochs, for runs that may be
     * killed: every save_every_steps steps and/or whenever save_every_seconds
     * of training have passed since the last save (0: off). With keep > 0,
     * each is also kept as "<save_path without .safetensors>.step-<n>.safetensors"
     * (a hard link), and only the newest `keep` of those are left. */
    int64_t save_every_steps;
    double save_every_seconds;
    int keep;
    /* Polled between steps; when it becomes non-zero (e.g. from a SIGINT
     * handler) training stops after the current step, saves to save_path and
     * returns CG_ERR_INTERRUPTED. May be NULL. */
    const volatile sig_atomic_t *stop;
    int64_t eval_batch;         /* batch size for validation; 0: a default */
    int top_k;                  /* cross_entropy: also each validation's top-k accuracy
                                 * (2 <= top_k <= classes; 0: none) */
    /* After each epoch whose `monitor` value beats every earlier one (by more
     * than early_stop.min_delta when early stopping is on), a checkpoint to
     * save_best_path (NULL: none). */
    const char *save_best_path;
    cg_monitor monitor;
    /* Stops after early_stop.patience epochs without improvement (0: off),
     * returning CG_OK with state->stopped_early set; with restore_best the
     * run ends with the weights of save_best_path (required then), which
     * are also saved to save_path. Its monitor must equal `monitor`. */
    cg_early_stop_config early_stop;
    void (*on_batch)(void *user, const cg_progress *p);
    void (*on_epoch)(void *user, const cg_epoch_stats *s);
    void *user;
    /* Called before every epoch's first batch (and when a run resumes
     * inside an epoch) with that epoch's index, to prepare its data (the
     * CLI re-cuts text windows: cg_dataset_text_recut); a failure stops
     * training with that status. NULL: nothing. */
    cg_status (*on_epoch_start)(void *start_user, int64_t epoch);
    void *start_user;
    /* Data-parallel over these processes (NULL or a group of one: this
     * process alone). `batch` stays the global batch and must divide by
     * the ranks; each rank takes its contiguous share of every batch, the
     * gradients are averaged, and only rank 0 saves checkpoints. Call on
     * every rank with the same options and data, and weights equal on every
     * rank (cg_dist_broadcast_model). */
    cg_dist *dist;
    /* Times every step's phases, layers and ops into this profile (NULL: off). */
    cg_profile *profile;
    cg_thread_policy threads;
} cg_train_options;

/* Options from a spec's "train" section, and its schedule with lr as the
 * base (peak) learning rate. Callbacks, save path and stop flag are unset. */
cg_train_options cg_train_options_from_spec(const cg_model_spec *spec, float lr);

/* Trains from `state` (cg_train_state_init(seed) for a new run, or a
 * checkpoint's state to resume) up to o->epochs, updating state. val may
 * be NULL. Each step: gather a batch, forward, loss, backward, check for
 * NaN/Inf, optional clipping, optimizer step; no allocation after the
 * first step. Returns CG_OK; CG_ERR_NUMERIC when the loss or a gradient is
 * not finite (message naming the step and the first tensor; nothing is
 * saved, so the last checkpoint stays as it was); CG_ERR_INTERRUPTED; or
 * the error of a failed save. */
cg_status cg_train(cg_model *model, cg_optim *opt, const cg_dataset *train,
                   const cg_dataset *val, const cg_train_options *o, cg_train_state *state);

typedef struct cg_eval_result {
    double loss;          /* mean over samples */
    double accuracy;      /* NaN for regression */
    int64_t samples;
    int64_t correct;
    /* Regression losses (mse, l1), over every output value, accumulated in
     * double; NaN otherwise. r2 = 1 - SS_res/SS_tot with SS_tot around the
     * mean of all target values (NaN when they are all equal). */
    double mae, rmse, r2;
    /* cross_entropy with top_k >= 2 (cg_evaluate_top_k): the fraction of
     * samples whose label is among the k largest logits (a tie with the
     * label's logit counts for it); NaN otherwise. */
    int top_k;
    double top_k_accuracy;
    int64_t top_k_correct;
} cg_eval_result;

/* Loss, accuracy and the regression metrics of the model over data, in
 * evaluation mode. */
cg_status cg_evaluate(cg_model *model, const cg_dataset *data, int64_t batch,
                      cg_eval_result *out);
/* cg_evaluate, and with cross_entropy the top-k accuracy for k = top_k
 * (2 <= top_k <= classes; 0: none). */
cg_status cg_evaluate_top_k(cg_model *model, const cg_dataset *data, int64_t batch, int top_k,
                            cg_eval_result *out);
/* cg_evaluate_top_k with each rank of dist (NULL: this process alone)
 * evaluating its contiguous share of data; every rank gets the whole
 * result. Collective. */
cg_status cg_evaluate_group(cg_model *model, const cg_dataset *data, int64_t batch, int top_k,
                            cg_dist *dist, cg_eval_result *out);

/* Runs the model in evaluation mode over data in order, calling fn with
 * the outputs [n, output...] of samples first..first+n-1; a status other
 * than CG_OK from fn stops and is returned. */
typedef cg_status (*cg_predict_fn)(void *user, int64_t first, const cg_tensor *outputs);
cg_status cg_predict(cg_model *model, const cg_dataset *data, int64_t batch, cg_predict_fn fn,
                     void *user);
/* cg_predict with each rank of dist evaluating its contiguous share; fn is
 * called on rank 0 only, for every sample in data order (the other ranks'
 * outputs are sent to it batch by batch). Collective. */
cg_status cg_predict_group(cg_model *model, const cg_dataset *data, int64_t batch, cg_dist *dist,
                           cg_predict_fn fn, void *user);

/* ------------------------------------------------------------------------ */
/* Explaining predictions (src/train/explain.c): gradients of an output with */
/* respect to the input, and attributions built on them.                     */
/* ------------------------------------------------------------------------ */

/* Which output a gradient is taken of. */
typedef enum cg_grad_target_kind {
    CG_GRAD_CLASS = 0,   /* output class_index (an index into the output's last
                          * dimension; summed over a sequence's positions) */
    CG_GRAD_PREDICTED,   /* each output row's largest value (the predicted class) */
    CG_GRAD_LOSS         /* each sample's own loss against labels / targets */
} cg_grad_target_kind;

typedef struct cg_grad_target {
    cg_grad_target_kind kind;
    int64_t class_index;     /* CG_GRAD_CLASS */
    const int32_t *labels;   /* CG_GRAD_LOSS, cross_entropy: n · positions labels */
    const float *targets;    /* CG_GRAD_LOSS, other losses: n · output size values */
} cg_grad_target;

/* The gradient of the target output with respect to the input, for n
 * samples x [n, input...] (row-major): grad_out [n, input...] gets, for
 * each sample, the gradient of that sample's own output. Runs in
 * evaluation mode (no dropout; batch norm uses its running statistics) and
 * leaves the model as it was: parameters' values and gradients, buffers,
 * and a stateful model's carried state (reset before and after).
 * values_out (NULL: not wanted) gets each sample's target value (the
 * chosen logit, summed over positions, or the loss). CG_ERR_ARG for a class
 * outside the output, a loss target without labels / targets, or a model
 * whose output does not depend differentiably on its input (token ids). */
cg_status cg_model_input_grad(cg_model *model, const float *x, int64_t n,
                              const cg_grad_target *target, float *grad_out, double *values_out);

typedef enum cg_attr_method {
    CG_ATTR_SALIENCY = 0,          /* |∂f/∂x| (Simonyan et al.) */
    CG_ATTR_GRAD_X_INPUT,          /* x · ∂f/∂x */
    CG_ATTR_INTEGRATED_GRADIENTS,  /* (x − b) · mean of ∂f/∂x along b → x (Sundararajan et al.) */
    CG_ATTR_SMOOTHGRAD             /* mean |∂f/∂x| over noisy copies of x (Smilkov et al.) */
} cg_attr_method;

/* "saliency", "grad-x-input", "integrated-gradients", "smoothgrad". */
const char *cg_attr_method_name(cg_attr_method m);
bool cg_attr_method_from_name(const char *name, cg_attr_method *out);

typedef struct cg_attr_options {
    cg_attr_method method;
    cg_grad_target target;   /* CG_GRAD_PREDICTED: integrated gradients and
                              * SmoothGrad explain the class predicted for x
                              * at every point of the path / every copy */
    int64_t steps;           /* integrated gradients: midpoint-rule steps (0: 64) */
    const float *baseline;   /* integrated gradients: one sample (input size
                              * floats), NULL: zeros */
    int64_t samples;         /* smoothgrad: noisy copies (0: 25) */
    float noise;             /* smoothgrad: standard deviation of the noise */
    uint64_t seed;           /* smoothgrad: the noise's random stream */
} cg_attr_options;

/* Per sample: the target's value at the input and (integrated gradients) at
 * the baseline, and the sum of the attributions. For integrated gradients,
 * completeness says attribution_sum ≈ f_input − f_baseline; the error falls
 * as steps grow. NaN where a method has no value. */
typedef struct cg_attr_info {
    double f_input, f_baseline, attribution_sum;
} cg_attr_info;

/* Attributions of n samples x [n, input...] into attr_out (same size);
 * info_out (NULL: not wanted) gets n entries. Evaluation mode; the model is
 * left as cg_model_input_grad leaves it. */
cg_status cg_model_attribute(cg_model *model, const float *x, int64_t n,
                             const cg_attr_options *o, float *attr_out, cg_attr_info *info_out);

#ifdef __cplusplus
}
#endif

#endif /* CGRAD_H */
