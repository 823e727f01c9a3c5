/* libFuzzer target: arbitrary bytes as a safetensors file. The loader must
 * return a status for every input, and on success every entry's data must
 * be readable for the size its shape and dtype claim. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_input(data, size);
    if (!path) return 0;
    cg_st_file *f = NULL;
    if (cg_safetensors_load(path, &f) != CG_OK) {
        fuzz_check_error_names(path);
        return 0;
    }
    volatile unsigned char sink = 0;
    for (size_t i = 0; i < cg_st_count(f); i++) {
        const cg_st_entry *e = cg_st_at(f, i);
        size_t n = e->dtype == CG_DTYPE_I64 ? 8 : 4;
        for (int d = 0; d < e->ndim; d++) n *= (size_t)e->shape[d];
        const unsigned char *p = e->data;
        for (size_t b = 0; b < n; b++) sink ^= p[b];
        if (cg_st_find(f, e->name) == NULL) __builtin_trap();
    }
    (void)sink;
    cg_safetensors_free(f);
    return 0;
}
