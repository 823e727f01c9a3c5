/* libFuzzer target: arbitrary bytes as a CSV data set, loaded both as
 * classification and as regression data. Success must give consistent
 * sizes; failure must name the file. */
#include "fuzz_common.h"

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
