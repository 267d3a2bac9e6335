/* syncer: the MLflow sync's background thread; see syncer.h. */
#define LOG_MODULE "mlflow_sync"
#include "syncer.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backoff.h"
#include "errlist.h"
#include "jsonprint.h"
#include "log.h"
#include "mem.h"
#include "mlflow_sync.h"
#include "store.h"

typedef struct pending {
    char *job_id;
    /* In memory when the engine enqueued it; NULL spec: read it all back from the database. */
    spec_t *spec;
    char *job_dir, *status;
    cJSON *summary, *job;
    int64_t next_at_ms; /* monotonic */
    uint32_t attempts;
    struct pending *next;
} pending_t;

typedef struct progress {
    char *job_id;
    char *spec_json;
    int64_t step;
    uint64_t done, total;
    struct progress *next;
} progress_t;

struct syncer {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC */
    bool stop;
    atomic_int abort;
    store_t *db; /* the thread's own connection */
    syncer_opts_t o;
    backoff_t bo;
    pending_t *jobs; /* waiting (due now or later) */
    size_t running;  /* final syncs being attempted right now (0 or 1) */
    progress_t *progs;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pending_free(pending_t *p)
{
    free(p->job_id);
    spec_destroy(&p->spec);
    free(p->job_dir);
    free(p->status);
    cJSON_Delete(p->summary);
    cJSON_Delete(p->job);
    free(p);
}

/* Adds p, or (a sync of that job is queued already) makes the queued one due at the earlier
 * time with the newer payload. Takes ownership of p. */
static void add_pending_locked(syncer_t *s, pending_t *p)
{
    for (pending_t *q = s->jobs; q; q = q->next) {
        if (strcmp(q->job_id, p->job_id) != 0) continue;
        if (p->next_at_ms < q->next_at_ms) q->next_at_ms = p->next_at_ms;
        if (p->spec) {
            /* The newer payload wins; p leaves with the old one. */
#define SWAP(f)                     \
    do {                            \
        __typeof__(q->f) t_ = q->f; \
        q->f = p->f;                \
        p->f = t_;                  \
    } while (0)
            SWAP(spec);
            SWAP(job_dir);
            SWAP(status);
            SWAP(summary);
            SWAP(job);
#undef SWAP
        }
        pending_free(p);
        return;
    }
    p->next = s->jobs;
    s->jobs = p;
}

static void run_progress(syncer_t *s, progress_t *pr)
{
    errlist_t errs;
    errlist_init(&errs, 1);
    spec_t *spec = spec_parse(pr->spec_json, strlen(pr->spec_json), "spec", NULL, &errs);
    errlist_free(&errs);
    char err[1024];
    if (spec &&
        mlflow_sync_progress(s->db, pr->job_id, spec, pr->step, pr->done, pr->total, &s->abort, err, sizeof err) < 0)
        log_warn("MLflow progress of job %s not logged: %s", pr->job_id, err);
    spec_destroy(&spec);
}

static int run_sync(syncer_t *s, pending_t *p, char *err, size_t errlen)
{
    if (!p->spec) return mlflow_sync_resume(s->db, p->job_id, &s->abort, err, errlen);
    return mlflow_sync_job(s->db, p->job_id, p->spec, p->job_dir, p->status, p->summary, p->job, &s->abort, err,
                           errlen);
}

/* After a failed attempt: retry later, or give up. Called with the lock held; takes p. */
static void after_failure_locked(syncer_t *s, pending_t *p, const char *err)
{
    p->attempts++;
    if (s->o.max_attempts && p->attempts >= s->o.max_attempts) {
        log_error("MLflow sync of job %s failed %u times, giving up (`llmaj sync` retries it): %s", p->job_id,
                  p->attempts, err);
        if (mlflow_sync_give_up(s->db, p->job_id) < 0)
            log_error("MLflow sync of job %s: could not record that it gave up; the next start retries it", p->job_id);
        pending_free(p);
        return;
    }
    int64_t delay = backoff_delay_ms(&s->bo, p->attempts, -1);
    log_warn("MLflow sync of job %s failed (attempt %u), retrying in %.1f s: %s", p->job_id, p->attempts,
             delay / 1000.0, err);
    p->next_at_ms = mono_ms() + delay;
    add_pending_locked(s, p);
}

static void *syncer_main(void *arg)
{
    syncer_t *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        if (s->progs) {
            progress_t *pr = s->progs;
            s->progs = pr->next;
            pthread_mutex_unlock(&s->mu);
            run_progress(s, pr);
            free(pr->job_id);
            free(pr->spec_json);
            free(pr);
            pthread_mutex_lock(&s->mu);
            continue;
        }
        pending_t **best = NULL;
        for (pending_t **pp = &s->jobs; *pp; pp = &(*pp)->next)
            if (!best || (*pp)->next_at_ms < (*best)->next_at_ms) best = pp;
        if (!best) {
            pthread_cond_wait(&s->cv, &s->mu);
            continue;
        }
        if ((*best)->next_at_ms > mono_ms()) {
            int64_t at = (*best)->next_at_ms;
            struct timespec ts = {.tv_sec = at / 1000, .tv_nsec = (long)(at % 1000) * 1000000};
            pthread_cond_timedwait(&s->cv, &s->mu, &ts);
            continue;
        }
        pending_t *p = *best;
        *best = p->next;
        p->next = NULL;
        s->running++;
        pthread_mutex_unlock(&s->mu);
        char err[1024];
        int rc = run_sync(s, p, err, sizeof err);
        pthread_mutex_lock(&s->mu);
        s->running--;
        if (rc == 0 || s->stop) {
            if (rc < 0)
                log_info("MLflow sync of job %s interrupted by shutdown; it resumes at the next start", p->job_id);
            pending_free(p);
            continue;
        }
        after_failure_locked(s, p, err);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

syncer_t *syncer_start(const syncer_opts_t *o, char *err, size_t errlen)
{
    syncer_t *s = xcalloc(1, sizeof *s);
    s->o = *o;
    s->o.db_path = NULL;
    if (!(s->db = store_open(o->db_path, STORE_WRITE, err, errlen))) {
        free(s);
        return NULL;
    }
    backoff_init(&s->bo, o->backoff_base_ms > 0 ? o->backoff_base_ms : 2000,
                 o->backoff_max_ms > 0 ? o->backoff_max_ms : 300000, o->seed ? o->seed : (uint64_t)mono_ms());
    atomic_init(&s->abort, 0);
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (o->resume) {
        char **ids = NULL;
        size_t n = 0;
        if (mlflow_sync_unfinished(s->db, &ids, &n) == 0) {
            for (size_t i = 0; i < n; i++) {
                pending_t *p = xcalloc(1, sizeof *p);
                p->job_id = ids[i];
                add_pending_locked(s, p);
            }
            free(ids);
            if (n) log_info("resuming the MLflow sync of %zu job(s)", n);
        } else {
            log_warn("cannot list unfinished MLflow syncs in %s (see above); they resume at a later start", o->db_path);
        }
    }
    if (pthread_create(&s->thread, NULL, syncer_main, s) != 0) {
        snprintf(err, errlen, "cannot start the MLflow syncer thread: %s", strerror(errno));
        for (pending_t *p = s->jobs, *nx; p; p = nx) {
            nx = p->next;
            pending_free(p);
        }
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
        store_close(&s->db);
        free(s);
        return NULL;
    }
    return s;
}

int syncer_enqueue(syncer_t *s, const char *job_id, const spec_t *spec, const char *job_dir, const char *final_status,
                   const cJSON *summary, const cJSON *job, char *err, size_t errlen)
{
    if (!spec->mlflow_tracking_uri || !*spec->mlflow_tracking_uri) {
        snprintf(err, errlen, "job %s has no MLflow tracking URI", job_id);
        return -1;
    }
    if (!mlflow_sync_status_ok(final_status)) {
        snprintf(err, errlen, "MLflow run status '%s' is not FINISHED, FAILED or KILLED",
                 final_status ? final_status : "");
        return -1;
    }
    /* A private copy of the spec: the engine frees its own when the job ends. */
    cJSON *sj = spec_to_json(spec);
    char *text = sj ? jsonprint(sj, false) : NULL;
    cJSON_Delete(sj);
    errlist_t errs;
    errlist_init(&errs, 1);
    spec_t *copy = text ? spec_parse(text, strlen(text), "spec", NULL, &errs) : NULL;
    errlist_free(&errs);
    free(text);
    if (!copy) {
        snprintf(err, errlen, "job %s: cannot copy its spec for the MLflow sync", job_id);
        return -1;
    }
    pending_t *p = xcalloc(1, sizeof *p);
    p->job_id = xstrdup(job_id);
    p->spec = copy;
    p->job_dir = xstrdup(job_dir);
    p->status = xstrdup(final_status);
    p->summary = summary ? cJSON_Duplicate(summary, 1) : NULL;
    p->job = job ? cJSON_Duplicate(job, 1) : NULL;
    pthread_mutex_lock(&s->mu);
    add_pending_locked(s, p);
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

void syncer_progress(syncer_t *s, const char *job_id, const char *spec_json, int64_t step, uint64_t done,
                     uint64_t total)
{
    pthread_mutex_lock(&s->mu);
    progress_t *pr = NULL;
    for (progress_t *p = s->progs; p; p = p->next)
        if (!strcmp(p->job_id, job_id)) pr = p;
    if (pr) {
        free(pr->spec_json);
    } else {
        pr = xcalloc(1, sizeof *pr);
        pr->job_id = xstrdup(job_id);
        progress_t **tail = &s->progs;
        while (*tail) tail = &(*tail)->next;
        *tail = pr;
    }
    pr->spec_json = xstrdup(spec_json);
    pr->step = step;
    pr->done = done;
    pr->total = total;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

size_t syncer_pending(syncer_t *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->running;
    for (pending_t *p = s->jobs; p; p = p->next) n++;
    pthread_mutex_unlock(&s->mu);
    return n;
}

void syncer_stop(syncer_t **self_p)
{
    if (!self_p || !*self_p) return;
    syncer_t *s = *self_p;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    atomic_store(&s->abort, 1);
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    for (pending_t *p = s->jobs, *nx; p; p = nx) {
        nx = p->next;
        pending_free(p);
    }
    for (progress_t *p = s->progs, *nx; p; p = nx) {
        nx = p->next;
        free(p->job_id);
        free(p->spec_json);
        free(p);
    }
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    store_close(&s->db);
    free(s);
    *self_p = NULL;
}
