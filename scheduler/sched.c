/* sched: the engine (scheduler.h): one event loop, one broker session, one job database, many
 * jobs at once.
 *
 * DESIGN. Threads. sched_run's thread owns everything that moves: the loop, the peer session
 * (proto/peer.c), the store connection, the commit batcher (ingest.c) and the running jobs
 * (job_t). Other threads talk to it only through an inbox of commands (run this stored job, stop
 * that one, stop all, shut down) under one mutex, followed by loop_wake; the same mutex guards the
 * registry of the jobs the engine accepted (queued, running, ended), so sched_stop can answer
 * "no such job" or "already ended" at once. sched_submit does its slow part (validating and
 * loading the dataset) on the caller's thread with its own store connection, then posts "run".
 * No process-global state: several engines may live in one process.
 *
 * One pass of the loop (before each wait): the broker session is pumped; the inbox is drained;
 * for each running job, a stop is turned into a CANCEL, the window is filled, and a job with
 * nothing left to do is ended (its results committed, its files written, its MLflow sync
 * queued); progress is reported; and in the one-job form (until_idle) the loop stops once no job
 * is left and the MLflow syncs are done or waited for long enough. Timers: every heartbeat the
 * running jobs are marked alive in the database (status tells a dead engine by its silence), and
 * every INGEST_COMMIT_MS the open batch of results is committed.
 *
 * The MLflow syncer thread starts when first needed: a job with a tracking URI, or syncs an
 * earlier engine left unfinished in the database. */
#define LOG_MODULE "scheduler"
#include "scheduler.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "dispatch.h"
#include "ingest.h"
#include "job.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "mlflow_sync.h"
#include "peer.h"
#include "store.h"
#include "syncer.h"
#include "wire.h"

#define MLFLOW_PROGRESS_MS 10000   /* a running job's progress goes to MLflow this often */
#define IDLE_POLL_MS 50            /* until_idle: how often the end waits look at the syncer */
#define DEFAULT_DB "runs/llmaj.db"

typedef enum { CMD_RUN, CMD_STOP, CMD_STOP_ALL, CMD_SHUTDOWN } cmd_kind_t;

typedef struct cmd {
    cmd_kind_t kind;
    char job_id[SCHED_JOB_ID_MAX];
    struct cmd *next;
} cmd_t;

/* A job the engine accepted, as other threads may ask about it. */
typedef enum { PHASE_QUEUED, PHASE_RUNNING, PHASE_ENDED } phase_t;
typedef struct entry {
    char job_id[SCHED_JOB_ID_MAX];
    phase_t phase;
    struct entry *next;
} entry_t;

struct sched {
    sched_opts_t o;                 /* its strings point at the copies below */
    char *broker, *name;

    pthread_mutex_t mu;             /* guards db_path (until sched_run), the inbox, the registry */
    pthread_mutex_t submit_mu;      /* the first submission decides db_path (one-job form) */
    char *db_path;
    cmd_t *inbox, **inbox_tail;
    entry_t *entries;
    bool ran;
    loop_t *loop;

    /* sched_run's thread only. */
    void *ctx;
    bool own_ctx;
    store_t *store;
    ingest_t *ingest;
    peer_t *peer;
    syncer_t *syncer;
    job_t **jobs;
    size_t n_jobs, cap_jobs;
    int64_t idle_since_ms;          /* until_idle: when the last job ended (0 while jobs run) */
    uint64_t idle_timer;
    bool stop_all_seen;             /* a stop of everything came: do not wait for MLflow at the end */
};

/* ------------------------------------------------------------------ names ---- */

const char *sched_strerror(sched_err_t e)
{
    switch (e) {
    case SCHED_OK: return "ok";
    case SCHED_E_INPUT: return "bad input";
    case SCHED_E_NOTFOUND: return "not found";
    case SCHED_E_STATE: return "not in a state that allows it";
    case SCHED_E_DB: return "job database error";
    case SCHED_E_IO: return "file error";
    case SCHED_E_MLFLOW: return "MLflow error";
    case SCHED_E_INTERNAL: return "internal error";
    }
    return "?";
}

const char *sched_job_state_name(sched_job_state_t s)
{
    static const char *const n[] = {"pending", "running", "succeeded", "failed", "stopped"};
    return (unsigned)s < 5 ? n[s] : "?";
}

bool sched_job_state_ended(sched_job_state_t s)
{
    return s == SCHED_JOB_SUCCEEDED || s == SCHED_JOB_FAILED || s == SCHED_JOB_STOPPED;
}

/* ------------------------------------------------------------------ inbox and registry ---- */

static entry_t *entry_find_locked(sched_t *s, const char *job_id)
{
    for (entry_t *e = s->entries; e; e = e->next)
        if (!strcmp(e->job_id, job_id)) return e;
    return NULL;
}

static void set_phase(sched_t *s, const char *job_id, phase_t ph)
{
    pthread_mutex_lock(&s->mu);
    entry_t *e = entry_find_locked(s, job_id);
    if (!e) {
        e = xcalloc(1, sizeof *e);
        snprintf(e->job_id, sizeof e->job_id, "%s", job_id);
        e->next = s->entries;
        s->entries = e;
    }
    e->phase = ph;
    pthread_mutex_unlock(&s->mu);
}

static void post_locked(sched_t *s, cmd_kind_t kind, const char *job_id)
{
    cmd_t *c = xcalloc(1, sizeof *c);
    c->kind = kind;
    if (job_id) snprintf(c->job_id, sizeof c->job_id, "%s", job_id);
    *s->inbox_tail = c;
    s->inbox_tail = &c->next;
}

static void post(sched_t *s, cmd_kind_t kind, const char *job_id)
{
    pthread_mutex_lock(&s->mu);
    post_locked(s, kind, job_id);
    pthread_mutex_unlock(&s->mu);
    loop_wake(s->loop);
}

static cmd_t *take_inbox(sched_t *s)
{
    pthread_mutex_lock(&s->mu);
    cmd_t *c = s->inbox;
    s->inbox = NULL;
    s->inbox_tail = &s->inbox;
    pthread_mutex_unlock(&s->mu);
    return c;
}

static bool inbox_empty(sched_t *s)
{
    pthread_mutex_lock(&s->mu);
    bool empty = s->inbox == NULL;
    pthread_mutex_unlock(&s->mu);
    return empty;
}

/* ------------------------------------------------------------------ the face: control ---- */

sched_t *sched_new(const sched_opts_t *o, errlist_t *errs)
{
    if (!o->broker || !*o->broker) {
        errlist_add(errs, "the scheduler needs a broker endpoint");
        return NULL;
    }
    sched_t *s = xcalloc(1, sizeof *s);
    s->o = *o;
    s->broker = xstrdup(o->broker);
    s->o.broker = s->broker;
    s->name = o->name ? xstrdup(o->name) : xasprintf("scheduler-%d", (int)getpid());
    s->o.name = s->name;
    s->db_path = o->db_path ? xstrdup(o->db_path) : NULL;
    s->o.db_path = NULL;   /* s->db_path is the one */
    if (s->o.window <= 0) s->o.window = SHARD_WINDOW_DEFAULT;
    if (s->o.heartbeat_ms <= 0) s->o.heartbeat_ms = 1000;
    if (s->o.dead_after <= 0) s->o.dead_after = 5;
    if (s->o.progress_ms <= 0) s->o.progress_ms = 200;
    if (s->o.mlflow_wait_ms < 0) s->o.mlflow_wait_ms = 60000;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->submit_mu, NULL);
    s->inbox_tail = &s->inbox;
    if (!(s->loop = loop_new())) {
        errlist_add(errs, "cannot create the scheduler's event loop");
        sched_destroy(&s);
        return NULL;
    }
    return s;
}

void sched_destroy(sched_t **self_p)
{
    if (!self_p || !*self_p) return;
    sched_t *s = *self_p;
    for (cmd_t *c = s->inbox, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    for (entry_t *e = s->entries, *n; e; e = n) {
        n = e->next;
        free(e);
    }
    loop_destroy(&s->loop);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->submit_mu);
    free(s->broker);
    free(s->name);
    free(s->db_path);
    free(s);
    *self_p = NULL;
}

const char *sched_db_path(const sched_t *s)
{
    pthread_mutex_lock((pthread_mutex_t *)&s->mu);
    const char *p = s->db_path;
    pthread_mutex_unlock((pthread_mutex_t *)&s->mu);
    return p;
}

/* The database path, or NULL when the first submission decides it. */
static char *db_path_copy(sched_t *s)
{
    pthread_mutex_lock(&s->mu);
    char *p = xstrdup(s->db_path);
    pthread_mutex_unlock(&s->mu);
    return p;
}

sched_err_t sched_submit(sched_t *s, const sched_submit_t *in, char *job_id, errlist_t *errs)
{
    /* Until a database is known, submissions go one at a time: the first one decides it. */
    pthread_mutex_lock(&s->submit_mu);
    char *db = db_path_copy(s);
    bool deciding = db == NULL;
    if (!deciding) pthread_mutex_unlock(&s->submit_mu);
    char *used = NULL;
    sched_err_t rc = job_submit(in, db, &used, job_id, errs);
    if (rc == SCHED_OK) {
        pthread_mutex_lock(&s->mu);
        if (!s->db_path) s->db_path = xstrdup(used);
        entry_t *e = xcalloc(1, sizeof *e);
        snprintf(e->job_id, sizeof e->job_id, "%s", job_id);
        e->phase = PHASE_QUEUED;
        e->next = s->entries;
        s->entries = e;
        post_locked(s, CMD_RUN, job_id);
        pthread_mutex_unlock(&s->mu);
        loop_wake(s->loop);
    }
    if (deciding) pthread_mutex_unlock(&s->submit_mu);
    free(db);
    free(used);
    return rc;
}

sched_err_t sched_resume(sched_t *s, const char *job_id, errlist_t *errs)
{
    pthread_mutex_lock(&s->mu);
    if (!s->db_path) s->db_path = xstrdup(DEFAULT_DB);
    char *db = xstrdup(s->db_path);
    entry_t *e = entry_find_locked(s, job_id);
    bool busy = e && e->phase != PHASE_ENDED;
    pthread_mutex_unlock(&s->mu);
    if (busy) {
        errlist_add(errs, "job %s is already queued or running in this scheduler", job_id);
        free(db);
        return SCHED_E_STATE;
    }
    sched_err_t rc = job_check_resume(db, job_id, errs);
    free(db);
    if (rc != SCHED_OK) return rc;
    set_phase(s, job_id, PHASE_QUEUED);
    post(s, CMD_RUN, job_id);
    return SCHED_OK;
}

/* A job this engine never accepted: is it in the database at all, and has it ended? */
static sched_err_t stop_foreign(sched_t *s, const char *job_id, errlist_t *errs)
{
    char *db_path = db_path_copy(s);
    sched_db_t *db = NULL;
    sched_status_t st;
    errlist_t quiet;
    errlist_init(&quiet, 1);
    sched_err_t rc = SCHED_E_NOTFOUND;
    if (db_path && sched_db_open(db_path, NULL, &db, &quiet) == SCHED_OK &&
        sched_job_status(db, job_id, &st, &quiet) == SCHED_OK) {
        if (sched_job_state_ended(st.job.state))
            errlist_add(errs, "job %s has already ended (%s)", job_id, sched_job_state_name(st.job.state));
        else
            errlist_add(errs, "job %s (%s in %s) is not run by this scheduler", job_id,
                        sched_job_state_name(st.job.state), db_path);
        rc = SCHED_E_STATE;
        sched_status_clear(&st);
    } else {
        errlist_add(errs, "no job %s%s%s", job_id, db_path ? " in " : "", db_path ? db_path : "");
    }
    sched_db_close(&db);
    errlist_free(&quiet);
    free(db_path);
    return rc;
}

sched_err_t sched_stop(sched_t *s, const char *job_id, errlist_t *errs)
{
    pthread_mutex_lock(&s->mu);
    entry_t *e = entry_find_locked(s, job_id);
    sched_err_t rc = SCHED_OK;
    if (e && e->phase == PHASE_ENDED) {
        errlist_add(errs, "job %s has already ended", job_id);
        rc = SCHED_E_STATE;
    } else if (e) {
        post_locked(s, CMD_STOP, job_id);
    }
    pthread_mutex_unlock(&s->mu);
    if (!e) return stop_foreign(s, job_id, errs);
    if (rc == SCHED_OK) loop_wake(s->loop);
    return rc;
}

void sched_stop_all(sched_t *s) { post(s, CMD_STOP_ALL, NULL); }

void sched_shutdown(sched_t *s) { post(s, CMD_SHUTDOWN, NULL); }

/* ------------------------------------------------------------------ running jobs ---- */

static job_t *find_job(sched_t *s, const char *job_id)
{
    for (size_t i = 0; i < s->n_jobs; i++)
        if (!strcmp(s->jobs[i]->id, job_id)) return s->jobs[i];
    return NULL;
}

static bool wants_mlflow(const job_t *j) { return j->spec->mlflow_tracking_uri && *j->spec->mlflow_tracking_uri; }

/* Starts the syncer if it is not running. NULL (logged) when it cannot start. */
static syncer_t *syncer_of(sched_t *s)
{
    if (s->syncer) return s->syncer;
    char err[1024];
    syncer_opts_t so = {.db_path = s->db_path, .backoff_base_ms = 1000, .backoff_max_ms = 30000, .resume = true};
    if (!(s->syncer = syncer_start(&so, err, sizeof err))) log_warn("MLflow syncer not started: %s", err);
    return s->syncer;
}

static void report(sched_t *s, job_t *j, bool final)
{
    int64_t now = loop_now_ms();
    uint64_t total = j->records * j->targets;
    if (!final && wants_mlflow(j) && now - j->last_mlflow_ms >= MLFLOW_PROGRESS_MS) {
        j->last_mlflow_ms = now;
        syncer_t *sy = syncer_of(s);
        if (sy) syncer_progress(sy, j->id, j->spec_json, (now - j->started_ms) / 1000, j->units_done, total);
    }
    if (!s->o.progress) return;
    if (!final && now - j->last_progress_ms < s->o.progress_ms) return;
    j->last_progress_ms = now;
    sched_progress_t p = {.job_id = j->id, .records = j->records, .units_total = total, .units_done = j->units_done,
                          .shards_total = j->n_shards, .shards_done = j->done, .shards_inflight = j->inflight,
                          .scores_ok = j->scores[SCORE_OK], .scores_unscored = j->scores[SCORE_UNSCORED],
                          .scores_error = j->scores[SCORE_ERROR], .scores_na = j->scores[SCORE_NOT_APPLICABLE],
                          .workers = peer_workers(s->peer), .connected = peer_up(s->peer),
                          .elapsed_s = job_elapsed_s(j), .finished = final};
    s->o.progress(&p, s->o.progress_arg);
}

static void start_job(sched_t *s, const char *job_id)
{
    char err[1024];
    job_t *j = job_open(s->store, job_id, err, sizeof err);
    if (!j) {
        log_error("%s", err);
        if (store_job_set_state(s->store, job_id, SCHED_JOB_FAILED, err) < 0)
            log_error("job %s: %s could not record that it failed (%s)", job_id, s->db_path, store_errmsg(s->store));
        set_phase(s, job_id, PHASE_ENDED);
        return;
    }
    if (s->n_jobs == s->cap_jobs) {
        s->cap_jobs = s->cap_jobs ? s->cap_jobs * 2 : 8;
        s->jobs = xrealloc(s->jobs, s->cap_jobs * sizeof *s->jobs);
    }
    s->jobs[s->n_jobs++] = j;
    s->idle_since_ms = 0;
    if (wants_mlflow(j)) syncer_of(s);
    set_phase(s, job_id, PHASE_RUNNING);
}

/* Ends job i: committed, written, recorded, handed to the syncer; removed and freed. */
static void end_job(sched_t *s, size_t i)
{
    job_t *j = s->jobs[i];
    if (ingest_flush(s->ingest) < 0) log_error("job %s: its last results could not be committed (see above)", j->id);
    report(s, j, true);
    cJSON *summary = NULL, *jobj = NULL;
    sched_job_state_t st = job_end(j, s->store, peer_workers(s->peer), &summary, &jobj);
    if (wants_mlflow(j)) {
        const char *final = st == SCHED_JOB_SUCCEEDED ? "FINISHED" : st == SCHED_JOB_STOPPED ? "KILLED" : "FAILED";
        char err[1024];
        syncer_t *sy = syncer_of(s);
        if (mlflow_sync_record(s->store, j->id, j->spec, j->out_dir, final, summary, jobj, err, sizeof err) < 0)
            log_warn("job %s: MLflow sync not recorded: %s", j->id, err);
        else if (!sy)
            log_warn("job %s: MLflow sync recorded, not started: the next scheduler on %s resumes it", j->id, s->db_path);
        else if (syncer_enqueue(sy, j->id, j->spec, j->out_dir, final, summary, jobj, err, sizeof err) < 0)
            log_warn("job %s: MLflow sync not queued: %s", j->id, err);
    }
    cJSON_Delete(summary);
    cJSON_Delete(jobj);
    set_phase(s, j->id, PHASE_ENDED);
    s->jobs[i] = s->jobs[--s->n_jobs];
    job_destroy(&j);
    if (s->n_jobs == 0) s->idle_since_ms = loop_now_ms();
}

static void request_stop(job_t *j)
{
    if (!j->stop_requested) log_info("job %s: stopping", j->id);
    j->stop_requested = true;
}

static void drain_inbox(sched_t *s)
{
    for (cmd_t *c = take_inbox(s), *n; c; c = n) {
        n = c->next;
        job_t *j;
        switch (c->kind) {
        case CMD_RUN:
            if (find_job(s, c->job_id)) log_warn("job %s is already running here", c->job_id);
            else start_job(s, c->job_id);
            break;
        case CMD_STOP:
            if ((j = find_job(s, c->job_id))) request_stop(j);
            break;
        case CMD_STOP_ALL:
            s->stop_all_seen = true;
            for (size_t i = 0; i < s->n_jobs; i++) request_stop(s->jobs[i]);
            break;
        case CMD_SHUTDOWN:
            loop_stop(s->loop);
            break;
        }
        free(c);
    }
}

static void idle_tick(loop_t *loop, uint64_t id, void *arg)
{
    (void)loop;
    (void)id;
    ((sched_t *)arg)->idle_timer = 0;
}

/* until_idle: stops the loop once nothing is left to run and the syncs are done (or waited for). */
static void check_idle(sched_t *s)
{
    if (!s->o.until_idle || s->n_jobs > 0 || !inbox_empty(s)) return;
    int64_t now = loop_now_ms();
    if (!s->idle_since_ms) s->idle_since_ms = now;
    size_t pending = s->syncer ? syncer_pending(s->syncer) : 0;
    if (pending == 0 || s->stop_all_seen || now - s->idle_since_ms >= s->o.mlflow_wait_ms) {
        if (pending)
            log_warn("%zu MLflow sync(s) not finished yet; the next scheduler on %s resumes them, or run `llmaj sync "
                     "--job-dir DIR`", pending, s->db_path);
        loop_stop(s->loop);
        return;
    }
    if (!s->idle_timer) s->idle_timer = loop_timer_add(s->loop, IDLE_POLL_MS, idle_tick, s);
}

static int before_wait(loop_t *loop, void *arg)
{
    (void)loop;
    sched_t *s = arg;
    int more = peer_pump(s->peer);
    drain_inbox(s);
    for (size_t i = s->n_jobs; i-- > 0;) {
        job_t *j = s->jobs[i];
        if (j->stop_requested) dispatch_cancel(j, s->peer);
        if (dispatch_fill(j, s->ingest, s->peer, s->o.window)) more = 1;
        if (job_over(j)) end_job(s, i);
        else report(s, j, false);
    }
    check_idle(s);
    return more | peer_pump(s->peer);
}

/* ------------------------------------------------------------------ the session ---- */

static void on_session(peer_event_t ev, bool again, const wire_hdr_t *h, const char *why, void *arg)
{
    (void)h;
    sched_t *s = arg;
    if (ev == PEER_UP && again)
        for (size_t i = 0; i < s->n_jobs; i++) dispatch_resubmit_inflight(s->jobs[i], s->ingest, s->peer);
    else if (ev == PEER_DOWN)
        log_info("broker session ended (%s); reconnecting", why ? why : "?");
}

static uint32_t heartbeat_n(void *arg)
{
    sched_t *s = arg;
    size_t n = 0;
    for (size_t i = 0; i < s->n_jobs; i++) n += s->jobs[i]->inflight;
    return (uint32_t)n;
}

static void on_message(const wire_hdr_t *h, const void *payload, size_t len, void *arg)
{
    sched_t *s = arg;
    job_t *j = h->type == WIRE_RESULT || h->type == WIRE_SHARD_DONE ? find_job(s, h->job_id) : NULL;
    switch (h->type) {
    case WIRE_RESULT:
    case WIRE_SHARD_DONE:
        if (!j) {
            /* A late message of a job that ended here (or an earlier engine's): it changes nothing. */
            log_debug("%s for job %s, not running here, dropped", wire_type_name(h->type), h->job_id);
        } else if (h->type == WIRE_RESULT) {
            ingest_result(s->ingest, j, h->shard_id, payload, len);
        } else {
            dispatch_shard_done(j, s->ingest, s->peer, h->shard_id);
        }
        break;
    default:
        log_warn("unexpected %s from the broker dropped", wire_type_name(h->type));
    }
}

static void heartbeat_tick(loop_t *loop, uint64_t id, void *arg)
{
    (void)id;
    sched_t *s = arg;
    if (ingest_flush(s->ingest) < 0) log_error("results could not be committed (see above)");
    for (size_t i = 0; i < s->n_jobs; i++)
        if (store_job_touch(s->store, s->jobs[i]->id) < 0)
            log_warn("job %s: %s: cannot mark it alive (%s); status may call its scheduler silent", s->jobs[i]->id,
                     s->db_path, store_errmsg(s->store));
    loop_timer_add(loop, s->o.heartbeat_ms, heartbeat_tick, s);
}

static void commit_tick(loop_t *loop, uint64_t id, void *arg)
{
    (void)id;
    sched_t *s = arg;
    if (ingest_flush(s->ingest) < 0) log_error("results could not be committed (see above)");
    loop_timer_add(loop, INGEST_COMMIT_MS, commit_tick, s);
}

/* ------------------------------------------------------------------ sched_run ---- */

static sched_err_t run_setup(sched_t *s, errlist_t *errs)
{
    char err[1024];
    if (!(s->store = store_open(s->db_path, STORE_WRITE, err, sizeof err))) {
        errlist_add(errs, "%s", err);
        return SCHED_E_DB;
    }
    s->ingest = ingest_new(s->store);
    char **ids = NULL;
    size_t n = 0;
    if (mlflow_sync_unfinished(s->store, &ids, &n) == 0) {
        for (size_t i = 0; i < n; i++) free(ids[i]);
        free(ids);
        if (n) {
            log_info("%zu unfinished MLflow sync(s) from earlier jobs: resuming", n);
            syncer_of(s);
        }
    } else {
        log_warn("%s: cannot list unfinished MLflow syncs (see above): they resume at a later start", s->db_path);
    }
    s->ctx = s->o.zmq_ctx;
    if (!s->ctx) {
        if (!(s->ctx = zmq_ctx_new())) {
            errlist_add(errs, "cannot create a ZeroMQ context: %s", zmq_strerror(zmq_errno()));
            return SCHED_E_INTERNAL;
        }
        s->own_ctx = true;
    }
    peer_opts_t po = {.endpoint = s->broker, .zmq_ctx = s->ctx, .loop = s->loop, .role = "scheduler",
                      .name = s->name, .heartbeat_ms = s->o.heartbeat_ms, .dead_after = s->o.dead_after,
                      .on_message = on_message, .on_session = on_session, .heartbeat_n = heartbeat_n, .arg = s,
                      .curve = s->o.curve};
    if (!(s->peer = peer_new(&po, err, sizeof err))) {
        errlist_add(errs, "%s", err);
        return SCHED_E_INTERNAL;
    }
    return SCHED_OK;
}

static void run_teardown(sched_t *s)
{
    if (s->peer) peer_bye(s->peer);   /* the broker forgets us now, not after a silence */
    if (s->ingest && ingest_flush(s->ingest) < 0) log_error("the last results could not be committed (see above)");
    for (size_t i = 0; i < s->n_jobs; i++) {
        log_info("job %s left running: a later scheduler on %s resumes it", s->jobs[i]->id, s->db_path);
        job_destroy(&s->jobs[i]);
    }
    s->n_jobs = 0;
    free(s->jobs);
    s->jobs = NULL;
    syncer_stop(&s->syncer);
    ingest_destroy(&s->ingest);
    peer_destroy(&s->peer);
    if (s->own_ctx) zmq_ctx_term(s->ctx);
    s->ctx = NULL;
    store_close(&s->store);
}

sched_err_t sched_run(sched_t *s, errlist_t *errs)
{
    pthread_mutex_lock(&s->mu);
    bool again = s->ran;
    s->ran = true;
    if (!s->db_path) s->db_path = xstrdup(DEFAULT_DB);
    pthread_mutex_unlock(&s->mu);
    if (again) {
        errlist_add(errs, "sched_run: an engine runs once");
        return SCHED_E_INTERNAL;
    }
    sched_err_t rc = run_setup(s, errs);
    if (rc == SCHED_OK) {
        loop_set_before_wait(s->loop, before_wait, s);
        loop_timer_add(s->loop, s->o.heartbeat_ms, heartbeat_tick, s);
        loop_timer_add(s->loop, INGEST_COMMIT_MS, commit_tick, s);
        loop_run(s->loop);
    }
    run_teardown(s);
    return rc;
}
