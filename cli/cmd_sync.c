/* llmaj sync: puts a finished job folder's results into MLflow, or completes an interrupted sync.
 * The spec comes from the folder's job.json; what was already logged is read from the job
 * database (scheduler/mlflow_sync.h), so running it again never logs anything twice. */
#define LOG_MODULE "sync"
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "buf.h"
#include "cli.h"
#include "errlist.h"
#include "log.h"
#include "mem.h"
#include "mlflow.h"
#include "mlflow_sync.h"
#include "spec.h"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: llmaj sync --job-dir DIR [options]\n"
        "\n"
        "Syncs a finished job's results (DIR/records.jsonl, summary.json, job.json) to MLflow:\n"
        "experiment, parent and per-target runs, params, metrics, tags and artifacts. Resumes an\n"
        "interrupted sync; a job already synced is left as it is.\n"
        "\n"
        "options:\n"
        "  --job-dir DIR        the job's output folder (required)\n"
        "  --db PATH            job database holding the sync state (default DIR/../llmaj.db;\n"
        "                       created if missing)\n"
        "  --tracking-uri URI   MLflow tracking URI or SageMaker tracking-server ARN (default: the\n"
        "                       spec's mlflow.tracking_uri, else MLFLOW_TRACKING_URI)\n"
        "  --experiment NAME    MLflow experiment (default: the spec's mlflow.experiment)\n"
        "  --status S           FINISHED, FAILED or KILLED (default: from job.json's status)\n"
        "  --log-level LEVEL    debug, info (default), warn, error\n"
        "\n"
        "auth: MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME + MLFLOW_TRACKING_PASSWORD; for an ARN,\n"
        "AWS credentials from the environment or ~/.aws (AWS_PROFILE). See docs/mlflow.md.\n"
        "\n"
        "exit status: 0 synced, 1 MLflow could not be reached or refused (run it again to resume),\n"
        "2 bad input\n");
}

/* Reads and parses DIR/job.json. NULL with a message on stderr. */
static cJSON *load_job(const char *dir)
{
    char *path = xasprintf("%s/job.json", dir);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "llmaj sync: cannot read %s: %s\n", path, strerror(errno));
        free(path);
        return NULL;
    }
    buf_t b;
    buf_init(&b, 256u << 20);
    char chunk[65536];
    size_t n;
    bool ok = true;
    while (ok && (n = fread(chunk, 1, sizeof chunk, f)) > 0) ok = buf_append(&b, chunk, n) == 0;
    if (ferror(f)) ok = false;
    fclose(f);
    cJSON *j = ok ? cJSON_ParseWithLength(b.data ? b.data : "", b.len) : NULL;
    if (!ok) fprintf(stderr, "llmaj sync: cannot read %s (unreadable or too large)\n", path);
    else if (!j) fprintf(stderr, "llmaj sync: %s is not valid JSON\n", path);
    else if (!cJSON_IsObject(j)) {
        fprintf(stderr, "llmaj sync: %s: expected a JSON object\n", path);
        cJSON_Delete(j);
        j = NULL;
    }
    buf_free(&b);
    free(path);
    return j;
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

int cmd_sync(int argc, char **argv)
{
    static const struct option opts[] = {
        {"job-dir", required_argument, NULL, 'j'}, {"db", required_argument, NULL, 'd'},
        {"tracking-uri", required_argument, NULL, 'u'}, {"experiment", required_argument, NULL, 'e'},
        {"status", required_argument, NULL, 's'}, {"log-level", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
    };
    const char *job_dir = NULL, *db_path = NULL, *uri = NULL, *experiment = NULL, *status = NULL;
    log_set_level(LOG_INFO);
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'j': job_dir = optarg; break;
        case 'd': db_path = optarg; break;
        case 'u': uri = optarg; break;
        case 'e': experiment = optarg; break;
        case 's': status = optarg; break;
        case 'l': {
            log_level_t lv;
            if (log_parse_level(optarg, &lv) < 0) {
                fprintf(stderr, "llmaj sync: --log-level: '%s' is not debug, info, warn, error or off\n", optarg);
                return CLI_EXIT_BAD_INPUT;
            }
            log_set_level(lv);
            break;
        }
        case 'h': usage(stdout); return CLI_EXIT_OK;
        default: usage(stderr); return CLI_EXIT_BAD_INPUT;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "llmaj sync: unexpected argument '%s'\n", argv[optind]);
        return CLI_EXIT_BAD_INPUT;
    }
    if (!job_dir) {
        fprintf(stderr, "llmaj sync: --job-dir is required\n\n");
        usage(stderr);
        return CLI_EXIT_BAD_INPUT;
    }
    struct stat st;
    if (stat(job_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "llmaj sync: --job-dir %s: not a folder\n", job_dir);
        return CLI_EXIT_BAD_INPUT;
    }
    if (status && strcmp(status, "FINISHED") && strcmp(status, "FAILED") && strcmp(status, "KILLED")) {
        fprintf(stderr, "llmaj sync: --status: '%s' is not FINISHED, FAILED or KILLED\n", status);
        return CLI_EXIT_BAD_INPUT;
    }

    int rc = CLI_EXIT_BAD_INPUT;
    char *job_id = NULL, *default_db = NULL;
    spec_t *spec = NULL;
    sqlite3 *db = NULL;
    cJSON *job = load_job(job_dir);
    if (!job) goto out;
    const cJSON *jid = cJSON_GetObjectItemCaseSensitive(job, "job_id");
    job_id = cJSON_IsString(jid) && *jid->valuestring ? xstrdup(jid->valuestring) : base_name(job_dir);
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(job, "spec");
    if (!cJSON_IsObject(js)) {
        fprintf(stderr, "llmaj sync: %s/job.json has no \"spec\" object\n", job_dir);
        goto out;
    }
    char *spec_text = cJSON_PrintUnformatted(js);
    errlist_t errs;
    errlist_init(&errs, 20);
    char *origin = xasprintf("%s/job.json spec", job_dir);
    spec = spec_parse(spec_text, strlen(spec_text), origin, NULL, &errs);
    free(spec_text);
    free(origin);
    if (!spec) {
        fprintf(stderr, "llmaj sync: the spec in %s/job.json is not valid:\n", job_dir);
        errlist_print(&errs, stderr, "  ");
        errlist_free(&errs);
        goto out;
    }
    errlist_free(&errs);
    if (!uri && !spec->mlflow_tracking_uri) uri = getenv("MLFLOW_TRACKING_URI");
    if (uri && *uri) {
        free(spec->mlflow_tracking_uri);
        spec->mlflow_tracking_uri = xstrdup(uri);
    }
    if (!spec->mlflow_tracking_uri || !*spec->mlflow_tracking_uri) {
        fprintf(stderr, "llmaj sync: no MLflow tracking URI: the spec has no mlflow.tracking_uri; pass "
                        "--tracking-uri or set MLFLOW_TRACKING_URI\n");
        goto out;
    }
    if (mlflow_is_arn(spec->mlflow_tracking_uri)) {
        char region[64], url[128], why[512];
        if (mlflow_arn_parse(spec->mlflow_tracking_uri, region, sizeof region, url, sizeof url, why, sizeof why) < 0) {
            fprintf(stderr, "llmaj sync: %s\n", why);
            goto out;
        }
    } else if (strncmp(spec->mlflow_tracking_uri, "http://", 7) && strncmp(spec->mlflow_tracking_uri, "https://", 8)) {
        fprintf(stderr, "llmaj sync: tracking URI: expected an http:// or https:// URL or a SageMaker MLflow "
                        "tracking-server ARN (arn:aws:sagemaker:REGION:ACCOUNT:mlflow-tracking-server/NAME)\n");
        goto out;
    }
    if (experiment) {
        free(spec->mlflow_experiment);
        spec->mlflow_experiment = xstrdup(experiment);
    }
    if (!status) {
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(job, "status");
        status = cJSON_IsString(s) ? status_of(s->valuestring) : NULL;
        if (!status) {
            fprintf(stderr, "llmaj sync: %s/job.json: status %s%s%s is not a finished job's; pass --status\n", job_dir,
                    cJSON_IsString(s) ? "'" : "", cJSON_IsString(s) ? s->valuestring : "(missing)",
                    cJSON_IsString(s) ? "'" : "");
            goto out;
        }
    }
    if (!db_path) db_path = default_db = xasprintf("%s/../llmaj.db", job_dir);
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        fprintf(stderr, "llmaj sync: %s: cannot open database: %s\n", db_path, db ? sqlite3_errmsg(db) : "out of memory");
        goto out;
    }
    sqlite3_busy_timeout(db, 10000);
    char err[1024] = "";
    if (mlflow_sync_init(db, err, sizeof err) < 0) {
        fprintf(stderr, "llmaj sync: %s: %s\n", db_path, err);
        goto out;
    }
    if (mlflow_sync_job(db, job_id, spec, job_dir, status, err, sizeof err) < 0) {
        fprintf(stderr, "llmaj sync: job %s: MLflow sync incomplete: %s\n"
                        "llmaj sync: what was done is recorded in %s; run the same command again to resume\n",
                job_id, err, db_path);
        rc = CLI_EXIT_FAILED;
        goto out;
    }
    char *state = NULL;
    if (mlflow_sync_state(db, job_id, &state) == 0) {
        cJSON *sj = cJSON_Parse(state);
        const cJSON *exp = cJSON_GetObjectItemCaseSensitive(sj, "experiment_id");
        const cJSON *run = cJSON_GetObjectItemCaseSensitive(sj, "parent_run_id");
        const cJSON *u = cJSON_GetObjectItemCaseSensitive(sj, "tracking_uri");
        printf("job %s synced to MLflow %s: experiment %s, run %s (%s)\n", job_id,
               cJSON_IsString(u) ? u->valuestring : "?", cJSON_IsString(exp) ? exp->valuestring : "?",
               cJSON_IsString(run) ? run->valuestring : "?", status);
        cJSON_Delete(sj);
        free(state);
    }
    rc = CLI_EXIT_OK;
out:
    if (db) sqlite3_close(db);
    spec_destroy(&spec);
    cJSON_Delete(job);
    free(job_id);
    free(default_db);
    return rc;
}
