/* transfer: one attempt of a model call on the wire, and the libcurl multi handle driven by the
 * thread's loop; see llm_int.h. Owns easy handles (reused), the per-attempt curl options, the
 * body and header sinks with their caps, and the loop <-> curl glue. Does not decide anything
 * about a call: llm.c gets every finished attempt (llm_attempt_done).
 *
 * DESIGN. Driving libcurl follows docs/examples/multi-event.c: CURLMOPT_SOCKETFUNCTION maps
 * curl's interest in a socket onto loop_fd_set, CURLMOPT_TIMERFUNCTION keeps one loop timer, and
 * both fd and timer callbacks call curl_multi_socket_action and then read finished transfers with
 * curl_multi_info_read (transfer_process). User callbacks run from there, never from inside a
 * curl callback. CURLOPT_PRIVATE of an easy handle points back to its call. */
#define LOG_MODULE "llm"
#include "llm_int.h"
#include "log.h"
#include "mem.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;
static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

bool transfer_global_ready(void)
{
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc == CURLE_OK) return true;
    log_error("curl_global_init: %s", curl_easy_strerror(curl_init_rc));
    return false;
}

/* URL without user:password@ for messages. */
void transfer_url_for_log(const char *url, char *out, size_t n)
{
    const char *s = strstr(url, "://");
    const char *host = s ? s + 3 : url;
    const char *slash = strchr(host, '/');
    const char *at = memchr(host, '@', slash ? (size_t)(slash - host) : strlen(host));
    if (at) snprintf(out, n, "%.*s%s", (int)(host - url), url, at + 1);
    else snprintf(out, n, "%s", url);
}

/* Easy handles are reused: curl_easy_init and curl_easy_cleanup for every request cost more than
 * the rest of an attempt's setup together, and curl_easy_reset keeps the handle's allocations.
 * At most max_concurrency idle handles are kept. */
static CURL *easy_get(llm_client_t *c)
{
    if (c->n_idle > 0) return c->idle[--c->n_idle];
    return curl_easy_init();
}
static void easy_put(llm_client_t *c, CURL *easy)
{
    if (c->destroying || c->n_idle >= (size_t)c->o.max_concurrency) {
        curl_easy_cleanup(easy);
        return;
    }
    curl_easy_reset(easy); /* no option, and so no pointer to the finished call, survives */
    if (c->n_idle == c->cap_idle) {
        c->cap_idle = c->cap_idle ? c->cap_idle * 2 : 64;
        c->idle = xrealloc(c->idle, c->cap_idle * sizeof(CURL *));
    }
    c->idle[c->n_idle++] = easy;
}
static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    call_t *call = userdata;
    size_t n = size * nmemb;
    if (buf_append(&call->resp, ptr, n) < 0) {
        call->body_overflow = true;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    return n;
}
static size_t on_header(char *ptr, size_t size, size_t nitems, void *userdata)
{
    call_t *call = userdata;
    size_t n = size * nitems;
    if (httpmsg_headers_feed_line(&call->rh, ptr, n, LLM_MAX_HEADERS) < 0) {
        call->header_overflow = true;
        return 0;
    }
    return n;
}
llm_status_t transfer_class(CURLcode rc)
{
    switch (rc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_TOO_MANY_REDIRECTS:
    case CURLE_LOGIN_DENIED:
    case CURLE_FILESIZE_EXCEEDED: return LLM_ERR_PERMANENT;
    default: /* connect failures, timeouts, resets, DNS, TLS handshakes, HTTP/2 stream errors */
        return LLM_ERR_TRANSIENT;
    }
}
#define SETOPT(opt, val)                                           \
    do {                                                           \
        if (rc == CURLE_OK) rc = curl_easy_setopt(easy, opt, val); \
    } while (0)

/* Starts one attempt of a QUEUED call that the gate admitted. */
void transfer_start(llm_client_t *c, call_t *call)
{
    call->attempts++;
    if (!call->t_first_us) call->t_first_us = loop_time_us(c->loop);
    call->state = CALL_ACTIVE;
    c->active++;
    c->stats.http_requests++;

    buf_free(&call->resp);
    buf_init(&call->resp, LLM_MAX_BODY);
    httpmsg_headers_clear(&call->rh);
    call->body_overflow = call->header_overflow = false;
    call->curl_err[0] = '\0';
    call->http_status = 0;

    char err[512];
    if (call->m->prov->before_send &&
        call->m->prov->before_send(&call->m->ms, &call->m->where, &call->http, err, sizeof err) < 0) {
        llm_set_error(call, LLM_ERR_PERMANENT, "cannot prepare the request: %s", err);
        llm_attempt_done(c, call, CURLE_ABORTED_BY_CALLBACK, 0, true);
        return;
    }
    curl_slist_free_all(call->hdrs);
    call->hdrs = NULL;
    bool hdr_ok = true;
    for (size_t i = 0; i < call->http.headers.n && hdr_ok; i++) {
        char *line = xasprintf("%s: %s", call->http.headers.v[i].name, call->http.headers.v[i].value);
        struct curl_slist *n = curl_slist_append(call->hdrs, line);
        free(line);
        if (n) call->hdrs = n;
        else hdr_ok = false;
    }
    struct curl_slist *n = hdr_ok ? curl_slist_append(call->hdrs, "Expect:") : NULL; /* no 100-continue */
    if (n) call->hdrs = n;

    CURL *easy = n ? easy_get(c) : NULL;
    if (!easy) {
        llm_set_error(call, LLM_ERR_TRANSIENT, "cannot allocate a transfer");
        llm_attempt_done(c, call, CURLE_OUT_OF_MEMORY, 0, true);
        return;
    }
    CURLcode rc = CURLE_OK;
    SETOPT(CURLOPT_URL, call->http.url);
    SETOPT(CURLOPT_PRIVATE, call);
    SETOPT(CURLOPT_CUSTOMREQUEST, strcmp(call->http.method, "POST") == 0 ? NULL : call->http.method);
    SETOPT(CURLOPT_POST, 1L);
    SETOPT(CURLOPT_POSTFIELDS, call->http.body.data ? call->http.body.data : "");
    SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->http.body.len);
    SETOPT(CURLOPT_HTTPHEADER, call->hdrs);
    SETOPT(CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(CURLOPT_WRITEDATA, call);
    SETOPT(CURLOPT_HEADERFUNCTION, on_header);
    SETOPT(CURLOPT_HEADERDATA, call);
    SETOPT(CURLOPT_ERRORBUFFER, call->curl_err);
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_TCP_NODELAY, 1L);
    SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, (long)c->o.connect_timeout_ms);
    SETOPT(CURLOPT_TIMEOUT_MS, (long)c->o.request_timeout_ms);
    SETOPT(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    /* Over TLS, wait for ALPN to tell whether a connection in progress can multiplex (HTTP/2)
     * rather than open another. Not over cleartext: there the server's HTTP version is known only
     * from its first reply, which from an LLM can take a minute, and every request would wait. */
    if (strncasecmp(call->http.url, "https://", 8) == 0) SETOPT(CURLOPT_PIPEWAIT, 1L);
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(CURLOPT_ACCEPT_ENCODING, "");
    SETOPT(CURLOPT_USERAGENT, "llmaj/" LLMAJ_VERSION);
    if (rc != CURLE_OK) {
        easy_put(c, easy);
        llm_set_error(call, LLM_ERR_PERMANENT, "cannot configure the transfer: %s", curl_easy_strerror(rc));
        llm_attempt_done(c, call, rc, 0, true);
        return;
    }
    call->easy = easy;
    CURLMcode mc = curl_multi_add_handle(c->multi, easy);
    if (mc != CURLM_OK) {
        call->easy = NULL;
        easy_put(c, easy);
        log_error("curl_multi_add_handle: %s", curl_multi_strerror(mc));
        llm_set_error(call, LLM_ERR_TRANSIENT, "cannot start the transfer: %s", curl_multi_strerror(mc));
        llm_attempt_done(c, call, CURLE_FAILED_INIT, 0, true);
    }
}

/* Reads finished transfers (at most PASS_BUDGET), then starts what they made room for. */
void transfer_process(llm_client_t *c)
{
    int left = 0;
    for (int budget = PASS_BUDGET; budget > 0; budget--) {
        CURLMsg *msg = curl_multi_info_read(c->multi, &left);
        if (!msg) break;
        if (msg->msg != CURLMSG_DONE) continue;
        CURL *easy = msg->easy_handle;
        CURLcode res = msg->data.result;
        char *priv = NULL;
        long status = 0;
        if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv) != CURLE_OK || !priv) {
            log_error("finished transfer without its call; dropping it");
            CURLMcode mc = curl_multi_remove_handle(c->multi, easy);
            if (mc != CURLM_OK) log_error("curl_multi_remove_handle: %s", curl_multi_strerror(mc));
            curl_easy_cleanup(easy);
            continue;
        }
        if (curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK) status = 0;
        CURLMcode mc = curl_multi_remove_handle(c->multi, easy);
        if (mc != CURLM_OK) log_error("curl_multi_remove_handle: %s", curl_multi_strerror(mc));
        if (mc == CURLM_OK) easy_put(c, easy);
        else curl_easy_cleanup(easy);
        call_t *call = (call_t *)priv;
        call->easy = NULL;
        llm_attempt_done(c, call, res, status, false);
    }
    if (left > 0) llm_kick(c);
    llm_pump(c);
}

/* ---- loop <-> curl glue (multi-event.c) ---- */
static void on_fd(loop_t *loop, int fd, int events, void *arg)
{
    (void)loop;
    llm_client_t *c = arg;
    int flags = ((events & LOOP_READ) ? CURL_CSELECT_IN : 0) | ((events & LOOP_WRITE) ? CURL_CSELECT_OUT : 0);
    int running = 0;
    CURLMcode mc = curl_multi_socket_action(c->multi, fd, flags, &running);
    if (mc != CURLM_OK) log_error("curl_multi_socket_action(fd %d): %s", fd, curl_multi_strerror(mc));
    transfer_process(c);
}

static void on_curl_timeout(loop_t *loop, uint64_t id, void *arg)
{
    (void)loop;
    (void)id;
    llm_client_t *c = arg;
    c->curl_timer = 0;
    int running = 0;
    CURLMcode mc = curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    if (mc != CURLM_OK) log_error("curl_multi_socket_action(timeout): %s", curl_multi_strerror(mc));
    transfer_process(c);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    llm_client_t *c = userp;
    if (c->curl_timer) {
        loop_timer_del(c->loop, c->curl_timer);
        c->curl_timer = 0;
    }
    /* 0 means "as soon as possible": the loop runs a 0 ms timer on its next pass, never from
     * inside this callback, which curl forbids. */
    if (timeout_ms >= 0 && !c->destroying) c->curl_timer = loop_timer_add(c->loop, timeout_ms, on_curl_timeout, c);
    return 0;
}

static void socks_forget(llm_client_t *c, int fd)
{
    for (size_t i = 0; i < c->n_socks; i++)
        if (c->socks[i] == fd) {
            c->socks[i] = c->socks[--c->n_socks];
            return;
        }
}

static int on_curl_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)easy;
    llm_client_t *c = userp;
    if (what == CURL_POLL_REMOVE) {
        loop_fd_del(c->loop, s);
        socks_forget(c, s);
        return 0;
    }
    if (c->destroying) return 0;
    int events = ((what & CURL_POLL_IN) ? LOOP_READ : 0) | ((what & CURL_POLL_OUT) ? LOOP_WRITE : 0);
    if (!socketp) { /* first time curl tells us about this socket */
        CURLMcode mc = curl_multi_assign(c->multi, s, c);
        if (mc != CURLM_OK) log_error("curl_multi_assign(fd %d): %s", (int)s, curl_multi_strerror(mc));
        if (c->n_socks == c->cap_socks) {
            c->cap_socks = c->cap_socks ? c->cap_socks * 2 : 64;
            c->socks = xrealloc(c->socks, c->cap_socks * sizeof(int));
        }
        c->socks[c->n_socks++] = s;
    }
    if (loop_fd_set(c->loop, s, events, on_fd, c) < 0) {
        log_error("cannot watch socket %d: %s", (int)s, strerror(errno));
        return -1; /* curl fails the transfers on it (CURLM_ABORTED_BY_CALLBACK) */
    }
    return 0;
}

int transfer_setup(llm_client_t *c)
{
    c->multi = curl_multi_init();
    if (!c->multi) {
        log_error("curl_multi_init failed");
        return -1;
    }
    CURLMcode mc = CURLM_OK;
#define MSETOPT(opt, val)                                               \
    do {                                                                \
        if (mc == CURLM_OK) mc = curl_multi_setopt(c->multi, opt, val); \
    } while (0)
    MSETOPT(CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    MSETOPT(CURLMOPT_SOCKETDATA, c);
    MSETOPT(CURLMOPT_TIMERFUNCTION, on_curl_timer);
    MSETOPT(CURLMOPT_TIMERDATA, c);
    MSETOPT(CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    MSETOPT(CURLMOPT_MAX_HOST_CONNECTIONS, (long)c->o.max_concurrency);
    MSETOPT(CURLMOPT_MAXCONNECTS, (long)c->o.max_concurrency);
#undef MSETOPT
    if (mc != CURLM_OK) {
        log_error("curl_multi_setopt: %s", curl_multi_strerror(mc));
        mc = curl_multi_cleanup(c->multi);
        if (mc != CURLM_OK) log_error("curl_multi_cleanup: %s", curl_multi_strerror(mc));
        c->multi = NULL;
        return -1;
    }
    return 0;
}

void transfer_drop(llm_client_t *c, call_t *call)
{
    if (!call->easy) return;
    CURLMcode mc = curl_multi_remove_handle(c->multi, call->easy);
    if (mc != CURLM_OK) log_error("curl_multi_remove_handle: %s", curl_multi_strerror(mc));
    curl_easy_cleanup(call->easy);
    call->easy = NULL;
}

void transfer_teardown(llm_client_t *c)
{
    if (c->curl_timer) loop_timer_del(c->loop, c->curl_timer);
    c->curl_timer = 0;
    for (size_t i = 0; i < c->n_idle; i++) curl_easy_cleanup(c->idle[i]);
    free(c->idle);
    c->idle = NULL;
    c->n_idle = 0;
    if (c->multi) {
        CURLMcode mc = curl_multi_cleanup(c->multi);
        if (mc != CURLM_OK) log_error("curl_multi_cleanup: %s", curl_multi_strerror(mc));
        c->multi = NULL;
    }
    if (c->curl_timer) loop_timer_del(c->loop, c->curl_timer); /* the cleanup may have asked for one */
    c->curl_timer = 0;
    for (size_t i = 0; i < c->n_socks; i++) loop_fd_del(c->loop, c->socks[i]); /* curl closed them */
    free(c->socks);
    c->socks = NULL;
    c->n_socks = 0;
}
