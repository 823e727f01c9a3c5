/* The gradient-check harness; see gradcheck.h. */
#include "gradcheck.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GC_STEP 1e-6
/* The reference is rerun twice per differentiated element, so a large input,
 * or one feeding a large output, has a random sample of elements checked. */
#define GC_FULL_CHECK_MAX 256
#define GC_FULL_CHECK_WORK 65536
#define GC_SAMPLES 24
#define GC_MAX_REPORTS 6

int64_t gc_numel(const gc_shape *s)
{
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++) n *= s->d[i];
    return n;
}

bool gc_same_shape(const gc_shape *a, const gc_shape *b)
{
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->d[i] != b->d[i]) return false;
    return true;
}

static int64_t dim_from_right(const gc_shape *s, int k)
{
    return k < s->ndim ? s->d[s->ndim - 1 - k] : 1;
}

bool gc_broadcast(const gc_shape *a, const gc_shape *b, gc_shape *out)
{
    out->ndim = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int k = 0; k < out->ndim; k++) {
        int64_t da = dim_from_right(a, k), db = dim_from_right(b, k);
        if (da != db && da != 1 && db != 1) return false;
        out->d[out->ndim - 1 - k] = da == 1 ? db : da;
    }
    return true;
}

int64_t gc_bcast_index(const gc_shape *out, const gc_shape *in, int64_t i)
{
    int64_t idx = 0, stride = 1;
    for (int k = 0; k < in->ndim; k++) {
        int64_t od = out->d[out->ndim - 1 - k], id = in->d[in->ndim - 1 - k];
        int64_t coord = i % od;
        i /= od;
        if (id != 1) idx += coord * stride;
        stride *= id;
    }
    return idx;
}

void gc_split(const gc_shape *s, int axis, int64_t *outer, int64_t *len, int64_t *inner)
{
    *outer = *inner = 1;
    for (int d = 0; d < axis; d++) *outer *= s->d[d];
    for (int d = axis + 1; d < s->ndim; d++) *inner *= s->d[d];
    *len = s->d[axis];
}

/* ---- one trial ---- */

typedef struct trial {
    const gc_case *c;
    gc_args args;
    cg_rng rng;
    cg_ctx *ctx;
    cg_tensor *x[GC_MAX_INPUTS];
    double *xd[GC_MAX_INPUTS];
    int32_t *labels;
    cg_tensor *y;
    gc_shape yshape;
    float *seed;
    float *first_grad[GC_MAX_INPUTS];
    double *scratch_y;
    char *why;
    size_t why_size;
    int reports;
} trial;

static bool fail(trial *t, const char *fmt, ...)
{
    if (t->reports++ >= GC_MAX_REPORTS) return false;
    size_t used = strlen(t->why);
    if (used + 1 >= t->why_size) return false;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->why + used, t->why_size - used, fmt, ap);
    va_end(ap);
    used = strlen(t->why);
    if (used + 1 < t->why_size) strcat(t->why, "\n");
    return false;
}

static double uniform(cg_rng *rng, double lo, double hi)
{
    return lo + (hi - lo) * cg_rng_uniform(rng);
}

static float draw(cg_rng *rng, gc_domain d)
{
    switch (d) {
    case GC_ANY: return (float)uniform(rng, -2, 2);
    case GC_POSITIVE: return (float)uniform(rng, 0.5, 2);
    case GC_AWAY_FROM_ZERO: {
        float v = (float)uniform(rng, 0.25, 2);
        return cg_rng_u32(rng) & 1 ? v : -v;
    }
    case GC_SMALL: return (float)uniform(rng, -0.1, 0.1);
    case GC_UNIT: return (float)uniform(rng, 0, 1);
    case GC_WIDE: return (float)uniform(rng, -100, 100);
    }
    return 0.0f;
}

static void resolve_shapes(trial *t)
{
    int64_t dims[GC_RANDOM_DIMS];
    for (int k = 0; k < GC_RANDOM_DIMS; k++) dims[k] = 1 + cg_rng_below(&t->rng, 5);
    for (int i = 0; i < t->c->n_inputs; i++) {
        gc_shape s = t->c->shape[i];
        for (int d = 0; d < s.ndim; d++)
            if (s.d[d] < 0) s.d[d] = dims[-s.d[d] - 1];
        t->args.shape[i] = s;
    }
}

static bool make_inputs(trial *t)
{
    const gc_case *c = t->c;
    for (int i = 0; i < c->n_inputs; i++) {
        const gc_shape *s = &t->args.shape[i];
        int64_t n = gc_numel(s);
        float *v = malloc((size_t)n * sizeof *v);
        t->xd[i] = malloc((size_t)n * sizeof *t->xd[i]);
        if (!v || !t->xd[i]) {
            free(v);
            return fail(t, "out of memory");
        }
        for (int64_t j = 0; j < n; j++) t->xd[i][j] = v[j] = draw(&t->rng, c->domain[i]);
        t->x[i] = cg_tensor_from(t->ctx, s->ndim, s->d, v);
        free(v);
        if (!t->x[i]) return fail(t, "input %d: %s", i, cg_last_error());
        cg_tensor_set_requires_grad(t->x[i], !(c->no_grad & (1u << i)));
    }
    if (c->labels) {
        int64_t N = t->args.shape[0].d[0], C = t->args.shape[0].d[1];
        t->labels = malloc((size_t)N * sizeof *t->labels);
        if (!t->labels) return fail(t, "out of memory");
        for (int64_t r = 0; r < N; r++) t->labels[r] = (int32_t)cg_rng_below(&t->rng, (uint32_t)C);
        t->args.labels = t->labels;
    }
    return true;
}

static double projected_ref(trial *t)
{
    gc_shape s;
    t->c->ref(&t->args, (const double *const *)t->xd, &s, t->scratch_y);
    double f = 0.0;
    for (int64_t i = 0; i < t->y->size; i++) f += (double)t->seed[i] * t->scratch_y[i];
    return f;
}

static bool check_forward(trial *t)
{
    const gc_case *c = t->c;
    char got_s[96], want_s[96];
    c->ref(&t->args, (const double *const *)t->xd, &t->yshape, NULL);
    gc_shape got = {t->y->ndim, {0}};
    memcpy(got.d, t->y->shape, sizeof got.d);
    if (!gc_same_shape(&got, &t->yshape)) {
        cg_tensor ref = {.ndim = t->yshape.ndim};
        memcpy(ref.shape, t->yshape.d, sizeof ref.shape);
        return fail(t, "output shape %s, reference %s", cg_shape_str(t->y, got_s, sizeof got_s),
                    cg_shape_str(&ref, want_s, sizeof want_s));
    }
    t->scratch_y = malloc((size_t)t->y->size * sizeof *t->scratch_y);
    if (!t->scratch_y) return fail(t, "out of memory");
    c->ref(&t->args, (const double *const *)t->xd, &t->yshape, t->scratch_y);
    double rtol = c->fwd_rtol ? c->fwd_rtol : 1e-4, atol = c->fwd_atol ? c->fwd_atol : 1e-5;
    bool ok = true;
    for (int64_t i = 0; i < t->y->size; i++) {
        double want = t->scratch_y[i], got_v = t->y->data[i];
        if (!(fabs(got_v - want) <= atol + rtol * fabs(want)))
            ok = fail(t, "forward[%lld] = %.9g, reference %.9g", (long long)i, got_v, want);
    }
    return ok;
}

static bool run_backward(trial *t)
{
    cg_status st = cg_backward_seeded(t->ctx, t->y, t->seed);
    if (st != CG_OK) return fail(t, "backward: %s", cg_last_error());
    return true;
}

/* Element j of input i: analytic against central difference. */
static bool check_element(trial *t, int i, int64_t j, double rtol, double atol)
{
    double keep = t->xd[i][j];
    t->xd[i][j] = keep + GC_STEP;
    double fp = projected_ref(t);
    t->xd[i][j] = keep - GC_STEP;
    double fm = projected_ref(t);
    t->xd[i][j] = keep;
    double numeric = (fp - fm) / (2 * GC_STEP), analytic = t->x[i]->grad[j];
    if (fabs(analytic - numeric) <= atol + rtol * fabs(numeric)) return true;
    return fail(t, "d/d input %d [%lld] (x = %.6g): analytic %.9g, numeric %.9g", i,
                (long long)j, keep, analytic, numeric);
}

static bool check_gradients(trial *t)
{
    const gc_case *c = t->c;
    double rtol = c->rtol ? c->rtol : 1e-3, atol = c->atol ? c->atol : 1e-4;
    bool ok = true;
    for (int i = 0; i < c->n_inputs; i++) {
        cg_tensor *x = t->x[i];
        if (!x->requires_grad) {
            if (x->grad) ok = fail(t, "input %d does not require grad but got one", i);
            continue;
        }
        if (!x->grad) {
            ok = fail(t, "input %d got no gradient", i);
            continue;
        }
        int64_t n = x->size;
        if (n <= GC_FULL_CHECK_MAX && n * t->y->size <= GC_FULL_CHECK_WORK) {
            for (int64_t j = 0; j < n; j++) ok &= check_element(t, i, j, rtol, atol);
        } else {
            ok &= check_element(t, i, 0, rtol, atol);
            ok &= check_element(t, i, n - 1, rtol, atol);
            for (int k = 0; k < GC_SAMPLES; k++)
                ok &= check_element(t, i, (int64_t)cg_rng_below(&t->rng, (uint32_t)n), rtol, atol);
        }
    }
    return ok;
}

/* A second backward adds the same gradient again to every input (leaves
 * accumulate, as in PyTorch), through the ops' accumulate path. */
static bool check_accumulation(trial *t)
{
    const gc_case *c = t->c;
    for (int i = 0; i < c->n_inputs; i++) {
        if (!t->x[i]->grad) continue;
        t->first_grad[i] = malloc((size_t)t->x[i]->size * sizeof(float));
        if (!t->first_grad[i]) return fail(t, "out of memory");
        memcpy(t->first_grad[i], t->x[i]->grad, (size_t)t->x[i]->size * sizeof(float));
    }
    if (!run_backward(t)) return false;
    bool ok = true;
    for (int i = 0; i < c->n_inputs; i++) {
        if (!t->first_grad[i]) continue;
        for (int64_t j = 0; j < t->x[i]->size; j++) {
            double want = 2.0 * t->first_grad[i][j], got = t->x[i]->grad[j];
            if (!(fabs(got - want) <= 1e-6 + 1e-5 * fabs(want)))
                ok = fail(t, "accumulated d/d input %d [%lld]: %.9g, twice the first %.9g", i,
                          (long long)j, got, want);
        }
    }
    return ok;
}

static bool run_trial(trial *t)
{
    if (!make_inputs(t)) return false;
    cg_clear_error();
    t->y = t->c->build(t->ctx, t->x, &t->args);
    if (!t->y) return fail(t, "build failed: %s", cg_last_error());
    t->args.observed = t->y->data;
    if (!check_forward(t)) return false;
    t->seed = malloc((size_t)t->y->size * sizeof *t->seed);
    if (!t->seed) return fail(t, "out of memory");
    for (int64_t i = 0; i < t->y->size; i++) t->seed[i] = (float)uniform(&t->rng, -1, 1);
    if (!run_backward(t)) return false;
    bool ok = check_gradients(t);
    return check_accumulation(t) && ok;
}

static void trial_free(trial *t)
{
    for (int i = 0; i < GC_MAX_INPUTS; i++) {
        free(t->xd[i]);
        free(t->first_grad[i]);
    }
    free(t->labels);
    free(t->seed);
    free(t->scratch_y);
    cg_ctx_destroy(t->ctx);
}

static bool has_random_dim(const gc_case *c)
{
    for (int i = 0; i < c->n_inputs; i++)
        for (int d = 0; d < c->shape[i].ndim; d++)
            if (c->shape[i].d[d] < 0) return true;
    return false;
}

bool gc_run(const gc_case *c, uint64_t seed, char *why, size_t why_size)
{
    int trials = c->trials ? c->trials : has_random_dim(c) ? 3 : 1;
    why[0] = '\0';
    bool ok = true;
    for (int k = 0; k < trials && ok; k++) {
        trial t = {.c = c, .why = why, .why_size = why_size};
        t.args.n_inputs = c->n_inputs;
        t.args.target = c->target;
        memcpy(t.args.iarg, c->iarg, sizeof t.args.iarg);
        memcpy(t.args.farg, c->farg, sizeof t.args.farg);
        cg_rng_seed(&t.rng, seed + 7919u * (uint64_t)k);
        resolve_shapes(&t);
        t.ctx = cg_ctx_create(0);
        if (!t.ctx) {
            fail(&t, "cg_ctx_create: %s", cg_last_error());
            return false;
        }
        cg_rng_seed(cg_ctx_rng(t.ctx), seed);
        ok = run_trial(&t);
        if (!ok) fail(&t, "(trial %d)", k);
        trial_free(&t);
    }
    return ok;
}
