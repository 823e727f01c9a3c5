/* Checked file I/O and atomic file replacement (see fileio.h). */
#include "fileio.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

cg_status cg__fopen(FILE **out, const char *path, const char *mode)
{
    *out = NULL;
    /* Opening a FIFO for reading blocks until someone writes to it, and a
     * directory reads as an error far from its cause: refuse both first. */
    struct stat st;
    if (mode[0] == 'r' && stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return cg_set_error(CG_ERR_IO, "cannot read '%s': %s", path,
                            S_ISDIR(st.st_mode) ? "it is a directory" : "not a regular file");
    *out = fopen(path, mode);
    if (!*out)
        return cg_set_error(CG_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    return CG_OK;
}

cg_status cg__fclose(FILE *f, const char *path)
{
    if (fclose(f) != 0)
        return cg_set_error(CG_ERR_IO, "cannot close '%s': %s", path, strerror(errno));
    return CG_OK;
}

cg_status cg__fread(void *buf, size_t n, FILE *f, const char *path, const char *what)
{
    size_t got = fread(buf, 1, n, f);
    if (got == n) return CG_OK;
    if (ferror(f))
        return cg_set_error(CG_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
    return cg_set_error(CG_ERR_FORMAT, "'%s' is truncated: expected %zu bytes%s%s, found %zu",
                        path, n, what ? " of " : "", what ? what : "", got);
}

cg_status cg__fwrite(const void *buf, size_t n, FILE *f, const char *path)
{
    if (n > 0 && fwrite(buf, 1, n, f) != n)
        return cg_set_error(CG_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    return CG_OK;
}

cg_status cg__fsize(FILE *f, const char *path, uint64_t *size)
{
    struct stat st;
    if (fstat(fileno(f), &st) != 0)
        return cg_set_error(CG_ERR_IO, "cannot stat '%s': %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return cg_set_error(CG_ERR_IO, "'%s' is not a regular file", path);
    *size = (uint64_t)st.st_size;
    return CG_OK;
}

cg_status cg__read_file(const char *path, uint64_t max_bytes, char **data, size_t *size)
{
    *data = NULL;
    *size = 0;
    FILE *f;
    cg_status s = cg__fopen(&f, path, "rb");
    if (s) return s;
    uint64_t n = 0;
    s = cg__fsize(f, path, &n);
    if (!s && (n > max_bytes || n >= SIZE_MAX))
        s = cg_set_error(CG_ERR_FORMAT, "'%s' is too large (%llu bytes, limit %llu)", path,
                         (unsigned long long)n, (unsigned long long)max_bytes);
    char *buf = NULL;
    if (!s && !(buf = malloc((size_t)n + 1)))
        s = cg_set_error(CG_ERR_NOMEM, "cannot allocate %llu bytes to read '%s'",
                         (unsigned long long)n, path);
    if (!s) s = cg__fread(buf, (size_t)n, f, path, NULL);
    fclose(f);  /* read-only: a close error loses nothing */
    if (s) {
        free(buf);
        return s;
    }
    buf[n] = '\0';
    *data = buf;
    *size = (size_t)n;
    return CG_OK;
}

/* ---- atomic replacement ---- */

static char *dup_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* "dir/.name.tmpXXXXXX" next to path, so the final rename stays within one
 * file system (rename across file systems is not atomic, and fails). */
static char *temp_template(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash ? (size_t)(slash - path) + 1 : 0;
    const char *base = path + dir_len;
    size_t n = dir_len + 1 + strlen(base) + sizeof ".tmpXXXXXX";
    char *t = malloc(n);
    if (!t) return NULL;
    memcpy(t, path, dir_len);
    snprintf(t + dir_len, n - dir_len, ".%s.tmpXXXXXX", base);
    return t;
}

/* mkstemp creates files 0600; a replaced file keeps its mode and a new one
 * gets 0644 (the usual umask result; the umask itself cannot be read
 * without changing it, which would race with other threads). */
static void set_mode(int fd, const char *path)
{
    struct stat st;
    mode_t mode = 0644;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) mode = st.st_mode & 07777;
    (void)fchmod(fd, mode);  /* best effort: the data matter more than the mode */
}

cg_status cg__atomic_open(cg_atomic_file *af, const char *path)
{
    memset(af, 0, sizeof *af);
    if (!path || !*path) return cg_set_error(CG_ERR_ARG, "atomic write: empty path");
    size_t len = strlen(path);
    if (path[len - 1] == '/')
        return cg_set_error(CG_ERR_IO, "cannot write '%s': is a directory", path);
    af->path = dup_string(path);
    af->tmp_path = temp_template(path);
    if (!af->path || !af->tmp_path) {
        cg__atomic_abort(af);
        return cg_set_error(CG_ERR_NOMEM, "cannot write '%s': out of memory", path);
    }
    int fd = mkstemp(af->tmp_path);
    if (fd < 0) {
        int err = errno;
        free(af->tmp_path);
        af->tmp_path = NULL;  /* nothing was created, nothing to remove */
        cg__atomic_abort(af);
        return cg_set_error(CG_ERR_IO, "cannot create a temporary file next to '%s': %s", path,
                            strerror(err));
    }
    set_mode(fd, path);
    af->f = fdopen(fd, "wb");
    if (!af->f) {
        int err = errno;
        close(fd);
        cg__atomic_abort(af);
        return cg_set_error(CG_ERR_IO, "cannot write '%s': %s", path, strerror(err));
    }
    return CG_OK;
}

cg_status cg__atomic_write(cg_atomic_file *af, const void *buf, size_t n)
{
    return cg__fwrite(buf, n, af->f, af->path);
}

void cg__atomic_abort(cg_atomic_file *af)
{
    if (af->f) fclose(af->f);
    if (af->tmp_path) unlink(af->tmp_path);
    free(af->tmp_path);
    free(af->path);
    memset(af, 0, sizeof *af);
}

/* Makes the rename itself durable. File systems that cannot sync a
 * directory (EINVAL) give no stronger guarantee to ask for. */
static cg_status sync_parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? malloc((size_t)(slash - path) + 2) : dup_string(".");
    if (!dir) return cg_set_error(CG_ERR_NOMEM, "cannot sync directory of '%s'", path);
    if (slash) {
        size_t n = slash == path ? 1 : (size_t)(slash - path);  /* keep "/" for root */
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    cg_status s = CG_OK;
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0 || (fsync(fd) != 0 && errno != EINVAL && errno != ENOTSUP))
        s = cg_set_error(CG_ERR_IO, "wrote '%s' but cannot sync directory '%s': %s", path, dir,
                         strerror(errno));
    if (fd >= 0) close(fd);
    free(dir);
    return s;
}

/* Is name ".<base>.tmpXXXXXX", mkstemp's pattern for a save to base? */
static bool is_temp_of(const char *name, const char *base)
{
    size_t n = strlen(base);
    if (name[0] != '.' || strncmp(name + 1, base, n) != 0 || strncmp(name + 1 + n, ".tmp", 4) != 0)
        return false;
    const char *x = name + 1 + n + 4;
    if (strlen(x) != 6) return false;
    for (; *x; x++)
        if (!isalnum((unsigned char)*x)) return false;
    return true;
}

/* Removes the temporary files of earlier saves to path that were killed
 * before they could clean up (kill -9, power loss): they would otherwise
 * pile up beside a checkpoint saved every epoch. Best effort. */
static void remove_stale_temps(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    char *dir = slash ? malloc((size_t)(slash - path) + 2) : dup_string(".");
    if (!dir) return;
    if (slash) {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    DIR *d = opendir(dir);
    for (struct dirent *e = d ? readdir(d) : NULL; e; e = readdir(d)) {
        if (!is_temp_of(e->d_name, base)) continue;
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        char *stale = malloc(len);
        if (!stale) break;
        snprintf(stale, len, "%s/%s", dir, e->d_name);
        (void)unlink(stale);
        free(stale);
    }
    if (d) closedir(d);
    free(dir);
}

cg_status cg__atomic_commit(cg_atomic_file *af)
{
    FILE *f = af->f;
    af->f = NULL;
    const char *why = NULL;
    if (fflush(f) != 0) why = "flush";
    else if (fsync(fileno(f)) != 0) why = "sync";
    int err = errno;
    if (fclose(f) != 0 && !why) {
        why = "close";
        err = errno;
    }
    if (!why && rename(af->tmp_path, af->path) != 0) {
        why = "rename temporary file onto";
        err = errno;
    }
    if (why) {
        cg_set_error(CG_ERR_IO, "cannot %s '%s': %s", why, af->path, strerror(err));
        cg__atomic_abort(af);
        return CG_ERR_IO;
    }
    free(af->tmp_path);
    af->tmp_path = NULL;  /* renamed: no longer ours to remove */
    remove_stale_temps(af->path);
    cg_status s = sync_parent_dir(af->path);
    cg__atomic_abort(af);
    return s;
}
