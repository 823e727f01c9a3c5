/* Metrics beside the loss (cg_evaluate, cg_evaluate_top_k) against values
 * worked out by hand: MAE, RMSE and R² over every output value of a
 * two-output regression, split over batches; top-k accuracy with a tie. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cgrad.h"

/* A model of one dense layer [units] on input [1]: weight w, bias 0. */
static cg_model *dense_model(const char *json, const float *w, int units, cg_model_spec **spec)
{
    assert_int_equal(cg_model_spec_parse(json, spec), CG_OK);
    cg_rng rng;
    cg_rng_seed(&rng, 1);
    cg_model *m = cg_model_create(*spec, &rng);
    assert_non_null(m);
    cg_params *p = cg_model_params(m);
    memcpy(cg_params_find(p, "layers.0.weight")->data, w, (size_t)units * sizeof(float));
    memset(cg_params_find(p, "layers.0.bias")->data, 0, (size_t)units * sizeof(float));
    return m;
}

static void regression_metrics(void **state)
{
    (void)state;
    /* outputs (x, 2x) for x = 1, 2, 3: (1,2), (2,4), (3,6); targets (1,1),
     * (2,5), (4,6); errors 0, 1, 0, -1, -1, 0.
     * MAE = 3/6, RMSE = sqrt(3/6); the targets' mean is 19/6, SS_tot =
     * 83 - 19²/6 = 137/6, R² = 1 - 3/(137/6) = 119/137. */
    cg_model_spec *spec;
    const float w[2] = {1, 2};
    cg_model *m = dense_model("{\"input\": [1], \"layers\": [{\"type\": \"dense\", \"units\": 2}],"
                              " \"loss\": \"mse\"}",
                              w, 2, &spec);
    float x[3] = {1, 2, 3}, y[6] = {1, 1, 2, 5, 4, 6};
    cg_dataset d = {.count = 3, .sample_ndim = 1, .sample_shape = {1}, .sample_size = 1, .x = x,
                    .y = y, .target_size = 2};
    snprintf(d.source, sizeof d.source, "test data");
    cg_eval_result r;
    assert_int_equal(cg_evaluate(m, &d, 2, &r), CG_OK);  /* batches of 2 and 1 */
    assert_float_equal(r.loss, 0.5, 1e-6);
    assert_float_equal(r.mae, 0.5, 1e-6);
    assert_float_equal(r.rmse, sqrt(0.5), 1e-6);
    assert_float_equal(r.r2, 119.0 / 137.0, 1e-6);
    assert_true(isnan(r.accuracy));
    assert_true(isnan(r.top_k_accuracy));
    /* All targets equal: R² is undefined. */
    for (int i = 0; i < 6; i++) y[i] = 2;
    assert_int_equal(cg_evaluate(m, &d, 8, &r), CG_OK);
    assert_true(isnan(r.r2));
    assert_float_equal(r.mae, (1 + 0 + 0 + 2 + 1 + 4) / 6.0, 1e-6);
    /* top-k is for classification. */
    assert_int_equal(cg_evaluate_top_k(m, &d, 8, 2, &r), CG_ERR_ARG);
    assert_non_null(strstr(cg_last_error(), "top-k accuracy needs loss cross_entropy"));
    cg_model_destroy(m);
    cg_model_spec_free(spec);
}

static void top_k_accuracy(void **state)
{
    (void)state;
    /* logits (x, 2x, 3x, 4x). x = 1, label 3: first. x = 1, label 1: two
     * above. x = -1, label 1: one above. x = 0, label 2: all tied, none
     * above. x = 1, label 0: three above. Top-2: 3 of 5; top-3: 4 of 5. */
    cg_model_spec *spec;
    const float w[4] = {1, 2, 3, 4};
    cg_model *m = dense_model("{\"input\": [1], \"layers\": [{\"type\": \"dense\", \"units\": 4}],"
                              " \"loss\": \"cross_entropy\"}",
                              w, 4, &spec);
    float x[5] = {1, 1, -1, 0, 1};
    int32_t labels[5] = {3, 1, 1, 2, 0};
    cg_dataset d = {.count = 5, .sample_ndim = 1, .sample_shape = {1}, .sample_size = 1, .x = x,
                    .labels = labels, .num_classes = 4};
    snprintf(d.source, sizeof d.source, "test data");
    cg_eval_result r;
    assert_int_equal(cg_evaluate_top_k(m, &d, 2, 2, &r), CG_OK);
    assert_int_equal(r.top_k, 2);
    assert_int_equal(r.top_k_correct, 3);
    assert_float_equal(r.top_k_accuracy, 0.6, 1e-12);
    assert_true(isnan(r.mae) && isnan(r.rmse) && isnan(r.r2));
    assert_int_equal(cg_evaluate_top_k(m, &d, 3, 3, &r), CG_OK);
    assert_int_equal(r.top_k_correct, 4);
    assert_int_equal(cg_evaluate_top_k(m, &d, 3, 4, &r), CG_OK);
    assert_int_equal(r.top_k_correct, 5);
    assert_int_equal(cg_evaluate(m, &d, 3, &r), CG_OK);
    assert_int_equal(r.top_k, 0);
    assert_true(isnan(r.top_k_accuracy));
    assert_int_equal(cg_evaluate_top_k(m, &d, 3, 5, &r), CG_ERR_ARG);
    assert_non_null(strstr(cg_last_error(), "between 2 and the number of classes (4), got 5"));
    assert_int_equal(cg_evaluate_top_k(m, &d, 3, 1, &r), CG_ERR_ARG);
    cg_model_destroy(m);
    cg_model_spec_free(spec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(regression_metrics),
        cmocka_unit_test(top_k_accuracy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
