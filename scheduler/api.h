/* api: the scheduler's REST control plane (DESIGN.md "Control plane"; every route and body in
 * schemas/openapi.yaml), served on libmicrohttpd next to /healthz, /readyz and /metrics, over the
 * one face of the scheduler (scheduler.h): it submits, stops and retries jobs through the engine
 * and reads them back through sched_db_*. It owns the listener, the routes, the token check and
 * the limits on untrusted requests; it does not own the jobs, the database or the engine.
 *
 * Routes. The results viewer's pages (GET /, /jobs/{id}, /assets/...: web/webassets.h), which carry
 * no job data and are served without the token (the page sends it on every /v1 call); POST
 * /v1/jobs (201, 400 with every problem), GET /v1/jobs, GET /v1/jobs/{id},
 * POST /v1/jobs/{id}/stop (202), POST /v1/jobs/{id}/retry[?unscored=true] (202),
 * GET /v1/jobs/{id}/results?offset&limit, GET /v1/jobs/{id}/summary; GET /healthz, /readyz,
 * /metrics. An unknown job is 404, a request its state does not allow 409, a bad request 400, an
 * unknown path 404, a known path with another method 405 (with Allow); every error body is
 * {"errors": [{"key", "message"}]}.
 *
 * Security. With a token, every request but the viewer's pages, /healthz and /readyz must carry
 * "Authorization: Bearer <token>" (401 otherwise, WWW-Authenticate: Bearer); the check compares
 * SHA-256 digests in constant time, and neither the token nor the header is ever logged. The
 * caller refuses to listen off loopback without a token (api_start does too).
 *
 * Limits. A request body larger than API_MAX_BODY is refused with 413 before it is read past the
 * cap; JSON nested deeper than API_MAX_DEPTH is 400 before it is parsed; at most API_MAX_CONNS
 * connections (more wait in the backlog), API_TIMEOUT_S of idleness each, a small per-connection
 * memory pool for the request line and headers; at most API_MAX_SUBMITS submissions load their
 * datasets at once (503 with Retry-After beyond). Reads run on a pool of API_THREADS threads, so
 * one slow request never holds up /healthz. A submission (which reads its whole dataset) runs on
 * its own thread while its connection is suspended. */
#ifndef LLMAJ_API_H
#define LLMAJ_API_H
#include <stdbool.h>
#include <stddef.h>

#include "scheduler.h"

#define API_MAX_BODY (4u << 20) /* bytes of a request body */
#define API_MAX_DEPTH 32        /* JSON nesting of a request body */
#define API_MAX_CONNS 64
#define API_TIMEOUT_S 30
#define API_MAX_SUBMITS 4
#define API_THREADS 4
#define API_PAGE_MAX 1000 /* rows of a results page at most */
#define API_PAGE_DEFAULT 100
#define API_PAGE_BYTES (32u << 20) /* a results page stops adding rows past this many bytes */

typedef struct api api_t;

typedef struct {
    const char *listen;   /* "HOST:PORT", "[V6]:PORT", ":PORT" or "PORT" (port 0: any free port) */
    const char *token;    /* NULL or "": no token (then the address must be loopback) */
    sched_t *engine;      /* borrowed: submits, stops, retries, snapshots */
    const char *db_path;  /* the engine's job database (read per request) */
    const char *base_dir; /* relative paths in submitted specs start here; NULL: the current folder */
    const char *broker;   /* named in /readyz */
} api_opts_t;

/* Listens and serves on libmicrohttpd's threads. NULL with err (the address, a wildcard or
 * non-loopback address without a token). Caller owns the result. */
api_t *api_start(const api_opts_t *o, char *err, size_t errlen);

/* "http://HOST:PORT" to reach it from this machine. Valid until api_stop. */
const char *api_url(const api_t *a);

/* The service is shutting down: from now on every request but /healthz is answered 503 (with
 * Retry-After), /readyz included; requests already being answered, a submission loading its
 * dataset among them, finish as usual. Thread-safe; accepts NULL. */
void api_close(api_t *a);

/* Waits for submissions in progress, stops serving, frees. Accepts NULL; sets *self_p = NULL. */
void api_stop(api_t **self_p);

/* ---- the bodies (api_body.c) ---- */

/* One job as the API shows it: job_id, name, status, created_at, started_at, ended_at, model,
 * base_model, evaluator_model, progress, steps, output, error, note, partial, mlflow. Caller owns. */
cJSON *api_job_json(const sched_status_t *st);

/* {"errors": [{"key", "message"}]} for every message of errs, each split into the key it names
 * (a spec key, FILE:LINE) and the rest; `key` when a message names none. Caller frees. */
char *api_errors_json(const errlist_t *errs, const char *key);

/* The same for one message. Caller frees. */
char *api_error_json(const char *key, const char *message);

/* Whether the JSON text nests arrays and objects deeper than max (strings are skipped). */
bool api_json_too_deep(const char *text, size_t len, int max);

/* Splits "key: message" when the part before ": " has no space (a spec key, "FILE:LINE",
 * "builtin_metrics[2]"): *key gets a copy (caller frees), *rest the message after it; else *key
 * NULL and *rest the whole message. */
void api_split_message(const char *msg, char **key, const char **rest);

#endif
