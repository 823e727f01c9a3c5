/* Shared by the cgrad command-line tool's subcommands. */
#ifndef CGRAD_CLI_H
#define CGRAD_CLI_H

#include "cgrad.h"

#include <stdio.h>

/* Exit codes, as documented in `cgrad --help`. */
enum {
    EXIT_OK = 0,
    EXIT_FAILURE_OTHER = 1,   /* a failure while working (NaN, I/O while saving, ...) */
    EXIT_USAGE = 2,           /* bad usage or bad input */
    EXIT_INTERRUPTED = 130    /* stopped by SIGINT (128 + 2, as shells report it) */
};

int cmd_train(int argc, char **argv);

/* Sets a short OpenMP spin before sleeping unless the user chose a wait
 * policy, by running the program again with it (cli/wait_policy.c);
 * returns only when nothing was re-run. */
void cli_default_wait_policy(char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_explain(int argc, char **argv);

/* ---- messages (args.c) ---- */

/* Prints "cgrad <cmd>: <message>\n" to stderr and returns `code`. */
int cli_fail(int code, const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* cli_fail with cg_last_error() as the message. */
int cli_fail_lib(int code, const char *cmd);

/* ---- arguments (args.c) ---- */

/* Option parsing over argv[1..argc): "--name value" and "--name=value". */
typedef struct cli_args {
    int argc;
    char **argv;
    int i;                 /* next argument */
    const char *cmd;       /* for messages */
    const char *positional[16];   /* cgrad plot compares several logs */
    int n_positional;
    bool failed;           /* a message was printed */
} cli_args;

void cli_args_init(cli_args *a, const char *cmd, int argc, char **argv);
/* Advances to the next argument; false at the end. Non-option arguments are
 * collected into positional[]. */
bool cli_args_next(cli_args *a);
/* Is the current argument the flag `name` (without a value)? */
bool cli_flag(cli_args *a, const char *name);
/* Is the current argument option `name`? Then *value is its value (an
 * error is printed and a->failed set when it is missing). */
bool cli_option(cli_args *a, const char *name, const char **value);
/* Reports the current argument as unknown. */
void cli_unknown(cli_args *a);

/* Value parsers: print "--name: expected ..." and return false on error. */
bool cli_parse_int(const char *cmd, const char *name, const char *text, int64_t min,
                   int64_t max, int64_t *out);
bool cli_parse_float(const char *cmd, const char *name, const char *text, double lo, double hi,
                     double *out);

/* ---- shared loading (common.c) ---- */

/* How to read a CSV's columns: learned from the file (target, features,
 * classes: the --target/--features/--classes texts, NULL for defaults), or
 * as a model's table says. */
typedef struct cli_columns {
    const char *cmd;                 /* for the notes on stderr */
    const char *target, *features, *classes;
    const cg_table *table;
    bool targets_optional;           /* predict: a table without its target is inputs only */
    const int32_t *vocab;            /* text: a checkpoint's vocabulary, or NULL */
    int64_t vocab_size;
} cli_columns;

/* Loads the data named by spec for the model's input and loss: CSV targets
 * as classes for cross-entropy, as values otherwise (names with a table);
 * samples reshaped to the model's input shape. A header detected in a table
 * learned from the file is reported on stderr. */
cg_status cli_load_table(cg_dataset *out, const char *spec, const cg_model_spec *model,
                         const cli_columns *columns);
/* Writes text as one CSV field, quoted when it has to be. */
void cli_csv_field(FILE *f, const char *text);
/* cli_load_table with the default columns and a text model's vocabulary
 * (NULL: none); notes name the command cmd. */
cg_status cli_load_data(cg_dataset *out, const char *cmd, const char *spec,
                        const cg_model_spec *model, const int32_t *vocab, int64_t vocab_size);

/* A text model's vocabulary travels in checkpoint metadata ("text_vocab":
 * the code points, comma-separated), so token ids mean the same in
 * training, evaluation and sampling. */
#define CLI_VOCAB_META "text_vocab"
/* Reads it from f: true with *vocab NULL when absent, false (message
 * printed) when malformed. Free *vocab. */
bool cli_vocab_from_meta(const char *cmd, const char *path, const cg_st_file *f, int32_t **vocab,
                         int64_t *size);
/* The metadata value for d's vocabulary (malloc'd), or NULL without one. */
char *cli_vocab_to_meta(const cg_dataset *d);

/* A model ready for evaluation: from a checkpoint, whose stored model file
 * describes the layers, or from a plain weights file with model_path. */
typedef struct cli_model {
    cg_checkpoint *ck;
    cg_model_spec *spec;   /* owned when loaded from model_path */
    cg_model *model;
    cg_table *table;       /* the checkpoint's "table" (how it reads CSV columns), or NULL */
    int32_t *vocab;        /* a text model's vocabulary, or NULL */
    int64_t vocab_size;
} cli_model;

/* Returns an exit code (EXIT_OK on success; the message is printed). */
/* cg_model_load_weights, with a note on stderr for each buffer the file lacks. */
cg_status cli_load_weights(cg_model *model, const char *cmd, const char *path,
                           const cg_st_file *file);
/* The message for a file that failed to load as a checkpoint
 * (want_checkpoint) or as a model file: when it is the other kind, says
 * so, what `who` needs, and hint (may be NULL); otherwise cg_last_error().
 * Returns EXIT_USAGE. */
int cli_fail_load(const char *cmd, const char *path, bool want_checkpoint, const char *who,
                  const char *hint);
int cli_model_load(cli_model *m, const char *cmd, const char *ckpt_path, const char *model_path);
void cli_model_release(cli_model *m);

/* What eval and predict read besides their own flags. */
typedef struct cli_infer_options {
    const char *data, *model_path, *batch_text, *threads;
} cli_infer_options;

/* Is the current argument --data, --model, --batch or --threads? Then it is
 * stored in *o. */
bool cli_infer_option(cli_args *a, cli_infer_options *o);
/* After parsing for eval and predict: checks for one checkpoint and --data,
 * reads --batch (default 1024), applies --threads and loads the model.
 * Returns an exit code; on EXIT_OK, *m holds the model (release it). */
int cli_infer_setup(cli_model *m, int64_t *batch, const cli_args *a, const cli_infer_options *o);

/* Sets the thread count from --threads text (NULL: all cores). */
bool cli_set_threads(const char *cmd, const char *text);

/* ---- under mpirun (group.c) ---- */

/* Joins the job when an MPI launcher started cgrad (a group of one
 * otherwise); on ranks > 0 stdout goes to /dev/null. NULL with *code set
 * (message printed) on failure. */
cg_dist *cli_group_start(const char *cmd, int *code);
int cli_group_rank(void);
int cli_group_size(void);
/* Every rank's exit code in; the lowest failing rank's code out on every
 * rank (rank 0 says which rank failed). */
int cli_group_agree(cg_dist *d, const char *cmd, int code);
/* While on, failures are printed by rank 0 only (they are the same on every
 * rank: agreed by the library). */
void cli_group_quiet(bool on);
bool cli_group_silenced(void);
void cli_group_end(cg_dist *d);
/* ---- eval --per-sample (per_sample.c) ---- */

/* Writes index,label,predicted,confidence,loss,correct per sample for a
 * classifier (index,loss[,prediction,target] otherwise) to path, atomically. */
cg_status cli_per_sample_write(const char *path, cg_model *model, const cg_dataset *d, int64_t batch);
/* Can path be written? (Nothing is left behind.) */
cg_status cli_per_sample_check(const char *path);

/* ---- progress and logs (progress.c) ---- */

typedef struct cli_progress {
    FILE *out;            /* epoch lines */
    FILE *bar;            /* the live bar (a terminal), or NULL */
    FILE *log;            /* JSON lines, or NULL */
    const char *log_path; /* its name, for a write error */
    double last_draw;
    double run_start;
    int64_t samples_total;
    bool bar_visible;
    bool has_val;
    bool classification;
    bool bits_per_char;   /* a language model: losses also in bits per character */
    /* train --log-steps N: a step record every N steps (0: none), with the
     * mean loss since the last one (the epoch's sums when it was written). */
    int64_t log_steps;
    int64_t window_epoch;
    double window_loss_sum;
    int64_t window_samples;
    /* train --plot: the run so far, redrawn to plot_path after every epoch. */
    struct cli_run_log *history;
    const char *plot_path;
    bool plot_failed;
    bool plot_pending;     /* epochs not drawn yet (see redraw_plot) */
    double plot_seconds;   /* what the last drawing took */
    double plot_drawn_at;
} cli_progress;

void cli_progress_init(cli_progress *p, FILE *out, bool live_bar, FILE *log, bool has_val,
                       bool classification);
void cli_progress_batch(void *user, const cg_progress *pr);
void cli_progress_epoch(void *user, const cg_epoch_stats *s);
/* Erases the bar so that a message can follow. */
void cli_progress_clear(cli_progress *p);
/* Draws the epochs --plot has not drawn yet (at the end of training). */
void cli_progress_finish_plot(cli_progress *p);

/* Formats seconds as "1:05" or "1:02:03". */
void cli_format_duration(double seconds, char *buf, size_t size);

#endif
