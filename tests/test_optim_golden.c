/* Optimizers, LR schedules, gradient clipping and L1/L2 regularisation
 * against trajectories recorded from torch.optim (fixtures/optim.safetensors,
 * written by fixtures/generate.py). The cases come from the file's metadata,
 * so a new case needs only a line in the generator. */
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
#include "fixtures.h"
#include "internal.h"

#define FIXTURE "fixtures/optim.safetensors"
/* torch runs the same float32 arithmetic; what is left is rounding of the
 * scalars (Python doubles vs our floats) and of FMA-contracted kernels. */
#define OPTIM_RTOL 1e-5
#define OPTIM_ATOL 1e-6

static int load_fixture(void **state)
{
    (void)state;
    return fx_load(FIXTURE);
}

/* ---- fixture access ---- */

static float meta_float(const char *case_name, const char *field, float fallback)
{
    const char *v = fx_meta_opt(case_name, field);
    return v ? strtof(v, NULL) : fallback;
}

static int64_t meta_int(const char *case_name, const char *field, int64_t fallback)
{
    const char *v = fx_meta_opt(case_name, field);
    return v ? strtoll(v, NULL, 10) : fallback;
}

/* F32 tensor "<case>.<field>" holding numel values. */
static const float *tensor(const char *case_name, const char *field, int64_t numel)
{
    const cg_st_entry *e = fx_entry(case_name, field);
    assert_int_equal(e->dtype, CG_DTYPE_F32);
    int64_t n = 1;
    for (int i = 0; i < e->ndim; i++) n *= e->shape[i];
    if (n != numel)
        fail_msg("%s.%s: %lld values, expected %lld", case_name, field, (long long)n,
                 (long long)numel);
    return e->data;
}

static void assert_close(const float *got, const float *want, int64_t n, double rtol, double atol,
                         const char *what)
{
    for (int64_t i = 0; i < n; i++) {
        double diff = fabs((double)got[i] - (double)want[i]);
        if (!(diff <= atol + rtol * fabs((double)want[i])))
            fail_msg("%s[%lld]: got %.9g, torch %.9g (diff %.3g)", what, (long long)i,
                     (double)got[i], (double)want[i], diff);
    }
}

/* ---- optimizers ---- */

#define OPTIM_NUMEL 20

typedef struct float_field {
    const char *name;
    size_t offset;
} float_field;

static const float_field float_fields[] = {
    {"lr", offsetof(cg_optim_config, lr)},
    {"weight_decay", offsetof(cg_optim_config, weight_decay)},
    {"momentum", offsetof(cg_optim_config, momentum)},
    {"dampening", offsetof(cg_optim_config, dampening)},
    {"beta1", offsetof(cg_optim_config, beta1)},
    {"beta2", offsetof(cg_optim_config, beta2)},
    {"eps", offsetof(cg_optim_config, eps)},
    {"alpha", offsetof(cg_optim_config, alpha)},
    {"lr_decay", offsetof(cg_optim_config, lr_decay)},
    {"initial_accumulator_value", offsetof(cg_optim_config, initial_accumulator_value)},
};

/* The case's settings over cg_optim_defaults: cases without a setting test
 * that our default is torch's. */
static cg_optim_config case_config(const char *case_name)
{
    cg_optim_kind kind;
    assert_true(cg_optim_kind_from_name(fx_meta_opt(case_name, "kind"), &kind));
    cg_optim_config c = cg_optim_defaults(kind);
    for (size_t i = 0; i < sizeof float_fields / sizeof float_fields[0]; i++) {
        float *field = (float *)((char *)&c + float_fields[i].offset);
        *field = meta_float(case_name, float_fields[i].name, *field);
    }
    c.nesterov = meta_int(case_name, "nesterov", c.nesterov) != 0;
    c.amsgrad = meta_int(case_name, "amsgrad", c.amsgrad) != 0;
    c.centered = meta_int(case_name, "centered", c.centered) != 0;
    return c;
}

/* Two tensors (12 + 8 values) so the flat buffer spans parameters. */
static cg_params *make_params(const float *init)
{
    cg_params *p = cg_params_create();
    assert_non_null(cg_params_add(p, "w", 2, (int64_t[]){4, 3}));
    assert_non_null(cg_params_add(p, "b", 1, (int64_t[]){8}));
    assert_int_equal(cg_params_numel(p), OPTIM_NUMEL);
    memcpy(cg_params_data(p), init, OPTIM_NUMEL * sizeof(float));
    return p;
}

/* What a backward pass would leave: a fresh round with these gradients. */
static void set_grads(cg_params *p, const float *g)
{
    cg_params_zero_grad(p);
    cg__params_finish_grads(p);
    memcpy(cg_params_grad(p), g, (size_t)cg_params_numel(p) * sizeof(float));
}

static void check_final_state(cg_optim *opt, const char *case_name)
{
    char names[8][64], what[128];
    int n = fx_split_list(fx_meta_opt(case_name, "state"), names, 8);
    assert_int_equal(cg_optim_state_count(opt), n);
    for (int i = 0; i < n; i++) {
        char field[96];
        const float *want = tensor(case_name, fx_join(field, sizeof field, "state", names[i]),
                                   OPTIM_NUMEL);
        size_t j = 0;
        while (j < cg_optim_state_count(opt) && strcmp(cg_optim_state_name(opt, j), names[i]))
            j++;
        if (j == cg_optim_state_count(opt)) fail_msg("%s: no state \"%s\"", case_name, names[i]);
        fx_join(what, sizeof what, case_name, names[i]);
        assert_close(cg_optim_state_data(opt, j), want, OPTIM_NUMEL, OPTIM_RTOL, OPTIM_ATOL, what);
    }
}

static void run_optim_case(const char *case_name)
{
    int64_t steps = strtoll(fx_meta("optim_steps"), NULL, 10);
    const float *grads = tensor(case_name, "grads", steps * OPTIM_NUMEL);
    const float *want = tensor(case_name, "params", steps * OPTIM_NUMEL);
    cg_params *p = make_params(tensor(case_name, "p0", OPTIM_NUMEL));
    cg_optim_config cfg = case_config(case_name);
    cg_optim *opt = cg_optim_create(p, &cfg);
    if (!opt) fail_msg("%s: %s", case_name, cg_last_error());
    for (int64_t k = 0; k < steps; k++) {
        set_grads(p, grads + k * OPTIM_NUMEL);
        assert_int_equal(cg_optim_step(opt), CG_OK);
        char what[128], step[32];
        snprintf(step, sizeof step, "step%lld", (long long)k + 1);
        fx_join(what, sizeof what, case_name, step);
        assert_close(cg_params_data(p), want + k * OPTIM_NUMEL, OPTIM_NUMEL, OPTIM_RTOL,
                     OPTIM_ATOL, what);
    }
    assert_int_equal(cg_optim_step_count(opt), steps);
    check_final_state(opt, case_name);
    cg_optim_destroy(opt);
    cg_params_destroy(p);
}

static void optimizers_match_torch(void **state)
{
    (void)state;
    char cases[64][64];
    int n = fx_split_list(fx_meta("optim_cases"), cases, 64);
    assert_true(n >= 20);
    for (int i = 0; i < n; i++) run_optim_case(cases[i]);
}

/* ---- checkpoint-style resume ---- */

/* Optimizer `a` runs `split` steps; a fresh optimizer then gets what a
 * checkpoint holds (parameters, step count, state buffers by name), and both
 * must take the remaining steps bit for bit alike. */
static void resume_case(const char *case_name, int64_t split)
{
    int64_t steps = strtoll(fx_meta("optim_steps"), NULL, 10);
    const float *grads = tensor(case_name, "grads", steps * OPTIM_NUMEL);
    cg_optim_config cfg = case_config(case_name);
    cg_params *pa = make_params(tensor(case_name, "p0", OPTIM_NUMEL));
    cg_optim *a = cg_optim_create(pa, &cfg);
    assert_non_null(a);
    for (int64_t k = 0; k < split; k++) {
        set_grads(pa, grads + k * OPTIM_NUMEL);
        assert_int_equal(cg_optim_step(a), CG_OK);
    }
    cg_params *pb = make_params(cg_params_data(pa));
    cg_optim *b = cg_optim_create(pb, &cfg);
    assert_non_null(b);
    cg_optim_set_step_count(b, cg_optim_step_count(a));
    assert_int_equal(cg_optim_state_count(b), cg_optim_state_count(a));
    for (size_t i = 0; i < cg_optim_state_count(a); i++) {
        assert_string_equal(cg_optim_state_name(b, i), cg_optim_state_name(a, i));
        memcpy(cg_optim_state_data(b, i), cg_optim_state_data(a, i), OPTIM_NUMEL * sizeof(float));
    }
    for (int64_t k = split; k < steps; k++) {
        set_grads(pa, grads + k * OPTIM_NUMEL);
        set_grads(pb, grads + k * OPTIM_NUMEL);
        assert_int_equal(cg_optim_step(a), CG_OK);
        assert_int_equal(cg_optim_step(b), CG_OK);
        assert_memory_equal(cg_params_data(pb), cg_params_data(pa), OPTIM_NUMEL * sizeof(float));
    }
    for (size_t i = 0; i < cg_optim_state_count(a); i++)
        assert_memory_equal(cg_optim_state_data(b, i), cg_optim_state_data(a, i),
                            OPTIM_NUMEL * sizeof(float));
    assert_int_equal(cg_optim_step_count(b), steps);
    cg_optim_destroy(a);
    cg_optim_destroy(b);
    cg_params_destroy(pa);
    cg_params_destroy(pb);
}

static void resume_from_state_is_bit_identical(void **state)
{
    (void)state;
    char cases[64][64];
    int n = fx_split_list(fx_meta("optim_cases"), cases, 64);
    for (int i = 0; i < n; i++) {
        resume_case(cases[i], 1); /* SGD's first momentum step is special */
        resume_case(cases[i], 2);
    }
}

/* ---- schedules ---- */

static cg_schedule case_schedule(const char *case_name)
{
    cg_schedule s = {0};
    assert_true(cg_schedule_kind_from_name(fx_meta_opt(case_name, "kind"), &s.kind));
    s.base_lr = meta_float(case_name, "base_lr", 0.0f);
    s.step_size = meta_int(case_name, "step_size", 1);
    s.gamma = meta_float(case_name, "gamma", 1.0f);
    s.t_max = meta_int(case_name, "t_max", 1);
    s.eta_min = meta_float(case_name, "eta_min", 0.0f);
    s.warmup = meta_int(case_name, "warmup", 0);
    s.warmup_start_factor = meta_float(case_name, "warmup_start_factor", 1.0f);
    return s;
}

static void schedules_match_torch(void **state)
{
    (void)state;
    char cases[32][64];
    int n = fx_split_list(fx_meta("sched_cases"), cases, 32);
    assert_true(n >= 8);
    for (int i = 0; i < n; i++) {
        char name[96];
        const cg_st_entry *e = cg_st_find(fx_file(), fx_join(name, sizeof name, cases[i], "lr"));
        assert_non_null(e);
        const float *want = e->data;
        cg_schedule s = case_schedule(cases[i]);
        assert_int_equal(cg_schedule_check(&s), CG_OK);
        for (int64_t t = 0; t < e->shape[0]; t++) {
            float got = cg_schedule_lr(&s, t);
            if (!(fabs((double)got - want[t]) <= 1e-9 + 1e-6 * fabs((double)want[t])))
                fail_msg("%s t=%lld: got %.9g, torch %.9g", cases[i], (long long)t,
                         (double)got, (double)want[t]);
        }
    }
}

static void schedule_rejects_bad_settings(void **state)
{
    (void)state;
    struct {
        cg_schedule s;
        const char *field;
    } bad[] = {
        {{.kind = CG_SCHED_STEP, .base_lr = 0.1f, .step_size = 0, .gamma = 0.5f}, "step_size"},
        {{.kind = CG_SCHED_EXPONENTIAL, .base_lr = 0.1f, .gamma = -1.0f}, "gamma"},
        {{.kind = CG_SCHED_COSINE, .base_lr = 0.1f, .t_max = 0}, "t_max"},
        {{.kind = CG_SCHED_CONSTANT, .base_lr = -0.1f}, "base_lr"},
        {{.kind = CG_SCHED_CONSTANT, .base_lr = 0.1f, .warmup = -1}, "warmup"},
        {{.kind = CG_SCHED_CONSTANT, .base_lr = 0.1f, .warmup = 3, .warmup_start_factor = 2.0f},
         "warmup_start_factor"},
        {{.kind = (cg_schedule_kind)42, .base_lr = 0.1f}, "kind"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(cg_schedule_check(&bad[i].s), CG_ERR_ARG);
        if (!strstr(cg_last_error(), bad[i].field))
            fail_msg("error \"%s\" does not name %s", cg_last_error(), bad[i].field);
        assert_true(isnan(cg_schedule_lr(&bad[i].s, 3)));
    }
}

static void schedule_names_round_trip(void **state)
{
    (void)state;
    const char *names[] = {"constant", "step", "exponential", "cosine"};
    for (size_t i = 0; i < 4; i++) {
        cg_schedule_kind k;
        assert_true(cg_schedule_kind_from_name(names[i], &k));
        assert_string_equal(cg_schedule_kind_name(k), names[i]);
    }
    cg_schedule_kind k;
    assert_false(cg_schedule_kind_from_name("linear", &k));
    assert_false(cg_schedule_kind_from_name(NULL, &k));
}

/* ---- clipping and regularisation ---- */

static cg_params *params_from_shapes(const char *shapes)
{
    cg_params *p = cg_params_create();
    const char *s = shapes;
    for (int i = 0; *s; i++) {
        int64_t shape[CG_MAX_DIMS];
        int ndim = 0;
        char *end;
        do {
            shape[ndim++] = strtoll(s, &end, 10);
            s = *end == ',' ? end + 1 : end;
        } while (*end == ',');
        if (*s == ';') s++;
        char name[16];
        snprintf(name, sizeof name, "p%d", i);
        assert_non_null(cg_params_add(p, name, ndim, shape));
    }
    return p;
}

static void clip_grad_norm_matches_torch(void **state)
{
    (void)state;
    char cases[8][64];
    int n = fx_split_list(fx_meta("clip_cases"), cases, 8);
    assert_int_equal(n, 2);
    for (int i = 0; i < n; i++) {
        cg_params *p = params_from_shapes(fx_meta_opt(cases[i], "shapes"));
        int64_t numel = cg_params_numel(p);
        cg__params_finish_grads(p);
        memcpy(cg_params_grad(p), tensor(cases[i], "before", numel), (size_t)numel * sizeof(float));
        float norm = cg_params_clip_grad_norm(p, meta_float(cases[i], "max_norm", 0.0f));
        assert_close(&norm, tensor(cases[i], "norm", 1), 1, 1e-6, 0.0, cases[i]);
        assert_close(cg_params_grad(p), tensor(cases[i], "after", numel), numel, 1e-6, 1e-7,
                     cases[i]);
        cg_params_destroy(p);
    }
}

static void regularize_matches_torch_autograd(void **state)
{
    (void)state;
    char cases[8][64];
    int n = fx_split_list(fx_meta("reg_cases"), cases, 8);
    assert_int_equal(n, 3);
    for (int i = 0; i < n; i++) {
        cg_params *p = cg_params_create();
        assert_non_null(cg_params_add(p, "w", 1, (int64_t[]){12}));
        memcpy(cg_params_data(p), tensor(cases[i], "w", 12), 12 * sizeof(float));
        cg__params_finish_grads(p);
        memcpy(cg_params_grad(p), tensor(cases[i], "grad_before", 12), 12 * sizeof(float));
        cg_params_regularize(p, meta_float(cases[i], "l1", 0), meta_float(cases[i], "l2", 0));
        assert_close(cg_params_grad(p), tensor(cases[i], "grad_after", 12), 12, 1e-6, 1e-7,
                     cases[i]);
        cg_params_destroy(p);
    }
}

/* ---- configuration ---- */

typedef struct bad_config {
    cg_optim_kind kind;
    void (*spoil)(cg_optim_config *c);
    const char *field;
} bad_config;

static void neg_lr(cg_optim_config *c) { c->lr = -1.0f; }
static void nan_lr(cg_optim_config *c) { c->lr = NAN; }
static void neg_wd(cg_optim_config *c) { c->weight_decay = -0.1f; }
static void neg_momentum(cg_optim_config *c) { c->momentum = -0.5f; }
static void big_dampening(cg_optim_config *c) { c->dampening = 1.5f; }
static void nesterov_alone(cg_optim_config *c) { c->nesterov = true; }
static void nesterov_damped(cg_optim_config *c)
{
    c->nesterov = true;
    c->momentum = 0.9f;
    c->dampening = 0.1f;
}
static void beta1_one(cg_optim_config *c) { c->beta1 = 1.0f; }
static void neg_beta2(cg_optim_config *c) { c->beta2 = -0.1f; }
static void neg_eps(cg_optim_config *c) { c->eps = -1e-8f; }
static void big_alpha(cg_optim_config *c) { c->alpha = 1.5f; }
static void neg_lr_decay(cg_optim_config *c) { c->lr_decay = -1.0f; }
static void neg_accumulator(cg_optim_config *c) { c->initial_accumulator_value = -1.0f; }
static void bad_kind(cg_optim_config *c) { c->kind = (cg_optim_kind)99; }

static void invalid_configs_name_the_field(void **state)
{
    (void)state;
    static const bad_config bad[] = {
        {CG_OPTIM_SGD, neg_lr, "lr"},
        {CG_OPTIM_ADAM, nan_lr, "lr"},
        {CG_OPTIM_ADAMW, neg_wd, "weight_decay"},
        {CG_OPTIM_SGD, neg_momentum, "momentum"},
        {CG_OPTIM_SGD, big_dampening, "dampening"},
        {CG_OPTIM_SGD, nesterov_alone, "nesterov"},
        {CG_OPTIM_SGD, nesterov_damped, "nesterov"},
        {CG_OPTIM_ADAM, beta1_one, "beta1"},
        {CG_OPTIM_ADAMW, neg_beta2, "beta2"},
        {CG_OPTIM_ADAM, neg_eps, "eps"},
        {CG_OPTIM_RMSPROP, big_alpha, "alpha"},
        {CG_OPTIM_RMSPROP, neg_momentum, "momentum"},
        {CG_OPTIM_RMSPROP, neg_eps, "eps"},
        {CG_OPTIM_ADAGRAD, neg_lr_decay, "lr_decay"},
        {CG_OPTIM_ADAGRAD, neg_accumulator, "initial_accumulator_value"},
        {CG_OPTIM_SGD, bad_kind, "kind"},
    };
    cg_params *p = cg_params_create();
    assert_non_null(cg_params_add(p, "w", 1, (int64_t[]){3}));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cg_optim_config c = cg_optim_defaults(bad[i].kind);
        bad[i].spoil(&c);
        cg_clear_error();
        assert_null(cg_optim_create(p, &c));
        assert_int_equal(cg_last_status(), CG_ERR_ARG);
        if (!strstr(cg_last_error(), bad[i].field))
            fail_msg("case %zu: error \"%s\" does not name %s", i, cg_last_error(), bad[i].field);
    }
    cg_optim_config c = cg_optim_defaults(CG_OPTIM_SGD);
    assert_null(cg_optim_create(NULL, &c));
    assert_null(cg_optim_create(p, NULL));
    cg_params_destroy(p);
}

static void names_defaults_and_accessors(void **state)
{
    (void)state;
    const char *names[] = {"sgd", "adam", "adamw", "rmsprop", "adagrad"};
    for (size_t i = 0; i < 5; i++) {
        cg_optim_kind k;
        assert_true(cg_optim_kind_from_name(names[i], &k));
        assert_string_equal(cg_optim_kind_name(k), names[i]);
        assert_int_equal(cg_optim_defaults(k).kind, k);
    }
    cg_optim_kind k;
    assert_true(cg_optim_kind_from_name("AdamW", &k));
    assert_int_equal(k, CG_OPTIM_ADAMW);
    assert_false(cg_optim_kind_from_name("lbfgs", &k));

    cg_params *p = cg_params_create();
    assert_non_null(cg_params_add(p, "w", 1, (int64_t[]){3}));
    cg_optim_config c = cg_optim_defaults(CG_OPTIM_ADAM);
    cg_optim *opt = cg_optim_create(p, &c);
    assert_non_null(opt);
    assert_float_equal(cg_optim_lr(opt), 1e-3f, 0.0f);
    cg_optim_set_lr(opt, 0.5f);
    assert_float_equal(cg_optim_get_config(opt)->lr, 0.5f, 0.0f);
    cg_optim_set_lr(opt, -1.0f); /* refused, lr unchanged */
    assert_int_equal(cg_last_status(), CG_ERR_ARG);
    assert_float_equal(cg_optim_lr(opt), 0.5f, 0.0f);
    cg_optim_set_step_count(opt, 7);
    cg_optim_set_step_count(opt, -1); /* refused */
    assert_int_equal(cg_optim_step_count(opt), 7);
    assert_null(cg_optim_state_name(opt, 2));
    assert_null(cg_optim_state_data(opt, 2));
    cg_optim_destroy(opt);
    cg_params_destroy(p);
}

/* Adagrad's accumulator starts at initial_accumulator_value, not zero. */
static void adagrad_state_starts_at_initial_value(void **state)
{
    (void)state;
    cg_params *p = cg_params_create();
    assert_non_null(cg_params_add(p, "w", 1, (int64_t[]){5}));
    cg_optim_config c = cg_optim_defaults(CG_OPTIM_ADAGRAD);
    c.initial_accumulator_value = 0.25f;
    cg_optim *opt = cg_optim_create(p, &c);
    assert_string_equal(cg_optim_state_name(opt, 0), "sum");
    for (int i = 0; i < 5; i++) assert_float_equal(cg_optim_state_data(opt, 0)[i], 0.25f, 0.0f);
    cg_optim_destroy(opt);
    cg_params_destroy(p);
}

static void step_refuses_grown_params(void **state)
{
    (void)state;
    cg_params *p = cg_params_create();
    assert_non_null(cg_params_add(p, "w", 1, (int64_t[]){3}));
    cg_optim_config c = cg_optim_defaults(CG_OPTIM_SGD);
    cg_optim *opt = cg_optim_create(p, &c);
    assert_int_equal(cg_optim_step(opt), CG_OK);
    assert_non_null(cg_params_add(p, "v", 1, (int64_t[]){2}));
    assert_int_equal(cg_optim_step(opt), CG_ERR_STATE);
    assert_int_equal(cg_optim_step_count(opt), 1);
    assert_int_equal(cg_optim_step(NULL), CG_ERR_ARG);
    cg_optim_destroy(opt);
    cg_params_destroy(p);

    /* An empty set is legal and a step is a no-op. */
    p = cg_params_create();
    opt = cg_optim_create(p, &c);
    assert_non_null(opt);
    assert_int_equal(cg_optim_step(opt), CG_OK);
    cg_optim_destroy(opt);
    cg_params_destroy(p);
}

/* A parameter no backward reached this round counts as a zero gradient,
 * never as last round's leftovers. */
static void unreached_params_step_with_zero_grad(void **state)
{
    (void)state;
    cg_params *p = cg_params_create();
    cg_tensor *w = cg_params_add(p, "w", 1, (int64_t[]){2});
    w->data[0] = 1.0f;
    w->data[1] = 2.0f;
    cg_optim_config c = cg_optim_defaults(CG_OPTIM_SGD);
    cg_optim *opt = cg_optim_create(p, &c);
    set_grads(p, (float[]){5.0f, 5.0f});
    cg_params_zero_grad(p); /* new round, nothing written */
    assert_int_equal(cg_optim_step(opt), CG_OK);
    assert_float_equal(w->data[0], 1.0f, 0.0f);
    assert_float_equal(w->data[1], 2.0f, 0.0f);
    cg_optim_destroy(opt);
    cg_params_destroy(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(optimizers_match_torch),
        cmocka_unit_test(resume_from_state_is_bit_identical),
        cmocka_unit_test(schedules_match_torch),
        cmocka_unit_test(schedule_rejects_bad_settings),
        cmocka_unit_test(schedule_names_round_trip),
        cmocka_unit_test(clip_grad_norm_matches_torch),
        cmocka_unit_test(regularize_matches_torch_autograd),
        cmocka_unit_test(invalid_configs_name_the_field),
        cmocka_unit_test(names_defaults_and_accessors),
        cmocka_unit_test(adagrad_state_starts_at_initial_value),
        cmocka_unit_test(step_refuses_grown_params),
        cmocka_unit_test(unreached_params_step_with_zero_grad),
    };
    return cmocka_run_group_tests(tests, load_fixture, fx_free);
}
