/* What the drawings share: an image file being drawn (PNG, SVG or PDF by
 * its extension), text, colours and axes. Only cli/render/ includes it. */
#ifndef CGRAD_CLI_RENDER_CANVAS_H
#define CGRAD_CLI_RENDER_CANVAS_H

#include "cgrad.h"
#include "fileio.h"

#include <cairo.h>

typedef enum { IMAGE_PNG, IMAGE_SVG, IMAGE_PDF } image_format;

typedef struct canvas {
    cairo_surface_t *surface;
    cairo_t *cr;
    image_format format;
    cg_atomic_file file;      /* vector formats stream into it as they draw */
    cg_status write_status;   /* of the first failed write */
    double width, height;
} canvas;

/* A white canvas of the given size for path; the file appears only when
 * canvas_save succeeds. */
cg_status canvas_open(canvas *c, const char *path, int width, int height);
/* Writes the image and replaces path with it; releases c either way. */
cg_status canvas_save(canvas *c);
/* Releases c, leaving path as it was. */
void canvas_discard(canvas *c);
/* The format path's extension names. */
cg_status image_format_of(const char *path, image_format *out);

typedef struct rgb {
    double r, g, b;
} rgb;

/* Colours of the runs (matplotlib's "tab10": distinct, colour-blind aware). */
rgb run_colour(size_t i);
void set_colour(cairo_t *cr, rgb c, double alpha);
rgb grey(double level);

enum { FONT_TICK = 11, FONT_LABEL = 12, FONT_TITLE = 15 };

void set_font(cairo_t *cr, double size, bool bold);
double text_width(cairo_t *cr, const char *text);
/* Draws text with its anchor at (x, y): ax 0 / 0.5 / 1 puts the left edge,
 * the centre or the right edge there; ay the top, middle or bottom of the
 * font's capitals. angle in radians, counter-clockwise. */
void draw_text(cairo_t *cr, double x, double y, const char *text, double ax, double ay,
               double angle);

/* A value axis: the range shown, linear or logarithmic. */
typedef struct axis {
    double lo, hi;
    bool log;
} axis;

enum { MAX_TICKS = 32 };

/* The range shown for data in [lo, hi] (a little wider, and wide enough
 * for a single value). */
axis axis_fit(double lo, double hi, bool log);
/* Where v lies along the axis, 0 at lo and 1 at hi. */
double axis_fraction(const axis *a, double v);
/* Round values inside the range to mark: 1, 2, 5 x 10^k steps (whole
 * numbers only when integer). Returns how many; *step the spacing (linear). */
int axis_ticks(const axis *a, bool integer, double *ticks, double *step);
/* The label of a tick, with as many decimals as the spacing needs. */
void tick_label(const axis *a, double v, double step, char *buf, size_t size);

#endif
