/* Loading shared by the subcommands: data for a model, models from
 * checkpoints, thread settings. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

cg_status cli_load_data(cg_dataset *out, const char *spec, const cg_model_spec *model)
{
    cg_data_options opts = {.regression = !cg_loss_is_classification(model->loss),
                            .sample_ndim = model->input_ndim};
    if (cg_loss_is_classification(model->loss) && model->output_ndim == 1)
        opts.num_classes = (int32_t)model->output[0];
    memcpy(opts.sample_shape, model->input, sizeof opts.sample_shape);
    return cg_dataset_load_spec(out, spec, &opts);
}

typedef struct missing_note {
    const char *cmd, *path;
} missing_note;

static void note_missing_buffer(void *user, const char *name)
{
    const missing_note *n = user;
    fprintf(stderr, "cgrad %s: note: %s has no buffer \"%s\"; it keeps PyTorch's initial value\n",
            n->cmd, n->path, name);
}

cg_status cli_load_weights(cg_model *model, const char *cmd, const char *path,
                           const cg_st_file *file)
{
    missing_note note = {cmd, path};
    return cg_model_load_weights(model, file, note_missing_buffer, &note);
}

static cg_model *build_model(const cg_model_spec *spec)
{
    /* The weights are overwritten; the initialisation only has to be valid. */
    cg_rng rng = cg_train_rng(spec->train.seed, 0, CG_STREAM_INIT);
    return cg_model_create(spec, &rng);
}

int cli_model_load(cli_model *m, const char *cmd, const char *ckpt_path, const char *model_path)
{
    *m = (cli_model){0};
    if (cg_checkpoint_load(ckpt_path, &m->ck) != CG_OK) return cli_fail_lib(EXIT_USAGE, cmd);
    if (model_path && cg_model_spec_load(model_path, &m->spec) != CG_OK) {
        cli_model_release(m);
        return cli_fail_lib(EXIT_USAGE, cmd);
    }
    const cg_model_spec *spec = m->spec ? m->spec : m->ck->spec;
    if (!spec) {
        cli_model_release(m);
        return cli_fail(EXIT_USAGE, cmd,
                        "%s has no model description in its metadata (not written by cgrad); "
                        "pass --model MODEL.json",
                        ckpt_path);
    }
    m->model = build_model(spec);
    if (!m->model) {
        cli_model_release(m);
        return cli_fail_lib(EXIT_FAILURE_OTHER, cmd);
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
