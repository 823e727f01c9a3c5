/* libFuzzer target: text data sets (src/data/text.c). The input is the
 * file: it must load as windows or fail with a message, never crash or
 * read out of bounds; loading it again under its own vocabulary gives the
 * same ids, and every window's labels are the ids that follow it. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_file(0, data, size);
    if (!path) return 0;
    cg_dataset d, again;
    int64_t T = size > 0 ? 1 + data[0] % 8 : 4;
    if (cg_dataset_load_text(&d, path, T, NULL, 0) != CG_OK) {
        if (!cg_last_error()[0]) __builtin_trap();
        return 0;
    }
    if (cg_dataset_load_text(&again, path, T, d.vocab, d.vocab_size) != CG_OK) __builtin_trap();
    for (int64_t i = 0; i < d.count * T; i++)
        if (d.x[i] != again.x[i] || d.labels[i] < 0 || d.labels[i] >= d.vocab_size) __builtin_trap();
    for (int64_t j = 0; j < d.count; j++)
        for (int64_t i = 0; i + 1 < T; i++)
            if ((float)d.labels[j * T + i] != d.x[j * T + i + 1]) __builtin_trap();
    if (d.count > 1 && cg_dataset_text_recut(&d, d.count, 7, 1) != CG_OK) __builtin_trap();
    cg_dataset_free(&again);
    cg_dataset_free(&d);
    return 0;
}
