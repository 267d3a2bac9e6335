/* dataset: streaming reader of JSONL datasets (see dataset.h and DESIGN.md "Dataset").
 *
 * Owns the file-level rules: gzip or plain, line splitting with a hard cap on the bytes kept for
 * one line, blank lines, CRLF, a leading BOM, and UTF-8 validity. What a line means is record.c's.
 *
 * DESIGN. Bytes come from a source (a local file, or a remote stream the caller opened); the
 * first two decide the format: 1f 8b is gzip, decoded here with zlib's inflate (one member after
 * another; whatever follows the last member that is not another member is ignored, as gzip(1)
 * does); anything else is taken as it is. The reader keeps one input buffer, one decoded buffer
 * and one line buffer of at most max_line + 1 bytes (the extra byte may be a CR). A longer line
 * is not kept: the rest of it is counted and discarded until its newline, so a hostile file costs
 * at most max_line of memory whatever its size. Indexes are given to every non-blank line in file
 * order, valid or not, so a record's index is a stable address in the file that the scheduler, the
 * results and a re-run agree on.
 *
 * Bounds. A local dataset must be a regular file: a named pipe, a device (/dev/zero) or a folder
 * is refused at open, which never waits (O_NONBLOCK, so a pipe without a writer cannot hang it).
 * dataset_limit caps the bytes taken from the source and gives a cancel flag, both checked before
 * every read from the source: a read brings at most READ_CHUNK bytes, so a signal stops even a
 * line of gigabytes within one chunk. */
#include "dataset.h"
#include "mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#define READ_CHUNK (128u * 1024u)

typedef enum { DS_READING = 0, DS_END = 1, DS_FAILED = -1 } ds_state_t;
typedef enum { FMT_UNKNOWN = 0, FMT_PLAIN, FMT_GZIP } fmt_t;

struct dataset {
    char *path;
    dataset_source_t src;
    bool src_done;     /* the source said end of data */
    unsigned char *in; /* raw bytes from the source */
    size_t in_pos, in_len;
    fmt_t fmt;
    z_stream zs;
    bool zs_live;     /* inflateInit2 done */
    bool member_done; /* the last gzip member ended (Z_STREAM_END) */
    bool trailing;    /* non-gzip bytes after a member: ignored to the end */
    size_t max_line;
    unsigned char *rbuf; /* decoded bytes */
    size_t rpos, rlen;
    bool src_eof; /* no decoded bytes will come any more */
    char *line;   /* the current line, NUL-terminated, at most max_line + 1 bytes */
    size_t line_len;
    size_t line_cap;
    uint64_t lineno; /* physical lines read, blank ones included */
    uint64_t lines;  /* non-blank lines: the next index */
    uint64_t invalid;
    ds_state_t state;
    uint64_t src_bytes;       /* read from the source so far */
    uint64_t max_bytes;       /* dataset_limit: 0 = no cap */
    const atomic_int *cancel; /* dataset_limit: set = stop reading */
    bool interrupted;
};

/* What read_line found besides the kept bytes. */
typedef struct {
    uint64_t total;     /* bytes of the line without its newline */
    bool too_long;      /* total passed the cap; the bytes were not kept */
    bool all_ws;        /* only whitespace (tracked for too-long lines too) */
    unsigned char last; /* the line's last byte before the newline */
} line_info_t;

static bool is_ws(unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

static bool all_ws(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_ws(p[i])) return false;
    return true;
}

static bool is_remote(const char *path)
{
    return strncmp(path, "s3://", 5) == 0 || strncmp(path, "https://", 8) == 0 || strncmp(path, "http://", 7) == 0;
}

/* ---- the local file source ---- */

typedef struct {
    int fd;
    char *path;
} file_src_t;

static long file_read(void *ctx, void *buf, size_t n, char *err, size_t errlen)
{
    file_src_t *f = ctx;
    for (;;) {
        ssize_t r = read(f->fd, buf, n);
        if (r >= 0) return (long)r;
        if (errno == EINTR) continue;
        snprintf(err, errlen, "%s: read error: %s", f->path, strerror(errno));
        return -1;
    }
}

static void file_close(void *ctx)
{
    file_src_t *f = ctx;
    close(f->fd);
    free(f->path);
    free(f);
}

dataset_t *dataset_open(const char *path, size_t max_line, char *err, size_t errlen)
{
    return dataset_open_capped(path, max_line, 0, err, errlen);
}

dataset_t *dataset_open_capped(const char *path, size_t max_line, uint64_t max_bytes, char *err, size_t errlen)
{
    if (!path || !*path) {
        snprintf(err, errlen, "dataset: no path given");
        return NULL;
    }
    if (is_remote(path)) {
        snprintf(err, errlen,
                 "%s: a remote dataset is read through its stream (dataset_open_source), not as a "
                 "local file",
                 path);
        return NULL;
    }
    /* O_NONBLOCK: opening a named pipe must not wait for a writer (it is refused below); a
     * regular file's reads ignore the flag, which is cleared all the same. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        snprintf(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        const char *what = S_ISDIR(st.st_mode)    ? "is a directory"
                           : S_ISFIFO(st.st_mode) ? "is a named pipe"
                           : S_ISCHR(st.st_mode)  ? "is a character device"
                           : S_ISBLK(st.st_mode)  ? "is a block device"
                           : S_ISSOCK(st.st_mode) ? "is a socket"
                                                  : "is not a file";
        snprintf(err, errlen,
                 "%s: %s, not a regular file: a dataset must be a regular file (or an s3:// or "
                 "https:// URL)",
                 path, what);
        close(fd);
        return NULL;
    }
    if (max_bytes && (uint64_t)st.st_size > max_bytes) {
        snprintf(err, errlen, "%s: the file is %llu bytes, larger than the cap of %llu bytes (dataset_max_bytes)", path,
                 (unsigned long long)st.st_size, (unsigned long long)max_bytes);
        close(fd);
        return NULL;
    }
    file_src_t *f = xcalloc(1, sizeof(*f));
    f->fd = fd;
    f->path = xstrdup(path);
    dataset_t *d = dataset_open_source(path, (dataset_source_t){.read = file_read, .close = file_close, .ctx = f},
                                       max_line, err, errlen);
    if (d) d->max_bytes = max_bytes; /* a file that grows while it is read stops at the cap too */
    return d;
}

dataset_t *dataset_open_source(const char *name, dataset_source_t src, size_t max_line, char *err, size_t errlen)
{
    if (!src.read) {
        snprintf(err, errlen, "%s: no source to read from", name ? name : "dataset");
        if (src.close) src.close(src.ctx);
        return NULL;
    }
    dataset_t *d = xcalloc(1, sizeof(*d));
    d->path = xstrdup(name ? name : "dataset");
    d->src = src;
    d->max_line = max_line ? max_line : DATASET_MAX_LINE_DEFAULT;
    d->in = xmalloc(READ_CHUNK);
    d->rbuf = xmalloc(READ_CHUNK);
    d->state = DS_READING;
    return d;
}

void dataset_close(dataset_t **self_p)
{
    if (!self_p || !*self_p) return;
    dataset_t *d = *self_p;
    if (d->zs_live) inflateEnd(&d->zs);
    if (d->src.close) d->src.close(d->src.ctx);
    free(d->path);
    free(d->in);
    free(d->rbuf);
    free(d->line);
    free(d);
    *self_p = NULL;
}

void dataset_limit(dataset_t *d, uint64_t max_bytes, const atomic_int *cancel)
{
    d->max_bytes = max_bytes;
    d->cancel = cancel;
}

bool dataset_interrupted(const dataset_t *d) { return d->interrupted; }

uint64_t dataset_lines(const dataset_t *d) { return d->lines; }
uint64_t dataset_invalid(const dataset_t *d) { return d->invalid; }
const char *dataset_path(const dataset_t *d) { return d->path; }

/* Reads more raw bytes (keeping the unread ones first). 0, or -1 reported. */
static int fill_in(dataset_t *d, errlist_t *errs)
{
    if (d->src_done) return 0;
    if (d->in_pos) {
        memmove(d->in, d->in + d->in_pos, d->in_len - d->in_pos);
        d->in_len -= d->in_pos;
        d->in_pos = 0;
    }
    if (d->in_len == READ_CHUNK) return 0;
    if (d->cancel && atomic_load(d->cancel)) {
        d->interrupted = true;
        errlist_add(errs, "%s: interrupted after line %llu", d->path, (unsigned long long)d->lineno);
        return -1;
    }
    char err[512] = "";
    long n = d->src.read(d->src.ctx, d->in + d->in_len, READ_CHUNK - d->in_len, err, sizeof err);
    if (n < 0) {
        if (d->cancel && atomic_load(d->cancel)) { /* a remote read cut short by the same flag */
            d->interrupted = true;
            errlist_add(errs, "%s: interrupted after line %llu", d->path, (unsigned long long)d->lineno);
            return -1;
        }
        errlist_add(errs, "%s: read error after line %llu: %s", d->path, (unsigned long long)d->lineno,
                    err[0] ? err : "unknown error");
        return -1;
    }
    if (n == 0) d->src_done = true;
    d->src_bytes += (uint64_t)n;
    if (d->max_bytes && d->src_bytes > d->max_bytes) {
        errlist_add(errs,
                    "%s: larger than the cap of %llu bytes (dataset_max_bytes): raise the cap or split the dataset",
                    d->path, (unsigned long long)d->max_bytes);
        return -1;
    }
    d->in_len += (size_t)n;
    return 0;
}

/* Decodes gzip input into rbuf. 0 (some bytes, or the end: src_eof), -1 reported. */
static int inflate_some(dataset_t *d, errlist_t *errs)
{
    for (;;) {
        if (d->member_done) {
            /* another member, or the end (anything else after a member is ignored) */
            if (d->in_len - d->in_pos < 2 && !d->src_done) {
                if (fill_in(d, errs) < 0) return -1;
                continue;
            }
            size_t left = d->in_len - d->in_pos;
            if (left >= 2 && d->in[d->in_pos] == 0x1f && d->in[d->in_pos + 1] == 0x8b && !d->trailing) {
                if (inflateReset(&d->zs) != Z_OK) {
                    errlist_add(errs, "%s: zlib cannot restart for the next gzip member", d->path);
                    return -1;
                }
                d->member_done = false;
                continue;
            }
            d->trailing = true;
            d->in_pos = d->in_len;
            if (!d->src_done) {
                if (fill_in(d, errs) < 0) return -1;
                continue;
            }
            d->src_eof = true;
            return 0;
        }
        if (d->in_pos == d->in_len) {
            if (d->src_done) {
                errlist_add(errs, "%s: the gzip data is truncated (it ends inside a compressed stream) after line %llu",
                            d->path, (unsigned long long)d->lineno);
                return -1;
            }
            if (fill_in(d, errs) < 0) return -1;
            continue;
        }
        d->zs.next_in = d->in + d->in_pos;
        d->zs.avail_in = (uInt)(d->in_len - d->in_pos);
        d->zs.next_out = d->rbuf;
        d->zs.avail_out = READ_CHUNK;
        int zr = inflate(&d->zs, Z_NO_FLUSH);
        d->in_pos = d->in_len - d->zs.avail_in;
        d->rlen = READ_CHUNK - d->zs.avail_out;
        if (zr == Z_STREAM_END) d->member_done = true;
        else if (zr != Z_OK && zr != Z_BUF_ERROR) {
            errlist_add(errs, "%s: corrupt gzip data after line %llu: %s", d->path, (unsigned long long)d->lineno,
                        d->zs.msg           ? d->zs.msg
                        : zr == Z_MEM_ERROR ? "out of memory"
                                            : "invalid data");
            return -1;
        }
        if (d->rlen) return 0;
    }
}

/* Refills the decoded buffer. 0 = some bytes or clean end (src_eof set), -1 = error (reported). */
static int refill(dataset_t *d, errlist_t *errs)
{
    d->rpos = d->rlen = 0;
    if (d->fmt == FMT_UNKNOWN) {
        while (d->in_len < 2 && !d->src_done)
            if (fill_in(d, errs) < 0) return -1;
        if (d->in_len >= 2 && d->in[0] == 0x1f && d->in[1] == 0x8b) {
            d->fmt = FMT_GZIP;
            memset(&d->zs, 0, sizeof d->zs);
            if (inflateInit2(&d->zs, 15 + 16) != Z_OK) {
                errlist_add(errs, "%s: zlib cannot start: out of memory", d->path);
                return -1;
            }
            d->zs_live = true;
        } else {
            d->fmt = FMT_PLAIN;
        }
    }
    if (d->fmt == FMT_GZIP) return inflate_some(d, errs);
    if (d->in_pos == d->in_len) {
        d->in_pos = d->in_len = 0;
        if (fill_in(d, errs) < 0) return -1;
    }
    if (d->in_pos == d->in_len) {
        d->src_eof = true;
        return 0;
    }
    size_t n = d->in_len - d->in_pos;
    memcpy(d->rbuf, d->in + d->in_pos, n);
    d->rlen = n;
    d->in_pos = d->in_len;
    return 0;
}

static void keep_bytes(dataset_t *d, const unsigned char *p, size_t n)
{
    if (d->line_len + n + 1 > d->line_cap) {
        size_t cap = d->line_cap ? d->line_cap : 4096;
        while (cap < d->line_len + n + 1) cap *= 2;
        d->line = xrealloc(d->line, cap);
        d->line_cap = cap;
    }
    memcpy(d->line + d->line_len, p, n);
    d->line_len += n;
    d->line[d->line_len] = '\0';
}

/* Reads one physical line. 1 = a line (kept in d->line unless too long), 0 = end, -1 = error. */
static int read_line(dataset_t *d, line_info_t *li, errlist_t *errs)
{
    memset(li, 0, sizeof(*li));
    li->all_ws = true;
    d->line_len = 0;
    if (d->line) d->line[0] = '\0';
    bool got_any = false;
    for (;;) {
        if (d->rpos == d->rlen) {
            if (d->src_eof) {
                if (!got_any) return 0;
                break;
            }
            if (refill(d, errs) < 0) return -1;
            continue;
        }
        const unsigned char *start = d->rbuf + d->rpos;
        size_t avail = d->rlen - d->rpos;
        const unsigned char *nl = memchr(start, '\n', avail);
        size_t chunk = nl ? (size_t)(nl - start) : avail;
        got_any = true;
        if (chunk) {
            li->total += chunk;
            li->last = start[chunk - 1];
            if (!li->too_long && d->line_len + chunk <= d->max_line + 1) {
                keep_bytes(d, start, chunk);
            } else {
                if (!li->too_long) {
                    li->all_ws = all_ws((const unsigned char *)d->line, d->line_len);
                    li->too_long = true;
                    d->line_len = 0;
                }
                if (li->all_ws) li->all_ws = all_ws(start, chunk);
            }
        }
        d->rpos += chunk + (nl ? 1 : 0);
        if (nl) break;
    }
    if (li->total && li->last == '\r') {
        li->total--;
        if (!li->too_long) d->line[--d->line_len] = '\0';
    }
    if (!li->too_long) {
        li->all_ws = all_ws((const unsigned char *)d->line, d->line_len);
        if (d->line_len > d->max_line) li->too_long = true; /* the extra byte was not a CR */
    }
    return 1;
}

/* Offset of the first byte that breaks UTF-8 (overlongs, surrogates and > U+10FFFF included),
 * or -1 if the text is valid. */
static long utf8_invalid_at(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
        if (c >= 0xc2 && c <= 0xdf) need = 1;
        else if (c == 0xe0) {
            need = 2;
            lo = 0xa0;
        } else if (c >= 0xe1 && c <= 0xec) need = 2;
        else if (c == 0xed) {
            need = 2;
            hi = 0x9f;
        } else if (c >= 0xee && c <= 0xef) need = 2;
        else if (c == 0xf0) {
            need = 3;
            lo = 0x90;
        } else if (c >= 0xf1 && c <= 0xf3) need = 3;
        else if (c == 0xf4) {
            need = 3;
            hi = 0x8f;
        } else return (long)i;
        if (i + need >= n) return (long)i; /* cut short by the end of the line */
        if (s[i + 1] < lo || s[i + 1] > hi) return (long)i;
        for (size_t k = 2; k <= need; k++)
            if ((s[i + k] & 0xc0) != 0x80) return (long)i;
        i += need + 1;
    }
    return -1;
}

int dataset_next(dataset_t *d, record_t *out, errlist_t *errs)
{
    memset(out, 0, sizeof(*out));
    if (d->state != DS_READING) return (int)d->state == DS_END ? 0 : -1;
    for (;;) {
        line_info_t li;
        int rc = read_line(d, &li, errs);
        if (rc < 0) {
            d->state = DS_FAILED;
            return -1;
        }
        if (rc == 0) {
            d->state = DS_END;
            return 0;
        }
        d->lineno++;
        size_t lineno = (size_t)d->lineno;
        const char *text = d->line ? d->line : "";
        size_t len = d->line_len;
        if (d->lineno == 1 && !li.too_long && len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
            text += 3;
            len -= 3;
            li.all_ws = all_ws((const unsigned char *)text, len);
        }
        if (li.all_ws) continue; /* blank: no index */
        uint64_t index = d->lines++;
        if (li.too_long) {
            d->invalid++;
            errlist_add(errs, "%s:%zu: line is %llu bytes, longer than the limit of %zu", d->path, lineno,
                        (unsigned long long)li.total, d->max_line);
            continue;
        }
        long bad = utf8_invalid_at((const unsigned char *)text, len);
        if (bad >= 0) {
            d->invalid++;
            errlist_add(errs, "%s:%zu: not valid UTF-8 (byte 0x%02x at column %ld)", d->path, lineno,
                        (unsigned char)text[bad], bad + 1);
            continue;
        }
        if (record_parse_line(text, len, d->path, lineno, index, out, errs) < 0) {
            d->invalid++;
            continue;
        }
        return 1;
    }
}

/* A set of category strings, open addressing with FNV-1a. */
typedef struct {
    char **slots;
    size_t cap, n;
} strset_t;

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static void strset_add(strset_t *set, const char *s)
{
    if ((set->n + 1) * 10 > set->cap * 7) {
        size_t ncap = set->cap ? set->cap * 2 : 64;
        char **ns = xcalloc(ncap, sizeof(char *));
        for (size_t i = 0; i < set->cap; i++) {
            if (!set->slots[i]) continue;
            size_t j = (size_t)(fnv1a(set->slots[i]) & (ncap - 1));
            while (ns[j]) j = (j + 1) & (ncap - 1);
            ns[j] = set->slots[i];
        }
        free(set->slots);
        set->slots = ns;
        set->cap = ncap;
    }
    size_t j = (size_t)(fnv1a(s) & (set->cap - 1));
    while (set->slots[j]) {
        if (strcmp(set->slots[j], s) == 0) return;
        j = (j + 1) & (set->cap - 1);
    }
    set->slots[j] = xstrdup(s);
    set->n++;
}

static void strset_free(strset_t *set)
{
    for (size_t i = 0; i < set->cap; i++) free(set->slots[i]);
    free(set->slots);
    memset(set, 0, sizeof(*set));
}

int dataset_validate(const char *path, size_t max_line, errlist_t *errs, dataset_stats_t *st)
{
    memset(st, 0, sizeof(*st));
    char err[1024];
    dataset_t *d = dataset_open_capped(path, max_line, DATASET_MAX_BYTES_DEFAULT, err, sizeof(err));
    if (!d) {
        errlist_add(errs, "%s", err);
        return -1;
    }
    strset_t cats = {0};
    record_t r;
    int rc;
    while ((rc = dataset_next(d, &r, errs)) == 1) {
        st->records++;
        if (r.reference) st->with_reference++;
        if (r.context) st->with_context++;
        if (r.category) {
            st->with_category++;
            strset_add(&cats, r.category);
        }
        if (r.n_responses) {
            st->with_responses++;
            if (st->min_responses == 0 || r.n_responses < st->min_responses) st->min_responses = r.n_responses;
        }
        record_clear(&r);
    }
    st->lines = d->lines;
    st->invalid = d->invalid;
    st->categories = cats.n;
    strset_free(&cats);
    if (rc == 0 && st->records == 0) {
        if (st->lines == 0)
            errlist_add(errs, "%s: the dataset has no records (the file is empty or has only blank lines)", path);
        else
            errlist_add(errs, "%s: the dataset has no valid record (all %llu lines are invalid)", path,
                        (unsigned long long)st->lines);
        rc = -1;
    }
    dataset_close(&d);
    return rc < 0 ? -1 : 0;
}
