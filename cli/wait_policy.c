/* How idle OpenMP threads wait, chosen for a machine that may be shared.
 *
 * libgomp's default spins ~300,000 rounds at every barrier before sleeping.
 * On idle cores that is fastest, but next to another busy process a
 * spinning thread burns the time slice its partner needs to reach the
 * barrier: 2-thread W1 fell to 0.9–2k samples/s (1 thread: 10–50k). Passive
 * waiting (sleep at once) avoids that but pays a wake-up at every parallel
 * region on idle cores (W1 36k vs 78k). A short spin, 10,000 rounds (tens
 * of microseconds: the gaps between a step's regions), keeps most of the
 * idle speed and, with the training loop's thread governor, the busy one:
 * idle 64k, next to a busy process 46k (bench/RESULTS.md, "Threads on a
 * shared machine").
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
    if (setenv("GOMP_SPINCOUNT", "10000", 0) != 0) return;
    execv("/proc/self/exe", argv);
    /* No /proc (some sandboxes): run on with libgomp's default. */
}
