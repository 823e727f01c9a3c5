/* Shape ops: reshape/flatten (views), concat and slice (copies).
 *
 * reshape shares its input's data: tensors are not written after the op
 * that made them, and a row-major tensor reads the same under any shape of
 * its size. Gradients still get a buffer of their own per tensor. Concat and
 * slice view a tensor as [outer, axis, inner] and move whole blocks. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

static const char *dims_str(int ndim, const int64_t *shape, char *buf, size_t size)
{
    cg_tensor t = {.ndim = ndim};
    for (int i = 0; i < ndim; i++) t.shape[i] = shape[i];
    return cg_shape_str(&t, buf, size);
}

static void outer_inner(const cg_tensor *t, int axis, int64_t *outer, int64_t *inner)
{
    *outer = *inner = 1;
    for (int d = 0; d < axis; d++) *outer *= t->shape[d];
    for (int d = axis + 1; d < t->ndim; d++) *inner *= t->shape[d];
}

/* For each of `rows` rows: dst[r·dst_row + j] (= or +=) src[r·src_row + j], j < len. */
static void copy_rows(float *dst, int64_t dst_row, const float *src, int64_t src_row,
                      int64_t rows, int64_t len, bool acc)
{
#pragma omp parallel for schedule(static) if (rows * len > 32768 && rows > 1)
    for (int64_t r = 0; r < rows; r++) {
        float *d = dst + r * dst_row;
        const float *s = src + r * src_row;
        if (acc)
            for (int64_t j = 0; j < len; j++) d[j] += s[j];
        else
            memcpy(d, s, (size_t)len * sizeof *d);
    }
}

/* ---------------------------------------------------------------- reshape */

/* dx = dy, read under x's shape. When x is an op's output that has no
 * gradient buffer yet, dy's buffer becomes x's (moved, not copied: the
 * reshape's output loses it, so a second backward over the tape cannot
 * write x's gradient into a buffer the reshape has still to read). A
 * sequence layer reshapes [N, T, F] to rows and back around every GEMM;
 * the copies took 9% of a Transformer step. Leaves keep their own buffers
 * (parameters' point into the flat gradient block). */
static void reshape_backward(cg_ctx *ctx, cg_node *node)
{
    cg_tensor *x = node->inputs[0], *y = node->out;
    if (x->requires_grad && x->node && !x->grad && y->grad) {
        x->grad = y->grad;
        x->grad_written = true;
        y->grad = NULL;
        return;
    }
    bool acc;
    float *dx = cg__grad_dest(ctx, x, &acc);
    if (dx) copy_rows(dx, 0, node->out->grad, 0, 1, x->size, acc);
}

const cg_op_def cg_op_reshape = {"reshape", reshape_backward};

static cg_tensor *view(cg_ctx *ctx, cg_tensor *x, int ndim, const int64_t *shape)
{
    if (!ctx) {
        cg_set_error(CG_ERR_ARG, "reshape: context is NULL");
        return NULL;
    }
    cg_tensor *y = cg_arena_alloc(&ctx->arena, sizeof *y);
    if (!y) return NULL;
    memset(y, 0, sizeof *y);
    y->ndim = ndim;
    for (int d = 0; d < ndim; d++) y->shape[d] = shape[d];
    y->size = x->size;
    y->data = x->data;
    if (cg__needs_grad(ctx, &x, 1) && !cg__record(ctx, &cg_op_reshape, y, &x, 1)) return NULL;
    return y;
}

static cg_tensor *reshape_error(const cg_tensor *x, int ndim, const int64_t *shape,
                                const char *why)
{
    char sx[96], sy[96];
    cg_set_error(CG_ERR_ARG, "reshape: cannot view %s (%lld elements) as %s: %s",
                 cg_shape_str(x, sx, sizeof sx), (long long)x->size,
                 dims_str(ndim, shape, sy, sizeof sy), why);
    return NULL;
}

cg_tensor *cg_reshape(cg_ctx *ctx, cg_tensor *x, int ndim, const int64_t *shape)
{
    if (cg__null_input("reshape", &x, 1)) return NULL;
    if (ndim < 0 || ndim > CG_MAX_DIMS || (ndim > 0 && !shape)) {
        cg_set_error(CG_ERR_ARG, "reshape: rank %d outside 0..%d or shape NULL", ndim,
                     CG_MAX_DIMS);
        return NULL;
    }
    int64_t dims[CG_MAX_DIMS], known = 1;
    int infer = -1;
    for (int d = 0; d < ndim; d++) {
        dims[d] = shape[d];
        if (shape[d] == -1 && infer < 0) {
            infer = d;
        } else if (shape[d] == -1) {
            return reshape_error(x, ndim, shape, "more than one -1");
        } else if (shape[d] <= 0) {
            return reshape_error(x, ndim, shape, "dimensions must be positive or -1");
        } else if (shape[d] > x->size / known) {
            return reshape_error(x, ndim, shape, "sizes differ");
        } else {
            known *= shape[d];
        }
    }
    if (infer >= 0) {
        if (x->size % known) return reshape_error(x, ndim, shape, "sizes do not divide");
        dims[infer] = x->size / known;
    } else if (known != x->size) {
        return reshape_error(x, ndim, shape, "sizes differ");
    }
    return view(ctx, x, ndim, dims);
}

cg_tensor *cg_flatten(cg_ctx *ctx, cg_tensor *x)
{
    if (cg__null_input("flatten", &x, 1)) return NULL;
    if (x->ndim < 1) {
        cg_set_error(CG_ERR_ARG, "flatten: input must have a batch dimension, got rank 0");
        return NULL;
    }
    return view(ctx, x, 2, (int64_t[]){x->shape[0], x->size / x->shape[0]});
}

/* ---------------------------------------------------------------- concat */

/* Each dxᵢ is its own block of columns of dy, row by row. */
static void concat_backward(cg_ctx *ctx, cg_node *node)
{
    cg_tensor *y = node->out;
    int64_t outer = node->iarg[0], inner = node->iarg[1], axis = node->iarg[2];
    int64_t row = y->shape[axis] * inner, offset = 0;
    for (int i = 0; i < node->n_inputs; i++) {
        cg_tensor *x = node->inputs[i];
        int64_t len = x->shape[axis] * inner;
        bool acc;
        float *dx = cg__grad_dest(ctx, x, &acc);
        if (dx) copy_rows(dx, len, y->grad + offset, row, outer, len, acc);
        offset += len;
    }
}

const cg_op_def cg_op_concat = {"concat", concat_backward};

static bool concat_shapes_ok(cg_tensor *const *xs, int n, int axis, int64_t *total)
{
    *total = 0;
    for (int i = 0; i < n; i++) {
        bool ok = xs[i]->ndim == xs[0]->ndim;
        for (int d = 0; ok && d < xs[0]->ndim; d++)
            ok = d == axis || xs[i]->shape[d] == xs[0]->shape[d];
        if (!ok) {
            char s0[96], si[96];
            cg_set_error(CG_ERR_ARG,
                         "concat: input %d has shape %s, input 0 has %s; they may differ "
                         "only along axis %d",
                         i, cg_shape_str(xs[i], si, sizeof si), cg_shape_str(xs[0], s0, sizeof s0),
                         axis);
            return false;
        }
        *total += xs[i]->shape[axis];
    }
    return true;
}

cg_tensor *cg_concat(cg_ctx *ctx, cg_tensor *const *xs, int n, int axis)
{
    if (!xs || n < 1) {
        cg_set_error(CG_ERR_ARG, "concat: needs at least one input, got %d", xs ? n : 0);
        return NULL;
    }
    if (cg__null_input("concat", xs, n)) return NULL;
    int ax;
    int64_t total, outer, inner;
    if (!cg__axis(axis, xs[0]->ndim, "concat", &ax)) return NULL;
    if (!concat_shapes_ok(xs, n, ax, &total)) return NULL;
    int64_t shape[CG_MAX_DIMS];
    memcpy(shape, xs[0]->shape, sizeof shape);
    shape[ax] = total;
    cg_tensor *y = cg__tensor_alloc(ctx, xs[0]->ndim, shape);
    if (!y) return NULL;
    outer_inner(y, ax, &outer, &inner);
    int64_t offset = 0;
    for (int i = 0; i < n; i++) {
        int64_t len = xs[i]->shape[ax] * inner;
        copy_rows(y->data + offset, total * inner, xs[i]->data, len, outer, len, false);
        offset += len;
    }
    if (cg__needs_grad(ctx, xs, n)) {
        cg_node *node = cg__record(ctx, &cg_op_concat, y, xs, n);
        if (!node) return NULL;
        node->iarg[0] = outer;
        node->iarg[1] = inner;
        node->iarg[2] = ax;
    }
    return y;
}

/* ---------------------------------------------------------------- slice */

/* dx = dy inside the slice, 0 outside. */
static void slice_backward(cg_ctx *ctx, cg_node *node)
{
    cg_tensor *x = node->inputs[0], *y = node->out;
    bool acc;
    float *dx = cg__grad_dest(ctx, x, &acc);
    if (!dx) return;
    int64_t outer = node->iarg[0], inner = node->iarg[1], start = node->iarg[2];
    int64_t axis = node->iarg[3], row = x->shape[axis] * inner;
    int64_t len = y->shape[axis] * inner;
    if (!acc) memset(dx, 0, (size_t)x->size * sizeof *dx);
    copy_rows(dx + start * inner, row, y->grad, len, outer, len, true);
}

const cg_op_def cg_op_slice = {"slice", slice_backward};

cg_tensor *cg_slice(cg_ctx *ctx, cg_tensor *x, int axis, int64_t start, int64_t end)
{
    if (cg__null_input("slice", &x, 1)) return NULL;
    int ax;
    if (!cg__axis(axis, x->ndim, "slice", &ax)) return NULL;
    int64_t dim = x->shape[ax];
    int64_t s = start < 0 ? start + dim : start, e = end < 0 ? end + dim : end;
    if (s < 0 || e > dim || s >= e) {
        char sx[96];
        cg_set_error(CG_ERR_ARG, "slice: range [%lld, %lld) is empty or outside axis %d of %s",
                     (long long)start, (long long)end, axis, cg_shape_str(x, sx, sizeof sx));
        return NULL;
    }
    int64_t shape[CG_MAX_DIMS], outer, inner;
    memcpy(shape, x->shape, sizeof shape);
    shape[ax] = e - s;
    cg_tensor *y = cg__tensor_alloc(ctx, x->ndim, shape);
    if (!y) return NULL;
    outer_inner(x, ax, &outer, &inner);
    int64_t len = (e - s) * inner;
    copy_rows(y->data, len, x->data + s * inner, dim * inner, outer, len, false);
    if (cg__needs_grad(ctx, &x, 1)) {
        cg_node *node = cg__record(ctx, &cg_op_slice, y, &x, 1);
        if (!node) return NULL;
        node->iarg[0] = outer;
        node->iarg[1] = inner;
        node->iarg[2] = s;
        node->iarg[3] = ax;
    }
    return y;
}
