/* api: the REST control plane on libmicrohttpd; see api.h.
 *
 * DESIGN. One libmicrohttpd daemon with a pool of API_THREADS polling threads (epoll) and
 * suspend/resume. A request's first call brings its headers: a body announced larger than the
 * cap is refused there (413) before a byte of it is read; the next calls bring the body, kept up
 * to the cap (past it the rest is read and dropped, and the answer is 413); the last call answers.
 * The token is checked on that last call, before anything else, for every route but /healthz and
 * /readyz. Reads (the job list, a job, a page of results, a summary) open their own sched_db_t on
 * the polling thread, answer and close it: one connection per request, so no state is shared
 * between threads but the engine's face, which is thread-safe. A submission reads its whole
 * dataset, which may take a while: its connection is suspended and a thread of its own runs
 * sched_submit, stores the answer and resumes the connection, whose last call then sends it.
 * api_stop waits for those threads before it stops the daemon (libmicrohttpd cannot stop with
 * suspended connections). */
#define LOG_MODULE "api"
#include "api.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "buf.h"
#include "cache.h"
#include "daemon.h"
#include "file.h"
#include "httpd.h"
#include "log.h"
#include "mem.h"
#include "webassets.h"

#define CONN_MEMORY (32u * 1024) /* per-connection pool: request line and headers */
#define JOB_ID_SHOWN 128         /* an id longer than this names no job */
static const char CT_JSON[] = "application/json";
static const char CT_TEXT[] = "text/plain; charset=utf-8";
static const char CT_METRICS[] = "text/plain; version=0.0.4; charset=utf-8";

struct api {
    api_opts_t o;
    char *listen, *db_path, *base_dir, *broker;
    struct MHD_Daemon *d;
    bool has_token;
    unsigned char token_sha[SHA256_DIGEST_LENGTH];
    char url[INET6_ADDRSTRLEN + 32];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int submits;         /* submission threads running */
    atomic_bool closing; /* api_close: every request but /healthz answered 503 */
};

/* One request, from its first call to its completion. */
typedef struct {
    api_t *a;
    struct MHD_Connection *c;
    buf_t body;
    bool too_big;
    /* A submission: running on its thread, then its answer. */
    bool submitting, submitted;
    unsigned status;
    char *answer, *location;
} req_t;

/* ------------------------------------------------------------------ answering ---- */

/* Queues `body` (taken over) with `status` and content type; `allow` adds an Allow header. */
static enum MHD_Result send_body(struct MHD_Connection *c, unsigned status, const char *ctype, char *body,
                                 const char *allow, const char *location)
{
    size_t len = body ? strlen(body) : 0;
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body ? body : (char *)"",
                                                             body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    enum MHD_Result ret = MHD_NO;
    if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype) == MHD_YES &&
        MHD_add_response_header(r, "Cache-Control", "no-store") == MHD_YES &&
        MHD_add_response_header(r, "X-Content-Type-Options", "nosniff") == MHD_YES &&
        (!allow || MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow) == MHD_YES) &&
        (!location || MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, location) == MHD_YES) &&
        (status != 401 || MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer") == MHD_YES) &&
        (status != 503 || MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "5") == MHD_YES))
        ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, char *json)
{
    return send_body(c, status, CT_JSON, json, NULL, NULL);
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *key, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return send_json(c, status, api_error_json(key, msg));
}

static enum MHD_Result send_errors(struct MHD_Connection *c, unsigned status, const errlist_t *errs, const char *key)
{
    return send_json(c, status, api_errors_json(errs, key));
}

static enum MHD_Result send_cjson(struct MHD_Connection *c, unsigned status, cJSON *o)
{
    char *txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!txt) return send_error(c, 500, "", "cannot format the answer");
    return send_json(c, status, txt);
}

/* The HTTP status of a scheduler error. */
static unsigned status_of(sched_err_t e)
{
    switch (e) {
    case SCHED_OK: return 200;
    case SCHED_E_INPUT: return 400;
    case SCHED_E_NOTFOUND: return 404;
    case SCHED_E_STATE: return 409;
    case SCHED_E_INTERRUPTED: return 503;
    default: return 500;
    }
}

/* ------------------------------------------------------------------ auth and parameters ---- */

static bool authorized(api_t *a, struct MHD_Connection *c)
{
    if (!a->has_token) return true;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) return false;
    const char *given = h + 7;
    while (*given == ' ') given++;
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)given, strlen(given), d);
    return CRYPTO_memcmp(d, a->token_sha, sizeof d) == 0;
}

/* A query parameter as a non-negative integer within [0, max]: 0 (and *v, or def when absent),
 * or -1 with the message in msg. */
static int query_u64(struct MHD_Connection *c, const char *name, uint64_t def, uint64_t min, uint64_t max, uint64_t *v,
                     char *msg, size_t msglen)
{
    const char *s = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
    *v = def;
    if (!s) return 0;
    char *end = NULL;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (!*s || *s == '-' || *s == '+' || *s == ' ' || errno || *end || x < min || x > max) {
        snprintf(msg, msglen, "must be an integer from %llu to %llu, got '%.64s'", (unsigned long long)min,
                 (unsigned long long)max, s);
        return -1;
    }
    *v = x;
    return 0;
}

/* Whether `id` can be a job id at all (anything else names no job: 404). */
static bool id_ok(const char *id, size_t n)
{
    if (n == 0 || n >= JOB_ID_SHOWN) return false;
    for (size_t i = 0; i < n; i++) {
        char ch = id[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
              ch == '_' || ch == '.'))
            return false;
    }
    return true;
}

/* ------------------------------------------------------------------ reading jobs ---- */

/* Opens the job database for one request. NULL after answering (500, or 503 when there is none). */
static sched_db_t *db_of(api_t *a, struct MHD_Connection *c, enum MHD_Result *ret)
{
    errlist_t errs;
    errlist_init(&errs, 4);
    sched_db_t *db = NULL;
    sched_err_t rc = sched_db_open(a->db_path, NULL, &db, &errs);
    if (rc != SCHED_OK) *ret = send_errors(c, rc == SCHED_E_NOTFOUND ? 503 : 500, &errs, "database");
    errlist_free(&errs);
    return db;
}

static enum MHD_Result get_job(api_t *a, struct MHD_Connection *c, const char *id)
{
    enum MHD_Result ret = MHD_NO;
    sched_db_t *db = db_of(a, c, &ret);
    if (!db) return ret;
    errlist_t errs;
    errlist_init(&errs, 4);
    sched_status_t st;
    sched_err_t rc = sched_job_status(db, id, &st, &errs);
    if (rc == SCHED_OK) {
        ret = send_cjson(c, 200, api_job_json(&st));
        sched_status_clear(&st);
    } else {
        ret = send_errors(c, status_of(rc), &errs, "job_id");
    }
    errlist_free(&errs);
    sched_db_close(&db);
    return ret;
}

typedef struct {
    sched_db_t *db;
    cJSON *jobs;
} list_t;

static int list_one(const sched_job_t *j, void *arg)
{
    list_t *l = arg;
    errlist_t errs;
    errlist_init(&errs, 1);
    sched_status_t st;
    /* A job deleted between the list and its status is simply not shown. */
    if (sched_job_status(l->db, j->job_id, &st, &errs) == SCHED_OK) {
        cJSON_AddItemToArray(l->jobs, api_job_json(&st));
        sched_status_clear(&st);
    }
    errlist_free(&errs);
    return 0;
}

static enum MHD_Result list_jobs(api_t *a, struct MHD_Connection *c)
{
    enum MHD_Result ret = MHD_NO;
    sched_db_t *db = db_of(a, c, &ret);
    if (!db) return ret;
    /* A second connection reads each job's status while the first walks the list. */
    sched_db_t *db2 = db_of(a, c, &ret);
    if (!db2) {
        sched_db_close(&db);
        return ret;
    }
    cJSON *o = cJSON_CreateObject();
    list_t l = {.db = db2, .jobs = cJSON_AddArrayToObject(o, "jobs")};
    errlist_t errs;
    errlist_init(&errs, 4);
    sched_err_t rc = sched_jobs_list(db, list_one, &l, &errs);
    if (rc == SCHED_OK) ret = send_cjson(c, 200, o);
    else {
        cJSON_Delete(o);
        ret = send_errors(c, 500, &errs, "database");
    }
    errlist_free(&errs);
    sched_db_close(&db2);
    sched_db_close(&db);
    return ret;
}

typedef struct {
    const char *job_id;
    buf_t out;
    size_t rows;
    bool failed;
} page_t;

static void page_head(const sched_page_t *pg, void *arg)
{
    page_t *p = arg;
    if (buf_printf(&p->out, "{\"total\":%llu,\"records\":[", (unsigned long long)pg->total) < 0) p->failed = true;
}

static int page_row(const record_t *rec, const result_t *res, void *arg)
{
    page_t *p = arg;
    size_t mark = p->out.len;
    if (p->rows && buf_putc(&p->out, ',') < 0) return -1;
    if (sched_result_line(&p->out, p->job_id, rec, res) < 0) {
        p->out.len = mark; /* the row does not fit: the page ends before it */
        return -1;
    }
    if (p->out.len && p->out.data[p->out.len - 1] == '\n') p->out.len--;
    p->rows++;
    return p->out.len >= API_PAGE_BYTES ? -1 : 0;
}

static enum MHD_Result get_results(api_t *a, struct MHD_Connection *c, const char *id)
{
    char msg[256];
    uint64_t offset, limit;
    if (query_u64(c, "offset", 0, 0, INT64_MAX, &offset, msg, sizeof msg) < 0)
        return send_error(c, 400, "offset", "%s", msg);
    if (query_u64(c, "limit", API_PAGE_DEFAULT, 1, API_PAGE_MAX, &limit, msg, sizeof msg) < 0)
        return send_error(c, 400, "limit", "%s", msg);
    enum MHD_Result ret = MHD_NO;
    sched_db_t *db = db_of(a, c, &ret);
    if (!db) return ret;
    page_t p = {.job_id = id};
    buf_init(&p.out, API_PAGE_BYTES + (64u << 20));
    sched_rows_t cbs = {.head = page_head, .row = page_row, .arg = &p};
    errlist_t errs;
    errlist_init(&errs, 4);
    sched_err_t rc = sched_job_results(db, id, offset, limit, &cbs, NULL, &errs);
    if (rc == SCHED_E_IO) rc = SCHED_OK; /* the page ended early (bytes): what it holds is whole */
    if (rc == SCHED_OK && (p.failed || buf_puts(&p.out, "]}") < 0)) {
        errlist_add(&errs, "the page does not fit in memory: ask for fewer rows (limit)");
        rc = SCHED_E_INTERNAL;
    }
    if (rc == SCHED_OK) ret = send_json(c, 200, buf_take(&p.out));
    else ret = send_errors(c, status_of(rc), &errs, "job_id");
    buf_free(&p.out);
    errlist_free(&errs);
    sched_db_close(&db);
    return ret;
}

static enum MHD_Result get_summary(api_t *a, struct MHD_Connection *c, const char *id)
{
    enum MHD_Result ret = MHD_NO;
    sched_db_t *db = db_of(a, c, &ret);
    if (!db) return ret;
    errlist_t errs;
    errlist_init(&errs, 4);
    sched_status_t st;
    sched_err_t rc = sched_job_status(db, id, &st, &errs);
    char *text = NULL;
    if (rc == SCHED_OK) {
        /* summary.json as written (byte for byte), else the copy the database keeps. */
        char *path = st.output_dir ? xasprintf("%s/summary.json", st.output_dir) : NULL;
        size_t len = 0;
        char err[512];
        bool ended = sched_job_state_ended(st.job.state);
        if (ended && path && file_read_all(path, 256u << 20, 0, &text, &len, err, sizeof err) < 0) text = NULL;
        free(path);
        cJSON *sum = NULL;
        if (ended && !text && sched_job_summary(db, id, &sum, &errs) == SCHED_OK) text = cJSON_Print(sum);
        cJSON_Delete(sum);
        if (!text) {
            errlist_free(&errs);
            errlist_init(&errs, 4);
            errlist_add(&errs, "summary: job %s is %s: summary.json is written when it ends", id,
                        sched_job_state_name(st.job.state));
            rc = SCHED_E_NOTFOUND;
        }
        sched_status_clear(&st);
    }
    if (rc == SCHED_OK) ret = send_json(c, 200, text);
    else ret = send_errors(c, status_of(rc), &errs, "job_id");
    errlist_free(&errs);
    sched_db_close(&db);
    return ret;
}

/* ------------------------------------------------------------------ changing jobs ---- */

static enum MHD_Result post_stop(api_t *a, struct MHD_Connection *c, const char *id)
{
    errlist_t errs;
    errlist_init(&errs, 4);
    sched_err_t rc = sched_stop(a->o.engine, id, &errs);
    enum MHD_Result ret;
    if (rc == SCHED_OK) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "job_id", id);
        cJSON_AddStringToObject(o, "status", sched_job_state_name(SCHED_JOB_STOPPING));
        ret = send_cjson(c, 202, o);
    } else {
        ret = send_errors(c, status_of(rc), &errs, "job_id");
    }
    errlist_free(&errs);
    return ret;
}

static enum MHD_Result post_retry(api_t *a, struct MHD_Connection *c, const char *id)
{
    const char *u = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "unscored");
    bool unscored = false;
    if (u && (!strcmp(u, "true") || !strcmp(u, "1"))) unscored = true;
    else if (u && strcmp(u, "false") && strcmp(u, "0"))
        return send_error(c, 400, "unscored", "must be true or false, got '%.64s'", u);
    errlist_t errs;
    errlist_init(&errs, 8);
    uint64_t cells = 0;
    sched_err_t rc = sched_retry(a->o.engine, id, unscored, &cells, &errs);
    enum MHD_Result ret;
    if (rc == SCHED_OK) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "job_id", id);
        cJSON_AddStringToObject(o, "status", sched_job_state_name(SCHED_JOB_PENDING));
        cJSON_AddNumberToObject(o, "cells", (double)cells);
        ret = send_cjson(c, 202, o);
    } else {
        ret = send_errors(c, status_of(rc), &errs, rc == SCHED_E_STATE ? "status" : "job_id");
    }
    errlist_free(&errs);
    return ret;
}

static void *submit_thread(void *arg)
{
    req_t *r = arg;
    api_t *a = r->a;
    errlist_t errs;
    errlist_init(&errs, 64);
    char job_id[SCHED_JOB_ID_MAX];
    sched_submit_t in = {.spec_json = r->body.data, .len = r->body.len, .origin = "request", .base_dir = a->base_dir};
    sched_err_t rc = sched_submit(a->o.engine, &in, job_id, &errs);
    if (rc == SCHED_OK) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "job_id", job_id);
        cJSON_AddStringToObject(o, "status", sched_job_state_name(SCHED_JOB_PENDING));
        r->answer = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        r->location = xasprintf("/v1/jobs/%s", job_id);
        r->status = 201;
        log_info("job %s submitted over the API", job_id);
    } else {
        r->answer = api_errors_json(&errs, "");
        r->status = status_of(rc);
    }
    errlist_free(&errs);
    r->submitted = true;
    MHD_resume_connection(r->c); /* the last touch of r: its connection may now answer and end */
    pthread_mutex_lock(&a->mu);
    a->submits--;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

static enum MHD_Result post_job(api_t *a, req_t *r)
{
    struct MHD_Connection *c = r->c;
    if (r->submitted) {
        char *answer = r->answer, *loc = r->location;
        r->answer = NULL;
        enum MHD_Result ret = send_body(c, r->status, CT_JSON, answer, NULL, loc);
        return ret;
    }
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (ct && strncasecmp(ct, "application/json", 16) != 0)
        return send_error(c, 415, "Content-Type", "the body must be a job spec in JSON (application/json), not %.64s",
                          ct);
    if (r->body.len == 0) return send_error(c, 400, "body", "the body must be a job spec (a JSON object)");
    if (api_json_too_deep(r->body.data, r->body.len, API_MAX_DEPTH))
        return send_error(c, 400, "body", "JSON nested deeper than %d levels", API_MAX_DEPTH);
    cJSON *spec = cJSON_ParseWithLength(r->body.data, r->body.len);
    bool object = cJSON_IsObject(spec);
    cJSON_Delete(spec);
    if (!object) return send_error(c, 400, "body", "the body must be a job spec: a JSON object");
    pthread_mutex_lock(&a->mu);
    bool room = a->submits < API_MAX_SUBMITS;
    if (room) a->submits++;
    pthread_mutex_unlock(&a->mu);
    if (!room)
        return send_error(c, 503, "", "%d submissions are loading their datasets already: try again shortly",
                          API_MAX_SUBMITS);
    pthread_t th;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    r->submitting = true;
    MHD_suspend_connection(c);
    int rc = pthread_create(&th, &at, submit_thread, r);
    pthread_attr_destroy(&at);
    if (rc != 0) {
        MHD_resume_connection(c);
        r->submitting = false;
        pthread_mutex_lock(&a->mu);
        a->submits--;
        pthread_mutex_unlock(&a->mu);
        return send_error(c, 503, "", "cannot start a submission now: try again shortly");
    }
    return MHD_YES;
}

/* ------------------------------------------------------------------ health and metrics ---- */

typedef struct {
    buf_t *out;
    int rc;
} metrics_t;

static void metric_job(const sched_progress_t *p, sched_phase_t ph, void *arg)
{
    metrics_t *m = arg;
    static const char *const phases[] = {"queued", "running", "ending"};
    const char *l[] = {"job_id", p->job_id, NULL};
    const char *lp[] = {"job_id", p->job_id, "phase", phases[ph], NULL};
    const char *st[4][5] = {{"job_id", p->job_id, "status", "ok", NULL},
                            {"job_id", p->job_id, "status", "unscored", NULL},
                            {"job_id", p->job_id, "status", "not_applicable", NULL},
                            {"job_id", p->job_id, "status", "error", NULL}};
    if (httpd_sample(m->out, "llmaj_scheduler_job_info", lp, 1) < 0 ||
        httpd_sample_u64(m->out, "llmaj_scheduler_job_units", l, p->units_total) < 0 ||
        httpd_sample_u64(m->out, "llmaj_scheduler_job_units_done", l, p->units_done) < 0 ||
        httpd_sample_u64(m->out, "llmaj_scheduler_job_shards", l, p->shards_total) < 0 ||
        httpd_sample_u64(m->out, "llmaj_scheduler_job_shards_done", l, p->shards_done) < 0 ||
        httpd_sample_u64(m->out, "llmaj_scheduler_job_shards_inflight", l, p->shards_inflight) < 0 ||
        httpd_sample_u64(m->out, "llmaj_scheduler_job_scores", st[0], p->scores_ok) < 0 ||
        httpd_sample_u64(m->out, "llmaj_scheduler_job_scores", st[1], p->scores_unscored) < 0 ||
        httpd_sample_u64(m->out, "llmaj_scheduler_job_scores", st[2], p->scores_na) < 0 ||
        httpd_sample_u64(m->out, "llmaj_scheduler_job_scores", st[3], p->scores_error) < 0 ||
        httpd_sample(m->out, "llmaj_scheduler_job_elapsed_seconds", l, p->elapsed_s) < 0 ||
        httpd_sample(m->out, "llmaj_scheduler_job_stalled_seconds", l, p->stalled_s) < 0)
        m->rc = -1;
}

/* Families are written one at a time: the samples of every job under each. */
typedef struct {
    const char *name, *help;
    httpd_mtype_t type;
} family_t;

static const family_t job_families[] = {
    {"llmaj_scheduler_job_info", "1 for each job the service holds, with its phase.", HTTPD_GAUGE},
    {"llmaj_scheduler_job_units", "(record, target) pairs of the job.", HTTPD_GAUGE},
    {"llmaj_scheduler_job_units_done", "(record, target) pairs committed with every metric.", HTTPD_GAUGE},
    {"llmaj_scheduler_job_shards", "Shards of the job.", HTTPD_GAUGE},
    {"llmaj_scheduler_job_shards_done", "Shards of the job done.", HTTPD_GAUGE},
    {"llmaj_scheduler_job_shards_inflight", "Shards of the job submitted and not done.", HTTPD_GAUGE},
    {"llmaj_scheduler_job_scores", "Scores of the job committed, by status.", HTTPD_GAUGE},
    {"llmaj_scheduler_job_elapsed_seconds", "Seconds since the job started running in this service.", HTTPD_GAUGE},
    {"llmaj_scheduler_job_stalled_seconds",
     "Seconds without a result while shards of the job are in flight, once past --stall-after; 0: progressing.",
     HTTPD_GAUGE},
};

/* A sample family's samples: renders every job's samples and keeps the lines of `family`. */
static void keep_family(const char *family, const buf_t *all, buf_t *out, int *rc)
{
    size_t fl = strlen(family);
    for (size_t i = 0; i < all->len;) {
        const char *line = all->data + i;
        const char *nl = memchr(line, '\n', all->len - i);
        size_t n = nl ? (size_t)(nl - line) + 1 : all->len - i;
        if (n > fl && !strncmp(line, family, fl) && (line[fl] == '{' || line[fl] == ' '))
            if (buf_append(out, line, n) < 0) *rc = -1;
        i += n;
    }
}

typedef struct {
    uint64_t by_state[6];
} states_t;

static int count_state(const sched_job_t *j, void *arg)
{
    states_t *s = arg;
    if ((unsigned)j->state < 6) s->by_state[j->state]++;
    return 0;
}

static enum MHD_Result serve_metrics(api_t *a, struct MHD_Connection *c)
{
    buf_t out, samples;
    buf_init(&out, HTTPD_MAX_METRICS);
    buf_init(&samples, HTTPD_MAX_METRICS);
    sched_progress_t fleet;
    metrics_t m = {.out = &samples};
    sched_snapshot(a->o.engine, metric_job, &m, &fleet);
    int rc = m.rc;
    if (daemon_build_info(&out, "scheduler") < 0 ||
        httpd_gauge(&out, "llmaj_scheduler_broker_connected", "1 while welcomed by the broker.", fleet.connected) < 0 ||
        httpd_gauge(&out, "llmaj_scheduler_workers", "Workers alive, as the broker last said.", fleet.workers) < 0)
        rc = -1;
    if (rc == 0 && cache_metrics(&out) < 0) rc = -1;
    for (size_t i = 0; i < sizeof job_families / sizeof job_families[0] && rc == 0; i++) {
        if (httpd_family(&out, job_families[i].name, job_families[i].type, job_families[i].help) < 0) rc = -1;
        keep_family(job_families[i].name, &samples, &out, &rc);
    }
    /* Every job of the database by status, the ended ones included. */
    states_t s = {0};
    errlist_t errs;
    errlist_init(&errs, 1);
    sched_db_t *db = NULL;
    if (rc == 0 && sched_db_open(a->db_path, NULL, &db, &errs) == SCHED_OK &&
        sched_jobs_list(db, count_state, &s, &errs) == SCHED_OK) {
        if (httpd_family(&out, "llmaj_scheduler_jobs", HTTPD_GAUGE, "Jobs in the database, by status.") < 0) rc = -1;
        for (int i = 0; i < 6 && rc == 0; i++) {
            const char *l[] = {"status", sched_job_state_name((sched_job_state_t)i), NULL};
            if (httpd_sample_u64(&out, "llmaj_scheduler_jobs", l, s.by_state[i]) < 0) rc = -1;
        }
    }
    sched_db_close(&db);
    errlist_free(&errs);
    buf_free(&samples);
    if (rc < 0) {
        buf_free(&out);
        return send_error(c, 500, "", "the metrics do not fit or could not be written");
    }
    return send_body(c, 200, CT_METRICS, buf_take(&out), NULL, NULL);
}

static enum MHD_Result serve_ready(api_t *a, struct MHD_Connection *c)
{
    errlist_t errs;
    errlist_init(&errs, 2);
    sched_db_t *db = NULL;
    sched_err_t rc = sched_db_open(a->db_path, NULL, &db, &errs);
    sched_db_close(&db);
    char *msg;
    unsigned status = 200;
    if (rc != SCHED_OK) {
        msg = xasprintf("not ready: the job database %s cannot be read: %s\n", a->db_path,
                        errs.n_kept ? errs.msgs[0] : "?");
        status = 503;
    } else {
        sched_progress_t fleet;
        sched_snapshot(a->o.engine, NULL, NULL, &fleet);
        /* Jobs are accepted without a broker (they wait for it): ready, with a word on the fleet. */
        msg = fleet.note ? xasprintf("ready (%s)\n", fleet.note) : xstrdup("ready\n");
    }
    errlist_free(&errs);
    return send_body(c, status, CT_TEXT, msg, NULL, NULL);
}

/* ------------------------------------------------------------------ routing ---- */

static enum MHD_Result wrong_method(struct MHD_Connection *c, const char *method, const char *url, const char *allow)
{
    char msg[600];
    snprintf(msg, sizeof msg, "%.16s is not allowed on %.256s (allowed: %s)", method, url, allow);
    return send_body(c, 405, CT_JSON, api_error_json("method", msg), allow, NULL);
}

static enum MHD_Result route(api_t *a, req_t *r, const char *url, const char *method)
{
    struct MHD_Connection *c = r->c;
    bool get = !strcmp(method, "GET"), post = !strcmp(method, "POST");
    if (!strcmp(url, "/healthz"))
        return get ? send_body(c, 200, CT_TEXT, xstrdup("ok\n"), NULL, NULL) : wrong_method(c, method, url, "GET");
    if (!strcmp(url, "/readyz")) return get ? serve_ready(a, c) : wrong_method(c, method, url, "GET");
    if (!authorized(a, c))
        return send_error(c, 401, "Authorization", "this service needs `Authorization: Bearer <token>` (LLMAJ_TOKEN)");
    if (r->too_big) return send_error(c, 413, "body", "the request body is larger than %u bytes", API_MAX_BODY);
    if (!strcmp(url, "/metrics")) return get ? serve_metrics(a, c) : wrong_method(c, method, url, "GET");
    if (!strcmp(url, "/v1/jobs") || !strcmp(url, "/v1/jobs/")) {
        if (post) return post_job(a, r);
        if (get) return list_jobs(a, c);
        return wrong_method(c, method, url, "GET, POST");
    }
    if (strncmp(url, "/v1/jobs/", 9) != 0)
        return send_error(c, 404, "path", "no such endpoint: %.256s (see schemas/openapi.yaml)", url);
    const char *id = url + 9;
    const char *slash = strchr(id, '/');
    size_t idlen = slash ? (size_t)(slash - id) : strlen(id);
    const char *rest = slash ? slash + 1 : "";
    static const char *const subs[] = {"", "stop", "retry", "results", "summary"};
    int sub = -1;
    for (int i = 0; i < 5 && sub < 0; i++)
        if (!strcmp(rest, subs[i])) sub = i;
    if (sub < 0) return send_error(c, 404, "path", "no such endpoint: %.256s (see schemas/openapi.yaml)", url);
    bool want_post = sub == 1 || sub == 2;
    if (want_post ? !post : !get) return wrong_method(c, method, url, want_post ? "POST" : "GET");
    if (!id_ok(id, idlen)) return send_error(c, 404, "job_id", "no job '%.*s'", (int)(idlen > 128 ? 128 : idlen), id);
    char job_id[JOB_ID_SHOWN];
    memcpy(job_id, id, idlen);
    job_id[idlen] = '\0';
    switch (sub) {
    case 0: return get_job(a, c, job_id);
    case 1: return post_stop(a, c, job_id);
    case 2: return post_retry(a, c, job_id);
    case 3: return get_results(a, c, job_id);
    default: return get_summary(a, c, job_id);
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    api_t *a = cls;
    req_t *r = *con_cls;
    if (!r) {
        r = xcalloc(1, sizeof *r);
        r->a = a;
        r->c = c;
        buf_init(&r->body, API_MAX_BODY);
        *con_cls = r;
        /* A body announced larger than the cap is refused before it is read. */
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *end = NULL;
            errno = 0;
            unsigned long long n = strtoull(cl, &end, 10);
            if (errno || *end || n > API_MAX_BODY)
                return send_error(c, 413, "body", "the request body is larger than %u bytes", API_MAX_BODY);
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!r->too_big && buf_append(&r->body, upload_data, *upload_data_size) < 0) r->too_big = true;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->submitting && !r->submitted) return MHD_YES; /* resumed early: nothing to say yet */
    /* Shutting down (api_close): a submission already taken is answered above when it is done;
     * anything new is refused, so nothing reaches an engine that has stopped. */
    if (atomic_load(&a->closing) && !r->submitted && strcmp(url, "/healthz") != 0)
        return send_error(c, 503, "service",
                          "the service is shutting down: try again in a moment (its jobs resume at its next start)");
    /* The results viewer's pages hold no job data (the page asks the API with the token it is
     * given): they are served before the token check, as /healthz is. */
    int w = webassets_mhd_answer(c, method, url);
    if (w != 0) return w > 0 ? MHD_YES : MHD_NO;
    return route(a, r, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    req_t *r = *con_cls;
    if (!r) return;
    buf_free(&r->body);
    free(r->answer);
    free(r->location);
    free(r);
    *con_cls = NULL;
}

/* ------------------------------------------------------------------ lifecycle ---- */

api_t *api_start(const api_opts_t *o, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    unsigned sslen = 0;
    if (httpd_resolve(o->listen, "--listen", &ss, &sslen, err, errlen) < 0) return NULL;
    bool token = o->token && *o->token;
    if (!token && !httpd_loopback(&ss)) {
        snprintf(err, errlen,
                 "--listen %s is not a loopback address: give a token (--token-file FILE or LLMAJ_TOKEN), "
                 "every request will then need it",
                 o->listen);
        return NULL;
    }
    api_t *a = xcalloc(1, sizeof *a);
    a->o = *o;
    a->listen = xstrdup(o->listen);
    a->db_path = xstrdup(o->db_path);
    a->base_dir = o->base_dir ? xstrdup(o->base_dir) : NULL;
    a->broker = o->broker ? xstrdup(o->broker) : NULL;
    a->o.token = NULL; /* kept only as its digest */
    if (token) {
        a->has_token = true;
        SHA256((const unsigned char *)o->token, strlen(o->token), a->token_sha);
    }
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    uint16_t port = ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)(void *)&ss)->sin_port)
                                            : ntohs(((struct sockaddr_in6 *)(void *)&ss)->sin6_port);
    a->d = MHD_start_daemon(flags, port, NULL, NULL, on_request, a, MHD_OPTION_EXTERNAL_LOGGER, httpd_mhd_log,
                            a, /* first, as libmicrohttpd asks */
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_THREAD_POOL_SIZE,
                            (unsigned)API_THREADS, MHD_OPTION_CONNECTION_LIMIT, (unsigned)API_MAX_CONNS,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)API_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                            (size_t)CONN_MEMORY, MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)128,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, a, MHD_OPTION_END);
    if (!a->d) {
        snprintf(err, errlen, "--listen %s: cannot listen (address in use, or not an address of this machine?)",
                 o->listen);
        api_stop(&a);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(a->d, MHD_DAEMON_INFO_BIND_PORT);
    int bound = info && info->port ? info->port : port;
    char host[INET6_ADDRSTRLEN] = "127.0.0.1";
    if (ss.ss_family == AF_INET) {
        struct in_addr ia = ((struct sockaddr_in *)(void *)&ss)->sin_addr;
        if (ia.s_addr != htonl(INADDR_ANY)) inet_ntop(AF_INET, &ia, host, sizeof host);
        snprintf(a->url, sizeof a->url, "http://%s:%d", host, bound);
    } else {
        struct in6_addr ia = ((struct sockaddr_in6 *)(void *)&ss)->sin6_addr;
        if (IN6_IS_ADDR_UNSPECIFIED(&ia)) snprintf(host, sizeof host, "::1");
        else inet_ntop(AF_INET6, &ia, host, sizeof host);
        snprintf(a->url, sizeof a->url, "http://[%s]:%d", host, bound);
    }
    return a;
}

const char *api_url(const api_t *a) { return a->url; }

void api_close(api_t *a)
{
    if (a) atomic_store(&a->closing, true);
}

void api_stop(api_t **self_p)
{
    if (!self_p || !*self_p) return;
    api_t *a = *self_p;
    pthread_mutex_lock(&a->mu);
    while (a->submits > 0) pthread_cond_wait(&a->cv, &a->mu);
    pthread_mutex_unlock(&a->mu);
    if (a->d) MHD_stop_daemon(a->d);
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
    OPENSSL_cleanse(a->token_sha, sizeof a->token_sha);
    free(a->listen);
    free(a->db_path);
    free(a->base_dir);
    free(a->broker);
    free(a);
    *self_p = NULL;
}
