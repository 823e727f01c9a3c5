/* Built instead of the other files here when cairo is missing: the text
 * reports (eval --confusion, info --dot) still work, images are refused
 * with a message saying why. */
#include "plot.h"

bool cli_plot_available(void) { return false; }

const char *const cli_plot_missing_message =
    "this cgrad was built without cairo, so it cannot draw images; install it "
    "(scripts/install-deps.sh, or Debian's libcairo2-dev) and rebuild";

static cg_status missing(void)
{
    return cg_set_error(CG_ERR_STATE, "%s", cli_plot_missing_message);
}

cg_status cli_plot_check_output(const char *path) { return missing(); }

cg_status cli_plot_curves(const char *path, const cli_run_log *runs, size_t n,
                          const cli_image_options *o)
{
    return missing();
}

cg_status cli_plot_confusion(const char *path, const cli_confusion *cm,
                             const cli_image_options *o)
{
    return missing();
}

cg_status cli_plot_saliency(const char *path, const cli_saliency_panel *panels, size_t n,
                            const char *title)
{
    return missing();
}

cg_status cli_plot_attribution_bars(const char *path, const cli_bar_panel *panels, size_t n,
                                    int top_k, const char *title)
{
    return missing();
}
