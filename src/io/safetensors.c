/* safetensors files (https://github.com/huggingface/safetensors):
 *   u64 little-endian N | N bytes of UTF-8 JSON header | tensor data
 * The header maps names to {"dtype", "shape", "data_offsets": [begin, end]}
 * (offsets relative to the first data byte) plus an optional
 * "__metadata__" map of strings. Writers pad the header with spaces to a
 * multiple of 8 so that data stays aligned; the data of all tensors tile the
 * data section exactly, with no gaps, overlaps or trailing bytes.
 *
 * Loading trusts nothing in the file: every size is checked against the
 * file size before anything is allocated or read, and every failure names
 * the file and the problem. */
#include "internal.h"
#include "fileio.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#error "safetensors data are little-endian; byte swapping is not implemented"
#endif

/* The reference implementation refuses larger headers too; the limit keeps
 * a hostile length field from making us allocate gigabytes for JSON. */
#define ST_MAX_HEADER (100u * 1024 * 1024)
#define ST_META_KEY "__metadata__"

/* qsort has no context argument, so sorted views carry their index. */
struct st_name {
    const char *name;
    size_t index;
};

/* Data offsets, needed only while validating. */
typedef struct st_span {
    uint64_t begin, end;
    size_t index;
} st_span;

struct cg_st_file {
    cg_st_entry *entries;   /* header order */
    size_t n;
    struct st_name *by_name; /* sorted by name: binary search, duplicates */
    char **meta_keys;
    char **meta_values;
    size_t n_meta;
    unsigned char *data;    /* the data section */
    void **copies;          /* aligned copies of misaligned tensors, or NULL */
};

static cg_status st_fail(cg_status status, const char *path, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static cg_status st_fail(cg_status status, const char *path, const char *fmt, ...)
{
    char msg[768];
    va_list args;
    va_start(args, fmt);
    vsnprintf(msg, sizeof msg, fmt, args);
    va_end(args);
    return cg_set_error(status, "safetensors '%s': %s", path, msg);
}

static char *dup_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* ---- shared helpers ---- */

/* Length of the UTF-8 sequence at s (at most n bytes available), or 0 if
 * it is malformed, overlong, a surrogate or above U+10FFFF. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (len == 0 || c > 0xF4 || len > n) return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    if (c == 0xE0 && s[1] < 0xA0) return 0;  /* overlong */
    if (c == 0xED && s[1] > 0x9F) return 0;  /* surrogate */
    if (c == 0xF0 && s[1] < 0x90) return 0;  /* overlong */
    if (c == 0xF4 && s[1] > 0x8F) return 0;  /* > U+10FFFF */
    return len;
}

/* Offset of the first invalid byte, or n if s[0..n) is valid UTF-8. */
static size_t utf8_invalid_at(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t len = utf8_seq_len(s + i, n - i);
        if (len == 0) return i;
        i += len;
    }
    return n;
}

/* Bytes per element; 0 for a value outside the enum. */
static uint64_t dtype_size(cg_dtype dtype)
{
    switch (dtype) {
    case CG_DTYPE_F32: return 4;
    case CG_DTYPE_I64: return 8;
    }
    return 0;
}

static const char *dtype_name(cg_dtype dtype)
{
    return dtype == CG_DTYPE_I64 ? "I64" : "F32";
}

/* Bytes of a tensor; false if the count overflows 64 bits. Checked per
 * factor because a hostile shape can overflow long before a zero dimension
 * would bring the product back to 0. */
static bool tensor_bytes(int ndim, const int64_t *shape, uint64_t elsize, uint64_t *bytes)
{
    for (int i = 0; i < ndim; i++)
        if (shape[i] == 0) {
            *bytes = 0;
            return true;
        }
    uint64_t n = elsize;
    for (int i = 0; i < ndim; i++) {
        uint64_t d = (uint64_t)shape[i];
        if (n > UINT64_MAX / d) return false;
        n *= d;
    }
    *bytes = n;
    return true;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* ======================================================================== */
/* Saving                                                                    */
/* ======================================================================== */

typedef struct strbuf {
    char *p;
    size_t len, cap;
    bool oom;
} strbuf;

static void sb_put(strbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (n > SIZE_MAX - b->len - 16) {
        b->oom = true;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap = cap > SIZE_MAX / 2 ? b->len + n + 1 : cap * 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(strbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_u64(strbuf *b, uint64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v);
    sb_put(b, tmp, (size_t)n);
}

/* JSON string literal. Input is valid UTF-8 (checked by the caller), so
 * only quotes, backslashes and control characters need escaping. */
static void sb_json_string(strbuf *b, const char *s)
{
    sb_put(b, "\"", 1);
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            sb_put(b, esc, 2);
        } else if (c < 0x20) {
            char esc[8];
            snprintf(esc, sizeof esc, "\\u%04x", c);
            sb_put(b, esc, 6);
        } else {
            sb_put(b, p, 1);
        }
    }
    sb_put(b, "\"", 1);
}

static cg_status check_save_string(const char *path, const char *what, const char *s)
{
    if (!s) return st_fail(CG_ERR_ARG, path, "%s is NULL", what);
    size_t n = strlen(s);
    if (utf8_invalid_at((const unsigned char *)s, n) != n)
        return st_fail(CG_ERR_ARG, path, "%s '%s' is not valid UTF-8", what, s);
    return CG_OK;
}

static cg_status check_save_entry(const char *path, const cg_st_entry *e, uint64_t *bytes)
{
    cg_status s = check_save_string(path, "tensor name", e->name);
    if (s) return s;
    if (strcmp(e->name, ST_META_KEY) == 0)
        return st_fail(CG_ERR_ARG, path, "'%s' is reserved and cannot name a tensor", ST_META_KEY);
    uint64_t elsize = dtype_size(e->dtype);
    if (elsize == 0)
        return st_fail(CG_ERR_ARG, path, "tensor '%s': unknown dtype %d", e->name, (int)e->dtype);
    if (e->ndim < 0 || e->ndim > CG_MAX_DIMS)
        return st_fail(CG_ERR_ARG, path, "tensor '%s': rank %d outside 0..%d", e->name, e->ndim,
                       CG_MAX_DIMS);
    for (int i = 0; i < e->ndim; i++)
        if (e->shape[i] < 0)
            return st_fail(CG_ERR_ARG, path, "tensor '%s': dimension %d is negative (%lld)",
                           e->name, i, (long long)e->shape[i]);
    if (!tensor_bytes(e->ndim, e->shape, elsize, bytes) || *bytes > (uint64_t)SIZE_MAX)
        return st_fail(CG_ERR_ARG, path, "tensor '%s': shape too large", e->name);
    if (*bytes > 0 && !e->data)
        return st_fail(CG_ERR_ARG, path, "tensor '%s': data is NULL", e->name);
    return CG_OK;
}

/* Duplicate keys would make the file ambiguous; every reader must refuse it. */
static cg_status check_unique(const char *path, const char *what, const char **names, size_t n)
{
    qsort(names, n, sizeof *names, compare_names);
    for (size_t i = 1; i < n; i++)
        if (strcmp(names[i - 1], names[i]) == 0)
            return st_fail(CG_ERR_ARG, path, "duplicate %s '%s'", what, names[i]);
    return CG_OK;
}

static cg_status check_save_args(const char *path, const cg_st_entry *entries, size_t n,
                                 const char *const *keys, const char *const *values,
                                 size_t n_meta, uint64_t *bytes)
{
    if ((n > 0 && !entries) || (n_meta > 0 && (!keys || !values)))
        return st_fail(CG_ERR_ARG, path, "NULL entries or metadata arrays");
    cg_status s = CG_OK;
    for (size_t i = 0; i < n && !s; i++) s = check_save_entry(path, &entries[i], &bytes[i]);
    for (size_t i = 0; i < n_meta && !s; i++) {
        s = check_save_string(path, "metadata key", keys[i]);
        if (!s) s = check_save_string(path, "metadata value", values[i]);
    }
    if (s) return s;
    size_t most = n > n_meta ? n : n_meta;
    const char **names = malloc((most ? most : 1) * sizeof *names);
    if (!names) return st_fail(CG_ERR_NOMEM, path, "out of memory");
    for (size_t i = 0; i < n; i++) names[i] = entries[i].name;
    s = check_unique(path, "tensor name", names, n);
    for (size_t i = 0; i < n_meta && !s; i++) names[i] = keys[i];
    if (!s) s = check_unique(path, "metadata key", names, n_meta);
    free(names);
    return s;
}

/* Metadata first, then tensors in the order given, data back to back:
 * the layout the reference implementation writes. */
static void build_header(strbuf *b, const cg_st_entry *entries, size_t n, const uint64_t *bytes,
                         const char *const *keys, const char *const *values, size_t n_meta)
{
    sb_str(b, "{");
    if (n_meta > 0) {
        sb_str(b, "\"" ST_META_KEY "\":{");
        for (size_t i = 0; i < n_meta; i++) {
            if (i) sb_str(b, ",");
            sb_json_string(b, keys[i]);
            sb_str(b, ":");
            sb_json_string(b, values[i]);
        }
        sb_str(b, n > 0 ? "}," : "}");
    }
    uint64_t offset = 0;
    for (size_t i = 0; i < n; i++) {
        const cg_st_entry *e = &entries[i];
        if (i) sb_str(b, ",");
        sb_json_string(b, e->name);
        sb_str(b, ":{\"dtype\":\"");
        sb_str(b, dtype_name(e->dtype));
        sb_str(b, "\",\"shape\":[");
        for (int d = 0; d < e->ndim; d++) {
            if (d) sb_str(b, ",");
            sb_u64(b, (uint64_t)e->shape[d]);
        }
        sb_str(b, "],\"data_offsets\":[");
        sb_u64(b, offset);
        sb_str(b, ",");
        offset += bytes[i];
        sb_u64(b, offset);
        sb_str(b, "]}");
    }
    sb_str(b, "}");
    while (!b->oom && b->len % 8 != 0) sb_str(b, " ");
}

static cg_status write_file(const char *path, const strbuf *header, const cg_st_entry *entries,
                            size_t n, const uint64_t *bytes)
{
    cg_atomic_file af;
    cg_status s = cg__atomic_open(&af, path);
    if (s) return s;
    unsigned char len_le[8];
    for (int i = 0; i < 8; i++) len_le[i] = (unsigned char)((uint64_t)header->len >> (8 * i));
    s = cg__atomic_write(&af, len_le, sizeof len_le);
    if (!s) s = cg__atomic_write(&af, header->p, header->len);
    for (size_t i = 0; i < n && !s; i++)
        s = cg__atomic_write(&af, entries[i].data, (size_t)bytes[i]);
    if (s) {
        cg__atomic_abort(&af);
        return s;
    }
    return cg__atomic_commit(&af);
}

cg_status cg_safetensors_save(const char *path, const cg_st_entry *entries, size_t n,
                              const char *const *meta_keys, const char *const *meta_values,
                              size_t n_meta)
{
    if (!path) return cg_set_error(CG_ERR_ARG, "cg_safetensors_save: path is NULL");
    uint64_t *bytes = malloc((n ? n : 1) * sizeof *bytes);
    if (!bytes) return st_fail(CG_ERR_NOMEM, path, "out of memory");
    cg_status s = check_save_args(path, entries, n, meta_keys, meta_values, n_meta, bytes);
    strbuf header = {0};
    if (!s) {
        build_header(&header, entries, n, bytes, meta_keys, meta_values, n_meta);
        if (header.oom) s = st_fail(CG_ERR_NOMEM, path, "out of memory building the header");
    }
    if (!s) s = write_file(path, &header, entries, n, bytes);
    free(header.p);
    free(bytes);
    return s;
}

/* ======================================================================== */
/* Loading                                                                   */
/* ======================================================================== */

void cg_safetensors_free(cg_st_file *f)
{
    if (!f) return;
    for (size_t i = 0; i < f->n; i++) {
        free((char *)f->entries[i].name);
        if (f->copies) free(f->copies[i]);
    }
    for (size_t i = 0; i < f->n_meta; i++) {
        free(f->meta_keys[i]);
        free(f->meta_values[i]);
    }
    free(f->entries);
    free(f->by_name);
    free(f->meta_keys);
    free(f->meta_values);
    free(f->copies);
    free(f->data);
    free(f);
}

/* Reads the length prefix and the header; the header gets a NUL appended
 * so that cJSON can never read past it. */
static cg_status read_header(FILE *fp, const char *path, uint64_t file_size, char **header,
                             uint64_t *header_len)
{
    if (file_size < 8)
        return st_fail(CG_ERR_FORMAT, path,
                       "truncated file: %llu bytes, too short for the 8-byte header length",
                       (unsigned long long)file_size);
    unsigned char len_le[8];
    cg_status s = cg__fread(len_le, 8, fp, path, "header length");
    if (s) return s;
    uint64_t n = 0;
    for (int i = 0; i < 8; i++) n |= (uint64_t)len_le[i] << (8 * i);
    if (n > file_size - 8)
        return st_fail(CG_ERR_FORMAT, path,
                       "header length %llu is larger than the file (%llu bytes after the "
                       "length field): truncated or not a safetensors file",
                       (unsigned long long)n, (unsigned long long)(file_size - 8));
    if (n > ST_MAX_HEADER)
        return st_fail(CG_ERR_FORMAT, path, "header length %llu exceeds the %u-byte limit",
                       (unsigned long long)n, ST_MAX_HEADER);
    if (n < 2) return st_fail(CG_ERR_FORMAT, path, "header of %llu bytes cannot hold a JSON object",
                              (unsigned long long)n);
    char *buf = malloc((size_t)n + 1);
    if (!buf) return st_fail(CG_ERR_NOMEM, path, "cannot allocate the %llu-byte header",
                             (unsigned long long)n);
    s = cg__fread(buf, (size_t)n, fp, path, "header");
    if (s) {
        free(buf);
        return s;
    }
    buf[n] = '\0';
    *header = buf;
    *header_len = n;
    return CG_OK;
}

/* Valid JSON never holds raw control characters (a NUL would also cut
 * cJSON's strings short), and the spec requires UTF-8. */
static cg_status check_header_text(const char *path, const char *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)h[i];
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
            return st_fail(CG_ERR_FORMAT, path, "header holds control byte 0x%02x at offset %zu",
                           c, i);
    }
    size_t bad = utf8_invalid_at((const unsigned char *)h, n);
    if (bad != n)
        return st_fail(CG_ERR_FORMAT, path, "header is not valid UTF-8 (byte %zu)", bad);
    return CG_OK;
}

static cg_status parse_json(const char *path, const char *h, size_t n, cJSON **out)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(h, n, &end, 0);
    if (!root) {
        size_t at = end && end >= h && end <= h + n ? (size_t)(end - h) : 0;
        return st_fail(CG_ERR_FORMAT, path, "header is not valid JSON (near byte %zu)", at);
    }
    /* Only padding may follow the object. */
    for (const char *p = end; p < h + n; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            cJSON_Delete(root);
            return st_fail(CG_ERR_FORMAT, path,
                           "unexpected bytes after the JSON header at byte %zu", (size_t)(p - h));
        }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return st_fail(CG_ERR_FORMAT, path, "header is not a JSON object");
    }
    *out = root;
    return CG_OK;
}

/* A JSON number that is a non-negative integer exactly representable in a
 * double (larger values have already lost their low digits). */
static bool json_uint(const cJSON *v, uint64_t *out)
{
    if (!cJSON_IsNumber(v)) return false;
    double d = v->valuedouble;
    if (!(d >= 0 && d <= 9007199254740992.0) || d != floor(d)) return false;
    *out = (uint64_t)d;
    return true;
}

static cg_status parse_dtype(const char *path, const char *name, const cJSON *v, cg_dtype *dtype,
                             uint64_t *elsize)
{
    static const char *const others[] = {"F64", "F16", "BF16", "F8_E4M3", "F8_E5M2", "I32",
                                         "I16", "I8",  "U64",  "U32",     "U16",     "U8",
                                         "BOOL", "F4", "F6_E2M3", "F6_E3M2", "F8_E8M0",
                                         "E8M0", "C64"};
    if (!cJSON_IsString(v))
        return st_fail(CG_ERR_FORMAT, path, "tensor '%s': dtype is not a string", name);
    if (strcmp(v->valuestring, "F32") == 0) {
        *dtype = CG_DTYPE_F32;
    } else if (strcmp(v->valuestring, "I64") == 0) {
        *dtype = CG_DTYPE_I64;
    } else {
        for (size_t i = 0; i < sizeof others / sizeof *others; i++)
            if (strcmp(v->valuestring, others[i]) == 0)
                return st_fail(CG_ERR_FORMAT, path,
                               "tensor '%s' has dtype %s; cgrad reads only F32 and I64", name,
                               others[i]);
        return st_fail(CG_ERR_FORMAT, path, "tensor '%s': unknown dtype '%.64s'", name,
                       v->valuestring);
    }
    *elsize = dtype_size(*dtype);
    return CG_OK;
}

static cg_status parse_shape(const char *path, const char *name, const cJSON *v, cg_st_entry *e)
{
    if (!cJSON_IsArray(v))
        return st_fail(CG_ERR_FORMAT, path, "tensor '%s': shape is not an array", name);
    int rank = cJSON_GetArraySize(v);
    if (rank > CG_MAX_DIMS)
        return st_fail(CG_ERR_FORMAT, path, "tensor '%s': rank %d exceeds CG_MAX_DIMS (%d)", name,
                       rank, CG_MAX_DIMS);
    int d = 0;
    for (const cJSON *dim = v->child; dim; dim = dim->next, d++) {
        uint64_t u;
        if (!json_uint(dim, &u))
            return st_fail(CG_ERR_FORMAT, path,
                           "tensor '%s': shape[%d] is not a non-negative integer", name, d);
        e->shape[d] = (int64_t)u;
    }
    e->ndim = rank;
    return CG_OK;
}

static cg_status parse_offsets(const char *path, const char *name, const cJSON *v, st_span *span)
{
    uint64_t o[2];
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 2 || !json_uint(v->child, &o[0]) ||
        !json_uint(v->child->next, &o[1]))
        return st_fail(CG_ERR_FORMAT, path,
                       "tensor '%s': data_offsets must be [begin, end], two non-negative integers",
                       name);
    if (o[0] > o[1])
        return st_fail(CG_ERR_FORMAT, path,
                       "tensor '%s': data_offsets [%llu, %llu] end before they begin", name,
                       (unsigned long long)o[0], (unsigned long long)o[1]);
    span->begin = o[0];
    span->end = o[1];
    return CG_OK;
}

/* Which of the three fields an entry has seen, to refuse duplicates and
 * report missing ones. */
enum { HAVE_DTYPE = 1, HAVE_SHAPE = 2, HAVE_OFFSETS = 4 };

static cg_status parse_field(const char *path, const char *name, const cJSON *field,
                             cg_st_entry *e, st_span *span, uint64_t *elsize, unsigned *have)
{
    static const char *const keys[] = {"dtype", "shape", "data_offsets"};
    for (unsigned k = 0; k < 3; k++) {
        if (strcmp(field->string, keys[k]) != 0) continue;
        if (*have & (1u << k))
            return st_fail(CG_ERR_FORMAT, path, "tensor '%s': duplicate field '%s'", name, keys[k]);
        *have |= 1u << k;
        if (k == 0) return parse_dtype(path, name, field, &e->dtype, elsize);
        if (k == 1) return parse_shape(path, name, field, e);
        return parse_offsets(path, name, field, span);
    }
    return st_fail(CG_ERR_FORMAT, path, "tensor '%s': unexpected field '%.64s'", name,
                   field->string);
}

static cg_status parse_entry(const char *path, const cJSON *item, cg_st_entry *e, st_span *span)
{
    const char *name = item->string;
    if (!cJSON_IsObject(item))
        return st_fail(CG_ERR_FORMAT, path, "tensor '%s': entry is not an object", name);
    unsigned have = 0;
    uint64_t elsize = 0;
    for (const cJSON *field = item->child; field; field = field->next) {
        cg_status s = parse_field(path, name, field, e, span, &elsize, &have);
        if (s) return s;
    }
    if (have != (HAVE_DTYPE | HAVE_SHAPE | HAVE_OFFSETS))
        return st_fail(CG_ERR_FORMAT, path, "tensor '%s': missing '%s'", name,
                       !(have & HAVE_DTYPE) ? "dtype"
                       : !(have & HAVE_SHAPE) ? "shape" : "data_offsets");
    uint64_t bytes;
    if (!tensor_bytes(e->ndim, e->shape, elsize, &bytes))
        return st_fail(CG_ERR_FORMAT, path, "tensor '%s': shape too large", name);
    if (bytes != span->end - span->begin)
        return st_fail(CG_ERR_FORMAT, path,
                       "tensor '%s': shape and dtype give %llu bytes but data_offsets [%llu, %llu] "
                       "span %llu",
                       name, (unsigned long long)bytes, (unsigned long long)span->begin,
                       (unsigned long long)span->end,
                       (unsigned long long)(span->end - span->begin));
    e->name = dup_string(name);
    if (!e->name) return st_fail(CG_ERR_NOMEM, path, "out of memory");
    return CG_OK;
}

static cg_status parse_metadata(const char *path, const cJSON *meta, cg_st_file *f)
{
    if (!cJSON_IsObject(meta))
        return st_fail(CG_ERR_FORMAT, path, "'%s' is not an object", ST_META_KEY);
    size_t n = (size_t)cJSON_GetArraySize(meta);
    f->meta_keys = calloc(n ? n : 1, sizeof *f->meta_keys);
    f->meta_values = calloc(n ? n : 1, sizeof *f->meta_values);
    if (!f->meta_keys || !f->meta_values) return st_fail(CG_ERR_NOMEM, path, "out of memory");
    for (const cJSON *kv = meta->child; kv; kv = kv->next) {
        if (!cJSON_IsString(kv))
            return st_fail(CG_ERR_FORMAT, path, "metadata '%s' is not a string", kv->string);
        f->meta_keys[f->n_meta] = dup_string(kv->string);
        f->meta_values[f->n_meta] = dup_string(kv->valuestring);
        f->n_meta++;  /* counted before the check so free releases both */
        if (!f->meta_keys[f->n_meta - 1] || !f->meta_values[f->n_meta - 1])
            return st_fail(CG_ERR_NOMEM, path, "out of memory");
    }
    const char **keys = malloc((n ? n : 1) * sizeof *keys);
    if (!keys) return st_fail(CG_ERR_NOMEM, path, "out of memory");
    memcpy(keys, f->meta_keys, n * sizeof *keys);
    qsort(keys, n, sizeof *keys, compare_names);
    cg_status s = CG_OK;
    for (size_t i = 1; i < n && !s; i++)
        if (strcmp(keys[i - 1], keys[i]) == 0)
            s = st_fail(CG_ERR_FORMAT, path, "duplicate metadata key '%s'", keys[i]);
    free(keys);
    return s;
}

static int compare_st_names(const void *a, const void *b)
{
    return strcmp(((const struct st_name *)a)->name, ((const struct st_name *)b)->name);
}

static int compare_spans(const void *a, const void *b)
{
    const st_span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

/* Tensors (in header order) and metadata from the header object. */
static cg_status parse_header_object(const char *path, const cJSON *root, cg_st_file *f,
                                     st_span **spans_out)
{
    size_t n = 0;
    bool have_meta = false;
    for (const cJSON *c = root->child; c; c = c->next) {
        if (strcmp(c->string, ST_META_KEY) != 0) {
            n++;
        } else if (have_meta) {
            return st_fail(CG_ERR_FORMAT, path, "duplicate '%s'", ST_META_KEY);
        } else {
            have_meta = true;
        }
    }
    f->entries = calloc(n ? n : 1, sizeof *f->entries);
    st_span *spans = calloc(n ? n : 1, sizeof *spans);
    *spans_out = spans;
    if (!f->entries || !spans) return st_fail(CG_ERR_NOMEM, path, "out of memory");
    for (const cJSON *c = root->child; c; c = c->next) {
        cg_status s;
        if (strcmp(c->string, ST_META_KEY) == 0) {
            s = parse_metadata(path, c, f);
        } else {
            size_t i = f->n++;  /* counted first so that free releases the name */
            spans[i].index = i;
            s = parse_entry(path, c, &f->entries[i], &spans[i]);
        }
        if (s) return s;
    }
    return CG_OK;
}

static cg_status index_names(const char *path, cg_st_file *f)
{
    f->by_name = malloc((f->n ? f->n : 1) * sizeof *f->by_name);
    if (!f->by_name) return st_fail(CG_ERR_NOMEM, path, "out of memory");
    for (size_t i = 0; i < f->n; i++) f->by_name[i] = (struct st_name){f->entries[i].name, i};
    qsort(f->by_name, f->n, sizeof *f->by_name, compare_st_names);
    for (size_t i = 1; i < f->n; i++)
        if (strcmp(f->by_name[i - 1].name, f->by_name[i].name) == 0)
            return st_fail(CG_ERR_FORMAT, path, "duplicate tensor name '%s'", f->by_name[i].name);
    return CG_OK;
}

/* Sorted by offset, the tensors must tile [0, data_size) exactly. */
static cg_status check_spans(const char *path, const cg_st_file *f, st_span *spans,
                             uint64_t data_size)
{
    qsort(spans, f->n, sizeof *spans, compare_spans);
    uint64_t expect = 0;
    for (size_t k = 0; k < f->n; k++) {
        const st_span *sp = &spans[k];
        const char *name = f->entries[sp->index].name;
        if (sp->end > data_size)
            return st_fail(CG_ERR_FORMAT, path,
                           "tensor '%s': data_offsets [%llu, %llu] run past the end of the file "
                           "(data section has %llu bytes): truncated file?",
                           name, (unsigned long long)sp->begin, (unsigned long long)sp->end,
                           (unsigned long long)data_size);
        if (sp->begin < expect)
            return st_fail(CG_ERR_FORMAT, path,
                           "tensor '%s': data_offsets [%llu, %llu] overlap tensor '%s'", name,
                           (unsigned long long)sp->begin, (unsigned long long)sp->end,
                           f->entries[spans[k - 1].index].name);
        if (sp->begin > expect)
            return st_fail(CG_ERR_FORMAT, path,
                           "gap of %llu bytes before tensor '%s' (data_offsets [%llu, %llu])",
                           (unsigned long long)(sp->begin - expect), name,
                           (unsigned long long)sp->begin, (unsigned long long)sp->end);
        expect = sp->end;
    }
    if (expect != data_size)
        return st_fail(CG_ERR_FORMAT, path, "%llu bytes after the last tensor's data",
                       (unsigned long long)(data_size - expect));
    return CG_OK;
}

/* Reads the data section and points the entries into it. A tensor whose
 * offset is not a multiple of its element size (legal in the format,
 * e.g. after an odd-sized tensor from another writer) gets an aligned copy
 * so that callers may read it as float / int64_t. */
static cg_status read_data(FILE *fp, const char *path, cg_st_file *f, uint64_t data_size,
                           const st_span *spans)
{
    f->data = malloc(data_size ? (size_t)data_size : 1);
    if (!f->data)
        return st_fail(CG_ERR_NOMEM, path, "cannot allocate %llu bytes of tensor data",
                       (unsigned long long)data_size);
    cg_status s = cg__fread(f->data, (size_t)data_size, fp, path, "tensor data");
    for (size_t k = 0; k < f->n && !s; k++) {
        cg_st_entry *e = &f->entries[spans[k].index];
        uint64_t elsize = dtype_size(e->dtype);
        uint64_t begin = spans[k].begin, bytes = spans[k].end - begin;
        e->data = f->data + begin;
        if (begin % elsize == 0) continue;
        if (!f->copies && !(f->copies = calloc(f->n, sizeof *f->copies)))
            return st_fail(CG_ERR_NOMEM, path, "out of memory");
        void *copy = malloc((size_t)bytes);
        if (!copy) return st_fail(CG_ERR_NOMEM, path, "out of memory");
        memcpy(copy, e->data, (size_t)bytes);
        f->copies[spans[k].index] = copy;
        e->data = copy;
    }
    return s;
}

static cg_status load_from(FILE *fp, const char *path, cg_st_file *f)
{
    uint64_t file_size = 0, header_len = 0;
    char *header = NULL;
    cJSON *root = NULL;
    st_span *spans = NULL;
    cg_status s = cg__fsize(fp, path, &file_size);
    if (!s) s = read_header(fp, path, file_size, &header, &header_len);
    if (!s) s = check_header_text(path, header, (size_t)header_len);
    if (!s) s = parse_json(path, header, (size_t)header_len, &root);
    if (!s) s = parse_header_object(path, root, f, &spans);
    if (!s) s = index_names(path, f);
    uint64_t data_size = s ? 0 : file_size - 8 - header_len;
    if (!s) s = check_spans(path, f, spans, data_size);
    if (!s) s = read_data(fp, path, f, data_size, spans);
    cJSON_Delete(root);
    free(header);
    free(spans);
    return s;
}

cg_status cg_safetensors_load(const char *path, cg_st_file **out)
{
    if (!out) return cg_set_error(CG_ERR_ARG, "cg_safetensors_load: out is NULL");
    *out = NULL;
    if (!path) return cg_set_error(CG_ERR_ARG, "cg_safetensors_load: path is NULL");
    FILE *fp;
    cg_status s = cg__fopen(&fp, path, "rb");
    if (s) return s;
    cg_st_file *f = calloc(1, sizeof *f);
    s = f ? load_from(fp, path, f) : st_fail(CG_ERR_NOMEM, path, "out of memory");
    fclose(fp);  /* read-only: nothing to lose on close */
    if (s) {
        cg_safetensors_free(f);
        return s;
    }
    *out = f;
    return CG_OK;
}

size_t cg_st_count(const cg_st_file *f) { return f ? f->n : 0; }

const cg_st_entry *cg_st_at(const cg_st_file *f, size_t i)
{
    return f && i < f->n ? &f->entries[i] : NULL;
}

const cg_st_entry *cg_st_find(const cg_st_file *f, const char *name)
{
    if (!f || !name) return NULL;
    struct st_name key = {name, 0};
    const struct st_name *hit =
        bsearch(&key, f->by_name, f->n, sizeof *f->by_name, compare_st_names);
    return hit ? &f->entries[hit->index] : NULL;
}

const char *cg_st_meta(const cg_st_file *f, const char *key)
{
    if (!f || !key) return NULL;
    for (size_t i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta_keys[i], key) == 0) return f->meta_values[i];
    return NULL;
}
