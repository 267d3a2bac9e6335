/* httpd: /metrics, /healthz and /readyz over libmicrohttpd; see httpd.h.
 *
 * DESIGN. One libmicrohttpd daemon with its internal polling thread (no thread per connection):
 * requests are answered one at a time on that thread, so the callbacks never run concurrently
 * with each other, only with the role's own threads. The access handler's first call for a
 * request brings its headers: a request announcing a body (Content-Length above 0, or any
 * Transfer-Encoding) gets 413 there, before a byte of the body is read, and libmicrohttpd closes
 * that connection after the reply. Every other request is answered on the second call (answering
 * on the first would close the connection too, and scrapers keep theirs alive between scrapes).
 * Nothing is allocated per request. */
#define LOG_MODULE "httpd"
#include "httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "mem.h"

#define HTTPD_CONN_MEMORY (16u * 1024) /* per-connection pool: request line and headers */
#define HTTPD_BACKLOG 64
#define HTTPD_MAX_HOST 255
#define HTTPD_MAX_REASON 512

struct httpd {
    struct MHD_Daemon *daemon;
    httpd_metrics_fn metrics;
    httpd_ready_fn ready;
    void *arg;
    int port;
    char url[INET6_ADDRSTRLEN + 32];
};

static const char CT_TEXT[] = "text/plain; charset=utf-8";
static const char CT_METRICS[] = "text/plain; version=0.0.4; charset=utf-8";

/* ---- answering ---- */

/* Queues `body` (len bytes) with `status`. `mode` says who owns body (MHD_RESPMEM_MUST_FREE:
 * taken over, freed here on failure). */
static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *ctype, char *body, size_t len,
                             enum MHD_ResponseMemoryMode mode, bool allow)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    if (!r) {
        if (mode == MHD_RESPMEM_MUST_FREE) free(body);
        return MHD_NO;
    }
    enum MHD_Result ret = MHD_NO;
    if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype) == MHD_YES &&
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") == MHD_YES &&
        (!allow || MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD") == MHD_YES))
        ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* A fixed text reply (the text is static). */
static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *text, bool allow)
{
    return reply(c, status, CT_TEXT, (char *)text, strlen(text), MHD_RESPMEM_PERSISTENT, allow);
}

static bool has_body(struct MHD_Connection *c)
{
    if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING)) return true;
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!cl) return false;
    char *end = NULL;
    errno = 0;
    unsigned long long n = strtoull(cl, &end, 10);
    return end == cl || *end || errno || n > 0; /* an unreadable length counts as a body */
}

static enum MHD_Result serve_metrics(httpd_t *h, struct MHD_Connection *c)
{
    buf_t b;
    buf_init(&b, HTTPD_MAX_METRICS);
    if (h->metrics && h->metrics(&b, h->arg) < 0) {
        buf_free(&b);
        log_warn("GET /metrics: the exposition could not be written (over %u bytes, or a bad metric name)",
                 HTTPD_MAX_METRICS);
        return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "metrics unavailable\n", false);
    }
    size_t len = b.len;
    char *body = buf_take(&b);
    return reply(c, MHD_HTTP_OK, CT_METRICS, body, len, MHD_RESPMEM_MUST_FREE, false);
}

static enum MHD_Result serve_ready(httpd_t *h, struct MHD_Connection *c)
{
    char reason[HTTPD_MAX_REASON] = "";
    if (!h->ready || h->ready(h->arg, reason, sizeof reason)) return reply_text(c, MHD_HTTP_OK, "ready\n", false);
    reason[sizeof reason - 1] = '\0';
    if (!reason[0]) snprintf(reason, sizeof reason, "not ready");
    char *body = xasprintf("%s\n", reason);
    return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, CT_TEXT, body, strlen(body), MHD_RESPMEM_MUST_FREE, false);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **req_cls)
{
    (void)version;
    (void)upload;
    static int seen; /* marks a request whose headers were looked at */
    httpd_t *h = cls;
    if (!*req_cls) {
        /* First call, headers only. Answering now, before the (empty) body phase, would make
         * libmicrohttpd close the connection after the reply: keep-alive needs the second call. */
        *req_cls = &seen;
        if (has_body(c)) return reply_text(c, MHD_HTTP_CONTENT_TOO_LARGE, "request bodies are not accepted\n", false);
        return MHD_YES;
    }
    if (*upload_size) return MHD_NO; /* never expected: bodies are refused before they are read */
    enum { R_NONE, R_METRICS, R_HEALTH, R_READY } route = R_NONE;
    if (strcmp(url, "/metrics") == 0) route = R_METRICS;
    else if (strcmp(url, "/healthz") == 0) route = R_HEALTH;
    else if (strcmp(url, "/readyz") == 0) route = R_READY;
    if (route == R_NONE)
        return reply_text(c, MHD_HTTP_NOT_FOUND, "not found: try /metrics, /healthz or /readyz\n", false);
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed: only GET and HEAD\n", true);
    switch (route) {
    case R_METRICS: return serve_metrics(h, c);
    case R_READY: return serve_ready(h, c);
    default: return reply_text(c, MHD_HTTP_OK, "ok\n", false);
    }
}

void httpd_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    buf_t b;
    buf_init(&b, 4096);
    if (buf_vprintf(&b, fmt, ap) == 0) {
        while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r')) b.data[--b.len] = '\0';
        log_warn("libmicrohttpd: %s", b.data);
    }
    buf_free(&b);
}

/* ---- address ---- */

/* Splits "HOST:PORT", "[V6]:PORT", ":PORT" or "PORT" and resolves it. Without a host it is
 * loopback (127.0.0.1): every interface has to be asked for by name (0.0.0.0:PORT, [::]:PORT),
 * since what these servers show (job ids, progress) is for the operator only. */
static int parse_addr(const char *addr, const char *what, struct sockaddr_storage *ss, socklen_t *sslen, char *err,
                      size_t errlen)
{
    if (!addr || !*addr) {
        snprintf(err, errlen, "%s: empty (expected HOST:PORT, :PORT or PORT)", what);
        return -1;
    }
    char host[HTTPD_MAX_HOST + 1] = "";
    const char *port_s;
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (!close || close[1] != ':' || (size_t)(close - addr - 1) > HTTPD_MAX_HOST || close == addr + 1) {
            snprintf(err, errlen, "%s '%s': expected [IPV6]:PORT", what, addr);
            return -1;
        }
        memcpy(host, addr + 1, (size_t)(close - addr - 1));
        host[close - addr - 1] = '\0';
        port_s = close + 2;
    } else {
        const char *colon = strrchr(addr, ':');
        if (colon && memchr(addr, ':', (size_t)(colon - addr))) {
            snprintf(err, errlen, "%s '%s': put an IPv6 address in brackets, as [::1]:9100", what, addr);
            return -1;
        }
        if (colon) {
            if ((size_t)(colon - addr) > HTTPD_MAX_HOST) {
                snprintf(err, errlen, "%s '%s': host name too long", what, addr);
                return -1;
            }
            memcpy(host, addr, (size_t)(colon - addr));
            host[colon - addr] = '\0';
            port_s = colon + 1;
        } else {
            port_s = addr;
        }
    }
    char *end = NULL;
    errno = 0;
    long port = strtol(port_s, &end, 10);
    if (!*port_s || *port_s == '-' || *port_s == '+' || errno || *end || port < 0 || port > 65535) {
        snprintf(err, errlen, "%s '%s': '%s' is not a port from 0 to 65535", what, addr, port_s);
        return -1;
    }
    memset(ss, 0, sizeof(*ss));
    if (!host[0]) { /* loopback unless a host is named */
        struct sockaddr_in *in = (struct sockaddr_in *)(void *)ss;
        in->sin_family = AF_INET;
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        in->sin_port = htons((uint16_t)port);
        *sslen = sizeof(*in);
        return 0;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(err, errlen, "%s '%s': cannot resolve '%s': %s", what, addr, host,
                 rc ? gai_strerror(rc) : "no address");
        if (res) freeaddrinfo(res);
        return -1;
    }
    if ((res->ai_family != AF_INET && res->ai_family != AF_INET6) || res->ai_addrlen > sizeof(*ss)) {
        freeaddrinfo(res);
        snprintf(err, errlen, "%s '%s': '%s' is not an IPv4 or IPv6 address", what, addr, host);
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *sslen = (socklen_t)res->ai_addrlen;
    freeaddrinfo(res);
    if (ss->ss_family == AF_INET) ((struct sockaddr_in *)(void *)ss)->sin_port = htons((uint16_t)port);
    else ((struct sockaddr_in6 *)(void *)ss)->sin6_port = htons((uint16_t)port);
    return 0;
}

int httpd_resolve(const char *addr, const char *what, struct sockaddr_storage *ss, unsigned *sslen, char *err,
                  size_t errlen)
{
    socklen_t n = 0;
    int rc = parse_addr(addr, what, ss, &n, err, errlen);
    *sslen = (unsigned)n;
    return rc;
}

bool httpd_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)(const void *)ss)->sin_addr.s_addr) >> 24) == 127;
    if (ss->ss_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)ss)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a)) return true;
        return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
    }
    return false;
}

/* ---- lifecycle ---- */

httpd_t *httpd_start(const char *addr, httpd_metrics_fn metrics, httpd_ready_fn ready, void *arg, char *err,
                     size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sslen = 0;
    if (parse_addr(addr, "metrics address", &ss, &sslen, err, errlen) < 0) return NULL;
    httpd_t *h = xcalloc(1, sizeof(*h));
    h->metrics = metrics;
    h->ready = ready;
    h->arg = arg;
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    uint16_t port = ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)(void *)&ss)->sin_port)
                                            : ntohs(((struct sockaddr_in6 *)(void *)&ss)->sin6_port);
    /* The port argument only names the port in libmicrohttpd's messages: SOCK_ADDR decides. */
    h->daemon = MHD_start_daemon(
        flags, port, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, httpd_mhd_log,
        h, /* first, as libmicrohttpd asks */
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTPD_MAX_CONNECTIONS,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTPD_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)HTTPD_CONN_MEMORY, MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)HTTPD_BACKLOG, MHD_OPTION_END);
    if (!h->daemon) {
        snprintf(err, errlen,
                 "metrics address '%s': cannot listen (address in use, or not an address of this machine?)", addr);
        free(h);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info && info->port ? info->port : port;
    char numeric[INET6_ADDRSTRLEN] = "";
    if (ss.ss_family == AF_INET) {
        const struct in_addr *a = &((struct sockaddr_in *)(void *)&ss)->sin_addr;
        if (a->s_addr == htonl(INADDR_ANY)) snprintf(numeric, sizeof numeric, "127.0.0.1");
        else inet_ntop(AF_INET, a, numeric, sizeof numeric);
        snprintf(h->url, sizeof h->url, "http://%s:%d", numeric, h->port);
    } else {
        const struct in6_addr *a = &((struct sockaddr_in6 *)(void *)&ss)->sin6_addr;
        if (IN6_IS_ADDR_UNSPECIFIED(a)) snprintf(numeric, sizeof numeric, "::1");
        else inet_ntop(AF_INET6, a, numeric, sizeof numeric);
        snprintf(h->url, sizeof h->url, "http://[%s]:%d", numeric, h->port);
    }
    log_info("serving /metrics, /healthz and /readyz on %s (listening on %s)", h->url, addr);
    if (!httpd_loopback(&ss))
        log_warn("%s is reachable from other hosts, without authentication, and /metrics names jobs: let only your "
                 "monitoring reach it (a firewall or a Kubernetes NetworkPolicy; docs/fleet.md, \"Protecting "
                 "/metrics\")",
                 addr);
    return h;
}

void httpd_stop(httpd_t **self_p)
{
    if (!self_p || !*self_p) return;
    httpd_t *h = *self_p;
    if (h->daemon) MHD_stop_daemon(h->daemon);
    free(h);
    *self_p = NULL;
}

int httpd_port(const httpd_t *h) { return h->port; }
const char *httpd_url(const httpd_t *h) { return h->url; }

/* ---- Prometheus text exposition ---- */

static bool name_ok(const char *s, bool metric)
{
    if (!s || !*s) return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (metric && c == ':') ||
                  (p != s && c >= '0' && c <= '9');
        if (!ok) return false;
    }
    return metric || strncmp(s, "__", 2) != 0; /* label names starting "__" are reserved */
}

/* Appends s with backslash and newline escaped, and double quotes too when `quote`. */
static int put_escaped(buf_t *b, const char *s, bool quote)
{
    const char *run = s;
    for (const char *p = s;; p++) {
        const char *esc = NULL;
        if (*p == '\\') esc = "\\\\";
        else if (*p == '\n') esc = "\\n";
        else if (quote && *p == '"') esc = "\\\"";
        else if (*p) continue;
        if (buf_append(b, run, (size_t)(p - run)) < 0) return -1;
        if (!esc) return 0;
        if (buf_puts(b, esc) < 0) return -1;
        run = p + 1;
    }
}

int httpd_family(buf_t *b, const char *name, httpd_mtype_t type, const char *help)
{
    if (!name_ok(name, true)) return -1;
    if (buf_printf(b, "# HELP %s ", name) < 0 || put_escaped(b, help ? help : "", false) < 0) return -1;
    return buf_printf(b, "\n# TYPE %s %s\n", name, type == HTTPD_COUNTER ? "counter" : "gauge");
}

static int put_labels(buf_t *b, const char *name, const char *const *labels)
{
    if (!name_ok(name, true)) return -1;
    if (buf_puts(b, name) < 0) return -1;
    if (!labels || !labels[0]) return 0;
    for (size_t i = 0; labels[i]; i += 2) {
        if (!labels[i + 1] || !name_ok(labels[i], false)) return -1;
        if (buf_puts(b, i ? "," : "{") < 0 || buf_printf(b, "%s=\"", labels[i]) < 0 ||
            put_escaped(b, labels[i + 1], true) < 0 || buf_putc(b, '"') < 0)
            return -1;
    }
    return buf_putc(b, '}');
}

int httpd_sample(buf_t *b, const char *name, const char *const *labels, double value)
{
    if (put_labels(b, name, labels) < 0) return -1;
    if (isnan(value)) return buf_puts(b, " NaN\n");
    if (isinf(value)) return buf_puts(b, value > 0 ? " +Inf\n" : " -Inf\n");
    if (value == floor(value) && fabs(value) < 9007199254740992.0) return buf_printf(b, " %.0f\n", value);
    return buf_printf(b, " %.17g\n", value);
}

int httpd_sample_u64(buf_t *b, const char *name, const char *const *labels, uint64_t value)
{
    if (put_labels(b, name, labels) < 0) return -1;
    return buf_printf(b, " %" PRIu64 "\n", value);
}

int httpd_counter(buf_t *b, const char *name, const char *help, uint64_t value)
{
    if (httpd_family(b, name, HTTPD_COUNTER, help) < 0) return -1;
    return httpd_sample_u64(b, name, NULL, value);
}

int httpd_gauge(buf_t *b, const char *name, const char *help, double value)
{
    if (httpd_family(b, name, HTTPD_GAUGE, help) < 0) return -1;
    return httpd_sample(b, name, NULL, value);
}
