/* Where a training step's time goes: per phase of the step, per layer type
 * in the forward pass and per op in the backward pass. Off unless a
 * cg_profile is attached; then each timed region costs two clock reads.
 *
 * Names are the static strings of the layer table and the op registry, so
 * an entry is found by pointer and never copied. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PROFILE_MAX_ENTRIES 96
#define PROFILE_MAX_THREADS 64

typedef struct profile_entry {
    const char *name;
    cg_profile_pass pass;
    int64_t calls;
    double seconds;
} profile_entry;

struct cg_profile {
    profile_entry entries[PROFILE_MAX_ENTRIES];
    int n_entries;
    double phase[CG_PHASE_COUNT];
    int64_t steps;
    int64_t steps_on[PROFILE_MAX_THREADS + 1]; /* by threads running the step */
};

static const char *const phase_names[CG_PHASE_COUNT] = {
    [CG_PHASE_DATA] = "data",         [CG_PHASE_FORWARD] = "forward",
    [CG_PHASE_LOSS] = "loss",         [CG_PHASE_BACKWARD] = "backward",
    [CG_PHASE_CHECKS] = "checks",     [CG_PHASE_CLIP] = "clip",
    [CG_PHASE_OPTIMIZER] = "optimizer", [CG_PHASE_SYNC] = "sync",
};

double cg__clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

cg_profile *cg_profile_create(void)
{
    cg_profile *p = calloc(1, sizeof *p);
    if (!p) cg_set_error(CG_ERR_NOMEM, "cg_profile_create: out of memory");
    return p;
}

void cg_profile_destroy(cg_profile *p) { free(p); }

void cg_ctx_set_profile(cg_ctx *ctx, cg_profile *p)
{
    if (ctx) ctx->profile = p;
}

void cg__profile_add(cg_profile *p, cg_profile_pass pass, const char *name, double seconds)
{
    for (int i = 0; i < p->n_entries; i++) {
        profile_entry *e = &p->entries[i];
        if (e->name == name && e->pass == pass) {
            e->calls++;
            e->seconds += seconds;
            return;
        }
    }
    if (p->n_entries == PROFILE_MAX_ENTRIES) return; /* more kinds than any model has */
    p->entries[p->n_entries++] = (profile_entry){name, pass, 1, seconds};
}

void cg__profile_phase(cg_profile *p, cg_profile_phase phase, double seconds)
{
    if (p && phase >= 0 && phase < CG_PHASE_COUNT) p->phase[phase] += seconds;
}

void cg__profile_step(cg_profile *p)
{
    if (!p) return;
    p->steps++;
    int t = cg__max_threads();
    p->steps_on[t < PROFILE_MAX_THREADS ? t : PROFILE_MAX_THREADS]++;
}

/* "2 planned; steps on 2: 812, on 1: 126" when the governor stepped down. */
static void write_threads(const cg_profile *p, FILE *f)
{
    int plan = cg__plan_threads();
    fprintf(f, "  threads: %d planned", plan);
    if (p->steps_on[plan < PROFILE_MAX_THREADS ? plan : PROFILE_MAX_THREADS] == p->steps) {
        fprintf(f, ", every step on %d\n", plan);
        return;
    }
    const char *sep = "; steps on ";
    for (int t = PROFILE_MAX_THREADS; t >= 1; t--) {
        if (!p->steps_on[t]) continue;
        fprintf(f, "%s%d: %lld", sep, t, (long long)p->steps_on[t]);
        sep = ", on ";
    }
    fprintf(f, " (fewer while the cores were busy)\n");
}

int64_t cg_profile_steps(const cg_profile *p) { return p ? p->steps : 0; }

double cg_profile_phase_seconds(const cg_profile *p, cg_profile_phase phase)
{
    return p && phase >= 0 && phase < CG_PHASE_COUNT ? p->phase[phase] : 0.0;
}

double cg_profile_seconds(const cg_profile *p, cg_profile_pass pass, const char *name)
{
    double total = 0.0;
    for (int i = 0; p && i < p->n_entries; i++)
        if (p->entries[i].pass == pass && strcmp(p->entries[i].name, name) == 0)
            total += p->entries[i].seconds;
    return total;
}

static int by_time_desc(const void *a, const void *b)
{
    double x = ((const profile_entry *)a)->seconds, y = ((const profile_entry *)b)->seconds;
    return (x < y) - (x > y);
}

static void write_pass(const cg_profile *p, cg_profile_pass pass, const char *title,
                       double step_total, FILE *f)
{
    profile_entry sorted[PROFILE_MAX_ENTRIES];
    int n = 0;
    for (int i = 0; i < p->n_entries; i++)
        if (p->entries[i].pass == pass) sorted[n++] = p->entries[i];
    if (n == 0) return;
    qsort(sorted, (size_t)n, sizeof *sorted, by_time_desc);
    fprintf(f, "  %-26s %10s %10s %7s\n", title, "calls/step", "ms/step", "% step");
    double steps = (double)p->steps;
    for (int i = 0; i < n; i++)
        fprintf(f, "    %-24s %10.1f %10.3f %7.1f\n", sorted[i].name,
                (double)sorted[i].calls / steps, 1e3 * sorted[i].seconds / steps,
                100.0 * sorted[i].seconds / step_total);
}

cg_status cg_profile_write(const cg_profile *p, FILE *f)
{
    if (!p || !f) return cg_set_error(CG_ERR_ARG, "cg_profile_write: NULL argument");
    if (p->steps == 0) {
        fprintf(f, "profile: no training step was timed\n");
        return CG_OK;
    }
    double total = 0.0;
    for (int i = 0; i < CG_PHASE_COUNT; i++) total += p->phase[i];
    double steps = (double)p->steps;
    int threads = cg__plan_threads();
    fprintf(f, "profile: %lld steps, %.3f ms per step, %d thread%s\n", (long long)p->steps,
            1e3 * total / steps, threads, threads == 1 ? "" : "s");
    write_threads(p, f);
    fprintf(f, "  %-26s %10s %10s %7s\n", "phase", "", "ms/step", "% step");
    for (int i = 0; i < CG_PHASE_COUNT; i++)
        if (p->phase[i] > 0.0)
            fprintf(f, "    %-24s %10s %10.3f %7.1f\n", phase_names[i], "",
                    1e3 * p->phase[i] / steps, 100.0 * p->phase[i] / total);
    write_pass(p, CG_PASS_FORWARD, "forward, by layer type", total, f);
    write_pass(p, CG_PASS_BACKWARD, "backward, by op", total, f);
    return ferror(f) ? cg_set_error(CG_ERR_IO, "cg_profile_write: write failed") : CG_OK;
}
