/* The confusion matrix as a heat map: one cell per (true, predicted) pair,
 * coloured by the share of the true class it holds, with its count. */
#include "canvas.h"
#include "plot.h"

#include <math.h>
#include <stdio.h>

typedef struct grid {
    double left, top, cell;   /* the matrix's top-left corner and cell size */
    int n;
} grid;

static int64_t row_total(const cli_confusion *cm, int t)
{
    int64_t sum = 0;
    for (int p = 0; p < cm->n_classes; p++) sum += cm->counts[(size_t)t * cm->n_classes + p];
    return sum;
}

/* White to dark blue, as matplotlib's "Blues" runs. */
static rgb shade(double share)
{
    const rgb light = {0.97, 0.98, 1.0}, dark = {0.03, 0.19, 0.42};
    return (rgb){light.r + share * (dark.r - light.r), light.g + share * (dark.g - light.g),
                 light.b + share * (dark.b - light.b)};
}

static double widest_name(cairo_t *cr, const cli_confusion *cm)
{
    double w = 0;
    for (int i = 0; i < cm->n_classes; i++) w = fmax(w, text_width(cr, cm->names[i]));
    return w;
}

/* Row names on the left, column names below at 45 degrees, axis titles
 * outside them; the matrix square in what is left. */
static grid place(cairo_t *cr, const cli_confusion *cm, double w, double h, double top)
{
    set_font(cr, FONT_LABEL, false);
    double names = widest_name(cr, cm);
    double left = 40 + names, bottom = 50 + names * M_SQRT1_2;
    double room = fmin(w - left - 20, h - top - bottom);
    grid g = {.n = cm->n_classes, .top = top};
    g.cell = fmax(room, 1) / g.n;
    g.left = left + fmax(0, (w - left - 20 - g.cell * g.n) / 2);
    return g;
}

static void draw_cells(cairo_t *cr, const cli_confusion *cm, const grid *g)
{
    double font = fmin(14, g->cell * 0.3);
    set_font(cr, font, false);
    char text[32];
    for (int t = 0; t < g->n; t++) {
        int64_t total = row_total(cm, t);
        for (int p = 0; p < g->n; p++) {
            int64_t count = cm->counts[(size_t)t * g->n + p];
            double share = total ? (double)count / (double)total : 0;
            double x = g->left + p * g->cell, y = g->top + t * g->cell;
            set_colour(cr, shade(share), 1);
            cairo_rectangle(cr, x, y, g->cell, g->cell);
            cairo_fill(cr);
            if (font < 6) continue;   /* too small to read: the colour says it */
            snprintf(text, sizeof text, "%lld", (long long)count);
            set_colour(cr, share > 0.5 ? grey(1) : grey(0.15), 1);
            draw_text(cr, x + g->cell / 2, y + g->cell / 2, text, 0.5, 0.5, 0);
        }
    }
    set_colour(cr, grey(0.4), 1);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, g->left, g->top, g->cell * g->n, g->cell * g->n);
    cairo_stroke(cr);
}

static void draw_names(cairo_t *cr, const cli_confusion *cm, const grid *g)
{
    set_font(cr, FONT_LABEL, false);
    set_colour(cr, grey(0.1), 1);
    double bottom = g->top + g->cell * g->n;
    for (int i = 0; i < g->n; i++) {
        double mid = (i + 0.5) * g->cell;
        draw_text(cr, g->left - 6, g->top + mid, cm->names[i], 1, 0.5, 0);
        draw_text(cr, g->left + mid, bottom + 8, cm->names[i], 1, 0.5, M_PI / 4);
    }
    set_font(cr, FONT_LABEL, true);
    double names = widest_name(cr, cm);
    draw_text(cr, g->left + g->cell * g->n / 2, bottom + 16 + names * M_SQRT1_2,
              "predicted class", 0.5, 0, 0);
    draw_text(cr, g->left - 16 - names, g->top + g->cell * g->n / 2, "true class", 0.5, 1,
              M_PI / 2);
}

static void draw_titles(cairo_t *cr, const cli_confusion *cm, double w, const char *title)
{
    set_font(cr, FONT_TITLE, true);
    set_colour(cr, grey(0.1), 1);
    draw_text(cr, w / 2, 18, title, 0.5, 0.5, 0);
    char sub[160];
    snprintf(sub, sizeof sub, "%lld samples, accuracy %.2f%%; colour: share of the true class",
             (long long)cm->samples,
             cm->samples ? 100.0 * (double)cm->correct / (double)cm->samples : 0.0);
    set_font(cr, FONT_TICK, false);
    set_colour(cr, grey(0.3), 1);
    draw_text(cr, w / 2, 40, sub, 0.5, 0.5, 0);
}

cg_status cli_plot_confusion(const char *path, const cli_confusion *cm,
                             const cli_image_options *o)
{
    canvas c;
    cg_status s = canvas_open(&c, path, o->width, o->height);
    if (s != CG_OK) return s;
    draw_titles(c.cr, cm, c.width, o->title ? o->title : "confusion matrix");
    grid g = place(c.cr, cm, c.width, c.height, 60);
    draw_cells(c.cr, cm, &g);
    draw_names(c.cr, cm, &g);
    return canvas_save(&c);
}
