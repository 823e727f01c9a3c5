/* What the model-file sources share (modelfile.c parses and validates,
 * modelfile_memory.c estimates training memory, modelfile_write.c writes a
 * spec back as JSON). Not installed. */
#ifndef CGRAD_MODELFILE_INTERNAL_H
#define CGRAD_MODELFILE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

/* Overflow-checked size arithmetic for shape inference and the memory
 * estimate: false (and *out untouched) when a negative operand or an
 * overflow makes the result meaningless. */
static inline bool checked_mul(int64_t a, int64_t b, int64_t *out)
{
    if (a < 0 || b < 0 || (a != 0 && b > INT64_MAX / a)) return false;
    *out = a * b;
    return true;
}

static inline bool checked_add(int64_t a, int64_t b, int64_t *out)
{
    if (a < 0 || b < 0 || a > INT64_MAX - b) return false;
    *out = a + b;
    return true;
}

static inline bool shape_numel(int ndim, const int64_t *shape, int64_t *out)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        if (!checked_mul(n, shape[i], &n)) return false;
    *out = n;
    return true;
}

#endif
