/* Image files drawn with cairo, and the text, colours and axes that the
 * learning curves and the confusion heat map share. */
#include "canvas.h"
#include "plot.h"

#include <cairo-pdf.h>
#include <cairo-svg.h>

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

bool cli_plot_available(void) { return true; }

const char *const cli_plot_missing_message = "";

static bool has_extension(const char *path, const char *ext)
{
    size_t n = strlen(path), m = strlen(ext);
    return n > m && strcasecmp(path + n - m, ext) == 0;
}

cg_status image_format_of(const char *path, image_format *out)
{
    if (has_extension(path, ".png"))
        *out = IMAGE_PNG;
    else if (has_extension(path, ".svg"))
        *out = IMAGE_SVG;
    else if (has_extension(path, ".pdf"))
        *out = IMAGE_PDF;
    else
        return cg_set_error(CG_ERR_ARG, "%s: the image format is named by the extension: "
                            ".png, .svg or .pdf", path);
    return CG_OK;
}

cg_status cli_plot_check_output(const char *path)
{
    image_format format;
    cg_status s = image_format_of(path, &format);
    if (s != CG_OK) return s;
    cg_atomic_file probe;
    s = cg__atomic_open(&probe, path);
    cg__atomic_abort(&probe);
    return s;
}

/* cairo hands vector formats over in pieces as it draws them. */
static cairo_status_t write_piece(void *closure, const unsigned char *data, unsigned int length)
{
    canvas *c = closure;
    if (c->write_status == CG_OK) c->write_status = cg__atomic_write(&c->file, data, length);
    return c->write_status == CG_OK ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

static cairo_surface_t *create_surface(canvas *c, int width, int height)
{
    if (c->format == IMAGE_PNG)
        return cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
    if (c->format == IMAGE_PDF)
        return cairo_pdf_surface_create_for_stream(write_piece, c, width, height);
    cairo_surface_t *svg = cairo_svg_surface_create_for_stream(write_piece, c, width, height);
    /* The size asked for, in the unit browsers use (cairo's default is pt). */
    cairo_svg_surface_set_document_unit(svg, CAIRO_SVG_UNIT_PX);
    return svg;
}

cg_status canvas_open(canvas *c, const char *path, int width, int height)
{
    *c = (canvas){.width = width, .height = height};
    cg_status s = image_format_of(path, &c->format);
    if (s == CG_OK) s = cg__atomic_open(&c->file, path);
    if (s != CG_OK) return s;
    c->surface = create_surface(c, width, height);
    c->cr = cairo_create(c->surface);
    if (cairo_status(c->cr) != CAIRO_STATUS_SUCCESS) {
        s = cg_set_error(CG_ERR_NOMEM, "%s: cannot draw a %dx%d image: %s", path, width, height,
                         cairo_status_to_string(cairo_status(c->cr)));
        canvas_discard(c);
        return s;
    }
    cairo_set_source_rgb(c->cr, 1, 1, 1);
    cairo_paint(c->cr);
    return CG_OK;
}

static void release(canvas *c)
{
    cairo_destroy(c->cr);
    cairo_surface_destroy(c->surface);
    c->cr = NULL;
    c->surface = NULL;
}

void canvas_discard(canvas *c)
{
    /* Finishing first stops cairo writing into a file that is going away. */
    c->write_status = CG_ERR_IO;
    if (c->surface) cairo_surface_finish(c->surface);
    release(c);
    cg__atomic_abort(&c->file);
}

cg_status canvas_save(canvas *c)
{
    cairo_status_t drawn = cairo_status(c->cr);
    if (drawn == CAIRO_STATUS_SUCCESS && c->format == IMAGE_PNG)
        drawn = cairo_surface_write_to_png_stream(c->surface, write_piece, c);
    cairo_surface_finish(c->surface);
    if (drawn == CAIRO_STATUS_SUCCESS) drawn = cairo_surface_status(c->surface);
    cg_status s = c->write_status;
    if (s == CG_OK && drawn != CAIRO_STATUS_SUCCESS)
        s = cg_set_error(CG_ERR_IO, "%s: drawing failed: %s", c->file.path,
                         cairo_status_to_string(drawn));
    release(c);
    if (s != CG_OK) {
        cg__atomic_abort(&c->file);
        return s;
    }
    return cg__atomic_commit(&c->file);
}

/* ------------------------------------------------------------ colours, text */

rgb run_colour(size_t i)
{
    static const rgb tab10[] = {
        {0.122, 0.467, 0.706}, {1.000, 0.498, 0.055}, {0.173, 0.627, 0.173},
        {0.839, 0.153, 0.157}, {0.580, 0.404, 0.741}, {0.549, 0.337, 0.294},
        {0.890, 0.467, 0.761}, {0.498, 0.498, 0.498}, {0.737, 0.741, 0.133},
        {0.090, 0.745, 0.812},
    };
    return tab10[i % (sizeof tab10 / sizeof tab10[0])];
}

rgb grey(double level) { return (rgb){level, level, level}; }

void set_colour(cairo_t *cr, rgb c, double alpha)
{
    cairo_set_source_rgba(cr, c.r, c.g, c.b, alpha);
}

void set_font(cairo_t *cr, double size, bool bold)
{
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

double text_width(cairo_t *cr, const char *text)
{
    cairo_text_extents_t e;
    cairo_text_extents(cr, text, &e);
    return e.x_advance;
}

void draw_text(cairo_t *cr, double x, double y, const char *text, double ax, double ay,
               double angle)
{
    cairo_font_extents_t f;
    cairo_font_extents(cr, &f);
    /* Capitals rise about 0.72 of the font's ascent: centring on them looks
     * centred, centring on ascent + descent does not. */
    double cap = 0.72 * f.ascent;
    cairo_save(cr);
    cairo_translate(cr, x, y);
    cairo_rotate(cr, -angle);
    cairo_move_to(cr, -ax * text_width(cr, text), cap * (1.0 - ay));
    cairo_show_text(cr, text);
    cairo_restore(cr);
}

/* ------------------------------------------------------------ axes */

axis axis_fit(double lo, double hi, bool log)
{
    if (log) {
        double l = log10(lo), h = log10(hi);
        if (h - l < 1e-9) l -= 0.3, h += 0.3;   /* a factor of 2 either way */
        double pad = 0.05 * (h - l);
        /* Within what a double holds, for data up to 1e+-300. */
        return (axis){pow(10, fmax(l - pad, -306)), pow(10, fmin(h + pad, 306)), true};
    }
    if (hi - lo <= 1e-12 * fmax(fabs(lo), fabs(hi))) {
        double d = lo != 0 ? 0.1 * fabs(lo) : 1;
        lo -= d, hi += d;
    }
    double pad = 0.05 * (hi - lo);
    return (axis){lo - pad, hi + pad, false};
}

double axis_fraction(const axis *a, double v)
{
    if (a->log) return (log10(v) - log10(a->lo)) / (log10(a->hi) - log10(a->lo));
    return (v - a->lo) / (a->hi - a->lo);
}

/* The 1, 2, 5 x 10^k spacing that puts about five ticks in the range. */
static double nice_step(double range, bool integer)
{
    double raw = range / 5, mag = pow(10, floor(log10(raw)));
    double norm = raw / mag;
    double step = (norm < 1.5 ? 1 : norm < 3.5 ? 2 : norm < 7.5 ? 5 : 10) * mag;
    return integer && step < 1 ? 1 : step;
}

static int log_ticks(const axis *a, double *ticks)
{
    static const double sparse[] = {1, 2, 5}, dense[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    int n = 0;
    /* Short ranges need every mantissa to show more than one tick. */
    for (int pass = 0; pass < 2 && n < 3; pass++) {
        const double *m = pass ? dense : sparse;
        int count = pass ? 9 : 3;
        n = 0;
        for (int k = (int)floor(log10(a->lo)); k <= (int)ceil(log10(a->hi)); k++)
            for (int i = 0; i < count && n < MAX_TICKS; i++) {
                double v = m[i] * pow(10, k);
                if (v >= a->lo && v <= a->hi) ticks[n++] = v;
            }
    }
    return n;
}

int axis_ticks(const axis *a, bool integer, double *ticks, double *step)
{
    *step = 0;
    if (a->log) return log_ticks(a, ticks);
    *step = nice_step(a->hi - a->lo, integer);
    double first = ceil(a->lo / *step);
    int n = 0;
    for (double v = first * *step; v <= a->hi && n < MAX_TICKS; v = (first + n) * *step)
        ticks[n++] = fabs(v) < 1e-9 * *step ? 0 : v;  /* no "-0" from rounding */
    return n;
}

void tick_label(const axis *a, double v, double step, char *buf, size_t size)
{
    double big = fmax(fabs(a->lo), fabs(a->hi));
    if (a->log || step < 1e-4 || big >= 1e5) {
        snprintf(buf, size, "%g", v);
        return;
    }
    int decimals = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    snprintf(buf, size, "%.*f", decimals, v);
}
