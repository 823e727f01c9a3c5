/* cgrad sample: text from a character-level language model trained on
 * text: data, one symbol at a time, streamed to standard output. The model
 * reads the last T symbols (its input length; fewer at the start) and the
 * next symbol is drawn from the softmax of its last step's logits, divided
 * by the temperature and cut to the top k. */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const CMD = "sample";

static void usage(FILE *out)
{
    fputs("usage: cgrad sample CKPT [--prime TEXT] [--length N] [--temperature T]\n"
          "                         [--top-k K] [--seed N] [--threads N]\n"
          "\n"
          "Generates text from a language model trained on text: data (its vocabulary is in\n"
          "the checkpoint), writing the prime and then each new character as it is drawn.\n"
          "\n"
          "  --prime TEXT       text to start from (default: a newline, or a space, or the\n"
          "                     first symbol of the vocabulary); every character must be\n"
          "                     in the model's vocabulary\n"
          "  --length N         characters to generate (default 500)\n"
          "  --temperature T    divide the logits by T > 0 (default 1; lower is more\n"
          "                     conservative)\n"
          "  --top-k K          draw only from the K most likely characters (default: all)\n"
          "  --seed N           seed of the draws (default 1): same seed, same text\n"
          "  --threads N        threads to use (default: all cores)\n"
          "  -h, --help         this help\n",
          out);
}

typedef struct sample_options {
    const char *ckpt, *prime, *threads;
    int64_t length, top_k, seed;
    double temperature;
} sample_options;

static int parse(sample_options *o, int argc, char **argv)
{
    cli_args a;
    cli_args_init(&a, CMD, argc, argv);
    const char *length = NULL, *temperature = NULL, *top_k = NULL, *seed = NULL;
    *o = (sample_options){.length = 500, .seed = 1, .temperature = 1.0};
    while (cli_args_next(&a)) {
        if (cli_flag(&a, "--help") || cli_flag(&a, "-h")) {
            usage(stdout);
            return EXIT_OK;
        }
        if (!cli_option(&a, "--prime", &o->prime) && !cli_option(&a, "--length", &length) &&
            !cli_option(&a, "--temperature", &temperature) && !cli_option(&a, "--top-k", &top_k) &&
            !cli_option(&a, "--seed", &seed) && !cli_option(&a, "--threads", &o->threads))
            cli_unknown(&a);
    }
    if (a.failed) return EXIT_USAGE;
    if (a.n_positional != 1) return cli_fail(EXIT_USAGE, CMD, "expected one checkpoint; see --help");
    o->ckpt = a.positional[0];
    if ((length && !cli_parse_int(CMD, "--length", length, 0, INT32_MAX, &o->length)) ||
        (top_k && !cli_parse_int(CMD, "--top-k", top_k, 1, INT32_MAX, &o->top_k)) ||
        (seed && !cli_parse_int(CMD, "--seed", seed, 0, INT64_C(1) << 53, &o->seed)) ||
        (temperature && !cli_parse_float(CMD, "--temperature", temperature, 1e-6, 1e6,
                                         &o->temperature)))
        return EXIT_USAGE;
    if (o->prime && !*o->prime) return cli_fail(EXIT_USAGE, CMD, "--prime: give at least one character");
    return -1;
}

/* A language model: [T] token ids in, [T, classes] logits out, with a
 * vocabulary the classes cover. */
static int check_model(const cli_model *m, const char *path)
{
    const cg_model_spec *spec = cg_model_get_spec(m->model);
    if (!m->vocab)
        return cli_fail(EXIT_USAGE, CMD, "%s has no text vocabulary in its metadata: sample needs "
                                         "a language model trained on text: data", path);
    if (spec->input_ndim != 1 || spec->output_ndim != 2 || spec->loss != CG_LOSS_CROSS_ENTROPY ||
        spec->output[0] != spec->input[0] || spec->output[1] < m->vocab_size)
        return cli_fail(EXIT_USAGE, CMD, "%s is not a character-level language model (input "
                                         "[T] token ids, output [T, classes] with cross_entropy)",
                        path);
    return EXIT_OK;
}

/* Draws from softmax(logits / temperature) over the top k of n logits. */
static int64_t draw(const float *logits, int64_t n, const sample_options *o, cg_rng *rng,
                    double *p)
{
    double top = -INFINITY;
    for (int64_t i = 0; i < n; i++) top = fmax(top, logits[i]);
    double cut = -INFINITY;
    if (o->top_k > 0 && o->top_k < n) {
        /* The k-th largest logit: the smallest one with fewer than k above it. */
        for (int64_t i = 0; i < n; i++) {
            int64_t above = 0;
            for (int64_t j = 0; j < n; j++) above += logits[j] > logits[i];
            if (above < o->top_k && (cut == -INFINITY || logits[i] < cut)) cut = logits[i];
        }
    }
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += p[i] = logits[i] >= cut ? exp((logits[i] - top) / o->temperature) : 0.0;
    double u = cg_rng_uniform(rng) * sum;
    for (int64_t i = 0; i < n; i++)
        if ((u -= p[i]) < 0.0 && p[i] > 0.0) return i;
    for (int64_t i = n - 1; i > 0; i--)
        if (p[i] > 0.0) return i;
    return 0;
}

static void put_symbol(int32_t symbol)
{
    char buf[5];
    fwrite(buf, 1, (size_t)cg_text_symbol_utf8(symbol, buf), stdout);
}

/* The next id after ids[0..n), from the model on the last T of them. */
static int next_id(cg_ctx *ctx, const cli_model *m, const int32_t *ids, int64_t n,
                   const sample_options *o, cg_rng *rng, double *p, int64_t *out)
{
    int64_t T = cg_model_get_spec(m->model)->input[0], t = n < T ? n : T;
    cg_ctx_reset(ctx);
    cg_tensor *x = cg_tensor_new(ctx, 2, (int64_t[]){1, t});
    if (!x) return cli_fail_lib(EXIT_FAILURE_OTHER, CMD);
    for (int64_t i = 0; i < t; i++) x->data[i] = (float)ids[n - t + i];
    cg_tensor *y = cg_model_forward_prefix(ctx, m->model, x);
    if (!y) return cli_fail_lib(EXIT_FAILURE_OTHER, CMD);
    /* Only ids of the vocabulary are symbols (the model may have more classes). */
    *out = draw(y->data + (t - 1) * y->shape[2], m->vocab_size, o, rng, p);
    return EXIT_OK;
}

/* Without --prime: a newline, a space, or the vocabulary's first symbol. */
static const char *default_prime(const cli_model *m, char buf[5])
{
    int32_t pick = m->vocab[0];
    for (int64_t i = 0; i < m->vocab_size; i++)
        if (m->vocab[i] == ' ' && pick != '\n') pick = ' ';
        else if (m->vocab[i] == '\n') pick = '\n';
    cg_text_symbol_utf8(pick, buf);
    return buf;
}

static int generate(const cli_model *m, sample_options *o)
{
    char prime[5];
    if (!o->prime) o->prime = default_prime(m, prime);
    size_t cap = strlen(o->prime) + (size_t)o->length + 1;
    int32_t *ids = malloc(cap * sizeof *ids);
    double *p = malloc((size_t)m->vocab_size * sizeof *p);
    cg_ctx *ctx = cg_ctx_create(0);
    int64_t n = 0;
    int code = ids && p && ctx ? EXIT_OK : cli_fail(EXIT_FAILURE_OTHER, CMD, "out of memory");
    if (code == EXIT_OK && cg_text_encode(o->prime, m->vocab, m->vocab_size, ids, &n) != CG_OK)
        code = cli_fail(EXIT_USAGE, CMD, "--prime: %s", cg_last_error());
    if (code == EXIT_OK) {
        cg_ctx_set_training(ctx, false);
        cg_ctx_set_grad_enabled(ctx, false);
        fputs(o->prime, stdout);
    }
    cg_rng rng;
    cg_rng_seed(&rng, (uint64_t)o->seed);
    for (int64_t k = 0; code == EXIT_OK && k < o->length; k++) {
        int64_t id = 0;
        if ((code = next_id(ctx, m, ids, n, o, &rng, p, &id)) != EXIT_OK) break;
        ids[n++] = (int32_t)id;
        put_symbol(m->vocab[id]);
        fflush(stdout);
    }
    if (code == EXIT_OK) putchar('\n');
    cg_ctx_destroy(ctx);
    free(p);
    free(ids);
    return code;
}

int cmd_sample(int argc, char **argv)
{
    sample_options o;
    int code = parse(&o, argc, argv);
    if (code >= 0) return code;
    if (!cli_set_threads(CMD, o.threads)) return EXIT_USAGE;
    cli_model m;
    if ((code = cli_model_load(&m, CMD, o.ckpt, NULL)) != EXIT_OK) return code;
    code = check_model(&m, o.ckpt);
    if (code == EXIT_OK) code = generate(&m, &o);
    cli_model_release(&m);
    return code;
}
