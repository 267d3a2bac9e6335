/* sched_int: what the engine's two files share and nobody else sees: sched.c (the engine on
 * sched_run's thread: the loop, the jobs, the session) and sched_ctl.c (the face's calls from any
 * thread: submit, resume, retry, stop, snapshot). The struct, its inbox of commands and the
 * registry of the jobs the engine holds, and the helpers over them, all under `mu`. */
#ifndef LLMAJ_SCHED_INT_H
#define LLMAJ_SCHED_INT_H
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ingest.h"
#include "job.h"
#include "log.h"
#include "lograte.h"
#include "loop.h"
#include "peer.h"
#include "scheduler.h"
#include "store.h"
#include "syncer.h"
#include "writer.h"

#define DEFAULT_DB "runs/llmaj.db"
#define SERVICE_OWNER "service" /* jobs.owner of the service's jobs */
#define NOTE_MAX 512

typedef enum { CMD_RUN, CMD_STOP, CMD_STOP_ALL, CMD_SHUTDOWN } cmd_kind_t;

typedef struct cmd {
    cmd_kind_t kind;
    char job_id[SCHED_JOB_ID_MAX];
    struct cmd *next;
} cmd_t;

/* A job the engine holds, as other threads may ask about it. Removed when it has ended. */
typedef struct entry {
    char job_id[SCHED_JOB_ID_MAX];
    sched_phase_t phase;
    sched_progress_t snap; /* the latest progress (snap.job_id points at job_id) */
    struct entry *next;
} entry_t;

/* A job waiting for room to run. */
typedef struct waiting {
    char job_id[SCHED_JOB_ID_MAX];
    struct waiting *next;
} waiting_t;

struct sched {
    sched_opts_t o; /* its strings point at the copies below */
    char *broker, *name;

    pthread_mutex_t mu;        /* guards db_path (until sched_run), the inbox, the registry, fleet */
    pthread_mutex_t submit_mu; /* the first submission decides db_path (one-job form) */
    atomic_int cancel_input;   /* set by a stop or shutdown: submissions stop reading their datasets */
    char *db_path;
    cmd_t *inbox, **inbox_tail;
    entry_t *entries;
    bool ran;
    loop_t *loop;
    sched_progress_t fleet; /* connected, workers; note points at fleet_note */
    char fleet_note[NOTE_MAX];
    char fleet_note_copy[NOTE_MAX]; /* what sched_snapshot hands out */

    /* sched_run's thread only. */
    void *ctx;
    bool own_ctx;
    store_t *store;
    ingest_t *ingest;
    peer_t *peer;
    syncer_t *syncer;
    writer_t *writer;
    int lock_fd;       /* <db>.lock (serve), or -1 */
    lograte_t lr_drop; /* results refused, unexpected messages */
    job_t **jobs;
    size_t n_jobs, cap_jobs;
    waiting_t *wait_head, **wait_tail;
    int64_t idle_since_ms; /* until_idle: when the last job ended (0 while jobs run) */
    uint64_t idle_timer;
    bool stop_all_seen; /* a stop of everything came: do not wait for MLflow at the end */
    bool shutting_down; /* sched_shutdown came: no job starts, no shard is sent any more */
};

/* The registry and the inbox (sched_ctl.c). *_locked: with s->mu held. */
entry_t *sched_entry_find_locked(sched_t *s, const char *job_id);
entry_t *sched_entry_add_locked(sched_t *s, const char *job_id, sched_phase_t ph);
void sched_set_phase(sched_t *s, const char *job_id, sched_phase_t ph);
void sched_forget(sched_t *s, const char *job_id); /* the job has ended: the registry forgets it */
void sched_post_locked(sched_t *s, cmd_kind_t kind, const char *job_id);
cmd_t *sched_take_inbox(sched_t *s);
bool sched_inbox_empty(sched_t *s);

#endif
