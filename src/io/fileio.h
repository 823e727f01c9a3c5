/* Checked file I/O for the library's readers and writers. Every function
 * returns a cg_status and, on failure, sets cg_last_error() to a message
 * naming the file and the reason (strerror, or "truncated"), so callers can
 * just propagate the status. Not installed. */
#ifndef CGRAD_FILEIO_H
#define CGRAD_FILEIO_H

#include "cgrad.h"

#include <stdint.h>
#include <stdio.h>

/* fopen; CG_ERR_IO naming path and strerror(errno). */
cg_status cg__fopen(FILE **out, const char *path, const char *mode);
/* fclose that reports a failed final flush (full disk shows up here). */
cg_status cg__fclose(FILE *f, const char *path);
/* Reads exactly n bytes. A short read is CG_ERR_FORMAT ("truncated", with
 * what was being read), a read error CG_ERR_IO. `what` may be NULL. */
cg_status cg__fread(void *buf, size_t n, FILE *f, const char *path, const char *what);
/* Writes exactly n bytes; CG_ERR_IO naming path and strerror. */
cg_status cg__fwrite(const void *buf, size_t n, FILE *f, const char *path);
/* Size in bytes of an open regular file; CG_ERR_IO for directories and
 * other non-regular files, whose size means nothing. */
cg_status cg__fsize(FILE *f, const char *path, uint64_t *size);
/* Reads a whole regular file into a malloc'ed buffer with a NUL appended
 * (so text parsers may treat it as a string); *size excludes the NUL.
 * Files larger than max_bytes are refused with CG_ERR_FORMAT. */
cg_status cg__read_file(const char *path, uint64_t max_bytes, char **data, size_t *size);

/* Atomic replacement of a file: write to a temporary file in the target's
 * directory, then commit (fflush, fsync, fclose, rename, fsync directory).
 * Until commit succeeds the target is untouched; abort (or a failed commit)
 * removes the temporary file. Readers therefore see the old file or the
 * complete new one, never a torn write. A symbolic link at the target is
 * replaced by the file, not followed. */
typedef struct cg_atomic_file {
    FILE *f;
    char *path;       /* target */
    char *tmp_path;   /* temporary, same directory */
} cg_atomic_file;

cg_status cg__atomic_open(cg_atomic_file *af, const char *path);
/* Checked write to the temporary file; errors name the target path. */
cg_status cg__atomic_write(cg_atomic_file *af, const void *buf, size_t n);
/* Publishes the file. On failure the temporary is removed; af is released
 * either way. */
cg_status cg__atomic_commit(cg_atomic_file *af);
/* Discards the temporary file and releases af; safe on a zeroed af. */
void cg__atomic_abort(cg_atomic_file *af);

#endif
