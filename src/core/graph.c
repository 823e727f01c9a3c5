/* Recording the forward pass and running it backwards.
 *
 * The tape is the list of recorded ops in creation order. An op's inputs
 * exist before the op runs, so creation order is a topological order and
 * walking the tape backwards visits every tensor after all of its consumers:
 * by then its gradient is complete and can be pushed to its own inputs. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

bool cg__needs_grad(const cg_ctx *ctx, cg_tensor *const *inputs, int n)
{
    if (!ctx->grad_enabled) return false;
    for (int i = 0; i < n; i++)
        if (inputs[i] && inputs[i]->requires_grad) return true;
    return false;
}

static bool tape_push(cg_ctx *ctx, cg_node *node)
{
    if (ctx->tape_len == ctx->tape_cap) {
        size_t cap = ctx->tape_cap ? ctx->tape_cap * 2 : 256;
        cg_node **grown = realloc(ctx->tape, cap * sizeof *grown);
        if (!grown) {
            cg_set_error(CG_ERR_NOMEM, "tape: cannot grow to %zu ops", cap);
            return false;
        }
        ctx->tape = grown;
        ctx->tape_cap = cap;
    }
    node->tape_index = ctx->tape_len;
    ctx->tape[ctx->tape_len++] = node;
    return true;
}

cg_node *cg__record(cg_ctx *ctx, const cg_op_def *op, cg_tensor *out,
                    cg_tensor *const *inputs, int n)
{
    cg_node *node = cg_arena_alloc(&ctx->arena, sizeof *node);
    if (!node) return NULL;
    memset(node, 0, sizeof *node);
    node->op = op;
    node->out = out;
    node->n_inputs = n;
    if (n <= CG_NODE_INLINE_INPUTS) {
        node->inputs = node->inline_inputs;
    } else {
        node->inputs = cg_arena_alloc(&ctx->arena, (size_t)n * sizeof *node->inputs);
        if (!node->inputs) return NULL;
    }
    for (int i = 0; i < n; i++) node->inputs[i] = inputs[i];
    if (!tape_push(ctx, node)) return NULL;
    out->node = node;
    out->requires_grad = true;
    return node;
}

static float *grad_storage(cg_ctx *ctx, cg_tensor *t)
{
    if (t->grad) return t->grad;
    if (t->owns_data) {
        /* Heap leaf: its gradient outlives the step, so it lives on the heap. */
        t->grad = malloc((size_t)t->size * sizeof(float));
        if (!t->grad) cg_set_error(CG_ERR_NOMEM, "gradient of %lld floats", (long long)t->size);
    } else {
        t->grad = cg_arena_alloc(&ctx->arena, (size_t)t->size * sizeof(float));
    }
    return t->grad;
}

float *cg__grad_dest(cg_ctx *ctx, cg_tensor *t, bool *accumulate)
{
    if (!t->requires_grad) return NULL;
    float *g = grad_storage(ctx, t);
    if (!g) {
        if (ctx->backward_status == CG_OK) ctx->backward_status = cg_last_status();
        return NULL;
    }
    *accumulate = t->grad_written;
    t->grad_written = true;
    return g;
}

static void run_node_backward(cg_ctx *ctx, cg_node *node)
{
    if (!ctx->profile) {
        node->op->backward(ctx, node);
        return;
    }
    double t0 = cg__clock();
    node->op->backward(ctx, node);
    cg__profile_add(ctx->profile, CG_PASS_BACKWARD, node->op->name, cg__clock() - t0);
}

static cg_status run_backward(cg_ctx *ctx, cg_tensor *out, const float *seed)
{
    if (!out) return cg_set_error(CG_ERR_ARG, "cg_backward: tensor is NULL");
    if (!out->node)
        return cg_set_error(CG_ERR_STATE, "cg_backward: the tensor was not produced by a "
                                          "recorded op (no input requires grad, or grad "
                                          "recording is off)");
    size_t last = out->node->tape_index;
    if (last >= ctx->tape_len || ctx->tape[last] != out->node)
        return cg_set_error(CG_ERR_STATE, "cg_backward: tensor belongs to another step "
                                          "(context was reset)");
    /* A second backward over the same tape must not add to the first one's
     * intermediate gradients; leaves (parameters) do accumulate, as in PyTorch. */
    for (size_t i = 0; i <= last; i++) ctx->tape[i]->out->grad_written = false;

    bool accumulate;
    float *g = cg__grad_dest(ctx, out, &accumulate);
    if (!g) return cg_set_error(CG_ERR_NOMEM, "cg_backward: no memory for the seed gradient");
    for (int64_t i = 0; i < out->size; i++) g[i] = seed ? seed[i] : 1.0f;

    ctx->backward_status = CG_OK;
    for (size_t i = last + 1; i-- > 0;) {
        cg_node *node = ctx->tape[i];
        if (!node->out->grad_written) continue; /* does not reach the loss */
        run_node_backward(ctx, node);
        if (ctx->backward_status != CG_OK)
            return cg_set_error(ctx->backward_status, "backward of %s: %s", node->op->name,
                                cg_last_error());
    }
    return CG_OK;
}

cg_status cg_backward(cg_ctx *ctx, cg_tensor *loss)
{
    if (!ctx) return cg_set_error(CG_ERR_ARG, "cg_backward: context is NULL");
    if (loss && loss->size != 1) {
        char buf[64];
        return cg_set_error(CG_ERR_ARG,
                            "cg_backward: loss must have one element, got shape %s "
                            "(use cg_backward_seeded)",
                            cg_shape_str(loss, buf, sizeof buf));
    }
    return run_backward(ctx, loss, NULL);
}

cg_status cg_backward_seeded(cg_ctx *ctx, cg_tensor *out, const float *seed)
{
    if (!ctx) return cg_set_error(CG_ERR_ARG, "cg_backward_seeded: context is NULL");
    if (!seed) return cg_set_error(CG_ERR_ARG, "cg_backward_seeded: seed is NULL");
    return run_backward(ctx, out, seed);
}
