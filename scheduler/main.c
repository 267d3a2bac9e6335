/* llmaj-scheduler: the scheduler engine as a program, in one of two forms.
 *  - The service (--serve): a long-running REST control plane (api.c) on --listen over one engine
 *    that runs many jobs at once through the broker (at most --max-jobs, the others queued). It
 *    takes up, by itself, the jobs an earlier service on the same database left running or
 *    queued. SIGTERM or SIGINT shuts it down and leaves its jobs as they are in the database, for
 *    the next start to resume. Exit status 0 after a signal, 1 when it cannot run (or its shutdown
 *    was cut short), 2 bad flags.
 *  - One job (--spec FILE, or --resume JOB from the job database): runs it and exits when it has
 *    ended and its MLflow sync is done, printing the job id, the summary table and where the
 *    results are. SIGTERM or SIGINT stops the job (it ends stopped). Exit status as `llmaj run`:
 *    0 succeeded, 1 failed or stopped, 2 bad input, 3 succeeded with error cells.
 *
 * DESIGN. The service's shutdown, bounded (docs/service.md, "Shutting down"). On the first signal
 * the API refuses every new request with 503 (api_close: /healthz still answers), the engine is
 * told to shut down (sched_shutdown: it ends its current pass without starting a job or sending a
 * shard, commits what it received, CANCELs its running jobs at the broker, says BYE and leaves them
 * RUNNING in the database), then the API waits for the requests it had taken and stops. All of
 * that normally takes well under a second; what can take longer is the engine's writer finishing
 * a job's result files (a huge job, an upload to S3), an MLflow call, or a submission still
 * reading its dataset. So a deadline (--shutdown-timeout, under the pod's grace period) runs on a
 * thread of its own: past it, or at a second signal, the process exits at once with status 1.
 * That is safe: what the engine received is committed before the parts that may be slow; a job
 * cut short while being written is still RUNNING in the database, so the next start ends it
 * again; a submission cut short is deleted at the next start (its client saw no 201). */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "buf.h"
#include "cache.h"
#include "curve.h"
#include "daemon.h"
#include "errlist.h"
#include "file.h"
#include "httpd.h"
#include "log.h"
#include "mem.h"
#include "scheduler.h"

#define SPEC_MAX (64u << 20)
#define TOKEN_MAX 4096
#define EXIT_ERROR_CELLS 3

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: llmaj-scheduler --serve [--listen ADDR] [--token-file FILE] [--max-jobs N] [options]\n"
        "       llmaj-scheduler --spec FILE | --resume JOB [options]\n"
        "  --serve       run as a service: the REST API (docs/service.md) on --listen, jobs kept in --db\n"
        "  --listen      ADDR for the API, /healthz, /readyz and /metrics: HOST:PORT, or :PORT or PORT on loopback\n"
        "                (0.0.0.0:PORT: every interface; port 0: any free port) (env LLMAJ_LISTEN; default\n"
        "                127.0.0.1:8080). Off loopback a token is required\n"
        "  --token-file  a file holding the API token (env LLMAJ_TOKEN_FILE, or the token itself in LLMAJ_TOKEN);\n"
        "                every request but /healthz and /readyz then needs `Authorization: Bearer <token>`\n"
        "  --max-jobs    jobs running at once; more wait queued (env LLMAJ_MAX_JOBS; default 4; 0: no limit)\n"
        "  --shutdown-timeout S  on SIGTERM the service commits, says BYE and exits within S seconds (env\n"
        "                LLMAJ_SHUTDOWN_TIMEOUT; default 20); past it, or at a second signal, it exits at once\n"
        "  --spec        run the job spec (JSON) FILE and exit\n"
        "  --resume      finish job JOB from the database (after a stop, or a crash of its scheduler) and exit;\n"
        "                a job that ended with error cells reruns those; one that failed on a full disk (its\n"
        "                files or its database) runs what is missing and writes its files again\n"
        "options:\n"
        "  --broker      broker endpoint (env LLMAJ_BROKER; default tcp://127.0.0.1:5555)\n"
        "  --db          job database (env LLMAJ_DB; default runs/llmaj.db, or <output_path>/llmaj.db for --spec)\n"
        "  --window      shards of a job in flight at most (env LLMAJ_WINDOW; default 64)\n"
        "  --stall-after SECONDS: a job with shards in flight and no result this long is reported stalled\n"
        "                (log, status note, /metrics) (env LLMAJ_STALL_AFTER; default 600)\n"
        "  --curve-secret      this scheduler's CURVE secret key file, from `llmaj keygen` (env LLMAJ_CURVE_SECRET)\n"
        "  --curve-broker-key  the broker's CURVE public key file (env LLMAJ_CURVE_BROKER_KEY)\n"
        "  --metrics-addr  (one job) serve /metrics, /healthz and /readyz on ADDR (env LLMAJ_METRICS_ADDR)\n"
        "  --heartbeat-ms N  --dead-after N  --log-level LEVEL  --log-format text|json\n");
}

/* Exit codes of the one-job form (DESIGN.md "CLI"). */
static int exit_code(sched_err_t e)
{
    return e == SCHED_E_INPUT || e == SCHED_E_NOTFOUND || e == SCHED_E_STATE ? 2 : 1;
}

/* ------------------------------------------------------------------ progress ---- */

/* The last progress of the one job, for its /metrics and /readyz. */
static struct {
    pthread_mutex_t mu;
    bool have;
    sched_progress_t p; /* p.job_id points at job_id */
    char job_id[SCHED_JOB_ID_MAX];
    const char *broker;
} g_snap = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* Progress lines in the log, every LOG_EVERY_S per job (a small table of when each was last told). */
#define LOG_EVERY_S 5.0
#define LOGGED_MAX 64
static struct {
    char id[SCHED_JOB_ID_MAX];
    double at;
} g_logged[LOGGED_MAX];

static bool due(const sched_progress_t *p)
{
    int slot = -1, oldest = 0;
    for (int i = 0; i < LOGGED_MAX; i++) {
        if (!strcmp(g_logged[i].id, p->job_id)) slot = i;
        if (g_logged[i].at < g_logged[oldest].at) oldest = i;
    }
    if (slot >= 0 && !p->finished && p->elapsed_s - g_logged[slot].at < LOG_EVERY_S) return false;
    if (slot < 0) {
        slot = oldest;
        snprintf(g_logged[slot].id, sizeof g_logged[slot].id, "%s", p->job_id);
    }
    g_logged[slot].at = p->elapsed_s;
    return true;
}

static void progress(const sched_progress_t *p, void *arg)
{
    (void)arg;
    pthread_mutex_lock(&g_snap.mu);
    g_snap.p = *p;
    snprintf(g_snap.job_id, sizeof g_snap.job_id, "%s", p->job_id ? p->job_id : "");
    g_snap.p.job_id = g_snap.job_id;
    g_snap.p.note = NULL;
    g_snap.have = true;
    pthread_mutex_unlock(&g_snap.mu);
    if (!due(p)) return;
    if (p->note)
        log_info("job %s: %llu/%llu record-targets, shards %llu/%llu: %s", p->job_id, (unsigned long long)p->units_done,
                 (unsigned long long)p->units_total, (unsigned long long)p->shards_done,
                 (unsigned long long)p->shards_total, p->note);
    else
        log_info("job %s: %llu/%llu record-targets, shards %llu/%llu, %u worker(s)", p->job_id,
                 (unsigned long long)p->units_done, (unsigned long long)p->units_total,
                 (unsigned long long)p->shards_done, (unsigned long long)p->shards_total, p->workers);
}

/* ------------------------------------------------------------------ signals ---- */

/* The engine a signal stops; cleared (under the lock) before the engine is freed, since the
 * signal thread outlives it. The service shuts down (its jobs stay for the next start: see
 * DESIGN); the one job is stopped (it ends stopped, its results written). */
static pthread_mutex_t g_sched_mu = PTHREAD_MUTEX_INITIALIZER;
static sched_t *g_sched;
static bool g_serve;

/* The service's shutdown, under g_sched_mu: the API to close, when it was asked for, whether it
 * is over, and what it is doing now (named if the deadline passes). */
static struct {
    api_t *api;
    bool asked, done;
    double t0;
    int timeout_s;
    const char *stage;
    pthread_cond_t cv; /* CLOCK_MONOTONIC; signalled when done */
} g_down = {.timeout_s = 20, .stage = "stopping the engine"};

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void set_stage(const char *stage, bool done)
{
    pthread_mutex_lock(&g_sched_mu);
    g_down.stage = stage;
    if (done) {
        g_down.done = true;
        pthread_cond_signal(&g_down.cv);
    }
    pthread_mutex_unlock(&g_sched_mu);
}

/* The deadline's thread: exits the process if the shutdown is not over in time. */
static void *deadline_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&g_sched_mu);
    struct timespec at;
    clock_gettime(CLOCK_MONOTONIC, &at);
    at.tv_sec += g_down.timeout_s;
    while (!g_down.done)
        if (pthread_cond_timedwait(&g_down.cv, &g_sched_mu, &at) == ETIMEDOUT) break;
    if (!g_down.done) {
        log_error("shutdown not over after %d s (--shutdown-timeout), still %s: exiting now; the next start on the "
                  "database takes up what this cut short",
                  g_down.timeout_s, g_down.stage);
        _exit(1);
    }
    pthread_mutex_unlock(&g_sched_mu);
    return NULL;
}

static void stop_cb(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&g_sched_mu);
    if (g_serve && g_down.asked) {
        log_warn("a second signal: exiting now, still %s; the next start takes up what this cut short", g_down.stage);
        _exit(1);
    }
    if (g_serve) {
        g_down.asked = true;
        g_down.t0 = mono_s();
        api_close(g_down.api);
        if (g_sched) sched_shutdown(g_sched);
        pthread_t t;
        if (pthread_create(&t, NULL, deadline_thread, NULL) == 0) pthread_detach(t);
        else log_warn("no thread for the shutdown's deadline: the shutdown is not bounded");
    } else if (g_sched) {
        sched_stop_all(g_sched);
    }
    pthread_mutex_unlock(&g_sched_mu);
}

static void set_engine(sched_t *s)
{
    pthread_mutex_lock(&g_sched_mu);
    g_sched = s;
    pthread_mutex_unlock(&g_sched_mu);
}

/* ------------------------------------------------------------------ the one job's /metrics ---- */

static int metrics_cb(buf_t *out, void *arg)
{
    (void)arg;
    pthread_mutex_lock(&g_snap.mu);
    sched_progress_t p = g_snap.p;
    bool have = g_snap.have;
    char job_id[sizeof g_snap.job_id];
    memcpy(job_id, g_snap.job_id, sizeof job_id);
    pthread_mutex_unlock(&g_snap.mu);
    if (!have) memset(&p, 0, sizeof p);
    const char *job[] = {"job_id", job_id, NULL};
    const char *st_ok[] = {"status", "ok", NULL}, *st_uns[] = {"status", "unscored", NULL};
    const char *st_err[] = {"status", "error", NULL}, *st_na[] = {"status", "not_applicable", NULL};
    if (daemon_build_info(out, "scheduler") < 0 ||
        httpd_gauge(out, "llmaj_scheduler_broker_connected", "1 while welcomed by the broker.", p.connected) < 0 ||
        httpd_gauge(out, "llmaj_scheduler_workers", "Workers alive, as the broker last said.", p.workers) < 0 ||
        httpd_family(out, "llmaj_scheduler_job_info", HTTPD_GAUGE, "1 for the job being run.") < 0 ||
        (have && httpd_sample(out, "llmaj_scheduler_job_info", job, 1) < 0) ||
        httpd_gauge(out, "llmaj_scheduler_job_records", "Valid records of the job.", (double)p.records) < 0 ||
        httpd_gauge(out, "llmaj_scheduler_job_units", "(record, target) pairs of the job.", (double)p.units_total) <
            0 ||
        httpd_counter(out, "llmaj_scheduler_units_done_total", "(record, target) pairs committed.", p.units_done) < 0 ||
        httpd_gauge(out, "llmaj_scheduler_job_shards", "Shards of the job.", (double)p.shards_total) < 0 ||
        httpd_counter(out, "llmaj_scheduler_shards_done_total", "Shards completed.", p.shards_done) < 0 ||
        httpd_gauge(out, "llmaj_scheduler_shards_inflight", "Shards submitted and not done.",
                    (double)p.shards_inflight) < 0 ||
        httpd_family(out, "llmaj_scheduler_scores_total", HTTPD_COUNTER, "Scores committed, by status.") < 0 ||
        httpd_sample_u64(out, "llmaj_scheduler_scores_total", st_ok, p.scores_ok) < 0 ||
        httpd_sample_u64(out, "llmaj_scheduler_scores_total", st_uns, p.scores_unscored) < 0 ||
        httpd_sample_u64(out, "llmaj_scheduler_scores_total", st_err, p.scores_error) < 0 ||
        httpd_sample_u64(out, "llmaj_scheduler_scores_total", st_na, p.scores_na) < 0 ||
        httpd_gauge(out, "llmaj_scheduler_job_elapsed_seconds", "Seconds since the job started running.", p.elapsed_s) <
            0 ||
        httpd_gauge(out, "llmaj_scheduler_job_finished", "1 once the job's run has ended.", p.finished) < 0 ||
        httpd_gauge(out, "llmaj_scheduler_job_stalled_seconds",
                    "Seconds without a result while shards are in flight, once past --stall-after; 0: progressing.",
                    p.stalled_s) < 0 ||
        httpd_counter(out, "llmaj_scheduler_results_refused_total",
                      "RESULTs and SHARD_DONEs dropped: not for a shard in flight, or under a stale lease.",
                      p.results_refused) < 0 ||
        cache_metrics(out) < 0)
        return -1;
    return 0;
}

/* /readyz: ready while connected to the broker (the job validated, loaded and running). */
static bool ready_cb(void *arg, char *reason, size_t len)
{
    (void)arg;
    pthread_mutex_lock(&g_snap.mu);
    bool ok = g_snap.have && g_snap.p.connected;
    pthread_mutex_unlock(&g_snap.mu);
    if (!ok) snprintf(reason, len, "not connected to the broker at %s yet", g_snap.broker);
    return ok;
}

/* Prints how the job ended (from the job database, as `llmaj status` reads it); its exit code. */
static int report_outcome(const char *db_path, const char *job_id)
{
    errlist_t errs;
    errlist_init(&errs, 0);
    sched_db_t *db = NULL;
    sched_status_t st;
    int code = 1;
    if (sched_db_open(db_path, NULL, &db, &errs) == SCHED_OK && sched_job_status(db, job_id, &st, &errs) == SCHED_OK) {
        printf("job %s\n", job_id);
        cJSON *summary = NULL;
        if (sched_job_summary(db, job_id, &summary, &errs) == SCHED_OK) sched_summary_print(stdout, summary);
        cJSON_Delete(summary);
        if (st.job.error) printf("error: %s\n", st.job.error);
        printf("results: %s\n", st.output_dir);
        if (st.output_uri) printf("s3: %s\n", st.output_uri);
        code = st.job.state == SCHED_JOB_SUCCEEDED ? (st.error_cells ? EXIT_ERROR_CELLS : 0) : 1;
        if (code == EXIT_ERROR_CELLS)
            printf(
                "job %s succeeded with %llu error cell(s): `llmaj retry %s` (or llmaj-scheduler --resume) reruns them\n",
                job_id, (unsigned long long)st.error_cells, job_id);
        else printf("job %s %s\n", job_id, sched_job_state_name(st.job.state));
        sched_status_clear(&st);
    } else {
        fprintf(stderr, "llmaj-scheduler: job %s: cannot read how it ended:\n", job_id);
        errlist_print(&errs, stderr, "  ");
    }
    sched_db_close(&db);
    errlist_free(&errs);
    return code;
}

/* ------------------------------------------------------------------ the service ---- */

typedef struct {
    api_opts_t ao;
    api_t *api;
    char err[1024];
    bool failed;
} service_t;

/* sched_run's on_start: the database is open and the jobs taken up: start listening. */
static void on_start(sched_t *s, void *arg)
{
    service_t *sv = arg;
    sv->ao.db_path = sched_db_path(s);
    if (!(sv->api = api_start(&sv->ao, sv->err, sizeof sv->err))) {
        sv->failed = true;
        sched_shutdown(s);
        return;
    }
    pthread_mutex_lock(&g_sched_mu);
    g_down.api = sv->api;
    if (g_down.asked) api_close(sv->api); /* a signal came while it started */
    pthread_mutex_unlock(&g_sched_mu);
    printf("llmaj-scheduler listening on %s\n", api_url(sv->api));
    fflush(stdout);
    log_info("listening on %s (database %s, broker %s)", api_url(sv->api), sv->ao.db_path, sv->ao.broker);
}

/* The token: the file's first line (--token-file / LLMAJ_TOKEN_FILE), else LLMAJ_TOKEN. Caller
 * frees; NULL when none. -1 with err when the file cannot be read or holds no token. */
static int read_token(const char *file, char **token, char *err, size_t errlen)
{
    *token = NULL;
    if (!file) {
        const char *env = getenv("LLMAJ_TOKEN");
        if (env && *env) *token = xstrdup(env);
        return 0;
    }
    char *text = NULL;
    size_t len = 0;
    if (file_read_all(file, TOKEN_MAX, 0, &text, &len, err, errlen) < 0) return -1;
    size_t n = strcspn(text, "\r\n");
    text[n] = '\0';
    if (n == 0) {
        snprintf(err, errlen, "%s: holds no token (one line, not empty)", file);
        free(text);
        return -1;
    }
    *token = text;
    return 0;
}

/* Makes the folder the database lives in. */
static int db_folder(const char *db, char *err, size_t errlen)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", db);
    return file_mkdirs(dirname(tmp), 0755, err, errlen);
}

static int serve(sched_opts_t *o, const char *listen, const char *token_file)
{
    char err[1024], cwd[PATH_MAX];
    char *token = NULL;
    if (read_token(token_file, &token, err, sizeof err) < 0) {
        fprintf(stderr, "llmaj-scheduler: --token-file: %s\n", err);
        return 2;
    }
    if (db_folder(o->db_path, err, sizeof err) < 0) {
        fprintf(stderr, "llmaj-scheduler: --db %s: %s\n", o->db_path, err);
        free(token);
        return 1;
    }
    service_t sv = {.ao = {.listen = listen, .token = token, .base_dir = getcwd(cwd, sizeof cwd), .broker = o->broker}};
    errlist_t errs;
    errlist_init(&errs, 0);
    o->serve = true;
    o->on_start = on_start;
    o->on_start_arg = &sv;
    o->progress = progress;
    sched_t *s = sched_new(o, &errs);
    int code = 1;
    if (s) {
        sv.ao.engine = s;
        set_engine(s);
        if (daemon_on_signal(stop_cb, NULL) < 0) log_warn("cannot install signal handling");
        sched_err_t rc = sched_run(s, &errs);
        set_stage("waiting for the requests it had taken (a submission reading its dataset)", false);
        if (rc != SCHED_OK) {
            fprintf(stderr, "llmaj-scheduler: %s:\n", sched_strerror(rc));
            errlist_print(&errs, stderr, "  ");
        } else if (sv.failed) {
            fprintf(stderr, "llmaj-scheduler: %s\n", sv.err);
        } else {
            code = 0;
        }
    } else {
        fprintf(stderr, "llmaj-scheduler: internal error:\n");
        errlist_print(&errs, stderr, "  ");
    }
    pthread_mutex_lock(&g_sched_mu);
    g_down.api = NULL;
    pthread_mutex_unlock(&g_sched_mu);
    api_stop(&sv.api);
    set_engine(NULL);
    sched_destroy(&s);
    errlist_free(&errs);
    if (token) memset(token, 0, strlen(token));
    free(token);
    pthread_mutex_lock(&g_sched_mu);
    bool asked = g_down.asked;
    double took = asked ? mono_s() - g_down.t0 : 0;
    pthread_mutex_unlock(&g_sched_mu);
    set_stage("exiting", true);
    if (asked && code == 0)
        log_info("shut down in %.2f s: committed, BYE said, its jobs left for the next start", took);
    return code;
}

/* ------------------------------------------------------------------ one job ---- */

static int one_job(sched_opts_t *o, const char *spec, const char *resume, const char *metrics_addr)
{
    char err[1024];
    char *text = NULL;
    size_t len = 0;
    char tmp[PATH_MAX] = ".";
    const char *base = tmp;
    if (spec) {
        if (file_read_all(spec, SPEC_MAX, 0, &text, &len, err, sizeof err) < 0) {
            fprintf(stderr, "llmaj-scheduler: %s\n", err);
            return 2;
        }
        snprintf(tmp, sizeof tmp, "%s", spec);
        base = dirname(tmp);
    }
    g_snap.broker = o->broker;
    errlist_t errs;
    errlist_init(&errs, 0);
    o->until_idle = true;
    o->mlflow_wait_ms = -1;
    o->progress = progress;
    sched_t *s = sched_new(o, &errs);
    httpd_t *http = NULL;
    int code = 1;
    char job_id[SCHED_JOB_ID_MAX] = "";
    sched_err_t rc = SCHED_E_INTERNAL;
    if (!s) {
        fprintf(stderr, "llmaj-scheduler: internal error:\n");
        errlist_print(&errs, stderr, "  ");
        goto out;
    }
    set_engine(s);
    if (daemon_on_signal(stop_cb, NULL) < 0) log_warn("cannot install signal handling");
    if (metrics_addr) {
        if (!(http = httpd_start(metrics_addr, metrics_cb, ready_cb, NULL, err, sizeof err))) {
            fprintf(stderr, "llmaj-scheduler: --metrics-addr: %s\n", err);
            goto out;
        }
        printf("metrics on %s\n", httpd_url(http));
        fflush(stdout);
    }
    if (resume) {
        snprintf(job_id, sizeof job_id, "%s", resume);
        rc = sched_resume(s, resume, &errs);
    } else {
        sched_submit_t in = {.spec_json = text, .len = len, .origin = spec, .base_dir = base};
        rc = sched_submit(s, &in, job_id, &errs);
    }
    if (rc != SCHED_OK) {
        code = exit_code(rc);
        fprintf(stderr, "llmaj-scheduler: %s: %zu problem(s):\n",
                code == 2 ? "the job was not run" : sched_strerror(rc), errs.count);
        errlist_print(&errs, stderr, "  ");
        goto out;
    }
    if ((rc = sched_run(s, &errs)) != SCHED_OK) {
        fprintf(stderr, "llmaj-scheduler: %s:\n", sched_strerror(rc));
        errlist_print(&errs, stderr, "  ");
        goto out;
    }
    code = report_outcome(sched_db_path(s), job_id);
out:
    httpd_stop(&http);
    set_engine(NULL);
    sched_destroy(&s);
    free(text);
    errlist_free(&errs);
    return code;
}

int main(int argc, char **argv)
{
    const char *spec = NULL, *resume = NULL, *token_file = daemon_env("LLMAJ_TOKEN_FILE", NULL);
    const char *broker = daemon_env("LLMAJ_BROKER", "tcp://127.0.0.1:5555");
    const char *db = daemon_env("LLMAJ_DB", NULL);
    const char *window = daemon_env("LLMAJ_WINDOW", "64");
    const char *listen = daemon_env("LLMAJ_LISTEN", "127.0.0.1:8080");
    const char *max_jobs = daemon_env("LLMAJ_MAX_JOBS", "4");
    const char *stall_after = daemon_env("LLMAJ_STALL_AFTER", "600");
    const char *shutdown_timeout = daemon_env("LLMAJ_SHUTDOWN_TIMEOUT", "20");
    const char *curve_secret = daemon_env("LLMAJ_CURVE_SECRET", NULL);
    const char *curve_broker = daemon_env("LLMAJ_CURVE_BROKER_KEY", NULL);
    bool serve_flag = false;
    daemon_opts_t dopts;
    daemon_opts_init(&dopts);
    static const struct option longopts[] = {{"spec", required_argument, 0, 's'},
                                             {"broker", required_argument, 0, 'b'},
                                             {"db", required_argument, 0, 'd'},
                                             {"window", required_argument, 0, 'w'},
                                             {"resume", required_argument, 0, 'R'},
                                             {"help", no_argument, 0, 'h'},
                                             {"serve", no_argument, 0, 'V'},
                                             {"listen", required_argument, 0, 'L'},
                                             {"max-jobs", required_argument, 0, 'J'},
                                             {"token-file", required_argument, 0, 'T'},
                                             {"curve-secret", required_argument, 0, 'S'},
                                             {"curve-broker-key", required_argument, 0, 'K'},
                                             {"stall-after", required_argument, 0, 'A'},
                                             {"shutdown-timeout", required_argument, 0, 'G'},
                                             DAEMON_LONGOPTS,
                                             {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "s:b:h", longopts, NULL)) != -1) {
        switch (c) {
        case 's': spec = optarg; break;
        case 'b': broker = optarg; break;
        case 'd': db = optarg; break;
        case 'w': window = optarg; break;
        case 'R': resume = optarg; break;
        case 'V': serve_flag = true; break;
        case 'L': listen = optarg; break;
        case 'J': max_jobs = optarg; break;
        case 'T': token_file = optarg; break;
        case 'S': curve_secret = optarg; break;
        case 'K': curve_broker = optarg; break;
        case 'A': stall_after = optarg; break;
        case 'G': shutdown_timeout = optarg; break;
        case 'H':
        case 'D':
        case 'M':
        case 'l':
        case 'f': daemon_opts_set(&dopts, c, optarg); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    int forms = (spec != NULL) + (resume != NULL) + serve_flag;
    if (forms != 1 || optind < argc) {
        fprintf(stderr, "llmaj-scheduler: %s\n",
                optind < argc ? "unexpected argument" : "give one of --serve, --spec FILE or --resume JOB");
        usage(stderr);
        return 2;
    }
    char err[1024];
    long w, mj, st, stall_s;
    if (daemon_parse_int(window, 1, 1000000, &w, "--window", err, sizeof err) < 0 ||
        daemon_parse_int(stall_after, 1, 31 * 86400, &stall_s, "--stall-after", err, sizeof err) < 0 ||
        daemon_parse_int(max_jobs, 0, 100000, &mj, "--max-jobs", err, sizeof err) < 0 ||
        daemon_parse_int(shutdown_timeout, 1, 3600, &st, "--shutdown-timeout", err, sizeof err) < 0 ||
        daemon_opts_check(&dopts, err, sizeof err) < 0) {
        fprintf(stderr, "llmaj-scheduler: %s\n", err);
        return 2;
    }
    if (!curve_secret != !curve_broker) {
        fprintf(stderr, "llmaj-scheduler: %s\n",
                curve_secret ? "--curve-secret needs --curve-broker-key FILE (the broker's public key)"
                             : "--curve-broker-key needs --curve-secret FILE (this scheduler's secret key)");
        return 2;
    }
    if (daemon_setup_logging(dopts.log_level, dopts.log_format) < 0) return 2;
    static curve_keys_t keys; /* until exit: the engine's session copies it when it connects */
    if (curve_secret && curve_load_client(curve_secret, curve_broker, &keys, err, sizeof err) < 0) {
        fprintf(stderr, "llmaj-scheduler: %s\n", err);
        return 2;
    }
    sched_opts_t o = {.broker = broker,
                      .db_path = db,
                      .window = (int)w,
                      .heartbeat_ms = dopts.hb_ms,
                      .dead_after = dopts.dead_n,
                      .max_jobs = (int)mj,
                      .curve = curve_secret ? &keys : NULL,
                      .stall_after_ms = (int)(stall_s * 1000)};
    int code;
    if (serve_flag) {
        pthread_condattr_t ca;
        if (pthread_condattr_init(&ca) != 0 || pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
            pthread_cond_init(&g_down.cv, &ca) != 0) {
            fprintf(stderr, "llmaj-scheduler: cannot set up the shutdown's deadline\n");
            return 1;
        }
        pthread_condattr_destroy(&ca);
        g_down.timeout_s = (int)st;
        g_serve = true;
        if (!o.db_path) o.db_path = "runs/llmaj.db";
        if (dopts.metrics_addr)
            log_info("--serve: /metrics is served on --listen (%s); --metrics-addr is not used", listen);
        code = serve(&o, listen, token_file);
    } else {
        code = one_job(&o, spec, resume, dopts.metrics_addr);
    }
    curve_wipe(&keys);
    return code;
}
