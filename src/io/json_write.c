/* cJSON helpers that record allocation failures (see json_write.h). */
#include "json_write.h"

#include <stdio.h>
#include <stdlib.h>

cJSON *cg__jw_checked(cg_json_writer *w, cJSON *item)
{
    if (!item) w->failed = true;
    return item;
}

void cg__jw_add(cg_json_writer *w, cJSON *obj, const char *key, cJSON *item)
{
    if (item && obj && cJSON_AddItemToObject(obj, key, item)) return;
    cJSON_Delete(item);
    w->failed = true;
}

void cg__jw_append(cg_json_writer *w, cJSON *array, cJSON *item)
{
    if (item && array && cJSON_AddItemToArray(array, item)) return;
    cJSON_Delete(item);
    w->failed = true;
}

cJSON *cg__jw_float_value(float v)
{
    char buf[32];
    for (int digits = 6; digits <= 9; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, (double)v);
        if (strtof(buf, NULL) == v) break;
    }
    return cJSON_CreateRaw(buf);
}

cJSON *cg__jw_int_value(int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    return cJSON_CreateRaw(buf);
}

void cg__jw_float(cg_json_writer *w, cJSON *obj, const char *key, float v)
{
    cg__jw_add(w, obj, key, cg__jw_float_value(v));
}

void cg__jw_int(cg_json_writer *w, cJSON *obj, const char *key, int64_t v)
{
    cg__jw_add(w, obj, key, cg__jw_int_value(v));
}

void cg__jw_string(cg_json_writer *w, cJSON *obj, const char *key, const char *v)
{
    cg__jw_checked(w, cJSON_AddStringToObject(obj, key, v));
}

void cg__jw_bool(cg_json_writer *w, cJSON *obj, const char *key, bool v)
{
    cg__jw_checked(w, cJSON_AddBoolToObject(obj, key, v));
}

void cg__jw_int_pair(cg_json_writer *w, cJSON *obj, const char *key, const int64_t v[2])
{
    if (v[0] == v[1]) {
        cg__jw_int(w, obj, key, v[0]);
        return;
    }
    cJSON *array = cg__jw_checked(w, cJSON_CreateArray());
    if (!array) return;
    for (int i = 0; i < 2; i++) cg__jw_append(w, array, cg__jw_checked(w, cg__jw_int_value(v[i])));
    cg__jw_add(w, obj, key, array);
}
