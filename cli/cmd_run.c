/* llmaj run: the embedded mode. Scheduler, broker and workers run in this one process over
 * inproc:// transports, using the same libraries as the daemons. Progress goes to stderr (a live
 * bar on a terminal, plain lines otherwise); the job id, the summary table and the output folder
 * go to stdout. */
#define LOG_MODULE "run"
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include <cjson/cJSON.h>

#include "broker.h"
#include "buf.h"
#include "cli.h"
#include "daemon.h"
#include "log.h"
#include "mem.h"
#include "report.h"
#include "scheduler.h"
#include "store.h"
#include "worker.h"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: llmaj run --spec FILE [options]\n"
        "       llmaj run --resume JOB [--db PATH] [options]\n"
        "\n"
        "Runs one evaluation job on this machine and waits for it to finish.\n"
        "\n"
        "options:\n"
        "  --spec FILE              the job spec (JSON); flags below override its keys\n"
        "  --workers N              worker threads (default: the number of cores)\n"
        "  --concurrency N          model calls in flight per worker thread (default 256)\n"
        "  --window N               shards in flight at most (default 64)\n"
        "  --db PATH                job database (default <output_path>/llmaj.db)\n"
        "  --mlflow-wait S          wait at most S seconds for the MLflow sync at the end (default 60);\n"
        "                           an unfinished sync resumes with the next run on the same database\n"
        "  --resume JOB             finish a job that was stopped or whose process died (shards done are kept)\n"
        "  --quiet                  no progress output\n"
        "  --log-level LEVEL        debug, info, warn (default), error\n"
        "spec keys as flags:\n"
        "  --model M  --base-model M  --evaluate-base-model true|false  --evaluator-model M\n"
        "  --dataset PATH  --builtin-metrics A,B,...  --custom-metrics JSON|FILE  --output-path DIR\n"
        "  --shard-size N  --skip-invalid  --region R  --name NAME\n"
        "  --mlflow-tracking-uri URI  --mlflow-experiment NAME  --mlflow-run-name NAME\n"
        "\n"
        "exit status: 0 the job succeeded, 1 it failed, 2 bad input (nothing was run)\n");
}

typedef struct {
    broker_t *b;
} broker_thread_t;

static void *broker_main(void *arg)
{
    broker_thread_t *bt = arg;
    if (broker_run(bt->b) < 0) log_error("the embedded broker stopped with an error");
    return NULL;
}

static void on_signal(void *arg)
{
    (void)arg;
    scheduler_request_stop();
}

static int read_file(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    buf_t b;
    buf_init(&b, 64u << 20);
    char chunk[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (buf_append(&b, chunk, n) < 0) {
            snprintf(err, errlen, "%s: larger than 64 MiB", path);
            rc = -1;
            break;
        }
    }
    if (!rc && ferror(f)) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        rc = -1;
    }
    fclose(f);
    if (rc) { buf_free(&b); return -1; }
    *len = b.len;
    *out = buf_take(&b);
    return 0;
}

/* Adds a spec key from a flag value: JSON booleans and numbers where the key takes them. */
static int add_override(cJSON *ov, const char *key, const char *val, char *err, size_t errlen)
{
    cJSON_DeleteItemFromObjectCaseSensitive(ov, key);
    if (!strcmp(key, "builtin_metrics")) {
        cJSON *a = cJSON_AddArrayToObject(ov, key);
        for (const char *p = val; *p;) {
            const char *end = strchr(p, ',');
            size_t n = end ? (size_t)(end - p) : strlen(p);
            while (n && *p == ' ') { p++; n--; }
            while (n && p[n - 1] == ' ') n--;
            if (n) {
                char *name = xstrndup(p, n);
                cJSON_AddItemToArray(a, cJSON_CreateString(name));
                free(name);
            }
            p = end ? end + 1 : p + strlen(p);
        }
        return 0;
    }
    if (!strcmp(key, "evaluate_base_model") || !strcmp(key, "skip_invalid")) {
        if (!strcmp(val, "true") || !strcmp(val, "1")) cJSON_AddTrueToObject(ov, key);
        else if (!strcmp(val, "false") || !strcmp(val, "0")) cJSON_AddFalseToObject(ov, key);
        else { snprintf(err, errlen, "--%s: '%s' is not true or false", key, val); return -1; }
        return 0;
    }
    if (!strcmp(key, "shard_size")) {
        long v;
        if (daemon_parse_int(val, 1, 10000, &v, "--shard-size", err, errlen) < 0) return -1;
        cJSON_AddNumberToObject(ov, key, (double)v);
        return 0;
    }
    if (!strcmp(key, "custom_metrics")) {
        /* A JSON text, or a path (the spec module reads paths). */
        cJSON *j = cJSON_Parse(val);
        if (j) cJSON_AddItemToObject(ov, key, j);
        else cJSON_AddStringToObject(ov, key, val);
        return 0;
    }
    if (!strncmp(key, "mlflow.", 7)) {
        cJSON *m = cJSON_GetObjectItemCaseSensitive(ov, "mlflow");
        if (!m) m = cJSON_AddObjectToObject(ov, "mlflow");
        cJSON_DeleteItemFromObjectCaseSensitive(m, key + 7);
        cJSON_AddStringToObject(m, key + 7, val);
        return 0;
    }
    cJSON_AddStringToObject(ov, key, val);
    return 0;
}

int cmd_run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"spec", required_argument, 0, 's'},        {"workers", required_argument, 0, 'w'},
        {"concurrency", required_argument, 0, 'c'}, {"window", required_argument, 0, 'W'},
        {"db", required_argument, 0, 'd'},          {"quiet", no_argument, 0, 'q'},
        {"log-level", required_argument, 0, 'l'},   {"help", no_argument, 0, 'h'},
        {"model", required_argument, 0, 1000},      {"base-model", required_argument, 0, 1001},
        {"evaluate-base-model", required_argument, 0, 1002}, {"evaluator-model", required_argument, 0, 1003},
        {"dataset", required_argument, 0, 1004},    {"builtin-metrics", required_argument, 0, 1005},
        {"custom-metrics", required_argument, 0, 1006}, {"output-path", required_argument, 0, 1007},
        {"shard-size", required_argument, 0, 1008}, {"skip-invalid", no_argument, 0, 1009},
        {"region", required_argument, 0, 1010},     {"name", required_argument, 0, 1011},
        {"mlflow-tracking-uri", required_argument, 0, 1012}, {"mlflow-experiment", required_argument, 0, 1013},
        {"mlflow-run-name", required_argument, 0, 1014},
        {"mlflow-wait", required_argument, 0, 'M'},
        {"resume", required_argument, 0, 'R'},
        {0, 0, 0, 0}};
    static const char *const keys[] = {"model", "base_model", "evaluate_base_model", "evaluator_model", "dataset",
                                       "builtin_metrics", "custom_metrics", "output_path", "shard_size",
                                       "skip_invalid", "region", "name", "mlflow.tracking_uri",
                                       "mlflow.experiment", "mlflow.run_name"};
    const char *spec_path = NULL, *db = NULL, *level = NULL, *resume = NULL;
    long workers = sysconf(_SC_NPROCESSORS_ONLN), conc = 256, window = 64, mlflow_wait = 60;
    int quiet = 0;
    char err[1024];
    cJSON *ov = cJSON_CreateObject();
    int c, rc = CLI_EXIT_BAD_INPUT;
    optind = 1;
    while ((c = getopt_long(argc, argv, "s:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 's': spec_path = optarg; break;
        case 'w': if (daemon_parse_int(optarg, 1, 1024, &workers, "--workers", err, sizeof err) < 0) goto bad; break;
        case 'c': if (daemon_parse_int(optarg, 1, 100000, &conc, "--concurrency", err, sizeof err) < 0) goto bad; break;
        case 'W': if (daemon_parse_int(optarg, 1, 1000000, &window, "--window", err, sizeof err) < 0) goto bad; break;
        case 'd': db = optarg; break;
        case 'R': resume = optarg; break;
        case 'M': if (daemon_parse_int(optarg, 0, 86400, &mlflow_wait, "--mlflow-wait", err, sizeof err) < 0) goto bad; break;
        case 'q': quiet = 1; break;
        case 'l': level = optarg; break;
        case 'h': usage(stdout); cJSON_Delete(ov); return 0;
        default:
            if (c >= 1000 && c <= 1014) {
                if (add_override(ov, keys[c - 1000], c == 1009 ? "true" : optarg, err, sizeof err) < 0) goto bad;
                break;
            }
            usage(stderr);
            cJSON_Delete(ov);
            return CLI_EXIT_BAD_INPUT;
        }
    }
    if (optind < argc) {
        snprintf(err, sizeof err, "unexpected argument '%s'", argv[optind]);
        goto bad;
    }
    if (resume && (spec_path || cJSON_GetArraySize(ov))) {
        snprintf(err, sizeof err, "--resume runs the job as it was stored: give no --spec or spec flags with it");
        goto bad;
    }
    if (!resume && !spec_path && !cJSON_GetArraySize(ov)) {
        snprintf(err, sizeof err, "--spec FILE is required (or give the spec keys as flags)");
        goto bad;
    }
    if (daemon_setup_logging(level ? level : daemon_env("LLMAJ_LOG_LEVEL", "warn"), NULL) < 0) {
        cJSON_Delete(ov);
        return CLI_EXIT_BAD_INPUT;
    }

    char *text = NULL;
    size_t len = 0;
    char base_dir[PATH_MAX] = ".";
    if (spec_path) {
        if (read_file(spec_path, &text, &len, err, sizeof err) < 0) goto bad;
        char tmp[PATH_MAX];
        snprintf(tmp, sizeof tmp, "%s", spec_path);
        snprintf(base_dir, sizeof base_dir, "%s", dirname(tmp));
    } else {
        text = xstrdup("{}");
        len = 2;
    }

    if (daemon_on_signal(on_signal, NULL) < 0) log_warn("cannot install signal handling");
    void *ctx = zmq_ctx_new();
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "inproc://llmaj-broker-%d", (int)getpid());
    broker_opts_t bo;
    broker_opts_default(&bo);
    bo.endpoint = endpoint;
    bo.zmq_ctx = ctx;
    broker_thread_t bt = {.b = broker_new(&bo, err, sizeof err)};
    worker_t *w = NULL;
    pthread_t btid;
    bool broker_running = false;
    if (!bt.b) goto internal;
    if (pthread_create(&btid, NULL, broker_main, &bt) != 0) {
        snprintf(err, sizeof err, "cannot start the broker thread");
        goto internal;
    }
    broker_running = true;
    worker_opts_t wo;
    worker_opts_default(&wo);
    wo.broker = endpoint;
    wo.zmq_ctx = ctx;
    wo.threads = (int)workers;
    wo.max_concurrency = (int)conc;
    w = worker_new(&wo, err, sizeof err);
    if (!w || worker_start(w) < 0) {
        if (w) snprintf(err, sizeof err, "cannot start the worker threads");
        goto internal;
    }

    scheduler_opts_t so;
    scheduler_opts_default(&so);
    so.broker = endpoint;
    so.zmq_ctx = ctx;
    so.db_path = db;
    so.window = (int)window;
    so.mlflow_wait_ms = (int)mlflow_wait * 1000;
    so.overrides = ov;
    report_progress_t rp;
    report_progress_init(&rp, stderr, quiet);
    so.progress = report_progress;
    so.progress_arg = &rp;
    errlist_t errs;
    errlist_init(&errs, 0);
    job_outcome_t out;
    int jr = resume ? scheduler_resume_job(&so, resume, &errs, &out)
                    : scheduler_run_job(&so, text, len, spec_path ? spec_path : "flags", base_dir, &errs, &out);
    report_progress_end(&rp);
    if (jr == 2) {
        fprintf(stderr, "llmaj: the job was not run: %zu problem(s):\n", errs.count);
        errlist_print(&errs, stderr, "  ");
        rc = CLI_EXIT_BAD_INPUT;
    } else if (jr < 0) {
        fprintf(stderr, "llmaj: internal error:\n");
        errlist_print(&errs, stderr, "  ");
        rc = CLI_EXIT_FAILED;
    } else {
        printf("job %s %s\n", out.job_id, job_state_name((job_state_t)out.state));
        if (out.summary) report_summary(stdout, out.summary);
        if (out.error) printf("error: %s\n", out.error);
        printf("results: %s\n", out.out_dir);
        if (out.mlflow_state) printf("mlflow: %s\n", out.mlflow_state);
        rc = out.state == JOB_SUCCEEDED ? CLI_EXIT_OK : CLI_EXIT_FAILED;
        job_outcome_clear(&out);
    }
    errlist_free(&errs);
    goto done;

internal:
    fprintf(stderr, "llmaj: %s\n", err);
    rc = CLI_EXIT_FAILED;
done:
    worker_destroy(&w);   /* stops and joins the worker threads */
    if (broker_running) {
        broker_stop(bt.b);
        pthread_join(btid, NULL);
    }
    broker_destroy(&bt.b);
    zmq_ctx_term(ctx);
    free(text);
    cJSON_Delete(ov);
    return rc;
bad:
    fprintf(stderr, "llmaj run: %s\n", err);
    cJSON_Delete(ov);
    return CLI_EXIT_BAD_INPUT;
}
