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

/* Whether a CSV's first row is a header: detected, or said in the spec
 * ("csv:PATH,header=yes"). */
typedef enum cg_csv_header { CG_CSV_HEADER_DETECT, CG_CSV_HEADER_YES, CG_CSV_HEADER_NO } cg_csv_header;

/* cg_dataset_load_csv with every option: opts->num_classes > 0 refuses
 * labels outside [0, num_classes) with their line and column; the sample
 * shape is opts's when it has one. */
cg_status cg__dataset_load_csv(cg_dataset *out, const char *path, bool classification,
                               cg_csv_header header, const cg_data_options *opts);

/* ---- tables (table.c) ---- */

/* More distinct values than this make a text column an identifier, not a
 * category (and a target with more class names is refused). */
#define CG_TABLE_MAX_CATEGORIES 1000

/* A deep copy; NULL with the error set. */
cg_table *cg__table_clone(const cg_table *t);
/* Index of name in sorted names (binary search) or in any order; -1 if absent. */
int32_t cg__names_find_sorted(char *const *names, int32_t n, const char *name);
int32_t cg__names_find(char *const *names, int32_t n, const char *name);
/* "'a', 'b', 'c'" into buf, shortened with "... (N more)" to fit. */
void cg__names_list(char *const *names, int64_t n, char *buf, size_t size);

#endif
