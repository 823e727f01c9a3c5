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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
 * n <= 0 means "number of cores". */
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
/* Writes "[2, 3, 4]" into buf; returns buf. */
const char *cg_shape_str(const cg_tensor *t, char *buf, size_t bufsize);
bool cg_tensor_same_shape(const cg_tensor *a, const cg_tensor *b);
/* Marks a tensor as a leaf whose gradient is wanted (e.g. an input). */
void cg_tensor_set_requires_grad(cg_tensor *t, bool requires_grad);

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

/* Arena tensors: valid until the next cg_ctx_reset. */
cg_tensor *cg_tensor_new(cg_ctx *ctx, int ndim, const int64_t *shape);   /* uninitialised */
cg_tensor *cg_tensor_zeros(cg_ctx *ctx, int ndim, const int64_t *shape);
cg_tensor *cg_tensor_from(cg_ctx *ctx, int ndim, const int64_t *shape, const float *data);
cg_tensor *cg_tensor_scalar(cg_ctx *ctx, float value);

/* ------------------------------------------------------------------------ */
/* Autodiff                                                                  */
/* ------------------------------------------------------------------------ */

/* Reverse-mode differentiation of a scalar (size-1) tensor: gradients of
 * every tensor on the tape that requires grad, accumulated into ->grad
 * (parameter gradients accumulate across calls until cg_params_zero_grad). */
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
    CG_ACT_LEAKY_RELU,  /* negative slope 0.01, as torch.nn.LeakyReLU() */
    CG_ACT_ELU,         /* alpha 1 */
    CG_ACT_GELU,        /* exact, erf form */
    CG_ACT_SOFTPLUS     /* beta 1, threshold 20 */
} cg_activation;

/* Parses "relu", "sigmoid", "tanh", "leaky_relu", "elu", "gelu", "softplus",
 * "none"/"linear"/"identity"; returns false if unknown. */
bool cg_activation_from_name(const char *name, cg_activation *out);
const char *cg_activation_name(cg_activation act);

/* Fused dense op: act(x · wᵀ + b), x [N,in], w [out,in], b [out] or NULL. */
cg_tensor *cg_linear(cg_ctx *ctx, cg_tensor *x, cg_tensor *w, cg_tensor *b, cg_activation act);

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
 * norm is at most max_norm; returns the norm before clipping. */
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
} cg_optim_config;

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

/* Learning-rate schedules, evaluated in closed form at an epoch (or step)
 * index t = 0, 1, ...: an optional linear warm-up (LinearLR from
 * warmup_start_factor to 1 over warmup steps) followed by the main rule. */
typedef enum cg_schedule_kind {
    CG_SCHED_CONSTANT = 0,
    CG_SCHED_STEP,         /* lr·gamma^floor(t/step_size)           (StepLR) */
    CG_SCHED_EXPONENTIAL,  /* lr·gamma^t                     (ExponentialLR) */
    CG_SCHED_COSINE        /* eta_min + (lr-eta_min)(1+cos(pi t/t_max))/2 */
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

/* (section owned by the data loaders) */

/* ------------------------------------------------------------------------ */
/* Models from model files (src/nn/model.c, src/io/modelfile.c)             */
/* ------------------------------------------------------------------------ */

/* (section owned by the model/CLI work) */

/* ------------------------------------------------------------------------ */
/* Training loop and checkpoints (src/train/)                               */
/* ------------------------------------------------------------------------ */

/* (section owned by the model/CLI work) */

#ifdef __cplusplus
}
#endif

#endif /* CGRAD_H */
