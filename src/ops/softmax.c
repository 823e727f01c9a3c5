/* softmax and log_softmax along any axis.
 *
 * Around the axis a tensor is [outer, K, inner]: each of the outer·inner
 * lines holds K values `inner` apart (contiguous for the last axis). The
 * largest value of a line is subtracted before exponentiating, so no exp
 * overflows. */
#include "internal.h"

#include <math.h>

typedef struct lines {
    int64_t count, K, stride;
} lines;

static lines lines_of(const cg_tensor *x, int axis)
{
    lines l = {1, x->shape[axis], 1};
    for (int d = 0; d < x->ndim; d++) {
        if (d != axis) l.count *= x->shape[d];
        if (d > axis) l.stride *= x->shape[d];
    }
    return l;
}

/* Offset of the first value of line j. */
static int64_t line_start(lines l, int64_t j)
{
    return j / l.stride * l.K * l.stride + j % l.stride;
}

static void softmax_line(const float *x, float *y, int64_t K, int64_t st, bool log_form)
{
    float m = x[0];
    for (int64_t k = 1; k < K; k++) m = fmaxf(m, x[k * st]);
    float sum = 0.0f;
    for (int64_t k = 0; k < K; k++) {
        float e = expf(x[k * st] - m);
        if (!log_form) y[k * st] = e;
        sum += e;
    }
    if (log_form) {
        float lse = m + logf(sum);
        for (int64_t k = 0; k < K; k++) y[k * st] = x[k * st] - lse;
    } else {
        float inv = 1.0f / sum;
        for (int64_t k = 0; k < K; k++) y[k * st] *= inv;
    }
}

/* softmax:     dx = y⊙(dy − Σ dy⊙y)
 * log_softmax: dx = dy − eʸ·Σ dy */
static void softmax_line_grad(const float *y, const float *dy, float *dx, int64_t K, int64_t st,
                              bool log_form, bool acc)
{
    float dot = 0.0f;
    for (int64_t k = 0; k < K; k++) dot += log_form ? dy[k * st] : dy[k * st] * y[k * st];
    for (int64_t k = 0; k < K; k++) {
        int64_t i = k * st;
        float g = log_form ? dy[i] - expf(y[i]) * dot : y[i] * (dy[i] - dot);
        dx[i] = acc ? dx[i] + g : g;
    }
}

static void softmax_backward(cg_ctx *ctx, cg_node *node)
{
    cg_tensor *x = node->inputs[0], *y = node->out;
    bool acc;
    float *dx = cg__grad_dest(ctx, x, &acc);
    if (!dx) return;
    lines l = lines_of(x, (int)node->iarg[0]);
    bool log_form = node->iarg[1];
#pragma omp parallel for schedule(static) if (x->size > 32768)
    for (int64_t j = 0; j < l.count; j++) {
        int64_t o = line_start(l, j);
        softmax_line_grad(y->data + o, y->grad + o, dx + o, l.K, l.stride, log_form, acc);
    }
}

const cg_op_def cg_op_softmax = {"softmax", softmax_backward};
const cg_op_def cg_op_log_softmax = {"log_softmax", softmax_backward};

static cg_tensor *softmax(cg_ctx *ctx, const cg_op_def *op, cg_tensor *x, int axis)
{
    if (cg__null_input(op->name, &x, 1)) return NULL;
    int ax;
    if (!cg__axis(axis, x->ndim, op->name, &ax)) return NULL;
    cg_tensor *y = cg__tensor_like(ctx, x);
    if (!y) return NULL;
    bool log_form = op == &cg_op_log_softmax;
    lines l = lines_of(x, ax);
#pragma omp parallel for schedule(static) if (x->size > 32768)
    for (int64_t j = 0; j < l.count; j++) {
        int64_t o = line_start(l, j);
        softmax_line(x->data + o, y->data + o, l.K, l.stride, log_form);
    }
    if (cg__needs_grad(ctx, &x, 1)) {
        cg_node *node = cg__record(ctx, op, y, &x, 1);
        if (!node) return NULL;
        node->iarg[0] = ax;
        node->iarg[1] = log_form;
    }
    return y;
}

cg_tensor *cg_softmax(cg_ctx *ctx, cg_tensor *x, int axis)
{
    return softmax(ctx, &cg_op_softmax, x, axis);
}

cg_tensor *cg_log_softmax(cg_ctx *ctx, cg_tensor *x, int axis)
{
    return softmax(ctx, &cg_op_log_softmax, x, axis);
}
