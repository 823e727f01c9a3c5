/* Linear regression by gradient descent: fit y = w·x + b to y = 2x + noise
 * and recover the slope. Exits 0 only if |w - 2| < 0.1. */
#include <math.h>
#include <stdio.h>

#include "cgrad.h"

#define SAMPLES 256
#define EPOCHS 200
#define TRUE_SLOPE 2.0f
#define NOISE_STD 0.1f

static int fail(const char *what)
{
    fprintf(stderr, "regression: %s: %s\n", what, cg_last_error());
    return 1;
}

int main(void)
{
    cg_rng rng;
    cg_rng_seed(&rng, 7);
    static float xs[SAMPLES], ys[SAMPLES];
    for (int i = 0; i < SAMPLES; i++) {
        xs[i] = 2.0f * cg_rng_uniform(&rng) - 1.0f;
        ys[i] = TRUE_SLOPE * xs[i] + NOISE_STD * cg_rng_normal(&rng);
    }

    cg_params *params = cg_params_create();
    cg_ctx *ctx = cg_ctx_create(0);
    cg_dense line;
    if (!params || !ctx) return fail("setup");
    if (cg_dense_init(&line, params, "line", 1, 1, true, CG_ACT_NONE, &rng) != CG_OK)
        return fail("layer");
    cg_optim_config config = cg_optim_defaults(CG_OPTIM_SGD);
    config.lr = 0.1f;
    cg_optim *opt = cg_optim_create(params, &config);
    if (!opt) return fail("optimizer");

    for (int epoch = 0; epoch < EPOCHS; epoch++) {
        cg_ctx_reset(ctx);
        cg_tensor *x = cg_tensor_from(ctx, 2, (int64_t[]){SAMPLES, 1}, xs);
        cg_tensor *y = cg_tensor_from(ctx, 2, (int64_t[]){SAMPLES, 1}, ys);
        cg_tensor *loss = cg_mse_loss(ctx, cg_dense_forward(ctx, &line, x), y);
        cg_params_zero_grad(params);
        if (!loss || cg_backward(ctx, loss) != CG_OK) return fail("training step");
        if (cg_optim_step(opt) != CG_OK) return fail("optimizer step");
        if (epoch % 50 == 0) printf("epoch %3d  mse %.5f\n", epoch, loss->data[0]);
    }
    float slope = line.weight->data[0], intercept = line.bias->data[0];
    printf("fitted y = %.4f x + %.4f (true slope %.1f)\n", slope, intercept, TRUE_SLOPE);
    cg_optim_destroy(opt);
    cg_ctx_destroy(ctx);
    cg_params_destroy(params);
    return fabsf(slope - TRUE_SLOPE) < 0.1f ? 0 : 1;
}
