/* Matrix products (ops/gemm.c): plain matmul and the fused dense op.
 * Transposed operands are handled by sgemm's transpose flags, never by
 * materialising a transpose. */
#include "activation_kernels.h"

#include <string.h>

/* ---------------------------------------------------------------- matmul */
/* C = op(A)·op(B). Backward (dC upstream):
 *   dA = dC·op(B)ᵀ (stored transposed when A is read transposed)
 *   dB = op(A)ᵀ·dC (likewise for B) */

/* C = op(A)·op(B), overwriting C (acc false) or adding to it (acc true). */
static void gemm(bool ta, bool tb, int M, int N, int K, const float *A, int lda, const float *B,
                 int ldb, bool acc, float *C)
{
    cg__gemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, acc, C, N);
}

static void matmul_backward(cg_ctx *ctx, cg_node *node)
{
    cg_tensor *a = node->inputs[0], *b = node->inputs[1], *c = node->out;
    bool ta = node->iarg[0], tb = node->iarg[1];
    int M = (int)c->shape[0], N = (int)c->shape[1];
    int K = (int)(ta ? a->shape[0] : a->shape[1]);
    int lda = (int)a->shape[1], ldb = (int)b->shape[1];
    const float *dc = c->grad;
    bool acc;
    float *da = cg__grad_dest(ctx, a, &acc);
    if (da) {
        if (!ta)
            gemm(false, !tb, M, K, N, dc, N, b->data, ldb, acc, da);
        else
            gemm(tb, true, K, M, N, b->data, ldb, dc, N, acc, da);
    }
    float *db = cg__grad_dest(ctx, b, &acc);
    if (db) {
        if (!tb)
            gemm(!ta, false, K, N, M, a->data, lda, dc, N, acc, db);
        else
            gemm(true, ta, N, K, M, dc, N, a->data, lda, acc, db);
    }
}

const cg_op_def cg_op_matmul = {"matmul", matmul_backward};

cg_tensor *cg_matmul(cg_ctx *ctx, cg_tensor *a, cg_tensor *b, bool trans_a, bool trans_b)
{
    cg_tensor *in[2] = {a, b};
    if (cg__null_input("matmul", in, 2)) return NULL;
    if (a->ndim != 2 || b->ndim != 2) return cg__shape_error("matmul", a, b, "operands must be 2-D");
    int64_t M = trans_a ? a->shape[1] : a->shape[0];
    int64_t K = trans_a ? a->shape[0] : a->shape[1];
    int64_t Kb = trans_b ? b->shape[1] : b->shape[0];
    int64_t N = trans_b ? b->shape[0] : b->shape[1];
    if (K != Kb) return cg__shape_error("matmul", a, b, "inner dimensions differ");
    if (M > INT32_MAX || N > INT32_MAX || K > INT32_MAX)
        return cg__shape_error("matmul", a, b, "dimension exceeds BLAS's int range");
    cg_tensor *c = cg__tensor_alloc(ctx, 2, (int64_t[]){M, N});
    if (!c) return NULL;
    gemm(trans_a, trans_b, (int)M, (int)N, (int)K, a->data, (int)a->shape[1], b->data,
         (int)b->shape[1], false, c->data);
    if (cg__needs_grad(ctx, in, 2)) {
        cg_node *node = cg__record(ctx, &cg_op_matmul, c, in, 2);
        if (!node) return NULL;
        node->iarg[0] = trans_a;
        node->iarg[1] = trans_b;
    }
    return c;
}

/* ---------------------------------------------------------------- linear */
/* y = act(z), z = x·wᵀ + b with x [N,in], w [out,in], b [out]. Backward:
 *   dz = dy ⊙ act'(z);  dw += dzᵀ·x;  db += Σ_rows dz;  dx += dz·w */

static void linear_backward(cg_ctx *ctx, cg_node *node)
{
    cg_tensor *x = node->inputs[0], *w = node->inputs[1], *y = node->out;
    cg_tensor *b = node->n_inputs > 2 ? node->inputs[2] : NULL;
    cg_activation act = (cg_activation)node->iarg[0];
    int N = (int)x->shape[0], in = (int)x->shape[1], out = (int)w->shape[0];
    const float *dz = y->grad;
    if (act != CG_ACT_NONE) {
        /* The output's gradient is not needed after this op: reuse it for dz. */
        float *buf = y->grad;
        cg__act_backward(act, node->saved, y->data, y->grad, buf, y->size, false);
        dz = buf;
    }
    bool acc;
    float *dw = cg__grad_dest(ctx, w, &acc);
    if (dw) gemm(true, false, out, in, N, dz, out, x->data, in, acc, dw);
    float *db = b ? cg__grad_dest(ctx, b, &acc) : NULL;
    if (db) cg__sum_rows(db, dz, 1.0f, N, out, acc);
    float *dx = cg__grad_dest(ctx, x, &acc);
    if (dx) gemm(false, false, N, in, out, dz, out, w->data, in, acc, dx);
}

const cg_op_def cg_op_linear = {"linear", linear_backward};

/* Every row of y[rows, cols] set to bias (zeros without one). */
static void fill_rows(float *y, const float *bias, int64_t rows, int64_t cols)
{
    if (!bias) {
        memset(y, 0, (size_t)(rows * cols) * sizeof(float));
        return;
    }
    for (int64_t r = 0; r < rows; r++) memcpy(y + r * cols, bias, (size_t)cols * sizeof(float));
}

static bool linear_shapes_ok(cg_tensor *x, cg_tensor *w, cg_tensor *b)
{
    if (x->ndim != 2 || w->ndim != 2) {
        cg__shape_error("linear", x, w, "input must be [N,in] and weight [out,in]");
        return false;
    }
    if (x->shape[1] != w->shape[1]) {
        cg__shape_error("linear", x, w, "input features differ from weight's in_features");
        return false;
    }
    if (b && (b->ndim != 1 || b->shape[0] != w->shape[0])) {
        cg__shape_error("linear", w, b, "bias must be [out]");
        return false;
    }
    if (x->shape[0] > INT32_MAX || x->shape[1] > INT32_MAX || w->shape[0] > INT32_MAX) {
        cg__shape_error("linear", x, w, "dimension exceeds BLAS's int range");
        return false;
    }
    return true;
}

cg_tensor *cg_linear(cg_ctx *ctx, cg_tensor *x, cg_tensor *w, cg_tensor *b, cg_activation act)
{
    cg_tensor *in[3] = {x, w, b};
    if (cg__null_input("linear", in, 2)) return NULL;
    /* The kernels' switches have no default: an unknown value would leave y
     * without bias and activation instead of failing. */
    if ((unsigned)act > CG_ACT_SOFTPLUS) {
        cg_set_error(CG_ERR_ARG, "linear: unknown activation %d", (int)act);
        return NULL;
    }
    if (!linear_shapes_ok(x, w, b)) return NULL;
    int64_t N = x->shape[0], nin = x->shape[1], nout = w->shape[0];
    cg_tensor *y = cg__tensor_alloc(ctx, 2, (int64_t[]){N, nout});
    if (!y) return NULL;
    /* z = b (broadcast over rows) + x·wᵀ: the bias is the GEMM's starting
     * value, so no separate bias pass. */
    fill_rows(y->data, b ? b->data : NULL, N, nout);
    cg__gemm(false, true, N, nout, nin, 1.0f, x->data, nin, w->data, nin, true, y->data, nout);
    int n_in = b ? 3 : 2;
    bool record = cg__needs_grad(ctx, in, n_in);
    float *z = NULL;
    if (record && cg__act_grad_needs_input(act)) {
        /* The derivative needs the pre-activation: the GEMM's result stays
         * as z and the activation writes a buffer of its own (a copy of z
         * took 1% of a Transformer step). */
        z = y->data;
        if (!(y->data = cg__scratch(ctx, y->size))) return NULL;
    }
    if (act != CG_ACT_NONE) cg__act_forward(act, z ? z : y->data, NULL, y->data, N, nout);
    if (record) {
        cg_node *node = cg__record(ctx, &cg_op_linear, y, in, n_in);
        if (!node) return NULL;
        node->iarg[0] = act;
        node->saved = z;
    }
    return y;
}
