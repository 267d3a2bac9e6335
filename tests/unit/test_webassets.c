/* Unit test: webassets, the viewer's files compiled in. Every file of web/static/ is there, byte
 * for byte (compared with the source tree), with its content type and the ETag of its bytes;
 * the routes the service answers with them; If-None-Match; and webassets_mhd_answer in a real
 * libmicrohttpd server on 127.0.0.1, asked with libcurl. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <microhttpd.h>
#include <openssl/evp.h>

#include "buf.h"
#include "check.h"
#include "webassets.h"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *s = malloc(cap);
    size_t got;
    while ((got = fread(s + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) s = realloc(s, cap *= 2);
    }
    fclose(f);
    *len = n;
    return s;
}

static void test_files_match_the_tree(void)
{
    size_t n = 0;
    const webasset_t *all = webassets_list(&n);
    CHECK(n >= 4);
    const char *want[] = {"index.html", "viewer.css", "charts.js", "viewer.js"};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) CHECK(webassets_get(want[i]) != NULL);
    const char *src = getenv("LLMAJ_SRC");
    CHECK(src != NULL);
    for (size_t i = 0; src && i < n; i++) {
        const webasset_t *a = &all[i];
        char path[4096];
        snprintf(path, sizeof path, "%s/web/static/%s", src, a->name);
        size_t len = 0;
        char *bytes = slurp(path, &len);
        CHECK(bytes != NULL);
        CHECK(bytes && len == a->len && memcmp(bytes, a->data, len) == 0);
        CHECK(a->data[a->len] == '\0');
        /* ETag: the first 16 hex digits of the SHA-256 of the bytes, quoted. */
        unsigned char md[32];
        unsigned int mdlen = 0;
        char etag[24];
        CHECK(EVP_Digest(a->data, a->len, md, &mdlen, EVP_sha256(), NULL) == 1 && mdlen == 32);
        snprintf(etag, sizeof etag, "\"%02x%02x%02x%02x%02x%02x%02x%02x\"", md[0], md[1], md[2], md[3], md[4], md[5],
                 md[6], md[7]);
        CHECK_STR(a->etag, etag);
        free(bytes);
    }
    CHECK_STR(webassets_get("index.html")->content_type, "text/html; charset=utf-8");
    CHECK_STR(webassets_get("viewer.js")->content_type, "text/javascript; charset=utf-8");
    CHECK_STR(webassets_get("viewer.css")->content_type, "text/css; charset=utf-8");
    CHECK(webassets_get("nope.js") == NULL && webassets_get(NULL) == NULL);
}

static void test_routes(void)
{
    const webasset_t *page = webassets_get(WEBASSETS_PAGE);
    CHECK(webassets_route("/") == page);
    CHECK(webassets_route("/index.html") == page);
    CHECK(webassets_route("/jobs/j-20261129-0001") == page);
    CHECK(webassets_route("/jobs/j-1/") == page);
    CHECK(webassets_route("/assets/viewer.js") == webassets_get("viewer.js"));
    CHECK(webassets_route("/assets/viewer.css") == webassets_get("viewer.css"));
    const char *not_ours[] = {"",
                              "jobs/x",
                              "/jobs/",
                              "/jobs//",
                              "/jobs/a/b",
                              "/assets/",
                              "/assets/../x",
                              "/assets/sub/viewer.js",
                              "/assets/missing.js",
                              "/v1/jobs",
                              "/metrics",
                              "/healthz",
                              "/index.htm",
                              "//"};
    for (size_t i = 0; i < sizeof not_ours / sizeof *not_ours; i++) {
        if (webassets_route(not_ours[i]) != NULL) fprintf(stderr, "  routed: '%s'\n", not_ours[i]);
        CHECK(webassets_route(not_ours[i]) == NULL);
    }
    CHECK(webassets_route(NULL) == NULL);
}

static void test_not_modified(void)
{
    const webasset_t *a = webassets_get("viewer.js");
    char list[128], weak[64];
    snprintf(list, sizeof list, "\"abc\", %s", a->etag);
    snprintf(weak, sizeof weak, "W/%s", a->etag);
    CHECK(webassets_not_modified(a, a->etag));
    CHECK(webassets_not_modified(a, list));
    CHECK(webassets_not_modified(a, weak));
    CHECK(webassets_not_modified(a, "*"));
    CHECK(!webassets_not_modified(a, NULL));
    CHECK(!webassets_not_modified(a, ""));
    CHECK(!webassets_not_modified(a, "\"0000000000000000\""));
    CHECK(!webassets_not_modified(webassets_get("viewer.css"), a->etag));
}

/* ---- webassets_mhd_answer in a server ---- */

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                               const char *version, const char *upload, size_t *upload_size, void **state)
{
    (void)cls, (void)version, (void)upload, (void)upload_size, (void)state;
    int rc = webassets_mhd_answer(c, method, url);
    if (rc < 0) return MHD_NO;
    if (rc > 0) return MHD_YES;
    static const char body[] = "{\"errors\":[{\"key\":\"path\",\"message\":\"not the viewer's\"}]}";
    struct MHD_Response *r = MHD_create_response_from_buffer(sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result q = MHD_queue_response(c, MHD_HTTP_NOT_FOUND, r);
    MHD_destroy_response(r);
    return q;
}

typedef struct {
    buf_t body, headers;
} reply_t;

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    reply_t *r = arg;
    return buf_append(&r->body, p, size * n) == 0 ? size * n : 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    reply_t *r = arg;
    return buf_append(&r->headers, p, size * n) == 0 ? size * n : 0;
}

/* One request; the status, with body and headers in *r (caller frees). */
static long fetch(int port, const char *method, const char *path, const char *if_none_match, reply_t *r)
{
    buf_init(&r->body, 0);
    buf_init(&r->headers, 0);
    char url[256], inm[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    CURL *h = curl_easy_init();
    struct curl_slist *hs = NULL;
    if (if_none_match) {
        snprintf(inm, sizeof inm, "If-None-Match: %s", if_none_match);
        hs = curl_slist_append(hs, inm);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    if (!strcmp(method, "HEAD")) curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "GET")) curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    long status = -1;
    if (curl_easy_perform(h) == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hs);
    curl_easy_cleanup(h);
    return status;
}

static void reply_free(reply_t *r)
{
    buf_free(&r->body);
    buf_free(&r->headers);
}

static int has_header(const reply_t *r, const char *line)
{
    return r->headers.data && strcasestr(r->headers.data, line) != NULL;
}

static void test_served(void)
{
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, handler,
                                            NULL, MHD_OPTION_END);
    CHECK(d != NULL);
    if (!d) return;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    int port = info ? info->port : 0;
    const webasset_t *page = webassets_get(WEBASSETS_PAGE), *js = webassets_get("viewer.js");
    reply_t r;
    char etag[64];

    /* The page for / and /jobs/{id}; the exact bytes, type, ETag and the security headers. */
    const char *pages[] = {"/", "/jobs/j-20261129-0001", "/index.html"};
    for (size_t i = 0; i < 3; i++) {
        CHECK(fetch(port, "GET", pages[i], NULL, &r) == 200);
        CHECK(r.body.len == page->len && memcmp(r.body.data, page->data, page->len) == 0);
        CHECK(has_header(&r, "Content-Type: text/html; charset=utf-8\r\n"));
        snprintf(etag, sizeof etag, "ETag: %s\r\n", page->etag);
        CHECK(has_header(&r, etag));
        CHECK(has_header(&r, "Content-Security-Policy: " WEBASSETS_CSP "\r\n"));
        CHECK(has_header(&r, "X-Content-Type-Options: nosniff\r\n"));
        CHECK(has_header(&r, "Cache-Control: no-cache\r\n"));
        reply_free(&r);
    }
    CHECK(fetch(port, "GET", "/assets/viewer.js", NULL, &r) == 200);
    CHECK(r.body.len == js->len && has_header(&r, "Content-Type: text/javascript; charset=utf-8\r\n"));
    reply_free(&r);

    /* Revalidation: 304 without a body while the ETag matches. */
    CHECK(fetch(port, "GET", "/assets/viewer.js", js->etag, &r) == 304);
    CHECK(r.body.len == 0);
    reply_free(&r);
    CHECK(fetch(port, "GET", "/assets/viewer.js", "\"0000000000000000\"", &r) == 200);
    reply_free(&r);

    /* HEAD: headers only. Other methods: 405 with Allow. */
    CHECK(fetch(port, "HEAD", "/", NULL, &r) == 200);
    CHECK(r.body.len == 0 && has_header(&r, etag));
    reply_free(&r);
    CHECK(fetch(port, "POST", "/jobs/x", NULL, &r) == 405);
    CHECK(has_header(&r, "Allow: GET, HEAD\r\n"));
    reply_free(&r);

    /* Not the viewer's: left to the caller (here 404 with the API's error shape). */
    const char *others[] = {"/v1/jobs", "/assets/nope.js", "/jobs/a/b", "/metrics"};
    for (size_t i = 0; i < 4; i++) {
        CHECK(fetch(port, "GET", others[i], NULL, &r) == 404);
        CHECK(r.body.data && strstr(r.body.data, "not the viewer's"));
        reply_free(&r);
    }
    MHD_stop_daemon(d);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    test_files_match_the_tree();
    test_routes();
    test_not_modified();
    test_served();
    curl_global_cleanup();
    return check_summary("test_webassets");
}
