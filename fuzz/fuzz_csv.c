/* libFuzzer target: arbitrary bytes as a CSV data set, loaded both as
 * classification and as regression data. Success must give consistent
 * sizes; failure must name the file. A table learned from the bytes goes
 * through its JSON and reads the same bytes again, as eval and predict
 * read new tables: it must give the same samples. */
#include "fuzz_common.h"

#include <stdlib.h>
#include <string.h>

static void reread(const char *path, const cg_dataset *d, bool classification)
{
    char *json = cg_table_to_json(d->table);
    cg_table *t = NULL;
    if (!json || cg_table_from_json(json, &t) != CG_OK) __builtin_trap();
    cg_data_options o = {.regression = !classification, .table = t, .targets_optional = true};
    char spec[4200];
    snprintf(spec, sizeof spec, "csv:%s", path);
    cg_dataset again;
    if (cg_dataset_load_spec(&again, spec, &o) != CG_OK) __builtin_trap();
    if (again.count != d->count || again.sample_size != d->sample_size ||
        memcmp(again.x, d->x, (size_t)(d->count * d->sample_size) * sizeof *d->x) != 0)
        __builtin_trap();
    cg_dataset_free(&again);
    cg_table_free(t);
    free(json);
}

static void check(const char *path, bool classification)
{
    cg_dataset d;
    if (cg_dataset_load_csv(&d, path, classification, NULL, 0) != CG_OK) {
        fuzz_check_error_names(path);
        return;
    }
    if (d.count < 1 || d.sample_size < 1 || !d.x) __builtin_trap();
    if (classification != (d.labels != NULL) || classification == (d.y != NULL)) __builtin_trap();
    volatile float sink = 0;
    for (int64_t i = 0; i < d.count * d.sample_size; i++) sink += d.x[i];
    for (int64_t i = 0; i < d.count; i++) {
        if (d.labels && (d.labels[i] < 0 || d.labels[i] >= d.num_classes)) __builtin_trap();
        if (d.y) sink += d.y[i];
    }
    (void)sink;
    reread(path, &d, classification);
    cg_dataset_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_input(data, size);
    if (!path) return 0;
    check(path, true);
    check(path, false);
    return 0;
}
