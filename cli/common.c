/* Loading shared by the subcommands: data for a model, models from
 * checkpoints, thread settings. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Only for a table learned from the file: a model's table matches a
 * header's names without surprises. */
static void note_header(const char *cmd, const cg_dataset *d)
{
    const cg_table *t = d->table;
    if (!t || !t->header_detected) return;
    fprintf(stderr, "cgrad %s: note: %s: line 1 is a header (no field is a number):", cmd,
            d->source);
    enum { SHOWN = 12 };
    for (int64_t j = 0; j < t->n_columns && j < SHOWN; j++) {
        bool used = j == t->target;
        for (int64_t i = 0; i < t->n_features; i++) used = used || t->features[i].column == j;
        fprintf(stderr, "%s '%s'%s", j ? "," : "", t->names[j],
                j == t->target ? " (target)" : used ? "" : " (not used)");
    }
    if (t->n_columns > SHOWN)
        fprintf(stderr, ", ... (%lld more; the target is '%s')", (long long)(t->n_columns - SHOWN),
                t->target >= 0 ? t->names[t->target] : "none");
    fputc('\n', stderr);
}

cg_status cli_load_table(cg_dataset *out, const char *spec, const cg_model_spec *model,
                         const cli_columns *c)
{
    cg_data_options opts = {.regression = !cg_loss_is_classification(model->loss),
                            .sample_ndim = model->input_ndim,
                            .target = c->target,
                            .features = c->features,
                            .classes_path = c->classes,
                            .table = c->table,
                            .targets_optional = c->targets_optional,
                            .unit_targets = model->loss == CG_LOSS_BCE_WITH_LOGITS,
                            .allow_missing = cg_model_spec_fills_missing(model),
                            .unknown_ignore = model->data.unknown_ignore};
    if (cg_loss_is_classification(model->loss))
        opts.num_classes = (int32_t)cg_model_spec_classes(model);
    memcpy(opts.sample_shape, model->input, sizeof opts.sample_shape);
    opts.vocab = c->vocab;
    opts.vocab_size = c->vocab_size;
    cg_status s = cg_dataset_load_spec(out, spec, &opts);
    if (s == CG_OK && !c->table) note_header(c->cmd, out);
    return s;
}

void cli_csv_field(FILE *f, const char *text)
{
    size_t n = strlen(text);
    bool quote = n == 0 || strpbrk(text, ",\"\r\n") || text[0] == ' ' || text[n - 1] == ' ';
    if (!quote) {
        fputs(text, f);
        return;
    }
    fputc('"', f);
    for (const char *p = text; *p; p++) {
        if (*p == '"') fputc('"', f);
        fputc(*p, f);
    }
    fputc('"', f);
}

cg_status cli_load_data(cg_dataset *out, const char *cmd, const char *spec,
                        const cg_model_spec *model, const int32_t *vocab, int64_t vocab_size)
{
    cli_columns c = {.cmd = cmd, .vocab = vocab, .vocab_size = vocab_size};
    return cli_load_table(out, spec, model, &c);
}

bool cli_vocab_from_meta(const char *cmd, const char *path, const cg_st_file *f, int32_t **vocab,
                         int64_t *size)
{
    *vocab = NULL;
    *size = 0;
    const char *text = cg_st_meta(f, CLI_VOCAB_META);
    if (!text) return true;
    int64_t n = 1;
    for (const char *c = text; *c; c++) n += *c == ',';
    int32_t *v = malloc((size_t)n * sizeof *v);
    if (!v) return cli_fail(EXIT_FAILURE_OTHER, cmd, "out of memory") == EXIT_OK;
    int64_t k = 0;
    for (const char *c = text; k < n; k++) {
        char *end;
        long cp = strtol(c, &end, 10);
        bool sorted = k == 0 || cp > v[k - 1];
        if (end == c || cp < 0 || cp > 0x10FFFF || !sorted || (*end != ',' && *end != '\0')) {
            free(v);
            cli_fail(EXIT_USAGE, cmd, "%s: metadata \"%s\" is not a sorted list of code points; "
                                      "the file was altered", path, CLI_VOCAB_META);
            return false;
        }
        v[k] = (int32_t)cp;
        c = *end ? end + 1 : end;
    }
    *vocab = v;
    *size = n;
    return true;
}

char *cli_vocab_to_meta(const cg_dataset *d)
{
    if (!d->vocab) return NULL;
    char *text = malloc((size_t)d->vocab_size * 12 + 1), *at = text;
    if (!text) return NULL;
    *at = '\0';
    for (int64_t i = 0; i < d->vocab_size; i++)
        at += sprintf(at, "%s%d", i ? "," : "", (int)d->vocab[i]);
    return text;
}

typedef struct missing_note {
    const char *cmd, *path;
    const cg_model_spec *spec;
} missing_note;

/* Training learned it from the data before loading (normalize's statistics). */
static bool learned_by_train(const missing_note *n, const char *name)
{
    unsigned long i;
    if (strcmp(n->cmd, "train") != 0 || sscanf(name, "layers.%lu.", &i) != 1) return false;
    return i < n->spec->n_layers && cg_layer_learns_from_data(&n->spec->layers[i]);
}

static void note_missing_buffer(void *user, const char *name)
{
    const missing_note *n = user;
    fprintf(stderr, "cgrad %s: note: %s has no buffer \"%s\"; it keeps %s\n", n->cmd, n->path,
            name, learned_by_train(n, name) ? "the statistics of the training data"
                                            : "PyTorch's initial value");
}

/* Appends ", name [shape]" to list (of size cap) for the first LIST_SHOWN
 * tensors, then "... (N more)". */
enum { LIST_SHOWN = 5 };

static void list_add(char *list, size_t cap, size_t index, size_t total, const char *name,
                     int ndim, const int64_t *shape)
{
    size_t len = strlen(list);
    if (index >= LIST_SHOWN) {
        if (index == LIST_SHOWN)
            snprintf(list + len, cap - len, ", ... (%zu more)", total - LIST_SHOWN);
        return;
    }
    char dims[96];
    snprintf(list + len, cap - len, "%s%s %s", index ? ", " : "", name,
             cg_dims_str(ndim, shape, dims, sizeof dims));
}

/* The library's message about a tensor that is missing or has another
 * shape, with what the file holds, what the model needs and why names
 * shift when a layer is inserted. */
static cg_status explain_mismatch(cg_model *model, const cg_st_file *file)
{
    char first[1024], holds[640] = "", needs[640] = "";
    snprintf(first, sizeof first, "%s", cg_last_error());
    size_t n_file = 0, i_file = 0;
    for (size_t i = 0; i < cg_st_count(file); i++)
        n_file += strncmp(cg_st_at(file, i)->name, "optim.", 6) != 0;
    for (size_t i = 0; i < cg_st_count(file); i++) {
        const cg_st_entry *e = cg_st_at(file, i);
        if (strncmp(e->name, "optim.", 6) != 0)
            list_add(holds, sizeof holds, i_file++, n_file, e->name, e->ndim, e->shape);
    }
    cg_params *params = cg_model_params(model);
    size_t np = cg_params_count(params), nb = cg_model_buffer_count(model);
    for (size_t i = 0; i < np; i++) {
        const cg_tensor *t = cg_params_at(params, i);
        list_add(needs, sizeof needs, i, np + nb, t->name, t->ndim, t->shape);
    }
    for (size_t i = 0; i < nb; i++) {
        const cg_buffer *b = cg_model_buffer_at(model, i);
        list_add(needs, sizeof needs, np + i, np + nb, b->name, b->ndim, b->shape);
    }
    return cg_set_error(CG_ERR_FORMAT,
                        "%s: the weights are from another model\n"
                        "  the file holds (%zu): %s\n"
                        "  the model needs (%zu): %s\n"
                        "  layers.<i> counts every entry of \"layers\" (flatten and dropout "
                        "included), so inserting a layer renames the weights after it",
                        first, n_file, holds, np + nb, needs);
}

cg_status cli_load_weights(cg_model *model, const char *cmd, const char *path,
                           const cg_st_file *file)
{
    missing_note note = {cmd, path, cg_model_get_spec(model)};
    cg_status s = cg_model_load_weights(model, file, note_missing_buffer, &note);
    const char *msg = cg_last_error();
    if (s == CG_ERR_FORMAT && (strstr(msg, "\" is missing") || strstr(msg, "\" has shape ")))
        return explain_mismatch(model, file);
    return s;
}

static cg_model *build_model(const cg_model_spec *spec)
{
    /* The weights are overwritten; the initialisation only has to be valid. */
    cg_rng rng = cg_train_rng(spec->train.seed, 0, CG_STREAM_INIT);
    return cg_model_create(spec, &rng);
}

/* What the first bytes of path say it is: a JSON text ('{' after white
 * space) or safetensors (an 8-byte header length, then '{'). */
typedef enum { KIND_OTHER, KIND_JSON, KIND_SAFETENSORS } file_kind;

static file_kind sniff(const char *path)
{
    unsigned char head[64];
    struct stat st;
    /* Regular files only: opening a FIFO would wait for a writer. */
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return KIND_OTHER;
    FILE *f = fopen(path, "rb");
    if (!f) return KIND_OTHER;
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    if (n > 8 && head[8] == '{' && (head[0] | head[1] | head[2] | head[3]) != 0 &&
        !memchr(head, '{', 8))
        return KIND_SAFETENSORS;
    for (size_t i = 0; i < n; i++) {
        if (head[i] == '{') return KIND_JSON;
        if (!strchr(" \t\r\n", head[i])) break;
    }
    return KIND_OTHER;
}

int cli_fail_load(const char *cmd, const char *path, bool want_checkpoint, const char *who,
                  const char *hint)
{
    file_kind kind = sniff(path);
    if (want_checkpoint && kind == KIND_JSON)
        return cli_fail(EXIT_USAGE, cmd,
                        "%s is a model file (JSON), not a checkpoint: %s needs a checkpoint "
                        "(.safetensors, as `cgrad train --save` writes)%s",
                        path, who, hint ? hint : "");
    if (!want_checkpoint && kind == KIND_SAFETENSORS)
        return cli_fail(EXIT_USAGE, cmd,
                        "%s is a checkpoint (safetensors), not a model file: %s needs a model "
                        "file (JSON)%s",
                        path, who, hint ? hint : "");
    return cli_fail_lib(EXIT_USAGE, cmd);
}

int cli_model_load(cli_model *m, const char *cmd, const char *ckpt_path, const char *model_path)
{
    *m = (cli_model){0};
    if (cg_checkpoint_load(ckpt_path, &m->ck) != CG_OK)
    {
        char who[64];
        snprintf(who, sizeof who, "`cgrad %s`", cmd);
        return cli_fail_load(cmd, ckpt_path, true, who,
                             "; train the model first: `cgrad train MODEL.json --data SPEC "
                             "--save CKPT`");
    }
    if (model_path && cg_model_spec_load(model_path, &m->spec) != CG_OK) {
        cli_model_release(m);
        return cli_fail_load(cmd, model_path, false, "--model", NULL);
    }
    const cg_model_spec *spec = m->spec ? m->spec : m->ck->spec;
    if (!spec) {
        cli_model_release(m);
        return cli_fail(EXIT_USAGE, cmd,
                        "%s has no model description in its metadata (not written by cgrad); "
                        "pass --model MODEL.json",
                        ckpt_path);
    }
    if (cg_model_spec_check_file(spec, m->ck->file) != CG_OK) {
        int code = cli_fail(EXIT_USAGE, cmd, "%s: %s", ckpt_path, cg_last_error());
        cli_model_release(m);
        return code;
    }
    const char *table = cg_st_meta(m->ck->file, "table");
    if (table && cg_table_from_json(table, &m->table) != CG_OK) {
        int code = cli_fail(EXIT_USAGE, cmd, "%s: __metadata__ \"table\": %s", ckpt_path,
                            cg_last_error());
        cli_model_release(m);
        return code;
    }
    m->model = build_model(spec);
    if (!m->model) {
        cli_model_release(m);
        return cli_fail_lib(EXIT_FAILURE_OTHER, cmd);
    }
    if (!cli_vocab_from_meta(cmd, ckpt_path, m->ck->file, &m->vocab, &m->vocab_size)) {
        cli_model_release(m);
        return EXIT_USAGE;
    }
    if (cli_load_weights(m->model, cmd, ckpt_path, m->ck->file) != CG_OK) {
        int code = cli_fail(EXIT_USAGE, cmd, "%s: %s", ckpt_path, cg_last_error());
        cli_model_release(m);
        return code;
    }
    return EXIT_OK;
}

void cli_model_release(cli_model *m)
{
    cg_model_destroy(m->model);
    cg_model_spec_free(m->spec);
    cg_checkpoint_free(m->ck);
    cg_table_free(m->table);
    free(m->vocab);
    *m = (cli_model){0};
}

bool cli_infer_option(cli_args *a, cli_infer_options *o)
{
    return cli_option(a, "--data", &o->data) || cli_option(a, "--model", &o->model_path) ||
           cli_option(a, "--batch", &o->batch_text) || cli_option(a, "--threads", &o->threads);
}

int cli_infer_setup(cli_model *m, int64_t *batch, const cli_args *a, const cli_infer_options *o)
{
    if (a->failed) return EXIT_USAGE;
    if (a->n_positional != 1)
        return cli_fail(EXIT_USAGE, a->cmd, "expected one checkpoint; see --help");
    if (!o->data) return cli_fail(EXIT_USAGE, a->cmd, "--data SPEC is required; see --help");
    *batch = 1024;
    if (o->batch_text && !cli_parse_int(a->cmd, "--batch", o->batch_text, 1, INT32_MAX, batch))
        return EXIT_USAGE;
    if (!cli_set_threads(a->cmd, o->threads)) return EXIT_USAGE;
    return cli_model_load(m, a->cmd, a->positional[0], o->model_path);
}

bool cli_set_threads(const char *cmd, const char *text)
{
    int64_t n = 0;
    if (text && !cli_parse_int(cmd, "--threads", text, 1, 4096, &n)) return false;
    cg_set_num_threads((int)n);
    return true;
}
