/* Reading hand-written JSON (model files): typed readers that name the JSON
 * path of a bad value, shared by the model-file parser and every layer type.
 * Not installed. */
#ifndef CG_JSON_READ_H
#define CG_JSON_READ_H

#include "internal.h"

#include <cjson/cJSON.h>
#include <math.h>

/* Integers are exact in a JSON double only up to 2^53. */
#define CG_JSON_MAX_INT 9007199254740992.0

/* Where in the document a value is, e.g. "layers[2].units". */
typedef struct cg_json_path {
    char text[256];
    size_t len;
} cg_json_path;

/* Appends ".key" / "[i]" and returns the old length for cg__json_restore. */
size_t cg__json_key(cg_json_path *p, const char *key);
size_t cg__json_index(cg_json_path *p, size_t i);
void cg__json_restore(cg_json_path *p, size_t len);

/* Sets CG_ERR_FORMAT "PATH: message" and returns it. */
cg_status cg__json_fail(const cg_json_path *p, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* "PATH: expected WHAT, got VALUE" with the value as written, shortened. */
cg_status cg__json_expected(const cg_json_path *p, const char *what, const cJSON *v);

/* Refuses keys outside `allowed` (NULL-terminated) and duplicates: a typo
 * ("unit") would otherwise silently fall back to a default. `more`, when not
 * NULL, is a second allowed list (e.g. a layer type's own keys). */
cg_status cg__json_check_keys(const cJSON *obj, cg_json_path *p, const char *const *allowed,
                              const char *const *more);

typedef struct cg_json_range {
    double lo, hi;
    bool lo_open, hi_open;
} cg_json_range;

static const cg_json_range CG_RANGE_NONNEG = {0, INFINITY, false, true};
static const cg_json_range CG_RANGE_POSITIVE = {0, INFINITY, true, true};
static const cg_json_range CG_RANGE_UNIT_OPEN_TOP = {0, 1, false, true}; /* [0, 1) */
static const cg_json_range CG_RANGE_UNIT = {0, 1, false, false};         /* [0, 1] */
static const cg_json_range CG_RANGE_ANY = {-INFINITY, INFINITY, true, true};

/* Value readers: fail naming p when v has the wrong type or range. */
cg_status cg__json_int(const cJSON *v, cg_json_path *p, int64_t min, int64_t max, int64_t *out);
cg_status cg__json_float(const cJSON *v, cg_json_path *p, cg_json_range r, float *out);

/* Key readers: leave *out unchanged when the key is absent (it holds the
 * default) and fail, naming PATH.key, when the value is wrong. */
cg_status cg__json_read_int(const cJSON *obj, const char *key, cg_json_path *p, int64_t min,
                            int64_t max, int64_t *out);
cg_status cg__json_read_float(const cJSON *obj, const char *key, cg_json_path *p,
                              cg_json_range r, float *out);
cg_status cg__json_read_bool(const cJSON *obj, const char *key, cg_json_path *p, bool *out);
/* *out is the string, or NULL when absent. */
cg_status cg__json_read_string(const cJSON *obj, const char *key, cg_json_path *p,
                               const char **out);
/* An integer for both dimensions or a [height, width] pair, each in
 * [min, max] (kernel sizes, strides, padding); absent leaves out. */
cg_status cg__json_read_int_pair(const cJSON *obj, const char *key, cg_json_path *p, int64_t min,
                                 int64_t max, int64_t out[2]);
/* A string naming an activation (case-insensitive); absent leaves *out. */
/* Why "softmax" is neither an activation nor a layer type. */
#define CG__SOFTMAX_REFUSED                                                                    \
    "softmax is not an activation here: the cross_entropy loss takes logits (it applies "     \
    "log-softmax itself, as PyTorch's CrossEntropyLoss does), so end with a dense layer "      \
    "without activation; `cgrad predict` prints the softmax probabilities"
cg_status cg__json_read_activation(const cJSON *obj, const char *key, cg_json_path *p,
                                   cg_activation *out);
cg_status cg__json_require_object(const cJSON *v, cg_json_path *p);

#endif
