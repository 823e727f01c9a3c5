/* Character-level text data sets ("text:PATH"): a UTF-8 file becomes a
 * stream of token ids, one per code point, cut into windows of T ids that
 * are labelled with the next id at every position, the data a language
 * model learns from. Bytes that are not valid UTF-8 stay symbols of their
 * own (0xDC80 + byte, Python's surrogateescape), so any file loads and
 * every byte counts. */
#include "data_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The longest file read whole. */
#define MAX_TEXT_BYTES ((int64_t)1 << 31)
#define BYTE_SYMBOL 0xDC80

/* One symbol from s[0..n): its code point and length in bytes. */
static int32_t next_symbol(const unsigned char *s, size_t n, size_t *len)
{
    unsigned char c = s[0];
    int extra = c < 0x80 ? 0 : (c >> 5) == 0x6 ? 1 : (c >> 4) == 0xE ? 2 : (c >> 3) == 0x1E ? 3 : -1;
    *len = 1;
    if (extra < 0 || (size_t)extra >= n) return extra == 0 ? c : BYTE_SYMBOL + c;
    int32_t cp = extra == 0 ? c : c & (0x3F >> extra);
    for (int i = 1; i <= extra; i++) {
        if ((s[i] & 0xC0) != 0x80) return BYTE_SYMBOL + c;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    /* Overlong forms and surrogates are not UTF-8 either. */
    static const int32_t min_cp[4] = {0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return BYTE_SYMBOL + c;
    *len = (size_t)extra + 1;
    return cp;
}

int cg_text_symbol_utf8(int32_t symbol, char buf[5])
{
    unsigned char *b = (unsigned char *)buf;
    int n;
    if (symbol >= BYTE_SYMBOL && symbol < BYTE_SYMBOL + 256) b[0] = (unsigned char)(symbol - BYTE_SYMBOL), n = 1;
    else if (symbol < 0x80) b[0] = (unsigned char)symbol, n = 1;
    else if (symbol < 0x800) b[0] = 0xC0 | (symbol >> 6), b[1] = 0x80 | (symbol & 0x3F), n = 2;
    else if (symbol < 0x10000)
        b[0] = 0xE0 | (symbol >> 12), b[1] = 0x80 | ((symbol >> 6) & 0x3F),
        b[2] = 0x80 | (symbol & 0x3F), n = 3;
    else
        b[0] = 0xF0 | (symbol >> 18), b[1] = 0x80 | ((symbol >> 12) & 0x3F),
        b[2] = 0x80 | ((symbol >> 6) & 0x3F), b[3] = 0x80 | (symbol & 0x3F), n = 4;
    buf[n] = '\0';
    return n;
}

static int compare_symbols(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* The index of sym in the sorted vocab, or -1. */
static int64_t id_of(const int32_t *vocab, int64_t n, int32_t sym)
{
    const int32_t *hit = bsearch(&sym, vocab, (size_t)n, sizeof *vocab, compare_symbols);
    return hit ? hit - vocab : -1;
}

/* "'x' (U+0078)" or "byte 0xE9" for messages. */
static void symbol_text(int32_t sym, char *buf, size_t size)
{
    char utf8[5];
    if (sym >= BYTE_SYMBOL && sym < BYTE_SYMBOL + 256)
        snprintf(buf, size, "byte 0x%02X (not UTF-8)", (unsigned)(sym - BYTE_SYMBOL));
    else if (sym < 0x20 || sym == 0x7F)
        snprintf(buf, size, "U+%04X", (unsigned)sym);
    else
        cg_text_symbol_utf8(sym, utf8), snprintf(buf, size, "'%s' (U+%04X)", utf8, (unsigned)sym);
}

/* The symbols of text[0..n) into syms (n entries at most); the count. */
static int64_t decode(const unsigned char *text, size_t n, int32_t *syms)
{
    int64_t count = 0;
    for (size_t at = 0, len; at < n; at += len) syms[count++] = next_symbol(text + at, n - at, &len);
    return count;
}

/* Symbols below this get their id from a table, the rest by binary search:
 * most text is ASCII, and one search per symbol was most of the load. */
#define DIRECT_SYMBOLS 256

static cg_status map_to_ids(const char *what, int32_t *syms, int64_t n, const int32_t *vocab,
                            int64_t vocab_size)
{
    int64_t direct[DIRECT_SYMBOLS];
    for (int32_t c = 0; c < DIRECT_SYMBOLS; c++) direct[c] = id_of(vocab, vocab_size, c);
    int64_t line = 1;   /* of symbol i, for messages */
    for (int64_t i = 0; i < n; i++) {
        int32_t sym = syms[i];
        int64_t id = sym >= 0 && sym < DIRECT_SYMBOLS ? direct[sym] : id_of(vocab, vocab_size, sym);
        if (id < 0) {
            char text[48];
            symbol_text(sym, text, sizeof text);
            return cg_set_error(CG_ERR_ARG, "%s: line %lld: %s is not in the vocabulary of %lld "
                                            "symbols the model was trained with",
                                what, (long long)line, text, (long long)vocab_size);
        }
        line += sym == '\n';
        syms[i] = (int32_t)id;
    }
    return CG_OK;
}

cg_status cg_text_encode(const char *text, const int32_t *vocab, int64_t vocab_size,
                         int32_t *ids, int64_t *n)
{
    if (!text || !vocab || !ids || !n) return cg_set_error(CG_ERR_ARG, "cg_text_encode: NULL argument");
    *n = decode((const unsigned char *)text, strlen(text), ids);
    return map_to_ids("text", ids, *n, vocab, vocab_size);
}

/* Every symbol is a code point (≤ U+10FFFF) or a byte's surrogate. */
#define SYMBOL_LIMIT 0x110000

/* The sorted distinct symbols of syms[0..n), from a bitmap of the symbols
 * seen (136 KB; sorting every symbol of the text took a third of a second
 * for a few MB). */
static cg_status build_vocab(const int32_t *syms, int64_t n, int32_t **out, int64_t *size)
{
    uint64_t *seen = calloc(SYMBOL_LIMIT / 64, sizeof *seen);
    if (!seen) return cg_set_error(CG_ERR_NOMEM, "text: out of memory for the vocabulary");
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++) {
        uint32_t sym = (uint32_t)syms[i];
        uint64_t bit = (uint64_t)1 << (sym % 64);
        k += !(seen[sym / 64] & bit);
        seen[sym / 64] |= bit;
    }
    int32_t *v = malloc((size_t)(k ? k : 1) * sizeof *v);
    if (!v) {
        free(seen);
        return cg_set_error(CG_ERR_NOMEM, "text: out of memory for the vocabulary");
    }
    int64_t at = 0;
    for (int32_t word = 0; word < SYMBOL_LIMIT / 64; word++)
        for (uint64_t bits = seen[word]; bits; bits &= bits - 1)   /* lowest set bit first */
            v[at++] = word * 64 + __builtin_ctzll(bits);
    free(seen);
    *out = v;
    *size = k;
    return CG_OK;
}

static cg_status read_file(const char *path, unsigned char **text, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return cg_set_error(CG_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    unsigned char *buf = malloc(cap);
    cg_status s = buf ? CG_OK : cg_set_error(CG_ERR_NOMEM, "%s: out of memory", path);
    while (s == CG_OK) {
        if (len == cap) {
            unsigned char *grown = (int64_t)cap < MAX_TEXT_BYTES ? realloc(buf, cap * 2) : NULL;
            if (!grown) {
                s = cg_set_error(CG_ERR_NOMEM, "%s: too large to read (over %zu bytes)", path, cap);
                break;
            }
            buf = grown, cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) s = cg_set_error(CG_ERR_IO, "%s: read error: %s", path, strerror(errno));
            break;
        }
    }
    fclose(f);
    if (s != CG_OK) {
        free(buf);
        return s;
    }
    *text = buf, *n = len;
    return CG_OK;
}

/* Window j of T ids starting at `at`, and the ids that follow each. */
static void fill_window(cg_dataset *d, int64_t j, int64_t at)
{
    const int64_t T = d->sample_size;
    for (int64_t i = 0; i < T; i++) {
        d->x[j * T + i] = (float)d->tokens[at + i];
        d->labels[j * T + i] = d->tokens[at + i + 1];
    }
}

cg_status cg_dataset_text_recut(cg_dataset *d, int64_t count, uint64_t seed, int64_t epoch)
{
    if (!d || !d->tokens || !d->owns_data)
        return cg_set_error(CG_ERR_ARG, "cg_dataset_text_recut: %s is not a text data set",
                            d ? d->source : "NULL");
    if (count < 1 || count > d->count)
        return cg_set_error(CG_ERR_ARG, "%s: cannot re-cut %lld of its %lld windows", d->source,
                            (long long)count, (long long)d->count);
    const int64_t T = d->sample_size;
    cg_rng rng = cg_train_rng(seed, epoch, CG_STREAM_AUGMENT);
    for (int64_t j = 0; j + 1 < count; j++) fill_window(d, j, j * T + cg_rng_below(&rng, (uint32_t)T));
    fill_window(d, count - 1, (count - 1) * T);
    return CG_OK;
}

/* Windows of T ids and their next-id labels. */
static cg_status cut_windows(cg_dataset *out, const int32_t *ids, int64_t n, int64_t T)
{
    int64_t count = (n - 1) / T;
    out->x = malloc((size_t)(count * T) * sizeof *out->x);
    out->labels = malloc((size_t)(count * T) * sizeof *out->labels);
    if (!out->x || !out->labels) return cg_set_error(CG_ERR_NOMEM, "text: out of memory for %lld windows", (long long)count);
    for (int64_t i = 0; i < count * T; i++) {
        out->x[i] = (float)ids[i];
        out->labels[i] = ids[i + 1];
    }
    out->count = count;
    out->sample_ndim = 1;
    out->sample_shape[0] = T;
    out->sample_size = T;
    out->label_size = T;
    return CG_OK;
}

static cg_status load_symbols(const char *path, int64_t T, int32_t **syms, int64_t *n)
{
    unsigned char *text = NULL;
    size_t bytes = 0;
    cg_status s = read_file(path, &text, &bytes);
    if (s != CG_OK) return s;
    *syms = malloc((bytes ? bytes : 1) * sizeof **syms);
    if (!*syms) s = cg_set_error(CG_ERR_NOMEM, "%s: out of memory", path);
    else *n = decode(text, bytes, *syms);
    free(text);
    if (s == CG_OK && *n < T + 1)
        s = cg_set_error(CG_ERR_ARG, "%s: %s: %lld characters make no window of %lld plus the "
                                     "next character to predict (the model's input is [%lld])",
                         path, *n == 0 ? "the file is empty" : "too short", (long long)*n,
                         (long long)T, (long long)T);
    return s;
}

cg_status cg_dataset_load_text(cg_dataset *out, const char *path, int64_t T,
                               const int32_t *vocab, int64_t vocab_size)
{
    if (!out || !path) return cg_set_error(CG_ERR_ARG, "cg_dataset_load_text: NULL argument");
    memset(out, 0, sizeof *out);
    if (T < 1) return cg_set_error(CG_ERR_ARG, "%s: text windows need a length T >= 1, got %lld", path, (long long)T);
    int32_t *syms = NULL;
    int64_t n = 0;
    out->owns_data = true;
    cg_status s = load_symbols(path, T, &syms, &n);
    if (s == CG_OK && vocab) {
        out->vocab = malloc((size_t)vocab_size * sizeof *out->vocab);
        if (!out->vocab) s = cg_set_error(CG_ERR_NOMEM, "%s: out of memory", path);
        else memcpy(out->vocab, vocab, (size_t)vocab_size * sizeof *vocab), out->vocab_size = vocab_size;
    } else if (s == CG_OK) {
        s = build_vocab(syms, n, &out->vocab, &out->vocab_size);
    }
    if (s == CG_OK) s = map_to_ids(path, syms, n, out->vocab, out->vocab_size);
    if (s == CG_OK) s = cut_windows(out, syms, n, T);
    /* The stream stays for cg_dataset_text_recut. */
    if (s == CG_OK) out->tokens = syms, out->n_tokens = n;
    else free(syms);
    if (s == CG_OK) out->num_classes = (int32_t)out->vocab_size;
    if (s == CG_OK) cg__dataset_set_source(out, path);
    else cg_dataset_free(out);
    return s;
}
