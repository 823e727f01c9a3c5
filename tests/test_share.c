/* A step as one process's share of a larger batch (ctx->share, the hooks
 * data-parallel training fills in), tested in one process without MPI:
 * cg_backward reports each leaf once, when its gradient is final (a weight
 * used twice, a weight no node uses, an input without a gradient); dropout
 * and dropout2d give a share exactly the rows of the whole batch's mask;
 * synchronised batch norm over two identical shares equals batch norm over
 * the batch of both. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cgrad.h"
#include "internal.h"

/* ------------------------------------------------------------ grad_ready */

enum { MAX_REPORTS = 8 };

typedef struct reports {
    int n;
    const cg_tensor *leaf[MAX_REPORTS];
    float grad[MAX_REPORTS][4];   /* the gradient when it was reported */
} reports;

static void record_ready(void *user, cg_tensor *leaf)
{
    reports *r = user;
    assert_true(r->n < MAX_REPORTS);
    r->leaf[r->n] = leaf;
    if (leaf->grad_written) memcpy(r->grad[r->n], leaf->grad, 4 * sizeof(float));
    r->n++;
}

/* y = tanh(x·w)·w' (w used twice, as a tied weight is; a node far apart
 * from its first use), loss = Σy. w must be reported once, after both
 * uses, with its final gradient; `unused` never (no node takes it). */
static void grad_ready_after_last_contribution(void **state)
{
    (void)state;
    cg_ctx *ctx = cg_ctx_create(0);
    cg_tensor *w = cg_tensor_create(2, (int64_t[]){2, 2});
    cg_tensor *v = cg_tensor_create(2, (int64_t[]){2, 2});
    cg_tensor *unused = cg_tensor_create(1, (int64_t[]){4});
    const float wv[4] = {0.5f, -0.25f, 0.75f, 0.1f}, vv[4] = {0.3f, 0.2f, -0.4f, 0.6f};
    memcpy(w->data, wv, sizeof wv);
    memcpy(v->data, vv, sizeof vv);
    cg_tensor_set_requires_grad(w, true);
    cg_tensor_set_requires_grad(v, true);
    cg_tensor_set_requires_grad(unused, true);
    reports r = {0};
    ctx->share = (cg_ctx_share){.grad_ready = record_ready, .user = &r};
    cg_tensor *x = cg_tensor_from(ctx, 2, (int64_t[]){3, 2}, (float[]){1, 2, 3, 4, 5, 6});
    cg_tensor *h = cg_tanh(ctx, cg_matmul(ctx, x, w, false, false));
    h = cg_matmul(ctx, cg_matmul(ctx, h, v, false, false), w, false, true);
    cg_tensor *loss = cg_sum(ctx, h, -1, false);
    loss = cg_sum(ctx, loss, 0, false);
    assert_non_null(loss);
    assert_int_equal(cg_backward(ctx, loss), CG_OK);
    assert_int_equal(r.n, 2); /* v, then w; not x, not unused */
    assert_ptr_equal(r.leaf[0], v);
    assert_ptr_equal(r.leaf[1], w);
    for (int i = 0; i < 4; i++) {
        assert_true(r.grad[0][i] == v->grad[i]);
        assert_true(r.grad[1][i] == w->grad[i]);
    }
    cg_tensor_free(w);
    cg_tensor_free(v);
    cg_tensor_free(unused);
    cg_ctx_destroy(ctx);
}

/* ------------------------------------------------------------ dropout */

enum { ROWS = 12, FIRST = 5, MINE = 4, CH = 3, PLANE = 4, PER_ROW = CH * PLANE };

static cg_tensor *rows_of(cg_ctx *ctx, int64_t first, int64_t n)
{
    cg_tensor *x = cg_tensor_new(ctx, 4, (int64_t[]){n, CH, 2, 2});
    assert_non_null(x);
    for (int64_t i = 0; i < x->size; i++) x->data[i] = 1.0f + (float)((first * PER_ROW + i) % 7);
    return x;
}

static void dropout_share_is_a_slice(void **state)
{
    (void)state;
    for (int two_d = 0; two_d <= 1; two_d++) {
        cg_ctx *whole = cg_ctx_create(0), *part = cg_ctx_create(0);
        cg_rng_seed(cg_ctx_rng(whole), 42);
        cg_rng_seed(cg_ctx_rng(part), 42);
        part->share = (cg_ctx_share){.first_row = FIRST, .rows = MINE, .total_rows = ROWS};
        cg_tensor *x = rows_of(whole, 0, ROWS), *xp = rows_of(part, FIRST, MINE);
        cg_tensor *y = two_d ? cg_dropout2d(whole, x, 0.5f) : cg_dropout(whole, x, 0.5f);
        cg_tensor *yp = two_d ? cg_dropout2d(part, xp, 0.5f) : cg_dropout(part, xp, 0.5f);
        assert_non_null(y);
        assert_non_null(yp);
        int dropped = 0;
        for (int64_t i = 0; i < yp->size; i++) {
            assert_true(yp->data[i] == y->data[FIRST * PER_ROW + i]);
            dropped += yp->data[i] == 0.0f;
        }
        assert_true(dropped > 0 && dropped < yp->size); /* a mask, not all or nothing */
        /* Both streams moved on alike: the next step's keys agree too. */
        assert_int_equal(cg_rng_u32(cg_ctx_rng(whole)), cg_rng_u32(cg_ctx_rng(part)));
        cg_ctx_destroy(whole);
        cg_ctx_destroy(part);
    }
}

/* ------------------------------------------------------------ batch norm */

/* The other share of the batch holds the same values as this one, so the
 * sum over both shares is twice this one's. */
static void twice(void *user, double *v, int64_t n)
{
    (*(int *)user)++;
    for (int64_t i = 0; i < n; i++) v[i] *= 2.0;
}

enum { BN_N = 3, BN_C = 2, BN_S = 5 };

static float input_value(int64_t i) { return sinf((float)i * 1.7f) * 3.0f + (float)(i % 4); }

/* Batch norm of x, seeded with dy, in ctx; out: y, dx, dweight, dbias,
 * running mean and var. */
static void bn_run(cg_ctx *ctx, int64_t n, bool sync, float dy_scale, float *y, float *dx,
                   float *dwb, float *running)
{
    cg_tensor *w = cg_tensor_create(1, (int64_t[]){BN_C});
    cg_tensor *b = cg_tensor_create(1, (int64_t[]){BN_C});
    w->data[0] = 1.5f, w->data[1] = 0.5f, b->data[0] = 0.1f, b->data[1] = -0.2f;
    cg_tensor_set_requires_grad(w, true);
    cg_tensor_set_requires_grad(b, true);
    float rmean[BN_C] = {0}, rvar[BN_C] = {1, 1};
    cg_tensor *x = cg_tensor_new(ctx, 3, (int64_t[]){n, BN_C, BN_S});
    for (int64_t i = 0; i < x->size; i++) x->data[i] = input_value(i % (BN_N * BN_C * BN_S));
    cg_tensor_set_requires_grad(x, true);
    cg_tensor *out = cg__batch_norm(ctx, x, w, b, rmean, rvar, NULL, 0.1f, 1e-5f, true, sync);
    assert_non_null(out);
    float *seed = malloc((size_t)out->size * sizeof *seed);
    for (int64_t i = 0; i < out->size; i++)
        seed[i] = dy_scale * cosf((float)(i % (BN_N * BN_C * BN_S)) * 0.9f);
    assert_int_equal(cg_backward_seeded(ctx, out, seed), CG_OK);
    memcpy(y, out->data, BN_N * BN_C * BN_S * sizeof *y);
    memcpy(dx, x->grad, BN_N * BN_C * BN_S * sizeof *dx);
    memcpy(dwb, w->grad, BN_C * sizeof *dwb);
    memcpy(dwb + BN_C, b->grad, BN_C * sizeof *dwb);
    memcpy(running, rmean, sizeof rmean);
    memcpy(running + BN_C, rvar, sizeof rvar);
    free(seed);
    cg_tensor_free(w);
    cg_tensor_free(b);
}

static void near(const float *want, const float *got, int n, float scale)
{
    for (int i = 0; i < n; i++)
        assert_true(fabsf(want[i] * scale - got[i]) <= 1e-5f * (1.0f + fabsf(got[i])));
}

/* The whole batch is x twice (2·BN_N rows). A share holds the first BN_N:
 * its loss is a mean over its own rows, so its dy is twice the whole
 * batch's. Synchronised, it must give the whole batch's y and running
 * statistics, dx twice the whole batch's, and dw, db equal to the whole
 * batch's (its weighted half plus the other's identical half). Local
 * statistics (sync false in the same share) cannot: the running variance
 * takes a Bessel factor of the share's size. */
static void sync_batch_norm_equals_the_whole_batch(void **state)
{
    (void)state;
    enum { V = BN_N * BN_C * BN_S };
    float y[V], dx[V], dwb[2 * BN_C], run[2 * BN_C];
    float ys[V], dxs[V], dwbs[2 * BN_C], runs[2 * BN_C];
    cg_ctx *whole = cg_ctx_create(0), *part = cg_ctx_create(0);
    bn_run(whole, 2 * BN_N, false, 1.0f, y, dx, dwb, run);
    int calls = 0;
    part->share = (cg_ctx_share){.first_row = 0, .rows = BN_N, .total_rows = 2 * BN_N,
                                 .sum = twice, .user = &calls};
    bn_run(part, BN_N, true, 2.0f, ys, dxs, dwbs, runs);
    assert_int_equal(calls, 3); /* Σx, Σ(x − μ)², then backward's two sums at once */
    near(y, ys, V, 1.0f);
    near(dx, dxs, V, 2.0f);
    near(dwb, dwbs, 2 * BN_C, 1.0f);
    near(run, runs, 2 * BN_C, 1.0f);
    /* The same share without "sync" takes its own statistics. */
    cg_ctx_reset(part);
    bn_run(part, BN_N, false, 2.0f, ys, dxs, dwbs, runs);
    assert_int_equal(calls, 3);
    assert_true(fabsf(runs[BN_C] - run[BN_C]) > 1e-4f);
    cg_ctx_destroy(whole);
    cg_ctx_destroy(part);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(grad_ready_after_last_contribution),
        cmocka_unit_test(dropout_share_is_a_slice),
        cmocka_unit_test(sync_batch_norm_equals_the_whole_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
