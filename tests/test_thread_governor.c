/* The training loop's thread governor (src/train/thread_governor.c), fed
 * made-up step times: it must leave an uncontended run on its planned
 * threads (probing one thread rarely), move to one thread when the planned
 * count is slow, come back when that passes, and cut a losing probe short. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../src/train/train_internal.h"

/* Runs `steps` steps on g; a step takes fast seconds on one thread and
 * planned_cost seconds on the planned count. Returns steps run on one. */
static int run(cg__governor *g, int steps, double fast, double planned_cost, double *seconds)
{
    int on_one = 0;
    for (int i = 0; i < steps; i++) {
        double t = g->now == 1 ? fast : planned_cost;
        on_one += g->now == 1;
        if (seconds) *seconds += t;
        cg__governor_step(g, t);
    }
    return on_one;
}

static void idle_cores_keep_the_planned_threads(void **state)
{
    (void)state;
    cg_set_num_threads(2);
    cg__governor g;
    cg__governor_init(&g, CG_THREADS_ADAPT);
    /* Two threads twice as fast: probes of one thread, ever rarer. */
    int on_one = run(&g, 20000, 2e-3, 1e-3, NULL);
    assert_int_equal(g.now, 2);
    assert_true(on_one < 20000 / 100); /* under 1% of the steps */
    cg__governor_end(&g);
}

/* On an idle machine a probe of one thread is slower from its first
 * measured steps: it ends after the warm-up step and two more, not after a
 * window. */
static void a_slower_probe_ends_after_three_steps(void **state)
{
    (void)state;
    cg_set_num_threads(2);
    cg__governor g;
    cg__governor_init(&g, CG_THREADS_ADAPT);
    assert_int_equal(run(&g, 8, 2e-3, 1e-3, NULL), 0); /* the first window */
    assert_int_equal(run(&g, 20, 2e-3, 1e-3, NULL), 3);  /* its probe */
    assert_int_equal(g.now, 2);
    /* A probe that wins one measured step of two still runs its window. */
    cg__governor_init(&g, CG_THREADS_ADAPT);
    run(&g, 8, 2e-3, 1e-3, NULL);
    int on_one = 0;
    for (int i = 0; i < 20; i++) {
        double t = g.now == 1 ? (on_one == 1 ? 0.5e-3 : 2e-3) : 1e-3;
        on_one += g.now == 1;
        cg__governor_step(&g, t);
    }
    assert_int_equal(on_one, 8);
    cg__governor_end(&g);
}

static void busy_cores_move_to_one_thread_and_back(void **state)
{
    (void)state;
    cg_set_num_threads(2);
    cg__governor g;
    cg__governor_init(&g, CG_THREADS_ADAPT);
    run(&g, 100, 1e-3, 5e-4, NULL);                 /* idle: 2 threads */
    assert_int_equal(g.now, 2);
    double busy = 0.0;                               /* contention: 2 threads 50x slower */
    int on_one = run(&g, 4000, 1e-3, 5e-2, &busy);
    assert_int_equal(g.now, 1);
    assert_true(on_one > 3900);
    /* Probes of two threads stop after one step: the whole stretch costs
     * under 1.5x what one thread alone would have. */
    assert_true(busy < 1.5 * 4000 * 1e-3);
    run(&g, 20000, 1e-3, 5e-4, NULL);                /* idle again */
    assert_int_equal(g.now, 2);
    cg__governor_end(&g);
}

static void fixed_and_alternate_do_what_they_say(void **state)
{
    (void)state;
    cg_set_num_threads(2);
    cg__governor g;
    cg__governor_init(&g, CG_THREADS_FIXED);
    assert_int_equal(run(&g, 1000, 1e-3, 1.0, NULL), 0);
    cg__governor_init(&g, CG_THREADS_ALTERNATE);
    assert_int_equal(run(&g, 1000, 1e-3, 1e-3, NULL), 500);
    cg__governor_end(&g);
    assert_int_equal(cg_get_num_threads(), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(idle_cores_keep_the_planned_threads),
        cmocka_unit_test(a_slower_probe_ends_after_three_steps),
        cmocka_unit_test(busy_cores_move_to_one_thread_and_back),
        cmocka_unit_test(fixed_and_alternate_do_what_they_say),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
