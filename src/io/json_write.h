/* Building model-file JSON with cJSON, shared by the model-file writer and
 * every layer type's write function. A failed allocation anywhere is
 * recorded in the writer and fails the whole document: a model file silently
 * missing a key would read back as a different model. Not installed. */
#ifndef CG_JSON_WRITE_H
#define CG_JSON_WRITE_H

#include "internal.h"

#include <cjson/cJSON.h>

typedef struct cg_json_writer {
    bool failed;
} cg_json_writer;

/* item, or NULL recorded as a failure. */
cJSON *cg__jw_checked(cg_json_writer *w, cJSON *item);
/* Adds item under key / to array; on failure the item is freed and recorded. */
void cg__jw_add(cg_json_writer *w, cJSON *obj, const char *key, cJSON *item);
void cg__jw_append(cg_json_writer *w, cJSON *array, cJSON *item);

/* The shortest decimal that reads back as the same float (0.001, not
 * 0.0010000000474974513). */
cJSON *cg__jw_float_value(float v);
/* Integers as raw text: a double would round those above 2^53. */
cJSON *cg__jw_int_value(int64_t v);

void cg__jw_float(cg_json_writer *w, cJSON *obj, const char *key, float v);
void cg__jw_int(cg_json_writer *w, cJSON *obj, const char *key, int64_t v);
void cg__jw_string(cg_json_writer *w, cJSON *obj, const char *key, const char *v);
/* An integer when both dimensions agree, else [height, width]. */
void cg__jw_int_pair(cg_json_writer *w, cJSON *obj, const char *key, const int64_t v[2]);
void cg__jw_bool(cg_json_writer *w, cJSON *obj, const char *key, bool v);

#endif
