/* cgrad eval: loss and accuracy of a checkpoint on data. */
#include "cli.h"

#include <math.h>
#include <string.h>

static const char *const CMD = "eval";

static void usage(FILE *out)
{
    fputs("usage: cgrad eval CKPT --data SPEC [--json] [options]\n"
          "\n"
          "Loss and accuracy of a checkpoint's model on data (evaluation mode: no dropout).\n"
          "\n"
          "  --data SPEC        data to evaluate on: fashion-mnist:test, idx:IMAGES,LABELS,\n"
          "                     csv:PATH\n"
          "  --json             print one JSON object {\"loss\":..,\"accuracy\":..,\"samples\":..}\n"
          "                     (accuracy is null for regression losses; mse and l1 add\n"
          "                     \"mae\", \"rmse\" and \"r2\"; --top-k adds \"top_k\" and\n"
          "                     \"top_k_accuracy\")\n"
          "  --top-k K          also the top-K accuracy (cross_entropy; 2 <= K <= classes)\n"
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

static int load_data(cg_dataset *d, const char *spec, const cli_model *m)
{
    if (cli_load_data(d, spec, cg_model_get_spec(m->model), m->vocab, m->vocab_size) != CG_OK)
        return cli_fail_lib(EXIT_USAGE, CMD);
    return EXIT_OK;
}

int cmd_eval(int argc, char **argv)
{
    cli_args a;
    cli_args_init(&a, CMD, argc, argv);
    cli_infer_options o = {0};
    bool json = false;
    const char *top_k_text = NULL;
    while (cli_args_next(&a)) {
        if (cli_flag(&a, "--help") || cli_flag(&a, "-h")) {
            usage(stdout);
            return EXIT_OK;
        }
        if (cli_flag(&a, "--json"))
            json = true;
        else if (cli_option(&a, "--top-k", &top_k_text))
            continue;
        else if (!cli_infer_option(&a, &o))
            cli_unknown(&a);
    }

    int64_t top_k = 0;
    if (top_k_text && !cli_parse_int(CMD, "--top-k", top_k_text, 2, 1 << 30, &top_k))
        return EXIT_USAGE;
    int code;
    cg_dist *dist = cli_group_start(CMD, &code);
    if (!dist) return code;
    cli_model m = {0};
    int64_t batch;
    cg_dataset d = {0};
    cg_eval_result r;
    /* Under mpirun a file may be missing on one rank: all agree first. */
    code = cli_group_agree(dist, CMD, cli_infer_setup(&m, &batch, &a, &o));
    if (code == EXIT_OK) code = cli_group_agree(dist, CMD, load_data(&d, o.data, &m));
    cli_group_quiet(true); /* from here on the library agrees: rank 0 reports */
    if (code == EXIT_OK && cg_evaluate_group(m.model, &d, batch, (int)top_k, dist, &r) != CG_OK)
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
    }
    cg_dataset_free(&d);
    cli_model_release(&m);
    cli_group_end(dist);
    return code;
}
