/* Checkpoints: a model's parameters, its optimizer's state and the training
 * state in one safetensors file, so that the Python ecosystem can read the
 * weights and --resume can continue bit-identically.
 *
 * Optimizer buffers are flat over all parameters in memory; they are stored
 * split per parameter, with the parameter's shape, because that is how
 * torch.optim's state_dict holds them and how a reader can make sense of
 * them. */
#include "internal.h"
#include "fileio.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FORMAT_VERSION "1"
#define OPTIM_PREFIX "optim."
#define OPTIM_STEP_NAME "optim.step"

cg_train_state cg_train_state_init(uint64_t seed)
{
    cg_train_state st = {0};
    cg_rng_seed(&st.rng, seed);
    st.train_loss = st.train_accuracy = st.val_loss = st.val_accuracy = NAN;
    st.val_mae = st.val_rmse = st.val_r2 = st.val_top_k_accuracy = NAN;
    st.train_mae = st.train_rmse = st.train_r2 = st.train_top_k_accuracy = NAN;
    st.best_value = st.early_stop.best = st.plateau.lr = NAN;
    return st;
}

/* ------------------------------------------------------------ metadata */

#define MAX_META 64

typedef struct meta_list {
    const char *keys[MAX_META];
    char *values[MAX_META];
    size_t n;
    bool oom;
} meta_list;

static void meta_add_owned(meta_list *m, const char *key, char *value)
{
    if (!value || m->n == MAX_META) {
        m->oom = true;
        free(value);
        return;
    }
    m->keys[m->n] = key;
    m->values[m->n++] = value;
}

static void meta_add(meta_list *m, const char *key, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static void meta_add(meta_list *m, const char *key, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    meta_add_owned(m, key, strdup(buf));
}

static void meta_release(meta_list *m)
{
    for (size_t i = 0; i < m->n; i++) free(m->values[i]);
}

/* The "optimizer" object of the model JSON, as its own string. */
static char *optimizer_json(const char *model_json)
{
    cJSON *root = cJSON_Parse(model_json);
    cJSON *opt = cJSON_GetObjectItemCaseSensitive(root, "optimizer");
    char *text = opt ? cJSON_PrintUnformatted(opt) : NULL;
    cJSON_Delete(root);
    return text;
}

/* What --save-best, early stopping and the plateau schedule decide from. */
static void add_callback_meta(meta_list *m, const cg_train_state *st)
{
    meta_add(m, "best_value", "%.17g", st->best_value);
    meta_add(m, "best_epoch", "%" PRId64, st->best_epoch);
    meta_add(m, "early_stop_best", "%.17g", st->early_stop.best);
    meta_add(m, "early_stop_best_epoch", "%" PRId64, st->early_stop.best_epoch);
    meta_add(m, "early_stop_wait", "%" PRId64, st->early_stop.wait);
    if (st->stopped_early) meta_add(m, "stopped_early", "true");
    if (isnan(st->plateau.lr)) return;
    meta_add(m, "plateau_lr", "%.17g", st->plateau.lr);
    meta_add(m, "plateau_best", "%.17g", st->plateau.best);
    meta_add(m, "plateau_num_bad_epochs", "%" PRId64, st->plateau.num_bad_epochs);
    meta_add(m, "plateau_cooldown_counter", "%" PRId64, st->plateau.cooldown_counter);
}

static void add_state_meta(meta_list *m, const cg_train_state *st)
{
    meta_add(m, "epoch", "%" PRId64, st->epoch);
    meta_add(m, "step", "%" PRId64, st->step);
    meta_add(m, "batch_in_epoch", "%" PRId64, st->batch_in_epoch);
    meta_add(m, "rng_state", "%" PRIu64, st->rng.state);
    meta_add(m, "rng_inc", "%" PRIu64, st->rng.inc);
    /* %.17g reads back as the same double, so a resumed epoch reports the
     * same averages as an uninterrupted one. */
    meta_add(m, "epoch_loss_sum", "%.17g", st->loss_sum);
    meta_add(m, "epoch_correct", "%" PRId64, st->correct);
    meta_add(m, "epoch_seen", "%" PRId64, st->seen);
    /* Timing differs from run to run: stored only where it is needed (inside
     * an epoch), so epoch-boundary checkpoints of equal runs are identical
     * files. */
    if (st->batch_in_epoch > 0) meta_add(m, "epoch_seconds", "%.17g", st->seconds);
    meta_add(m, "lr", "%.9g", (double)st->lr);
    meta_add(m, "train_loss", "%.17g", st->train_loss);
    meta_add(m, "train_accuracy", "%.17g", st->train_accuracy);
    meta_add(m, "val_loss", "%.17g", st->val_loss);
    meta_add(m, "val_accuracy", "%.17g", st->val_accuracy);
    meta_add(m, "val_mae", "%.17g", st->val_mae);
    meta_add(m, "val_rmse", "%.17g", st->val_rmse);
    meta_add(m, "val_r2", "%.17g", st->val_r2);
    meta_add(m, "val_top_k_accuracy", "%.17g", st->val_top_k_accuracy);
    meta_add(m, "train_mae", "%.17g", st->train_mae);
    meta_add(m, "train_rmse", "%.17g", st->train_rmse);
    meta_add(m, "train_r2", "%.17g", st->train_r2);
    meta_add(m, "train_top_k_accuracy", "%.17g", st->train_top_k_accuracy);
    /* The epoch under way's metric sums, so a mid-epoch resume reports the
     * same figures as an uninterrupted run. */
    const cg_metric_sums *ms = &st->sums;
    meta_add(m, "epoch_metric_sums", "%.17g,%.17g,%.17g,%.17g,%.17g,%" PRId64 ",%" PRId64,
             ms->shift, ms->abs_sum, ms->sq_sum, ms->y_sum, ms->y_sq_sum, ms->values,
             ms->top_k_correct);
    add_callback_meta(m, st);
}

/* ------------------------------------------------------------ saving */

typedef struct entry_list {
    cg_st_entry *items;
    char **names;   /* owned names of the optimizer entries */
    size_t n, n_names;
} entry_list;

static void add_param_entries(entry_list *l, cg_params *params)
{
    for (size_t i = 0; i < cg_params_count(params); i++) {
        const cg_tensor *t = cg_params_at(params, i);
        cg_st_entry *e = &l->items[l->n++];
        *e = (cg_st_entry){.name = t->name, .dtype = CG_DTYPE_F32, .ndim = t->ndim, .data = t->data};
        memcpy(e->shape, t->shape, sizeof e->shape);
    }
}

static void add_buffer_entries(entry_list *l, cg_model *model)
{
    for (size_t i = 0; i < cg_model_buffer_count(model); i++) {
        const cg_buffer *b = cg_model_buffer_at(model, i);
        cg_st_entry *e = &l->items[l->n++];
        *e = (cg_st_entry){.name = b->name, .dtype = b->dtype, .ndim = b->ndim, .data = b->data};
        memcpy(e->shape, b->shape, sizeof e->shape);
    }
}

static bool add_optim_entries(entry_list *l, cg_params *params, cg_optim *opt, int64_t *step)
{
    const float *base = cg_params_data(params);
    for (size_t s = 0; s < cg_optim_state_count(opt); s++) {
        const float *buf = cg_optim_state_data(opt, s);
        for (size_t i = 0; i < cg_params_count(params); i++) {
            const cg_tensor *t = cg_params_at(params, i);
            size_t len = strlen(OPTIM_PREFIX) + strlen(cg_optim_state_name(opt, s)) +
                         strlen(t->name) + 2;
            char *name = malloc(len);
            if (!name) return false;
            snprintf(name, len, OPTIM_PREFIX "%s.%s", cg_optim_state_name(opt, s), t->name);
            l->names[l->n_names++] = name;
            cg_st_entry *e = &l->items[l->n++];
            *e = (cg_st_entry){.name = name, .dtype = CG_DTYPE_F32, .ndim = t->ndim,
                               .data = buf + (t->data - base)};
            memcpy(e->shape, t->shape, sizeof e->shape);
        }
    }
    *step = cg_optim_step_count(opt);
    l->items[l->n++] = (cg_st_entry){.name = OPTIM_STEP_NAME, .dtype = CG_DTYPE_I64, .ndim = 0,
                                     .data = step};
    return true;
}

static void entry_list_free(entry_list *l)
{
    for (size_t i = 0; i < l->n_names; i++) free(l->names[i]);
    free(l->names);
    free(l->items);
}

static bool build_meta(meta_list *m, cg_model *model, const cg_model_spec *spec, cg_optim *opt,
                       const cg_train_state *state, const char *const *extra)
{
    char *model_json = cg_model_spec_to_json(spec ? spec : cg_model_get_spec(model));
    meta_add(m, "format", "pt");
    meta_add(m, "cgrad_format_version", FORMAT_VERSION);
    meta_add(m, "cgrad_version", CG_VERSION_STRING);
    /* The optimizer's hyper-parameters as configured; "lr" holds the
     * scheduled value in use. */
    if (model_json && opt) meta_add_owned(m, "optimizer", optimizer_json(model_json));
    meta_add_owned(m, "model", model_json);
    if (state) add_state_meta(m, state);
    for (; extra && extra[0] && extra[1]; extra += 2) meta_add_owned(m, extra[0], strdup(extra[1]));
    return !m->oom;
}

cg_status cg_checkpoint_save(const char *path, cg_model *model, const cg_model_spec *spec,
                             cg_optim *opt, const cg_train_state *state)
{
    return cg_checkpoint_save_with(path, model, spec, opt, state, NULL);
}

cg_status cg_checkpoint_save_with(const char *path, cg_model *model, const cg_model_spec *spec,
                                  cg_optim *opt, const cg_train_state *state,
                                  const char *const *extra_meta)
{
    if (!path || !model) return cg_set_error(CG_ERR_ARG, "cg_checkpoint_save: NULL argument");
    cg_params *params = cg_model_params(model);
    size_t n_params = cg_params_count(params);
    size_t n_optim = opt ? cg_optim_state_count(opt) * n_params : 0;
    size_t n_buffers = cg_model_buffer_count(model);
    entry_list l = {.items = calloc(n_params + n_buffers + n_optim + 1, sizeof *l.items),
                    .names = calloc(n_optim + 1, sizeof *l.names)};
    meta_list m = {.n = 0};
    int64_t step = 0;
    cg_status s = CG_OK;
    if (!l.items || !l.names) s = cg_set_error(CG_ERR_NOMEM, "%s: out of memory", path);
    if (s == CG_OK) {
        add_param_entries(&l, params);
        add_buffer_entries(&l, model);
    }
    if (s == CG_OK && opt && !add_optim_entries(&l, params, opt, &step))
        s = cg_set_error(CG_ERR_NOMEM, "%s: out of memory", path);
    if (s == CG_OK && !build_meta(&m, model, spec, opt, state, extra_meta))
        s = cg_set_error(CG_ERR_NOMEM, "%s: out of memory building the metadata", path);
    if (s == CG_OK)
        s = cg_safetensors_save(path, l.items, l.n, m.keys, (const char *const *)m.values, m.n);
    meta_release(&m);
    entry_list_free(&l);
    return s;
}

cg_status cg_model_spec_check_file(const cg_model_spec *spec, const cg_st_file *file)
{
    if (!spec || !file) return cg_set_error(CG_ERR_ARG, "cg_model_spec_check_file: NULL argument");
    int64_t values = 0;
    for (size_t i = 0; i < cg_st_count(file); i++) {
        const cg_st_entry *e = cg_st_at(file, i);
        if (e->dtype != CG_DTYPE_F32 || strncmp(e->name, "layers.", 7) != 0) continue;
        int64_t n = 1;
        for (int d = 0; d < e->ndim; d++) n *= e->shape[d]; /* bounded by the file's size */
        values += n;
    }
    if (values >= spec->n_params) return CG_OK;
    return cg_set_error(CG_ERR_FORMAT, "the file holds %lld weight values (F32 layers.* tensors), "
                                       "the model it is loaded into needs %lld parameters",
                        (long long)values, (long long)spec->n_params);
}

cg_status cg_checkpoint_check_writable(const char *path)
{
    /* A directory there would only fail at the first save's rename, after
     * an epoch of work. */
    struct stat st;
    if (path && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return cg_set_error(CG_ERR_IO, "'%s' is a directory, not a file to save to", path);
    cg_atomic_file af = {0};
    cg_status s = cg__atomic_open(&af, path);
    cg__atomic_abort(&af);
    return s;
}

/* ------------------------------------------------------------ loading */

/* Counts in a checkpoint are refused beyond 2^53: no real run gets there,
 * and the limit keeps step + 1 and the other sums from overflowing. */
#define MAX_COUNT (INT64_C(1) << 53)

static cg_status bad_meta(const char *path, const char *key, const char *expected)
{
    return cg_set_error(CG_ERR_FORMAT, "%s: __metadata__ \"%s\" is missing or not %s", path, key,
                        expected);
}

/* "epoch_metric_sums" (absent in older checkpoints: zeros). */
static void read_metric_sums(const cg_st_file *f, cg_metric_sums *ms)
{
    const char *v = cg_st_meta(f, "epoch_metric_sums");
    long long values = 0, top_k = 0;
    cg_metric_sums got = {0};
    *ms = (cg_metric_sums){0};
    if (v && sscanf(v, "%lf,%lf,%lf,%lf,%lf,%lld,%lld", &got.shift, &got.abs_sum, &got.sq_sum,
                    &got.y_sum, &got.y_sq_sum, &values, &top_k) == 7 &&
        values >= 0 && top_k >= 0) {
        got.values = values;
        got.top_k_correct = top_k;
        *ms = got;
    }
}

static cg_status meta_count(const char *path, const cg_st_file *f, const char *key, int64_t *out)
{
    const char *v = cg_st_meta(f, key);
    char *end;
    errno = 0;
    long long x = v ? strtoll(v, &end, 10) : -1;
    if (!v || errno || end == v || *end || x < 0 || x > MAX_COUNT)
        return bad_meta(path, key, "an integer in [0, 2^53]");
    *out = x;
    return CG_OK;
}

static bool meta_u64(const cg_st_file *f, const char *key, uint64_t *out)
{
    const char *v = cg_st_meta(f, key);
    if (!v || *v == '-') return false;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || end == v || *end) return false;
    *out = x;
    return true;
}

static bool meta_double(const cg_st_file *f, const char *key, double *out)
{
    const char *v = cg_st_meta(f, key);
    if (!v) return false;
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end) return false;
    *out = x;
    return true;
}

/* A finite number >= 0 (sums of losses, seconds, learning rates). */
static cg_status meta_nonneg(const char *path, const cg_st_file *f, const char *key, double *out)
{
    if (!meta_double(f, key, out) || !isfinite(*out) || *out < 0)
        return bad_meta(path, key, "a finite number >= 0");
    return CG_OK;
}

static cg_status read_counts(const char *path, const cg_st_file *f, cg_train_state *st)
{
    cg_status s = meta_count(path, f, "epoch", &st->epoch);
    if (s == CG_OK) s = meta_count(path, f, "step", &st->step);
    if (s == CG_OK) s = meta_count(path, f, "batch_in_epoch", &st->batch_in_epoch);
    if (s == CG_OK) s = meta_count(path, f, "epoch_correct", &st->correct);
    if (s == CG_OK) s = meta_count(path, f, "epoch_seen", &st->seen);
    if (s != CG_OK) return s;
    /* Every finished epoch took at least one step. */
    if (st->step < st->epoch + st->batch_in_epoch)
        return cg_set_error(CG_ERR_FORMAT, "%s: __metadata__ step %lld is less than the %lld epochs "
                                           "and %lld batches done",
                            path, (long long)st->step, (long long)st->epoch,
                            (long long)st->batch_in_epoch);
    return CG_OK;
}

/* Absent (older checkpoints) or unreadable decision state starts afresh. */
static void read_callback_state(const cg_st_file *f, cg_train_state *st)
{
    double best_epoch = 0, es_epoch = 0, es_wait = 0, bad = 0, cool = 0;
    st->best_value = st->early_stop.best = st->plateau.lr = NAN;
    meta_double(f, "best_value", &st->best_value);
    meta_double(f, "best_epoch", &best_epoch);
    meta_double(f, "early_stop_best", &st->early_stop.best);
    meta_double(f, "early_stop_best_epoch", &es_epoch);
    meta_double(f, "early_stop_wait", &es_wait);
    const char *stopped = cg_st_meta(f, "stopped_early");
    st->stopped_early = stopped && strcmp(stopped, "true") == 0;
    st->best_epoch = best_epoch >= 0 && best_epoch < 1e15 ? (int64_t)best_epoch : 0;
    st->early_stop.best_epoch = es_epoch >= 0 && es_epoch < 1e15 ? (int64_t)es_epoch : 0;
    st->early_stop.wait = es_wait >= 0 && es_wait < 1e15 ? (int64_t)es_wait : 0;
    if (!meta_double(f, "plateau_lr", &st->plateau.lr) || !(st->plateau.lr >= 0) ||
        !meta_double(f, "plateau_best", &st->plateau.best)) {
        st->plateau.lr = NAN;
        return;
    }
    meta_double(f, "plateau_num_bad_epochs", &bad);
    meta_double(f, "plateau_cooldown_counter", &cool);
    st->plateau.num_bad_epochs = bad >= 0 && bad < 1e15 ? (int64_t)bad : 0;
    st->plateau.cooldown_counter = cool >= 0 && cool < 1e15 ? (int64_t)cool : 0;
}

static cg_status read_state(const char *path, const cg_st_file *f, cg_train_state *st)
{
    double lr = 0;
    cg_status s = read_counts(path, f, st);
    /* PCG's increment is odd by construction (cg_rng_seed). */
    if (s == CG_OK && !(meta_u64(f, "rng_state", &st->rng.state) &&
                        meta_u64(f, "rng_inc", &st->rng.inc) && (st->rng.inc & 1u)))
        s = bad_meta(path, "rng_state\" or \"rng_inc", "a PCG state (unsigned, odd increment)");
    if (s == CG_OK) s = meta_nonneg(path, f, "epoch_loss_sum", &st->loss_sum);
    if (s == CG_OK) s = meta_nonneg(path, f, "lr", &lr);
    st->seconds = 0.0;
    if (s == CG_OK && st->batch_in_epoch > 0) s = meta_nonneg(path, f, "epoch_seconds", &st->seconds);
    if (s != CG_OK) return s;
    st->lr = (float)lr;
    /* Metrics are informational: absent ones stay unknown. */
    st->train_loss = st->train_accuracy = st->val_loss = st->val_accuracy = NAN;
    meta_double(f, "train_loss", &st->train_loss);
    meta_double(f, "train_accuracy", &st->train_accuracy);
    meta_double(f, "val_loss", &st->val_loss);
    meta_double(f, "val_accuracy", &st->val_accuracy);
    st->val_mae = st->val_rmse = st->val_r2 = st->val_top_k_accuracy = NAN;
    meta_double(f, "val_mae", &st->val_mae);
    meta_double(f, "val_rmse", &st->val_rmse);
    meta_double(f, "val_r2", &st->val_r2);
    meta_double(f, "val_top_k_accuracy", &st->val_top_k_accuracy);
    st->train_mae = st->train_rmse = st->train_r2 = st->train_top_k_accuracy = NAN;
    meta_double(f, "train_mae", &st->train_mae);
    meta_double(f, "train_rmse", &st->train_rmse);
    meta_double(f, "train_r2", &st->train_r2);
    meta_double(f, "train_top_k_accuracy", &st->train_top_k_accuracy);
    read_metric_sums(f, &st->sums);
    read_callback_state(f, st);
    return CG_OK;
}

static cg_status read_spec(const char *path, const cg_st_file *f, cg_model_spec **spec)
{
    const char *json = cg_st_meta(f, "model");
    *spec = NULL;
    if (!json) return CG_OK;
    cg_status s = cg_model_spec_parse(json, spec);
    if (s != CG_OK) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", cg_last_error());
        return cg_set_error(s, "%s: the model stored in __metadata__ is invalid: %s", path, msg);
    }
    return CG_OK;
}

cg_status cg_checkpoint_load(const char *path, cg_checkpoint **out)
{
    if (!path || !out) return cg_set_error(CG_ERR_ARG, "cg_checkpoint_load: NULL argument");
    *out = NULL;
    cg_checkpoint *ck = calloc(1, sizeof *ck);
    if (!ck) return cg_set_error(CG_ERR_NOMEM, "cg_checkpoint_load: out of memory");
    cg_status s = cg_safetensors_load(path, &ck->file);
    if (s == CG_OK) s = read_spec(path, ck->file, &ck->spec);
    ck->has_state = s == CG_OK && cg_st_meta(ck->file, "epoch") != NULL;
    if (ck->has_state) s = read_state(path, ck->file, &ck->state);
    if (s != CG_OK) {
        cg_checkpoint_free(ck);
        return s;
    }
    *out = ck;
    return CG_OK;
}

void cg_checkpoint_free(cg_checkpoint *ck)
{
    if (!ck) return;
    cg_safetensors_free(ck->file);
    cg_model_spec_free(ck->spec);
    free(ck);
}

static cg_status check_optim_entry(const cg_st_entry *e, const char *name, const cg_tensor *p)
{
    if (!e) return cg_set_error(CG_ERR_FORMAT, "optimizer state tensor \"%s\" is missing", name);
    bool same = e->dtype == CG_DTYPE_F32 && e->ndim == p->ndim;
    for (int d = 0; same && d < p->ndim; d++) same = e->shape[d] == p->shape[d];
    if (!same) {
        char shape[96];
        return cg_set_error(CG_ERR_FORMAT, "optimizer state tensor \"%s\" must be F32 %s", name,
                            cg_shape_str(p, shape, sizeof shape));
    }
    return CG_OK;
}

/* Visits every (state buffer, parameter) pair: checks only, or copies. */
static cg_status restore_buffers(const cg_checkpoint *ck, cg_params *params, cg_optim *opt,
                                 bool copy)
{
    const float *base = cg_params_data(params);
    char name[512];
    for (size_t s = 0; s < cg_optim_state_count(opt); s++) {
        float *buf = cg_optim_state_data(opt, s);
        for (size_t i = 0; i < cg_params_count(params); i++) {
            const cg_tensor *p = cg_params_at(params, i);
            snprintf(name, sizeof name, OPTIM_PREFIX "%s.%s", cg_optim_state_name(opt, s), p->name);
            const cg_st_entry *e = cg_st_find(ck->file, name);
            cg_status st = check_optim_entry(e, name, p);
            if (st != CG_OK) return st;
            if (copy) memcpy(buf + (p->data - base), e->data, (size_t)p->size * sizeof(float));
        }
    }
    return CG_OK;
}

cg_status cg_checkpoint_restore_optim(const cg_checkpoint *ck, cg_model *model, cg_optim *opt)
{
    if (!ck || !model || !opt) return cg_set_error(CG_ERR_ARG, "cg_checkpoint_restore_optim: NULL argument");
    const cg_st_entry *step = cg_st_find(ck->file, OPTIM_STEP_NAME);
    if (!step || step->dtype != CG_DTYPE_I64 || step->ndim != 0)
        return cg_set_error(CG_ERR_FORMAT, "optimizer step count \"%s\" (I64 scalar) is missing",
                            OPTIM_STEP_NAME);
    int64_t steps;
    memcpy(&steps, step->data, sizeof steps);
    /* The optimizer steps once per training step: a count that disagrees
     * would silently change Adam's bias correction. */
    if (steps < 0 || steps > MAX_COUNT)
        return cg_set_error(CG_ERR_FORMAT, "optimizer step count \"%s\" is %lld, not in [0, 2^53]",
                            OPTIM_STEP_NAME, (long long)steps);
    if (ck->has_state && steps != ck->state.step)
        return cg_set_error(CG_ERR_FORMAT, "optimizer step count \"%s\" is %lld but __metadata__ "
                                           "step is %lld", OPTIM_STEP_NAME, (long long)steps,
                            (long long)ck->state.step);
    cg_params *params = cg_model_params(model);
    cg_status s = restore_buffers(ck, params, opt, false);
    if (s != CG_OK) return s;
    restore_buffers(ck, params, opt, true);
    cg_optim_set_step_count(opt, steps);
    return CG_OK;
}
