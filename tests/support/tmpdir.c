/* The scratch directory; see tmpdir.h. */
#include "tmpdir.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[64];

int tmp_dir_create(const char *tag)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/%s_XXXXXX", tag);
    return mkdtemp(tmpdir) ? 0 : -1;
}

int tmp_dir_remove(void **state)
{
    (void)state;
    DIR *d = opendir(tmpdir);
    if (!d) return -1;
    struct dirent *de;
    char p[512];
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", tmpdir, de->d_name);
            remove(p);
        }
    closedir(d);
    return rmdir(tmpdir);
}

const char *tmp_dir(void)
{
    return tmpdir;
}

const char *tmp_path(const char *name)
{
    static char p[4][512];
    static int next;
    next = (next + 1) % 4;
    snprintf(p[next], sizeof p[next], "%s/%s", tmpdir, name);
    return p[next];
}
