/* A run's metrics: `cgrad train --log` files (JSON lines) read back, and
 * the same records gathered while training (for train --plot). */
#include "plot.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void cli_run_log_write_step(FILE *f, int64_t step, int64_t epoch, int64_t batch, int64_t batches,
                            double loss)
{
    /* JSON has no NaN: an unknown loss is null, as in the epoch records. */
    char text[32] = "null";
    if (isfinite(loss)) snprintf(text, sizeof text, "%.6g", loss);
    fprintf(f, "{\"step\":%lld,\"epoch\":%lld,\"batch\":%lld,\"batches\":%lld,\"loss\":%s}\n",
            (long long)step, (long long)epoch, (long long)batch, (long long)batches, text);
}

void cli_run_log_free(cli_run_log *log)
{
    free(log->epochs);
    free(log->steps);
    *log = (cli_run_log){0};
}

static bool grow(void **items, size_t *cap, size_t need, size_t item_size)
{
    if (need <= *cap) return true;
    size_t cap2 = *cap ? 2 * *cap : 64;
    void *p = realloc(*items, cap2 * item_size);
    if (!p) return false;
    *items = p;
    *cap = cap2;
    return true;
}

/* Rows arrive in order, except in a log that two runs appended to: a row
 * for a position already present replaces it (*replaced), one before the end
 * is put in its place. */
static cg_status add_epoch(cli_run_log *log, const cli_epoch_row *row, bool *replaced)
{
    if (!grow((void **)&log->epochs, &log->epochs_cap, log->n_epochs + 1, sizeof *log->epochs))
        return cg_set_error(CG_ERR_NOMEM, "out of memory reading the log");
    size_t at = log->n_epochs;
    while (at > 0 && log->epochs[at - 1].epoch > row->epoch) at--;
    *replaced = at > 0 && log->epochs[at - 1].epoch == row->epoch;
    if (*replaced) {
        log->epochs[at - 1] = *row;
        return CG_OK;
    }
    memmove(&log->epochs[at + 1], &log->epochs[at], (log->n_epochs - at) * sizeof *log->epochs);
    log->epochs[at] = *row;
    log->n_epochs++;
    return CG_OK;
}

static cg_status add_step(cli_run_log *log, const cli_step_row *row)
{
    if (!grow((void **)&log->steps, &log->steps_cap, log->n_steps + 1, sizeof *log->steps))
        return cg_set_error(CG_ERR_NOMEM, "out of memory reading the log");
    size_t at = log->n_steps;
    while (at > 0 && log->steps[at - 1].x > row->x) at--;
    if (at > 0 && log->steps[at - 1].x == row->x) {
        log->steps[at - 1] = *row;
        return CG_OK;
    }
    memmove(&log->steps[at + 1], &log->steps[at], (log->n_steps - at) * sizeof *log->steps);
    log->steps[at] = *row;
    log->n_steps++;
    return CG_OK;
}

cg_status cli_run_log_add_epoch(cli_run_log *log, const cli_epoch_row *row)
{
    bool replaced;
    return add_epoch(log, row, &replaced);
}

cg_status cli_run_log_add_step(cli_run_log *log, const cli_step_row *row)
{
    return add_step(log, row);
}

/* ------------------------------------------------------------ reading */

typedef struct line_reader {
    const char *path;
    size_t line;
    bool noted_restart;
} line_reader;

/* A metric: a number, or null / absent (NaN). Numbers too large for a
 * double come back infinite from cJSON and are treated as missing too. */
static cg_status metric(const line_reader *r, const cJSON *obj, const char *key, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NAN;
    if (!v || cJSON_IsNull(v)) return CG_OK;
    if (!cJSON_IsNumber(v))
        return cg_set_error(CG_ERR_FORMAT, "%s:%zu: \"%s\" should be a number or null", r->path,
                            r->line, key);
    if (isfinite(v->valuedouble)) *out = v->valuedouble;
    return CG_OK;
}

/* A position (epoch, step, batch): a count, from 0 to far more than any
 * run makes (so that an axis over them cannot overflow). */
static cg_status position(const line_reader *r, const cJSON *obj, const char *key, double *out)
{
    cg_status s = metric(r, obj, key, out);
    if (s == CG_OK && !(*out >= 0 && *out <= 1e15))
        return cg_set_error(CG_ERR_FORMAT, "%s:%zu: \"%s\" should be a number from 0 to 1e15",
                            r->path, r->line, key);
    return s;
}

static cg_status read_epoch(line_reader *r, const cJSON *obj, cli_run_log *log)
{
    cli_epoch_row row;
    cg_status s = position(r, obj, "epoch", &row.epoch);
    if (s == CG_OK) s = metric(r, obj, "train_loss", &row.train_loss);
    if (s == CG_OK) s = metric(r, obj, "train_accuracy", &row.train_accuracy);
    if (s == CG_OK) s = metric(r, obj, "val_loss", &row.val_loss);
    if (s == CG_OK) s = metric(r, obj, "val_accuracy", &row.val_accuracy);
    if (s == CG_OK) s = metric(r, obj, "lr", &row.lr);
    bool replaced = false;
    if (s == CG_OK) s = add_epoch(log, &row, &replaced);
    if (replaced && !r->noted_restart) {
        fprintf(stderr, "cgrad: note: %s:%zu: epoch %g is in the log twice (a run restarted into "
                        "it?); the later record is drawn\n", r->path, r->line, row.epoch);
        r->noted_restart = true;
    }
    return s;
}

static cg_status read_step(line_reader *r, const cJSON *obj, cli_run_log *log)
{
    double epoch, batch, batches;
    cli_step_row row;
    cg_status s = position(r, obj, "epoch", &epoch);
    if (s == CG_OK) s = position(r, obj, "batch", &batch);
    if (s == CG_OK) s = position(r, obj, "batches", &batches);
    if (s == CG_OK) s = metric(r, obj, "loss", &row.loss);
    if (s != CG_OK) return s;
    if (epoch < 1 || batches < 1 || batch > batches)
        return cg_set_error(CG_ERR_FORMAT, "%s:%zu: a step record needs epoch >= 1 and "
                            "0 <= batch <= batches >= 1", r->path, r->line);
    row.x = epoch - 1 + batch / batches;
    return add_step(log, &row);
}

static bool blank(const char *text)
{
    return text[strspn(text, " \t\r\n")] == '\0';
}

static cg_status read_line(line_reader *r, const char *text, cli_run_log *log)
{
    if (blank(text)) return CG_OK;
    cJSON *obj = cJSON_Parse(text);
    cg_status s;
    if (!obj)
        s = cg_set_error(CG_ERR_FORMAT, "%s:%zu: not a JSON object (NaN and Infinity are not "
                         "JSON numbers: cgrad writes null for them)", r->path, r->line);
    else if (!cJSON_IsObject(obj))
        s = cg_set_error(CG_ERR_FORMAT, "%s:%zu: not a JSON object", r->path, r->line);
    else if (cJSON_HasObjectItem(obj, "step"))
        s = read_step(r, obj, log);
    else if (cJSON_HasObjectItem(obj, "epoch"))
        s = read_epoch(r, obj, log);
    else
        s = cg_set_error(CG_ERR_FORMAT, "%s:%zu: neither an epoch record (\"epoch\", "
                         "\"train_loss\", ...) nor a step record (\"step\", \"loss\"): is this "
                         "a `cgrad train --log` file?", r->path, r->line);
    cJSON_Delete(obj);
    return s;
}

static void set_label(cli_run_log *log, const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    snprintf(log->label, sizeof log->label, "%s", base);
    char *dot = strrchr(log->label, '.');
    if (dot && dot != log->label) *dot = '\0';
}

cg_status cli_run_log_read(cli_run_log *log, const char *path)
{
    *log = (cli_run_log){0};
    set_label(log, path);
    FILE *f = fopen(path, "r");
    if (!f) return cg_set_error(CG_ERR_IO, "cannot read %s: %s", path, strerror(errno));
    line_reader r = {.path = path};
    char *text = NULL;
    size_t cap = 0;
    cg_status s = CG_OK;
    while (s == CG_OK && getline(&text, &cap, f) >= 0) {
        r.line++;
        s = read_line(&r, text, log);
    }
    if (s == CG_OK && ferror(f)) s = cg_set_error(CG_ERR_IO, "cannot read %s", path);
    free(text);
    fclose(f);
    if (s != CG_OK) cli_run_log_free(log);
    return s;
}
