/* cgrad train: a model file + data -> a trained checkpoint. */
#include "cli.h"
#include "plot.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const CMD = "train";

static void usage(FILE *out)
{
    fputs("usage: cgrad train MODEL.json --data SPEC [options]\n"
          "       cgrad train --resume CKPT --data SPEC [options]\n"
          "\n"
          "Trains the model a model file describes. Flags override the model file's values.\n"
          "\n"
          "  --data SPEC           training data (required): fashion-mnist:train,\n"
          "                        idx:IMAGES[,LABELS], csv:PATH[,header=yes|no] or\n"
          "                        text:PATH (a character-level language model's text; the\n"
          "                        last 5% is held out for validation unless\n"
          "                        --val/--val-split)\n"
          "  --val SPEC            validation data, evaluated after every epoch\n"
          "  --val-split F         hold out the last fraction F (0 < F < 1) of --data for\n"
          "                        validation\n"
          "  --target COL          csv: the target column, by header name or 1-based index\n"
          "                        (default: the last)\n"
          "  --features COLS       csv: the feature columns, comma-separated names or indices\n"
          "                        (default: all others)\n"
          "  --classes FILE        csv: the class names, one a line, in index order (default:\n"
          "                        text labels of --data, sorted)\n"
          "  --top-k K             validation also reports the top-K accuracy\n"
          "                        (cross_entropy; 2 <= K <= classes)\n"
          "  --epochs N            total number of epochs (with --resume: continue up to N)\n"
          "  --steps N             stop after N optimizer steps in all; the epoch they end\n"
          "                        in ends there (validation, log, checkpoint)\n"
          "  --batch N             minibatch size (the last, partial batch is kept)\n"
          "  --lr X                learning rate (the schedule's peak)\n"
          "  --seed N              seed for initialisation, shuffling and dropout\n"
          "  --threads N           threads to use (default: OMP_NUM_THREADS if set, else all\n"
          "                        cores); with the same seed and thread count, runs\n"
          "                        are bit-identical\n"
          "  --thread-policy P     adapt (default): while the cores are busy with other\n"
          "                        work, steps run on one thread if that is faster;\n"
          "                        fixed: always --threads; alternate: switch every\n"
          "                        step (a check). The result is the same bits for all\n"
          "                        three: --threads alone decides how work is divided\n"
          "  --no-shuffle          keep the data's file order\n"
          "  --init W.safetensors  start from these weights (e.g. exported from PyTorch)\n"
          "  --resume CKPT         continue a run saved with --save: weights, optimizer\n"
          "                        state, RNG state and position; MODEL.json may be left out\n"
          "  --save OUT.safetensors  checkpoint after every epoch, when interrupted, and at\n"
          "                        the end (written atomically)\n"
          "  --save-every N|T      also checkpoint inside epochs: every N steps, or every T of\n"
          "                        training time (e.g. 90s, 30m, 2h)\n"
          "  --keep K              with --save-every: keep the last K of those checkpoints as\n"
          "                        OUT.step-<n>.safetensors beside OUT.safetensors\n"
          "  --save-best BEST.safetensors  after every epoch whose --monitor value is the best\n"
          "                        so far, checkpoint to BEST (--save still holds the latest)\n"
          "  --monitor M           val_loss (default), val_accuracy, val_mae, val_rmse,\n"
          "                        val_r2, val_top_k_accuracy (with --top-k), or the same\n"
          "                        with train_: losses and errors improve downwards,\n"
          "                        accuracies and R2 upwards\n"
          "  --early-stop P        stop after P epochs in a row without improvement\n"
          "  --min-delta D         with --early-stop: improving means beating the best by\n"
          "                        more than D (default 0)\n"
          "  --restore-best        with --early-stop: end with the best epoch's weights (also\n"
          "                        saved to --save), read from --save-best (default\n"
          "                        OUT.best.safetensors beside --save OUT.safetensors)\n"
          "  --log FILE            one JSON object per epoch; an existing FILE is refused\n"
          "                        unless --log-append (add to it) or --force (replace it)\n"
          "  --log-steps N         also a record every N steps with the mean training loss\n"
          "                        since the last one ({\"step\":..,\"loss\":..}), which\n"
          "                        `cgrad plot` and --plot draw smoothed\n"
          "  --plot FILE           redraw the learning curves (as `cgrad plot` does) to FILE\n"
          "                        (.png, .svg, .pdf) after every epoch, to watch a run\n"
          "                        (epochs shorter than ten drawings are drawn in groups)\n"
          "  --allow-data-change   resume on data other than the run's (see below)\n"
          "  --profile             at the end, print to stderr where a step's time went:\n"
          "                        per phase (data, forward, loss, backward, checks,\n"
          "                        clip, optimizer), per layer type (forward), per op\n"
          "                        (backward), in ms per step\n"
          "  -h, --help            this help\n"
          "\n"
          "CSV: line 1 is a header when none of its fields is a number (csv:PATH,header=yes\n"
          "or header=no to say so). Text columns are categories (one-hot), text targets\n"
          "class names; both are stored in the checkpoint, with the columns, for eval and\n"
          "predict.\n"
          "\n"
          "A resumed run continues the run it resumes: unless given again, --save is the\n"
          "checkpoint resumed from, and the run's --val/--val-split and --log are reused\n"
          "(appending). The checkpoint records a fingerprint of the training data; resuming\n"
          "on other data is refused unless --allow-data-change.\n"
          "\n"
          "Data-parallel: `mpirun -np N cgrad train ...` trains on N processes (also on\n"
          "several machines, with a hostfile): --batch stays the global batch and must\n"
          "divide by N; each rank takes its share of every batch, gradients are averaged,\n"
          "and rank 0 prints, logs and saves the same checkpoint one process would (it\n"
          "resumes on any number of ranks). Files must be readable on every rank; a rank\n"
          "that fails stops them all. See docs/distributed.md.\n"
          "\n"
          "Ctrl-C, SIGTERM and SIGHUP finish the current step, save to --save and exit\n"
          "with 128 + the signal's number (130, 143, 129); a second signal stops at once.\n"
          "Exit status: 0 done, 1 failure while training (NaN/Inf, failed save),\n"
          "2 bad usage or input, 129/130/143 interrupted.\n",
          out);
}

typedef struct train_args {
    const char *model_path, *data, *val, *init, *resume, *save, *log, *threads;
    const char *epochs, *steps, *batch, *lr, *seed, *val_split, *save_every, *keep, *top_k;
    const char *save_best, *monitor, *early_stop, *min_delta, *plot, *log_steps;
    const char *target, *features, *classes, *thread_policy;
    bool no_shuffle, log_append, force, allow_data_change, restore_best, profile;
} train_args;

/* Returns -1 to go on, or an exit code. */
static int parse_args(train_args *t, int argc, char **argv)
{
    cli_args a;
    cli_args_init(&a, CMD, argc, argv);
    *t = (train_args){0};
    struct {
        const char *name;
        const char **dst;
    } options[] = {
        {"--data", &t->data},       {"--val", &t->val},       {"--val-split", &t->val_split},
        {"--epochs", &t->epochs},   {"--steps", &t->steps},   {"--batch", &t->batch},   {"--lr", &t->lr},
        {"--seed", &t->seed},       {"--threads", &t->threads}, {"--init", &t->init},
        {"--resume", &t->resume},   {"--save", &t->save},     {"--log", &t->log},
        {"--save-every", &t->save_every}, {"--keep", &t->keep}, {"--top-k", &t->top_k},
        {"--save-best", &t->save_best}, {"--monitor", &t->monitor},
        {"--early-stop", &t->early_stop}, {"--min-delta", &t->min_delta},
        {"--target", &t->target}, {"--features", &t->features}, {"--classes", &t->classes},
        {"--plot", &t->plot},       {"--log-steps", &t->log_steps},
        {"--thread-policy", &t->thread_policy},
    };
    while (cli_args_next(&a)) {
        if (cli_flag(&a, "--help") || cli_flag(&a, "-h")) {
            usage(stdout);
            return EXIT_OK;
        }
        struct {
            const char *name;
            bool *dst;
        } flags[] = {{"--no-shuffle", &t->no_shuffle}, {"--log-append", &t->log_append},
                     {"--force", &t->force}, {"--allow-data-change", &t->allow_data_change},
                     {"--restore-best", &t->restore_best}, {"--profile", &t->profile}};
        bool flagged = false;
        for (size_t i = 0; !flagged && i < sizeof flags / sizeof flags[0]; i++)
            if ((flagged = cli_flag(&a, flags[i].name))) *flags[i].dst = true;
        if (flagged) continue;
        bool matched = false;
        for (size_t i = 0; !matched && i < sizeof options / sizeof options[0]; i++)
            matched = cli_option(&a, options[i].name, options[i].dst);
        if (!matched) cli_unknown(&a);
    }
    if (a.failed) return EXIT_USAGE;
    if (a.n_positional > 1) return cli_fail(EXIT_USAGE, CMD, "expected one model file; see --help");
    t->model_path = a.n_positional ? a.positional[0] : NULL;
    if (!t->model_path && !t->resume)
        return cli_fail(EXIT_USAGE, CMD, "no model file given; see --help");
    if (!t->data) return cli_fail(EXIT_USAGE, CMD, "--data SPEC is required; see --help");
    if (t->val && t->val_split) return cli_fail(EXIT_USAGE, CMD, "give --val or --val-split, not both");
    if (t->init && t->resume) return cli_fail(EXIT_USAGE, CMD, "give --init or --resume, not both");
    if (t->keep && !t->save_every)
        return cli_fail(EXIT_USAGE, CMD, "--keep needs --save-every; see --help");
    if (t->log_append && t->force)
        return cli_fail(EXIT_USAGE, CMD, "give --log-append or --force, not both");
    if (t->resume && (t->target || t->features || t->classes))
        return cli_fail(EXIT_USAGE, CMD, "%s: a resumed run reads the columns as the run did "
                        "(the checkpoint's table); leave it out",
                        t->target ? "--target" : t->features ? "--features" : "--classes");
    return -1;
}

/* ------------------------------------------------------------ configuration */

/* --monitor, --early-stop, --min-delta, --restore-best into the spec, so
 * that checkpoints record them and a resumed run keeps them. */
static bool apply_callback_flags(const train_args *t, cg_early_stop_config *es)
{
    int64_t v;
    double x;
    if (t->monitor && !cg_monitor_from_name(t->monitor, &es->monitor)) {
        cli_fail(EXIT_USAGE, CMD, "--monitor: expected val_loss, val_accuracy, val_mae, "
                                  "val_rmse, val_r2, val_top_k_accuracy or the same with train_ "
                                  "instead of val_, got '%s'", t->monitor);
        return false;
    }
    if (t->early_stop) {
        if (!cli_parse_int(CMD, "--early-stop", t->early_stop, 1, INT32_MAX, &v)) return false;
        es->patience = v;
    }
    if (t->min_delta) {
        if (!cli_parse_float(CMD, "--min-delta", t->min_delta, 0, 1e30, &x)) return false;
        es->min_delta = x;
    }
    if (t->restore_best) es->restore_best = true;
    if ((t->min_delta || t->restore_best) && es->patience == 0) {
        cli_fail(EXIT_USAGE, CMD,
                 "%s needs --early-stop P (or \"early_stop\" in the model file's \"train\")",
                 t->min_delta ? "--min-delta" : "--restore-best");
        return false;
    }
    return true;
}

/* The model file's values with the flags applied. Returns false after
 * printing a message. */
static bool apply_flags(const train_args *t, cg_model_spec *spec)
{
    int64_t v;
    double x;
    if (t->epochs) {
        if (!cli_parse_int(CMD, "--epochs", t->epochs, 1, INT32_MAX, &v)) return false;
        spec->train.epochs = v;
    }
    if (t->steps) {
        if (!cli_parse_int(CMD, "--steps", t->steps, 1, INT64_C(1) << 53, &v)) return false;
        spec->train.steps = v;
    }
    if (t->batch) {
        if (!cli_parse_int(CMD, "--batch", t->batch, 1, INT32_MAX, &v)) return false;
        spec->train.batch = v;
    }
    if (t->seed) {
        /* 2^53: the largest integer a model file (JSON number) holds exactly. */
        if (!cli_parse_int(CMD, "--seed", t->seed, 0, INT64_C(1) << 53, &v)) return false;
        spec->train.seed = (uint64_t)v;
    }
    if (t->lr) {
        if (!cli_parse_float(CMD, "--lr", t->lr, 1e-30, 1e30, &x)) return false;
        spec->optim.lr = (float)x;
    }
    if (t->no_shuffle) spec->train.shuffle = false;
    return apply_callback_flags(t, &spec->train.early_stop);
}

typedef struct session {
    train_args args;
    cg_checkpoint *ck;       /* --resume */
    cg_model_spec *spec;     /* effective configuration */
    cg_dataset data, val_data, train_view, val_view;
    int32_t *ck_vocab;       /* the resumed run's text vocabulary, or NULL */
    int64_t ck_vocab_size;
    char *vocab_meta;        /* the text vocabulary, recorded in checkpoints */
    const cg_dataset *train, *val;
    cg_model *model;
    cg_optim *opt;
    cg_train_state state;
    FILE *log;
    cli_run_log history;           /* --plot */
    char fingerprint[96];          /* of --data, before any split */
    cg_dist *dist;                 /* under mpirun: the ranks training together */
    int64_t first_step;            /* state.step when this run started */
    cg_table *run_table;           /* --resume: how the run read its CSV columns */
    char *table_json, *classes_json; /* the data's table, recorded in checkpoints */
    const char *meta[17];          /* the run's settings, recorded in checkpoints */
} session;

static void session_release(session *s)
{
    if (s->log) fclose(s->log);
    cli_run_log_free(&s->history);
    cg_optim_destroy(s->opt);
    cg_model_destroy(s->model);
    cg_dataset_free(&s->val_data);
    cg_dataset_free(&s->data);
    cg_model_spec_free(s->spec);
    cg_checkpoint_free(s->ck);
    cg_table_free(s->run_table);
    free(s->table_json);
    free(s->classes_json);
    free(s->ck_vocab);
    free(s->vocab_meta);
}

static void note(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

static void note(const char *fmt, ...)
{
    if (cli_group_rank() > 0) return; /* every rank would say the same */
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "cgrad %s: note: ", CMD);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* A resumed run continues the run it resumes: where to save, what to
 * validate on and where to log come from the checkpoint unless given. */
static void inherit_run_settings(session *s)
{
    train_args *t = &s->args;
    const cg_st_file *f = s->ck->file;
    const char *val = cg_st_meta(f, "run_val"), *split = cg_st_meta(f, "run_val_split");
    const char *log = cg_st_meta(f, "run_log");
    if (!t->save) {
        t->save = t->resume;
        note("saving to %s, the checkpoint resumed from (--save to change)", t->save);
    }
    if (!t->val && !t->val_split) {
        if ((t->val = val)) note("validating on %s, as the run did", val);
        if ((t->val_split = split)) note("holding out the last %s of the data for validation, as "
                                         "the run did", split);
    } else if ((val && (!t->val || strcmp(t->val, val) != 0)) ||
               (split && (!t->val_split || strcmp(t->val_split, split) != 0))) {
        note("validation changed: the run used %s %s", val ? "--val" : "--val-split",
             val ? val : split);
    }
    if (!t->log && log) {
        t->log = log;
        note("logging to %s (appending), as the run did", log);
    }
    const char *top_k = cg_st_meta(f, "run_top_k");
    if (!t->top_k && top_k) {
        t->top_k = top_k;
        note("reporting the top-%s accuracy, as the run did", top_k);
    }
}

static int load_config(session *s)
{
    train_args *t = &s->args;
    if (t->resume) {
        if (cg_checkpoint_load(t->resume, &s->ck) != CG_OK)
            return cli_fail_load(CMD, t->resume, true, "--resume", NULL);
        if (!s->ck->has_state || !s->ck->spec)
            return cli_fail(EXIT_USAGE, CMD,
                            "%s is not a cgrad training checkpoint (no training state in its "
                            "metadata); use --init to start from its weights",
                            t->resume);
        inherit_run_settings(s);
        const char *table = cg_st_meta(s->ck->file, "table");
        if (table && cg_table_from_json(table, &s->run_table) != CG_OK)
            return cli_fail(EXIT_USAGE, CMD, "%s: __metadata__ \"table\": %s", t->resume,
                            cg_last_error());
        if (!cli_vocab_from_meta(CMD, t->resume, s->ck->file, &s->ck_vocab, &s->ck_vocab_size))
            return EXIT_USAGE;
    }
    if (t->model_path) {
        if (cg_model_spec_load(t->model_path, &s->spec) != CG_OK)
            return cli_fail_load(CMD, t->model_path, false, "`cgrad train`",
                                 "; to continue the run it saved use --resume CKPT, to start "
                                 "from its weights --init CKPT beside the model file");
    } else {
        s->spec = cg_model_spec_clone(s->ck->spec);
        if (!s->spec) return cli_fail_lib(EXIT_FAILURE_OTHER, CMD);
    }
    if (!apply_flags(t, s->spec)) return EXIT_USAGE;
    if (cg_model_spec_check_memory(s->spec, s->spec->train.batch) != CG_OK)
        return cli_fail_lib(EXIT_USAGE, CMD);
    return EXIT_OK;
}

/* The class names learned from --data, and the table for the checkpoints. */
static int record_table(session *s)
{
    const cg_table *t = s->data.table;
    if (!t) return EXIT_OK;
    if (t->classes && !s->run_table) {
        fprintf(stderr, "cgrad %s: note: %d classes:", CMD, (int)t->n_classes);
        for (int32_t i = 0; i < t->n_classes; i++)
            fprintf(stderr, "%s %d '%s'", i ? "," : "", (int)i, t->classes[i]);
        fputc('\n', stderr);
    }
    s->table_json = cg_table_to_json(t);
    s->classes_json = cg_table_classes_json(t);
    if (!s->table_json || (t->classes && !s->classes_json)) return cli_fail_lib(EXIT_FAILURE_OTHER, CMD);
    return EXIT_OK;
}

static int load_data(session *s)
{
    train_args *t = &s->args;
    cli_columns columns = {.cmd = CMD, .target = t->target, .features = t->features,
                           .classes = t->classes, .table = s->run_table, .vocab = s->ck_vocab,
                           .vocab_size = s->ck_vocab_size};
    if (cli_load_table(&s->data, t->data, s->spec, &columns) != CG_OK)
        return cli_fail_lib(EXIT_USAGE, CMD);
    if (!s->data.table && (t->target || t->features || t->classes))
        return cli_fail(EXIT_USAGE, CMD, "%s is for CSV tables; --data %s is not one",
                        t->target ? "--target" : t->features ? "--features" : "--classes", t->data);
    if (record_table(s) != EXIT_OK) return EXIT_FAILURE_OTHER;
    cg_dataset_fingerprint(&s->data, s->fingerprint, sizeof s->fingerprint);
    s->train = &s->data;
    if (s->data.vocab) {
        if (!(s->vocab_meta = cli_vocab_to_meta(&s->data)))
            return cli_fail(EXIT_FAILURE_OTHER, CMD, "out of memory");
        if (!t->val && !t->val_split) {
            t->val_split = "0.05";
            note("holding out the last 5%% of the text for validation (--val-split to change)");
        }
    }
    if (t->val) {
        /* Validation data is read as the training data was: its categories and classes. */
        cli_columns val_columns = {.cmd = CMD, .table = s->data.table, .vocab = s->data.vocab,
                                   .vocab_size = s->data.vocab_size};
        if (cli_load_table(&s->val_data, t->val, s->spec, &val_columns) != CG_OK)
            return cli_fail_lib(EXIT_USAGE, CMD);
        s->val = &s->val_data;
    } else if (t->val_split) {
        char *end;
        double f = strtod(t->val_split, &end);
        if (end == t->val_split || *end || !(f > 0 && f < 1))
            return cli_fail(EXIT_USAGE, CMD, "--val-split: expected a number in (0, 1), got \"%s\"",
                            t->val_split);
        if (cg_dataset_split(&s->data, f, &s->train_view, &s->val_view) != CG_OK)
            return cli_fail_lib(EXIT_USAGE, CMD);
        s->train = &s->train_view;
        s->val = &s->val_view;
    }
    return EXIT_OK;
}

static int load_weights(session *s, const char *path, const cg_st_file *file)
{
    if (cli_load_weights(s->model, CMD, path, file) != CG_OK)
        return cli_fail(EXIT_USAGE, CMD, "%s: %s", path, cg_last_error());
    return EXIT_OK;
}

static int init_weights(session *s)
{
    cg_st_file *f;
    if (cg_safetensors_load(s->args.init, &f) != CG_OK)
        return cli_fail_load(CMD, s->args.init, true, "--init", NULL);
    int code = load_weights(s, s->args.init, f);
    cg_safetensors_free(f);
    return code;
}

/* A run stopped inside an epoch continues that epoch's order, which depends
 * on the batch size, seed and shuffling: they must not change. */
static int check_mid_epoch_resume(const session *s)
{
    const cg_train_config *was = &s->ck->spec->train, *now = &s->spec->train;
    if (s->ck->state.batch_in_epoch == 0) return EXIT_OK;
    if (was->batch == now->batch && was->seed == now->seed && was->shuffle == now->shuffle &&
        s->ck->state.seen < s->train->count)
        return EXIT_OK;
    return cli_fail(EXIT_USAGE, CMD,
                    "%s was saved inside epoch %lld; resume it with the same data, --batch "
                    "(%lld), --seed (%llu) and shuffling",
                    s->args.resume, (long long)s->ck->state.epoch + 1, (long long)was->batch,
                    (unsigned long long)was->seed);
}

/* A checkpoint's stored train.epochs is its run's total (--epochs applied),
 * which the run never passes, and inside an epoch the batches done account
 * for exactly the samples seen: a file that says otherwise was altered. */
static int check_resume_position(const session *s)
{
    const cg_train_state *st = &s->ck->state;
    const cg_train_config *was = &s->ck->spec->train;
    bool ok = st->epoch <= was->epochs;
    if (st->batch_in_epoch > 0)
        ok = ok && st->epoch < was->epochs && st->seen % was->batch == 0 &&
             st->seen / was->batch == st->batch_in_epoch;
    if (ok) return EXIT_OK;
    return cli_fail(EXIT_USAGE, CMD,
                    "%s: the training state in __metadata__ (epoch %lld, batch %lld, %lld samples "
                    "seen) does not fit its model's train settings (epochs %lld, batch %lld)",
                    s->args.resume, (long long)st->epoch, (long long)st->batch_in_epoch,
                    (long long)st->seen, (long long)was->epochs, (long long)was->batch);
}

/* Resuming on other data would continue a run that never was. */
static int check_same_data(const session *s)
{
    const char *was = cg_st_meta(s->ck->file, "run_data");
    if (!was || strcmp(was, s->fingerprint) == 0) return EXIT_OK;
    if (s->args.allow_data_change) {
        note("--data %s (%s) differs from the run's data (%s); continuing on it as asked",
             s->args.data, s->fingerprint, was);
        return EXIT_OK;
    }
    return cli_fail(EXIT_USAGE, CMD,
                    "%s was trained on other data (%s); --data %s has %s. Resume on the run's "
                    "data, or pass --allow-data-change",
                    s->args.resume, was, s->args.data, s->fingerprint);
}

static int resume_state(session *s)
{
    int code = check_same_data(s);
    if (code == EXIT_OK) code = check_resume_position(s);
    if (code == EXIT_OK) code = check_mid_epoch_resume(s);
    if (code == EXIT_OK) code = load_weights(s, s->args.resume, s->ck->file);
    if (code != EXIT_OK) return code;
    if (cg_checkpoint_restore_optim(s->ck, s->model, s->opt) != CG_OK)
        return cli_fail(EXIT_USAGE, CMD, "%s: %s", s->args.resume, cg_last_error());
    s->state = s->ck->state;
    return EXIT_OK;
}

static int build(session *s)
{
    if (s->ck && cg_model_spec_check_file(s->spec, s->ck->file) != CG_OK)
        return cli_fail(EXIT_USAGE, CMD, "%s: %s", s->args.resume, cg_last_error());
    cg_rng rng = cg_train_rng(s->spec->train.seed, 0, CG_STREAM_INIT);
    s->model = cg_model_create(s->spec, &rng);
    if (!s->model) return cli_fail_lib(EXIT_FAILURE_OTHER, CMD);
    if (cg_model_check_data(s->model, s->train) != CG_OK) return cli_fail_lib(EXIT_USAGE, CMD);
    if (s->val && cg_model_check_data(s->model, s->val) != CG_OK) return cli_fail_lib(EXIT_USAGE, CMD);
    if (cg_model_is_stateful(s->model) && s->spec->train.shuffle)
        return cli_fail(EXIT_USAGE, CMD, "a stateful layer carries its state from one batch to the "
                                         "next, so the data must stay in order: set \"shuffle\": "
                                         "false in \"train\" or pass --no-shuffle");
    /* From the training part only; --init and --resume then load their own. */
    if (cg_model_adapt(s->model, s->train) != CG_OK) return cli_fail_lib(EXIT_USAGE, CMD);
    s->opt = cg_optim_create(cg_model_params(s->model), &s->spec->optim);
    if (!s->opt) return cli_fail_lib(EXIT_USAGE, CMD);
    if (cg_model_apply_no_decay(s->model, s->opt) != CG_OK) return cli_fail_lib(EXIT_USAGE, CMD);
    s->state = cg_train_state_init(s->spec->train.seed);
    if (s->args.init) return init_weights(s);
    if (s->args.resume) return resume_state(s);
    return EXIT_OK;
}

/* --plot draws the whole run: what an appended log already holds, then
 * every epoch of this one. */
static int open_plot(session *s)
{
    const train_args *t = &s->args;
    if (!t->plot) return EXIT_OK;
    if (!cli_plot_available())
        return cli_fail(EXIT_FAILURE_OTHER, CMD, "--plot: %s", cli_plot_missing_message);
    if (cli_plot_check_output(t->plot) != CG_OK)
        return cli_fail(EXIT_USAGE, CMD, "--plot: %s", cg_last_error());
    bool appending = t->log && (t->resume || t->log_append);
    if (appending && cli_run_log_read(&s->history, t->log) != CG_OK) {
        note("--plot: %s; drawing this run's epochs only", cg_last_error());
        cli_run_log_free(&s->history);
    }
    snprintf(s->history.label, sizeof s->history.label, "%s", t->log ? t->log : "this run");
    return EXIT_OK;
}

static int open_outputs(session *s)
{
    const train_args *t = &s->args;
    if (cli_group_rank() > 0) return EXIT_OK; /* rank 0 writes every file */
    if (t->save && cg_checkpoint_check_writable(t->save) != CG_OK)
        return cli_fail(EXIT_USAGE, CMD, "--save: %s", cg_last_error());
    if (t->log) {
        struct stat st;
        bool exists = stat(t->log, &st) == 0 && st.st_size > 0;
        if (exists && !t->resume && !t->log_append && !t->force)
            return cli_fail(EXIT_USAGE, CMD, "--log: %s exists; --log-append adds to it, --force "
                                             "replaces it", t->log);
        s->log = fopen(t->log, t->force && !t->resume ? "w" : "a");
        if (!s->log) return cli_fail(EXIT_USAGE, CMD, "--log: cannot open %s", t->log);
    }
    return open_plot(s);
}

/* ------------------------------------------------------------ running */

/* The signal that asked training to stop (0: none). */
static volatile sig_atomic_t interrupt_flag;

static void on_stop_signal(int sig)
{
    interrupt_flag = sig;
    /* A second signal stops at once (the checkpoint on disk stays whole:
     * saves are atomic). */
    signal(sig, SIG_DFL);
}

/* Ctrl-C, and what batch schedulers and `docker stop` send before killing
 * (SIGTERM) or a closed terminal (SIGHUP): save and exit, losing nothing. */
static void install_stop_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    const int signals[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < 3; i++) sigaction(signals[i], &sa, NULL);
}

static const char *signal_text(int sig)
{
    return sig == SIGTERM ? " by SIGTERM" : sig == SIGHUP ? " by SIGHUP" : "";
}

static void print_summary(const session *s, double seconds)
{
    const cg_train_state *st = &s->state;
    bool has_acc = isfinite(st->train_accuracy);
    char took[32];
    cli_format_duration(seconds, took, sizeof took);
    printf("done: %lld epoch%s, %lld step%s, %s (%.1f s)  train loss %.4f", (long long)st->epoch,
           st->epoch == 1 ? "" : "s", (long long)st->step, st->step == 1 ? "" : "s", took, seconds,
           st->train_loss);
    if (has_acc) printf(" acc %.2f%%", 100.0 * st->train_accuracy);
    if (s->val) {
        printf("  val loss %.4f", st->val_loss);
        if (has_acc) printf(" acc %.2f%%", 100.0 * st->val_accuracy);
    }
    if (s->args.save) printf("  saved %s", s->args.save);
    printf("\n");
}

static int report_failure(const session *s, cg_status status)
{
    const char *save = s->args.save;
    if (status == CG_ERR_INTERRUPTED) {
        int code = 128 + interrupt_flag, sig = interrupt_flag;
        if (save) return cli_fail(code, CMD, "%s%s; saved %s (resume with --resume %s)",
                                  cg_last_error(), signal_text(sig), save, save);
        return cli_fail(code, CMD, "%s%s; nothing saved (no --save)", cg_last_error(),
                        signal_text(sig));
    }
    if (status == CG_ERR_NUMERIC) {
        struct stat st;
        bool kept = save && stat(save, &st) == 0;  /* a checkpoint from before the NaN */
        return cli_fail(EXIT_FAILURE_OTHER, CMD,
                        "%s; %s%s%s\n  a lower --lr, or \"clip_grad_norm\" in the model file's "
                        "\"train\" section, usually helps",
                        cg_last_error(), kept ? save : "",
                        kept ? " was left as it was" : "nothing was saved",
                        kept ? " (the last good checkpoint)" : "");
    }
    /* Refused before a step changed anything (e.g. synchronised batch norm
     * with a last batch smaller than the ranks): bad input, as elsewhere. */
    if (status == CG_ERR_ARG && s->state.step == s->first_step) return cli_fail_lib(EXIT_USAGE, CMD);
    return cli_fail_lib(EXIT_FAILURE_OTHER, CMD);
}

/* --save-every: a step count, or a time with a unit (s, m, h). */
static bool parse_save_every(const char *text, cg_train_options *o)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    double unit = *end == 's' ? 1 : *end == 'm' ? 60 : *end == 'h' ? 3600 : 0;
    bool ok = !errno && end != text && v > 0 && isfinite(v);
    if (ok && *end == '\0' && v == floor(v) && v <= 1e15) {
        o->save_every_steps = (int64_t)v;
        return true;
    }
    if (ok && unit > 0 && end[1] == '\0') {
        o->save_every_seconds = v * unit;
        return true;
    }
    cli_fail(EXIT_USAGE, CMD, "--save-every: expected a number of steps (500) or a time (90s, "
                              "30m, 2h), got '%s'", text);
    return false;
}

/* --top-k: the validation's top-k accuracy (cross_entropy). */
static bool top_k_option(const session *s, cg_train_options *o)
{
    const char *text = s->args.top_k;
    int64_t k;
    if (!text) return true;
    if (!cli_parse_int(CMD, "--top-k", text, 2, INT32_MAX, &k)) return false;
    if (s->spec->loss != CG_LOSS_CROSS_ENTROPY)
        cli_fail(EXIT_USAGE, CMD, "--top-k needs loss cross_entropy, the model's loss is %s",
                 cg_loss_name(s->spec->loss));
    else if (k > cg_model_spec_classes(s->spec))
        cli_fail(EXIT_USAGE, CMD, "--top-k: k must be between 2 and the number of classes "
                                  "(%lld), got %lld", (long long)cg_model_spec_classes(s->spec),
                 (long long)k);
    else if (!s->val)
        cli_fail(EXIT_USAGE, CMD, "--top-k needs validation data (--val or --val-split)");
    else {
        o->top_k = (int)k;
        return true;
    }
    return false;
}

static bool periodic_options(const session *s, cg_train_options *o)
{
    const train_args *t = &s->args;
    if (!t->save_every) return true;
    if (!t->save) {
        cli_fail(EXIT_USAGE, CMD, "--save-every needs --save OUT.safetensors");
        return false;
    }
    int64_t keep = 0;
    if (t->keep && !cli_parse_int(CMD, "--keep", t->keep, 1, 100000, &keep)) return false;
    o->keep = (int)keep;
    return parse_save_every(t->save_every, o);
}

/* --log-steps and --plot: what the progress reports write and draw. */
static bool watch_options(session *s, cli_progress *p)
{
    const train_args *t = &s->args;
    int64_t n = 0;
    if (t->log_steps) {
        if (!t->log && !t->plot) {
            cli_fail(EXIT_USAGE, CMD, "--log-steps needs --log FILE or --plot FILE");
            return false;
        }
        if (!cli_parse_int(CMD, "--log-steps", t->log_steps, 1, INT32_MAX, &n)) return false;
    }
    p->log_steps = n;
    p->history = t->plot ? &s->history : NULL;
    p->plot_path = t->plot;
    return true;
}

/* The validation metrics beyond loss and accuracy exist only for their
 * kind of loss (MAE/RMSE/R2: regression) or with --top-k. */
static bool monitor_exists(const session *s, const cg_train_options *o, cg_monitor m)
{
    bool regression = s->spec->loss == CG_LOSS_MSE || s->spec->loss == CG_LOSS_L1;
    bool regression_metric = m == CG_MONITOR_VAL_MAE || m == CG_MONITOR_VAL_RMSE ||
                             m == CG_MONITOR_VAL_R2 || m == CG_MONITOR_TRAIN_MAE ||
                             m == CG_MONITOR_TRAIN_RMSE || m == CG_MONITOR_TRAIN_R2;
    if (regression_metric && !regression) {
        cli_fail(EXIT_USAGE, CMD, "%s is measured for the regression losses (mse, l1); the "
                                  "model's loss is %s", cg_monitor_name(m),
                 cg_loss_name(s->spec->loss));
        return false;
    }
    if ((m == CG_MONITOR_VAL_TOP_K_ACCURACY || m == CG_MONITOR_TRAIN_TOP_K_ACCURACY) &&
        o->top_k < 2) {
        cli_fail(EXIT_USAGE, CMD, "%s needs --top-k K", cg_monitor_name(m));
        return false;
    }
    return true;
}

/* --save-best and early stopping: where the best checkpoint goes, and
 * whether what they monitor exists. */
static bool best_options(const session *s, cg_train_options *o, char *buf, size_t size)
{
    const train_args *t = &s->args;
    const cg_early_stop_config *es = &s->spec->train.early_stop;
    o->save_best_path = t->save_best;
    if (es->patience > 0 && es->restore_best && !o->save_best_path) {
        if (!t->save) {
            cli_fail(EXIT_USAGE, CMD, "--restore-best needs --save-best BEST.safetensors or "
                                      "--save OUT.safetensors (the best weights are kept there)");
            return false;
        }
        size_t n = strlen(t->save);
        const char *ext = ".safetensors";
        if (n >= strlen(ext) && strcmp(t->save + n - strlen(ext), ext) == 0) n -= strlen(ext);
        snprintf(buf, size, "%.*s.best.safetensors", (int)n, t->save);
        o->save_best_path = buf;
    }
    bool watching = o->save_best_path || es->patience > 0;
    if (t->monitor && !watching) {
        cli_fail(EXIT_USAGE, CMD, "--monitor %s has nothing to watch for: give --save-best or "
                                  "--early-stop", t->monitor);
        return false;
    }
    if (watching && cg_monitor_needs_val(o->monitor) && !s->val) {
        cli_fail(EXIT_USAGE, CMD, "--monitor %s (%s) needs validation data: give --val or "
                                  "--val-split, or --monitor train_loss",
                 cg_monitor_name(o->monitor), t->save_best ? "--save-best" : "--early-stop");
        return false;
    }
    if (watching && !monitor_exists(s, o, o->monitor)) return false;
    if (o->schedule.kind == CG_SCHED_PLATEAU && !monitor_exists(s, o, o->schedule.plateau.monitor))
        return false;
    if (o->schedule.kind == CG_SCHED_PLATEAU &&
        cg_monitor_needs_val(o->schedule.plateau.monitor) && !s->val) {
        cli_fail(EXIT_USAGE, CMD, "the plateau schedule monitors %s, which needs validation data "
                                  "(--val or --val-split)",
                 cg_monitor_name(o->schedule.plateau.monitor));
        return false;
    }
    if (o->save_best_path && cg_checkpoint_check_writable(o->save_best_path) != CG_OK) {
        cli_fail(EXIT_USAGE, CMD, "--save-best: %s", cg_last_error());
        return false;
    }
    return true;
}

static void print_early_stop(const session *s, const cg_train_options *o)
{
    const cg_train_state *st = &s->state;
    printf("stopped early after epoch %lld: %s did not improve", (long long)st->epoch,
           cg_monitor_name(o->monitor));
    if (o->early_stop.min_delta > 0) printf(" by more than %g", o->early_stop.min_delta);
    printf(" for %lld epochs (best %.6g at epoch %lld)", (long long)o->early_stop.patience,
           st->early_stop.best, (long long)st->early_stop.best_epoch);
    if (o->early_stop.restore_best) printf("; restored the weights of epoch %lld",
                                           (long long)st->early_stop.best_epoch);
    printf("\n");
}

/* What a resumed run needs to continue this one (see inherit_run_settings). */
static const char *const *run_meta(session *s)
{
    const train_args *t = &s->args;
    size_t n = 0;
    const char *pairs[][2] = {{"run_data", s->fingerprint}, {"run_val", t->val},
                              {"run_val_split", t->val_split}, {"run_log", t->log},
                              {"run_top_k", t->top_k}, {"table", s->table_json},
                              {"classes", s->classes_json}, {CLI_VOCAB_META, s->vocab_meta}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        if (!pairs[i][1] || !pairs[i][1][0]) continue;
        s->meta[n++] = pairs[i][0];
        s->meta[n++] = pairs[i][1];
    }
    s->meta[n] = NULL;
    return s->meta;
}

/* Text windows at new offsets every epoch, as a language model samples
 * random windows; the held-out tail stays where it is. A stateful model
 * reads the text as streams, which must not move. */
static cg_status recut_text(void *user, int64_t epoch)
{
    session *s = user;
    return cg_dataset_text_recut(&s->data, s->train->count, s->spec->train.seed, epoch);
}

/* Under mpirun: the batch must share out evenly, and every rank starts
 * from rank 0's weights (identical already, unless a file differed). */
static int start_group(session *s)
{
    int ranks = cli_group_size();
    if (ranks == 1) return EXIT_OK;
    int64_t batch = s->spec->train.batch;
    if (batch % ranks != 0) {
        cli_group_quiet(true);
        return cli_fail(EXIT_USAGE, CMD, "--batch %lld is the global batch and must divide "
                                         "evenly over the %d ranks (e.g. --batch %lld)",
                        (long long)batch, ranks, (long long)((batch + ranks - 1) / ranks * ranks));
    }
    if (cg_dist_broadcast_model(s->dist, s->model) != CG_OK) return cli_fail_lib(EXIT_FAILURE_OTHER, CMD);
    note("data-parallel over %d ranks: each takes %lld samples of every batch of %lld", ranks,
         (long long)(batch / ranks), (long long)batch);
    return EXIT_OK;
}

/* How long the ranks spent averaging gradients, next to the time trained. */
static void print_group_summary(const session *s, double seconds)
{
    int64_t steps = s->state.step - s->first_step;
    if (cli_group_size() == 1 || steps <= 0) return;
    double comm = cg_dist_comm_seconds(s->dist);
    printf("data-parallel: %d ranks, gradient allreduce %.3f ms/step (%.1f%% of %.1f s)\n",
           cli_group_size(), 1e3 * comm / (double)steps, seconds > 0 ? 100.0 * comm / seconds : 0.0,
           seconds);
}

static bool thread_policy(const session *s, cg_train_options *o)
{
    const char *p = s->args.thread_policy;
    if (!p || strcmp(p, "adapt") == 0) o->threads = CG_THREADS_ADAPT;
    else if (strcmp(p, "fixed") == 0) o->threads = CG_THREADS_FIXED;
    else if (strcmp(p, "alternate") == 0) o->threads = CG_THREADS_ALTERNATE;
    else {
        cli_fail(EXIT_USAGE, CMD, "--thread-policy: '%s' is not adapt, fixed or alternate", p);
        return false;
    }
    return true;
}

static int run_training(session *s)
{
    const cg_model_spec *spec = s->spec;
    if (s->state.epoch >= spec->train.epochs) {
        printf("already trained for %lld epoch%s (--epochs %lld); nothing to do\n",
               (long long)s->state.epoch, s->state.epoch == 1 ? "" : "s",
               (long long)spec->train.epochs);
        return EXIT_OK;
    }
    cg_train_options o = cg_train_options_from_spec(spec, spec->optim.lr);
    o.save_path = s->args.save;
    o.save_spec = spec;
    o.save_meta = run_meta(s);
    if (!periodic_options(s, &o) || !top_k_option(s, &o)) return EXIT_USAGE;
    static char best_path[4096];
    if (!best_options(s, &o, best_path, sizeof best_path)) return EXIT_USAGE;
    o.stop = &interrupt_flag;
    cli_progress progress;
    cli_progress_init(&progress, stdout, isatty(STDERR_FILENO), s->log, s->val != NULL,
                      spec->loss == CG_LOSS_CROSS_ENTROPY || spec->loss == CG_LOSS_BCE_WITH_LOGITS);
    progress.log_path = s->args.log;
    progress.bits_per_char = s->data.vocab != NULL;
    if (s->data.tokens && !cg_model_is_stateful(s->model)) {
        o.on_epoch_start = recut_text;
        o.start_user = s;
    }
    if (!watch_options(s, &progress)) return EXIT_USAGE;
    bool speaks = cli_group_rank() == 0;
    o.on_batch = speaks ? cli_progress_batch : NULL;
    o.on_epoch = speaks ? cli_progress_epoch : NULL;
    o.user = &progress;
    o.dist = s->dist;
    s->first_step = s->state.step;
    /* From here on failures are agreed by the library: rank 0 reports. */
    cli_group_quiet(true);
    install_stop_signals();
    if (!thread_policy(s, &o)) return EXIT_USAGE;
    if (s->args.profile && !(o.profile = cg_profile_create()))
        return cli_fail(EXIT_FAILURE_OTHER, CMD, "--profile: %s", cg_last_error());
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cg_status status = cg_train(s->model, s->opt, s->train, s->val, &o, &s->state);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    cli_progress_clear(&progress);
    cli_progress_finish_plot(&progress);
    if (o.profile && speaks) cg_profile_write(o.profile, stderr);
    cg_profile_destroy(o.profile);
    if (status != CG_OK) return report_failure(s, status);
    if (s->state.stopped_early) print_early_stop(s, &o);
    double seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    print_summary(s, seconds);
    print_group_summary(s, seconds);
    /* Ctrl-C during the last step or the last validation: the run finished
     * (and was saved), but the user asked to stop, so say so and exit 130. */
    if (interrupt_flag)
        return cli_fail(128 + interrupt_flag, CMD, "interrupted%s as the last epoch finished; the "
                        "run is complete%s", signal_text(interrupt_flag),
                        s->args.save ? " and saved" : "");
    return EXIT_OK;
}

int cmd_train(int argc, char **argv)
{
    session s = {0};
    int code = parse_args(&s.args, argc, argv);
    if (code >= 0) return code;
    if (!cli_set_threads(CMD, s.args.threads)) return EXIT_USAGE;
    if (!(s.dist = cli_group_start(CMD, &code))) return code;
    /* Under mpirun each phase may fail on one rank alone (a file missing on
     * one host): all ranks agree after each, so none waits for the others. */
    code = cli_group_agree(s.dist, CMD, load_config(&s));
    if (code == EXIT_OK) code = cli_group_agree(s.dist, CMD, load_data(&s));
    if (code == EXIT_OK) code = cli_group_agree(s.dist, CMD, build(&s));
    if (code == EXIT_OK) code = cli_group_agree(s.dist, CMD, open_outputs(&s));
    if (code == EXIT_OK) code = cli_group_agree(s.dist, CMD, start_group(&s));
    if (code == EXIT_OK) code = run_training(&s);
    session_release(&s);
    cli_group_end(s.dist);
    return code;
}
