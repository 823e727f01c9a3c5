/* Tables: how a CSV's columns became samples (names, the target, which
 * columns are features, the categories of text columns, the class names),
 * and that description as the JSON a checkpoint keeps in its metadata.
 * The CSV reader (csv.c) learns a table from training data and applies a
 * stored one to new data. */
#include "data_internal.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void free_strings(char **s, int64_t n)
{
    for (int64_t i = 0; s && i < n; i++) free(s[i]);
    free(s);
}

void cg_table_free(cg_table *t)
{
    if (!t) return;
    free_strings(t->names, t->n_columns);
    for (int64_t i = 0; t->features && i < t->n_features; i++)
        free_strings(t->features[i].categories, t->features[i].n_categories);
    free(t->features);
    free_strings(t->classes, t->n_classes);
    free(t);
}

/* ------------------------------------------------------------ writing */

static cJSON *string_array(char *const *s, int64_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (int64_t i = 0; a && i < n; i++) {
        cJSON *v = cJSON_CreateString(s[i]);
        if (!v || !cJSON_AddItemToArray(a, v)) {
            cJSON_Delete(v);
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

static bool add_feature(cJSON *features, const cg_table_feature *f)
{
    cJSON *o = cJSON_CreateObject();
    bool ok = o && cJSON_AddItemToArray(features, o) &&
              cJSON_AddNumberToObject(o, "column", (double)f->column);
    if (ok && f->n_categories > 0) {
        cJSON *c = string_array(f->categories, f->n_categories);
        ok = c && cJSON_AddItemToObject(o, "categories", c);
        if (!ok) cJSON_Delete(c);
    } else if (!o) {
        ok = false;
    }
    return ok;
}

static bool add_array(cJSON *root, const char *key, char *const *s, int64_t n)
{
    cJSON *a = string_array(s, n);
    if (a && cJSON_AddItemToObject(root, key, a)) return true;
    cJSON_Delete(a);
    return false;
}

char *cg_table_to_json(const cg_table *t)
{
    if (!t) {
        cg_set_error(CG_ERR_ARG, "cg_table_to_json: table is NULL");
        return NULL;
    }
    cJSON *root = cJSON_CreateObject();
    bool ok = root && cJSON_AddNumberToObject(root, "columns", (double)t->n_columns) &&
              cJSON_AddNumberToObject(root, "target", (double)t->target);
    if (ok && t->names) ok = add_array(root, "names", t->names, t->n_columns);
    cJSON *features = ok ? cJSON_AddArrayToObject(root, "features") : NULL;
    ok = ok && features;
    for (int64_t i = 0; ok && i < t->n_features; i++) ok = add_feature(features, &t->features[i]);
    if (ok && t->classes) ok = add_array(root, "classes", t->classes, t->n_classes);
    char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!text) cg_set_error(CG_ERR_NOMEM, "cg_table_to_json: out of memory");
    return text;
}

char *cg_table_classes_json(const cg_table *t)
{
    if (!t || !t->classes) return NULL;
    cJSON *a = string_array(t->classes, t->n_classes);
    char *text = a ? cJSON_PrintUnformatted(a) : NULL;
    cJSON_Delete(a);
    if (!text) cg_set_error(CG_ERR_NOMEM, "cg_table_classes_json: out of memory");
    return text;
}

/* ------------------------------------------------------------ reading */

static cg_status bad(const char *what)
{
    return cg_set_error(CG_ERR_FORMAT, "table: %s", what);
}

static bool read_index(const cJSON *v, int64_t lo, int64_t hi, int64_t *out)
{
    if (!cJSON_IsNumber(v) || v->valuedouble != (double)(int64_t)v->valuedouble) return false;
    int64_t x = (int64_t)v->valuedouble;
    if (x < lo || x > hi) return false;
    *out = x;
    return true;
}

/* A JSON array of n strings (n = -1: any length) into a new array. */
static bool read_strings(const cJSON *a, int64_t n, char ***out, int64_t *count)
{
    int size = cJSON_GetArraySize(a);
    if (!cJSON_IsArray(a) || (n >= 0 && size != n) || size < 1) return false;
    char **s = calloc((size_t)size, sizeof *s);
    if (!s) return false;
    for (int i = 0; i < size; i++) {
        const cJSON *v = cJSON_GetArrayItem(a, i);
        if (!cJSON_IsString(v) || !(s[i] = strdup(v->valuestring))) {
            free_strings(s, size);
            return false;
        }
    }
    *out = s;
    *count = size;
    return true;
}

/* Categories and class names are looked up by binary search. */
static bool sorted_distinct(char *const *s, int64_t n)
{
    for (int64_t i = 1; i < n; i++)
        if (strcmp(s[i - 1], s[i]) >= 0) return false;
    return true;
}

static bool distinct(char *const *s, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = i + 1; j < n; j++)
            if (strcmp(s[i], s[j]) == 0) return false;
    return true;
}

static cg_status read_feature(const cJSON *o, cg_table *t, cg_table_feature *f)
{
    if (!read_index(cJSON_GetObjectItemCaseSensitive(o, "column"), 0, t->n_columns - 1, &f->column) ||
        f->column == t->target)
        return bad("a feature's \"column\" is not a column of the table other than the target");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "categories");
    int64_t n = 0;
    bool read = !c || read_strings(c, -1, &f->categories, &n);
    f->n_categories = (int32_t)(n < INT32_MAX ? n : INT32_MAX);   /* owned, whatever follows */
    if (!read || n > CG_TABLE_MAX_CATEGORIES)
        return bad("a feature's \"categories\" is not a list of names");
    if (!sorted_distinct(f->categories, n)) return bad("a feature's categories are not sorted");
    int64_t width = n > 0 ? n : 1;
    if (t->sample_size > INT32_MAX - width) return bad("too many values per sample");
    t->sample_size += width;
    return CG_OK;
}

static cg_status read_table(const cJSON *root, cg_table *t)
{
    if (!cJSON_IsObject(root)) return bad("not a JSON object");
    if (!read_index(cJSON_GetObjectItemCaseSensitive(root, "columns"), 1, INT32_MAX, &t->n_columns) ||
        !read_index(cJSON_GetObjectItemCaseSensitive(root, "target"), -1, t->n_columns - 1,
                    &t->target))
        return bad("\"columns\" or \"target\" is missing or out of range");
    const cJSON *names = cJSON_GetObjectItemCaseSensitive(root, "names");
    int64_t n;
    if (names && !read_strings(names, t->n_columns, &t->names, &n))
        return bad("\"names\" is not a list of one name per column");
    const cJSON *features = cJSON_GetObjectItemCaseSensitive(root, "features");
    int count = cJSON_GetArraySize(features);
    if (!cJSON_IsArray(features) || count < 1 || count > t->n_columns)
        return bad("\"features\" is not a list of columns");
    t->features = calloc((size_t)count, sizeof *t->features);
    if (!t->features) return cg_set_error(CG_ERR_NOMEM, "table: out of memory");
    for (int i = 0; i < count; i++) {
        t->n_features = i + 1;
        cg_status s = read_feature(cJSON_GetArrayItem(features, i), t, &t->features[i]);
        if (s) return s;
    }
    const cJSON *classes = cJSON_GetObjectItemCaseSensitive(root, "classes");
    n = 0;
    bool read = !classes || read_strings(classes, -1, &t->classes, &n);
    t->n_classes = (int32_t)(n < INT32_MAX ? n : INT32_MAX);   /* owned, whatever follows */
    if (!read || n > CG_TABLE_MAX_CATEGORIES || !distinct(t->classes, n))
        return bad("\"classes\" is not a list of distinct names");
    if (t->classes && t->target < 0) return bad("class names without a target column");
    return CG_OK;
}

cg_status cg_table_from_json(const char *json, cg_table **out)
{
    if (!out) return cg_set_error(CG_ERR_ARG, "cg_table_from_json: out is NULL");
    *out = NULL;
    cJSON *root = json ? cJSON_Parse(json) : NULL;
    if (!root) return bad("not valid JSON");
    cg_table *t = calloc(1, sizeof *t);
    cg_status s = t ? read_table(root, t) : cg_set_error(CG_ERR_NOMEM, "table: out of memory");
    cJSON_Delete(root);
    if (s) {
        cg_table_free(t);
        return s;
    }
    *out = t;
    return CG_OK;
}

cg_table *cg__table_clone(const cg_table *t)
{
    char *json = cg_table_to_json(t);
    cg_table *copy = NULL;
    if (json) cg_table_from_json(json, &copy);
    if (copy) copy->header_detected = t->header_detected;
    free(json);
    return copy;
}

/* ------------------------------------------------------------ lookups */

static int compare_names(const void *key, const void *item)
{
    return strcmp(key, *(char *const *)item);
}

int32_t cg__names_find_sorted(char *const *names, int32_t n, const char *name)
{
    char *const *hit = n > 0 ? bsearch(name, names, (size_t)n, sizeof *names, compare_names) : NULL;
    return hit ? (int32_t)(hit - names) : -1;
}

int32_t cg__names_find(char *const *names, int32_t n, const char *name)
{
    for (int32_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0) return i;
    return -1;
}

void cg__names_list(char *const *names, int64_t n, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int64_t i = 0; i < n && len + 1 < size; i++) {
        if (len > size - 64 && i + 1 < n) {
            snprintf(buf + len, size - len, "... (%lld more)", (long long)(n - i));
            return;
        }
        int w = snprintf(buf + len, size - len, "%s'%s'", i ? ", " : "", names[i]);
        if (w < 0) return;
        len += (size_t)w < size - len ? (size_t)w : size - len - 1;
    }
}
