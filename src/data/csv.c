/* CSV data sets: one sample per line. The file is held in memory and read
 * in passes, so that arrays are allocated once, exactly:
 *   1. survey: the header (detected or declared), the column count, the
 *      rows, and per column how many cells are numbers and how many text;
 *   2. the table: which column is the target and which are features, learned
 *      from this file (numeric or categorical columns, class names) or
 *      applied from a model's table (columns matched by name or position);
 *   3. for categorical columns and text labels being learned, their values;
 *   4. the samples.
 * Every error is "PATH:LINE:COLUMN: ...". */
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
/* A class-names file larger than this is not one. */
#define CLASSES_MAX_BYTES (16u << 20)

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
    bool quoted;           /* "" inside stands for one quote */
} csv_field;

typedef enum cell_kind { CELL_MISSING, CELL_NUMBER, CELL_TEXT } cell_kind;

/* What pass 1 found. */
typedef struct csv_layout {
    bool header;
    csv_line first;            /* the first non-blank line */
    int64_t ncols;
    int64_t rows;
    int64_t *numbers, *texts;  /* per column: cells of each kind in the data rows */
} csv_layout;

/* What a column of this file becomes: a feature (its index), the target,
 * or nothing. */
enum { ROLE_SKIP = -1, ROLE_TARGET = -2 };

typedef struct csv_reader {
    const char *path;
    const char *text, *end;
    const cg_data_options *opts;
    bool classification;
    cg_csv_header header_mode;
    char *scratch;             /* one field's text, unescaped (as long as the longest line) */
    csv_layout lay;
    cg_table *table;           /* learned, or a copy of opts->table */
    int64_t *role;             /* per column of this file */
    int64_t *offset;           /* per feature: its first value in a sample */
    bool has_target;
} csv_reader;

static cg_status csv_error(const char *path, int64_t line, int64_t col, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static cg_status csv_error(const char *path, int64_t line, int64_t col, const char *fmt, ...)
{
    char msg[1024];
    va_list args;
    va_start(args, fmt);
    vsnprintf(msg, sizeof msg, fmt, args);
    va_end(args);
    return cg_set_error(CG_ERR_FORMAT, "%s:%lld:%lld: %s", path, (long long)line, (long long)col,
                        msg);
}

static cg_status nomem(const csv_reader *r)
{
    return cg_set_error(CG_ERR_NOMEM, "%s: out of memory", r->path);
}

/* ------------------------------------------------------------ lines and fields */

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
 * quote. NULL if unterminated. */
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
    f->quoted = p < end && *p == '"';
    const char *q;
    if (f->quoted) {
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

/* The field's text with "" unescaped, in r->scratch (which fits any line). */
static const char *field_text(const csv_reader *r, const csv_field *f)
{
    size_t n = 0;
    for (const char *p = f->p; p < f->end; p++) {
        r->scratch[n++] = *p;
        if (f->quoted && *p == '"' && p + 1 < f->end && p[1] == '"') p++;
    }
    r->scratch[n] = '\0';
    return r->scratch;
}

/* ------------------------------------------------------------ cells */

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

static bool is_inf(const char *p, const char *end)
{
    if (p < end && (*p == '+' || *p == '-')) p++;
    return word_is(p, end, "inf") || word_is(p, end, "infinity");
}

/* The spellings of a missing value pandas writes and reads by default. */
static bool is_missing(const char *p, const char *end)
{
    if (p < end && (*p == '+' || *p == '-') && word_is(p + 1, end, "nan")) return true;
    return p == end || word_is(p, end, "na") || word_is(p, end, "n/a") || word_is(p, end, "nan");
}

/* Inf counts as a (bad) number: a column of numbers with an Inf is refused
 * as such, not taken for text. */
static cell_kind kind_of(const csv_field *f)
{
    if (is_missing(f->p, f->end)) return CELL_MISSING;
    return scan_number(f->p, f->end) || is_inf(f->p, f->end) ? CELL_NUMBER : CELL_TEXT;
}

static int quote_len(const csv_field *f)
{
    size_t n = (size_t)(f->end - f->p);
    return n > CSV_QUOTE ? CSV_QUOTE : (int)n;
}

/* The name of column j (0-based) for messages: "'petal width' (column 4)". */
static const char *column_label(const csv_reader *r, int64_t j, char *buf, size_t size)
{
    const char *name = r->lay.header && r->table && r->table->names && !r->opts->table
                           ? r->table->names[j] : NULL;
    if (name)
        snprintf(buf, size, "'%.60s' (column %lld)", name, (long long)j + 1);
    else
        snprintf(buf, size, "column %lld", (long long)j + 1);
    return buf;
}

/* Why a first line that is data may be a header after all. */
static const char *first_line_hint(const csv_reader *r, int64_t line)
{
    if (line != r->lay.first.no || r->header_mode != CG_CSV_HEADER_DETECT) return "";
    return " (line 1 has numbers, so it was read as data; if it is a header, say so: "
           "csv:PATH,header=yes)";
}

/* Parses a numeric field. strtod runs in the C locale (set by the caller),
 * so "0.5" means one half whatever the program's locale. */
static cg_status parse_number(const csv_reader *r, const csv_cursor *c, const csv_field *f,
                              double *out)
{
    const char *path = c->path;
    int64_t line = c->line->no;
    if (f->p == f->end) return csv_error(path, line, f->col, "empty field, expected a number");
    if (is_inf(f->p, f->end))
        return csv_error(path, line, f->col, "'%.*s': Inf is not allowed", quote_len(f), f->p);
    if (!scan_number(f->p, f->end))
        return csv_error(path, line, f->col, "'%.*s' is not a number%s", quote_len(f), f->p,
                         first_line_hint(r, line));
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

/* ------------------------------------------------------------ pass 1: survey */

/* A first row is a header when none of its fields is a number. */
static cg_status first_line(csv_reader *r, const csv_line *line)
{
    csv_cursor c = {r->path, line, line->p, false};
    csv_field f;
    int got;
    bool any_number = false, any_text = false;
    r->lay.first = *line;
    while ((got = next_field(&c, &f)) == 1) {
        r->lay.ncols++;
        cell_kind k = kind_of(&f);
        any_number = any_number || k == CELL_NUMBER || (k == CELL_MISSING && f.p < f.end);
        any_text = any_text || k == CELL_TEXT;
    }
    if (got < 0) return cg_last_status();
    r->lay.header = r->header_mode == CG_CSV_HEADER_YES ||
                    (r->header_mode == CG_CSV_HEADER_DETECT && any_text && !any_number);
    return CG_OK;
}

static cg_status survey_row(csv_reader *r, const csv_line *line)
{
    csv_layout *lay = &r->lay;
    csv_cursor c = {r->path, line, line->p, false};
    csv_field f;
    int64_t j = 0;
    int got;
    while ((got = next_field(&c, &f)) == 1) {
        if (j == lay->ncols)
            return csv_error(r->path, line->no, f.col, "more than the %lld fields of the first row",
                             (long long)lay->ncols);
        cell_kind k = kind_of(&f);
        lay->numbers[j] += k == CELL_NUMBER;
        lay->texts[j] += k == CELL_TEXT;
        j++;
    }
    if (got < 0) return cg_last_status();
    if (j < lay->ncols)
        return csv_error(r->path, line->no, column(&c, line->end), "%lld fields, expected %lld",
                         (long long)j, (long long)lay->ncols);
    return CG_OK;
}

static cg_status allocate_counts(csv_reader *r)
{
    r->lay.numbers = calloc((size_t)r->lay.ncols, sizeof *r->lay.numbers);
    r->lay.texts = calloc((size_t)r->lay.ncols, sizeof *r->lay.texts);
    r->role = malloc((size_t)r->lay.ncols * sizeof *r->role);
    return r->lay.numbers && r->lay.texts && r->role ? CG_OK : nomem(r);
}

/* Header, column count, data rows and cell kinds; blank lines only at the end. */
static cg_status survey(csv_reader *r)
{
    const char *text = r->text;
    csv_line line = {0};
    int64_t blank_at = 0;   /* first blank line since the last data line */
    size_t longest = 0;
    cg_status s = CG_OK;
    while (s == CG_OK && next_line(&text, r->end, &line)) {
        if ((size_t)(line.end - line.p) > longest) longest = (size_t)(line.end - line.p);
        if (line_is_blank(&line)) {
            if (!blank_at) blank_at = line.no;
            continue;
        }
        if (blank_at)
            return csv_error(r->path, blank_at, 1,
                             "blank line inside the data (only trailing blank lines are allowed)");
        if (!r->lay.first.p) {
            if ((s = first_line(r, &line)) == CG_OK) s = allocate_counts(r);
            if (s != CG_OK || r->lay.header) continue;
        }
        if ((s = survey_row(r, &line)) == CG_OK) r->lay.rows++;
    }
    if (s) return s;
    if (r->lay.rows == 0) return cg_set_error(CG_ERR_FORMAT, "%s: no data rows", r->path);
    r->scratch = malloc(longest + 1);
    return r->scratch ? CG_OK : nomem(r);
}

/* The next data row (blank lines and the header skipped). */
static bool next_row(const csv_reader *r, const char **cur, csv_line *line)
{
    while (next_line(cur, r->end, line)) {
        if (line_is_blank(line)) continue;
        if (r->lay.header && line->p == r->lay.first.p) continue;
        return true;
    }
    return false;
}

/* ------------------------------------------------------------ naming columns */

/* The header's names, unescaped. */
static cg_status read_names(csv_reader *r, char ***out)
{
    char **names = calloc((size_t)r->lay.ncols, sizeof *names);
    if (!names) return nomem(r);
    *out = names;
    csv_cursor c = {r->path, &r->lay.first, r->lay.first.p, false};
    csv_field f;
    for (int64_t j = 0; j < r->lay.ncols && next_field(&c, &f) == 1; j++)
        if (!(names[j] = strdup(field_text(r, &f)))) return nomem(r);
    return CG_OK;
}

static void names_of(const csv_reader *r, char *buf, size_t size)
{
    if (r->table->names)
        cg__names_list(r->table->names, r->lay.ncols, buf, size);
    else
        snprintf(buf, size, "no header, so by index: 1 to %lld", (long long)r->lay.ncols);
}

/* A column by header name, else by 1-based index; `what` is the option. */
static cg_status find_column(const csv_reader *r, const char *what, const char *ref, size_t len,
                             int64_t *out)
{
    char name[256];
    snprintf(name, sizeof name, "%.*s", (int)(len < 255 ? len : 255), ref);
    for (int64_t j = 0; r->table->names && j < r->lay.ncols; j++)
        if (strcmp(r->table->names[j], name) == 0) {
            *out = j;
            return CG_OK;
        }
    char *end;
    long long k = strtoll(name, &end, 10);
    if (*name && !*end && k >= 1 && k <= r->lay.ncols) {
        *out = k - 1;
        return CG_OK;
    }
    char list[768];
    names_of(r, list, sizeof list);
    return cg_set_error(CG_ERR_ARG, "%s: %s: no column '%s'; the columns are %s", r->path, what,
                        name, list);
}

static cg_status choose_target(csv_reader *r, int64_t *target)
{
    const cg_data_options *o = r->opts;
    if (o->target) return find_column(r, "--target", o->target, strlen(o->target), target);
    int64_t inputs = 1;
    for (int i = 0; i < o->sample_ndim; i++) inputs *= o->sample_shape[i];
    /* A table of the model's input size holds no target: data to predict on. */
    bool inputs_only = o->targets_optional && o->sample_ndim > 0 && inputs == r->lay.ncols;
    *target = inputs_only ? -1 : r->lay.ncols - 1;
    if (*target < 0 || r->lay.ncols > 1) return CG_OK;
    return csv_error(r->path, r->lay.first.no, 1, "1 column; need at least one feature and a target");
}

static cg_status add_feature(csv_reader *r, int64_t col)
{
    cg_table *t = r->table;
    if (col == t->target)
        return cg_set_error(CG_ERR_ARG, "%s: --features: column %lld is the target", r->path,
                            (long long)col + 1);
    for (int64_t i = 0; i < t->n_features; i++)
        if (t->features[i].column == col)
            return cg_set_error(CG_ERR_ARG, "%s: --features: column %lld is given twice", r->path,
                                (long long)col + 1);
    t->features[t->n_features++] = (cg_table_feature){.column = col};
    return CG_OK;
}

/* --features "a,b,3": names or indices, comma-separated. */
static cg_status choose_features(csv_reader *r)
{
    cg_table *t = r->table;
    t->features = calloc((size_t)r->lay.ncols, sizeof *t->features);
    if (!t->features) return nomem(r);
    const char *list = r->opts->features;
    cg_status s = CG_OK;
    /* A column without a name (the index pandas' to_csv writes first) is
     * a row number, not a feature, unless --features names it. */
    for (int64_t j = 0; !list && s == CG_OK && j < r->lay.ncols; j++)
        if (j != t->target && !(t->names && !t->names[j][0])) s = add_feature(r, j);
    for (const char *p = list; p && s == CG_OK;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        int64_t col;
        s = find_column(r, "--features", p, len, &col);
        if (s == CG_OK) s = add_feature(r, col);
        p = comma ? comma + 1 : NULL;
    }
    if (s == CG_OK && t->n_features == 0)
        s = cg_set_error(CG_ERR_ARG, "%s: no feature columns", r->path);
    return s;
}

/* ------------------------------------------------------------ learning a table */

/* Most of its values are text: categories (or class names), not numbers. */
static bool is_text_column(const csv_reader *r, int64_t j)
{
    return r->lay.texts[j] > r->lay.numbers[j];
}

typedef struct value_set {
    char **items;              /* sorted */
    int32_t n;
} value_set;

static cg_status set_add(const csv_reader *r, value_set *v, const char *text, int64_t line,
                         int64_t col, int64_t j)
{
    int32_t lo = 0, hi = v->n;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2, c = strcmp(v->items[mid], text);
        if (c == 0) return CG_OK;
        if (c < 0) lo = mid + 1; else hi = mid;
    }
    if (v->n == CG_TABLE_MAX_CATEGORIES) {
        char label[128];
        return csv_error(r->path, line, col, "%s has more than %d distinct values: an identifier "
                         "rather than a category; leave it out with --features",
                         column_label(r, j, label, sizeof label), CG_TABLE_MAX_CATEGORIES);
    }
    char **items = realloc(v->items, ((size_t)v->n + 1) * sizeof *items);
    if (items) v->items = items;
    char *copy = strdup(text);
    if (!items || !copy) {
        free(copy);
        return nomem(r);
    }
    memmove(&items[lo + 1], &items[lo], (size_t)(v->n - lo) * sizeof *items);
    items[lo] = copy;
    v->n++;
    return CG_OK;
}

/* The values of one column (missing cells left out), sorted. */
static cg_status collect_values(const csv_reader *r, int64_t j, value_set *v)
{
    const char *cur = r->text;
    csv_line line = {0};
    cg_status s = CG_OK;
    while (s == CG_OK && next_row(r, &cur, &line)) {
        csv_cursor c = {r->path, &line, line.p, false};
        csv_field f;
        for (int64_t k = 0; k <= j; k++) next_field(&c, &f);
        if (!is_missing(f.p, f.end)) s = set_add(r, v, field_text(r, &f), line.no, f.col, j);
    }
    return s;
}

static cg_status learn_categories(csv_reader *r)
{
    cg_table *t = r->table;
    t->sample_size = 0;
    for (int64_t i = 0; i < t->n_features; i++) {
        cg_table_feature *f = &t->features[i];
        if (is_text_column(r, f->column)) {
            value_set v = {0};
            cg_status s = collect_values(r, f->column, &v);
            f->categories = v.items;
            f->n_categories = v.n;
            if (s) return s;
        }
        t->sample_size += f->n_categories > 0 ? f->n_categories : 1;
    }
    return CG_OK;
}

static bool name_taken(char *const *names, int32_t n, const char *name)
{
    return cg__names_find(names, n, name) >= 0;
}

/* --classes FILE: one name a line, blank lines ignored. */
static cg_status read_classes(csv_reader *r, const char *path)
{
    char *text;
    size_t size;
    cg_status s = cg__read_file(path, CLASSES_MAX_BYTES, &text, &size);
    if (s) return s;
    cg_table *t = r->table;
    const char *cur = text;
    csv_line line = {0};
    while (s == CG_OK && next_line(&cur, text + size, &line)) {
        csv_field f = {line.p, line.end, 1, false};
        trim(&f);
        if (f.p == f.end) continue;
        char **classes = realloc(t->classes, ((size_t)t->n_classes + 1) * sizeof *classes);
        if (classes) t->classes = classes;
        char *name = classes ? strndup(f.p, (size_t)(f.end - f.p)) : NULL;
        if (!name)
            s = nomem(r);
        else if (name_taken(t->classes, t->n_classes, name) || t->n_classes == CG_TABLE_MAX_CATEGORIES)
            s = csv_error(path, line.no, 1, "'%.60s' %s", name,
                          t->n_classes == CG_TABLE_MAX_CATEGORIES ? "is one class too many"
                                                                   : "is listed twice");
        if (s == CG_OK) t->classes[t->n_classes++] = name; else free(name);
    }
    free(text);
    if (s == CG_OK && t->n_classes == 0) s = cg_set_error(CG_ERR_FORMAT, "%s: no class names", path);
    return s;
}

/* Text labels become class names; numbers stay class indices (or values). */
static cg_status learn_classes(csv_reader *r)
{
    cg_table *t = r->table;
    if (t->target < 0) return CG_OK;
    cg_status s = CG_OK;
    if (r->opts->classes_path && (r->classification || r->opts->unit_targets)) {
        s = read_classes(r, r->opts->classes_path);
    } else if (is_text_column(r, t->target) && (r->classification || r->opts->unit_targets)) {
        value_set v = {0};
        s = collect_values(r, t->target, &v);
        t->classes = v.items;
        t->n_classes = v.n;
    }
    if (s || !t->classes) return s;
    char names[768];
    cg__names_list(t->classes, t->n_classes, names, sizeof names);
    int32_t limit = r->opts->num_classes;
    if (r->classification && limit > 0 && t->n_classes != limit)
        return cg_set_error(CG_ERR_ARG, "%s: the target has %d class names (%s) but the model's "
                            "output has %d classes; they must agree (a --classes FILE lists every "
                            "class)", r->path, (int)t->n_classes, names, (int)limit);
    if (!r->classification && t->n_classes != 2)
        return cg_set_error(CG_ERR_ARG, "%s: bce_with_logits needs 2 class names for 0 and 1, the "
                            "target has %d (%s)", r->path, (int)t->n_classes, names);
    return CG_OK;
}

static cg_status learn_table(csv_reader *r)
{
    cg_table *t = r->table;
    t->n_columns = r->lay.ncols;
    t->header_detected = r->lay.header && r->header_mode == CG_CSV_HEADER_DETECT;
    cg_status s = r->lay.header ? read_names(r, &t->names) : CG_OK;
    if (s == CG_OK) s = choose_target(r, &t->target);
    if (s == CG_OK) s = choose_features(r);
    if (s == CG_OK) s = learn_categories(r);
    if (s == CG_OK) s = learn_classes(r);
    for (int64_t j = 0; j < r->lay.ncols; j++) r->role[j] = j == t->target ? ROLE_TARGET : ROLE_SKIP;
    for (int64_t i = 0; i < t->n_features; i++) r->role[t->features[i].column] = i;
    r->has_target = t->target >= 0;
    return s;
}

/* ------------------------------------------------------------ applying a table */

/* The file's column for the model's column c: the one of the same name or,
 * when the model's table had that name more than once, the same occurrence
 * of it; -1 if none. */
static int64_t file_column(const csv_reader *r, char **names, int64_t c)
{
    const cg_table *t = r->table;
    int64_t nth = 0;
    for (int64_t k = 0; k < c; k++) nth += strcmp(t->names[k], t->names[c]) == 0;
    for (int64_t j = 0; j < r->lay.ncols; j++)
        if (strcmp(names[j], t->names[c]) == 0 && nth-- == 0) return j;
    return -1;
}

/* Columns by header name: the model's feature columns must be there, the
 * target may be. */
static cg_status match_by_name(csv_reader *r, char **names)
{
    const cg_table *t = r->table;
    for (int64_t j = 0; j < r->lay.ncols; j++) r->role[j] = ROLE_SKIP;
    int64_t target = t->target >= 0 ? file_column(r, names, t->target) : -1;
    r->has_target = target >= 0;
    if (r->has_target) r->role[target] = ROLE_TARGET;
    for (int64_t i = 0; i < t->n_features; i++) {
        int64_t j = file_column(r, names, t->features[i].column);
        if (j >= 0) {
            r->role[j] = i;
            continue;
        }
        char list[768];
        cg__names_list(names, r->lay.ncols, list, sizeof list);
        return cg_set_error(CG_ERR_ARG, "%s: no column '%s', which the model reads; the file's "
                            "columns are %s", r->path, t->names[t->features[i].column], list);
    }
    return CG_OK;
}

/* Columns by position: all of the model's table, or all but its target. */
static cg_status match_by_position(csv_reader *r)
{
    const cg_table *t = r->table;
    int64_t n = t->n_columns, got = r->lay.ncols;
    bool whole = got == n, no_target = t->target >= 0 && got == n - 1;
    if (!whole && !no_target) {
        if (t->target < 0)
            return cg_set_error(CG_ERR_ARG, "%s has %lld columns; the model was trained on a "
                                "table of %lld", r->path, (long long)got, (long long)n);
        return cg_set_error(CG_ERR_ARG, "%s has %lld columns; the model reads %lld input%s from a "
                            "table of %lld columns: give all %lld, or the %lld without the target "
                            "(column %lld)", r->path, (long long)got, (long long)t->sample_size,
                            t->sample_size == 1 ? "" : "s", (long long)n, (long long)n,
                            (long long)n - 1, (long long)t->target + 1);
    }
    for (int64_t j = 0; j < got; j++) r->role[j] = ROLE_SKIP;
    r->has_target = whole && t->target >= 0;
    if (r->has_target) r->role[t->target] = ROLE_TARGET;
    for (int64_t i = 0; i < t->n_features; i++) {
        int64_t col = t->features[i].column;
        r->role[whole || col < t->target ? col : col - 1] = i;
    }
    return CG_OK;
}

static cg_status apply_table(csv_reader *r)
{
    r->table = cg__table_clone(r->opts->table);
    if (!r->table) return cg_last_status();
    r->table->header_detected = r->lay.header && r->header_mode == CG_CSV_HEADER_DETECT;
    if (!r->lay.header || !r->table->names) return match_by_position(r);
    char **names = NULL;
    cg_status s = read_names(r, &names);
    if (s == CG_OK) s = match_by_name(r, names);
    for (int64_t j = 0; names && j < r->lay.ncols; j++) free(names[j]);
    free(names);
    return s;
}

/* ------------------------------------------------------------ pass 4: samples */

static cg_status parse_label(const csv_reader *r, const csv_cursor *c, const csv_field *f,
                             cg_dataset *d, int64_t row)
{
    double v = 0;
    cg_status s = parse_number(r, c, f, &v);
    if (s) return s;
    if (!(v >= 0 && v < INT32_MAX && v == floor(v)))
        return csv_error(c->path, c->line->no, f->col,
                         "class label '%.*s' is not a non-negative integer", quote_len(f), f->p);
    int32_t limit = r->opts->num_classes;
    if (limit > 0 && v >= limit)
        return csv_error(c->path, c->line->no, f->col,
                         "class label %.0f is outside the model's %d classes (0..%d)", v,
                         (int)limit, (int)limit - 1);
    d->labels[row] = (int32_t)v;
    if (d->labels[row] >= d->num_classes) d->num_classes = d->labels[row] + 1;
    return CG_OK;
}

static cg_status parse_class_name(const csv_reader *r, const csv_cursor *c, const csv_field *f,
                                  cg_dataset *d, int64_t row)
{
    const cg_table *t = r->table;
    const char *name = field_text(r, f);
    int32_t k = cg__names_find(t->classes, t->n_classes, name);
    if (k < 0) {
        char known[768];
        cg__names_list(t->classes, t->n_classes, known, sizeof known);
        return csv_error(c->path, c->line->no, f->col, "unknown class label '%.60s'; the model "
                         "knows %s", name, known);
    }
    if (d->labels) d->labels[row] = k; else d->y[row] = (float)k;
    return CG_OK;
}

static cg_status parse_target(const csv_reader *r, const csv_cursor *c, const csv_field *f,
                              cg_dataset *d, int64_t row)
{
    if (r->table->classes) return parse_class_name(r, c, f, d, row);
    if (d->labels) return parse_label(r, c, f, d, row);
    double v = 0;
    cg_status s = parse_number(r, c, f, &v);
    if (s == CG_OK && r->opts->unit_targets && !(v >= 0 && v <= 1))
        return csv_error(c->path, c->line->no, f->col, "target %.*s is outside [0, 1], which "
                         "bce_with_logits needs (a probability or a 0/1 label)", quote_len(f), f->p);
    d->y[row] = (float)v;
    return s;
}

static cg_status missing_cell(const csv_cursor *c, const csv_field *f)
{
    const char *what = f->p == f->end ? "empty field" : "missing value";
    return csv_error(c->path, c->line->no, f->col, "%s%s%.*s%s, expected a number (a normalize "
                     "layer with \"impute\": \"mean\" fills in missing values)", what,
                     f->p == f->end ? "" : " '", quote_len(f), f->p, f->p == f->end ? "" : "'");
}

static cg_status parse_category(const csv_reader *r, const csv_cursor *c, const csv_field *f,
                                const cg_table_feature *tf, int64_t j, float *x)
{
    memset(x, 0, (size_t)tf->n_categories * sizeof *x);
    bool ignore = r->opts->unknown_ignore;
    if (is_missing(f->p, f->end)) {
        if (ignore || r->opts->allow_missing) return CG_OK;
        return csv_error(c->path, c->line->no, f->col, "missing value in a categorical column "
                         "(\"data\": {\"unknown\": \"ignore\"} in the model file reads it as none "
                         "of the categories)");
    }
    int32_t k = cg__names_find_sorted(tf->categories, tf->n_categories, field_text(r, f));
    if (k >= 0) {
        x[k] = 1.0f;
        return CG_OK;
    }
    if (ignore) return CG_OK;
    char label[128], known[768];
    cg__names_list(tf->categories, tf->n_categories, known, sizeof known);
    return csv_error(c->path, c->line->no, f->col, "'%.60s' is not a category of %s seen in "
                     "training (%s); \"data\": {\"unknown\": \"ignore\"} in the model file reads "
                     "unseen ones as none of them", r->scratch, column_label(r, j, label,
                     sizeof label), known);
}

static cg_status parse_feature(const csv_reader *r, const csv_cursor *c, const csv_field *f,
                               int64_t i, int64_t j, float *sample)
{
    const cg_table_feature *tf = &r->table->features[i];
    float *x = sample + r->offset[i];
    if (tf->n_categories > 0) return parse_category(r, c, f, tf, j, x);
    if (is_missing(f->p, f->end)) {
        if (!r->opts->allow_missing) return missing_cell(c, f);
        *x = NAN;
        return CG_OK;
    }
    double v = 0;
    cg_status s = parse_number(r, c, f, &v);
    *x = (float)v;
    return s;
}

static cg_status parse_row(const csv_reader *r, const csv_line *line, cg_dataset *d, int64_t row)
{
    csv_cursor c = {r->path, line, line->p, false};
    csv_field f;
    float *sample = d->x + row * d->sample_size;
    cg_status s = CG_OK;
    for (int64_t j = 0; s == CG_OK && j < r->lay.ncols && next_field(&c, &f) == 1; j++) {
        int64_t role = r->role[j];
        if (role == ROLE_TARGET)
            s = parse_target(r, &c, &f, d, row);
        else if (role >= 0)
            s = parse_feature(r, &c, &f, role, j, sample);
    }
    return s;
}

static cg_status parse_rows(const csv_reader *r, cg_dataset *d)
{
    const char *cur = r->text;
    csv_line line = {0};
    int64_t row = 0;
    cg_status s = CG_OK;
    while (s == CG_OK && row < d->count && next_row(r, &cur, &line)) s = parse_row(r, &line, d, row++);
    return s;
}

/* ------------------------------------------------------------ the data set */

static cg_status allocate(csv_reader *r, cg_dataset *d)
{
    const cg_table *t = r->table;
    r->offset = malloc((size_t)t->n_features * sizeof *r->offset);
    int64_t n, at = 0;
    if (!r->offset) return nomem(r);
    for (int64_t i = 0; i < t->n_features; i++) {
        r->offset[i] = at;
        at += t->features[i].n_categories > 0 ? t->features[i].n_categories : 1;
    }
    if (!cg__mul_within(r->lay.rows, t->sample_size, (int64_t)(SIZE_MAX / sizeof(float)), &n))
        return cg_set_error(CG_ERR_NOMEM, "%s: too many values", r->path);
    d->count = r->lay.rows;
    d->sample_size = t->sample_size;
    d->sample_ndim = 1;
    d->sample_shape[0] = t->sample_size;
    d->x = malloc((size_t)(n ? n : 1) * sizeof(float));
    bool labels = r->has_target && r->classification;
    if (labels) d->labels = malloc((size_t)r->lay.rows * sizeof(int32_t));
    if (r->has_target && !labels) d->y = malloc((size_t)r->lay.rows * sizeof(float));
    if (!d->x || (r->has_target && !d->labels && !d->y))
        return cg_set_error(CG_ERR_NOMEM, "%s: cannot allocate %lld rows of %lld values", r->path,
                            (long long)r->lay.rows, (long long)t->sample_size);
    d->target_size = d->y ? 1 : 0;
    if (labels && t->classes) d->num_classes = t->n_classes;
    return CG_OK;
}

/* "the table gives 7 values per sample (3 numeric columns, 'color': 4
 * categories)" when that is not what the model takes. */
static cg_status check_size(const csv_reader *r)
{
    const cg_data_options *o = r->opts;
    const cg_table *t = r->table;
    int64_t inputs = 1;
    for (int i = 0; i < o->sample_ndim; i++) inputs *= o->sample_shape[i];
    if (o->sample_ndim <= 0 || inputs == t->sample_size) return CG_OK;
    if (!o->table && o->targets_optional && !o->target)
        return cg_set_error(CG_ERR_ARG, "%s has %lld columns; the model takes %lld inputs, so a "
                            "table for it has %lld columns (inputs only) or %lld (inputs, then the "
                            "target)", r->path, (long long)r->lay.ncols, (long long)inputs,
                            (long long)inputs, (long long)inputs + 1);
    int64_t numeric = 0, categorical = 0;
    for (int64_t i = 0; i < t->n_features; i++) {
        numeric += t->features[i].n_categories == 0;
        categorical += t->features[i].n_categories > 0;
    }
    return cg_set_error(CG_ERR_ARG, "%s: the model takes %lld inputs, the table gives %lld values "
                        "per sample (%lld numeric column%s, %lld categorical one-hot over their "
                        "categories); change the model's \"input\" or choose columns with "
                        "--features", r->path, (long long)inputs, (long long)t->sample_size,
                        (long long)numeric, numeric == 1 ? "" : "s", (long long)categorical);
}

static const char *column_label_of(const cg_table *t, int64_t j, char *buf, size_t size)
{
    if (t->names)
        snprintf(buf, size, "'%.60s'", t->names[j]);
    else
        snprintf(buf, size, "column %lld", (long long)j + 1);
    return buf;
}

static cg_status read_table_file(csv_reader *r, cg_dataset *d)
{
    char label[96];
    if (r->end - r->text >= 3 && memcmp(r->text, "\xEF\xBB\xBF", 3) == 0) r->text += 3;  /* UTF-8 BOM */
    cg_status s = survey(r);
    if (s) return s;
    if (r->opts->table) {
        s = apply_table(r);
    } else {
        r->table = calloc(1, sizeof *r->table);
        s = r->table ? learn_table(r) : nomem(r);
    }
    if (s == CG_OK && r->opts->table && !r->has_target && !r->opts->targets_optional)
        s = cg_set_error(CG_ERR_ARG, "%s has no target column (%s); eval and training need "
                         "targets (predict reads tables without them)", r->path,
                         column_label_of(r->table, r->table->target, label, sizeof label));
    if (s == CG_OK) s = check_size(r);
    if (s == CG_OK) s = allocate(r, d);
    if (s == CG_OK) s = parse_rows(r, d);
    return s;
}

static void reader_free(csv_reader *r)
{
    free(r->lay.numbers);
    free(r->lay.texts);
    free(r->role);
    free(r->offset);
    free(r->scratch);
}

static cg_status load_text(const char *path, char *text, size_t size, bool classification,
                           cg_csv_header header, const cg_data_options *opts, cg_dataset *d)
{
    csv_reader r = {.path = path, .text = text, .end = text + size, .opts = opts,
                    .classification = classification, .header_mode = header};
    cg_status s = read_table_file(&r, d);
    d->table = r.table;
    reader_free(&r);
    if (s == CG_OK && opts->sample_ndim > 0) s = cg_dataset_reshape(d, opts->sample_ndim, opts->sample_shape);
    return s;
}

cg_status cg_dataset_load_csv(cg_dataset *out, const char *path, bool classification,
                              const int64_t *sample_shape, int sample_ndim)
{
    const cg_data_options opts = {0};
    cg_status s = cg__dataset_load_csv(out, path, classification, CG_CSV_HEADER_DETECT, &opts);
    if (s == CG_OK && sample_shape && (s = cg_dataset_reshape(out, sample_ndim, sample_shape)))
        cg_dataset_free(out);
    return s;
}

cg_status cg__dataset_load_csv(cg_dataset *out, const char *path, bool classification,
                               cg_csv_header header, const cg_data_options *opts)
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
    s = load_text(path, text, size, classification, header, opts, &d);
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
