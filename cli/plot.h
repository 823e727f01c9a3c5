/* Seeing what training did: metrics logs read back, confusion matrices,
 * and the images drawn from them (cli/render/, with cairo). */
#ifndef CGRAD_CLI_PLOT_H
#define CGRAD_CLI_PLOT_H

#include "cgrad.h"

#include <stdio.h>

/* ---- a run's metrics, from a --log file or gathered live (run_log.c) ---- */

/* One epoch record of the log; NaN where the log has null or no value. */
typedef struct cli_epoch_row {
    double epoch;   /* 1-based, as the log numbers them */
    double train_loss, train_accuracy, val_loss, val_accuracy, lr;
} cli_epoch_row;

/* One step record (train --log-steps N): the mean training loss of the
 * batches since the previous one, placed at its position in epochs. */
typedef struct cli_step_row {
    double x;       /* epoch - 1 + batch / batches */
    double loss;
} cli_step_row;

typedef struct cli_run_log {
    char label[256];            /* the legend's name for the run */
    cli_epoch_row *epochs;      /* sorted by epoch, one row per epoch */
    size_t n_epochs, epochs_cap;
    cli_step_row *steps;        /* sorted by x */
    size_t n_steps, steps_cap;
} cli_run_log;

/* Reads a `cgrad train --log` file (JSON lines). A record for an epoch or
 * step already read replaces it (a run restarted into the same log), with a
 * note on stderr. CG_ERR_FORMAT naming the line for anything that is not a
 * log record, CG_ERR_IO when it cannot be read. A file without records is
 * not an error here (callers decide). */
cg_status cli_run_log_read(cli_run_log *log, const char *path);
cg_status cli_run_log_add_epoch(cli_run_log *log, const cli_epoch_row *row);
cg_status cli_run_log_add_step(cli_run_log *log, const cli_step_row *row);
void cli_run_log_free(cli_run_log *log);
/* The log's step record, as train --log-steps writes it. */
void cli_run_log_write_step(FILE *f, int64_t step, int64_t epoch, int64_t batch, int64_t batches,
                            double loss);

/* ---- confusion matrices (confusion.c) ---- */

enum { CLI_CLASS_NAME_MAX = 64 };

typedef struct cli_confusion {
    int n_classes;
    int64_t *counts;                        /* [true * n_classes + predicted] */
    char (*names)[CLI_CLASS_NAME_MAX];      /* one per class */
    int64_t samples, correct;
} cli_confusion;

/* Counts the model's argmax predictions against the labels of d (a
 * cross_entropy classifier). Names: from classes_path (one per line) when
 * given, Fashion-MNIST's for its data specs, else the indices. */
cg_status cli_confusion_compute(cli_confusion *cm, cg_model *model, const cg_dataset *d,
                                int64_t batch, const char *data_spec, const char *classes_path);
void cli_confusion_free(cli_confusion *cm);
/* The matrix and per-class precision, recall and F1, as text. */
void cli_confusion_print(FILE *out, const cli_confusion *cm);
/* The same as JSON members (",\"classes\":[...],..."), to follow eval's. */
void cli_confusion_print_json(FILE *out, const cli_confusion *cm);

/* ---- images (cli/render/: cairo drawings, or without_cairo.c) ---- */

/* Logs on one plot: beyond that no one can tell them apart. */
enum { CLI_MAX_RUNS = 16 };
/* The learning curves' default size. */
enum { CLI_CURVES_WIDTH = 1500, CLI_CURVES_HEIGHT = 450 };

typedef struct cli_image_options {
    int width, height;   /* pixels for PNG, points for SVG and PDF */
    bool log_scale;      /* loss on a logarithmic axis */
    const char *title;   /* NULL: a default */
} cli_image_options;

/* Whether this build draws images (it was built with cairo). */
bool cli_plot_available(void);
/* What to tell a user of a build without cairo. */
extern const char *const cli_plot_missing_message;
/* Checks before long work that an image can be written to path: a known
 * extension (.png, .svg, .pdf) and a writable place (nothing is left). */
cg_status cli_plot_check_output(const char *path);
/* Learning curves of n runs: loss, accuracy, learning rate per epoch. The
 * file is replaced atomically. */
cg_status cli_plot_curves(const char *path, const cli_run_log *runs, size_t n,
                          const cli_image_options *o);
/* The confusion matrix as a heat map with counts in the cells. */
cg_status cli_plot_confusion(const char *path, const cli_confusion *cm,
                             const cli_image_options *o);

/* ---- explanations (cgrad explain; render/saliency.c, render/bars.c) ---- */

/* One explained sample of an image model: its input [channels, height,
 * width] and attribution of the same shape, and the caption's words. */
typedef struct cli_saliency_panel {
    const float *input, *attribution;
    int channels, height, width;
    bool signed_values;     /* attribution can be negative (diverging colours) */
    char caption[192];
} cli_saliency_panel;

/* A row per sample: the input, the attribution as a heat map, and the heat
 * map over the input. */
cg_status cli_plot_saliency(const char *path, const cli_saliency_panel *panels, size_t n,
                            const char *title);

/* One sample's attributions per feature, for a bar chart of the largest. */
typedef struct cli_bar_panel {
    const float *attribution;
    const char *const *names;   /* one per feature */
    int64_t n_features;
    char caption[192];
} cli_bar_panel;

/* A bar chart per sample of the top_k features by |attribution|. */
cg_status cli_plot_attribution_bars(const char *path, const cli_bar_panel *panels, size_t n,
                                    int top_k, const char *title);

/* Class names for captions, as eval --confusion names them: cm->n_classes
 * and cm->names allocated by the caller. */
cg_status cli_class_names(cli_confusion *cm, const char *data_spec, const char *classes_path);

/* "WxH" with both in [min, 10000]; prints the message itself. */
bool cli_parse_size(const char *cmd, const char *name, const char *text, int *w, int *h);

/* ---- the layer graph (graph_dot.c) ---- */

/* The model's layers and how they connect, as Graphviz DOT. */
void cli_write_dot(FILE *out, const cg_model_spec *spec);
/* cli_write_dot to stdout for a model file or a checkpoint's model;
 * returns an exit code. */
int cli_print_dot(const char *cmd, const char *path, bool model_file);

#endif
