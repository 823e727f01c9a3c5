/* cgrad predict: a checkpoint's prediction for every sample, as CSV. */
#include "cli.h"

#include <math.h>
#include <string.h>

static const char *const CMD = "predict";

/* Class names a table may hold (CG_TABLE_MAX_CATEGORIES in the library). */
#define CLASS_NAMES_MAX 1000

static void usage(FILE *out)
{
    fputs("usage: cgrad predict CKPT --data SPEC [--out preds.csv] [options]\n"
          "\n"
          "Writes one CSV row per sample, in data order:\n"
          "  cross_entropy:    index,class,p0,p1,...   (softmax probabilities)\n"
          "  bce_with_logits:  index,class,p            (sigmoid probability, class p > 0.5;\n"
          "                                             class0,p0,class1,p1,... for several)\n"
          "  mse, l1:          index,value             (index,value0,value1,... for several)\n"
          "A model trained on text class labels writes the label as class and one\n"
          "probability column per label, named by it: index,class,setosa,versicolor,...\n"
          "\n"
          "  --data SPEC        inputs: a CSV with or without its target column (which is\n"
          "                     ignored), columns matched by header name, else by position\n"
          "  --out FILE         write there instead of standard output\n"
          "  --model MODEL.json the model, for weights files that do not carry it\n"
          "  --batch N          batch size (default 1024)\n"
          "  --threads N        threads to use (default: all cores)\n"
          "  -h, --help         this help\n"
          "\n"
          "Under mpirun each rank predicts its share of the data; rank 0 writes every\n"
          "row, in data order.\n",
          out);
}

typedef struct writer {
    FILE *f;
    cg_loss_kind loss;
    int64_t per_sample;
    const cg_table *names;   /* a table with class names, or NULL */
} writer;

static void write_header(const writer *w)
{
    fputs("index", w->f);
    if (w->names) {
        fputs(",class", w->f);
        for (int32_t c = 0; c < w->names->n_classes; c++) {
            fputc(',', w->f);
            cli_csv_field(w->f, w->names->classes[c]);
        }
    } else if (w->loss == CG_LOSS_CROSS_ENTROPY) {
        fputs(",class", w->f);
        for (int64_t c = 0; c < w->per_sample; c++) fprintf(w->f, ",p%lld", (long long)c);
    } else if (w->loss == CG_LOSS_BCE_WITH_LOGITS && w->per_sample == 1) {
        fputs(",class,p", w->f);
    } else if (w->loss == CG_LOSS_BCE_WITH_LOGITS) {
        for (int64_t c = 0; c < w->per_sample; c++)
            fprintf(w->f, ",class%lld,p%lld", (long long)c, (long long)c);
    } else if (w->per_sample == 1) {
        fputs(",value", w->f);
    } else {
        for (int64_t c = 0; c < w->per_sample; c++) fprintf(w->f, ",value%lld", (long long)c);
    }
    fputc('\n', w->f);
}

static void write_softmax_row(FILE *f, const float *logits, int64_t n)
{
    int64_t best = 0;
    for (int64_t c = 1; c < n; c++)
        if (logits[c] > logits[best]) best = c;
    double sum = 0;
    for (int64_t c = 0; c < n; c++) sum += exp((double)logits[c] - logits[best]);
    fprintf(f, ",%lld", (long long)best);
    for (int64_t c = 0; c < n; c++) fprintf(f, ",%.6g", exp((double)logits[c] - logits[best]) / sum);
}

/* The class with its name, then a probability per class name: softmax
 * over the logits, or 1 − p and p for a single sigmoid output. */
static void write_named_row(const writer *w, const float *row)
{
    const cg_table *t = w->names;
    double p[2];
    const double *probs = p;
    double softmax[CLASS_NAMES_MAX];
    int32_t best = 0, n = t->n_classes;
    if (w->loss == CG_LOSS_BCE_WITH_LOGITS) {
        p[1] = 1.0 / (1.0 + exp(-(double)row[0]));
        p[0] = 1.0 - p[1];
        best = p[1] > 0.5;
    } else {
        for (int32_t c = 1; c < n; c++)
            if (row[c] > row[best]) best = c;
        double sum = 0;
        for (int32_t c = 0; c < n; c++) sum += softmax[c] = exp((double)row[c] - row[best]);
        for (int32_t c = 0; c < n; c++) softmax[c] /= sum;
        probs = softmax;
    }
    fputc(',', w->f);
    cli_csv_field(w->f, t->classes[best]);
    for (int32_t c = 0; c < n; c++) fprintf(w->f, ",%.6g", probs[c]);
}

static cg_status write_rows(void *user, int64_t first, const cg_tensor *out)
{
    writer *w = user;
    int64_t n = out->shape[0];
    for (int64_t i = 0; i < n; i++) {
        const float *row = out->data + i * w->per_sample;
        fprintf(w->f, "%lld", (long long)(first + i));
        if (w->names) {
            write_named_row(w, row);
        } else if (w->loss == CG_LOSS_CROSS_ENTROPY) {
            write_softmax_row(w->f, row, w->per_sample);
        } else if (w->loss == CG_LOSS_BCE_WITH_LOGITS) {
            for (int64_t c = 0; c < w->per_sample; c++) {
                double p = 1.0 / (1.0 + exp(-(double)row[c]));
                fprintf(w->f, ",%d,%.6g", p > 0.5, p);
            }
        } else {
            for (int64_t c = 0; c < w->per_sample; c++) fprintf(w->f, ",%.9g", (double)row[c]);
        }
        fputc('\n', w->f);
    }
    return ferror(w->f) ? cg_set_error(CG_ERR_IO, "write error") : CG_OK;
}

/* The table's class names, when they name the model's outputs. */
static const cg_table *class_names(const cg_table *t, const writer *w)
{
    if (!t || !t->classes) return NULL;
    if (w->loss == CG_LOSS_CROSS_ENTROPY && t->n_classes == w->per_sample &&
        t->n_classes <= CLASS_NAMES_MAX)
        return t;
    if (w->loss == CG_LOSS_BCE_WITH_LOGITS && t->n_classes == 2 && w->per_sample == 1) return t;
    return NULL;
}

static int predict_to(FILE *f, const char *out_name, cg_model *model, const cg_dataset *d,
                      int64_t batch, cg_dist *dist, const cg_table *table)
{
    const cg_model_spec *spec = cg_model_get_spec(model);
    writer w = {.f = f, .loss = spec->loss, .per_sample = 1};
    for (int i = 0; i < spec->output_ndim; i++) w.per_sample *= spec->output[i];
    w.names = class_names(table, &w);
    write_header(&w);
    cg_status s = cg_predict_group(model, d, batch, dist, write_rows, &w);
    if (s == CG_ERR_IO) return cli_fail(EXIT_FAILURE_OTHER, CMD, "%s: write error", out_name);
    if (s != CG_OK) return cli_fail_lib(EXIT_USAGE, CMD);
    return EXIT_OK;
}

/* As the model's table says, when it was trained on one. */
static int load_data(cg_dataset *d, const char *spec, const cli_model *m)
{
    cli_columns columns = {.cmd = CMD, .table = m->table, .targets_optional = true, .vocab = m->vocab,
                           .vocab_size = m->vocab_size};
    if (cli_load_table(d, spec, cg_model_get_spec(m->model), &columns) != CG_OK)
        return cli_fail_lib(EXIT_USAGE, CMD);
    return EXIT_OK;
}

int cmd_predict(int argc, char **argv)
{
    cli_args a;
    cli_args_init(&a, CMD, argc, argv);
    cli_infer_options o = {0};
    const char *out = NULL;
    while (cli_args_next(&a)) {
        if (cli_flag(&a, "--help") || cli_flag(&a, "-h")) {
            usage(stdout);
            return EXIT_OK;
        }
        if (!cli_infer_option(&a, &o) && !cli_option(&a, "--out", &out)) cli_unknown(&a);
    }

    int code;
    cg_dist *dist = cli_group_start(CMD, &code);
    if (!dist) return code;
    cli_model m = {0};
    int64_t batch;
    cg_dataset d = {0};
    /* Under mpirun a file may be missing on one rank: all agree first. */
    code = cli_group_agree(dist, CMD, cli_infer_setup(&m, &batch, &a, &o));
    if (code == EXIT_OK) code = cli_group_agree(dist, CMD, load_data(&d, o.data, &m));
    /* Rank 0 writes every row; the others' stdout is /dev/null. */
    bool writes = out && cli_group_rank() == 0;
    FILE *f = writes ? fopen(out, "w") : stdout;
    if (code == EXIT_OK && !f) code = cli_fail(EXIT_USAGE, CMD, "--out: cannot write %s", out);
    code = cli_group_agree(dist, CMD, code);
    if (code == EXIT_OK) {
        cli_group_quiet(true); /* the library agrees from here: rank 0 reports */
        code = predict_to(f, out ? out : "standard output", m.model, &d, batch, dist,
                          m.table);
        if ((writes ? fclose(f) : fflush(f)) != 0 && code == EXIT_OK)
            code = cli_fail(EXIT_FAILURE_OTHER, CMD, "%s: write error",
                            out ? out : "standard output");
    } else if (writes && f) {
        fclose(f);
    }
    cg_dataset_free(&d);
    cli_model_release(&m);
    cli_group_end(dist);
    return code;
}
