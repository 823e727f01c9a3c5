/* Buffers: the non-trainable tensors layers keep (running statistics),
 * beside the flat parameter buffer and out of the optimizer's reach. Few and
 * small, so each has its own allocation. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

struct cg_buffers {
    cg_buffer *items;
    size_t n;
};

cg_buffers *cg__buffers_create(void)
{
    cg_buffers *b = calloc(1, sizeof *b);
    if (!b) cg_set_error(CG_ERR_NOMEM, "buffers: out of memory");
    return b;
}

void cg__buffers_destroy(cg_buffers *b)
{
    if (!b) return;
    for (size_t i = 0; i < b->n; i++) {
        free((char *)b->items[i].name);
        free(b->items[i].data);
    }
    free(b->items);
    free(b);
}

static size_t dtype_size(cg_dtype d) { return d == CG_DTYPE_I64 ? sizeof(int64_t) : sizeof(float); }

void *cg__buffers_add(cg_buffers *b, const char *name, cg_dtype dtype, int ndim,
                      const int64_t *shape)
{
    for (size_t i = 0; i < b->n; i++)
        if (strcmp(b->items[i].name, name) == 0) {
            cg_set_error(CG_ERR_ARG, "buffer \"%s\" added twice", name);
            return NULL;
        }
    if (!cg__check_shape(ndim, shape, name)) return NULL;
    int64_t size = cg__numel(ndim, shape);
    cg_buffer *items = realloc(b->items, (b->n + 1) * sizeof *items);
    if (items) b->items = items;
    char *copy = strdup(name);
    void *data = calloc((size_t)(size ? size : 1), dtype_size(dtype));
    if (!items || !copy || !data) {
        free(copy);
        free(data);
        cg_set_error(CG_ERR_NOMEM, "buffer \"%s\": out of memory", name);
        return NULL;
    }
    cg_buffer *e = &b->items[b->n++];
    *e = (cg_buffer){.name = copy, .dtype = dtype, .ndim = ndim, .size = size, .data = data};
    if (ndim > 0) memcpy(e->shape, shape, (size_t)ndim * sizeof *shape);
    return data;
}

size_t cg__buffers_count(const cg_buffers *b) { return b ? b->n : 0; }

cg_buffer *cg__buffers_at(cg_buffers *b, size_t i) { return b && i < b->n ? &b->items[i] : NULL; }
