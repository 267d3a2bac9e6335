/* ingest: results in, committed once; see ingest.h. */
#define LOG_MODULE "ingest"
#include "ingest.h"

#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "fastfail.h"
#include "log.h"
#include "lograte.h"
#include "loop.h"
#include "mem.h"
#include "wire.h"

struct ingest {
    store_t *st;
    bool in_tx;
    uint32_t uncommitted; /* results in the open transaction */
    job_t **touched;      /* jobs with results in the open transaction */
    size_t n_touched, cap_touched;
    uint64_t dropped;  /* malformed or foreign results */
    lograte_t lr_drop; /* their log lines */
};

ingest_t *ingest_new(store_t *st)
{
    ingest_t *in = xcalloc(1, sizeof *in);
    in->st = st;
    in->lr_drop = (lograte_t)LOGRATE_INIT("results dropped", LOG_WARN);
    return in;
}

store_t *ingest_store(ingest_t *in) { return in->st; }

void ingest_destroy(ingest_t **self_p)
{
    if (!self_p || !*self_p) return;
    ingest_t *in = *self_p;
    if (in->in_tx && ingest_flush(in) < 0) log_error("the last results could not be committed (see above)");
    free(in->touched);
    free(in);
    *self_p = NULL;
}

static void touch(ingest_t *in, job_t *j)
{
    for (size_t i = 0; i < in->n_touched; i++)
        if (in->touched[i] == j) return;
    if (in->n_touched == in->cap_touched) {
        in->cap_touched = in->cap_touched ? in->cap_touched * 2 : 8;
        in->touched = xrealloc(in->touched, in->cap_touched * sizeof *in->touched);
    }
    in->touched[in->n_touched++] = j;
}

int ingest_flush(ingest_t *in)
{
    if (!in->in_tx) return 0;
    int rc = 0;
    if (store_commit(in->st) < 0) {
        const char *why = store_errmsg(in->st);
        for (size_t i = 0; i < in->n_touched; i++)
            job_fail_as(in->touched[i], JOB_FAILURE_DATABASE, "database %s: cannot commit results: %s",
                        store_path(in->st), why);
        /* The transaction may still be open (a busy database): end it, so the next one starts clean. */
        if (store_in_tx(in->st) && store_rollback(in->st) < 0)
            log_error("database %s: the rollback after a failed commit failed too", store_path(in->st));
        rc = -1;
    }
    in->in_tx = false;
    in->uncommitted = 0;
    in->n_touched = 0;
    return rc;
}

/* Opens a transaction unless one is open. 0, or -1 (the job is failed). */
static int need_tx(ingest_t *in, job_t *j)
{
    if (!in->in_tx) {
        if (store_begin(in->st) < 0) {
            job_fail_as(j, JOB_FAILURE_DATABASE, "database %s: cannot begin a transaction: %s", store_path(in->st),
                        store_errmsg(in->st));
            return -1;
        }
        in->in_tx = true;
    }
    touch(in, j);
    return 0;
}

static bool same_text(const char *a, const char *b) { return a && b ? strcmp(a, b) == 0 : a == b; }

/* Whether the output committed for r's (record, target) is the one r's scores judged: the same
 * response, or no response on either side (a failed inference: nothing was judged). 1 yes, 0 no,
 * -1 on a database error. */
static int judged_committed(ingest_t *in, job_t *j, const result_t *r)
{
    store_unit_t u[2];
    if (store_units_of(in->st, j->id, r->record_index, u) < 0) return -1;
    const store_unit_t *c = &u[r->target == TARGET_BASE ? 1 : 0];
    int same = c->has_output && same_text(c->response, r->response);
    store_unit_clear(&u[0]);
    store_unit_clear(&u[1]);
    return same;
}

/* Commits r (its results are counted when new; a worker's (`learn`) kept in the cache when the job
 * asks for it). Its scores count only with the response they judged: when another response of the (record, target) is committed already (an earlier lease
 * of its shard, revoked or lost, ran the inference and part of the judging), they are dropped,
 * and the check at SHARD_DONE resubmits the missing metrics with the committed response (§6.5),
 * so a record's scores all judge the response stored with them. 0, or -1 (the job is failed). */
static int commit_one(ingest_t *in, job_t *j, const result_t *r, bool learn, bool judged_nothing)
{
    if (need_tx(in, j) < 0) return -1;
    bool fresh_output = false;
    size_t fresh_scores = 0;
    uint64_t by_status[4] = {0};
    result_t head = *r; /* the output alone first: is it ours? */
    head.scores = NULL;
    head.n_scores = 0;
    int rc = store_result_commit(in->st, j->id, &head, &fresh_output, &fresh_scores, by_status);
    if (rc == 0 && r->n_scores) {
        /* Error scores made here (a shard given up) judged no response: they fill the missing
         * cells of whatever response is committed. */
        int ours = fresh_output || judged_nothing ? 1 : judged_committed(in, j, r);
        bool unused = false;
        if (ours == 1) {
            rc = store_result_commit(in->st, j->id, r, &unused, &fresh_scores, by_status);
        } else if (ours == 0) {
            in->dropped++;
            log_rated(&in->lr_drop, LOG_WARN,
                      "job %s: %zu score(s) of record %llu (%s) dropped: they judged another "
                      "response than the one committed (an earlier lease's); the missing ones are asked again",
                      j->id, r->n_scores, (unsigned long long)r->record_index, target_name(r->target));
        } else {
            rc = -1;
        }
    }
    if (rc < 0) {
        job_fail_as(j, JOB_FAILURE_DATABASE, "database %s: cannot store the result of record %llu (%s): %s",
                    store_path(in->st), (unsigned long long)r->record_index, target_name(r->target),
                    store_errmsg(in->st));
        return -1;
    }
    job_count(j, in->st, r, fresh_output, fresh_scores, by_status);
    cache_count(j, r, fresh_output, fresh_scores);
    if (learn) cache_learn(in->st, j, r, fresh_output, fresh_scores);
    if (fresh_output || fresh_scores) {
        j->last_result_ms = loop_now_ms();
        const char *why = fastfail_see(j->ff, j->spec, r);
        if (why) job_fail_as(j, JOB_FAILURE_MODELS, "%s", why);
    }
    return 0;
}

void ingest_result(ingest_t *in, job_t *j, uint64_t shard_id, const void *payload, size_t len)
{
    result_t r;
    char err[256];
    if (!payload || wire_result_decode(payload, len, &r, err, sizeof err) < 0) {
        in->dropped++;
        log_rated(&in->lr_drop, LOG_WARN, "job %s: malformed result dropped: %s", j->id, payload ? err : "no payload");
        return;
    }
    /* Only results that belong to this job's shards and targets are committed. */
    bool ok = shard_id < j->n_shards && r.record_index >= j->shards[shard_id].first &&
              r.record_index <= j->shards[shard_id].last && (uint32_t)r.target < j->targets;
    if (!ok) {
        in->dropped++;
        log_rated(&in->lr_drop, LOG_WARN, "job %s: result for record %llu target %d outside shard %llu dropped", j->id,
                  (unsigned long long)r.record_index, (int)r.target, (unsigned long long)shard_id);
        result_clear(&r);
        return;
    }
    int rc = commit_one(in, j, &r, true, false);
    result_clear(&r);
    if (rc == 0 && ++in->uncommitted >= INGEST_COMMIT_EVERY) ingest_flush(in);
}

int ingest_commit(ingest_t *in, job_t *j, const result_t *r)
{
    int rc = commit_one(in, j, r, false, false);
    if (rc == 0 && ++in->uncommitted >= INGEST_COMMIT_EVERY) ingest_flush(in);
    return rc;
}

int ingest_shard_outputs(ingest_t *in, job_t *j, size_t shard, uint64_t *outputs)
{
    *outputs = 0;
    if (ingest_flush(in) < 0) return -1;
    const shard_t *sh = &j->shards[shard];
    if (store_outputs_in_range(in->st, j->id, sh->first, sh->last, j->n_metrics, outputs) < 0) {
        job_fail_as(j, JOB_FAILURE_DATABASE, "database %s: cannot count the results of shard %zu: %s",
                    store_path(in->st), shard, store_errmsg(in->st));
        return -1;
    }
    return 0;
}

int ingest_give_up(ingest_t *in, job_t *j, size_t shard)
{
    const shard_t *sh = &j->shards[shard];
    record_t *recs = NULL;
    size_t n = 0;
    if (ingest_flush(in) < 0) return -1;
    if (store_records_range(in->st, j->id, sh->first, sh->last, (uint64_t)j->targets * j->n_metrics, &recs, &n) < 0) {
        job_fail_as(j, JOB_FAILURE_DATABASE, "database %s: cannot read shard %zu: %s", store_path(in->st), shard,
                    store_errmsg(in->st));
        return -1;
    }
    int rc = 0;
    for (size_t k = 0; k < n; k++) {
        for (uint32_t t = 0; t < j->targets && rc == 0; t++) {
            result_t r = {0};
            r.record_index = recs[k].index;
            r.target = (target_t)t;
            const char *model = t == TARGET_CUSTOM ? j->spec->model : j->spec->base_model;
            r.model = xstrdup(model ? model : "dataset");
            r.error = xasprintf("no worker could finish shard %zu after %u attempts", shard, sh->submits);
            for (size_t m = 0; m < j->spec->n_metrics; m++) {
                score_t *sc = result_add_score(&r);
                sc->metric = xstrdup(j->spec->metrics[m]->name);
                sc->status = SCORE_ERROR;
                sc->error = xstrdup(r.error);
            }
            rc = commit_one(in, j, &r, false, true); /* idempotent: outputs and scores already there stay */
            result_clear(&r);
        }
        record_clear(&recs[k]);
    }
    free(recs);
    if (ingest_flush(in) < 0) rc = -1;
    return rc;
}
