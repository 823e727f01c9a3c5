/* Tensors: heap tensors, arena tensors of a step, shape helpers. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t cg__numel(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

bool cg__check_shape(int ndim, const int64_t *shape, const char *what)
{
    if (ndim < 0 || ndim > CG_MAX_DIMS) {
        cg_set_error(CG_ERR_ARG, "%s: rank %d outside 0..%d", what, ndim, CG_MAX_DIMS);
        return false;
    }
    if (ndim > 0 && !shape) {
        cg_set_error(CG_ERR_ARG, "%s: shape is NULL", what);
        return false;
    }
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] <= 0) {
            cg_set_error(CG_ERR_ARG, "%s: dimension %d is %lld, must be positive", what, i,
                         (long long)shape[i]);
            return false;
        }
        if (n > INT64_MAX / (int64_t)sizeof(float) / shape[i]) {
            cg_set_error(CG_ERR_NOMEM, "%s: shape too large to address", what);
            return false;
        }
        n *= shape[i];
    }
    return true;
}

bool cg__axis(int axis, int ndim, const char *op, int *out)
{
    int a = axis < 0 ? axis + ndim : axis;
    if (a < 0 || a >= ndim) {
        cg_set_error(CG_ERR_ARG, "%s: axis %d out of range for rank %d", op, axis, ndim);
        return false;
    }
    *out = a;
    return true;
}

cg_tensor *cg__shape_error(const char *op, const cg_tensor *a, const cg_tensor *b,
                           const char *why)
{
    char sa[96], sb[96];
    cg_set_error(CG_ERR_ARG, "%s: %s (shapes %s and %s)", op, why,
                 cg_shape_str(a, sa, sizeof sa), cg_shape_str(b, sb, sizeof sb));
    return NULL;
}

bool cg__null_input(const char *op, cg_tensor *const *xs, int n)
{
    for (int i = 0; i < n; i++) {
        if (!xs[i]) {
            if (cg_last_status() == CG_OK)
                cg_set_error(CG_ERR_ARG, "%s: input %d is NULL", op, i);
            return true;
        }
    }
    return false;
}

static void set_shape(cg_tensor *t, int ndim, const int64_t *shape)
{
    memset(t, 0, sizeof *t);
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->size = cg__numel(ndim, shape);
}

cg_tensor *cg_tensor_create(int ndim, const int64_t *shape)
{
    if (!cg__check_shape(ndim, shape, "cg_tensor_create")) return NULL;
    cg_tensor *t = malloc(sizeof *t);
    if (!t) {
        cg_set_error(CG_ERR_NOMEM, "cg_tensor_create: out of memory");
        return NULL;
    }
    set_shape(t, ndim, shape);
    t->data = calloc((size_t)t->size, sizeof(float));
    if (!t->data) {
        free(t);
        cg_set_error(CG_ERR_NOMEM, "cg_tensor_create: cannot allocate %lld floats",
                     (long long)cg__numel(ndim, shape));
        return NULL;
    }
    t->owns_data = true;
    return t;
}

void cg_tensor_free(cg_tensor *t)
{
    if (!t) return;
    if (t->owns_data) {
        free(t->data);
        free(t->grad);
    }
    free(t);
}

const char *cg_dims_str(int ndim, const int64_t *dims, char *buf, size_t bufsize)
{
    if (!buf || bufsize == 0) return buf;
    size_t used = (size_t)snprintf(buf, bufsize, "[");
    for (int i = 0; i < ndim && dims && used < bufsize; i++)
        used += (size_t)snprintf(buf + used, bufsize - used, i ? ", %lld" : "%lld",
                                 (long long)dims[i]);
    if (used < bufsize) snprintf(buf + used, bufsize - used, "]");
    return buf;
}

const char *cg_shape_str(const cg_tensor *t, char *buf, size_t bufsize)
{
    if (t) return cg_dims_str(t->ndim, t->shape, buf, bufsize);
    if (buf && bufsize) snprintf(buf, bufsize, "(null)");
    return buf;
}

bool cg_tensor_same_shape(const cg_tensor *a, const cg_tensor *b)
{
    if (!a || !b || a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

void cg_tensor_set_requires_grad(cg_tensor *t, bool requires_grad)
{
    if (t) t->requires_grad = requires_grad;
}

void cg_tensor_zero_grad(cg_tensor *t)
{
    if (t) t->grad_written = false;
}

/* ---- arena tensors ---- */

cg_tensor *cg__tensor_alloc(cg_ctx *ctx, int ndim, const int64_t *shape)
{
    if (!ctx) {
        cg_set_error(CG_ERR_ARG, "context is NULL");
        return NULL;
    }
    if (!cg__check_shape(ndim, shape, "tensor")) return NULL;
    cg_tensor *t = cg_arena_alloc(&ctx->arena, sizeof *t);
    if (!t) return NULL;
    set_shape(t, ndim, shape);
    t->data = cg_arena_alloc(&ctx->arena, (size_t)t->size * sizeof(float));
    return t->data ? t : NULL;
}

cg_tensor *cg__tensor_like(cg_ctx *ctx, const cg_tensor *t)
{
    return cg__tensor_alloc(ctx, t->ndim, t->shape);
}

float *cg__scratch(cg_ctx *ctx, int64_t n)
{
    return cg_arena_alloc(&ctx->arena, (size_t)n * sizeof(float));
}

cg_tensor *cg_tensor_new(cg_ctx *ctx, int ndim, const int64_t *shape)
{
    return cg__tensor_alloc(ctx, ndim, shape);
}

cg_tensor *cg_tensor_zeros(cg_ctx *ctx, int ndim, const int64_t *shape)
{
    cg_tensor *t = cg__tensor_alloc(ctx, ndim, shape);
    if (t) memset(t->data, 0, (size_t)t->size * sizeof(float));
    return t;
}

cg_tensor *cg_tensor_from(cg_ctx *ctx, int ndim, const int64_t *shape, const float *data)
{
    if (!data) {
        cg_set_error(CG_ERR_ARG, "cg_tensor_from: data is NULL");
        return NULL;
    }
    cg_tensor *t = cg__tensor_alloc(ctx, ndim, shape);
    if (t) memcpy(t->data, data, (size_t)t->size * sizeof(float));
    return t;
}

cg_tensor *cg_tensor_scalar(cg_ctx *ctx, float value)
{
    return cg_tensor_from(ctx, 0, NULL, &value);
}
