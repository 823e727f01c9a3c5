/* The plateau schedule (ReduceLROnPlateau) against torch: for each case of
 * fixtures/plateau.safetensors, the same metric sequence fed to cgrad must
 * give torch's lr after every step, exactly (both keep the lr in double;
 * the fixture holds it rounded to float32). Also: a state copied mid-run
 * (what a checkpoint carries) continues identically, and bad settings are
 * refused naming the field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cgrad.h"
#include "fixtures.h"

#define FIXTURE "fixtures/plateau.safetensors"

static int load_fixture(void **state)
{
    (void)state;
    return fx_load(FIXTURE);
}

static double meta_double(const char *case_name, const char *field)
{
    const char *v = fx_meta_opt(case_name, field);
    if (!v) fail_msg("%s: no %s in the fixture", case_name, field);
    return strtod(v, NULL);
}

static cg_plateau_config case_config(const char *c)
{
    cg_plateau_config p = cg_plateau_defaults();
    p.factor = meta_double(c, "factor");
    p.patience = (int64_t)meta_double(c, "patience");
    p.threshold = meta_double(c, "threshold");
    p.threshold_abs = strcmp(fx_meta_opt(c, "threshold_mode"), "abs") == 0;
    p.cooldown = (int64_t)meta_double(c, "cooldown");
    p.min_lr = meta_double(c, "min_lr");
    p.mode_max = strcmp(fx_meta_opt(c, "mode"), "max") == 0;
    return p;
}

/* Runs case c from metric index `from` with state s, checking every lr. */
static void check_from(const char *c, const cg_plateau_config *p, cg_plateau_state *s, int64_t from)
{
    const cg_st_entry *m = fx_entry(c, "metric");
    const cg_st_entry *lr = fx_entry(c, "lr");
    const float *metric = m->data, *want = lr->data;
    assert_int_equal(lr->shape[0], m->shape[0] + 1);
    for (int64_t t = from; t < m->shape[0]; t++) {
        float got = (float)cg_plateau_step(p, s, (double)metric[t]);
        if (got != want[t + 1])
            fail_msg("%s: after metric %lld (%g) lr %.9g, torch %.9g", c, (long long)t,
                     (double)metric[t], (double)got, (double)want[t + 1]);
    }
}

static void plateau_matches_torch(void **state)
{
    (void)state;
    char cases[16][64];
    int n = fx_split_list(fx_meta("plateau_cases"), cases, 16);
    assert_true(n >= 8);
    for (int i = 0; i < n; i++) {
        cg_plateau_config p = case_config(cases[i]);
        assert_int_equal(cg_plateau_check(&p), CG_OK);
        cg_plateau_state s = cg_plateau_start(&p, meta_double(cases[i], "base_lr"));
        assert_true((float)s.lr == ((const float *)fx_entry(cases[i], "lr")->data)[0]);
        check_from(cases[i], &p, &s, 0);
    }
}

/* What a checkpoint saves is the whole state: a copy taken after any epoch
 * continues exactly as the original does. */
static void plateau_state_resumes(void **state)
{
    (void)state;
    char cases[16][64];
    int n = fx_split_list(fx_meta("plateau_cases"), cases, 16);
    for (int i = 0; i < n; i++) {
        cg_plateau_config p = case_config(cases[i]);
        const cg_st_entry *m = fx_entry(cases[i], "metric");
        for (int64_t cut = 1; cut < m->shape[0]; cut += 7) {
            cg_plateau_state s = cg_plateau_start(&p, meta_double(cases[i], "base_lr"));
            for (int64_t t = 0; t < cut; t++)
                cg_plateau_step(&p, &s, (double)((const float *)m->data)[t]);
            cg_plateau_state copy = s;
            check_from(cases[i], &p, &copy, cut);
        }
    }
}

static void plateau_rejects_bad_settings(void **state)
{
    (void)state;
    struct {
        cg_plateau_config c;
        const char *word;
    } bad[] = {
        {{.factor = 1.0, .patience = 1}, "factor"},
        {{.factor = -0.1, .patience = 1}, "factor"},
        {{.factor = 0.5, .patience = -1}, "patience"},
        {{.factor = 0.5, .threshold = -1e-4}, "threshold"},
        {{.factor = 0.5, .cooldown = -2}, "cooldown"},
        {{.factor = 0.5, .min_lr = -1.0}, "min_lr"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(cg_plateau_check(&bad[i].c), CG_ERR_ARG);
        assert_non_null(strstr(cg_last_error(), bad[i].word));
    }
    cg_plateau_config d = cg_plateau_defaults();
    assert_int_equal(cg_plateau_check(&d), CG_OK);
    assert_true(d.factor == 0.1 && d.patience == 10 && d.threshold == 1e-4 && d.cooldown == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plateau_matches_torch),
        cmocka_unit_test(plateau_state_resumes),
        cmocka_unit_test(plateau_rejects_bad_settings),
    };
    return cmocka_run_group_tests(tests, load_fixture, fx_free);
}
