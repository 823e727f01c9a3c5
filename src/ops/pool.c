/* Pooling over the two trailing dimensions of x [N, C, H, W], as
 * torch.nn.functional's max_pool2d, avg_pool2d (ceil_mode=False, dilation 1)
 * and adaptive_avg_pool2d(x, 1) flattened to [N, C].
 *
 * Output position (oh, ow) reads the window whose top-left corner is
 * (oh·sh − ph, ow·sw − pw) in the unpadded input; the padding is implicit:
 * the window is clipped to the input, which for max is −inf padding (it
 * never wins) and for average is zero padding counted in the divisor kh·kw
 * (count_include_pad=True). With padding <= kernel/2, as PyTorch requires,
 * every clipped window keeps at least one input value.
 *
 * Each (n, c) plane is independent, so the loops run in parallel over the
 * N·C planes and every value is computed in the same order whatever the
 * thread count. Windows are scanned row by row, left to right, as PyTorch's
 * CPU kernels do, and the backward passes scatter output by output in that
 * order too, so overlapping windows (stride < kernel) sum their gradients as
 * PyTorch does. */
#include "pool_kernels.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Parallel loops only pay off beyond this much work. */
#define PAR_WORK 32768

typedef cg__pool_geom pool_geom;

/* What a recorded pooling node keeps (node->saved, in the arena). */
typedef struct pool_saved {
    pool_geom g;
    int32_t *argmax;             /* maxpool: index in its plane of each output's max */
} pool_saved;

/* [lo, hi) of the input rows (or columns) under window `o`. */
static inline void window(int64_t o, int64_t stride, int64_t pad, int64_t k, int64_t size,
                          int64_t *lo, int64_t *hi)
{
    int64_t start = o * stride - pad, end = start + k;
    *lo = start > 0 ? start : 0;
    *hi = end < size ? end : size;
}

/* Checks x and the settings, fills g; false with CG_ERR_ARG set. */
static bool geometry(const char *op, const cg_tensor *x, const int64_t *kernel,
                     const int64_t *stride, const int64_t *padding, pool_geom *g)
{
    char shape[96];
    if (x->ndim != 4) {
        cg_set_error(CG_ERR_ARG, "%s: input must be [N, C, H, W], got %s", op,
                     cg_shape_str(x, shape, sizeof shape));
        return false;
    }
    if (!kernel) {
        cg_set_error(CG_ERR_ARG, "%s: kernel is NULL", op);
        return false;
    }
    const int64_t *s = stride ? stride : kernel;
    const int64_t zero[2] = {0, 0}, *p = padding ? padding : zero;
    *g = (pool_geom){.planes = x->shape[0] * x->shape[1], .H = x->shape[2], .W = x->shape[3],
                     .kh = kernel[0], .kw = kernel[1], .sh = s[0], .sw = s[1],
                     .ph = p[0], .pw = p[1]};
    for (int d = 0; d < 2; d++) {
        int64_t k = kernel[d], st = s[d], pad = p[d], in = x->shape[2 + d];
        const char *axis = d ? "width" : "height";
        if (k < 1 || st < 1 || pad < 0 || k > INT32_MAX || st > INT32_MAX) {
            cg_set_error(CG_ERR_ARG, "%s: kernel %lld, stride %lld, padding %lld along the %s: "
                                     "kernel and stride must be in [1, 2^31), padding >= 0",
                         op, (long long)k, (long long)st, (long long)pad, axis);
            return false;
        }
        if (pad > k / 2) {
            cg_set_error(CG_ERR_ARG, "%s: padding %lld along the %s is more than half the "
                                     "kernel %lld", op, (long long)pad, axis, (long long)k);
            return false;
        }
        if (k - 2 * pad > in) { /* k > in + 2·pad, which cannot overflow here */
            cg_set_error(CG_ERR_ARG, "%s: kernel %lld is larger than the %s %lld of the padded "
                                     "input (input %s, padding %lld)", op, (long long)k, axis,
                         (long long)(in + 2 * pad), cg_shape_str(x, shape, sizeof shape),
                         (long long)pad);
            return false;
        }
    }
    g->Ho = (g->H + 2 * g->ph - g->kh) / g->sh + 1;
    g->Wo = (g->W + 2 * g->pw - g->kw) / g->sw + 1;
    return true;
}

static cg_tensor *pooled_output(cg_ctx *ctx, const cg_tensor *x, const pool_geom *g)
{
    int64_t shape[4] = {x->shape[0], x->shape[1], g->Ho, g->Wo};
    return cg__tensor_alloc(ctx, 4, shape);
}

/* Records node with a copy of g; its saved struct, or NULL on failure. */
static pool_saved *record(cg_ctx *ctx, const cg_op_def *op, cg_tensor *y, cg_tensor *x,
                          const pool_geom *g)
{
    cg_node *node = cg__record(ctx, op, y, &x, 1);
    pool_saved *sv = node ? cg_arena_alloc(&ctx->arena, sizeof *sv) : NULL;
    if (!sv) return NULL;
    sv->g = *g;
    sv->argmax = NULL;
    node->saved = sv;
    return sv;
}

/* ---------------------------------------------------------------- max */

/* The max of each window and, when arg is not NULL, where it is. As
 * PyTorch: the first maximum in scan order wins a tie, and a NaN wins over
 * any number (the last NaN of the window). */
static void maxpool_plane(const float *x, float *y, int32_t *arg, const pool_geom *g)
{
    for (int64_t oh = 0; oh < g->Ho; oh++) {
        int64_t h0, h1;
        window(oh, g->sh, g->ph, g->kh, g->H, &h0, &h1);
        for (int64_t ow = 0; ow < g->Wo; ow++) {
            int64_t w0, w1;
            window(ow, g->sw, g->pw, g->kw, g->W, &w0, &w1);
            int64_t best = h0 * g->W + w0;
            float m = -INFINITY;
            for (int64_t ih = h0; ih < h1; ih++) {
                for (int64_t iw = w0; iw < w1; iw++) {
                    float v = x[ih * g->W + iw];
                    if (v > m || isnan(v)) {
                        m = v;
                        best = ih * g->W + iw;
                    }
                }
            }
            y[oh * g->Wo + ow] = m;
            if (arg) arg[oh * g->Wo + ow] = (int32_t)best;
        }
    }
}

/* One output row of the common 2x2, stride-2, unpadded case, written so
 * that gcc vectorises it (32-bit indices, selects, no calls; the generic
 * loop's branches cost a sixth of a W2 step): the same choices as
 * maxpool_plane, a NaN or a strictly larger value replacing the running
 * max in scan order. */
static void maxpool_row_2x2(const float *restrict r0, const float *restrict r1,
                            float *restrict y, int32_t *restrict arg, int32_t base,
                            int32_t W, int32_t Wo)
{
    for (int32_t ow = 0; ow < Wo; ow++) {
        float a = r0[2 * ow], b = r0[2 * ow + 1], c = r1[2 * ow], d = r1[2 * ow + 1];
        float m = a;
        int32_t k = 0;
        bool t = b > m || b != b;
        m = t ? b : m, k = t ? 1 : k;
        t = c > m || c != c;
        m = t ? c : m, k = t ? W : k;
        t = d > m || d != d;
        m = t ? d : m, k = t ? W + 1 : k;
        y[ow] = m;
        arg[ow] = base + 2 * ow + k;
    }
}

/* The same without the argmax (evaluation). */
static void maxpool_row_2x2_value(const float *restrict r0, const float *restrict r1,
                                  float *restrict y, int32_t Wo)
{
    for (int32_t ow = 0; ow < Wo; ow++) {
        float a = r0[2 * ow], b = r0[2 * ow + 1], c = r1[2 * ow], d = r1[2 * ow + 1];
        float m = a;
        m = b > m || b != b ? b : m;
        m = c > m || c != c ? c : m;
        m = d > m || d != d ? d : m;
        y[ow] = m;
    }
}

/* Whole vectors per row for maxpool_planes_2x2. */
#define POOL_VEC 8

/* `planes` planes, 2x2 stride 2. Rows are short (14 and 7 outputs in W2)
 * and a vector loop's tail then costs more than its body, so every row
 * but the last few runs a whole number of vectors: its extra outputs spill
 * into the rows after it, which are written again in their turn (reads
 * stay inside x's planes, writes inside y's). */
static void maxpool_planes_2x2(const pool_geom *g, const float *x, float *y, int32_t *arg,
                               int64_t planes)
{
    int32_t W = (int32_t)g->W, Wo = (int32_t)g->Wo;
    int32_t whole = (Wo + POOL_VEC - 1) / POOL_VEC * POOL_VEC;
    int64_t in = g->H * g->W, out = g->Ho * g->Wo, in_end = planes * in, out_end = planes * out;
    for (int64_t p = 0; p < planes; p++) {
        for (int64_t oh = 0; oh < g->Ho; oh++) {
            int64_t i0 = p * in + 2 * oh * W, o0 = p * out + oh * Wo;
            int32_t n = i0 + W + 2 * whole <= in_end && o0 + whole <= out_end ? whole : Wo;
            if (arg)
                maxpool_row_2x2(x + i0, x + i0 + W, y + o0, arg + o0, (int32_t)(2 * oh * W), W, n);
            else
                maxpool_row_2x2_value(x + i0, x + i0 + W, y + o0, n);
        }
    }
}

static bool is_2x2_stride_2(const pool_geom *g)
{
    return g->kh == 2 && g->kw == 2 && g->sh == 2 && g->sw == 2 && g->ph == 0 && g->pw == 0;
}

/* dx[argmax[o]] += dy[o]: the whole gradient goes to the window's max. */
static void maxpool_backward(cg_ctx *ctx, cg_node *node)
{
    cg_tensor *x = node->inputs[0];
    bool acc;
    float *dx = cg__grad_dest(ctx, x, &acc);
    if (!dx) return;
    const pool_saved *sv = node->saved;
    const pool_geom g = sv->g;
    const float *dy = node->out->grad;
    int64_t in = g.H * g.W, out = g.Ho * g.Wo;
#pragma omp parallel for schedule(static) if (g.planes * (in + out) > PAR_WORK && g.planes > 1)
    for (int64_t p = 0; p < g.planes; p++) {
        float *d = dx + p * in;
        const float *gy = dy + p * out;
        const int32_t *arg = sv->argmax + p * out;
        if (!acc) memset(d, 0, (size_t)in * sizeof *d);
        for (int64_t o = 0; o < out; o++) d[arg[o]] += gy[o];
    }
}

const cg_op_def cg_op_maxpool2d = {"maxpool2d", maxpool_backward};

bool cg__maxpool_geometry(const cg_tensor *x, const int64_t kernel[2], const int64_t stride[2],
                          const int64_t padding[2], pool_geom *g)
{
    if (!geometry("maxpool2d", x, kernel, stride, padding, g)) return false;
    if (g->H * g->W > INT32_MAX) {
        cg_set_error(CG_ERR_ARG, "maxpool2d: planes of %lld x %lld values are too large",
                     (long long)g->H, (long long)g->W);
        return false;
    }
    return true;
}

void cg__maxpool_planes(const pool_geom *g, const float *x, float *y, int32_t *argmax,
                        int64_t planes)
{
    int64_t in = g->H * g->W, out = g->Ho * g->Wo;
    if (is_2x2_stride_2(g)) {
        maxpool_planes_2x2(g, x, y, argmax, planes);
        return;
    }
    for (int64_t p = 0; p < planes; p++)
        maxpool_plane(x + p * in, y + p * out, argmax ? argmax + p * out : NULL, g);
}

cg_tensor *cg_maxpool2d(cg_ctx *ctx, cg_tensor *x, const int64_t kernel[2],
                        const int64_t stride[2], const int64_t padding[2])
{
    if (cg__null_input("maxpool2d", &x, 1)) return NULL;
    pool_geom g;
    if (!cg__maxpool_geometry(x, kernel, stride, padding, &g)) return NULL;
    cg_tensor *y = pooled_output(ctx, x, &g);
    if (!y) return NULL;
    int32_t *argmax = NULL;
    bool grad = cg__needs_grad(ctx, &x, 1);
    if (grad && !(argmax = cg_arena_alloc(&ctx->arena, (size_t)y->size * sizeof *argmax)))
        return NULL;
    int64_t in = g.H * g.W, out = g.Ho * g.Wo;
#pragma omp parallel for schedule(static) if (y->size * g.kh * g.kw > PAR_WORK && g.planes > 1)
    for (int64_t p = 0; p < g.planes; p++) {
        int32_t *arg = argmax ? argmax + p * out : NULL;
        cg__maxpool_planes(&g, x->data + p * in, y->data + p * out, arg, 1);
    }
    pool_saved *sv = grad ? record(ctx, &cg_op_maxpool2d, y, x, &g) : NULL;
    if (grad && !sv) return NULL;
    if (sv) sv->argmax = argmax;
    return y;
}

/* ---------------------------------------------------------------- average */

/* Σ window / (kh·kw), summed in float in scan order as PyTorch does. */
static void avgpool_plane(const float *x, float *y, const pool_geom *g)
{
    float div = (float)(g->kh * g->kw);
    for (int64_t oh = 0; oh < g->Ho; oh++) {
        int64_t h0, h1;
        window(oh, g->sh, g->ph, g->kh, g->H, &h0, &h1);
        for (int64_t ow = 0; ow < g->Wo; ow++) {
            int64_t w0, w1;
            window(ow, g->sw, g->pw, g->kw, g->W, &w0, &w1);
            float sum = 0.0f;
            for (int64_t ih = h0; ih < h1; ih++)
                for (int64_t iw = w0; iw < w1; iw++) sum += x[ih * g->W + iw];
            y[oh * g->Wo + ow] = sum / div;
        }
    }
}

/* dx[i] += dy[o] / (kh·kw) for every input i under window o. */
static void avgpool_backward(cg_ctx *ctx, cg_node *node)
{
    cg_tensor *x = node->inputs[0];
    bool acc;
    float *dx = cg__grad_dest(ctx, x, &acc);
    if (!dx) return;
    const pool_geom g = ((const pool_saved *)node->saved)->g;
    const float *dy = node->out->grad;
    float div = (float)(g.kh * g.kw);
    int64_t in = g.H * g.W, out = g.Ho * g.Wo, work = g.planes * (in + out * g.kh * g.kw);
#pragma omp parallel for schedule(static) if (work > PAR_WORK && g.planes > 1)
    for (int64_t p = 0; p < g.planes; p++) {
        float *d = dx + p * in;
        const float *gy = dy + p * out;
        if (!acc) memset(d, 0, (size_t)in * sizeof *d);
        for (int64_t oh = 0; oh < g.Ho; oh++) {
            int64_t h0, h1;
            window(oh, g.sh, g.ph, g.kh, g.H, &h0, &h1);
            for (int64_t ow = 0; ow < g.Wo; ow++) {
                int64_t w0, w1;
                window(ow, g.sw, g.pw, g.kw, g.W, &w0, &w1);
                float share = gy[oh * g.Wo + ow] / div;
                for (int64_t ih = h0; ih < h1; ih++)
                    for (int64_t iw = w0; iw < w1; iw++) d[ih * g.W + iw] += share;
            }
        }
    }
}

const cg_op_def cg_op_avgpool2d = {"avgpool2d", avgpool_backward};

cg_tensor *cg_avgpool2d(cg_ctx *ctx, cg_tensor *x, const int64_t kernel[2],
                        const int64_t stride[2], const int64_t padding[2])
{
    if (cg__null_input("avgpool2d", &x, 1)) return NULL;
    pool_geom g;
    if (!geometry("avgpool2d", x, kernel, stride, padding, &g)) return NULL;
    cg_tensor *y = pooled_output(ctx, x, &g);
    if (!y) return NULL;
    int64_t in = g.H * g.W, out = g.Ho * g.Wo;
#pragma omp parallel for schedule(static) if (y->size * g.kh * g.kw > PAR_WORK && g.planes > 1)
    for (int64_t p = 0; p < g.planes; p++) avgpool_plane(x->data + p * in, y->data + p * out, &g);
    if (cg__needs_grad(ctx, &x, 1) && !record(ctx, &cg_op_avgpool2d, y, x, &g)) return NULL;
    return y;
}

/* ---------------------------------------------------------------- global average */

/* dx[p, i] = dy[p] / (H·W) */
static void global_avgpool_backward(cg_ctx *ctx, cg_node *node)
{
    cg_tensor *x = node->inputs[0];
    bool acc;
    float *dx = cg__grad_dest(ctx, x, &acc);
    if (!dx) return;
    const float *dy = node->out->grad;
    int64_t planes = x->shape[0] * x->shape[1], in = x->shape[2] * x->shape[3];
    float div = (float)in;
#pragma omp parallel for schedule(static) if (x->size > PAR_WORK && planes > 1)
    for (int64_t p = 0; p < planes; p++) {
        float share = dy[p] / div, *d = dx + p * in;
        if (acc)
            for (int64_t i = 0; i < in; i++) d[i] += share;
        else
            for (int64_t i = 0; i < in; i++) d[i] = share;
    }
}

const cg_op_def cg_op_global_avgpool = {"global_avgpool", global_avgpool_backward};

/* Each plane's mean is summed in double and rounded once. */
cg_tensor *cg_global_avgpool(cg_ctx *ctx, cg_tensor *x)
{
    if (cg__null_input("global_avgpool", &x, 1)) return NULL;
    if (x->ndim != 4) {
        char shape[96];
        cg_set_error(CG_ERR_ARG, "global_avgpool: input must be [N, C, H, W], got %s",
                     cg_shape_str(x, shape, sizeof shape));
        return NULL;
    }
    int64_t planes = x->shape[0] * x->shape[1], in = x->shape[2] * x->shape[3];
    cg_tensor *y = cg__tensor_alloc(ctx, 2, x->shape);
    if (!y) return NULL;
#pragma omp parallel for schedule(static) if (x->size > PAR_WORK && planes > 1)
    for (int64_t p = 0; p < planes; p++) {
        const float *v = x->data + p * in;
        double sum = 0.0;
        for (int64_t i = 0; i < in; i++) sum += v[i];
        y->data[p] = (float)(sum / (double)in);
    }
    if (cg__needs_grad(ctx, &x, 1) && !cg__record(ctx, &cg_op_global_avgpool, y, &x, 1))
        return NULL;
    return y;
}
