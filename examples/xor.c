/* XOR with a 2-4-1 sigmoid network: the classic case a single layer cannot
 * learn. Full-batch training on the four rows of the truth table; exits 0 only
 * if the loss ends below 0.01 and every output is on the right side of 0.5. */
#include <stdio.h>

#include "cgrad.h"

#define EPOCHS 3000

static const float inputs[4][2] = {{0, 0}, {0, 1}, {1, 0}, {1, 1}};
static const float targets[4] = {0, 1, 1, 0};

static int fail(const char *what)
{
    fprintf(stderr, "xor: %s: %s\n", what, cg_last_error());
    return 1;
}

int main(void)
{
    cg_rng rng;
    cg_rng_seed(&rng, 42);
    cg_params *params = cg_params_create();
    cg_ctx *ctx = cg_ctx_create(0);
    cg_dense hidden, output;
    if (!params || !ctx) return fail("setup");
    if (cg_dense_init(&hidden, params, "hidden", 2, 4, true, CG_ACT_SIGMOID, &rng) != CG_OK ||
        cg_dense_init(&output, params, "output", 4, 1, true, CG_ACT_SIGMOID, &rng) != CG_OK)
        return fail("layers");

    cg_optim_config config = cg_optim_defaults(CG_OPTIM_ADAM);
    config.lr = 0.05f;
    cg_optim *opt = cg_optim_create(params, &config);
    if (!opt) return fail("optimizer");

    float loss_value = 0.0f;
    float predictions[4] = {0};
    for (int epoch = 0; epoch < EPOCHS; epoch++) {
        cg_ctx_reset(ctx);
        cg_tensor *x = cg_tensor_from(ctx, 2, (int64_t[]){4, 2}, &inputs[0][0]);
        cg_tensor *y = cg_tensor_from(ctx, 2, (int64_t[]){4, 1}, targets);
        cg_tensor *pred = cg_dense_forward(ctx, &output, cg_dense_forward(ctx, &hidden, x));
        cg_tensor *loss = cg_mse_loss(ctx, pred, y);
        cg_params_zero_grad(params);
        if (!loss || cg_backward(ctx, loss) != CG_OK) return fail("training step");
        if (cg_optim_step(opt) != CG_OK) return fail("optimizer step");
        loss_value = loss->data[0];
        for (int i = 0; i < 4; i++) predictions[i] = pred->data[i];
        if (epoch % 500 == 0) printf("epoch %4d  loss %.6f\n", epoch, loss_value);
    }

    int correct = 0;
    for (int i = 0; i < 4; i++) {
        bool right = (predictions[i] > 0.5f) == (targets[i] > 0.5f);
        correct += right;
        printf("%g XOR %g -> %.4f %s\n", inputs[i][0], inputs[i][1], predictions[i],
               right ? "ok" : "WRONG");
    }
    printf("final loss %.6f, %d/4 correct\n", loss_value, correct);
    cg_optim_destroy(opt);
    cg_ctx_destroy(ctx);
    cg_params_destroy(params);
    return loss_value < 0.01f && correct == 4 ? 0 : 1;
}
