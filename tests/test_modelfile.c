/* Model files: every class of mistake is refused with a message naming the
 * JSON path, shapes are inferred, and a spec survives a round trip through
 * its canonical JSON. Also the sequential model built from a spec. */
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

#define MLP_LAYERS                                                                         \
    "[{\"type\": \"flatten\"}, {\"type\": \"dense\", \"units\": 16, \"activation\": \"relu\"}," \
    " {\"type\": \"dropout\", \"rate\": 0.2}, {\"type\": \"dense\", \"units\": 10}]"

static const char *const MLP =
    "{\"input\": [1, 4, 4], \"layers\": " MLP_LAYERS ", \"loss\": \"cross_entropy\","
    " \"optimizer\": {\"type\": \"adam\", \"lr\": 0.002, \"betas\": [0.8, 0.99]},"
    " \"schedule\": {\"type\": \"cosine\", \"warmup_epochs\": 1},"
    " \"train\": {\"epochs\": 3, \"batch\": 8, \"seed\": 7}}";

/* Parses text that must fail and checks the message contains `expect`. */
static void expect_error(const char *json, cg_status status, const char *expect)
{
    cg_model_spec *spec = (cg_model_spec *)1;
    cg_status s = cg_model_spec_parse(json, &spec);
    if (s == CG_OK || !strstr(cg_last_error(), expect))
        fail_msg("for %s\n  expected an error containing: %s\n  got (%s): %s", json, expect,
                 cg_status_name(s), cg_last_error());
    assert_int_equal(s, status);
    assert_null(spec);
}

/* A small valid model with one key replaced/added in the first dense layer. */
static char *with_dense(const char *dense_fields)
{
    static char buf[1024];
    snprintf(buf, sizeof buf,
             "{\"input\": [4], \"layers\": [{\"type\": \"dense\", %s}, "
             "{\"type\": \"dense\", \"units\": 3}]}",
             dense_fields);
    return buf;
}

static void parses_mlp_and_infers_shapes(void **state)
{
    (void)state;
    cg_model_spec *spec;
    assert_int_equal(cg_model_spec_parse(MLP, &spec), CG_OK);
    assert_int_equal(spec->n_layers, 4);
    assert_int_equal(spec->layers[0].out_ndim, 1);
    assert_int_equal(spec->layers[0].out_shape[0], 16);
    assert_int_equal(spec->layers[1].n_params, 16 * 16 + 16);
    char text[64];
    assert_string_equal(cg_layer_describe(&spec->layers[1], text, sizeof text), "dense 16 relu");
    assert_string_equal(cg_layer_describe(&spec->layers[2], text, sizeof text), "dropout 0.2");
    assert_int_equal(spec->layers[3].n_params, 16 * 10 + 10);
    assert_int_equal(spec->n_params, 16 * 16 + 16 + 16 * 10 + 10);
    assert_int_equal(spec->output_ndim, 1);
    assert_int_equal(spec->output[0], 10);
    assert_int_equal(spec->optim.kind, CG_OPTIM_ADAM);
    assert_float_equal(spec->optim.lr, 0.002f, 0);
    assert_float_equal(spec->optim.beta1, 0.8f, 0);
    assert_float_equal(spec->optim.eps, 1e-8f, 0); /* torch's default kept */
    assert_int_equal(spec->schedule.kind, CG_SCHED_COSINE);
    assert_int_equal(spec->schedule.warmup, 1);
    assert_int_equal(spec->train.epochs, 3);
    assert_int_equal(spec->train.batch, 8);
    assert_int_equal(spec->train.seed, 7);
    assert_true(spec->train.shuffle);
    cg_model_spec_free(spec);
}

static void defaults_when_sections_are_absent(void **state)
{
    (void)state;
    cg_model_spec *spec;
    assert_int_equal(cg_model_spec_parse("{\"input\": [3], \"layers\": [{\"type\": \"dense\", "
                                         "\"units\": 2}]}",
                                         &spec),
                     CG_OK);
    assert_int_equal(spec->loss, CG_LOSS_CROSS_ENTROPY);
    assert_int_equal(spec->optim.kind, CG_OPTIM_ADAM);
    assert_float_equal(spec->optim.lr, 1e-3f, 0);
    assert_int_equal(spec->schedule.kind, CG_SCHED_CONSTANT);
    char text[64];
    assert_string_equal(cg_layer_describe(&spec->layers[0], text, sizeof text), "dense 2");
    cg_model_spec_free(spec);
}

static void round_trip_through_json(void **state)
{
    (void)state;
    cg_model_spec *a, *b;
    assert_int_equal(cg_model_spec_parse(MLP, &a), CG_OK);
    char *json = cg_model_spec_to_json(a);
    assert_non_null(json);
    assert_non_null(strstr(json, "\"lr\":0.002")); /* shortest float text */
    assert_int_equal(cg_model_spec_parse(json, &b), CG_OK);
    char *again = cg_model_spec_to_json(b);
    assert_string_equal(json, again);
    assert_int_equal(b->n_params, a->n_params);
    assert_float_equal(a->optim.lr, b->optim.lr, 0);
    assert_float_equal(a->optim.beta1, b->optim.beta1, 0);
    assert_float_equal(a->optim.beta2, b->optim.beta2, 0);
    assert_float_equal(a->optim.eps, b->optim.eps, 0);
    assert_int_equal(a->train.seed, b->train.seed);
    assert_int_equal(a->train.batch, b->train.batch);
    assert_int_equal(a->schedule.warmup, b->schedule.warmup);
    assert_float_equal(a->schedule.warmup_start_factor, b->schedule.warmup_start_factor, 0);
    free(json);
    free(again);
    cg_model_spec_free(a);
    cg_model_spec_free(b);
}

/* "per": "step": warm-up in steps, written back as read; the unit's keys
 * do not mix, and the plateau schedule (once an epoch) has no "per". */
static void per_step_schedules(void **state)
{
    (void)state;
    const char *text = "{\"input\": [4], \"layers\": [{\"type\": \"dense\", \"units\": 2}], "
                       "\"schedule\": {\"type\": \"cosine\", \"per\": \"step\", "
                       "\"warmup_steps\": 100, \"eta_min\": 0.0001}}";
    cg_model_spec *a, *b;
    assert_int_equal(cg_model_spec_parse(text, &a), CG_OK);
    assert_true(a->schedule.per_step);
    assert_int_equal(a->schedule.warmup, 100);
    /* The cosine's length is the run's steps, known once the data are. */
    assert_int_equal(cg_model_spec_schedule(a, 0.1f, 3).t_max, 0);
    char *json = cg_model_spec_to_json(a);
    assert_non_null(strstr(json, "\"per\":\"step\",\"warmup_steps\":100"));
    assert_int_equal(cg_model_spec_parse(json, &b), CG_OK);
    assert_true(b->schedule.per_step);
    assert_int_equal(b->schedule.warmup, 100);
    free(json);
    cg_model_spec_free(a);
    cg_model_spec_free(b);
    const char *head = "{\"input\": [4], \"layers\": [{\"type\": \"dense\", \"units\": 2}], ";
    char bad[256];
    snprintf(bad, sizeof bad, "%s\"schedule\": {\"per\": \"step\", \"warmup_epochs\": 2}}", head);
    expect_error(bad, CG_ERR_FORMAT,
                 "schedule.warmup_epochs: the schedule runs per step: use \"warmup_steps\"");
    snprintf(bad, sizeof bad, "%s\"schedule\": {\"warmup_steps\": 2}}", head);
    expect_error(bad, CG_ERR_FORMAT, "schedule.warmup_steps: \"warmup_steps\" needs \"per\": \"step\"");
    snprintf(bad, sizeof bad, "%s\"schedule\": {\"per\": \"batch\"}}", head);
    expect_error(bad, CG_ERR_FORMAT, "schedule.per: expected \"epoch\" or \"step\", got \"batch\"");
    snprintf(bad, sizeof bad, "%s\"schedule\": {\"type\": \"plateau\", \"per\": \"step\"}}", head);
    expect_error(bad, CG_ERR_FORMAT, "schedule: unknown key \"per\"");
}

static void malformed_json_names_line_and_column(void **state)
{
    (void)state;
    expect_error("{\"input\": [4],\n \"layers\": [}", CG_ERR_FORMAT, "invalid JSON at line 2");
    expect_error("", CG_ERR_FORMAT, "invalid JSON");
    expect_error("[1, 2]", CG_ERR_FORMAT, "expected a JSON object");
}

static void wrong_value_types(void **state)
{
    (void)state;
    expect_error(with_dense("\"units\": \"ten\""), CG_ERR_FORMAT,
                 "layers[0].units: expected a positive integer, got \"ten\"");
    expect_error(with_dense("\"units\": 2.5"), CG_ERR_FORMAT,
                 "layers[0].units: expected a positive integer, got 2.5");
    expect_error(with_dense("\"units\": 4, \"bias\": 1"), CG_ERR_FORMAT,
                 "layers[0].bias: expected true or false, got 1");
    expect_error(with_dense("\"units\": 4, \"activation\": 3"), CG_ERR_FORMAT,
                 "layers[0].activation: expected a string, got 3");
    expect_error("{\"input\": 784, \"layers\": [{\"type\": \"dense\", \"units\": 2}]}",
                 CG_ERR_FORMAT, "input: expected an array of 1 to 5 positive integers");
    expect_error("{\"input\": [4], \"layers\": {}}", CG_ERR_FORMAT,
                 "layers: expected a non-empty array of layers, got {}");
    expect_error("{\"input\": [4], \"layers\": [{\"type\": \"dense\", \"units\": 2}], "
                 "\"optimizer\": {\"type\": \"adam\", \"betas\": [0.9]}}",
                 CG_ERR_FORMAT, "optimizer.betas: expected an array of two numbers in [0, 1)");
    expect_error("{\"input\": [4], \"layers\": [{\"type\": \"dense\", \"units\": 2}], "
                 "\"train\": {\"shuffle\": \"yes\"}}",
                 CG_ERR_FORMAT, "train.shuffle: expected true or false, got \"yes\"");
    expect_error("{\"input\": [4], \"layers\": [7]}", CG_ERR_FORMAT,
                 "layers[0]: expected an object, got 7");
}

static void non_positive_and_out_of_range_values(void **state)
{
    (void)state;
    expect_error(with_dense("\"units\": 0"), CG_ERR_FORMAT,
                 "layers[0].units: expected a positive integer, got 0");
    expect_error(with_dense("\"units\": -3"), CG_ERR_FORMAT,
                 "layers[0].units: expected a positive integer, got -3");
    expect_error("{\"input\": [0, 4], \"layers\": [{\"type\": \"flatten\"}]}", CG_ERR_FORMAT,
                 "input[0]: expected a positive integer, got 0");
    expect_error("{\"input\": [4], \"layers\": [{\"type\": \"dropout\", \"rate\": 1}, "
                 "{\"type\": \"dense\", \"units\": 2}]}",
                 CG_ERR_FORMAT, "layers[0].rate: expected a number in [0, 1), got 1");
    expect_error("{\"input\": [4], \"layers\": [{\"type\": \"dense\", \"units\": 2}], "
                 "\"optimizer\": {\"lr\": -0.1}}",
                 CG_ERR_FORMAT, "optimizer.lr: expected a number > 0, got -0.1");
    expect_error("{\"input\": [4], \"layers\": [{\"type\": \"dense\", \"units\": 2}], "
                 "\"train\": {\"batch\": 0}}",
                 CG_ERR_FORMAT, "train.batch: expected a positive integer, got 0");
    expect_error("{\"input\": [4], \"layers\": [{\"type\": \"dense\", \"units\": 2}], "
                 "\"schedule\": {\"type\": \"step\", \"step_size\": 0}}",
                 CG_ERR_FORMAT, "schedule.step_size: expected a positive integer, got 0");
    expect_error(with_dense("\"units\": 1e12"), CG_ERR_FORMAT,
                 "layers[0].units: 1000000000000 is too large");
}

static void unknown_keys_types_and_names(void **state)
{
    (void)state;
    expect_error(with_dense("\"unit\": 4"), CG_ERR_FORMAT,
                 "layers[0]: unknown key \"unit\" (expected one of: type, name, inputs, units, activation, bias, negative_slope, alpha, tie_to)");
    expect_error(with_dense("\"units\": 4, \"units\": 5"), CG_ERR_FORMAT,
                 "layers[0]: key \"units\" appears twice");
    expect_error("{\"input\": [4], \"layers\": [{\"type\": \"conv9d\"}]}", CG_ERR_FORMAT,
                 "layers[0].type: unknown layer type \"conv9d\"");
    expect_error("{\"input\": [4], \"layers\": [{\"units\": 3}]}", CG_ERR_FORMAT,
                 "layers[0]: missing \"type\"");
    expect_error(with_dense("\"units\": 4, \"activation\": \"swish\""), CG_ERR_FORMAT,
                 "layers[0].activation: unknown activation \"swish\"");
    expect_error("{\"input\": [4], \"layers\": [{\"type\": \"dense\", \"units\": 2}], "
                 "\"loss\": \"hinge\"}",
                 CG_ERR_FORMAT, "loss: unknown loss \"hinge\"");
    expect_error("{\"input\": [4], \"layers\": [{\"type\": \"dense\", \"units\": 2}], "
                 "\"optimizer\": {\"type\": \"lbfgs\"}}",
                 CG_ERR_FORMAT, "optimizer.type: unknown optimizer \"lbfgs\"");
    /* momentum is an SGD key, not Adam's: torch.optim.Adam would refuse it too. */
    expect_error("{\"input\": [4], \"layers\": [{\"type\": \"dense\", \"units\": 2}], "
                 "\"optimizer\": {\"type\": \"adam\", \"momentum\": 0.9}}",
                 CG_ERR_FORMAT, "optimizer: unknown key \"momentum\"");
    expect_error("{\"input\": [4], \"layers\": [{\"type\": \"dense\", \"units\": 2}], "
                 "\"schedule\": {\"type\": \"cosine\", \"gamma\": 0.5}}",
                 CG_ERR_FORMAT, "schedule: unknown key \"gamma\"");
    expect_error("{\"input\": [4], \"layers\": [{\"type\": \"dense\", \"units\": 2}], "
                 "\"epochs\": 3}",
                 CG_ERR_FORMAT, "model file: unknown key \"epochs\"");
    expect_error("{\"layers\": [{\"type\": \"dense\", \"units\": 2}]}", CG_ERR_FORMAT,
                 "input: missing");
}

static void impossible_shapes(void **state)
{
    (void)state;
    expect_error("{\"input\": [1, 28, 28], \"layers\": [{\"type\": \"dense\", \"units\": 10}]}",
                 CG_ERR_FORMAT,
                 "layers[0]: dense needs a flat input or a [time, features] sequence, got "
                 "[1, 28, 28]; add {\"type\": \"flatten\"} before it");
    expect_error("{\"input\": [4], \"layers\": [{\"type\": \"dense\", \"units\": 1}]}",
                 CG_ERR_FORMAT, "loss: cross_entropy needs at least 2 output classes");
    expect_error("{\"input\": [2, 3, 4], \"layers\": [{\"type\": \"relu\"}]}", CG_ERR_FORMAT,
                 "loss: cross_entropy needs the model's output to be [classes] (or [time, "
                 "classes] for a label at every step), got [2, 3, 4]");
    expect_error("{\"input\": [4294967296, 4294967296], \"layers\": [{\"type\": \"flatten\"}]}",
                 CG_ERR_FORMAT, "input: the shape's size overflows");
    /* Found by fuzz_modelfile: attention's 4·D·D parameters overflowed (UB)
     * for an embedding dim of 16E8; and a recurrent layer's memory estimate. */
    expect_error("{\"input\": [64], \"layers\": [{\"type\": \"embedding\", \"vocab\": 113, "
                 "\"dim\": 16E8}, {\"type\": \"attention\", \"heads\": 4}]}",
                 CG_ERR_FORMAT, "layers[1]: the sizes overflow for input [64, 1600000000]");
    expect_error("{\"input\": [4000000000000, 1], \"layers\": [{\"type\": \"lstm\", \"units\": "
                 "1000000}]}",
                 CG_ERR_FORMAT, "layers[0]: the activation memory of 4000000000000 steps of 1000000 "
                 "units overflows");
}

static void too_large_is_refused_before_allocation(void **state)
{
    (void)state;
    /* 1e9 x 1e8 weights: far beyond any machine, refused with the size needed. */
    const char *huge = "{\"input\": [1000000000], \"layers\": [{\"type\": \"dense\", "
                       "\"units\": 100000000}, {\"type\": \"dense\", \"units\": 2}]}";
    expect_error(huge, CG_ERR_NOMEM, "model too large: training it needs 1.4 EiB");
    expect_error(huge, CG_ERR_NOMEM, "100000000300000002 parameters");
    /* So large that the byte count itself overflows. */
    expect_error("{\"input\": [2000000000], \"layers\": [{\"type\": \"dense\", "
                 "\"units\": 2000000000}]}",
                 CG_ERR_NOMEM, "model too large: training it needs more than 8 EiB");
}

/* A scratch file name outside the source tree. */
static const char *temp_path(const char *name)
{
    static char buf[512];
    const char *dir = getenv("CG_BUILD_DIR");
    snprintf(buf, sizeof buf, "%s/%s", dir ? dir : "/tmp", name);
    return buf;
}

static void loads_file_and_prefixes_its_name(void **state)
{
    (void)state;
    const char *path = temp_path("modelfile_test.json");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(with_dense("\"units\": \"ten\""), f);
    fclose(f);
    cg_model_spec *spec;
    assert_int_equal(cg_model_spec_load(path, &spec), CG_ERR_FORMAT);
    assert_non_null(strstr(cg_last_error(), "modelfile_test.json: layers[0].units"));
    remove(path);
    assert_int_not_equal(cg_model_spec_load("no/such/model.json", &spec), CG_OK);
    assert_non_null(strstr(cg_last_error(), "no/such/model.json"));
}

/* ------------------------------------------------------------ the model */

static void model_names_parameters_by_file_index(void **state)
{
    (void)state;
    cg_model_spec *spec;
    assert_int_equal(cg_model_spec_parse(MLP, &spec), CG_OK);
    cg_rng rng;
    cg_rng_seed(&rng, 1);
    cg_model *m = cg_model_create(spec, &rng);
    assert_non_null(m);
    cg_params *p = cg_model_params(m);
    assert_int_equal(cg_params_count(p), 4);
    cg_tensor *w = cg_params_find(p, "layers.1.weight");
    assert_non_null(w);
    assert_int_equal(w->shape[0], 16); /* PyTorch's [out, in] */
    assert_int_equal(w->shape[1], 16);
    assert_non_null(cg_params_find(p, "layers.3.bias"));
    assert_int_equal(cg_params_numel(p), spec->n_params);
    cg_model_destroy(m);
    cg_model_spec_free(spec);
}

static void model_forward_shapes_and_input_check(void **state)
{
    (void)state;
    cg_model_spec *spec;
    assert_int_equal(cg_model_spec_parse(MLP, &spec), CG_OK);
    cg_rng rng;
    cg_rng_seed(&rng, 1);
    cg_model *m = cg_model_create(spec, &rng);
    cg_ctx *ctx = cg_ctx_create(0);
    cg_ctx_set_training(ctx, false);
    cg_tensor *x = cg_tensor_zeros(ctx, 4, (int64_t[]){5, 1, 4, 4});
    cg_tensor *y = cg_model_forward(ctx, m, x);
    assert_non_null(y);
    assert_int_equal(y->ndim, 2);
    assert_int_equal(y->shape[0], 5);
    assert_int_equal(y->shape[1], 10);
    cg_tensor *bad = cg_tensor_zeros(ctx, 2, (int64_t[]){5, 16});
    assert_null(cg_model_forward(ctx, m, bad));
    assert_non_null(strstr(cg_last_error(), "model input must be [N, 1, 4, 4], got [5, 16]"));
    cg_ctx_destroy(ctx);
    cg_model_destroy(m);
    cg_model_spec_free(spec);
}

static void load_weights_names_missing_and_misshaped(void **state)
{
    (void)state;
    cg_model_spec *spec;
    assert_int_equal(cg_model_spec_parse(MLP, &spec), CG_OK);
    cg_rng rng;
    cg_rng_seed(&rng, 1);
    cg_model *m = cg_model_create(spec, &rng);
    float w[16 * 16] = {0}, b[16] = {0};
    cg_st_entry entries[] = {
        {.name = "layers.1.weight", .dtype = CG_DTYPE_F32, .ndim = 2, .shape = {16, 16}, .data = w},
        {.name = "layers.1.bias", .dtype = CG_DTYPE_F32, .ndim = 1, .shape = {16}, .data = b},
        {.name = "layers.3.weight", .dtype = CG_DTYPE_F32, .ndim = 2, .shape = {16, 10}, .data = w},
    };
    const char *path = temp_path("modelfile_test_weights.safetensors");
    assert_int_equal(cg_safetensors_save(path, entries, 3, NULL, NULL, 0), CG_OK);
    cg_st_file *f;
    assert_int_equal(cg_safetensors_load(path, &f), CG_OK);
    float before = cg_params_find(cg_model_params(m), "layers.1.bias")->data[0];
    assert_int_equal(cg_model_load_weights(m, f, NULL, NULL), CG_ERR_FORMAT);
    assert_non_null(strstr(cg_last_error(),
                           "tensor \"layers.3.weight\" has shape [16, 10], the model needs [10, 16]"));
    /* Nothing was copied. */
    assert_float_equal(cg_params_find(cg_model_params(m), "layers.1.bias")->data[0], before, 0);
    cg_safetensors_free(f);
    assert_int_equal(cg_safetensors_save(path, entries, 2, NULL, NULL, 0), CG_OK);
    assert_int_equal(cg_safetensors_load(path, &f), CG_OK);
    assert_int_equal(cg_model_load_weights(m, f, NULL, NULL), CG_ERR_FORMAT);
    assert_non_null(strstr(cg_last_error(), "tensor \"layers.3.weight\" is missing"));
    cg_safetensors_free(f);
    remove(path);
    cg_model_destroy(m);
    cg_model_spec_free(spec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_mlp_and_infers_shapes),
        cmocka_unit_test(defaults_when_sections_are_absent),
        cmocka_unit_test(round_trip_through_json),
        cmocka_unit_test(per_step_schedules),
        cmocka_unit_test(malformed_json_names_line_and_column),
        cmocka_unit_test(wrong_value_types),
        cmocka_unit_test(non_positive_and_out_of_range_values),
        cmocka_unit_test(unknown_keys_types_and_names),
        cmocka_unit_test(impossible_shapes),
        cmocka_unit_test(too_large_is_refused_before_allocation),
        cmocka_unit_test(loads_file_and_prefixes_its_name),
        cmocka_unit_test(model_names_parameters_by_file_index),
        cmocka_unit_test(model_forward_shapes_and_input_check),
        cmocka_unit_test(load_weights_names_missing_and_misshaped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
