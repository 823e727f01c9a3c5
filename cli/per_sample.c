/* eval --per-sample: one CSV row per sample with its own loss, the
 * prediction and its confidence, so the worst-classified samples can be
 * found (sort by loss) and explained (cgrad explain --index). */
#include "cli.h"

#include "fileio.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct per_sample {
    cg_atomic_file f;
    cg_ctx *ctx;
    cg_model *model;
    const cg_dataset *d;
    int64_t positions; /* label positions per sample (T for sequences) */
} per_sample;

static cg_status put(per_sample *w, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static cg_status put(per_sample *w, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return cg__atomic_write(&w->f, buf, (size_t)(n < (int)sizeof buf ? n : (int)sizeof buf - 1));
}

/* The sample's own loss: the model's loss of its output row alone. */
static cg_status sample_loss(per_sample *w, const cg_tensor *out, int64_t row, int64_t i,
                             double *loss)
{
    int64_t per = out->size / out->shape[0];
    int64_t shape[CG_MAX_DIMS];
    memcpy(shape, out->shape, sizeof shape);
    shape[0] = 1;
    cg_tensor *one = cg_tensor_from(w->ctx, out->ndim, shape, out->data + row * per);
    const cg_dataset *d = w->d;
    cg_tensor *l =
        one ? cg_model_loss(w->ctx, w->model, one, d->labels ? d->labels + i * w->positions : NULL,
                            d->y ? d->y + i * d->target_size : NULL)
            : NULL;
    if (!l) return cg_last_status();
    *loss = (double)l->data[0];
    return CG_OK;
}

/* Cross-entropy with one prediction per sample: the class, its softmax
 * probability, and whether it is the label. */
static cg_status classified_row(per_sample *w, const float *logits, int64_t classes, int64_t i,
                                double loss)
{
    int64_t best = 0;
    for (int64_t c = 1; c < classes; c++)
        if (logits[c] > logits[best]) best = c;
    double sum = 0;
    for (int64_t c = 0; c < classes; c++) sum += exp((double)logits[c] - logits[best]);
    int32_t label = w->d->labels[i];
    return put(w, "%lld,%d,%lld,%.6f,%.6g,%d\n", (long long)i, label, (long long)best, 1.0 / sum,
               loss, label == best);
}

static cg_status write_batch(void *user, int64_t first, const cg_tensor *out)
{
    per_sample *w = user;
    cg_ctx_reset(w->ctx);
    int64_t n = out->shape[0], per = out->size / n;
    bool classified =
        cg_model_get_spec(w->model)->loss == CG_LOSS_CROSS_ENTROPY && w->positions == 1;
    cg_status s = CG_OK;
    for (int64_t r = 0; s == CG_OK && r < n; r++) {
        double loss = NAN;
        s = sample_loss(w, out, r, first + r, &loss);
        if (s != CG_OK) break;
        if (classified) {
            s = classified_row(w, out->data + r * per, per, first + r, loss);
        } else {
            s = put(w, "%lld,%.6g", (long long)(first + r), loss);
            /* Regression: the prediction (first output) and its target. */
            if (s == CG_OK && w->d->y)
                s = put(w, ",%.6g,%.6g", (double)out->data[r * per],
                        (double)w->d->y[(first + r) * w->d->target_size]);
            if (s == CG_OK) s = put(w, "\n");
        }
    }
    return s;
}

cg_status cli_per_sample_write(const char *path, cg_model *model, const cg_dataset *d,
                               int64_t batch)
{
    const cg_model_spec *spec = cg_model_get_spec(model);
    per_sample w = {.model = model, .d = d, .positions = cg_model_spec_label_positions(spec)};
    bool classified = spec->loss == CG_LOSS_CROSS_ENTROPY && w.positions == 1;
    cg_status s = cg__atomic_open(&w.f, path);
    if (s != CG_OK) return s;
    w.ctx = cg_ctx_create(0);
    if (!w.ctx) s = cg_last_status();
    if (s == CG_OK) {
        cg_ctx_set_grad_enabled(w.ctx, false);
        s = put(&w, classified ? "index,label,predicted,confidence,loss,correct\n"
                    : d->y     ? "index,loss,prediction,target\n"
                               : "index,loss\n");
    }
    if (s == CG_OK) s = cg_predict(model, d, batch, write_batch, &w);
    cg_ctx_destroy(w.ctx);
    if (s != CG_OK) {
        cg__atomic_abort(&w.f);
        return s;
    }
    return cg__atomic_commit(&w.f);
}

cg_status cli_per_sample_check(const char *path)
{
    cg_atomic_file f;
    cg_status s = cg__atomic_open(&f, path);
    if (s == CG_OK) cg__atomic_abort(&f);
    return s;
}
