/* Smoke test of the core: arena reuse, tape, linear forward/backward shapes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "cgrad.h"

static void linear_backward_fills_grads(void **state)
{
    (void)state;
    cg_ctx *ctx = cg_ctx_create(0);
    cg_params *p = cg_params_create();
    cg_rng rng;
    cg_rng_seed(&rng, 1);
    cg_dense d;
    assert_int_equal(cg_dense_init(&d, p, "fc", 3, 2, true, CG_ACT_TANH, &rng), CG_OK);
    float xs[6] = {1, 2, 3, -1, 0.5f, 0};
    cg_tensor *x = cg_tensor_from(ctx, 2, (int64_t[]){2, 3}, xs);
    cg_tensor *y = cg_dense_forward(ctx, &d, x);
    assert_non_null(y);
    assert_int_equal(y->shape[0], 2);
    assert_int_equal(y->shape[1], 2);
    float seed[4] = {1, 1, 1, 1};
    cg_params_zero_grad(p);
    assert_int_equal(cg_backward_seeded(ctx, y, seed), CG_OK);
    /* db = Σ_rows (1 - y²) */
    for (int j = 0; j < 2; j++) {
        float expect = 0;
        for (int i = 0; i < 2; i++) expect += 1 - y->data[i * 2 + j] * y->data[i * 2 + j];
        assert_float_equal(d.bias->grad[j], expect, 1e-6);
    }
    size_t reserved = cg_ctx_arena_reserved(ctx);
    cg_ctx_reset(ctx);
    assert_int_equal(cg_ctx_tape_length(ctx), 0);
    assert_int_equal(cg_ctx_arena_reserved(ctx), reserved);
    cg_params_destroy(p);
    cg_ctx_destroy(ctx);
}

/* One step of a small MLP that needs far more than the arena's first chunk. */
static void arena_step(cg_ctx *ctx, cg_dense *d)
{
    cg_tensor *x = cg_tensor_zeros(ctx, 2, (int64_t[]){64, 32});
    cg_tensor *h = cg_dense_forward(ctx, &d[0], x);
    cg_tensor *loss = cg_mean(ctx, cg_dense_forward(ctx, &d[1], h), CG_AXIS_ALL, false);
    assert_int_equal(cg_backward(ctx, loss), CG_OK);
}

/* The arena grows in chunks during the first step; reset merges them, so
 * later steps of the same size fit without reserving more. */
static void second_step_reserves_nothing_more(void **state)
{
    (void)state;
    cg_ctx *ctx = cg_ctx_create(1024);
    cg_params *p = cg_params_create();
    cg_rng rng;
    cg_rng_seed(&rng, 3);
    cg_dense d[2];
    assert_int_equal(cg_dense_init(&d[0], p, "a", 32, 64, true, CG_ACT_RELU, &rng), CG_OK);
    assert_int_equal(cg_dense_init(&d[1], p, "b", 64, 8, true, CG_ACT_NONE, &rng), CG_OK);
    arena_step(ctx, d);
    size_t reserved = cg_ctx_arena_reserved(ctx);
    assert_true(reserved > 4 * 1024);
    for (int step = 0; step < 3; step++) {
        cg_ctx_reset(ctx);
        arena_step(ctx, d);
        assert_int_equal(cg_ctx_arena_reserved(ctx), reserved);
    }
    cg_params_destroy(p);
    cg_ctx_destroy(ctx);
}

static void shape_mismatch_names_both_shapes(void **state)
{
    (void)state;
    cg_ctx *ctx = cg_ctx_create(0);
    cg_tensor *a = cg_tensor_zeros(ctx, 2, (int64_t[]){2, 3});
    cg_tensor *b = cg_tensor_zeros(ctx, 2, (int64_t[]){4, 5});
    assert_null(cg_matmul(ctx, a, b, false, false));
    assert_non_null(strstr(cg_last_error(), "[2, 3]"));
    assert_non_null(strstr(cg_last_error(), "[4, 5]"));
    cg_ctx_destroy(ctx);
}

/* Leaf gradients accumulate across backward calls until zero_grad, as in PyTorch. */
static void heap_leaf_accumulates_until_zero_grad(void **state)
{
    (void)state;
    cg_ctx *ctx = cg_ctx_create(0);
    cg_tensor *x = cg_tensor_create(1, (int64_t[]){2});
    cg_tensor_set_requires_grad(x, true);
    cg_tensor *loss = cg_sum(ctx, cg_mul_scalar(ctx, x, 3.0f), CG_AXIS_ALL, false);
    assert_int_equal(cg_backward(ctx, loss), CG_OK);
    assert_int_equal(cg_backward(ctx, loss), CG_OK);
    assert_float_equal(x->grad[0], 6.0f, 0.0f);
    cg_tensor_zero_grad(x);
    assert_int_equal(cg_backward(ctx, loss), CG_OK);
    assert_float_equal(x->grad[1], 3.0f, 0.0f);
    cg_tensor_free(x);
    cg_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(linear_backward_fills_grads),
        cmocka_unit_test(shape_mismatch_names_both_shapes),
        cmocka_unit_test(heap_leaf_accumulates_until_zero_grad),
        cmocka_unit_test(second_step_reserves_nothing_more),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
