/* rstream: remote objects read a window at a time; see rstream.h.
 *
 * DESIGN. s3:// opens with HeadObject (size and ETag, and every error about the bucket, the key,
 * the region or the credentials before anything else is read), then fetches [off, off + window)
 * with s3_get_range and If-Match: ETag into one buffer that read() drains. https:// has no HEAD
 * (a presigned GET URL signs only GET): each window is one GET with Range, its body spooled to an
 * unlinked temporary file; a 206 gives the window and the total size (Content-Range), a 200 is
 * the whole object (the server ignores ranges) and the rest of the reading comes from the file. */
#define LOG_MODULE "aws"
#include "rstream.h"
#include "awshttp.h"
#include "log.h"
#include "mem.h"
#include "s3.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define HTTP_ATTEMPTS 3

struct rstream {
    char *uri;
    bool is_s3;
    size_t window;
    uint64_t size; /* total; 0 = not known (https before the first answer) */
    bool size_known;
    uint64_t off; /* next byte to fetch */
    uint64_t requests;
    bool eof;
    /* s3 */
    s3_t *s3;
    char *bucket, *key;
    char etag[80];
    buf_t win; /* the current window */
    size_t win_pos;
    /* https */
    awshttp_t *http;
    FILE *spool;      /* the current window's body (or the whole object) */
    bool whole;       /* the server ignored Range: the spool is the whole object */
    uint64_t spooled; /* body bytes of the current answer */
    /* bounds (rstream_opts_t) */
    const atomic_int *cancel;
    uint64_t max_bytes;
    const char *cut; /* why the sink stopped a transfer, or NULL */
};

static bool loopback_http(const char *uri)
{
    if (strncmp(uri, "http://", 7) != 0) return false;
    const char *h = uri + 7;
    return strncmp(h, "127.", 4) == 0 || strncmp(h, "localhost", 9) == 0 || strncmp(h, "[::1]", 5) == 0;
}

bool rstream_supports(const char *uri)
{
    return uri && (strncmp(uri, "s3://", 5) == 0 || strncmp(uri, "https://", 8) == 0 || loopback_http(uri));
}

void rstream_close(rstream_t **self_p)
{
    if (!self_p || !*self_p) return;
    rstream_t *r = *self_p;
    s3_destroy(&r->s3);
    awshttp_destroy(&r->http);
    if (r->spool) fclose(r->spool);
    buf_free(&r->win);
    free(r->bucket);
    free(r->key);
    free(r->uri);
    free(r);
    *self_p = NULL;
}

uint64_t rstream_size(const rstream_t *r) { return r->size_known ? r->size : 0; }
uint64_t rstream_requests(const rstream_t *r) { return r->requests; }

/* ---- https ---- */

/* The https body into the spool; stops the transfer when cancelled or past the cap. */
static int spool_sink(const void *data, size_t len, void *arg)
{
    rstream_t *r = arg;
    if (r->cancel && atomic_load(r->cancel)) {
        r->cut = "interrupted";
        return -1;
    }
    r->spooled += len;
    if (r->max_bytes && r->spooled > r->max_bytes) {
        r->cut = "larger than the cap (dataset_max_bytes)";
        return -1;
    }
    return fwrite(data, 1, len, r->spool) == len ? 0 : -1;
}

/* Whether a cancel was asked for; says so in err. */
static bool cancelled(rstream_t *r, char *err, size_t errlen)
{
    if (!r->cancel || !atomic_load(r->cancel)) return false;
    snprintf(err, errlen, "%s: interrupted", r->uri);
    return true;
}

/* "bytes A-B/TOTAL" -> TOTAL; false when absent or "*". */
static bool content_range_total(const char *v, uint64_t *total)
{
    const char *slash = v ? strchr(v, '/') : NULL;
    if (!slash || slash[1] == '*') return false;
    char *end;
    errno = 0;
    unsigned long long t = strtoull(slash + 1, &end, 10);
    if (errno || end == slash + 1) return false;
    *total = t;
    return true;
}

/* Fetches the next window into the spool. 0, or -1 with err. */
static int http_window(rstream_t *r, char *err, size_t errlen)
{
    char where[300];
    awshttp_url_for_log(r->uri, where, sizeof where);
    for (int attempt = 1;; attempt++) {
        if (!r->spool) r->spool = tmpfile();
        if (!r->spool) {
            snprintf(err, errlen, "%s: cannot create a temporary file: %s", where, strerror(errno));
            return -1;
        }
        rewind(r->spool);
        r->spooled = 0;
        if (cancelled(r, err, errlen)) return -1;
        if (ftruncate(fileno(r->spool), 0) < 0) {
            snprintf(err, errlen, "%s: cannot reuse the temporary file: %s", where, strerror(errno));
            return -1;
        }
        httpmsg_headers_t hd;
        httpmsg_headers_init(&hd);
        char range[64];
        snprintf(range, sizeof range, "bytes=%" PRIu64 "-%" PRIu64, r->off, r->off + r->window - 1);
        httpmsg_headers_add(&hd, "Range", range);
        awshttp_req_t q = {.method = "GET",
                           .url = r->uri,
                           .headers = &hd,
                           .timeout_ms = 600000,
                           .connect_timeout_ms = 10000,
                           .sink = spool_sink,
                           .sink_arg = r,
                           .cancel = r->cancel,
                           .max_body = 64 * 1024};
        awshttp_resp_t resp;
        int sent = awshttp_do(r->http, &q, &resp);
        httpmsg_headers_clear(&hd);
        r->requests++;
        bool retry = false;
        int rc = -1;
        if (sent < 0 && resp.sink_failed && r->cut) {
            snprintf(err, errlen, "%s: %s", where, r->cut);
        } else if (sent < 0 && resp.cancelled) {
            snprintf(err, errlen, "%s: interrupted", where);
        } else if (sent < 0) {
            snprintf(err, errlen, "%s: %s", where, resp.error);
            retry = !resp.sink_failed;
        } else if (resp.status == 206) {
            uint64_t total;
            if (!content_range_total(httpmsg_headers_get(&resp.headers, "Content-Range"), &total)) {
                snprintf(err, errlen, "%s: a 206 answer without a usable Content-Range", where);
            } else {
                r->size = total;
                r->size_known = true;
                rc = 0;
            }
        } else if (resp.status == 200) {
            if (r->off != 0) {
                snprintf(err, errlen, "%s: the server stopped honouring byte ranges at offset %" PRIu64, where, r->off);
            } else {
                r->whole = true;
                rc = 0;
            }
        } else if (resp.status == 416 && r->size_known && r->off >= r->size) {
            r->eof = true;
            rc = 0;
        } else if (resp.status == 416 && r->off == 0) {
            r->size = 0; /* an empty object */
            r->size_known = true;
            rc = 0;
        } else {
            snprintf(err, errlen, "%s: HTTP %ld%s", where, resp.status,
                     resp.status == 403   ? " (access denied: an expired or wrong presigned URL?)"
                     : resp.status == 404 ? " (no such file)"
                                          : "");
            retry = resp.status >= 500 || resp.status == 429;
        }
        awshttp_resp_clear(&resp);
        if (rc == 0) {
            fflush(r->spool);
            rewind(r->spool);
            return 0;
        }
        if (!retry || attempt >= HTTP_ATTEMPTS) return -1;
        log_info("%s; retrying (attempt %d of %d)", err, attempt + 1, HTTP_ATTEMPTS);
        usleep((useconds_t)(250000 * attempt));
    }
}

/* ---- open / read ---- */

rstream_t *rstream_open(const char *uri, const rstream_opts_t *o, char *err, size_t errlen)
{
    if (!rstream_supports(uri)) {
        snprintf(err, errlen, "`%s`: only s3://, https:// (and http:// to this machine) are read remotely",
                 uri ? uri : "");
        return NULL;
    }
    rstream_t *r = xcalloc(1, sizeof(*r));
    r->uri = xstrdup(uri);
    r->window = o && o->window ? o->window : RSTREAM_WINDOW_DEFAULT;
    r->cancel = o ? o->cancel : NULL;
    r->max_bytes = o ? o->max_bytes : 0;
    buf_init(&r->win, 0);
    if (strncmp(uri, "s3://", 5) == 0) {
        r->is_s3 = true;
        if (s3_uri_parse(uri, false, &r->bucket, &r->key, err, errlen) < 0) goto fail;
        s3_opts_t so = {.region = o ? o->region : NULL, .profile = o ? o->profile : NULL, .path_style = -1};
        r->s3 = s3_new(&so, err, errlen);
        if (!r->s3) goto fail;
        s3_object_t obj;
        s3_err_t e;
        if (s3_head(r->s3, r->bucket, r->key, &obj, &e) < 0) {
            snprintf(err, errlen, "%s", e.msg);
            goto fail;
        }
        r->size = obj.size;
        r->size_known = true;
        snprintf(r->etag, sizeof r->etag, "%s", obj.etag);
        r->requests++;
    } else {
        r->http = awshttp_new();
        if (http_window(r, err, errlen) < 0) goto fail;
    }
    return r;
fail:
    rstream_close(&r);
    return NULL;
}

long rstream_read(rstream_t *r, void *buf, size_t n, char *err, size_t errlen)
{
    if (n == 0) return 0;
    if (cancelled(r, err, errlen)) return -1;
    if (r->is_s3) {
        if (r->win_pos == r->win.len) {
            if (r->off >= r->size) return 0;
            buf_reset(&r->win);
            r->win_pos = 0;
            uint64_t len = r->size - r->off < r->window ? r->size - r->off : r->window;
            s3_err_t e;
            if (s3_get_range(r->s3, r->bucket, r->key, r->off, len, r->etag[0] ? r->etag : NULL, &r->win, &e) < 0) {
                snprintf(err, errlen, "%s", e.msg);
                return -1;
            }
            r->requests++;
            if (r->win.len != len) {
                snprintf(err, errlen, "%s: asked for %" PRIu64 " bytes at offset %" PRIu64 ", got %zu", r->uri, len,
                         r->off, r->win.len);
                return -1;
            }
            r->off += len;
        }
        size_t k = r->win.len - r->win_pos;
        if (k > n) k = n;
        memcpy(buf, r->win.data + r->win_pos, k);
        r->win_pos += k;
        return (long)k;
    }
    for (;;) {
        if (r->eof) return 0;
        size_t got = fread(buf, 1, n, r->spool);
        if (got > 0) {
            if (!r->whole) r->off += got;
            return (long)got;
        }
        if (ferror(r->spool)) {
            snprintf(err, errlen, "%s: cannot read the temporary file", r->uri);
            return -1;
        }
        if (r->whole || (r->size_known && r->off >= r->size)) {
            r->eof = true;
            return 0;
        }
        if (http_window(r, err, errlen) < 0) return -1;
    }
}

static long src_read(void *ctx, void *buf, size_t n, char *err, size_t errlen)
{
    return rstream_read(ctx, buf, n, err, errlen);
}

static void src_close(void *ctx)
{
    rstream_t *r = ctx;
    rstream_close(&r);
}

dataset_source_t rstream_dataset_source(rstream_t *r)
{
    return (dataset_source_t){.read = src_read, .close = src_close, .ctx = r};
}
