/* Scaled dot-product self-attention of packed projections, the core of
 * torch.nn.MultiheadAttention between its input and output projections.
 *
 * qkv [N, T, 3·D] holds each step's query, key and value (D = H·dh, head h
 * at columns h·dh of each); the output [N, T, D] holds the heads side by
 * side, as MultiheadAttention concatenates them before out_proj. For one
 * sample and head:
 *     S = Q·Kᵀ/√dh,  masked keys −∞,  P = softmax(S) by rows,
 *     P̃ = P⊙M/(1−p) (dropout on the weights),  O = P̃·V.
 * Scaling, masking and softmax are one pass over S (fused).
 *
 * Two paths compute the same thing:
 * - plain: S is one [T, T] product per head and P is kept for backward
 *   (N·H·T² floats, the only quadratic memory; P̃ and the backward's dP are
 *   per-thread [T, T] scratch, not per head). Its six products per head run
 *   on ops/attention_kernels.c, which skips what causal masking zeroes, up
 *   to lengths where a head's operands outgrow L2, on sgemm beyond;
 * - tiled (flash-style): queries and keys in blocks of `tile`, an online
 *   softmax (running max and sum) rescales the output block as each key
 *   block arrives; only each row's log-sum-exp is kept (N·H·T floats), and
 *   backward recomputes P block by block from it, using
 *   Σⱼ Pᵢⱼ·dPᵢⱼ = dOᵢ·Oᵢ. Memory is linear in T.
 * Dropout's mask is a hash of (key, sample, head, i, j), like ops/dropout.c's,
 * so both paths and backward recompute it instead of storing it.
 *
 * A query whose keys are all masked (every key padded) gets a zero output
 * and no gradient, where PyTorch gives NaN. */
#include "internal.h"

#include "attention_kernels.h"
#include "fast_exp.h"
#include "panel_gemm.h"

#include <math.h>
#include <string.h>

typedef struct attn_dims {
    int64_t N, T, H, dh, D;
    float scale;
    bool causal;
    const float *key_mask;     /* [N, T], nonzero: ignored key; or NULL */
    uint64_t drop_key;
    int64_t nh_base;           /* data-parallel: heads before this rank's share */
    uint32_t drop_below;       /* p·2²⁴; 0: no dropout */
    float keep_scale;          /* 1/(1−p) */
    int64_t tile;              /* 0: plain path */
    bool fused;                /* plain path on ops/attention_kernels.c */
} attn_dims;

/* C (=, or += when acc) alpha·op(A)·op(B) on this thread: the per-head
 * products run inside the heads' parallel loop (ops/gemm.c). */
static void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                 int64_t lda, const float *B, int64_t ldb, bool acc, float *C, int64_t ldc)
{
    cg__gemm_serial(ta, tb, M, N, K, alpha, A, lda, B, ldb, acc, C, ldc);
}

/* fmaxf without its NaN rules, which keep gcc from inlining it (a call per
 * score); a NaN score leaves m as fmaxf would. */
static inline float max2(float m, float v) { return v > m ? v : m; }

/* 24 uniform bits for element i of the stream `key` (SplitMix64, as
 * ops/dropout.c draws its masks). */
static inline uint32_t hash_bits(uint64_t key, uint64_t i)
{
    uint64_t z = key + (i + 1) * 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return (uint32_t)((z ^ (z >> 31)) >> 40);
}

/* Dropout factor of weight (i, j) of head nh: 0 or 1/(1−p). */
static inline float keep(const attn_dims *d, int64_t nh, int64_t i, int64_t j)
{
    uint64_t head = (uint64_t)(nh + d->nh_base);
    uint64_t at = (head * (uint64_t)d->T + (uint64_t)i) * (uint64_t)d->T + (uint64_t)j;
    return hash_bits(d->drop_key, at) >= d->drop_below ? d->keep_scale : 0.0f;
}

/* Keys j of query i that take part: [0, end) minus padded ones. */
static inline int64_t key_end(const attn_dims *d, int64_t i)
{
    return d->causal ? i + 1 : d->T;
}

static inline bool padded(const attn_dims *d, int64_t n, int64_t j)
{
    return d->key_mask && d->key_mask[n * d->T + j] != 0.0f;
}

/* Pointers to sample n, head h's Q, K, V (row stride 3D) and O (stride D). */
typedef struct head_view {
    const float *q, *k, *v;
    float *o;
} head_view;

static head_view view(const attn_dims *d, const float *qkv, float *o, int64_t n, int64_t h)
{
    const float *base = qkv + n * d->T * 3 * d->D + h * d->dh;
    return (head_view){base, base + d->D, base + 2 * d->D, o ? o + n * d->T * d->D + h * d->dh : NULL};
}

/* ------------------------------------------------------------ plain path */

/* Row i of S (already scaled) becomes softmax with masking; returns false
 * when every key is masked (the row is then zeros). */
static bool softmax_row(const attn_dims *d, int64_t n, int64_t i, float *s)
{
    const int64_t end = key_end(d, i);
    const float *pad = d->key_mask ? d->key_mask + n * d->T : NULL;
    /* Loops without a reduction, apart from the ones that are, so that
     * they vectorise. */
    if (pad)
        for (int64_t j = 0; j < end; j++) s[j] = pad[j] != 0.0f ? -INFINITY : s[j];
    const float m = cg__attn_row_max(s, end);
    if (m == -INFINITY) {
        memset(s, 0, (size_t)d->T * sizeof *s);
        return false;
    }
    if (pad)
        for (int64_t j = 0; j < end; j++) s[j] = pad[j] != 0.0f ? 0.0f : cg__fast_expf(s[j] - m);
    else
        for (int64_t j = 0; j < end; j++) s[j] = cg__fast_expf(s[j] - m);
    const float inv = 1.0f / cg__attn_row_sum(s, end);
    for (int64_t j = 0; j < end; j++) s[j] *= inv;
    for (int64_t j = end; j < d->T; j++) s[j] = 0.0f;
    return true;
}

/* P̃ = P⊙M/(1−p) into out (zero where P is). */
static void drop_weights(const attn_dims *d, int64_t nh, const float *p, float *out)
{
    for (int64_t i = 0; i < d->T; i++) {
        const int64_t end = key_end(d, i);
        for (int64_t j = 0; j < end; j++) out[i * d->T + j] = p[i * d->T + j] * keep(d, nh, i, j);
        for (int64_t j = end; j < d->T; j++) out[i * d->T + j] = 0.0f;
    }
}

/* Floats of one head's packed right operand, the largest of its products. */
static int64_t panel_floats(const attn_dims *d)
{
    int64_t a = cg__panel_floats(d->T, d->dh), b = cg__panel_floats(d->dh, d->T);
    return d->fused ? (a > b ? a : b) : 0;
}

/* One per-head product, C (+)= alpha·op(A)·op(B): fused, B packed into
 * `panels` and only the band that causal masking leaves; else one sgemm.
 * The trace sees it as the sgemm it replaces, packing included. */
static void product(const attn_dims *d, cg_attn_band band, bool ta, bool tb, int64_t M, int64_t N,
                    int64_t K, float alpha, const float *A, int64_t lda, const float *B,
                    int64_t ldb, bool acc, float *C, int64_t ldc, float *panels)
{
    if (!d->fused) {
        gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, acc, C, ldc);
        return;
    }
    const double t0 = cg_gemm_trace_product ? cg__clock() : 0.0;
    cg__attn_gemm(d->causal ? band : CG_ATTN_FULL, ta, tb, M, N, K, alpha, A, lda, B, ldb, acc, C,
                  ldc, panels);
    if (cg_gemm_trace_product)
        cg_gemm_trace_product((int)M, (int)N, (int)K, (int)(ta ? K : lda), (int)ldc, acc, t0,
                              cg__clock());
}

static void plain_forward_head(const attn_dims *d, const float *qkv, float *out, int64_t nh,
                               float *p, float *work)
{
    const int64_t n = nh / d->H, h = nh % d->H, T = d->T, ld = 3 * d->D;
    head_view hv = view(d, qkv, out, n, h);
    float *panels = work, *dropped = work + panel_floats(d);
    product(d, CG_ATTN_COLS, false, true, T, T, d->dh, d->scale, hv.q, ld, hv.k, ld, false, p, T,
            panels);
    for (int64_t i = 0; i < T; i++) softmax_row(d, n, i, p + i * T);
    const float *weights = p;
    if (d->drop_below) {
        drop_weights(d, nh, p, dropped);
        weights = dropped;
    }
    product(d, CG_ATTN_K_BELOW, false, false, T, d->dh, T, 1.0f, weights, T, hv.v, ld, false,
            hv.o, d->D, panels);
}

/* dP ← P⊙(dP⊙M/(1−p) − Σⱼ dP⊙M/(1−p)⊙P) row by row (dS before its 1/√dh),
 * over the keys a row sees: the fused dP leaves the rest unwritten. */
static void softmax_grad(const attn_dims *d, int64_t nh, const float *p, float *dp)
{
    for (int64_t i = 0; i < d->T; i++) {
        float *r = dp + i * d->T;
        const float *pr = p + i * d->T;
        const int64_t end = key_end(d, i);
        if (d->drop_below)
            for (int64_t j = 0; j < end; j++) r[j] *= keep(d, nh, i, j);
        const float dot = cg__attn_row_dot(r, pr, end);
        for (int64_t j = 0; j < end; j++) r[j] = pr[j] * (r[j] - dot);
        for (int64_t j = end; j < d->T; j++) r[j] = 0.0f;
    }
}

/* dV (+)= P̃ᵀ·dO;  dP = (dO·Vᵀ)⊙M/(1−p);  dS = P⊙(dP − Σⱼ dP⊙P)/√dh;
 * dQ (+)= dS·K;  dK (+)= dSᵀ·Q. */
static void plain_backward_head(const attn_dims *d, const float *qkv, const float *dout,
                                float *dqkv, bool acc, int64_t nh, const float *p, float *work)
{
    const int64_t n = nh / d->H, h = nh % d->H, T = d->T, ld = 3 * d->D, dh = d->dh;
    head_view hv = view(d, qkv, NULL, n, h);
    const int64_t off = n * T * ld + h * dh;
    const float *dO = dout + n * T * d->D + h * dh;
    float *dp = work, *pd = work + T * T, *panels = pd + T * T;
    const float *weights = p;
    if (d->drop_below) {
        drop_weights(d, nh, p, pd);
        weights = pd;
    }
    product(d, CG_ATTN_K_ABOVE, true, false, T, dh, T, 1.0f, weights, T, dO, d->D, acc,
            dqkv + off + 2 * d->D, ld, panels);
    product(d, CG_ATTN_COLS, false, true, T, T, dh, 1.0f, dO, d->D, hv.v, ld, false, dp, T, panels);
    softmax_grad(d, nh, p, dp);
    product(d, CG_ATTN_K_BELOW, false, false, T, dh, T, d->scale, dp, T, hv.k, ld, acc,
            dqkv + off, ld, panels);
    product(d, CG_ATTN_K_ABOVE, true, false, T, dh, T, d->scale, dp, T, hv.q, ld, acc,
            dqkv + off + d->D, ld, panels);
}

/* ------------------------------------------------------------ tiled path */

/* Scores of query block [i0, i0+bq) against key block [j0, j0+bk), scaled,
 * with masked entries −∞. */
static void block_scores(const attn_dims *d, const head_view *hv, int64_t n, int64_t i0,
                         int64_t bq, int64_t j0, int64_t bk, float *s)
{
    const int64_t ld = 3 * d->D;
    gemm(false, true, bq, bk, d->dh, d->scale, hv->q + i0 * ld, ld, hv->k + j0 * ld, ld, false, s,
         bk);
    for (int64_t a = 0; a < bq; a++)
        for (int64_t b = 0; b < bk; b++)
            if ((d->causal && j0 + b > i0 + a) || padded(d, n, j0 + b)) s[a * bk + b] = -INFINITY;
}

/* Keys blocks a query block needs: causal attention stops at its last row. */
static int64_t keys_needed(const attn_dims *d, int64_t i0, int64_t bq)
{
    return d->causal ? i0 + bq : d->T;
}

/* One query block: O = Σ blocks exp(S − m)·M·V / l with the running max m
 * and sum l rescaling what came before; lse[i] = m + log l (−∞: no key). */
static void tiled_forward_block(const attn_dims *d, const head_view *hv, int64_t n, int64_t nh,
                                int64_t i0, int64_t bq, float *lse, float *s, float *m, float *l)
{
    const int64_t tile = d->tile, ld = 3 * d->D;
    float *o = hv->o + i0 * d->D;
    for (int64_t a = 0; a < bq; a++) {
        m[a] = -INFINITY;
        l[a] = 0.0f;
        memset(o + a * d->D, 0, (size_t)d->dh * sizeof *o);
    }
    const int64_t end = keys_needed(d, i0, bq);
    for (int64_t j0 = 0; j0 < end; j0 += tile) {
        const int64_t bk = j0 + tile <= end ? tile : end - j0;
        block_scores(d, hv, n, i0, bq, j0, bk, s);
        for (int64_t a = 0; a < bq; a++) {
            float *r = s + a * bk, mx = m[a];
            for (int64_t b = 0; b < bk; b++) mx = max2(mx, r[b]);
            if (mx == -INFINITY) {
                memset(r, 0, (size_t)bk * sizeof *r);
                continue;
            }
            const float rescale = m[a] == -INFINITY ? 0.0f : cg__fast_expf(m[a] - mx);
            float sum = 0.0f;
            for (int64_t b = 0; b < bk; b++) {
                float e = r[b] == -INFINITY ? 0.0f : cg__fast_expf(r[b] - mx);
                sum += e;
                r[b] = d->drop_below ? e * keep(d, nh, i0 + a, j0 + b) : e;
            }
            l[a] = l[a] * rescale + sum;
            m[a] = mx;
            float *oa = o + a * d->D;
            for (int64_t c = 0; c < d->dh; c++) oa[c] *= rescale;
        }
        gemm(false, false, bq, d->dh, bk, 1.0f, s, bk, hv->v + j0 * ld, ld, true, o, d->D);
    }
    for (int64_t a = 0; a < bq; a++) {
        float *oa = o + a * d->D;
        const float inv = l[a] > 0.0f ? 1.0f / l[a] : 0.0f;
        for (int64_t c = 0; c < d->dh; c++) oa[c] *= inv;
        lse[i0 + a] = l[a] > 0.0f ? m[a] + logf(l[a]) : -INFINITY;
    }
}

static void tiled_forward_head(const attn_dims *d, const float *qkv, float *out, int64_t nh,
                               float *lse, float *work)
{
    const int64_t n = nh / d->H, tile = d->tile;
    head_view hv = view(d, qkv, out, n, nh % d->H);
    float *s = work, *m = work + tile * tile, *l = m + tile;
    for (int64_t i0 = 0; i0 < d->T; i0 += tile)
        tiled_forward_block(d, &hv, n, nh, i0, i0 + tile <= d->T ? tile : d->T - i0,
                            lse + nh * d->T, s, m, l);
}

/* One (query block, key block) pair of the backward pass; dq, dk, dv are
 * this head's gradient slices (row stride 3D), accumulated into. */
static void tiled_backward_pair(const attn_dims *d, const head_view *hv, int64_t n, int64_t nh,
                                int64_t i0, int64_t bq, int64_t j0, int64_t bk, const float *lse,
                                const float *delta, const float *dO, float *dq, float *dk,
                                float *dv, float *s, float *dp)
{
    const int64_t ld = 3 * d->D;
    block_scores(d, hv, n, i0, bq, j0, bk, s);
    /* s becomes P, dp becomes dS (scaled below by the GEMMs' alpha). */
    gemm(false, true, bq, bk, d->dh, 1.0f, dO + i0 * d->D, d->D, hv->v + j0 * ld, ld, false, dp,
         bk);
    for (int64_t a = 0; a < bq; a++) {
        const float L = lse[i0 + a], dl = delta[i0 + a];
        float *pr = s + a * bk, *gr = dp + a * bk;
        for (int64_t b = 0; b < bk; b++) {
            float p = L == -INFINITY || pr[b] == -INFINITY ? 0.0f : cg__fast_expf(pr[b] - L);
            float mk = d->drop_below ? keep(d, nh, i0 + a, j0 + b) : 1.0f;
            gr[b] = p * (gr[b] * mk - dl);
            pr[b] = p * mk;
        }
    }
    gemm(true, false, bk, d->dh, bq, 1.0f, s, bk, dO + i0 * d->D, d->D, true, dv + j0 * ld, ld);
    gemm(false, false, bq, d->dh, bk, d->scale, dp, bk, hv->k + j0 * ld, ld, true, dq + i0 * ld, ld);
    gemm(true, false, bk, d->dh, bq, d->scale, dp, bk, hv->q + i0 * ld, ld, true, dk + j0 * ld, ld);
}

static void tiled_backward_head(const attn_dims *d, const float *qkv, const float *out,
                                const float *dout, float *dqkv, int64_t nh, const float *lse,
                                float *work)
{
    const int64_t n = nh / d->H, h = nh % d->H, T = d->T, tile = d->tile, ld = 3 * d->D;
    head_view hv = view(d, qkv, NULL, n, h);
    const float *dO = dout + n * T * d->D + h * d->dh, *o = out + n * T * d->D + h * d->dh;
    float *dq = dqkv + n * T * ld + h * d->dh, *dk = dq + d->D, *dv = dq + 2 * d->D;
    float *s = work, *dp = s + tile * tile, *delta = dp + tile * tile;
    /* Σⱼ Pᵢⱼ·dPᵢⱼ = dOᵢ·Oᵢ, with or without dropout. */
    for (int64_t i = 0; i < T; i++) {
        float acc = 0.0f;
        for (int64_t c = 0; c < d->dh; c++) acc += dO[i * d->D + c] * o[i * d->D + c];
        delta[i] = acc;
    }
    for (int64_t i0 = 0; i0 < T; i0 += tile) {
        const int64_t bq = i0 + tile <= T ? tile : T - i0, end = keys_needed(d, i0, bq);
        for (int64_t j0 = 0; j0 < end; j0 += tile)
            tiled_backward_pair(d, &hv, n, nh, i0, bq, j0, j0 + tile <= end ? tile : end - j0,
                                lse + nh * T, delta, dO, dq, dk, dv, s, dp);
    }
}

/* ------------------------------------------------------------ the op */

typedef struct attn_saved {
    attn_dims d;
    float *keep;   /* plain: P [N·H, T, T]; tiled: log-sum-exp [N·H, T] */
} attn_saved;

/* Per-thread scratch floats of each pass. */
static int64_t work_floats(const attn_dims *d, bool backward)
{
    if (d->tile) return backward ? 2 * d->tile * d->tile + d->T : d->tile * d->tile + 2 * d->tile;
    return panel_floats(d) + (backward ? 2 * d->T * d->T : (d->drop_below ? d->T * d->T : 0));
}

static void attention_backward(cg_ctx *ctx, cg_node *node)
{
    cg_tensor *qkv = node->inputs[0], *y = node->out;
    const attn_saved *sv = node->saved;
    const attn_dims *d = &sv->d;
    bool acc;
    float *dqkv = cg__grad_dest(ctx, qkv, &acc);
    if (!dqkv) return;
    const int threads = cg__max_threads();
    const int64_t per = work_floats(d, true);
    float *work = cg__scratch(ctx, threads * per);
    if (!work) {
        if (ctx->backward_status == CG_OK) ctx->backward_status = cg_last_status();
        return;
    }
    /* The tiled path adds block after block into the slices. */
    if (d->tile && !acc) memset(dqkv, 0, (size_t)qkv->size * sizeof *dqkv);
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t nh = 0; nh < d->N * d->H; nh++) {
        float *w = work + (int64_t)cg__thread_index() * per;
        if (d->tile)
            tiled_backward_head(d, qkv->data, y->data, y->grad, dqkv, nh, sv->keep, w);
        else
            plain_backward_head(d, qkv->data, y->grad, dqkv, acc, nh,
                                sv->keep + nh * d->T * d->T, w);
    }
}

const cg_op_def cg_op_attention = {"attention", attention_backward};

static bool attention_args(cg_ctx *ctx, cg_tensor *qkv, cg_tensor *key_mask,
                           const cg_attention_opts *o)
{
    char a[96], b[96];
    if (!ctx || !o) {
        cg_set_error(CG_ERR_ARG, "attention: context or options is NULL");
        return false;
    }
    if (qkv->ndim != 3 || o->heads < 1 || qkv->shape[2] % (3 * (int64_t)o->heads) != 0) {
        cg_set_error(CG_ERR_ARG, "attention: qkv must be [N, T, 3·D] with D a multiple of heads "
                                 "(%d), got %s", o->heads, cg_shape_str(qkv, a, sizeof a));
        return false;
    }
    if (key_mask && (key_mask->ndim != 2 || key_mask->shape[0] != qkv->shape[0] ||
                     key_mask->shape[1] != qkv->shape[1])) {
        cg_set_error(CG_ERR_ARG, "attention: key_mask must be [N, T] for qkv %s, got %s",
                     cg_shape_str(qkv, a, sizeof a), cg_shape_str(key_mask, b, sizeof b));
        return false;
    }
    if (!(o->dropout >= 0.0f && o->dropout < 1.0f) || o->tile < 0) {
        cg_set_error(CG_ERR_ARG, "attention: dropout %g outside [0, 1) or tile %d < 0",
                     (double)o->dropout, o->tile);
        return false;
    }
    return true;
}

static attn_dims dims_of(cg_ctx *ctx, const cg_tensor *qkv, const cg_tensor *key_mask,
                         const cg_attention_opts *o)
{
    attn_dims d = {.N = qkv->shape[0], .T = qkv->shape[1], .H = o->heads,
                   .D = qkv->shape[2] / 3, .causal = o->causal,
                   .key_mask = key_mask ? key_mask->data : NULL, .tile = o->tile};
    d.dh = d.D / d.H;
    /* The fused products have no cache blocking over k: a head's [T, dh]
     * operands must stay in L2. Measured (Zen 3, one thread, fwd+bwd,
     * bench_attention --path plain against sgemm): causal, dh 32 T 64–2048
     * 1.4–1.6x faster, dh 128 T 512 1.4x, T 1024 even; without the causal
     * skip, dh 32 T 256 1.1–1.3x, dh 128 T 64–128 even, but dh 128 T 256
     * 0.85x and dh 32 T 512 0.9x. */
    d.fused = !d.tile && (d.causal ? d.T * d.dh <= 65536 : d.T <= 256 && d.T * d.dh <= 16384);
    d.scale = (float)(1.0 / sqrt((double)d.dh));
    if (o->dropout > 0.0f && ctx->training) {
        d.drop_key = (uint64_t)cg_rng_u32(&ctx->rng) << 32 | cg_rng_u32(&ctx->rng);
        d.drop_below = (uint32_t)((double)o->dropout * 16777216.0);
        d.keep_scale = 1.0f / (1.0f - o->dropout);
        /* Counted from the whole batch's first head, so ranks sharing a
         * batch draw what one process draws (ops/dropout.c does the same). */
        d.nh_base = cg__share_base(&ctx->share, d.N * d.H);
    }
    return d;
}

cg_tensor *cg_attention(cg_ctx *ctx, cg_tensor *qkv, cg_tensor *key_mask,
                        const cg_attention_opts *opts)
{
    if (cg__null_input("attention", &qkv, 1) || !attention_args(ctx, qkv, key_mask, opts))
        return NULL;
    attn_dims d = dims_of(ctx, qkv, key_mask, opts);
    cg_tensor *y = cg__tensor_alloc(ctx, 3, (int64_t[]){d.N, d.T, d.D});
    if (!y) return NULL;
    const bool record = cg__needs_grad(ctx, &qkv, 1);
    /* Plain: P per head stays for backward (or per thread when none is
     * recorded); tiled: the log-sum-exp per row. */
    const int64_t NH = d.N * d.H, per_head = d.tile ? d.T : d.T * d.T;
    const int threads = cg__max_threads();
    const int64_t per = work_floats(&d, false);
    float *keep = cg__scratch(ctx, (record || d.tile ? NH : threads) * per_head);
    float *work = per ? cg__scratch(ctx, threads * per) : NULL;
    if (!keep || (per && !work)) return NULL;
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t nh = 0; nh < NH; nh++) {
        float *w = work ? work + (int64_t)cg__thread_index() * per : NULL;
        if (d.tile) {
            tiled_forward_head(&d, qkv->data, y->data, nh, keep, w);
        } else {
            float *p = keep + (record ? nh : cg__thread_index()) * per_head;
            plain_forward_head(&d, qkv->data, y->data, nh, p, w);
        }
    }
    if (!record) return y;
    cg_tensor *in[2] = {qkv, key_mask};
    cg_node *node = cg__record(ctx, &cg_op_attention, y, in, key_mask ? 2 : 1);
    attn_saved *sv = node ? cg_arena_alloc(&ctx->arena, sizeof *sv) : NULL;
    if (!sv) return NULL;
    *sv = (attn_saved){d, keep};
    node->saved = sv;
    return y;
}
