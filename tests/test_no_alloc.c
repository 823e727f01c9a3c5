/* The steady-state training step allocates nothing: forward (fused dense,
 * dropout), cross-entropy, backward, clipping and an Adam step, from the
 * third step on. malloc/calloc/realloc/aligned_alloc are wrapped at link
 * time (-Wl,--wrap, see tests/CMakeLists.txt), which counts every call made
 * from cgrad's static library and this test (not from libgomp/OpenBLAS). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "cgrad.h"

static long allocations;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t align, size_t n);

void *__wrap_malloc(size_t n)
{
    allocations++;
    return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    allocations++;
    return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
    allocations++;
    return __real_realloc(p, n);
}

void *__wrap_aligned_alloc(size_t align, size_t n)
{
    allocations++;
    return __real_aligned_alloc(align, n);
}

enum { BATCH = 32, IN = 20, HIDDEN = 64, CLASSES = 5 };

static void train_step(cg_ctx *ctx, cg_params *params, cg_dense *layers, cg_optim *opt,
                       const float *x, const int32_t *labels)
{
    cg_ctx_reset(ctx);
    cg_tensor *input = cg_tensor_from(ctx, 2, (int64_t[]){BATCH, IN}, x);
    cg_tensor *h = cg_dropout(ctx, cg_dense_forward(ctx, &layers[0], input), 0.2f);
    cg_tensor *logits = cg_dense_forward(ctx, &layers[1], cg_gelu(ctx, h));
    cg_tensor *loss = cg_cross_entropy(ctx, logits, labels);
    cg_params_zero_grad(params);
    assert_non_null(loss);
    assert_int_equal(cg_backward(ctx, loss), CG_OK);
    cg_params_clip_grad_norm(params, 1.0f);
    assert_int_equal(cg_optim_step(opt), CG_OK);
}

static void training_step_allocates_nothing_after_warm_up(void **state)
{
    (void)state;
    static float x[BATCH * IN];
    static int32_t labels[BATCH];
    cg_rng rng;
    cg_rng_seed(&rng, 9);
    for (int i = 0; i < BATCH * IN; i++) x[i] = cg_rng_normal(&rng);
    for (int i = 0; i < BATCH; i++) labels[i] = (int32_t)cg_rng_below(&rng, CLASSES);

    cg_params *params = cg_params_create();
    cg_dense layers[2];
    assert_int_equal(cg_dense_init(&layers[0], params, "0", IN, HIDDEN, true, CG_ACT_RELU, &rng), 0);
    assert_int_equal(cg_dense_init(&layers[1], params, "1", HIDDEN, CLASSES, true, CG_ACT_NONE, &rng), 0);
    cg_optim_config config = cg_optim_defaults(CG_OPTIM_ADAM);
    cg_optim *opt = cg_optim_create(params, &config);
    cg_ctx *ctx = cg_ctx_create(1024); /* small on purpose: the first step must grow it */
    assert_non_null(opt);
    assert_non_null(ctx);

    for (int step = 0; step < 2; step++) train_step(ctx, params, layers, opt, x, labels);
    long before = allocations;
    for (int step = 0; step < 20; step++) train_step(ctx, params, layers, opt, x, labels);
    assert_int_equal(allocations - before, 0);
    assert_true(before > 0); /* the wrapper does see the library's allocations */

    cg_optim_destroy(opt);
    cg_ctx_destroy(ctx);
    cg_params_destroy(params);
}

/* The library's training loop (cg_train: model file, shuffled batches,
 * dropout, validation) allocates per run, never per step or epoch: 1 epoch
 * and 4 epochs of 20 steps each make the same number of allocations, for a
 * chain and for a graph with a skip connection. */
static const char *const CHAIN =
    "{\"input\": [4], \"layers\": [{\"type\": \"dense\", \"units\": 32, \"activation\": \"relu\"},"
    " {\"type\": \"dropout\", \"rate\": 0.2}, {\"type\": \"dense\", \"units\": 3}],"
    " \"optimizer\": {\"type\": \"adam\", \"lr\": 0.01},"
    " \"schedule\": {\"type\": \"cosine\", \"warmup_epochs\": 1},"
    " \"train\": {\"epochs\": 1, \"batch\": 8, \"clip_grad_norm\": 1.0}}";

/* A graph: a skip connection (add) around two dense layers, and a concat. */
static const char *const GRAPH =
    "{\"input\": [4], \"layers\": ["
    " {\"type\": \"dense\", \"units\": 16, \"activation\": \"relu\", \"name\": \"stem\"},"
    " {\"type\": \"dense\", \"units\": 16, \"activation\": \"tanh\"},"
    " {\"type\": \"dropout\", \"rate\": 0.2},"
    " {\"type\": \"dense\", \"units\": 16, \"name\": \"branch\"},"
    " {\"type\": \"add\", \"inputs\": [\"stem\", \"branch\"], \"name\": \"sum\"},"
    " {\"type\": \"concat\", \"inputs\": [\"sum\", \"input\"]},"
    " {\"type\": \"dense\", \"units\": 3}],"
    " \"optimizer\": {\"type\": \"adam\", \"lr\": 0.01},"
    " \"train\": {\"epochs\": 1, \"batch\": 8}}";

static long allocations_of_training(const char *json, int64_t epochs, const cg_dataset *data)
{
    cg_model_spec *spec = NULL;
    assert_int_equal(cg_model_spec_parse(json, &spec), CG_OK);
    cg_rng rng;
    cg_rng_seed(&rng, 2);
    cg_model *model = cg_model_create(spec, &rng);
    cg_optim *opt = cg_optim_create(cg_model_params(model), &spec->optim);
    assert_int_equal(cg_model_apply_no_decay(model, opt), CG_OK);
    assert_non_null(model);
    assert_non_null(opt);
    cg_train_options o = cg_train_options_from_spec(spec, spec->optim.lr);
    o.epochs = epochs;
    o.schedule = cg_model_spec_schedule(spec, spec->optim.lr, epochs);
    cg_train_state state = cg_train_state_init(o.seed);
    long before = allocations;
    assert_int_equal(cg_train(model, opt, data, data, &o, &state), CG_OK);
    long made = allocations - before;
    assert_int_equal(state.step, epochs * 20);
    cg_optim_destroy(opt);
    cg_model_destroy(model);
    cg_model_spec_free(spec);
    return made;
}

static void training_loop_allocates_per_run_only(void **state)
{
    (void)state;
    enum { COUNT = 160 };
    static float x[COUNT * 4];
    static int32_t labels[COUNT];
    for (int i = 0; i < COUNT; i++) {
        labels[i] = i % 3;
        for (int j = 0; j < 4; j++) x[i * 4 + j] = (float)((i * 7 + j * 3) % 11) / 11.0f - 0.4f;
    }
    cg_dataset data = {.count = COUNT, .sample_ndim = 1, .sample_shape = {4}, .sample_size = 4,
                       .x = x, .labels = labels, .num_classes = 3, .source = "test data"};
    assert_int_equal(allocations_of_training(CHAIN, 4, &data), allocations_of_training(CHAIN, 1, &data));
    assert_int_equal(allocations_of_training(GRAPH, 4, &data), allocations_of_training(GRAPH, 1, &data));
}

/* Pooling and channel dropout (maxpool2d keeps its argmax in the arena):
 * per run only, as above. */
static const char *const POOLING =
    "{\"input\": [2, 6, 6], \"layers\": ["
    " {\"type\": \"maxpool2d\", \"kernel\": 3, \"stride\": 2, \"padding\": 1},"
    " {\"type\": \"dropout2d\", \"rate\": 0.25},"
    " {\"type\": \"avgpool2d\", \"kernel\": 2, \"stride\": 1, \"padding\": 1},"
    " {\"type\": \"global_avgpool\"}, {\"type\": \"dense\", \"units\": 3}],"
    " \"optimizer\": {\"type\": \"adam\", \"lr\": 0.01},"
    " \"train\": {\"epochs\": 1, \"batch\": 8}}";

static void pooling_allocates_per_run_only(void **state)
{
    (void)state;
    enum { COUNT = 160, SAMPLE = 2 * 6 * 6 };
    static float x[COUNT * SAMPLE];
    static int32_t labels[COUNT];
    for (int i = 0; i < COUNT; i++) {
        labels[i] = i % 3;
        for (int j = 0; j < SAMPLE; j++) x[i * SAMPLE + j] = (float)((i * 7 + j * 3) % 11) / 11.0f - 0.4f;
    }
    cg_dataset data = {.count = COUNT, .sample_ndim = 3, .sample_shape = {2, 6, 6},
                       .sample_size = SAMPLE, .x = x, .labels = labels, .num_classes = 3,
                       .source = "test images"};
    assert_int_equal(allocations_of_training(POOLING, 4, &data),
                     allocations_of_training(POOLING, 1, &data));
}

/* Convolutions (im2col buffers per thread, weight-gradient slots, 1x1 and
 * depthwise paths, a fused gelu's kept input): per run only, as above. */
static const char *const CONV =
    "{\"input\": [2, 8, 8], \"layers\": ["
    " {\"type\": \"conv2d\", \"filters\": 16, \"kernel\": 3, \"padding\": 1, \"activation\": \"relu\"},"
    " {\"type\": \"conv2d\", \"filters\": 16, \"kernel\": 3, \"groups\": 16, \"stride\": 2},"
    " {\"type\": \"conv2d\", \"filters\": 8, \"kernel\": 1, \"activation\": \"gelu\"},"
    " {\"type\": \"flatten\"}, {\"type\": \"dense\", \"units\": 3}],"
    " \"optimizer\": {\"type\": \"adam\", \"lr\": 0.01},"
    " \"train\": {\"epochs\": 1, \"batch\": 8}}";

static void conv_allocates_per_run_only(void **state)
{
    (void)state;
    enum { COUNT = 160, SAMPLE = 2 * 8 * 8 };
    static float x[COUNT * SAMPLE];
    static int32_t labels[COUNT];
    for (int i = 0; i < COUNT; i++) {
        labels[i] = i % 3;
        for (int j = 0; j < SAMPLE; j++) x[i * SAMPLE + j] = (float)((i * 5 + j * 3) % 13) / 13.0f - 0.4f;
    }
    cg_dataset data = {.count = COUNT, .sample_ndim = 3, .sample_shape = {2, 8, 8},
                       .sample_size = SAMPLE, .x = x, .labels = labels, .num_classes = 3,
                       .source = "test images"};
    assert_int_equal(allocations_of_training(CONV, 4, &data),
                     allocations_of_training(CONV, 1, &data));
}

/* Recurrent layers (every step's gates and states in the arena, the
 * backward's per-step scratch too), an embedding first, a dense layer on
 * every step, per-step cross-entropy; and a stateful LSTM, whose carried
 * state is allocated once: per run only, as above. */
static const char *const RECURRENT =
    "{\"input\": [6], \"layers\": ["
    " {\"type\": \"embedding\", \"vocab\": 5, \"dim\": 4},"
    " {\"type\": \"gru\", \"units\": 8, \"num_layers\": 2, \"bidirectional\": true, \"dropout\": 0.2},"
    " {\"type\": \"lstm\", \"units\": 6},"
    " {\"type\": \"dense\", \"units\": 5}],"
    " \"optimizer\": {\"type\": \"adam\", \"lr\": 0.01},"
    " \"train\": {\"epochs\": 1, \"batch\": 8, \"clip_grad_norm\": 1.0}}";
static const char *const STATEFUL =
    "{\"input\": [6], \"layers\": ["
    " {\"type\": \"embedding\", \"vocab\": 5, \"dim\": 4},"
    " {\"type\": \"lstm\", \"units\": 6, \"stateful\": true},"
    " {\"type\": \"dense\", \"units\": 5}],"
    " \"optimizer\": {\"type\": \"adam\", \"lr\": 0.01},"
    " \"train\": {\"epochs\": 1, \"batch\": 8, \"shuffle\": false}}";

static void recurrent_allocates_per_run_only(void **state)
{
    (void)state;
    enum { COUNT = 160, T = 6 };
    static float x[COUNT * T];
    static int32_t labels[COUNT * T];
    for (int i = 0; i < COUNT * T; i++) {
        x[i] = (float)((i * 7) % 5);
        labels[i] = (i * 3 + 1) % 5;
    }
    cg_dataset data = {.count = COUNT, .sample_ndim = 1, .sample_shape = {T}, .sample_size = T,
                       .x = x, .labels = labels, .label_size = T, .num_classes = 5,
                       .source = "test sequences"};
    assert_int_equal(allocations_of_training(RECURRENT, 4, &data),
                     allocations_of_training(RECURRENT, 1, &data));
    assert_int_equal(allocations_of_training(STATEFUL, 4, &data),
                     allocations_of_training(STATEFUL, 1, &data));
}

/* Attention (kept weights, scratch, dropout key, a tiled block), layer
 * norms, positions and a residual block: per run only, as above. */
static const char *const TRANSFORMER =
    "{\"input\": [6, 8], \"layers\": ["
    " {\"type\": \"position_embedding\", \"max_len\": 6},"
    " {\"type\": \"transformer_block\", \"heads\": 2, \"causal\": true, \"dropout\": 0.1},"
    " {\"type\": \"transformer_block\", \"heads\": 4, \"tile\": 4},"
    " {\"type\": \"flatten\"}, {\"type\": \"dense\", \"units\": 3}],"
    " \"optimizer\": {\"type\": \"adamw\", \"lr\": 0.01, \"no_decay\": [\"bias\", \"norm\"]},"
    " \"train\": {\"epochs\": 1, \"batch\": 8}}";

static void transformer_allocates_per_run_only(void **state)
{
    (void)state;
    enum { COUNT = 160, SAMPLE = 6 * 8 };
    static float x[COUNT * SAMPLE];
    static int32_t labels[COUNT];
    for (int i = 0; i < COUNT; i++) {
        labels[i] = i % 3;
        for (int j = 0; j < SAMPLE; j++) x[i * SAMPLE + j] = (float)((i * 5 + j * 3) % 13) / 13.0f - 0.4f;
    }
    cg_dataset data = {.count = COUNT, .sample_ndim = 2, .sample_shape = {6, 8},
                       .sample_size = SAMPLE, .x = x, .labels = labels, .num_classes = 3,
                       .source = "test sequences"};
    assert_int_equal(allocations_of_training(TRANSFORMER, 4, &data),
                     allocations_of_training(TRANSFORMER, 1, &data));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(training_step_allocates_nothing_after_warm_up),
        cmocka_unit_test(training_loop_allocates_per_run_only),
        cmocka_unit_test(pooling_allocates_per_run_only),
        cmocka_unit_test(conv_allocates_per_run_only),
        cmocka_unit_test(recurrent_allocates_per_run_only),
        cmocka_unit_test(transformer_allocates_per_run_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
