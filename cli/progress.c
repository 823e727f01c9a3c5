/* Training progress: a live bar on a terminal, one line per epoch
 * otherwise, and an optional JSON-lines log. */
#include "cli.h"
#include "plot.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <time.h>

/* Redraws per second: enough to look live, few enough to cost nothing. */
#define BAR_REFRESH_S 0.1
#define BAR_WIDTH 24

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cli_format_duration(double seconds, char *buf, size_t size)
{
    if (!isfinite(seconds) || seconds < 0) seconds = 0;
    long s = lround(seconds);
    if (s >= 3600)
        snprintf(buf, size, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, size, "%ld:%02ld", s / 60, s % 60);
}

void cli_progress_init(cli_progress *p, FILE *out, bool live_bar, FILE *log, bool has_val,
                       bool classification)
{
    *p = (cli_progress){.out = out, .bar = live_bar ? stderr : NULL, .log = log,
                        .run_start = now(), .has_val = has_val,
                        .classification = classification};
}

void cli_progress_clear(cli_progress *p)
{
    if (!p->bar || !p->bar_visible) return;
    fputs("\r\033[K", p->bar);
    fflush(p->bar);
    p->bar_visible = false;
}

/* Out of memory for the plot's records: the run matters more. */
static void stop_plotting(cli_progress *p)
{
    p->history = NULL;
    fprintf(stderr, "cgrad train: note: --plot: %s; training goes on without it\n",
            cg_last_error());
}

/* pr->loss is the epoch's running mean, so sums at two steps give the mean
 * of the batches between them. */
static void record_step(cli_progress *p, const cg_progress *pr)
{
    if (p->log_steps <= 0 || pr->step % p->log_steps != 0) return;
    if (pr->epoch != p->window_epoch) {
        p->window_epoch = pr->epoch;
        p->window_loss_sum = 0;
        p->window_samples = 0;
    }
    double sum = pr->loss * (double)pr->samples;
    int64_t n = pr->samples - p->window_samples;
    double loss = n > 0 ? (sum - p->window_loss_sum) / (double)n : NAN;
    p->window_loss_sum = sum;
    p->window_samples = pr->samples;
    if (p->log)
        cli_run_log_write_step(p->log, pr->step, pr->epoch + 1, pr->batch, pr->batches, loss);
    cli_step_row row = {(double)pr->epoch + (double)pr->batch / (double)pr->batches, loss};
    if (p->history && cli_run_log_add_step(p->history, &row) != CG_OK) stop_plotting(p);
}

void cli_progress_batch(void *user, const cg_progress *pr)
{
    cli_progress *p = user;
    record_step(p, pr);
    if (!p->bar) return;
    double t = now();
    if (t - p->last_draw < BAR_REFRESH_S && pr->batch != pr->batches) return;
    p->last_draw = t;
    int filled = (int)(BAR_WIDTH * pr->batch / (pr->batches ? pr->batches : 1));
    char bar[BAR_WIDTH + 1];
    for (int i = 0; i < BAR_WIDTH; i++) bar[i] = i < filled ? '#' : '.';
    bar[BAR_WIDTH] = '\0';
    double rate = pr->seconds > 0 ? (double)pr->samples / pr->seconds : 0;
    double left = pr->batch ? pr->seconds * (double)(pr->batches - pr->batch) / (double)pr->batch : 0;
    char eta[32];
    cli_format_duration(left, eta, sizeof eta);
    fprintf(p->bar, "\r\033[Kepoch %lld/%lld [%s] %lld/%lld  %.0f samples/s  loss %.4f  ETA %s",
            (long long)pr->epoch + 1, (long long)pr->epochs, bar, (long long)pr->batch,
            (long long)pr->batches, rate, pr->loss, eta);
    fflush(p->bar);
    p->bar_visible = true;
}

/* A log that cannot be written (a full disk) is said once; the run matters
 * more, as with --plot. The step records since the last flush are checked
 * here too. */
static void check_log(cli_progress *p)
{
    if (fflush(p->log) == 0 && !ferror(p->log)) return;
    fprintf(stderr, "cgrad train: --log: cannot write %s: %s; training goes on without the log\n",
            p->log_path ? p->log_path : "the log", strerror(errno));
    p->log = NULL;
}

static void write_log(cli_progress *p, const cg_epoch_stats *s)
{
    /* JSON has no NaN: unknown figures are null. */
    char tl[32], ta[32], vl[32], va[32];
    const double vals[4] = {s->train_loss, s->train_accuracy, s->val_loss, s->val_accuracy};
    char *bufs[4] = {tl, ta, vl, va};
    for (int i = 0; i < 4; i++) {
        if (isfinite(vals[i]))
            snprintf(bufs[i], 32, "%.6g", vals[i]);
        else
            snprintf(bufs[i], 32, "null");
    }
    fprintf(p->log,
            "{\"epoch\":%lld,\"train_loss\":%s,\"train_accuracy\":%s,\"val_loss\":%s,"
            "\"val_accuracy\":%s,\"lr\":%.6g,\"seconds\":%.3f,\"samples_per_s\":%.1f",
            (long long)s->epoch, tl, ta, vl, va, (double)s->lr, s->seconds, s->samples_per_s);
    /* Regression metrics of the training batches and of the validation
     * data, when there are some. */
    if (isfinite(s->train_mae)) {
        char r2[32] = "null";
        if (isfinite(s->train_r2)) snprintf(r2, sizeof r2, "%.6g", s->train_r2);
        fprintf(p->log, ",\"train_mae\":%.6g,\"train_rmse\":%.6g,\"train_r2\":%s",
                s->train_mae, s->train_rmse, r2);
    }
    if (isfinite(s->val_mae)) {
        char r2[32] = "null";
        if (isfinite(s->val_r2)) snprintf(r2, sizeof r2, "%.6g", s->val_r2);
        fprintf(p->log, ",\"val_mae\":%.6g,\"val_rmse\":%.6g,\"val_r2\":%s", s->val_mae,
                s->val_rmse, r2);
    }
    if (p->bits_per_char && isfinite(s->train_loss))
        fprintf(p->log, ",\"train_bits_per_char\":%.6g", s->train_loss / M_LN2);
    if (p->bits_per_char && isfinite(s->val_loss))
        fprintf(p->log, ",\"val_bits_per_char\":%.6g", s->val_loss / M_LN2);
    if (s->top_k > 0) {
        fprintf(p->log, ",\"top_k\":%d", s->top_k);
        if (isfinite(s->val_top_k_accuracy))
            fprintf(p->log, ",\"val_top_k_accuracy\":%.6g", s->val_top_k_accuracy);
        if (isfinite(s->train_top_k_accuracy))
            fprintf(p->log, ",\"train_top_k_accuracy\":%.6g", s->train_top_k_accuracy);
    }
    fputs("}\n", p->log);
    check_log(p);
}

/* A plot that cannot be drawn is worth a note, not the run. */
static void draw_plot(cli_progress *p)
{
    char title[300];
    snprintf(title, sizeof title, "learning curves: %.280s", p->history->label);
    cli_image_options o = {.width = CLI_CURVES_WIDTH, .height = CLI_CURVES_HEIGHT, .title = title};
    double start = now();
    cg_status s = cli_plot_curves(p->plot_path, p->history, 1, &o);
    p->plot_drawn_at = now();
    p->plot_seconds = p->plot_drawn_at - start;
    p->plot_pending = false;
    if (s == CG_OK || p->plot_failed) return;
    fprintf(stderr, "cgrad train: note: --plot: %s; training goes on\n", cg_last_error());
    p->plot_failed = true;
}

/* Epochs of a few milliseconds would spend most of their time drawing
 * (a PNG takes tens of them): drawing waits until ten times its own cost
 * has passed, so it takes at most a tenth of the run. */
static void redraw_plot(cli_progress *p, const cg_epoch_stats *s)
{
    cli_epoch_row row = {(double)s->epoch, s->train_loss, s->train_accuracy, s->val_loss,
                         s->val_accuracy, s->lr};
    if (cli_run_log_add_epoch(p->history, &row) != CG_OK) {
        stop_plotting(p);
        return;
    }
    p->plot_pending = true;
    if (now() - p->plot_drawn_at >= 10 * p->plot_seconds || s->epoch == s->epochs) draw_plot(p);
}

void cli_progress_finish_plot(cli_progress *p)
{
    if (p->history && p->plot_pending) draw_plot(p);
}

void cli_progress_epoch(void *user, const cg_epoch_stats *s)
{
    cli_progress *p = user;
    cli_progress_clear(p);
    p->samples_total += s->samples;
    fprintf(p->out, "epoch %lld/%lld  train loss %.4f", (long long)s->epoch, (long long)s->epochs,
            s->train_loss);
    if (p->bits_per_char) fprintf(p->out, " (%.3f bits/char)", s->train_loss / M_LN2);
    if (p->classification) fprintf(p->out, " acc %.2f%%", 100.0 * s->train_accuracy);
    if (isfinite(s->train_mae)) fprintf(p->out, " mae %.4g rmse %.4g", s->train_mae, s->train_rmse);
    if (isfinite(s->train_r2)) fprintf(p->out, " r2 %.4f", s->train_r2);
    if (isfinite(s->train_top_k_accuracy))
        fprintf(p->out, " top-%d %.2f%%", s->top_k, 100.0 * s->train_top_k_accuracy);
    if (p->has_val) {
        fprintf(p->out, "  val loss %.4f", s->val_loss);
        if (p->bits_per_char) fprintf(p->out, " (%.3f bits/char)", s->val_loss / M_LN2);
        if (p->classification) fprintf(p->out, " acc %.2f%%", 100.0 * s->val_accuracy);
        if (isfinite(s->val_mae)) fprintf(p->out, " mae %.4g rmse %.4g", s->val_mae, s->val_rmse);
        if (isfinite(s->val_r2)) fprintf(p->out, " r2 %.4f", s->val_r2);
        if (s->top_k > 0) fprintf(p->out, " top-%d %.2f%%", s->top_k, 100.0 * s->val_top_k_accuracy);
    }
    fprintf(p->out, "  lr %.3g  %.1f s  %.0f samples/s\n", (double)s->lr, s->seconds,
            s->samples_per_s);
    fflush(p->out);
    if (p->log) write_log(p, s);
    if (p->history) redraw_plot(p, s);
}
