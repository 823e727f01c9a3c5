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
          "                     (accuracy is null for regression losses)\n"
          "  --model MODEL.json the model, for weights files that do not carry it (e.g.\n"
          "                     exported from PyTorch)\n"
          "  --batch N          evaluation batch size (default 1024)\n"
          "  --threads N        threads to use (default: all cores)\n"
          "  -h, --help         this help\n",
          out);
}

int cmd_eval(int argc, char **argv)
{
    cli_args a;
    cli_args_init(&a, CMD, argc, argv);
    cli_infer_options o = {0};
    bool json = false;
    while (cli_args_next(&a)) {
        if (cli_flag(&a, "--help") || cli_flag(&a, "-h")) {
            usage(stdout);
            return EXIT_OK;
        }
        if (cli_flag(&a, "--json"))
            json = true;
        else if (!cli_infer_option(&a, &o))
            cli_unknown(&a);
    }

    cli_model m;
    int64_t batch;
    int code = cli_infer_setup(&m, &batch, &a, &o);
    if (code != EXIT_OK) return code;
    cg_dataset d = {0};
    cg_eval_result r;
    if (cli_load_data(&d, o.data, cg_model_get_spec(m.model)) != CG_OK ||
        cg_evaluate(m.model, &d, batch, &r) != CG_OK) {
        code = cli_fail_lib(cg_last_status() == CG_ERR_NOMEM ? EXIT_FAILURE_OTHER : EXIT_USAGE, CMD);
    } else if (json) {
        char acc[32] = "null";
        if (isfinite(r.accuracy)) snprintf(acc, sizeof acc, "%.6f", r.accuracy);
        printf("{\"loss\":%.6f,\"accuracy\":%s,\"samples\":%lld}\n", r.loss, acc,
               (long long)r.samples);
    } else {
        printf("loss %.4f", r.loss);
        if (isfinite(r.accuracy))
            printf("  accuracy %.2f%% (%lld/%lld)", 100.0 * r.accuracy, (long long)r.correct,
                   (long long)r.samples);
        printf("  samples %lld\n", (long long)r.samples);
    }
    cg_dataset_free(&d);
    cli_model_release(&m);
    return code;
}
