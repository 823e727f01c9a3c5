/* IDX files, the format of MNIST and Fashion-MNIST. All integers big-endian:
 *   0x00 0x00 TYPE RANK | RANK u32 dimensions | the elements, row-major
 * TYPE: 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64.
 * Read through zlib, which decompresses .gz files and passes plain ones
 * through unchanged. The header is untrusted: sizes are checked for
 * overflow, plain files against their size before anything is allocated,
 * and compressed data are read in bounded chunks into a buffer that grows
 * only as data actually arrive, so a lying header cannot make us reserve
 * gigabytes. */
#include "data_internal.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define IDX_CHUNK (1 << 20)   /* bytes per read */

typedef struct idx_file {
    const char *path;
    gzFile gz;
    int type;
    int elsize;
    int rank;
    int64_t dims[CG_MAX_DIMS + 1];
    int64_t item_size;   /* elements per item: product of dims[1..] */
    uint64_t pos;        /* bytes read so far */
    uint64_t need;       /* bytes the header makes us expect in all */
} idx_file;

static int idx_elsize(int type)
{
    switch (type) {
    case 0x08: case 0x09: return 1;
    case 0x0B: return 2;
    case 0x0C: case 0x0D: return 4;
    case 0x0E: return 8;
    }
    return 0;
}

static const char *idx_type_name(int type)
{
    switch (type) {
    case 0x08: return "u8";
    case 0x09: return "i8";
    case 0x0B: return "i16";
    case 0x0C: return "i32";
    case 0x0D: return "f32";
    case 0x0E: return "f64";
    }
    return "?";
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Every IDX element type converts to double exactly. */
static double idx_value(const unsigned char *p, int type)
{
    switch (type) {
    case 0x08: return p[0];
    case 0x09: return (int8_t)p[0];
    case 0x0B: return (int16_t)(uint16_t)(p[0] << 8 | p[1]);
    case 0x0C: return (int32_t)be32(p);
    case 0x0D: {
        uint32_t u = be32(p);
        float v;
        memcpy(&v, &u, sizeof v);
        return v;
    }
    case 0x0E: {
        uint64_t u = (uint64_t)be32(p) << 32 | be32(p + 4);
        double v;
        memcpy(&v, &u, sizeof v);
        return v;
    }
    }
    return 0;
}

static cg_status idx_read_failed(idx_file *f, uint64_t got)
{
    int err = Z_OK;
    const char *msg = gzerror(f->gz, &err);
    if (err == Z_ERRNO)
        return cg_set_error(CG_ERR_IO, "cannot read '%s': %s", f->path, strerror(errno));
    if (err != Z_OK && err != Z_BUF_ERROR) {
        /* zlib prefixes its message with the path, which we print already. */
        size_t n = strlen(f->path);
        if (strncmp(msg, f->path, n) == 0 && strncmp(msg + n, ": ", 2) == 0) msg += n + 2;
        return cg_set_error(CG_ERR_FORMAT, "'%s': corrupt gzip data (%s)", f->path, msg);
    }
    char items[64] = "";
    if (f->dims[0] > 0)
        snprintf(items, sizeof items, " (%lld items of %s)", (long long)f->dims[0],
                 idx_type_name(f->type));
    return cg_set_error(CG_ERR_FORMAT,
                        "'%s' is truncated: it ends after %llu bytes but its IDX header needs "
                        "%llu%s",
                        f->path, (unsigned long long)(f->pos + got), (unsigned long long)f->need,
                        items);
}

/* Reads exactly n (<= IDX_CHUNK) bytes. */
static cg_status idx_read(idx_file *f, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        int r = gzread(f->gz, (char *)buf + got, (unsigned)(n - got));
        if (r <= 0) return idx_read_failed(f, got);
        got += (size_t)r;
    }
    f->pos += n;
    return CG_OK;
}

static cg_status idx_open_file(idx_file *f, const char *path, uint64_t *file_size)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return cg_set_error(CG_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return cg_set_error(CG_ERR_IO, "cannot read '%s': %s", path,
                            S_ISDIR(st.st_mode) ? "it is a directory" : "not a regular file");
    *file_size = (uint64_t)st.st_size;
    errno = 0;
    f->gz = gzopen(path, "rb");
    if (!f->gz)
        return cg_set_error(CG_ERR_IO, "cannot open '%s': %s", path,
                            errno ? strerror(errno) : "out of memory");
    /* zlib's 8 KiB default makes many small reads of a big data set. */
    if (*file_size > (1u << 20)) gzbuffer(f->gz, 128 * 1024);
    return CG_OK;
}

static cg_status idx_read_dims(idx_file *f)
{
    unsigned char raw[4 * (CG_MAX_DIMS + 1)];
    f->need = 4 + 4 * (uint64_t)f->rank;
    cg_status s = idx_read(f, raw, 4 * (size_t)f->rank);
    if (s) return s;
    int64_t total = 1;
    for (int i = 0; i < f->rank; i++) {
        f->dims[i] = be32(raw + 4 * i);
        if (f->dims[i] == 0)
            return cg_set_error(CG_ERR_FORMAT, "'%s': IDX dimension %d is 0 (no data)", f->path, i);
        /* Bytes, not elements, must fit: limit by the element size. */
        if (!cg__mul_within(total, f->dims[i], INT64_MAX / 8, &total))
            return cg_set_error(CG_ERR_FORMAT, "'%s': IDX dimensions are too large", f->path);
    }
    f->item_size = total / f->dims[0];
    f->need += (uint64_t)total * (uint64_t)f->elsize;
    return CG_OK;
}

/* Opens path and reads and checks its header. */
static cg_status idx_open(idx_file *f, const char *path)
{
    memset(f, 0, sizeof *f);
    f->path = path;
    f->need = 4;
    uint64_t file_size = 0;
    unsigned char magic[4];
    cg_status s = idx_open_file(f, path, &file_size);
    if (!s) s = idx_read(f, magic, 4);
    if (s) return s;
    if (magic[0] != 0 || magic[1] != 0)
        return cg_set_error(CG_ERR_FORMAT,
                            "'%s' is not an IDX file: magic %02x %02x %02x %02x, expected 00 00 "
                            "TYPE RANK",
                            path, magic[0], magic[1], magic[2], magic[3]);
    f->type = magic[2];
    f->elsize = idx_elsize(f->type);
    f->rank = magic[3];
    if (f->elsize == 0)
        return cg_set_error(CG_ERR_FORMAT, "'%s': unknown IDX element type 0x%02x", path, f->type);
    if (f->rank < 1 || f->rank > CG_MAX_DIMS + 1)
        return cg_set_error(CG_ERR_FORMAT, "'%s': IDX rank %d outside 1..%d", path, f->rank,
                            CG_MAX_DIMS + 1);
    s = idx_read_dims(f);
    if (s) return s;
    /* A plain file's size is known: refuse a lying header before allocating. */
    if (gzdirect(f->gz) && file_size != f->need)
        return cg_set_error(CG_ERR_FORMAT,
                            file_size < f->need
                                ? "'%s' is truncated: %llu bytes, but its IDX header needs %llu "
                                  "(%lld items of %s)"
                                : "'%s' has %llu bytes, more than the %llu its IDX header declares "
                                  "(%lld items of %s)",
                            path, (unsigned long long)file_size, (unsigned long long)f->need,
                            (long long)f->dims[0], idx_type_name(f->type));
    return CG_OK;
}

static cg_status idx_expect_end(idx_file *f, int64_t count)
{
    unsigned char extra;
    int r = gzread(f->gz, &extra, 1);
    if (r > 0)
        return cg_set_error(CG_ERR_FORMAT,
                            "'%s': unexpected data after the %lld items its IDX header declares",
                            f->path, (long long)count);
    if (r < 0) return idx_read_failed(f, 0);
    return CG_OK;
}

/* Converts n raw elements, element index `first` onwards, into out. */
typedef cg_status (*idx_decode_fn)(const idx_file *f, const unsigned char *raw, int64_t first,
                                   int64_t n, void *out);

static cg_status decode_pixels(const idx_file *f, const unsigned char *raw, int64_t first,
                               int64_t n, void *out)
{
    float *x = out;
    if (f->type == 0x08) {
        /* Division, not a multiply by 1/255: bit-identical to torchvision. */
        for (int64_t i = 0; i < n; i++) x[i] = (float)raw[i] / 255.0f;
        return CG_OK;
    }
    for (int64_t i = 0; i < n; i++) {
        double v = idx_value(raw + i * f->elsize, f->type);
        if (!(fabs(v) <= FLT_MAX))
            return cg_set_error(CG_ERR_FORMAT,
                                "'%s': element %lld of item %lld is %g, not a finite float",
                                f->path, (long long)((first + i) % f->item_size),
                                (long long)((first + i) / f->item_size), v);
        x[i] = (float)v;
    }
    return CG_OK;
}

static cg_status decode_labels(const idx_file *f, const unsigned char *raw, int64_t first,
                               int64_t n, void *out)
{
    int32_t *labels = out;
    for (int64_t i = 0; i < n; i++) {
        double v = idx_value(raw + i * f->elsize, f->type);
        if (!(v >= 0 && v < INT32_MAX && v == floor(v)))
            return cg_set_error(CG_ERR_FORMAT,
                                "'%s': label %lld is %g, not a class index (a non-negative "
                                "integer)",
                                f->path, (long long)(first + i), v);
        labels[i] = (int32_t)v;
    }
    return CG_OK;
}

/* Grows *buf (cap elements of size elsize) to hold at least `need`,
 * doubling but never past `total`. */
static cg_status grow(const char *path, void **buf, int64_t *cap, int64_t need, int64_t total,
                      size_t elsize)
{
    if (need <= *cap) return CG_OK;
    int64_t c = *cap * 2 > need ? *cap * 2 : need;
    if (c > total) c = total;
    void *p = realloc(*buf, (size_t)c * elsize);
    if (!p)
        return cg_set_error(CG_ERR_NOMEM, "'%s': cannot allocate %lld values", path, (long long)c);
    *buf = p;
    *cap = c;
    return CG_OK;
}

/* Reads all items, decoded into a malloc'ed array of out_elsize-byte values. */
static cg_status idx_read_items(idx_file *f, size_t out_elsize, idx_decode_fn decode, void **out)
{
    const int64_t total = f->dims[0] * f->item_size;
    const int64_t chunk = IDX_CHUNK / f->elsize;
    unsigned char *raw = malloc((size_t)(total < chunk ? total : chunk) * (size_t)f->elsize);
    void *buf = NULL;
    int64_t cap = 0, done = 0;
    cg_status s = raw ? CG_OK : cg_set_error(CG_ERR_NOMEM, "'%s': out of memory", f->path);
    while (!s && done < total) {
        int64_t n = total - done < chunk ? total - done : chunk;
        s = grow(f->path, &buf, &cap, done + n, total, out_elsize);
        if (!s) s = idx_read(f, raw, (size_t)(n * f->elsize));
        if (!s) s = decode(f, raw, done, n, (char *)buf + done * (int64_t)out_elsize);
        done += n;
    }
    if (!s) s = idx_expect_end(f, f->dims[0]);
    free(raw);
    if (s) {
        free(buf);
        return s;
    }
    *out = buf;
    return CG_OK;
}

static cg_status load_images(cg_dataset *d, const char *path)
{
    idx_file f;
    cg_status s = idx_open(&f, path);
    if (!s && f.rank < 2)
        s = cg_set_error(CG_ERR_FORMAT,
                         "'%s' has IDX rank 1: an images file needs a sample dimension after the "
                         "count (is it a labels file?)",
                         path);
    if (!s) {
        d->count = f.dims[0];
        d->sample_ndim = f.rank - 1;
        for (int i = 1; i < f.rank; i++) d->sample_shape[i - 1] = f.dims[i];
        d->sample_size = f.item_size;
        void *x = NULL;
        s = idx_read_items(&f, sizeof(float), decode_pixels, &x);
        d->x = x;
    }
    if (f.gz) gzclose(f.gz);  /* read-only: nothing to lose on close */
    return s;
}

static cg_status load_labels(cg_dataset *d, const char *images_path, const char *path)
{
    idx_file f;
    cg_status s = idx_open(&f, path);
    if (!s && f.rank != 1)
        s = cg_set_error(CG_ERR_FORMAT,
                         "'%s' has IDX rank %d: a labels file has rank 1 (is it an images file?)",
                         path, f.rank);
    if (!s && f.dims[0] != d->count)
        s = cg_set_error(CG_ERR_FORMAT, "images '%s' has %lld samples but labels '%s' has %lld",
                         images_path, (long long)d->count, path, (long long)f.dims[0]);
    if (!s) {
        void *labels = NULL;
        s = idx_read_items(&f, sizeof(int32_t), decode_labels, &labels);
        d->labels = labels;
    }
    if (f.gz) gzclose(f.gz);
    if (s) return s;
    int32_t max = -1;
    for (int64_t i = 0; i < d->count; i++)
        if (d->labels[i] > max) max = d->labels[i];
    d->num_classes = max + 1;
    return CG_OK;
}

cg_status cg_dataset_load_idx(cg_dataset *out, const char *images_path, const char *labels_path)
{
    if (!out) return cg_set_error(CG_ERR_ARG, "cg_dataset_load_idx: out is NULL");
    memset(out, 0, sizeof *out);
    if (!images_path) return cg_set_error(CG_ERR_ARG, "cg_dataset_load_idx: images path is NULL");
    cg_dataset d = {.owns_data = true};
    cg_status s = load_images(&d, images_path);
    if (!s && labels_path) s = load_labels(&d, images_path, labels_path);
    if (s) {
        cg_dataset_free(&d);
        return s;
    }
    cg__dataset_set_source(&d, images_path);
    *out = d;
    return CG_OK;
}
