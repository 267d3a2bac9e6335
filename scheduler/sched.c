/* sched: the engine (scheduler.h): one event loop, one broker session, one job database, many
 * jobs at once. This file is the engine's own side, on sched_run's thread; the face's calls from
 * other threads (submit, resume, retry, stop, snapshot) are sched_ctl.c, and sched_int.h is what
 * the two share.
 *
 * DESIGN. Threads. sched_run's thread owns everything that moves: the loop, the peer session
 * (proto/peer.c), the store connection, the commit batcher (ingest.c) and the running jobs
 * (job_t). Other threads talk to it only through an inbox of commands (run this stored job, stop
 * that one, stop all, shut down) under one mutex, followed by loop_wake; the same mutex guards the
 * registry of the jobs the engine holds (queued, running, being written), with each one's latest
 * progress, so sched_stop can answer at once and /metrics can read them. sched_submit does its
 * slow part (validating and loading the dataset) on the caller's thread with its own store
 * connection, then posts "run". Ending a job is handed to the writer thread (writer.c), which
 * writes its result files with its own connection and gives it back. No process-global state:
 * several engines may live in one process.
 *
 * Many jobs. Jobs to run wait in a FIFO; at most max_jobs run at once. Each running job keeps at
 * most `window` shards in flight, and every pass of the loop fills every job's window, so the
 * broker always holds shards of every running job (it hands them to workers round robin over
 * jobs: broker/bqueue.c) and a small job submitted after a huge one starts at once and is not
 * stuck behind it.
 *
 * One pass of the loop (before each wait): the broker session is pumped; the inbox is drained;
 * the jobs the writer finished are taken back (their MLflow sync queued); queued jobs start while
 * there is room; for each running job, a stop is turned into a CANCEL, the window is filled, and
 * a job with nothing left to do is ended (its results committed, handed to the writer); progress
 * is reported; and in the one-job form (until_idle) the loop stops once no job is left and the
 * MLflow syncs are done or waited for long enough. Timers: every heartbeat each running job's
 * counts are written to its row (status and liveness read them), a stop asked for from another
 * process (its row says STOPPING) is taken up, and the engine's word on its fleet (the broker
 * unreachable, no worker) is stored as the job's note; every INGEST_COMMIT_MS the open batch of
 * results is committed.
 *
 * The service (opts.serve). Jobs submitted to it are stored with owner "service"; at start it
 * takes the lock file <db>.lock (a second service on the same database refuses to start), deletes
 * the submissions a crash cut short, and queues every job of its own that an earlier engine left
 * running or stopping, then those left queued, oldest first: a restart needs no --resume.
 *
 * The MLflow syncer thread starts when first needed: a job with a tracking URI, or syncs an
 * earlier engine left unfinished in the database. */
#define LOG_MODULE "scheduler"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include <zmq.h>

#include "dispatch.h"
#include "log.h"
#include "mem.h"
#include "mlflow_sync.h"
#include "sched_int.h"
#include "wire.h"

#define MLFLOW_PROGRESS_MS 10000 /* a running job's progress goes to MLflow this often */
#define IDLE_POLL_MS 50          /* until_idle: how often the end waits look at the syncer */

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

static void progress_of(sched_t *s, job_t *j, bool final, sched_progress_t *p)
{
    *p = (sched_progress_t){.job_id = j->id,
                            .records = j->records,
                            .units_total = j->records * j->targets,
                            .units_done = j->units_done,
                            .shards_total = j->n_shards,
                            .shards_done = j->done,
                            .shards_inflight = j->inflight,
                            .scores_ok = j->scores[SCORE_OK],
                            .scores_unscored = j->scores[SCORE_UNSCORED],
                            .scores_error = j->scores[SCORE_ERROR],
                            .scores_na = j->scores[SCORE_NOT_APPLICABLE],
                            .workers = peer_workers(s->peer),
                            .connected = peer_up(s->peer),
                            .elapsed_s = job_elapsed_s(j),
                            .finished = final,
                            .note = j->note,
                            .results_refused = j->results_refused};
    if (j->stalled && !final) p->stalled_s = (loop_now_ms() - j->last_result_ms) / 1000.0;
}

static void report(sched_t *s, job_t *j, bool final)
{
    int64_t now = loop_now_ms();
    sched_progress_t p;
    progress_of(s, j, final, &p);
    pthread_mutex_lock(&s->mu);
    entry_t *e = sched_entry_find_locked(s, j->id);
    if (e) {
        e->snap = p;
        e->snap.job_id = e->job_id;
        e->snap.note = NULL; /* j->note is the engine's; the fleet's note is in sched_snapshot */
    }
    pthread_mutex_unlock(&s->mu);
    if (!final && wants_mlflow(j) && now - j->last_mlflow_ms >= MLFLOW_PROGRESS_MS) {
        j->last_mlflow_ms = now;
        syncer_t *sy = syncer_of(s);
        if (sy) syncer_progress(sy, j->id, j->spec_json, (now - j->started_ms) / 1000, j->units_done, p.units_total);
    }
    if (!s->o.progress) return;
    if (!final && now - j->last_progress_ms < s->o.progress_ms) return;
    j->last_progress_ms = now;
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
        sched_forget(s, job_id);
        return;
    }
    if (s->n_jobs == s->cap_jobs) {
        s->cap_jobs = s->cap_jobs ? s->cap_jobs * 2 : 8;
        s->jobs = xrealloc(s->jobs, s->cap_jobs * sizeof *s->jobs);
    }
    s->jobs[s->n_jobs++] = j;
    s->idle_since_ms = 0;
    if (wants_mlflow(j)) syncer_of(s);
    sched_set_phase(s, job_id, SCHED_PHASE_RUNNING);
    if (s->fleet_note[0]) j->note = xstrdup(s->fleet_note);
}

/* Ends job i: its results committed, its final state decided, handed to the writer. */
static void end_job(sched_t *s, size_t i)
{
    job_t *j = s->jobs[i];
    if (ingest_flush(s->ingest) < 0) log_error("job %s: its last results could not be committed (see above)", j->id);
    report(s, j, true);
    sched_job_state_t st = job_final_state(j);
    s->jobs[i] = s->jobs[--s->n_jobs];
    sched_set_phase(s, j->id, SCHED_PHASE_ENDING);
    writer_submit(s->writer, j, st, peer_workers(s->peer));
}

/* Jobs the writer has ended: their MLflow sync queued, forgotten. */
static void take_written(sched_t *s)
{
    written_t *list = writer_take(s->writer);
    for (written_t *w = list; w; w = w->next) {
        job_t *j = w->job;
        if (wants_mlflow(j) && !w->sync_failed) {
            char err[1024];
            syncer_t *sy = syncer_of(s);
            if (!sy)
                log_warn("job %s: MLflow sync recorded, not started: the next scheduler on %s resumes it", j->id,
                         s->db_path);
            else if (syncer_enqueue(sy, j->id, j->spec, j->out_dir, writer_mlflow_status(w->state), w->summary, w->jobj,
                                    err, sizeof err) < 0)
                log_warn("job %s: MLflow sync not queued: %s", j->id, err);
        }
        sched_forget(s, j->id);
    }
    written_free(list);
    if (s->n_jobs == 0 && !s->wait_head && list) s->idle_since_ms = loop_now_ms();
}

/* Marks j stopping: no new SUBMIT, a CANCEL goes out, the database says STOPPING. */
static void request_stop(sched_t *s, job_t *j)
{
    if (j->stop_requested) return;
    log_info("job %s: stopping", j->id);
    j->stop_requested = true;
    if (store_job_set_state(s->store, j->id, SCHED_JOB_STOPPING, NULL) < 0)
        log_warn("job %s: %s: cannot record that it is stopping (%s)", j->id, s->db_path, store_errmsg(s->store));
}

static void wait_push(sched_t *s, const char *job_id)
{
    for (waiting_t *w = s->wait_head; w; w = w->next)
        if (!strcmp(w->job_id, job_id)) return;
    waiting_t *w = xcalloc(1, sizeof *w);
    snprintf(w->job_id, sizeof w->job_id, "%s", job_id);
    *s->wait_tail = w;
    s->wait_tail = &w->next;
}

/* Removes job_id from the waiting line: true if it was there. */
static bool wait_remove(sched_t *s, const char *job_id)
{
    for (waiting_t **pp = &s->wait_head; *pp; pp = &(*pp)->next)
        if (!strcmp((*pp)->job_id, job_id)) {
            waiting_t *w = *pp;
            *pp = w->next;
            if (!*pp) s->wait_tail = pp;
            free(w);
            return true;
        }
    return false;
}

/* Starts waiting jobs while there is room. */
static void start_waiting(sched_t *s)
{
    while (s->wait_head && (s->o.max_jobs <= 0 || s->n_jobs < (size_t)s->o.max_jobs)) {
        waiting_t *w = s->wait_head;
        s->wait_head = w->next;
        if (!s->wait_head) s->wait_tail = &s->wait_head;
        if (find_job(s, w->job_id)) log_warn("job %s is already running here", w->job_id);
        else start_job(s, w->job_id);
        free(w);
    }
}

static void drain_inbox(sched_t *s)
{
    for (cmd_t *c = sched_take_inbox(s), *n; c; c = n) {
        n = c->next;
        job_t *j;
        switch (c->kind) {
        case CMD_RUN:
            if (find_job(s, c->job_id)) log_warn("job %s is already running here", c->job_id);
            else wait_push(s, c->job_id);
            break;
        case CMD_STOP:
            if ((j = find_job(s, c->job_id))) {
                request_stop(s, j);
            } else if (wait_remove(s, c->job_id)) {
                /* A queued job ends at once, stopped, with empty result files. */
                if (store_job_set_state(s->store, c->job_id, SCHED_JOB_STOPPING, NULL) < 0)
                    log_warn("job %s: cannot record that it is stopping (%s)", c->job_id, store_errmsg(s->store));
                start_job(s, c->job_id);
            }
            break;
        case CMD_STOP_ALL:
            s->stop_all_seen = true;
            /* A signal while a job's files are written cuts that short too (job_write). */
            if (s->writer) writer_abort(s->writer);
            for (size_t i = 0; i < s->n_jobs; i++) request_stop(s, s->jobs[i]);
            while (s->wait_head) {
                char id[SCHED_JOB_ID_MAX];
                snprintf(id, sizeof id, "%s", s->wait_head->job_id);
                wait_remove(s, id);
                if (store_job_set_state(s->store, id, SCHED_JOB_STOPPING, NULL) < 0)
                    log_warn("job %s: cannot record that it is stopping (%s)", id, store_errmsg(s->store));
                start_job(s, id);
            }
            break;
        case CMD_SHUTDOWN:
            if (s->writer) writer_abort(s->writer);
            s->shutting_down = true; /* this pass ends without starting or sending anything */
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
    if (!s->o.until_idle || s->n_jobs > 0 || s->wait_head || writer_pending(s->writer) > 0 || !sched_inbox_empty(s))
        return;
    int64_t now = loop_now_ms();
    if (!s->idle_since_ms) s->idle_since_ms = now;
    size_t pending = s->syncer ? syncer_pending(s->syncer) : 0;
    if (pending == 0 || s->stop_all_seen || now - s->idle_since_ms >= s->o.mlflow_wait_ms) {
        if (pending)
            log_warn("%zu MLflow sync(s) not finished yet; the next scheduler on %s resumes them, or run `llmaj sync "
                     "--job-dir DIR`",
                     pending, s->db_path);
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
    take_written(s);
    if (!s->shutting_down) start_waiting(s);
    for (size_t i = s->n_jobs; i-- > 0;) {
        job_t *j = s->jobs[i];
        if (j->stop_requested) dispatch_cancel(j, s->peer);
        if (!s->shutting_down && dispatch_fill(j, s->ingest, s->peer, s->o.window)) more = 1;
        if (job_over(j)) {
            end_job(s, i);
            more = 1; /* room for a waiting job: start it on the next pass */
        } else {
            report(s, j, false);
        }
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
    else if (ev == PEER_DOWN) log_info("broker session ended (%s); reconnecting", why ? why : "?");
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
            break;
        }
        if (!dispatch_accepts(j, h->shard_id, h->lease)) {
            /* Late (the shard is done, or its lease was revoked since), or forged: the broker
             * forwards only from the holder, so this is rare; never committed. */
            j->results_refused++;
            log_rated(&s->lr_drop, LOG_WARN, "job %s: %s of shard %llu under lease %llu dropped: %s", j->id,
                      wire_type_name(h->type), (unsigned long long)h->shard_id, (unsigned long long)h->lease,
                      h->shard_id >= j->n_shards                       ? "no such shard"
                      : j->shards[h->shard_id].state != SHARD_INFLIGHT ? "the shard is not in flight"
                                                                       : "an older lease than the shard's current one");
            break;
        }
        dispatch_lease_seen(j, s->ingest, h->shard_id, h->lease);
        if (h->type == WIRE_RESULT) ingest_result(s->ingest, j, h->shard_id, payload, len);
        else dispatch_shard_done(j, s->ingest, s->peer, h->shard_id);
        break;
    default: log_rated(&s->lr_drop, LOG_WARN, "unexpected %s from the broker dropped", wire_type_name(h->type));
    }
}

/* The engine's word on its fleet, or "" when all is well. */
static void fleet_note(sched_t *s, char *out, size_t n)
{
    out[0] = '\0';
    int64_t down = peer_down_ms(s->peer);
    int64_t grace = (int64_t)s->o.heartbeat_ms * s->o.dead_after;
    if (!peer_up(s->peer) && down > grace) {
        if (!peer_ever_up(s->peer))
            snprintf(out, n,
                     "cannot reach the broker at %s: no answer for %.0f s (is it running, and is the address "
                     "right?)",
                     peer_endpoint(s->peer), down / 1000.0);
        else snprintf(out, n, "lost the broker at %s %.0f s ago: reconnecting", peer_endpoint(s->peer), down / 1000.0);
    } else if (peer_up(s->peer) && peer_workers(s->peer) == 0) {
        snprintf(out, n, "connected to the broker at %s, but no worker has joined it", peer_endpoint(s->peer));
    }
}

/* The job's note: a stall (shards in flight, no result committed for stall_after_ms) said first,
 * then the fleet's. Logged when the job stalls and when it moves again. */
static void stall_note(sched_t *s, job_t *j, const char *fleet, char *out, size_t n)
{
    int64_t quiet = loop_now_ms() - j->last_result_ms;
    bool stalled = j->inflight > 0 && !j->fatal && quiet >= s->o.stall_after_ms;
    if (stalled && !j->stalled)
        log_warn("job %s: no result for %.0f s while %zu shard(s) are in flight (stalled): are the workers alive "
                 "and the models answering? (llmaj-broker's /metrics: llmaj_broker_jobs_stalled, "
                 "llmaj_broker_shards_revoked_total)",
                 j->id, quiet / 1000.0, j->inflight);
    else if (!stalled && j->stalled) log_info("job %s: results come in again", j->id);
    j->stalled = stalled;
    size_t k = 0;
    out[0] = '\0';
    if (stalled) {
        bool mins = quiet >= 120000;
        int w = snprintf(out, n, "no result for %.0f %s while %zu shard(s) are in flight",
                         mins ? quiet / 60000.0 : quiet / 1000.0, mins ? "min" : "s", j->inflight);
        k = w < 0 ? 0 : (size_t)w < n ? (size_t)w : n - 1;
    }
    if (fleet[0] && k + 3 < n) { /* the fleet's note after it, cut to fit (a hint for a human) */
        if (k) {
            out[k++] = ';';
            out[k++] = ' ';
        }
        size_t len = strnlen(fleet, n - k - 1);
        memcpy(out + k, fleet, len);
        out[k + len] = '\0';
    }
}

static void heartbeat_tick(loop_t *loop, uint64_t id, void *arg)
{
    (void)id;
    sched_t *s = arg;
    if (ingest_flush(s->ingest) < 0) log_error("results could not be committed (see above)");
    char note[NOTE_MAX];
    fleet_note(s, note, sizeof note);
    pthread_mutex_lock(&s->mu);
    bool changed = strcmp(note, s->fleet_note) != 0;
    snprintf(s->fleet_note, sizeof s->fleet_note, "%s", note);
    s->fleet.connected = peer_up(s->peer);
    s->fleet.workers = peer_workers(s->peer);
    pthread_mutex_unlock(&s->mu);
    if (changed && note[0]) log_warn("%s", note);
    lograte_tick(&s->lr_drop, loop_now_ms());
    for (size_t i = 0; i < s->n_jobs; i++) {
        job_t *j = s->jobs[i];
        char stall[NOTE_MAX];
        stall_note(s, j, note, stall, sizeof stall);
        store_counts_t c;
        job_counts(j, &c);
        if (store_job_set_progress(s->store, j->id, &c) < 0)
            log_warn("job %s: %s: cannot mark it alive (%s); status may call its scheduler silent", j->id, s->db_path,
                     store_errmsg(s->store));
        if (strcmp(stall, j->note ? j->note : "") != 0) {
            free(j->note);
            j->note = stall[0] ? xstrdup(stall) : NULL;
            if (store_job_set_note(s->store, j->id, j->note) < 0)
                log_warn("job %s: %s: cannot store its note (%s)", j->id, s->db_path, store_errmsg(s->store));
        }
        /* A stop asked for from another process (`llmaj stop` on this database). */
        int state;
        if (!j->stop_requested && store_job_state(s->store, j->id, &state) == 0 && state == SCHED_JOB_STOPPING)
            request_stop(s, j);
    }
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

static void wake_cb(void *arg) { loop_wake(((sched_t *)arg)->loop); }

/* One service per database: an exclusive lock on <db>.lock for the engine's life. */
static sched_err_t take_lock(sched_t *s, errlist_t *errs)
{
    char *path = xasprintf("%s.lock", s->db_path);
    s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    sched_err_t rc = SCHED_OK;
    if (s->lock_fd < 0) {
        errlist_add(errs, "%s: %s", path, strerror(errno));
        rc = SCHED_E_DB;
    } else if (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        errlist_add(errs, "%s is in use by another llmaj-scheduler --serve (%s is locked): one service per database",
                    s->db_path, path);
        close(s->lock_fd);
        s->lock_fd = -1;
        rc = SCHED_E_STATE;
    }
    free(path);
    return rc;
}

typedef struct {
    char **ids;
    int *states;
    size_t n, cap;
} owned_t;

static int owned_row(const char *job_id, int state, void *arg)
{
    owned_t *o = arg;
    if (o->n == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 16;
        o->ids = xrealloc(o->ids, o->cap * sizeof *o->ids);
        o->states = xrealloc(o->states, o->cap * sizeof *o->states);
    }
    o->ids[o->n] = xstrdup(job_id);
    o->states[o->n++] = state;
    return 0;
}

/* The service takes up its own jobs (see DESIGN). */
static void adopt(sched_t *s)
{
    owned_t o = {0};
    if (store_jobs_owned(s->store, SERVICE_OWNER, owned_row, &o) < 0) {
        log_error("%s: cannot list the jobs left by an earlier service (see above): they are not resumed", s->db_path);
        return;
    }
    size_t resumed = 0, queued = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < o.n; i++) {
            int st = o.states[i];
            if (pass == 0 && st == STORE_STATE_LOADING) {
                log_info("job %s: its submission was cut short: deleted", o.ids[i]);
                if (store_job_delete(s->store, o.ids[i]) < 0) log_warn("job %s: could not be deleted", o.ids[i]);
            } else if ((pass == 0 && (st == SCHED_JOB_RUNNING || st == SCHED_JOB_STOPPING)) ||
                       (pass == 1 && st == SCHED_JOB_PENDING)) {
                sched_set_phase(s, o.ids[i], SCHED_PHASE_QUEUED);
                wait_push(s, o.ids[i]);
                if (pass == 0) resumed++;
                else queued++;
            }
        }
    if (resumed || queued)
        log_info("%s: %zu job(s) left running by an earlier service resumed, %zu queued job(s) taken up", s->db_path,
                 resumed, queued);
    for (size_t i = 0; i < o.n; i++) free(o.ids[i]);
    free(o.ids);
    free(o.states);
}

static sched_err_t run_setup(sched_t *s, errlist_t *errs)
{
    char err[1024];
    if (s->o.serve) {
        sched_err_t rc = take_lock(s, errs);
        if (rc != SCHED_OK) return rc;
    }
    if (!(s->store = store_open(s->db_path, STORE_WRITE, err, sizeof err))) {
        errlist_add(errs, "%s", err);
        return SCHED_E_DB;
    }
    if (!(s->writer = writer_start(s->db_path, wake_cb, s, err, sizeof err))) {
        errlist_add(errs, "%s", err);
        return SCHED_E_INTERNAL;
    }
    s->ingest = ingest_new(s->store);
    if (s->o.serve) adopt(s);
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
    peer_opts_t po = {.endpoint = s->broker,
                      .zmq_ctx = s->ctx,
                      .loop = s->loop,
                      .role = "scheduler",
                      .name = s->name,
                      .heartbeat_ms = s->o.heartbeat_ms,
                      .dead_after = s->o.dead_after,
                      .on_message = on_message,
                      .on_session = on_session,
                      .heartbeat_n = heartbeat_n,
                      .arg = s,
                      .curve = s->o.curve};
    if (!(s->peer = peer_new(&po, err, sizeof err))) {
        errlist_add(errs, "%s", err);
        return SCHED_E_INTERNAL;
    }
    return SCHED_OK;
}

/* Shutting down with jobs running (the service): CANCEL each at the broker, which drops its queued
 * and leased shards and tells the workers to start no new call for it, so the fleet does not go on
 * working for an engine that is gone; the next engine on the database resubmits what is missing. */
static void cancel_left(sched_t *s)
{
    for (size_t i = 0; i < s->n_jobs; i++) {
        job_t *j = s->jobs[i];
        if (j->cancel_sent || j->inflight == 0) continue;
        wire_hdr_t c = {.type = WIRE_CANCEL};
        snprintf(c.job_id, sizeof c.job_id, "%s", j->id);
        peer_send(s->peer, &c, NULL, 0);
        j->cancel_sent = true;
    }
}

static void run_teardown(sched_t *s)
{
    if (s->peer && s->shutting_down) cancel_left(s);
    if (s->peer) peer_bye(s->peer); /* the broker forgets us now, not after a silence */
    if (s->ingest && ingest_flush(s->ingest) < 0) log_error("the last results could not be committed (see above)");
    for (size_t i = 0; i < s->n_jobs; i++) {
        log_info("job %s left %s: a later scheduler on %s resumes it", s->jobs[i]->id,
                 s->jobs[i]->stop_requested ? "stopping" : "running", s->db_path);
        store_counts_t c;
        job_counts(s->jobs[i], &c);
        if (s->store && store_job_set_progress(s->store, s->jobs[i]->id, &c) < 0)
            log_warn("job %s: its last counts could not be stored", s->jobs[i]->id);
        job_destroy(&s->jobs[i]);
    }
    s->n_jobs = 0;
    free(s->jobs);
    s->jobs = NULL;
    if (s->writer) take_written(s); /* what the writer finished, its MLflow sync queued */
    writer_stop(&s->writer);
    syncer_stop(&s->syncer);
    ingest_destroy(&s->ingest);
    peer_destroy(&s->peer);
    if (s->own_ctx) zmq_ctx_term(s->ctx);
    s->ctx = NULL;
    store_close(&s->store);
    if (s->lock_fd >= 0) close(s->lock_fd); /* releases the lock */
    s->lock_fd = -1;
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
        if (s->o.on_start) s->o.on_start(s, s->o.on_start_arg);
        loop_set_before_wait(s->loop, before_wait, s);
        loop_timer_add(s->loop, s->o.heartbeat_ms, heartbeat_tick, s);
        loop_timer_add(s->loop, INGEST_COMMIT_MS, commit_tick, s);
        loop_run(s->loop);
    }
    run_teardown(s);
    return rc;
}
