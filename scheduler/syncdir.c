/* syncdir: a finished job's folder synced to MLflow by hand (sched_sync_dir in scheduler.h, the
 * whole of `llmaj sync`): the spec and the status come from the folder's job.json, the summary
 * from its summary.json, what was already logged from the job database next to it (or the one
 * given), so running it again never logs anything twice. The sync itself is mlflow_sync.c's. */
#define LOG_MODULE "sync"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "file.h"
#include "jsonprint.h"
#include "mem.h"
#include "mlflow.h"
#include "mlflow_sync.h"
#include "scheduler.h"
#include "spec.h"
#include "store.h"

#define JSON_FILE_MAX (256u << 20) /* summary.json / job.json larger than this are not ours */

void sched_sync_out_clear(sched_sync_out_t *o)
{
    if (!o) return;
    free(o->job_id);
    free(o->tracking_uri);
    free(o->experiment_id);
    free(o->run_id);
    free(o->status);
    free(o->db_path);
    memset(o, 0, sizeof *o);
}

/* DIR/name parsed; *out NULL (and 0) when the file does not exist and may be missing. */
static sched_err_t read_json(const char *dir, const char *name, bool required, cJSON **out, errlist_t *errs)
{
    *out = NULL;
    char *path = xasprintf("%s/%s", dir, name), *text = NULL, err[1024];
    size_t len = 0;
    sched_err_t rc = SCHED_OK;
    if (file_read_all(path, JSON_FILE_MAX, required ? 0 : FILE_MISSING_OK, &text, &len, err, sizeof err) < 0) {
        errlist_add(errs, "%s", err);
        rc = SCHED_E_INPUT;
    } else if (text && !(*out = cJSON_ParseWithLength(text, len))) {
        errlist_add(errs, "%s is not valid JSON", path);
        rc = SCHED_E_INPUT;
    } else if (*out && !cJSON_IsObject(*out)) {
        errlist_add(errs, "%s: expected a JSON object", path);
        cJSON_Delete(*out);
        *out = NULL;
        rc = SCHED_E_INPUT;
    }
    free(text);
    free(path);
    return rc;
}

/* MLflow's run status for a job state as job.json writes it. NULL if unknown. */
static const char *status_of(const char *job_status)
{
    static const char *const finished[] = {"succeeded", "finished", "completed", "success", "done"};
    static const char *const failed[] = {"failed", "error"};
    static const char *const killed[] = {"stopped", "killed", "cancelled", "canceled"};
    for (size_t i = 0; i < sizeof finished / sizeof *finished; i++)
        if (!strcasecmp(job_status, finished[i])) return "FINISHED";
    for (size_t i = 0; i < sizeof failed / sizeof *failed; i++)
        if (!strcasecmp(job_status, failed[i])) return "FAILED";
    for (size_t i = 0; i < sizeof killed / sizeof *killed; i++)
        if (!strcasecmp(job_status, killed[i])) return "KILLED";
    return NULL;
}

static char *base_name(const char *dir)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    size_t s = n;
    while (s > 0 && dir[s - 1] != '/') s--;
    return xstrndup(dir + s, n - s);
}

/* The spec of job.json with the overrides applied, checked. NULL with errs. */
static spec_t *spec_of(const sched_sync_opts_t *o, const cJSON *job, errlist_t *errs)
{
    const size_t before = errs->count;
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(job, "spec");
    if (!cJSON_IsObject(js)) {
        errlist_add(errs, "%s/job.json has no \"spec\" object", o->job_dir);
        return NULL;
    }
    char *text = jsonprint(js, false);
    char *origin = xasprintf("%s/job.json spec", o->job_dir);
    spec_t *sp = spec_parse(text, strlen(text), origin, NULL, errs);
    free(text);
    free(origin);
    if (!sp) return NULL;
    const char *uri = o->tracking_uri;
    if (!uri && !sp->mlflow_tracking_uri) uri = getenv("MLFLOW_TRACKING_URI");
    if (uri && *uri) {
        free(sp->mlflow_tracking_uri);
        sp->mlflow_tracking_uri = xstrdup(uri);
    }
    if (o->experiment) {
        free(sp->mlflow_experiment);
        sp->mlflow_experiment = xstrdup(o->experiment);
    }
    const char *u = sp->mlflow_tracking_uri;
    if (!u || !*u) {
        errlist_add(errs, "no MLflow tracking URI: the spec has no mlflow.tracking_uri; pass --tracking-uri or set "
                          "MLFLOW_TRACKING_URI");
    } else if (mlflow_is_arn(u)) {
        char region[64], url[128], why[512];
        if (mlflow_arn_parse(u, region, sizeof region, url, sizeof url, why, sizeof why) < 0)
            errlist_add(errs, "%s", why);
    } else if (strncmp(u, "http://", 7) && strncmp(u, "https://", 8)) {
        errlist_add(errs, "tracking URI: expected an http:// or https:// URL or a SageMaker MLflow tracking-server ARN "
                          "(arn:aws:sagemaker:REGION:ACCOUNT:mlflow-tracking-server/NAME)");
    }
    if (errs->count > before) spec_destroy(&sp);
    return sp;
}

sched_err_t sched_sync_dir(const sched_sync_opts_t *o, sched_sync_out_t *out, errlist_t *errs)
{
    memset(out, 0, sizeof *out);
    struct stat st;
    if (!o->job_dir || stat(o->job_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        errlist_add(errs, "--job-dir %s: not a folder", o->job_dir ? o->job_dir : "(none)");
        return SCHED_E_INPUT;
    }
    if (o->status && !mlflow_sync_status_ok(o->status)) {
        errlist_add(errs, "--status: '%s' is not FINISHED, FAILED or KILLED", o->status);
        return SCHED_E_INPUT;
    }
    cJSON *job = NULL, *summary = NULL;
    spec_t *sp = NULL;
    store_t *db = NULL;
    sched_err_t rc = read_json(o->job_dir, "job.json", true, &job, errs);
    if (rc == SCHED_OK) rc = read_json(o->job_dir, "summary.json", false, &summary, errs);
    if (rc != SCHED_OK) goto out;
    const cJSON *jid = cJSON_GetObjectItemCaseSensitive(job, "job_id");
    out->job_id = cJSON_IsString(jid) && *jid->valuestring ? xstrdup(jid->valuestring) : base_name(o->job_dir);
    if (!(sp = spec_of(o, job, errs))) {
        rc = SCHED_E_INPUT;
        goto out;
    }
    const char *status = o->status;
    if (!status) {
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(job, "status");
        status = cJSON_IsString(s) ? status_of(s->valuestring) : NULL;
        if (!status) {
            errlist_add(errs, "%s/job.json: status %s%s%s is not a finished job's; pass --status", o->job_dir,
                        cJSON_IsString(s) ? "'" : "", cJSON_IsString(s) ? s->valuestring : "(missing)",
                        cJSON_IsString(s) ? "'" : "");
            rc = SCHED_E_INPUT;
            goto out;
        }
    }
    out->status = xstrdup(status);
    out->db_path = o->db_path ? xstrdup(o->db_path) : xasprintf("%s/../llmaj.db", o->job_dir);
    char err[1024] = "";
    if (!(db = store_open(out->db_path, STORE_WRITE, err, sizeof err))) {
        errlist_add(errs, "%s", err);
        rc = SCHED_E_DB;
        goto out;
    }
    if (mlflow_sync_job(db, out->job_id, sp, o->job_dir, status, summary, job, NULL, err, sizeof err) < 0) {
        errlist_add(errs, "job %s: MLflow sync incomplete: %s", out->job_id, err);
        errlist_add(errs, "what was done is recorded in %s; run the same command again to resume", out->db_path);
        rc = SCHED_E_MLFLOW;
        goto out;
    }
    cJSON *state = NULL;
    if (mlflow_sync_state(db, out->job_id, &state) == 0) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(state, "experiment_id");
        if (cJSON_IsString(v)) out->experiment_id = xstrdup(v->valuestring);
        v = cJSON_GetObjectItemCaseSensitive(state, "parent_run_id");
        if (cJSON_IsString(v)) out->run_id = xstrdup(v->valuestring);
        v = cJSON_GetObjectItemCaseSensitive(state, "tracking_uri");
        if (cJSON_IsString(v)) out->tracking_uri = xstrdup(v->valuestring);
        cJSON_Delete(state);
    }
out:
    store_close(&db);
    spec_destroy(&sp);
    cJSON_Delete(job);
    cJSON_Delete(summary);
    return rc;
}
