/* cgrad eval: loss and accuracy of a checkpoint on data. */
#include "cli.h"
#include "plot.h"

#include <math.h>
#include <string.h>

static const char *const CMD = "eval";

static void usage(FILE *out)
{
    fputs("usage: cgrad eval CKPT --data SPEC [--json] [--confusion] [--plot OUT.png] [options]\n"
          "\n"
          "Loss and accuracy of a checkpoint's model on data (evaluation mode: no dropout).\n"
          "\n"
          "  --data SPEC        data to evaluate on: fashion-mnist:test, idx:IMAGES,LABELS,\n"
          "                     csv:PATH[,header=yes|no] (read as the training table was:\n"
          "                     columns by header name, class names and categories checked)\n"
          "  --json             print one JSON object {\"loss\":..,\"accuracy\":..,\"samples\":..}\n"
          "                     (accuracy is null for regression losses; mse and l1 add\n"
          "                     \"mae\", \"rmse\" and \"r2\"; --top-k adds \"top_k\" and\n"
          "                     \"top_k_accuracy\")\n"
          "  --top-k K          also the top-K accuracy (cross_entropy; 2 <= K <= classes)\n"
          "  --confusion        also the confusion matrix (rows: true class, columns:\n"
          "                     predicted) and each class's precision, recall and F1\n"
          "                     (cross_entropy; with --json as \"confusion\")\n"
          "  --plot FILE        draw the confusion matrix as a heat map with counts in the\n"
          "                     cells: .png, .svg or .pdf\n"
          "  --size WxH         the heat map's size (default 900x820)\n"
          "  --per-sample FILE  a CSV row per sample: index,label,predicted,confidence,\n"
          "                     loss,correct for classifiers (index,loss,prediction,target\n"
          "                     for regression), to find the worst-classified samples\n"
          "                     (sort by loss) and explain them (cgrad explain --index)\n"
          "  --classes FILE     class names, one a line (default: the names of a model\n"
          "                     trained on text labels, Fashion-MNIST's names for\n"
          "                     fashion-mnist: data, else the class indices)\n"
          "  --model MODEL.json the model, for weights files that do not carry it (e.g.\n"
          "                     exported from PyTorch)\n"
          "  --batch N          evaluation batch size (default 1024)\n"
          "  --threads N        threads to use (default: all cores)\n"
          "  -h, --help         this help\n"
          "\n"
          "Under mpirun each rank evaluates its share of the data; rank 0 prints the\n"
          "result for all of it.\n",
          out);
}

/* Checked before the model is loaded and evaluated, so a typo does not
 * cost an evaluation. Returns an exit code. */
static int check_confusion_options(bool confusion, const char *plot, const char *size,
                                   const char *classes, cli_image_options *image)
{
    if (classes && !confusion && !plot)
        return cli_fail(EXIT_USAGE, CMD, "--classes goes with --confusion or --plot");
    if (size && !plot) return cli_fail(EXIT_USAGE, CMD, "--size goes with --plot");
    if (!plot) return EXIT_OK;
    if (!cli_plot_available())
        return cli_fail(EXIT_FAILURE_OTHER, CMD, "--plot: %s", cli_plot_missing_message);
    if (size && !cli_parse_size(CMD, "--size", size, &image->width, &image->height))
        return EXIT_USAGE;
    if (cli_plot_check_output(plot) != CG_OK)
        return cli_fail(EXIT_USAGE, CMD, "--plot: %s", cg_last_error());
    return EXIT_OK;
}

static int draw_confusion(const char *path, const cli_confusion *cm, cli_image_options *image,
                          const char *checkpoint)
{
    const char *slash = strrchr(checkpoint, '/');
    char title[256];
    snprintf(title, sizeof title, "confusion matrix: %s", slash ? slash + 1 : checkpoint);
    image->title = title;
    if (cli_plot_confusion(path, cm, image) != CG_OK)
        return cli_fail(EXIT_FAILURE_OTHER, CMD, "--plot: %s", cg_last_error());
    return EXIT_OK;
}

/* As the model's table says, when it was trained on one. */
static int load_data(cg_dataset *d, const char *spec, const cli_model *m)
{
    cli_columns columns = {.cmd = CMD, .table = m->table, .vocab = m->vocab,
                           .vocab_size = m->vocab_size};
    if (cli_load_table(d, spec, cg_model_get_spec(m->model), &columns) != CG_OK)
        return cli_fail_lib(EXIT_USAGE, CMD);
    return EXIT_OK;
}

int cmd_eval(int argc, char **argv)
{
    cli_args a;
    cli_args_init(&a, CMD, argc, argv);
    cli_infer_options o = {0};
    bool json = false, confusion = false;
    const char *top_k_text = NULL, *plot = NULL, *size = NULL, *classes = NULL, *per_sample = NULL;
    while (cli_args_next(&a)) {
        if (cli_flag(&a, "--help") || cli_flag(&a, "-h")) {
            usage(stdout);
            return EXIT_OK;
        }
        if (cli_flag(&a, "--json"))
            json = true;
        else if (cli_flag(&a, "--confusion"))
            confusion = true;
        else if (cli_option(&a, "--top-k", &top_k_text) || cli_option(&a, "--plot", &plot) ||
                 cli_option(&a, "--size", &size) || cli_option(&a, "--classes", &classes) ||
                 cli_option(&a, "--per-sample", &per_sample))
            continue;
        else if (!cli_infer_option(&a, &o))
            cli_unknown(&a);
    }

    int64_t top_k = 0;
    if (top_k_text && !cli_parse_int(CMD, "--top-k", top_k_text, 2, 1 << 30, &top_k))
        return EXIT_USAGE;
    cli_image_options image = {.width = 900, .height = 820};
    int code = check_confusion_options(confusion, plot, size, classes, &image);
    if (code != EXIT_OK) return code;
    if (per_sample && cli_per_sample_check(per_sample) != CG_OK)
        return cli_fail(EXIT_USAGE, CMD, "--per-sample: %s", cg_last_error());
    cg_dist *dist = cli_group_start(CMD, &code);
    if (!dist) return code;
    cli_model m = {0};
    int64_t batch;
    cg_dataset d = {0};
    cg_eval_result r;
    cli_confusion cm = {0};
    /* Under mpirun a file may be missing on one rank: all agree first. */
    code = cli_group_agree(dist, CMD, cli_infer_setup(&m, &batch, &a, &o));
    if (code == EXIT_OK) code = cli_group_agree(dist, CMD, load_data(&d, o.data, &m));
    cli_group_quiet(true); /* from here on the library agrees: rank 0 reports */
    if (code == EXIT_OK && (cg_evaluate_group(m.model, &d, batch, (int)top_k, dist, &r) != CG_OK ||
                            ((confusion || plot) &&
                             cli_confusion_compute(&cm, m.model, &d, batch, o.data, classes) != CG_OK)))
        code = cli_fail_lib(cg_last_status() == CG_ERR_NOMEM ? EXIT_FAILURE_OTHER : EXIT_USAGE, CMD);
    if (code != EXIT_OK) {
        /* reported */
    } else if (json) {
        char acc[32] = "null";
        if (isfinite(r.accuracy)) snprintf(acc, sizeof acc, "%.6f", r.accuracy);
        printf("{\"loss\":%.6f,\"accuracy\":%s,\"samples\":%lld", r.loss, acc,
               (long long)r.samples);
        if (isfinite(r.mae)) {
            char r2[32] = "null";
            if (isfinite(r.r2)) snprintf(r2, sizeof r2, "%.6f", r.r2);
            printf(",\"mae\":%.6g,\"rmse\":%.6g,\"r2\":%s", r.mae, r.rmse, r2);
        }
        if (r.top_k > 0) printf(",\"top_k\":%d,\"top_k_accuracy\":%.6f", r.top_k, r.top_k_accuracy);
        if (confusion) cli_confusion_print_json(stdout, &cm);
        printf("}\n");
    } else {
        /* Sequence outputs are scored at every step. */
        long long labelled = (long long)(r.samples * cg_model_spec_label_positions(
                                                        cg_model_get_spec(m.model)));
        printf("loss %.4f", r.loss);
        if (d.vocab) printf(" (%.3f bits/char)", r.loss / M_LN2);
        if (isfinite(r.accuracy))
            printf("  accuracy %.2f%% (%lld/%lld)", 100.0 * r.accuracy, (long long)r.correct,
                   labelled);
        if (r.top_k > 0)
            printf("  top-%d %.2f%% (%lld/%lld)", r.top_k, 100.0 * r.top_k_accuracy,
                   (long long)r.top_k_correct, labelled);
        if (isfinite(r.mae)) {
            printf("  mae %.4g  rmse %.4g", r.mae, r.rmse);
            if (isfinite(r.r2)) printf("  r2 %.4f", r.r2);
        }
        printf("  samples %lld\n", (long long)r.samples);
        if (confusion) {
            printf("\n");
            cli_confusion_print(stdout, &cm);
        }
    }
    if (code == EXIT_OK && plot && cli_group_rank() == 0)
        code = draw_confusion(plot, &cm, &image, a.positional[0]);
    if (code == EXIT_OK && per_sample && cli_group_rank() == 0 &&
        cli_per_sample_write(per_sample, m.model, &d, batch) != CG_OK)
        code = cli_fail(EXIT_FAILURE_OTHER, CMD, "--per-sample: %s", cg_last_error());
    cli_confusion_free(&cm);
    cg_dataset_free(&d);
    cli_model_release(&m);
    cli_group_end(dist);
    return code;
}
