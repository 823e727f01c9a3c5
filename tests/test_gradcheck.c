/* Gradient checks of every registered op, driven by one table (cases[]).
 *
 * Each case names the registry op it covers, its input shapes and domains,
 * a build function that runs cgrad, and a double-precision reference forward
 * written here with naive loops. The harness (support/gradcheck.c) compares
 * the forward, the backward against central differences of the reference,
 * and the accumulate path. A test fails while a registered op has no case. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgrad.h"
#include "errors.h"
#include "gradcheck.h"

/* S(2, 3) is the shape [2, 3]; S0 is rank 0. */
#define S(...) {(int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), {__VA_ARGS__}}
#define S0 {0, {0}}
#define IN1(s0, d0) .n_inputs = 1, .shape = {s0}, .domain = {d0}
#define IN2(s0, d0, s1, d1) .n_inputs = 2, .shape = {s0, s1}, .domain = {d0, d1}
#define IN3(s0, d0, s1, d1, s2, d2) .n_inputs = 3, .shape = {s0, s1, s2}, .domain = {d0, d1, d2}

#define D1 GC_D1
#define D2 GC_D2
#define D3 GC_D3
#define D4 GC_D4

static int norm_axis(int axis, int ndim) { return axis < 0 ? axis + ndim : axis; }

/* ------------------------------------------------------------ elementwise */

enum { ADD, SUB, MUL, DIV };

static double arith(int kind, double a, double b)
{
    switch (kind) {
    case ADD: return a + b;
    case SUB: return a - b;
    case MUL: return a * b;
    default: return a / b;
    }
}

static cg_tensor *binary_op(cg_ctx *ctx, int kind, cg_tensor *a, cg_tensor *b)
{
    switch (kind) {
    case ADD: return cg_add(ctx, a, b);
    case SUB: return cg_sub(ctx, a, b);
    case MUL: return cg_mul(ctx, a, b);
    default: return cg_div(ctx, a, b);
    }
}

static cg_tensor *build_binary(cg_ctx *ctx, cg_tensor *const *x, const gc_args *a)
{
    return binary_op(ctx, a->iarg[0], x[0], x[1]);
}

static void ref_binary(const gc_args *a, const double *const *x, gc_shape *out, double *y)
{
    gc_broadcast(&a->shape[0], &a->shape[1], out);
    if (!y) return;
    for (int64_t i = 0; i < gc_numel(out); i++)
        y[i] = arith(a->iarg[0], x[0][gc_bcast_index(out, &a->shape[0], i)],
                     x[1][gc_bcast_index(out, &a->shape[1], i)]);
}

/* One tensor as both operands: its gradient gets two contributions. */
static cg_tensor *build_self(cg_ctx *ctx, cg_tensor *const *x, const gc_args *a)
{
    return binary_op(ctx, a->iarg[0], x[0], x[0]);
}

static void ref_self(const gc_args *a, const double *const *x, gc_shape *out, double *y)
{
    *out = a->shape[0];
    if (!y) return;
    for (int64_t i = 0; i < gc_numel(out); i++) y[i] = arith(a->iarg[0], x[0][i], x[0][i]);
}

enum { ADD_SCALAR, MUL_SCALAR, NEG, POW };

static cg_tensor *build_scalar(cg_ctx *ctx, cg_tensor *const *x, const gc_args *a)
{
    float s = (float)a->farg[0];
    switch (a->iarg[0]) {
    case ADD_SCALAR: return cg_add_scalar(ctx, x[0], s);
    case MUL_SCALAR: return cg_mul_scalar(ctx, x[0], s);
    case NEG: return cg_neg(ctx, x[0]);
    default: return cg_pow_scalar(ctx, x[0], s);
    }
}

static void ref_scalar(const gc_args *a, const double *const *x, gc_shape *out, double *y)
{
    *out = a->shape[0];
    if (!y) return;
    double s = (float)a->farg[0];
    for (int64_t i = 0; i < gc_numel(out); i++) {
        double v = x[0][i];
        switch (a->iarg[0]) {
        case ADD_SCALAR: y[i] = v + s; break;
        case MUL_SCALAR: y[i] = v * s; break;
        case NEG: y[i] = -v; break;
        default: y[i] = pow(v, s); break;
        }
    }
}

/* ------------------------------------------------------------ reductions */

/* iarg: axis, keepdim, mean */
static cg_tensor *build_reduce(cg_ctx *ctx, cg_tensor *const *x, const gc_args *a)
{
    return a->iarg[2] ? cg_mean(ctx, x[0], a->iarg[0], a->iarg[1])
                      : cg_sum(ctx, x[0], a->iarg[0], a->iarg[1]);
}

static void ref_reduce(const gc_args *a, const double *const *x, gc_shape *out, double *y)
{
    const gc_shape *s = &a->shape[0];
    bool keep = a->iarg[1];
    int64_t outer = 1, len = gc_numel(s), inner = 1;
    out->ndim = 0;
    if (a->iarg[0] == CG_AXIS_ALL) {
        for (int d = 0; keep && d < s->ndim; d++) out->d[out->ndim++] = 1;
    } else {
        int ax = norm_axis(a->iarg[0], s->ndim);
        gc_split(s, ax, &outer, &len, &inner);
        for (int d = 0; d < s->ndim; d++)
            if (d != ax || keep) out->d[out->ndim++] = d == ax ? 1 : s->d[d];
    }
    if (!y) return;
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            double acc = 0;
            for (int64_t k = 0; k < len; k++) acc += x[0][(o * len + k) * inner + i];
            y[o * inner + i] = a->iarg[2] ? acc / (double)len : acc;
        }
    }
}

/* ------------------------------------------------------------ shape ops */

static void ref_copy(const double *const *x, double *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] = x[0][i];
}

static cg_tensor *build_reshape(cg_ctx *ctx, cg_tensor *const *x, const gc_args *a)
{
    return cg_reshape(ctx, x[0], a->target.ndim, a->target.d);
}

static void ref_reshape(const gc_args *a, const double *const *x, gc_shape *out, double *y)
{
    int64_t n = gc_numel(&a->shape[0]), known = 1;
    *out = a->target;
    for (int d = 0; d < out->ndim; d++)
        if (out->d[d] != -1) known *= out->d[d];
    for (int d = 0; d < out->ndim; d++)
        if (out->d[d] == -1) out->d[d] = n / known;
    if (y) ref_copy(x, y, n);
}

static cg_tensor *build_flatten(cg_ctx *ctx, cg_tensor *const *x, const gc_args *a)
{
    (void)a;
    return cg_flatten(ctx, x[0]);
}

static void ref_flatten(const gc_args *a, const double *const *x, gc_shape *out, double *y)
{
    int64_t n = gc_numel(&a->shape[0]);
    *out = (gc_shape){2, {a->shape[0].d[0], n / a->shape[0].d[0]}};
    if (y) ref_copy(x, y, n);
}

static cg_tensor *build_concat(cg_ctx *ctx, cg_tensor *const *x, const gc_args *a)
{
    return cg_concat(ctx, x, a->n_inputs, a->iarg[0]);
}

static void ref_concat(const gc_args *a, const double *const *x, gc_shape *out, double *y)
{
    int ax = norm_axis(a->iarg[0], a->shape[0].ndim);
    *out = a->shape[0];
    for (int i = 1; i < a->n_inputs; i++) out->d[ax] += a->shape[i].d[ax];
    if (!y) return;
    int64_t outer, len, inner;
    gc_split(out, ax, &outer, &len, &inner);
    for (int64_t o = 0; o < outer; o++) {
        int64_t pos = o * len * inner;
        for (int i = 0; i < a->n_inputs; i++) {
            int64_t li = a->shape[i].d[ax] * inner;
            for (int64_t j = 0; j < li; j++) y[pos++] = x[i][o * li + j];
        }
    }
}

/* One tensor concatenated with itself. */
static cg_tensor *build_concat_self(cg_ctx *ctx, cg_tensor *const *x, const gc_args *a)
{
    cg_tensor *xs[3] = {x[0], x[0], x[0]};
    return cg_concat(ctx, xs, 3, a->iarg[0]);
}

static void ref_concat_self(const gc_args *a, const double *const *x, gc_shape *out, double *y)
{
    gc_args three = *a;
    three.n_inputs = 3;
    three.shape[1] = three.shape[2] = a->shape[0];
    const double *xs[3] = {x[0], x[0], x[0]};
    ref_concat(&three, xs, out, y);
}

/* iarg: axis, start, end */
static cg_tensor *build_slice(cg_ctx *ctx, cg_tensor *const *x, const gc_args *a)
{
    return cg_slice(ctx, x[0], a->iarg[0], a->iarg[1], a->iarg[2]);
}

static void ref_slice(const gc_args *a, const double *const *x, gc_shape *out, double *y)
{
    const gc_shape *s = &a->shape[0];
    int ax = norm_axis(a->iarg[0], s->ndim);
    int64_t dim = s->d[ax];
    int64_t start = a->iarg[1] < 0 ? a->iarg[1] + dim : a->iarg[1];
    int64_t end = a->iarg[2] < 0 ? a->iarg[2] + dim : a->iarg[2];
    *out = *s;
    out->d[ax] = end - start;
    if (!y) return;
    int64_t outer, len, inner;
    gc_split(s, ax, &outer, &len, &inner);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t k = start; k < end; k++)
            for (int64_t i = 0; i < inner; i++)
                y[(o * (end - start) + k - start) * inner + i] = x[0][(o * len + k) * inner + i];
}

/* ------------------------------------------------------------ activations */

static double act_ref(cg_activation act, double v, double param)
{
    switch (act) {
    case CG_ACT_NONE: return v;
    case CG_ACT_RELU: return v > 0 ? v : 0;
    case CG_ACT_SIGMOID: return 1 / (1 + exp(-v));
    case CG_ACT_TANH: return tanh(v);
    case CG_ACT_LEAKY_RELU: return v > 0 ? v : param * v;
    case CG_ACT_ELU: return v > 0 ? v : param * (exp(v) - 1);
    case CG_ACT_GELU: return 0.5 * v * (1 + erf(v / sqrt(2.0)));
    case CG_ACT_SOFTPLUS: return v > 20 ? v : log(1 + exp(v));
    }
    return NAN;
}

/* iarg: activation, through cg_activate; farg: slope / alpha */
static cg_tensor *build_act(cg_ctx *ctx, cg_tensor *const *x, const gc_args *a)
{
    cg_activation act = (cg_activation)a->iarg[0];
    float p = (float)a->farg[0];
    if (a->iarg[1]) return cg_activate(ctx, x[0], act);
    switch (act) {
    case CG_ACT_RELU: return cg_relu(ctx, x[0]);
    case CG_ACT_SIGMOID: return cg_sigmoid(ctx, x[0]);
    case CG_ACT_TANH: return cg_tanh(ctx, x[0]);
    case CG_ACT_LEAKY_RELU: return cg_leaky_relu(ctx, x[0], p);
    case CG_ACT_ELU: return cg_elu(ctx, x[0], p);
    case CG_ACT_GELU: return cg_gelu(ctx, x[0]);
    case CG_ACT_SOFTPLUS: return cg_softplus(ctx, x[0]);
    case CG_ACT_NONE: break;
    }
    return NULL;
}

static void ref_act(const gc_args *a, const double *const *x, gc_shape *out, double *y)
{
    *out = a->shape[0];
    if (!y) return;
    double p = (float)a->farg[0];
    for (int64_t i = 0; i < gc_numel(out); i++) y[i] = act_ref((cg_activation)a->iarg[0], x[0][i], p);
}

/* iarg: axis, log form */
static cg_tensor *build_softmax(cg_ctx *ctx, cg_tensor *const *x, const gc_args *a)
{
    return a->iarg[1] ? cg_log_softmax(ctx, x[0], a->iarg[0]) : cg_softmax(ctx, x[0], a->iarg[0]);
}

static void ref_softmax(const gc_args *a, const double *const *x, gc_shape *out, double *y)
{
    *out = a->shape[0];
    if (!y) return;
    int64_t outer, len, inner;
    gc_split(out, norm_axis(a->iarg[0], out->ndim), &outer, &len, &inner);
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            const double *xl = x[0] + o * len * inner + i;
            double *yl = y + o * len * inner + i;
            double m = xl[0], sum = 0;
            for (int64_t k = 1; k < len; k++) m = fmax(m, xl[k * inner]);
            for (int64_t k = 0; k < len; k++) sum += exp(xl[k * inner] - m);
            for (int64_t k = 0; k < len; k++)
                yl[k * inner] = a->iarg[1] ? xl[k * inner] - m - log(sum)
                                           : exp(xl[k * inner] - m) / sum;
        }
    }
}

/* ------------------------------------------------------------ dropout */

static cg_tensor *build_dropout(cg_ctx *ctx, cg_tensor *const *x, const gc_args *a)
{
    cg_ctx_set_training(ctx, true);
    return cg_dropout(ctx, x[0], (float)a->farg[0]);
}

/* The mask is random: taken from which outputs cgrad zeroed (inputs are away
 * from zero), so this checks the survivors' scale and that backward uses the
 * forward's mask. */
static void ref_dropout(const gc_args *a, const double *const *x, gc_shape *out, double *y)
{
    *out = a->shape[0];
    if (!y) return;
    double p = (float)a->farg[0];
    for (int64_t i = 0; i < gc_numel(out); i++)
        y[i] = a->observed[i] != 0.0f ? x[0][i] / (1 - p) : 0;
}

/* ------------------------------------------------------------ batch norm */

/* Running statistics of channel c that evaluation-mode cases normalise by. */
static double bn_running_mean(int64_t c) { return (float)(0.25 * (double)c - 0.3); }
static double bn_running_var(int64_t c) { return (float)(0.5 + 0.3 * (double)c); }

#define BN_WEIGHT 1
#define BN_BIAS 2
#define BN_MAX_C 64

/* iarg: training, BN_WEIGHT | BN_BIAS (the inputs after x, in that order);
 * farg: eps, momentum */
static cg_tensor *build_batch_norm(cg_ctx *ctx, cg_tensor *const *x, const gc_args *a)
{
    int64_t C = x[0]->shape[1];
    float mean[BN_MAX_C], var[BN_MAX_C];
    int64_t tracked = 0;
    assert_true(C <= BN_MAX_C);
    for (int64_t c = 0; c < C; c++) {
        mean[c] = (float)bn_running_mean(c);
        var[c] = (float)bn_running_var(c);
    }
    int k = 1;
    cg_tensor *w = a->iarg[1] & BN_WEIGHT ? x[k++] : NULL;
    cg_tensor *b = a->iarg[1] & BN_BIAS ? x[k++] : NULL;
    return cg_batch_norm(ctx, x[0], w, b, mean, var, &tracked, (float)a->farg[1],
                         (float)a->farg[0], a->iarg[0]);
}

static void ref_batch_norm(const gc_args *a, const double *const *x, gc_shape *out, double *y)
{
    const gc_shape *s = &a->shape[0];
    *out = *s;
    if (!y) return;
    int64_t N = s->d[0], C = s->d[1], S = gc_numel(s) / (N * C), M = N * S;
    int k = 1;
    const double *w = a->iarg[1] & BN_WEIGHT ? x[k++] : NULL;
    const double *b = a->iarg[1] & BN_BIAS ? x[k++] : NULL;
    for (int64_t c = 0; c < C; c++) {
        double mean = 0, var = 0;
        if (a->iarg[0]) {
            for (int64_t n = 0; n < N; n++)
                for (int64_t j = 0; j < S; j++) mean += x[0][(n * C + c) * S + j];
            mean /= (double)M;
            for (int64_t n = 0; n < N; n++)
                for (int64_t j = 0; j < S; j++) {
                    double v = x[0][(n * C + c) * S + j] - mean;
                    var += v * v;
                }
            var /= (double)M;
        } else {
            mean = bn_running_mean(c);
            var = bn_running_var(c);
        }
        double rstd = 1 / sqrt(var + (float)a->farg[0]);
        for (int64_t n = 0; n < N; n++)
            for (int64_t j = 0; j < S; j++) {
                int64_t i = (n * C + c) * S + j;
                y[i] = (x[0][i] - mean) * rstd * (w ? w[c] : 1) + (b ? b[c] : 0);
            }
    }
}

/* ------------------------------------------------------------ layer norm */

/* iarg: normalized_ndim, BN_WEIGHT | BN_BIAS (the inputs after x, in that
 * order); farg: eps */
static cg_tensor *build_layer_norm(cg_ctx *ctx, cg_tensor *const *x, const gc_args *a)
{
    int k = 1;
    cg_tensor *w = a->iarg[1] & BN_WEIGHT ? x[k++] : NULL;
    cg_tensor *b = a->iarg[1] & BN_BIAS ? x[k++] : NULL;
    return cg_layer_norm(ctx, x[0], a->iarg[0], w, b, (float)a->farg[0]);
}

static void ref_layer_norm(const gc_args *a, const double *const *x, gc_shape *out, double *y)
{
    const gc_shape *s = &a->shape[0];
    *out = *s;
    if (!y) return;
    int64_t D = 1;
    for (int i = s->ndim - a->iarg[0]; i < s->ndim; i++) D *= s->d[i];
    int k = 1;
    const double *w = a->iarg[1] & BN_WEIGHT ? x[k++] : NULL;
    const double *b = a->iarg[1] & BN_BIAS ? x[k++] : NULL;
    for (int64_t r = 0; r < gc_numel(s) / D; r++) {
        const double *row = x[0] + r * D;
        double mean = 0, var = 0;
        for (int64_t j = 0; j < D; j++) mean += row[j];
        mean /= (double)D;
        for (int64_t j = 0; j < D; j++) var += (row[j] - mean) * (row[j] - mean);
        var /= (double)D;
        double rstd = 1 / sqrt(var + (float)a->farg[0]);
        for (int64_t j = 0; j < D; j++)
            y[r * D + j] = (row[j] - mean) * rstd * (w ? w[j] : 1) + (b ? b[j] : 0);
    }
}

/* ------------------------------------------------------------ pooling, dropout2d */

/* Pooling cases keep their geometry in .target: {kh, kw, sh, sw, ph, pw}. */
#define POOL(kh, kw, sh, sw, ph, pw) .target = S(kh, kw, sh, sw, ph, pw)

static cg_tensor *build_pool(cg_ctx *ctx, cg_tensor *const *x, const gc_args *a)
{
    const int64_t *g = a->target.d;
    if (a->iarg[0] == 2) return cg_global_avgpool(ctx, x[0]);
    return a->iarg[0] ? cg_avgpool2d(ctx, x[0], g, g + 2, g + 4)
                      : cg_maxpool2d(ctx, x[0], g, g + 2, g + 4);
}

/* iarg: 0 max, 1 average (zero padding counted), 2 global average. Inputs
 * are random, so windows have no ties and the max is differentiable. */
static void ref_pool(const gc_args *a, const double *const *x, gc_shape *out, double *y)
{
    const gc_shape *s = &a->shape[0];
    int64_t N = s->d[0], C = s->d[1], H = s->d[2], W = s->d[3];
    int64_t kh = a->target.d[0], kw = a->target.d[1], sh = a->target.d[2], sw = a->target.d[3];
    int64_t ph = a->target.d[4], pw = a->target.d[5];
    if (a->iarg[0] == 2) {
        *out = (gc_shape){2, {N, C}};
        kh = H, kw = W, sh = sw = 1, ph = pw = 0;
    } else {
        *out = (gc_shape){4, {N, C, (H + 2 * ph - kh) / sh + 1, (W + 2 * pw - kw) / sw + 1}};
    }
    if (!y) return;
    int64_t Ho = a->iarg[0] == 2 ? 1 : out->d[2], Wo = a->iarg[0] == 2 ? 1 : out->d[3];
    for (int64_t p = 0; p < N * C; p++) {
        for (int64_t oh = 0; oh < Ho; oh++) {
            for (int64_t ow = 0; ow < Wo; ow++) {
                double m = -INFINITY, sum = 0;
                for (int64_t i = 0; i < kh; i++) {
                    for (int64_t j = 0; j < kw; j++) {
                        int64_t ih = oh * sh - ph + i, iw = ow * sw - pw + j;
                        if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                        double v = x[0][(p * H + ih) * W + iw];
                        m = fmax(m, v);
                        sum += v;
                    }
                }
                y[(p * Ho + oh) * Wo + ow] = a->iarg[0] ? sum / (double)(kh * kw) : m;
            }
        }
    }
}

static cg_tensor *build_dropout2d(cg_ctx *ctx, cg_tensor *const *x, const gc_args *a)
{
    cg_ctx_set_training(ctx, true);
    return cg_dropout2d(ctx, x[0], (float)a->farg[0]);
}

/* The mask is random: a channel is dropped when cgrad zeroed its first value
 * (inputs are away from zero), and then the reference zeroes all of it, so
 * a channel dropped in part fails the forward check. */
static void ref_dropout2d(const gc_args *a, const double *const *x, gc_shape *out, double *y)
{
    *out = a->shape[0];
    if (!y) return;
    double p = (float)a->farg[0];
    int64_t channels = out->d[0] * out->d[1], inner = gc_numel(out) / channels;
    for (int64_t c = 0; c < channels; c++) {
        bool kept = a->observed[c * inner] != 0.0f;
        for (int64_t i = c * inner; i < (c + 1) * inner; i++) y[i] = kept ? x[0][i] / (1 - p) : 0;
    }
}

/* ------------------------------------------------------------ losses */

enum { MSE, L1, BCE };

static cg_tensor *build_loss(cg_ctx *ctx, cg_tensor *const *x, const gc_args *a)
{
    switch (a->iarg[0]) {
    case MSE: return cg_mse_loss(ctx, x[0], x[1]);
    case L1: return cg_l1_loss(ctx, x[0], x[1]);
    default: return cg_bce_with_logits(ctx, x[0], x[1]);
    }
}

static void ref_loss(const gc_args *a, const double *const *x, gc_shape *out, double *y)
{
    *out = (gc_shape){0, {0}};
    if (!y) return;
    int64_t n = gc_numel(&a->shape[0]);
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        double p = x[0][i], t = x[1][i];
        switch (a->iarg[0]) {
        case MSE: sum += (p - t) * (p - t); break;
        case L1: sum += fabs(p - t); break;
        /* −t·log σ(p) − (1−t)·log(1−σ(p)), with log σ(p) = −log(1+e⁻ᵖ) */
        default: sum += t * log1p(exp(-p)) + (1 - t) * log1p(exp(p)); break;
        }
    }
    y[0] = sum / (double)n;
}

static cg_tensor *build_cross_entropy(cg_ctx *ctx, cg_tensor *const *x, const gc_args *a)
{
    return cg_cross_entropy(ctx, x[0], a->labels);
}

static double ref_ce_rows(const double *x, const int32_t *labels, int64_t N, int64_t C)
{
    double total = 0;
    for (int64_t r = 0; r < N; r++) {
        const double *xr = x + r * C;
        double m = xr[0], sum = 0;
        for (int64_t c = 1; c < C; c++) m = fmax(m, xr[c]);
        for (int64_t c = 0; c < C; c++) sum += exp(xr[c] - m);
        total += m + log(sum) - xr[labels[r]];
    }
    return total / (double)N;
}

static void ref_cross_entropy(const gc_args *a, const double *const *x, gc_shape *out, double *y)
{
    *out = (gc_shape){0, {0}};
    if (y) y[0] = ref_ce_rows(x[0], a->labels, a->shape[0].d[0], a->shape[0].d[1]);
}

/* ------------------------------------------------------------ matmul, linear */

/* Element (r, c) of m or of its transpose. */
static double mat_at(const double *m, const gc_shape *s, bool trans, int64_t r, int64_t c)
{
    return trans ? m[c * s->d[1] + r] : m[r * s->d[1] + c];
}

/* iarg: trans_a, trans_b */
static cg_tensor *build_matmul(cg_ctx *ctx, cg_tensor *const *x, const gc_args *a)
{
    return cg_matmul(ctx, x[0], x[1], a->iarg[0], a->iarg[1]);
}

static void ref_matmul(const gc_args *a, const double *const *x, gc_shape *out, double *y)
{
    const gc_shape *sa = &a->shape[0], *sb = &a->shape[1];
    bool ta = a->iarg[0], tb = a->iarg[1];
    int64_t M = sa->d[ta ? 1 : 0], K = sa->d[ta ? 0 : 1], N = sb->d[tb ? 0 : 1];
    *out = (gc_shape){2, {M, N}};
    if (!y) return;
    for (int64_t m = 0; m < M; m++) {
        for (int64_t n = 0; n < N; n++) {
            double acc = 0;
            for (int64_t k = 0; k < K; k++)
                acc += mat_at(x[0], sa, ta, m, k) * mat_at(x[1], sb, tb, k, n);
            y[m * N + n] = acc;
        }
    }
}

/* x·xᵀ: both operands are the same tensor. */
static cg_tensor *build_gram(cg_ctx *ctx, cg_tensor *const *x, const gc_args *a)
{
    (void)a;
    return cg_matmul(ctx, x[0], x[0], false, true);
}

static void ref_gram(const gc_args *a, const double *const *x, gc_shape *out, double *y)
{
    gc_args two = *a;
    two.shape[1] = a->shape[0];
    two.iarg[0] = 0;
    two.iarg[1] = 1;
    const double *xs[2] = {x[0], x[0]};
    ref_matmul(&two, xs, out, y);
}

/* iarg: activation; a third input is the bias */
static cg_tensor *build_linear(cg_ctx *ctx, cg_tensor *const *x, const gc_args *a)
{
    return cg_linear(ctx, x[0], x[1], a->n_inputs > 2 ? x[2] : NULL, (cg_activation)a->iarg[0]);
}

static void ref_linear_into(const gc_args *a, const double *const *x, double *y, bool apply)
{
    int64_t N = a->shape[0].d[0], in = a->shape[0].d[1], out = a->shape[1].d[0];
    for (int64_t n = 0; n < N; n++) {
        for (int64_t o = 0; o < out; o++) {
            double z = a->n_inputs > 2 ? x[2][o] : 0;
            for (int64_t k = 0; k < in; k++) z += x[0][n * in + k] * x[1][o * in + k];
            y[n * out + o] = apply ? act_ref((cg_activation)a->iarg[0], z, 0) : z;
        }
    }
}

static void ref_linear(const gc_args *a, const double *const *x, gc_shape *out, double *y)
{
    *out = (gc_shape){2, {a->shape[0].d[0], a->shape[1].d[0]}};
    if (!y) return;
    ref_linear_into(a, x, y, false);
    cg_activation act = (cg_activation)a->iarg[0];
    double param = act == CG_ACT_LEAKY_RELU ? 0.01 : 1.0;
    for (int64_t i = 0; i < gc_numel(out); i++) y[i] = act_ref(act, y[i], param);
}

/* ------------------------------------------------------------ conv2d */

/* Settings of the conv2d cases, by iarg[0]; iarg[1] is the fused activation.
 * Inputs: x [N, C, H, W], weight [O, C/groups, kh, kw], bias [O] if a third. */
static const cg_conv2d_params conv_params[] = {
    {.groups = 0},                                              /* 0: valid, stride 1 */
    {.padding = {1, 1}},                                        /* 1 */
    {.stride = {2, 2}, .padding = {1, 0}},                      /* 2 */
    {.dilation = {2, 2}, .padding = {2, 1}},                    /* 3 */
    {.groups = 2, .padding = {1, 1}},                           /* 4 */
    {.groups = 3, .padding = {1, 1}},                           /* 5: depthwise with C = 3 */
    {.padding_same = true, .dilation = {1, 2}},                 /* 6: odd total padding */
    {.stride = {1, 2}, .dilation = {2, 1}, .padding = {0, 2}},  /* 7 */
    {.stride = {2, 2}},                                         /* 8 */
    {.groups = 8, .padding = {1, 1}},                           /* 9: depthwise with C = 8 */
    {.padding = {0, 2}},                                        /* 10 */
};

static cg_tensor *build_conv2d(cg_ctx *ctx, cg_tensor *const *x, const gc_args *a)
{
    cg_conv2d_params p = conv_params[a->iarg[0]];
    p.activation = (cg_activation)a->iarg[1];
    return cg_conv2d(ctx, x[0], x[1], a->n_inputs > 2 ? x[2] : NULL, &p);
}

/* Straight from the definition: y[n,o,oh,ow] = b[o] + Σ_{c,i,j} w[o,c,i,j]·
 * x[n, g·Cg + c, oh·sh − pt + i·dh, ow·sw − pl + j·dw], 0 outside x. */
static void ref_conv2d(const gc_args *a, const double *const *x, gc_shape *out, double *y)
{
    const cg_conv2d_params *p = &conv_params[a->iarg[0]];
    const int64_t *xs = a->shape[0].d, *ws = a->shape[1].d;
    int64_t N = xs[0], C = xs[1], H = xs[2], W = xs[3], O = ws[0], Cg = ws[1], kh = ws[2],
            kw = ws[3];
    int64_t G = p->groups ? p->groups : 1, sh = p->stride[0] ? p->stride[0] : 1,
            sw = p->stride[1] ? p->stride[1] : 1, dh = p->dilation[0] ? p->dilation[0] : 1,
            dw = p->dilation[1] ? p->dilation[1] : 1;
    int64_t pt = p->padding[0], pb = pt, pl = p->padding[1], pr = pl;
    if (p->padding_same) {
        pt = dh * (kh - 1) / 2, pb = dh * (kh - 1) - pt;
        pl = dw * (kw - 1) / 2, pr = dw * (kw - 1) - pl;
    }
    int64_t OH = (H + pt + pb - dh * (kh - 1) - 1) / sh + 1;
    int64_t OW = (W + pl + pr - dw * (kw - 1) - 1) / sw + 1;
    *out = (gc_shape){4, {N, O, OH, OW}};
    if (!y) return;
    cg_activation act = (cg_activation)a->iarg[1];
    double param = act == CG_ACT_LEAKY_RELU ? 0.01 : 1.0;
    for (int64_t n = 0; n < N; n++)
        for (int64_t o = 0; o < O; o++)
            for (int64_t oh = 0; oh < OH; oh++)
                for (int64_t ow = 0; ow < OW; ow++) {
                    double s = a->n_inputs > 2 ? x[2][o] : 0;
                    int64_t g = o / (O / G);
                    for (int64_t c = 0; c < Cg; c++)
                        for (int64_t i = 0; i < kh; i++)
                            for (int64_t j = 0; j < kw; j++) {
                                int64_t ih = oh * sh - pt + i * dh, iw = ow * sw - pl + j * dw;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                                s += x[1][((o * Cg + c) * kh + i) * kw + j] *
                                     x[0][((n * C + g * Cg + c) * H + ih) * W + iw];
                            }
                    y[((n * O + o) * OH + oh) * OW + ow] = act_ref(act, s, param);
                }
}

/* The conv2d layer's step when a maxpool2d follows it (ops/conv.c): both in
 * one pass per sample, recorded as one op. */
cg_tensor *cg__conv2d_maxpool(cg_ctx *ctx, cg_tensor *x, cg_tensor *weight, cg_tensor *bias,
                              const cg_conv2d_params *params, const int64_t kernel[2],
                              const int64_t stride[2], const int64_t padding[2]);

/* iarg as conv2d's (ReLU or no activation), the pooling in .target as POOL. */
static cg_tensor *build_conv2d_maxpool(cg_ctx *ctx, cg_tensor *const *x, const gc_args *a)
{
    cg_conv2d_params p = conv_params[a->iarg[0]];
    p.activation = (cg_activation)a->iarg[1];
    const int64_t *g = a->target.d;
    return cg__conv2d_maxpool(ctx, x[0], x[1], a->n_inputs > 2 ? x[2] : NULL, &p, g, g + 2, g + 4);
}

/* ref_pool (max) of ref_conv2d. */
static void ref_conv2d_maxpool(const gc_args *a, const double *const *x, gc_shape *out, double *y)
{
    gc_args pool = *a;
    ref_conv2d(a, x, &pool.shape[0], NULL);
    pool.n_inputs = 1;
    pool.iarg[0] = 0;
    if (!y) {
        ref_pool(&pool, NULL, out, NULL);
        return;
    }
    double *conv = malloc((size_t)gc_numel(&pool.shape[0]) * sizeof *conv);
    assert_non_null(conv);
    ref_conv2d(a, x, &pool.shape[0], conv);
    const double *in[1] = {conv};
    ref_pool(&pool, in, out, y);
    free(conv);
}

/* ------------------------------------------------------------ compositions */

/* h = tanh(x·wᵀ + b); z = h / (1 + Σ_row h²); out = log_softmax(z). h feeds
 * two ops, so its gradient is accumulated inside the graph. */
static cg_tensor *build_chain_mlp(cg_ctx *ctx, cg_tensor *const *x, const gc_args *a)
{
    (void)a;
    cg_tensor *h = cg_tanh(ctx, cg_add(ctx, cg_matmul(ctx, x[0], x[1], false, true), x[2]));
    cg_tensor *s = cg_sum(ctx, cg_pow_scalar(ctx, h, 2.0f), 1, true);
    cg_tensor *z = cg_div(ctx, h, cg_add_scalar(ctx, s, 1.0f));
    return cg_log_softmax(ctx, z, 1);
}

static void ref_chain_mlp(const gc_args *a, const double *const *x, gc_shape *out, double *y)
{
    int64_t N = a->shape[0].d[0], H = a->shape[1].d[0];
    *out = (gc_shape){2, {N, H}};
    if (!y) return;
    gc_args lin = *a;
    lin.iarg[0] = CG_ACT_TANH;
    ref_linear(&lin, x, out, y);
    for (int64_t n = 0; n < N; n++) {
        double *row = y + n * H, ss = 0, m = -INFINITY, sum = 0;
        for (int64_t j = 0; j < H; j++) ss += row[j] * row[j];
        for (int64_t j = 0; j < H; j++) row[j] /= 1 + ss;
        for (int64_t j = 0; j < H; j++) m = fmax(m, row[j]);
        for (int64_t j = 0; j < H; j++) sum += exp(row[j] - m);
        for (int64_t j = 0; j < H; j++) row[j] -= m + log(sum);
    }
}

/* x [2,3,4] viewed as r [6,4]; out[q] = mean_p c[p,q]² + Σ r[:, :2], with
 * c = concat(r[1:5], r[1:5]) along columns. */
static cg_tensor *build_chain_shape(cg_ctx *ctx, cg_tensor *const *x, const gc_args *a)
{
    (void)a;
    cg_tensor *r = cg_reshape(ctx, x[0], 2, (int64_t[]){6, -1});
    cg_tensor *rows = cg_slice(ctx, r, 0, 1, 5);
    cg_tensor *cols = cg_slice(ctx, r, 1, 0, 2);
    cg_tensor *c = cg_concat(ctx, (cg_tensor *[]){rows, rows}, 2, 1);
    cg_tensor *m = cg_mean(ctx, cg_mul(ctx, c, c), 0, false);
    return cg_add(ctx, m, cg_sum(ctx, cg_flatten(ctx, cols), CG_AXIS_ALL, false));
}

static void ref_chain_shape(const gc_args *a, const double *const *x, gc_shape *out, double *y)
{
    (void)a;
    *out = (gc_shape){1, {8}};
    if (!y) return;
    double total = 0;
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 2; j++) total += x[0][i * 4 + j];
    for (int q = 0; q < 8; q++) {
        double m = 0;
        for (int p = 0; p < 4; p++) m += x[0][(p + 1) * 4 + q % 4] * x[0][(p + 1) * 4 + q % 4];
        y[q] = m / 4 + total;
    }
}

/* cross_entropy(elu(relu(x·wᵀ + b))) with C = in_features. */
static cg_tensor *build_chain_loss(cg_ctx *ctx, cg_tensor *const *x, const gc_args *a)
{
    return cg_cross_entropy(ctx, cg_elu(ctx, cg_linear(ctx, x[0], x[1], x[2], CG_ACT_RELU), 1.0f),
                            a->labels);
}

static void ref_chain_loss(const gc_args *a, const double *const *x, gc_shape *out, double *y)
{
    int64_t N = a->shape[0].d[0], C = a->shape[1].d[0];
    *out = (gc_shape){0, {0}};
    if (!y) return;
    double *z = malloc((size_t)(N * C) * sizeof *z);
    if (!z) return;
    gc_args lin = *a;
    lin.iarg[0] = CG_ACT_RELU;
    ref_linear_into(&lin, x, z, true);
    for (int64_t i = 0; i < N * C; i++) z[i] = act_ref(CG_ACT_ELU, z[i], 1.0);
    y[0] = ref_ce_rows(z, a->labels, N, C);
    free(z);
}

/* ------------------------------------------------------------ the table */

#define BIG_ROWS 256
#define BIG_COLS 160

/* ------------------------------------------------------------ embedding, recurrent */

/* Embedding cases draw ids as GC_UNIT fractions of input 0: id = ⌊u·V⌋. */
static int64_t id_of(double u, int64_t V)
{
    int64_t id = (int64_t)((float)u * (float)V);
    return id < V ? id : V - 1;
}

static cg_tensor *build_embedding(cg_ctx *ctx, cg_tensor *const *x, const gc_args *a)
{
    (void)a;
    int64_t V = x[1]->shape[0];
    cg_tensor *ids = cg_tensor_new(ctx, x[0]->ndim, x[0]->shape);
    for (int64_t i = 0; i < ids->size; i++) ids->data[i] = (float)id_of(x[0]->data[i], V);
    return cg_embedding(ctx, ids, x[1]);
}

static void ref_embedding(const gc_args *a, const double *const *x, gc_shape *out, double *y)
{
    *out = a->shape[0];
    int64_t V = a->shape[1].d[0], D = a->shape[1].d[1];
    out->d[out->ndim++] = D;
    if (!y) return;
    for (int64_t i = 0; i < gc_numel(&a->shape[0]); i++)
        for (int64_t j = 0; j < D; j++) y[i * D + j] = x[1][id_of(x[0][i], V) * D + j];
}

/* Recurrent cases: iarg = cell, reverse, bias, with a fixed initial state. */
enum { RC_CELL, RC_REVERSE, RC_BIAS, RC_INIT };

static double initial_state(int64_t i, int which) { return 0.3 * sin(0.7 * (double)i + which); }

static cg_tensor *build_recurrent(cg_ctx *ctx, cg_tensor *const *x, const gc_args *a)
{
    float h0[64], c0[64];
    for (int i = 0; i < 64; i++) h0[i] = (float)initial_state(i, 0), c0[i] = (float)initial_state(i, 1);
    cg_rnn_carry carry = {.h0 = h0, .c0 = c0};
    bool bias = a->iarg[RC_BIAS];
    return cg_recurrent(ctx, (cg_rnn_cell)a->iarg[RC_CELL], x[0], x[1], x[2], bias ? x[3] : NULL,
                        bias ? x[4] : NULL, a->iarg[RC_REVERSE], a->iarg[RC_INIT] ? &carry : NULL);
}

static double sigmoid_d(double v) { return 1 / (1 + exp(-v)); }

/* The gate pre-activations of one step: W_ih x_t + b_ih and W_hh h + b_hh. */
static void gate_inputs(const gc_args *a, const double *const *x, int64_t n, int64_t t,
                        const double *h, double *gi, double *gh)
{
    int64_t T = a->shape[0].d[1], F = a->shape[0].d[2], H = a->shape[2].d[1];
    int64_t GH = a->shape[2].d[0];
    for (int64_t r = 0; r < GH; r++) {
        gi[r] = a->iarg[RC_BIAS] ? x[3][r] : 0;
        gh[r] = a->iarg[RC_BIAS] ? x[4][r] : 0;
        for (int64_t k = 0; k < F; k++) gi[r] += x[1][r * F + k] * x[0][(n * T + t) * F + k];
        for (int64_t k = 0; k < H; k++) gh[r] += x[2][r * H + k] * h[k];
    }
}

static void ref_cell(int cell, int64_t H, const double *gi, const double *gh, double *h, double *c)
{
    for (int64_t j = 0; j < H; j++) {
        if (cell == CG_CELL_RNN_TANH) h[j] = tanh(gi[j] + gh[j]);
        if (cell == CG_CELL_RNN_RELU) h[j] = fmax(gi[j] + gh[j], 0);
        if (cell == CG_CELL_LSTM) {
            double i = sigmoid_d(gi[j] + gh[j]), f = sigmoid_d(gi[H + j] + gh[H + j]);
            double g = tanh(gi[2 * H + j] + gh[2 * H + j]), o = sigmoid_d(gi[3 * H + j] + gh[3 * H + j]);
            c[j] = f * c[j] + i * g;
            h[j] = o * tanh(c[j]);
        }
        if (cell == CG_CELL_GRU) {
            double r = sigmoid_d(gi[j] + gh[j]), z = sigmoid_d(gi[H + j] + gh[H + j]);
            double nn = tanh(gi[2 * H + j] + r * gh[2 * H + j]);
            h[j] = (1 - z) * nn + z * h[j];
        }
    }
}

static void ref_recurrent(const gc_args *a, const double *const *x, gc_shape *out, double *y)
{
    int64_t N = a->shape[0].d[0], T = a->shape[0].d[1], H = a->shape[2].d[1];
    *out = (gc_shape){3, {N, T, H}};
    if (!y) return;
    for (int64_t n = 0; n < N; n++) {
        double h[16], c[16], gi[64], gh[64];
        for (int64_t j = 0; j < H; j++) {
            h[j] = a->iarg[RC_INIT] ? (float)initial_state(n * H + j, 0) : 0;
            c[j] = a->iarg[RC_INIT] ? (float)initial_state(n * H + j, 1) : 0;
        }
        for (int64_t k = 0; k < T; k++) {
            int64_t t = a->iarg[RC_REVERSE] ? T - 1 - k : k;
            gate_inputs(a, x, n, t, h, gi, gh);
            ref_cell(a->iarg[RC_CELL], H, gi, gh, h, c);
            for (int64_t j = 0; j < H; j++) y[(n * T + t) * H + j] = h[j];
        }
    }
}

/* ------------------------------------------------------------ attention */

/* iarg = heads, causal, tile, key mask; input 1 (when masked) holds GC_UNIT
 * draws, a key is padded where its draw is above 0.7. */
enum { AT_HEADS, AT_CAUSAL, AT_TILE, AT_MASK };

static cg_tensor *build_attention(cg_ctx *ctx, cg_tensor *const *x, const gc_args *a)
{
    cg_tensor *mask = NULL;
    if (a->iarg[AT_MASK]) {
        mask = cg_tensor_new(ctx, 2, x[1]->shape);
        for (int64_t i = 0; i < mask->size; i++) mask->data[i] = x[1]->data[i] > 0.7f;
    }
    cg_attention_opts o = {.heads = a->iarg[AT_HEADS], .causal = a->iarg[AT_CAUSAL],
                           .tile = a->iarg[AT_TILE]};
    return cg_attention(ctx, x[0], mask, &o);
}

static void ref_attention(const gc_args *a, const double *const *x, gc_shape *out, double *y)
{
    int64_t N = a->shape[0].d[0], T = a->shape[0].d[1], D = a->shape[0].d[2] / 3;
    int64_t H = a->iarg[AT_HEADS], dh = D / H;
    *out = (gc_shape){3, {N, T, D}};
    if (!y) return;
    double w[64];
    for (int64_t n = 0; n < N; n++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t i = 0; i < T; i++) {
                const double *q = x[0] + (n * T + i) * 3 * D + h * dh;
                double m = -INFINITY, sum = 0;
                for (int64_t j = 0; j < T; j++) {
                    bool off = (a->iarg[AT_CAUSAL] && j > i) ||
                               (a->iarg[AT_MASK] && (float)x[1][n * T + j] > 0.7f);
                    double s = 0;
                    for (int64_t c = 0; c < dh; c++) s += q[c] * x[0][(n * T + j) * 3 * D + D + h * dh + c];
                    w[j] = off ? -INFINITY : s / sqrt((double)dh);
                    m = fmax(m, w[j]);
                }
                for (int64_t j = 0; j < T; j++) sum += w[j] = m == -INFINITY ? 0 : exp(w[j] - m);
                for (int64_t c = 0; c < dh; c++) {
                    double o = 0;
                    for (int64_t j = 0; j < T; j++)
                        o += w[j] * x[0][(n * T + j) * 3 * D + 2 * D + h * dh + c];
                    y[(n * T + i) * D + h * dh + c] = sum > 0 ? o / sum : 0;
                }
            }
}

static const gc_case cases[] = {
    /* add, sub, mul, div: equal shapes, rows, scalars, any broadcast */
    {"add same shape", "add", build_binary, ref_binary, IN2(S(D1, D2), GC_ANY, S(D1, D2), GC_ANY), .iarg = {ADD}},
    {"add [N,C]+[C]", "add", build_binary, ref_binary, IN2(S(D1, D2), GC_ANY, S(D2), GC_ANY), .iarg = {ADD}},
    {"add [3,1,4]+[2,4]", "add", build_binary, ref_binary, IN2(S(3, 1, 4), GC_ANY, S(2, 4), GC_ANY), .iarg = {ADD}},
    {"add rank0+[D]", "add", build_binary, ref_binary, IN2(S0, GC_ANY, S(D1, D2), GC_ANY), .iarg = {ADD}},
    {"add rank0+rank0", "add", build_binary, ref_binary, IN2(S0, GC_ANY, S0, GC_ANY), .iarg = {ADD}},
    {"add [D1,1]+[1,D2]", "add", build_binary, ref_binary, IN2(S(D1, 1), GC_ANY, S(1, D2), GC_ANY), .iarg = {ADD}},
    {"add x+x", "add", build_self, ref_self, IN1(S(D1, D2), GC_ANY), .iarg = {ADD}},
    {"sub [C]-[N,C]", "sub", build_binary, ref_binary, IN2(S(D2), GC_ANY, S(D1, D2), GC_ANY), .iarg = {SUB}},
    {"sub [2,3,4]-[3,1]", "sub", build_binary, ref_binary, IN2(S(2, 3, 4), GC_ANY, S(3, 1), GC_ANY), .iarg = {SUB}},
    {"sub x-x", "sub", build_self, ref_self, IN1(S(D1), GC_ANY), .iarg = {SUB}},
    {"mul same shape", "mul", build_binary, ref_binary, IN2(S(D1, D2, D3), GC_ANY, S(D1, D2, D3), GC_ANY), .iarg = {MUL}},
    {"mul [5]*[2,3,5]", "mul", build_binary, ref_binary, IN2(S(5), GC_ANY, S(2, 3, 5), GC_ANY), .iarg = {MUL}},
    {"mul [D1,1,D3]*[D2,1]", "mul", build_binary, ref_binary, IN2(S(D1, 1, D3), GC_ANY, S(D2, 1), GC_ANY), .iarg = {MUL}},
    {"mul [N,C]*rank0", "mul", build_binary, ref_binary, IN2(S(D1, D2), GC_ANY, S0, GC_ANY), .iarg = {MUL}},
    {"mul b constant", "mul", build_binary, ref_binary, IN2(S(D1, D2), GC_ANY, S(D2), GC_ANY), .no_grad = 2, .iarg = {MUL}},
    {"mul x*x", "mul", build_self, ref_self, IN1(S(D1, D2), GC_ANY), .iarg = {MUL}},
    {"div same shape", "div", build_binary, ref_binary, IN2(S(D1, D2), GC_ANY, S(D1, D2), GC_AWAY_FROM_ZERO), .iarg = {DIV}},
    {"div [N,C]/[C]", "div", build_binary, ref_binary, IN2(S(D1, D2), GC_ANY, S(D2), GC_AWAY_FROM_ZERO), .iarg = {DIV}},
    {"div [C]/[N,C]", "div", build_binary, ref_binary, IN2(S(D2), GC_ANY, S(D1, D2), GC_AWAY_FROM_ZERO), .iarg = {DIV}},
    {"div [2,1,3]/[4,1]", "div", build_binary, ref_binary, IN2(S(2, 1, 3), GC_ANY, S(4, 1), GC_AWAY_FROM_ZERO), .iarg = {DIV}},
    {"div rank0/[N,C]", "div", build_binary, ref_binary, IN2(S0, GC_ANY, S(D1, D2), GC_AWAY_FROM_ZERO), .iarg = {DIV}},
    {"div [N,C]/rank0", "div", build_binary, ref_binary, IN2(S(D1, D2), GC_ANY, S0, GC_AWAY_FROM_ZERO), .iarg = {DIV}},
    {"div a constant", "div", build_binary, ref_binary, IN2(S(D1, D2), GC_ANY, S(D2), GC_AWAY_FROM_ZERO), .no_grad = 1, .iarg = {DIV}},
    {"div x/x", "div", build_self, ref_self, IN1(S(D1, D2), GC_AWAY_FROM_ZERO), .iarg = {DIV}},
    /* scalar ops */
    {"add_scalar", "add_scalar", build_scalar, ref_scalar, IN1(S(D1, D2), GC_ANY), .iarg = {ADD_SCALAR}, .farg = {1.5}},
    {"mul_scalar", "mul_scalar", build_scalar, ref_scalar, IN1(S(D1, D2, D3), GC_ANY), .iarg = {MUL_SCALAR}, .farg = {-2.5}},
    {"neg", "neg", build_scalar, ref_scalar, IN1(S(D1), GC_ANY), .iarg = {NEG}},
    {"neg rank0", "neg", build_scalar, ref_scalar, IN1(S0, GC_ANY), .iarg = {NEG}},
    {"pow 2", "pow_scalar", build_scalar, ref_scalar, IN1(S(D1, D2), GC_ANY), .iarg = {POW}, .farg = {2}},
    {"pow 3", "pow_scalar", build_scalar, ref_scalar, IN1(S(D1, D2), GC_AWAY_FROM_ZERO), .iarg = {POW}, .farg = {3}},
    {"pow 0.5", "pow_scalar", build_scalar, ref_scalar, IN1(S(D1, D2), GC_POSITIVE), .iarg = {POW}, .farg = {0.5}},
    {"pow -1.5", "pow_scalar", build_scalar, ref_scalar, IN1(S(D1, D2), GC_POSITIVE), .iarg = {POW}, .farg = {-1.5}},
    {"pow 0", "pow_scalar", build_scalar, ref_scalar, IN1(S(D1), GC_ANY), .iarg = {POW}, .farg = {0}},
    /* reductions: iarg = axis, keepdim, mean */
    {"sum axis 0", "sum", build_reduce, ref_reduce, IN1(S(D1, D2, D3), GC_ANY), .iarg = {0, 0, 0}},
    {"sum axis 1 keepdim", "sum", build_reduce, ref_reduce, IN1(S(D1, D2, D3), GC_ANY), .iarg = {1, 1, 0}},
    {"sum axis -1", "sum", build_reduce, ref_reduce, IN1(S(D1, D2), GC_ANY), .iarg = {-1, 0, 0}},
    {"sum all", "sum", build_reduce, ref_reduce, IN1(S(D1, D2, D3), GC_ANY), .iarg = {CG_AXIS_ALL, 0, 0}},
    {"sum all keepdim", "sum", build_reduce, ref_reduce, IN1(S(D1, D2), GC_ANY), .iarg = {CG_AXIS_ALL, 1, 0}},
    {"sum rank0", "sum", build_reduce, ref_reduce, IN1(S0, GC_ANY), .iarg = {CG_AXIS_ALL, 0, 0}},
    {"mean axis -2", "mean", build_reduce, ref_reduce, IN1(S(D1, D2, D3), GC_ANY), .iarg = {-2, 0, 1}},
    {"mean axis 0 keepdim", "mean", build_reduce, ref_reduce, IN1(S(D1, D2), GC_ANY), .iarg = {0, 1, 1}},
    {"mean all", "mean", build_reduce, ref_reduce, IN1(S(D1, D2, D3, D4), GC_ANY), .iarg = {CG_AXIS_ALL, 0, 1}},
    /* shape ops */
    {"reshape [2,3,4]->[4,-1]", "reshape", build_reshape, ref_reshape, IN1(S(2, 3, 4), GC_ANY), .target = S(4, -1)},
    {"reshape [6]->[1,2,3]", "reshape", build_reshape, ref_reshape, IN1(S(6), GC_ANY), .target = S(1, 2, 3)},
    {"reshape [1,1]->rank0", "reshape", build_reshape, ref_reshape, IN1(S(1, 1), GC_ANY), .target = S0},
    {"flatten [N,a,b]", "reshape", build_flatten, ref_flatten, IN1(S(D1, D2, D3), GC_ANY)},
    {"flatten [N]", "reshape", build_flatten, ref_flatten, IN1(S(D1), GC_ANY)},
    {"concat axis 0", "concat", build_concat, ref_concat, IN2(S(D1, D3), GC_ANY, S(D2, D3), GC_ANY), .iarg = {0}},
    {"concat axis -1 of 3", "concat", build_concat, ref_concat, IN3(S(D1, D2), GC_ANY, S(D1, D3), GC_ANY, S(D1, 1), GC_ANY), .iarg = {-1}},
    {"concat axis 1 of 4", "concat", build_concat, ref_concat, .n_inputs = 4, .shape = {S(2, 1, 3), S(2, 2, 3), S(2, 3, 3), S(2, 1, 3)}, .iarg = {1}},
    {"concat x,x,x", "concat", build_concat_self, ref_concat_self, IN1(S(D1, D2), GC_ANY), .iarg = {1}},
    {"slice axis 0", "slice", build_slice, ref_slice, IN1(S(5, D1), GC_ANY), .iarg = {0, 1, 4}},
    {"slice axis 1 middle", "slice", build_slice, ref_slice, IN1(S(D1, 6, D2), GC_ANY), .iarg = {1, 2, 5}},
    {"slice axis -1 negative", "slice", build_slice, ref_slice, IN1(S(D1, 7), GC_ANY), .iarg = {-1, -5, -1}},
    /* activations: iarg = activation, through cg_activate; farg = slope / alpha */
    {"sigmoid", "sigmoid", build_act, ref_act, IN1(S(D1, D2), GC_ANY), .iarg = {CG_ACT_SIGMOID}},
    {"sigmoid wide", "sigmoid", build_act, ref_act, IN1(S(D1, D2), GC_WIDE), .iarg = {CG_ACT_SIGMOID}},
    {"tanh", "tanh", build_act, ref_act, IN1(S(D1, D2), GC_ANY), .iarg = {CG_ACT_TANH}},
    {"relu", "relu", build_act, ref_act, IN1(S(D1, D2), GC_AWAY_FROM_ZERO), .iarg = {CG_ACT_RELU}},
    {"leaky_relu 0.1", "leaky_relu", build_act, ref_act, IN1(S(D1, D2), GC_AWAY_FROM_ZERO), .iarg = {CG_ACT_LEAKY_RELU}, .farg = {0.1}},
    {"leaky_relu -0.5", "leaky_relu", build_act, ref_act, IN1(S(D1, D2), GC_AWAY_FROM_ZERO), .iarg = {CG_ACT_LEAKY_RELU}, .farg = {-0.5}},
    {"leaky_relu 2", "leaky_relu", build_act, ref_act, IN1(S(D1, D2), GC_AWAY_FROM_ZERO), .iarg = {CG_ACT_LEAKY_RELU}, .farg = {2}},
    {"elu 1", "elu", build_act, ref_act, IN1(S(D1, D2), GC_AWAY_FROM_ZERO), .iarg = {CG_ACT_ELU}, .farg = {1}},
    {"elu 0.5", "elu", build_act, ref_act, IN1(S(D1, D2), GC_AWAY_FROM_ZERO), .iarg = {CG_ACT_ELU}, .farg = {0.5}},
    {"elu -0.5", "elu", build_act, ref_act, IN1(S(D1, D2), GC_AWAY_FROM_ZERO), .iarg = {CG_ACT_ELU}, .farg = {-0.5}},
    {"gelu", "gelu", build_act, ref_act, IN1(S(D1, D2), GC_ANY), .iarg = {CG_ACT_GELU}},
    {"gelu wide", "gelu", build_act, ref_act, IN1(S(D1, D2), GC_WIDE), .iarg = {CG_ACT_GELU}},
    {"softplus", "softplus", build_act, ref_act, IN1(S(D1, D2), GC_ANY), .iarg = {CG_ACT_SOFTPLUS}},
    {"softplus wide", "softplus", build_act, ref_act, IN1(S(D1, D2), GC_WIDE), .iarg = {CG_ACT_SOFTPLUS}},
    {"activate relu", "relu", build_act, ref_act, IN1(S(D1, D2), GC_AWAY_FROM_ZERO), .iarg = {CG_ACT_RELU, 1}},
    {"activate leaky_relu", "leaky_relu", build_act, ref_act, IN1(S(D1), GC_AWAY_FROM_ZERO), .iarg = {CG_ACT_LEAKY_RELU, 1}, .farg = {0.01}},
    {"activate elu", "elu", build_act, ref_act, IN1(S(D1), GC_AWAY_FROM_ZERO), .iarg = {CG_ACT_ELU, 1}, .farg = {1}},
    {"activate gelu", "gelu", build_act, ref_act, IN1(S(D1), GC_ANY), .iarg = {CG_ACT_GELU, 1}},
    {"activate sigmoid", "sigmoid", build_act, ref_act, IN1(S(D1), GC_ANY), .iarg = {CG_ACT_SIGMOID, 1}},
    {"activate tanh", "tanh", build_act, ref_act, IN1(S(D1), GC_ANY), .iarg = {CG_ACT_TANH, 1}},
    {"activate softplus", "softplus", build_act, ref_act, IN1(S(D1), GC_ANY), .iarg = {CG_ACT_SOFTPLUS, 1}},
    /* softmax: iarg = axis, log form */
    {"softmax last axis", "softmax", build_softmax, ref_softmax, IN1(S(D1, D2), GC_ANY), .iarg = {-1, 0}},
    {"softmax axis 0", "softmax", build_softmax, ref_softmax, IN1(S(D1, D2, D3), GC_ANY), .iarg = {0, 0}},
    {"softmax axis 1 wide", "softmax", build_softmax, ref_softmax, IN1(S(D1, 4, D2), GC_WIDE), .iarg = {1, 0}},
    {"log_softmax last axis", "log_softmax", build_softmax, ref_softmax, IN1(S(D1, D2), GC_ANY), .iarg = {-1, 1}},
    {"log_softmax axis 1", "log_softmax", build_softmax, ref_softmax, IN1(S(D1, D2, D3), GC_ANY), .iarg = {1, 1}},
    {"log_softmax wide", "log_softmax", build_softmax, ref_softmax, IN1(S(D1, 6), GC_WIDE), .iarg = {-1, 1}},
    /* dropout: farg = p */
    {"dropout 0.5", "dropout", build_dropout, ref_dropout, IN1(S(6, 8), GC_AWAY_FROM_ZERO), .farg = {0.5}},
    {"dropout 0.1", "dropout", build_dropout, ref_dropout, IN1(S(D1, D2), GC_AWAY_FROM_ZERO), .farg = {0.1}},
    /* batch_norm: iarg = training, BN_WEIGHT | BN_BIAS; farg = eps, momentum */
    {"batch_norm train [N,C]", "batch_norm", build_batch_norm, ref_batch_norm, IN3(S(4, D2), GC_ANY, S(D2), GC_ANY, S(D2), GC_ANY), .iarg = {1, BN_WEIGHT | BN_BIAS}, .farg = {1e-5, 0.1}},
    {"batch_norm train [2,C] no affine", "batch_norm", build_batch_norm, ref_batch_norm, IN1(S(2, D2), GC_ANY), .iarg = {1, 0}, .farg = {1e-5, 0.1}},
    {"batch_norm train [N,C,H,W]", "batch_norm", build_batch_norm, ref_batch_norm, IN3(S(D1, D2, 3, D3), GC_ANY, S(D2), GC_ANY, S(D2), GC_ANY), .iarg = {1, BN_WEIGHT | BN_BIAS}, .farg = {1e-5, 0.1}},
    {"batch_norm train [N,C,H,W] no affine", "batch_norm", build_batch_norm, ref_batch_norm, IN1(S(D1, D2, 2, D3), GC_ANY), .iarg = {1, 0}, .farg = {1e-3, 0.5}},
    {"batch_norm train [N,C,L] weight only", "batch_norm", build_batch_norm, ref_batch_norm, IN2(S(3, D2, D3), GC_ANY, S(D2), GC_ANY), .iarg = {1, BN_WEIGHT}, .farg = {1e-5, 0.1}},
    {"batch_norm train bias only", "batch_norm", build_batch_norm, ref_batch_norm, IN2(S(5, D2), GC_ANY, S(D2), GC_ANY), .iarg = {1, BN_BIAS}, .farg = {1e-5, 0.1}},
    {"batch_norm train x constant", "batch_norm", build_batch_norm, ref_batch_norm, IN3(S(3, D2, 2), GC_ANY, S(D2), GC_ANY, S(D2), GC_ANY), .no_grad = 1, .iarg = {1, BN_WEIGHT | BN_BIAS}, .farg = {1e-5, 0.1}},
    {"batch_norm train wide", "batch_norm", build_batch_norm, ref_batch_norm, IN3(S(6, D2), GC_WIDE, S(D2), GC_ANY, S(D2), GC_ANY), .iarg = {1, BN_WEIGHT | BN_BIAS}, .farg = {1e-5, 0.1}},
    {"batch_norm train 20 channels", "batch_norm", build_batch_norm, ref_batch_norm, IN3(S(3, 20), GC_ANY, S(20), GC_ANY, S(20), GC_ANY), .iarg = {1, BN_WEIGHT | BN_BIAS}, .farg = {1e-5, 0.1}},
    {"batch_norm train [N,18,L]", "batch_norm", build_batch_norm, ref_batch_norm, IN3(S(2, 18, D1), GC_ANY, S(18), GC_ANY, S(18), GC_ANY), .iarg = {1, BN_WEIGHT | BN_BIAS}, .farg = {1e-5, 0.1}},
    {"batch_norm eval [N,C]", "batch_norm", build_batch_norm, ref_batch_norm, IN3(S(D1, D2), GC_ANY, S(D2), GC_ANY, S(D2), GC_ANY), .iarg = {0, BN_WEIGHT | BN_BIAS}, .farg = {1e-5, 0.1}},
    {"batch_norm eval [N,C,H,W] no affine", "batch_norm", build_batch_norm, ref_batch_norm, IN1(S(D1, D2, D3, D4), GC_ANY), .iarg = {0, 0}, .farg = {1e-5, 0.1}},
    {"batch_norm eval [N,C,L] weight only", "batch_norm", build_batch_norm, ref_batch_norm, IN2(S(D1, D2, D3), GC_ANY, S(D2), GC_ANY), .iarg = {0, BN_WEIGHT}, .farg = {0.1, 0.1}},
    /* layer_norm: iarg = normalized_ndim, BN_WEIGHT | BN_BIAS; farg = eps */
    {"layer_norm [N,D]", "layer_norm", build_layer_norm, ref_layer_norm, IN3(S(D1, 6), GC_ANY, S(6), GC_ANY, S(6), GC_ANY), .iarg = {1, BN_WEIGHT | BN_BIAS}, .farg = {1e-5}},
    {"layer_norm [N,D] no affine", "layer_norm", build_layer_norm, ref_layer_norm, IN1(S(D1, 5), GC_ANY), .iarg = {1, 0}, .farg = {1e-5}},
    {"layer_norm [N,T,D] last dim", "layer_norm", build_layer_norm, ref_layer_norm, IN3(S(2, D1, 7), GC_ANY, S(7), GC_ANY, S(7), GC_ANY), .iarg = {1, BN_WEIGHT | BN_BIAS}, .farg = {1e-5}},
    {"layer_norm [N,C,H,W] over [C,H,W]", "layer_norm", build_layer_norm, ref_layer_norm, IN3(S(D1, 2, 3, 4), GC_ANY, S(2, 3, 4), GC_ANY, S(2, 3, 4), GC_ANY), .iarg = {3, BN_WEIGHT | BN_BIAS}, .farg = {1e-5}},
    {"layer_norm [N,C,H,W] over [H,W] no affine", "layer_norm", build_layer_norm, ref_layer_norm, IN1(S(2, 3, 4, 3), GC_ANY), .iarg = {2, 0}, .farg = {1e-5}},
    {"layer_norm over everything", "layer_norm", build_layer_norm, ref_layer_norm, IN3(S(3, 4), GC_ANY, S(3, 4), GC_ANY, S(3, 4), GC_ANY), .iarg = {2, BN_WEIGHT | BN_BIAS}, .farg = {1e-5}},
    {"layer_norm weight only", "layer_norm", build_layer_norm, ref_layer_norm, IN2(S(D1, 3, 5), GC_ANY, S(3, 5), GC_ANY), .iarg = {2, BN_WEIGHT}, .farg = {1e-3}},
    {"layer_norm bias only", "layer_norm", build_layer_norm, ref_layer_norm, IN2(S(4, 6), GC_ANY, S(6), GC_ANY), .iarg = {1, BN_BIAS}, .farg = {1e-5}},
    {"layer_norm x constant", "layer_norm", build_layer_norm, ref_layer_norm, IN3(S(3, 2, 4), GC_ANY, S(2, 4), GC_ANY, S(2, 4), GC_ANY), .no_grad = 1, .iarg = {2, BN_WEIGHT | BN_BIAS}, .farg = {1e-5}},
    {"layer_norm weight constant", "layer_norm", build_layer_norm, ref_layer_norm, IN3(S(3, 6), GC_ANY, S(6), GC_ANY, S(6), GC_ANY), .no_grad = 2, .iarg = {1, BN_WEIGHT | BN_BIAS}, .farg = {1e-5}},
    {"layer_norm two values", "layer_norm", build_layer_norm, ref_layer_norm, IN3(S(5, 2), GC_ANY, S(2), GC_ANY, S(2), GC_ANY), .iarg = {1, BN_WEIGHT | BN_BIAS}, .farg = {1e-5}},
    {"layer_norm one value", "layer_norm", build_layer_norm, ref_layer_norm, IN3(S(4, 1), GC_ANY, S(1), GC_ANY, S(1), GC_ANY), .iarg = {1, BN_WEIGHT | BN_BIAS}, .farg = {1e-5}},
    {"layer_norm wide", "layer_norm", build_layer_norm, ref_layer_norm, IN3(S(4, 8), GC_WIDE, S(8), GC_ANY, S(8), GC_ANY), .iarg = {1, BN_WEIGHT | BN_BIAS}, .farg = {1e-5}},
    {"layer_norm 70 features", "layer_norm", build_layer_norm, ref_layer_norm, IN3(S(3, 70), GC_ANY, S(70), GC_ANY, S(70), GC_ANY), .iarg = {1, BN_WEIGHT | BN_BIAS}, .farg = {1e-5}},
    /* pooling: iarg = 0 max, 1 average, 2 global average; POOL(kernel, stride, padding) */
    {"maxpool2d 2x2", "maxpool2d", build_pool, ref_pool, IN1(S(D1, D2, 4, 6), GC_ANY), POOL(2, 2, 2, 2, 0, 0)},
    {"maxpool2d 3x3 stride 1 pad 1", "maxpool2d", build_pool, ref_pool, IN1(S(D1, D2, 5, 4), GC_ANY), POOL(3, 3, 1, 1, 1, 1)},
    {"maxpool2d 3x2 stride 2x1 pad 1x0", "maxpool2d", build_pool, ref_pool, IN1(S(D1, 2, 7, 5), GC_ANY), POOL(3, 2, 2, 1, 1, 0)},
    {"maxpool2d overlapping odd", "maxpool2d", build_pool, ref_pool, IN1(S(2, D2, 7, 7), GC_ANY), POOL(3, 3, 2, 2, 0, 0)},
    {"maxpool2d whole plane", "maxpool2d", build_pool, ref_pool, IN1(S(D1, D2, 3, 3), GC_ANY), POOL(3, 3, 1, 1, 0, 0)},
    {"avgpool2d 2x2", "avgpool2d", build_pool, ref_pool, IN1(S(D1, D2, 4, 6), GC_ANY), .iarg = {1}, POOL(2, 2, 2, 2, 0, 0)},
    {"avgpool2d 3x3 stride 2 pad 1", "avgpool2d", build_pool, ref_pool, IN1(S(D1, D2, 5, 6), GC_ANY), .iarg = {1}, POOL(3, 3, 2, 2, 1, 1)},
    {"avgpool2d 2x3 stride 1x2 pad 1", "avgpool2d", build_pool, ref_pool, IN1(S(D1, 3, 4, 7), GC_ANY), .iarg = {1}, POOL(2, 3, 1, 2, 1, 1)},
    {"global_avgpool", "global_avgpool", build_pool, ref_pool, IN1(S(D1, D2, D3, D4), GC_ANY), .iarg = {2}},
    {"global_avgpool 1x1", "global_avgpool", build_pool, ref_pool, IN1(S(D1, D2, 1, 1), GC_ANY), .iarg = {2}},
    /* dropout2d: farg = p */
    {"dropout2d [N,C,H,W]", "dropout2d", build_dropout2d, ref_dropout2d, IN1(S(4, 5, D1, D2), GC_AWAY_FROM_ZERO), .farg = {0.5}},
    {"dropout2d [N,C,L]", "dropout2d", build_dropout2d, ref_dropout2d, IN1(S(D1, 6, D3), GC_AWAY_FROM_ZERO), .farg = {0.3}},
    {"dropout2d [N,C]", "dropout2d", build_dropout2d, ref_dropout2d, IN1(S(D1, 8), GC_AWAY_FROM_ZERO), .farg = {0.2}},
    /* losses */
    {"mse_loss", "mse_loss", build_loss, ref_loss, IN2(S(D1, D2), GC_ANY, S(D1, D2), GC_ANY), .iarg = {MSE}},
    {"mse_loss target constant", "mse_loss", build_loss, ref_loss, IN2(S(D1), GC_ANY, S(D1), GC_ANY), .no_grad = 2, .iarg = {MSE}},
    {"l1_loss", "l1_loss", build_loss, ref_loss, IN2(S(D1, D2), GC_AWAY_FROM_ZERO, S(D1, D2), GC_SMALL), .iarg = {L1}},
    {"bce_with_logits", "bce_with_logits", build_loss, ref_loss, IN2(S(D1, D2), GC_ANY, S(D1, D2), GC_UNIT), .iarg = {BCE}},
    {"bce_with_logits wide", "bce_with_logits", build_loss, ref_loss, IN2(S(D1, D2), GC_WIDE, S(D1, D2), GC_UNIT), .iarg = {BCE}},
    {"cross_entropy", "cross_entropy", build_cross_entropy, ref_cross_entropy, IN1(S(D1, D2), GC_ANY), .labels = true},
    {"cross_entropy wide", "cross_entropy", build_cross_entropy, ref_cross_entropy, IN1(S(D1, 5), GC_WIDE), .labels = true},
    /* matmul (all transposes) and the fused linear op (every activation) */
    {"matmul", "matmul", build_matmul, ref_matmul, IN2(S(D1, D2), GC_ANY, S(D2, D3), GC_ANY), .iarg = {0, 0}},
    {"matmul a^T", "matmul", build_matmul, ref_matmul, IN2(S(D2, D1), GC_ANY, S(D2, D3), GC_ANY), .iarg = {1, 0}},
    {"matmul b^T", "matmul", build_matmul, ref_matmul, IN2(S(D1, D2), GC_ANY, S(D3, D2), GC_ANY), .iarg = {0, 1}},
    {"matmul a^T b^T", "matmul", build_matmul, ref_matmul, IN2(S(D2, D1), GC_ANY, S(D3, D2), GC_ANY), .iarg = {1, 1}},
    {"matmul x x^T", "matmul", build_gram, ref_gram, IN1(S(D1, D2), GC_ANY)},
#define LINEAR_CASES(act, name)                                                                    \
    {"linear " name, "linear", build_linear, ref_linear, IN3(S(D1, D2), GC_ANY, S(D3, D2), GC_ANY, S(D3), GC_ANY), .iarg = {act}}, \
    {"linear " name " no bias", "linear", build_linear, ref_linear, IN2(S(D1, D2), GC_ANY, S(D3, D2), GC_ANY), .iarg = {act}}
    LINEAR_CASES(CG_ACT_NONE, "none"),
    LINEAR_CASES(CG_ACT_RELU, "relu"),
    LINEAR_CASES(CG_ACT_SIGMOID, "sigmoid"),
    LINEAR_CASES(CG_ACT_TANH, "tanh"),
    LINEAR_CASES(CG_ACT_LEAKY_RELU, "leaky_relu"),
    LINEAR_CASES(CG_ACT_ELU, "elu"),
    LINEAR_CASES(CG_ACT_GELU, "gelu"),
    LINEAR_CASES(CG_ACT_SOFTPLUS, "softplus"),
    /* conv2d: iarg = conv_params index, fused activation; x, weight[, bias] */
    {"conv2d valid", "conv2d", build_conv2d, ref_conv2d, IN3(S(D1, 2, 5, 6), GC_ANY, S(3, 2, 2, 3), GC_ANY, S(3), GC_ANY), .iarg = {0}},
    {"conv2d pad 1 no bias", "conv2d", build_conv2d, ref_conv2d, IN2(S(2, 3, 4, 5), GC_ANY, S(4, 3, 3, 3), GC_ANY), .iarg = {1}},
    {"conv2d stride 2 pad 1x0", "conv2d", build_conv2d, ref_conv2d, IN3(S(2, 2, 7, 6), GC_ANY, S(3, 2, 3, 3), GC_ANY, S(3), GC_ANY), .iarg = {2}},
    {"conv2d stride 2 no padding", "conv2d", build_conv2d, ref_conv2d, IN3(S(2, 2, 6, 7), GC_ANY, S(2, 2, 2, 3), GC_ANY, S(2), GC_ANY), .iarg = {8}},
    {"conv2d dilation 2", "conv2d", build_conv2d, ref_conv2d, IN3(S(2, 2, 7, 7), GC_ANY, S(2, 2, 3, 3), GC_ANY, S(2), GC_ANY), .iarg = {3}},
    {"conv2d stride 1x2 dilation 2x1", "conv2d", build_conv2d, ref_conv2d, IN3(S(2, 2, 6, 5), GC_ANY, S(3, 2, 2, 3), GC_ANY, S(3), GC_ANY), .iarg = {7}},
    {"conv2d groups 2", "conv2d", build_conv2d, ref_conv2d, IN3(S(2, 4, 5, 5), GC_ANY, S(6, 2, 3, 3), GC_ANY, S(6), GC_ANY), .iarg = {4}},
    {"conv2d depthwise", "conv2d", build_conv2d, ref_conv2d, IN3(S(2, 3, 5, 4), GC_ANY, S(3, 1, 3, 3), GC_ANY, S(3), GC_ANY), .iarg = {5}},
    {"conv2d depthwise x2 no bias", "conv2d", build_conv2d, ref_conv2d, IN2(S(2, 3, 4, 5), GC_ANY, S(6, 1, 3, 3), GC_ANY), .iarg = {5}},
    {"conv2d same even kernel", "conv2d", build_conv2d, ref_conv2d, IN3(S(2, 2, 5, 6), GC_ANY, S(3, 2, 2, 4), GC_ANY, S(3), GC_ANY), .iarg = {6}},
    {"conv2d same kernel wider than input", "conv2d", build_conv2d, ref_conv2d, IN3(S(2, 2, 3, 2), GC_ANY, S(3, 2, 3, 5), GC_ANY, S(3), GC_ANY), .iarg = {6}},
    {"conv2d pad 2 kernel 1x5 on width 1", "conv2d", build_conv2d, ref_conv2d, IN3(S(D1, 2, 4, 1), GC_ANY, S(2, 2, 1, 5), GC_ANY, S(2), GC_ANY), .iarg = {10}},
    {"conv2d 1x1", "conv2d", build_conv2d, ref_conv2d, IN3(S(D1, 3, 4, 5), GC_ANY, S(4, 3, 1, 1), GC_ANY, S(4), GC_ANY), .iarg = {0}},
    {"conv2d 1x1 groups 2 no bias", "conv2d", build_conv2d, ref_conv2d, IN2(S(2, 4, 3, 3), GC_ANY, S(6, 2, 1, 1), GC_ANY), .iarg = {4}},
    {"conv2d 1x1 stride 2", "conv2d", build_conv2d, ref_conv2d, IN3(S(2, 3, 5, 4), GC_ANY, S(4, 3, 1, 1), GC_ANY, S(4), GC_ANY), .iarg = {8}},
    {"conv2d x constant", "conv2d", build_conv2d, ref_conv2d, IN3(S(2, 2, 5, 5), GC_ANY, S(3, 2, 3, 3), GC_ANY, S(3), GC_ANY), .no_grad = 1, .iarg = {1}},
    {"conv2d weight constant", "conv2d", build_conv2d, ref_conv2d, IN3(S(2, 2, 5, 5), GC_ANY, S(3, 2, 3, 3), GC_ANY, S(3), GC_ANY), .no_grad = 2, .iarg = {2}},
    {"conv2d relu", "conv2d", build_conv2d, ref_conv2d, IN3(S(2, 2, 5, 5), GC_ANY, S(3, 2, 3, 3), GC_ANY, S(3), GC_ANY), .iarg = {1, CG_ACT_RELU}},
    /* conv2d_maxpool: as conv2d, the pooling in .target */
    {"conv2d_maxpool relu 2x2", "conv2d_maxpool", build_conv2d_maxpool, ref_conv2d_maxpool, IN3(S(2, 2, 5, 6), GC_ANY, S(3, 2, 3, 3), GC_ANY, S(3), GC_ANY), .iarg = {1, CG_ACT_RELU}, POOL(2, 2, 2, 2, 0, 0)},
    {"conv2d_maxpool 3x3 stride 2 pad 1 no bias", "conv2d_maxpool", build_conv2d_maxpool, ref_conv2d_maxpool, IN2(S(2, 4, 5, 5), GC_ANY, S(4, 2, 3, 3), GC_ANY), .iarg = {4, CG_ACT_NONE}, POOL(3, 3, 2, 2, 1, 1)},
    {"conv2d gelu", "conv2d", build_conv2d, ref_conv2d, IN3(S(2, 2, 5, 5), GC_ANY, S(3, 2, 3, 3), GC_ANY, S(3), GC_ANY), .iarg = {3, CG_ACT_GELU}},
    {"conv2d tanh no bias", "conv2d", build_conv2d, ref_conv2d, IN2(S(2, 2, 5, 5), GC_ANY, S(3, 2, 3, 3), GC_ANY), .iarg = {2, CG_ACT_TANH}},
    {"conv2d leaky_relu", "conv2d", build_conv2d, ref_conv2d, IN3(S(2, 4, 4, 4), GC_ANY, S(2, 2, 3, 3), GC_ANY, S(2), GC_ANY), .iarg = {4, CG_ACT_LEAKY_RELU}},
    {"conv2d elu", "conv2d", build_conv2d, ref_conv2d, IN3(S(2, 2, 5, 6), GC_ANY, S(3, 2, 2, 4), GC_ANY, S(3), GC_ANY), .iarg = {6, CG_ACT_ELU}},
    /* embedding: input 0 holds ids as fractions of the vocabulary (no gradient) */
    {"embedding [N]", "embedding", build_embedding, ref_embedding, IN2(S(D1), GC_UNIT, S(7, D2), GC_ANY), .no_grad = 1},
    {"embedding [N,T] repeated ids", "embedding", build_embedding, ref_embedding, IN2(S(D1, 6), GC_UNIT, S(3, D2), GC_ANY), .no_grad = 1},
    /* recurrent: x [N,T,F], w_ih [G·H, F], w_hh [G·H, H], b_ih, b_hh; iarg = cell, reverse, bias, initial state */
    {"rnn tanh", "rnn", build_recurrent, ref_recurrent, .n_inputs = 5, .shape = {S(D1, D2, D3), S(3, D3), S(3, 3), S(3), S(3)}, .iarg = {CG_CELL_RNN_TANH, 0, 1, 0}},
    {"rnn relu reverse", "rnn", build_recurrent, ref_recurrent, .n_inputs = 5, .shape = {S(D1, D2, D3), S(4, D3), S(4, 4), S(4), S(4)}, .domain = {GC_ANY, GC_SMALL, GC_SMALL}, .iarg = {CG_CELL_RNN_RELU, 1, 1, 0}, .fwd_atol = 1e-4},
    {"rnn tanh no bias initial state", "rnn", build_recurrent, ref_recurrent, .n_inputs = 3, .shape = {S(2, D2, 3), S(3, 3), S(3, 3)}, .iarg = {CG_CELL_RNN_TANH, 0, 0, 1}},
    {"lstm", "lstm", build_recurrent, ref_recurrent, .n_inputs = 5, .shape = {S(D1, D2, D3), S(12, D3), S(12, 3), S(12), S(12)}, .iarg = {CG_CELL_LSTM, 0, 1, 0}},
    {"lstm reverse initial state", "lstm", build_recurrent, ref_recurrent, .n_inputs = 5, .shape = {S(D1, 4, 2), S(8, 2), S(8, 2), S(8), S(8)}, .iarg = {CG_CELL_LSTM, 1, 1, 1}},
    {"lstm no bias", "lstm", build_recurrent, ref_recurrent, .n_inputs = 3, .shape = {S(2, D2, 3), S(16, 3), S(16, 4)}, .iarg = {CG_CELL_LSTM, 0, 0, 0}},
    {"lstm x constant", "lstm", build_recurrent, ref_recurrent, .n_inputs = 5, .shape = {S(2, 5, 3), S(12, 3), S(12, 3), S(12), S(12)}, .no_grad = 1, .iarg = {CG_CELL_LSTM, 0, 1, 1}},
    {"gru", "gru", build_recurrent, ref_recurrent, .n_inputs = 5, .shape = {S(D1, D2, D3), S(9, D3), S(9, 3), S(9), S(9)}, .iarg = {CG_CELL_GRU, 0, 1, 0}},
    {"gru reverse initial state", "gru", build_recurrent, ref_recurrent, .n_inputs = 5, .shape = {S(D1, 4, 2), S(6, 2), S(6, 2), S(6), S(6)}, .iarg = {CG_CELL_GRU, 1, 1, 1}},
    {"gru no bias", "gru", build_recurrent, ref_recurrent, .n_inputs = 3, .shape = {S(2, D2, 3), S(12, 3), S(12, 4)}, .iarg = {CG_CELL_GRU, 0, 0, 0}},
    /* attention: qkv [N,T,3D]; iarg = heads, causal, tile, key mask (input 1) */
    {"attention 1 head", "attention", build_attention, ref_attention, IN1(S(D1, D2, 6), GC_ANY), .iarg = {1, 0, 0, 0}},
    {"attention 2 heads causal", "attention", build_attention, ref_attention, IN1(S(D1, D2, 12), GC_ANY), .iarg = {2, 1, 0, 0}},
    {"attention 2 heads key mask", "attention", build_attention, ref_attention, IN2(S(2, 5, 12), GC_ANY, S(2, 5), GC_UNIT), .no_grad = 2, .iarg = {2, 0, 0, 1}},
    {"attention causal key mask", "attention", build_attention, ref_attention, IN2(S(3, 6, 6), GC_ANY, S(3, 6), GC_UNIT), .no_grad = 2, .iarg = {1, 1, 0, 1}},
    {"attention tiled 2", "attention", build_attention, ref_attention, IN1(S(2, 7, 12), GC_ANY), .iarg = {2, 0, 2, 0}},
    {"attention tiled 3 causal", "attention", build_attention, ref_attention, IN1(S(D1, 8, 18), GC_ANY), .iarg = {3, 1, 3, 0}},
    {"attention tiled causal key mask", "attention", build_attention, ref_attention, IN2(S(2, 7, 6), GC_ANY, S(2, 7), GC_UNIT), .no_grad = 2, .iarg = {1, 1, 4, 1}},
    {"attention tiled wider than T", "attention", build_attention, ref_attention, IN1(S(2, D2, 6), GC_ANY), .iarg = {2, 1, 16, 0}},
    {"big attention causal", "attention", build_attention, ref_attention, IN1(S(4, 40, 48), GC_ANY), .iarg = {4, 1, 0, 0}, .fwd_atol = 1e-4},
    {"big attention tiled", "attention", build_attention, ref_attention, IN1(S(4, 40, 48), GC_ANY), .iarg = {4, 1, 16, 0}, .fwd_atol = 1e-4},
    /* large enough for the threaded paths: samples split across threads,
     * per-slot weight gradients (im2col and 1x1) */
    {"big conv2d pad 1", "conv2d", build_conv2d, ref_conv2d, IN3(S(20, 4, 10, 10), GC_ANY, S(8, 4, 3, 3), GC_ANY, S(8), GC_ANY), .iarg = {1}, .fwd_atol = 1e-4},
    {"big conv2d depthwise relu", "conv2d", build_conv2d, ref_conv2d, IN3(S(40, 8, 12, 12), GC_ANY, S(8, 1, 3, 3), GC_ANY, S(8), GC_ANY), .iarg = {9, CG_ACT_RELU}, .fwd_atol = 1e-4},
    {"big conv2d 1x1", "conv2d", build_conv2d, ref_conv2d, IN3(S(17, 16, 8, 8), GC_ANY, S(32, 16, 1, 1), GC_ANY, S(32), GC_ANY), .iarg = {0}, .fwd_atol = 1e-4},
    /* compositions */
    {"chain mlp", NULL, build_chain_mlp, ref_chain_mlp, IN3(S(D1, D2), GC_ANY, S(D3, D2), GC_ANY, S(D3), GC_ANY)},
    {"chain shape ops", NULL, build_chain_shape, ref_chain_shape, IN1(S(2, 3, 4), GC_ANY)},
    {"chain loss", NULL, build_chain_loss, ref_chain_loss, IN3(S(D1, D2), GC_ANY, S(D2, D2), GC_ANY, S(D2), GC_ANY), .labels = true},
    /* large enough for the parallel loops (> 32768 elements); sampled elements */
    {"big add row", "add", build_binary, ref_binary, IN2(S(BIG_ROWS, BIG_COLS), GC_ANY, S(BIG_COLS), GC_ANY), .iarg = {ADD}},
    {"big sub a-row", "sub", build_binary, ref_binary, IN2(S(BIG_COLS), GC_ANY, S(BIG_ROWS, BIG_COLS), GC_ANY), .iarg = {SUB}},
    {"big mul strided", "mul", build_binary, ref_binary, IN2(S(2, 128, BIG_COLS), GC_ANY, S(128, 1), GC_ANY), .iarg = {MUL}},
    {"big div by rank0", "div", build_binary, ref_binary, IN2(S(BIG_ROWS, BIG_COLS), GC_ANY, S0, GC_AWAY_FROM_ZERO), .iarg = {DIV}, .fwd_atol = 1e-4},
    {"big pow", "pow_scalar", build_scalar, ref_scalar, IN1(S(BIG_ROWS, BIG_COLS), GC_POSITIVE), .iarg = {POW}, .farg = {1.5}},
    {"big sum axis 0", "sum", build_reduce, ref_reduce, IN1(S(300, 130), GC_ANY), .iarg = {0, 0, 0}, .fwd_atol = 1e-4},
    {"big sum last axis", "sum", build_reduce, ref_reduce, IN1(S(130, 300), GC_ANY), .iarg = {-1, 0, 0}, .fwd_atol = 1e-4},
    {"big mean all", "mean", build_reduce, ref_reduce, IN1(S(200, 200), GC_ANY), .iarg = {CG_AXIS_ALL, 0, 1}},
    {"big concat", "concat", build_concat, ref_concat, IN2(S(200, 100), GC_ANY, S(200, 80), GC_ANY), .iarg = {1}},
    {"big slice", "slice", build_slice, ref_slice, IN1(S(300, 130), GC_ANY), .iarg = {1, 10, 120}},
    {"big gelu", "gelu", build_act, ref_act, IN1(S(40000), GC_ANY), .iarg = {CG_ACT_GELU}},
    {"big leaky_relu", "leaky_relu", build_act, ref_act, IN1(S(200, 200), GC_AWAY_FROM_ZERO), .iarg = {CG_ACT_LEAKY_RELU}, .farg = {0.2}},
    {"big softmax last", "softmax", build_softmax, ref_softmax, IN1(S(BIG_ROWS, BIG_COLS), GC_ANY), .iarg = {-1, 0}},
    {"big log_softmax axis 0", "log_softmax", build_softmax, ref_softmax, IN1(S(BIG_ROWS, BIG_COLS), GC_ANY), .iarg = {0, 1}},
    {"big dropout", "dropout", build_dropout, ref_dropout, IN1(S(300, 130), GC_AWAY_FROM_ZERO), .farg = {0.3}},
    {"big mse_loss", "mse_loss", build_loss, ref_loss, IN2(S(200, 200), GC_ANY, S(200, 200), GC_ANY), .iarg = {MSE}},
    {"big batch_norm train [N,C,H,W]", "batch_norm", build_batch_norm, ref_batch_norm, IN3(S(16, 40, 8, 8), GC_ANY, S(40), GC_ANY, S(40), GC_ANY), .iarg = {1, BN_WEIGHT | BN_BIAS}, .farg = {1e-5, 0.1}},
    {"big batch_norm train [N,C]", "batch_norm", build_batch_norm, ref_batch_norm, IN3(S(1000, 40), GC_ANY, S(40), GC_ANY, S(40), GC_ANY), .iarg = {1, BN_WEIGHT | BN_BIAS}, .farg = {1e-5, 0.1}},
    {"big batch_norm eval", "batch_norm", build_batch_norm, ref_batch_norm, IN3(S(16, 40, 8, 8), GC_ANY, S(40), GC_ANY, S(40), GC_ANY), .iarg = {0, BN_WEIGHT | BN_BIAS}, .farg = {1e-5, 0.1}},
    {"big layer_norm [N,D]", "layer_norm", build_layer_norm, ref_layer_norm, IN3(S(300, 130), GC_ANY, S(130), GC_ANY, S(130), GC_ANY), .iarg = {1, BN_WEIGHT | BN_BIAS}, .farg = {1e-5}},
    {"big layer_norm many short rows", "layer_norm", build_layer_norm, ref_layer_norm, IN3(S(4000, 10), GC_ANY, S(10), GC_ANY, S(10), GC_ANY), .iarg = {1, BN_WEIGHT | BN_BIAS}, .farg = {1e-5}},
    {"big layer_norm over [C,H,W]", "layer_norm", build_layer_norm, ref_layer_norm, IN3(S(16, 40, 8, 8), GC_ANY, S(40, 8, 8), GC_ANY, S(40, 8, 8), GC_ANY), .iarg = {3, BN_WEIGHT | BN_BIAS}, .farg = {1e-5}},
    {"big maxpool2d", "maxpool2d", build_pool, ref_pool, IN1(S(8, 16, 24, 24), GC_ANY), POOL(3, 3, 2, 2, 1, 1)},
    {"big avgpool2d", "avgpool2d", build_pool, ref_pool, IN1(S(8, 16, 24, 24), GC_ANY), .iarg = {1}, POOL(2, 2, 2, 2, 0, 0)},
    {"big global_avgpool", "global_avgpool", build_pool, ref_pool, IN1(S(8, 16, 24, 24), GC_ANY), .iarg = {2}},
    {"big dropout2d", "dropout2d", build_dropout2d, ref_dropout2d, IN1(S(8, 16, 24, 24), GC_AWAY_FROM_ZERO), .farg = {0.4}},
    {"big cross_entropy", "cross_entropy", build_cross_entropy, ref_cross_entropy, IN1(S(400, 100), GC_ANY), .labels = true},
};

#define N_CASES (sizeof cases / sizeof cases[0])

static void run_case(void **state)
{
    const gc_case *c = *state;
    char why[4096];
    uint64_t seed = 1000003u * (uint64_t)(c - cases) + 17u;
    if (!gc_run(c, seed, why, sizeof why)) fail_msg("%s:\n%s", c->name, why);
}

/* ------------------------------------------------------------ coverage */

static bool is_registered(const char *op)
{
    for (size_t i = 0; i < cg_op_count(); i++)
        if (strcmp(cg_op_name(i), op) == 0) return true;
    return false;
}

static void every_registered_op_has_a_case(void **state)
{
    (void)state;
    int missing = 0;
    for (size_t i = 0; i < cg_op_count(); i++) {
        bool found = false;
        for (size_t k = 0; k < N_CASES && !found; k++)
            found = cases[k].op && strcmp(cases[k].op, cg_op_name(i)) == 0;
        if (!found) {
            print_error("registered op \"%s\" has no gradcheck case\n", cg_op_name(i));
            missing++;
        }
    }
    assert_int_equal(missing, 0);
}

static void every_case_names_a_registered_op(void **state)
{
    (void)state;
    for (size_t k = 0; k < N_CASES; k++)
        if (cases[k].op && !is_registered(cases[k].op))
            fail_msg("case \"%s\" names unregistered op \"%s\"", cases[k].name, cases[k].op);
}

/* ------------------------------------------------------------ modes */

static cg_tensor *filled(cg_ctx *ctx, int ndim, const int64_t *shape, float start, float step)
{
    cg_tensor *t = cg_tensor_new(ctx, ndim, shape);
    if (t)
        for (int64_t i = 0; i < t->size; i++) t->data[i] = start + step * (float)(i % 97);
    return t;
}

static void inference_mode_records_nothing(void **state)
{
    (void)state;
    cg_ctx *ctx = cg_ctx_create(0);
    cg_ctx_set_grad_enabled(ctx, false);
    cg_tensor *x = filled(ctx, 2, (int64_t[]){3, 4}, -1.0f, 0.1f);
    cg_tensor *b = filled(ctx, 1, (int64_t[]){4}, 0.5f, 0.2f);
    cg_tensor_set_requires_grad(x, true);
    cg_tensor_set_requires_grad(b, true);
    cg_tensor *h = cg_gelu(ctx, cg_mul(ctx, cg_add(ctx, x, b), x));
    h = cg_dropout(ctx, cg_softmax(ctx, h, -1), 0.5f);
    h = cg_concat(ctx, (cg_tensor *[]){h, cg_slice(ctx, x, 1, 0, 2)}, 2, 1);
    h = cg_reshape(ctx, h, 2, (int64_t[]){2, -1});
    cg_tensor *loss = cg_add(ctx, cg_mse_loss(ctx, h, h),
                             cg_cross_entropy(ctx, x, (int32_t[]){0, 3, 1}));
    loss = cg_add(ctx, loss, cg_mean(ctx, cg_log_softmax(ctx, x, 0), CG_AXIS_ALL, false));
    assert_non_null(loss);
    assert_int_equal(cg_ctx_tape_length(ctx), 0);
    assert_null(loss->node);
    assert_false(loss->requires_grad);
    assert_int_equal(cg_backward(ctx, loss), CG_ERR_STATE);
    cg_ctx_destroy(ctx);
}

/* Same inputs and seed with 1, 2 and 3 threads: bitwise-equal loss and
 * gradients (every reduction sums in an order fixed by the shapes alone). */
static void run_big(int threads, float *out)
{
    cg_set_num_threads(threads);
    cg_ctx *ctx = cg_ctx_create(0);
    cg_rng_seed(cg_ctx_rng(ctx), 7);
    int64_t R = 300, C = 200;
    cg_tensor *x = filled(ctx, 2, (int64_t[]){R, C}, -2.0f, 0.043f);
    cg_tensor *b = filled(ctx, 1, (int64_t[]){C}, -1.0f, 0.02f);
    cg_tensor *col = filled(ctx, 2, (int64_t[]){R, 1}, 0.5f, 0.01f);
    cg_tensor *s = cg_tensor_scalar(ctx, 1.7f);
    cg_tensor *in[4] = {x, b, col, s};
    for (int i = 0; i < 4; i++) cg_tensor_set_requires_grad(in[i], true);
    int32_t labels[300];
    for (int i = 0; i < R; i++) labels[i] = (i * 37) % (int)C;
    cg_tensor *a = cg_add(ctx, x, b);
    cg_tensor *c = cg_dropout(ctx, cg_mul(ctx, a, col), 0.3f);
    cg_tensor *e = cg_softmax(ctx, c, 0);
    cg_tensor *l1 = cg_cross_entropy(ctx, cg_log_softmax(ctx, e, -1), labels);
    cg_tensor *l2 = cg_mse_loss(ctx, a, cg_tanh(ctx, x));
    cg_tensor *l3 = cg_mean(ctx, cg_div(ctx, c, s), CG_AXIS_ALL, false);
    cg_tensor *l4 = cg_sum(ctx, cg_sum(ctx, cg_mul(ctx, e, x), 0, false), CG_AXIS_ALL, false);
    cg_tensor *loss = cg_add(ctx, cg_add(ctx, l1, l2), cg_add(ctx, l3, l4));
    assert_non_null(loss);
    assert_int_equal(cg_backward(ctx, loss), CG_OK);
    out[0] = loss->data[0];
    int64_t pos = 1;
    for (int i = 0; i < 4; i++) {
        memcpy(out + pos, in[i]->grad, (size_t)in[i]->size * sizeof *out);
        pos += in[i]->size;
    }
    cg_ctx_destroy(ctx);
}

static void results_do_not_depend_on_thread_count(void **state)
{
    (void)state;
    int saved = cg_get_num_threads();
    size_t n = 1 + 300 * 200 + 200 + 300 + 1;
    float *one = malloc(n * sizeof *one), *other = malloc(n * sizeof *other);
    assert_non_null(one);
    assert_non_null(other);
    run_big(1, one);
    for (int threads = 2; threads <= 3; threads++) {
        run_big(threads, other);
        assert_memory_equal(one, other, n * sizeof *one);
    }
    free(one);
    free(other);
    cg_set_num_threads(saved);
}

static void dropout_rate_scale_and_modes(void **state)
{
    (void)state;
    cg_ctx *ctx = cg_ctx_create(0);
    int64_t n = 100000;
    cg_tensor *x = filled(ctx, 1, &n, 1.0f, 0.0f);
    cg_rng_seed(cg_ctx_rng(ctx), 42);
    cg_tensor *y = cg_dropout(ctx, x, 0.25f);
    assert_non_null(y);
    int64_t dropped = 0;
    for (int64_t i = 0; i < n; i++) {
        if (y->data[i] == 0.0f) dropped++;
        else assert_true(y->data[i] == 1.0f / 0.75f);
    }
    assert_in_range(dropped, 24000, 26000);
    cg_rng_seed(cg_ctx_rng(ctx), 42);
    cg_tensor *again = cg_dropout(ctx, x, 0.25f);
    assert_memory_equal(y->data, again->data, (size_t)n * sizeof(float));
    cg_tensor *next = cg_dropout(ctx, x, 0.25f);
    assert_true(memcmp(y->data, next->data, (size_t)n * sizeof(float)) != 0);
    assert_ptr_equal(cg_dropout(ctx, x, 0.0f), x);
    cg_ctx_set_training(ctx, false);
    assert_ptr_equal(cg_dropout(ctx, x, 0.5f), x);
    const float bad[] = {1.0f, -0.1f, NAN, 2.0f};
    for (int i = 0; i < 4; i++) {
        cg_clear_error();
        assert_null(cg_dropout(ctx, x, bad[i]));
        assert_int_equal(cg_last_status(), CG_ERR_ARG);
    }
    cg_ctx_destroy(ctx);
}

/* Training mode moves the running statistics as PyTorch does (unbiased
 * variance) and counts the batch; evaluation mode reads them and changes
 * nothing. */
static void batch_norm_running_statistics(void **state)
{
    (void)state;
    cg_ctx *ctx = cg_ctx_create(0);
    const float xv[6] = {1.0f, -1.0f, 2.0f, 0.5f, 4.0f, 3.0f};   /* [3, 2] */
    cg_tensor *x = cg_tensor_from(ctx, 2, (int64_t[]){3, 2}, xv);
    float mean[2] = {0.5f, -0.5f}, var[2] = {1.0f, 2.0f};
    int64_t tracked = 5;
    cg_tensor *y = cg_batch_norm(ctx, x, NULL, NULL, mean, var, &tracked, 0.2f, 1e-5f, true);
    assert_non_null(y);
    assert_int_equal(tracked, 6);
    const double m0[2] = {0.5, -0.5}, v0[2] = {1.0, 2.0};
    for (int c = 0; c < 2; c++) {
        double mu = (xv[c] + xv[2 + c] + xv[4 + c]) / 3.0, ss = 0;
        for (int n = 0; n < 3; n++) ss += (xv[2 * n + c] - mu) * (xv[2 * n + c] - mu);
        assert_float_equal(mean[c], 0.8 * m0[c] + 0.2 * mu, 1e-6);
        assert_float_equal(var[c], 0.8 * v0[c] + 0.2 * ss / 2.0, 1e-6);
        for (int n = 0; n < 3; n++)
            assert_float_equal(y->data[2 * n + c], (xv[2 * n + c] - mu) / sqrt(ss / 3.0 + 1e-5),
                               1e-5);
    }
    float mean_kept[2], var_kept[2];
    memcpy(mean_kept, mean, sizeof mean);
    memcpy(var_kept, var, sizeof var);
    y = cg_batch_norm(ctx, x, NULL, NULL, mean, var, &tracked, 0.2f, 1e-5f, false);
    assert_non_null(y);
    assert_int_equal(tracked, 6);
    assert_memory_equal(mean, mean_kept, sizeof mean);
    assert_memory_equal(var, var_kept, sizeof var);
    for (int i = 0; i < 6; i++)
        assert_float_equal(y->data[i], (xv[i] - mean[i % 2]) / sqrt(var[i % 2] + 1e-5), 1e-5);
    /* Without running statistics (track_running_stats=False): batch statistics only. */
    y = cg_batch_norm(ctx, x, NULL, NULL, NULL, NULL, NULL, 0.1f, 1e-5f, true);
    assert_non_null(y);
    assert_float_equal(y->data[0] + y->data[2] + y->data[4], 0.0, 1e-5);
    cg_ctx_destroy(ctx);
}

/* Forward, backward and running statistics of a batch large enough for the
 * parallel loop, with 1 and 3 threads: bitwise equal. */
static void batch_norm_run(int threads, float *out, int64_t n)
{
    cg_set_num_threads(threads);
    cg_ctx *ctx = cg_ctx_create(0);
    enum { C = 40 };   /* three blocks of channels, the last one partial */
    int64_t shape[3] = {64, C, 16};
    cg_tensor *x = filled(ctx, 3, shape, -2.0f, 0.043f);
    cg_tensor *w = filled(ctx, 1, (int64_t[]){C}, 0.5f, 0.01f);
    cg_tensor *b = filled(ctx, 1, (int64_t[]){C}, -0.5f, 0.02f);
    cg_tensor *in[3] = {x, w, b};
    for (int i = 0; i < 3; i++) cg_tensor_set_requires_grad(in[i], true);
    float mean[C] = {0}, var[C];
    for (int c = 0; c < C; c++) var[c] = 1.0f;
    cg_tensor *y = cg_batch_norm(ctx, x, w, b, mean, var, NULL, 0.1f, 1e-5f, true);
    assert_non_null(y);
    cg_tensor *loss = cg_sum(ctx, cg_mul(ctx, y, cg_tanh(ctx, x)), CG_AXIS_ALL, false);
    assert_int_equal(cg_backward(ctx, loss), CG_OK);
    float *p = out;
    memcpy(p, y->data, (size_t)y->size * sizeof *p);
    p += y->size;
    for (int i = 0; i < 3; i++) {
        memcpy(p, in[i]->grad, (size_t)in[i]->size * sizeof *p);
        p += in[i]->size;
    }
    memcpy(p, mean, sizeof mean);
    memcpy(p + C, var, sizeof var);
    assert_int_equal(p + 2 * C - out, n);
    cg_ctx_destroy(ctx);
}

static void batch_norm_does_not_depend_on_thread_count(void **state)
{
    (void)state;
    int saved = cg_get_num_threads();
    int64_t n = 2 * 64 * 40 * 16 + 4 * 40;
    float *one = malloc((size_t)n * sizeof *one), *other = malloc((size_t)n * sizeof *other);
    assert_non_null(one);
    assert_non_null(other);
    batch_norm_run(1, one, n);
    batch_norm_run(3, other, n);
    assert_memory_equal(one, other, (size_t)n * sizeof *one);
    free(one);
    free(other);
    cg_set_num_threads(saved);
}

/* ------------------------------------------------------------ errors */

/* One value per channel cannot be normalised by batch statistics (PyTorch
 * refuses it as well); nothing moves when a call fails. */
static void batch_norm_errors(void **state)
{
    (void)state;
    cg_ctx *ctx = cg_ctx_create(0);
    cg_tensor *one = cg_tensor_zeros(ctx, 2, (int64_t[]){1, 4});
    cg_tensor *one_spatial = cg_tensor_zeros(ctx, 3, (int64_t[]){1, 4, 1});
    cg_tensor *flat = cg_tensor_zeros(ctx, 1, (int64_t[]){4});
    cg_tensor *x = cg_tensor_zeros(ctx, 3, (int64_t[]){2, 4, 3});
    cg_tensor *w3 = cg_tensor_zeros(ctx, 1, (int64_t[]){3});
    float mean[4] = {0}, var[4] = {1, 1, 1, 1};
    int64_t tracked = 0;
    cg_clear_error();
    assert_null(cg_batch_norm(ctx, one, NULL, NULL, mean, var, &tracked, 0.1f, 1e-5f, true));
    assert_int_equal(cg_last_status(), CG_ERR_ARG);
    assert_error_mentions("more than one value per channel", "[1, 4]");
    assert_null(cg_batch_norm(ctx, one_spatial, NULL, NULL, mean, var, &tracked, 0.1f, 1e-5f,
                              true));
    assert_error_mentions("[1, 4, 1]", NULL);
    assert_int_equal(tracked, 0);
    assert_true(mean[0] == 0.0f && var[0] == 1.0f);
    /* ... while evaluation mode takes a single sample. */
    assert_non_null(cg_batch_norm(ctx, one, NULL, NULL, mean, var, &tracked, 0.1f, 1e-5f, false));
    assert_null(cg_batch_norm(ctx, flat, NULL, NULL, mean, var, &tracked, 0.1f, 1e-5f, false));
    assert_error_mentions("[N, C]", "[4]");
    assert_null(cg_batch_norm(ctx, x, w3, NULL, mean, var, &tracked, 0.1f, 1e-5f, true));
    assert_error_mentions("weight", "[3]");
    assert_null(cg_batch_norm(ctx, x, NULL, w3, mean, var, &tracked, 0.1f, 1e-5f, true));
    assert_error_mentions("bias", "[2, 4, 3]");
    assert_null(cg_batch_norm(ctx, x, NULL, NULL, NULL, NULL, NULL, 0.1f, 1e-5f, false));
    assert_error_mentions("evaluation", "running_mean");
    assert_null(cg_batch_norm(ctx, x, NULL, NULL, mean, NULL, NULL, 0.1f, 1e-5f, true));
    assert_error_mentions("together", NULL);
    const float bad_eps[] = {-1e-5f, NAN, INFINITY}, bad_momentum[] = {-0.1f, 1.5f, NAN};
    for (int i = 0; i < 3; i++) {
        assert_null(cg_batch_norm(ctx, x, NULL, NULL, mean, var, &tracked, 0.1f, bad_eps[i], true));
        assert_error_mentions("eps", NULL);
        assert_null(cg_batch_norm(ctx, x, NULL, NULL, mean, var, &tracked, bad_momentum[i], 1e-5f,
                                  true));
        assert_error_mentions("momentum", NULL);
    }
    assert_null(cg_batch_norm(NULL, x, NULL, NULL, mean, var, &tracked, 0.1f, 1e-5f, true));
    assert_int_equal(tracked, 0);
    cg_ctx_destroy(ctx);
}

static void shape_errors_name_both_shapes(void **state)
{
    (void)state;
    cg_ctx *ctx = cg_ctx_create(0);
    cg_tensor *a = cg_tensor_zeros(ctx, 2, (int64_t[]){2, 3});
    cg_tensor *b = cg_tensor_zeros(ctx, 2, (int64_t[]){4, 3});
    cg_tensor *c = cg_tensor_zeros(ctx, 2, (int64_t[]){3, 2});
    cg_tensor *(*binary[])(cg_ctx *, cg_tensor *, cg_tensor *) = {
        cg_add, cg_sub, cg_mul, cg_div, cg_mse_loss, cg_l1_loss, cg_bce_with_logits};
    for (size_t i = 0; i < sizeof binary / sizeof binary[0]; i++) {
        assert_null(binary[i](ctx, a, i < 4 ? b : c));
        assert_int_equal(cg_last_status(), CG_ERR_ARG);
        assert_error_mentions("[2, 3]", i < 4 ? "[4, 3]" : "[3, 2]");
    }
    assert_null(cg_concat(ctx, (cg_tensor *[]){a, b, c}, 3, 0));
    assert_error_mentions("[3, 2]", "[2, 3]");
    assert_null(cg_reshape(ctx, a, 2, (int64_t[]){4, 2}));
    assert_error_mentions("[2, 3]", "[4, 2]");
    assert_null(cg_reshape(ctx, a, 2, (int64_t[]){-1, 4}));
    assert_error_mentions("[2, 3]", "[-1, 4]");
    assert_null(cg_reshape(ctx, a, 3, (int64_t[]){-1, -1, 6}));
    assert_error_mentions("-1", NULL);
    assert_null(cg_cross_entropy(ctx, cg_tensor_zeros(ctx, 1, (int64_t[]){3}), (int32_t[]){0, 0, 0}));
    assert_error_mentions("[3]", NULL);
    cg_ctx_destroy(ctx);
}

static void null_input_propagates(void **state)
{
    (void)state;
    cg_ctx *ctx = cg_ctx_create(0);
    cg_tensor *x = cg_tensor_zeros(ctx, 2, (int64_t[]){2, 3});
    cg_clear_error();
    assert_null(cg_relu(ctx, NULL));
    assert_error_mentions("relu", NULL);
    /* The first failure's message survives the rest of the forward pass. */
    cg_tensor *bad = cg_add(ctx, x, cg_tensor_zeros(ctx, 1, (int64_t[]){4}));
    assert_null(bad);
    cg_tensor *outs[] = {
        cg_sub(ctx, bad, x), cg_mul(ctx, x, bad), cg_div(ctx, bad, bad),
        cg_add_scalar(ctx, bad, 1), cg_mul_scalar(ctx, bad, 2), cg_pow_scalar(ctx, bad, 2),
        cg_neg(ctx, bad), cg_sum(ctx, bad, 0, false), cg_mean(ctx, bad, CG_AXIS_ALL, false),
        cg_reshape(ctx, bad, 1, (int64_t[]){-1}), cg_flatten(ctx, bad),
        cg_concat(ctx, (cg_tensor *[]){x, bad}, 2, 0), cg_slice(ctx, bad, 0, 0, 1),
        cg_sigmoid(ctx, bad), cg_tanh(ctx, bad), cg_relu(ctx, bad),
        cg_leaky_relu(ctx, bad, 0.1f), cg_elu(ctx, bad, 1), cg_gelu(ctx, bad),
        cg_softplus(ctx, bad), cg_activate(ctx, bad, CG_ACT_NONE),
        cg_activate(ctx, bad, CG_ACT_GELU), cg_softmax(ctx, bad, 0), cg_log_softmax(ctx, bad, 0),
        cg_dropout(ctx, bad, 0.5f), cg_mse_loss(ctx, bad, x), cg_l1_loss(ctx, x, bad),
        cg_cross_entropy(ctx, bad, (int32_t[]){0, 0}), cg_bce_with_logits(ctx, bad, x),
        cg_matmul(ctx, bad, x, false, false), cg_linear(ctx, bad, x, NULL, CG_ACT_NONE),
        cg_conv2d(ctx, bad, x, NULL, NULL), cg_conv2d(ctx, x, bad, x, NULL),
        cg_batch_norm(ctx, bad, NULL, NULL, NULL, NULL, NULL, 0.1f, 1e-5f, true),
    };
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++) {
        if (outs[i]) fail_msg("op %zu returned a tensor for a NULL input", i);
    }
    assert_error_mentions("[2, 3]", "[4]");
    cg_ctx_destroy(ctx);
}

static void bad_axis_is_an_error(void **state)
{
    (void)state;
    cg_ctx *ctx = cg_ctx_create(0);
    cg_tensor *x = cg_tensor_zeros(ctx, 2, (int64_t[]){2, 3});
    cg_tensor *s = cg_tensor_scalar(ctx, 1.0f);
    cg_tensor *outs[] = {
        cg_sum(ctx, x, 2, false), cg_sum(ctx, x, -3, true), cg_mean(ctx, x, 5, false),
        cg_sum(ctx, s, 0, false), cg_softmax(ctx, x, 2), cg_log_softmax(ctx, x, -3),
        cg_concat(ctx, (cg_tensor *[]){x, x}, 2, 2), cg_slice(ctx, x, -3, 0, 1),
    };
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++) {
        if (outs[i]) fail_msg("op %zu accepted a bad axis", i);
    }
    cg_clear_error();
    assert_null(cg_softmax(ctx, x, 2));
    assert_error_mentions("axis 2", NULL);
    /* slice ranges: empty, past the end, before the start */
    assert_null(cg_slice(ctx, x, 1, 2, 2));
    assert_error_mentions("[2, 2)", "[2, 3]");
    assert_null(cg_slice(ctx, x, 1, 1, 4));
    assert_null(cg_slice(ctx, x, 0, -3, 1));
    cg_ctx_destroy(ctx);
}

static void bad_label_names_row_and_value(void **state)
{
    (void)state;
    cg_ctx *ctx = cg_ctx_create(0);
    cg_tensor *x = cg_tensor_zeros(ctx, 2, (int64_t[]){4, 3});
    assert_null(cg_cross_entropy(ctx, x, (int32_t[]){0, 2, 3, 1}));
    assert_int_equal(cg_last_status(), CG_ERR_ARG);
    assert_error_mentions("label 3", "row 2");
    assert_null(cg_cross_entropy(ctx, x, (int32_t[]){-1, 0, 0, 0}));
    assert_error_mentions("label -1", "row 0");
    assert_null(cg_cross_entropy(ctx, x, NULL));
    assert_error_mentions("labels", NULL);
    cg_ctx_destroy(ctx);
}

static void activation_names_round_trip(void **state)
{
    (void)state;
    for (int a = CG_ACT_NONE; a <= CG_ACT_SOFTPLUS; a++) {
        cg_activation got;
        assert_true(cg_activation_from_name(cg_activation_name((cg_activation)a), &got));
        assert_int_equal(got, a);
    }
    cg_activation got = CG_ACT_RELU;
    assert_true(cg_activation_from_name("linear", &got));
    assert_int_equal(got, CG_ACT_NONE);
    assert_true(cg_activation_from_name("identity", &got));
    assert_int_equal(got, CG_ACT_NONE);
    assert_false(cg_activation_from_name("swish", &got));
    assert_string_equal(cg_activation_name(CG_ACT_LEAKY_RELU), "leaky_relu");
    cg_ctx *ctx = cg_ctx_create(0);
    cg_tensor *x = cg_tensor_zeros(ctx, 1, (int64_t[]){3});
    assert_ptr_equal(cg_activate(ctx, x, CG_ACT_NONE), x);
    assert_null(cg_activate(ctx, x, (cg_activation)99));
    /* The fused op too: an unknown activation is an error, not a silent identity. */
    cg_tensor *in = cg_tensor_zeros(ctx, 2, (int64_t[]){2, 3});
    cg_tensor *w = cg_tensor_zeros(ctx, 2, (int64_t[]){4, 3});
    cg_tensor *b = cg_tensor_zeros(ctx, 1, (int64_t[]){4});
    cg_clear_error();
    assert_null(cg_linear(ctx, in, w, b, (cg_activation)99));
    assert_int_equal(cg_last_status(), CG_ERR_ARG);
    assert_null(cg_linear(ctx, in, w, b, (cg_activation)-1));
    cg_ctx_destroy(ctx);
}

int main(void)
{
    static const struct CMUnitTest extra[] = {
        cmocka_unit_test(every_registered_op_has_a_case),
        cmocka_unit_test(every_case_names_a_registered_op),
        cmocka_unit_test(inference_mode_records_nothing),
        cmocka_unit_test(results_do_not_depend_on_thread_count),
        cmocka_unit_test(dropout_rate_scale_and_modes),
        cmocka_unit_test(shape_errors_name_both_shapes),
        cmocka_unit_test(null_input_propagates),
        cmocka_unit_test(bad_axis_is_an_error),
        cmocka_unit_test(bad_label_names_row_and_value),
        cmocka_unit_test(activation_names_round_trip),
        cmocka_unit_test(batch_norm_running_statistics),
        cmocka_unit_test(batch_norm_errors),
        cmocka_unit_test(batch_norm_does_not_depend_on_thread_count),
    };
    enum { N_EXTRA = sizeof extra / sizeof extra[0] };
    static struct CMUnitTest tests[N_CASES + N_EXTRA];
    for (size_t i = 0; i < N_CASES; i++)
        tests[i] = (struct CMUnitTest){cases[i].name, run_case, NULL, NULL, (void *)&cases[i]};
    for (size_t i = 0; i < N_EXTRA; i++) tests[N_CASES + i] = extra[i];
    return _cmocka_run_group_tests("gradcheck", tests, N_CASES + N_EXTRA, NULL, NULL);
}
