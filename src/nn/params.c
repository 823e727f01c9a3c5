/* Parameters: named tensors viewing two flat buffers (values, gradients).
 * A flat layout makes an optimizer step one loop, a checkpoint one pass and
 * a future allreduce one call. */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct cg_params {
    cg_tensor **tensors;
    size_t count;
    size_t cap;
    float *data;
    float *grad;
    int64_t numel;
};

cg_params *cg_params_create(void)
{
    cg_params *p = calloc(1, sizeof *p);
    if (!p) cg_set_error(CG_ERR_NOMEM, "cg_params_create: out of memory");
    return p;
}

void cg_params_destroy(cg_params *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->count; i++) {
        free((char *)p->tensors[i]->name);
        free(p->tensors[i]);
    }
    free(p->tensors);
    free(p->data);
    free(p->grad);
    free(p);
}

/* Points every tensor into the (possibly moved) flat buffers. */
static void repoint(cg_params *p)
{
    int64_t offset = 0;
    for (size_t i = 0; i < p->count; i++) {
        p->tensors[i]->data = p->data + offset;
        p->tensors[i]->grad = p->grad + offset;
        offset += p->tensors[i]->size;
    }
}

static bool grow_buffers(cg_params *p, int64_t extra)
{
    size_t bytes = (size_t)(p->numel + extra) * sizeof(float);
    float *data = realloc(p->data, bytes);
    if (!data) return false;
    p->data = data;
    float *grad = realloc(p->grad, bytes);
    if (!grad) {
        /* data may have moved: keep the existing tensors' views valid. */
        repoint(p);
        return false;
    }
    p->grad = grad;
    memset(p->data + p->numel, 0, (size_t)extra * sizeof(float));
    memset(p->grad + p->numel, 0, (size_t)extra * sizeof(float));
    return true;
}

cg_tensor *cg_params_add(cg_params *p, const char *name, int ndim, const int64_t *shape)
{
    if (!p || !name) {
        cg_set_error(CG_ERR_ARG, "cg_params_add: params or name is NULL");
        return NULL;
    }
    if (cg_params_find(p, name)) {
        cg_set_error(CG_ERR_ARG, "cg_params_add: parameter \"%s\" already exists", name);
        return NULL;
    }
    if (!cg__check_shape(ndim, shape, name)) return NULL;
    if (p->count == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        cg_tensor **grown = realloc(p->tensors, cap * sizeof *grown);
        if (!grown) goto nomem;
        p->tensors = grown;
        p->cap = cap;
    }
    cg_tensor *t = calloc(1, sizeof *t);
    char *copy = t ? strdup(name) : NULL;
    if (!copy) {
        free(t);
        goto nomem;
    }
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->size = cg__numel(ndim, shape);
    t->requires_grad = true;
    t->name = copy;
    if (!grow_buffers(p, t->size)) {
        free(copy);
        free(t);
        goto nomem;
    }
    p->tensors[p->count++] = t;
    p->numel += t->size;
    repoint(p);
    return t;
nomem:
    cg_set_error(CG_ERR_NOMEM, "cg_params_add: no memory for parameter \"%s\"", name);
    return NULL;
}

size_t cg_params_count(const cg_params *p) { return p ? p->count : 0; }

cg_tensor *cg_params_at(const cg_params *p, size_t i)
{
    return p && i < p->count ? p->tensors[i] : NULL;
}

cg_tensor *cg_params_find(const cg_params *p, const char *name)
{
    if (!p || !name) return NULL;
    for (size_t i = 0; i < p->count; i++)
        if (strcmp(p->tensors[i]->name, name) == 0) return p->tensors[i];
    return NULL;
}

int64_t cg_params_numel(const cg_params *p) { return p ? p->numel : 0; }
float *cg_params_data(cg_params *p) { return p ? p->data : NULL; }
float *cg_params_grad(cg_params *p) { return p ? p->grad : NULL; }

void cg_params_zero_grad(cg_params *p)
{
    if (!p) return;
    /* No memset: the next backward overwrites instead of adding. */
    for (size_t i = 0; i < p->count; i++) p->tensors[i]->grad_written = false;
}

void cg__params_finish_grads(cg_params *p)
{
    for (size_t i = 0; i < p->count; i++) {
        cg_tensor *t = p->tensors[i];
        if (!t->grad_written) {
            memset(t->grad, 0, (size_t)t->size * sizeof(float));
            t->grad_written = true;
        }
    }
}

void cg_params_regularize(cg_params *p, float l1, float l2)
{
    if (!p) return;
    cg__params_finish_grads(p);
    const float *w = p->data;
    float *g = p->grad;
    int64_t n = p->numel;
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float sign = (float)(w[i] > 0.0f) - (float)(w[i] < 0.0f);
        g[i] += l1 * sign + l2 * w[i];
    }
}

float cg_params_clip_grad_norm(cg_params *p, float max_norm)
{
    if (!p || !(max_norm > 0.0f) || isinf(max_norm)) {
        cg_set_error(CG_ERR_ARG, "clip_grad_norm: max_norm must be a positive finite number, got %g",
                     (double)max_norm);
        return NAN;
    }
    cg__params_finish_grads(p);
    float *g = p->grad;
    int64_t n = p->numel;
    double sumsq = 0.0;
    /* Reduce per parameter in a fixed order so the result does not depend on
     * the thread count. */
    for (size_t i = 0; i < p->count; i++) {
        const float *pg = p->tensors[i]->grad;
        double s = 0.0;
        for (int64_t j = 0; j < p->tensors[i]->size; j++) s += (double)pg[j] * pg[j];
        sumsq += s;
    }
    float total = (float)sqrt(sumsq);
    /* torch.nn.utils.clip_grad_norm_: coef = max_norm / (total + 1e-6), clamped to 1. */
    float coef = max_norm / (total + 1e-6f);
    if (coef < 1.0f) {
#pragma omp parallel for simd schedule(static)
        for (int64_t i = 0; i < n; i++) g[i] *= coef;
    }
    return total;
}

const cg_tensor *cg_params_first_nonfinite_grad(const cg_params *p)
{
    if (!p) return NULL;
    for (size_t i = 0; i < p->count; i++) {
        const cg_tensor *t = p->tensors[i];
        if (!t->grad_written) continue;
        for (int64_t j = 0; j < t->size; j++)
            if (!isfinite(t->grad[j])) return t;
    }
    return NULL;
}
