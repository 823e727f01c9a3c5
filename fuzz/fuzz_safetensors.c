/* libFuzzer target: arbitrary bytes as a safetensors file. The loader must
 * return a status for every input, and on success every entry's data must
 * be readable for the size its shape and dtype claim. A file that loads is
 * then read as a checkpoint, the way `cgrad eval` and `train --resume` read
 * one (cli_model_load): its model description and training state, its
 * table ("table"), its text vocabulary, the weights and buffers (normalize's
 * statistics) loaded into the model it describes, and the optimizer state. */
#include "fuzz_common.h"

#include "cli.h"

/* cli_model_load prints each refusal on stderr; at thousands of inputs a
 * second that would drown libFuzzer's own lines. The sanitizers and
 * libFuzzer write to file descriptor 2 directly and are not affected. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    FILE *null = fopen("/dev/null", "w");
    if (null) stderr = null;
    return 0;
}

static void check_container(const cg_st_file *f)
{
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
}

/* The model's own invariants after a load that succeeded. */
static void check_model(const cli_model *m)
{
    if (!m->ck || !m->model) __builtin_trap();
    if (m->vocab)
        for (int64_t i = 1; i < m->vocab_size; i++)
            if (m->vocab[i] <= m->vocab[i - 1]) __builtin_trap();
    if (m->table) {
        char *json = cg_table_to_json(m->table);
        cg_table *again = NULL;
        if (!json || cg_table_from_json(json, &again) != CG_OK) __builtin_trap();
        cg_table_free(again);
        free(json);
    }
    if (!m->ck->has_state || !m->ck->spec) return;
    cg_optim *opt = cg_optim_create(cg_model_params(m->model), &m->ck->spec->optim);
    if (opt) cg_checkpoint_restore_optim(m->ck, m->model, opt);
    cg_optim_destroy(opt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_input(data, size);
    if (!path) return 0;
    cg_st_file *f = NULL;
    if (cg_safetensors_load(path, &f) != CG_OK) {
        fuzz_check_error_names(path);
        return 0;
    }
    check_container(f);
    cg_safetensors_free(f);
    cli_model m;
    if (cli_model_load(&m, "eval", path, NULL) == EXIT_OK) check_model(&m);
    cli_model_release(&m);
    return 0;
}
