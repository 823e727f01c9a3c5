/* The registry of differentiable ops, by name. Every op file defines a
 * cg_op_def; listing it here makes it visible to cg_op_count/cg_op_name,
 * and the gradient-check test refuses to pass while a listed op has no case. */
#include "internal.h"

#include <string.h>

extern const cg_op_def cg_op_matmul, cg_op_linear;

static const cg_op_def *const registry[] = {
    &cg_op_matmul,
    &cg_op_linear,
};

#define REGISTRY_SIZE (sizeof registry / sizeof registry[0])

size_t cg_op_count(void) { return REGISTRY_SIZE; }

const char *cg_op_name(size_t i) { return i < REGISTRY_SIZE ? registry[i]->name : NULL; }

const cg_op_def *cg__op_find(const char *name)
{
    for (size_t i = 0; i < REGISTRY_SIZE; i++)
        if (strcmp(registry[i]->name, name) == 0) return registry[i];
    return NULL;
}
