/* cgrad explain's pieces shared between explain.c and explain_table.c. */
#ifndef CGRAD_CLI_EXPLAIN_H
#define CGRAD_CLI_EXPLAIN_H

#include "cgrad.h"

/* One explained sample. */
typedef struct explain_sample {
    int64_t index;            /* in the data set */
    int32_t label;            /* true class, or -1 without labels */
    char label_text[32];      /* the label as the CSV writes it ("" without) */
    int64_t predicted;        /* argmax of the output */
    double confidence;        /* its softmax probability (cross_entropy), else NaN */
    char target_text[32];     /* what was explained: a class index or "loss" */
    const float *x, *attr;    /* input_size floats each */
    cg_attr_info info;
} explain_sample;

/* Feature names: from a CSV file's header row, else from positions. */
typedef struct explain_names {
    char **names;
    int64_t count;
    bool from_header;
} explain_names;

cg_status explain_names_load(explain_names *out, const char *data_spec, const cg_model_spec *spec);
void explain_names_free(explain_names *n);

/* index,label,predicted,target,feature,value,attribution rows (CSV) or an
 * array of sample objects (JSON), written atomically. */
cg_status explain_write_table(const char *path, bool json, const explain_sample *samples, size_t n,
                              const explain_names *names, int64_t d, const char *method);
/* Can a file be written at path? (Nothing is left behind.) */
cg_status explain_check_writable(const char *path);

#endif
