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


#include "cgrad.h"
#include "errors.h"
#include "fixtures.h"
#include "golden_models.h"

#define FIXTURE "fixtures/attention.safetensors"
/* float32 against the float64 answer, relative to the tensor's largest value. */
#define TOL 2e-5

static int load_fixture(void **state)
{
    (void)state;
    return fx_load(FIXTURE);
}

static void attention_models_match_torch(void **state)
{
    (void)state;
    char cases[32][64];
    int n = fx_split_list(cg_st_meta(fx_file(), "attention_cases"), cases, 32);
    assert_true(n >= 9);
    for (int i = 0; i < n; i++) gm_run_case(cases[i], TOL);
    printf("attention models: %d cases, largest error %.3g of a tensor's largest value\n", n,
           gm_worst());
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
