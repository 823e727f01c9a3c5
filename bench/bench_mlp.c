/* cgrad side of the MLP benchmark (WORKLOADS.md W1/W1b): one epoch of
 * 784-256-ReLU-128-ReLU-10, Adam 1e-3, softmax cross-entropy on shuffled
 * Fashion-MNIST, the last partial batch kept; the minibatch gather is inside
 * the timer. Prints one JSON line.
 *   bench_mlp [--batch N] [--threads N] [--seed N] [--epochs N] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "cgrad.h"

typedef struct mlp {
    cg_params *params;
    cg_dense fc1, fc2, fc3;
} mlp;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_mlp: %s: %s\n", what, cg_last_error());
    exit(1);
}

static void build(mlp *m, uint64_t seed)
{
    cg_rng rng;
    cg_rng_seed(&rng, seed);
    m->params = cg_params_create();
    if (!m->params ||
        cg_dense_init(&m->fc1, m->params, "fc1", 784, 256, true, CG_ACT_RELU, &rng) ||
        cg_dense_init(&m->fc2, m->params, "fc2", 256, 128, true, CG_ACT_RELU, &rng) ||
        cg_dense_init(&m->fc3, m->params, "fc3", 128, 10, true, CG_ACT_NONE, &rng))
        die("model");
}

static cg_tensor *forward(cg_ctx *ctx, const mlp *m, cg_tensor *x)
{
    return cg_dense_forward(ctx, &m->fc3,
                            cg_dense_forward(ctx, &m->fc2, cg_dense_forward(ctx, &m->fc1, x)));
}

static double test_accuracy(const mlp *m, const cg_dataset *test, cg_ctx *ctx)
{
    int64_t correct = 0, batch = 1000;
    cg_ctx_set_grad_enabled(ctx, false);
    for (int64_t start = 0; start < test->count; start += batch) {
        int64_t n = test->count - start < batch ? test->count - start : batch;
        cg_ctx_reset(ctx);
        cg_tensor *x = cg_tensor_from(ctx, 2, (int64_t[]){n, 784}, test->x + start * 784);
        cg_tensor *logits = forward(ctx, m, x);
        if (!logits) die("evaluation");
        for (int64_t i = 0; i < n; i++) {
            const float *row = logits->data + i * 10;
            int best = 0;
            for (int c = 1; c < 10; c++)
                if (row[c] > row[best]) best = c;
            correct += best == test->labels[start + i];
        }
    }
    cg_ctx_set_grad_enabled(ctx, true);
    return (double)correct / (double)test->count;
}

int main(int argc, char **argv)
{
    int64_t batch = 64, epochs = 1;
    int threads = 2;
    uint64_t seed = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--batch")) batch = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seed")) seed = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--epochs")) epochs = atoll(argv[i + 1]);
    }
    cg_set_num_threads(threads);
    cg_dataset train = {0}, test = {0};
    if (cg_dataset_load_spec(&train, "fashion-mnist:train", NULL) ||
        cg_dataset_load_spec(&test, "fashion-mnist:test", NULL))
        die("data");

    mlp m;
    build(&m, seed);
    cg_optim_config config = cg_optim_defaults(CG_OPTIM_ADAM);
    config.lr = 1e-3f;
    cg_optim *opt = cg_optim_create(m.params, &config);
    cg_ctx *ctx = cg_ctx_create(0);
    int64_t *order = malloc((size_t)train.count * sizeof *order);
    int32_t *yb = malloc((size_t)batch * sizeof *yb);
    if (!opt || !ctx || !order || !yb) die("setup");
    cg_rng rng;
    cg_rng_seed(&rng, seed);

    double seconds = 0.0;
    for (int64_t epoch = 0; epoch < epochs; epoch++) {
        for (int64_t i = 0; i < train.count; i++) order[i] = i;
        cg_rng_shuffle(&rng, order, train.count);
        double start = now();
        for (int64_t s = 0; s < train.count; s += batch) {
            int64_t n = train.count - s < batch ? train.count - s : batch;
            cg_ctx_reset(ctx);
            /* Gather straight into the step's input tensor, as the CLI does. */
            cg_tensor *x = cg_tensor_new(ctx, 2, (int64_t[]){n, 784});
            if (!x || cg_dataset_batch(&train, order + s, n, x->data, yb, NULL)) die("batch");
            cg_tensor *loss = cg_cross_entropy(ctx, forward(ctx, &m, x), yb);
            cg_params_zero_grad(m.params);
            if (!loss || cg_backward(ctx, loss) || cg_optim_step(opt)) die("training step");
        }
        seconds += now() - start;
    }
    double acc = test_accuracy(&m, &test, ctx);
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    printf("{\"impl\": \"cgrad-%s\", \"batch\": %lld, \"threads\": %d, \"epochs\": %lld, "
           "\"seconds\": %.4f, \"samples_per_s\": %.0f, \"test_accuracy\": %.4f, "
           "\"arena_peak_bytes\": %zu, \"peak_rss_mb\": %.1f}\n",
           CG_VERSION_STRING, (long long)batch, threads, (long long)epochs, seconds,
           (double)(train.count * epochs) / seconds, acc, cg_ctx_arena_peak(ctx),
           (double)usage.ru_maxrss / 1024.0);
    free(order);
    free(yb);
    cg_ctx_destroy(ctx);
    cg_optim_destroy(opt);
    cg_params_destroy(m.params);
    cg_dataset_free(&train);
    cg_dataset_free(&test);
    return 0;
}
