/* test_httpd: the exposition helpers (names, escaping, values, bounds), address parsing, and a
 * real server on an ephemeral port spoken to over HTTP with libcurl: /metrics, /healthz, /readyz
 * in both states, 404, 405, 413, HEAD, a failing metrics callback, the connection limit. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <math.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "httpd.h"
#include "check.h"

/* ---- exposition helpers ---- */

static void test_exposition(void)
{
    buf_t b;
    buf_init(&b, 0);
    CHECK(httpd_family(&b, "llmaj_x_total", HTTPD_COUNTER, "Things done.\nSecond line with a \\ backslash") == 0);
    CHECK(strcmp(b.data, "# HELP llmaj_x_total Things done.\\nSecond line with a \\\\ backslash\n"
                         "# TYPE llmaj_x_total counter\n") == 0);
    buf_reset(&b);

    /* Label values: backslash, double quote and newline are escaped; anything else is kept. */
    const char *labels[] = {"path", "C:\\dir\\\"q\"\nnext", "model", "openai/gpt-4o é", NULL};
    CHECK(httpd_sample_u64(&b, "llmaj_calls_total", labels, 42) == 0);
    CHECK(strcmp(b.data, "llmaj_calls_total{path=\"C:\\\\dir\\\\\\\"q\\\"\\nnext\",model=\"openai/gpt-4o é\"} 42\n") ==
          0);
    buf_reset(&b);

    /* Values. */
    CHECK(httpd_sample(&b, "g", NULL, 3) == 0);
    CHECK(httpd_sample(&b, "g", NULL, -2) == 0);
    CHECK(httpd_sample(&b, "g", NULL, 1.5) == 0);
    CHECK(httpd_sample(&b, "g", NULL, NAN) == 0);
    CHECK(httpd_sample(&b, "g", NULL, INFINITY) == 0);
    CHECK(httpd_sample(&b, "g", NULL, -INFINITY) == 0);
    CHECK(httpd_sample(&b, "g", NULL, 0.1) == 0);
    CHECK(httpd_sample_u64(&b, "c", NULL, UINT64_MAX) == 0);
    const char *empty_labels[] = {NULL};
    CHECK(httpd_sample(&b, "g", empty_labels, 7) == 0);
    CHECK(strcmp(b.data, "g 3\ng -2\ng 1.5\ng NaN\ng +Inf\ng -Inf\ng 0.10000000000000001\n"
                         "c 18446744073709551615\ng 7\n") == 0);
    CHECK(strtod("0.10000000000000001", NULL) == 0.1); /* %.17g round-trips */
    buf_reset(&b);

    /* Whole families. */
    CHECK(httpd_counter(&b, "llmaj_a_total", "A.", 5) == 0);
    CHECK(httpd_gauge(&b, "llmaj_b", "B.", 0.25) == 0);
    CHECK(strcmp(b.data, "# HELP llmaj_a_total A.\n# TYPE llmaj_a_total counter\nllmaj_a_total 5\n"
                         "# HELP llmaj_b B.\n# TYPE llmaj_b gauge\nllmaj_b 0.25\n") == 0);
    buf_reset(&b);

    /* Names outside the format's grammar are refused. */
    CHECK(httpd_family(&b, "1abc", HTTPD_GAUGE, "x") < 0);
    CHECK(httpd_family(&b, "a-b", HTTPD_GAUGE, "x") < 0);
    CHECK(httpd_family(&b, "", HTTPD_GAUGE, "x") < 0);
    CHECK(httpd_sample(&b, "a b", NULL, 1) < 0);
    CHECK(httpd_family(&b, "ns:sub_metric", HTTPD_GAUGE, "colons are fine in metric names") == 0);
    const char *bad_label[] = {"a:b", "v", NULL};
    CHECK(httpd_sample(&b, "m", bad_label, 1) < 0);
    const char *reserved[] = {"__name__", "v", NULL};
    CHECK(httpd_sample(&b, "m", reserved, 1) < 0);
    const char *digit_first[] = {"9x", "v", NULL};
    CHECK(httpd_sample(&b, "m", digit_first, 1) < 0);
    const char *odd[] = {"k", NULL};
    CHECK(httpd_sample(&b, "m", odd, 1) < 0);
    const char *ok_label[] = {"_k9", "", NULL};
    buf_reset(&b);
    CHECK(httpd_sample(&b, "m", ok_label, 1) == 0);
    CHECK(strcmp(b.data, "m{_k9=\"\"} 1\n") == 0);
    buf_free(&b);

    /* A full buffer is an error, not a truncated success. */
    buf_init(&b, 20);
    CHECK(httpd_counter(&b, "llmaj_long_name_total", "help", 1) < 0);
    buf_free(&b);
}

/* ---- address parsing (errors are found before anything listens) ---- */

static void test_bad_addresses(void)
{
    char err[256];
    static const char *bad[] = {
        "",     "abc",    ":",       "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:+80",
        ":80x", "::1:80", "[::1:80", "[::1]80",    "[]:80",           "99999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        httpd_t *h = httpd_start(bad[i], NULL, NULL, NULL, err, sizeof err);
        CHECK(h == NULL);
        if (h) httpd_stop(&h);
        CHECK(strstr(err, "metrics address") != NULL);
    }
    httpd_t *h = httpd_start(NULL, NULL, NULL, NULL, err, sizeof err);
    CHECK(h == NULL);
    CHECK(strstr(err, "empty") != NULL);
    httpd_stop(NULL);
    httpd_t *none = NULL;
    httpd_stop(&none);
    CHECK(none == NULL);
}

/* ---- a real server ---- */

typedef struct {
    atomic_int ready;
    atomic_int fail_metrics;
    atomic_int metrics_calls;
} state_t;

static int metrics_cb(buf_t *out, void *arg)
{
    state_t *s = arg;
    int n = atomic_fetch_add(&s->metrics_calls, 1) + 1;
    if (atomic_load(&s->fail_metrics)) return -1;
    const char *labels[] = {"model", "a\"b\\c\nd", NULL};
    if (httpd_counter(out, "llmaj_test_scrapes_total", "Scrapes served.", (uint64_t)n) < 0 ||
        httpd_family(out, "llmaj_test_calls_total", HTTPD_COUNTER, "Calls by model.") < 0 ||
        httpd_sample_u64(out, "llmaj_test_calls_total", labels, 3) < 0)
        return -1;
    return 0;
}

static bool ready_cb(void *arg, char *reason, size_t len)
{
    state_t *s = arg;
    if (atomic_load(&s->ready)) return true;
    snprintf(reason, len, "not connected to a broker yet");
    return false;
}

static long g_timeout_s = 30;

typedef struct {
    long status;
    char ctype[128];
    char allow[128];
    buf_t body;
    CURLcode rc;
} resp_t;

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    resp_t *r = arg;
    return buf_append(&r->body, p, size * n) == 0 ? size * n : 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    resp_t *r = arg;
    size_t len = size * n;
    if (len > 6 && strncasecmp(p, "Allow:", 6) == 0) {
        size_t k = len - 6;
        if (k >= sizeof r->allow) k = sizeof r->allow - 1;
        const char *v = p + 6;
        while (k && *v == ' ') {
            v++;
            k--;
        }
        memcpy(r->allow, v, k);
        r->allow[k] = '\0';
        while (k && (r->allow[k - 1] == '\r' || r->allow[k - 1] == '\n' || r->allow[k - 1] == ' '))
            r->allow[--k] = '\0';
    }
    return len;
}

/* One request; method "HEAD" sends HEAD, any other non-GET a custom method; `body` makes it carry one. */
static void http(const char *method, const char *base, const char *path, const char *body, const char *header,
                 resp_t *r)
{
    memset(r, 0, sizeof(*r));
    buf_init(&r->body, 1u << 20);
    char url[512];
    snprintf(url, sizeof url, "%s%s", base, path);
    CURL *c = curl_easy_init();
    struct curl_slist *hl = header ? curl_slist_append(NULL, header) : NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_TIMEOUT, g_timeout_s);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    if (hl) curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    if (strcmp(method, "HEAD") == 0) curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "GET") != 0) curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    if (body && strcmp(method, "GET") == 0) curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "GET");
    r->rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    char *ct = NULL;
    if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
        snprintf(r->ctype, sizeof r->ctype, "%s", ct);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
}

/* Reads one whole /healthz reply (headers, then the body "ok\n") from a raw socket. */
static int read_reply(int fd, char *out, size_t cap)
{
    size_t len = 0;
    while (len + 1 < cap) {
        ssize_t n = read(fd, out + len, cap - 1 - len);
        if (n <= 0) return -1;
        len += (size_t)n;
        out[len] = '\0';
        const char *end = strstr(out, "\r\n\r\n");
        if (end && strcmp(end + 4, "ok\n") == 0) return 0;
    }
    return -1;
}

static const char *body_of(const resp_t *r) { return r->body.data ? r->body.data : ""; }

static void test_server(void)
{
    state_t st;
    atomic_init(&st.ready, 0);
    atomic_init(&st.fail_metrics, 0);
    atomic_init(&st.metrics_calls, 0);
    char err[256] = "";
    httpd_t *h = httpd_start("127.0.0.1:0", metrics_cb, ready_cb, &st, err, sizeof err);
    CHECK(h != NULL);
    if (!h) {
        fprintf(stderr, "httpd_start: %s\n", err);
        return;
    }
    int port = httpd_port(h);
    CHECK(port > 0 && port < 65536);
    char want[64];
    snprintf(want, sizeof want, "http://127.0.0.1:%d", port);
    CHECK(strcmp(httpd_url(h), want) == 0);
    const char *base = httpd_url(h);
    resp_t r;

    /* /metrics: the callback's exposition, escaped, with the exposition content type. */
    http("GET", base, "/metrics", NULL, NULL, &r);
    CHECK(r.rc == CURLE_OK);
    CHECK(r.status == 200);
    CHECK(strncmp(r.ctype, "text/plain; version=0.0.4", 25) == 0);
    CHECK(strcmp(body_of(&r), "# HELP llmaj_test_scrapes_total Scrapes served.\n"
                              "# TYPE llmaj_test_scrapes_total counter\n"
                              "llmaj_test_scrapes_total 1\n"
                              "# HELP llmaj_test_calls_total Calls by model.\n"
                              "# TYPE llmaj_test_calls_total counter\n"
                              "llmaj_test_calls_total{model=\"a\\\"b\\\\c\\nd\"} 3\n") == 0);
    buf_free(&r.body);
    http("GET", base, "/metrics", NULL, NULL, &r);
    CHECK(r.status == 200 && strstr(body_of(&r), "llmaj_test_scrapes_total 2\n") != NULL);
    buf_free(&r.body);

    /* A query string does not change the route. */
    http("GET", base, "/metrics?name[]=x", NULL, NULL, &r);
    CHECK(r.status == 200 && strstr(body_of(&r), "llmaj_test_scrapes_total 3\n") != NULL);
    buf_free(&r.body);

    /* HEAD: the status and headers, no body. */
    http("HEAD", base, "/metrics", NULL, NULL, &r);
    CHECK(r.rc == CURLE_OK && r.status == 200);
    CHECK(r.body.len == 0);
    CHECK(strncmp(r.ctype, "text/plain; version=0.0.4", 25) == 0);
    buf_free(&r.body);

    /* /healthz. */
    http("GET", base, "/healthz", NULL, NULL, &r);
    CHECK(r.status == 200);
    CHECK(strcmp(body_of(&r), "ok\n") == 0);
    buf_free(&r.body);

    /* /readyz, both states. */
    http("GET", base, "/readyz", NULL, NULL, &r);
    CHECK(r.status == 503);
    CHECK(strcmp(body_of(&r), "not connected to a broker yet\n") == 0);
    buf_free(&r.body);
    atomic_store(&st.ready, 1);
    http("GET", base, "/readyz", NULL, NULL, &r);
    CHECK(r.status == 200);
    CHECK(strcmp(body_of(&r), "ready\n") == 0);
    buf_free(&r.body);
    atomic_store(&st.ready, 0);
    http("GET", base, "/readyz", NULL, NULL, &r);
    CHECK(r.status == 503);
    buf_free(&r.body);

    /* Unknown paths: 404, whatever the method. */
    static const char *unknown[] = {"/", "/metrics/", "/Metrics", "/healthz/x", "/readyz.json", "/favicon.ico"};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        http("GET", base, unknown[i], NULL, NULL, &r);
        CHECK(r.status == 404);
        buf_free(&r.body);
    }
    http("DELETE", base, "/nope", NULL, NULL, &r);
    CHECK(r.status == 404);
    buf_free(&r.body);

    /* Other methods: 405 with Allow. */
    static const char *methods[] = {"POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        http(methods[i], base, "/healthz", NULL, NULL, &r);
        CHECK(r.status == 405);
        CHECK(strcmp(r.allow, "GET, HEAD") == 0);
        buf_free(&r.body);
    }

    /* Bodies are refused before they are read: 413, for GET as for POST. */
    http("POST", base, "/metrics", "x=1", NULL, &r);
    CHECK(r.status == 413);
    buf_free(&r.body);
    http("GET", base, "/readyz", "{\"a\": 1}", NULL, &r);
    CHECK(r.status == 413);
    buf_free(&r.body);
    http("POST", base, "/metrics", "chunked body", "Transfer-Encoding: chunked", &r);
    CHECK(r.status == 413);
    buf_free(&r.body);
    /* An empty body is no body. */
    http("GET", base, "/healthz", NULL, "Content-Length: 0", &r);
    CHECK(r.status == 200);
    buf_free(&r.body);

    /* Headers past the per-connection memory pool are refused, and the server lives on. */
    char *huge = malloc(40000);
    memcpy(huge, "X-Big: ", 7);
    memset(huge + 7, 'a', 40000 - 8);
    huge[40000 - 1] = '\0';
    http("GET", base, "/healthz", NULL, huge, &r);
    CHECK(r.status != 200);
    buf_free(&r.body);
    free(huge);

    /* A failing metrics callback: 500; the server lives on. */
    atomic_store(&st.fail_metrics, 1);
    http("GET", base, "/metrics", NULL, NULL, &r);
    CHECK(r.status == 500);
    buf_free(&r.body);
    atomic_store(&st.fail_metrics, 0);
    http("GET", base, "/metrics", NULL, NULL, &r);
    CHECK(r.status == 200);
    buf_free(&r.body);

    /* The connection limit: with every slot held by an idle client, a new client is turned away;
     * once they leave, requests are served again. */
    int fds[HTTPD_MAX_CONNECTIONS];
    int opened = 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < HTTPD_MAX_CONNECTIONS; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (fds[i] >= 0 && connect(fds[i], (struct sockaddr *)&sa, sizeof sa) == 0) opened++;
    }
    CHECK(opened == HTTPD_MAX_CONNECTIONS);
    /* Prove the server has taken every idle connection: one byte of a request line on the last
     * one, then its completion, answered in order after all the earlier accepts. */
    const char *req = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    CHECK(write(fds[HTTPD_MAX_CONNECTIONS - 1], req, strlen(req)) == (ssize_t)strlen(req));
    char rbuf[1024];
    CHECK(read_reply(fds[HTTPD_MAX_CONNECTIONS - 1], rbuf, sizeof rbuf) == 0);
    CHECK(strncmp(rbuf, "HTTP/1.1 200", 12) == 0);
    /* The connection stays alive for the next request (scrapers reuse theirs). */
    CHECK(write(fds[HTTPD_MAX_CONNECTIONS - 1], req, strlen(req)) == (ssize_t)strlen(req));
    CHECK(read_reply(fds[HTTPD_MAX_CONNECTIONS - 1], rbuf, sizeof rbuf) == 0);
    CHECK(strncmp(rbuf, "HTTP/1.1 200", 12) == 0);
    g_timeout_s = 2; /* turned away, or left waiting in the backlog: either way not served */
    http("GET", base, "/healthz", NULL, NULL, &r);
    g_timeout_s = 30;
    CHECK(r.status != 200);
    buf_free(&r.body);
    for (int i = 0; i < HTTPD_MAX_CONNECTIONS; i++)
        if (fds[i] >= 0) close(fds[i]);
    bool served = false;
    for (int i = 0; i < 500 && !served; i++) {
        http("GET", base, "/healthz", NULL, NULL, &r);
        served = r.status == 200;
        buf_free(&r.body);
        if (!served) usleep(20 * 1000);
    }
    CHECK(served);

    /* The port is taken while the server runs. */
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    httpd_t *again = httpd_start(addr, NULL, NULL, NULL, err, sizeof err);
    CHECK(again == NULL);
    CHECK(strstr(err, addr) != NULL);
    httpd_stop(&again);

    httpd_stop(&h);
    CHECK(h == NULL);
    /* Stopped: nothing answers. */
    http("GET", want, "/healthz", NULL, NULL, &r);
    CHECK(r.rc != CURLE_OK);
    buf_free(&r.body);
}

/* "PORT" and ":PORT" listen on loopback, "0.0.0.0:PORT" on every IPv4 interface; the URL names
 * loopback either way. NULL callbacks: an empty exposition, always ready. */
static void test_wildcard(void)
{
    static const char *forms[] = {"0", ":0", "localhost:0", "0.0.0.0:0"};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        char err[256] = "";
        httpd_t *h = httpd_start(forms[i], NULL, NULL, NULL, err, sizeof err);
        CHECK(h != NULL);
        if (!h) {
            fprintf(stderr, "httpd_start(%s): %s\n", forms[i], err);
            continue;
        }
        CHECK(strncmp(httpd_url(h), "http://", 7) == 0);
        resp_t r;
        http("GET", httpd_url(h), "/metrics", NULL, NULL, &r);
        CHECK(r.status == 200 && r.body.len == 0);
        buf_free(&r.body);
        http("GET", httpd_url(h), "/readyz", NULL, NULL, &r);
        CHECK(r.status == 200 && strcmp(body_of(&r), "ready\n") == 0);
        buf_free(&r.body);
        httpd_stop(&h);
    }
    char err[256] = "";
    httpd_t *h = httpd_start("0", NULL, NULL, NULL, err, sizeof err);
    CHECK(h && strncmp(httpd_url(h), "http://127.0.0.1:", 17) == 0);
    httpd_stop(&h);
    /* what each form binds */
    struct sockaddr_storage ss;
    unsigned sslen = 0;
    static const char *local[] = {"9100", ":9100", "127.0.0.1:9100", "[::1]:9100", "localhost:9100"};
    for (size_t i = 0; i < sizeof local / sizeof local[0]; i++)
        CHECK(httpd_resolve(local[i], "x", &ss, &sslen, err, sizeof err) == 0 && httpd_loopback(&ss));
    static const char *every[] = {"0.0.0.0:9100", "[::]:9100"};
    for (size_t i = 0; i < sizeof every / sizeof every[0]; i++)
        CHECK(httpd_resolve(every[i], "x", &ss, &sslen, err, sizeof err) == 0 && !httpd_loopback(&ss));
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    test_exposition();
    test_bad_addresses();
    test_server();
    test_wildcard();
    curl_global_cleanup();
    return check_summary("test_httpd");
}
