/* cgrad explain: which parts of an input a prediction rests on — the
 * gradient of the prediction with respect to the input (saliency,
 * gradient × input, integrated gradients, SmoothGrad), as heat maps over
 * images or as per-feature tables and bar charts. */
#include "cli.h"
#include "explain.h"
#include "plot.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const CMD = "explain";

enum { MAX_SAMPLES = 64 };

static void usage(FILE *out)
{
    fputs("usage: cgrad explain CKPT --data SPEC --index I[,J...] -o OUT [options]\n"
          "\n"
          "Explains a checkpoint's predictions by gradients of the prediction with respect\n"
          "to the input (evaluation mode; the weights are not changed).\n"
          "\n"
          "  --data SPEC        the data the samples come from (fashion-mnist:test, csv:PATH,\n"
          "                     idx:IMAGES,LABELS, ...)\n"
          "  --index I[,J...]   the samples to explain, 0-based, at most 64\n"
          "  -o, --out FILE     .png, .svg or .pdf: for image models ([C, H, W] inputs) a row\n"
          "                     per sample with the input, the attribution as a heat map and\n"
          "                     the heat map over the input, true and predicted class in the\n"
          "                     caption; .csv or .json: per-feature attributions (any model;\n"
          "                     feature names from a CSV data file's header row)\n"
          "  --bars FILE.png    also a bar chart of each sample's largest attributions\n"
          "  --top K            features in the bar chart (default 15)\n"
          "  --method M         saliency      |d f / d x| (default)\n"
          "                     grad-x-input  x * d f / d x\n"
          "                     integrated-gradients  (x - baseline) * the mean gradient on\n"
          "                                   the straight path from the baseline to x; prints\n"
          "                                   the completeness check: the attributions sum to\n"
          "                                   f(x) - f(baseline) up to an error that falls as\n"
          "                                   --steps grows\n"
          "                     smoothgrad    mean |d f / d x| over noisy copies of x\n"
          "  --target T         the output f explained: predicted (the predicted class's\n"
          "                     logit, default), label (the true class's), a class index,\n"
          "                     or loss (the sample's loss against its label / target)\n"
          "  --steps N          integrated gradients: path steps (default 64)\n"
          "  --baseline B       integrated gradients: zeros (default), mean (the mean of the\n"
          "                     --data samples), mean:SPEC (of another data set, e.g.\n"
          "                     fashion-mnist:train), or FILE (input-size numbers, separated\n"
          "                     by commas or white space)\n"
          "  --samples N        smoothgrad: noisy copies (default 25)\n"
          "  --noise S          smoothgrad: standard deviation of the noise (default 0.15)\n"
          "  --seed N           smoothgrad: seed of the noise (default 1)\n"
          "  --classes FILE     class names, one a line (default: Fashion-MNIST's names for\n"
          "                     fashion-mnist: data, else the class indices)\n"
          "  --model MODEL.json the model, for weights files that do not carry it\n"
          "  --threads N        threads to use (default: all cores)\n"
          "  -h, --help         this help\n"
          "\n"
          "Prints one line per sample (label, prediction, confidence, f and the sum of the\n"
          "attributions). Exit status: 0 done, 1 failure while working, 2 bad usage or\n"
          "bad input (an index or class out of range, a picture asked of data that are\n"
          "not images, an unwritable OUT).\n",
          out);
}

typedef struct explain_options {
    const char *data, *model_path, *index_text, *method_text, *target_text, *steps_text,
        *baseline_text, *samples_text, *noise_text, *seed_text, *out, *bars, *top_text, *classes,
        *threads;
} explain_options;

typedef enum { OUT_IMAGE, OUT_CSV, OUT_JSON } out_kind;

/* Everything a run works with, released by release(). */
typedef struct run {
    explain_options o;
    out_kind kind;
    cg_attr_options attr;
    int64_t top;
    int64_t indices[MAX_SAMPLES];
    size_t n;
    cli_model m;
    cg_dataset data;
    int64_t d; /* input size */
    float *x, *a, *baseline;
    int32_t *labels; /* n, or NULL */
    float *targets; /* n * output size, or NULL */
    explain_sample *samples;
    cli_confusion names; /* class names only */
} run;

static bool parse_option(cli_args *a, explain_options *o)
{
    return cli_option(a, "--data", &o->data) || cli_option(a, "--model", &o->model_path) ||
           cli_option(a, "--threads", &o->threads) || cli_option(a, "--index", &o->index_text) ||
           cli_option(a, "--method", &o->method_text) ||
           cli_option(a, "--target", &o->target_text) || cli_option(a, "--steps", &o->steps_text) ||
           cli_option(a, "--baseline", &o->baseline_text) ||
           cli_option(a, "--samples", &o->samples_text) ||
           cli_option(a, "--noise", &o->noise_text) || cli_option(a, "--seed", &o->seed_text) ||
           cli_option(a, "-o", &o->out) || cli_option(a, "--out", &o->out) ||
           cli_option(a, "--bars", &o->bars) || cli_option(a, "--top", &o->top_text) ||
           cli_option(a, "--classes", &o->classes);
}

static bool ends_with(const char *s, const char *ext)
{
    size_t n = strlen(s), k = strlen(ext);
    return n > k && strcasecmp(s + n - k, ext) == 0;
}

static int check_output(run *r)
{
    const char *out = r->o.out;
    if (ends_with(out, ".csv") || ends_with(out, ".json")) {
        r->kind = ends_with(out, ".csv") ? OUT_CSV : OUT_JSON;
        if (explain_check_writable(out) != CG_OK)
            return cli_fail(EXIT_USAGE, CMD, "-o: %s", cg_last_error());
        return EXIT_OK;
    }
    if (!ends_with(out, ".png") && !ends_with(out, ".svg") && !ends_with(out, ".pdf"))
        return cli_fail(EXIT_USAGE, CMD,
                        "-o %s: the name must end in .png, .svg or .pdf (a heat "
                        "map) or .csv or .json (a table)",
                        out);
    r->kind = OUT_IMAGE;
    if (!cli_plot_available())
        return cli_fail(EXIT_FAILURE_OTHER, CMD, "-o: %s", cli_plot_missing_message);
    if (cli_plot_check_output(out) != CG_OK)
        return cli_fail(EXIT_USAGE, CMD, "-o: %s", cg_last_error());
    return EXIT_OK;
}

static int check_bars(const run *r)
{
    if (!r->o.bars)
        return r->o.top_text ? cli_fail(EXIT_USAGE, CMD, "--top goes with --bars") : EXIT_OK;
    if (!cli_plot_available())
        return cli_fail(EXIT_FAILURE_OTHER, CMD, "--bars: %s", cli_plot_missing_message);
    if (cli_plot_check_output(r->o.bars) != CG_OK)
        return cli_fail(EXIT_USAGE, CMD, "--bars: %s", cg_last_error());
    return EXIT_OK;
}

static bool parse_indices(run *r)
{
    const char *p = r->o.index_text;
    while (*p) {
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno || v < 0 || (*end && *end != ','))
            return cli_fail(EXIT_USAGE, CMD,
                            "--index: expected indices >= 0 separated by commas, "
                            "got \"%s\"",
                            r->o.index_text),
                   false;
        if (r->n == MAX_SAMPLES)
            return cli_fail(EXIT_USAGE, CMD, "--index: at most %d samples at a time", MAX_SAMPLES),
                   false;
        r->indices[r->n++] = v;
        p = *end ? end + 1 : end;
    }
    if (r->n == 0) return cli_fail(EXIT_USAGE, CMD, "--index: no index given"), false;
    return true;
}

/* The numbers of the method's own options, and which go with which method. */
static bool parse_method_numbers(run *r)
{
    const explain_options *o = &r->o;
    cg_attr_method m = r->attr.method;
    if ((o->steps_text || o->baseline_text) && m != CG_ATTR_INTEGRATED_GRADIENTS)
        return cli_fail(EXIT_USAGE, CMD,
                        "--steps and --baseline go with --method "
                        "integrated-gradients"),
               false;
    if ((o->samples_text || o->noise_text || o->seed_text) && m != CG_ATTR_SMOOTHGRAD)
        return cli_fail(EXIT_USAGE, CMD,
                        "--samples, --noise and --seed go with --method "
                        "smoothgrad"),
               false;
    int64_t steps = 64, samples = 25, seed = 1;
    double noise = 0.15;
    if ((o->steps_text && !cli_parse_int(CMD, "--steps", o->steps_text, 1, 100000, &steps)) ||
        (o->samples_text &&
         !cli_parse_int(CMD, "--samples", o->samples_text, 1, 100000, &samples)) ||
        (o->seed_text && !cli_parse_int(CMD, "--seed", o->seed_text, 0, INT64_MAX, &seed)) ||
        (o->noise_text && !cli_parse_float(CMD, "--noise", o->noise_text, 0, 1e6, &noise)))
        return false;
    r->attr.steps = steps;
    r->attr.samples = samples;
    r->attr.seed = (uint64_t)seed;
    r->attr.noise = (float)noise;
    return true;
}

static int parse_settings(run *r)
{
    const explain_options *o = &r->o;
    if (!o->out) return cli_fail(EXIT_USAGE, CMD, "-o OUT is required; see --help");
    if (!o->index_text)
        return cli_fail(EXIT_USAGE, CMD, "--index I[,J...] is required; see --help");
    if (!o->data) return cli_fail(EXIT_USAGE, CMD, "--data SPEC is required; see --help");
    if (o->method_text && !cg_attr_method_from_name(o->method_text, &r->attr.method))
        return cli_fail(EXIT_USAGE, CMD,
                        "--method: expected saliency, grad-x-input, "
                        "integrated-gradients or smoothgrad, got \"%s\"",
                        o->method_text);
    r->top = 15;
    if (!parse_indices(r) || !parse_method_numbers(r) ||
        (o->top_text && !cli_parse_int(CMD, "--top", o->top_text, 1, 1000, &r->top)))
        return EXIT_USAGE;
    int code = check_output(r);
    return code == EXIT_OK ? check_bars(r) : code;
}

/* ---- after the model and data are loaded ---- */

static int64_t output_size(const cg_model_spec *spec)
{
    int64_t n = 1;
    for (int i = 0; i < spec->output_ndim; i++) n *= spec->output[i];
    return n;
}

static int check_samples(run *r)
{
    const cg_model_spec *spec = cg_model_get_spec(r->m.model);
    if (r->kind == OUT_IMAGE && spec->input_ndim != 3)
        return cli_fail(EXIT_USAGE, CMD,
                        "-o %s: the model's inputs are not images (its input "
                        "shape has %d dimension%s, an image has 3: [channels, height, width]); "
                        "write the attributions as .csv or .json, and a bar chart with --bars",
                        r->o.out, spec->input_ndim, spec->input_ndim == 1 ? "" : "s");
    for (size_t i = 0; i < r->n; i++)
        if (r->indices[i] >= r->data.count)
            return cli_fail(EXIT_USAGE, CMD,
                            "--index %lld is out of range: %s has %lld samples "
                            "(0..%lld)",
                            (long long)r->indices[i], r->o.data, (long long)r->data.count,
                            (long long)r->data.count - 1);
    return EXIT_OK;
}

static int gather(run *r)
{
    const cg_model_spec *spec = cg_model_get_spec(r->m.model);
    r->d = r->data.sample_size;
    r->x = malloc(r->n * (size_t)r->d * sizeof *r->x);
    r->a = malloc(r->n * (size_t)r->d * sizeof *r->a);
    r->samples = calloc(r->n, sizeof *r->samples);
    if (r->data.labels && cg_dataset_labels_per_sample(&r->data) == 1)
        r->labels = malloc(r->n * sizeof *r->labels);
    if (r->data.y) r->targets = malloc(r->n * (size_t)output_size(spec) * sizeof *r->targets);
    if (!r->x || !r->a || !r->samples ||
        (r->data.labels && cg_dataset_labels_per_sample(&r->data) == 1 && !r->labels) ||
        (r->data.y && !r->targets))
        return cli_fail(EXIT_FAILURE_OTHER, CMD, "out of memory");
    if (cg_dataset_batch(&r->data, r->indices, (int64_t)r->n, r->x, r->labels, r->targets) != CG_OK)
        return cli_fail_lib(EXIT_USAGE, CMD);
    return EXIT_OK;
}

/* Numbers from a file, separated by commas or white space. */
static int baseline_from_file(run *r, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return cli_fail(EXIT_USAGE, CMD, "--baseline: cannot read %s: %s", path, strerror(errno));
    int64_t n = 0;
    char word[64];
    int code = EXIT_OK;
    while (code == EXIT_OK && fscanf(f, " %63[^, \t\r\n]%*[, \t\r\n]", word) == 1) {
        char *end;
        float v = strtof(word, &end);
        if (*end || !isfinite(v))
            code = cli_fail(EXIT_USAGE, CMD,
                            "--baseline: %s: value %lld is not a finite number: "
                            "\"%s\"",
                            path, (long long)n + 1, word);
        else if (n < r->d)
            r->baseline[n] = v;
        n++;
    }
    fclose(f);
    if (code == EXIT_OK && n != r->d)
        code = cli_fail(EXIT_USAGE, CMD,
                        "--baseline: %s holds %lld numbers; the model's input "
                        "has %lld",
                        path, (long long)n, (long long)r->d);
    return code;
}

static int baseline_mean(run *r, const char *spec_text)
{
    cg_dataset other = {0};
    const cg_dataset *from = &r->data;
    if (spec_text) {
        if (cli_load_data(&other, CMD, spec_text, cg_model_get_spec(r->m.model), r->m.vocab,
                          r->m.vocab_size) != CG_OK)
            return cli_fail(EXIT_USAGE, CMD, "--baseline: %s", cg_last_error());
        if (other.sample_size != r->d) {
            cg_dataset_free(&other);
            return cli_fail(EXIT_USAGE, CMD,
                            "--baseline: %s has samples of %lld values; the "
                            "model's input has %lld",
                            spec_text, (long long)other.sample_size, (long long)r->d);
        }
        from = &other;
    }
    for (int64_t j = 0; j < r->d; j++) {
        double sum = 0;
        for (int64_t i = 0; i < from->count; i++) sum += from->x[i * r->d + j];
        r->baseline[j] = (float)(sum / (double)from->count);
    }
    cg_dataset_free(&other);
    return EXIT_OK;
}

static int load_baseline(run *r)
{
    const char *b = r->o.baseline_text;
    if (r->attr.method != CG_ATTR_INTEGRATED_GRADIENTS || !b || strcmp(b, "zeros") == 0)
        return EXIT_OK;
    r->baseline = malloc((size_t)r->d * sizeof *r->baseline);
    if (!r->baseline) return cli_fail(EXIT_FAILURE_OTHER, CMD, "out of memory");
    r->attr.baseline = r->baseline;
    if (strcmp(b, "mean") == 0) return baseline_mean(r, NULL);
    if (strncmp(b, "mean:", 5) == 0) return baseline_mean(r, b + 5);
    return baseline_from_file(r, b);
}

/* Predicted class and its softmax probability, from one forward pass. */
static int predict(run *r)
{
    const cg_model_spec *spec = cg_model_get_spec(r->m.model);
    cg_ctx *ctx = cg_ctx_create(0);
    if (!ctx) return cli_fail_lib(EXIT_FAILURE_OTHER, CMD);
    cg_ctx_set_training(ctx, false);
    cg_ctx_set_grad_enabled(ctx, false);
    int64_t shape[CG_MAX_DIMS] = {(int64_t)r->n};
    memcpy(shape + 1, spec->input, (size_t)spec->input_ndim * sizeof *shape);
    cg_model_reset_state(r->m.model);
    cg_tensor *out =
        cg_model_forward(ctx, r->m.model, cg_tensor_from(ctx, spec->input_ndim + 1, shape, r->x));
    cg_model_reset_state(r->m.model);
    int code = out ? EXIT_OK : cli_fail_lib(EXIT_USAGE, CMD);
    /* A sequence output [T, C] is read at its last position, the one a
     * language model predicts the next symbol from. */
    int64_t per = output_size(spec), classes = spec->output[spec->output_ndim - 1];
    for (size_t i = 0; out && i < r->n; i++) {
        const float *row = out->data + (int64_t)i * per + per - classes;
        int64_t best = 0;
        for (int64_t c = 1; c < classes; c++)
            if (row[c] > row[best]) best = c;
        double sum = 0;
        for (int64_t c = 0; c < classes; c++) sum += exp((double)row[c] - row[best]);
        r->samples[i].predicted = best;
        r->samples[i].confidence = spec->loss == CG_LOSS_CROSS_ENTROPY ? 1.0 / sum : NAN;
    }
    cg_ctx_destroy(ctx);
    return code;
}

/* The target of sample i from --target. */
static int sample_target(run *r, size_t i, cg_grad_target *t)
{
    const char *text = r->o.target_text ? r->o.target_text : "predicted";
    const cg_model_spec *spec = cg_model_get_spec(r->m.model);
    explain_sample *e = &r->samples[i];
    *t = (cg_grad_target){.kind = CG_GRAD_CLASS};
    if (strcmp(text, "predicted") == 0) {
        t->class_index = e->predicted;
    } else if (strcmp(text, "label") == 0) {
        if (e->label < 0)
            return cli_fail(EXIT_USAGE, CMD, "--target label: %s has no class labels", r->o.data);
        t->class_index = e->label;
    } else if (strcmp(text, "loss") == 0) {
        if (!r->labels && !r->targets)
            return cli_fail(EXIT_USAGE, CMD, "--target loss: %s has no labels or targets",
                            r->o.data);
        *t = (cg_grad_target){.kind = CG_GRAD_LOSS,
                              .labels = r->labels ? r->labels + i : NULL,
                              .targets =
                                  r->targets ? r->targets + (int64_t)i * output_size(spec) : NULL};
        snprintf(e->target_text, sizeof e->target_text, "loss");
        return EXIT_OK;
    } else if (!cli_parse_int(CMD, "--target", text, 0, INT32_MAX, &t->class_index)) {
        fprintf(stderr, "  (--target takes predicted, label, loss or a class index)\n");
        return EXIT_USAGE;
    }
    snprintf(e->target_text, sizeof e->target_text, "%lld", (long long)t->class_index);
    return EXIT_OK;
}

static const char *class_name(const run *r, int64_t c)
{
    static char buf[32];
    if (r->names.names && c >= 0 && c < r->names.n_classes) return r->names.names[c];
    snprintf(buf, sizeof buf, "%lld", (long long)c);
    return buf;
}

static int attribute_all(run *r)
{
    for (size_t i = 0; i < r->n; i++) {
        explain_sample *e = &r->samples[i];
        e->index = r->indices[i];
        e->label = r->labels ? r->labels[i] : -1;
        if (e->label >= 0) snprintf(e->label_text, sizeof e->label_text, "%d", e->label);
        e->x = r->x + (int64_t)i * r->d;
        e->attr = r->a + (int64_t)i * r->d;
        int code = sample_target(r, i, &r->attr.target);
        if (code != EXIT_OK) return code;
        if (cg_model_attribute(r->m.model, e->x, 1, &r->attr, r->a + (int64_t)i * r->d, &e->info) !=
            CG_OK)
            return cli_fail_lib(cg_last_status() == CG_ERR_NOMEM ? EXIT_FAILURE_OTHER : EXIT_USAGE,
                                CMD);
    }
    return EXIT_OK;
}

static void report(const run *r)
{
    for (size_t i = 0; i < r->n; i++) {
        const explain_sample *e = &r->samples[i];
        printf("sample %lld:", (long long)e->index);
        if (e->label >= 0) printf(" label %s,", class_name(r, e->label));
        printf(" predicted %s", class_name(r, e->predicted));
        if (isfinite(e->confidence)) printf(" (%.1f%%)", 100 * e->confidence);
        printf(", target %s, f(x) %.6g",
               strcmp(e->target_text, "loss") == 0 ? "loss" : class_name(r, atoll(e->target_text)),
               e->info.f_input);
        /* Magnitudes (saliency, SmoothGrad) have no meaningful sum. */
        if (r->attr.method == CG_ATTR_GRAD_X_INPUT ||
            r->attr.method == CG_ATTR_INTEGRATED_GRADIENTS)
            printf(", sum of attributions %.6g", e->info.attribution_sum);
        printf("\n");
        if (r->attr.method != CG_ATTR_INTEGRATED_GRADIENTS) continue;
        double diff = e->info.f_input - e->info.f_baseline;
        double err = fabs(e->info.attribution_sum - diff);
        printf("  completeness (%lld steps): sum %.6g vs f(x) - f(baseline) = %.6g - %.6g = %.6g; "
               "error %.3g (%.3g%% of |f(x) - f(baseline)|)\n",
               (long long)r->attr.steps, e->info.attribution_sum, e->info.f_input,
               e->info.f_baseline, diff, err, fabs(diff) > 0 ? 100 * err / fabs(diff) : 0.0);
    }
}

static void caption(const run *r, const explain_sample *e, char *buf, size_t size)
{
    int k = snprintf(buf, size, "#%lld", (long long)e->index);
    if (e->label >= 0)
        k += snprintf(buf + k, size - (size_t)k, "  true: %s", class_name(r, e->label));
    k += snprintf(buf + k, size - (size_t)k, "  predicted: %s", class_name(r, e->predicted));
    if (isfinite(e->confidence))
        k += snprintf(buf + k, size - (size_t)k, " (%.0f%%)", 100 * e->confidence);
    if (e->label >= 0 && e->label != e->predicted)
        k += snprintf(buf + k, size - (size_t)k, "  MISCLASSIFIED");
    if (strcmp(e->target_text, "loss") == 0 || atoll(e->target_text) != e->predicted)
        snprintf(buf + k, size - (size_t)k, "  explaining: %s",
                 strcmp(e->target_text, "loss") == 0 ? "loss"
                                                     : class_name(r, atoll(e->target_text)));
}

static void title(const run *r, char *buf, size_t size)
{
    int k = snprintf(buf, size, "%s", cg_attr_method_name(r->attr.method));
    if (r->attr.method == CG_ATTR_INTEGRATED_GRADIENTS)
        k += snprintf(buf + k, size - (size_t)k, " (%lld steps, baseline %s)",
                      (long long)r->attr.steps, r->o.baseline_text ? r->o.baseline_text : "zeros");
    if (r->attr.method == CG_ATTR_SMOOTHGRAD)
        k += snprintf(buf + k, size - (size_t)k, " (%lld samples, noise %g)",
                      (long long)r->attr.samples, (double)r->attr.noise);
    snprintf(buf + k, size - (size_t)k, " on %s", r->o.data);
}

static int write_image(const run *r)
{
    const cg_model_spec *spec = cg_model_get_spec(r->m.model);
    cli_saliency_panel panels[MAX_SAMPLES];
    for (size_t i = 0; i < r->n; i++) {
        panels[i] =
            (cli_saliency_panel){.input = r->samples[i].x,
                                 .attribution = r->samples[i].attr,
                                 .channels = (int)spec->input[0],
                                 .height = (int)spec->input[1],
                                 .width = (int)spec->input[2],
                                 .signed_values = r->attr.method == CG_ATTR_GRAD_X_INPUT ||
                                                  r->attr.method == CG_ATTR_INTEGRATED_GRADIENTS};
        caption(r, &r->samples[i], panels[i].caption, sizeof panels[i].caption);
    }
    char t[256];
    title(r, t, sizeof t);
    if (cli_plot_saliency(r->o.out, panels, r->n, t) != CG_OK)
        return cli_fail(EXIT_FAILURE_OTHER, CMD, "-o: %s", cg_last_error());
    return EXIT_OK;
}

static int write_bars(const run *r, const explain_names *names)
{
    cli_bar_panel panels[MAX_SAMPLES];
    for (size_t i = 0; i < r->n; i++) {
        panels[i] = (cli_bar_panel){.attribution = r->samples[i].attr,
                                    .names = (const char *const *)names->names,
                                    .n_features = r->d};
        caption(r, &r->samples[i], panels[i].caption, sizeof panels[i].caption);
    }
    char t[256];
    title(r, t, sizeof t);
    if (cli_plot_attribution_bars(r->o.bars, panels, r->n, (int)r->top, t) != CG_OK)
        return cli_fail(EXIT_FAILURE_OTHER, CMD, "--bars: %s", cg_last_error());
    return EXIT_OK;
}

static int write_outputs(const run *r)
{
    if (r->kind == OUT_IMAGE && !r->o.bars) return write_image(r);
    explain_names names;
    if (explain_names_load(&names, r->o.data, cg_model_get_spec(r->m.model)) != CG_OK)
        return cli_fail_lib(EXIT_FAILURE_OTHER, CMD);
    int code = r->kind == OUT_IMAGE ? write_image(r) : EXIT_OK;
    if (code == EXIT_OK && r->kind != OUT_IMAGE &&
        explain_write_table(r->o.out, r->kind == OUT_JSON, r->samples, r->n, &names, r->d,
                            cg_attr_method_name(r->attr.method)) != CG_OK)
        code = cli_fail(EXIT_FAILURE_OTHER, CMD, "-o: %s", cg_last_error());
    if (code == EXIT_OK && r->o.bars) code = write_bars(r, &names);
    explain_names_free(&names);
    return code;
}

static int load_class_names(run *r)
{
    const cg_model_spec *spec = cg_model_get_spec(r->m.model);
    if (!cg_loss_is_classification(spec->loss)) return EXIT_OK;
    r->names.n_classes = (int)cg_model_spec_classes(spec);
    r->names.names = calloc((size_t)r->names.n_classes, sizeof *r->names.names);
    if (!r->names.names) return cli_fail(EXIT_FAILURE_OTHER, CMD, "out of memory");
    if (cli_class_names(&r->names, r->o.data, r->o.classes) != CG_OK)
        return cli_fail_lib(EXIT_USAGE, CMD);
    return EXIT_OK;
}

static int work(run *r, const cli_args *a)
{
    int code = cli_model_load(&r->m, CMD, a->positional[0], r->o.model_path);
    if (code != EXIT_OK) return code;
    if (cli_load_data(&r->data, CMD, r->o.data, cg_model_get_spec(r->m.model), r->m.vocab,
                      r->m.vocab_size) != CG_OK)
        return cli_fail_lib(cg_last_status() == CG_ERR_NOMEM ? EXIT_FAILURE_OTHER : EXIT_USAGE,
                            CMD);
    if ((code = check_samples(r)) != EXIT_OK || (code = load_class_names(r)) != EXIT_OK ||
        (code = gather(r)) != EXIT_OK || (code = load_baseline(r)) != EXIT_OK ||
        (code = predict(r)) != EXIT_OK || (code = attribute_all(r)) != EXIT_OK)
        return code;
    report(r);
    return write_outputs(r);
}

static void release(run *r)
{
    free(r->x);
    free(r->a);
    free(r->baseline);
    free(r->labels);
    free(r->targets);
    free(r->samples);
    free(r->names.names);
    cg_dataset_free(&r->data);
    if (r->m.model || r->m.ck || r->m.spec) cli_model_release(&r->m);
}

int cmd_explain(int argc, char **argv)
{
    cli_args a;
    cli_args_init(&a, CMD, argc, argv);
    run *r = calloc(1, sizeof *r);
    if (!r) return cli_fail(EXIT_FAILURE_OTHER, CMD, "out of memory");
    while (cli_args_next(&a)) {
        if (cli_flag(&a, "--help") || cli_flag(&a, "-h")) {
            usage(stdout);
            free(r);
            return EXIT_OK;
        }
        if (!parse_option(&a, &r->o)) cli_unknown(&a);
    }
    int code = a.failed ? EXIT_USAGE : EXIT_OK;
    if (code == EXIT_OK && a.n_positional != 1)
        code = cli_fail(EXIT_USAGE, CMD, "expected one checkpoint; see --help");
    if (code == EXIT_OK) code = parse_settings(r);
    if (code == EXIT_OK && !cli_set_threads(CMD, r->o.threads)) code = EXIT_USAGE;
    if (code == EXIT_OK) code = work(r, &a);
    release(r);
    free(r);
    return code;
}
