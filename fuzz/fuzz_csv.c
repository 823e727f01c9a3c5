/* libFuzzer target: a CSV data set, read as `cgrad train` reads one and
 * then again through the table learned from it, as eval and predict read
 * new tables. Byte 0 of the input picks the options, the rest is the file:
 *   bit 0  regression (else classification: labels, numbers or class names)
 *   bit 1  missing cells allowed (a normalize layer with "impute")
 *   bit 2  the target is column 1 (--target 1), not the last
 *   bit 3  header=yes, bit 4 header=no (both: header=no)
 *   bit 5  the second read ignores unseen categories (--unknown ignore)
 * Success must give consistent sizes; failure must name the file. The
 * table goes through its JSON and reads the same bytes again: it must give
 * the same samples. */
#include "fuzz_common.h"

#include <stdlib.h>
#include <string.h>

typedef struct csv_case {
    char spec[4200];
    cg_data_options opts;
} csv_case;

static csv_case case_from(const char *path, uint8_t bits)
{
    csv_case c = {.opts = {.regression = bits & 1, .allow_missing = bits & 2}};
    if (bits & 4) c.opts.target = "1";
    const char *header = bits & 16 ? ",header=no" : bits & 8 ? ",header=yes" : "";
    snprintf(c.spec, sizeof c.spec, "csv:%s%s", path, header);
    return c;
}

static void reread(const csv_case *c, const cg_dataset *d, bool unknown_ignore)
{
    char *json = cg_table_to_json(d->table);
    cg_table *t = NULL;
    if (!json || cg_table_from_json(json, &t) != CG_OK) __builtin_trap();
    cg_data_options o = c->opts;
    o.target = NULL;
    o.table = t;
    o.targets_optional = true;
    o.unknown_ignore = unknown_ignore;
    cg_dataset again;
    if (cg_dataset_load_spec(&again, c->spec, &o) != CG_OK) __builtin_trap();
    if (again.count != d->count || again.sample_size != d->sample_size ||
        memcmp(again.x, d->x, (size_t)(d->count * d->sample_size) * sizeof *d->x) != 0)
        __builtin_trap();
    cg_dataset_free(&again);
    cg_table_free(t);
    free(json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const char *path = fuzz_write_input(data + 1, size - 1);
    if (!path) return 0;
    csv_case c = case_from(path, data[0]);
    cg_dataset d;
    if (cg_dataset_load_spec(&d, c.spec, &c.opts) != CG_OK) {
        fuzz_check_error_names(path);
        return 0;
    }
    bool classification = !c.opts.regression;
    if (d.count < 1 || d.sample_size < 1 || !d.x || !d.table) __builtin_trap();
    if (classification != (d.labels != NULL) || classification == (d.y != NULL)) __builtin_trap();
    volatile float sink = 0;
    for (int64_t i = 0; i < d.count * d.sample_size; i++) sink += d.x[i];
    for (int64_t i = 0; i < d.count; i++) {
        if (d.labels && (d.labels[i] < 0 || d.labels[i] >= d.num_classes)) __builtin_trap();
        if (d.y) sink += d.y[i];
    }
    (void)sink;
    reread(&c, &d, data[0] & 32);
    cg_dataset_free(&d);
    return 0;
}
