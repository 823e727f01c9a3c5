/* cgrad: train, evaluate and inspect models described by model files. */
#include "cli.h"

#include <string.h>

typedef struct subcommand {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} subcommand;

static const subcommand commands[] = {
    {"train", cmd_train, "train a model file on data, saving checkpoints"},
    {"eval", cmd_eval, "loss and accuracy of a checkpoint on data"},
    {"predict", cmd_predict, "a checkpoint's predictions for every sample"},
    {"info", cmd_info, "summary of a checkpoint or model file"},
    {"plot", cmd_plot, "learning curves of training logs as an image (PNG, SVG, PDF)"},
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *out)
{
    fprintf(out, "usage: cgrad <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out,
            "\n'cgrad <command> --help' describes a command.\n\n"
            "data SPECs: fashion-mnist:train | fashion-mnist:test | idx:IMAGES[,LABELS] | "
            "csv:PATH\n\n"
            "exit status: 0 success, 1 failure while working (e.g. NaN loss, failed save),\n"
            "             2 bad usage or bad input, 130 interrupted (SIGINT)\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(name, "--version") == 0) {
        printf("cgrad %s\n", CG_VERSION_STRING);
        return EXIT_OK;
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(name, commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "cgrad: unknown command \"%s\"\n\n", name);
    usage(stderr);
    return EXIT_USAGE;
}
