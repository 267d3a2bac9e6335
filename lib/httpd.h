/* httpd: the small HTTP server every llmaj daemon runs for its operators: GET /metrics
 * (Prometheus text exposition 0.0.4), /healthz and /readyz. It runs on libmicrohttpd's own
 * internal thread, never on a role's event loop, so the callbacks below must read the role's
 * state through thread-safe getters. It owns the listening socket and the connections; it does
 * not own what the callbacks read.
 *
 * Routes: GET or HEAD only (405 otherwise, with Allow); no request body is accepted (413);
 *   /metrics  200 `text/plain; version=0.0.4`, the body the metrics callback writes (500 if it fails)
 *   /healthz  200 "ok" while the process runs
 *   /readyz   200 "ready" when the ready callback says so, else 503 with its reason
 *   anything else 404.
 * Bounded: at most HTTPD_MAX_CONNECTIONS connections, HTTPD_TIMEOUT_S of idle time each, a small
 * per-connection memory pool (so headers are bounded), and HTTPD_MAX_METRICS bytes of metrics.
 *
 * The exposition helpers write one metric family (HELP and TYPE lines, then samples) into a
 * buf_t; they check names against the format's grammar and escape HELP text and label values
 * (backslash, double quote, newline) as the format requires. */
#ifndef LLMAJ_HTTPD_H
#define LLMAJ_HTTPD_H
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define HTTPD_MAX_CONNECTIONS 32
#define HTTPD_TIMEOUT_S 10
#define HTTPD_MAX_METRICS (4u << 20)

typedef struct httpd httpd_t;

/* Writes the whole exposition into `out` (empty, capped at HTTPD_MAX_METRICS). 0, or -1 if it
 * cannot (the scrape then gets a 500). Called on the server's thread, one request at a time. */
typedef int (*httpd_metrics_fn)(buf_t *out, void *arg);
/* True when the process is ready for work; else false with a reason in `reason` (NUL-terminated,
 * at most `len` bytes). Called on the server's thread, one request at a time. */
typedef bool (*httpd_ready_fn)(void *arg, char *reason, size_t len);

/* Listens on `addr`: "HOST:PORT" ("127.0.0.1:9100", "[::1]:9100", "localhost:9100", "0.0.0.0:9100"
 * for every IPv4 interface, "[::]:9100"), ":PORT" or "PORT" (loopback: 127.0.0.1). A server off
 * loopback logs a warning (it has no authentication). Port 0 picks a free port (see httpd_port). `metrics` NULL serves
 * an empty exposition; `ready` NULL is always ready. `arg` is passed to both and must outlive
 * the server. NULL with a message naming the address in err on failure. */
httpd_t *httpd_start(const char *addr, httpd_metrics_fn metrics, httpd_ready_fn ready, void *arg, char *err,
                     size_t errlen);
/* Stops the server (waits for a callback in progress to return) and frees it; NULL is fine. */
void httpd_stop(httpd_t **self_p);
/* The port actually bound. */
int httpd_port(const httpd_t *h);
/* "http://HOST:PORT" to reach the server from this machine (127.0.0.1 or [::1] for a wildcard
 * address). Valid until httpd_stop. */
const char *httpd_url(const httpd_t *h);

/* Resolves a listening address as httpd_start reads it ("HOST:PORT", "[V6]:PORT", ":PORT",
 * "PORT"; no host: 127.0.0.1) into *ss. `what` names it in messages ("--listen").
 * 0, or -1 with err. */
struct sockaddr_storage;
int httpd_resolve(const char *addr, const char *what, struct sockaddr_storage *ss, unsigned *sslen, char *err,
                  size_t errlen) __attribute__((warn_unused_result));
/* Whether the address is a loopback one (127.0.0.0/8, ::1, ::ffff:127.x): false for a wildcard. */
bool httpd_loopback(const struct sockaddr_storage *ss);

/* libmicrohttpd's error logger (MHD_OPTION_EXTERNAL_LOGGER) for every server llmaj runs (this
 * one and the mock LLM's): the message, its line end trimmed, as a warning. `cls` is unused. */
void httpd_mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* ---- Prometheus text exposition helpers: each returns 0, or -1 when a name is not valid in the
 * format or `b` is full (then `b` may hold a partial line: discard it). ---- */
typedef enum { HTTPD_COUNTER = 0, HTTPD_GAUGE } httpd_mtype_t;

/* "# HELP name help" and "# TYPE name counter|gauge", once per family, before its samples. */
int httpd_family(buf_t *b, const char *name, httpd_mtype_t type, const char *help) __attribute__((warn_unused_result));
/* One sample line `name{k="v",...} value`. `labels` is NULL or a NULL-terminated list of pairs
 * {"key", "value", "key", "value", NULL}; values may hold any bytes and are escaped. Integral
 * values are written exactly; NaN and infinities as NaN, +Inf, -Inf. */
int httpd_sample(buf_t *b, const char *name, const char *const *labels, double value)
    __attribute__((warn_unused_result));
/* The same for a 64-bit count, written exactly whatever its size. */
int httpd_sample_u64(buf_t *b, const char *name, const char *const *labels, uint64_t value)
    __attribute__((warn_unused_result));
/* A whole family with one unlabelled sample. */
int httpd_counter(buf_t *b, const char *name, const char *help, uint64_t value) __attribute__((warn_unused_result));
int httpd_gauge(buf_t *b, const char *name, const char *help, double value) __attribute__((warn_unused_result));

#endif
