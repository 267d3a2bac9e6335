/* test_rstream: remote datasets read a window at a time: s3:// (a gzip dataset streamed through
 * dataset_open_source with a small window, counting the ranged requests; the errors S3 gives at
 * open; an object replaced while read), http(s):// with and without Range support, and its errors. */
#include "mem.h"
#include "rstream.h"
#include "s3.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "awstest.h"
#include "check.h"

static char dir[] = "/tmp/test_rstream.XXXXXX";
static char *blob;
static size_t blob_len;

/* A static file server: /ranged honours Range, /whole ignores it, anything else is 404. */
static enum MHD_Result serve(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                             const char *version, const char *upload, size_t *upload_size, void **ctx)
{
    (void)cls, (void)method, (void)version, (void)upload, (void)upload_size;
    if (!*ctx) {
        *ctx = (void *)1;
        return MHD_YES;
    }
    struct MHD_Response *r;
    enum MHD_Result ret;
    if (strcmp(url, "/ranged") != 0 && strcmp(url, "/whole") != 0) {
        r = MHD_create_response_from_buffer(9, "not found", MHD_RESPMEM_PERSISTENT);
        ret = MHD_queue_response(c, 404, r);
        MHD_destroy_response(r);
        return ret;
    }
    const char *range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Range");
    unsigned long long a, b;
    if (strcmp(url, "/ranged") == 0 && range && sscanf(range, "bytes=%llu-%llu", &a, &b) == 2 && a < blob_len) {
        if (b >= blob_len) b = blob_len - 1;
        r = MHD_create_response_from_buffer((size_t)(b - a + 1), blob + a, MHD_RESPMEM_PERSISTENT);
        char cr[96];
        snprintf(cr, sizeof cr, "bytes %llu-%llu/%zu", a, b, blob_len);
        MHD_add_response_header(r, "Content-Range", cr);
        ret = MHD_queue_response(c, 206, r);
    } else {
        r = MHD_create_response_from_buffer(blob_len, blob, MHD_RESPMEM_PERSISTENT);
        ret = MHD_queue_response(c, 200, r);
    }
    MHD_destroy_response(r);
    return ret;
}

/* n JSONL records, gzip-compressed, into blob. */
static void make_blob(int n, size_t *plain_len)
{
    buf_t t;
    buf_init(&t, 0);
    for (int i = 0; i < n; i++)
        if (buf_printf(&t, "{\"prompt\":\"question %d about %08x\",\"id\":\"r%d\"}\n", i, (unsigned)(i * 2654435761u),
                       i) < 0)
            abort();
    *plain_len = t.len;
    uLongf cap = compressBound(t.len) + 64;
    blob = xmalloc(cap);
    z_stream z = {0};
    CHECK(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    z.next_in = (Bytef *)t.data;
    z.avail_in = (uInt)t.len;
    z.next_out = (Bytef *)blob;
    z.avail_out = (uInt)cap;
    CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END);
    blob_len = z.total_out;
    deflateEnd(&z);
    buf_free(&t);
}

/* Reads every record of uri; returns the count (-1 on a read error, message in errs). */
static long count_records(const char *uri, const rstream_opts_t *o, errlist_t *errs)
{
    char err[1024];
    rstream_t *r = rstream_open(uri, o, err, sizeof err);
    if (!r) {
        errlist_add(errs, "%s", err);
        return -1;
    }
    dataset_t *d = dataset_open_source(uri, rstream_dataset_source(r), 0, err, sizeof err);
    record_t rec;
    long n = 0;
    int rc;
    while ((rc = dataset_next(d, &rec, errs)) == 1) {
        n++;
        record_clear(&rec);
    }
    dataset_close(&d);
    return rc < 0 ? -1 : n;
}

static void test_s3_stream(void)
{
    s3_opts_t so = {.region = "us-east-1", .path_style = -1};
    char err[512];
    s3_t *s = s3_new(&so, err, sizeof err);
    s3_err_t e;
    CHECK(s3_put(s, "data", "sets/gen_qa.jsonl.gz", blob, blob_len, "application/gzip", &e) == 0);
    /* window of 64 KiB: the dataset comes in many ranged GETs, never whole */
    rstream_opts_t o = {.region = "us-east-1", .window = 64 * 1024};
    rstream_t *r = rstream_open("s3://data/sets/gen_qa.jsonl.gz", &o, err, sizeof err);
    CHECK(r != NULL);
    if (r) {
        CHECK(rstream_size(r) == blob_len);
        char buf[10000];
        size_t total = 0;
        long got;
        while ((got = rstream_read(r, buf, sizeof buf, err, sizeof err)) > 0) total += (size_t)got;
        CHECK(got == 0 && total == blob_len);
        CHECK(rstream_requests(r) == 1 + (blob_len + o.window - 1) / o.window); /* HEAD + one GET a window */
        rstream_close(&r);
    }
    errlist_t errs;
    errlist_init(&errs, 0);
    CHECK(count_records("s3://data/sets/gen_qa.jsonl.gz", &o, &errs) == 20000);
    CHECK(errs.count == 0);
    errlist_free(&errs);
    /* errors at open, before anything is read */
    struct {
        const char *uri, *want;
    } bad[] = {
        {"s3://data/sets/missing.jsonl", "HeadObject s3://data/sets/missing.jsonl: HTTP 404"},
        {"s3://nosuch-bucket/x.jsonl", "HTTP 404"},
        {"s3://locked/x.jsonl", "HTTP 403"},
        {"s3://euro/x.jsonl", "the bucket euro is in region eu-west-1, but this job's region is us-east-1"},
        {"s3://data", "names a bucket but no object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(rstream_open(bad[i].uri, &o, err, sizeof err) == NULL);
        CHECK_HAS(err, bad[i].want);
    }
    /* the object replaced halfway: an error, not a mix of two versions */
    r = rstream_open("s3://data/sets/gen_qa.jsonl.gz", &o, err, sizeof err);
    char buf[4096];
    CHECK(r && rstream_read(r, buf, sizeof buf, err, sizeof err) > 0);
    CHECK(s3_put(s, "data", "sets/gen_qa.jsonl.gz", "{}\n", 3, NULL, &e) == 0);
    long got = 0;
    while (r && (got = rstream_read(r, buf, sizeof buf, err, sizeof err)) > 0) {}
    CHECK(got == -1);
    CHECK_HAS(err, "the object changed while it was being read");
    rstream_close(&r);
    CHECK(rstream_open("ftp://x/y", &o, err, sizeof err) == NULL);
    CHECK_HAS(err, "only s3://, https://");
    CHECK(!rstream_supports("http://example.com/x") && rstream_supports("http://127.0.0.1:8/x") &&
          rstream_supports("https://example.com/x"));
    s3_destroy(&s);
}

static void test_http_stream(void)
{
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, serve, NULL,
                                            MHD_OPTION_END);
    CHECK(d != NULL);
    if (!d) return;
    int port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
    char url[128], err[512];
    rstream_opts_t o = {.window = 50 * 1024};
    errlist_t errs;
    errlist_init(&errs, 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/ranged", port);
    CHECK(count_records(url, &o, &errs) == 20000);
    rstream_t *r = rstream_open(url, &o, err, sizeof err);
    CHECK(r && rstream_size(r) == blob_len);
    char buf[65536];
    while (r && rstream_read(r, buf, sizeof buf, err, sizeof err) > 0) {}
    CHECK(r && rstream_requests(r) == (blob_len + o.window - 1) / o.window);
    rstream_close(&r);
    /* a server that ignores Range: the whole body is spooled to a file, read from there */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/whole", port);
    CHECK(count_records(url, &o, &errs) == 20000);
    CHECK(errs.count == 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/missing.jsonl", port);
    CHECK(rstream_open(url, &o, err, sizeof err) == NULL);
    CHECK_HAS(err, "HTTP 404 (no such file)");
    errlist_free(&errs);
    MHD_stop_daemon(d);
}

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    size_t plain = 0;
    make_blob(20000, &plain);
    CHECK(blob_len > 200 * 1024); /* several windows */
    mock_opts_t mo;
    mock_opts_default(&mo);
    mo.aws_buckets = "data,locked,euro:eu-west-1";
    mo.aws_deny = "locked";
    mo.log_level = LOG_WARN;
    mock_t *m = awstest_mock(&mo);
    CHECK(m != NULL);
    if (!m) return check_summary("test_rstream");
    awstest_env(m, dir);
    test_s3_stream();
    test_http_stream();
    mock_destroy(&m);
    awscreds_forget();
    free(blob);
    rmdir(dir);
    return check_summary("test_rstream");
}
