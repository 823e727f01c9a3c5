/* cgrad side of the benchmark workloads W1-W4 (WORKLOADS.md), through the
 * library's model files and training loop (cg_train, what `cgrad train`
 * runs). Prints one JSON line. Modes:
 *   train  time optimizer steps WARMUP+1 .. WARMUP+STEPS: the clock is read
 *          in cg_train's per-step callback, so a step's time includes the
 *          batch gather, forward, loss, backward, the NaN/Inf check,
 *          clipping and the optimizer step (everything cg_train does)
 *   infer  evaluation mode over test samples (cg_evaluate: forward, loss and
 *          argmax), PASSES passes timed after one untimed pass
 *   acc    train whole epochs, evaluate on the test set after each, stop at
 *          the first reaching TARGET accuracy; the wall time counts from the
 *          process's start (start-up and evaluation included)
 * Start-up is measured from the process's start (/proc/self/stat, 10 ms
 * resolution) to the end of the first training step; data loading is
 * reported separately.
 *   bench_train MODEL.json --data SPEC [--mode train|infer|acc] [--threads N]
 *     [--seed N] [--batch N] [--warmup N] [--steps N] [--passes N]
 *     [--samples N] [--target F] [--max-epochs N] [--name W] [--heldout 1] */
#define _GNU_SOURCE   /* RTLD_DEFAULT */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cgrad.h"

typedef struct opts {
    const char *model, *data, *mode, *name;
    int threads;
    uint64_t seed;
    int64_t batch, warmup, steps, passes, samples, max_epochs, heldout;
    double target;
} opts;

typedef struct clock_log {
    double *t;             /* end time of step i (1-based: t[i]) */
    void (*mark)(long long step);  /* bench/gemm_trace.c's, when it is preloaded */
    int64_t n;
    double first_step_age; /* process age at the end of step 1 */
    double target;
    double reached_age;    /* process age when the target was first met, or -1 */
    int64_t reached_epoch;
    double accs[64];
    int64_t n_accs;
    volatile sig_atomic_t stop;
} clock_log;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Seconds since the kernel started this process (field 22 of
 * /proc/self/stat against /proc/uptime): start-up of the C runtime and, on
 * the Python side, of the interpreter and its imports, measured alike. */
static double process_age(void)
{
    FILE *f = fopen("/proc/self/stat", "r");
    FILE *u = fopen("/proc/uptime", "r");
    double age = -1.0, up = 0.0;
    char buf[1024];
    if (f && u && fgets(buf, sizeof buf, f) && fscanf(u, "%lf", &up) == 1) {
        char *p = strrchr(buf, ')');
        unsigned long long start = 0;
        /* After the ')' come fields 3.. ; starttime is field 22. */
        for (int field = 3; p && field <= 22; field++) {
            p = strchr(p + 1, ' ');
            if (p && field == 22) start = strtoull(p + 1, NULL, 10);
        }
        age = up - (double)start / (double)sysconf(_SC_CLK_TCK);
    }
    if (f) fclose(f);
    if (u) fclose(u);
    return age;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_train: %s: %s\n", what, cg_last_error());
    exit(1);
}

static void on_batch(void *user, const cg_progress *p)
{
    clock_log *c = user;
    if (p->step == 1) c->first_step_age = process_age();
    if (p->step < c->n) c->t[p->step] = now();
    if (c->mark) c->mark(p->step);
}

static void on_epoch(void *user, const cg_epoch_stats *s)
{
    clock_log *c = user;
    if (c->n_accs < 64) c->accs[c->n_accs++] = s->val_accuracy;
    if (c->reached_age < 0 && s->val_accuracy >= c->target) {
        c->reached_age = process_age();
        c->reached_epoch = s->epoch;
        c->stop = 1;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double peak_rss_mb(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_maxrss / 1024.0;
}

static void parse(opts *o, int argc, char **argv)
{
    *o = (opts){.mode = "train", .name = "", .threads = 2, .seed = 1, .warmup = 5, .steps = 100,
                .passes = 3, .target = 0.88, .max_epochs = 20};
    if (argc < 2) {
        fputs("usage: bench_train MODEL.json --data SPEC [options] (see bench/bench_train.c)\n",
              stderr);
        exit(2);
    }
    o->model = argv[1];
    for (int i = 2; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--data")) o->data = v;
        else if (!strcmp(k, "--mode")) o->mode = v;
        else if (!strcmp(k, "--name")) o->name = v;
        else if (!strcmp(k, "--threads")) o->threads = atoi(v);
        else if (!strcmp(k, "--seed")) o->seed = strtoull(v, NULL, 10);
        else if (!strcmp(k, "--batch")) o->batch = atoll(v);
        else if (!strcmp(k, "--warmup")) o->warmup = atoll(v);
        else if (!strcmp(k, "--steps")) o->steps = atoll(v);
        else if (!strcmp(k, "--passes")) o->passes = atoll(v);
        else if (!strcmp(k, "--samples")) o->samples = atoll(v);
        else if (!strcmp(k, "--target")) o->target = atof(v);
        else if (!strcmp(k, "--max-epochs")) o->max_epochs = atoll(v);
        else if (!strcmp(k, "--heldout")) o->heldout = atoll(v);
        else {
            fprintf(stderr, "bench_train: unknown option %s\n", k);
            exit(2);
        }
    }
    if (!o->data) {
        fputs("bench_train: --data is required\n", stderr);
        exit(2);
    }
}

static void load(cg_dataset *d, const char *spec, const cg_model_spec *m)
{
    cg_data_options dopts = {.sample_ndim = m->input_ndim};
    memcpy(dopts.sample_shape, m->input, sizeof dopts.sample_shape);
    if (cg_loss_is_classification(m->loss)) dopts.num_classes = (int32_t)cg_model_spec_classes(m);
    if (cg_dataset_load_spec(d, spec, &dopts)) die(spec);
}

typedef struct run {
    opts o;
    cg_model_spec *spec;
    cg_dataset data, train, val;   /* train/val: views of data (text: last 5% held out) */
    const cg_dataset *test;
    cg_dataset test_data;
    cg_model *model;
    double load_s;
} run;

static cg_status recut(void *user, int64_t epoch)
{
    run *r = user;
    return cg_dataset_text_recut(&r->data, r->train.count, r->spec->train.seed, epoch);
}

static void setup(run *r)
{
    if (cg_model_spec_load(r->o.model, &r->spec)) die(r->o.model);
    if (r->o.batch > 0) r->spec->train.batch = r->o.batch;
    r->spec->train.seed = r->o.seed;
    double t0 = now();
    load(&r->data, r->o.data, r->spec);
    if (r->data.tokens) {
        if (cg_dataset_split(&r->data, 0.05, &r->train, &r->val)) die("split");
        r->test = &r->val;
    } else {
        r->train = r->data;
        r->train.owns_data = false;
        if (!strcmp(r->o.mode, "acc")) {
            char test_spec[256];
            snprintf(test_spec, sizeof test_spec, "%s", r->o.data);
            char *colon = strrchr(test_spec, ':');
            if (colon) strcpy(colon, ":test");
            load(&r->test_data, test_spec, r->spec);
            r->test = &r->test_data;
        }
    }
    r->load_s = now() - t0;
    cg_rng rng = cg_train_rng(r->o.seed, 0, CG_STREAM_INIT);
    r->model = cg_model_create(r->spec, &rng);
    if (!r->model || cg_model_check_data(r->model, &r->train)) die("model");
}

static void print_head(const run *r, const char *mode)
{
    printf("{\"impl\": \"cgrad-%s\", \"workload\": \"%s\", \"mode\": \"%s\", \"threads\": %d, "
           "\"batch\": %lld, \"seed\": %llu, \"data_load_s\": %.3f, ",
           CG_VERSION_STRING, r->o.name, mode, r->o.threads, (long long)r->spec->train.batch,
           (unsigned long long)r->o.seed, r->load_s);
}

static int train_mode(run *r, bool to_accuracy)
{
    cg_optim *opt = cg_optim_create(cg_model_params(r->model), &r->spec->optim);
    if (!opt || cg_model_apply_no_decay(r->model, opt)) die("optimizer");
    cg_train_options o = cg_train_options_from_spec(r->spec, r->spec->optim.lr);
    int64_t total = r->o.warmup + r->o.steps;
    clock_log c = {.n = total + 1, .target = r->o.target, .reached_age = -1.0};
    c.t = calloc((size_t)c.n, sizeof *c.t);
    if (!c.t) die("memory");
    *(void **)&c.mark = dlsym(RTLD_DEFAULT, "gemm_trace_mark");
    o.on_batch = on_batch;
    o.on_epoch = to_accuracy ? on_epoch : NULL;
    o.user = &c;
    if (r->data.tokens) {
        o.on_epoch_start = recut;
        o.start_user = r;
    }
    if (to_accuracy) {
        o.epochs = r->o.max_epochs;
        o.max_steps = 0;
        o.stop = &c.stop;
    } else {
        o.max_steps = total;
        o.epochs = 1000000;
    }
    cg_train_state state = cg_train_state_init(r->o.seed);
    cg_status s = cg_train(r->model, opt, &r->train, to_accuracy ? r->test : NULL, &o, &state);
    if (s != CG_OK && !(s == CG_ERR_INTERRUPTED && c.stop)) die("training");
    print_head(r, to_accuracy ? "acc" : "train");
    if (to_accuracy) {
        printf("\"target\": %.4f, \"reached_epoch\": %lld, \"wall_to_target_s\": %.2f, \"accuracy\": [",
               r->o.target, (long long)(c.reached_age < 0 ? -1 : c.reached_epoch),
               c.reached_age < 0 ? -1.0 : c.reached_age);
        for (int64_t i = 0; i < c.n_accs; i++) printf("%s%.4f", i ? ", " : "", c.accs[i]);
        printf("], ");
    } else {
        int64_t per_sample = r->data.tokens ? r->spec->input[0] : 1;
        double seconds = c.t[total] - c.t[r->o.warmup > 0 ? r->o.warmup : 1];
        int64_t timed = r->o.warmup > 0 ? r->o.steps : r->o.steps - 1;
        double *dt = malloc((size_t)timed * sizeof *dt);
        if (!dt) die("memory");
        for (int64_t i = 0; i < timed; i++) dt[i] = c.t[total - i] - c.t[total - i - 1];
        qsort(dt, (size_t)timed, sizeof *dt, cmp_double);
        double rate = (double)(timed * r->spec->train.batch * per_sample) / seconds;
        printf("\"warmup_steps\": %lld, \"timed_steps\": %lld, \"seconds\": %.4f, "
               "\"step_ms_median\": %.3f, \"%s\": %.0f, ",
               (long long)(r->o.warmup > 0 ? r->o.warmup : 1), (long long)timed, seconds,
               1e3 * dt[timed / 2], r->data.tokens ? "tokens_per_s" : "samples_per_s", rate);
        free(dt);
        if (r->data.tokens && r->o.heldout) {
            cg_eval_result e;
            if (cg_evaluate(r->model, &r->val, 256, &e)) die("validation");
            printf("\"val_bits_per_char\": %.4f, ", e.loss / M_LN2);
        }
    }
    printf("\"startup_to_first_step_s\": %.3f, \"peak_rss_mb\": %.1f}\n", c.first_step_age,
           peak_rss_mb());
    free(c.t);
    cg_optim_destroy(opt);
    return 0;
}

static int infer_mode(run *r)
{
    cg_dataset part, rest;
    const cg_dataset *d = &r->train;
    if (r->o.samples > 0 && r->o.samples < d->count) {
        if (cg_dataset_split(d, (double)r->o.samples / (double)d->count, &rest, &part)) die("split");
        d = &part;
    }
    int64_t batch = r->spec->train.batch;
    void (*mark)(long long);
    *(void **)&mark = dlsym(RTLD_DEFAULT, "gemm_trace_mark");
    cg_eval_result e;
    if (cg_evaluate(r->model, d, batch, &e)) die("warm-up pass");
    if (mark) mark(0);
    double t0 = now();
    for (int64_t p = 0; p < r->o.passes; p++) {
        if (cg_evaluate(r->model, d, batch, &e)) die("evaluation");
        if (mark) mark(p + 1);   /* a pass is a "step" for gemm_limit */
    }
    double seconds = now() - t0;
    print_head(r, "infer");
    printf("\"passes\": %lld, \"samples\": %lld, \"seconds\": %.4f, \"samples_per_s\": %.0f, "
           "\"peak_rss_mb\": %.1f}\n",
           (long long)r->o.passes, (long long)d->count, seconds,
           (double)(r->o.passes * d->count) / seconds, peak_rss_mb());
    return 0;
}

int main(int argc, char **argv)
{
    run r = {0};
    parse(&r.o, argc, argv);
    cg_set_num_threads(r.o.threads);
    setup(&r);
    if (!strcmp(r.o.mode, "infer")) infer_mode(&r);
    else train_mode(&r, !strcmp(r.o.mode, "acc"));
    cg_model_destroy(r.model);
    cg_model_spec_free(r.spec);
    cg_dataset_free(&r.data);
    cg_dataset_free(&r.test_data);
    fflush(stdout);
    return 0;
}
