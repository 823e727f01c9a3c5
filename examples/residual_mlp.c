/* A residual MLP built in C (no model file) through the model builder, the
 * same layer table and checks a model file goes through: two dense layers
 * with a skip connection ("add"), trained on the three interleaved spirals of
 * examples/data/spiral.csv, evaluated and saved as a checkpoint that
 * `cgrad info`, `cgrad eval` and PyTorch read.
 *
 *   residual_mlp [SPIRAL.csv [OUT.safetensors]]
 *
 * Exits 0 only if it reaches 90% training accuracy. */
#include <stdio.h>

#include "cgrad.h"

#ifndef CG_EXAMPLE_DATA
#define CG_EXAMPLE_DATA "examples/data/spiral.csv"
#endif

static int fail(const char *what)
{
    fprintf(stderr, "residual_mlp: %s: %s\n", what, cg_last_error());
    return 1;
}

/* input [2] -> dense 64 relu "stem" -> dense 64 relu -> dense 64 "branch"
 *   -> add(stem, branch) -> relu -> dense 3 */
static cg_model_spec *residual_spec(void)
{
    cg_model_spec *spec = cg_model_spec_create(1, (int64_t[]){2});
    const char *layers[] = {
        "{\"type\": \"dense\", \"units\": 64, \"activation\": \"relu\", \"name\": \"stem\"}",
        "{\"type\": \"dense\", \"units\": 64, \"activation\": \"relu\"}",
        "{\"type\": \"dense\", \"units\": 64, \"name\": \"branch\"}",
        "{\"type\": \"add\", \"inputs\": [\"stem\", \"branch\"]}",
        "{\"type\": \"relu\"}",
        "{\"type\": \"dense\", \"units\": 3}",
    };
    bool ok = spec != NULL;
    for (size_t i = 0; ok && i < sizeof layers / sizeof *layers; i++)
        ok = cg_model_spec_add_layer(spec, layers[i]) == CG_OK;
    ok = ok && cg_model_spec_set(spec, "name", "\"residual_spirals\"") == CG_OK &&
         cg_model_spec_set(spec, "optimizer", "{\"type\": \"adam\", \"lr\": 0.01}") == CG_OK &&
         cg_model_spec_set(spec, "train", "{\"epochs\": 60, \"batch\": 32, \"seed\": 3}") == CG_OK &&
         cg_model_spec_check(spec) == CG_OK;
    if (ok) return spec;
    cg_model_spec_free(spec);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *data_path = argc > 1 ? argv[1] : CG_EXAMPLE_DATA;
    const char *out_path = argc > 2 ? argv[2] : "residual_spirals.safetensors";
    cg_model_spec *spec = residual_spec();
    if (!spec) return fail("model");
    cg_dataset data;
    if (cg_dataset_load_csv(&data, data_path, true, NULL, 0) != CG_OK) return fail("data");

    cg_rng init = cg_train_rng(spec->train.seed, 0, CG_STREAM_INIT);
    cg_model *model = cg_model_create(spec, &init);
    cg_optim *opt = model ? cg_optim_create(cg_model_params(model), &spec->optim) : NULL;
    if (!opt) return fail("setup");
    cg_train_options o = cg_train_options_from_spec(spec, spec->optim.lr);
    o.save_path = out_path;
    cg_train_state state = cg_train_state_init(o.seed);
    if (cg_train(model, opt, &data, NULL, &o, &state) != CG_OK) return fail("training");

    cg_eval_result r;
    if (cg_evaluate(model, &data, 256, &r) != CG_OK) return fail("evaluation");
    printf("%s: %lld parameters, %lld epochs, loss %.4f, accuracy %.2f%%, saved %s\n", spec->name,
           (long long)spec->n_params, (long long)state.epoch, r.loss, 100.0 * r.accuracy, out_path);
    int code = r.accuracy >= 0.9 ? 0 : 1;
    cg_optim_destroy(opt);
    cg_model_destroy(model);
    cg_dataset_free(&data);
    cg_model_spec_free(spec);
    return code;
}
