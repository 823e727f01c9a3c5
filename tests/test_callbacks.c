/* Between-epoch decisions: Keras' EarlyStopping rule (cg_early_stop_update),
 * monitor names and modes, and the model-file keys "train": {"early_stop"}
 * and "schedule": {"type": "plateau"} — parsed, refused with the path, and
 * written back so a checkpoint's model file reads as the same spec. The
 * plateau rule itself is checked against torch in test_plateau_golden.c,
 * and the training loop's use of all of them in tests/cli/callbacks.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cgrad.h"

static void monitor_names_and_modes(void **state)
{
    (void)state;
    const char *names[] = {"val_loss", "val_accuracy", "train_loss", "train_accuracy"};
    for (size_t i = 0; i < 4; i++) {
        cg_monitor m;
        assert_true(cg_monitor_from_name(names[i], &m));
        assert_string_equal(cg_monitor_name(m), names[i]);
        assert_int_equal(cg_monitor_maximizes(m), strstr(names[i], "accuracy") != NULL);
        assert_int_equal(cg_monitor_needs_val(m), strncmp(names[i], "val_", 4) == 0);
    }
    cg_monitor m;
    assert_true(cg_monitor_from_name("loss", &m) && m == CG_MONITOR_TRAIN_LOSS);
    assert_false(cg_monitor_from_name("val_los", &m));
    assert_false(cg_monitor_from_name(NULL, &m));
}

/* Feeds values[0..n) and returns the 1-based epoch it stopped at (0: never). */
static int64_t stop_epoch(const cg_early_stop_config *c, const double *values, int n,
                          cg_early_stop_state *s)
{
    for (int i = 0; i < n; i++)
        if (cg_early_stop_update(c, s, i + 1, values[i], NULL)) return i + 1;
    return 0;
}

static void early_stop_follows_keras(void **state)
{
    (void)state;
    const double loss[] = {1.0, 0.8, 0.79, 0.795, 0.9, 0.85, 0.7, 0.71, 0.72};
    cg_early_stop_config c = {.patience = 2, .monitor = CG_MONITOR_VAL_LOSS};
    cg_early_stop_state s = cg_early_stop_start(&c);
    /* best 0.79 at epoch 3; epochs 4, 5 do not improve -> stop after 5 */
    assert_int_equal(stop_epoch(&c, loss, 9, &s), 5);
    assert_int_equal(s.best_epoch, 3);
    assert_true(s.best == 0.79 && s.wait == 2);
    /* min_delta 0.05: 0.79 is not better than 0.8 by more than 0.05 */
    c.min_delta = 0.05;
    s = cg_early_stop_start(&c);
    assert_int_equal(stop_epoch(&c, loss, 9, &s), 4);
    assert_int_equal(s.best_epoch, 2);
    /* a fresh cg_train_state holds NaN as "no best yet" */
    s = (cg_early_stop_state){.best = NAN};
    assert_int_equal(stop_epoch(&c, loss, 9, &s), 4);
    /* accuracies go up; a NaN never improves */
    const double acc[] = {0.5, NAN, 0.6, 0.6, 0.59};
    cg_early_stop_config a = {.patience = 2, .monitor = CG_MONITOR_VAL_ACCURACY};
    s = cg_early_stop_start(&a);
    assert_int_equal(stop_epoch(&a, acc, 5, &s), 5);
    assert_int_equal(s.best_epoch, 3);
    /* patience 0 is off */
    cg_early_stop_config off = {.patience = 0};
    s = cg_early_stop_start(&off);
    assert_int_equal(stop_epoch(&off, loss, 9, &s), 0);
}

static const char *const BASE =
    "{\"input\": [4], \"layers\": [{\"type\": \"dense\", \"units\": 3}], "
    "\"loss\": \"cross_entropy\", ";

static cg_model_spec *parse(const char *tail)
{
    size_t n = strlen(BASE) + strlen(tail) + 1;
    char *json = malloc(n);
    assert_non_null(json);
    strcpy(json, BASE);
    strcat(json, tail);
    cg_model_spec *spec = NULL;
    cg_status s = cg_model_spec_parse(json, &spec);
    free(json);
    if (s != CG_OK) return NULL;
    return spec;
}

static void expect_refused(const char *tail, const char *message)
{
    assert_null(parse(tail));
    if (!strstr(cg_last_error(), message))
        fail_msg("expected \"%s\" in: %s", message, cg_last_error());
}

/* Parse, write back, parse again: the same values. */
static cg_model_spec *round_trip(cg_model_spec *spec)
{
    char *json = cg_model_spec_to_json(spec);
    assert_non_null(json);
    cg_model_spec *again = NULL;
    assert_int_equal(cg_model_spec_parse(json, &again), CG_OK);
    free(json);
    cg_model_spec_free(spec);
    return again;
}

static void model_file_keys(void **state)
{
    (void)state;
    cg_model_spec *spec = parse("\"train\": {\"early_stop\": {\"patience\": 4, "
                                "\"min_delta\": 0.001, \"monitor\": \"val_accuracy\", "
                                "\"restore_best\": true}}, "
                                "\"schedule\": {\"type\": \"plateau\", \"factor\": 0.2, "
                                "\"patience\": 3, \"threshold\": 0.01, \"threshold_mode\": "
                                "\"abs\", \"cooldown\": 2, \"min_lr\": 1e-5, \"monitor\": "
                                "\"val_accuracy\"}}");
    assert_non_null(spec);
    for (int pass = 0; pass < 2; pass++) {
        const cg_early_stop_config *e = &spec->train.early_stop;
        assert_true(e->patience == 4 && e->min_delta == 0.001 && e->restore_best);
        assert_int_equal(e->monitor, CG_MONITOR_VAL_ACCURACY);
        const cg_plateau_config *p = &spec->schedule.plateau;
        assert_int_equal(spec->schedule.kind, CG_SCHED_PLATEAU);
        assert_true(p->factor == 0.2 && p->patience == 3 && p->threshold == 0.01);
        assert_true(p->threshold_abs && p->cooldown == 2 && p->min_lr == 1e-5);
        assert_true(p->mode_max); /* from the monitor */
        assert_int_equal(p->monitor, CG_MONITOR_VAL_ACCURACY);
        spec = round_trip(spec);
    }
    cg_model_spec_free(spec);
    /* torch's defaults; an explicit mode wins over the monitor's */
    spec = parse("\"schedule\": {\"type\": \"plateau\", \"mode\": \"min\", \"monitor\": "
                 "\"train_accuracy\"}}");
    assert_non_null(spec);
    assert_true(spec->schedule.plateau.factor == 0.1 && spec->schedule.plateau.patience == 10 &&
                spec->schedule.plateau.threshold == 1e-4 && !spec->schedule.plateau.mode_max);
    assert_int_equal(spec->train.early_stop.patience, 0);
    cg_model_spec_free(spec);

    expect_refused("\"schedule\": {\"type\": \"plateau\", \"factor\": 1}}", "schedule.factor");
    expect_refused("\"schedule\": {\"type\": \"plateau\", \"threshold_mode\": \"relative\"}}",
                   "schedule.threshold_mode");
    expect_refused("\"schedule\": {\"type\": \"plateau\", \"mode\": \"up\"}}", "schedule.mode");
    expect_refused("\"schedule\": {\"type\": \"plateau\", \"monitor\": \"acc\"}}",
                   "schedule.monitor");
    expect_refused("\"schedule\": {\"type\": \"plateau\", \"gamma\": 0.5}}", "gamma");
    expect_refused("\"schedule\": {\"type\": \"plateau\", \"warmup_epochs\": 2}}", "warmup");
    expect_refused("\"schedule\": {\"type\": \"plateu\"}}", "plateau");
    expect_refused("\"train\": {\"early_stop\": {\"patience\": -1}}}", "train.early_stop.patience");
    expect_refused("\"train\": {\"early_stop\": {\"min_delta\": -0.1}}}",
                   "train.early_stop.min_delta");
    expect_refused("\"train\": {\"early_stop\": {\"monitor\": \"val\"}}}",
                   "train.early_stop.monitor");
    expect_refused("\"train\": {\"early_stop\": {\"patient\": 3}}}", "patient");
    expect_refused("\"train\": {\"early_stop\": 3}}", "train.early_stop");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(monitor_names_and_modes),
        cmocka_unit_test(early_stop_follows_keras),
        cmocka_unit_test(model_file_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
