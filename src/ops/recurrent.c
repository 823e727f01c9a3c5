/* Recurrent layers over a batch-first sequence x [N, T, F], one layer in one
 * direction per op, as torch.nn.RNN / LSTM / GRU compute them (gate order
 * and the reset gate's place on the hidden projection included):
 *
 *   rnn:  h' = act(W_ih x + b_ih + W_hh h + b_hh)             act tanh or relu
 *   lstm: i, f, g, o = σ, σ, tanh, σ of (W_ih x + b_ih + W_hh h + b_hh)
 *         c' = f·c + i·g,  h' = o·tanh(c')
 *   gru:  r, z = σ(W_i{r,z} x + b_i{r,z} + W_h{r,z} h + b_h{r,z})
 *         n = tanh(W_in x + b_in + r·(W_hn h + b_hn)),  h' = (1 − z)·n + z·h
 *
 * The output y [N, T, H] holds h after every step; a reverse op walks t
 * from T − 1 down to 0 (the backward half of a bidirectional layer), so
 * y[:, t] is still the state after reading x[:, t].
 *
 * Cost is in GEMMs: the input projections of all N·T steps are one GEMM
 * before the loop, each step adds one recurrent product [N, H]·W_hhᵀ, and
 * the gates are one fused elementwise pass that overwrites the projections
 * with the activated gates backward needs. Backward walks the steps in
 * reverse with one product per step for dh; the weight gradients and dx are
 * then one GEMM each over all steps, because every step's gate gradients
 * are kept. The per-step products use W_hh packed once (ops/panel_gemm.c):
 * OpenBLAS would repack all of it at every step.
 *
 * Threads: the recurrence couples the steps of one sample only, so the
 * batch is cut into slices of rows, one per planned thread, and each slice
 * walks all its steps alone: no barrier inside the time loop (threads
 * owning hidden units instead need one per step, and every barrier waits
 * for the slowest thread, which on a busy machine is the one the scheduler
 * just took off its core). A row's results do not depend on the slice it is
 * in, so the loop's are the same for any thread count, planned or running. */
#include "fast_exp.h"
#include "internal.h"
#include "panel_gemm.h"

#include <math.h>
#include <string.h>

/* A step below this many multiply-adds keeps the batch in one slice, on one
 * thread (waking a second costs more than it saves). */
#define SLICE_MACS ((int64_t)1 << 17)

/* node->iarg slots. */
enum { RNN_CELL, RNN_REVERSE, RNN_BIAS };

typedef struct rnn_dims {
    int64_t N, T, F, H, G;    /* G·H gate rows: 1, 4 (lstm) or 3 (gru) gates */
    int64_t rows, slices;     /* batch rows per slice, and how many slices */
} rnn_dims;

/* What backward needs beyond the inputs and y. */
typedef struct rnn_saved {
    float *gates;             /* [N, T, G·H] activated gates (lstm, gru) */
    float *extra;             /* lstm: c [N, T, H]; gru: W_hn h + b_hn [N, T, H] */
    float *h0, *c0;           /* [N, H] copies of the initial state, or NULL: zeros */
} rnn_saved;

static int gates_of(cg_rnn_cell cell)
{
    return cell == CG_CELL_LSTM ? 4 : cell == CG_CELL_GRU ? 3 : 1;
}

static rnn_dims dims_of(int64_t N, int64_t T, int64_t F, int64_t H, int64_t G)
{
    rnn_dims d = {N, T, F, H, G, N, 1};
    int64_t p = cg__plan_threads();
    if (p < 2 || N < 2 || N * G * H * H < SLICE_MACS) return d;
    d.rows = (N + p - 1) / p;
    d.slices = (N + d.rows - 1) / d.rows;
    return d;
}

/* Batch rows n0..n1 of slice k. */
static inline void slice_rows(const rnn_dims *d, int64_t k, int64_t *n0, int64_t *n1)
{
    *n0 = k * d->rows;
    *n1 = *n0 + d->rows < d->N ? *n0 + d->rows : d->N;
}

/* Packs the n columns of B (or Bᵀ's rows) from panel p on, across the
 * threads of the enclosing parallel region. */
static void pack_shared(bool tb, int64_t n, int64_t K, const float *B, int64_t ldb, float *panels)
{
    const int64_t count = (n + CG_PANEL - 1) / CG_PANEL;
#pragma omp for schedule(static)
    for (int64_t p = 0; p < count; p++) {
        int64_t c0 = p * CG_PANEL, nc = n - c0 < CG_PANEL ? n - c0 : CG_PANEL;
        cg__panel_pack(tb, nc, K, tb ? B + c0 * ldb : B + c0, ldb, panels + c0 * K);
    }
}

/* C (ldc) = op(A)·op(B), adding to C when acc. */
static void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                 const float *B, int64_t ldb, bool acc, float *C, int64_t ldc)
{
    cg__gemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, acc, C, ldc);
}

/* The step before t in walking order, or -1 at the start. */
static inline int64_t prev_step(int64_t t, int64_t T, bool reverse)
{
    return reverse ? (t + 1 < T ? t + 1 : -1) : t - 1;
}

/* h (and c) before step t of sample row n: the saved initial state, zeros,
 * or the previous step's. */
static inline const float *state_before(const float *seq, const float *init, const float *zeros,
                                        const rnn_dims *d, int64_t n, int64_t tp)
{
    if (tp >= 0) return seq + (n * d->T + tp) * d->H;
    return init ? init + n * d->H : zeros;
}

/* ---------------------------------------------------------------- one step */

typedef struct rnn_step {
    rnn_dims d;
    cg_rnn_cell cell;
    bool reverse;
    float *xg;                /* [N, T, G·H]: W_ih x, overwritten by the gates */
    const float *panels;      /* W_hhᵀ packed */
    float *hg;                /* [N, G·H]: W_hh h of this step */
    float *hbuf;              /* [2, N, H]: h of the last two steps, contiguous */
    const float *b_ih, *b_hh; /* [G·H] (zeros without biases) */
    float *y, *extra;
    const float *h0, *c0, *zeros;
} rnn_step;

/* The cells of one sample row at one step: g holds W_ih x (and becomes the
 * gates), hg W_hh h, gate q of unit j at [q·H + j]. Pointers are restrict
 * so the loops vectorise. */
static void rnn_cell(bool relu, const float *restrict g, const float *restrict hg,
                     const float *restrict b_ih, const float *restrict b_hh, float *restrict h,
                     int64_t H)
{
    for (int64_t j = 0; j < H; j++) {
        float v = g[j] + (hg[j] + b_ih[j] + b_hh[j]);
        h[j] = relu ? (v > 0.0f ? v : 0.0f) : cg__fast_tanhf(v);
    }
}

static void lstm_cell(float *restrict g, const float *restrict hg, const float *restrict b_ih,
                      const float *restrict b_hh, const float *restrict cp, float *restrict c,
                      float *restrict h, int64_t H)
{
    for (int64_t j = 0; j < H; j++) {
        float pre[4];
        for (int q = 0; q < 4; q++)
            pre[q] = g[q * H + j] + (hg[q * H + j] + b_ih[q * H + j] + b_hh[q * H + j]);
        float i = cg__fast_sigmoidf(pre[0]), f = cg__fast_sigmoidf(pre[1]);
        float gg = cg__fast_tanhf(pre[2]), o = cg__fast_sigmoidf(pre[3]);
        g[j] = i, g[H + j] = f, g[2 * H + j] = gg, g[3 * H + j] = o;
        c[j] = f * cp[j] + i * gg;
        h[j] = o * cg__fast_tanhf(c[j]);
    }
}

/* hn keeps W_hn h + b_hn, which r multiplies. */
static void gru_cell(float *restrict g, const float *restrict hg, const float *restrict b_ih,
                     const float *restrict b_hh, const float *restrict hp, float *restrict hn,
                     float *restrict h, int64_t H)
{
    for (int64_t j = 0; j < H; j++) {
        float r = cg__fast_sigmoidf(g[j] + b_ih[j] + hg[j] + b_hh[j]);
        float z = cg__fast_sigmoidf(g[H + j] + b_ih[H + j] + hg[H + j] + b_hh[H + j]);
        hn[j] = hg[2 * H + j] + b_hh[2 * H + j];
        float nn = cg__fast_tanhf(g[2 * H + j] + b_ih[2 * H + j] + r * hn[j]);
        g[j] = r, g[H + j] = z, g[2 * H + j] = nn;
        h[j] = (1.0f - z) * nn + z * hp[j];
    }
}

static void cells_of_row(const rnn_step *s, int64_t n, int64_t t, int64_t tp, const float *hg)
{
    const int64_t H = s->d.H, at = n * s->d.T + t;
    float *g = s->xg + at * s->d.G * H, *h = s->y + at * H;
    if (s->cell == CG_CELL_GRU)
        gru_cell(g, hg, s->b_ih, s->b_hh, state_before(s->y, s->h0, s->zeros, &s->d, n, tp),
                 s->extra + at * H, h, H);
    else if (s->cell == CG_CELL_LSTM)
        lstm_cell(g, hg, s->b_ih, s->b_hh, state_before(s->extra, s->c0, s->zeros, &s->d, n, tp),
                  s->extra + at * H, h, H);
    else
        rnn_cell(s->cell == CG_CELL_RNN_RELU, g, hg, s->b_ih, s->b_hh, h, H);
}

/* Every step of the batch rows of slice k. The product reads h before the
 * step from hbuf, a contiguous copy the cells write besides y: y's rows lie
 * T·H apart (64 KiB for W4), so they all fall into the same few cache sets
 * and reading them there missed every cache. */
static void slice_steps(const rnn_step *s, int64_t k)
{
    const rnn_dims *d = &s->d;
    const int64_t H = d->H, GH = d->G * H;
    int64_t n0, n1;
    slice_rows(d, k, &n0, &n1);
    float *hg = s->hg + n0 * GH;
    for (int64_t step = 0; step < d->T; step++) {
        int64_t t = s->reverse ? d->T - 1 - step : step, tp = prev_step(t, d->T, s->reverse);
        const float *hp = step > 0 ? s->hbuf + (step + 1) % 2 * d->N * H : s->h0;
        float *hn = s->hbuf + step % 2 * d->N * H;
        if (hp)
            cg__panel_gemm(n1 - n0, GH, H, hp + n0 * H, H, s->panels, false, hg, GH);
        else
            memset(hg, 0, (size_t)((n1 - n0) * GH) * sizeof *hg);
        for (int64_t n = n0; n < n1; n++) {
            cells_of_row(s, n, t, tp, hg + (n - n0) * GH);
            memcpy(hn + n * H, s->y + (n * d->T + t) * H, (size_t)H * sizeof *hn);
        }
    }
}

/* ---------------------------------------------------------------- backward */
/* Per step, with dh the gradient reaching h after the step (from y and
 * from the step after it):
 *   rnn:  dpre = dh·act'(h')
 *   lstm: dc += dh·o·(1 − tanh²c');  di = dc·g, df = dc·c, dg = dc·i,
 *         do = dh·tanh c' (each times its activation's derivative);
 *         dc ← dc·f for the step before
 *   gru:  dn = dh·(1 − z)·(1 − n²), dz = dh·(h − n)·z(1 − z),
 *         dr = dn·(W_hn h + b_hn)·r(1 − r); the hidden side's n-gradient is
 *         dn·r, the rest equal the input side's; dh ← dh·z + …
 * and dh ← dh_direct + dgates_hidden·W_hh for the step before. */

typedef struct rnn_back {
    rnn_dims d;
    cg_rnn_cell cell;
    bool reverse;
    const float *gates, *extra, *y, *dy;
    const float *h0, *c0, *zeros;
    const float *panels;      /* W_hh packed */
    float *dg, *dgh;          /* [N, T, G·H]: input side, hidden side (same for rnn, lstm) */
    float *dgbuf;             /* [2, N, G·H]: dgh of the last two steps, contiguous */
    float *dh, *dc;           /* [N, H] carried */
} rnn_back;

static void rnn_cell_back(bool relu, const float *restrict h, const float *restrict dy,
                          float *restrict dh, float *restrict dg, int64_t H)
{
    for (int64_t j = 0; j < H; j++) {
        float v = dh[j] + dy[j];
        dg[j] = relu ? (h[j] > 0.0f ? v : 0.0f) : v * (1.0f - h[j] * h[j]);
        dh[j] = 0.0f;
    }
}

static void lstm_cell_back(const float *restrict g, const float *restrict c,
                           const float *restrict cp, const float *restrict dy,
                           float *restrict dh, float *restrict dc, float *restrict dg, int64_t H)
{
    for (int64_t j = 0; j < H; j++) {
        float i = g[j], f = g[H + j], gg = g[2 * H + j], o = g[3 * H + j];
        float v = dh[j] + dy[j], tc = cg__fast_tanhf(c[j]);
        float dct = dc[j] + v * o * (1.0f - tc * tc);
        dg[j] = dct * gg * i * (1.0f - i);
        dg[H + j] = dct * cp[j] * f * (1.0f - f);
        dg[2 * H + j] = dct * i * (1.0f - gg * gg);
        dg[3 * H + j] = v * tc * o * (1.0f - o);
        dc[j] = dct * f;
        dh[j] = 0.0f;
    }
}

static void gru_cell_back(const float *restrict g, const float *restrict hn,
                          const float *restrict hp, const float *restrict dy, float *restrict dh,
                          float *restrict dg, float *restrict dgh, int64_t H)
{
    for (int64_t j = 0; j < H; j++) {
        float r = g[j], z = g[H + j], nn = g[2 * H + j];
        float v = dh[j] + dy[j];
        float dn = v * (1.0f - z) * (1.0f - nn * nn);
        float dr = dn * hn[j] * r * (1.0f - r);
        float dz = v * (hp[j] - nn) * z * (1.0f - z);
        dg[j] = dgh[j] = dr;
        dg[H + j] = dgh[H + j] = dz;
        dg[2 * H + j] = dn;
        dgh[2 * H + j] = dn * r;
        dh[j] = v * z;
    }
}

static void back_row(const rnn_back *b, int64_t n, int64_t t, int64_t tp)
{
    const int64_t H = b->d.H, GH = b->d.G * H, at = n * b->d.T + t;
    const float *g = b->gates + at * GH, *dy = b->dy + at * H;
    float *dg = b->dg + at * GH, *dh = b->dh + n * H;
    if (b->cell == CG_CELL_LSTM)
        lstm_cell_back(g, b->extra + at * H,
                       state_before(b->extra, b->c0, b->zeros, &b->d, n, tp), dy, dh,
                       b->dc + n * H, dg, H);
    else if (b->cell == CG_CELL_GRU)
        gru_cell_back(g, b->extra + at * H, state_before(b->y, b->h0, b->zeros, &b->d, n, tp),
                      dy, dh, dg, b->dgh + at * GH, H);
    else
        rnn_cell_back(b->cell == CG_CELL_RNN_RELU, b->y + at * H, dy, dh, dg, H);
}

/* Every step of the batch rows of slice k, walking back: first the
 * gradient reaching h from the step walked before,
 *   dh (+)= dgates_hidden(that step) · W_hh,
 * from dgbuf (a contiguous copy, as h in forward), then the cells. The
 * initial state's gradient is not wanted: it is a constant (zeros, or a
 * carried state detached from its graph). */
static void slice_back_steps(const rnn_back *b, int64_t k)
{
    const rnn_dims *d = &b->d;
    const int64_t GH = d->G * d->H;
    int64_t n0, n1;
    slice_rows(d, k, &n0, &n1);
    for (int64_t step = d->T - 1; step >= 0; step--) {
        int64_t t = b->reverse ? d->T - 1 - step : step;
        int64_t tp = prev_step(t, d->T, b->reverse);
        float *dgn = b->dgbuf + step % 2 * d->N * GH;
        if (step + 1 < d->T)
            cg__panel_gemm(n1 - n0, d->H, GH, b->dgbuf + ((step + 1) % 2 * d->N + n0) * GH, GH,
                           b->panels, b->cell == CG_CELL_GRU, b->dh + n0 * d->H, d->H);
        for (int64_t n = n0; n < n1; n++) {
            back_row(b, n, t, tp);
            memcpy(dgn + n * GH, b->dgh + (n * d->T + t) * GH, (size_t)GH * sizeof *dgn);
        }
    }
}

/* h before every step, [N, T, H]: the left operand of dW_hh's one GEMM. */
static void fill_previous_states(const rnn_dims *d, bool reverse, const float *y, const float *h0,
                                 float *hprev)
{
    const size_t row = (size_t)d->H * sizeof(float);
#pragma omp parallel for schedule(static) if (d->slices > 1)
    for (int64_t n = 0; n < d->N; n++)
        for (int64_t t = 0; t < d->T; t++) {
            int64_t tp = prev_step(t, d->T, reverse);
            float *dst = hprev + (n * d->T + t) * d->H;
            if (tp >= 0)
                memcpy(dst, y + (n * d->T + tp) * d->H, row);
            else if (h0)
                memcpy(dst, h0 + n * d->H, row);
            else
                memset(dst, 0, row);
        }
}

static void weight_grads(cg_ctx *ctx, cg_node *node, const rnn_dims *d, const float *dg,
                         const float *dgh)
{
    cg_tensor *x = node->inputs[0], *w_ih = node->inputs[1], *w_hh = node->inputs[2];
    const int64_t rows = d->N * d->T, GH = d->G * d->H;
    bool acc;
    float *dx = cg__grad_dest(ctx, x, &acc);
    if (dx) gemm(false, false, rows, d->F, GH, dg, GH, w_ih->data, d->F, acc, dx, d->F);
    float *dw = cg__grad_dest(ctx, w_ih, &acc);
    if (dw) gemm(true, false, GH, d->F, rows, dg, GH, x->data, d->F, acc, dw, d->F);
    if ((dw = cg__grad_dest(ctx, w_hh, &acc))) {
        const rnn_saved *sv = node->saved;
        float *hprev = cg__scratch(ctx, rows * d->H);
        if (!hprev) {
            if (ctx->backward_status == CG_OK) ctx->backward_status = cg_last_status();
            return;
        }
        fill_previous_states(d, node->iarg[RNN_REVERSE], node->out->data, sv->h0, hprev);
        gemm(true, false, GH, d->H, rows, dgh, GH, hprev, d->H, acc, dw, d->H);
    }
    if (!node->iarg[RNN_BIAS]) return;
    bool acc_hh;
    float *db = cg__grad_dest(ctx, node->inputs[3], &acc), *db_hh;
    if (db) cg__sum_rows(db, dg, 1.0f, rows, GH, acc);
    if (!(db_hh = cg__grad_dest(ctx, node->inputs[4], &acc_hh))) return;
    /* Both biases have the same gradient but in gru's n gate: when db
     * holds just the sum, take it instead of a second pass over [N·T, G·H]. */
    if (db && !acc && dgh == dg)
        for (int64_t j = 0; j < GH; j++) db_hh[j] = (acc_hh ? db_hh[j] : 0.0f) + db[j];
    else
        cg__sum_rows(db_hh, dgh, 1.0f, rows, GH, acc_hh);
}

static void recurrent_backward(cg_ctx *ctx, cg_node *node)
{
    cg_tensor *x = node->inputs[0], *w_hh = node->inputs[2], *y = node->out;
    const rnn_saved *sv = node->saved;
    cg_rnn_cell cell = (cg_rnn_cell)node->iarg[RNN_CELL];
    rnn_dims d = dims_of(x->shape[0], x->shape[1], x->shape[2], y->shape[2], gates_of(cell));
    const int64_t GH = d.G * d.H;
    rnn_back b = {.d = d, .cell = cell, .reverse = node->iarg[RNN_REVERSE], .gates = sv->gates,
                  .extra = sv->extra, .y = y->data, .dy = y->grad, .h0 = sv->h0, .c0 = sv->c0};
    b.dg = cg__scratch(ctx, d.N * d.T * GH);
    b.dgh = cell == CG_CELL_GRU ? cg__scratch(ctx, d.N * d.T * GH) : b.dg;
    b.dgbuf = cg__scratch(ctx, 2 * d.N * GH);
    b.dh = cg__scratch(ctx, d.N * d.H);
    b.dc = cg__scratch(ctx, d.N * d.H);
    float *zeros = cg__scratch(ctx, d.H), *panels = cg__scratch(ctx, cg__panel_floats(d.H, GH));
    if (!b.dg || !b.dgh || !b.dgbuf || !b.dh || !b.dc || !zeros || !panels) {
        if (ctx->backward_status == CG_OK) ctx->backward_status = cg_last_status();
        return;
    }
    memset(zeros, 0, (size_t)d.H * sizeof *zeros);
    memset(b.dh, 0, (size_t)(d.N * d.H) * sizeof *b.dh);
    memset(b.dc, 0, (size_t)(d.N * d.H) * sizeof *b.dc);
    b.zeros = zeros;
    b.panels = panels;
#pragma omp parallel if (d.slices > 1)
    {
        pack_shared(false, d.H, GH, w_hh->data, d.H, panels);
#pragma omp for schedule(static)
        for (int64_t k = 0; k < d.slices; k++) slice_back_steps(&b, k);
    }
    weight_grads(ctx, node, &d, b.dg, b.dgh);
}

const cg_op_def cg_op_rnn = {"rnn", recurrent_backward};
const cg_op_def cg_op_lstm = {"lstm", recurrent_backward};
const cg_op_def cg_op_gru = {"gru", recurrent_backward};

/* ---------------------------------------------------------------- forward */

static const cg_op_def *op_of(cg_rnn_cell cell)
{
    return cell == CG_CELL_LSTM ? &cg_op_lstm : cell == CG_CELL_GRU ? &cg_op_gru : &cg_op_rnn;
}

static const char *cell_name(cg_rnn_cell cell)
{
    return cell == CG_CELL_LSTM ? "lstm" : cell == CG_CELL_GRU ? "gru" : "rnn";
}

static bool shape_is(const cg_tensor *t, int ndim, int64_t a, int64_t b)
{
    return t->ndim == ndim && t->shape[0] == a && (ndim == 1 || t->shape[1] == b);
}

static bool args_ok(const cg_ctx *ctx, cg_rnn_cell cell, const cg_tensor *x,
                    const cg_tensor *w_ih, const cg_tensor *w_hh, const cg_tensor *b_ih,
                    const cg_tensor *b_hh)
{
    const char *op = cell_name(cell);
    char sx[96], sw[96], su[96];
    if (!ctx || cell < CG_CELL_RNN_TANH || cell > CG_CELL_GRU) {
        cg_set_error(CG_ERR_ARG, "%s: %s", op, ctx ? "unknown cell kind" : "context is NULL");
        return false;
    }
    if (x->ndim != 3 || x->shape[1] < 1) {
        cg_set_error(CG_ERR_ARG, "%s: input must be [N, T, features] with T >= 1, got %s", op,
                     cg_shape_str(x, sx, sizeof sx));
        return false;
    }
    int64_t G = gates_of(cell), H = w_hh->ndim == 2 ? w_hh->shape[1] : 0;
    if (H < 1 || !shape_is(w_hh, 2, G * H, H) || !shape_is(w_ih, 2, G * H, x->shape[2])) {
        cg_set_error(CG_ERR_ARG, "%s: weights must be weight_ih [%lld·H, %lld] and weight_hh "
                                 "[%lld·H, H] for input %s, got %s and %s",
                     op, (long long)G, (long long)x->shape[2], (long long)G,
                     cg_shape_str(x, sx, sizeof sx), cg_shape_str(w_ih, sw, sizeof sw),
                     cg_shape_str(w_hh, su, sizeof su));
        return false;
    }
    if (!b_ih != !b_hh || (b_ih && (!shape_is(b_ih, 1, G * H, 0) || !shape_is(b_hh, 1, G * H, 0)))) {
        cg_set_error(CG_ERR_ARG, "%s: biases must both be [%lld] or both absent", op,
                     (long long)(G * H));
        return false;
    }
    return true;
}

/* A copy of an [N, H] initial state in the arena, or NULL for zeros. */
static float *copy_state(cg_ctx *ctx, const float *src, int64_t n, bool *failed)
{
    if (!src) return NULL;
    float *dst = cg__scratch(ctx, n);
    if (!dst) *failed = true;
    else memcpy(dst, src, (size_t)n * sizeof *dst);
    return dst;
}

/* W_hhᵀ packed by all threads, then each slice's steps. */
static void run_steps(const rnn_step *s, const float *w_hh, float *panels)
{
    const rnn_dims *d = &s->d;
#pragma omp parallel if (d->slices > 1)
    {
        pack_shared(true, d->G * d->H, d->H, w_hh, d->H, panels);
#pragma omp for schedule(static)
        for (int64_t k = 0; k < d->slices; k++) slice_steps(s, k);
    }
}

static void write_final_state(const rnn_step *s, bool reverse, const cg_rnn_carry *carry)
{
    if (!carry) return;
    const rnn_dims *d = &s->d;
    int64_t last = reverse ? 0 : d->T - 1;
    for (int64_t n = 0; n < d->N; n++) {
        size_t at = (size_t)((n * d->T + last) * d->H), row = (size_t)d->H * sizeof(float);
        if (carry->h_n) memcpy(carry->h_n + n * d->H, s->y + at, row);
        if (carry->c_n && s->cell == CG_CELL_LSTM) memcpy(carry->c_n + n * d->H, s->extra + at, row);
    }
}

cg_tensor *cg_recurrent(cg_ctx *ctx, cg_rnn_cell cell, cg_tensor *x, cg_tensor *w_ih,
                        cg_tensor *w_hh, cg_tensor *b_ih, cg_tensor *b_hh, bool reverse,
                        const cg_rnn_carry *carry)
{
    cg_tensor *in[5] = {x, w_ih, w_hh, b_ih, b_hh};
    if (cg__null_input(cell_name(cell), in, 3)) return NULL;
    if (!args_ok(ctx, cell, x, w_ih, w_hh, b_ih, b_hh)) return NULL;
    rnn_dims d = dims_of(x->shape[0], x->shape[1], x->shape[2], w_hh->shape[1], gates_of(cell));
    const int64_t GH = d.G * d.H, rows = d.N * d.T;
    cg_tensor *y = cg__tensor_alloc(ctx, 3, (int64_t[]){d.N, d.T, d.H});
    bool failed = !y;
    rnn_saved sv = {.gates = cg__scratch(ctx, rows * GH)};
    sv.extra = cell == CG_CELL_LSTM || cell == CG_CELL_GRU ? cg__scratch(ctx, rows * d.H) : NULL;
    sv.h0 = copy_state(ctx, carry ? carry->h0 : NULL, d.N * d.H, &failed);
    sv.c0 = cell == CG_CELL_LSTM ? copy_state(ctx, carry ? carry->c0 : NULL, d.N * d.H, &failed)
                                 : NULL;
    float *hg = cg__scratch(ctx, d.N * GH), *panels = cg__scratch(ctx, cg__panel_floats(GH, d.H));
    float *zeros = cg__scratch(ctx, GH), *hbuf = cg__scratch(ctx, 2 * d.N * d.H);
    if (failed || !sv.gates || (d.G > 1 && !sv.extra) || !hg || !panels || !zeros || !hbuf)
        return NULL;
    memset(zeros, 0, (size_t)GH * sizeof *zeros);
    gemm(false, true, rows, GH, d.F, x->data, d.F, w_ih->data, d.F, false, sv.gates, GH);
    rnn_step s = {.d = d, .cell = cell, .reverse = reverse, .xg = sv.gates, .panels = panels,
                  .hg = hg, .hbuf = hbuf, .b_ih = b_ih ? b_ih->data : zeros,
                  .b_hh = b_hh ? b_hh->data : zeros, .y = y->data, .extra = sv.extra, .h0 = sv.h0,
                  .c0 = sv.c0, .zeros = zeros};
    run_steps(&s, w_hh->data, panels);
    write_final_state(&s, reverse, carry);
    int n_in = b_ih ? 5 : 3;
    if (cg__needs_grad(ctx, in, n_in)) {
        cg_node *node = cg__record(ctx, op_of(cell), y, in, n_in);
        rnn_saved *keep = cg_arena_alloc(&ctx->arena, sizeof *keep);
        if (!node || !keep) return NULL;
        *keep = sv;
        node->saved = keep;
        node->iarg[RNN_CELL] = cell;
        node->iarg[RNN_REVERSE] = reverse;
        node->iarg[RNN_BIAS] = b_ih != NULL;
    }
    return y;
}
