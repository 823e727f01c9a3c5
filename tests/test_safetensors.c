/* safetensors: round trips, the exact byte layout, every class of corrupt
 * file rejected with a message naming the file, and atomic saving. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgrad.h"
#include "tmpdir.h"

static int make_tmpdir(void **state)
{
    (void)state;
    return tmp_dir_create("cg_st");
}

static int count_dir_entries(void)
{
    DIR *d = opendir(tmp_dir());
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) n++;
    closedir(d);
    return n;
}

static void write_bytes(const char *path, const void *bytes, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static unsigned char *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n + 1);
    assert_int_equal(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

/* A file with the given header (length prefix computed, no padding) and
 * data section. */
static void write_st(const char *path, const char *header, const void *data, size_t data_len)
{
    size_t h = strlen(header);
    unsigned char *buf = malloc(8 + h + data_len + 1);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(buf + 8, header, h);
    if (data_len) memcpy(buf + 8 + h, data, data_len);
    write_bytes(path, buf, 8 + h + data_len);
    free(buf);
}

static void expect_load_error(const char *path, cg_status status, const char *needle)
{
    cg_st_file *f = (cg_st_file *)0x1;
    cg_status s = cg_safetensors_load(path, &f);
    if (s != status || !strstr(cg_last_error(), needle) || !strstr(cg_last_error(), path))
        fail_msg("load of %s: status %s, message \"%s\"; wanted %s with \"%s\"", path,
                 cg_status_name(s), cg_last_error(), cg_status_name(status), needle);
    assert_null(f);
}

static void round_trip_f32_i64_metadata(void **state)
{
    (void)state;
    float w[6] = {1.5f, -2, 3, 0.25f, 1e-30f, -0.0f};
    int64_t idx[4] = {0, -1, INT64_MAX, INT64_MIN};
    float scalar = 42;
    cg_st_entry e[4] = {
        {.name = "layer.weight", .dtype = CG_DTYPE_F32, .ndim = 2, .shape = {2, 3}, .data = w},
        {.name = "steps", .dtype = CG_DTYPE_I64, .ndim = 1, .shape = {4}, .data = idx},
        {.name = "scalar", .dtype = CG_DTYPE_F32, .ndim = 0, .data = &scalar},
        {.name = "empty", .dtype = CG_DTYPE_F32, .ndim = 2, .shape = {0, 5}, .data = NULL},
    };
    const char *keys[] = {"format", "note"};
    const char *values[] = {"cgrad", "quote \" backslash \\ newline \n done"};
    const char *path = tmp_path("rt.safetensors");
    assert_int_equal(cg_safetensors_save(path, e, 4, keys, values, 2), CG_OK);

    cg_st_file *f = NULL;
    assert_int_equal(cg_safetensors_load(path, &f), CG_OK);
    assert_int_equal(cg_st_count(f), 4);
    for (size_t i = 0; i < 4; i++) {
        const cg_st_entry *got = cg_st_at(f, i);
        assert_string_equal(got->name, e[i].name);
        assert_int_equal(got->dtype, e[i].dtype);
        assert_int_equal(got->ndim, e[i].ndim);
        for (int d = 0; d < e[i].ndim; d++) assert_int_equal(got->shape[d], e[i].shape[d]);
    }
    assert_memory_equal(cg_st_find(f, "layer.weight")->data, w, sizeof w);
    assert_memory_equal(cg_st_find(f, "steps")->data, idx, sizeof idx);
    assert_true(*(const float *)cg_st_find(f, "scalar")->data == 42.0f);
    assert_null(cg_st_find(f, "missing"));
    assert_null(cg_st_at(f, 4));
    assert_string_equal(cg_st_meta(f, "format"), "cgrad");
    assert_string_equal(cg_st_meta(f, "note"), values[1]);
    assert_null(cg_st_meta(f, "absent"));
    cg_safetensors_free(f);
}

static void empty_file_round_trips(void **state)
{
    (void)state;
    const char *path = tmp_path("empty.safetensors");
    assert_int_equal(cg_safetensors_save(path, NULL, 0, NULL, NULL, 0), CG_OK);
    size_t n;
    unsigned char *b = read_bytes(path, &n);
    const unsigned char expect[16] = {8,   0,   0,   0,   0,   0,   0,   0,
                                      '{', '}', ' ', ' ', ' ', ' ', ' ', ' '};
    assert_int_equal(n, 16);
    assert_memory_equal(b, expect, 16);
    free(b);
    cg_st_file *f;
    assert_int_equal(cg_safetensors_load(path, &f), CG_OK);
    assert_int_equal(cg_st_count(f), 0);
    cg_safetensors_free(f);
}

/* Computed by hand: 79 bytes of JSON, padded with one space to 80 = 0x50. */
static void exact_byte_layout(void **state)
{
    (void)state;
    float a[2] = {1.0f, 2.0f};
    cg_st_entry e = {.name = "a", .dtype = CG_DTYPE_F32, .ndim = 1, .shape = {2}, .data = a};
    const char *k = "k", *v = "v";
    const char *path = tmp_path("tiny.safetensors");
    assert_int_equal(cg_safetensors_save(path, &e, 1, &k, &v, 1), CG_OK);
    const char json[] = "{\"__metadata__\":{\"k\":\"v\"},"
                        "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}} ";
    unsigned char expect[8 + 80 + 8] = {0x50, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(sizeof json - 1, 80);
    memcpy(expect + 8, json, 80);
    const unsigned char data[8] = {0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0x40};
    memcpy(expect + 88, data, 8);
    size_t n;
    unsigned char *b = read_bytes(path, &n);
    assert_int_equal(n, sizeof expect);
    assert_memory_equal(b, expect, sizeof expect);
    free(b);
}

static void header_padded_to_eight(void **state)
{
    (void)state;
    float x[3] = {1, 2, 3};
    const char *names[] = {"a", "bb", "ccc", "dddd", "eeeee", "ffffff", "ggggggg", "hhhhhhhh"};
    for (int i = 0; i < 8; i++) {
        cg_st_entry e = {.name = names[i], .ndim = 1, .shape = {3}, .data = x};
        const char *path = tmp_path("pad.safetensors");
        assert_int_equal(cg_safetensors_save(path, &e, 1, NULL, NULL, 0), CG_OK);
        size_t n;
        unsigned char *b = read_bytes(path, &n);
        uint64_t h = 0;
        for (int j = 0; j < 8; j++) h |= (uint64_t)b[j] << (8 * j);
        assert_int_equal(h % 8, 0);
        assert_int_equal(n, 8 + h + sizeof x);
        /* Padding is spaces after the closing brace. */
        size_t end = 8 + (size_t)h;
        while (b[end - 1] == ' ') end--;
        assert_int_equal(b[end - 1], '}');
        assert_true(8 + h - end < 8);
        free(b);
    }
}

static void names_are_json_escaped(void **state)
{
    (void)state;
    float x = 1;
    const char *name = "we\"ird\\name\n\x01 ünï";
    cg_st_entry e = {.name = name, .dtype = CG_DTYPE_F32, .ndim = 0, .data = &x};
    const char *path = tmp_path("esc.safetensors");
    assert_int_equal(cg_safetensors_save(path, &e, 1, NULL, NULL, 0), CG_OK);
    cg_st_file *f;
    assert_int_equal(cg_safetensors_load(path, &f), CG_OK);
    assert_string_equal(cg_st_at(f, 0)->name, name);
    cg_safetensors_free(f);
}

/* Offsets that are legal but not multiples of the element size (another
 * writer packing an odd-sized tensor first) still give aligned data. */
static void misaligned_tensor_is_copied(void **state)
{
    (void)state;
    unsigned char data[12];
    float a = 3.5f;
    int64_t b = -123456789012345;
    memcpy(data, &a, 4);
    memcpy(data + 4, &b, 8);
    const char *path = tmp_path("misaligned.safetensors");
    write_st(path,
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
             "\"b\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[4,12]}}",
             data, sizeof data);
    cg_st_file *f;
    assert_int_equal(cg_safetensors_load(path, &f), CG_OK);
    const cg_st_entry *eb = cg_st_find(f, "b");
    assert_int_equal((uintptr_t)eb->data % 8, 0);
    assert_true(*(const int64_t *)eb->data == b);
    assert_true(*(const float *)cg_st_find(f, "a")->data == a);
    cg_safetensors_free(f);
}

/* Header order is entry order even when data are stored in another order. */
static void entries_keep_header_order(void **state)
{
    (void)state;
    float data[3] = {1, 2, 3};
    const char *path = tmp_path("order.safetensors");
    write_st(path,
             "{\"z\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]},"
             "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
             data, sizeof data);
    cg_st_file *f;
    assert_int_equal(cg_safetensors_load(path, &f), CG_OK);
    assert_string_equal(cg_st_at(f, 0)->name, "z");
    assert_true(((const float *)cg_st_at(f, 0)->data)[1] == 3);
    assert_true(*(const float *)cg_st_find(f, "a")->data == 1);
    cg_safetensors_free(f);
}

typedef struct bad_header {
    const char *header;
    size_t data_len;
    const char *needle;
} bad_header;

#define T(dtype, shape, offsets) \
    "{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":" offsets "}"

static void corrupt_headers_rejected(void **state)
{
    (void)state;
    static const bad_header cases[] = {
        {"{\"a\":", 0, "not valid JSON"},
        {"", 0, "cannot hold a JSON object"},
        {"[1,2]", 0, "not a JSON object"},
        {"{} x", 0, "unexpected bytes after the JSON header"},
        {"{}\x01", 0, "control byte 0x01"},
        {"{\"\xff\":1}", 0, "not valid UTF-8"},
        {"{\"a\":" T("Q7", "[1]", "[0,4]") "}", 4, "unknown dtype 'Q7'"},
        {"{\"a\":" T("F16", "[2]", "[0,4]") "}", 4, "tensor 'a' has dtype F16"},
        {"{\"a\":{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "dtype is not a string"},
        {"{\"a\":" T("F32", "3", "[0,12]") "}", 12, "shape is not an array"},
        {"{\"a\":" T("F32", "[-3]", "[0,12]") "}", 12, "shape[0] is not a non-negative integer"},
        {"{\"a\":" T("F32", "[1.5]", "[0,12]") "}", 12, "shape[0] is not a non-negative integer"},
        {"{\"a\":" T("F32", "[1,1,1,1,1,1,1]", "[0,4]") "}", 4, "rank 7 exceeds CG_MAX_DIMS"},
        {"{\"a\":" T("F32", "[3]", "[0,8]") "}", 8, "give 12 bytes but data_offsets [0, 8] span 8"},
        {"{\"a\":" T("F32", "[4294967296,4294967296,4294967296]", "[0,8]") "}", 8,
         "shape too large"},
        {"{\"a\":" T("F32", "[0]", "[8,0]") "}", 8, "end before they begin"},
        {"{\"a\":" T("F32", "[1]", "[0,4,8]") "}", 8, "data_offsets must be [begin, end]"},
        {"{\"a\":" T("F32", "[1]", "[0,\"4\"]") "}", 4, "data_offsets must be [begin, end]"},
        {"{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "missing 'dtype'"},
        {"{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "missing 'shape'"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "missing 'data_offsets'"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4,
         "unexpected field 'x'"},
        {"{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
         "duplicate field 'dtype'"},
        {"{\"a\":[1]}", 0, "tensor 'a': entry is not an object"},
        {"{\"a\":" T("F32", "[2]", "[0,8]") ",\"b\":" T("F32", "[2]", "[4,12]") "}", 12,
         "overlap tensor 'a'"},
        {"{\"a\":" T("F32", "[1]", "[0,4]") ",\"b\":" T("F32", "[1]", "[8,12]") "}", 12,
         "gap of 4 bytes before tensor 'b'"},
        {"{\"a\":" T("F32", "[1]", "[4,8]") "}", 8, "gap of 4 bytes before tensor 'a'"},
        {"{\"a\":" T("F32", "[2]", "[0,8]") "}", 4, "run past the end of the file"},
        {"{\"a\":" T("F32", "[1]", "[0,4]") "}", 8, "4 bytes after the last tensor"},
        {"{\"a\":" T("F32", "[1]", "[0,4]") ",\"a\":" T("F32", "[1]", "[4,8]") "}", 8,
         "duplicate tensor name 'a'"},
        {"{\"__metadata__\":{\"k\":1}}", 0, "metadata 'k' is not a string"},
        {"{\"__metadata__\":[]}", 0, "'__metadata__' is not an object"},
        {"{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, "duplicate metadata key 'k'"},
        {"{\"__metadata__\":{},\"__metadata__\":{}}", 0, "duplicate '__metadata__'"},
    };
    const char *path = tmp_path("bad.safetensors");
    unsigned char data[16] = {0};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        write_st(path, cases[i].header, data, cases[i].data_len);
        expect_load_error(path, CG_ERR_FORMAT, cases[i].needle);
    }
}

static void truncated_files_rejected(void **state)
{
    (void)state;
    const char *path = tmp_path("trunc.safetensors");
    write_bytes(path, "", 0);
    expect_load_error(path, CG_ERR_FORMAT, "truncated file: 0 bytes");
    write_bytes(path, "\x10\0\0", 3);
    expect_load_error(path, CG_ERR_FORMAT, "truncated file: 3 bytes");
    /* Header length beyond the file. */
    write_bytes(path, "\x40\0\0\0\0\0\0\0{}", 10);
    expect_load_error(path, CG_ERR_FORMAT, "header length 64 is larger than the file");
    write_bytes(path, "\0\0\0\0\0\0\0\x80{}", 10);
    expect_load_error(path, CG_ERR_FORMAT, "is larger than the file");
    /* A good file cut short inside its data. */
    float x[4] = {1, 2, 3, 4};
    cg_st_entry e = {.name = "x", .dtype = CG_DTYPE_F32, .ndim = 1, .shape = {4}, .data = x};
    assert_int_equal(cg_safetensors_save(path, &e, 1, NULL, NULL, 0), CG_OK);
    size_t n;
    unsigned char *b = read_bytes(path, &n);
    write_bytes(path, b, n - 3);
    free(b);
    expect_load_error(path, CG_ERR_FORMAT, "run past the end of the file");
}

static void missing_file_and_directory(void **state)
{
    (void)state;
    expect_load_error(tmp_path("does-not-exist"), CG_ERR_IO, "cannot open");
    expect_load_error(tmp_dir(), CG_ERR_IO, "it is a directory");
}

static void save_rejects_bad_arguments(void **state)
{
    (void)state;
    float x = 1;
    const char *path = tmp_path("args.safetensors");
    cg_st_entry dup[2] = {{.name = "w", .data = &x}, {.name = "w", .data = &x}};
    assert_int_equal(cg_safetensors_save(path, dup, 2, NULL, NULL, 0), CG_ERR_ARG);
    assert_non_null(strstr(cg_last_error(), "duplicate tensor name 'w'"));
    cg_st_entry meta = {.name = "__metadata__", .ndim = 0, .data = &x};
    assert_int_equal(cg_safetensors_save(path, &meta, 1, NULL, NULL, 0), CG_ERR_ARG);
    cg_st_entry nodata = {.name = "n", .ndim = 1, .shape = {3}, .data = NULL};
    assert_int_equal(cg_safetensors_save(path, &nodata, 1, NULL, NULL, 0), CG_ERR_ARG);
    assert_non_null(strstr(cg_last_error(), "data is NULL"));
    cg_st_entry rank = {.name = "r", .ndim = 7, .data = &x};
    assert_int_equal(cg_safetensors_save(path, &rank, 1, NULL, NULL, 0), CG_ERR_ARG);
    cg_st_entry utf = {.name = "\xc3", .ndim = 0, .data = &x};
    assert_int_equal(cg_safetensors_save(path, &utf, 1, NULL, NULL, 0), CG_ERR_ARG);
    const char *keys[2] = {"k", "k"}, *values[2] = {"1", "2"};
    assert_int_equal(cg_safetensors_save(path, NULL, 0, keys, values, 2), CG_ERR_ARG);
    assert_non_null(strstr(cg_last_error(), "duplicate metadata key 'k'"));
    assert_int_equal(access(path, F_OK), -1);  /* nothing written */
}

static void save_to_missing_directory_fails_cleanly(void **state)
{
    (void)state;
    float x = 1;
    cg_st_entry e = {.name = "x", .ndim = 0, .data = &x};
    char path[512];
    snprintf(path, sizeof path, "%s/no/such/dir/out.safetensors", tmp_dir());
    int before = count_dir_entries();
    assert_int_equal(cg_safetensors_save(path, &e, 1, NULL, NULL, 0), CG_ERR_IO);
    assert_non_null(strstr(cg_last_error(), path));
    assert_non_null(strstr(cg_last_error(), "No such file or directory"));
    assert_int_equal(count_dir_entries(), before);
}

/* Permission bits do not stop root, so this check runs only as a user. */
static void save_to_unwritable_directory_fails_cleanly(void **state)
{
    (void)state;
    if (geteuid() == 0) skip();
    char dir[512];
    snprintf(dir, sizeof dir, "%s/ro", tmp_dir());
    assert_int_equal(mkdir(dir, 0500), 0);
    char path[600];
    snprintf(path, sizeof path, "%s/out.safetensors", dir);
    float x = 1;
    cg_st_entry e = {.name = "x", .ndim = 0, .data = &x};
    cg_status s = cg_safetensors_save(path, &e, 1, NULL, NULL, 0);
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) n += de->d_name[0] != '.' || strlen(de->d_name) > 2;
    closedir(d);
    rmdir(dir);
    assert_int_equal(s, CG_ERR_IO);
    assert_non_null(strstr(cg_last_error(), path));
    assert_non_null(strstr(cg_last_error(), "Permission denied"));
    assert_int_equal(n, 0);
}

/* A write that fails half-way (file size limit: EFBIG, works even as root)
 * must leave the previous file byte-identical and no temporary behind. */
static void failed_save_keeps_old_file(void **state)
{
    (void)state;
    const char *path = tmp_path("keep.safetensors");
    float small[2] = {7, 8};
    cg_st_entry e = {.name = "w", .ndim = 1, .shape = {2}, .data = small};
    assert_int_equal(cg_safetensors_save(path, &e, 1, NULL, NULL, 0), CG_OK);
    size_t n_old;
    unsigned char *old = read_bytes(path, &n_old);
    int entries = count_dir_entries();

    static float big[1 << 16];
    cg_st_entry eb = {.name = "w", .ndim = 1, .shape = {1 << 16}, .data = big};
    struct rlimit saved, lim;
    getrlimit(RLIMIT_FSIZE, &saved);
    lim = saved;
    lim.rlim_cur = 4096;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    cg_status s = cg_safetensors_save(path, &eb, 1, NULL, NULL, 0);
    setrlimit(RLIMIT_FSIZE, &saved);
    signal(SIGXFSZ, old_handler);

    assert_int_equal(s, CG_ERR_IO);
    assert_non_null(strstr(cg_last_error(), path));
    assert_non_null(strstr(cg_last_error(), "File too large"));
    size_t n_now;
    unsigned char *now = read_bytes(path, &n_now);
    assert_int_equal(n_now, n_old);
    assert_memory_equal(now, old, n_old);
    assert_int_equal(count_dir_entries(), entries);
    free(old);
    free(now);
}

static void saved_file_is_not_private(void **state)
{
    (void)state;
    float x = 1;
    cg_st_entry e = {.name = "x", .ndim = 0, .data = &x};
    const char *path = tmp_path("mode.safetensors");
    assert_int_equal(cg_safetensors_save(path, &e, 1, NULL, NULL, 0), CG_OK);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(cg_safetensors_save(path, &e, 1, NULL, NULL, 0), CG_OK);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);  /* a replaced file keeps its mode */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip_f32_i64_metadata),
        cmocka_unit_test(empty_file_round_trips),
        cmocka_unit_test(exact_byte_layout),
        cmocka_unit_test(header_padded_to_eight),
        cmocka_unit_test(names_are_json_escaped),
        cmocka_unit_test(misaligned_tensor_is_copied),
        cmocka_unit_test(entries_keep_header_order),
        cmocka_unit_test(corrupt_headers_rejected),
        cmocka_unit_test(truncated_files_rejected),
        cmocka_unit_test(missing_file_and_directory),
        cmocka_unit_test(save_rejects_bad_arguments),
        cmocka_unit_test(save_to_missing_directory_fails_cleanly),
        cmocka_unit_test(save_to_unwritable_directory_fails_cleanly),
        cmocka_unit_test(failed_save_keeps_old_file),
        cmocka_unit_test(saved_file_is_not_private),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, tmp_dir_remove);
}
