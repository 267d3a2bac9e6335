/* file: whole-file reads, atomic writes, folders with their parents; see file.h. */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "mem.h"

#define WRITE_BUF (64u * 1024)

static void wipe(void *p, size_t n)
{
    if (p && n) explicit_bzero(p, n);
}

/* read() until len bytes or end of file; -1 on error (errno). */
static ssize_t read_full(int fd, char *p, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fd, p + got, len - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

int file_read_all(const char *path, size_t max, unsigned flags, char **out, size_t *len, char *err, size_t errlen)
{
    *out = NULL;
    if (len) *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if ((flags & FILE_MISSING_OK) && (e == ENOENT || e == ENOTDIR)) return 0;
        snprintf(err, errlen, "cannot open `%s`: %s", path, strerror(e));
        errno = e;
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        snprintf(err, errlen, "`%s` is a folder, not a file", path);
        errno = EISDIR;
        return -1;
    }
    /* Regular files: one allocation of the right size (plus one byte to see growth); others
     * (pipes, devices) grow by doubling up to the cap. */
    size_t cap = S_ISREG(st.st_mode) && st.st_size >= 0 && (uint64_t)st.st_size < max ? (size_t)st.st_size + 2 : 4096;
    if (cap > max + 2) cap = max + 2;
    char *data = xmalloc(cap);
    size_t n = 0;
    int rc = 0, e = 0;
    for (;;) {
        if (n + 1 >= cap) {
            if (n > max) break;
            size_t ncap = cap * 2 > max + 2 ? max + 2 : cap * 2;
            if (ncap <= cap) break;
            char *bigger = xmalloc(ncap);
            memcpy(bigger, data, n);
            if (flags & FILE_SECRET) wipe(data, cap);
            free(data);
            data = bigger;
            cap = ncap;
        }
        size_t want = cap - n - 1;
        ssize_t r = read_full(fd, data + n, want);
        if (r < 0) {
            e = errno;
            rc = -1;
            break;
        }
        n += (size_t)r;
        if ((size_t)r < want) break; /* short: end of file */
    }
    close(fd);
    if (rc == 0 && n > max) {
        e = EFBIG;
        rc = -1;
        snprintf(err, errlen, "`%s` is larger than the limit of %zu bytes", path, max);
    } else if (rc < 0) {
        snprintf(err, errlen, "cannot read `%s`: %s", path, strerror(e));
    }
    if (rc < 0) {
        if (flags & FILE_SECRET) wipe(data, cap);
        free(data);
        errno = e;
        return -1;
    }
    data[n] = '\0';
    *out = data;
    if (len) *len = n;
    return 0;
}

int file_mkdirs(const char *path, mode_t mode, char *err, size_t errlen)
{
    if (!path || !*path) {
        snprintf(err, errlen, "cannot create folder: empty path");
        errno = ENOENT;
        return -1;
    }
    char *p = xstrdup(path);
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/') p[--n] = '\0';
    int rc = 0;
    /* Each prefix that ends before a '/', then the whole path. */
    for (char *s = p + 1;; s++) {
        bool last = *s == '\0';
        if (!last && *s != '/') continue;
        *s = '\0';
        if (mkdir(p, mode) < 0 && errno != EEXIST) {
            int e = errno;
            snprintf(err, errlen, "cannot create folder %s: %s", p, strerror(e));
            errno = e;
            rc = -1;
            break;
        }
        if (last) break;
        *s = '/';
    }
    struct stat st;
    if (rc == 0 && stat(p, &st) < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot create folder %s: %s", p, strerror(e));
        errno = e;
        rc = -1;
    } else if (rc == 0 && !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "cannot create folder %s: a file of that name is in the way", p);
        errno = ENOTDIR;
        rc = -1;
    }
    free(p);
    return rc;
}

struct file_atomic {
    char *path, *tmp;
    int fd;
    int err; /* errno of the first failed write, 0 if none */
    char *buf;
    size_t len;
};

static atomic_uint tmp_seq;

file_atomic_t *file_atomic_open(const char *path, char *err, size_t errlen)
{
    file_atomic_t *f = xcalloc(1, sizeof *f);
    f->path = xstrdup(path);
    for (int tries = 0; tries < 100; tries++) {
        free(f->tmp);
        f->tmp = xasprintf("%s.tmp-%ld-%u", path, (long)getpid(), atomic_fetch_add(&tmp_seq, 1));
        f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (f->fd >= 0 || errno != EEXIST) break;
    }
    if (f->fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", f->tmp, strerror(errno));
        free(f->tmp);
        free(f->path);
        free(f);
        return NULL;
    }
    f->buf = xmalloc(WRITE_BUF);
    return f;
}

static int write_out(file_atomic_t *f, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(f->fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
            f->err = errno;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int flush(file_atomic_t *f)
{
    if (f->err) return -1;
    int rc = write_out(f, f->buf, f->len);
    f->len = 0;
    return rc;
}

int file_atomic_write(file_atomic_t *f, const void *data, size_t len)
{
    if (f->err) return -1;
    if (f->len + len > WRITE_BUF) {
        if (flush(f) < 0) return -1;
        if (len >= WRITE_BUF) return write_out(f, data, len);
    }
    memcpy(f->buf + f->len, data, len);
    f->len += len;
    return 0;
}

static void atomic_free(file_atomic_t *f)
{
    free(f->buf);
    free(f->tmp);
    free(f->path);
    free(f);
}

void file_atomic_abort(file_atomic_t **fp)
{
    if (!fp || !*fp) return;
    file_atomic_t *f = *fp;
    if (f->fd >= 0) close(f->fd);
    unlink(f->tmp);
    atomic_free(f);
    *fp = NULL;
}

/* fsync of the folder holding path, so the rename survives a power cut; best effort (some
 * filesystems refuse to open or fsync folders, and the data itself is already on disk). */
static void sync_dir_of(const char *path)
{
    char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (slash == dir) slash[1] = '\0';
    else if (slash) *slash = '\0';
    int fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd); /* its result is ignored on purpose: see above */
        close(fd);
    }
    free(dir);
}

int file_atomic_commit(file_atomic_t **fp, char *err, size_t errlen)
{
    file_atomic_t *f = *fp;
    int e = 0;
    if (flush(f) < 0) e = f->err;
    else if (fsync(f->fd) < 0) e = errno;
    if (close(f->fd) < 0 && !e) e = errno;
    f->fd = -1;
    if (!e && rename(f->tmp, f->path) < 0) e = errno;
    if (e) {
        snprintf(err, errlen, "cannot write %s: %s", f->path, strerror(e));
        unlink(f->tmp);
        atomic_free(f);
        *fp = NULL;
        errno = e;
        return -1;
    }
    sync_dir_of(f->path);
    atomic_free(f);
    *fp = NULL;
    return 0;
}

int file_write_atomic(const char *path, const void *data, size_t len, char *err, size_t errlen)
{
    file_atomic_t *f = file_atomic_open(path, err, errlen);
    if (!f) return -1;
    int wrc = file_atomic_write(f, data, len); /* a failure is remembered and reported by commit */
    int crc = file_atomic_commit(&f, err, errlen);
    return wrc < 0 || crc < 0 ? -1 : 0;
}

size_t file_atomic_sweep(const char *path)
{
    char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    const char *base = slash ? slash + 1 : path;
    if (slash == dir) slash[1] = '\0';
    else if (slash) *slash = '\0';
    DIR *d = opendir(slash ? dir : ".");
    size_t removed = 0, blen = strlen(base);
    for (struct dirent *e; d && (e = readdir(d));) {
        const char *n = e->d_name;
        if (strncmp(n, base, blen) != 0 || strncmp(n + blen, ".tmp", 4) != 0) continue;
        const char *rest = n + blen + 4;
        bool stale = *rest == '\0';
        if (*rest == '-') {
            char *end;
            errno = 0;
            long pid = strtol(rest + 1, &end, 10);
            /* ours (a write under way in this process) or a live process's: left alone */
            stale = errno == 0 && end != rest + 1 && *end == '-' && pid > 0 && pid != (long)getpid() &&
                    kill((pid_t)pid, 0) < 0 && errno == ESRCH;
        }
        if (!stale) continue;
        char *full = xasprintf("%s/%s", slash ? dir : ".", n);
        if (unlink(full) == 0) removed++;
        free(full);
    }
    if (d) closedir(d);
    free(dir);
    return removed;
}

int file_free_space(const char *dir, uint64_t *bytes, char *err, size_t errlen)
{
    struct statvfs v;
    if (statvfs(dir, &v) < 0) {
        snprintf(err, errlen, "cannot read the free space of %s: %s", dir, strerror(errno));
        return -1;
    }
    *bytes = (uint64_t)v.f_bavail * (uint64_t)v.f_frsize;
    return 0;
}
