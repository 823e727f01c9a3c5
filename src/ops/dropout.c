/* Inverted dropout, of elements (dropout) and of whole channels (dropout2d).
 *
 * Whether element i survives is a hash of (key, i), the key drawn once per
 * call from the context's random stream. So the mask is the same for any
 * thread count, the loop runs in parallel, and backward recomputes the mask
 * from the key instead of storing it. dropout2d hashes (key, channel) for
 * channel n·C + c of [N, C, ...] instead.
 *
 * i counts from the start of the whole batch: a process holding rows
 * [r, r + n) of a data-parallel batch (ctx->share) starts at row r's first
 * element, and every process draws the same key, so together they drop
 * exactly what one process with the whole batch would. */
#include "internal.h"

/* 24 uniform bits for element i: SplitMix64 (Steele et al. 2014) at
 * position i of the stream that starts at key. */
static inline uint32_t element_bits(uint64_t key, int64_t i)
{
    uint64_t z = key + (uint64_t)(i + 1) * 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return (uint32_t)((z ^ (z >> 31)) >> 40);
}

/* out[i] (= or +=) in[i]·scale where element i survives, else 0.
 * An element is dropped when its bits fall below drop_below = p·2²⁴. */
static void apply_mask(const float *in, float *out, int64_t n, uint64_t key, int64_t base,
                       uint32_t drop_below, float scale, bool acc)
{
#pragma omp parallel for schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; i++) {
        float v = element_bits(key, base + i) >= drop_below ? in[i] * scale : 0.0f;
        out[i] = acc ? out[i] + v : v;
    }
}

/* The key of one call: 64 bits from the context's stream. */
static uint64_t draw_key(cg_ctx *ctx)
{
    uint64_t key = (uint64_t)cg_rng_u32(&ctx->rng) << 32;
    return key | cg_rng_u32(&ctx->rng);
}

/* dx = dy·mask/(1−p) */
static void dropout_backward(cg_ctx *ctx, cg_node *node)
{
    cg_tensor *x = node->inputs[0], *y = node->out;
    bool acc;
    float *dx = cg__grad_dest(ctx, x, &acc);
    if (dx)
        apply_mask(y->grad, dx, x->size, (uint64_t)node->iarg[0], node->iarg[2],
                   (uint32_t)node->iarg[1], node->farg[0], acc);
}

const cg_op_def cg_op_dropout = {"dropout", dropout_backward};

/* Arguments both dropouts take; false with the error set. */
static bool args_ok(const char *op, cg_ctx *ctx, cg_tensor *x, float p)
{
    if (cg__null_input(op, &x, 1)) return false;
    if (!(p >= 0.0f && p < 1.0f)) {
        cg_set_error(CG_ERR_ARG, "%s: probability %g outside [0, 1)", op, (double)p);
        return false;
    }
    if (!ctx) {
        cg_set_error(CG_ERR_ARG, "%s: context is NULL", op);
        return false;
    }
    return true;
}

/* The mask parameters of a step: key, index of the first element (or
 * channel) in the whole batch, threshold below which a 24-bit draw drops,
 * and the survivors' scale. */
typedef struct mask_params {
    uint64_t key;
    int64_t base;
    uint32_t drop_below;
    float scale;
} mask_params;

/* units: elements (or channels) of x, all its rows together. */
static mask_params draw_mask(cg_ctx *ctx, float p, int64_t units)
{
    return (mask_params){.key = draw_key(ctx),
                         .base = cg__share_base(&ctx->share, units),
                         .drop_below = (uint32_t)((double)p * 16777216.0),
                         .scale = 1.0f / (1.0f - p)};
}

static bool record_mask(cg_ctx *ctx, const cg_op_def *op, cg_tensor *x, cg_tensor *y, mask_params m)
{
    if (!cg__needs_grad(ctx, &x, 1)) return true;
    cg_node *node = cg__record(ctx, op, y, &x, 1);
    if (!node) return false;
    node->iarg[0] = (int64_t)m.key;
    node->iarg[1] = m.drop_below;
    node->iarg[2] = m.base;
    node->farg[0] = m.scale;
    return true;
}

cg_tensor *cg_dropout(cg_ctx *ctx, cg_tensor *x, float p)
{
    if (!args_ok("dropout", ctx, x, p)) return NULL;
    if (!ctx->training || p == 0.0f) return x;
    cg_tensor *y = cg__tensor_like(ctx, x);
    if (!y) return NULL;
    mask_params m = draw_mask(ctx, p, x->size);
    apply_mask(x->data, y->data, x->size, m.key, m.base, m.drop_below, m.scale, false);
    if (!record_mask(ctx, &cg_op_dropout, x, y, m)) return NULL;
    return y;
}

/* ---------------------------------------------------------------- dropout2d */

/* Channel j of [N, C, ...] is the run of `inner` values at j·inner:
 * out (= or +=) in·scale where channel j survives, else 0. */
static void apply_channel_mask(const float *in, float *out, int64_t channels, int64_t inner,
                               uint64_t key, int64_t base, uint32_t drop_below, float scale,
                               bool acc)
{
#pragma omp parallel for schedule(static) if (channels * inner > 32768 && channels > 1)
    for (int64_t j = 0; j < channels; j++) {
        const float *x = in + j * inner;
        float *y = out + j * inner;
        bool keep = element_bits(key, base + j) >= drop_below;
        if (keep && acc)
            for (int64_t i = 0; i < inner; i++) y[i] += x[i] * scale;
        else if (keep)
            for (int64_t i = 0; i < inner; i++) y[i] = x[i] * scale;
        else if (!acc)
            for (int64_t i = 0; i < inner; i++) y[i] = 0.0f;
    }
}

/* dx = dy·mask[channel]/(1−p) */
static void dropout2d_backward(cg_ctx *ctx, cg_node *node)
{
    cg_tensor *x = node->inputs[0], *y = node->out;
    bool acc;
    float *dx = cg__grad_dest(ctx, x, &acc);
    int64_t channels = x->shape[0] * x->shape[1];
    if (dx)
        apply_channel_mask(y->grad, dx, channels, x->size / channels, (uint64_t)node->iarg[0],
                           node->iarg[2], (uint32_t)node->iarg[1], node->farg[0], acc);
}

const cg_op_def cg_op_dropout2d = {"dropout2d", dropout2d_backward};

cg_tensor *cg_dropout2d(cg_ctx *ctx, cg_tensor *x, float p)
{
    if (!args_ok("dropout2d", ctx, x, p)) return NULL;
    if (x->ndim < 2) {
        char shape[96];
        cg_set_error(CG_ERR_ARG, "dropout2d: input must be [N, C, ...], got %s",
                     cg_shape_str(x, shape, sizeof shape));
        return NULL;
    }
    if (!ctx->training || p == 0.0f) return x;
    cg_tensor *y = cg__tensor_like(ctx, x);
    if (!y) return NULL;
    int64_t channels = x->shape[0] * x->shape[1];
    mask_params m = draw_mask(ctx, p, channels);
    apply_channel_mask(x->data, y->data, channels, x->size / channels, m.key, m.base,
                       m.drop_below, m.scale, false);
    return record_mask(ctx, &cg_op_dropout2d, x, y, m) ? y : NULL;
}
