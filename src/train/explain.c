/* Explaining predictions: gradients of a model's output with respect to its
 * input, and the attribution methods built on them (saliency,
 * gradient × input, integrated gradients, SmoothGrad).
 *
 * The same backward pass that trains the weights gives ∂output/∂input when
 * the input is a leaf that requires grad. The parameters are switched off
 * for the duration (requires_grad false), so backward neither computes nor
 * writes their gradients: an optimizer's accumulated gradients survive an
 * explanation unchanged. */
#include "cgrad.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int64_t numel(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

/* Positions of a sample's output that each hold a row of classes (T for an
 * output [T, C], 1 for [C]), and the row's length. */
static void output_rows(const cg_model_spec *spec, int64_t *positions, int64_t *classes)
{
    *classes = spec->output[spec->output_ndim - 1];
    *positions = numel(spec->output_ndim, spec->output) / *classes;
}

static cg_status check_target(const cg_model_spec *spec, const cg_grad_target *t)
{
    int64_t positions, classes;
    output_rows(spec, &positions, &classes);
    switch (t->kind) {
    case CG_GRAD_CLASS:
        if (t->class_index < 0 || t->class_index >= classes)
            return cg_set_error(CG_ERR_ARG,
                                "target class %lld is out of range: the model has %lld "
                                "output%s (classes 0..%lld)",
                                (long long)t->class_index, (long long)classes,
                                classes == 1 ? "" : "s", (long long)classes - 1);
        return CG_OK;
    case CG_GRAD_PREDICTED: return CG_OK;
    case CG_GRAD_LOSS:
        if (spec->loss == CG_LOSS_CROSS_ENTROPY && !t->labels)
            return cg_set_error(CG_ERR_ARG, "the loss target needs class labels (the model's loss "
                                            "is cross_entropy)");
        if (spec->loss != CG_LOSS_CROSS_ENTROPY && !t->targets)
            return cg_set_error(CG_ERR_ARG,
                                "the loss target needs target values (the model's "
                                "loss is %s)",
                                cg_loss_name(spec->loss));
        /* Labels are range-checked by cross_entropy itself. */
        return CG_OK;
    }
    return cg_set_error(CG_ERR_ARG, "unknown gradient target kind %d", (int)t->kind);
}

static int64_t argmax(const float *row, int64_t n)
{
    int64_t best = 0;
    for (int64_t c = 1; c < n; c++)
        if (row[c] > row[best]) best = c;
    return best;
}

/* The seed of a logit target: 1 at the chosen class of every output row,
 * so the gradient is that of the sum of the chosen logits; values_out gets
 * the sum per sample. */
static void logit_seed(const cg_tensor *out, int64_t n, const cg_grad_target *t, float *seed,
                       double *values_out)
{
    int64_t classes = out->shape[out->ndim - 1], rows = out->size / classes;
    memset(seed, 0, (size_t)out->size * sizeof *seed);
    if (values_out)
        for (int64_t i = 0; i < n; i++) values_out[i] = 0;
    for (int64_t r = 0; r < rows; r++) {
        const float *row = out->data + r * classes;
        int64_t c = t->kind == CG_GRAD_CLASS ? t->class_index : argmax(row, classes);
        seed[r * classes + c] = 1.0f;
        if (values_out) values_out[r / (rows / n)] += (double)row[c];
    }
}

/* Each sample's own loss (the batch loss is their mean), evaluated one
 * sample at a time without recording. */
static cg_status per_sample_losses(cg_ctx *ctx, const cg_model *model, const cg_tensor *out,
                                   int64_t n, const cg_grad_target *t, double *values_out)
{
    int64_t per = out->size / n, positions, classes;
    output_rows(cg_model_get_spec(model), &positions, &classes);
    cg_ctx_set_grad_enabled(ctx, false);
    int64_t shape[CG_MAX_DIMS];
    memcpy(shape, out->shape, sizeof shape);
    shape[0] = 1;
    for (int64_t i = 0; i < n; i++) {
        cg_tensor *row = cg_tensor_from(ctx, out->ndim, shape, out->data + i * per);
        cg_tensor *loss =
            row ? cg_model_loss(ctx, model, row, t->labels ? t->labels + i * positions : NULL,
                                t->targets ? t->targets + i * per : NULL)
                : NULL;
        if (!loss) return cg_last_status();
        values_out[i] = (double)loss->data[0];
    }
    return CG_OK;
}

/* Forward and backward of one batch in ctx; grad_out gets x's gradient. */
static cg_status input_grad_in(cg_ctx *ctx, cg_model *model, const float *x, int64_t n,
                               const cg_grad_target *t, float *grad_out, double *values_out)
{
    const cg_model_spec *spec = cg_model_get_spec(model);
    int64_t shape[CG_MAX_DIMS];
    shape[0] = n;
    memcpy(shape + 1, spec->input, (size_t)spec->input_ndim * sizeof *shape);
    cg_tensor *xin = cg_tensor_from(ctx, spec->input_ndim + 1, shape, x);
    if (!xin) return cg_last_status();
    cg_tensor_set_requires_grad(xin, true);
    cg_tensor *out = cg_model_forward(ctx, model, xin);
    if (!out) return cg_last_status();
    cg_status s;
    if (t->kind == CG_GRAD_LOSS) {
        cg_tensor *loss = cg_model_loss(ctx, model, out, t->labels, t->targets);
        if (!loss) return cg_last_status();
        /* The loss is a mean over samples: n times its gradient is each
         * sample's own loss's gradient (samples do not interact in
         * evaluation mode). */
        float seed = (float)n;
        s = cg_backward_seeded(ctx, loss, &seed);
        if (s == CG_OK && values_out) s = per_sample_losses(ctx, model, out, n, t, values_out);
    } else {
        float *seed = malloc((size_t)out->size * sizeof *seed);
        if (!seed)
            return cg_set_error(CG_ERR_NOMEM, "no memory for a seed of %lld floats",
                                (long long)out->size);
        logit_seed(out, n, t, seed, values_out);
        s = cg_backward_seeded(ctx, out, seed);
        free(seed);
    }
    if (s != CG_OK) return s;
    if (!xin->grad)
        return cg_set_error(CG_ERR_ARG, "the model's output is not differentiable with respect to "
                                        "its input (are the inputs token ids for an embedding?)");
    memcpy(grad_out, xin->grad, (size_t)xin->size * sizeof *grad_out);
    return CG_OK;
}

cg_status cg_model_input_grad(cg_model *model, const float *x, int64_t n,
                              const cg_grad_target *target, float *grad_out, double *values_out)
{
    if (!model || !x || !target || !grad_out)
        return cg_set_error(CG_ERR_ARG, "cg_model_input_grad: NULL argument");
    if (n < 1)
        return cg_set_error(CG_ERR_ARG, "cg_model_input_grad: need at least one sample, got %lld",
                            (long long)n);
    const cg_model_spec *spec = cg_model_get_spec(model);
    cg_status s = check_target(spec, target);
    if (s != CG_OK) return s;
    cg_ctx *ctx = cg_ctx_create(0);
    if (!ctx) return cg_last_status();
    cg_ctx_set_training(ctx, false);
    cg_params *p = cg_model_params(model);
    size_t np = cg_params_count(p);
    bool *wanted = malloc((np ? np : 1) * sizeof *wanted);
    if (!wanted) {
        cg_ctx_destroy(ctx);
        return cg_set_error(CG_ERR_NOMEM, "cg_model_input_grad: out of memory");
    }
    for (size_t i = 0; i < np; i++) {
        wanted[i] = cg_params_at(p, i)->requires_grad;
        cg_params_at(p, i)->requires_grad = false;
    }
    /* A stateful recurrent model would carry this batch into the next one:
     * every explanation starts from zeros, as evaluation does. */
    cg_model_reset_state(model);
    s = input_grad_in(ctx, model, x, n, target, grad_out, values_out);
    cg_model_reset_state(model);
    for (size_t i = 0; i < np; i++) cg_params_at(p, i)->requires_grad = wanted[i];
    free(wanted);
    cg_ctx_destroy(ctx);
    return s;
}

/* ------------------------------------------------------------- attribution */

const char *cg_attr_method_name(cg_attr_method m)
{
    switch (m) {
    case CG_ATTR_SALIENCY: return "saliency";
    case CG_ATTR_GRAD_X_INPUT: return "grad-x-input";
    case CG_ATTR_INTEGRATED_GRADIENTS: return "integrated-gradients";
    case CG_ATTR_SMOOTHGRAD: return "smoothgrad";
    }
    return "unknown";
}

bool cg_attr_method_from_name(const char *name, cg_attr_method *out)
{
    for (int m = CG_ATTR_SALIENCY; m <= CG_ATTR_SMOOTHGRAD; m++)
        if (strcmp(name, cg_attr_method_name((cg_attr_method)m)) == 0) {
            *out = (cg_attr_method)m;
            return true;
        }
    return false;
}

/* The labels / targets of sample i repeated k times, for a batch made of k
 * variants of it (integrated-gradient steps, noisy copies). */
typedef struct repeated_target {
    cg_grad_target t;
    int32_t *labels;
    float *targets;
} repeated_target;

static cg_status repeat_target(repeated_target *r, const cg_model_spec *spec,
                               const cg_grad_target *t, int64_t i, int64_t k)
{
    int64_t positions, classes, out = numel(spec->output_ndim, spec->output);
    output_rows(spec, &positions, &classes);
    *r = (repeated_target){.t = *t};
    if (t->kind != CG_GRAD_LOSS) return CG_OK;
    if (t->labels) r->labels = malloc((size_t)(k * positions) * sizeof *r->labels);
    if (t->targets) r->targets = malloc((size_t)(k * out) * sizeof *r->targets);
    if ((t->labels && !r->labels) || (t->targets && !r->targets)) {
        free(r->labels);
        free(r->targets);
        return cg_set_error(CG_ERR_NOMEM, "attribution: out of memory");
    }
    for (int64_t j = 0; j < k; j++) {
        if (r->labels)
            memcpy(r->labels + j * positions, t->labels + i * positions,
                   (size_t)positions * sizeof *r->labels);
        if (r->targets)
            memcpy(r->targets + j * out, t->targets + i * out, (size_t)out * sizeof *r->targets);
    }
    r->t.labels = r->labels;
    r->t.targets = r->targets;
    return CG_OK;
}

static void repeated_free(repeated_target *r)
{
    free(r->labels);
    free(r->targets);
}

/* The predicted class of every sample, so that every variant of a sample
 * (a step of the path, a noisy copy) is explained for the same class. */
static cg_status fix_predicted(cg_model *model, const float *x, int64_t n, int64_t *classes_out)
{
    const cg_model_spec *spec = cg_model_get_spec(model);
    int64_t positions, classes;
    output_rows(spec, &positions, &classes);
    if (positions != 1)
        return cg_set_error(CG_ERR_ARG,
                            "the predicted-class target of this method needs one "
                            "prediction per sample; the model predicts %lld per "
                            "sample (give a class)",
                            (long long)positions);
    cg_ctx *ctx = cg_ctx_create(0);
    if (!ctx) return cg_last_status();
    cg_ctx_set_training(ctx, false);
    cg_ctx_set_grad_enabled(ctx, false);
    int64_t shape[CG_MAX_DIMS];
    shape[0] = n;
    memcpy(shape + 1, spec->input, (size_t)spec->input_ndim * sizeof *shape);
    cg_model_reset_state(model);
    cg_tensor *xin = cg_tensor_from(ctx, spec->input_ndim + 1, shape, x);
    cg_tensor *out = xin ? cg_model_forward(ctx, model, xin) : NULL;
    cg_model_reset_state(model);
    cg_status s = out ? CG_OK : cg_last_status();
    for (int64_t i = 0; out && i < n; i++)
        classes_out[i] = argmax(out->data + i * classes, classes);
    cg_ctx_destroy(ctx);
    return s;
}

/* Integrated gradients of sample xi (d floats): the midpoint Riemann sum of
 * the gradient along the straight path from the baseline, times x − baseline. */
static cg_status integrated_one(cg_model *model, const float *xi, const float *base, int64_t d,
                                const cg_grad_target *t, int64_t steps, float *attr, double *fx,
                                double *fb)
{
    float *path = malloc((size_t)(steps * d) * sizeof *path);
    float *grad = malloc((size_t)(steps * d) * sizeof *grad);
    double *values = malloc((size_t)steps * sizeof *values);
    cg_status s = path && grad && values ? CG_OK
                                         : cg_set_error(CG_ERR_NOMEM,
                                                        "integrated gradients: no "
                                                        "memory for %lld steps",
                                                        (long long)steps);
    for (int64_t k = 0; s == CG_OK && k < steps; k++) {
        float alpha = (float)(((double)k + 0.5) / (double)steps);
        for (int64_t j = 0; j < d; j++) path[k * d + j] = base[j] + alpha * (xi[j] - base[j]);
    }
    if (s == CG_OK) s = cg_model_input_grad(model, path, steps, t, grad, values);
    for (int64_t j = 0; s == CG_OK && j < d; j++) {
        double sum = 0;
        for (int64_t k = 0; k < steps; k++) sum += grad[k * d + j];
        attr[j] = (float)((double)(xi[j] - base[j]) * sum / (double)steps);
    }
    /* The two ends, for the completeness check. */
    if (s == CG_OK) {
        memcpy(path, xi, (size_t)d * sizeof *path);
        memcpy(path + d, base, (size_t)d * sizeof *path);
        /* A loss target's repeated labels hold at least two copies. */
        s = cg_model_input_grad(model, path, 2, t, grad, values);
        if (s == CG_OK) {
            *fx = values[0];
            *fb = values[1];
        }
    }
    free(path);
    free(grad);
    free(values);
    return s;
}

/* SmoothGrad: the mean of |gradient| over `samples` copies of xi with
 * Gaussian noise of standard deviation `noise` added. */
static cg_status smoothgrad_one(cg_model *model, const float *xi, int64_t d,
                                const cg_grad_target *t, const cg_attr_options *o, cg_rng *rng,
                                float *attr)
{
    int64_t k = o->samples > 0 ? o->samples : 25;
    float *noisy = malloc((size_t)(k * d) * sizeof *noisy);
    float *grad = malloc((size_t)(k * d) * sizeof *grad);
    cg_status s = noisy && grad ? CG_OK
                                : cg_set_error(CG_ERR_NOMEM,
                                               "smoothgrad: no memory for %lld "
                                               "samples",
                                               (long long)k);
    for (int64_t j = 0; s == CG_OK && j < k * d; j++)
        noisy[j] = xi[j % d] + o->noise * cg_rng_normal(rng);
    if (s == CG_OK) s = cg_model_input_grad(model, noisy, k, t, grad, NULL);
    for (int64_t j = 0; s == CG_OK && j < d; j++) {
        double sum = 0;
        for (int64_t c = 0; c < k; c++) sum += fabs((double)grad[c * d + j]);
        attr[j] = (float)(sum / (double)k);
    }
    free(noisy);
    free(grad);
    return s;
}

static cg_status check_options(const cg_attr_options *o)
{
    if (o->method < CG_ATTR_SALIENCY || o->method > CG_ATTR_SMOOTHGRAD)
        return cg_set_error(CG_ERR_ARG, "unknown attribution method %d", (int)o->method);
    if (o->steps < 0 || o->steps > 100000)
        return cg_set_error(CG_ERR_ARG, "integrated gradients: steps must be 1..100000, got %lld",
                            (long long)o->steps);
    if (o->samples < 0 || o->samples > 100000)
        return cg_set_error(CG_ERR_ARG, "smoothgrad: samples must be 1..100000, got %lld",
                            (long long)o->samples);
    if (!(o->noise >= 0) || !isfinite(o->noise))
        return cg_set_error(CG_ERR_ARG, "smoothgrad: noise must be a finite number >= 0");
    return CG_OK;
}

/* One sample's attribution by a path or noise method. */
static cg_status attribute_one(cg_model *model, const float *xi, int64_t i, int64_t d,
                               const cg_attr_options *o, const cg_grad_target *t, cg_rng *rng,
                               float *attr, cg_attr_info *info)
{
    const cg_model_spec *spec = cg_model_get_spec(model);
    int64_t k = o->method == CG_ATTR_INTEGRATED_GRADIENTS ? (o->steps > 0 ? o->steps : 64)
                                                          : (o->samples > 0 ? o->samples : 25);
    repeated_target r;
    /* At least two copies: the completeness check evaluates both ends. */
    cg_status s = repeat_target(&r, spec, t, i, k < 2 ? 2 : k);
    if (s != CG_OK) return s;
    if (o->method == CG_ATTR_INTEGRATED_GRADIENTS) {
        float *zeros = o->baseline ? NULL : calloc((size_t)d, sizeof *zeros);
        const float *base = o->baseline ? o->baseline : zeros;
        if (!base) s = cg_set_error(CG_ERR_NOMEM, "integrated gradients: out of memory");
        double fx = NAN, fb = NAN;
        if (s == CG_OK) s = integrated_one(model, xi, base, d, &r.t, k, attr, &fx, &fb);
        if (s == CG_OK && info) {
            double sum = 0;
            for (int64_t j = 0; j < d; j++) sum += attr[j];
            info->f_input = fx;
            info->f_baseline = fb;
            info->attribution_sum = sum;
        }
        free(zeros);
    } else {
        s = smoothgrad_one(model, xi, d, &r.t, o, rng, attr);
    }
    repeated_free(&r);
    return s;
}

/* Saliency and gradient × input: one batched gradient. */
static cg_status attribute_batch(cg_model *model, const float *x, int64_t n, int64_t d,
                                 const cg_attr_options *o, float *attr, cg_attr_info *info)
{
    double *values = malloc((size_t)n * sizeof *values);
    if (!values) return cg_set_error(CG_ERR_NOMEM, "attribution: out of memory");
    cg_status s = cg_model_input_grad(model, x, n, &o->target, attr, values);
    for (int64_t j = 0; s == CG_OK && j < n * d; j++)
        attr[j] = o->method == CG_ATTR_SALIENCY ? fabsf(attr[j]) : attr[j] * x[j];
    for (int64_t i = 0; s == CG_OK && info && i < n; i++) {
        info[i] = (cg_attr_info){.f_input = values[i], .f_baseline = NAN, .attribution_sum = 0};
        for (int64_t j = 0; j < d; j++) info[i].attribution_sum += attr[i * d + j];
    }
    free(values);
    return s;
}

/* SmoothGrad's info: the target at the noiseless input and the sum of the
 * (magnitude) attributions; there is no baseline. */
static cg_status smoothgrad_info(cg_model *model, const float *xi, int64_t i, int64_t d,
                                 const cg_grad_target *t, const float *attr, cg_attr_info *info)
{
    const cg_model_spec *spec = cg_model_get_spec(model);
    int64_t positions, classes, out = numel(spec->output_ndim, spec->output);
    output_rows(spec, &positions, &classes);
    cg_grad_target own = *t; /* sample i's labels / targets */
    if (own.labels) own.labels += i * positions;
    if (own.targets) own.targets += i * out;
    float *grad = malloc((size_t)d * sizeof *grad);
    if (!grad) return cg_set_error(CG_ERR_NOMEM, "smoothgrad: out of memory");
    *info = (cg_attr_info){.f_baseline = NAN};
    cg_status s = cg_model_input_grad(model, xi, 1, &own, grad, &info->f_input);
    for (int64_t j = 0; j < d; j++) info->attribution_sum += attr[j];
    free(grad);
    return s;
}

cg_status cg_model_attribute(cg_model *model, const float *x, int64_t n, const cg_attr_options *o,
                             float *attr_out, cg_attr_info *info_out)
{
    if (!model || !x || !o || !attr_out)
        return cg_set_error(CG_ERR_ARG, "cg_model_attribute: NULL argument");
    if (n < 1) return cg_set_error(CG_ERR_ARG, "cg_model_attribute: need at least one sample");
    const cg_model_spec *spec = cg_model_get_spec(model);
    cg_status s = check_options(o);
    if (s == CG_OK) s = check_target(spec, &o->target);
    if (s != CG_OK) return s;
    int64_t d = numel(spec->input_ndim, spec->input);
    if (o->method == CG_ATTR_SALIENCY || o->method == CG_ATTR_GRAD_X_INPUT)
        return attribute_batch(model, x, n, d, o, attr_out, info_out);

    int64_t *predicted = malloc((size_t)n * sizeof *predicted);
    if (!predicted) return cg_set_error(CG_ERR_NOMEM, "attribution: out of memory");
    if (o->target.kind == CG_GRAD_PREDICTED) s = fix_predicted(model, x, n, predicted);
    cg_rng rng;
    cg_rng_seed(&rng, o->seed);
    for (int64_t i = 0; s == CG_OK && i < n; i++) {
        cg_grad_target t = o->target;
        if (t.kind == CG_GRAD_PREDICTED) {
            t.kind = CG_GRAD_CLASS;
            t.class_index = predicted[i];
        }
        s = attribute_one(model, x + i * d, i, d, o, &t, &rng, attr_out + i * d,
                          info_out ? &info_out[i] : NULL);
        if (s == CG_OK && info_out && o->method == CG_ATTR_SMOOTHGRAD)
            s = smoothgrad_info(model, x + i * d, i, d, &t, attr_out + i * d, &info_out[i]);
    }
    free(predicted);
    return s;
}
