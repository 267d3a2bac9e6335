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
#include "file.h"
#include "jsonprint.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "modelstr.h"
#include "output.h"
#include "provider.h"
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
            name[k++] = (char)((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-' ? *c : '-');
        name[k] = '\0';
    }
    snprintf(out, n, "%s-%s-%06x", name, stamp, r);
}

/* Every model the job calls must resolve to an endpoint (base URL and so on) before we start. */
static void check_endpoints(const spec_t *sp, errlist_t *errs)
{
    struct { const char *key, *model; } ms[] = {
        {"evaluator_model", sp->evaluator_model},
        {"model", sp->model},
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

/* Reads the whole dataset into the store and cuts the shards, inside the caller's transaction.
 * Returns SCHED_OK, SCHED_E_INPUT with every problem in errs (the caller rolls back), SCHED_E_DB. */
static sched_err_t load_dataset(store_t *st, const char *job_id, const spec_t *sp, errlist_t *errs)
{
    char err[2048];   /* an S3 error may list every credential source tried */
    dataset_t *d = awsjob_dataset_open(sp, 0, err, sizeof err);   /* a local file, s3:// or https:// */
    if (!d) {
        errlist_add(errs, "dataset: %s", err);
        return SCHED_E_INPUT;
    }
    errlist_t bad;
    errlist_init(&bad, JOB_MAX_LISTED_ERRORS);
    uint64_t no_response = 0, first = 0, last = 0, in_shard = 0, records = 0, shard_id = 0;
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
            if (store_record_put(st, job_id, &r) < 0) {
                errlist_add(errs, "database %s: storing record %llu: %s", store_path(st), (unsigned long long)r.index,
                            store_errmsg(st));
                ret = SCHED_E_DB;
                record_clear(&r);
                break;
            }
            if (in_shard == 0) first = r.index;
            last = r.index;
            in_shard++;
            records++;
            if (in_shard == (uint64_t)sp->shard_size) {
                if (store_shard_put(st, job_id, shard_id++, first, last, (uint32_t)in_shard) < 0) {
                    errlist_add(errs, "database %s: storing shard %llu: %s", store_path(st),
                                (unsigned long long)shard_id - 1, store_errmsg(st));
                    ret = SCHED_E_DB;
                    record_clear(&r);
                    break;
                }
                in_shard = 0;
            }
        }
        record_clear(&r);
    }
    uint64_t invalid = dataset_invalid(d), lines = dataset_lines(d);
    dataset_close(&d);
    if (ret == SCHED_OK && in_shard && store_shard_put(st, job_id, shard_id, first, last, (uint32_t)in_shard) < 0) {
        errlist_add(errs, "database %s: storing shard %llu: %s", store_path(st), (unsigned long long)shard_id,
                    store_errmsg(st));
        ret = SCHED_E_DB;
    }
    if (ret != SCHED_OK) {
        errlist_free(&bad);
        return ret;
    }
    bool fatal = rc < 0 || no_response > 0 || (bad.count > 0 && !sp->skip_invalid);
    if (!fatal && records == 0) {
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
        return SCHED_E_INPUT;
    }
    if (bad.count) log_warn("job %s: %zu invalid line(s) skipped (skip_invalid)", job_id, bad.count);
    errlist_free(&bad);
    if (store_job_set_counts(st, job_id, lines, invalid) < 0) {
        errlist_add(errs, "database %s: %s", store_path(st), store_errmsg(st));
        return SCHED_E_DB;
    }
    return SCHED_OK;
}

/* <output_path>/<job id> made absolute (as far as the folder exists). Caller frees. */
static char *out_dir_of(const char *output_path, const char *job_id)
{
    char absout[PATH_MAX];
    return xasprintf("%s/%s", realpath(output_path, absout) ? absout : output_path, job_id);
}

sched_err_t job_submit(const sched_submit_t *in, const char *db_path, char **db_used, char *job_id, errlist_t *errs)
{
    *db_used = NULL;
    job_id[0] = '\0';
    const size_t before = errs->count;   /* the caller's list may hold problems of its own */
    const char *origin = in->origin ? in->origin : "spec";
    char *merged = merge_overrides(in->spec_json ? in->spec_json : "", in->spec_json ? in->len : 0, in->overrides,
                                   errs, origin);
    if (!merged) return SCHED_E_INPUT;
    char *with_region = awsjob_spec_with_region(merged, strlen(merged));   /* this process's region, if none */
    if (with_region) {
        free(merged);
        merged = with_region;
    }
    spec_t *sp = spec_parse(merged, strlen(merged), origin, in->base_dir, errs);
    free(merged);
    if (!sp) return SCHED_E_INPUT;
    /* AWS: the region checked, model packages resolved into model strings; then the endpoints */
    if (awsjob_prepare(sp, errs) == 0) check_endpoints(sp, errs);
    if (errs->count > before) {
        spec_destroy(&sp);
        return SCHED_E_INPUT;
    }
    cJSON *cj = spec_to_json(sp);
    char *spec_json = jsonprint(cj, false);
    cJSON_Delete(cj);
    char id[SCHED_JOB_ID_MAX];
    make_job_id(sp, id, sizeof id);

    sched_err_t ret = SCHED_OK;
    store_t *st = NULL;
    char *out_dir = NULL;
    char err[1024];
    const char *outp = awsjob_local_root(sp);   /* an s3:// output is written here first */
    if (file_mkdirs(outp, 0755, err, sizeof err) < 0) {
        errlist_add(errs, "output_path: %s", err);
        ret = SCHED_E_IO;
        goto out;
    }
    *db_used = db_path ? xstrdup(db_path) : xasprintf("%s/llmaj.db", outp);
    out_dir = out_dir_of(outp, id);
    if (!(st = store_open(*db_used, STORE_WRITE, err, sizeof err))) {
        errlist_add(errs, "%s", err);
        ret = SCHED_E_DB;
        goto out;
    }
    /* Validate and load in one transaction: bad input leaves no trace. */
    if (store_begin(st) < 0 || store_job_create(st, id, sp->job_name, spec_json, out_dir) < 0) {
        errlist_add(errs, "database %s: %s", *db_used, store_errmsg(st));
        ret = SCHED_E_DB;
        if (store_in_tx(st) && store_rollback(st) < 0) log_error("database %s: the rollback failed too", *db_used);
        goto out;
    }
    ret = load_dataset(st, id, sp, errs);
    if (ret == SCHED_OK && awsjob_output_check(sp, id, spec_json, errs) < 0) ret = SCHED_E_INPUT;   /* s3:// */
    if (ret != SCHED_OK) {
        /* A failed rollback leaves nothing either: the transaction ends with the connection. */
        if (store_rollback(st) < 0) log_warn("database %s: rollback failed; closing the connection ends it", *db_used);
        goto out;
    }
    if (store_commit(st) < 0) {
        errlist_add(errs, "database %s: cannot commit job %s: %s", *db_used, id, store_errmsg(st));
        ret = SCHED_E_DB;
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

sched_err_t job_check_resume(const char *db_path, const char *job_id, errlist_t *errs)
{
    char err[1024];
    if (access(db_path, F_OK) != 0) {
        errlist_add(errs, "%s: no job database there (give --db PATH)", db_path);
        return SCHED_E_NOTFOUND;
    }
    store_t *st = store_open(db_path, STORE_WRITE, err, sizeof err);
    if (!st) {
        errlist_add(errs, "%s", err);
        return SCHED_E_DB;
    }
    store_job_t job;
    int g = store_job_get(st, job_id, &job);
    sched_err_t ret = SCHED_OK;
    if (g != 0) {
        if (g == 1) errlist_add(errs, "%s: no job %s (see `llmaj list --db %s`)", db_path, job_id, db_path);
        else errlist_add(errs, "database %s: %s", db_path, store_errmsg(st));
        ret = g == 1 ? SCHED_E_NOTFOUND : SCHED_E_DB;
    } else if (job.state == SCHED_JOB_SUCCEEDED || job.state == SCHED_JOB_FAILED) {
        errlist_add(errs, "job %s already %s: nothing to resume", job_id, sched_job_state_name(job.state));
        ret = SCHED_E_STATE;
    } else {
        const size_t before = errs->count;
        spec_t *sp = spec_parse(job.spec_json, strlen(job.spec_json), "the stored spec", NULL, errs);
        if (sp) check_endpoints(sp, errs);
        if (!sp || errs->count > before) ret = SCHED_E_INPUT;
        spec_destroy(&sp);
    }
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
    if (sh->id != j->n_shards) return -1;   /* ids are dense from 0 */
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
    j->out_dir = row.out_dir ? xstrdup(row.out_dir)
                             : out_dir_of(awsjob_local_root(j->spec), j->id);
    bool fresh = row.state == SCHED_JOB_PENDING && row.started_at == 0;
    store_job_clear(&row);
    shard_load_t l = {.j = j};
    uint64_t outputs = 0, scores = 0;
    if (store_shards_each(st, j->id, shard_row, &l) < 0 || store_counts(st, j->id, &outputs, &scores) < 0 ||
        store_score_counts(st, j->id, j->scores) < 0 || store_job_set_outdir(st, j->id, j->out_dir) < 0 ||
        store_job_set_state(st, j->id, SCHED_JOB_RUNNING, NULL) < 0 || store_job_touch(st, j->id) < 0) {
        snprintf(err, errlen, "job %s: cannot read it back from %s: %s", job_id, store_path(st), store_errmsg(st));
        job_destroy(&j);
        return NULL;
    }
    j->units_done = outputs;
    j->started_ms = loop_now_ms();
    j->started_at = time(NULL);
    if (fresh)
        log_info("job %s: %llu record(s) in %zu shard(s), %u target(s), %zu metric(s)", j->id,
                 (unsigned long long)j->records, j->n_shards, j->targets, j->spec->n_metrics);
    else
        log_info("job %s resumed: %zu of %zu shard(s) already done, %llu of %llu record-targets committed", j->id,
                 j->done, j->n_shards, (unsigned long long)outputs, (unsigned long long)j->records * j->targets);
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
    free(j);
    *self_p = NULL;
}

void job_fail(job_t *j, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (j->fatal) {
        log_warn("job %s: also: %s", j->id, msg);
        return;
    }
    log_error("job %s fails: %s", j->id, msg);
    j->fatal = xstrdup(msg);
}

bool job_over(const job_t *j) { return j->done == j->n_shards || j->stop_requested || j->fatal; }

double job_elapsed_s(const job_t *j) { return (loop_now_ms() - j->started_ms) / 1000.0; }

sched_job_state_t job_end(job_t *j, store_t *st, uint32_t workers, cJSON **summary, cJSON **jobj)
{
    *summary = *jobj = NULL;
    sched_job_state_t state = j->fatal ? SCHED_JOB_FAILED : j->stop_requested ? SCHED_JOB_STOPPED : SCHED_JOB_SUCCEEDED;
    if (state == SCHED_JOB_SUCCEEDED && j->scores[SCORE_OK] + j->scores[SCORE_NOT_APPLICABLE] == 0) {
        state = SCHED_JOB_FAILED;
        job_fail(j, "no score at all: every judge call failed or named no rating (see records.jsonl errors)");
    }
    output_info_t oi = {.job_id = j->id, .spec = j->spec, .spec_json = j->spec_json, .out_dir = j->out_dir,
                        .state = state, .error = j->fatal, .started_at = j->started_at, .finished_at = time(NULL),
                        .elapsed_s = job_elapsed_s(j), .records = j->records, .invalid = j->invalid,
                        .shards = j->n_shards, .workers = workers};
    char err[1024];
    if (output_write(st, &oi, summary, jobj, err, sizeof err) < 0) {
        job_fail(j, "cannot write the result files: %s", err);
        state = SCHED_JOB_FAILED;
    } else if (awsjob_upload(j->spec, j->id, j->out_dir, err, sizeof err) < 0) {   /* an s3:// output */
        job_fail(j, "%s", err);
        state = SCHED_JOB_FAILED;
    }
    char *text = *summary ? jsonprint(*summary, false) : NULL;
    if (text && store_job_set_summary(st, j->id, text) < 0)
        log_error("job %s: its summary could not be stored in %s (%s); summary.json in %s has it", j->id,
                  store_path(st), store_errmsg(st), j->out_dir);
    free(text);
    if (store_job_set_state(st, j->id, state, j->fatal) < 0)
        log_error("job %s ended %s but %s could not record it (%s): it shows as running there until resumed",
                  j->id, sched_job_state_name(state), store_path(st), store_errmsg(st));
    log_info("job %s %s in %.1f s%s%s", j->id, sched_job_state_name(state), job_elapsed_s(j), j->fatal ? ": " : "",
             j->fatal ? j->fatal : "");
    return state;
}
