/* libFuzzer target: arbitrary bytes as a `cgrad train --log` file, read
 * back as `cgrad plot` reads it and, when that succeeds, drawn (SVG, and
 * PNG with the loss on a log scale). A success must give sorted records;
 * a failure must name the file; drawing must not crash on any values. */
#include "fuzz_common.h"
#include "plot.h"

#include <math.h>

static void check_sorted(const cli_run_log *log)
{
    for (size_t i = 1; i < log->n_epochs; i++)
        if (!(log->epochs[i - 1].epoch < log->epochs[i].epoch)) __builtin_trap();
    for (size_t i = 1; i < log->n_steps; i++)
        if (!(log->steps[i - 1].x < log->steps[i].x)) __builtin_trap();
}

static void draw(const cli_run_log *log, const char *out, bool log_scale)
{
    cli_image_options o = {.width = 160, .height = 120, .log_scale = log_scale};
    if (cli_plot_curves(out, log, 1, &o) != CG_OK && !strstr(cg_last_error(), "nothing to draw"))
        fuzz_check_error_names(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_input(data, size);
    if (!path) return 0;
    cli_run_log log;
    if (cli_run_log_read(&log, path) != CG_OK) {
        fuzz_check_error_names(path);
        return 0;
    }
    check_sorted(&log);
    static char svg[80], png[80];
    if (!svg[0]) {
        snprintf(svg, sizeof svg, "%s.svg", path);
        snprintf(png, sizeof png, "%s.png", path);
    }
    if (log.n_epochs + log.n_steps > 0) {
        draw(&log, svg, false);
        draw(&log, png, true);
    }
    cli_run_log_free(&log);
    return 0;
}
