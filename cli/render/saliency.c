/* Saliency maps (cgrad explain on image inputs): per sample a row of three
 * panels — the input, the attribution alone, the attribution over the
 * input — under a caption with the true and predicted class. */
#include "canvas.h"
#include "plot.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

enum { PANEL = 224, GAP = 16, CAPTION = 34, TOP = 48, MARGIN = 16 };

/* The value of pixel (y, x) of a [C, H, W] image, channels averaged. */
static double pixel(const float *img, const cli_saliency_panel *p, int y, int x)
{
    double sum = 0;
    for (int c = 0; c < p->channels; c++) sum += img[((int64_t)c * p->height + y) * p->width + x];
    return sum / p->channels;
}

/* Channels summed: one attribution per pixel. */
static double attribution(const cli_saliency_panel *p, int y, int x)
{
    return pixel(p->attribution, p, y, x) * p->channels;
}

static double largest_magnitude(const cli_saliency_panel *p)
{
    double m = 0;
    for (int y = 0; y < p->height; y++)
        for (int x = 0; x < p->width; x++) m = fmax(m, fabs(attribution(p, y, x)));
    return m > 0 ? m : 1;
}

/* Inputs are shown in grey from their own minimum to maximum. */
static void input_range(const cli_saliency_panel *p, double *lo, double *hi)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    for (int y = 0; y < p->height; y++)
        for (int x = 0; x < p->width; x++) {
            double v = pixel(p->input, p, y, x);
            *lo = fmin(*lo, v);
            *hi = fmax(*hi, v);
        }
    if (!(*hi > *lo)) *hi = *lo + 1;
}

/* Signed attributions: blue for negative, red for positive; magnitudes:
 * black through red and yellow to white ("hot"). s in [-1, 1] or [0, 1]. */
static rgb heat(double s, bool signed_values)
{
    if (signed_values) return s >= 0 ? (rgb){1, 1 - s, 1 - s} : (rgb){1 + s, 1 + s, 1};
    return (rgb){fmin(1, 3 * s), fmin(1, fmax(0, 3 * s - 1)), fmin(1, fmax(0, 3 * s - 2))};
}

typedef enum { SHOW_INPUT, SHOW_HEAT, SHOW_OVERLAY } panel_kind;

static uint32_t pack(rgb c)
{
    uint32_t r = (uint32_t)lround(255 * fmin(1, fmax(0, c.r)));
    uint32_t g = (uint32_t)lround(255 * fmin(1, fmax(0, c.g)));
    uint32_t b = (uint32_t)lround(255 * fmin(1, fmax(0, c.b)));
    return 0xff000000u | r << 16 | g << 8 | b;
}

/* The colour of one pixel of a panel. The overlay mixes the grey input
 * with the heat colour in proportion to the attribution's magnitude, so
 * unimportant pixels keep showing the image. */
static rgb panel_colour(const cli_saliency_panel *p, panel_kind kind, int y, int x, double lo,
                        double hi, double scale)
{
    double g = (pixel(p->input, p, y, x) - lo) / (hi - lo);
    double s = attribution(p, y, x) / scale;
    if (kind == SHOW_INPUT) return grey(g);
    rgb h = heat(s, p->signed_values);
    if (kind == SHOW_HEAT) return h;
    double w = fmin(1, fabs(s) * 1.5);
    g = 0.25 + 0.5 * g; /* a muted image under the colours */
    if (!p->signed_values) h = heat(fmax(0.35, fabs(s)), false);
    return (rgb){g + w * (h.r - g), g + w * (h.g - g), g + w * (h.b - g)};
}

static cg_status draw_panel(cairo_t *cr, const cli_saliency_panel *p, panel_kind kind, double x0,
                            double y0)
{
    cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, p->width, p->height);
    if (cairo_surface_status(img) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(img);
        return cg_set_error(CG_ERR_NOMEM, "saliency map: no memory for a %dx%d image", p->width,
                            p->height);
    }
    double lo, hi, scale = largest_magnitude(p);
    input_range(p, &lo, &hi);
    cairo_surface_flush(img);
    unsigned char *data = cairo_image_surface_get_data(img);
    int stride = cairo_image_surface_get_stride(img);
    for (int y = 0; y < p->height; y++) {
        uint32_t *row = (uint32_t *)(void *)(data + (size_t)y * (size_t)stride);
        for (int x = 0; x < p->width; x++)
            row[x] = pack(panel_colour(p, kind, y, x, lo, hi, scale));
    }
    cairo_surface_mark_dirty(img);
    cairo_save(cr);
    cairo_translate(cr, x0, y0);
    cairo_scale(cr, (double)PANEL / p->width, (double)PANEL / p->height);
    cairo_set_source_surface(cr, img, 0, 0);
    /* Pixels stay squares: blurring would invent structure. */
    cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
    cairo_paint(cr);
    cairo_restore(cr);
    cairo_surface_destroy(img);
    set_colour(cr, grey(0.6), 1);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, x0, y0, PANEL, PANEL);
    cairo_stroke(cr);
    return CG_OK;
}

static cg_status draw_row(cairo_t *cr, const cli_saliency_panel *p, double y0)
{
    static const char *const heads[] = {"input", "attribution", "attribution over input"};
    set_font(cr, FONT_LABEL, true);
    set_colour(cr, grey(0.1), 1);
    draw_text(cr, MARGIN, y0 + 8, p->caption, 0, 0.5, 0);
    set_font(cr, FONT_TICK, false);
    cg_status s = CG_OK;
    for (int k = 0; s == CG_OK && k < 3; k++) {
        double x0 = MARGIN + k * (PANEL + GAP);
        set_colour(cr, grey(0.35), 1);
        draw_text(cr, x0 + PANEL / 2.0, y0 + CAPTION - 8, heads[k], 0.5, 0.5, 0);
        s = draw_panel(cr, p, (panel_kind)k, x0, y0 + CAPTION);
    }
    return s;
}

cg_status cli_plot_saliency(const char *path, const cli_saliency_panel *panels, size_t n,
                            const char *title)
{
    int width = 2 * MARGIN + 3 * PANEL + 2 * GAP;
    int height = TOP + (int)n * (CAPTION + PANEL + GAP) + MARGIN;
    canvas c;
    cg_status s = canvas_open(&c, path, width, height);
    if (s != CG_OK) return s;
    set_font(c.cr, FONT_TITLE, true);
    set_colour(c.cr, grey(0.1), 1);
    draw_text(c.cr, c.width / 2, 22, title, 0.5, 0.5, 0);
    for (size_t i = 0; s == CG_OK && i < n; i++)
        s = draw_row(c.cr, &panels[i], TOP + (double)i * (CAPTION + PANEL + GAP));
    if (s != CG_OK) {
        canvas_discard(&c);
        return s;
    }
    return canvas_save(&c);
}
