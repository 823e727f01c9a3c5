/* Learning curves: loss, accuracy and learning rate per epoch of one or
 * more runs, one panel each, drawn with cairo. */
#include "canvas.h"
#include "plot.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef enum { LINE_STEPS, LINE_TRAIN, LINE_VAL } line_kind;

/* One curve: a run's values of one metric. NaN breaks the line. */
typedef struct series {
    double *x, *y;
    size_t n;
    size_t run;
    line_kind kind;
    char label[300];
} series;

enum { MAX_LINES = 3 * CLI_MAX_RUNS };

typedef struct panel {
    const char *y_label;
    bool log;
    bool legend;
    series lines[MAX_LINES];
    int n_lines;
    axis ax, ay;
    double left, top, width, height;   /* the plot area */
} panel;

typedef struct figure {
    panel panels[3];
    int n_panels;
    size_t n_runs;
} figure;

/* ------------------------------------------------------------ the data */

/* No metric gets near 1e300, but a hand-edited log might, and the axes'
 * arithmetic would overflow there. */
static bool drawable(const panel *p, double y)
{
    return isfinite(y) && fabs(y) <= 1e300 && (!p->log || y >= 1e-300);
}

static bool any_drawable(const panel *p, const series *s)
{
    for (size_t i = 0; i < s->n; i++)
        if (drawable(p, s->y[i])) return true;
    return false;
}

static void free_series(series *s)
{
    free(s->x);
    free(s->y);
    *s = (series){0};
}

static bool alloc_series(series *s, size_t n)
{
    s->x = malloc((n ? n : 1) * sizeof *s->x);
    s->y = malloc((n ? n : 1) * sizeof *s->y);
    s->n = n;
    return s->x && s->y;
}

static void name_series(series *s, const figure *f, const char *run_label, const char *what)
{
    if (f->n_runs == 1)
        snprintf(s->label, sizeof s->label, "%s", what[0] ? what : "learning rate");
    else
        snprintf(s->label, sizeof s->label, "%s%s%s", run_label, what[0] ? " " : "", what);
}

/* Keeps the series when it has something to draw; frees it otherwise. */
static void keep(panel *p, series *s)
{
    if (any_drawable(p, s) && p->n_lines < MAX_LINES)
        p->lines[p->n_lines++] = *s;
    else
        free_series(s);
}

static cg_status add_epoch_series(panel *p, const figure *f, const cli_run_log *run, size_t r,
                                  size_t field, double scale, line_kind kind, const char *what)
{
    series s = {.run = r, .kind = kind};
    if (!alloc_series(&s, run->n_epochs)) {
        free_series(&s);
        return cg_set_error(CG_ERR_NOMEM, "out of memory drawing the learning curves");
    }
    for (size_t i = 0; i < run->n_epochs; i++) {
        const cli_epoch_row *row = &run->epochs[i];
        s.x[i] = row->epoch;
        s.y[i] = scale * *(const double *)((const char *)row + field);
    }
    name_series(&s, f, run->label, what);
    keep(p, &s);
    return CG_OK;
}

/* Per-step losses jump from batch to batch; an exponential moving average
 * over about 2% of the run shows the trend, debiased (divided by the weight
 * it has gathered) so that the first steps are not pulled towards 0. */
static cg_status add_step_series(panel *p, const figure *f, const cli_run_log *run, size_t r)
{
    series s = {.run = r, .kind = LINE_STEPS};
    if (!alloc_series(&s, run->n_steps)) {
        free_series(&s);
        return cg_set_error(CG_ERR_NOMEM, "out of memory drawing the learning curves");
    }
    double span = fmax(1.0, (double)run->n_steps / 50.0), alpha = 2.0 / (span + 1.0);
    double avg = 0, weight = 0;
    for (size_t i = 0; i < run->n_steps; i++) {
        double loss = run->steps[i].loss;
        if (isfinite(loss)) {
            avg = (1 - alpha) * avg + alpha * loss;
            weight = (1 - alpha) * weight + alpha;
        }
        s.x[i] = run->steps[i].x;
        s.y[i] = isfinite(loss) ? avg / weight : NAN;
    }
    name_series(&s, f, run->label, "train per step (smoothed)");
    keep(p, &s);
    return CG_OK;
}

enum { PANEL_LOSS, PANEL_ACCURACY, PANEL_LR };

/* Which curve each epoch figure of the log becomes. */
static const struct epoch_curve {
    int panel;
    size_t field;
    double scale;
    line_kind kind;
    const char *what;
} epoch_curves[] = {
    {PANEL_LOSS, offsetof(cli_epoch_row, train_loss), 1, LINE_TRAIN, "train"},
    {PANEL_LOSS, offsetof(cli_epoch_row, val_loss), 1, LINE_VAL, "validation"},
    {PANEL_ACCURACY, offsetof(cli_epoch_row, train_accuracy), 100, LINE_TRAIN, "train"},
    {PANEL_ACCURACY, offsetof(cli_epoch_row, val_accuracy), 100, LINE_VAL, "validation"},
    {PANEL_LR, offsetof(cli_epoch_row, lr), 1, LINE_TRAIN, ""},
};

static cg_status build_panels(figure *f, const cli_run_log *runs, bool log_scale)
{
    f->panels[PANEL_LOSS] = (panel){.y_label = log_scale ? "loss (log scale)" : "loss",
                                    .log = log_scale};
    f->panels[PANEL_ACCURACY] = (panel){.y_label = "accuracy (%)"};
    f->panels[PANEL_LR] = (panel){.y_label = "learning rate"};
    cg_status s = CG_OK;
    for (size_t r = 0; r < f->n_runs && s == CG_OK; r++) {
        s = add_step_series(&f->panels[PANEL_LOSS], f, &runs[r], r);
        for (size_t c = 0; c < sizeof epoch_curves / sizeof epoch_curves[0] && s == CG_OK; c++) {
            const struct epoch_curve *e = &epoch_curves[c];
            s = add_epoch_series(&f->panels[e->panel], f, &runs[r], r, e->field, e->scale, e->kind,
                                 e->what);
        }
    }
    /* One run's learning rate needs no legend; the rest do. */
    for (int i = 0; i < 3; i++)
        f->panels[i].legend = f->n_runs > 1 || f->panels[i].n_lines > 1 || i != PANEL_LR;
    /* Panels without data (accuracy of a regression) are left out. */
    f->n_panels = 0;
    for (int i = 0; i < 3; i++)
        if (f->panels[i].n_lines > 0) f->panels[f->n_panels++] = f->panels[i];
    return s;
}

static void free_figure(figure *f)
{
    for (int i = 0; i < f->n_panels; i++)
        for (int j = 0; j < f->panels[i].n_lines; j++) free_series(&f->panels[i].lines[j]);
}

/* The range of the x values (shared: the panels line up) or of a panel's
 * drawable y values. */
static void x_range(const figure *f, double *lo, double *hi)
{
    *lo = INFINITY, *hi = -INFINITY;
    for (int i = 0; i < f->n_panels; i++)
        for (int j = 0; j < f->panels[i].n_lines; j++) {
            const series *s = &f->panels[i].lines[j];
            for (size_t k = 0; k < s->n; k++)
                if (drawable(&f->panels[i], s->y[k])) {
                    *lo = fmin(*lo, s->x[k]);
                    *hi = fmax(*hi, s->x[k]);
                }
        }
}

static void y_range(const panel *p, double *lo, double *hi)
{
    *lo = INFINITY, *hi = -INFINITY;
    for (int j = 0; j < p->n_lines; j++)
        for (size_t k = 0; k < p->lines[j].n; k++)
            if (drawable(p, p->lines[j].y[k])) {
                *lo = fmin(*lo, p->lines[j].y[k]);
                *hi = fmax(*hi, p->lines[j].y[k]);
            }
}

/* ------------------------------------------------------------ drawing */

static double px(const panel *p, double x) { return p->left + axis_fraction(&p->ax, x) * p->width; }

static double py(const panel *p, double y)
{
    return p->top + (1 - axis_fraction(&p->ay, y)) * p->height;
}

/* Places the plot area inside its cell, leaving room for the tick labels
 * (as wide as the widest) and the axis labels. */
static void place(cairo_t *cr, panel *p, double x, double y, double w, double h)
{
    double ticks[MAX_TICKS], step, widest = 0;
    char text[64];
    int n = axis_ticks(&p->ay, false, ticks, &step);
    set_font(cr, FONT_TICK, false);
    for (int i = 0; i < n; i++) {
        tick_label(&p->ay, ticks[i], step, text, sizeof text);
        widest = fmax(widest, text_width(cr, text));
    }
    p->left = x + widest + 34;
    p->top = y + 10;
    p->width = fmax(10, x + w - 16 - p->left);
    p->height = fmax(10, y + h - 46 - p->top);
}

static void draw_grid_and_ticks(cairo_t *cr, const panel *p)
{
    double ticks[MAX_TICKS], step;
    char text[64];
    set_font(cr, FONT_TICK, false);
    cairo_set_line_width(cr, 1);
    int n = axis_ticks(&p->ay, false, ticks, &step);
    for (int i = 0; i < n; i++) {
        double y = round(py(p, ticks[i])) + 0.5;
        set_colour(cr, grey(0.9), 1);
        cairo_move_to(cr, p->left, y);
        cairo_line_to(cr, p->left + p->width, y);
        cairo_stroke(cr);
        set_colour(cr, grey(0.2), 1);
        tick_label(&p->ay, ticks[i], step, text, sizeof text);
        draw_text(cr, p->left - 6, y, text, 1, 0.5, 0);
    }
    n = axis_ticks(&p->ax, true, ticks, &step);
    for (int i = 0; i < n; i++) {
        double x = round(px(p, ticks[i])) + 0.5;
        set_colour(cr, grey(0.9), 1);
        cairo_move_to(cr, x, p->top);
        cairo_line_to(cr, x, p->top + p->height);
        cairo_stroke(cr);
        set_colour(cr, grey(0.2), 1);
        tick_label(&p->ax, ticks[i], step, text, sizeof text);
        draw_text(cr, x, p->top + p->height + 6, text, 0.5, 0, 0);
    }
}

static void draw_frame_and_labels(cairo_t *cr, const panel *p, double cell_left)
{
    set_colour(cr, grey(0.25), 1);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, round(p->left) + 0.5, round(p->top) + 0.5, round(p->width),
                    round(p->height));
    cairo_stroke(cr);
    set_font(cr, FONT_LABEL, false);
    set_colour(cr, grey(0.1), 1);
    draw_text(cr, p->left + p->width / 2, p->top + p->height + 26, "epoch", 0.5, 0, 0);
    draw_text(cr, cell_left + 8, p->top + p->height / 2, p->y_label, 0.5, 0, M_PI / 2);
}

static void line_style(cairo_t *cr, const series *s)
{
    static const double dash[] = {7, 4};
    cairo_set_dash(cr, dash, s->kind == LINE_VAL ? 2 : 0, 0);
    cairo_set_line_width(cr, s->kind == LINE_STEPS ? 1.2 : 2);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    set_colour(cr, run_colour(s->run), s->kind == LINE_STEPS ? 0.45 : 1);
}

/* The curve as one path, broken where values are missing; a value with no
 * drawable neighbour gets a dot, or it would not show at all. */
static void draw_series(cairo_t *cr, const panel *p, const series *s)
{
    line_style(cr, s);
    bool pen_down = false;
    for (size_t i = 0; i < s->n; i++) {
        if (!drawable(p, s->y[i])) {
            pen_down = false;
            continue;
        }
        if (pen_down)
            cairo_line_to(cr, px(p, s->x[i]), py(p, s->y[i]));
        else
            cairo_move_to(cr, px(p, s->x[i]), py(p, s->y[i]));
        pen_down = true;
    }
    cairo_stroke(cr);
    for (size_t i = 0; i < s->n; i++) {
        bool before = i > 0 && drawable(p, s->y[i - 1]);
        bool after = i + 1 < s->n && drawable(p, s->y[i + 1]);
        if (drawable(p, s->y[i]) && !before && !after) {
            cairo_arc(cr, px(p, s->x[i]), py(p, s->y[i]), 3.5, 0, 2 * M_PI);
            cairo_fill(cr);
        }
    }
}

enum { SWATCH = 26, LEGEND_ROW = 17, LEGEND_PAD = 7 };

/* How many of the panel's points the box (x, y, w, h) would hide. */
static size_t points_under(const panel *p, double x, double y, double w, double h)
{
    size_t hidden = 0;
    for (int j = 0; j < p->n_lines; j++)
        for (size_t k = 0; k < p->lines[j].n; k++) {
            const series *s = &p->lines[j];
            if (!drawable(p, s->y[k])) continue;
            double sx = px(p, s->x[k]), sy = py(p, s->y[k]);
            hidden += sx >= x && sx <= x + w && sy >= y && sy <= y + h;
        }
    return hidden;
}

/* In the corner where it hides the fewest points (top right on ties). */
static void draw_legend(cairo_t *cr, const panel *p)
{
    set_font(cr, FONT_TICK, false);
    double text_w = 0;
    for (int j = 0; j < p->n_lines; j++) text_w = fmax(text_w, text_width(cr, p->lines[j].label));
    double w = SWATCH + 6 + text_w + 2 * LEGEND_PAD, h = p->n_lines * LEGEND_ROW + 2 * LEGEND_PAD;
    double inset = 8, best_x = 0, best_y = 0;
    size_t best = SIZE_MAX;
    for (int corner = 0; corner < 4; corner++) {
        double x = corner % 2 == 0 ? p->left + p->width - inset - w : p->left + inset;
        double y = corner < 2 ? p->top + inset : p->top + p->height - inset - h;
        size_t hidden = points_under(p, x, y, w, h);
        if (hidden < best) best = hidden, best_x = x, best_y = y;
    }
    cairo_rectangle(cr, best_x, best_y, w, h);
    set_colour(cr, grey(1), 0.88);
    cairo_fill_preserve(cr);
    set_colour(cr, grey(0.75), 1);
    cairo_set_line_width(cr, 1);
    cairo_stroke(cr);
    for (int j = 0; j < p->n_lines; j++) {
        double y = best_y + LEGEND_PAD + (j + 0.5) * LEGEND_ROW;
        line_style(cr, &p->lines[j]);
        cairo_move_to(cr, best_x + LEGEND_PAD, y);
        cairo_line_to(cr, best_x + LEGEND_PAD + SWATCH, y);
        cairo_stroke(cr);
        cairo_set_dash(cr, NULL, 0, 0);
        set_colour(cr, grey(0.1), 1);
        draw_text(cr, best_x + LEGEND_PAD + SWATCH + 6, y, p->lines[j].label, 0, 0.5, 0);
    }
}

static void draw_panel(cairo_t *cr, panel *p, double x, double y, double w, double h)
{
    place(cr, p, x, y, w, h);
    draw_grid_and_ticks(cr, p);
    cairo_save(cr);
    cairo_rectangle(cr, p->left, p->top, p->width, p->height);
    cairo_clip(cr);
    for (int j = 0; j < p->n_lines; j++) draw_series(cr, p, &p->lines[j]);
    cairo_restore(cr);
    cairo_set_dash(cr, NULL, 0, 0);
    draw_frame_and_labels(cr, p, x);
    if (p->legend) draw_legend(cr, p);
}

/* Side by side on a wide image, stacked on a tall one, else two columns. */
static void layout(const figure *f, double w, double h, int *cols, int *rows)
{
    *cols = w >= 1.6 * h ? f->n_panels : h >= 1.6 * w ? 1 : 2;
    if (*cols > f->n_panels) *cols = f->n_panels;
    *rows = (f->n_panels + *cols - 1) / *cols;
}

static void draw_figure(cairo_t *cr, figure *f, double w, double h, const char *title)
{
    enum { TITLE_H = 34 };
    set_font(cr, FONT_TITLE, true);
    set_colour(cr, grey(0.1), 1);
    draw_text(cr, w / 2, TITLE_H / 2.0, title, 0.5, 0.5, 0);
    double lo, hi;
    x_range(f, &lo, &hi);
    int cols, rows;
    layout(f, w, h - TITLE_H, &cols, &rows);
    double cell_w = w / cols, cell_h = (h - TITLE_H) / rows;
    for (int i = 0; i < f->n_panels; i++) {
        panel *p = &f->panels[i];
        double ylo, yhi;
        y_range(p, &ylo, &yhi);
        p->ax = axis_fit(lo, hi, false);
        p->ay = axis_fit(ylo, yhi, p->log);
        draw_panel(cr, p, (i % cols) * cell_w, TITLE_H + (i / cols) * cell_h, cell_w, cell_h);
    }
}

cg_status cli_plot_curves(const char *path, const cli_run_log *runs, size_t n,
                          const cli_image_options *o)
{
    if (n == 0 || n > CLI_MAX_RUNS)
        return cg_set_error(CG_ERR_ARG, "between 1 and %d logs can be drawn together",
                            CLI_MAX_RUNS);
    figure f = {.n_runs = n};
    cg_status s = build_panels(&f, runs, o->log_scale);
    if (s == CG_OK && f.n_panels == 0)
        s = cg_set_error(CG_ERR_FORMAT, "nothing to draw: no finite loss, accuracy or learning "
                         "rate%s", o->log_scale ? " (and --log-scale needs losses above 0)" : "");
    canvas c;
    if (s == CG_OK) s = canvas_open(&c, path, o->width, o->height);
    if (s == CG_OK) {
        draw_figure(c.cr, &f, c.width, c.height, o->title ? o->title : "learning curves");
        s = canvas_save(&c);
    }
    free_figure(&f);
    return s;
}
