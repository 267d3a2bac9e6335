/* job: a job's life from submission to its end; see job.h. */
#define LOG_MODULE "scheduler"
#include "job.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "awsjob.h"
#include "dataset.h"
#include "fastfail.h"
#include "file.h"
#include "jsonprint.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "llm.h"
#include "output.h"
#include "reuse.h"
#include "wire.h"

_Static_assert(SCHED_JOB_ID_MAX == WIRE_MAX_ID, "job ids travel in wire headers");

/* ---- the submission ---- */

/* Applies overrides (a JSON object of spec keys) on top of the spec text. Caller frees. */
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
    char *out = jsonprint(root, false);
    cJSON_Delete(root);
    return out;
}

/* <name>-<UTC yyyymmdd-hhmmss>-<6 hex>, the name reduced to [A-Za-z0-9-]. */
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
            name[k++] = (char)((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                                       *c == '-'
                                   ? *c
                                   : '-');
        name[k] = '\0';
    }
    snprintf(out, n, "%s-%s-%06x", name, stamp, r);
}

/* Every model the job calls must resolve to an endpoint this build can call, with its provider's
 * environment (key or base URL) complete, before we accept the job (llm_model_check). */
void job_check_endpoints(const spec_t *sp, errlist_t *errs)
{
    /* A job that reuses another's responses calls only its judge. */
    struct {
        const char *key, *model;
    } ms[] = {
        {"evaluator_model", sp->evaluator_model},
        {"model", sp->reuse_from ? NULL : sp->model},
        {"base_model", sp->evaluate_base_model && !sp->reuse_from ? sp->base_model : NULL},
    };
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        if (!ms[i].model) continue;
        char err[512];
        if (llm_model_check(ms[i].model, sp->region, err, sizeof err) < 0) errlist_add(errs, "%s: %s", ms[i].key, err);
    }
}

/* Stores one record (storing = true) and cuts the shards, committing every LOAD_BATCH records.
 * 0, or -1 with the reason in errs. */
typedef struct {
    store_t *st;
    const char *job_id;
    uint32_t shard_size;
    uint64_t first, last, in_shard, shard_id, in_batch;
} loader_t;

static int put_shard(loader_t *l, errlist_t *errs)
{
    if (!l->in_shard) return 0;
    if (store_shard_put(l->st, l->job_id, l->shard_id, l->first, l->last, (uint32_t)l->in_shard) < 0) {
        errlist_add(errs, "database %s: storing shard %llu: %s", store_path(l->st), (unsigned long long)l->shard_id,
                    store_errmsg(l->st));
        return -1;
    }
    l->shard_id++;
    l->in_shard = 0;
    return 0;
}

static int put_record(loader_t *l, const record_t *r, errlist_t *errs)
{
    if (store_record_put(l->st, l->job_id, r) < 0) {
        errlist_add(errs, "database %s: storing record %llu: %s", store_path(l->st), (unsigned long long)r->index,
                    store_errmsg(l->st));
        return -1;
    }
    if (l->in_shard == 0) l->first = r->index;
    l->last = r->index;
    if (++l->in_shard == l->shard_size && put_shard(l, errs) < 0) return -1;
    if (++l->in_batch >= LOAD_BATCH) {
        /* Let the engine (and anyone else) write between batches. */
        if (store_commit(l->st) < 0 || store_begin(l->st) < 0) {
            errlist_add(errs, "database %s: %s", store_path(l->st), store_errmsg(l->st));
            return -1;
        }
        l->in_batch = 0;
    }
    return 0;
}

/* Reads the whole dataset into the store under the LOADING job (see DESIGN). Returns SCHED_OK,
 * SCHED_E_INPUT with every problem in errs, SCHED_E_DB; on failure the caller deletes the job. */
static sched_err_t load_dataset(store_t *st, const char *job_id, const spec_t *sp, const atomic_int *cancel,
                                errlist_t *errs)
{
    char err[2048]; /* an S3 error may list every credential source tried */
    /* a local file, s3:// or https://, capped by dataset_max_bytes and cut short by a signal */
    dataset_t *d = awsjob_dataset_open_bounded(sp, 0, cancel, err, sizeof err);
    if (!d) {
        if (cancel && atomic_load(cancel)) {
            errlist_add(errs, "dataset %s: interrupted while opening it: nothing was stored", sp->dataset);
            return SCHED_E_INTERRUPTED;
        }
        errlist_add(errs, "dataset: %s", err);
        return SCHED_E_INPUT;
    }
    if (store_begin(st) < 0) {
        errlist_add(errs, "database %s: %s", store_path(st), store_errmsg(st));
        dataset_close(&d);
        return SCHED_E_DB;
    }
    errlist_t bad;
    errlist_init(&bad, JOB_MAX_LISTED_ERRORS);
    loader_t l = {.st = st, .job_id = job_id, .shard_size = (uint32_t)sp->shard_size};
    uint64_t no_response = 0, records = 0;
    int rc;
    sched_err_t ret = SCHED_OK;
    record_t r;
    memset(&r, 0, sizeof r);
    while ((rc = dataset_next(d, &r, &bad)) == 1) {
        if (!sp->model && r.n_responses == 0) {
            no_response++;
            errlist_add(&bad, "%s: record %llu (0-based) carries no modelResponses and the spec names no model",
                        sp->dataset, (unsigned long long)r.index);
        } else if (bad.count == 0 || sp->skip_invalid) {
            /* Once a line is bad (and not skipped) nothing more is stored: reading goes on for the errors. */
            if (put_record(&l, &r, errs) < 0) {
                ret = SCHED_E_DB;
                record_clear(&r);
                break;
            }
            records++;
        }
        record_clear(&r);
    }
    uint64_t invalid = dataset_invalid(d), lines = dataset_lines(d);
    bool interrupted = dataset_interrupted(d);
    dataset_close(&d);
    if (interrupted && ret == SCHED_OK) {
        errlist_add(errs, "dataset %s: interrupted after %llu line(s): nothing was stored", sp->dataset,
                    (unsigned long long)lines);
        ret = SCHED_E_INTERRUPTED;
    }
    if (ret == SCHED_OK && put_shard(&l, errs) < 0) ret = SCHED_E_DB;
    bool fatal = rc < 0 || no_response > 0 || (bad.count > 0 && !sp->skip_invalid);
    if (ret == SCHED_OK && !fatal && records == 0) {
        errlist_add(&bad, "%s: no valid record in %llu non-blank line(s)", sp->dataset, (unsigned long long)lines);
        fatal = true;
    }
    if (ret == SCHED_OK && fatal) {
        for (size_t i = 0; i < bad.n_kept; i++) errlist_add(errs, "%s", bad.msgs[i]);
        if (bad.count > bad.n_kept)
            errlist_add(errs, "... and %zu more problem(s) in %s", bad.count - bad.n_kept, sp->dataset);
        if (bad.count && !sp->skip_invalid && rc >= 0)
            errlist_add(
                errs,
                "dataset: %zu problem(s) in %s; nothing was run (set \"skip_invalid\": true to skip invalid lines)",
                bad.count, sp->dataset);
        ret = SCHED_E_INPUT;
    }
    if (ret == SCHED_OK && bad.count) log_warn("job %s: %zu invalid line(s) skipped (skip_invalid)", job_id, bad.count);
    errlist_free(&bad);
    if (ret == SCHED_OK && (store_job_set_counts(st, job_id, lines, invalid) < 0 || store_commit(st) < 0)) {
        errlist_add(errs, "database %s: %s", store_path(st), store_errmsg(st));
        ret = SCHED_E_DB;
    }
    if (ret != SCHED_OK && store_in_tx(st) && store_rollback(st) < 0)
        log_warn("database %s: rollback failed; closing the connection ends it", store_path(st));
    return ret;
}

/* The records of the job a new job reuses the responses of (reuse.h), copied under the LOADING
 * job and cut into shards of the new job's size, like a dataset's. SCHED_OK; SCHED_E_INPUT when
 * that job no longer has the records it was checked with; SCHED_E_DB. On failure the caller
 * deletes the job. */
static sched_err_t load_reused(store_t *st, const char *job_id, const spec_t *sp, const reuse_src_t *src,
                               errlist_t *errs)
{
    if (store_begin(st) < 0) {
        errlist_add(errs, "database %s: %s", store_path(st), store_errmsg(st));
        return SCHED_E_DB;
    }
    loader_t l = {.st = st, .job_id = job_id, .shard_size = (uint32_t)sp->shard_size};
    sched_err_t ret = SCHED_OK;
    int64_t after = -1;
    uint64_t copied = 0;
    for (;;) {
        record_t *recs = NULL;
        size_t n = 0;
        if (store_records_after(st, sp->reuse_from, after, LOAD_BATCH, &recs, &n) < 0) {
            errlist_add(errs, "database %s: reading job %s's records: %s", store_path(st), sp->reuse_from,
                        store_errmsg(st));
            ret = SCHED_E_DB;
        }
        for (size_t k = 0; k < n; k++) {
            if (ret == SCHED_OK && put_record(&l, &recs[k], errs) < 0) ret = SCHED_E_DB;
            copied++;
            after = (int64_t)recs[k].index;
            record_clear(&recs[k]);
        }
        free(recs);
        if (ret != SCHED_OK || n < LOAD_BATCH) break;
    }
    if (ret == SCHED_OK && copied != src->records) { /* deleted meanwhile (checked outside this transaction) */
        errlist_add(errs,
                    "reuse_responses_from: job %s had %llu record(s) when checked and %llu when copied: it "
                    "changed meanwhile (deleted?)",
                    sp->reuse_from, (unsigned long long)src->records, (unsigned long long)copied);
        ret = SCHED_E_INPUT;
    }
    if (ret == SCHED_OK && put_shard(&l, errs) < 0) ret = SCHED_E_DB;
    if (ret == SCHED_OK &&
        (store_job_set_counts(st, job_id, src->records_total, src->records_invalid) < 0 || store_commit(st) < 0)) {
        errlist_add(errs, "database %s: %s", store_path(st), store_errmsg(st));
        ret = SCHED_E_DB;
    }
    if (ret != SCHED_OK && store_in_tx(st) && store_rollback(st) < 0)
        log_warn("database %s: rollback failed; closing the connection ends it", store_path(st));
    return ret;
}

/* The calls a job with "cache" or "reuse_responses_from" did not make so far, counted from its
 * results into c->saved (once, when it is opened; its engine counts on from there). 0, or -1. */
static int count_saved(store_t *st, const job_t *j, store_counts_t *c)
{
    if (!j->spec->cache && !j->spec->reuse_from) return 0;
    return store_origin_counts(st, j->id, &c->saved[STORE_SAVED_INFERENCE], &c->saved[STORE_SAVED_REUSED],
                               &c->saved[STORE_SAVED_JUDGE]);
}

/* <output_path>/<job id> made absolute (as far as the folder exists). Caller frees. */
static char *out_dir_of(const char *output_path, const char *job_id)
{
    char absout[PATH_MAX];
    return xasprintf("%s/%s", realpath(output_path, absout) ? absout : output_path, job_id);
}

sched_err_t job_submit(const sched_submit_t *in, const char *db_path, const char *owner, const atomic_int *cancel,
                       char **db_used, char *job_id, errlist_t *errs)
{
    *db_used = NULL;
    job_id[0] = '\0';
    const size_t before = errs->count; /* the caller's list may hold problems of its own */
    const char *origin = in->origin ? in->origin : "spec";
    char *merged = merge_overrides(in->spec_json ? in->spec_json : "", in->spec_json ? in->len : 0, in->overrides, errs,
                                   origin);
    if (!merged) return SCHED_E_INPUT;
    char *with_region = awsjob_spec_with_region(merged, strlen(merged)); /* this process's region, if none */
    if (with_region) {
        free(merged);
        merged = with_region;
    }
    spec_t *sp = spec_parse(merged, strlen(merged), origin, in->base_dir, errs);
    free(merged);
    if (!sp) return SCHED_E_INPUT;
    /* AWS: the region checked, model packages resolved into model strings; then the endpoints */
    if (awsjob_prepare(sp, errs) == 0) job_check_endpoints(sp, errs);
    if (errs->count > before) {
        spec_destroy(&sp);
        return SCHED_E_INPUT;
    }
    char id[SCHED_JOB_ID_MAX];
    char *spec_json = NULL;
    reuse_src_t reused = {0};

    sched_err_t ret = SCHED_OK;
    store_t *st = NULL;
    char *out_dir = NULL;
    char err[1024];
    const char *outp = awsjob_local_root(sp); /* an s3:// output is written here first */
    if (file_mkdirs(outp, 0755, err, sizeof err) < 0) {
        errlist_add(errs, "output_path: %s", err);
        ret = SCHED_E_IO;
        goto out;
    }
    *db_used = db_path ? xstrdup(db_path) : xasprintf("%s/llmaj.db", outp);
    if (!(st = store_open(*db_used, STORE_WRITE, err, sizeof err))) {
        errlist_add(errs, "%s", err);
        ret = SCHED_E_DB;
        goto out;
    }
    /* A job that reuses another's responses takes its models and records from it (reuse.h). */
    if (sp->reuse_from && (ret = reuse_resolve(st, sp, &reused, errs)) != SCHED_OK) goto out;
    cJSON *cj = spec_to_json(sp);
    spec_json = jsonprint(cj, false);
    cJSON_Delete(cj);
    make_job_id(sp, id, sizeof id);
    out_dir = out_dir_of(outp, id);
    /* Stored hidden while it loads (see DESIGN): bad input leaves no trace. */
    if (store_job_create_as(st, id, sp->job_name, spec_json, out_dir, owner, STORE_STATE_LOADING) < 0) {
        errlist_add(errs, "database %s: %s", *db_used, store_errmsg(st));
        ret = SCHED_E_DB;
        goto out;
    }
    ret = sp->reuse_from ? load_reused(st, id, sp, &reused, errs) : load_dataset(st, id, sp, cancel, errs);
    if (ret == SCHED_OK && awsjob_output_check(sp, id, spec_json, errs) < 0) ret = SCHED_E_INPUT; /* s3:// */
    if (ret == SCHED_OK && store_job_publish(st, id) < 0) {
        errlist_add(errs, "database %s: cannot commit job %s: %s", *db_used, id, store_errmsg(st));
        ret = SCHED_E_DB;
    }
    if (ret != SCHED_OK) {
        if (store_job_delete(st, id) < 0)
            log_error("database %s: job %s was not stored in full and could not be deleted: the next service on it "
                      "deletes it; no listing shows it",
                      *db_used, id);
        goto out;
    }
    snprintf(job_id, SCHED_JOB_ID_MAX, "%s", id);
    log_info("job %s: stored with its records and shards, %zu metric(s), %s", id, sp->n_metrics,
             sp->evaluate_base_model ? "model and base model" : "one target");
out:
    store_close(&st);
    free(out_dir);
    free(spec_json);
    spec_destroy(&sp);
    if (ret != SCHED_OK) xfree(db_used);
    return ret;
}

/* Opens db_path for writing and reads job_id's row: SCHED_OK (caller clears *row and closes *st). */
static sched_err_t open_job(const char *db_path, const char *job_id, store_t **st, store_job_t *row, errlist_t *errs)
{
    char err[1024];
    *st = NULL;
    memset(row, 0, sizeof *row);
    if (access(db_path, F_OK) != 0) {
        errlist_add(errs, "%s: no job database there (give --db PATH)", db_path);
        return SCHED_E_NOTFOUND;
    }
    if (!(*st = store_open(db_path, STORE_WRITE, err, sizeof err))) {
        errlist_add(errs, "%s", err);
        return SCHED_E_DB;
    }
    int g = store_job_get(*st, job_id, row);
    if (g == 0 && (int)row->state == STORE_STATE_LOADING) {
        store_job_clear(row);
        g = 1;
    }
    if (g != 0) {
        if (g == 1) errlist_add(errs, "%s: no job %s (see `llmaj list --db %s`)", db_path, job_id, db_path);
        else errlist_add(errs, "database %s: %s", db_path, store_errmsg(*st));
        store_close(st);
        return g == 1 ? SCHED_E_NOTFOUND : SCHED_E_DB;
    }
    return SCHED_OK;
}

/* The stored spec, checked against this host's endpoints. NULL with the problems in errs. */
static spec_t *stored_spec(const store_job_t *row, errlist_t *errs)
{
    const size_t before = errs->count;
    spec_t *sp = spec_parse(row->spec_json, strlen(row->spec_json), "the stored spec", NULL, errs);
    if (sp) job_check_endpoints(sp, errs);
    if (sp && errs->count > before) spec_destroy(&sp);
    return sp;
}

sched_err_t job_check_resume(const char *db_path, const char *job_id, sched_job_state_t *state, errlist_t *errs)
{
    store_t *st;
    store_job_t job;
    sched_err_t ret = open_job(db_path, job_id, &st, &job, errs);
    if (ret != SCHED_OK) return ret;
    *state = job.state;
    spec_t *sp = stored_spec(&job, errs);
    if (!sp) ret = SCHED_E_INPUT;
    spec_destroy(&sp);
    store_job_clear(&job);
    store_close(&st);
    return ret;
}

sched_err_t job_prepare_retry(const char *db_path, const char *job_id, bool unscored, uint64_t *cells, errlist_t *errs)
{
    *cells = 0;
    store_t *st;
    store_job_t job;
    sched_err_t ret = open_job(db_path, job_id, &st, &job, errs);
    if (ret != SCHED_OK) return ret;
    spec_t *sp = NULL;
    if (!sched_job_state_ended(job.state)) {
        errlist_add(errs, "job %s is %s: only a job that has ended (succeeded, failed or stopped) can be retried",
                    job_id, sched_job_state_name(job.state));
        ret = SCHED_E_STATE;
    } else if (!(sp = stored_spec(&job, errs))) {
        ret = SCHED_E_INPUT;
    } else if (store_retry_prepare(st, job_id, sp->evaluate_base_model ? 2 : 1, sp->n_metrics, unscored, cells) < 0) {
        errlist_add(errs, "database %s: job %s: %s", db_path, job_id, store_errmsg(st));
        ret = SCHED_E_DB;
    } else if (*cells == 0 && job.state == SCHED_JOB_FAILED && job_failure_resumable(job.failure)) {
        /* Everything is committed; only the files (or a last database write) failed: reopened as
         * it is, it ends at once and writes its files from the database, no model called. */
        if (store_job_reopen(st, job_id) < 0) {
            errlist_add(errs, "database %s: job %s: %s", db_path, job_id, store_errmsg(st));
            ret = SCHED_E_DB;
        } else {
            log_info("job %s failed (%s): every cell is committed; its result files are written again", job_id,
                     job.failure);
        }
    } else if (*cells == 0) {
        uint64_t counts[4] = {0};
        if (store_score_counts(st, job_id, counts) < 0) log_warn("job %s: cannot count its scores", job_id);
        if (!unscored && counts[SCORE_UNSCORED])
            errlist_add(errs,
                        "job %s already %s with no error cell to rerun (%llu unscored: retry with unscored=true "
                        "to judge those again)",
                        job_id, sched_job_state_name(job.state), (unsigned long long)counts[SCORE_UNSCORED]);
        else
            errlist_add(errs, "job %s already %s with every cell committed without an error: nothing to rerun", job_id,
                        sched_job_state_name(job.state));
        ret = SCHED_E_STATE;
    } else {
        log_info("job %s: retry of %llu cell(s)%s", job_id, (unsigned long long)*cells,
                 unscored ? " (errors and unscored)" : " (errors)");
    }
    spec_destroy(&sp);
    store_job_clear(&job);
    store_close(&st);
    return ret;
}

/* ---- running ---- */

typedef struct {
    job_t *j;
    size_t cap;
} shard_load_t;

static int shard_row(const shard_t *sh, void *arg)
{
    shard_load_t *l = arg;
    job_t *j = l->j;
    if (sh->id != j->n_shards) return -1; /* ids are dense from 0 */
    if (j->n_shards == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        j->shards = xrealloc(j->shards, l->cap * sizeof(shard_t));
    }
    shard_t *s = &j->shards[j->n_shards++];
    *s = *sh;
    s->state = shard_state_on_resume(sh->state);
    s->submitted_ms = 0;
    if (s->state == SHARD_DONE) j->done++;
    j->records += sh->n;
    return 0;
}

job_t *job_open(store_t *st, const char *job_id, char *err, size_t errlen)
{
    store_job_t row;
    int g = store_job_get(st, job_id, &row);
    if (g != 0) {
        snprintf(err, errlen, "job %s: %s", job_id, g == 1 ? "not in the database" : store_errmsg(st));
        return NULL;
    }
    job_t *j = xcalloc(1, sizeof *j);
    snprintf(j->id, sizeof j->id, "%s", row.job_id);
    errlist_t errs;
    errlist_init(&errs, 3);
    j->spec = spec_parse(row.spec_json, strlen(row.spec_json), "the stored spec", NULL, &errs);
    if (!j->spec) {
        snprintf(err, errlen, "job %s: its stored spec no longer parses: %s", job_id, errs.n_kept ? errs.msgs[0] : "?");
        errlist_free(&errs);
        store_job_clear(&row);
        job_destroy(&j);
        return NULL;
    }
    errlist_free(&errs);
    j->spec_json = row.spec_json;
    row.spec_json = NULL;
    j->targets = j->spec->evaluate_base_model ? 2 : 1;
    j->invalid = row.records_invalid;
    j->out_dir = row.out_dir ? xstrdup(row.out_dir) : out_dir_of(awsjob_local_root(j->spec), j->id);
    j->n_metrics = j->spec->n_metrics;
    bool fresh = row.state == SCHED_JOB_PENDING && row.started_at == 0;
    bool stopping = row.state == SCHED_JOB_STOPPING;
    store_job_clear(&row);
    shard_load_t l = {.j = j};
    store_counts_t c = {0};
    sched_job_state_t run_state = stopping ? SCHED_JOB_STOPPING : SCHED_JOB_RUNNING;
    if (store_shards_each(st, j->id, shard_row, &l) < 0 ||
        store_job_count(st, j->id, j->targets, j->n_metrics, &c) < 0 || count_saved(st, j, &c) < 0 ||
        store_job_set_outdir(st, j->id, j->out_dir) < 0 || store_job_set_state(st, j->id, run_state, NULL) < 0 ||
        store_job_set_progress(st, j->id, &c) < 0) {
        snprintf(err, errlen, "job %s: cannot read it back from %s: %s", job_id, store_path(st), store_errmsg(st));
        job_destroy(&j);
        return NULL;
    }
    j->units_done = c.units_done;
    j->unit_errors = c.unit_errors;
    j->records_done = c.records_done;
    memcpy(j->scores, c.scores, sizeof j->scores);
    memcpy(j->saved, c.saved, sizeof j->saved);
    j->stop_requested = stopping;
    if (store_job_secret(st, j->id, j->secret, sizeof j->secret) != 0) {
        snprintf(err, errlen, "job %s: cannot read or store its secret in %s: %s", job_id, store_path(st),
                 store_errmsg(st));
        job_destroy(&j);
        return NULL;
    }
    /* The longest one (record, target) may take: the request timeout is the workers' (the llm
     * client's default, JOB_REQUEST_TIMEOUT_S); a worker configured longer is cut by it. */
    j->lease_max_s = shard_lease_ceiling_s(j->spec->inference.retry_budget_s, j->spec->judge.retry_budget_s,
                                           JOB_REQUEST_TIMEOUT_S);
    j->ff = fastfail_new();
    j->started_ms = loop_now_ms();
    j->last_result_ms = j->started_ms;
    j->started_at = time(NULL);
    if (fresh)
        log_info("job %s: %llu record(s) in %zu shard(s), %u target(s), %zu metric(s)", j->id,
                 (unsigned long long)j->records, j->n_shards, j->targets, j->spec->n_metrics);
    else
        log_info("job %s %s: %zu of %zu shard(s) already done, %llu of %llu record-targets committed", j->id,
                 stopping ? "was stopping: ending it" : "resumed", j->done, j->n_shards,
                 (unsigned long long)c.units_done, (unsigned long long)j->records * j->targets);
    return j;
}

void job_destroy(job_t **self_p)
{
    if (!self_p || !*self_p) return;
    job_t *j = *self_p;
    spec_destroy(&j->spec);
    free(j->spec_json);
    free(j->out_dir);
    free(j->shards);
    free(j->fatal);
    free(j->note);
    fastfail_destroy(&j->ff);
    free(j);
    *self_p = NULL;
}

const char *job_failure_name(job_failure_t f)
{
    switch (f) {
    case JOB_FAILURE_NONE: return NULL;
    case JOB_FAILURE_OUTPUT: return "output";
    case JOB_FAILURE_DATABASE: return "database";
    case JOB_FAILURE_MODELS: return "models";
    case JOB_FAILURE_OTHER: break;
    }
    return "other";
}

bool job_failure_resumable(const char *name)
{
    return name && (strcmp(name, "output") == 0 || strcmp(name, "database") == 0);
}

static void fail_v(job_t *j, job_failure_t kind, const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (j->fatal) {
        log_warn("job %s: also: %s", j->id, msg);
        return;
    }
    log_error("job %s fails: %s", j->id, msg);
    j->fatal = xstrdup(msg);
    j->failure = kind;
}

void job_fail(job_t *j, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fail_v(j, JOB_FAILURE_OTHER, fmt, ap);
    va_end(ap);
}

void job_fail_as(job_t *j, job_failure_t kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fail_v(j, kind, fmt, ap);
    va_end(ap);
}

bool job_over(const job_t *j) { return j->done == j->n_shards || j->stop_requested || j->fatal; }

double job_elapsed_s(const job_t *j) { return (loop_now_ms() - j->started_ms) / 1000.0; }

void job_count(job_t *j, store_t *st, const result_t *r, bool new_output, size_t new_scores,
               const uint64_t by_status[4])
{
    for (int i = 0; i < 4; i++) j->scores[i] += by_status[i];
    if (new_scores == 0) return;
    /* The unit is complete when its last missing metric came in: plain when this result brought
     * every metric at once, else asked of the store. */
    uint64_t have = 0;
    bool complete = new_scores == r->n_scores && r->n_scores >= j->n_metrics;
    if (!complete) {
        if (store_unit_scores(st, j->id, r->record_index, r->target, &have) < 0) return; /* logged */
        complete = have >= j->n_metrics;
    }
    if (!complete) return;
    j->units_done++;
    if (r->error && new_output) j->unit_errors++; /* an output that failed comes with all its scores */
    if (j->targets == 1) {
        j->records_done++;
        return;
    }
    target_t other = r->target == TARGET_CUSTOM ? TARGET_BASE : TARGET_CUSTOM;
    if (store_unit_scores(st, j->id, r->record_index, other, &have) == 0 && have >= j->n_metrics) j->records_done++;
}

void job_counts(const job_t *j, store_counts_t *c)
{
    c->units_done = j->units_done;
    c->unit_errors = j->unit_errors;
    c->records_done = j->records_done;
    memcpy(c->scores, j->scores, sizeof c->scores);
    memcpy(c->saved, j->saved, sizeof c->saved);
    c->has_saved = true;
}

sched_job_state_t job_final_state(job_t *j)
{
    sched_job_state_t state = j->fatal ? SCHED_JOB_FAILED : j->stop_requested ? SCHED_JOB_STOPPED : SCHED_JOB_SUCCEEDED;
    if (state == SCHED_JOB_SUCCEEDED && j->scores[SCORE_OK] + j->scores[SCORE_NOT_APPLICABLE] == 0) {
        state = SCHED_JOB_FAILED;
        job_fail_as(j, JOB_FAILURE_MODELS,
                    "no score at all: every judge call failed or named no rating (see records.jsonl errors)");
    }
    return state;
}

sched_job_state_t job_write(job_t *j, store_t *st, sched_job_state_t state, uint32_t workers, cJSON **summary,
                            cJSON **jobj)
{
    *summary = *jobj = NULL;
    output_info_t oi = {.job_id = j->id,
                        .spec = j->spec,
                        .spec_json = j->spec_json,
                        .out_dir = j->out_dir,
                        .state = state,
                        .error = j->fatal,
                        .started_at = j->started_at,
                        .finished_at = time(NULL),
                        .elapsed_s = job_elapsed_s(j),
                        .records = j->records,
                        .invalid = j->invalid,
                        .shards = j->n_shards,
                        .workers = workers,
                        .abort = j->write_abort,
                        .partial = j->units_done < j->records * j->targets};
    char err[1024];
    int orc = output_write(st, &oi, summary, jobj, err, sizeof err);
    if (orc == OUTPUT_INTERRUPTED) {
        /* Nothing stored: the job stays running (or stopping) in the database, and the next
         * engine on it (a resume, or the service's restart) ends it again and writes its files. */
        log_warn("job %s: writing its result files was interrupted (%s): it stays %s in %s until resumed", j->id, err,
                 sched_job_state_name(j->stop_requested ? SCHED_JOB_STOPPING : SCHED_JOB_RUNNING), store_path(st));
        return j->stop_requested ? SCHED_JOB_STOPPING : SCHED_JOB_RUNNING;
    }
    if (orc < 0) {
        job_fail_as(j, JOB_FAILURE_OUTPUT, "cannot write the result files: %s", err);
        state = SCHED_JOB_FAILED;
    } else if (awsjob_upload(j->spec, j->id, j->out_dir, err, sizeof err) < 0) { /* an s3:// output */
        job_fail_as(j, JOB_FAILURE_OUTPUT, "%s", err);
        state = SCHED_JOB_FAILED;
    }
    char *text = *summary ? jsonprint(*summary, false) : NULL;
    if (text && store_job_set_summary(st, j->id, text) < 0)
        log_error("job %s: its summary could not be stored in %s (%s); summary.json in %s has it", j->id,
                  store_path(st), store_errmsg(st), j->out_dir);
    free(text);
    store_counts_t c;
    job_counts(j, &c);
    if (store_job_set_progress(st, j->id, &c) < 0 || store_job_set_note(st, j->id, NULL) < 0)
        log_warn("job %s: %s: its final counts could not be stored (%s)", j->id, store_path(st), store_errmsg(st));
    if (state != SCHED_JOB_SUCCEEDED && store_shards_unsend(st, j->id) < 0)
        log_warn("job %s: %s: its shards still show in flight (%s)", j->id, store_path(st), store_errmsg(st));
    bool failure_kept = store_job_set_failure(st, j->id,
                                              state == SCHED_JOB_FAILED ? job_failure_name(j->failure) : NULL) == 0;
    if (!failure_kept && state == SCHED_JOB_FAILED) {
        /* A failed state without its kind could not be resumed as it should: it stays running
         * there, which a resume (or the service's next start) takes up and ends again. */
        log_error("job %s failed but %s could not record its kind of failure (%s): it shows as running there "
                  "until resumed",
                  j->id, store_path(st), store_errmsg(st));
    } else {
        if (!failure_kept)
            log_warn("job %s: %s: its kind of failure could not be cleared (%s)", j->id, store_path(st),
                     store_errmsg(st));
        if (store_job_set_state(st, j->id, state, j->fatal) < 0)
            log_error("job %s ended %s but %s could not record it (%s): it shows as running there until resumed", j->id,
                      sched_job_state_name(state), store_path(st), store_errmsg(st));
    }
    log_info("job %s %s in %.1f s%s%s", j->id, sched_job_state_name(state), job_elapsed_s(j), j->fatal ? ": " : "",
             j->fatal ? j->fatal : "");
    return state;
}
