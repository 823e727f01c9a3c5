/* cgrad plot: learning curves of `cgrad train --log` files as an image. */
#include "cli.h"
#include "plot.h"

#include <stdlib.h>
#include <string.h>

static const char *const CMD = "plot";

enum { MIN_SIDE = 100, MAX_SIDE = 10000 };

static void usage(FILE *out)
{
    fputs("usage: cgrad plot LOG.jsonl [LOG2.jsonl ...] -o OUT.png|OUT.svg|OUT.pdf [options]\n"
          "\n"
          "Draws the learning curves of `cgrad train --log` files: training and validation\n"
          "loss and accuracy, and the learning rate, per epoch, with the training loss per\n"
          "step (smoothed) when the log has step records (train --log-steps N). Several\n"
          "logs share the axes, one colour each, named by their file names; training is\n"
          "drawn solid, validation dashed. Missing values (null) leave gaps.\n"
          "\n"
          "  -o, --out FILE   the image; its extension picks the format (.png, .svg, .pdf)\n"
          "  --size WxH       its size in pixels (points for PDF; default 1500x450); wide\n"
          "                   images get the panels side by side, tall ones stacked\n"
          "  --log-scale      the loss on a logarithmic axis\n"
          "  --title TEXT     the title (default: the logs' names)\n"
          "  -h, --help       this help\n",
          out);
}

bool cli_parse_size(const char *cmd, const char *name, const char *text, int *w, int *h)
{
    char *end;
    long pw = strtol(text, &end, 10), ph = 0;
    bool ok = end != text && (*end == 'x' || *end == 'X');
    if (ok) {
        const char *rest = end + 1;
        ph = strtol(rest, &end, 10);
        ok = end != rest && *end == '\0';
    }
    if (!ok || pw < MIN_SIDE || pw > MAX_SIDE || ph < MIN_SIDE || ph > MAX_SIDE) {
        cli_fail(EXIT_USAGE, cmd, "%s: expected WIDTHxHEIGHT, each from %d to %d (e.g. "
                 "1200x800), got \"%s\"", name, MIN_SIDE, MAX_SIDE, text);
        return false;
    }
    *w = (int)pw;
    *h = (int)ph;
    return true;
}

typedef struct plot_args {
    const char *out, *size, *title;
    bool log_scale;
} plot_args;

/* Returns -1 to go on, or an exit code. */
static int parse_args(cli_args *a, plot_args *p, int argc, char **argv)
{
    cli_args_init(a, CMD, argc, argv);
    *p = (plot_args){0};
    while (cli_args_next(a)) {
        if (cli_flag(a, "--help") || cli_flag(a, "-h")) {
            usage(stdout);
            return EXIT_OK;
        }
        if (cli_flag(a, "--log-scale"))
            p->log_scale = true;
        else if (!cli_option(a, "-o", &p->out) && !cli_option(a, "--out", &p->out) &&
                 !cli_option(a, "--size", &p->size) && !cli_option(a, "--title", &p->title))
            cli_unknown(a);
    }
    if (a->failed) return EXIT_USAGE;
    if (a->n_positional == 0)
        return cli_fail(EXIT_USAGE, CMD, "no log given: cgrad plot LOG.jsonl -o OUT.png; see --help");
    if (!p->out) return cli_fail(EXIT_USAGE, CMD, "-o OUT.png (or .svg, .pdf) is required");
    return -1;
}

/* Two logs of the same name (runs/a/metrics.jsonl, runs/b/metrics.jsonl)
 * are told apart by their paths. */
static void distinct_labels(cli_run_log *runs, const char *const *paths, int n)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            if (i != j && strcmp(runs[i].label, runs[j].label) == 0) {
                snprintf(runs[i].label, sizeof runs[i].label, "%s", paths[i]);
                break;
            }
}

/* "learning curves: a, b", cut short when the names do not fit. */
static void default_title(const cli_run_log *runs, int n, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "learning curves: ");
    for (int i = 0; i < n; i++) {
        int len = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", runs[i].label);
        if (len < 0 || (size_t)len >= size - used) break;
        used += (size_t)len;
    }
}

static int read_logs(cli_run_log *runs, const char *const *paths, int n)
{
    for (int i = 0; i < n; i++) {
        if (cli_run_log_read(&runs[i], paths[i]) != CG_OK)
            return cli_fail(cg_last_status() == CG_ERR_NOMEM ? EXIT_FAILURE_OTHER : EXIT_USAGE,
                            CMD, "%s", cg_last_error());
        if (runs[i].n_epochs == 0 && runs[i].n_steps == 0)
            return cli_fail(EXIT_USAGE, CMD, "%s holds no records: a `cgrad train --log` file has "
                            "one line per epoch", paths[i]);
    }
    distinct_labels(runs, paths, n);
    return EXIT_OK;
}

int cmd_plot(int argc, char **argv)
{
    cli_args a;
    plot_args p;
    int code = parse_args(&a, &p, argc, argv);
    if (code >= 0) return code;
    if (!cli_plot_available())
        return cli_fail(EXIT_FAILURE_OTHER, CMD, "%s", cli_plot_missing_message);
    cli_image_options o = {.width = CLI_CURVES_WIDTH, .height = CLI_CURVES_HEIGHT,
                           .log_scale = p.log_scale, .title = p.title};
    if (p.size && !cli_parse_size(CMD, "--size", p.size, &o.width, &o.height)) return EXIT_USAGE;
    if (cli_plot_check_output(p.out) != CG_OK)
        return cli_fail(EXIT_USAGE, CMD, "-o: %s", cg_last_error());
    int n = a.n_positional;
    cli_run_log runs[CLI_MAX_RUNS];
    memset(runs, 0, sizeof runs);
    code = read_logs(runs, a.positional, n);
    char title[512];
    if (!o.title) {
        default_title(runs, n, title, sizeof title);
        o.title = title;
    }
    if (code == EXIT_OK && cli_plot_curves(p.out, runs, (size_t)n, &o) != CG_OK)
        code = cli_fail(cg_last_status() == CG_ERR_FORMAT ? EXIT_USAGE : EXIT_FAILURE_OTHER, CMD,
                        "%s", cg_last_error());
    for (int i = 0; i < n; i++) cli_run_log_free(&runs[i]);
    return code;
}
