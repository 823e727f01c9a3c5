/* Recurrent layers against PyTorch (fixtures/recurrent.safetensors, written
 * by fixtures/generate.py): torch.nn.RNN (tanh, relu), LSTM and GRU with
 * batch_first=True, stacked, bidirectional, without biases, over a long
 * sequence, with out[:, -1] for return_sequences false, and an embedding in
 * front. Each case is a whole model: cgrad builds it from the layers'
 * model-file JSON (stored in the fixture), takes torch's state dict by name
 * — which checks PyTorch's parameter names, shapes and gate order — and
 * must reproduce the output, the input gradient and every parameter's
 * gradient of the float64 answer.
 *
 * Also the layers' own contract: shape errors name the layer and the
 * shapes, and an out-of-range token id names its sample. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cgrad.h"
#include "errors.h"
#include "fixtures.h"

#define FIXTURE "fixtures/recurrent.safetensors"
/* float32 through up to 40 steps against the float64 answer, relative to
 * the tensor's largest value. */
#define TOL 2e-5

static int load_fixture(void **state)
{
    (void)state;
    return fx_load(FIXTURE);
}

static double worst_seen;

/* got against the fixture tensor "<case>.<field>": every value within TOL
 * of the tensor's largest magnitude. */
static void expect_close(const float *got, int64_t n, const char *case_name, const char *field)
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
    if (err > TOL * scale)
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

static void run_case(const char *case_name)
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
    expect_close(y->data, y->size, case_name, "y");
    assert_int_equal(cg_backward_seeded(ctx, y, fx_entry(case_name, "dy")->data), CG_OK);
    if (!ids) expect_close(x->grad, x->size, case_name, "dx");
    for (int i = 0; i < n; i++) {
        char cg_name[2100], field[2100];
        snprintf(cg_name, sizeof cg_name, "%s", names[i]);
        snprintf(field, sizeof field, "g.%s", names[i]);
        cg_tensor *t = cg_params_find(cg_model_params(model), cg_name);
        expect_close(t->grad, t->size, case_name, field);
    }
    cg_ctx_destroy(ctx);
    cg_model_destroy(model);
}

static void recurrent_layers_match_torch(void **state)
{
    (void)state;
    char cases[32][64];
    int n = fx_split_list(cg_st_meta(fx_file(), "recurrent_cases"), cases, 32);
    assert_true(n >= 10);
    for (int i = 0; i < n; i++) run_case(cases[i]);
    printf("recurrent layers: %d cases, largest error %.3g of a tensor's largest value\n", n,
           worst_seen);
}

/* ---- the layers' contract ---- */

static cg_status spec_with(const char *input, const char *layer)
{
    char json[512];
    snprintf(json, sizeof json, "{\"input\": %s, \"layers\": [%s], \"loss\": \"mse\"}", input, layer);
    cg_model_spec *spec = NULL;
    cg_status s = cg_model_spec_parse(json, &spec);
    cg_model_spec_free(spec);
    return s;
}

static void layer_settings_are_checked(void **state)
{
    (void)state;
    assert_int_not_equal(spec_with("[28, 28, 1]", "{\"type\": \"lstm\", \"units\": 4}"), CG_OK);
    assert_error_mentions("layers[0]", "lstm needs a [time, features] input per sample, got [28, 28, 1]");
    assert_int_not_equal(spec_with("[5, 3]", "{\"type\": \"gru\"}"), CG_OK);
    assert_error_mentions("gru layer needs \"units\"", NULL);
    assert_int_not_equal(spec_with("[5, 3]", "{\"type\": \"lstm\", \"units\": 4, \"nonlinearity\": \"relu\"}"), CG_OK);
    assert_error_mentions("only rnn layers have a nonlinearity", NULL);
    assert_int_not_equal(spec_with("[5, 3]", "{\"type\": \"rnn\", \"units\": 4, \"nonlinearity\": \"sigmoid\"}"), CG_OK);
    assert_error_mentions("expected \"tanh\" or \"relu\", got \"sigmoid\"", NULL);
    assert_int_not_equal(spec_with("[5, 3]", "{\"type\": \"lstm\", \"units\": 4, \"num_layers\": 9}"), CG_OK);
    assert_error_mentions("num_layers", NULL);
    assert_int_not_equal(spec_with("[5, 3]", "{\"type\": \"lstm\", \"units\": 4, \"dropout\": 1}"), CG_OK);
    assert_error_mentions("dropout", NULL);
    assert_int_not_equal(spec_with("[5]", "{\"type\": \"embedding\", \"vocab\": 10}"), CG_OK);
    assert_error_mentions("embedding layer needs \"vocab\" and \"dim\"", NULL);
    assert_int_equal(spec_with("[5]", "{\"type\": \"embedding\", \"vocab\": 10, \"dim\": 3}, {\"type\": \"lstm\", \"units\": 2}"), CG_OK);
}

static void out_of_range_token_names_its_sample(void **state)
{
    (void)state;
    cg_ctx *ctx = cg_ctx_create(0);
    cg_tensor *w = cg_tensor_zeros(ctx, 2, (int64_t[]){5, 3});
    float ids[] = {0, 1, 2, 3, 4, 4, 5, 0};
    cg_tensor *x = cg_tensor_from(ctx, 2, (int64_t[]){2, 4}, ids);
    assert_null(cg_embedding(ctx, x, w));
    assert_error_mentions("token id 5 at sample 1, position 2", "vocabulary [0, 5)");
    ids[6] = 1.5f;
    x = cg_tensor_from(ctx, 2, (int64_t[]){2, 4}, ids);
    assert_null(cg_embedding(ctx, x, w));
    assert_error_mentions("token id 1.5", NULL);
    ids[6] = -1.0f;
    x = cg_tensor_from(ctx, 2, (int64_t[]){2, 4}, ids);
    assert_null(cg_embedding(ctx, x, w));
    assert_error_mentions("token id -1", NULL);
    cg_ctx_destroy(ctx);
}

static void recurrent_op_argument_errors(void **state)
{
    (void)state;
    cg_ctx *ctx = cg_ctx_create(0);
    cg_tensor *x = cg_tensor_zeros(ctx, 3, (int64_t[]){2, 4, 3});
    cg_tensor *w_ih = cg_tensor_zeros(ctx, 2, (int64_t[]){8, 3});
    cg_tensor *w_hh = cg_tensor_zeros(ctx, 2, (int64_t[]){8, 2});
    cg_tensor *b = cg_tensor_zeros(ctx, 1, (int64_t[]){8});
    /* 8 rows are 4 gates of 2 units: an lstm, not a gru. */
    assert_non_null(cg_recurrent(ctx, CG_CELL_LSTM, x, w_ih, w_hh, b, b, false, NULL));
    assert_null(cg_recurrent(ctx, CG_CELL_GRU, x, w_ih, w_hh, b, b, false, NULL));
    assert_error_mentions("gru: weights must be weight_ih [3·H, 3]", "got [8, 3] and [8, 2]");
    assert_null(cg_recurrent(ctx, CG_CELL_LSTM, x, w_ih, w_hh, b, NULL, false, NULL));
    assert_error_mentions("biases must both be [8] or both absent", NULL);
    cg_tensor *flat = cg_tensor_zeros(ctx, 2, (int64_t[]){2, 3});
    assert_null(cg_recurrent(ctx, CG_CELL_LSTM, flat, w_ih, w_hh, NULL, NULL, false, NULL));
    assert_error_mentions("input must be [N, T, features]", "got [2, 3]");
    cg_ctx_destroy(ctx);
}

/* The state after the last step is what a carried sequence starts from:
 * two halves with the state carried equal the whole sequence. */
static void carried_state_continues_the_sequence(void **state)
{
    (void)state;
    for (int cell = CG_CELL_RNN_TANH; cell <= CG_CELL_GRU; cell++) {
        int G = cell == CG_CELL_LSTM ? 4 : cell == CG_CELL_GRU ? 3 : 1, H = 3, F = 2, N = 2, T = 6;
        cg_ctx *ctx = cg_ctx_create(0);
        cg_rng rng;
        cg_rng_seed(&rng, 7);
        cg_tensor *x = cg_tensor_new(ctx, 3, (int64_t[]){N, T, F});
        cg_tensor *w_ih = cg_tensor_new(ctx, 2, (int64_t[]){G * H, F});
        cg_tensor *w_hh = cg_tensor_new(ctx, 2, (int64_t[]){G * H, H});
        cg_init_uniform(x, -1, 1, &rng);
        cg_init_uniform(w_ih, -0.5f, 0.5f, &rng);
        cg_init_uniform(w_hh, -0.5f, 0.5f, &rng);
        cg_tensor *whole = cg_recurrent(ctx, (cg_rnn_cell)cell, x, w_ih, w_hh, NULL, NULL, false, NULL);
        float h[6], c[6];
        cg_rnn_carry carry = {.h_n = h, .c_n = c};
        cg_tensor *first = cg_slice(ctx, x, 1, 0, 2), *rest = cg_slice(ctx, x, 1, 2, T);
        assert_non_null(cg_recurrent(ctx, (cg_rnn_cell)cell, first, w_ih, w_hh, NULL, NULL, false, &carry));
        carry = (cg_rnn_carry){.h0 = h, .c0 = c, .h_n = h, .c_n = c};
        cg_tensor *second = cg_recurrent(ctx, (cg_rnn_cell)cell, rest, w_ih, w_hh, NULL, NULL, false, &carry);
        assert_non_null(second);
        for (int n = 0; n < N; n++)
            for (int t = 2; t < T; t++)
                for (int j = 0; j < H; j++)
                    assert_float_equal(second->data[(n * (T - 2) + t - 2) * H + j],
                                       whole->data[(n * T + t) * H + j], 1e-6);
        for (int n = 0; n < N; n++)
            for (int j = 0; j < H; j++)
                assert_float_equal(h[n * H + j], whole->data[(n * T + T - 1) * H + j], 1e-6);
        cg_ctx_destroy(ctx);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(recurrent_layers_match_torch),
        cmocka_unit_test(layer_settings_are_checked),
        cmocka_unit_test(out_of_range_token_names_its_sample),
        cmocka_unit_test(recurrent_op_argument_errors),
        cmocka_unit_test(carried_state_continues_the_sequence),
    };
    return cmocka_run_group_tests(tests, load_fixture, fx_free);
}
