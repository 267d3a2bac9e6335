/* writer: the thread that ends jobs (after redis's bio.c). Writing a job's result files reads
 * every committed result and can take a minute on a job of millions of records; the engine's
 * loop must not stop for that (other jobs' results keep coming), so an ended job is handed here:
 * job_write (job.h) runs on this thread with its own connection to the job database, and the job
 * comes back to the engine written, with its summary and job.json objects, for the MLflow sync.
 *
 * DESIGN. One queue in, one list out, one mutex, a condition variable for the thread. The
 * engine hands a job over (and no longer touches it), the thread writes the jobs in order and
 * calls `wake` after each, and the engine takes the written ones on its next pass. A job that
 * syncs to MLflow has its sync recorded here too (mlflow_sync_record), in the same connection,
 * so the engine only has to queue it. A signal (writer_abort) cuts the job being written short: it
 * stays unended in the database for the next engine. Stopping lets
 * the job being written finish and leaves the queued ones unwritten: they are still RUNNING (or
 * STOPPING) in the database, so the next engine opens and ends them again. */
#ifndef LLMAJ_WRITER_H
#define LLMAJ_WRITER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "job.h"

typedef struct writer writer_t;

/* A job written: its final state as stored and what output.c wrote (NULL when it could not). */
typedef struct written {
    job_t *job;
    sched_job_state_t state;
    cJSON *summary, *jobj;
    bool sync_failed; /* it wants an MLflow sync that could not be recorded (logged), or its writing
                         was cut short (state not ended): no sync to queue */
    struct written *next;
} written_t;

/* The MLflow run status of a job that ended in `st`: FINISHED, KILLED or FAILED (static). */
const char *writer_mlflow_status(sched_job_state_t st);

/* Starts the thread with its own connection to db_path. `wake(arg)` is called from the thread
 * after each job (loop_wake). NULL with err when the database or the thread cannot be had. */
writer_t *writer_start(const char *db_path, void (*wake)(void *arg), void *arg, char *err, size_t errlen);

/* Hands job j over (the writer owns it now) to be written as `state`. */
void writer_submit(writer_t *w, job_t *j, sched_job_state_t state, uint32_t workers);

/* Cuts short the writing of the job being written now, if any (a signal): it stays unended in
 * the database (job_write) and comes back with that state. Jobs written later are not affected. */
void writer_abort(writer_t *w);

/* The jobs written since the last call, in order; caller owns the list (written_free). */
written_t *writer_take(writer_t *w);
void written_free(written_t *list); /* jobs, objects and entries */

/* Jobs handed over and not yet taken back. */
size_t writer_pending(writer_t *w);

/* Stops the thread (see DESIGN) and frees what is left. Accepts NULL; sets *self_p = NULL. */
void writer_stop(writer_t **self_p);

#endif
