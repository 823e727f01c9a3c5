/* libFuzzer target: arbitrary bytes as IDX files (plain, or gzip when a
 * part starts with the gzip magic). The first two input bytes give the
 * length of an images file; the rest, if any, is a labels file. The images
 * part is also loaded alone. */
#include "fuzz_common.h"

static void check(const char *images, const char *labels)
{
    cg_dataset d;
    if (cg_dataset_load_idx(&d, images, labels) != CG_OK) {
        if (!strstr(cg_last_error(), images) && !(labels && strstr(cg_last_error(), labels))) {
            fprintf(stderr, "error message names no file: %s\n", cg_last_error());
            __builtin_trap();
        }
        return;
    }
    if (d.count < 1 || d.sample_size < 1 || !d.x) __builtin_trap();
    volatile float sink = 0;
    for (int64_t i = 0; i < d.count * d.sample_size; i++) sink += d.x[i];
    if (d.labels) {
        for (int64_t i = 0; i < d.count; i++)
            if (d.labels[i] < 0 || d.labels[i] >= d.num_classes) __builtin_trap();
        if (cg_dataset_check_labels(&d, d.num_classes) != CG_OK) __builtin_trap();
    }
    (void)sink;
    cg_dataset_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    size_t split = (size_t)data[0] << 8 | data[1];
    data += 2;
    size -= 2;
    if (split > size) split = size;
    const char *images = fuzz_write_file(0, data, split);
    if (!images) return 0;
    check(images, NULL);
    if (split == size) return 0;
    const char *labels = fuzz_write_file(1, data + split, size - split);
    if (labels) check(images, labels);
    return 0;
}
