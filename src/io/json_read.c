/* Typed readers for model-file JSON; every failure names the JSON path of
 * the offending value, because a model file is written by hand and
 * "invalid model" alone sends the user hunting. */
#include "json_read.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t append_path(cg_json_path *p, const char *segment)
{
    size_t old = p->len;
    int n = snprintf(p->text + p->len, sizeof p->text - p->len, "%s", segment);
    if (n > 0) p->len = p->len + (size_t)n < sizeof p->text ? p->len + (size_t)n : sizeof p->text - 1;
    return old;
}

size_t cg__json_key(cg_json_path *p, const char *key)
{
    char segment[128];
    snprintf(segment, sizeof segment, "%s%s", p->len ? "." : "", key);
    return append_path(p, segment);
}

size_t cg__json_index(cg_json_path *p, size_t i)
{
    char segment[32];
    snprintf(segment, sizeof segment, "[%zu]", i);
    return append_path(p, segment);
}

void cg__json_restore(cg_json_path *p, size_t len)
{
    p->len = len;
    p->text[len] = '\0';
}

cg_status cg__json_fail(const cg_json_path *p, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return cg_set_error(CG_ERR_FORMAT, "%s: %s", p->len ? p->text : "model file", msg);
}

/* The offending value as the user wrote it (JSON), shortened. */
static const char *describe(const cJSON *v, char *buf, size_t size)
{
    char *text = cJSON_PrintUnformatted(v);
    if (!text) {
        snprintf(buf, size, "a value");
        return buf;
    }
    if (strlen(text) > 40)
        snprintf(buf, size, "%.37s...", text);
    else
        snprintf(buf, size, "%s", text);
    free(text);
    return buf;
}

cg_status cg__json_expected(const cg_json_path *p, const char *what, const cJSON *v)
{
    char got[64];
    return cg__json_fail(p, "expected %s, got %s", what, describe(v, got, sizeof got));
}

static bool listed(const char *const *list, const char *key)
{
    for (; list && *list; list++)
        if (strcmp(*list, key) == 0) return true;
    return false;
}

static void list_text(const char *const *allowed, const char *const *more, char *buf, size_t size)
{
    buf[0] = '\0';
    const char *const *lists[2] = {allowed, more};
    for (int l = 0; l < 2; l++)
        for (const char *const *a = lists[l]; a && *a; a++)
            snprintf(buf + strlen(buf), size - strlen(buf), "%s%s", buf[0] ? ", " : "", *a);
}

cg_status cg__json_check_keys(const cJSON *obj, cg_json_path *p, const char *const *allowed,
                              const char *const *more)
{
    for (const cJSON *it = obj->child; it; it = it->next) {
        if (!listed(allowed, it->string) && !listed(more, it->string)) {
            char list[256];
            list_text(allowed, more, list, sizeof list);
            return cg__json_fail(p, "unknown key \"%s\" (expected one of: %s)", it->string, list);
        }
        for (const cJSON *other = it->next; other; other = other->next)
            if (strcmp(other->string, it->string) == 0)
                return cg__json_fail(p, "key \"%s\" appears twice", it->string);
    }
    return CG_OK;
}

static bool is_integer(const cJSON *v)
{
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) && floor(v->valuedouble) == v->valuedouble &&
           fabs(v->valuedouble) <= CG_JSON_MAX_INT;
}

cg_status cg__json_int(const cJSON *v, cg_json_path *p, int64_t min, int64_t max, int64_t *out)
{
    const char *expected = min == 1 ? "a positive integer" : min == 0 ? "an integer >= 0" : "an integer";
    if (!is_integer(v) || v->valuedouble < (double)min) return cg__json_expected(p, expected, v);
    if (v->valuedouble > (double)max)
        return cg__json_fail(p, "%.0f is too large (at most %lld)", v->valuedouble, (long long)max);
    *out = (int64_t)v->valuedouble;
    return CG_OK;
}

static bool in_range(double x, cg_json_range r)
{
    if (!isfinite(x)) return false;
    if (r.lo_open ? !(x > r.lo) : !(x >= r.lo)) return false;
    if (r.hi_open ? !(x < r.hi) : !(x <= r.hi)) return false;
    return true;
}

static void range_text(cg_json_range r, char *buf, size_t size)
{
    if (r.lo == -INFINITY)
        snprintf(buf, size, "a number");
    else if (r.hi == INFINITY)
        snprintf(buf, size, "a number %s %g", r.lo_open ? ">" : ">=", r.lo);
    else
        snprintf(buf, size, "a number in %c%g, %g%c", r.lo_open ? '(' : '[', r.lo, r.hi,
                 r.hi_open ? ')' : ']');
}

cg_status cg__json_float(const cJSON *v, cg_json_path *p, cg_json_range r, float *out)
{
    /* Also refuse values that only overflow once narrowed to float. */
    if (!cJSON_IsNumber(v) || !in_range(v->valuedouble, r) || !isfinite((float)v->valuedouble)) {
        char expected[96];
        range_text(r, expected, sizeof expected);
        return cg__json_expected(p, expected, v);
    }
    *out = (float)v->valuedouble;
    return CG_OK;
}

cg_status cg__json_read_int(const cJSON *obj, const char *key, cg_json_path *p, int64_t min,
                            int64_t max, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) return CG_OK;
    size_t mark = cg__json_key(p, key);
    cg_status s = cg__json_int(v, p, min, max, out);
    cg__json_restore(p, mark);
    return s;
}

cg_status cg__json_read_float(const cJSON *obj, const char *key, cg_json_path *p,
                              cg_json_range r, float *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) return CG_OK;
    size_t mark = cg__json_key(p, key);
    cg_status s = cg__json_float(v, p, r, out);
    cg__json_restore(p, mark);
    return s;
}

cg_status cg__json_read_bool(const cJSON *obj, const char *key, cg_json_path *p, bool *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) return CG_OK;
    size_t mark = cg__json_key(p, key);
    cg_status s = CG_OK;
    if (!cJSON_IsBool(v))
        s = cg__json_expected(p, "true or false", v);
    else
        *out = cJSON_IsTrue(v);
    cg__json_restore(p, mark);
    return s;
}

cg_status cg__json_read_string(const cJSON *obj, const char *key, cg_json_path *p,
                               const char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NULL;
    if (!v) return CG_OK;
    if (cJSON_IsString(v)) {
        *out = v->valuestring;
        return CG_OK;
    }
    size_t mark = cg__json_key(p, key);
    cg_status s = cg__json_expected(p, "a string", v);
    cg__json_restore(p, mark);
    return s;
}

cg_status cg__json_read_int_pair(const cJSON *obj, const char *key, cg_json_path *p, int64_t min,
                                 int64_t max, int64_t out[2])
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) return CG_OK;
    size_t mark = cg__json_key(p, key);
    const char *what = min == 1 ? "a positive integer or a pair [height, width]"
                                : "an integer >= 0 or a pair [height, width]";
    cg_status s = CG_OK;
    int64_t got[2];
    if (cJSON_IsArray(v)) {
        if (cJSON_GetArraySize(v) != 2) s = cg__json_expected(p, what, v);
        for (int i = 0; s == CG_OK && i < 2; i++) {
            size_t at = cg__json_index(p, (size_t)i);
            s = cg__json_int(cJSON_GetArrayItem(v, i), p, min, max, &got[i]);
            cg__json_restore(p, at);
        }
    } else if (cJSON_IsNumber(v)) {
        s = cg__json_int(v, p, min, max, &got[0]);
        got[1] = got[0];
    } else {
        s = cg__json_expected(p, what, v);
    }
    cg__json_restore(p, mark);
    if (s == CG_OK) memcpy(out, got, sizeof got);
    return s;
}

cg_status cg__json_read_activation(const cJSON *obj, const char *key, cg_json_path *p,
                                   cg_activation *out)
{
    const char *name;
    cg_status s = cg__json_read_string(obj, key, p, &name);
    if (s != CG_OK || !name || cg_activation_from_name(name, out)) return s;
    size_t mark = cg__json_key(p, key);
    if (strcmp(name, "softmax") == 0)
        s = cg__json_fail(p, "%s", CG__SOFTMAX_REFUSED);
    else
        s = cg__json_fail(p, "unknown activation \"%s\" (expected none, relu, sigmoid, tanh, "
                             "leaky_relu, elu, gelu or softplus)", name);
    cg__json_restore(p, mark);
    return s;
}

cg_status cg__json_require_object(const cJSON *v, cg_json_path *p)
{
    return cJSON_IsObject(v) ? CG_OK : cg__json_expected(p, "an object", v);
}
