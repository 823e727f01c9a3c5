/* Initialisers: torch.nn.init's formulas (bounds and moments), the dense
 * layer's nn.Linear defaults, and seeded reproducibility. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cgrad.h"

typedef struct moments {
    double mean, std, min, max;
} moments;

static moments moments_of(const cg_tensor *t)
{
    moments m = {0, 0, INFINITY, -INFINITY};
    for (int64_t i = 0; i < t->size; i++) {
        m.mean += t->data[i];
        m.min = fmin(m.min, t->data[i]);
        m.max = fmax(m.max, t->data[i]);
    }
    m.mean /= (double)t->size;
    for (int64_t i = 0; i < t->size; i++) m.std += pow(t->data[i] - m.mean, 2);
    m.std = sqrt(m.std / (double)t->size);
    return m;
}

static cg_tensor *matrix(int64_t rows, int64_t cols)
{
    return cg_tensor_create(2, (int64_t[]){rows, cols});
}

static void fans_follow_torch(void **state)
{
    (void)state;
    int64_t in, out;
    cg_tensor *conv = cg_tensor_create(4, (int64_t[]){32, 16, 3, 3});
    assert_int_equal(cg_fan_in_out(conv, &in, &out), CG_OK);
    assert_int_equal(in, 16 * 9);
    assert_int_equal(out, 32 * 9);
    cg_tensor *vec = cg_tensor_create(1, (int64_t[]){5});
    assert_int_equal(cg_fan_in_out(vec, &in, &out), CG_ERR_ARG);
    assert_non_null(strstr(cg_last_error(), "rank"));
    cg_tensor_free(conv);
    cg_tensor_free(vec);
}

/* U(-b, b) has std b/sqrt(3); N(0, s) has std s. 400x500 samples: 1% bands. */
static void uniform_and_normal_moments(void **state)
{
    (void)state;
    cg_rng rng;
    cg_rng_seed(&rng, 11);
    cg_tensor *w = matrix(400, 500);
    int64_t fan_in = 500, fan_out = 400;

    assert_int_equal(cg_init_kaiming_uniform(w, sqrtf(5.0f), &rng), CG_OK);
    double bound = 1.0 / sqrt((double)fan_in); /* gain sqrt(2/6), times sqrt(3/fan_in) */
    moments m = moments_of(w);
    assert_true(m.min >= -bound && m.max <= bound);
    assert_true(fabs(m.std - bound / sqrt(3.0)) < 0.01 * bound);
    assert_true(fabs(m.mean) < 0.01 * bound);

    assert_int_equal(cg_init_kaiming_normal(w, 0.0f, &rng), CG_OK);
    m = moments_of(w);
    assert_true(fabs(m.std - sqrt(2.0 / fan_in)) < 0.01 * sqrt(2.0 / fan_in));

    assert_int_equal(cg_init_xavier_uniform(w, 1.0f, &rng), CG_OK);
    double xb = sqrt(6.0 / (double)(fan_in + fan_out));
    m = moments_of(w);
    assert_true(m.min >= -xb && m.max <= xb);
    assert_true(fabs(m.std - xb / sqrt(3.0)) < 0.01 * xb);

    assert_int_equal(cg_init_xavier_normal(w, 2.0f, &rng), CG_OK);
    double xs = 2.0 * sqrt(2.0 / (double)(fan_in + fan_out));
    m = moments_of(w);
    assert_true(fabs(m.std - xs) < 0.01 * xs);
    assert_true(fabs(m.mean) < 0.01 * xs);
    cg_tensor_free(w);
}

static void dense_defaults_match_nn_linear(void **state)
{
    (void)state;
    cg_rng rng;
    cg_rng_seed(&rng, 3);
    cg_params *p = cg_params_create();
    cg_dense d;
    assert_int_equal(cg_dense_init(&d, p, "fc", 300, 200, true, CG_ACT_RELU, &rng), CG_OK);
    assert_string_equal(d.weight->name, "fc.weight");
    assert_int_equal(d.weight->shape[0], 200); /* [out, in] as nn.Linear */
    assert_int_equal(d.weight->shape[1], 300);
    assert_string_equal(d.bias->name, "fc.bias");
    double bound = 1.0 / sqrt(300.0);
    moments w = moments_of(d.weight), b = moments_of(d.bias);
    assert_true(w.min >= -bound && w.max <= bound && w.max > 0.95 * bound);
    assert_true(b.min >= -bound && b.max <= bound);
    assert_true(fabs(w.std - bound / sqrt(3.0)) < 0.02 * bound);
    assert_int_equal(cg_params_numel(p), 200 * 300 + 200);
    cg_params_destroy(p);
}

static void same_seed_same_weights(void **state)
{
    (void)state;
    float first[12], again[12];
    for (int run = 0; run < 3; run++) {
        cg_rng rng;
        cg_rng_seed(&rng, run < 2 ? 42 : 43);
        cg_params *p = cg_params_create();
        cg_dense d;
        assert_int_equal(cg_dense_init(&d, p, "l", 4, 3, false, CG_ACT_NONE, &rng), CG_OK);
        assert_null(d.bias);
        memcpy(run == 0 ? first : again, d.weight->data, sizeof first);
        if (run == 1) assert_memory_equal(first, again, sizeof first);
        if (run == 2) assert_memory_not_equal(first, again, sizeof first);
        cg_params_destroy(p);
    }
}

static void dense_rejects_bad_sizes(void **state)
{
    (void)state;
    cg_rng rng;
    cg_rng_seed(&rng, 1);
    cg_params *p = cg_params_create();
    cg_dense d;
    assert_int_equal(cg_dense_init(&d, p, "bad", 0, 3, true, CG_ACT_NONE, &rng), CG_ERR_ARG);
    assert_non_null(strstr(cg_last_error(), "in=0"));
    assert_int_equal(cg_dense_init(&d, p, "x", 2, 3, true, CG_ACT_NONE, &rng), CG_OK);
    assert_int_equal(cg_dense_init(&d, p, "x", 2, 3, true, CG_ACT_NONE, &rng), CG_ERR_ARG);
    assert_non_null(strstr(cg_last_error(), "already exists"));
    cg_params_destroy(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fans_follow_torch),
        cmocka_unit_test(uniform_and_normal_moments),
        cmocka_unit_test(dense_defaults_match_nn_linear),
        cmocka_unit_test(same_seed_same_weights),
        cmocka_unit_test(dense_rejects_bad_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
