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


#include "cgrad.h"
#include "errors.h"
#include "fixtures.h"
#include "golden_models.h"

#define FIXTURE "fixtures/recurrent.safetensors"
/* float32 through up to 40 steps against the float64 answer, relative to
 * the tensor's largest value. */
#define TOL 2e-5

static int load_fixture(void **state)
{
    (void)state;
    return fx_load(FIXTURE);
}

static void recurrent_layers_match_torch(void **state)
{
    (void)state;
    char cases[32][64];
    int n = fx_split_list(cg_st_meta(fx_file(), "recurrent_cases"), cases, 32);
    assert_true(n >= 10);
    for (int i = 0; i < n; i++) gm_run_case(cases[i], TOL);
    printf("recurrent layers: %d cases, largest error %.3g of a tensor's largest value\n", n,
           gm_worst());
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

/* The steps run in slices of batch rows, one per planned thread
 * (ops/recurrent.c); a layer large enough to be cut, in three uneven
 * slices, must give one slice's output and gradients, for every cell,
 * both directions and a carried initial state. */
enum { SL_N = 97, SL_T = 5, SL_F = 6, SL_H = 40, SL_TENSORS = 6 };

/* Output and gradients of x, w_ih, w_hh, b_ih, b_hh, concatenated into out;
 * returns how many floats. */
static int64_t run_sliced(int threads, int cell, bool reverse, float *out)
{
    const int64_t G = cell == CG_CELL_LSTM ? 4 : cell == CG_CELL_GRU ? 3 : 1;
    cg_set_num_threads(threads);
    cg_ctx *ctx = cg_ctx_create(0);
    cg_rng rng;
    cg_rng_seed(&rng, 11);
    cg_tensor *t[SL_TENSORS - 1] = {
        cg_tensor_new(ctx, 3, (int64_t[]){SL_N, SL_T, SL_F}),
        cg_tensor_new(ctx, 2, (int64_t[]){G * SL_H, SL_F}),
        cg_tensor_new(ctx, 2, (int64_t[]){G * SL_H, SL_H}),
        cg_tensor_new(ctx, 1, (int64_t[]){G * SL_H}),
        cg_tensor_new(ctx, 1, (int64_t[]){G * SL_H})};
    for (int i = 0; i < SL_TENSORS - 1; i++) {
        cg_init_uniform(t[i], -0.4f, 0.4f, &rng);
        cg_tensor_set_requires_grad(t[i], true);
    }
    static float h0[SL_N * SL_H], c0[SL_N * SL_H], seed[SL_N * SL_T * SL_H];
    for (int i = 0; i < SL_N * SL_H; i++) h0[i] = 0.5f * sinf(0.37f * i), c0[i] = cosf(0.11f * i);
    for (int i = 0; i < SL_N * SL_T * SL_H; i++) seed[i] = sinf(0.013f * i);
    cg_rnn_carry carry = {.h0 = h0, .c0 = c0};
    cg_tensor *y =
        cg_recurrent(ctx, (cg_rnn_cell)cell, t[0], t[1], t[2], t[3], t[4], reverse, &carry);
    assert_non_null(y);
    assert_int_equal(cg_backward_seeded(ctx, y, seed), CG_OK);
    int64_t n = 0;
    memcpy(out, y->data, (size_t)y->size * sizeof *out);
    n += y->size;
    for (int i = 0; i < SL_TENSORS - 1; i++) {
        memcpy(out + n, t[i]->grad, (size_t)t[i]->size * sizeof *out);
        n += t[i]->size;
    }
    cg_ctx_destroy(ctx);
    cg_set_num_threads(0);
    return n;
}

static void sliced_steps_match_one_slice(void **state)
{
    (void)state;
    enum { MAX = SL_N * SL_T * (SL_H + SL_F) + 2 * 4 * SL_H * (SL_F + SL_H + 1) };
    static float one[MAX], three[MAX];
    for (int cell = CG_CELL_RNN_TANH; cell <= CG_CELL_GRU; cell++)
        for (int reverse = 0; reverse <= 1; reverse++) {
            int64_t n = run_sliced(1, cell, reverse, one);
            assert_int_equal(run_sliced(3, cell, reverse, three), n);
            float big = 0.0f, worst = 0.0f;
            for (int64_t i = 0; i < n; i++) {
                big = fmaxf(big, fabsf(one[i]));
                worst = fmaxf(worst, fabsf(one[i] - three[i]));
            }
            if (worst > 1e-5f * big)
                fail_msg("cell %d reverse %d: sliced result differs by %g (largest value %g)",
                         cell, reverse, worst, big);
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
        cmocka_unit_test(sliced_steps_match_one_slice),
    };
    return cmocka_run_group_tests(tests, load_fixture, fx_free);
}
