/* CSV data sets: one sample per line, features first and the target last.
 * Two passes over the file held in memory: the first finds the header,
 * the column count and the number of rows (so arrays are allocated once,
 * exactly), the second parses. Every error is "PATH:LINE:COLUMN: ...". */
#include "data_internal.h"
#include "../io/fileio.h"

#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A CSV larger than this is not a data set to parse as text. */
#define CSV_MAX_BYTES (16ull << 30)
/* Longest number token we convert (digits beyond ~20 only round anyway). */
#define CSV_MAX_NUMBER 255
/* How much of a bad field to quote in a message. */
#define CSV_QUOTE 40

typedef struct csv_line {
    const char *p, *end;   /* without the line break and a trailing \r */
    int64_t no;            /* 1-based */
} csv_line;

typedef struct csv_cursor {
    const char *path;
    const csv_line *line;
    const char *p;
    bool done;             /* the last field of the line was returned */
} csv_cursor;

typedef struct csv_field {
    const char *p, *end;   /* trimmed, without quotes */
    int64_t col;           /* 1-based column of its first byte */
} csv_field;

typedef struct csv_layout {
    bool header;
    int64_t ncols;
    int64_t rows;
    int32_t class_limit;   /* > 0: labels must be below it (the model's classes) */
} csv_layout;

static cg_status csv_error(const char *path, int64_t line, int64_t col, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static cg_status csv_error(const char *path, int64_t line, int64_t col, const char *fmt, ...)
{
    char msg[512];
    va_list args;
    va_start(args, fmt);
    vsnprintf(msg, sizeof msg, fmt, args);
    va_end(args);
    return cg_set_error(CG_ERR_FORMAT, "%s:%lld:%lld: %s", path, (long long)line, (long long)col,
                        msg);
}

static bool next_line(const char **cur, const char *end, csv_line *line)
{
    if (*cur >= end) return false;
    const char *nl = memchr(*cur, '\n', (size_t)(end - *cur));
    line->p = *cur;
    line->end = nl ? nl : end;
    if (line->end > line->p && line->end[-1] == '\r') line->end--;
    line->no++;
    *cur = nl ? nl + 1 : end;
    return true;
}

static bool is_space(char c) { return c == ' ' || c == '\t'; }

static bool line_is_blank(const csv_line *line)
{
    for (const char *p = line->p; p < line->end; p++)
        if (!is_space(*p)) return false;
    return true;
}

static int64_t column(const csv_cursor *c, const char *p) { return p - c->line->p + 1; }

static void trim(csv_field *f)
{
    while (f->p < f->end && is_space(*f->p)) f->p++;
    while (f->end > f->p && is_space(f->end[-1])) f->end--;
}

/* Closing quote of a quoted field starting after `open`; "" is an escaped
 * quote (it can only matter in a header). NULL if unterminated. */
static const char *closing_quote(const char *p, const char *end)
{
    while ((p = memchr(p, '"', (size_t)(end - p)))) {
        if (p + 1 < end && p[1] == '"') {
            p += 2;
            continue;
        }
        return p;
    }
    return NULL;
}

/* 1: a field, 0: no more fields on the line, -1: error set. */
static int next_field(csv_cursor *c, csv_field *f)
{
    if (c->done) return 0;
    const char *p = c->p, *end = c->line->end;
    while (p < end && is_space(*p)) p++;
    f->col = column(c, p);
    const char *q;
    if (p < end && *p == '"') {
        q = closing_quote(p + 1, end);
        if (!q) {
            csv_error(c->path, c->line->no, f->col, "unterminated quote");
            return -1;
        }
        f->p = p + 1;
        f->end = q;
        for (q++; q < end && is_space(*q); q++) {}
        if (q < end && *q != ',') {
            csv_error(c->path, c->line->no, column(c, q), "unexpected '%c' after a closing quote",
                      *q);
            return -1;
        }
    } else {
        q = memchr(p, ',', (size_t)(end - p));
        if (!q) q = end;
        f->p = p;
        f->end = q;
    }
    trim(f);
    c->done = q >= end;
    c->p = c->done ? end : q + 1;
    return 1;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* Strict decimal: [+-] (D+ [. D*] | . D+) [(e|E) [+-] D+]. strtod alone
 * would also take hex, "nan", "infinity" and a locale's decimal comma. */
static bool scan_number(const char *p, const char *end)
{
    if (p < end && (*p == '+' || *p == '-')) p++;
    const char *digits = p;
    while (p < end && is_digit(*p)) p++;
    bool any = p > digits;
    if (p < end && *p == '.') {
        const char *frac = ++p;
        while (p < end && is_digit(*p)) p++;
        any = any || p > frac;
    }
    if (!any) return false;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        const char *exp = p;
        while (p < end && is_digit(*p)) p++;
        if (p == exp) return false;
    }
    return p == end;
}

static bool word_is(const char *p, const char *end, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(end - p) != n) return false;
    for (size_t i = 0; i < n; i++)
        if ((p[i] | 0x20) != word[i]) return false;
    return true;
}

static bool is_nan_or_inf(const char *p, const char *end)
{
    if (p < end && (*p == '+' || *p == '-')) p++;
    return word_is(p, end, "nan") || word_is(p, end, "inf") || word_is(p, end, "infinity");
}

static int quote_len(const csv_field *f)
{
    size_t n = (size_t)(f->end - f->p);
    return n > CSV_QUOTE ? CSV_QUOTE : (int)n;
}

/* Parses a numeric field. strtod runs in the C locale (set by the caller),
 * so "0.5" means one half whatever the program's locale. */
static cg_status parse_number(const csv_cursor *c, const csv_field *f, double *out)
{
    const char *path = c->path;
    int64_t line = c->line->no;
    if (f->p == f->end) return csv_error(path, line, f->col, "empty field, expected a number");
    if (is_nan_or_inf(f->p, f->end))
        return csv_error(path, line, f->col, "'%.*s': NaN and Inf are not allowed", quote_len(f),
                         f->p);
    if (!scan_number(f->p, f->end))
        return csv_error(path, line, f->col, "'%.*s' is not a number", quote_len(f), f->p);
    size_t n = (size_t)(f->end - f->p);
    if (n > CSV_MAX_NUMBER)
        return csv_error(path, line, f->col, "number of %zu characters is too long", n);
    char buf[CSV_MAX_NUMBER + 1];
    memcpy(buf, f->p, n);
    buf[n] = '\0';
    double v = strtod(buf, NULL);
    if (!(fabs(v) <= 3.4028234663852886e38))
        return csv_error(path, line, f->col, "'%.*s' is out of float range", quote_len(f), f->p);
    *out = v;
    return CG_OK;
}

/* Counts the fields of the first line and whether it is a header: some
 * field is text. Empty fields and NaN/Inf count as (bad) numbers, so that a
 * first data row with such a value is reported, not skipped as a header. */
static cg_status survey_line(const char *path, const csv_line *line, int64_t *nfields,
                             bool *header)
{
    csv_cursor c = {path, line, line->p, false};
    csv_field f;
    int r;
    *nfields = 0;
    *header = false;
    while ((r = next_field(&c, &f)) == 1) {
        (*nfields)++;
        if (f.p < f.end && !scan_number(f.p, f.end) && !is_nan_or_inf(f.p, f.end))
            *header = true;
    }
    return r < 0 ? cg_last_status() : CG_OK;
}

/* Pass 1: header, column count, data rows; blank lines only at the end. */
static cg_status survey(const char *path, const char *text, const char *end, csv_layout *lay)
{
    csv_line line = {0};
    int64_t blank_at = 0;   /* first blank line since the last data line */
    bool first = true;
    memset(lay, 0, sizeof *lay);
    while (next_line(&text, end, &line)) {
        if (line_is_blank(&line)) {
            if (!blank_at) blank_at = line.no;
            continue;
        }
        if (blank_at)
            return csv_error(path, blank_at, 1,
                             "blank line inside the data (only trailing blank lines are allowed)");
        if (first) {
            cg_status s = survey_line(path, &line, &lay->ncols, &lay->header);
            if (s) return s;
            first = false;
            if (lay->header) continue;
        }
        lay->rows++;
    }
    if (lay->rows == 0) return cg_set_error(CG_ERR_FORMAT, "%s: no data rows", path);
    if (lay->ncols < 2)
        return csv_error(path, 1, 1, "%lld column; need at least one feature and a target",
                         (long long)lay->ncols);
    return CG_OK;
}

static cg_status parse_target(const csv_cursor *c, const csv_field *f, double v, cg_dataset *d,
                              int64_t row, int32_t class_limit)
{
    if (d->labels) {
        if (!(v >= 0 && v < INT32_MAX && v == floor(v)))
            return csv_error(c->path, c->line->no, f->col,
                             "class label '%.*s' is not a non-negative integer", quote_len(f),
                             f->p);
        if (class_limit > 0 && v >= class_limit)
            return csv_error(c->path, c->line->no, f->col,
                             "class label %.0f is outside the model's %d classes (0..%d)", v,
                             (int)class_limit, (int)class_limit - 1);
        d->labels[row] = (int32_t)v;
        if (d->labels[row] >= d->num_classes) d->num_classes = d->labels[row] + 1;
    } else {
        d->y[row] = (float)v;
    }
    return CG_OK;
}

static cg_status parse_row(const char *path, const csv_line *line, const csv_layout *lay,
                           cg_dataset *d, int64_t row)
{
    int64_t ncols = lay->ncols;
    csv_cursor c = {path, line, line->p, false};
    csv_field f;
    float *x = d->x + row * d->sample_size;
    int64_t j = 0;
    int r;
    while ((r = next_field(&c, &f)) == 1) {
        if (j == ncols)
            return csv_error(path, line->no, f.col, "more than the %lld fields of the first row",
                             (long long)ncols);
        double v = 0;
        cg_status s = parse_number(&c, &f, &v);
        if (!s && j < ncols - 1) x[j] = (float)v;
        if (!s && j == ncols - 1) s = parse_target(&c, &f, v, d, row, lay->class_limit);
        if (s) return s;
        j++;
    }
    if (r < 0) return cg_last_status();
    if (j < ncols)
        return csv_error(path, line->no, column(&c, line->end), "%lld fields, expected %lld",
                         (long long)j, (long long)ncols);
    return CG_OK;
}

static cg_status allocate(const char *path, const csv_layout *lay, bool classification,
                          cg_dataset *d)
{
    int64_t n;
    if (!cg__mul_within(lay->rows, lay->ncols - 1, (int64_t)(SIZE_MAX / sizeof(float)), &n))
        return cg_set_error(CG_ERR_NOMEM, "%s: too many values", path);
    d->x = malloc((size_t)n * sizeof(float));
    if (classification)
        d->labels = malloc((size_t)lay->rows * sizeof(int32_t));
    else
        d->y = malloc((size_t)lay->rows * sizeof(float));
    if (!d->x || (!d->labels && !d->y))
        return cg_set_error(CG_ERR_NOMEM, "%s: cannot allocate %lld rows of %lld values", path,
                            (long long)lay->rows, (long long)lay->ncols);
    d->target_size = classification ? 0 : 1;
    return CG_OK;
}

/* Pass 2. */
static cg_status parse_rows(const char *path, const char *text, const char *end,
                            const csv_layout *lay, cg_dataset *d)
{
    csv_line line = {0};
    int64_t row = 0;
    bool skip_header = lay->header;
    while (row < lay->rows && next_line(&text, end, &line)) {
        if (line_is_blank(&line)) continue;
        if (skip_header) {
            skip_header = false;
            continue;
        }
        cg_status s = parse_row(path, &line, lay, d, row++);
        if (s) return s;
    }
    return CG_OK;
}

static cg_status load_text(const char *path, const char *text, size_t size, bool classification,
                           int32_t class_limit, const int64_t *shape, int ndim, cg_dataset *d)
{
    const char *end = text + size;
    if (size >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) text += 3;  /* UTF-8 BOM */
    csv_layout lay;
    cg_status s = survey(path, text, end, &lay);
    if (s) return s;
    lay.class_limit = class_limit;
    d->count = lay.rows;
    d->sample_size = lay.ncols - 1;
    d->sample_ndim = 1;
    d->sample_shape[0] = d->sample_size;
    if (shape && (s = cg_dataset_reshape(d, ndim, shape))) return s;
    s = allocate(path, &lay, classification, d);
    if (!s) s = parse_rows(path, text, end, &lay, d);
    return s;
}

cg_status cg_dataset_load_csv(cg_dataset *out, const char *path, bool classification,
                              const int64_t *sample_shape, int sample_ndim)
{
    return cg__dataset_load_csv(out, path, classification, 0, sample_shape, sample_ndim);
}

cg_status cg__dataset_load_csv(cg_dataset *out, const char *path, bool classification,
                               int32_t class_limit, const int64_t *sample_shape, int sample_ndim)
{
    if (!out) return cg_set_error(CG_ERR_ARG, "cg_dataset_load_csv: out is NULL");
    memset(out, 0, sizeof *out);
    if (!path) return cg_set_error(CG_ERR_ARG, "cg_dataset_load_csv: path is NULL");
    char *text;
    size_t size;
    cg_status s = cg__read_file(path, CSV_MAX_BYTES, &text, &size);
    if (s) return s;
    cg_dataset d = {.owns_data = true};
    cg__dataset_set_source(&d, path);
    /* Thread-local switch to the C locale: the caller's locale is untouched. */
    locale_t c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    locale_t old = c_locale ? uselocale(c_locale) : (locale_t)0;
    s = load_text(path, text, size, classification, class_limit, sample_shape, sample_ndim, &d);
    if (c_locale) {
        uselocale(old);
        freelocale(c_locale);
    }
    free(text);
    if (s) {
        cg_dataset_free(&d);
        return s;
    }
    *out = d;
    return CG_OK;
}
