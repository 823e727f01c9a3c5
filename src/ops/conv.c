/* 2-D convolution as torch.nn.functional.conv2d (NCHW), forward and backward.
 *
 * Per sample n and group g the convolution is one GEMM over the im2col
 * matrix of the sample's input channels of that group:
 *   cols[K, L]   K = C/groups·kh·kw rows (c, i, j), L = OH·OW columns (oh, ow),
 *                cols[(c,i,j), (oh,ow)] = x[c, oh·sh − pt + i·dh, ow·sw − pl + j·dw]
 *                (0 in the padding)
 *   y_g[Og, L] = W_g[Og, K]·cols + b_g      (W_g: the weight rows of group g)
 * Backward, dy being the gradient after the fused activation's derivative:
 *   dW_g += dy_g·colsᵀ                       summed over the batch
 *   dx    = col2im(W_gᵀ·dy_g)                every (c,i,j) row added back to its pixel
 *   db[o] = Σ_n Σ_l dy[n, o, l]
 * A 1x1 kernel with stride 1 and no padding needs no im2col: cols is x.
 *
 * Each sample's output gets its bias (the GEMM's starting value), ReLU and,
 * in cg__conv2d_maxpool, its max pooling while it is in cache. That fused
 * op (conv2d_maxpool) stores no convolution output: its backward pass
 * rebuilds each sample's dy from the pooled gradient and the argmax, then
 * does that sample's bias sums and both GEMMs, the same arithmetic in the
 * same order as conv2d + maxpool2d.
 *
 * Threads: samples are split across OpenMP threads, each with its own
 * im2col buffer taken from the arena before the parallel region (nothing is
 * allocated per sample, and nothing at all once the arena has grown). The
 * OpenMP build of OpenBLAS runs single-threaded inside the region, so every
 * sample's GEMMs are computed the same way whatever the thread count. The
 * weight gradient is summed per slot, a split of the batch into at most
 * CONV_SLOTS runs of consecutive samples that depends on the shapes alone,
 * and the slots are then added in order: results are bitwise the same for
 * any thread count. */
#include "activation_kernels.h"
#include "conv.h"
#include "pool_kernels.h"

#include <stdio.h>
#include <string.h>

/* Partial weight gradients: at most this many, and at most this many floats
 * in all (a layer with a huge weight gets fewer slots, down to one, which
 * sums serially with multi-threaded GEMMs instead). */
#define CONV_SLOTS 16
#define CONV_SLOT_FLOATS ((int64_t)8 << 20)
/* Below this many multiply-adds a whole pass runs on one thread. */
#define CONV_PARALLEL_WORK ((int64_t)1 << 16)

typedef struct conv_geom {
    int64_t N, C, H, W;        /* input */
    int64_t O, OH, OW;         /* output */
    int64_t kh, kw, sh, sw, dh, dw;
    int64_t pt, pl;            /* zeros before the first row / column */
    int64_t G, Cg, Og;         /* groups; input and output channels per group */
    int64_t K, L;              /* im2col rows (Cg·kh·kw) and columns (OH·OW) */
    bool direct;               /* 1x1, stride 1, no padding: cols is the input */
} conv_geom;

typedef struct conv_saved {
    conv_geom g;
    cg_activation act;
    float *z;                  /* pre-activation, when the derivative needs it */
} conv_saved;

/* ---------------------------------------------------------------- kernels */

/* Output positions o in [*lo, *hi) read input position o·s + off inside [0, n). */
static void valid_range(int64_t off, int64_t s, int64_t n, int64_t out, int64_t *lo, int64_t *hi)
{
    int64_t a = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t b = n - 1 - off < 0 ? 0 : (n - 1 - off) / s + 1;
    if (b > out) b = out;
    *lo = a < b ? a : b;
    *hi = b;
}

/* Stride 1 with output rows as wide as the input's (a "same" width): the
 * rows of one (c, i, j) for consecutive oh are one contiguous run of x,
 * shifted by off, so im2col copies them as a block and then clears the
 * |off| edge columns of each row, which fell outside the input. */
static bool block_rows(const conv_geom *g) { return g->sh == 1 && g->sw == 1 && g->OW == g->W; }

/* The |off| columns of each of n rows [W] that read outside the input,
 * column by column: row by row, gcc made each row's one or two zeros a
 * memset call, thousands per sample. */
static void clear_edges(float *rows, int64_t n, int64_t W, int64_t off)
{
    int64_t from = off < 0 ? 0 : W - off, to = off < 0 ? -off : W;
    for (int64_t k = from; k < to; k++)
        for (int64_t q = 0; q < n; q++) rows[q * W + k] = 0.0f;
}

/* cols[K, L] of x: the Cg channels [H, W] of one sample and group. */
static void im2col(const conv_geom *g, const float *x, float *cols)
{
    bool block = block_rows(g);
    for (int64_t c = 0; c < g->Cg; c++) {
        for (int64_t i = 0; i < g->kh; i++) {
            /* Output rows [rlo, rhi) read input rows inside [0, H) (stride 1). */
            int64_t roff = i * g->dh - g->pt, rlo, rhi;
            valid_range(roff, 1, g->H, g->OH, &rlo, &rhi);
            for (int64_t j = 0; j < g->kw; j++) {
                float *row = cols + ((c * g->kh + i) * g->kw + j) * g->L;
                int64_t off = j * g->dw - g->pl, lo, hi;
                if (block) {
                    int64_t W = g->W, n = (rhi - rlo) * W;
                    float *d = row + rlo * W;
                    memset(row, 0, (size_t)(rlo * W) * sizeof *row);
                    memset(d + n, 0, (size_t)((g->OH - rhi) * W) * sizeof *row);
                    if (n == 0) continue;
                    if (off <= -W || off >= W) {
                        memset(d, 0, (size_t)n * sizeof *d);
                        continue;
                    }
                    const float *src = x + (c * g->H + rlo + roff) * W;
                    int64_t a = off < 0 ? -off : 0, b = off > 0 ? n - off : n;
                    memcpy(d + a, src + a + off, (size_t)(b - a) * sizeof *d);
                    if (off) clear_edges(d, rhi - rlo, W, off);
                    continue;
                }
                valid_range(off, g->sw, g->W, g->OW, &lo, &hi);
                for (int64_t oh = 0; oh < g->OH; oh++) {
                    float *r = row + oh * g->OW;
                    int64_t ih = oh * g->sh + roff;
                    if (ih < 0 || ih >= g->H) {
                        memset(r, 0, (size_t)g->OW * sizeof *r);
                        continue;
                    }
                    const float *xr = x + (c * g->H + ih) * g->W;
                    for (int64_t ow = 0; ow < lo; ow++) r[ow] = 0.0f;
                    for (int64_t ow = lo; ow < hi; ow++) r[ow] = xr[ow * g->sw + off];
                    for (int64_t ow = hi; ow < g->OW; ow++) r[ow] = 0.0f;
                }
            }
        }
    }
}

/* dx[Cg, H, W] += col2im(cols), the adjoint of im2col; cols is scratch
 * (the block path clears its edge columns, then adds whole blocks). */
static void col2im(const conv_geom *g, float *cols, float *dx)
{
    bool block = block_rows(g);
    for (int64_t c = 0; c < g->Cg; c++) {
        for (int64_t i = 0; i < g->kh; i++) {
            int64_t roff = i * g->dh - g->pt, rlo, rhi;
            valid_range(roff, 1, g->H, g->OH, &rlo, &rhi);
            for (int64_t j = 0; j < g->kw; j++) {
                float *row = cols + ((c * g->kh + i) * g->kw + j) * g->L;
                int64_t off = j * g->dw - g->pl, lo, hi;
                if (block) {
                    int64_t W = g->W, n = (rhi - rlo) * W;
                    if (n <= 0 || off <= -W || off >= W) continue;
                    float *r = row + rlo * W, *dst = dx + (c * g->H + rlo + roff) * W;
                    if (off) clear_edges(r, rhi - rlo, W, off);
                    int64_t a = off < 0 ? -off : 0, b = off > 0 ? n - off : n;
                    for (int64_t t = a; t < b; t++) dst[t + off] += r[t];
                    continue;
                }
                valid_range(off, g->sw, g->W, g->OW, &lo, &hi);
                for (int64_t oh = 0; oh < g->OH; oh++) {
                    int64_t ih = oh * g->sh + roff;
                    if (ih < 0 || ih >= g->H) continue;
                    const float *r = row + oh * g->OW;
                    float *dr = dx + (c * g->H + ih) * g->W;
                    for (int64_t ow = lo; ow < hi; ow++) dr[ow * g->sw + off] += r[ow];
                }
            }
        }
    }
}

/* C[M, N] (=, or += when acc) op(A)·op(B): split over threads (ops/gemm.c)
 * when the pass itself runs on one planned thread, else one BLAS call on
 * the calling thread of the pass's parallel loop. */
static void gemm(bool split, bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float *A,
                 int64_t lda, const float *B, int64_t ldb, bool acc, float *C)
{
    if (split)
        cg__gemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, acc, C, N);
    else
        cg__gemm_serial(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, acc, C, N);
}

static int64_t macs(const conv_geom *g) { return g->N * g->O * g->K * g->L; }

/* Threads a pass over the batch is planned for (1: one loop on this thread,
 * its GEMMs split instead). The plan, not the threads running now, decides,
 * so the arithmetic is the same however many run (core/threads.c). */
static int pass_threads(const conv_geom *g, int64_t units)
{
    int t = cg__plan_threads();
    return units > 1 && t > 1 && macs(g) >= CONV_PARALLEL_WORK ? t : 1;
}

/* Threads to run a pass planned for `planned` on: no more than run now. */
static int running(int planned)
{
    int now = cg__max_threads();
    return planned < now ? planned : now;
}

/* The thread's own block of n floats in work. */
static float *thread_block(float *work, int64_t n)
{
    return work ? work + (int64_t)cg__thread_index() * n : NULL;
}

/* ---------------------------------------------------------------- backward */

/* Scratch in backward; a failure stops the backward pass. */
static float *backward_scratch(cg_ctx *ctx, int64_t n)
{
    float *p = cg__scratch(ctx, n);
    if (!p && ctx->backward_status == CG_OK) ctx->backward_status = cg_last_status();
    return p;
}

/* Σ r[0..n) with 16 float lanes (vectorised), the lanes added in double. */
static double row_sum(const float *r, int64_t n)
{
    float lane[16] = {0};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < 16; k++) lane[k] += r[i + k];
    double s = 0.0;
    for (; i < n; i++) s += r[i];
    for (int k = 0; k < 16; k++) s += lane[k];
    return s;
}

/* db[o] (=, or +=) Σ_n Σ_l dy[n, o, l]; each channel by one thread, in order. */
static void bias_grad(const conv_geom *g, const float *dy, float *db, bool acc)
{
#pragma omp parallel for schedule(static) if (g->N * g->O * g->L > 32768)
    for (int64_t o = 0; o < g->O; o++) {
        double s = 0.0;
        for (int64_t n = 0; n < g->N; n++) s += row_sum(dy + (n * g->O + o) * g->L, g->L);
        db[o] = acc ? db[o] + (float)s : (float)s;
    }
}

static int64_t weight_slots(const conv_geom *g)
{
    int64_t s = g->N < CONV_SLOTS ? g->N : CONV_SLOTS, fit = CONV_SLOT_FLOATS / (g->O * g->K);
    if (s > fit) s = fit;
    return s > 1 ? s : 1;
}

/* dw (=, or +=) the S slot sums part[S, WK], added in slot order. */
static void add_slots(const float *part, int64_t S, int64_t WK, float *dw, bool acc)
{
#pragma omp parallel for schedule(static) if (S * WK > 32768)
    for (int64_t i = 0; i < WK; i++) {
        float v = acc ? dw[i] : 0.0f;
        for (int64_t s = 0; s < S; s++) v += part[s * WK + i];
        dw[i] = v;
    }
}

/* part[O, K] += Σ over samples [n0, n1) of dy_n,g·cols_n,gᵀ, group by group
 * (split: the GEMMs themselves use the threads). */
/* One sample and group's weight gradient, part_g[Og, K] += dy_g·cols_gᵀ
 * (xg: the group's input channels). Shared by conv2d's backward and the
 * fused conv2d_maxpool's. */
static void group_weight_grad(const conv_geom *g, const float *xg, const float *dyg, float *cols,
                              float *part_g, bool split)
{
    const float *B = xg;
    if (!g->direct) {
        im2col(g, xg, cols);
        B = cols;
    }
    gemm(split, false, true, g->Og, g->K, g->L, dyg, g->L, B, g->L, true, part_g);
}

/* One sample and group's input gradient, dx_g (=, or += when acc) W_gᵀ·dy_g
 * through col2im (which adds: dx_g is cleared first when not acc). */
static void group_input_grad(const conv_geom *g, const float *wg, const float *dyg, float *cols,
                             float *dxg, bool acc, bool split)
{
    if (g->direct) {
        gemm(split, true, false, g->K, g->L, g->Og, wg, g->K, dyg, g->L, acc, dxg);
        return;
    }
    gemm(split, true, false, g->K, g->L, g->Og, wg, g->K, dyg, g->L, false, cols);
    col2im(g, cols, dxg);
}

static void weight_grad_samples(const conv_geom *g, const float *x, const float *dy, int64_t n0,
                                int64_t n1, float *cols, float *part, bool split)
{
    for (int64_t n = n0; n < n1; n++)
        for (int64_t gi = 0; gi < g->G; gi++)
            group_weight_grad(g, x + (n * g->C + gi * g->Cg) * g->H * g->W,
                              dy + (n * g->O + gi * g->Og) * g->L, cols,
                              part + gi * g->Og * g->K, split);
}

static void weight_grad(cg_ctx *ctx, const conv_geom *g, const float *x, const float *dy,
                        float *dw, bool acc)
{
    int64_t S = weight_slots(g), WK = g->O * g->K;
    int threads = pass_threads(g, S);
    float *cols = g->direct ? NULL : backward_scratch(ctx, threads * g->K * g->L);
    float *part = S == 1 ? dw : backward_scratch(ctx, S * WK);
    if ((!g->direct && !cols) || !part) return;
    if (S == 1) {
        if (!acc) memset(dw, 0, (size_t)WK * sizeof *dw);
        weight_grad_samples(g, x, dy, 0, g->N, cols, dw, true);
        return;
    }
#pragma omp parallel for schedule(dynamic, 1) num_threads(running(threads))
    for (int64_t s = 0; s < S; s++) {
        float *p = part + s * WK;
        memset(p, 0, (size_t)WK * sizeof *p);
        weight_grad_samples(g, x, dy, s * g->N / S, (s + 1) * g->N / S,
                            thread_block(cols, g->K * g->L), p, threads == 1);
    }
    add_slots(part, S, WK, dw, acc);
}

/* dx_n (=, or +=) col2im(W_gᵀ·dy_n,g) for every sample and group. */
static void input_grad(cg_ctx *ctx, const conv_geom *g, const float *w, const float *dy,
                       float *dx, bool acc)
{
    int threads = pass_threads(g, g->N);
    float *cols = g->direct ? NULL : backward_scratch(ctx, threads * g->K * g->L);
    if (!g->direct && !cols) return;
    int64_t HW = g->H * g->W;
#pragma omp parallel for schedule(static) num_threads(running(threads))
    for (int64_t n = 0; n < g->N; n++) {
        float *c = thread_block(cols, g->K * g->L);
        float *dxn = dx + n * g->C * HW;
        if (!g->direct && !acc) memset(dxn, 0, (size_t)(g->C * HW) * sizeof *dxn);
        for (int64_t gi = 0; gi < g->G; gi++)
            group_input_grad(g, w + gi * g->Og * g->K, dy + (n * g->O + gi * g->Og) * g->L, c,
                             dxn + gi * g->Cg * HW, acc, threads == 1);
    }
}

static void conv2d_backward(cg_ctx *ctx, cg_node *node)
{
    cg_tensor *x = node->inputs[0], *w = node->inputs[1], *y = node->out;
    cg_tensor *b = node->n_inputs > 2 ? node->inputs[2] : NULL;
    const conv_saved *sv = node->saved;
    const conv_geom *g = &sv->g;
    /* The output's gradient is not needed after this op: reuse it for dz. */
    if (sv->act != CG_ACT_NONE)
        cg__act_backward(sv->act, sv->z, y->data, y->grad, y->grad, y->size, false);
    const float *dy = y->grad;
    bool acc;
    float *db = b ? cg__grad_dest(ctx, b, &acc) : NULL;
    if (db) bias_grad(g, dy, db, acc);
    float *dw = cg__grad_dest(ctx, w, &acc);
    if (dw) weight_grad(ctx, g, x->data, dy, dw, acc);
    float *dx = cg__grad_dest(ctx, x, &acc);
    if (dx) input_grad(ctx, g, w->data, dy, dx, acc);
}

const cg_op_def cg_op_conv2d = {"conv2d", conv2d_backward};

/* ------------------------------------------------ conv2d + maxpool2d, backward */

/* What the fused op keeps: no convolution output, only where each max was
 * (its value is the op's output, and ReLU's derivative there is [max > 0]). */
typedef struct conv_pool_saved {
    conv_geom g;
    cg__pool_geom pg;
    bool relu;
    const int32_t *argmax;     /* [N, O, Ho, Wo], an index into its [OH, OW] plane */
} conv_pool_saved;

/* Gradients a backward pass writes and where they go. */
typedef struct conv_grads {
    const float *x, *w, *p, *dp;   /* input, weight, pooled output and its gradient */
    float *dx, *part;          /* dx, or NULL; the slot's weight sum, or NULL */
    double *sums;              /* Σ_l dz[n, o, l] per (n, o), or NULL */
    bool acc_x, split;
} conv_grads;

/* dz_n[O, L] of one sample: the pooled gradient routed to each window's max
 * (summed in output order where windows overlap) times ReLU's derivative,
 * as maxpool2d's backward followed by conv2d's activation step computes it. */
static void unpool_sample(const conv_pool_saved *sv, const float *dp, const float *p,
                          const int32_t *arg, float *dz)
{
    int64_t L = sv->g.L, P = sv->pg.Ho * sv->pg.Wo;
    memset(dz, 0, (size_t)(sv->g.O * L) * sizeof *dz);
    /* Without a branch (ReLU zeros half the maxima, unpredictably): adding
     * +0 where the max was not positive changes nothing, dz never being -0. */
    for (int64_t o = 0; o < sv->g.O; o++) {
        float *d = dz + o * L;
        if (sv->relu)
            for (int64_t q = o * P; q < (o + 1) * P; q++) d[arg[q]] += p[q] > 0.0f ? dp[q] : 0.0f;
        else
            for (int64_t q = o * P; q < (o + 1) * P; q++) d[arg[q]] += dp[q];
    }
}

/* Sample n's share of every gradient, while its dz is in cache. */
static void conv_pool_sample(const conv_pool_saved *sv, const conv_grads *gr, int64_t n, float *dz,
                             float *cols)
{
    const conv_geom *g = &sv->g;
    int64_t P = g->O * sv->pg.Ho * sv->pg.Wo, HW = g->H * g->W;
    unpool_sample(sv, gr->dp + n * P, gr->p + n * P, sv->argmax + n * P, dz);
    if (gr->sums)
        for (int64_t o = 0; o < g->O; o++) gr->sums[n * g->O + o] = row_sum(dz + o * g->L, g->L);
    float *dxn = gr->dx ? gr->dx + n * g->C * HW : NULL;
    if (dxn && !g->direct && !gr->acc_x) memset(dxn, 0, (size_t)(g->C * HW) * sizeof *dxn);
    for (int64_t gi = 0; gi < g->G; gi++) {
        const float *dzg = dz + gi * g->Og * g->L;
        if (gr->part)
            group_weight_grad(g, gr->x + (n * g->C + gi * g->Cg) * HW, dzg, cols,
                              gr->part + gi * g->Og * g->K, gr->split);
        if (dxn)
            group_input_grad(g, gr->w + gi * g->Og * g->K, dzg, cols, dxn + gi * g->Cg * HW,
                             gr->acc_x, gr->split);
    }
}

/* db[o] (=, or +=) Σ_n sums[n, o], in sample order as bias_grad adds them. */
static void bias_from_sums(const conv_geom *g, const double *sums, float *db, bool acc)
{
    for (int64_t o = 0; o < g->O; o++) {
        double s = 0.0;
        for (int64_t n = 0; n < g->N; n++) s += sums[n * g->O + o];
        db[o] = acc ? db[o] + (float)s : (float)s;
    }
}

/* The weight gradient's slots (weight_grad's) run in parallel, each over
 * its samples in order, and every sample does its whole backward pass at
 * once: the gradients are those of conv2d and maxpool2d's own backward
 * passes, bit for bit, without a full-size dy ever being stored. */
static void conv2d_maxpool_backward(cg_ctx *ctx, cg_node *node)
{
    cg_tensor *x = node->inputs[0], *w = node->inputs[1];
    cg_tensor *b = node->n_inputs > 2 ? node->inputs[2] : NULL;
    const conv_pool_saved *sv = node->saved;
    const conv_geom *g = &sv->g;
    bool acc_w = false, acc_b = false;
    conv_grads gr = {.x = x->data, .w = w->data, .p = node->out->data, .dp = node->out->grad};
    float *db = b ? cg__grad_dest(ctx, b, &acc_b) : NULL, *dw = cg__grad_dest(ctx, w, &acc_w);
    gr.dx = cg__grad_dest(ctx, x, &gr.acc_x);
    int64_t S = weight_slots(g), WK = g->O * g->K;
    int threads = pass_threads(g, S);
    float *dz = backward_scratch(ctx, threads * g->O * g->L);
    float *cols = g->direct ? NULL : backward_scratch(ctx, threads * g->K * g->L);
    float *part = dw && S > 1 ? backward_scratch(ctx, S * WK) : dw;
    /* Two floats a double: the arena aligns every block for any type. */
    gr.sums = db ? (double *)(void *)backward_scratch(ctx, 2 * g->N * g->O) : NULL;
    if (!dz || (!g->direct && !cols) || (dw && !part) || (db && !gr.sums)) return;
    if (dw && S == 1 && !acc_w) memset(dw, 0, (size_t)WK * sizeof *dw);
    gr.split = threads == 1;
#pragma omp parallel for schedule(dynamic, 1) num_threads(running(threads))
    for (int64_t s = 0; s < S; s++) {
        conv_grads mine = gr;
        mine.part = dw ? (S == 1 ? dw : part + s * WK) : NULL;
        if (mine.part && S > 1) memset(mine.part, 0, (size_t)WK * sizeof *mine.part);
        for (int64_t n = s * g->N / S; n < (s + 1) * g->N / S; n++)
            conv_pool_sample(sv, &mine, n, thread_block(dz, g->O * g->L),
                             thread_block(cols, g->K * g->L));
    }
    if (dw && S > 1) add_slots(part, S, WK, dw, acc_w);
    if (db) bias_from_sums(g, gr.sums, db, acc_b);
}

const cg_op_def cg_op_conv2d_maxpool = {"conv2d_maxpool", conv2d_maxpool_backward};

/* ---------------------------------------------------------------- forward */

/* What the forward pass does to a sample's output while it is in cache. */
typedef struct conv_epilogue {
    bool relu;                   /* the fused activation is ReLU (else none here) */
    const cg__pool_geom *pool;   /* max pooling of the sample's planes, or NULL */
    float *pooled;               /* its output [N, O, Ho, Wo] */
    int32_t *argmax;             /* where each max was, when recorded; or NULL */
} conv_epilogue;

typedef struct conv_buffers {
    float *work;                 /* per thread: one im2col [K, L] */
    float *y;                    /* per thread: one sample's [O, L], when y is not stored */
} conv_buffers;

/* y_n,g = W_g·cols_n,g + b_g for every group of one sample. */
static void conv_sample(const conv_geom *g, const float *xn, const float *w, const float *b,
                        float *yn, float *cols, bool split)
{
    int64_t HW = g->H * g->W;
    for (int64_t gi = 0; gi < g->G; gi++) {
        const float *xg = xn + gi * g->Cg * HW, *B = xg;
        float *yg = yn + gi * g->Og * g->L;
        if (!g->direct) {
            im2col(g, xg, cols);
            B = cols;
        }
        /* The bias is the GEMM's starting value: no separate pass. */
        for (int64_t o = 0; o < g->Og; o++) {
            float v = b ? b[gi * g->Og + o] : 0.0f;
            for (int64_t l = 0; l < g->L; l++) yg[o * g->L + l] = v;
        }
        gemm(split, false, false, g->Og, g->L, g->K, w + gi * g->Og * g->K, g->K, B, g->L, true,
             yg);
    }
}

/* Every sample's convolution, then its epilogue while it is in cache. */
static void conv_forward(const conv_geom *g, const float *x, const float *w, const float *b,
                         float *y, const conv_buffers *buf, const conv_epilogue *ep, int threads)
{
    int64_t OL = g->O * g->L, KL = g->K * g->L;
    int64_t pooled = ep->pool ? g->O * ep->pool->Ho * ep->pool->Wo : 0;
#pragma omp parallel for schedule(static) num_threads(running(threads))
    for (int64_t n = 0; n < g->N; n++) {
        float *yn = buf->y ? thread_block(buf->y, OL) : y + n * OL;
        conv_sample(g, x + n * g->C * g->H * g->W, w, b, yn, thread_block(buf->work, KL),
                    threads == 1);
        if (ep->relu)
            for (int64_t i = 0; i < OL; i++) yn[i] = yn[i] > 0.0f ? yn[i] : 0.0f;
        if (ep->pool)
            cg__maxpool_planes(ep->pool, yn, ep->pooled + n * pooled,
                               ep->argmax ? ep->argmax + n * pooled : NULL, g->O);
    }
}

/* Zero stride, dilation and groups mean 1. */
static int64_t or_one(int64_t v) { return v == 0 ? 1 : v; }

static bool param_error(const char *fmt, long long v)
{
    cg_set_error(CG_ERR_ARG, fmt, v);
    return false;
}

/* Checks the arguments and fills the geometry; false with the error set. */
static bool conv_setup(const cg_tensor *x, const cg_tensor *w, const cg_tensor *b,
                       const cg_conv2d_params *p, conv_geom *g)
{
    char why[256];
    *g = (conv_geom){0};
    if (x->ndim != 4) {
        cg__shape_error("conv2d", x, w, "input must be [N, C, H, W]");
        return false;
    }
    if (w->ndim != 4) {
        cg__shape_error("conv2d", x, w, "weight must be [out_channels, in_channels/groups, kh, kw]");
        return false;
    }
    g->sh = or_one(p->stride[0]), g->sw = or_one(p->stride[1]);
    g->dh = or_one(p->dilation[0]), g->dw = or_one(p->dilation[1]);
    g->G = or_one(p->groups);
    for (int k = 0; k < 2; k++) {
        if (p->stride[k] < 0) return param_error("conv2d: stride must be >= 1, got %lld", (long long)p->stride[k]);
        if (p->dilation[k] < 0)
            return param_error("conv2d: dilation must be >= 1, got %lld", (long long)p->dilation[k]);
        if (p->padding[k] < 0)
            return param_error("conv2d: padding must be >= 0, got %lld", (long long)p->padding[k]);
    }
    if (p->groups < 0) return param_error("conv2d: groups must be >= 1, got %lld", (long long)p->groups);
    if ((unsigned)p->activation > CG_ACT_SOFTPLUS)
        return param_error("conv2d: unknown activation %lld", (long long)p->activation);
    g->N = x->shape[0], g->C = x->shape[1], g->H = x->shape[2], g->W = x->shape[3];
    g->O = w->shape[0], g->kh = w->shape[2], g->kw = w->shape[3];
    if (g->O % g->G != 0) {
        snprintf(why, sizeof why, "%lld output channels are not divisible by groups %lld",
                 (long long)g->O, (long long)g->G);
        cg__shape_error("conv2d", x, w, why);
        return false;
    }
    if (g->C % g->G != 0) {
        snprintf(why, sizeof why, "%lld input channels are not divisible by groups %lld",
                 (long long)g->C, (long long)g->G);
        cg__shape_error("conv2d", x, w, why);
        return false;
    }
    if (g->C / g->G != w->shape[1]) {
        snprintf(why, sizeof why,
                 "input has %lld channels, %lld per group, but the weight has %lld per group",
                 (long long)g->C, (long long)(g->C / g->G), (long long)w->shape[1]);
        cg__shape_error("conv2d", x, w, why);
        return false;
    }
    if (b && (b->ndim != 1 || b->shape[0] != g->O)) {
        cg__shape_error("conv2d", w, b, "bias must be [out_channels]");
        return false;
    }
    int64_t pad[4] = {p->padding[0], p->padding[0], p->padding[1], p->padding[1]};
    int64_t eh = g->dh * (g->kh - 1) + 1, ew = g->dw * (g->kw - 1) + 1;   /* dilated kernel */
    if (p->padding_same) {
        if (p->padding[0] || p->padding[1])
            return param_error("conv2d: padding_same and a padding of %lld both given",
                               (long long)(p->padding[0] ? p->padding[0] : p->padding[1]));
        if (g->sh != 1 || g->sw != 1)
            return param_error("conv2d: padding_same needs stride 1, got %lld",
                               (long long)(g->sh != 1 ? g->sh : g->sw));
        /* PyTorch's split: the odd one out goes after (bottom, right). */
        pad[0] = (eh - 1) / 2, pad[1] = eh - 1 - pad[0];
        pad[2] = (ew - 1) / 2, pad[3] = ew - 1 - pad[2];
    }
    int64_t ph = g->H + pad[0] + pad[1], pw = g->W + pad[2] + pad[3];
    if (eh > ph || ew > pw) {
        snprintf(why, sizeof why,
                 "the kernel (%lldx%lld, dilated %lldx%lld) is larger than the padded input "
                 "(%lldx%lld)",
                 (long long)g->kh, (long long)g->kw, (long long)eh, (long long)ew, (long long)ph,
                 (long long)pw);
        cg__shape_error("conv2d", x, w, why);
        return false;
    }
    g->pt = pad[0], g->pl = pad[2];
    g->OH = (ph - eh) / g->sh + 1, g->OW = (pw - ew) / g->sw + 1;
    g->Cg = g->C / g->G, g->Og = g->O / g->G;
    g->K = g->Cg * g->kh * g->kw, g->L = g->OH * g->OW;
    if (g->K > INT32_MAX || g->L > INT32_MAX || g->Og > INT32_MAX || g->H * g->W > INT32_MAX) {
        cg__shape_error("conv2d", x, w, "dimension exceeds BLAS's int range");
        return false;
    }
    g->direct = g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && pad[0] == 0 &&
                pad[1] == 0 && pad[2] == 0 && pad[3] == 0;
    return true;
}

/* The maxpool2d settings cg__conv2d_maxpool applies to the output. */
typedef struct pool_args {
    const int64_t *kernel, *stride, *padding;
} pool_args;

/* The pooling's geometry over the convolution's output [N, O, OH, OW]. */
static bool pool_setup(const conv_geom *g, const pool_args *pa, cg__pool_geom *pg)
{
    cg_tensor shape = {.ndim = 4, .shape = {g->N, g->O, g->OH, g->OW}};
    return cg__maxpool_geometry(&shape, pa->kernel, pa->stride, pa->padding, pg);
}

/* Records op with out and a copy of the `size` bytes at saved. */
static bool record_op(cg_ctx *ctx, const cg_op_def *op, cg_tensor **in, int n_in,
                      cg_tensor *out, const void *saved, size_t size)
{
    void *sv = cg_arena_alloc(&ctx->arena, size);
    if (!sv) return false;
    memcpy(sv, saved, size);
    cg_node *node = cg__record(ctx, op, out, in, n_in);
    if (node) node->saved = sv;
    return node != NULL;
}

/* An activation the forward loop does not fuse, over the whole output;
 * *z: the pre-activation when a recorded derivative needs it. */
static bool activate_after(cg_ctx *ctx, cg_activation act, bool record, cg_tensor *y, float **z)
{
    if (record && cg__act_grad_needs_input(act)) {
        if (!(*z = cg__scratch(ctx, y->size))) return false;
        memcpy(*z, y->data, (size_t)y->size * sizeof **z);
    }
    cg__act_forward(act, y->data, NULL, y->data, y->shape[0] * y->shape[1],
                    y->shape[2] * y->shape[3]);
    return true;
}

/* cg_conv2d, then max pooling when pa is not NULL (cg__conv2d_maxpool). */
static cg_tensor *conv2d(cg_ctx *ctx, cg_tensor *x, cg_tensor *weight, cg_tensor *bias,
                         const cg_conv2d_params *params, const pool_args *pa)
{
    cg_tensor *in[3] = {x, weight, bias};
    if (cg__null_input("conv2d", in, 2)) return NULL;
    static const cg_conv2d_params defaults;
    conv_geom g;
    cg__pool_geom pg;
    const cg_conv2d_params *p = params ? params : &defaults;
    if (!conv_setup(x, weight, bias, p, &g) || (pa && !pool_setup(&g, pa, &pg))) return NULL;
    cg_activation act = p->activation;
    bool fused = act == CG_ACT_NONE || act == CG_ACT_RELU;
    if (pa && !fused) {
        cg_set_error(CG_ERR_ARG, "conv2d: pooling is fused after ReLU or no activation only");
        return NULL;
    }
    if (!ctx) {
        cg_set_error(CG_ERR_ARG, "context is NULL"); /* as cg__tensor_alloc says it */
        return NULL;
    }
    int n_in = bias ? 3 : 2, threads = pass_threads(&g, g.N);
    bool record = cg__needs_grad(ctx, in, n_in);
    conv_buffers buf = {0};
    conv_epilogue ep = {.relu = act == CG_ACT_RELU};
    /* Pooling needs each sample's output only while it pools it (and its
     * backward pass only the argmax). */
    cg_tensor *y = NULL, *out;
    if (pa)
        buf.y = cg__scratch(ctx, threads * g.O * g.L);
    else
        y = cg__tensor_alloc(ctx, 4, (int64_t[]){g.N, g.O, g.OH, g.OW});
    if (!y && !buf.y) return NULL;
    out = y;
    if (pa) {
        out = cg__tensor_alloc(ctx, 4, (int64_t[]){g.N, g.O, pg.Ho, pg.Wo});
        if (!out) return NULL;
        ep.pool = &pg;
        ep.pooled = out->data;
        size_t bytes = (size_t)out->size * sizeof *ep.argmax;
        if (record && !(ep.argmax = cg_arena_alloc(&ctx->arena, bytes))) return NULL;
    }
    if (!g.direct && !(buf.work = cg__scratch(ctx, threads * g.K * g.L))) return NULL;
    conv_forward(&g, x->data, weight->data, bias ? bias->data : NULL, y ? y->data : NULL, &buf,
                 &ep, threads);
    float *z = NULL;
    if (!fused && !activate_after(ctx, act, record, y, &z)) return NULL;
    if (!record) return out;
    if (pa) {
        conv_pool_saved sv = {g, pg, ep.relu, ep.argmax};
        return record_op(ctx, &cg_op_conv2d_maxpool, in, n_in, out, &sv, sizeof sv) ? out : NULL;
    }
    conv_saved sv = {g, act, z};
    return record_op(ctx, &cg_op_conv2d, in, n_in, y, &sv, sizeof sv) ? y : NULL;
}

cg_tensor *cg_conv2d(cg_ctx *ctx, cg_tensor *x, cg_tensor *weight, cg_tensor *bias,
                     const cg_conv2d_params *params)
{
    return conv2d(ctx, x, weight, bias, params, NULL);
}

cg_tensor *cg__conv2d_maxpool(cg_ctx *ctx, cg_tensor *x, cg_tensor *weight, cg_tensor *bias,
                              const cg_conv2d_params *params, const int64_t kernel[2],
                              const int64_t stride[2], const int64_t padding[2])
{
    return conv2d(ctx, x, weight, bias, params, &(pool_args){kernel, stride, padding});
}
