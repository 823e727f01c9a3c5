/* Attribution bar charts (cgrad explain on tabular and sequence inputs):
 * per sample the features with the largest |attribution|, largest first,
 * positive bars red to the right of zero, negative blue to the left. */
#include "canvas.h"
#include "plot.h"

#include <math.h>
#include <stdlib.h>

enum { WIDTH = 760, ROW = 22, HEAD = 40, TOP = 44, MARGIN = 16 };

typedef struct ranked {
    int64_t feature;
    double value;
} ranked;

static int by_magnitude(const void *a, const void *b)
{
    double x = fabs(((const ranked *)a)->value), y = fabs(((const ranked *)b)->value);
    if (x != y) return x < y ? 1 : -1;
    /* Ties in feature order, so the chart is the same on every platform. */
    int64_t i = ((const ranked *)a)->feature, j = ((const ranked *)b)->feature;
    return (i > j) - (i < j);
}

static int rows_of(const cli_bar_panel *p, int top_k)
{
    return (int)(p->n_features < top_k ? p->n_features : top_k);
}

static void draw_bars(cairo_t *cr, const cli_bar_panel *p, const ranked *r, int rows, double y0)
{
    set_font(cr, FONT_TICK, false);
    double names = 0;
    for (int i = 0; i < rows; i++) names = fmax(names, text_width(cr, p->names[r[i].feature]));
    double left = MARGIN + names + 10, right = WIDTH - MARGIN - 70;
    double scale = 0;
    for (int i = 0; i < rows; i++) scale = fmax(scale, fabs(r[i].value));
    if (scale == 0) scale = 1;
    bool any_negative = false;
    for (int i = 0; i < rows; i++) any_negative |= r[i].value < 0;
    double zero = any_negative ? (left + right) / 2 : left;
    double half = any_negative ? (right - left) / 2 : right - left;
    char text[48];
    for (int i = 0; i < rows; i++) {
        double y = y0 + i * ROW, len = r[i].value / scale * half;
        set_colour(cr, r[i].value >= 0 ? (rgb){0.84, 0.15, 0.16} : (rgb){0.12, 0.47, 0.71}, 0.85);
        cairo_rectangle(cr, len >= 0 ? zero : zero + len, y + 3, fabs(len), ROW - 6);
        cairo_fill(cr);
        set_colour(cr, grey(0.1), 1);
        draw_text(cr, left - 8, y + ROW / 2.0, p->names[r[i].feature], 1, 0.5, 0);
        snprintf(text, sizeof text, "%.3g", r[i].value);
        draw_text(cr, len >= 0 ? zero + len + 4 : zero + 4, y + ROW / 2.0, text, 0, 0.5, 0);
    }
    set_colour(cr, grey(0.4), 1);
    cairo_set_line_width(cr, 1);
    cairo_move_to(cr, zero, y0);
    cairo_line_to(cr, zero, y0 + rows * ROW);
    cairo_stroke(cr);
}

static cg_status draw_panel(cairo_t *cr, const cli_bar_panel *p, int top_k, double y0)
{
    ranked *r = malloc((size_t)p->n_features * sizeof *r);
    if (!r) return cg_set_error(CG_ERR_NOMEM, "bar chart: out of memory");
    for (int64_t i = 0; i < p->n_features; i++) r[i] = (ranked){i, p->attribution[i]};
    qsort(r, (size_t)p->n_features, sizeof *r, by_magnitude);
    set_font(cr, FONT_LABEL, true);
    set_colour(cr, grey(0.1), 1);
    draw_text(cr, MARGIN, y0 + 14, p->caption, 0, 0.5, 0);
    draw_bars(cr, p, r, rows_of(p, top_k), y0 + HEAD - 8);
    free(r);
    return CG_OK;
}

cg_status cli_plot_attribution_bars(const char *path, const cli_bar_panel *panels, size_t n,
                                    int top_k, const char *title)
{
    int height = TOP + MARGIN;
    for (size_t i = 0; i < n; i++) height += HEAD + rows_of(&panels[i], top_k) * ROW;
    canvas c;
    cg_status s = canvas_open(&c, path, WIDTH, height);
    if (s != CG_OK) return s;
    set_font(c.cr, FONT_TITLE, true);
    set_colour(c.cr, grey(0.1), 1);
    draw_text(c.cr, WIDTH / 2.0, 22, title, 0.5, 0.5, 0);
    double y = TOP;
    for (size_t i = 0; s == CG_OK && i < n; i++) {
        s = draw_panel(c.cr, &panels[i], top_k, y);
        y += HEAD + rows_of(&panels[i], top_k) * ROW;
    }
    if (s != CG_OK) {
        canvas_discard(&c);
        return s;
    }
    return canvas_save(&c);
}
