/* The context of a training or inference step: arena, tape and mode. */
#include "internal.h"

#include <stdlib.h>

cg_ctx *cg_ctx_create(size_t arena_bytes)
{
    cg__threads_init();
    cg_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        cg_set_error(CG_ERR_NOMEM, "cg_ctx_create: out of memory");
        return NULL;
    }
    if (cg_arena_init(&ctx->arena, arena_bytes) != CG_OK) {
        free(ctx);
        return NULL;
    }
    ctx->grad_enabled = true;
    ctx->training = true;
    cg_rng_seed(&ctx->rng, 0);
    return ctx;
}

void cg_ctx_destroy(cg_ctx *ctx)
{
    if (!ctx) return;
    cg_arena_release(&ctx->arena);
    free(ctx->tape);
    free(ctx);
}

void cg_ctx_reset(cg_ctx *ctx)
{
    if (!ctx) return;
    cg_arena_reset(&ctx->arena);
    ctx->tape_len = 0;
}

void cg_ctx_set_grad_enabled(cg_ctx *ctx, bool enabled)
{
    if (ctx) ctx->grad_enabled = enabled;
}

void cg_ctx_set_training(cg_ctx *ctx, bool training)
{
    if (ctx) ctx->training = training;
}

bool cg_ctx_grad_enabled(const cg_ctx *ctx) { return ctx && ctx->grad_enabled; }
bool cg_ctx_training(const cg_ctx *ctx) { return ctx && ctx->training; }
cg_rng *cg_ctx_rng(cg_ctx *ctx) { return ctx ? &ctx->rng : NULL; }
size_t cg_ctx_arena_used(const cg_ctx *ctx) { return ctx ? ctx->arena.used_total : 0; }
size_t cg_ctx_arena_peak(const cg_ctx *ctx) { return ctx ? ctx->arena.peak : 0; }
size_t cg_ctx_arena_reserved(const cg_ctx *ctx) { return ctx ? ctx->arena.reserved : 0; }
size_t cg_ctx_tape_length(const cg_ctx *ctx) { return ctx ? ctx->tape_len : 0; }
