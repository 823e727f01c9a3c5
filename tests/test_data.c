/* Data sets: IDX (plain and gzip) and CSV loaders with every error class
 * checked down to line and column, specs, batch gather, split, labels. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "cgrad.h"
#include "errors.h"
#include "tmpdir.h"

static int make_tmpdir(void **state)
{
    (void)state;
    return tmp_dir_create("cg_data");
}

static void write_bytes(const char *path, const void *bytes, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void write_text(const char *path, const char *text)
{
    write_bytes(path, text, strlen(text));
}

static void write_gz(const char *path, const void *bytes, size_t n)
{
    gzFile gz = gzopen(path, "wb");
    assert_non_null(gz);
    assert_int_equal(gzwrite(gz, bytes, (unsigned)n), (int)n);
    assert_int_equal(gzclose(gz), Z_OK);
}

/* IDX header + payload in buf; returns the total size. */
static size_t idx_bytes(unsigned char *buf, int type, int rank, const uint32_t *dims,
                        const void *payload, size_t payload_len)
{
    buf[0] = 0;
    buf[1] = 0;
    buf[2] = (unsigned char)type;
    buf[3] = (unsigned char)rank;
    for (int i = 0; i < rank; i++)
        for (int b = 0; b < 4; b++) buf[4 + 4 * i + b] = (unsigned char)(dims[i] >> (24 - 8 * b));
    memcpy(buf + 4 + 4 * rank, payload, payload_len);
    return 4 + 4 * (size_t)rank + payload_len;
}

static void write_idx(const char *path, bool gz, int type, int rank, const uint32_t *dims,
                      const void *payload, size_t payload_len)
{
    unsigned char *buf = malloc(4 + 4 * (size_t)rank + payload_len);
    size_t n = idx_bytes(buf, type, rank, dims, payload, payload_len);
    if (gz)
        write_gz(path, buf, n);
    else
        write_bytes(path, buf, n);
    free(buf);
}

/* 3 images of 2x2 u8 and their labels. */
static const unsigned char pixels[12] = {0, 255, 51, 102, 1, 2, 3, 4, 200, 100, 50, 25};
static const unsigned char label_bytes[3] = {2, 0, 7};

static void write_small_mnist(const char *images, const char *labels, bool gz)
{
    write_idx(images, gz, 0x08, 3, (uint32_t[]){3, 2, 2}, pixels, sizeof pixels);
    write_idx(labels, gz, 0x08, 1, (uint32_t[]){3}, label_bytes, sizeof label_bytes);
}

static void expect_error(cg_status got, cg_status want, const char *needle)
{
    if (got != want || !strstr(cg_last_error(), needle))
        fail_msg("status %s, message \"%s\"; wanted %s with \"%s\"", cg_status_name(got),
                 cg_last_error(), cg_status_name(want), needle);
}

static void check_small_mnist(const cg_dataset *d)
{
    assert_int_equal(d->count, 3);
    assert_int_equal(d->sample_ndim, 2);
    assert_int_equal(d->sample_shape[0], 2);
    assert_int_equal(d->sample_shape[1], 2);
    assert_int_equal(d->sample_size, 4);
    for (int i = 0; i < 12; i++) assert_true(d->x[i] == (float)pixels[i] / 255.0f);
    assert_true(d->x[1] == 1.0f);
    for (int i = 0; i < 3; i++) assert_int_equal(d->labels[i], label_bytes[i]);
    assert_int_equal(d->num_classes, 8);
    assert_null(d->y);
    assert_true(d->owns_data);
}

/* ---------------------------------------------------------------- IDX */

static void idx_plain_and_gzip(void **state)
{
    (void)state;
    for (int gz = 0; gz < 2; gz++) {
        const char *images = tmp_path(gz ? "img.gz" : "img.idx");
        const char *labels = tmp_path(gz ? "lab.gz" : "lab.idx");
        write_small_mnist(images, labels, gz);
        cg_dataset d;
        assert_int_equal(cg_dataset_load_idx(&d, images, labels), CG_OK);
        check_small_mnist(&d);
        assert_string_equal(d.source, images);
        cg_dataset_free(&d);
        assert_null(d.x);
    }
}

static void idx_without_labels(void **state)
{
    (void)state;
    const char *images = tmp_path("img_only.idx");
    write_idx(images, false, 0x08, 3, (uint32_t[]){3, 2, 2}, pixels, sizeof pixels);
    cg_dataset d;
    assert_int_equal(cg_dataset_load_idx(&d, images, NULL), CG_OK);
    assert_int_equal(d.count, 3);
    assert_null(d.labels);
    assert_int_equal(d.num_classes, 0);
    cg_dataset_free(&d);
}

/* Wider element types are big-endian and taken unscaled. */
static void idx_other_element_types(void **state)
{
    (void)state;
    const unsigned char f32[8] = {0x3f, 0xc0, 0, 0, 0xc0, 0x20, 0, 0};  /* 1.5, -2.5 */
    const unsigned char i16_labels[4] = {0x01, 0x02, 0x00, 0x03};      /* 258, 3 */
    const char *images = tmp_path("f32.idx"), *labels = tmp_path("i16.idx");
    write_idx(images, false, 0x0D, 2, (uint32_t[]){2, 1}, f32, sizeof f32);
    write_idx(labels, false, 0x0B, 1, (uint32_t[]){2}, i16_labels, sizeof i16_labels);
    cg_dataset d;
    assert_int_equal(cg_dataset_load_idx(&d, images, labels), CG_OK);
    assert_true(d.x[0] == 1.5f && d.x[1] == -2.5f);
    assert_int_equal(d.labels[0], 258);
    assert_int_equal(d.num_classes, 259);
    cg_dataset_free(&d);

    const unsigned char i8[2] = {0xff, 0x05};
    write_idx(images, false, 0x09, 2, (uint32_t[]){2, 1}, i8, sizeof i8);
    assert_int_equal(cg_dataset_load_idx(&d, images, NULL), CG_OK);
    assert_true(d.x[0] == -1.0f && d.x[1] == 5.0f);
    cg_dataset_free(&d);
}

static void expect_idx_error(const char *images, const char *labels, cg_status status,
                             const char *needle, const char *named)
{
    cg_dataset d;
    memset(&d, 0xAB, sizeof d);
    expect_error(cg_dataset_load_idx(&d, images, labels), status, needle);
    if (!strstr(cg_last_error(), named))
        fail_msg("\"%s\" does not name %s", cg_last_error(), named);
    assert_null(d.x);
    assert_int_equal(d.count, 0);
}

static void idx_header_errors(void **state)
{
    (void)state;
    const char *p = tmp_path("bad.idx");
    unsigned char px[4] = {1, 2, 3, 4};
    write_bytes(p, "\x00\x00\x08", 3);
    expect_idx_error(p, NULL, CG_ERR_FORMAT, "is truncated: it ends after 3 bytes", p);
    write_bytes(p, "", 0);
    expect_idx_error(p, NULL, CG_ERR_FORMAT, "is truncated: it ends after 0 bytes", p);
    write_bytes(p, "\x01\x02\x08\x03", 4);
    expect_idx_error(p, NULL, CG_ERR_FORMAT, "is not an IDX file: magic 01 02 08 03", p);
    write_idx(p, false, 0x0A, 2, (uint32_t[]){1, 4}, px, 4);
    expect_idx_error(p, NULL, CG_ERR_FORMAT, "unknown IDX element type 0x0a", p);
    write_idx(p, false, 0x08, 0, NULL, px, 0);
    expect_idx_error(p, NULL, CG_ERR_FORMAT, "IDX rank 0 outside 1..7", p);
    write_idx(p, false, 0x08, 8, (uint32_t[]){1, 1, 1, 1, 1, 1, 1, 4}, px, 4);
    expect_idx_error(p, NULL, CG_ERR_FORMAT, "IDX rank 8 outside 1..7", p);
    write_idx(p, false, 0x08, 2, (uint32_t[]){1, 0}, px, 0);
    expect_idx_error(p, NULL, CG_ERR_FORMAT, "IDX dimension 1 is 0", p);
    unsigned char cut[12];  /* rank 3, but the file ends after two dimensions */
    idx_bytes(cut, 0x08, 2, (uint32_t[]){2, 2}, px, 0);
    cut[3] = 3;
    write_bytes(p, cut, sizeof cut);
    expect_idx_error(p, NULL, CG_ERR_FORMAT, "is truncated: it ends after 12 bytes", p);
    write_idx(p, false, 0x0E, 4, (uint32_t[]){0xffffffff, 0xffffffff, 0xffffffff, 2}, px, 0);
    expect_idx_error(p, NULL, CG_ERR_FORMAT, "IDX dimensions are too large", p);
}

static void idx_size_errors(void **state)
{
    (void)state;
    const char *p = tmp_path("size.idx"), *pg = tmp_path("size.gz");
    /* Plain file: the header's claim is checked against the file size. */
    write_idx(p, false, 0x08, 3, (uint32_t[]){3, 2, 2}, pixels, 11);
    expect_idx_error(p, NULL, CG_ERR_FORMAT, "is truncated: 27 bytes, but its IDX header needs 28",
                     p);
    unsigned char more[13];
    memcpy(more, pixels, 12);
    more[12] = 9;
    write_idx(p, false, 0x08, 3, (uint32_t[]){3, 2, 2}, more, 13);
    expect_idx_error(p, NULL, CG_ERR_FORMAT, "more than the 28 its IDX header declares", p);
    /* Compressed: found while reading. */
    write_idx(pg, true, 0x08, 3, (uint32_t[]){3, 2, 2}, pixels, 11);
    expect_idx_error(pg, NULL, CG_ERR_FORMAT, "is truncated: it ends after 27 bytes", pg);
    write_idx(pg, true, 0x08, 3, (uint32_t[]){3, 2, 2}, more, 13);
    expect_idx_error(pg, NULL, CG_ERR_FORMAT, "unexpected data after the 3 items", pg);
    /* A header claiming 4G samples in a tiny gzip must fail, not allocate. */
    write_idx(pg, true, 0x08, 3, (uint32_t[]){0xffffffff, 28, 28}, pixels, 12);
    expect_idx_error(pg, NULL, CG_ERR_FORMAT, "is truncated", pg);
}

/* A gzip file cut in the middle of its stream. */
static void idx_truncated_gzip_stream(void **state)
{
    (void)state;
    const char *pg = tmp_path("cut.gz");
    static unsigned char big[64 * 64 * 8];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (unsigned char)(i * 7919 >> 3);
    write_idx(pg, true, 0x08, 3, (uint32_t[]){8, 64, 64}, big, sizeof big);
    FILE *f = fopen(pg, "rb");
    static unsigned char gz[sizeof big + 1024];
    size_t n = fread(gz, 1, sizeof gz, f);
    fclose(f);
    write_bytes(pg, gz, n / 2);
    expect_idx_error(pg, NULL, CG_ERR_FORMAT, "is truncated", pg);
    /* Corrupt the deflate data instead. */
    for (size_t i = 20; i < 60 && i < n; i++) gz[i] ^= 0x5a;
    write_bytes(pg, gz, n);
    expect_idx_error(pg, NULL, CG_ERR_FORMAT, "corrupt gzip data", pg);
}

static void idx_pairing_errors(void **state)
{
    (void)state;
    const char *images = tmp_path("pi.idx"), *labels = tmp_path("pl.idx");
    write_small_mnist(images, labels, false);
    /* Swapped files. */
    expect_idx_error(labels, NULL, CG_ERR_FORMAT, "(is it a labels file?)", labels);
    expect_idx_error(images, images, CG_ERR_FORMAT, "(is it an images file?)", images);
    /* Count mismatch names both files. */
    write_idx(labels, false, 0x08, 1, (uint32_t[]){2}, label_bytes, 2);
    expect_idx_error(images, labels, CG_ERR_FORMAT, "has 3 samples but labels", labels);
    assert_non_null(strstr(cg_last_error(), images));
    /* Labels must be non-negative integers. */
    const unsigned char neg[3] = {1, 0xff, 2};
    write_idx(labels, false, 0x09, 1, (uint32_t[]){3}, neg, 3);
    expect_idx_error(images, labels, CG_ERR_FORMAT, "label 1 is -1, not a class index", labels);
    const unsigned char f32_labels[12] = {0x3f, 0x80, 0, 0, 0x3f, 0xc0, 0, 0, 0, 0, 0, 0};
    write_idx(labels, false, 0x0D, 1, (uint32_t[]){3}, f32_labels, 12);
    expect_idx_error(images, labels, CG_ERR_FORMAT, "label 1 is 1.5", labels);
    /* Non-finite floats in images. */
    const unsigned char nan_px[8] = {0x3f, 0x80, 0, 0, 0x7f, 0xc0, 0, 0};
    write_idx(images, false, 0x0D, 2, (uint32_t[]){2, 1}, nan_px, 8);
    expect_idx_error(images, NULL, CG_ERR_FORMAT, "element 0 of item 1 is nan", images);
}

static void idx_file_errors(void **state)
{
    (void)state;
    const char *missing = tmp_path("missing.idx");
    expect_idx_error(missing, NULL, CG_ERR_IO, "No such file or directory", missing);
    expect_idx_error(tmp_dir(), NULL, CG_ERR_IO, "it is a directory", tmp_dir());
    const char *images = tmp_path("fe_i.idx"), *labels = tmp_path("fe_l.idx");
    write_small_mnist(images, labels, false);
    expect_idx_error(images, missing, CG_ERR_IO, "No such file or directory", missing);
    cg_dataset d;
    expect_error(cg_dataset_load_idx(&d, NULL, NULL), CG_ERR_ARG, "images path is NULL");
}

/* ---------------------------------------------------------------- CSV */

static void csv_classification_with_header_crlf(void **state)
{
    (void)state;
    const char *p = tmp_path("cls.csv");
    write_text(p, "\xEF\xBB\xBF" "a,\"b, with comma\",label\r\n"
                  "1.5, -2 ,0\r\n"
                  "\"3e2\",.5,2\r\n"
                  "0,  +7.25e-1  , 1.0\r\n"
                  "\r\n  \n");
    cg_dataset d;
    assert_int_equal(cg_dataset_load_csv(&d, p, true, NULL, 0), CG_OK);
    assert_int_equal(d.count, 3);
    assert_int_equal(d.sample_ndim, 1);
    assert_int_equal(d.sample_shape[0], 2);
    assert_int_equal(d.sample_size, 2);
    const float x[6] = {1.5f, -2, 300, 0.5f, 0, 0.725f};
    for (int i = 0; i < 6; i++) assert_true(d.x[i] == x[i]);
    assert_int_equal(d.labels[0], 0);
    assert_int_equal(d.labels[1], 2);
    assert_int_equal(d.labels[2], 1);
    assert_int_equal(d.num_classes, 3);
    assert_null(d.y);
    assert_int_equal(d.target_size, 0);
    cg_dataset_free(&d);
}

static void csv_regression_without_header(void **state)
{
    (void)state;
    const char *p = tmp_path("reg.csv");
    write_text(p, "1,2,3,0.5\n4,5,6,-1.25");  /* no trailing newline */
    cg_dataset d;
    assert_int_equal(cg_dataset_load_csv(&d, p, false, NULL, 0), CG_OK);
    assert_int_equal(d.count, 2);
    assert_int_equal(d.sample_size, 3);
    assert_int_equal(d.target_size, 1);
    assert_true(d.y[0] == 0.5f && d.y[1] == -1.25f);
    assert_true(d.x[3] == 4 && d.x[5] == 6);
    assert_null(d.labels);
    cg_dataset_free(&d);
}

static void csv_reshape(void **state)
{
    (void)state;
    const char *p = tmp_path("shape.csv");
    write_text(p, "1,2,3,4,5,6,1\n6,5,4,3,2,1,0\n");
    cg_dataset d;
    assert_int_equal(cg_dataset_load_csv(&d, p, true, (const int64_t[]){1, 2, 3}, 3), CG_OK);
    assert_int_equal(d.sample_ndim, 3);
    assert_int_equal(d.sample_shape[2], 3);
    assert_int_equal(d.sample_size, 6);
    assert_int_equal(cg_dataset_reshape(&d, 2, (const int64_t[]){3, 2}), CG_OK);
    expect_error(cg_dataset_reshape(&d, 1, (const int64_t[]){5}), CG_ERR_ARG,
                 "sample shape [5] has 5 elements but each sample has 6 values");
    cg_dataset_free(&d);
    expect_error(cg_dataset_load_csv(&d, p, true, (const int64_t[]){1, 28, 28}, 3), CG_ERR_ARG,
                 "sample shape [1, 28, 28] has 784 elements but each sample has 6 values");
    assert_non_null(strstr(cg_last_error(), p));
    assert_null(d.x);
}

/* Each bad file and the exact "PATH:LINE:COLUMN: message" it must produce. */
static void csv_errors_name_line_and_column(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        bool classification;
        const char *where;   /* ":LINE:COL: " */
        const char *message;
    } cases[] = {
        {"1,2,3\n4,5\n", true, ":2:4: ", "2 fields, expected 3"},
        {"1,2,3\n4,5,6,7\n", true, ":2:7: ", "more than the 3 fields"},
        {"x,y,t\n1,2,0\n3,abc,1\n", true, ":3:3: ", "'abc' is not a number"},
        {"1,2,0\n1,0x10,1\n", true, ":2:3: ", "'0x10' is not a number"},
        {"1,2,0\n3,nan,1\n", true, ":2:3: ", "missing value 'nan', expected a number"},
        {"1,2,0\n-Inf,2,1\n", false, ":2:1: ", "'-Inf': Inf is not allowed"},
        {"1,2,0\n1,1e39,1\n", false, ":2:3: ", "'1e39' is out of float range"},
        {"1,2,0\n1,,1\n", true, ":2:3: ", "empty field"},
        {"1,2,0\n1,2,\n", true, ":2:5: ", "empty field"},
        {"1,2,0\n1,2,1.5\n", true, ":2:5: ", "class label '1.5' is not a non-negative integer"},
        {"1,2,0\n1,2,-1\n", true, ":2:5: ", "class label '-1' is not a non-negative integer"},
        {"1,2,0\n\n1,2,1\n", true, ":2:1: ", "blank line inside the data"},
        {"1,2,0\n1,\"2,1\n", true, ":2:3: ", "unterminated quote"},
        {"1,2,0\n1,\"2\"x,1\n", true, ":2:6: ", "unexpected 'x' after a closing quote"},
        {"5\n6\n", false, ":1:1: ", "1 column; need at least one feature and a target"},
        {"1,2,0\n1,2 3,1\n", true, ":2:3: ", "'2 3' is not a number"},
        /* A bad first row is data with an error, not a header. */
        {"1,NaN,0\n1,2,1\n", true, ":1:3: ", "missing value 'NaN'"},
        {"1,,0\n1,2,1\n", true, ":1:3: ", "empty field"},
        {"1,2,0\r\n1,2,1\r\n1\r,2,1\r\n", true, ":3:1: ", "'1\r' is not a number"},
    };
    const char *p = tmp_path("bad.csv");
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        write_text(p, cases[i].text);
        cg_dataset d;
        cg_status s = cg_dataset_load_csv(&d, p, cases[i].classification, NULL, 0);
        char want[700];
        snprintf(want, sizeof want, "%s%s%s", p, cases[i].where, cases[i].message);
        if (s != CG_ERR_FORMAT || strncmp(cg_last_error(), want, strlen(want)) != 0)
            fail_msg("case %zu: status %s, message \"%s\"; wanted \"%s\"", i, cg_status_name(s),
                     cg_last_error(), want);
        assert_null(d.x);
    }
}

static void csv_file_level_errors(void **state)
{
    (void)state;
    const char *p = tmp_path("empty.csv");
    cg_dataset d;
    write_text(p, "");
    expect_error(cg_dataset_load_csv(&d, p, true, NULL, 0), CG_ERR_FORMAT, "no data rows");
    write_text(p, "a,b,c\n\n");
    expect_error(cg_dataset_load_csv(&d, p, true, NULL, 0), CG_ERR_FORMAT, "no data rows");
    assert_non_null(strstr(cg_last_error(), p));
    const char *missing = tmp_path("missing.csv");
    expect_error(cg_dataset_load_csv(&d, missing, true, NULL, 0), CG_ERR_IO,
                 "No such file or directory");
    assert_non_null(strstr(cg_last_error(), missing));
}

/* A decimal-comma locale must not change how "0.5" is read. */
static void csv_ignores_locale(void **state)
{
    (void)state;
    const char *old = setlocale(LC_NUMERIC, NULL);
    char saved[64];
    snprintf(saved, sizeof saved, "%s", old ? old : "C");
    if (!setlocale(LC_NUMERIC, "de_DE.UTF-8") && !setlocale(LC_NUMERIC, "fr_FR.UTF-8")) skip();
    const char *p = tmp_path("locale.csv");
    write_text(p, "0.5,1.25,0\n");
    cg_dataset d;
    cg_status s = cg_dataset_load_csv(&d, p, true, NULL, 0);
    setlocale(LC_NUMERIC, saved);
    assert_int_equal(s, CG_OK);
    assert_true(d.x[0] == 0.5f && d.x[1] == 1.25f);
    cg_dataset_free(&d);
}

/* ---------------------------------------------------------------- specs */

static void spec_kinds(void **state)
{
    (void)state;
    const char *csv = tmp_path("spec.csv");
    write_text(csv, "1,2,0.5\n3,4,1.5\n");
    char spec[600];
    cg_dataset d;
    snprintf(spec, sizeof spec, "csv:%s", csv);
    cg_data_options reg = {.regression = true};
    assert_int_equal(cg_dataset_load_spec(&d, spec, &reg), CG_OK);
    assert_true(d.y[1] == 1.5f);
    assert_string_equal(d.source, spec);
    cg_dataset_free(&d);
    /* Classification is the default: 0.5 is no class. */
    expect_error(cg_dataset_load_spec(&d, spec, NULL), CG_ERR_FORMAT, "class label '0.5'");

    const char *images = tmp_path("spec_i.gz"), *labels = tmp_path("spec_l.gz");
    write_small_mnist(images, labels, true);
    snprintf(spec, sizeof spec, "idx:%s,%s", images, labels);
    cg_data_options flat = {.sample_ndim = 1, .sample_shape = {4}};
    assert_int_equal(cg_dataset_load_spec(&d, spec, &flat), CG_OK);
    assert_int_equal(d.sample_ndim, 1);
    assert_int_equal(d.sample_shape[0], 4);
    assert_int_equal(d.labels[2], 7);
    cg_dataset_free(&d);
    snprintf(spec, sizeof spec, "idx:%s", images);
    assert_int_equal(cg_dataset_load_spec(&d, spec, NULL), CG_OK);
    assert_null(d.labels);
    cg_dataset_free(&d);
    /* Paths with commas: escaped with a backslash, or an existing file whole. */
    const char *images2 = tmp_path("a,b_i.gz"), *labels2 = tmp_path("a,b_l.gz");
    write_small_mnist(images2, labels2, true);
    snprintf(spec, sizeof spec, "idx:%s", images2);
    assert_int_equal(cg_dataset_load_spec(&d, spec, NULL), CG_OK);
    assert_null(d.labels);
    cg_dataset_free(&d);
    char escaped_i[290], escaped_l[290];
    size_t j = 0;
    for (const char *c = images2; *c; c++) j += (size_t)snprintf(escaped_i + j, sizeof escaped_i - j, "%s%c", *c == ',' ? "\\" : "", *c);
    j = 0;
    for (const char *c = labels2; *c; c++) j += (size_t)snprintf(escaped_l + j, sizeof escaped_l - j, "%s%c", *c == ',' ? "\\" : "", *c);
    snprintf(spec, sizeof spec, "idx:%s,%s", escaped_i, escaped_l);
    assert_int_equal(cg_dataset_load_spec(&d, spec, NULL), CG_OK);
    assert_int_equal(d.labels[2], 7);
    cg_dataset_free(&d);

    expect_error(cg_dataset_load_spec(&d, "mnist:train", NULL), CG_ERR_ARG, "unknown kind 'mnist'");
    expect_error(cg_dataset_load_spec(&d, "data.csv", NULL), CG_ERR_ARG, "no kind prefix");
    expect_error(cg_dataset_load_spec(&d, "csv:", NULL), CG_ERR_ARG, "nothing after the ':'");
    expect_error(cg_dataset_load_spec(&d, "fashion-mnist:valid", NULL), CG_ERR_ARG,
                 "unknown split 'valid'");
}

/* Fashion-MNIST's file names in a directory named by CG_FASHION_MNIST_DIR. */
static void spec_fashion_mnist_from_env_dir(void **state)
{
    (void)state;
    static unsigned char px[2 * 28 * 28];
    for (size_t i = 0; i < sizeof px; i++) px[i] = (unsigned char)i;
    const unsigned char lab[2] = {9, 3};
    write_idx(tmp_path("t10k-images-idx3-ubyte.gz"), true, 0x08, 3, (uint32_t[]){2, 28, 28}, px,
              sizeof px);
    write_idx(tmp_path("t10k-labels-idx1-ubyte.gz"), true, 0x08, 1, (uint32_t[]){2}, lab, 2);
    setenv("CG_FASHION_MNIST_DIR", tmp_dir(), 1);
    cg_dataset d;
    assert_int_equal(cg_dataset_load_spec(&d, "fashion-mnist:test", NULL), CG_OK);
    assert_int_equal(d.count, 2);
    assert_int_equal(d.sample_ndim, 3);
    assert_int_equal(d.sample_shape[0], 1);
    assert_int_equal(d.sample_shape[1], 28);
    assert_int_equal(d.labels[0], 9);
    assert_true(d.x[28 * 28 + 1] == (float)(unsigned char)(28 * 28 + 1) / 255.0f);
    assert_string_equal(d.source, "fashion-mnist:test");
    cg_dataset_free(&d);
    /* The train files are absent: the message says how to get them. */
    expect_error(cg_dataset_load_spec(&d, "fashion-mnist:train", NULL), CG_ERR_IO,
                 "train-images-idx3-ubyte.gz': No such file or directory (install Debian's "
                 "dataset-fashion-mnist");
    unsetenv("CG_FASHION_MNIST_DIR");
}

/* ---------------------------------------------------------------- in memory */

static void load_small(cg_dataset *d)
{
    const char *images = tmp_path("mem_i.idx"), *labels = tmp_path("mem_l.idx");
    write_small_mnist(images, labels, false);
    assert_int_equal(cg_dataset_load_idx(d, images, labels), CG_OK);
}

static void batch_gathers_rows(void **state)
{
    (void)state;
    cg_dataset d;
    load_small(&d);
    const int64_t idx[4] = {2, 0, 2, 1};
    float x[16];
    int32_t labels[4];
    assert_int_equal(cg_dataset_batch(&d, idx, 4, x, labels, NULL), CG_OK);
    for (int i = 0; i < 4; i++) {
        assert_memory_equal(x + 4 * i, d.x + 4 * idx[i], 4 * sizeof(float));
        assert_int_equal(labels[i], d.labels[idx[i]]);
    }
    assert_int_equal(cg_dataset_batch(&d, idx, 0, NULL, NULL, NULL), CG_OK);
    expect_error(cg_dataset_batch(&d, (const int64_t[]){0, 3}, 2, x, labels, NULL), CG_ERR_ARG,
                 "batch index 1 is 3, outside the 3 samples");
    expect_error(cg_dataset_batch(&d, (const int64_t[]){-1}, 1, x, NULL, NULL), CG_ERR_ARG,
                 "batch index 0 is -1");
    float y[4];
    expect_error(cg_dataset_batch(&d, idx, 1, x, NULL, y), CG_ERR_ARG,
                 "the data set has none");
    cg_dataset_free(&d);

    /* Regression targets; a batch big enough to run in parallel. */
    const char *p = tmp_path("big.csv");
    FILE *f = fopen(p, "w");
    for (int r = 0; r < 600; r++) {
        for (int c = 0; c < 200; c++) fprintf(f, "%d,", r * 1000 + c);
        fprintf(f, "%d.5\n", r);
    }
    fclose(f);
    assert_int_equal(cg_dataset_load_csv(&d, p, false, NULL, 0), CG_OK);
    int64_t *order = malloc(600 * sizeof *order);
    for (int i = 0; i < 600; i++) order[i] = (i * 7) % 600;
    float *bx = malloc(600 * 200 * sizeof *bx), by[600];
    assert_int_equal(cg_dataset_batch(&d, order, 600, bx, NULL, by), CG_OK);
    for (int i = 0; i < 600; i++) {
        assert_true(bx[i * 200 + 199] == (float)(order[i] * 1000 + 199));
        assert_true(by[i] == (float)order[i] + 0.5f);
    }
    free(order);
    free(bx);
    cg_dataset_free(&d);
}

static void split_makes_views(void **state)
{
    (void)state;
    cg_dataset d, train, val;
    load_small(&d);
    assert_int_equal(cg_dataset_split(&d, 0.34, &train, &val), CG_OK);
    assert_int_equal(train.count, 2);
    assert_int_equal(val.count, 1);
    assert_ptr_equal(train.x, d.x);
    assert_ptr_equal(val.x, d.x + 2 * d.sample_size);
    assert_ptr_equal(val.labels, d.labels + 2);
    assert_int_equal(val.num_classes, d.num_classes);
    assert_false(val.owns_data);
    assert_non_null(strstr(val.source, "(validation)"));
    cg_dataset_free(&train);  /* views: frees nothing */
    cg_dataset_free(&val);
    assert_int_equal(d.labels[2], 7);
    expect_error(cg_dataset_split(&d, 0, &train, &val), CG_ERR_ARG, "is not in (0, 1)");
    expect_error(cg_dataset_split(&d, 1.0, &train, &val), CG_ERR_ARG, "is not in (0, 1)");
    expect_error(cg_dataset_split(&d, 0.1, &train, &val), CG_ERR_ARG, "leaves 0 of 3 samples");
    cg_dataset_free(&d);
    cg_dataset_free(NULL);
}

static void check_labels_names_sample(void **state)
{
    (void)state;
    cg_dataset d;
    load_small(&d);
    assert_int_equal(cg_dataset_check_labels(&d, 8), CG_OK);
    expect_error(cg_dataset_check_labels(&d, 5), CG_ERR_ARG,
                 "sample 2 has label 7, outside the model's 5 classes (0..4)");
    cg_dataset_free(&d);
    cg_dataset none = {0};
    expect_error(cg_dataset_check_labels(&none, 3), CG_ERR_ARG, "no class labels");
}

/* ---- text: windows of token ids and their next ids ---- */

static void text_windows_and_vocabulary(void **state)
{
    (void)state;
    /* "é" is two bytes of UTF-8, \xff is no UTF-8 at all: symbols 0xE9 and 0xDC80 + 0xFF. */
    write_text(tmp_path("t.txt"), "abcab\xc3\xa9" "cab\xff" "abcab");
    cg_dataset d;
    assert_int_equal(cg_dataset_load_text(&d, tmp_path("t.txt"), 3, NULL, 0), CG_OK);
    const int32_t want_vocab[] = {'a', 'b', 'c', 0xE9, 0xDC80 + 0xFF};
    assert_int_equal(d.vocab_size, 5);
    for (int i = 0; i < 5; i++) assert_int_equal(d.vocab[i], want_vocab[i]);
    /* 15 symbols: (15 − 1) / 3 = 4 windows of 3, each labelled with the next 3. */
    const int32_t ids[] = {0, 1, 2, 0, 1, 3, 2, 0, 1, 4, 0, 1, 2, 0, 1};
    assert_int_equal(d.count, 4);
    assert_int_equal(d.label_size, 3);
    assert_int_equal(d.n_tokens, 15);
    for (int i = 0; i < 12; i++) {
        assert_float_equal(d.x[i], (float)ids[i], 0);
        assert_int_equal(d.labels[i], ids[i + 1]);
    }
    char utf8[5];
    assert_int_equal(cg_text_symbol_utf8(0xE9, utf8), 2);
    assert_string_equal(utf8, "\xc3\xa9");
    assert_int_equal(cg_text_symbol_utf8(0xDC80 + 0xFF, utf8), 1);
    assert_int_equal((unsigned char)utf8[0], 0xFF);
    /* Under another vocabulary, ids follow it; a symbol it lacks is named. */
    const int32_t other[] = {'a', 'b', 'c', 'd', 0xE9, 0xDC80 + 0xFF};
    cg_dataset e;
    assert_int_equal(cg_dataset_load_text(&e, tmp_path("t.txt"), 3, other, 6), CG_OK);
    assert_float_equal(e.x[5], 4.0f, 0);
    cg_dataset_free(&e);
    assert_int_not_equal(cg_dataset_load_text(&e, tmp_path("t.txt"), 3, other, 3), CG_OK);
    assert_error_mentions("line 1: 'é' (U+00E9) is not in the vocabulary of 3 symbols", NULL);
    int32_t enc[8];
    int64_t n;
    assert_int_equal(cg_text_encode("cab", want_vocab, 5, enc, &n), CG_OK);
    assert_int_equal(n, 3);
    assert_int_equal(enc[0], 2);
    cg_dataset_free(&d);
}

/* Symbols past the first 256 (looked up by search, not by the ASCII table)
 * and 4-byte code points sort and map like the rest. */
static void text_vocabulary_beyond_latin1(void **state)
{
    (void)state;
    write_text(tmp_path("w.txt"), "z\xce\xa9\xf0\x9f\x98\x80" "a" "\xce\xa9z");   /* z Ω 😀 a Ω z */
    cg_dataset d;
    assert_int_equal(cg_dataset_load_text(&d, tmp_path("w.txt"), 2, NULL, 0), CG_OK);
    const int32_t want_vocab[] = {'a', 'z', 0x3A9, 0x1F600};
    assert_int_equal(d.vocab_size, 4);
    for (int i = 0; i < 4; i++) assert_int_equal(d.vocab[i], want_vocab[i]);
    const int32_t ids[] = {1, 2, 3, 0, 2, 1};
    assert_int_equal(d.n_tokens, 6);
    for (int i = 0; i < 4; i++) assert_float_equal(d.x[i], (float)ids[i], 0);
    for (int i = 0; i < 4; i++) assert_int_equal(d.labels[i], ids[i + 1]);
    cg_dataset_free(&d);
}

static void text_bad_files(void **state)
{
    (void)state;
    cg_dataset d;
    write_text(tmp_path("empty.txt"), "");
    assert_int_not_equal(cg_dataset_load_text(&d, tmp_path("empty.txt"), 4, NULL, 0), CG_OK);
    assert_error_mentions("the file is empty", NULL);
    write_text(tmp_path("short.txt"), "abcd");
    assert_int_not_equal(cg_dataset_load_text(&d, tmp_path("short.txt"), 4, NULL, 0), CG_OK);
    assert_error_mentions("too short: 4 characters make no window of 4 plus the next character", NULL);
    assert_int_not_equal(cg_dataset_load_text(&d, tmp_path("missing.txt"), 4, NULL, 0), CG_OK);
    assert_error_mentions("cannot open", "missing.txt");
    assert_int_not_equal(cg_dataset_load_text(&d, tmp_path("short.txt"), 0, NULL, 0), CG_OK);
}

/* Each re-cut window is the stream at some offset below T, with its next
 * ids; the last window stays; the same (seed, epoch) re-cuts the same. */
static void text_recut_moves_windows(void **state)
{
    (void)state;
    char text[400];
    for (int i = 0; i < 399; i++) text[i] = (char)('a' + (i * 7 + i / 13) % 26);
    text[399] = '\0';
    write_text(tmp_path("long.txt"), text);
    cg_dataset d, first;
    assert_int_equal(cg_dataset_load_text(&d, tmp_path("long.txt"), 8, NULL, 0), CG_OK);
    assert_int_equal(cg_dataset_load_text(&first, tmp_path("long.txt"), 8, NULL, 0), CG_OK);
    const int64_t T = 8, count = 40;
    assert_int_equal(cg_dataset_text_recut(&d, count, 7, 3), CG_OK);
    int moved = 0;
    for (int64_t j = 0; j < count; j++) {
        int64_t u = -1;
        for (int64_t k = 0; k < T && u < 0; k++) {
            bool same = true;
            for (int64_t i = 0; i < T; i++)
                same = same && d.x[j * T + i] == (float)d.tokens[j * T + k + i] &&
                       d.labels[j * T + i] == d.tokens[j * T + k + i + 1];
            if (same) u = k;
        }
        assert_true(u >= 0);
        if (j == count - 1) assert_int_equal(u, 0);
        moved += u > 0;
    }
    assert_true(moved > count / 2);
    /* Windows past count are untouched. */
    assert_memory_equal(d.x + count * T, first.x + count * T, (size_t)((d.count - count) * T) * sizeof(float));
    float again[320];
    memcpy(again, d.x, sizeof again);
    assert_int_equal(cg_dataset_text_recut(&d, count, 7, 4), CG_OK);
    assert_memory_not_equal(again, d.x, sizeof again);
    assert_int_equal(cg_dataset_text_recut(&d, count, 7, 3), CG_OK);
    assert_memory_equal(again, d.x, sizeof again);
    assert_int_not_equal(cg_dataset_text_recut(&d, d.count + 1, 7, 3), CG_OK);
    cg_dataset csv = {0};
    assert_int_not_equal(cg_dataset_text_recut(&csv, 1, 7, 3), CG_OK);
    assert_error_mentions("is not a text data set", NULL);
    cg_dataset_free(&d);
    cg_dataset_free(&first);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(text_windows_and_vocabulary),
        cmocka_unit_test(text_vocabulary_beyond_latin1),
        cmocka_unit_test(text_bad_files),
        cmocka_unit_test(text_recut_moves_windows),
        cmocka_unit_test(idx_plain_and_gzip),
        cmocka_unit_test(idx_without_labels),
        cmocka_unit_test(idx_other_element_types),
        cmocka_unit_test(idx_header_errors),
        cmocka_unit_test(idx_size_errors),
        cmocka_unit_test(idx_truncated_gzip_stream),
        cmocka_unit_test(idx_pairing_errors),
        cmocka_unit_test(idx_file_errors),
        cmocka_unit_test(csv_classification_with_header_crlf),
        cmocka_unit_test(csv_regression_without_header),
        cmocka_unit_test(csv_reshape),
        cmocka_unit_test(csv_errors_name_line_and_column),
        cmocka_unit_test(csv_file_level_errors),
        cmocka_unit_test(csv_ignores_locale),
        cmocka_unit_test(spec_kinds),
        cmocka_unit_test(spec_fashion_mnist_from_env_dir),
        cmocka_unit_test(batch_gathers_rows),
        cmocka_unit_test(split_makes_views),
        cmocka_unit_test(check_labels_names_sample),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, tmp_dir_remove);
}
