/* Shared by the data set loaders (src/data/); not installed. */
#ifndef CGRAD_DATA_INTERNAL_H
#define CGRAD_DATA_INTERNAL_H

#include "cgrad.h"

#include <stdbool.h>
#include <stdint.h>

/* a * b for non-negative a, b; false if the product would exceed limit. */
static inline bool cg__mul_within(int64_t a, int64_t b, int64_t limit, int64_t *out)
{
    if (b != 0 && a > limit / b) return false;
    *out = a * b;
    return true;
}

/* Records where a data set came from (truncated to fit). */
void cg__dataset_set_source(cg_dataset *d, const char *source);

/* Checks a requested sample shape against sample_size elements; `what`
 * names the source in the message. */
cg_status cg__check_sample_shape(const char *what, int ndim, const int64_t *shape,
                                 int64_t sample_size);

/* cg_dataset_load_csv with class_limit > 0: a label outside [0, class_limit)
 * is refused with its line and column. */
cg_status cg__dataset_load_csv(cg_dataset *out, const char *path, bool classification,
                               int32_t class_limit, const int64_t *sample_shape, int sample_ndim);

#endif
