/* Bump allocator for one training step's activations and gradients.
 * Reset frees everything at once; if a step needed several chunks, reset
 * replaces them by one chunk of the combined size, so from the second step
 * on a training loop allocates nothing. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN 64
#define ARENA_DEFAULT_BYTES ((size_t)1 << 20)

static size_t align_up(size_t n) { return (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1); }

static cg_arena_chunk *chunk_new(size_t size)
{
    if (size > SIZE_MAX - ARENA_ALIGN) return NULL;
    cg_arena_chunk *c = malloc(sizeof *c);
    if (!c) return NULL;
    c->mem = aligned_alloc(ARENA_ALIGN, align_up(size));
    if (!c->mem) {
        free(c);
        return NULL;
    }
    c->size = align_up(size);
    c->used = 0;
    c->next = NULL;
    return c;
}

static void chunks_free(cg_arena_chunk *c)
{
    while (c) {
        cg_arena_chunk *next = c->next;
        free(c->mem);
        free(c);
        c = next;
    }
}

cg_status cg_arena_init(cg_arena *a, size_t bytes)
{
    a->used_total = a->peak = 0;
    a->head = chunk_new(bytes ? bytes : ARENA_DEFAULT_BYTES);
    if (!a->head) {
        a->reserved = 0;
        return cg_set_error(CG_ERR_NOMEM, "arena: cannot allocate %zu bytes", bytes);
    }
    a->reserved = a->head->size;
    return CG_OK;
}

void cg_arena_release(cg_arena *a)
{
    chunks_free(a->head);
    a->head = NULL;
    a->reserved = a->used_total = 0;
}

void *cg_arena_alloc(cg_arena *a, size_t bytes)
{
    size_t need = align_up(bytes ? bytes : 1);
    if (need < bytes) {
        cg_set_error(CG_ERR_NOMEM, "arena: request of %zu bytes overflows", bytes);
        return NULL;
    }
    if (!a->head || a->head->size - a->head->used < need) {
        size_t grow = a->reserved > need ? a->reserved : need;
        cg_arena_chunk *c = chunk_new(grow);
        if (!c) {
            cg_set_error(CG_ERR_NOMEM, "arena: cannot allocate %zu more bytes (%zu in use)",
                         grow, a->used_total);
            return NULL;
        }
        c->next = a->head;
        a->head = c;
        a->reserved += c->size;
    }
    void *p = a->head->mem + a->head->used;
#ifdef CG_ARENA_POISON
    memset(p, 0xff, need); /* all-ones bytes are NaN as floats */
#endif
    a->head->used += need;
    a->used_total += need;
    if (a->used_total > a->peak) a->peak = a->used_total;
    return p;
}

void cg_arena_reset(cg_arena *a)
{
    if (a->head && a->head->next) {
        /* Free first so the merge never needs twice the memory. If the merged
         * chunk cannot be had, the arena starts empty and grows again on
         * demand, reporting NOMEM at the allocation that cannot be met. */
        size_t total = a->reserved;
        chunks_free(a->head);
        a->head = chunk_new(total);
        a->reserved = a->head ? a->head->size : 0;
    }
    if (a->head) a->head->used = 0;
    a->used_total = 0;
}
