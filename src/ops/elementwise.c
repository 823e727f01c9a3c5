/* Elementwise arithmetic with NumPy broadcasting, and the scalar variants.
 *
 * Shapes align from the right; a missing dimension or one of size 1 repeats.
 * Each operand is described by its stride along every output dimension (0
 * where it repeats), so one strided walk covers any broadcast. Two layouts
 * get plain loops of their own because real models live on them: equal
 * shapes, and an operand that repeats whole trailing rows ([N,C] + [C],
 * scalars included). Backward sums the gradient over the dimensions an
 * operand was repeated along; every output of such a sum is added up in
 * index order by one thread, so results do not depend on the thread count. */
#include "internal.h"

#include <math.h>
#include <string.h>

typedef enum binary_kind { BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV } binary_kind;

/* Output shape; per operand k, stride[k][d] is its stride along output
 * dimension d (0 where it repeats); full[d] is the output's own stride. */
typedef struct bcast {
    int ndim;
    int64_t n;
    int64_t shape[CG_MAX_DIMS];
    int64_t full[CG_MAX_DIMS];
    int64_t stride[2][CG_MAX_DIMS];
} bcast;

/* One operand of a kernel: data, strides over the output dims, element count. */
typedef struct operand {
    const float *p;
    const int64_t *stride;
    int64_t size;
} operand;

/* Dimension d of the output as seen by t (1 where t has no such dimension). */
static int64_t aligned_dim(const cg_tensor *t, int ndim, int d)
{
    int td = d - (ndim - t->ndim);
    return td >= 0 ? t->shape[td] : 1;
}

static bool bcast_init(bcast *bc, const cg_tensor *a, const cg_tensor *b)
{
    const cg_tensor *t[2] = {a, b};
    bc->ndim = a->ndim > b->ndim ? a->ndim : b->ndim;
    bc->n = 1;
    for (int d = bc->ndim - 1; d >= 0; d--) {
        int64_t da = aligned_dim(a, bc->ndim, d), db = aligned_dim(b, bc->ndim, d);
        if (da != db && da != 1 && db != 1) return false;
        bc->shape[d] = da == 1 ? db : da;
        bc->full[d] = bc->n;
        bc->n *= bc->shape[d];
    }
    for (int k = 0; k < 2; k++) {
        int64_t s = 1;
        for (int d = bc->ndim - 1; d >= 0; d--) {
            int64_t dim = aligned_dim(t[k], bc->ndim, d);
            bc->stride[k][d] = dim == 1 ? 0 : s;
            s *= dim;
        }
    }
    return true;
}

/* Length of the trailing block of the output that `op` covers contiguously
 * and repeats before: op->size when op is such a row ([C] against [N,C], a
 * scalar against anything), else 0. */
static int64_t row_length(const bcast *bc, operand op)
{
    int64_t inner = 1;
    for (int d = bc->ndim - 1; d >= 0; d--) {
        if (op.stride[d] != bc->full[d] && bc->shape[d] != 1) break;
        inner *= bc->shape[d];
    }
    return op.size == inner ? inner : 0;
}

/* Offsets into a and b of output row r (rows of the last output dimension). */
static void row_offsets(const bcast *bc, operand a, operand b, int64_t r, int64_t *oa,
                        int64_t *ob)
{
    *oa = *ob = 0;
    for (int d = bc->ndim - 2; d >= 0; d--) {
        int64_t i = r % bc->shape[d];
        r /= bc->shape[d];
        *oa += i * a.stride[d];
        *ob += i * b.stride[d];
    }
}

/* ---- kernels: y (= or +=) a OP b, one loop per layout ---- */

#define LOOP_SAME(OP, SET)                                                         \
    _Pragma("omp parallel for simd schedule(static) if (n > 32768)")               \
    for (int64_t i = 0; i < n; i++) y[i] SET a[i] OP b[i];

#define LOOP_A_SCALAR(OP, SET)                                                     \
    _Pragma("omp parallel for simd schedule(static) if (n > 32768)")               \
    for (int64_t i = 0; i < n; i++) y[i] SET a[0] OP b[i];

#define LOOP_B_SCALAR(OP, SET)                                                     \
    _Pragma("omp parallel for simd schedule(static) if (n > 32768)")               \
    for (int64_t i = 0; i < n; i++) y[i] SET a[i] OP b[0];

#define LOOP_A_ROW(OP, SET)                                                        \
    _Pragma("omp parallel for schedule(static) if (n > 32768)")                    \
    for (int64_t r = 0; r < n / inner; r++) {                                      \
        const float *br = b + r * inner;                                           \
        float *yr = y + r * inner;                                                 \
        for (int64_t c = 0; c < inner; c++) yr[c] SET a[c] OP br[c];               \
    }

#define LOOP_B_ROW(OP, SET)                                                        \
    _Pragma("omp parallel for schedule(static) if (n > 32768)")                    \
    for (int64_t r = 0; r < n / inner; r++) {                                      \
        const float *ar = a + r * inner;                                           \
        float *yr = y + r * inner;                                                 \
        for (int64_t c = 0; c < inner; c++) yr[c] SET ar[c] OP b[c];               \
    }

#define LOOP_STRIDED(OP, SET)                                                      \
    _Pragma("omp parallel for schedule(static) if (n > 32768)")                    \
    for (int64_t r = 0; r < n / last; r++) {                                       \
        int64_t oa, ob;                                                            \
        row_offsets(bc, A, B, r, &oa, &ob);                                        \
        float *yr = y + r * last;                                                  \
        for (int64_t c = 0; c < last; c++) yr[c] SET a[oa + c * sa] OP b[ob + c * sb]; \
    }

#define DISPATCH(kind, acc, LOOP)                                                  \
    switch (kind) {                                                                \
    case BIN_ADD: if (acc) { LOOP(+, +=) } else { LOOP(+, =) } break;              \
    case BIN_SUB: if (acc) { LOOP(-, +=) } else { LOOP(-, =) } break;              \
    case BIN_MUL: if (acc) { LOOP(*, +=) } else { LOOP(*, =) } break;              \
    case BIN_DIV: if (acc) { LOOP(/, +=) } else { LOOP(/, =) } break;              \
    }

static void kernel_strided(binary_kind kind, const bcast *bc, operand A, operand B, float *y,
                           bool acc)
{
    const float *a = A.p, *b = B.p;
    int64_t n = bc->n, last = bc->shape[bc->ndim - 1];
    int64_t sa = A.stride[bc->ndim - 1], sb = B.stride[bc->ndim - 1];
    DISPATCH(kind, acc, LOOP_STRIDED)
}

/* y (= or +=) a OP b over the output of bc. y may alias an operand of the
 * output's full shape. */
static void binary_kernel(binary_kind kind, const bcast *bc, operand A, operand B, float *y,
                          bool acc)
{
    const float *a = A.p, *b = B.p;
    int64_t n = bc->n, inner;
    if (A.size == n && B.size == n) {
        DISPATCH(kind, acc, LOOP_SAME)
    } else if (A.size == n && B.size == 1) {
        DISPATCH(kind, acc, LOOP_B_SCALAR)
    } else if (B.size == n && A.size == 1) {
        DISPATCH(kind, acc, LOOP_A_SCALAR)
    } else if (A.size == n && (inner = row_length(bc, B)) > 0) {
        DISPATCH(kind, acc, LOOP_B_ROW)
    } else if (B.size == n && (inner = row_length(bc, A)) > 0) {
        DISPATCH(kind, acc, LOOP_A_ROW)
    } else {
        kernel_strided(kind, bc, A, B, y, acc);
    }
}

/* ---- sums of a full-shape gradient down to a broadcast operand ---- */

/* dst (= or +=) s·src for n values. */
static void scaled_copy(float *dst, const float *src, float s, int64_t n, bool acc)
{
    if (acc) {
#pragma omp parallel for simd schedule(static) if (n > 32768)
        for (int64_t i = 0; i < n; i++) dst[i] += s * src[i];
    } else {
#pragma omp parallel for simd schedule(static) if (n > 32768)
        for (int64_t i = 0; i < n; i++) dst[i] = s * src[i];
    }
}


/* Any broadcast: each element of operand k sums the output positions it
 * was repeated to. The innermost repeated dim is a plain strided loop; an
 * odometer walks the others. */
static void sum_strided(float *dst, const float *src, float s, const bcast *bc, int k,
                        int64_t m, bool acc)
{
    int64_t kept[CG_MAX_DIMS], kept_stride[CG_MAX_DIMS], rep[CG_MAX_DIMS],
        rep_stride[CG_MAX_DIMS], reps = 1;
    int nk = 0, nr = 0;
    for (int d = 0; d < bc->ndim; d++) {
        if (bc->shape[d] == 1) continue;
        if (bc->stride[k][d]) {
            kept[nk] = bc->shape[d];
            kept_stride[nk++] = bc->full[d];
        } else {
            rep[nr] = bc->shape[d];
            rep_stride[nr++] = bc->full[d];
            reps *= bc->shape[d];
        }
    }
    /* callers route operands that repeat along nothing to scaled_copy */
    int64_t run = rep[nr - 1], step = rep_stride[nr - 1];
    nr--;
#pragma omp parallel for schedule(static) if (m * reps > 32768)
    for (int64_t j = 0; j < m; j++) {
        int64_t base = 0, rest = j, idx[CG_MAX_DIMS] = {0}, off = 0;
        for (int i = nk - 1; i >= 0; i--) {
            base += rest % kept[i] * kept_stride[i];
            rest /= kept[i];
        }
        float sum = 0.0f;
        for (int64_t q = 0; q < reps / run; q++) {
            const float *p = src + base + off;
            for (int64_t c = 0; c < run; c++) sum += p[c * step];
            for (int i = nr - 1; i >= 0; i--) {
                off += rep_stride[i];
                if (++idx[i] < rep[i]) break;
                off -= rep[i] * rep_stride[i];
                idx[i] = 0;
            }
        }
        dst[j] = (acc ? dst[j] : 0.0f) + s * sum;
    }
}

/* dst (= or +=) s·(src summed over the dims operand k repeats along). */
static void reduce_to_operand(float *dst, bool acc, const float *src, float s, const bcast *bc,
                              int k, int64_t size)
{
    operand op = {NULL, bc->stride[k], size};
    int64_t inner;
    if (size == bc->n)
        scaled_copy(dst, src, s, size, acc);
    else if (size == 1)
        dst[0] = (acc ? dst[0] : 0.0f) + s * (float)cg__sum_all(src, bc->n);
    else if ((inner = row_length(bc, op)) > 0)
        cg__sum_rows(dst, src, s, bc->n / inner, inner, acc);
    else
        sum_strided(dst, src, s, bc, k, size, acc);
}

/* ---- add, sub, mul, div ---- */

static float *backward_scratch(cg_ctx *ctx, int64_t n)
{
    float *p = cg__scratch(ctx, n);
    if (!p && ctx->backward_status == CG_OK) ctx->backward_status = cg_last_status();
    return p;
}

/* db for y = a/b: −g·y/b, summed over b's repeated dims. */
static void divisor_grad(cg_ctx *ctx, cg_node *node, const bcast *bc, float *db, bool acc)
{
    cg_tensor *b = node->inputs[1], *y = node->out;
    float *c = backward_scratch(ctx, bc->n);
    if (!c) return;
    operand g = {y->grad, bc->full, bc->n}, yo = {y->data, bc->full, bc->n};
    operand co = {c, bc->full, bc->n}, bo = {b->data, bc->stride[1], b->size};
    binary_kernel(BIN_MUL, bc, g, yo, c, false);
    binary_kernel(BIN_DIV, bc, co, bo, c, false);
    reduce_to_operand(db, acc, c, -1.0f, bc, 1, b->size);
}

/* Gradient of operand k of y = a∘b, upstream g:
 *   add: da = g, db = g    sub: da = g, db = −g
 *   mul: da = g·b, db = g·a    div: da = g/b, db = −g·a/b² = −g·y/b
 * each summed over the dims the operand was repeated along. */
static void binary_grad(cg_ctx *ctx, cg_node *node, const bcast *bc, int k)
{
    cg_tensor *t = node->inputs[k], *other = node->inputs[1 - k];
    bool acc;
    float *dt = cg__grad_dest(ctx, t, &acc);
    if (!dt) return;
    binary_kind kind = (binary_kind)node->iarg[0];
    operand g = {node->out->grad, bc->full, bc->n};
    if (kind == BIN_ADD || kind == BIN_SUB) {
        float s = kind == BIN_SUB && k == 1 ? -1.0f : 1.0f;
        reduce_to_operand(dt, acc, g.p, s, bc, k, t->size);
        return;
    }
    if (kind == BIN_DIV && k == 1) {
        divisor_grad(ctx, node, bc, dt, acc);
        return;
    }
    /* g·other for mul, g/b for the dividend of div */
    binary_kind f = kind == BIN_DIV ? BIN_DIV : BIN_MUL;
    operand o = {other->data, bc->stride[1 - k], other->size};
    if (t->size == bc->n) {
        binary_kernel(f, bc, g, o, dt, acc);
        return;
    }
    float *c = backward_scratch(ctx, bc->n);
    if (!c) return;
    binary_kernel(f, bc, g, o, c, false);
    reduce_to_operand(dt, acc, c, 1.0f, bc, k, t->size);
}

static void binary_backward(cg_ctx *ctx, cg_node *node)
{
    bcast bc;
    bcast_init(&bc, node->inputs[0], node->inputs[1]);
    binary_grad(ctx, node, &bc, 0);
    binary_grad(ctx, node, &bc, 1);
}

const cg_op_def cg_op_add = {"add", binary_backward};
const cg_op_def cg_op_sub = {"sub", binary_backward};
const cg_op_def cg_op_mul = {"mul", binary_backward};
const cg_op_def cg_op_div = {"div", binary_backward};

static cg_tensor *binary(cg_ctx *ctx, binary_kind kind, cg_tensor *a, cg_tensor *b)
{
    static const cg_op_def *const ops[] = {&cg_op_add, &cg_op_sub, &cg_op_mul, &cg_op_div};
    const cg_op_def *op = ops[kind];
    cg_tensor *in[2] = {a, b};
    if (cg__null_input(op->name, in, 2)) return NULL;
    bcast bc;
    if (!bcast_init(&bc, a, b)) return cg__shape_error(op->name, a, b, "shapes do not broadcast");
    cg_tensor *y = cg__tensor_alloc(ctx, bc.ndim, bc.shape);
    if (!y) return NULL;
    operand oa = {a->data, bc.stride[0], a->size}, ob = {b->data, bc.stride[1], b->size};
    binary_kernel(kind, &bc, oa, ob, y->data, false);
    if (cg__needs_grad(ctx, in, 2)) {
        cg_node *node = cg__record(ctx, op, y, in, 2);
        if (!node) return NULL;
        node->iarg[0] = kind;
    }
    return y;
}

cg_tensor *cg_add(cg_ctx *ctx, cg_tensor *a, cg_tensor *b) { return binary(ctx, BIN_ADD, a, b); }
cg_tensor *cg_sub(cg_ctx *ctx, cg_tensor *a, cg_tensor *b) { return binary(ctx, BIN_SUB, a, b); }
cg_tensor *cg_mul(cg_ctx *ctx, cg_tensor *a, cg_tensor *b) { return binary(ctx, BIN_MUL, a, b); }
cg_tensor *cg_div(cg_ctx *ctx, cg_tensor *a, cg_tensor *b) { return binary(ctx, BIN_DIV, a, b); }

/* ---- scalar ops ---- */

/* y = m·x + c covers add_scalar, mul_scalar and neg; dx = m·dy. */
static void affine_backward(cg_ctx *ctx, cg_node *node)
{
    cg_tensor *x = node->inputs[0], *y = node->out;
    bool acc;
    float *dx = cg__grad_dest(ctx, x, &acc);
    if (dx) scaled_copy(dx, y->grad, node->farg[0], x->size, acc);
}

const cg_op_def cg_op_add_scalar = {"add_scalar", affine_backward};
const cg_op_def cg_op_mul_scalar = {"mul_scalar", affine_backward};
const cg_op_def cg_op_neg = {"neg", affine_backward};

static cg_tensor *affine(cg_ctx *ctx, const cg_op_def *op, cg_tensor *x, float m, float c)
{
    if (cg__null_input(op->name, &x, 1)) return NULL;
    cg_tensor *y = cg__tensor_like(ctx, x);
    if (!y) return NULL;
    const float *xd = x->data;
    float *yd = y->data;
    int64_t n = x->size;
#pragma omp parallel for simd schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; i++) yd[i] = m * xd[i] + c;
    if (cg__needs_grad(ctx, &x, 1)) {
        cg_node *node = cg__record(ctx, op, y, &x, 1);
        if (!node) return NULL;
        node->farg[0] = m;
    }
    return y;
}

cg_tensor *cg_add_scalar(cg_ctx *ctx, cg_tensor *a, float s)
{
    return affine(ctx, &cg_op_add_scalar, a, 1.0f, s);
}

cg_tensor *cg_mul_scalar(cg_ctx *ctx, cg_tensor *a, float s)
{
    return affine(ctx, &cg_op_mul_scalar, a, s, 0.0f);
}

cg_tensor *cg_neg(cg_ctx *ctx, cg_tensor *a) { return affine(ctx, &cg_op_neg, a, -1.0f, 0.0f); }

/* y = xᵖ; dx = p·xᵖ⁻¹·dy (0 for p = 0, as PyTorch, even where xᵖ⁻¹ is infinite). */
static void pow_backward(cg_ctx *ctx, cg_node *node)
{
    cg_tensor *x = node->inputs[0], *y = node->out;
    bool acc;
    float *dx = cg__grad_dest(ctx, x, &acc);
    if (!dx) return;
    const float *xd = x->data, *dy = y->grad;
    float p = node->farg[0];
    int64_t n = x->size;
#pragma omp parallel for schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; i++) {
        float g = p == 0.0f ? 0.0f : p * powf(xd[i], p - 1.0f) * dy[i];
        dx[i] = acc ? dx[i] + g : g;
    }
}

const cg_op_def cg_op_pow_scalar = {"pow_scalar", pow_backward};

cg_tensor *cg_pow_scalar(cg_ctx *ctx, cg_tensor *a, float exponent)
{
    if (cg__null_input("pow_scalar", &a, 1)) return NULL;
    cg_tensor *y = cg__tensor_like(ctx, a);
    if (!y) return NULL;
    const float *xd = a->data;
    float *yd = y->data;
    int64_t n = a->size;
    if (exponent == 2.0f) {
#pragma omp parallel for simd schedule(static) if (n > 32768)
        for (int64_t i = 0; i < n; i++) yd[i] = xd[i] * xd[i];
    } else {
#pragma omp parallel for schedule(static) if (n > 32768)
        for (int64_t i = 0; i < n; i++) yd[i] = powf(xd[i], exponent);
    }
    if (cg__needs_grad(ctx, &a, 1)) {
        cg_node *node = cg__record(ctx, &cg_op_pow_scalar, y, &a, 1);
        if (!node) return NULL;
        node->farg[0] = exponent;
    }
    return y;
}
