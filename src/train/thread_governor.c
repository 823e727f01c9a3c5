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
    g->until_probe = g->interval / GOV_WINDOW;
    cg__use_threads(g->now);
}

static void use(cg__governor *g, int threads)
{
    g->now = threads;
    g->n = 0;
    cg__use_threads(threads);
}

/* A window of the current setting is complete: decide what comes next. */
static void window_done(cg__governor *g)
{
    double t = median(g->times + 1, g->n - 1);
    if (!g->probing) {
        g->current = t;
        if (g->baseline <= 0.0) g->baseline = t;
        bool jumped = t > GOV_JUMP * g->baseline;
        if (jumped || --g->until_probe <= 0) {
            g->probing = true;
            g->before = g->now;
            use(g, g->now == g->plan ? 1 : g->plan);
            return;
        }
        g->n = 0;
        return;
    }
    /* The probe's window: keep it if it beat the last window before it. */
    g->probing = false;
    bool better = t < GOV_GAIN * g->current;
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

void cg__governor_step(cg__governor *g, double seconds)
{
    if (g->plan <= 1 || g->policy == CG_THREADS_FIXED) return;
    if (g->policy == CG_THREADS_ALTERNATE) {
        use(g, g->now == g->plan ? 1 : g->plan);
        return;
    }
    g->times[g->n++] = seconds;
    if (g->n == GOV_WINDOW) window_done(g);
}

void cg__governor_end(cg__governor *g) { cg__use_threads(g->plan); }
