/* Gradient checks: an op's float32 forward against a double-precision
 * reference written independently in the test, and its backward against
 * central differences of that reference.
 *
 * For a random projection R of the output, the analytic gradient of every
 * input comes from cg_backward_seeded(ctx, y, R); the numeric one is
 * (f(x+h) − f(x−h)) / 2h with f = Σ R·ref(x), in double. A second backward
 * over the same tape must then double every input gradient, which checks the
 * op's accumulate path (cg__grad_dest's acc == true) as well. */
#ifndef CG_TEST_GRADCHECK_H
#define CG_TEST_GRADCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgrad.h"

#define GC_MAX_INPUTS 5

/* Where random inputs are drawn from, so the op is smooth and defined there. */
typedef enum gc_domain {
    GC_ANY = 0,        /* uniform [-2, 2] */
    GC_POSITIVE,       /* uniform [0.5, 2] */
    GC_AWAY_FROM_ZERO, /* ±uniform [0.25, 2]: relu kinks, divisors, pow, l1 */
    GC_SMALL,          /* uniform [-0.1, 0.1] */
    GC_UNIT,           /* uniform [0, 1]: probabilities, BCE targets */
    GC_WIDE            /* uniform [-100, 100]: numerical stability of exp-based ops */
} gc_domain;

/* A shape. A negative dimension -k stands for random dimension k (1..4) of
 * the case: drawn in [1, 5] per trial, the same wherever it is named. */
typedef struct gc_shape {
    int ndim;
    int64_t d[CG_MAX_DIMS];
} gc_shape;

#define GC_D1 (-1)
#define GC_D2 (-2)
#define GC_D3 (-3)
#define GC_D4 (-4)
#define GC_RANDOM_DIMS 4

/* What build and reference functions see of a trial. */
typedef struct gc_args {
    int n_inputs;
    gc_shape shape[GC_MAX_INPUTS];  /* input shapes, random dims resolved */
    gc_shape target;                /* a shape argument (reshape), as given */
    int iarg[4];
    double farg[4];
    const int32_t *labels;          /* shape[0].d[0] labels in [0, shape[0].d[1]) */
    const float *observed;          /* cgrad's output at the unperturbed inputs */
} gc_args;

/* Runs the cgrad op(s) on the inputs. */
typedef cg_tensor *(*gc_build_fn)(cg_ctx *ctx, cg_tensor *const *x, const gc_args *a);
/* Writes the output shape to *out and, when y is not NULL, the output. */
typedef void (*gc_ref_fn)(const gc_args *a, const double *const *x, gc_shape *out, double *y);

typedef struct gc_case {
    const char *name;
    const char *op;                 /* registry op covered; NULL for a composition */
    gc_build_fn build;
    gc_ref_fn ref;
    int n_inputs;
    gc_shape shape[GC_MAX_INPUTS];
    gc_domain domain[GC_MAX_INPUTS];
    unsigned no_grad;               /* bit i set: input i does not require grad */
    gc_shape target;
    int iarg[4];
    double farg[4];
    bool labels;
    int trials;                     /* 0: 1, or 3 when a dimension is random */
    double rtol, atol;              /* gradient tolerance; 0: 1e-3, 1e-4 */
    double fwd_rtol, fwd_atol;      /* forward tolerance; 0: 1e-4, 1e-5 */
} gc_case;

/* Runs every trial of c; false with a report in why (first failures) if any
 * check fails. */
bool gc_run(const gc_case *c, uint64_t seed, char *why, size_t why_size);

/* ---- double-precision helpers for references ---- */

int64_t gc_numel(const gc_shape *s);
bool gc_same_shape(const gc_shape *a, const gc_shape *b);
/* NumPy broadcast of a and b; false if they do not broadcast. */
bool gc_broadcast(const gc_shape *a, const gc_shape *b, gc_shape *out);
/* Flat index into `in` of the element that broadcasts to flat index i of `out`. */
int64_t gc_bcast_index(const gc_shape *out, const gc_shape *in, int64_t i);
/* Sizes before, along and after axis. */
void gc_split(const gc_shape *s, int axis, int64_t *outer, int64_t *len, int64_t *inner);

#endif
