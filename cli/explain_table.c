/* cgrad explain's tables: per-feature attributions as CSV or JSON, and the
 * features' names (a CSV data file's header, else names from positions). */
#include "explain.h"

#include "fileio.h"

#include <cjson/cJSON.h>

#include <ctype.h>
#include <math.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void explain_names_free(explain_names *n)
{
    for (int64_t i = 0; n->names && i < n->count; i++) free(n->names[i]);
    free(n->names);
    *n = (explain_names){0};
}

static bool is_number(const char *s)
{
    while (isspace((unsigned char)*s) || *s == '"') s++;
    if (!*s) return false;
    char *end;
    strtod(s, &end);
    while (isspace((unsigned char)*end) || *end == '"') end++;
    return end != s && *end == '\0';
}

static char *trimmed_copy(const char *s, size_t n)
{
    while (n > 0 && (isspace((unsigned char)*s) || *s == '"')) s++, n--;
    while (n > 0 && (isspace((unsigned char)s[n - 1]) || s[n - 1] == '"')) n--;
    char *out = malloc(n + 1);
    if (out) {
        memcpy(out, s, n);
        out[n] = '\0';
    }
    return out;
}

/* The header row's fields but the last (the target), when the first row is
 * a header with exactly d of them; false otherwise (no names from it). */
static bool names_from_header(explain_names *out, const char *path, int64_t d)
{
    FILE *f = fopen(path, "r");
    if (!f) return false;
    char *line = NULL;
    size_t cap = 0;
    bool ok = getline(&line, &cap, f) > 0;
    fclose(f);
    char *p = line;
    if (ok && (unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB &&
        (unsigned char)p[2] == 0xBF)
        p += 3; /* a UTF-8 byte order mark */
    int64_t fields = 0;
    bool numeric = true;
    for (char *q = p; ok && q;) {
        char *comma = strchr(q, ',');
        char *field = trimmed_copy(q, comma ? (size_t)(comma - q) : strlen(q));
        if (field && *field && !is_number(field)) numeric = false;
        free(field);
        fields++;
        q = comma ? comma + 1 : NULL;
    }
    ok = ok && !numeric && fields == d + 1;
    if (ok) {
        out->names = calloc((size_t)d, sizeof *out->names);
        out->count = d;
        char *q = p;
        for (int64_t i = 0; ok && i < d; i++) {
            char *comma = strchr(q, ',');
            out->names[i] = trimmed_copy(q, (size_t)(comma - q));
            ok = out->names[i] != NULL;
            q = comma + 1;
        }
        out->from_header = ok;
        if (!ok) explain_names_free(out);
    }
    free(line);
    return ok;
}

static char *printed(const char *fmt, ...)
{
    char buf[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return strdup(buf);
}

/* Names from positions: "x3" for flat inputs, "t4.f2" for a sequence
 * [T, F], "c0.y3.x5" for an image. */
static cg_status names_from_shape(explain_names *out, const cg_model_spec *spec, int64_t d)
{
    out->names = calloc((size_t)d, sizeof *out->names);
    if (!out->names) return cg_set_error(CG_ERR_NOMEM, "feature names: out of memory");
    out->count = d;
    const int64_t *s = spec->input;
    for (int64_t i = 0; i < d; i++) {
        if (spec->input_ndim == 3)
            out->names[i] = printed("c%lld.y%lld.x%lld", (long long)(i / (s[1] * s[2])),
                                    (long long)(i / s[2] % s[1]), (long long)(i % s[2]));
        else if (spec->input_ndim == 2)
            out->names[i] = printed("t%lld.f%lld", (long long)(i / s[1]), (long long)(i % s[1]));
        else
            out->names[i] = printed("x%lld", (long long)i);
        if (!out->names[i]) {
            explain_names_free(out);
            return cg_set_error(CG_ERR_NOMEM, "feature names: out of memory");
        }
    }
    return CG_OK;
}

cg_status explain_names_load(explain_names *out, const char *data_spec, const cg_model_spec *spec)
{
    *out = (explain_names){0};
    int64_t d = 1;
    for (int i = 0; i < spec->input_ndim; i++) d *= spec->input[i];
    if (strncmp(data_spec, "csv:", 4) == 0 && names_from_header(out, data_spec + 4, d))
        return CG_OK;
    return names_from_shape(out, spec, d);
}

/* ---- writing ---- */

static cg_status put(cg_atomic_file *f, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof buf)
        return cg_set_error(CG_ERR_ARG, "a CSV field is too long");
    return cg__atomic_write(f, buf, (size_t)n);
}

/* A name as one CSV field: quoted when it holds a comma or quote. */
static cg_status put_name(cg_atomic_file *f, const char *name)
{
    if (!strpbrk(name, ",\"\n")) return put(f, "%s", name);
    cg_status s = put(f, "\"");
    for (const char *c = name; s == CG_OK && *c; c++)
        s = *c == '"' ? put(f, "\"\"") : put(f, "%c", *c);
    return s == CG_OK ? put(f, "\"") : s;
}

static cg_status write_csv(cg_atomic_file *f, const explain_sample *samples, size_t n,
                           const explain_names *names, int64_t d)
{
    cg_status s = put(f, "index,label,predicted,target,feature,value,attribution\n");
    for (size_t i = 0; s == CG_OK && i < n; i++) {
        const explain_sample *e = &samples[i];
        for (int64_t j = 0; s == CG_OK && j < d; j++) {
            s = put(f, "%lld,%s,%lld,%s,", (long long)e->index, e->label_text,
                    (long long)e->predicted, e->target_text);
            if (s == CG_OK) s = put_name(f, names->names[j]);
            if (s == CG_OK) s = put(f, ",%.9g,%.9g\n", e->x[j], e->attr[j]);
        }
    }
    return s;
}

static cJSON *number(double v)
{
    return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

static cJSON *sample_json(const explain_sample *e, const explain_names *names, int64_t d,
                          const char *method)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "index", (double)e->index);
    cJSON_AddItemToObject(o, "label",
                          e->label >= 0 ? cJSON_CreateNumber(e->label) : cJSON_CreateNull());
    cJSON_AddNumberToObject(o, "predicted", (double)e->predicted);
    cJSON_AddNumberToObject(o, "confidence", e->confidence);
    cJSON_AddStringToObject(o, "target", e->target_text);
    cJSON_AddStringToObject(o, "method", method);
    cJSON_AddItemToObject(o, "f_input", number(e->info.f_input));
    cJSON_AddItemToObject(o, "f_baseline", number(e->info.f_baseline));
    cJSON_AddItemToObject(o, "attribution_sum", number(e->info.attribution_sum));
    cJSON *features = cJSON_AddArrayToObject(o, "features");
    for (int64_t j = 0; j < d; j++) {
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "name", names->names[j]);
        cJSON_AddNumberToObject(f, "value", e->x[j]);
        cJSON_AddNumberToObject(f, "attribution", e->attr[j]);
        cJSON_AddItemToArray(features, f);
    }
    return o;
}

static cg_status write_json(cg_atomic_file *f, const explain_sample *samples, size_t n,
                            const explain_names *names, int64_t d, const char *method)
{
    cJSON *all = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(all, sample_json(&samples[i], names, d, method));
    char *text = cJSON_Print(all);
    cJSON_Delete(all);
    if (!text) return cg_set_error(CG_ERR_NOMEM, "JSON: out of memory");
    cg_status s = cg__atomic_write(f, text, strlen(text));
    if (s == CG_OK) s = cg__atomic_write(f, "\n", 1);
    free(text);
    return s;
}

cg_status explain_write_table(const char *path, bool json, const explain_sample *samples, size_t n,
                              const explain_names *names, int64_t d, const char *method)
{
    cg_atomic_file f;
    cg_status s = cg__atomic_open(&f, path);
    if (s != CG_OK) return s;
    s = json ? write_json(&f, samples, n, names, d, method) : write_csv(&f, samples, n, names, d);
    if (s != CG_OK) {
        cg__atomic_abort(&f);
        return s;
    }
    return cg__atomic_commit(&f);
}

cg_status explain_check_writable(const char *path)
{
    cg_atomic_file f;
    cg_status s = cg__atomic_open(&f, path);
    if (s == CG_OK) cg__atomic_abort(&f);
    return s;
}
