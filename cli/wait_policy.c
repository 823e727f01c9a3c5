/* How idle OpenMP threads wait, chosen for a shared machine.
 *
 * libgomp's default is to spin for a while at every barrier before
 * sleeping. On idle cores that is fastest, but when another process shares
 * the cores, a spinning thread burns the time slice its partner needs to
 * reach the barrier: W1 with 2 threads fell from ~20,000 to 1,000–2,000
 * samples/s next to other jobs (bench/RESULTS.md, "threads under
 * contention"). Passive waiting (sleep at once) keeps training at
 * single-thread speed or better there.
 *
 * libgomp reads its settings once, in its constructor, before main runs,
 * and an environment changed before that (.preinit_array) is reset by libc
 * afterwards. So the only way to choose the default is to set it and run
 * the program again: one exec, about a millisecond. A user's own
 * OMP_WAIT_POLICY or GOMP_SPINCOUNT always wins, and nothing is re-run. */
#include "cli.h"

#include <stdlib.h>
#include <unistd.h>

void cli_default_wait_policy(char **argv)
{
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
    if (setenv("OMP_WAIT_POLICY", "passive", 0) != 0 || setenv("GOMP_SPINCOUNT", "0", 0) != 0)
        return;
    execv("/proc/self/exe", argv);
    /* No /proc (some sandboxes): run on with libgomp's default. */
}
