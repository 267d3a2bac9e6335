/* writer: the thread that ends jobs; see writer.h. */
#define LOG_MODULE "writer"
#include "writer.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "log.h"
#include "mlflow_sync.h"
#include "mem.h"
#include "store.h"

typedef struct item {
    job_t *job;
    sched_job_state_t state;
    uint32_t workers;
    struct item *next;
} item_t;

struct writer {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    item_t *head, *tail; /* to write */
    written_t *done, **done_tail;
    size_t pending; /* handed over, not taken back */
    bool stopping;
    atomic_int abort_current; /* writer_abort: the job being written stops (job_write) */
    store_t *st;              /* the thread's own connection */
    void (*wake)(void *arg);
    void *arg;
};

const char *writer_mlflow_status(sched_job_state_t st)
{
    return st == SCHED_JOB_SUCCEEDED ? "FINISHED" : st == SCHED_JOB_STOPPED ? "KILLED" : "FAILED";
}

static void *run(void *arg)
{
    writer_t *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->head && !w->stopping) pthread_cond_wait(&w->cv, &w->mu);
        if (w->stopping) break;
        item_t *it = w->head;
        w->head = it->next;
        if (!w->head) w->tail = NULL;
        pthread_mutex_unlock(&w->mu);

        written_t *wr = xcalloc(1, sizeof *wr);
        wr->job = it->job;
        job_t *j = it->job;
        atomic_store(&w->abort_current, 0); /* an abort asked for before this job began is not its */
        j->write_abort = &w->abort_current;
        wr->state = job_write(j, w->st, it->state, it->workers, &wr->summary, &wr->jobj);
        free(it);
        /* The MLflow sync is recorded with the end, so that a sync the engine never got to queue
         * (it stopped first) is found unfinished by the next one. A job whose writing was cut
         * short has not ended: no sync (the next engine that ends it records one). */
        if (!sched_job_state_ended(wr->state)) {
            wr->sync_failed = true;
        } else if (j->spec->mlflow_tracking_uri && *j->spec->mlflow_tracking_uri) {
            char err[1024];
            if (mlflow_sync_record(w->st, j->id, j->spec, j->out_dir, writer_mlflow_status(wr->state), wr->summary,
                                   wr->jobj, err, sizeof err) < 0) {
                log_warn("job %s: MLflow sync not recorded: %s", j->id, err);
                wr->sync_failed = true;
            }
        }

        pthread_mutex_lock(&w->mu);
        *w->done_tail = wr;
        w->done_tail = &wr->next;
        pthread_mutex_unlock(&w->mu);
        w->wake(w->arg);
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

writer_t *writer_start(const char *db_path, void (*wake)(void *arg), void *arg, char *err, size_t errlen)
{
    writer_t *w = xcalloc(1, sizeof *w);
    w->wake = wake;
    w->arg = arg;
    w->done_tail = &w->done;
    if (!(w->st = store_open(db_path, STORE_WRITE, err, errlen))) {
        free(w);
        return NULL;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->thread, NULL, run, w) != 0) {
        snprintf(err, errlen, "cannot start the thread that writes result files");
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        store_close(&w->st);
        free(w);
        return NULL;
    }
    return w;
}

void writer_submit(writer_t *w, job_t *j, sched_job_state_t state, uint32_t workers)
{
    item_t *it = xcalloc(1, sizeof *it);
    it->job = j;
    it->state = state;
    it->workers = workers;
    pthread_mutex_lock(&w->mu);
    if (w->tail) w->tail->next = it;
    else w->head = it;
    w->tail = it;
    w->pending++;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void writer_abort(writer_t *w) { atomic_store(&w->abort_current, 1); }

written_t *writer_take(writer_t *w)
{
    pthread_mutex_lock(&w->mu);
    written_t *list = w->done;
    for (written_t *x = list; x; x = x->next) w->pending--;
    w->done = NULL;
    w->done_tail = &w->done;
    pthread_mutex_unlock(&w->mu);
    return list;
}

void written_free(written_t *list)
{
    while (list) {
        written_t *n = list->next;
        job_destroy(&list->job);
        cJSON_Delete(list->summary);
        cJSON_Delete(list->jobj);
        free(list);
        list = n;
    }
}

size_t writer_pending(writer_t *w)
{
    pthread_mutex_lock(&w->mu);
    size_t n = w->pending;
    pthread_mutex_unlock(&w->mu);
    return n;
}

void writer_stop(writer_t **self_p)
{
    if (!self_p || !*self_p) return;
    writer_t *w = *self_p;
    pthread_mutex_lock(&w->mu);
    w->stopping = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    for (item_t *it = w->head, *n; it; it = n) {
        n = it->next;
        log_info("job %s left unwritten: the next engine on this database ends it", it->job->id);
        job_destroy(&it->job);
        free(it);
    }
    written_free(w->done);
    store_close(&w->st);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
    *self_p = NULL;
}
