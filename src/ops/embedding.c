/* Embedding lookup, as torch.nn.functional.embedding: every token id of
 * `ids` (any shape [N, ...], ids stored as floats) picks its row of weight
 * [V, D]; the output is [N, ..., D]. Backward adds each output row's
 * gradient to its id's row of dW, in index order, so results do not depend
 * on the thread count. */
#include "internal.h"

#include <math.h>
#include <string.h>

/* An id must be an integer in [0, V): anything else names its sample and
 * position, never reads outside the table. */
static bool ids_ok(const cg_tensor *ids, int64_t V)
{
    int64_t per_sample = ids->ndim > 0 && ids->shape[0] > 0 ? ids->size / ids->shape[0] : 1;
    for (int64_t i = 0; i < ids->size; i++) {
        float v = ids->data[i];
        if (v >= 0.0f && v < (float)V && v == floorf(v)) continue;
        cg_set_error(CG_ERR_ARG, "embedding: token id %g at sample %lld, position %lld is not "
                                 "in the vocabulary [0, %lld)",
                     (double)v, (long long)(i / per_sample), (long long)(i % per_sample),
                     (long long)V);
        return false;
    }
    return true;
}

static void embedding_backward(cg_ctx *ctx, cg_node *node)
{
    cg_tensor *ids = node->inputs[0], *w = node->inputs[1];
    const int64_t D = w->shape[1];
    bool acc;
    float *dw = cg__grad_dest(ctx, w, &acc);
    if (!dw) return;
    if (!acc) memset(dw, 0, (size_t)w->size * sizeof *dw);
    const float *dy = node->out->grad;
    for (int64_t i = 0; i < ids->size; i++) {
        float *row = dw + (int64_t)ids->data[i] * D;
        const float *g = dy + i * D;
        for (int64_t j = 0; j < D; j++) row[j] += g[j];
    }
}

const cg_op_def cg_op_embedding = {"embedding", embedding_backward};

cg_tensor *cg_embedding(cg_ctx *ctx, cg_tensor *ids, cg_tensor *weight)
{
    cg_tensor *in[2] = {ids, weight};
    if (cg__null_input("embedding", in, 2)) return NULL;
    char sw[96], si[96];
    if (!ctx) {
        cg_set_error(CG_ERR_ARG, "embedding: context is NULL");
        return NULL;
    }
    if (weight->ndim != 2 || ids->ndim < 1 || ids->ndim >= CG_MAX_DIMS) {
        cg_set_error(CG_ERR_ARG, "embedding: weight must be [vocab, dim] and ids of rank 1 to "
                                 "%d, got %s and %s", CG_MAX_DIMS - 1,
                     cg_shape_str(weight, sw, sizeof sw), cg_shape_str(ids, si, sizeof si));
        return NULL;
    }
    if (!ids_ok(ids, weight->shape[0])) return NULL;
    int64_t shape[CG_MAX_DIMS];
    memcpy(shape, ids->shape, (size_t)ids->ndim * sizeof *shape);
    shape[ids->ndim] = weight->shape[1];
    cg_tensor *y = cg__tensor_alloc(ctx, ids->ndim + 1, shape);
    if (!y) return NULL;
    const int64_t D = weight->shape[1];
#pragma omp parallel for schedule(static) if (y->size > 65536)
    for (int64_t i = 0; i < ids->size; i++)
        memcpy(y->data + i * D, weight->data + (int64_t)ids->data[i] * D, (size_t)D * sizeof(float));
    /* ids are data: only the table is differentiated. */
    if (cg__needs_grad(ctx, &weight, 1) && !cg__record(ctx, &cg_op_embedding, y, in, 2))
        return NULL;
    return y;
}
