/* Every allocation failure is reported, never a crash: a small training
 * scenario is run again and again with the 1st, 2nd, 3rd, ... allocation
 * made by cgrad failing (malloc & co. wrapped at link time, see
 * tests/CMakeLists.txt), until it runs with no injected failure. Each run must
 * either succeed or fail with a status and a message; under `make sanitize`
 * any invalid access on those error paths aborts the test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "cgrad.h"

static long countdown; /* the allocation that fails when it reaches 0; < 0: none */
static bool injected;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t align, size_t n);

static bool fail_now(void)
{
    if (countdown < 0 || countdown-- != 0) return false;
    injected = true;
    return true;
}

void *__wrap_malloc(size_t n) { return fail_now() ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t s) { return fail_now() ? NULL : __real_calloc(n, s); }
void *__wrap_realloc(void *p, size_t n) { return fail_now() ? NULL : __real_realloc(p, n); }
void *__wrap_aligned_alloc(size_t a, size_t n)
{
    return fail_now() ? NULL : __real_aligned_alloc(a, n);
}

enum { BATCH = 8, IN = 6, HIDDEN = 40, CLASSES = 3, STEPS = 3 };

static cg_status step(cg_ctx *ctx, cg_params *params, const cg_dense *layers, cg_optim *opt,
                      const float *x, const int32_t *labels)
{
    cg_ctx_reset(ctx);
    cg_tensor *in = cg_tensor_from(ctx, 2, (int64_t[]){BATCH, IN}, x);
    cg_tensor *h = cg_dropout(ctx, cg_dense_forward(ctx, &layers[0], in), 0.1f);
    cg_tensor *parts[2] = {h, cg_tanh(ctx, h)};
    cg_tensor *wide = cg_concat(ctx, parts, 2, 1);
    cg_tensor *logits = cg_dense_forward(ctx, &layers[1], cg_slice(ctx, wide, 1, 0, HIDDEN));
    cg_tensor *loss = cg_add(ctx, cg_cross_entropy(ctx, logits, labels),
                             cg_mul_scalar(ctx, cg_mean(ctx, logits, CG_AXIS_ALL, false), 0.0f));
    if (!loss) return cg_last_status();
    cg_params_zero_grad(params);
    cg_status s = cg_backward(ctx, loss);
    return s != CG_OK ? s : cg_optim_step(opt);
}

/* The scenario: build, train a few steps, checkpoint round trip. */
static cg_status scenario(const char *path)
{
    static float x[BATCH * IN];
    static int32_t labels[BATCH];
    for (int i = 0; i < BATCH * IN; i++) x[i] = (float)((i * 7) % 11) / 11.0f - 0.5f;
    for (int i = 0; i < BATCH; i++) labels[i] = i % CLASSES;
    cg_rng rng;
    cg_rng_seed(&rng, 1);
    cg_status s = CG_ERR_NOMEM;
    cg_params *params = cg_params_create();
    cg_ctx *ctx = cg_ctx_create(256);
    cg_optim *opt = NULL;
    cg_dense layers[2];
    if (!params || !ctx) goto out;
    s = cg_dense_init(&layers[0], params, "a", IN, HIDDEN, true, CG_ACT_RELU, &rng);
    if (!s) s = cg_dense_init(&layers[1], params, "b", HIDDEN, CLASSES, true, CG_ACT_NONE, &rng);
    if (s) goto out;
    cg_optim_config config = cg_optim_defaults(CG_OPTIM_ADAM);
    opt = cg_optim_create(params, &config);
    if (!opt) {
        s = cg_last_status();
        goto out;
    }
    for (int i = 0; i < STEPS && !s; i++) s = step(ctx, params, layers, opt, x, labels);
    if (s) goto out;
    cg_st_entry e = {.name = "a.weight", .dtype = CG_DTYPE_F32, .ndim = 2,
                     .shape = {HIDDEN, IN}, .data = layers[0].weight->data};
    s = cg_safetensors_save(path, &e, 1, NULL, NULL, 0);
    cg_st_file *f = NULL;
    if (!s) s = cg_safetensors_load(path, &f);
    cg_safetensors_free(f);
out:
    cg_optim_destroy(opt);
    cg_ctx_destroy(ctx);
    cg_params_destroy(params);
    return s;
}

static void every_allocation_failure_is_reported(void **state)
{
    (void)state;
    char dir[] = "/tmp/cg_allocfail_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/w.safetensors", dir);
    long failures_seen = 0;
    for (long n = 0;; n++) {
        countdown = n;
        injected = false;
        cg_clear_error();
        cg_status s = scenario(path);
        countdown = -1;
        if (!injected) {
            assert_int_equal(s, CG_OK); /* ran clean: every allocation point was tried */
            print_message("%ld allocation points failed in turn, %ld reported\n", n, failures_seen);
            break;
        }
        if (s != CG_OK) {
            failures_seen++;
            assert_true(strlen(cg_last_error()) > 0);
        }
        assert_true(n < 10000);
    }
    assert_true(failures_seen > 20);
    remove(path);
    rmdir(dir);
}

/* cJSON lives in its own shared library, out of reach of --wrap, so its
 * allocations are routed through the wrapper with cJSON_InitHooks. A model
 * file written back must be whole or refused: a dropped key would read back
 * as a different model. */
static void model_file_write_is_whole_or_refused(void **state)
{
    (void)state;
    static const char *const model =
        "{\"input\": [1, 4, 4], \"layers\": [{\"type\": \"flatten\"},"
        " {\"type\": \"dense\", \"units\": 8, \"activation\": \"relu\"},"
        " {\"type\": \"dropout\", \"rate\": 0.25}, {\"type\": \"leaky_relu\"},"
        " {\"type\": \"dense\", \"units\": 3}], \"loss\": \"cross_entropy\","
        " \"optimizer\": {\"type\": \"adam\", \"lr\": 0.002},"
        " \"schedule\": {\"type\": \"cosine\", \"warmup_epochs\": 1},"
        " \"train\": {\"epochs\": 2, \"batch\": 4, \"seed\": 7}}";
    cg_model_spec *spec;
    assert_int_equal(cg_model_spec_parse(model, &spec), CG_OK);
    char *whole = cg_model_spec_to_json(spec);
    assert_non_null(whole);
    cJSON_InitHooks(&(cJSON_Hooks){.malloc_fn = __wrap_malloc, .free_fn = free});
    long refused = 0;
    for (long n = 0;; n++) {
        countdown = n;
        injected = false;
        cg_clear_error();
        char *text = cg_model_spec_to_json(spec);
        countdown = -1;
        if (text) {
            assert_string_equal(text, whole);
            free(text);
        } else {
            refused++;
            assert_int_equal(cg_last_status(), CG_ERR_NOMEM);
        }
        if (!injected) break;
        assert_true(n < 10000);
    }
    cJSON_InitHooks(NULL);
    assert_true(refused > 20);
    free(whole);
    cg_model_spec_free(spec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_allocation_failure_is_reported),
        cmocka_unit_test(model_file_write_is_whole_or_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
