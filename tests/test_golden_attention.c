/* Attention and Transformer models against PyTorch
 * (fixtures/attention.safetensors, written by fixtures/generate.py through
 * tests/cli/torch_graph.py): torch.nn.MultiheadAttention self-attention
 * (plain, causal, one head without biases, the tiled path, key padding from
 * token ids with and without a causal mask), a whole pre-norm
 * transformer_block, sinusoidal positions, and a two-block GPT with learned
 * positions whose output layer is tied to the token embedding. Each case is
 * a whole model built from its model-file JSON (stored in the fixture),
 * given torch's parameters by name — which checks MultiheadAttention's
 * names and layout, and that a tied weight is one parameter — and must
 * reproduce the output, the input gradient and every parameter's gradient
 * of the float64 answer.
 *
 * Also: the tiled path equals the plain one with dropout on (the same
 * mask), and the layers' settings errors. */
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

#define FIXTURE "fixtures/attention.safetensors"
/* float32 against the float64 answer, relative to the tensor's largest value. */
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

static void attention_models_match_torch(void **state)
{
    (void)state;
    char cases[32][64];
    int n = fx_split_list(cg_st_meta(fx_file(), "attention_cases"), cases, 32);
    assert_true(n >= 9);
    for (int i = 0; i < n; i++) run_case(cases[i]);
    printf("attention models: %d cases, largest error %.3g of a tensor's largest value\n", n,
           worst_seen);
}

/* Both paths draw one dropout key and hash (head, i, j) the same way: with
 * one seed they drop the same weights, so outputs and gradients agree. */
static void tiled_path_equals_plain_with_dropout(void **state)
{
    (void)state;
    const int64_t N = 3, T = 37, D = 24;
    float *grads[2], *outs[2];
    for (int tiled = 0; tiled < 2; tiled++) {
        cg_ctx *ctx = cg_ctx_create(0);
        cg_rng rng;
        cg_rng_seed(&rng, 5);
        cg_tensor *qkv = cg_tensor_new(ctx, 3, (int64_t[]){N, T, 3 * D});
        cg_init_uniform(qkv, -1.5f, 1.5f, &rng);
        cg_tensor_set_requires_grad(qkv, true);
        cg_rng_seed(cg_ctx_rng(ctx), 11);
        cg_attention_opts o = {.heads = 3, .causal = true, .dropout = 0.3f, .tile = tiled ? 8 : 0};
        cg_tensor *y = cg_attention(ctx, qkv, NULL, &o);
        assert_non_null(y);
        cg_tensor *dy = cg_tensor_new(ctx, 3, y->shape);
        cg_init_uniform(dy, -1, 1, &rng);
        assert_int_equal(cg_backward_seeded(ctx, y, dy->data), CG_OK);
        outs[tiled] = malloc((size_t)y->size * sizeof(float));
        grads[tiled] = malloc((size_t)qkv->size * sizeof(float));
        memcpy(outs[tiled], y->data, (size_t)y->size * sizeof(float));
        memcpy(grads[tiled], qkv->grad, (size_t)qkv->size * sizeof(float));
        cg_ctx_destroy(ctx);
    }
    int zeros = 0;
    for (int64_t i = 0; i < N * T * D; i++) {
        assert_float_equal(outs[0][i], outs[1][i], 1e-5);
        zeros += outs[0][i] == 0.0f;
    }
    for (int64_t i = 0; i < N * T * 3 * D; i++) assert_float_equal(grads[0][i], grads[1][i], 1e-5);
    for (int k = 0; k < 2; k++) free(outs[k]), free(grads[k]);
    (void)zeros;
}

/* In evaluation mode dropout is off: the output is deterministic. */
static void dropout_only_in_training(void **state)
{
    (void)state;
    cg_ctx *ctx = cg_ctx_create(0);
    cg_rng rng;
    cg_rng_seed(&rng, 2);
    cg_tensor *qkv = cg_tensor_new(ctx, 3, (int64_t[]){2, 9, 12});
    cg_init_uniform(qkv, -1, 1, &rng);
    cg_attention_opts o = {.heads = 2, .dropout = 0.5f};
    cg_attention_opts off = {.heads = 2};
    cg_ctx_set_training(ctx, false);
    cg_tensor *a = cg_attention(ctx, qkv, NULL, &o), *b = cg_attention(ctx, qkv, NULL, &off);
    for (int64_t i = 0; i < a->size; i++) assert_float_equal(a->data[i], b->data[i], 0);
    cg_ctx_set_training(ctx, true);
    cg_tensor *c = cg_attention(ctx, qkv, NULL, &o);
    bool differs = false;
    for (int64_t i = 0; i < c->size; i++) differs |= c->data[i] != b->data[i];
    assert_true(differs);
    cg_ctx_destroy(ctx);
}

/* A query whose keys are all padded gets zeros (PyTorch: NaN). */
static void fully_padded_query_gets_zeros(void **state)
{
    (void)state;
    for (int tile = 0; tile <= 4; tile += 4) {
        cg_ctx *ctx = cg_ctx_create(0);
        cg_tensor *qkv = cg_tensor_zeros(ctx, 3, (int64_t[]){1, 5, 6});
        for (int64_t i = 0; i < qkv->size; i++) qkv->data[i] = (float)(i % 7) - 3.0f;
        float m[] = {1, 1, 0, 0, 1};
        cg_tensor *mask = cg_tensor_from(ctx, 2, (int64_t[]){1, 5}, m);
        cg_attention_opts o = {.heads = 1, .causal = true, .tile = tile};
        cg_tensor *y = cg_attention(ctx, qkv, mask, &o);
        for (int j = 0; j < 2 * 2; j++) assert_float_equal(y->data[j], 0.0f, 0);
        for (int64_t j = 0; j < y->size; j++) assert_true(isfinite(y->data[j]));
        assert_true(y->data[2 * 2] != 0.0f || y->data[2 * 2 + 1] != 0.0f);
        cg_ctx_destroy(ctx);
    }
}

static cg_status spec_with(const char *input, const char *layers)
{
    char json[1024];
    snprintf(json, sizeof json, "{\"input\": %s, \"layers\": [%s], \"loss\": \"mse\"}", input, layers);
    cg_model_spec *spec = NULL;
    cg_status s = cg_model_spec_parse(json, &spec);
    cg_model_spec_free(spec);
    return s;
}

static void layer_settings_are_checked(void **state)
{
    (void)state;
    assert_int_not_equal(spec_with("[5, 8]", "{\"type\": \"attention\"}"), CG_OK);
    assert_error_mentions("layers[0]", "attention layer needs \"heads\"");
    assert_int_not_equal(spec_with("[5, 8]", "{\"type\": \"attention\", \"heads\": 3}"), CG_OK);
    assert_error_mentions("3 heads do not divide the input's 8 features", NULL);
    assert_int_not_equal(spec_with("[5, 8]", "{\"type\": \"attention\", \"heads\": 2, \"dim\": 6}"), CG_OK);
    assert_error_mentions("\"dim\" is 6 but the input is [5, 8]", NULL);
    assert_int_not_equal(spec_with("[40]", "{\"type\": \"attention\", \"heads\": 2}"), CG_OK);
    assert_error_mentions("per-sample [time, features] input, got [40]", NULL);
    assert_int_not_equal(spec_with("[5, 8]", "{\"type\": \"attention\", \"heads\": 2, \"padding_id\": 0}"), CG_OK);
    assert_error_mentions("\"padding_id\" needs a second input", NULL);
    assert_int_not_equal(spec_with("[5, 8]", "{\"type\": \"attention\", \"heads\": 2, \"dropout\": 1}"), CG_OK);
    assert_error_mentions("layers[0].dropout", NULL);
    assert_int_not_equal(spec_with("[9, 8]", "{\"type\": \"position_embedding\", \"max_len\": 8}"), CG_OK);
    assert_error_mentions("more steps than max_len 8", NULL);
    assert_int_not_equal(spec_with("[5, 8]", "{\"type\": \"position_embedding\", \"max_len\": 8, \"kind\": \"rotary\"}"), CG_OK);
    assert_error_mentions("layers[0].kind: expected \"learned\" or \"sinusoidal\", got \"rotary\"", NULL);
    assert_int_not_equal(spec_with("[5]", "{\"type\": \"embedding\", \"name\": \"tok\", \"vocab\": 10, \"dim\": 4}, {\"type\": \"dense\", \"units\": 9, \"tie_to\": \"tok\"}"), CG_OK);
    assert_error_mentions("layers[1].tie_to: the embedding \"tok\" is 10 x 4", "9 units");
    assert_int_not_equal(spec_with("[5]", "{\"type\": \"embedding\", \"vocab\": 10, \"dim\": 4}, {\"type\": \"dense\", \"units\": 10, \"tie_to\": \"tok\"}"), CG_OK);
    assert_error_mentions("layers[1].tie_to: no earlier layer is named \"tok\"", NULL);
    assert_int_not_equal(spec_with("[5, 4]", "{\"type\": \"dense\", \"name\": \"d\", \"units\": 4}, {\"type\": \"dense\", \"units\": 4, \"tie_to\": \"d\"}"), CG_OK);
    assert_error_mentions("\"d\" is a dense layer; a dense layer ties its weight to an embedding's", NULL);
    assert_int_not_equal(spec_with("[5, 8]", "{\"type\": \"transformer_block\"}"), CG_OK);
    assert_error_mentions("layers[0]", "transformer_block needs \"heads\"");
    assert_int_not_equal(spec_with("[5, 8]", "{\"type\": \"transformer_block\", \"heads\": 2, \"units\": 3}"), CG_OK);
    assert_error_mentions("layers[0]", "units");
    assert_int_not_equal(spec_with("[5, 8]", "{\"type\": \"transformer_block\", \"heads\": 3}"), CG_OK);
    assert_error_mentions("3 heads do not divide the input's 8 features", NULL);
    assert_int_equal(spec_with("[5, 8]", "{\"type\": \"transformer_block\", \"heads\": 2}, {\"type\": \"transformer_block\", \"heads\": 2, \"dropout\": 0.1, \"mlp\": 12}"), CG_OK);
}

static void no_decay_is_checked(void **state)
{
    (void)state;
    cg_model_spec *spec = NULL;
    const char *bad = "{\"input\": [4], \"layers\": [{\"type\": \"dense\", \"units\": 2}], "
                      "\"optimizer\": {\"type\": \"adamw\", \"no_decay\": [\"bias\", \"weights\"]}}";
    assert_int_not_equal(cg_model_spec_parse(bad, &spec), CG_OK);
    assert_error_mentions("optimizer.no_decay[1]: expected \"bias\" or \"norm\", got \"weights\"", NULL);
    const char *sgd = "{\"input\": [4], \"layers\": [{\"type\": \"dense\", \"units\": 2}], "
                      "\"optimizer\": {\"type\": \"sgd\", \"no_decay\": [\"bias\"]}}";
    assert_int_not_equal(cg_model_spec_parse(sgd, &spec), CG_OK);
    assert_error_mentions("optimizer", "no_decay");
    const char *ok = "{\"input\": [4], \"layers\": [{\"type\": \"layernorm\"}, {\"type\": \"dense\", \"units\": 2}], "
                     "\"optimizer\": {\"type\": \"adamw\", \"lr\": 0.5, \"weight_decay\": 0.5, \"no_decay\": [\"bias\", \"norm\"]}}";
    assert_int_equal(cg_model_spec_parse(ok, &spec), CG_OK);
    cg_rng rng;
    cg_rng_seed(&rng, 1);
    cg_model *model = cg_model_create(spec, &rng);
    cg_optim *opt = cg_optim_create(cg_model_params(model), &spec->optim);
    assert_int_equal(cg_model_apply_no_decay(model, opt), CG_OK);
    /* Zero gradients: Adam moves nothing, so only the decay shows. */
    cg_params *params = cg_model_params(model);
    cg_params_zero_grad(params);
    float before[64];
    for (size_t i = 0; i < cg_params_count(params); i++) before[i] = cg_params_at(params, i)->data[0];
    assert_int_equal(cg_optim_step(opt), CG_OK);
    for (size_t i = 0; i < cg_params_count(params); i++) {
        const cg_tensor *t = cg_params_at(params, i);
        bool decays = strcmp(t->name, "layers.1.weight") == 0;
        assert_float_equal(t->data[0], decays ? before[i] * 0.75f : before[i], 1e-7);
    }
    cg_optim_destroy(opt);
    cg_model_destroy(model);
    cg_model_spec_free(spec);
}

/* A tied weight is one parameter: counted and saved once. */
static void tied_weight_is_one_parameter(void **state)
{
    (void)state;
    cg_model_spec *spec = NULL;
    assert_int_equal(cg_model_spec_parse("{\"input\": [5], \"layers\": [{\"type\": \"embedding\", \"name\": \"tok\", \"vocab\": 10, \"dim\": 4}, {\"type\": \"dense\", \"units\": 10, \"tie_to\": \"tok\"}], \"loss\": \"cross_entropy\"}", &spec), CG_OK);
    assert_int_equal(spec->n_params, 10 * 4 + 10);
    cg_rng rng;
    cg_rng_seed(&rng, 1);
    cg_model *model = cg_model_create(spec, &rng);
    assert_non_null(model);
    assert_int_equal(cg_params_numel(cg_model_params(model)), 50);
    assert_int_equal(cg_params_count(cg_model_params(model)), 2);
    cg_model_destroy(model);
    cg_model_spec_free(spec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(attention_models_match_torch),
        cmocka_unit_test(tiled_path_equals_plain_with_dropout),
        cmocka_unit_test(dropout_only_in_training),
        cmocka_unit_test(fully_padded_query_gets_zeros),
        cmocka_unit_test(layer_settings_are_checked),
        cmocka_unit_test(tied_weight_is_one_parameter),
        cmocka_unit_test(no_decay_is_checked),
    };
    return cmocka_run_group_tests(tests, load_fixture, fx_free);
}
