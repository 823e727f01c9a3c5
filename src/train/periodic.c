/* Periodic checkpoints: when a run saves inside an epoch, and which of the
 * numbered snapshots it keeps. A snapshot is a hard link to the checkpoint
 * just written, so keeping one costs no second write; the next save
 * replaces the main file by rename and leaves the link's data alone. */
#include "train_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SUFFIX ".safetensors"

/* save_path without its ".safetensors" suffix: the snapshots' stem. */
static size_t stem_length(const char *path)
{
    size_t n = strlen(path), k = strlen(SUFFIX);
    return n > k && strcmp(path + n - k, SUFFIX) == 0 ? n - k : n;
}

/* Is name "<stem>.step-<digits>.safetensors"? Its step in *step. */
static bool snapshot_step(const char *name, const char *stem, size_t stem_len, int64_t *step)
{
    if (strncmp(name, stem, stem_len) != 0 || strncmp(name + stem_len, ".step-", 6) != 0)
        return false;
    char *end;
    const char *digits = name + stem_len + 6;
    if (*digits < '0' || *digits > '9') return false;
    long long v = strtoll(digits, &end, 10);
    if (strcmp(end, SUFFIX) != 0) return false;
    *step = v;
    return true;
}

static int by_step(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Deletes all but the newest `keep` snapshots of save_path. Best effort:
 * a snapshot that cannot be removed is only wasted space. */
static void prune(const char *save_path, int keep)
{
    const char *slash = strrchr(save_path, '/');
    size_t dir_len = slash ? (size_t)(slash - save_path) : 0;
    const char *base = slash ? slash + 1 : save_path;
    size_t stem_len = stem_length(base);
    char dir[4096];
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(dir_len ? dir_len : 1) : 1, slash ? save_path : ".");
    DIR *d = opendir(dir);
    if (!d) return;
    int64_t steps[4096];
    size_t n = 0;
    for (struct dirent *e = readdir(d); e && n < 4096; e = readdir(d))
        if (snapshot_step(e->d_name, base, stem_len, &steps[n])) n++;
    closedir(d);
    qsort(steps, n, sizeof *steps, by_step);
    for (size_t i = 0; i + (size_t)keep < n; i++) {
        char path[4352];
        snprintf(path, sizeof path, "%s/%.*s.step-%lld" SUFFIX, dir, (int)stem_len, base,
                 (long long)steps[i]);
        (void)unlink(path);
    }
}

cg_status cg__snapshot(const char *save_path, int64_t step, int keep)
{
    char path[4352];
    snprintf(path, sizeof path, "%.*s.step-%lld" SUFFIX, (int)stem_length(save_path), save_path,
             (long long)step);
    (void)unlink(path);  /* a snapshot of this step from an earlier run */
    if (link(save_path, path) != 0)
        return cg_set_error(CG_ERR_IO, "cannot keep a snapshot of '%s' as '%s': %s", save_path,
                            path, strerror(errno));
    prune(save_path, keep);
    return CG_OK;
}

bool cg__periodic_due(const cg_train_options *o, int64_t step, double since_save)
{
    if (!o->save_path) return false;
    if (o->save_every_steps > 0 && step % o->save_every_steps == 0) return true;
    return o->save_every_seconds > 0 && since_save >= o->save_every_seconds;
}
