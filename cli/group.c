/* cgrad under mpirun: which rank speaks, and how the CLI's own phases
 * (reading the model file, the data, a checkpoint) agree on failure, so that
 * a rank that cannot go on stops them all instead of leaving them waiting
 * in the first collective of training. See docs/distributed.md. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The group as the CLI sees it: set once by cli_group_start. */
static int group_rank, group_size = 1;
/* Ranks other than 0 keep quiet about failures every rank shares. */
static bool quiet;

int cli_group_rank(void) { return group_rank; }
int cli_group_size(void) { return group_size; }
bool cli_group_silenced(void) { return quiet && group_rank > 0; }
void cli_group_quiet(bool on) { quiet = on; }

/* CGRAD_BUCKET_KB: the gradient buckets' size in KiB (0: one allreduce
 * after the backward pass), from the environment so that mpirun's -x hands
 * it to every rank alike. False, with a message, when it is not a size. */
static bool bucket_option(cg_dist *d, const char *cmd)
{
    const char *v = getenv("CGRAD_BUCKET_KB");
    if (!v || !*v) return true;
    char *end;
    double kb = strtod(v, &end);
    if (*end || !(kb >= 0.0 && kb <= 1048576.0)) {
        cli_fail(EXIT_USAGE, cmd, "CGRAD_BUCKET_KB=%s: expected a size in KiB from 0 (one "
                                  "allreduce after the backward pass) to 1048576", v);
        return false;
    }
    cg_dist_set_bucket_bytes(d, (size_t)(kb * 1024.0));
    return true;
}

cg_dist *cli_group_start(const char *cmd, int *code)
{
    cg_dist *d = NULL;
    *code = EXIT_OK;
    if (cg_dist_init(NULL, NULL, &d) != CG_OK) {
        *code = cli_fail_lib(EXIT_USAGE, cmd);
        return NULL;
    }
    group_rank = cg_dist_rank(d);
    group_size = cg_dist_size(d);
    /* Every rank reads the same environment: rank 0 speaks for all. */
    cli_group_quiet(true);
    bool fine = bucket_option(d, cmd);
    cli_group_quiet(false);
    if (!fine) {
        *code = EXIT_USAGE;
        cg_dist_finalize(d);
        return NULL;
    }
    /* Progress lines, summaries and predictions come from rank 0 alone. */
    if (group_rank > 0 && !freopen("/dev/null", "w", stdout)) fclose(stdout);
    return d;
}

int cli_group_agree(cg_dist *d, const char *cmd, int code)
{
    if (group_size <= 1) return code;
    int rank = 0, agreed = cg_dist_first_failure(d, code, &rank);
    if (agreed != EXIT_OK && group_rank == 0 && rank != 0)
        fprintf(stderr, "cgrad %s: rank %d of %d failed (exit status %d, its message above); "
                        "stopping every rank\n", cmd, rank, group_size, agreed);
    return agreed;
}

void cli_group_end(cg_dist *d) { cg_dist_finalize(d); }
