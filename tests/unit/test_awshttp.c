/* test_awshttp: the blocking exchange against a stand-in server (methods, headers, bodies, the
 * buffered-body cap, 2xx bodies to a sink and error bodies buffered, transport errors), SigV4
 * signing of a request as a verifier checks it, and the helpers. */
#include "awshttp.h"
#include "mem.h"
#include "sigv4_verify.h"

#include <microhttpd.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

typedef struct {
    buf_t body;
} rq_t;

static char last_method[16], last_hdr[128], last_body[64];

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                               const char *version, const char *upload, size_t *upload_size, void **ctx)
{
    (void)cls, (void)version;
    rq_t *r = *ctx;
    if (!r) {
        r = xcalloc(1, sizeof(*r));
        buf_init(&r->body, 1 << 20);
        *ctx = r;
        return MHD_YES;
    }
    if (*upload_size) {
        if (buf_append(&r->body, upload, *upload_size) < 0) return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    snprintf(last_method, sizeof last_method, "%s", method);
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Test");
    snprintf(last_hdr, sizeof last_hdr, "%s", h ? h : "");
    snprintf(last_body, sizeof last_body, "%.*s", (int)(r->body.len < 60 ? r->body.len : 60),
             r->body.data ? r->body.data : "");
    int status = 200;
    size_t n = 5;
    if (strcmp(url, "/big") == 0) n = 100000;
    if (strcmp(url, "/missing") == 0) status = 404;
    char *data = xmalloc(n);
    memset(data, 'x', n);
    if (status == 404) memcpy(data, "nope!", 5);
    struct MHD_Response *resp = MHD_create_response_from_buffer(n, data, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "X-Reply", "yes");
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void done(void *cls, struct MHD_Connection *c, void **ctx, enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    rq_t *r = *ctx;
    if (r) {
        buf_free(&r->body);
        free(r);
    }
    *ctx = NULL;
}

static int lookup(void *ctx, const char *ak, char *secret, size_t size)
{
    (void)ctx;
    if (strcmp(ak, "AKIDHTTP") != 0) return -1;
    snprintf(secret, size, "secret-http");
    return 0;
}

static size_t sunk;
static int sink(const void *d, size_t n, void *arg)
{
    (void)d;
    sunk += n;
    return arg ? -1 : 0;
}

int main(void)
{
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handler, NULL,
                                            MHD_OPTION_NOTIFY_COMPLETED, done, NULL, MHD_OPTION_END);
    CHECK(d != NULL);
    if (!d) return check_summary("test_awshttp");
    int port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
    char base[64], url[128];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
    awshttp_t *h = awshttp_new();
    httpmsg_headers_t hd;
    httpmsg_headers_init(&hd);
    httpmsg_headers_add(&hd, "X-Test", "hello");
    const char *methods[] = {"GET", "PUT", "POST", "DELETE", "HEAD"};
    for (int i = 0; i < 5; i++) {
        snprintf(url, sizeof url, "%s/x", base);
        bool body = i == 1 || i == 2;
        awshttp_req_t q = {.method = methods[i],
                           .url = url,
                           .headers = &hd,
                           .body = body ? "payload" : NULL,
                           .body_len = body ? 7 : 0};
        awshttp_resp_t r;
        CHECK(awshttp_do(h, &q, &r) == 0);
        CHECK(r.status == 200);
        CHECK_STR(last_method, methods[i]);
        CHECK_STR(last_hdr, "hello");
        CHECK_STR(last_body, body ? "payload" : "");
        CHECK_STR(httpmsg_headers_get(&r.headers, "X-Reply"), "yes");
        CHECK(r.body.len == (i == 4 ? 0u : 5u));
        awshttp_resp_clear(&r);
    }
    /* the cap on a buffered body */
    snprintf(url, sizeof url, "%s/big", base);
    awshttp_req_t q = {.method = "GET", .url = url, .max_body = 1000};
    awshttp_resp_t r;
    CHECK(awshttp_do(h, &q, &r) == -1 && r.too_large);
    CHECK_HAS(r.error, "larger than 1000 bytes");
    awshttp_resp_clear(&r);
    /* a 2xx body goes to the sink, whatever its size; the sink may stop it */
    q.sink = sink;
    sunk = 0;
    CHECK(awshttp_do(h, &q, &r) == 0 && sunk == 100000 && r.body.len == 0);
    awshttp_resp_clear(&r);
    q.sink_arg = &sunk;
    CHECK(awshttp_do(h, &q, &r) == -1 && r.sink_failed);
    awshttp_resp_clear(&r);
    /* an error body is buffered, not sunk */
    snprintf(url, sizeof url, "%s/missing", base);
    q.sink_arg = NULL;
    sunk = 0;
    CHECK(awshttp_do(h, &q, &r) == 0 && r.status == 404 && sunk == 0 && r.body.len == 5);
    awshttp_resp_clear(&r);
    /* no server: a transport error naming the URL without its password */
    awshttp_req_t qx = {.method = "GET", .url = "http://user:pw@127.0.0.1:1/x", .connect_timeout_ms = 2000};
    CHECK(awshttp_do(h, &qx, &r) == -1 && r.status == 0);
    CHECK_HAS(r.error, "GET http://127.0.0.1:1/x:");
    CHECK(strstr(r.error, "pw") == NULL);
    awshttp_resp_clear(&r);

    /* signing: the verifier accepts it; an earlier signature's headers are replaced, not doubled */
    setenv("AWS_ACCESS_KEY_ID", "AKIDHTTP", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "secret-http", 1);
    setenv("AWS_SESSION_TOKEN", "tok-http", 1);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    char err[512];
    awscreds_t *c = awscreds_new(NULL, err, sizeof err);
    CHECK(c != NULL);
    httpmsg_headers_t sh;
    httpmsg_headers_init(&sh);
    httpmsg_headers_add(&sh, "Content-Type", "application/json");
    for (int i = 0; i < 2; i++)
        CHECK(awshttp_sign(c, "eu-west-1", "s3", "PUT", "https://b.s3.eu-west-1.amazonaws.com/a%20b", &sh, "{}", 2,
                           true, err, sizeof err) == 0);
    size_t auths = 0;
    sigv4_header_t vh[16];
    size_t nv = 0;
    for (size_t i = 0; i < sh.n && nv < 15; i++) {
        if (strcasecmp(sh.v[i].name, "Authorization") == 0) auths++;
        vh[nv++] = (sigv4_header_t){sh.v[i].name, sh.v[i].value};
    }
    vh[nv++] = (sigv4_header_t){"Host", "b.s3.eu-west-1.amazonaws.com"};
    CHECK(auths == 1);
    CHECK_STR(httpmsg_headers_get(&sh, "X-Amz-Security-Token"), "tok-http");
    CHECK(httpmsg_headers_get(&sh, "X-Amz-Content-Sha256") != NULL);
    sigv4_verify_opts_t vo = {.lookup = lookup, .region = "eu-west-1", .service = "s3"};
    char why[256];
    CHECK(sigv4_verify(&vo, "PUT", "/a%20b", vh, nv, "{}", 2, NULL, why, sizeof why) == SIGV4_OK);
    awscreds_destroy(&c);
    httpmsg_headers_clear(&sh);
    httpmsg_headers_clear(&hd);

    buf_t b;
    buf_init(&b, 0);
    CHECK(awshttp_encode(&b, "a b/c~d:é", true) == 0);
    CHECK_STR(b.data, "a%20b/c~d%3A%C3%A9");
    buf_reset(&b);
    CHECK(awshttp_encode(&b, "a/b", false) == 0);
    CHECK_STR(b.data, "a%2Fb");
    buf_free(&b);
    char lg[64];
    awshttp_url_for_log("https://u:p@h/x?y", lg, sizeof lg);
    CHECK_STR(lg, "https://h/x?y");
    awshttp_destroy(&h);
    awscreds_forget();
    MHD_stop_daemon(d);
    return check_summary("test_awshttp");
}
