/* scheduler: see scheduler.h.
 *
 * DESIGN. A job goes PENDING -> RUNNING -> SUCCEEDED | FAILED | STOPPED (store.h).
 *  - Before anything is called, the spec and the whole dataset are validated; the records are
 *    stored in the same pass inside one transaction, which is rolled back if the input is bad,
 *    so bad input changes nothing.
 *  - Shards are runs of `shard_size` consecutive valid records. At most `window` are in flight
 *    (submitted, no SHARD_DONE yet); the broker queues them and leases them to workers.
 *  - Results are committed idempotently in small transactions (every COMMIT_EVERY results or
 *    COMMIT_MS, whichever first), and always before a SHARD_DONE is acted on.
 *  - SHARD_DONE is checked against the store: when a shard's (record, target) outputs are not
 *    all committed (a result lost on the way), the shard is submitted again; redelivered results
 *    are harmless. So no result is lost or counted twice, whatever happens in between.
 *  - The session with the broker is proto/peer.c's, as for the workers: when a new session comes
 *    up after an earlier one (the broker restarted, was silent, or ended ours), every in-flight
 *    shard is submitted again (the broker ignores resubmissions of shards it still holds). */
#define LOG_MODULE "scheduler"
#include "scheduler.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "buf.h"
#include "collector.h"
#include "dataset.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "mlflow_sync.h"
#include "modelstr.h"
#include "provider.h"
#include "spec.h"
#include "store.h"
#include "wire.h"
#include "peer.h"

#define COMMIT_EVERY 512
#define COMMIT_MS 100
#define MAX_LISTED_ERRORS 20
#define MAX_SUBMITS 5        /* a shard coming back incomplete this often is failed */

typedef struct {
    uint64_t first, last;
    uint32_t n;
    shard_state_t state;
    int64_t submitted_ms;
    uint32_t submits;
} shard_t;

typedef struct {
    const scheduler_opts_t *o;
    char job_id[96];
    spec_t *spec;
    char *spec_json;
    store_t *store;
    void *ctx;
    bool own_ctx;
    peer_t *peer;
    loop_t *loop;
    shard_t *shards;
    size_t n_shards;
    size_t next_pending;     /* lowest index that may be PENDING */
    size_t inflight, done;
    uint32_t targets;
    uint64_t records, invalid;
    uint64_t units_done;
    uint64_t scores[4];
    bool in_tx;
    uint32_t uncommitted;
    int64_t started_ms, last_progress_ms, last_mlflow_ms;
    char *db_path;
    mlflow_syncer_t *syncer;
    bool finished, stop_requested;
    char *fatal;
} sched_t;

static atomic_int g_stop;

void scheduler_request_stop(void) { atomic_store(&g_stop, 1); }

void scheduler_opts_default(scheduler_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->window = 64;
    o->heartbeat_ms = 1000;
    o->dead_after = 5;
    o->progress_ms = 200;
    o->mlflow_wait_ms = 60000;
}

void job_outcome_clear(job_outcome_t *o)
{
    free(o->out_dir);
    free(o->error);
    free(o->mlflow_state);
    cJSON_Delete(o->summary);
    memset(o, 0, sizeof(*o));
}

/* ---- input ---- */

/* Applies CLI overrides (a JSON object of spec keys) on top of the spec text. */
static char *merge_overrides(const char *json, size_t len, const cJSON *ov, errlist_t *errs, const char *origin)
{
    if (!ov || !cJSON_GetArraySize(ov)) return xstrndup(json, len);
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root || !cJSON_IsObject(root)) {
        errlist_add(errs, "%s: not a JSON object", origin);
        cJSON_Delete(root);
        return NULL;
    }
    for (const cJSON *it = ov->child; it; it = it->next) {
        cJSON_DeleteItemFromObjectCaseSensitive(root, it->string);
        cJSON_AddItemToObject(root, it->string, cJSON_Duplicate(it, 1));
    }
    char *out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return out;
}

static int mkdirs(const char *path)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) return -1;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0755) < 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(tmp, 0755) < 0 && errno != EEXIST) return -1;
    return 0;
}

static void make_job_id(const spec_t *sp, char *out, size_t n)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    unsigned r = (unsigned)(loop_now_us() ^ ((uint64_t)getpid() << 16)) & 0xffffff;
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    char name[48] = "job";
    if (sp->job_name) {
        size_t k = 0;
        for (const char *c = sp->job_name; *c && k < sizeof name - 1; c++)
            name[k++] = (char)((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-' ? *c : '-');
        name[k] = '\0';
    }
    snprintf(out, n, "%s-%s-%06x", name, stamp, r);
}

/* Every model the job calls must resolve to an endpoint (base URL and so on) before we start. */
static void check_endpoints(const spec_t *sp, bool need_model, errlist_t *errs)
{
    struct { const char *key, *model; } ms[] = {
        {"evaluator_model", sp->evaluator_model},
        {"model", need_model ? sp->model : NULL},
        {"base_model", sp->evaluate_base_model ? sp->base_model : NULL},
    };
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        if (!ms[i].model) continue;
        modelstr_t m;
        char err[512];
        if (modelstr_parse(ms[i].model, sp->region, &m, err, sizeof err) < 0) {
            errlist_add(errs, "%s: %s", ms[i].key, err);
            continue;
        }
        modelstr_endpoint_t e;
        if (modelstr_endpoint(&m, &e, err, sizeof err) < 0) {
            errlist_add(errs, "%s: %s", ms[i].key, err);
        } else {
            /* The public APIs need a key; a base URL override may point at a server that does not. */
            if (m.kind == PROVIDER_OPENAI && !e.api_key && !getenv("OPENAI_BASE_URL"))
                errlist_add(errs, "%s: `%s` needs OPENAI_API_KEY in the environment (or OPENAI_BASE_URL for a server without keys)",
                            ms[i].key, ms[i].model);
            if (m.kind == PROVIDER_ANTHROPIC && !e.api_key && !getenv("ANTHROPIC_BASE_URL"))
                errlist_add(errs, "%s: `%s` needs ANTHROPIC_API_KEY in the environment (or ANTHROPIC_BASE_URL for a server without keys)",
                            ms[i].key, ms[i].model);
            if (!provider_for(m.kind))
                errlist_add(errs, "%s: `%s`: the %s provider is not available in this build", ms[i].key, ms[i].model,
                            provider_kind_name(m.kind));
            modelstr_endpoint_clear(&e);
        }
        modelstr_clear(&m);
    }
}

static void shard_add(sched_t *s, size_t *cap, uint64_t first, uint64_t last, uint32_t n)
{
    if (s->n_shards == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        s->shards = xrealloc(s->shards, *cap * sizeof(shard_t));
    }
    s->shards[s->n_shards++] = (shard_t){.first = first, .last = last, .n = n};
}

/* Reads the whole dataset into the store and cuts the shards, inside the caller's transaction.
 * Returns 0, 2 with every problem in errs (the caller rolls back), or -1. */
static int load_dataset(sched_t *s, errlist_t *errs)
{
    const spec_t *sp = s->spec;
    char err[512];
    dataset_t *d = dataset_open(sp->dataset, 0, err, sizeof err);
    if (!d) {
        errlist_add(errs, "dataset: %s", err);
        return 2;
    }
    errlist_t bad;
    errlist_init(&bad, MAX_LISTED_ERRORS);
    uint64_t no_response = 0, first = 0, last = 0, in_shard = 0;
    size_t cap = 0;
    int rc, ret = 0;
    record_t r;
    memset(&r, 0, sizeof r);
    while ((rc = dataset_next(d, &r, &bad)) == 1) {
        if (!sp->model && r.n_responses == 0) {
            no_response++;
            errlist_add(&bad, "%s: record %llu (0-based) carries no modelResponses and the spec names no model",
                        sp->dataset, (unsigned long long)r.index);
        } else if (bad.count == 0 || sp->skip_invalid) {
            if (store_record_put(s->store, s->job_id, &r) < 0) {
                errlist_add(errs, "database: %s", store_errmsg(s->store));
                ret = -1;
                record_clear(&r);
                break;
            }
            if (in_shard == 0) first = r.index;
            last = r.index;
            in_shard++;
            s->records++;
            if (in_shard == (uint64_t)sp->shard_size) {
                shard_add(s, &cap, first, last, (uint32_t)in_shard);
                in_shard = 0;
            }
        }
        record_clear(&r);
    }
    if (in_shard) shard_add(s, &cap, first, last, (uint32_t)in_shard);
    s->invalid = dataset_invalid(d);
    uint64_t lines = dataset_lines(d);
    dataset_close(&d);
    if (ret) {
        errlist_free(&bad);
        return ret;
    }
    bool fatal = rc < 0 || no_response > 0 || (bad.count > 0 && !sp->skip_invalid);
    if (!fatal && s->records == 0) {
        errlist_add(&bad, "%s: no valid record in %llu non-blank line(s)", sp->dataset, (unsigned long long)lines);
        fatal = true;
    }
    if (fatal) {
        for (size_t i = 0; i < bad.n_kept; i++) errlist_add(errs, "%s", bad.msgs[i]);
        if (bad.count > bad.n_kept)
            errlist_add(errs, "... and %zu more problem(s) in %s", bad.count - bad.n_kept, sp->dataset);
        if (bad.count && !sp->skip_invalid && rc >= 0)
            errlist_add(errs, "dataset: %zu problem(s) in %s; nothing was run (set \"skip_invalid\": true to skip invalid lines)",
                        bad.count, sp->dataset);
        errlist_free(&bad);
        return 2;
    }
    if (bad.count) log_warn("%zu invalid line(s) skipped (skip_invalid)", bad.count);
    errlist_free(&bad);
    for (size_t i = 0; i < s->n_shards; i++)
        if (store_shard_put(s->store, s->job_id, i, s->shards[i].first, s->shards[i].last, s->shards[i].n) < 0) return -1;
    if (store_job_set_counts(s->store, s->job_id, lines, s->invalid) < 0) return -1;
    return 0;
}

/* ---- collecting ---- */
static void tx_flush(sched_t *s)
{
    if (!s->in_tx) return;
    if (store_commit(s->store) < 0) {
        log_error("cannot commit results: %s", store_errmsg(s->store));
        if (!s->fatal) s->fatal = xasprintf("database: %s", store_errmsg(s->store));
    }
    s->in_tx = false;
    s->uncommitted = 0;
}

static void tx_need(sched_t *s)
{
    if (s->in_tx) return;
    if (store_begin(s->store) < 0) {
        if (!s->fatal) s->fatal = xasprintf("database: %s", store_errmsg(s->store));
        return;
    }
    s->in_tx = true;
}

static void on_result(sched_t *s, const wire_hdr_t *h, const void *payload, size_t len)
{
    if (strcmp(h->job_id, s->job_id) != 0 || !payload) return;
    result_t r;
    char err[256];
    if (wire_result_decode(payload, len, &r, err, sizeof err) < 0) {
        log_warn("malformed result dropped: %s", err);
        return;
    }
    /* Only results that belong to this job's shards and metrics are committed. */
    bool ok = h->shard_id < s->n_shards && r.record_index >= s->shards[h->shard_id].first &&
              r.record_index <= s->shards[h->shard_id].last && (uint32_t)r.target < s->targets;
    if (!ok) {
        log_warn("result for record %llu target %d outside shard %llu dropped", (unsigned long long)r.record_index,
                 (int)r.target, (unsigned long long)h->shard_id);
        result_clear(&r);
        return;
    }
    tx_need(s);
    size_t fresh = 0;
    if (store_result_commit(s->store, s->job_id, &r, &fresh) < 0) {
        log_error("cannot store a result: %s", store_errmsg(s->store));
    } else if (fresh) {
        s->units_done++;
        for (size_t i = 0; i < r.n_scores; i++)
            if ((unsigned)r.scores[i].status < 4) s->scores[r.scores[i].status]++;
    }
    result_clear(&r);
    if (++s->uncommitted >= COMMIT_EVERY) tx_flush(s);
}

static void submit(sched_t *s, size_t i);

/* Records every (record, target) of a shard that has no result yet as an error, so a shard that
 * no worker can finish still ends (existing results are kept: the commit is idempotent). */
static void fail_missing(sched_t *s, size_t i)
{
    const shard_t *sh = &s->shards[i];
    record_t *recs = NULL;
    size_t n = 0;
    if (store_records_range(s->store, s->job_id, sh->first, sh->last, s->targets, &recs, &n) < 0) return;
    tx_need(s);
    for (size_t k = 0; k < n; k++) {
        for (uint32_t t = 0; t < s->targets; t++) {
            result_t r = {0};
            r.record_index = recs[k].index;
            r.target = (target_t)t;
            const char *model = t == TARGET_CUSTOM ? s->spec->model : s->spec->base_model;
            r.model = xstrdup(model ? model : "dataset");
            r.error = xasprintf("no worker could finish shard %zu after %d attempts", i, MAX_SUBMITS);
            for (size_t m = 0; m < s->spec->n_metrics; m++) {
                score_t *sc = result_add_score(&r);
                sc->metric = xstrdup(s->spec->metrics[m]->name);
                sc->status = SCORE_ERROR;
                sc->error = xstrdup(r.error);
            }
            size_t fresh = 0;
            if (store_result_commit(s->store, s->job_id, &r, &fresh) == 0 && fresh) {
                s->units_done++;
                s->scores[SCORE_ERROR] += fresh;
            }
            result_clear(&r);
        }
        record_clear(&recs[k]);
    }
    free(recs);
    tx_flush(s);
}

static void on_shard_done(sched_t *s, const wire_hdr_t *h)
{
    if (strcmp(h->job_id, s->job_id) != 0 || h->shard_id >= s->n_shards) return;
    shard_t *sh = &s->shards[h->shard_id];
    if (sh->state != SHARD_INFLIGHT) return;   /* a duplicate SHARD_DONE */
    tx_flush(s);
    uint64_t have = 0;
    if (store_outputs_in_range(s->store, s->job_id, sh->first, sh->last, &have) < 0) return;
    if (have < (uint64_t)sh->n * s->targets) {
        if (sh->submits < MAX_SUBMITS) {
            log_warn("shard %llu reported done with %llu of %llu results: submitting it again",
                     (unsigned long long)h->shard_id, (unsigned long long)have, (unsigned long long)sh->n * s->targets);
            submit(s, h->shard_id);
            return;
        }
        log_error("shard %llu came back incomplete %u times: its missing results are recorded as errors",
                  (unsigned long long)h->shard_id, sh->submits);
        fail_missing(s, h->shard_id);
    }
    sh->state = SHARD_DONE;
    s->inflight--;
    s->done++;
    if (store_shard_set_state(s->store, s->job_id, h->shard_id, SHARD_DONE) < 0) {}
}

/* ---- dispatch ---- */
static void submit(sched_t *s, size_t i)
{
    shard_t *sh = &s->shards[i];
    record_t *recs = NULL;
    size_t n = 0;
    /* Only the records still missing a result (all of them, unless this is a resubmission or
     * a resumed job). */
    tx_flush(s);
    if (store_records_range(s->store, s->job_id, sh->first, sh->last, s->targets, &recs, &n) < 0) {
        if (!s->fatal) s->fatal = xasprintf("database: cannot read shard %zu: %s", i, store_errmsg(s->store));
        return;
    }
    if (n == 0) {
        /* Everything is already committed: the shard is done without a trip to the workers. */
        free(recs);
        if (sh->state == SHARD_INFLIGHT) s->inflight--;
        sh->state = SHARD_DONE;
        s->done++;
        if (store_shard_set_state(s->store, s->job_id, i, SHARD_DONE) < 0) {}
        return;
    }
    buf_t b;
    buf_init(&b, WIRE_MAX_MSG);
    int rc = wire_shard_encode(s->spec_json, recs, n, &b);
    for (size_t k = 0; k < n; k++) record_clear(&recs[k]);
    free(recs);
    if (rc < 0) {
        if (!s->fatal) s->fatal = xasprintf("shard %zu is larger than a message may be (%u bytes): lower shard_size", i, WIRE_MAX_MSG);
        buf_free(&b);
        return;
    }
    wire_hdr_t h = {.type = WIRE_SUBMIT, .shard_id = i};
    snprintf(h.job_id, sizeof h.job_id, "%s", s->job_id);
    peer_send(s->peer, &h, b.data, b.len);
    buf_free(&b);
    if (sh->state == SHARD_PENDING) {
        sh->state = SHARD_INFLIGHT;
        s->inflight++;
        if (store_shard_set_state(s->store, s->job_id, i, SHARD_INFLIGHT) < 0) {}
    }
    sh->submitted_ms = loop_now_ms();
    sh->submits++;
}

static void fill_window(sched_t *s)
{
    if (!peer_up(s->peer) || s->stop_requested) return;
    while (s->inflight < (size_t)s->o->window && s->next_pending < s->n_shards && !s->fatal) {
        if (s->shards[s->next_pending].state == SHARD_PENDING) {
            size_t before = s->inflight;
            submit(s, s->next_pending);
            if (s->inflight == before) break;   /* could not send now: retry next pass */
        }
        s->next_pending++;
    }
}

/* After losing the broker: everything in flight goes again. */
static void resubmit_inflight(sched_t *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n_shards; i++)
        if (s->shards[i].state == SHARD_INFLIGHT) { submit(s, i); n++; }
    if (n) log_info("%zu in-flight shard(s) submitted again", n);
}

/* ---- the session ---- */
static void on_session(peer_event_t ev, bool again, const wire_hdr_t *h, const char *why, void *arg)
{
    sched_t *s = arg;
    if (ev == PEER_UP && again) resubmit_inflight(s);
}

static uint32_t heartbeat_n(void *arg) { return (uint32_t)((sched_t *)arg)->inflight; }

static void on_message(const wire_hdr_t *h, const void *payload, size_t len, void *arg)
{
    sched_t *s = arg;
    switch (h->type) {
    case WIRE_RESULT:
        on_result(s, h, payload, len);
        break;
    case WIRE_SHARD_DONE:
        on_shard_done(s, h);
        break;
    default:
        log_warn("unexpected %s from the broker dropped", wire_type_name(h->type));
    }
}

#define MLFLOW_PROGRESS_MS 10000

static void report(sched_t *s, bool final)
{
    int64_t now = loop_now_ms();
    if (s->syncer && !final && now - s->last_mlflow_ms >= MLFLOW_PROGRESS_MS) {
        s->last_mlflow_ms = now;
        mlflow_syncer_progress(s->syncer, s->job_id, s->spec, (now - s->started_ms) / 1000,
                               s->units_done, s->records * s->targets);
    }
    if (!s->o->progress) return;
    if (!final && now - s->last_progress_ms < s->o->progress_ms) return;
    s->last_progress_ms = now;
    job_progress_t p = {.job_id = s->job_id, .records = s->records, .units_total = s->records * s->targets,
                        .units_done = s->units_done, .shards_total = s->n_shards, .shards_done = s->done,
                        .shards_inflight = s->inflight, .scores_ok = s->scores[SCORE_OK],
                        .scores_unscored = s->scores[SCORE_UNSCORED], .scores_error = s->scores[SCORE_ERROR],
                        .scores_na = s->scores[SCORE_NOT_APPLICABLE], .workers = peer_workers(s->peer),
                        .connected = peer_up(s->peer),
                        .elapsed_s = (now - s->started_ms) / 1000.0, .finished = final};
    s->o->progress(&p, s->o->progress_arg);
}

static int before_wait(loop_t *loop, void *arg)
{
    sched_t *s = arg;
    int more = peer_pump(s->peer);
    if (atomic_load(&g_stop) && !s->stop_requested) {
        s->stop_requested = true;
        wire_hdr_t c = {.type = WIRE_CANCEL};
        snprintf(c.job_id, sizeof c.job_id, "%s", s->job_id);
        peer_send(s->peer, &c, NULL, 0);
        log_warn("stop requested: job %s cancelled", s->job_id);
    }
    fill_window(s);
    if (s->done == s->n_shards || s->stop_requested || s->fatal) {
        tx_flush(s);
        s->finished = true;
        loop_stop(loop);
        return 1;
    }
    report(s, false);
    return more | peer_pump(s->peer);
}

static void tick(loop_t *loop, uint64_t id, void *arg)
{
    sched_t *s = arg;
    tx_flush(s);
    if (store_job_touch(s->store, s->job_id) < 0) log_warn("database: %s", store_errmsg(s->store));
    loop_timer_add(loop, s->o->heartbeat_ms, tick, s);
}

static void commit_tick(loop_t *loop, uint64_t id, void *arg)
{
    sched_t *s = arg;
    tx_flush(s);
    loop_timer_add(loop, COMMIT_MS, commit_tick, s);
}

/* ---- MLflow ---- */
static void start_syncer(sched_t *s)
{
    char err[512];
    if (mlflow_sync_init(store_db(s->store), err, sizeof err) < 0) {
        log_warn("MLflow sync state unavailable: %s", err);
        return;
    }
    char **ids = NULL;
    size_t n = 0;
    if (mlflow_sync_unfinished(store_db(s->store), &ids, &n, err, sizeof err) == 0) {
        for (size_t i = 0; i < n; i++) free(ids[i]);
        free(ids);
    }
    if (!s->spec->mlflow_tracking_uri && n == 0) return;
    if (n) log_info("%zu unfinished MLflow sync(s) from earlier jobs: resuming", n);
    mlflow_syncer_opts_t so = {.db_path = s->db_path, .backoff_base_ms = 1000, .backoff_max_ms = 30000, .resume = true};
    s->syncer = mlflow_syncer_start(&so, err, sizeof err);
    if (!s->syncer) log_warn("MLflow syncer not started: %s", err);
}

/* ---- the job ---- */
static void sched_free(sched_t *s)
{
    mlflow_syncer_stop(&s->syncer);
    free(s->db_path);
    if (s->in_tx) tx_flush(s);
    peer_destroy(&s->peer);
    if (s->own_ctx) zmq_ctx_term(s->ctx);
    loop_destroy(&s->loop);
    store_close(&s->store);
    spec_destroy(&s->spec);
    free(s->spec_json);
    free(s->shards);
    free(s->fatal);
}

/* Connects, runs the dispatch loop until every shard is done (or the job is stopped or fails),
 * writes the result files and syncs MLflow. `s` is prepared (new or resumed). */
static int run_and_collect(sched_t *s, errlist_t *errs, job_outcome_t *out)
{
    const scheduler_opts_t *o = s->o;
    char err[512];
    snprintf(out->job_id, sizeof out->job_id, "%s", s->job_id);
    out->records = s->records;
    out->units = s->records * s->targets;
    if (store_job_set_outdir(s->store, s->job_id, out->out_dir) < 0 || store_job_touch(s->store, s->job_id) < 0) {
        errlist_add(errs, "database: %s", store_errmsg(s->store));
        return -1;
    }

    /* MLflow: a syncer thread logs progress while the job runs and syncs the results at the end,
     * retrying with backoff; it also finishes syncs an earlier scheduler left unfinished. */
    start_syncer(s);

    s->ctx = o->zmq_ctx;
    if (!s->ctx) {
        s->ctx = zmq_ctx_new();
        s->own_ctx = true;
    }
    s->loop = loop_new();
    peer_opts_t po = {.endpoint = o->broker, .zmq_ctx = s->ctx, .loop = s->loop, .role = "scheduler",
                      .heartbeat_ms = o->heartbeat_ms, .dead_after = o->dead_after, .on_message = on_message,
                      .on_session = on_session, .heartbeat_n = heartbeat_n, .arg = s};
    char pname[64];
    snprintf(pname, sizeof pname, "scheduler-%d", (int)getpid());
    po.name = pname;
    po.curve = o->curve;
    if (!s->loop || !(s->peer = peer_new(&po, err, sizeof err))) {
        errlist_add(errs, "%s", s->loop ? err : "cannot create the event loop");
        return -1;
    }
    s->started_ms = loop_now_ms();
    time_t started_at = time(NULL);
    loop_set_before_wait(s->loop, before_wait, s);
    loop_timer_add(s->loop, o->heartbeat_ms, tick, s);
    loop_timer_add(s->loop, COMMIT_MS, commit_tick, s);
    loop_run(s->loop);
    peer_bye(s->peer);   /* the broker forgets us now, not after a silence */
    tx_flush(s);
    out->elapsed_s = (loop_now_ms() - s->started_ms) / 1000.0;
    report(s, true);

    /* Collect. */
    job_state_t st = s->fatal ? JOB_FAILED : s->stop_requested ? JOB_STOPPED : JOB_SUCCEEDED;
    if (st == JOB_SUCCEEDED && s->scores[SCORE_OK] + s->scores[SCORE_NOT_APPLICABLE] == 0) {
        st = JOB_FAILED;
        s->fatal = xstrdup("no score at all: every judge call failed or named no rating (see records.jsonl errors)");
    }
    collector_info_t ci = {.job_id = s->job_id, .spec = s->spec, .spec_json = s->spec_json, .out_dir = out->out_dir,
                           .state = st, .error = s->fatal, .started_at = started_at, .finished_at = time(NULL),
                           .elapsed_s = out->elapsed_s, .records = s->records, .invalid = s->invalid,
                           .shards = s->n_shards, .workers = peer_workers(s->peer)};
    if (collector_write(s->store, &ci, &out->summary, err, sizeof err) < 0) {
        log_error("cannot write results: %s", err);
        if (!s->fatal) s->fatal = xstrdup(err);
        st = JOB_FAILED;
    }
    if (store_job_set_state(s->store, s->job_id, st, s->fatal) < 0) {}
    out->state = (int)st;
    out->error = s->fatal ? xstrdup(s->fatal) : NULL;

    if (s->syncer && s->spec->mlflow_tracking_uri) {
        char merr[512] = "";
        const char *final = st == JOB_SUCCEEDED ? "FINISHED" : st == JOB_STOPPED ? "KILLED" : "FAILED";
        if (mlflow_syncer_enqueue(s->syncer, s->job_id, s->spec, out->out_dir, final, merr, sizeof merr) < 0)
            log_warn("MLflow sync not queued: %s", merr);
    }
    if (s->syncer) {
        int64_t deadline = loop_now_ms() + o->mlflow_wait_ms;
        while (mlflow_syncer_pending(s->syncer) > 0 && loop_now_ms() < deadline && !atomic_load(&g_stop))
            usleep(50 * 1000);
        mlflow_syncer_stop(&s->syncer);
    }
    if (s->spec->mlflow_tracking_uri) {
        if (mlflow_sync_state(store_db(s->store), s->job_id, &out->mlflow_state) < 0) out->mlflow_state = NULL;
        if (out->mlflow_state && !strstr(out->mlflow_state, "\"done\""))
            log_warn("MLflow sync not finished yet; the next scheduler on %s resumes it, or run `llmaj sync --job-dir %s`",
                     s->db_path, out->out_dir);
    }
    return 0;
}

int scheduler_run_job(const scheduler_opts_t *o, const char *spec_json, size_t len, const char *origin,
                      const char *base_dir, errlist_t *errs, job_outcome_t *out)
{
    memset(out, 0, sizeof(*out));
    atomic_store(&g_stop, 0);
    sched_t s;
    memset(&s, 0, sizeof s);
    s.o = o;
    char *merged = merge_overrides(spec_json, len, o->overrides, errs, origin);
    if (!merged) return 2;
    s.spec = spec_parse(merged, strlen(merged), origin, base_dir, errs);
    free(merged);
    if (!s.spec) return 2;
    check_endpoints(s.spec, s.spec->model != NULL, errs);
    if (errs->count) {
        sched_free(&s);
        return 2;
    }
    cJSON *cj = spec_to_json(s.spec);
    s.spec_json = cJSON_PrintUnformatted(cj);
    cJSON_Delete(cj);
    s.targets = s.spec->evaluate_base_model ? 2 : 1;
    make_job_id(s.spec, s.job_id, sizeof s.job_id);

    const char *outp = s.spec->output_path ? s.spec->output_path : "runs";
    if (mkdirs(outp) < 0) {
        errlist_add(errs, "output_path: cannot create %s: %s", outp, strerror(errno));
        sched_free(&s);
        return 2;
    }
    s.db_path = o->db_path ? xstrdup(o->db_path) : xasprintf("%s/llmaj.db", outp);
    char err[512];
    s.store = store_open(s.db_path, err, sizeof err);
    if (!s.store) {
        errlist_add(errs, "%s", err);
        sched_free(&s);
        return -1;
    }

    /* Validate and load in one transaction: bad input leaves no trace. */
    if (store_begin(s.store) < 0 || store_job_create(s.store, s.job_id, s.spec->job_name, s.spec_json) < 0) {
        errlist_add(errs, "database: %s", store_errmsg(s.store));
        sched_free(&s);
        return -1;
    }
    int rc = load_dataset(&s, errs);
    if (rc != 0) {
        if (store_rollback(s.store) < 0) {}
        sched_free(&s);
        return rc == 2 ? 2 : -1;
    }
    if (store_job_set_state(s.store, s.job_id, JOB_RUNNING, NULL) < 0 || store_commit(s.store) < 0) {
        errlist_add(errs, "database: %s", store_errmsg(s.store));
        sched_free(&s);
        return -1;
    }
    char absout[PATH_MAX];
    out->out_dir = xasprintf("%s/%s", realpath(outp, absout) ? absout : outp, s.job_id);
    log_info("job %s: %llu record(s) in %zu shard(s), %u target(s), %zu metric(s)", s.job_id,
             (unsigned long long)s.records, s.n_shards, s.targets, s.spec->n_metrics);
    rc = run_and_collect(&s, errs, out);
    sched_free(&s);
    return rc;
}

static int shard_row(uint64_t id, uint64_t first, uint64_t last, uint32_t n, shard_state_t st, uint32_t attempts,
                     void *arg)
{
    sched_t *s = arg;
    if (id != s->n_shards) return -1;   /* ids are dense from 0 */
    if (s->n_shards % 64 == 0) s->shards = xrealloc(s->shards, (s->n_shards + 64) * sizeof(shard_t));
    s->shards[s->n_shards++] = (shard_t){.first = first, .last = last, .n = n,
                                         /* what was in flight when the last scheduler stopped goes again */
                                         .state = st == SHARD_DONE ? SHARD_DONE : SHARD_PENDING,
                                         .submits = attempts};
    if (st == SHARD_DONE) s->done++;
    s->records += n;
    return 0;
}

int scheduler_resume_job(const scheduler_opts_t *o, const char *job_id, errlist_t *errs, job_outcome_t *out)
{
    memset(out, 0, sizeof(*out));
    atomic_store(&g_stop, 0);
    sched_t s;
    memset(&s, 0, sizeof s);
    s.o = o;
    s.db_path = xstrdup(o->db_path ? o->db_path : "runs/llmaj.db");
    char err[512];
    if (access(s.db_path, F_OK) != 0) {
        errlist_add(errs, "%s: no job database there (give --db PATH)", s.db_path);
        sched_free(&s);
        return 2;
    }
    s.store = store_open(s.db_path, err, sizeof err);
    if (!s.store) {
        errlist_add(errs, "%s", err);
        sched_free(&s);
        return -1;
    }
    store_job_t job;
    int g = store_job_get(s.store, job_id, &job);
    if (g != 0) {
        if (g == 1) errlist_add(errs, "%s: no job %s (see `llmaj list --db %s`)", s.db_path, job_id, s.db_path);
        else errlist_add(errs, "database: %s", store_errmsg(s.store));
        sched_free(&s);
        return g == 1 ? 2 : -1;
    }
    if (job.state == JOB_SUCCEEDED || job.state == JOB_FAILED) {
        errlist_add(errs, "job %s already %s: nothing to resume", job_id, job_state_name(job.state));
        store_job_clear(&job);
        sched_free(&s);
        return 2;
    }
    s.spec = spec_parse(job.spec_json, strlen(job.spec_json), "the stored spec", NULL, errs);
    if (s.spec) check_endpoints(s.spec, s.spec->model != NULL, errs);
    if (!s.spec || errs->count) {
        store_job_clear(&job);
        sched_free(&s);
        return 2;
    }
    s.spec_json = job.spec_json;
    job.spec_json = NULL;
    snprintf(s.job_id, sizeof s.job_id, "%s", job.job_id);
    s.targets = s.spec->evaluate_base_model ? 2 : 1;
    s.invalid = job.records_invalid;
    if (job.out_dir) {
        out->out_dir = xstrdup(job.out_dir);
    } else {
        const char *outp = s.spec->output_path ? s.spec->output_path : "runs";
        char absout[PATH_MAX];
        out->out_dir = xasprintf("%s/%s", realpath(outp, absout) ? absout : outp, s.job_id);
    }
    store_job_clear(&job);
    uint64_t outputs = 0, scores_unused = 0;
    if (store_shards_each(s.store, s.job_id, shard_row, &s) < 0 ||
        store_counts(s.store, s.job_id, &outputs, &scores_unused) < 0 ||
        store_score_counts(s.store, s.job_id, s.scores) < 0 ||
        store_job_set_state(s.store, s.job_id, JOB_RUNNING, NULL) < 0) {
        errlist_add(errs, "database: cannot read job %s back: %s", s.job_id, store_errmsg(s.store));
        job_outcome_clear(out);
        sched_free(&s);
        return -1;
    }
    s.units_done = outputs;
    log_info("job %s resumed: %zu of %zu shard(s) already done, %llu of %llu record-targets committed", s.job_id,
             s.done, s.n_shards, (unsigned long long)outputs, (unsigned long long)s.records * s.targets);
    int rc = run_and_collect(&s, errs, out);
    sched_free(&s);
    return rc;
}
