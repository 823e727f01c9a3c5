/* Sums and means over one axis or over all elements.
 *
 * Around the reduced axis a tensor is viewed as [outer, K, inner]. Each
 * output element is added up in index order by one thread, and the sum of
 * all elements uses chunks fixed by the length alone, so results do not
 * depend on the thread count. */
#include "internal.h"

#include <string.h>

#define SUM_CHUNKS 64
#define INNER_BLOCK 512

/* Σ x[0..n) in double: serial when small, else SUM_CHUNKS fixed chunks whose
 * partial sums are added in order. Shared with elementwise.c and loss.c. */

double cg__sum_all(const float *x, int64_t n)
{
    double part[SUM_CHUNKS] = {0};
    int64_t chunk = n > 32768 ? (n + SUM_CHUNKS - 1) / SUM_CHUNKS : n;
    int chunks = (int)((n + chunk - 1) / chunk);
#pragma omp parallel for schedule(static) if (chunks > 1)
    for (int c = 0; c < chunks; c++) {
        int64_t lo = c * chunk, hi = lo + chunk < n ? lo + chunk : n;
        double s = 0.0;
        for (int64_t i = lo; i < hi; i++) s += x[i];
        part[c] = s;
    }
    double total = 0.0;
    for (int c = 0; c < chunks; c++) total += part[c];
    return total;
}

/* y[o,i] = s·Σ_k x[o,k,i]. Last axis: one double sum per row. Otherwise the
 * rows are added vectorised over i, split by (o, block of i). */
static void sum_axis(const float *x, float *y, int64_t outer, int64_t K, int64_t inner, float s)
{
    if (inner == 1) {
#pragma omp parallel for schedule(static) if (outer * K > 32768 && outer > 1)
        for (int64_t o = 0; o < outer; o++) {
            double sum = 0.0;
            for (int64_t k = 0; k < K; k++) sum += x[o * K + k];
            y[o] = (float)(s * sum);
        }
        return;
    }
    int64_t blocks = (inner + INNER_BLOCK - 1) / INNER_BLOCK;
#pragma omp parallel for schedule(static) if (outer * K * inner > 32768)
    for (int64_t t = 0; t < outer * blocks; t++) {
        int64_t o = t / blocks, i0 = t % blocks * INNER_BLOCK;
        int64_t len = inner - i0 < INNER_BLOCK ? inner - i0 : INNER_BLOCK;
        float *yr = y + o * inner + i0;
        const float *xo = x + o * K * inner + i0;
        memset(yr, 0, (size_t)len * sizeof *yr);
        for (int64_t k = 0; k < K; k++)
            for (int64_t i = 0; i < len; i++) yr[i] += xo[k * inner + i];
        for (int64_t i = 0; i < len; i++) yr[i] *= s;
    }
}

/* dx[o,k,i] = s·dy[o,i] */
static void reduce_backward(cg_ctx *ctx, cg_node *node)
{
    cg_tensor *x = node->inputs[0], *y = node->out;
    bool acc;
    float *dx = cg__grad_dest(ctx, x, &acc);
    if (!dx) return;
    int64_t K = node->iarg[1], inner = node->iarg[2], rows = x->size / inner;
    float s = node->farg[0];
    const float *dy = y->grad;
#pragma omp parallel for schedule(static) if (x->size > 32768)
    for (int64_t r = 0; r < rows; r++) {
        const float *g = dy + r / K * inner;
        float *d = dx + r * inner;
        for (int64_t i = 0; i < inner; i++) d[i] = (acc ? d[i] : 0.0f) + s * g[i];
    }
}

const cg_op_def cg_op_sum = {"sum", reduce_backward};
const cg_op_def cg_op_mean = {"mean", reduce_backward};

static cg_tensor *reduce(cg_ctx *ctx, const cg_op_def *op, cg_tensor *x, int axis, bool keepdim)
{
    if (cg__null_input(op->name, &x, 1)) return NULL;
    int64_t shape[CG_MAX_DIMS], outer = 1, K = x->size, inner = 1;
    int ndim = keepdim ? x->ndim : 0;
    for (int d = 0; d < ndim; d++) shape[d] = 1;
    if (axis != CG_AXIS_ALL) {
        int ax;
        if (!cg__axis(axis, x->ndim, op->name, &ax)) return NULL;
        K = x->shape[ax];
        ndim = 0;
        for (int d = 0; d < x->ndim; d++) {
            if (d < ax) outer *= x->shape[d];
            if (d > ax) inner *= x->shape[d];
            if (d != ax) shape[ndim++] = x->shape[d];
            else if (keepdim) shape[ndim++] = 1;
        }
    }
    cg_tensor *y = cg__tensor_alloc(ctx, ndim, shape);
    if (!y) return NULL;
    float s = op == &cg_op_mean ? (float)(1.0 / (double)K) : 1.0f;
    if (outer == 1 && inner == 1)
        y->data[0] = (float)(s * cg__sum_all(x->data, K));
    else
        sum_axis(x->data, y->data, outer, K, inner, s);
    if (cg__needs_grad(ctx, &x, 1)) {
        cg_node *node = cg__record(ctx, op, y, &x, 1);
        if (!node) return NULL;
        node->iarg[1] = K;
        node->iarg[2] = inner;
        node->farg[0] = s;
    }
    return y;
}

cg_tensor *cg_sum(cg_ctx *ctx, cg_tensor *x, int axis, bool keepdim)
{
    return reduce(ctx, &cg_op_sum, x, axis, keepdim);
}

cg_tensor *cg_mean(cg_ctx *ctx, cg_tensor *x, int axis, bool keepdim)
{
    return reduce(ctx, &cg_op_mean, x, axis, keepdim);
}

#define COL_BLOCK 256

/* dst[c] (= or +=) s·Σ_r src[r·inner + c]: column blocks split across
 * threads, each column summed in row order. */
void cg__sum_rows(float *dst, const float *src, float s, int64_t rows, int64_t inner,
                  bool acc)
{
#pragma omp parallel for schedule(static) if (rows * inner > 32768)
    for (int64_t c0 = 0; c0 < inner; c0 += COL_BLOCK) {
        int64_t len = inner - c0 < COL_BLOCK ? inner - c0 : COL_BLOCK;
        float col[COL_BLOCK] = {0};
        for (int64_t r = 0; r < rows; r++) {
            const float *row = src + r * inner + c0;
            for (int64_t c = 0; c < len; c++) col[c] += row[c];
        }
        for (int64_t c = 0; c < len; c++) dst[c0 + c] = (acc ? dst[c0 + c] : 0.0f) + s * col[c];
    }
}
