/* mock: the mock LLM HTTP server on libmicrohttpd; see mock.h. */
#define LOG_MODULE "mockllm"
#include "mock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "buf.h"
#include "httpd.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "mock_api.h"
#include "mock_aws.h"
#include "mock_limits.h"
#include "mock_reply.h"
#include "mock_timer.h"
#include "mock_int.h"

typedef enum {
    R_CHAT = 0,
    R_MESSAGES,
    R_CONVERSE,
    R_INVOKE,
    R_HEALTHZ,
    R_STATS,
    R_STATS_RESET,
    R_AWS,
    R_OTHER
} route_t;

/* One HTTP request, from its headers to its completion (libmicrohttpd's req_cls). */
typedef struct {
    route_t route;
    bool started;          /* the first call of on_request (headers complete) is past */
    char *raw_uri;         /* path and query exactly as received (for SigV4 checks) */
    int aws_route;         /* mock_aws_route_t of an R_AWS request */
    const mock_api_t *api; /* model routes only */
    char *url_model;       /* Bedrock: the {modelId} of the URL */
    buf_t body;            /* capped at MOCK_MAX_BODY */
    bool too_big;
    bool parked;                 /* suspended until its delay is due; the reply is ready */
    bool answered;               /* the reply was queued: later calls only drain the body */
    bool hangup;                 /* an outage closes the connection without a reply */
    srv_t *srv;                  /* the HTTP thread that serves it */
    struct MHD_Connection *conn; /* for the timer, which resumes it */
    mock_resp_t resp;
} req_t;

static void stat_add(mock_t *m, int k, uint64_t n) { atomic_fetch_add_explicit(&m->st[k], n, memory_order_relaxed); }

/* A uniform draw in [0, 1) from the seeded stream. */
static double draw_unit(mock_t *m)
{
    uint64_t n = atomic_fetch_add_explicit(&m->draws, 1, memory_order_relaxed);
    uint64_t x = mock_mix64(m->opts.seed ^ mock_mix64(n));
    return (double)(x >> 11) * (1.0 / 9007199254740992.0);
}

static double wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec * 1000.0 + (double)tv.tv_usec / 1000.0;
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

static route_t classify(const char *url, const char *method, req_t *r)
{
    size_t n = strlen(url);
    bool post = strcmp(method, "POST") == 0, get = strcmp(method, "GET") == 0;
    if (ends_with(url, n, "/chat/completions")) {
        r->api = post ? &mock_api_openai : NULL;
        return R_CHAT;
    }
    if (ends_with(url, n, "/v1/messages")) {
        r->api = post ? &mock_api_anthropic : NULL;
        return R_MESSAGES;
    }
    const char *mp = strstr(url, "/model/");
    if (mp && ends_with(url, n, "/converse")) {
        const char *id = mp + strlen("/model/");
        const char *end = url + n - strlen("/converse");
        if (end > id) {
            r->api = post ? &mock_api_bedrock : NULL;
            r->url_model = xstrndup(id, (size_t)(end - id));
            return R_CONVERSE;
        }
    }
    static const char inv[] = "/endpoints/";
    if (strncmp(url, inv, sizeof inv - 1) == 0 && ends_with(url, n, "/invocations")) {
        const char *name = url + sizeof inv - 1;
        const char *end = url + n - strlen("/invocations");
        if (end > name && !memchr(name, '/', (size_t)(end - name))) {
            r->api = post ? &mock_api_sagemaker : NULL;
            r->url_model = xstrndup(name, (size_t)(end - name));
            return R_INVOKE;
        }
    }
    if (strcmp(url, "/healthz") == 0 && get) return R_HEALTHZ;
    if (strcmp(url, "/stats") == 0 && get) return R_STATS;
    if (strcmp(url, "/stats/reset") == 0 && post) return R_STATS_RESET;
    return R_OTHER;
}

/* ---- the model-call pipeline ---- */

static const char *header(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

/* Is a model call that arrives `since_us` after the first one inside the outage window? */
static bool in_outage(const mock_t *m, int64_t since_us)
{
    if (m->opts.outage_ms <= 0) return false;
    int64_t from = (int64_t)(m->opts.outage_after_ms * 1000), len = (int64_t)(m->opts.outage_ms * 1000);
    return since_us >= from && since_us < from + len;
}

/* Does this model call (at `now`; the first came at `first`) fall in the limited episode? Each
 * call counts once against --episode-requests; the end is recorded once. */
static bool in_episode(mock_t *m, int64_t now, int64_t first)
{
    if (atomic_load(&m->episode_end_us)) return false;
    uint64_t n = atomic_fetch_add(&m->episode_seen, 1) + 1;
    int64_t end = 0;
    if (m->opts.episode_ms > 0 && now - first >= (int64_t)(m->opts.episode_ms * 1000))
        end = first + (int64_t)(m->opts.episode_ms * 1000);
    else if (m->opts.episode_requests > 0 && n > m->opts.episode_requests) end = now;
    if (!end) return true;
    int64_t zero = 0;
    if (atomic_compare_exchange_strong(&m->episode_end_us, &zero, end))
        log_info("the limited episode is over (%llu model calls): normal limits from now on",
                 (unsigned long long)(n - 1));
    return false;
}

/* The request headers, borrowed from libmicrohttpd for the length of one call. */
typedef struct {
    sigv4_header_t *v;
    size_t n, cap;
} hdrs_t;

static enum MHD_Result add_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    hdrs_t *h = cls;
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 16;
        h->v = xrealloc(h->v, h->cap * sizeof(*h->v));
    }
    h->v[h->n++] = (sigv4_header_t){key, value ? value : ""};
    return MHD_YES;
}

static void headers_of(struct MHD_Connection *c, hdrs_t *h)
{
    memset(h, 0, sizeof(*h));
    (void)MHD_get_connection_values(c, MHD_HEADER_KIND, add_header, h);
}

/* The request as mock_aws needs it. h must stay alive while it is used. */
static mock_aws_req_t aws_req(const req_t *r, const char *method, const hdrs_t *h)
{
    return (mock_aws_req_t){.method = method,
                            .raw_uri = r->raw_uri ? r->raw_uri : "/",
                            .headers = h->v,
                            .n_headers = h->n,
                            .body = r->body.data,
                            .body_len = r->body.len};
}

/* Builds the reply of a model call into r->resp; returns how long to hold it back, in us. */
static int64_t serve_model(mock_t *m, req_t *r, struct MHD_Connection *c)
{
    const mock_api_t *api = r->api;
    mock_call_t call = {
        .id = mock_mix64(m->id_base + atomic_fetch_add_explicit(&m->ids, 1, memory_order_relaxed)),
        .now_unix_ms = wall_ms(),
    };
    int64_t now = loop_now_us(), first = 0;
    if (!atomic_compare_exchange_strong(&m->first_call_us, &first, now)) now = now > first ? now : first;
    else first = now;
    if (in_outage(m, now - first)) {
        stat_add(m, ST_OUTAGE, 1);
        if (m->opts.outage_status == 0) r->hangup = true;
        else api->error(&call, MOCK_ERR_SERVER, m->opts.outage_status, NULL, &r->resp);
        return 0;
    }
    mock_hdrs_t h = {header(c, "Authorization"), header(c, "x-api-key"), header(c, "anthropic-version")};
    if (api->check(&h, m->api_key, &call, &r->resp) < 0) return 0;
    if (!r->too_big && (api == &mock_api_bedrock || api == &mock_api_sagemaker)) {
        hdrs_t hh;
        headers_of(c, &hh);
        mock_aws_req_t ar = aws_req(r, "POST", &hh);
        int vr = mock_aws_verify_model_call(m->aws, api->name, &ar, &r->resp);
        free(hh.v);
        if (vr < 0) return 0;
    }
    if (r->too_big) {
        char msg[128];
        snprintf(msg, sizeof msg, "request body is larger than the limit of %u bytes (16 MiB)", MOCK_MAX_BODY);
        api->error(&call, MOCK_ERR_INVALID, 0, msg, &r->resp);
        return 0;
    }
    const char *end = NULL;
    const char *text = r->body.data ? r->body.data : "";
    cJSON *root = cJSON_ParseWithLengthOpts(text, r->body.len, &end, 0);
    if (!root) {
        char msg[128];
        size_t at = end && end >= text ? (size_t)(end - text) : 0;
        if (r->body.len == 0) snprintf(msg, sizeof msg, "request body is empty: expected a JSON object");
        else snprintf(msg, sizeof msg, "request body is not valid JSON (error near byte %zu)", at);
        api->error(&call, MOCK_ERR_INVALID, 0, msg, &r->resp);
        return 0;
    }
    mock_req_t req;
    mock_req_init(&req);
    char err[512];
    int64_t delay_us = 0;
    if (api->parse(root, r->url_model, &req, err, sizeof err) < 0) {
        api->error(&call, MOCK_ERR_INVALID, 0, err, &r->resp);
        goto done;
    }
    call.req = &req;
    if (req.structured && m->opts.no_structured) {
        api->error(&call, MOCK_ERR_INVALID, 0,
                   "structured output (response_format json_schema, a forced tool) is not supported by this "
                   "server",
                   &r->resp);
        goto done;
    }
    if (m->opts.quota_exhausted) {
        api->error(&call, MOCK_ERR_QUOTA, 0, NULL, &r->resp);
        goto done;
    }
    mock_limit_verdict_t lv;
    mock_limits_t *limits = m->limits;
    if (m->episode && in_episode(m, now, first)) {
        limits = m->episode;
        stat_add(m, ST_EPISODE, 1);
    }
    if (limits) {
        char key[MOCK_LIMITS_KEY_MAX + 16];
        int kl = snprintf(key, sizeof key, "%s/%s", api->name, req.model);
        size_t klen = kl < 0 ? 0 : (size_t)kl < sizeof key ? (size_t)kl : sizeof key - 1;
        double cost = (double)mock_req_input_tokens(&req) +
                      (double)(req.max_tokens > 0 ? req.max_tokens : MOCK_DEFAULT_MAX_TOKENS);
        mock_limits_take(limits, key, klen, now, cost, &lv);
        call.limits = &lv;
        if (lv.limited) {
            stat_add(m, ST_RATE_LIMITED, 1);
            api->error(&call, MOCK_ERR_RATE, 0, NULL, &r->resp);
            goto done;
        }
    }
    double delay_ms = 0;
    if (m->opts.latency.kind != MOCK_LATENCY_ZERO) {
        double u1 = draw_unit(m), u2 = draw_unit(m);
        delay_ms = mock_latency_sample(&m->opts.latency, u1, u2);
    }
    call.latency_ms = delay_ms;
    delay_us = (int64_t)(delay_ms * 1000.0);
    if (m->opts.error_rate > 0 && draw_unit(m) < m->opts.error_rate) {
        api->error(&call, MOCK_ERR_SERVER, m->opts.error_status, NULL, &r->resp);
        goto done;
    }
    mock_gen_t gen;
    mock_reply_opts_t ro = {.unscorable_rate = m->opts.unscorable_rate, .quote = m->opts.quote_response};
    mock_reply_generate_with(&req, &ro, &gen);
    call.gen = &gen;
    api->reply(&call, &r->resp);
    stat_add(m, gen.kind == MOCK_KIND_INFERENCE ? ST_INFERENCE : ST_JUDGE, 1);
    if (gen.kind == MOCK_KIND_REASK) stat_add(m, ST_REASK, 1);
    if (gen.style == MOCK_STYLE_UNSCORABLE) stat_add(m, ST_UNSCORABLE, 1);
    stat_add(m, ST_TOKENS_IN, gen.input_tokens);
    stat_add(m, ST_TOKENS_OUT, gen.output_tokens);
    log_debug("%s %s: %s reply (%s), %u+%u tokens, %.0f ms delay", api->name, req.model,
              gen.kind == MOCK_KIND_INFERENCE ? "inference"
              : gen.kind == MOCK_KIND_JUDGE   ? "judge"
                                              : "re-ask",
              mock_style_name(gen.style), gen.input_tokens, gen.output_tokens, delay_ms);
    mock_gen_free(&gen);
done:
    mock_req_free(&req);
    cJSON_Delete(root);
    return delay_us;
}

/* Replies for the routes that are not model calls. */
static void serve_plain(mock_t *m, req_t *r, const char *url, const char *method)
{
    mock_resp_t *p = &r->resp;
    switch (r->route) {
    case R_HEALTHZ:
        p->content_type = "text/plain";
        if (buf_puts(&p->body, "ok") < 0) abort();
        return;
    case R_STATS: {
        char *json = mock_stats_json(m);
        mock_resp_json(p, 200, json, strlen(json));
        free(json);
        return;
    }
    case R_STATS_RESET: {
        mock_reset_stats(m);
        static const char ok[] = "{\"reset\":true}\n";
        mock_resp_json(p, 200, ok, sizeof ok - 1);
        return;
    }
    default: {
        bool known = r->route != R_OTHER || strcmp(url, "/healthz") == 0 || strcmp(url, "/stats") == 0 ||
                     strcmp(url, "/stats/reset") == 0;
        int status = known ? 405 : 404;
        buf_t b;
        buf_init(&b, 0);
        char msg[160];
        char path[96];
        snprintf(path, sizeof path, "%s", url);
        snprintf(msg, sizeof msg, known ? "method %s is not allowed on %s" : "no route for %s %s", method, path);
        if (buf_puts(&b, "{\"error\":{\"message\":") < 0 || buf_json_str(&b, msg, strlen(msg)) < 0 ||
            buf_printf(&b, ",\"type\":\"%s\"}}\n", known ? "method_not_allowed" : "not_found") < 0)
            abort();
        mock_resp_json(p, status, b.data, b.len);
        buf_free(&b);
        return;
    }
    }
}

/* ---- libmicrohttpd glue ---- */

static enum MHD_Result send_resp(mock_t *m, struct MHD_Connection *c, req_t *r)
{
    mock_resp_t *p = &r->resp;
    size_t len = p->body.len;
    char *data = buf_take(&p->body);
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(data);
        return MHD_NO;
    }
    if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, p->content_type) != MHD_YES)
        log_warn("cannot add header Content-Type");
    for (size_t i = 0; i < p->n_headers; i++)
        if (MHD_add_response_header(resp, p->headers[i].name, p->headers[i].value) != MHD_YES)
            log_warn("cannot add header %s", p->headers[i].name);
    if (r->api) {
        int s = p->status;
        stat_add(m, s == 429 ? ST_429 : s >= 500 ? ST_5XX : s >= 400 ? ST_4XX : ST_2XX, 1);
    }
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)p->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void srv_wake(srv_t *s)
{
    uint64_t one = 1;
    if (write(s->wake_fd, &one, sizeof one) != (ssize_t)sizeof one && errno != EAGAIN)
        log_error("cannot wake an HTTP thread: %s", strerror(errno));
}

/* Hands a parked request back. libmicrohttpd 0.9.75 creates no inter-thread channel for a
 * daemon without an internal thread (even with MHD_ALLOW_SUSPEND_RESUME), so nothing would wake
 * the HTTP thread that has to send the reply: wake it here. */
static void on_due(void *item, void *arg)
{
    (void)arg;
    req_t *r = item;
    srv_t *s = r->srv;
    MHD_resume_connection(r->conn); /* r may be gone once the HTTP thread runs: s was read first */
    srv_wake(s);
}

static bool content_length_over(struct MHD_Connection *c)
{
    const char *cl = header(c, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!cl) return false;
    char *end;
    unsigned long long n = strtoull(cl, &end, 10);
    return end != cl && n > MOCK_MAX_BODY;
}

/* libmicrohttpd's URI log callback: the first thing known of a request, with its target still
 * percent-encoded (SigV4 is computed over that). Its return value becomes *req_cls. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    srv_t *srv = cls;
    req_t *r = xcalloc(1, sizeof(*r));
    r->srv = srv;
    r->conn = c;
    r->raw_uri = xstrdup(uri ? uri : "/");
    buf_init(&r->body, MOCK_MAX_BODY);
    mock_resp_init(&r->resp);
    return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **req_cls)
{
    (void)version;
    srv_t *srv = cls;
    mock_t *m = srv->m;
    req_t *r = *req_cls;
    if (!r) *req_cls = r = on_uri(srv, url, c);
    if (!r->started) {
        r->started = true;
        mock_aws_route_t ar = mock_aws_route(method, r->raw_uri, header(c, "Authorization"), header(c, "X-Amz-Target"),
                                             header(c, MHD_HTTP_HEADER_CONTENT_TYPE));
        if (ar != MOCK_AWS_NONE) {
            r->route = R_AWS;
            r->aws_route = (int)ar;
        } else {
            r->route = classify(url, method, r);
        }
        static const int per_route[] = {ST_REQ_CHAT,  ST_REQ_MESSAGES, ST_REQ_CONVERSE, ST_REQ_INVOKE, ST_REQ_HEALTHZ,
                                        ST_REQ_STATS, ST_REQ_STATS,    ST_REQ_OTHER,    ST_REQ_OTHER};
        stat_add(m, ST_REQUESTS, 1);
        stat_add(m, per_route[r->route], 1);
        if (r->api) {
            uint64_t now = atomic_fetch_add(&m->st[ST_IN_FLIGHT], 1) + 1;
            uint64_t max = atomic_load(&m->st[ST_MAX_IN_FLIGHT]);
            /* Raise the maximum: retried until it is ours or another thread raised it past ours. */
            while (now > max && !atomic_compare_exchange_weak(&m->st[ST_MAX_IN_FLIGHT], &max, now)) {}
        }
        if (content_length_over(c) && (r->api || r->route == R_AWS)) {
            /* Refuse before reading the body; libmicrohttpd closes the connection after. */
            r->too_big = true;
            if (r->api) {
                (void)serve_model(m, r, c); /* writes the refusal; its delay is 0: answered now */
            } else {
                static const char big[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>EntityTooLarge"
                                          "</Code><Message>Your proposed upload exceeds the mock's 16 MiB request "
                                          "limit (use multipart upload)</Message></Error>";
                mock_resp_json(&r->resp, 400, big, sizeof big - 1);
                r->resp.content_type = "application/xml";
            }
            r->answered = true;
            return send_resp(m, c, r);
        }
        return MHD_YES;
    }
    if (r->answered) { /* refused early: whatever libmicrohttpd still hands over is dropped */
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size) {
        if (!r->too_big && buf_append(&r->body, upload, *upload_size) < 0) {
            r->too_big = true;
            buf_free(&r->body);
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->parked) { /* resumed by the timer: the reply is ready */
        r->parked = false;
        return send_resp(m, c, r);
    }
    int64_t delay_us = 0;
    if (r->route == R_AWS) {
        hdrs_t h;
        headers_of(c, &h);
        mock_aws_req_t ar = aws_req(r, method, &h);
        int64_t delay_ms = 0;
        mock_aws_serve(m->aws, (mock_aws_route_t)r->aws_route, &ar, &r->resp, &delay_ms);
        free(h.v);
        delay_us = delay_ms * 1000;
    } else if (r->api) {
        delay_us = serve_model(m, r, c);
    } else {
        serve_plain(m, r, url, method);
    }
    if (r->hangup) return MHD_NO; /* libmicrohttpd closes the connection: no reply at all */
    if (delay_us > 0) {
        r->parked = true;
        MHD_suspend_connection(c);
        if (mock_timer_add(m->timer, loop_now_us() + delay_us, r) < 0) {
            MHD_resume_connection(c); /* shutting down: answer now */
            srv_wake(srv);
        }
        return MHD_YES;
    }
    return send_resp(m, c, r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls, enum MHD_RequestTerminationCode toe)
{
    (void)c;
    (void)toe;
    mock_t *m = ((srv_t *)cls)->m;
    req_t *r = *req_cls;
    if (!r) return;
    if (r->api) atomic_fetch_sub(&m->st[ST_IN_FLIGHT], 1);
    buf_free(&r->body);
    mock_resp_free(&r->resp);
    free(r->url_model);
    free(r->raw_uri);
    free(r);
    *req_cls = NULL;
}

/* libmicrohttpd's errors, logged as every server logs them (httpd_mhd_log); but an outage that
 * closes connections does it by refusing requests, which libmicrohttpd reports each time:
 * expected there, so only at debug level. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    const mock_t *m = cls;
    if (m->opts.outage_status == 0 && m->opts.outage_ms > 0 && strstr(fmt, "Application reported internal error")) {
        log_debug("libmicrohttpd: a connection closed unanswered (the outage)");
        return;
    }
    httpd_mhd_log(cls, fmt, ap);
}

/* ---- lifecycle ---- */

static int resolve(const char *host, int port, struct sockaddr_storage *ss, char *numeric, size_t nlen, char *err,
                   size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(err, errlen, "--host %s: cannot resolve: %s", host, gai_strerror(rc));
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (ss->ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)(void *)ss;
        in->sin_port = htons((uint16_t)port);
        inet_ntop(AF_INET, &in->sin_addr, numeric, (socklen_t)nlen);
    } else if (ss->ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)ss;
        in6->sin6_port = htons((uint16_t)port);
        inet_ntop(AF_INET6, &in6->sin6_addr, numeric, (socklen_t)nlen);
    } else {
        snprintf(err, errlen, "--host %s: not an IPv4 or IPv6 address", host);
        return -1;
    }
    return 0;
}

/* The listening socket all daemons share (each gets its own descriptor of it). */
static int listen_on(const struct sockaddr_storage *ss, int port, const char *host, char *err, size_t errlen)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create a socket for %s: %s", host, strerror(errno));
        return -1;
    }
    int on = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) < 0)
        log_warn("cannot set SO_REUSEADDR: %s", strerror(errno));
    if (ss->ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) < 0)
        log_warn("cannot set IPV6_V6ONLY: %s", strerror(errno));
    socklen_t len = ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (bind(fd, (const struct sockaddr *)ss, len) < 0) {
        snprintf(err, errlen, "cannot listen on %s port %d: %s", host, port, strerror(errno));
        close(fd);
        return -1;
    }
    if (listen(fd, 4096) < 0) {
        snprintf(err, errlen, "cannot listen on %s port %d: %s", host, port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* An HTTP thread: waits for its daemon's epoll set or the stop signal, then lets MHD work. */
static void *srv_run(void *arg)
{
    srv_t *s = arg;
    struct pollfd p[2] = {{.fd = s->epoll_fd, .events = POLLIN}, {.fd = s->wake_fd, .events = POLLIN}};
    for (;;) {
        MHD_UNSIGNED_LONG_LONG to = 0;
        int ms = -1; /* no connection: nothing times out */
        if (MHD_get_timeout(s->daemon, &to) == MHD_YES) ms = to > INT_MAX ? INT_MAX : (int)to;
        int n = poll(p, 2, ms);
        if (n < 0) {
            if (errno == EINTR) continue;
            log_error("HTTP thread: poll: %s", strerror(errno));
            break;
        }
        if (p[1].revents) {
            uint64_t n_wakes;
            if (read(s->wake_fd, &n_wakes, sizeof n_wakes) < 0 && errno != EAGAIN)
                log_error("HTTP thread: cannot read its eventfd: %s", strerror(errno));
            if (atomic_load(&s->m->stopping)) break;
        }
        if (MHD_run(s->daemon) != MHD_YES) log_warn("HTTP thread: libmicrohttpd could not run its event loop");
    }
    return NULL;
}

mock_t *mock_new(const mock_opts_t *opts, char *err, size_t errlen)
{
    mock_t *m = xcalloc(1, sizeof(*m));
    m->opts = *opts;
    m->host = xstrdup(opts->host ? opts->host : "127.0.0.1");
    m->api_key = xstrdup(opts->api_key);
    m->opts.host = m->host;
    m->opts.api_key = m->api_key;
    if (m->opts.threads < 1) m->opts.threads = 1;
    m->id_base = (uint64_t)loop_now_us() ^ ((uint64_t)wall_ms() << 20);
    m->limits = mock_limits_new(opts->rpm, opts->tpm, opts->burst_seconds);
    if (opts->episode_rpm > 0 || opts->episode_tpm > 0) {
        if (opts->episode_ms <= 0 && opts->episode_requests == 0) {
            snprintf(err, errlen,
                     "--episode-rpm/--episode-tpm need --episode-ms or --episode-requests (how long the "
                     "episode lasts)");
            goto fail;
        }
        m->episode = mock_limits_new(opts->episode_rpm, opts->episode_tpm, opts->burst_seconds);
    }
    if (opts->outage_status != 0 && (opts->outage_status < 500 || opts->outage_status > 599)) {
        snprintf(err, errlen, "--outage-status: %d is not 0 (close the connection) or a status from 500 to 599",
                 opts->outage_status);
        goto fail;
    }
    m->aws = mock_aws_new(opts, err, errlen);
    if (!m->aws) goto fail;

    struct sockaddr_storage ss;
    char numeric[INET6_ADDRSTRLEN];
    if (resolve(m->host, opts->port, &ss, numeric, sizeof numeric, err, errlen) < 0) goto fail;
    m->timer = mock_timer_new(on_due, m, err, errlen);
    if (!m->timer) goto fail;

    /* As many connections as file descriptors allow (delayed requests each hold one). */
    struct rlimit rl;
    unsigned conn_limit = 1000;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur > 64)
        conn_limit = (unsigned)(rl.rlim_cur - 32 > 1000000 ? 1000000 : rl.rlim_cur - 32);
    else if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur == RLIM_INFINITY) conn_limit = 1000000;
    conn_limit /= (unsigned)m->opts.threads;
    if (conn_limit < 16) conn_limit = 16;

    int lfd = listen_on(&ss, opts->port, m->host, err, errlen);
    if (lfd < 0) goto fail;
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    if (getsockname(lfd, (struct sockaddr *)&bound, &blen) == 0)
        m->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)(void *)&bound)->sin6_port
                                                    : ((struct sockaddr_in *)(void *)&bound)->sin_port);
    else m->port = opts->port;

    /* libmicrohttpd 0.9.75 must not run its own polling thread here. Its epoll loop (MHD_epoll)
     * drains the epoll set 128 events at a time and calls epoll_wait again, with the full
     * blocking timeout (up to the 300 s connection timeout), as long as a call returned exactly
     * 128. When 128, 256, ... keep-alive connections are readable at once (wrk -c128 / -c256,
     * whose clients all send again as soon as a round of replies went out), the last call finds
     * nothing new (the sockets are edge-triggered and their events were just taken) and blocks,
     * although every one of those connections sits in MHD's ready list with a request unread:
     * the server idles at 0% CPU until an unrelated event (a new connection, a client timeout)
     * wakes it, and serves tens of requests a second. A thread pool hits the same bug whenever
     * one worker has a multiple of 128 ready connections, only less often.
     * So each daemon runs in external epoll mode, driven by srv_run below: it sleeps in poll()
     * on the daemon's epoll fd (level-triggered readiness of the whole set) with MHD_get_timeout,
     * which is 0 while MHD still has ready connections, and calls MHD_run, whose drain loop
     * never blocks. The poll() also watches an eventfd per thread, written by the timer after
     * each MHD_resume_connection (on_due) and by mock_destroy. With --threads N there
     * are N such daemons, each given its own dup of one listening socket. */
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    m->srv = xcalloc((size_t)m->opts.threads, sizeof(*m->srv));
    for (int i = 0; i < m->opts.threads; i++) {
        srv_t *s = &m->srv[i];
        s->m = m;
        s->epoll_fd = -1;
        s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        m->n_srv = i + 1;
        if (s->wake_fd < 0) {
            snprintf(err, errlen, "cannot create an eventfd: %s", strerror(errno));
            close(lfd);
            goto fail;
        }
        int fd = i + 1 < m->opts.threads ? fcntl(lfd, F_DUPFD_CLOEXEC, 0) : lfd; /* the last takes lfd */
        if (fd < 0) {
            snprintf(err, errlen, "cannot duplicate the listening socket: %s", strerror(errno));
            close(lfd);
            goto fail;
        }
        s->daemon = MHD_start_daemon(flags, (uint16_t)m->port, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER,
                                     on_mhd_log, m, /* first, as MHD asks */
                                     MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd, MHD_OPTION_NOTIFY_COMPLETED,
                                     on_completed, s, MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
                                     MHD_OPTION_CONNECTION_LIMIT, conn_limit, MHD_OPTION_CONNECTION_TIMEOUT,
                                     (unsigned)300, MHD_OPTION_END);
        if (!s->daemon) {
            snprintf(err, errlen,
                     "cannot start the HTTP server on %s port %d (libmicrohttpd refused; "
                     "see the log above)",
                     m->host, m->port);
            close(fd);
            if (fd != lfd) close(lfd);
            goto fail;
        }
        const union MHD_DaemonInfo *ei = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_EPOLL_FD);
        if (!ei) {
            snprintf(err, errlen, "libmicrohttpd gives no epoll fd (built without epoll?)");
            if (fd != lfd) close(lfd);
            goto fail;
        }
        s->epoll_fd = ei->epoll_fd;
    }
    for (int i = 0; i < m->n_srv; i++) {
        int rc = pthread_create(&m->srv[i].thread, NULL, srv_run, &m->srv[i]);
        if (rc != 0) {
            snprintf(err, errlen, "cannot start HTTP thread %d: %s", i + 1, strerror(rc));
            goto fail;
        }
        m->srv[i].started = true;
    }
    if (ss.ss_family == AF_INET6) snprintf(m->url, sizeof m->url, "http://[%s]:%d", numeric, m->port);
    else snprintf(m->url, sizeof m->url, "http://%s:%d", numeric, m->port);

    char lat[96];
    mock_latency_format(&m->opts.latency, lat, sizeof lat);
    log_info("serving %s: threads %d, latency %s, error rate %g (status %d), rpm %g, tpm %g, "
             "unscorable rate %g%s%s",
             m->url, m->opts.threads, lat, m->opts.error_rate, m->opts.error_status, m->opts.rpm, m->opts.tpm,
             m->opts.unscorable_rate, m->opts.quota_exhausted ? ", quota exhausted" : "",
             m->api_key ? ", api key required" : "");
    return m;
fail:
    mock_destroy(&m);
    return NULL;
}

void mock_destroy(mock_t **self_p)
{
    if (!self_p || !*self_p) return;
    mock_t *m = *self_p;
    /* First resume every parked connection: a daemon cannot stop while one is suspended.
     * A handler that parks one after this resumes it itself (mock_timer_add refuses). Then the
     * HTTP threads return, and only then are the daemons stopped (MHD_stop_daemon must not race
     * MHD_run); it closes what is still open. The timer is freed last: handlers call it. */
    if (m->timer) mock_timer_stop(m->timer);
    atomic_store(&m->stopping, true);
    for (int i = 0; i < m->n_srv; i++)
        if (m->srv[i].started) {
            srv_wake(&m->srv[i]);
            pthread_join(m->srv[i].thread, NULL);
        }
    for (int i = 0; i < m->n_srv; i++) {
        if (m->srv[i].daemon) MHD_stop_daemon(m->srv[i].daemon);
        if (m->srv[i].wake_fd >= 0) close(m->srv[i].wake_fd);
    }
    free(m->srv);
    mock_timer_destroy(&m->timer);
    mock_limits_destroy(&m->limits);
    mock_limits_destroy(&m->episode);
    mock_aws_destroy(&m->aws);
    free(m->host);
    free(m->api_key);
    free(m);
    *self_p = NULL;
}

int mock_port(const mock_t *m) { return m->port; }
const char *mock_url(const mock_t *m) { return m->url; }
