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
 * before the loop, each step adds one recurrent GEMM [N, H]·W_hhᵀ, and the
 * gates are one fused elementwise pass that overwrites the projections with
 * the activated gates backward needs. Backward walks the steps in reverse
 * with one GEMM per step for dh; the weight gradients and dx are then one
 * GEMM each over all steps, because every step's gate gradients are kept. */
#include "fast_exp.h"
#include "internal.h"
#include "panel_gemm.h"

#include <math.h>
#include <string.h>

/* The steps thread over slices of the hidden units, one per planned
 * thread: a slice's owner computes its units' gate pre-activations (its
 * rows of every gate of W_hh) and their cell update, so a step needs one
 * barrier and no separate gate pass. Slices follow the planned thread count
 * only, never the running one, so the bits do not depend on how many
 * threads ran them; a step below this many multiply-adds stays on one
 * thread (waking a second costs more than it saves). */
#define SLICE_MACS ((int64_t)1 << 17)
#define SLICE_ALIGN CG_PANEL

/* node->iarg slots. */
enum { RNN_CELL, RNN_REVERSE, RNN_BIAS };

typedef struct rnn_dims {
    int64_t N, T, F, H, G;    /* G·H gate rows: 1, 4 (lstm) or 3 (gru) gates */
    int64_t width, slices;    /* hidden units per slice, and how many slices */
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
    rnn_dims d = {N, T, F, H, G, H, 1};
    int64_t p = cg__plan_threads();
    if (p < 2 || N * G * H * H < SLICE_MACS) return d;
    int64_t w = ((H + p - 1) / p + SLICE_ALIGN - 1) / SLICE_ALIGN * SLICE_ALIGN;
    if (w >= H) return d;
    d.width = w;
    d.slices = (H + w - 1) / w;
    return d;
}

/* A slice's units in whole panels: the columns a gate takes in the step's
 * product, so that every gate starts a panel. */
static inline int64_t padded(int64_t w) { return (w + CG_PANEL - 1) / CG_PANEL * CG_PANEL; }

/* Hidden units lo..hi of slice k. */
static inline void slice_bounds(const rnn_dims *d, int64_t k, int64_t *lo, int64_t *hi)
{
    *lo = k * d->width;
    *hi = *lo + d->width < d->H ? *lo + d->width : d->H;
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
    float *xg;                /* [N, T, G·H]: W_ih x, overwritten by the gates */
    const float *w_hh;
    float *panels;            /* slice by slice: W_hhᵀ's columns of its units, gate by gate */
    float *hg;                /* slice by slice, [N, G·padded(width)]: W_hh h of this step */
    const float *b_ih, *b_hh; /* [G·H] (zeros without biases) */
    float *y, *extra;
    const float *h0, *c0, *zeros;
} rnn_step;

/* The cells of one sample row at one step, over w units of one slice: gate
 * q of unit j is at g[q·gs + j] (input projection, overwritten by the
 * gate), hg[q·hs + j] (hidden projection) and b[q·gs + j]. Pointers are
 * restrict so the loops vectorise. */
static void rnn_cell(bool relu, const float *restrict g, const float *restrict hg,
                     const float *restrict b_ih, const float *restrict b_hh, float *restrict h,
                     int64_t w)
{
    for (int64_t j = 0; j < w; j++) {
        float v = g[j] + (hg[j] + b_ih[j] + b_hh[j]);
        h[j] = relu ? (v > 0.0f ? v : 0.0f) : cg__fast_tanhf(v);
    }
}

static void lstm_cell(float *restrict g, int64_t gs, const float *restrict hg, int64_t hs,
                      const float *restrict b_ih, const float *restrict b_hh,
                      const float *restrict cp, float *restrict c, float *restrict h, int64_t w)
{
    for (int64_t j = 0; j < w; j++) {
        float pre[4];
        for (int q = 0; q < 4; q++) pre[q] = g[q * gs + j] + (hg[q * hs + j] + b_ih[q * gs + j] + b_hh[q * gs + j]);
        float i = cg__fast_sigmoidf(pre[0]), f = cg__fast_sigmoidf(pre[1]);
        float gg = cg__fast_tanhf(pre[2]), o = cg__fast_sigmoidf(pre[3]);
        g[j] = i, g[gs + j] = f, g[2 * gs + j] = gg, g[3 * gs + j] = o;
        c[j] = f * cp[j] + i * gg;
        h[j] = o * cg__fast_tanhf(c[j]);
    }
}

/* hn keeps W_hn h + b_hn, which r multiplies. */
static void gru_cell(float *restrict g, int64_t gs, const float *restrict hg, int64_t hs,
                     const float *restrict b_ih, const float *restrict b_hh,
                     const float *restrict hp, float *restrict hn, float *restrict h, int64_t w)
{
    for (int64_t j = 0; j < w; j++) {
        float r = cg__fast_sigmoidf(g[j] + b_ih[j] + hg[j] + b_hh[j]);
        float z = cg__fast_sigmoidf(g[gs + j] + b_ih[gs + j] + hg[hs + j] + b_hh[gs + j]);
        hn[j] = hg[2 * hs + j] + b_hh[2 * gs + j];
        float nn = cg__fast_tanhf(g[2 * gs + j] + b_ih[2 * gs + j] + r * hn[j]);
        g[j] = r, g[gs + j] = z, g[2 * gs + j] = nn;
        h[j] = (1.0f - z) * nn + z * hp[j];
    }
}

/* hg: the row's hidden projections, gate q of unit j at hg[q·padded(w) + j]. */
static void cells_of_row(const rnn_step *s, int64_t n, int64_t t, int64_t tp, int64_t lo,
                         int64_t w, const float *hg)
{
    const int64_t hs = padded(w);
    const int64_t H = s->d.H, at = n * s->d.T + t;
    float *g = s->xg + at * s->d.G * H + lo, *h = s->y + at * H + lo;
    const float *b_ih = s->b_ih + lo, *b_hh = s->b_hh + lo;
    if (s->cell == CG_CELL_GRU)
        gru_cell(g, H, hg, hs, b_ih, b_hh, state_before(s->y, s->h0, s->zeros, &s->d, n, tp) + lo,
                 s->extra + at * H + lo, h, w);
    else if (s->cell == CG_CELL_LSTM)
        lstm_cell(g, H, hg, hs, b_ih, b_hh,
                  state_before(s->extra, s->c0, s->zeros, &s->d, n, tp) + lo,
                  s->extra + at * H + lo, h, w);
    else
        rnn_cell(s->cell == CG_CELL_RNN_RELU, g, hg, b_ih, b_hh, h, w);
}

/* Packs slice k's rows of every gate of W_hh: its step product is then
 * one panel product, [N, H]·[H, G·padded(w)]. */
static void pack_slice(const rnn_step *s, int64_t k)
{
    const rnn_dims *d = &s->d;
    int64_t lo, hi;
    slice_bounds(d, k, &lo, &hi);
    float *panels = s->panels + k * d->G * cg__panel_floats(d->width, d->H);
    for (int64_t q = 0; q < d->G; q++)
        cg__panel_pack(true, hi - lo, d->H, s->w_hh + (q * d->H + lo) * d->H, d->H,
                       panels + q * cg__panel_floats(hi - lo, d->H));
}

/* Step t for the hidden units of one slice, every sample row: the product
 * reads h before the step from hp [N, H] (NULL: zeros), and the slice's
 * units of h after it go to hn besides y. A contiguous copy, because y's
 * rows lie T·H apart: 64 KiB for W4, so every row falls into the same few
 * cache sets and the product's reads of them missed every cache. */
static void step_slice(const rnn_step *s, int64_t t, int64_t tp, const float *hp, float *hn,
                       int64_t k)
{
    const rnn_dims *d = &s->d;
    int64_t lo, hi;
    slice_bounds(d, k, &lo, &hi);
    const int64_t w = hi - lo, cols = d->G * padded(w);
    float *hg = s->hg + k * d->N * d->G * padded(d->width);
    if (hp)
        cg__panel_gemm(d->N, cols, d->H, hp, d->H,
                       s->panels + k * d->G * cg__panel_floats(d->width, d->H), false, hg, cols);
    else
        memset(hg, 0, (size_t)(d->N * cols) * sizeof *hg);
    for (int64_t n = 0; n < d->N; n++) {
        cells_of_row(s, n, t, tp, lo, w, hg + n * cols);
        memcpy(hn + n * d->H + lo, s->y + (n * d->T + t) * d->H + lo, (size_t)w * sizeof *hn);
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
    const float *gates, *extra, *y, *dy, *w_hh;
    const float *h0, *c0, *zeros;
    float *panels;            /* slice by slice: W_hh's columns of its units */
    float *dg, *dgh;          /* [N, T, G·H]: input side, hidden side (same for rnn, lstm) */
    float *dh, *dc;           /* [N, H] carried */
} rnn_back;

/* As the forward cells: w units of one slice, gate q of unit j at
 * g[q·gs + j] (and dg, dgh). */
static void rnn_cell_back(bool relu, const float *restrict h, const float *restrict dy,
                          float *restrict dh, float *restrict dg, int64_t w)
{
    for (int64_t j = 0; j < w; j++) {
        float v = dh[j] + dy[j];
        dg[j] = relu ? (h[j] > 0.0f ? v : 0.0f) : v * (1.0f - h[j] * h[j]);
        dh[j] = 0.0f;
    }
}

static void lstm_cell_back(const float *restrict g, int64_t gs, const float *restrict c,
                           const float *restrict cp, const float *restrict dy,
                           float *restrict dh, float *restrict dc, float *restrict dg, int64_t w)
{
    for (int64_t j = 0; j < w; j++) {
        float i = g[j], f = g[gs + j], gg = g[2 * gs + j], o = g[3 * gs + j];
        float v = dh[j] + dy[j], tc = cg__fast_tanhf(c[j]);
        float dct = dc[j] + v * o * (1.0f - tc * tc);
        dg[j] = dct * gg * i * (1.0f - i);
        dg[gs + j] = dct * cp[j] * f * (1.0f - f);
        dg[2 * gs + j] = dct * i * (1.0f - gg * gg);
        dg[3 * gs + j] = v * tc * o * (1.0f - o);
        dc[j] = dct * f;
        dh[j] = 0.0f;
    }
}

static void gru_cell_back(const float *restrict g, int64_t gs, const float *restrict hn,
                          const float *restrict hp, const float *restrict dy, float *restrict dh,
                          float *restrict dg, float *restrict dgh, int64_t w)
{
    for (int64_t j = 0; j < w; j++) {
        float r = g[j], z = g[gs + j], nn = g[2 * gs + j];
        float v = dh[j] + dy[j];
        float dn = v * (1.0f - z) * (1.0f - nn * nn);
        float dr = dn * hn[j] * r * (1.0f - r);
        float dz = v * (hp[j] - nn) * z * (1.0f - z);
        dg[j] = dgh[j] = dr;
        dg[gs + j] = dgh[gs + j] = dz;
        dg[2 * gs + j] = dn;
        dgh[2 * gs + j] = dn * r;
        dh[j] = v * z;
    }
}

static void back_row(const rnn_back *b, int64_t n, int64_t t, int64_t tp, int64_t lo, int64_t w)
{
    const int64_t H = b->d.H, GH = b->d.G * H, at = n * b->d.T + t;
    const float *g = b->gates + at * GH + lo, *dy = b->dy + at * H + lo;
    float *dg = b->dg + at * GH + lo, *dh = b->dh + n * H + lo;
    if (b->cell == CG_CELL_LSTM)
        lstm_cell_back(g, H, b->extra + at * H + lo,
                       state_before(b->extra, b->c0, b->zeros, &b->d, n, tp) + lo, dy, dh,
                       b->dc + n * H + lo, dg, w);
    else if (b->cell == CG_CELL_GRU)
        gru_cell_back(g, H, b->extra + at * H + lo,
                      state_before(b->y, b->h0, b->zeros, &b->d, n, tp) + lo, dy, dh, dg,
                      b->dgh + at * GH + lo, w);
    else
        rnn_cell_back(b->cell == CG_CELL_RNN_RELU, b->y + at * H + lo, dy, dh, dg, w);
}

static float *back_panels(const rnn_back *b, int64_t k)
{
    return b->panels + k * cg__panel_floats(b->d.width, b->d.G * b->d.H);
}

static void pack_back_slice(const rnn_back *b, int64_t k)
{
    int64_t lo, hi;
    slice_bounds(&b->d, k, &lo, &hi);
    cg__panel_pack(false, hi - lo, b->d.G * b->d.H, b->w_hh + lo, b->d.H, back_panels(b, k));
}

/* Step t for the hidden units of one slice: first the gradient reaching
 * them from the step walked before,
 *   dh[:, lo:hi] (+)= dgates_hidden(before) · W_hh[:, lo:hi],
 * which needs every slice's gate gradients of that step (dgp [N, G·H],
 * NULL at the end of the sequence), then their cells, whose gate gradients
 * go to dgn besides dgh (contiguous, as h in forward). */
static void back_slice(const rnn_back *b, int64_t t, int64_t tp, const float *dgp, float *dgn,
                       int64_t k)
{
    const rnn_dims *d = &b->d;
    int64_t lo, hi;
    slice_bounds(d, k, &lo, &hi);
    const int64_t GH = d->G * d->H, w = hi - lo;
    if (dgp)
        cg__panel_gemm(d->N, w, GH, dgp, GH, back_panels(b, k), b->cell == CG_CELL_GRU,
                       b->dh + lo, d->H);
    for (int64_t n = 0; n < d->N; n++) {
        back_row(b, n, t, tp, lo, w);
        for (int64_t q = 0; q < d->G; q++)
            memcpy(dgn + n * GH + q * d->H + lo, b->dgh + (n * d->T + t) * GH + q * d->H + lo,
                   (size_t)w * sizeof *dgn);
    }
}

/* h before every step, [N, T, H]: the left operand of dW_hh's one GEMM. */
static void fill_previous_states(const rnn_dims *d, bool reverse, const float *y, const float *h0,
                                 float *hprev)
{
    const size_t row = (size_t)d->H * sizeof(float);
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
    bool reverse = node->iarg[RNN_REVERSE];
    rnn_dims d = dims_of(x->shape[0], x->shape[1], x->shape[2], y->shape[2], gates_of(cell));
    const int64_t GH = d.G * d.H;
    rnn_back b = {.d = d, .cell = cell, .gates = sv->gates, .extra = sv->extra, .y = y->data,
                  .dy = y->grad, .w_hh = w_hh->data, .h0 = sv->h0, .c0 = sv->c0};
    b.dg = cg__scratch(ctx, d.N * d.T * GH);
    b.dgh = cell == CG_CELL_GRU ? cg__scratch(ctx, d.N * d.T * GH) : b.dg;
    b.dh = cg__scratch(ctx, d.N * d.H);
    b.dc = cg__scratch(ctx, d.N * d.H);
    float *zeros = cg__scratch(ctx, d.H);
    b.panels = cg__scratch(ctx, d.slices * cg__panel_floats(d.width, GH));
    const int64_t NGH = d.N * GH;
    float *dgbuf = cg__scratch(ctx, 2 * NGH);
    if (!b.dg || !b.dgh || !b.dh || !b.dc || !zeros || !b.panels || !dgbuf) {
        if (ctx->backward_status == CG_OK) ctx->backward_status = cg_last_status();
        return;
    }
    memset(zeros, 0, (size_t)d.H * sizeof *zeros);
    memset(b.dh, 0, (size_t)(d.N * d.H) * sizeof *b.dh);
    memset(b.dc, 0, (size_t)(d.N * d.H) * sizeof *b.dc);
    b.zeros = zeros;
    /* One barrier a step: the end of the slice loop. The initial state's
     * gradient is not wanted: it is a constant (zeros, or a carried state
     * detached from its graph). */
#pragma omp parallel if (d.slices > 1)
    {
#pragma omp for schedule(static)
        for (int64_t s = 0; s < d.slices; s++) pack_back_slice(&b, s);
        for (int64_t k = d.T - 1; k >= 0; k--) {
            int64_t t = reverse ? d.T - 1 - k : k;
            const float *dgp = k + 1 < d.T ? dgbuf + (k + 1) % 2 * NGH : NULL;
#pragma omp for schedule(static)
            for (int64_t s = 0; s < d.slices; s++)
                back_slice(&b, t, prev_step(t, d.T, reverse), dgp, dgbuf + k % 2 * NGH, s);
        }
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

/* One barrier a step: the end of the slice loop, after which every unit's
 * h of step t is there for step t + 1 (in hbuf, two [N, H] halves used in
 * turn). Each thread packs the slices it then runs (a static schedule
 * gives it the same ones every loop). */
static void run_steps(const rnn_step *s, bool reverse, float *hbuf)
{
    const rnn_dims *d = &s->d;
    const int64_t NH = d->N * d->H;
#pragma omp parallel if (d->slices > 1)
    {
#pragma omp for schedule(static)
        for (int64_t sl = 0; sl < d->slices; sl++) pack_slice(s, sl);
        for (int64_t k = 0; k < d->T; k++) {
            int64_t t = reverse ? d->T - 1 - k : k, tp = prev_step(t, d->T, reverse);
            const float *hp = k > 0 ? hbuf + (k + 1) % 2 * NH : s->h0;
#pragma omp for schedule(static)
            for (int64_t sl = 0; sl < d->slices; sl++)
                step_slice(s, t, tp, hp, hbuf + k % 2 * NH, sl);
        }
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
    float *hg = cg__scratch(ctx, d.slices * d.N * d.G * padded(d.width));
    float *panels = cg__scratch(ctx, d.slices * d.G * cg__panel_floats(d.width, d.H));
    float *zeros = cg__scratch(ctx, GH), *hbuf = cg__scratch(ctx, 2 * d.N * d.H);
    if (failed || !sv.gates || (d.G > 1 && !sv.extra) || !hg || !panels || !zeros || !hbuf)
        return NULL;
    memset(zeros, 0, (size_t)GH * sizeof *zeros);
    gemm(false, true, rows, GH, d.F, x->data, d.F, w_ih->data, d.F, false, sv.gates, GH);
    rnn_step s = {.d = d, .cell = cell, .xg = sv.gates, .w_hh = w_hh->data, .panels = panels,
                  .hg = hg, .b_ih = b_ih ? b_ih->data : zeros, .b_hh = b_hh ? b_hh->data : zeros, .y = y->data, .extra = sv.extra,
                  .h0 = sv.h0, .c0 = sv.c0, .zeros = zeros};
    run_steps(&s, reverse, hbuf);
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
