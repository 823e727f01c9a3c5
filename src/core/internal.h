/* Internal interfaces shared by the library's source files; not installed. */
#ifndef CGRAD_INTERNAL_H
#define CGRAD_INTERNAL_H

#include "cgrad.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- arena: bump allocator, reset per step, grows but keeps its size ---- */

typedef struct cg_arena_chunk {
    struct cg_arena_chunk *next;
    size_t size;
    size_t used;
    unsigned char *mem;
} cg_arena_chunk;

typedef struct cg_arena {
    cg_arena_chunk *head;   /* chunk being filled; older chunks follow */
    size_t used_total;
    size_t peak;
    size_t reserved;
} cg_arena;

cg_status cg_arena_init(cg_arena *a, size_t bytes);
void cg_arena_release(cg_arena *a);
/* 64-byte aligned, uninitialised; NULL (with error set) on failure. */
void *cg_arena_alloc(cg_arena *a, size_t bytes);
/* Frees everything; merges chunks into one so the next step fits without malloc. */
void cg_arena_reset(cg_arena *a);

/* ---- OpenMP thread queries that also build without OpenMP (the fuzz
 * targets are compiled without it) ---- */

#ifdef _OPENMP
#include <omp.h>
static inline int cg__max_threads(void) { return omp_get_max_threads(); }
static inline int cg__thread_index(void) { return omp_get_thread_num(); }
#else
static inline int cg__max_threads(void) { return 1; }
static inline int cg__thread_index(void) { return 0; }
#endif

/* ---- threads: the count planned (cg_set_num_threads) fixes how work is
 * cut; fewer may run it (core/threads.c) ---- */

int cg__plan_threads(void);
/* BLAS on one thread (once; cg_ctx_create calls it). */
void cg__threads_init(void);
/* Runs the following parallel loops on n threads (1 <= n <= planned). */
void cg__use_threads(int n);

/* ---- matrix products (ops/gemm.c): C[M, N] (=, or += when acc)
 * alpha·op(A)·op(B), row-major with leading dimensions. cg__gemm cuts a
 * large product into blocks run in parallel, by shape and planned thread
 * count only, so its result does not depend on how many threads ran it;
 * cg__gemm_serial is one BLAS call on this thread (inside parallel loops). */

void cg__gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
              int64_t lda, const float *B, int64_t ldb, bool acc, float *C, int64_t ldc);
void cg__gemm_serial(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                     const float *A, int64_t lda, const float *B, int64_t ldb, bool acc, float *C,
                     int64_t ldc);

/* ---- the tape ---- */

struct cg_node;
typedef void (*cg_backward_fn)(cg_ctx *ctx, struct cg_node *node);

/* One entry of the op registry. Ops are recorded and serialised by name. */
typedef struct cg_op_def {
    const char *name;
    cg_backward_fn backward;
} cg_op_def;

#define CG_NODE_INLINE_INPUTS 3

typedef struct cg_node {
    const cg_op_def *op;
    cg_tensor *out;
    cg_tensor **inputs;                 /* n_inputs entries */
    int n_inputs;
    size_t tape_index;
    cg_tensor *inline_inputs[CG_NODE_INLINE_INPUTS];
    /* Op-specific saved values (axis, slope, pointers to saved buffers). */
    int64_t iarg[4];
    float farg[4];
    void *saved;
} cg_node;

struct cg_ctx {
    cg_arena arena;
    cg_node **tape;
    size_t tape_len;
    size_t tape_cap;
    bool grad_enabled;
    bool training;
    cg_status backward_status;   /* first failure inside a backward pass */
    cg_rng rng;
    cg_profile *profile;         /* NULL: not profiling */
};

/* ---- profiling (core/profile.c) ---- */
double cg__clock(void);   /* monotonic seconds */
void cg__profile_add(cg_profile *p, cg_profile_pass pass, const char *name, double seconds);
void cg__profile_phase(cg_profile *p, cg_profile_phase phase, double seconds);
void cg__profile_step(cg_profile *p);

/* Arena tensor of the given shape, data uninitialised; NULL on failure. */
cg_tensor *cg__tensor_alloc(cg_ctx *ctx, int ndim, const int64_t *shape);
/* Same shape as t. */
cg_tensor *cg__tensor_like(cg_ctx *ctx, const cg_tensor *t);
/* Arena scratch of n floats. */
float *cg__scratch(cg_ctx *ctx, int64_t n);

/* Should an op with these inputs be recorded? (grad on and some input needs grad) */
bool cg__needs_grad(const cg_ctx *ctx, cg_tensor *const *inputs, int n);
/* Records out = op(inputs) on the tape; returns the node (NULL on failure).
 * Call only when cg__needs_grad was true. */
cg_node *cg__record(cg_ctx *ctx, const cg_op_def *op, cg_tensor *out,
                    cg_tensor *const *inputs, int n);

/* Gradient destination for input t during backward. Returns NULL when t needs
 * no gradient. *accumulate tells whether to add (true) or overwrite (false):
 * the first contribution in a round overwrites, so no zeroing pass is needed. */
float *cg__grad_dest(cg_ctx *ctx, cg_tensor *t, bool *accumulate);

/* Shape helpers. */
int64_t cg__numel(int ndim, const int64_t *shape);
bool cg__check_shape(int ndim, const int64_t *shape, const char *what);
/* Normalise axis for rank ndim (negative from the end); false + error if out of range. */
bool cg__axis(int axis, int ndim, const char *op, int *out);

/* Sets CG_ERR_ARG "op: why (shapes [..] and [..])" and returns NULL. */
cg_tensor *cg__shape_error(const char *op, const cg_tensor *a, const cg_tensor *b,
                           const char *why);
/* Sum of n floats in double, in fixed chunks: the same result for any
 * thread count (ops/reduce.c). */
double cg__sum_all(const float *x, int64_t n);
/* dst[c] (=, or += when acc) s·Σ_r src[r·inner + c], each column summed in
 * row order whatever the thread count (ops/reduce.c). */
void cg__sum_rows(float *dst, const float *src, float s, int64_t rows, int64_t inner, bool acc);

/* Argument guard used by every op: returns true if any input is NULL (the
 * error was set by the op that produced it, or is set here). */
bool cg__null_input(const char *op, cg_tensor *const *xs, int n);


/* Zero-fills the gradients no backward wrote in this round, so optimizers
 * can read every gradient (nn/params.c). */
void cg__params_finish_grads(cg_params *p);


/* ---- overflow-checked size arithmetic (shape inference, memory estimates):
 * false, *out untouched, when a negative operand or an overflow makes the
 * result meaningless ---- */

static inline bool cg__checked_mul(int64_t a, int64_t b, int64_t *out)
{
    if (a < 0 || b < 0 || (a != 0 && b > INT64_MAX / a)) return false;
    *out = a * b;
    return true;
}

static inline bool cg__checked_add(int64_t a, int64_t b, int64_t *out)
{
    if (a < 0 || b < 0 || a > INT64_MAX - b) return false;
    *out = a + b;
    return true;
}

static inline bool cg__shape_numel(int ndim, const int64_t *shape, int64_t *out)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        if (!cg__checked_mul(n, shape[i], &n)) return false;
    *out = n;
    return true;
}

/* ---- a model's buffers: named non-trainable tensors (nn/buffers.c) ---- */

typedef struct cg_buffers cg_buffers;

cg_buffers *cg__buffers_create(void);
void cg__buffers_destroy(cg_buffers *b);
/* A zero-filled buffer; NULL with the error set (duplicate name, no memory). */
void *cg__buffers_add(cg_buffers *b, const char *name, cg_dtype dtype, int ndim,
                      const int64_t *shape);
size_t cg__buffers_count(const cg_buffers *b);
cg_buffer *cg__buffers_at(cg_buffers *b, size_t i);

/* ---- data augmentation of training batches (train/augment.c) ---- */

bool cg__augment_active(const cg_augment *a);
/* Augments the image batch x [N, C, H, W] in place; sample_ids[i] is row
 * i's index in the data set (it seeds that sample's draws with seed and
 * epoch). Scratch comes from ctx's arena. */
cg_status cg__augment_batch(cg_ctx *ctx, const cg_augment *a, cg_tensor *x,
                            const int64_t *sample_ids, uint64_t seed, int64_t epoch);

#endif
