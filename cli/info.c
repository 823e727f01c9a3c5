/* cgrad info: what a checkpoint (or model file) holds. */
#include "cli.h"
#include "plot.h"

#include <cjson/cJSON.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const CMD = "info";

static void usage(FILE *out)
{
    fputs("usage: cgrad info FILE [--dot]\n"
          "\n"
          "Summary of a checkpoint (.safetensors) or a model file (.json): the layers with\n"
          "their output shapes and parameter counts, the loss, optimizer and schedule, and\n"
          "for checkpoints the training state (epoch, step, learning rate, last metrics).\n"
          "Safetensors files without a cgrad model get a list of their tensors.\n"
          "\n"
          "  --dot        instead, the layer graph in Graphviz DOT (output shapes and\n"
          "               parameter counts on the nodes, branches and skip connections as\n"
          "               edges): cgrad info FILE --dot | dot -Tsvg -o graph.svg\n"
          "  -h, --help   this help\n",
          out);
}

/* 1234567 -> "1,234,567": parameter counts are read at a glance. */
static const char *grouped(int64_t v, char *buf, size_t size)
{
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%lld", (long long)v);
    size_t j = 0;
    for (int i = 0; i < n && j + 2 < size; i++) {
        if (i > 0 && (n - i) % 3 == 0 && digits[i - 1] != '-') buf[j++] = ',';
        buf[j++] = digits[i];
    }
    buf[j] = '\0';
    return buf;
}

/* Where a layer's inputs come from: "input", a layer's name, or "#<i>". */
static void inputs_text(const cg_model_spec *spec, const cg_layer_spec *l, char *buf, size_t size)
{
    buf[0] = '\0';
    for (int k = 0; k < l->n_inputs; k++) {
        int src = l->inputs[k];
        char one[CG_LAYER_NAME_MAX + 8];
        if (src == CG_LAYER_INPUT)
            snprintf(one, sizeof one, "input");
        else if (spec->layers[src].name[0])
            snprintf(one, sizeof one, "%s", spec->layers[src].name);
        else
            snprintf(one, sizeof one, "#%d", src);
        snprintf(buf + strlen(buf), size - strlen(buf), "%s%s", k ? ", " : "", one);
    }
}

static void print_schedule(const cg_model_spec *spec)
{
    const cg_schedule *s = &spec->schedule;
    const char *unit = s->per_step ? "step" : "epoch";
    printf("schedule: %s", cg_schedule_kind_name(s->kind));
    if (s->kind == CG_SCHED_STEP) printf(", x%g every %lld %s%s", (double)s->gamma, (long long)s->step_size,
                                       unit, s->step_size == 1 ? "" : "s");
    if (s->kind == CG_SCHED_EXPONENTIAL) printf(", x%g per %s", (double)s->gamma, unit);
    if (s->kind == CG_SCHED_PLATEAU) {
        const cg_plateau_config *p = &s->plateau;
        printf(", x%g once %s has not improved for %lld epochs (%s threshold %g, cooldown %lld, "
               "min lr %g)",
               p->factor, cg_monitor_name(p->monitor), (long long)p->patience + 1,
               p->threshold_abs ? "abs" : "rel", p->threshold, (long long)p->cooldown, p->min_lr);
    }
    if (s->kind == CG_SCHED_COSINE) {
        if (s->t_max > 0) printf(" over %lld %s%s", (long long)s->t_max, unit, s->t_max == 1 ? "" : "s");
        printf(" to %g", (double)s->eta_min);
    }
    if (s->warmup > 0)
        printf(", warm-up %lld %s%s from %gx", (long long)s->warmup, unit, s->warmup == 1 ? "" : "s",
               (double)s->warmup_start_factor);
    printf(" (per %s)\n", unit);
}

static bool is_graph(const cg_model_spec *spec)
{
    for (size_t i = 0; i < spec->n_layers; i++)
        if (spec->layers[i].name[0] || spec->layers[i].explicit_inputs) return true;
    return false;
}

/* Texts of one layer's row. */
typedef struct layer_row {
    char what[96], from[CG_LAYER_MAX_INPUTS * (CG_LAYER_NAME_MAX + 2)], out[64];
} layer_row;

static void row_of(const cg_model_spec *spec, size_t i, layer_row *r)
{
    const cg_layer_spec *l = &spec->layers[i];
    cg_layer_describe(l, r->what, sizeof r->what);
    inputs_text(spec, l, r->from, sizeof r->from);
    cg_dims_str(l->out_ndim, l->out_shape, r->out, sizeof r->out);
}

static int wider(int width, const char *text)
{
    int n = (int)strlen(text);
    return n > width ? n : width;
}

/* One row a layer, like Keras' model.summary(), columns as wide as their
 * longest entry; a model with names or explicit inputs (a graph) also gets
 * each layer's name and inputs. */
static void print_layers(const cg_model_spec *spec)
{
    bool graph = is_graph(spec);
    int w_name = 4, w_what = 28, w_from = 6, w_out = 16;
    layer_row r;
    for (size_t i = 0; i < spec->n_layers; i++) {
        row_of(spec, i, &r);
        w_name = wider(w_name, spec->layers[i].name);
        w_what = wider(w_what, r.what);
        w_from = wider(w_from, r.from);
        w_out = wider(w_out, r.out);
    }
    printf("%4s  ", "#");
    if (graph) printf("%-*s ", w_name, "name");
    printf("%-*s ", w_what, "layer");
    if (graph) printf("%-*s ", w_from, "inputs");
    printf("%-*s %12s\n", w_out, "output", "parameters");
    char num[32];
    for (size_t i = 0; i < spec->n_layers; i++) {
        const cg_layer_spec *l = &spec->layers[i];
        row_of(spec, i, &r);
        printf("%4zu  ", i);
        if (graph) printf("%-*s ", w_name, l->name[0] ? l->name : "-");
        printf("%-*s ", w_what, r.what);
        if (graph) printf("%-*s ", w_from, r.from);
        printf("%-*s %12s\n", w_out, r.out, grouped(l->n_params, num, sizeof num));
    }
}

static void print_model(const cg_model_spec *spec)
{
    char buf[128], num[32];
    if (spec->name[0]) printf("name: %s\n", spec->name);
    if (spec->description[0]) printf("description: %s\n", spec->description);
    cg_dims_str(spec->input_ndim, spec->input, buf, sizeof buf);
    printf("input: %s\n", buf);
    print_layers(spec);
    printf("parameters: %s trainable (%.2f MiB as float32)", grouped(spec->n_params, num, sizeof num),
           (double)spec->n_params * 4.0 / (1024.0 * 1024.0));
    if (spec->n_buffers > 0) printf(", %s in buffers", grouped(spec->n_buffers, num, sizeof num));
    printf("\n");
    printf("loss: %s\n", cg_loss_name(spec->loss));
    printf("training defaults: %lld epoch%s, batch %lld, seed %llu%s", (long long)spec->train.epochs,
           spec->train.epochs == 1 ? "" : "s",
           (long long)spec->train.batch, (unsigned long long)spec->train.seed,
           spec->train.shuffle ? "" : ", no shuffle");
    if (spec->train.clip_grad_norm > 0) printf(", clip grad norm %g", (double)spec->train.clip_grad_norm);
    const cg_early_stop_config *es = &spec->train.early_stop;
    if (es->patience > 0)
        printf(", early stop after %lld epochs without %s improving%s", (long long)es->patience,
               cg_monitor_name(es->monitor), es->restore_best ? " (restoring the best)" : "");
    printf("\n");
    print_schedule(spec);
    const cg_augment *a = &spec->augment;
    if (a->crop_padding > 0 || a->hflip) {
        printf("augment:");
        if (a->crop_padding > 0) printf(" random crop (padding %lld)", (long long)a->crop_padding);
        if (a->hflip) printf("%s horizontal flip", a->crop_padding > 0 ? "," : "");
        printf(" (training batches only)\n");
    }
    if (spec->data.unknown_ignore)
        printf("data: a category not seen in training reads as none of them\n");
}

static void print_metric(const char *name, double loss, double acc)
{
    if (!isfinite(loss)) return;
    printf(" %s loss %.4f", name, loss);
    if (isfinite(acc)) printf(" acc %.2f%%", 100.0 * acc);
}

static void print_state(const cg_checkpoint *ck)
{
    const cg_train_state *st = &ck->state;
    printf("training: %lld epoch%s done", (long long)st->epoch, st->epoch == 1 ? "" : "s");
    if (ck->spec) printf(" of %lld", (long long)ck->spec->train.epochs);
    if (st->batch_in_epoch > 0)
        printf(" + %lld batch%s of epoch %lld (interrupted)", (long long)st->batch_in_epoch,
               st->batch_in_epoch == 1 ? "" : "es", (long long)st->epoch + 1);
    printf(", %lld step%s, lr %g\n", (long long)st->step, st->step == 1 ? "" : "s", (double)st->lr);
    if (isfinite(st->train_loss)) {
        printf("last epoch:");
        print_metric("train", st->train_loss, st->train_accuracy);
        print_metric("val", st->val_loss, st->val_accuracy);
        printf("\n");
    }
}

static const char *dtype_name(cg_dtype d) { return d == CG_DTYPE_F32 ? "F32" : "I64"; }

static void print_tensors(const cg_st_file *f, bool list)
{
    size_t n = cg_st_count(f), optim = 0, params = 0;
    for (size_t i = 0; i < n; i++) {
        const cg_st_entry *e = cg_st_at(f, i);
        if (strncmp(e->name, "optim.", 6) == 0)
            optim++;
        else
            params++;
        if (list) {
            char shape[128];
            cg_dims_str(e->ndim, e->shape, shape, sizeof shape);
            printf("  %-40s %s %s\n", e->name, dtype_name(e->dtype), shape);
        }
    }
    printf("tensors: %zu (%zu model, %zu optimizer state)\n", n, params, optim);
}

/* How the model reads CSV tables, when it was trained on one. */
static void print_table(const cg_st_file *f)
{
    cg_table *t;
    const char *json = cg_st_meta(f, "table");
    if (!json) return;
    if (cg_table_from_json(json, &t) != CG_OK) {
        printf("table: unreadable (%s)\n", cg_last_error());
        return;
    }
    int64_t categorical = 0;
    for (int64_t i = 0; i < t->n_features; i++) categorical += t->features[i].n_categories > 0;
    printf("table: %lld columns%s; %lld feature%s (%lld categorical, one-hot), ",
           (long long)t->n_columns, t->names ? " with a header" : "", (long long)t->n_features,
           t->n_features == 1 ? "" : "s", (long long)categorical);
    if (t->target < 0)
        printf("no target");
    else if (t->names)
        printf("target '%s'", t->names[t->target]);
    else
        printf("target column %lld", (long long)t->target + 1);
    for (int32_t c = 0; c < t->n_classes; c++)
        printf("%s'%s'", c ? ", " : ": classes ", t->classes[c]);
    printf("\n");
    cg_table_free(t);
}

static int info_checkpoint(const char *path)
{
    cg_checkpoint *ck;
    if (cg_checkpoint_load(path, &ck) != CG_OK) return cli_fail_lib(EXIT_USAGE, CMD);
    const char *version = cg_st_meta(ck->file, "cgrad_format_version");
    printf("checkpoint: %s", path);
    if (version) printf(" (cgrad checkpoint format %s)", version);
    printf("\n");
    if (ck->spec) {
        print_model(ck->spec);
        const char *opt = cg_st_meta(ck->file, "optimizer");
        if (opt) printf("optimizer: %s\n", opt);
    } else {
        printf("no cgrad model description in the metadata; tensors:\n");
    }
    if (ck->has_state) print_state(ck);
    print_table(ck->file);
    print_tensors(ck->file, ck->spec == NULL);
    cg_checkpoint_free(ck);
    return EXIT_OK;
}

static int info_model_file(const char *path)
{
    cg_model_spec *spec;
    if (cg_model_spec_load(path, &spec) != CG_OK) return cli_fail_lib(EXIT_USAGE, CMD);
    printf("model file: %s\n", path);
    print_model(spec);
    /* The optimizer object of the canonical JSON: every value resolved. */
    char *json = cg_model_spec_to_json(spec);
    cJSON *root = json ? cJSON_Parse(json) : NULL;
    char *opt = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(root, "optimizer"));
    if (opt) printf("optimizer: %s\n", opt);
    free(opt);
    cJSON_Delete(root);
    free(json);
    cg_model_spec_free(spec);
    return EXIT_OK;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

int cmd_info(int argc, char **argv)
{
    cli_args a;
    cli_args_init(&a, CMD, argc, argv);
    bool dot = false;
    while (cli_args_next(&a)) {
        if (cli_flag(&a, "--help") || cli_flag(&a, "-h")) {
            usage(stdout);
            return EXIT_OK;
        }
        if (cli_flag(&a, "--dot"))
            dot = true;
        else
            cli_unknown(&a);
    }
    if (a.failed) return EXIT_USAGE;
    if (a.n_positional != 1) return cli_fail(EXIT_USAGE, CMD, "expected one file; see --help");
    const char *path = a.positional[0];
    if (dot) return cli_print_dot(CMD, path, ends_with(path, ".json"));
    return ends_with(path, ".json") ? info_model_file(path) : info_checkpoint(path);
}
