/* sched_ctl: the engine's face as other threads call it (scheduler.h): creating and freeing an
 * engine, submitting, resuming, retrying and stopping jobs, reading what it holds; the inbox of
 * commands these post for the engine's thread, and the registry of the jobs it holds (queued,
 * running, being written). The engine's own side is sched.c; sched_int.h is what they share. */
#define LOG_MODULE "scheduler"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "mem.h"
#include "sched_int.h"

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
    case SCHED_E_INTERRUPTED: return "interrupted";
    }
    return "?";
}

const char *sched_job_state_name(sched_job_state_t s)
{
    static const char *const n[] = {"queued", "running", "succeeded", "failed", "stopped", "stopping"};
    return (unsigned)s < 6 ? n[s] : "?";
}

bool sched_job_state_ended(sched_job_state_t s)
{
    return s == SCHED_JOB_SUCCEEDED || s == SCHED_JOB_FAILED || s == SCHED_JOB_STOPPED;
}

/* ------------------------------------------------------------------ inbox and registry ---- */

entry_t *sched_entry_find_locked(sched_t *s, const char *job_id)
{
    for (entry_t *e = s->entries; e; e = e->next)
        if (!strcmp(e->job_id, job_id)) return e;
    return NULL;
}

entry_t *sched_entry_add_locked(sched_t *s, const char *job_id, sched_phase_t ph)
{
    entry_t *e = sched_entry_find_locked(s, job_id);
    if (!e) {
        e = xcalloc(1, sizeof *e);
        snprintf(e->job_id, sizeof e->job_id, "%s", job_id);
        e->snap.job_id = e->job_id;
        e->next = s->entries;
        s->entries = e;
    }
    e->phase = ph;
    return e;
}

void sched_set_phase(sched_t *s, const char *job_id, sched_phase_t ph)
{
    pthread_mutex_lock(&s->mu);
    sched_entry_add_locked(s, job_id, ph);
    pthread_mutex_unlock(&s->mu);
}

/* The job has ended: the registry forgets it (the database answers for it from now on). */
void sched_forget(sched_t *s, const char *job_id)
{
    pthread_mutex_lock(&s->mu);
    for (entry_t **pp = &s->entries; *pp; pp = &(*pp)->next)
        if (!strcmp((*pp)->job_id, job_id)) {
            entry_t *e = *pp;
            *pp = e->next;
            free(e);
            break;
        }
    pthread_mutex_unlock(&s->mu);
}

void sched_post_locked(sched_t *s, cmd_kind_t kind, const char *job_id)
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
    sched_post_locked(s, kind, job_id);
    pthread_mutex_unlock(&s->mu);
    loop_wake(s->loop);
}

cmd_t *sched_take_inbox(sched_t *s)
{
    pthread_mutex_lock(&s->mu);
    cmd_t *c = s->inbox;
    s->inbox = NULL;
    s->inbox_tail = &s->inbox;
    pthread_mutex_unlock(&s->mu);
    return c;
}

bool sched_inbox_empty(sched_t *s)
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
    s->o.db_path = NULL; /* s->db_path is the one */
    if (s->o.window <= 0) s->o.window = SHARD_WINDOW_DEFAULT;
    if (s->o.heartbeat_ms <= 0) s->o.heartbeat_ms = 1000;
    if (s->o.dead_after <= 0) s->o.dead_after = 5;
    if (s->o.progress_ms <= 0) s->o.progress_ms = 200;
    if (s->o.stall_after_ms <= 0) s->o.stall_after_ms = SCHED_STALL_MS;
    s->lr_drop = (lograte_t)LOGRATE_INIT("messages from the broker dropped", LOG_WARN);
    if (s->o.mlflow_wait_ms < 0) s->o.mlflow_wait_ms = 60000;
    if (s->o.max_jobs < 0) s->o.max_jobs = 0;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->submit_mu, NULL);
    s->inbox_tail = &s->inbox;
    s->wait_tail = &s->wait_head;
    s->lock_fd = -1;
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
    for (waiting_t *w = s->wait_head, *n; w; w = n) {
        n = w->next;
        free(w);
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
    sched_err_t rc = job_submit(in, db, s->o.serve ? SERVICE_OWNER : NULL, &s->cancel_input, &used, job_id, errs);
    if (rc == SCHED_OK) {
        pthread_mutex_lock(&s->mu);
        if (!s->db_path) s->db_path = xstrdup(used);
        sched_entry_add_locked(s, job_id, SCHED_PHASE_QUEUED);
        sched_post_locked(s, CMD_RUN, job_id);
        pthread_mutex_unlock(&s->mu);
        loop_wake(s->loop);
    }
    if (deciding) pthread_mutex_unlock(&s->submit_mu);
    free(db);
    free(used);
    return rc;
}

/* The database path, the default when none was decided yet. Caller frees. */
static char *db_path_or_default(sched_t *s)
{
    pthread_mutex_lock(&s->mu);
    if (!s->db_path) s->db_path = xstrdup(DEFAULT_DB);
    char *db = xstrdup(s->db_path);
    pthread_mutex_unlock(&s->mu);
    return db;
}

/* Whether the engine holds the job (queued, running or being written). */
static bool held(sched_t *s, const char *job_id)
{
    pthread_mutex_lock(&s->mu);
    bool h = sched_entry_find_locked(s, job_id) != NULL;
    pthread_mutex_unlock(&s->mu);
    return h;
}

/* Queues a prepared retry (or a resume) of job_id. */
static void queue_run(sched_t *s, const char *job_id)
{
    pthread_mutex_lock(&s->mu);
    sched_entry_add_locked(s, job_id, SCHED_PHASE_QUEUED);
    sched_post_locked(s, CMD_RUN, job_id);
    pthread_mutex_unlock(&s->mu);
    loop_wake(s->loop);
}

sched_err_t sched_retry(sched_t *s, const char *job_id, bool unscored, uint64_t *cells, errlist_t *errs)
{
    uint64_t n = 0;
    if (cells) *cells = 0;
    if (held(s, job_id)) {
        errlist_add(errs,
                    "job %s has not ended (it is queued, running or being written): only an ended job can be "
                    "retried",
                    job_id);
        return SCHED_E_STATE;
    }
    char *db = db_path_or_default(s);
    sched_err_t rc = job_prepare_retry(db, job_id, unscored, &n, errs);
    free(db);
    if (rc != SCHED_OK) return rc;
    if (cells) *cells = n;
    queue_run(s, job_id);
    return SCHED_OK;
}

sched_err_t sched_resume(sched_t *s, const char *job_id, errlist_t *errs)
{
    if (held(s, job_id)) {
        errlist_add(errs, "job %s is already queued or running in this scheduler", job_id);
        return SCHED_E_STATE;
    }
    char *db = db_path_or_default(s);
    sched_job_state_t state = SCHED_JOB_PENDING;
    sched_err_t rc = job_check_resume(db, job_id, &state, errs);
    free(db);
    if (rc != SCHED_OK) return rc;
    /* An ended job is resumed as a retry of what it did not get right: its error cells. */
    if (sched_job_state_ended(state)) return sched_retry(s, job_id, false, NULL, errs);
    queue_run(s, job_id);
    return SCHED_OK;
}

sched_err_t sched_request_stop(const char *db_path, const char *job_id, errlist_t *errs)
{
    char err[1024];
    if (access(db_path, F_OK) != 0) {
        errlist_add(errs, "no job database at %s", db_path);
        return SCHED_E_NOTFOUND;
    }
    store_t *st = store_open(db_path, STORE_WRITE, err, sizeof err);
    if (!st) {
        errlist_add(errs, "%s", err);
        return SCHED_E_DB;
    }
    int state = 0;
    int g = store_job_state(st, job_id, &state);
    sched_err_t rc = SCHED_OK;
    if (g < 0) {
        errlist_add(errs, "database %s: %s", db_path, store_errmsg(st));
        rc = SCHED_E_DB;
    } else if (g > 0 || state == STORE_STATE_LOADING) {
        errlist_add(errs, "no job %s in %s", job_id, db_path);
        rc = SCHED_E_NOTFOUND;
    } else if (sched_job_state_ended((sched_job_state_t)state)) {
        errlist_add(errs, "job %s has already ended (%s)", job_id, sched_job_state_name((sched_job_state_t)state));
        rc = SCHED_E_STATE;
    } else if (state != SCHED_JOB_STOPPING && store_job_set_state(st, job_id, SCHED_JOB_STOPPING, NULL) < 0) {
        errlist_add(errs, "database %s: %s", db_path, store_errmsg(st));
        rc = SCHED_E_DB;
    }
    store_close(&st);
    return rc;
}

sched_err_t sched_stop(sched_t *s, const char *job_id, errlist_t *errs)
{
    pthread_mutex_lock(&s->mu);
    entry_t *e = sched_entry_find_locked(s, job_id);
    sched_phase_t ph = e ? e->phase : SCHED_PHASE_QUEUED;
    if (e && ph != SCHED_PHASE_ENDING) sched_post_locked(s, CMD_STOP, job_id);
    pthread_mutex_unlock(&s->mu);
    if (e && ph == SCHED_PHASE_ENDING) {
        errlist_add(errs, "job %s has already ended: its results are being written", job_id);
        return SCHED_E_STATE;
    }
    if (e) {
        loop_wake(s->loop);
        return SCHED_OK;
    }
    /* Not held here: whatever engine runs it (another process, or none yet) sees the request in
     * the database. */
    char *db = db_path_copy(s);
    if (!db) {
        errlist_add(errs, "no job %s", job_id);
        return SCHED_E_NOTFOUND;
    }
    sched_err_t rc = sched_request_stop(db, job_id, errs);
    free(db);
    return rc;
}

/* Both also cut short a submission reading its dataset on another thread (job_submit's cancel):
 * a signal must not wait for a dataset of gigabytes to be read through. */
void sched_stop_all(sched_t *s)
{
    atomic_store(&s->cancel_input, 1);
    post(s, CMD_STOP_ALL, NULL);
}

void sched_shutdown(sched_t *s)
{
    atomic_store(&s->cancel_input, 1);
    post(s, CMD_SHUTDOWN, NULL);
}

void sched_snapshot(sched_t *s, sched_snap_cb cb, void *arg, sched_progress_t *fleet)
{
    pthread_mutex_lock(&s->mu);
    for (entry_t *e = s->entries; e && cb; e = e->next) cb(&e->snap, e->phase, arg);
    if (fleet) {
        *fleet = s->fleet;
        snprintf(s->fleet_note_copy, sizeof s->fleet_note_copy, "%s", s->fleet_note);
        fleet->note = s->fleet_note[0] ? s->fleet_note_copy : NULL;
        fleet->job_id = NULL;
    }
    pthread_mutex_unlock(&s->mu);
}
