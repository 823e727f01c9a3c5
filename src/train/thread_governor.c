/* Fewer threads while the cores are busy.
 *
 * Two threads meeting at a barrier every few tens of microseconds need two
 * cores at once; next to another busy process they wait for each other's
 * time slices and a W1 step runs 5-10x slower than on one thread
 * (bench/contention.sh). So the training loop times its steps and, now and
 * then, tries the other setting (the planned threads or one) for a few
 * steps, keeping whichever ran faster. A step's result does not depend on
 * how many threads ran it (core/threads.c), so this changes speed only.
 *
 * Probes are rare while a decision keeps holding (the interval doubles up
 * to GOV_MAX_INTERVAL steps) and come at once when the step time jumps. */
#include "train_internal.h"

#include <stdlib.h>
#include <string.h>

#define GOV_WINDOW CG__GOV_WINDOW /* steps per measurement, the first one skipped */
#define GOV_MIN_INTERVAL 32
#define GOV_MAX_INTERVAL 4096
#define GOV_GAIN 0.9            /* switch when the other setting takes < 90% */
#define GOV_JUMP 1.5            /* probe early when steps get this much slower */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
    double s[GOV_WINDOW];
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

void cg__governor_init(cg__governor *g, cg_thread_policy policy)
{
    *g = (cg__governor){.policy = policy, .plan = cg__plan_threads(), .interval = GOV_MIN_INTERVAL};
    g->now = g->plan;
    g->until_probe = 1; /* the first probe right after the first window */
    cg__use_threads(g->now);
}

static void use(cg__governor *g, int threads)
{
    g->now = threads;
    g->n = 0;
    cg__use_threads(threads);
}

/* The probe ends: keep its setting when it was faster, else go back. */
static void probe_done(cg__governor *g, bool better, double t)
{
    g->probing = false;
    if (better) {
        g->baseline = t;
        g->interval = GOV_MIN_INTERVAL;  /* conditions changed: look again soon */
        use(g, g->now);
    } else {
        g->baseline = g->current;
        g->interval = g->interval * 2 < GOV_MAX_INTERVAL ? g->interval * 2 : GOV_MAX_INTERVAL;
        use(g, g->before);
    }
    g->until_probe = g->interval / GOV_WINDOW;
}

/* Has the probe lost already? When it has cost twice a window of the old
 * setting (under contention one step on more threads can take 100x as
 * long), or when its first two steps after the warm-up step were both
 * slower than the old setting's median: it could then only win on a
 * machine that changed under it. On an idle machine a probe of one thread
 * so costs 3 steps, not a window of 8 at ~1.8x the step time (12% of a
 * 40-step W5 benchmark run, 3% of 1,000 steps). */
static bool probe_lost(cg__governor *g, double seconds)
{
    g->spent += seconds;
    if (g->spent > 2.0 * GOV_WINDOW * g->current) return true;
    return g->n == 3 && g->times[1] > g->current && g->times[2] > g->current;
}

/* A window of the current setting is complete: decide what comes next. */
static void window_done(cg__governor *g)
{
    double t = median(g->times + 1, g->n - 1);
    if (g->probing) {
        probe_done(g, t < GOV_GAIN * g->current, t);
        return;
    }
    g->current = t;
    if (g->baseline <= 0.0) g->baseline = t;
    /* Slower steps on the planned threads: maybe someone else took a core.
     * (Slower steps on one thread say nothing for more threads.) */
    bool jumped = g->now == g->plan && t > GOV_JUMP * g->baseline;
    g->n = 0;
    if (jumped || --g->until_probe <= 0) {
        g->probing = true;
        g->spent = 0.0;
        g->before = g->now;
        use(g, g->now == g->plan ? 1 : g->plan);
    }
}

void cg__governor_step(cg__governor *g, double seconds)
{
    if (g->plan <= 1 || g->policy == CG_THREADS_FIXED) return;
    if (g->policy == CG_THREADS_ALTERNATE) {
        use(g, g->now == g->plan ? 1 : g->plan);
        return;
    }
    g->times[g->n++] = seconds;
    if (g->probing && probe_lost(g, seconds)) {
        probe_done(g, false, 0.0);
        return;
    }
    if (g->n == GOV_WINDOW) window_done(g);
}

void cg__governor_end(cg__governor *g) { cg__use_threads(g->plan); }
