/* Shared by the fuzz targets: each input goes to one temporary file (the
 * loaders take paths), reused across runs and removed at exit. */
#ifndef CG_FUZZ_COMMON_H
#define CG_FUZZ_COMMON_H

#include "cgrad.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FUZZ_FILES 2

static char fuzz_paths[FUZZ_FILES][64];

static void fuzz_remove_files(void)
{
    for (int i = 0; i < FUZZ_FILES; i++)
        if (fuzz_paths[i][0]) unlink(fuzz_paths[i]);
}

/* Writes bytes to temporary file `slot` and returns its path; NULL if the
 * harness itself cannot write (not a finding). */
static const char *fuzz_write_file(int slot, const uint8_t *data, size_t size)
{
    char *path = fuzz_paths[slot];
    if (!path[0]) {
        /* tmpfs if there is one: rewriting a truncated file on ext4 forces
         * a flush on every close, which makes fuzzing I/O-bound. */
        const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(path, sizeof fuzz_paths[slot], "%s/cg_fuzz_XXXXXX", dir);
        int fd = mkstemp(path);
        if (fd < 0) {
            path[0] = '\0';
            return NULL;
        }
        close(fd);
        static bool registered;
        if (!registered) atexit(fuzz_remove_files);
        registered = true;
    }
    FILE *f = fopen(path, "wb");
    if (!f) return NULL;
    size_t wrote = size ? fwrite(data, 1, size, f) : 0;
    if (fclose(f) != 0 || wrote != size) return NULL;
    return path;
}

static const char *fuzz_write_input(const uint8_t *data, size_t size)
{
    return fuzz_write_file(0, data, size);
}

/* Every failure must carry a message naming the file. */
static void fuzz_check_error_names(const char *path)
{
    if (!strstr(cg_last_error(), path)) {
        fprintf(stderr, "error message does not name the file: %s\n", cg_last_error());
        __builtin_trap();
    }
}

#endif
