/* Whole-model golden cases against PyTorch: shared by the recurrent and
 * attention golden tests (see golden_models.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cgrad.h"
#include "fixtures.h"
#include "golden_models.h"

static double worst_seen;

double gm_worst(void) { return worst_seen; }

/* got against the fixture tensor "<case>.<field>": every value within tol
 * of the tensor's largest magnitude. */
static void expect_close(const float *got, int64_t n, const char *case_name, const char *field,
                         double tol)
{
    const cg_st_entry *e = fx_entry(case_name, field);
    int64_t want_n = 1;
    for (int i = 0; i < e->ndim; i++) want_n *= e->shape[i];
    if (want_n != n) fail_msg("%s.%s: %lld values, the fixture has %lld", case_name, field,
                              (long long)n, (long long)want_n);
    const float *want = e->data;
    double scale = 1e-30, err = 0;
    int64_t at = 0;
    for (int64_t i = 0; i < n; i++) scale = fmax(scale, fabs(want[i]));
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (d > err) err = d, at = i;
    }
    worst_seen = fmax(worst_seen, err / scale);
    if (err > tol * scale)
        fail_msg("%s.%s[%lld]: got %.8g, torch %.8g (error %.3g of the largest value %.4g)",
                 case_name, field, (long long)at, got[at], want[at], err / scale, scale);
}

static cg_model *build_model(const char *case_name, const cg_st_entry *x)
{
    cg_model_spec *spec = cg_model_spec_create(x->ndim - 1, x->shape + 1);
    assert_non_null(spec);
    cJSON *layers = cJSON_Parse(fx_meta_opt(case_name, "layers"));
    assert_non_null(layers);
    for (cJSON *l = layers->child; l; l = l->next) {
        char *text = cJSON_PrintUnformatted(l);
        if (cg_model_spec_add_layer(spec, text) != CG_OK)
            fail_msg("%s: %s: %s", case_name, text, cg_last_error());
        free(text);
    }
    cJSON_Delete(layers);
    assert_int_equal(cg_model_spec_set(spec, "loss", "\"mse\""), CG_OK);
    cg_rng rng;
    cg_rng_seed(&rng, 1);
    cg_model *model = cg_model_create(spec, &rng);
    if (!model) fail_msg("%s: %s", case_name, cg_last_error());
    cg_model_spec_free(spec);
    return model;
}

/* Copies torch's parameters in by name: the model must have exactly them. */
static void load_torch_params(cg_model *model, const char *case_name, char names[][64], int n)
{
    cg_params *params = cg_model_params(model);
    assert_int_equal(cg_params_count(params), n);
    for (int i = 0; i < n; i++) {
        char cg_name[2100], field[2100];
        snprintf(cg_name, sizeof cg_name, "%s", names[i]);
        snprintf(field, sizeof field, "p.%s", names[i]);
        cg_tensor *t = cg_params_find(params, cg_name);
        if (!t) fail_msg("%s: the model has no parameter %s", case_name, cg_name);
        const cg_st_entry *e = fx_entry(case_name, field);
        assert_int_equal(t->ndim, e->ndim);
        for (int k = 0; k < e->ndim; k++) assert_int_equal(t->shape[k], e->shape[k]);
        memcpy(t->data, e->data, (size_t)t->size * sizeof(float));
    }
}

void gm_run_case(const char *case_name, double tol)
{
    const cg_st_entry *xe = fx_entry(case_name, "x");
    char names[32][64];
    int n = fx_split_list(fx_meta_opt(case_name, "params"), names, 32);
    cg_model *model = build_model(case_name, xe);
    load_torch_params(model, case_name, names, n);
    cg_params_zero_grad(cg_model_params(model));
    cg_ctx *ctx = cg_ctx_create(0);
    cg_tensor *x = fx_input(ctx, case_name, "x");
    /* Token ids (an embedding first) have no gradient. */
    bool ids = strstr(fx_meta_opt(case_name, "layers"), "\"embedding\"") != NULL;
    cg_tensor_set_requires_grad(x, !ids);
    cg_tensor *y = cg_model_forward(ctx, model, x);
    if (!y) fail_msg("%s: %s", case_name, cg_last_error());
    expect_close(y->data, y->size, case_name, "y", tol);
    assert_int_equal(cg_backward_seeded(ctx, y, fx_entry(case_name, "dy")->data), CG_OK);
    if (!ids) expect_close(x->grad, x->size, case_name, "dx", tol);
    for (int i = 0; i < n; i++) {
        char cg_name[2100], field[2100];
        snprintf(cg_name, sizeof cg_name, "%s", names[i]);
        snprintf(field, sizeof field, "g.%s", names[i]);
        cg_tensor *t = cg_params_find(cg_model_params(model), cg_name);
        expect_close(t->grad, t->size, case_name, field, tol);
    }
    cg_ctx_destroy(ctx);
    cg_model_destroy(model);
}

