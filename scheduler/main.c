/* llmaj-scheduler: the scheduler engine as a program. Today it runs one job through a broker
 * (--spec FILE, or --resume JOB from the job database) and exits when the job has ended and its
 * MLflow sync is done; the REST control plane will make it a service. Exit status as `llmaj run`:
 * 0 succeeded, 1 failed (or the engine could not run), 2 bad input. */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "curve.h"
#include "daemon.h"
#include "errlist.h"
#include "file.h"
#include "httpd.h"
#include "log.h"
#include "mem.h"
#include "scheduler.h"

#define SPEC_MAX (64u << 20)

static void usage(FILE *f)
{
    fprintf(f,
            "usage: llmaj-scheduler --spec FILE | --resume JOB [--broker ENDPOINT] [--db PATH] [--window N]\n"
            "                       [--curve-secret FILE --curve-broker-key FILE]\n"
            "                       [--heartbeat-ms N] [--dead-after N] [--metrics-addr ADDR]\n"
            "                       [--log-level LEVEL] [--log-format text|json]\n"
            "  --spec     the job spec (JSON) to run\n"
            "  --resume   finish job JOB from the database (after a stop, or a crash of its scheduler)\n"
            "  --broker   broker endpoint (env LLMAJ_BROKER; default tcp://127.0.0.1:5555)\n"
            "  --db       job database (env LLMAJ_DB; default <output_path>/llmaj.db, runs/llmaj.db for --resume)\n"
            "  --window   shards in flight at most (env LLMAJ_WINDOW; default 64)\n"
            "  --curve-secret      this scheduler's CURVE secret key file, from `llmaj keygen` (env LLMAJ_CURVE_SECRET)\n"
            "  --curve-broker-key  the broker's CURVE public key file (env LLMAJ_CURVE_BROKER_KEY)\n"
            "  --metrics-addr  serve /metrics, /healthz and /readyz on HOST:PORT, :PORT or PORT (port 0: any\n"
            "                  free port) (env LLMAJ_METRICS_ADDR; default off)\n");
}

/* Exit codes of the one-job form (DESIGN.md "CLI"). */
static int exit_code(sched_err_t e) { return e == SCHED_E_INPUT || e == SCHED_E_NOTFOUND || e == SCHED_E_STATE ? 2 : 1; }

/* The last progress report, for /metrics and /readyz on the HTTP server's thread. */
static struct {
    pthread_mutex_t mu;
    bool have;                /* a report arrived (the job runs) */
    sched_progress_t p;         /* p.job_id points at job_id */
    char job_id[96];
    const char *broker;
} g_snap = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void progress(const sched_progress_t *p, void *arg)
{
    (void)arg;
    pthread_mutex_lock(&g_snap.mu);
    g_snap.p = *p;
    snprintf(g_snap.job_id, sizeof g_snap.job_id, "%s", p->job_id ? p->job_id : "");
    g_snap.p.job_id = g_snap.job_id;
    g_snap.have = true;
    pthread_mutex_unlock(&g_snap.mu);
    static double last = -1e9;
    if (!p->finished && p->elapsed_s - last < 5) return;
    last = p->elapsed_s;
    log_info("job %s: %llu/%llu record-targets, shards %llu/%llu, %u worker(s)", p->job_id,
             (unsigned long long)p->units_done, (unsigned long long)p->units_total,
             (unsigned long long)p->shards_done, (unsigned long long)p->shards_total, p->workers);
}

/* The engine a signal stops; cleared (under the lock) before the engine is freed, since the
 * signal thread outlives it. */
static pthread_mutex_t g_sched_mu = PTHREAD_MUTEX_INITIALIZER;
static sched_t *g_sched;

static void stop_cb(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&g_sched_mu);
    if (g_sched) sched_stop_all(g_sched);
    pthread_mutex_unlock(&g_sched_mu);
}

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
        httpd_gauge(out, "llmaj_scheduler_job_units",
                    "(record, target) pairs of the job.", (double)p.units_total) < 0 ||
        httpd_counter(out, "llmaj_scheduler_units_done_total", "(record, target) pairs committed.", p.units_done) < 0 ||
        httpd_gauge(out, "llmaj_scheduler_job_shards", "Shards of the job.", (double)p.shards_total) < 0 ||
        httpd_counter(out, "llmaj_scheduler_shards_done_total", "Shards completed.", p.shards_done) < 0 ||
        httpd_gauge(out, "llmaj_scheduler_shards_inflight",
                    "Shards submitted and not done.", (double)p.shards_inflight) < 0 ||
        httpd_family(out, "llmaj_scheduler_scores_total", HTTPD_COUNTER, "Scores committed, by status.") < 0 ||
        httpd_sample_u64(out, "llmaj_scheduler_scores_total", st_ok, p.scores_ok) < 0 ||
        httpd_sample_u64(out, "llmaj_scheduler_scores_total", st_uns, p.scores_unscored) < 0 ||
        httpd_sample_u64(out, "llmaj_scheduler_scores_total", st_err, p.scores_error) < 0 ||
        httpd_sample_u64(out, "llmaj_scheduler_scores_total", st_na, p.scores_na) < 0 ||
        httpd_gauge(out, "llmaj_scheduler_job_elapsed_seconds",
                    "Seconds since the job started running.", p.elapsed_s) < 0 ||
        httpd_gauge(out, "llmaj_scheduler_job_finished", "1 once the job's run has ended.", p.finished) < 0)
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
        printf("job %s %s\nresults: %s\n", job_id, sched_job_state_name(st.job.state), st.output_dir);
        if (st.output_uri) printf("s3: %s\n", st.output_uri);
        if (st.job.error) printf("error: %s\n", st.job.error);
        code = st.job.state == SCHED_JOB_SUCCEEDED ? 0 : 1;
        sched_status_clear(&st);
    } else {
        fprintf(stderr, "llmaj-scheduler: job %s: cannot read how it ended:\n", job_id);
        errlist_print(&errs, stderr, "  ");
    }
    sched_db_close(&db);
    errlist_free(&errs);
    return code;
}

int main(int argc, char **argv)
{
    const char *spec = NULL, *resume = NULL;
    const char *broker = daemon_env("LLMAJ_BROKER", "tcp://127.0.0.1:5555");
    const char *db = daemon_env("LLMAJ_DB", NULL);
    const char *window = daemon_env("LLMAJ_WINDOW", "64");
    const char *curve_secret = daemon_env("LLMAJ_CURVE_SECRET", NULL);
    const char *curve_broker = daemon_env("LLMAJ_CURVE_BROKER_KEY", NULL);
    daemon_opts_t dopts;
    daemon_opts_init(&dopts);
    static const struct option longopts[] = {
        {"spec", required_argument, 0, 's'},   {"broker", required_argument, 0, 'b'},
        {"db", required_argument, 0, 'd'},     {"window", required_argument, 0, 'w'},
        {"resume", required_argument, 0, 'R'}, {"help", no_argument, 0, 'h'},
        {"curve-secret", required_argument, 0, 'S'}, {"curve-broker-key", required_argument, 0, 'K'},
        DAEMON_LONGOPTS,                       {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "s:b:h", longopts, NULL)) != -1) {
        switch (c) {
        case 's': spec = optarg; break;
        case 'b': broker = optarg; break;
        case 'd': db = optarg; break;
        case 'w': window = optarg; break;
        case 'R': resume = optarg; break;
        case 'S': curve_secret = optarg; break;
        case 'K': curve_broker = optarg; break;
        case 'H': case 'D': case 'M': case 'l': case 'f': daemon_opts_set(&dopts, c, optarg); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if ((!spec == !resume) || optind < argc) {
        fprintf(stderr, "llmaj-scheduler: %s\n", optind < argc ? "unexpected argument"
                                                 : "give either --spec FILE or --resume JOB");
        usage(stderr);
        return 2;
    }
    char err[1024];
    long w;
    if (daemon_parse_int(window, 1, 1000000, &w, "--window", err, sizeof err) < 0 ||
        daemon_opts_check(&dopts, err, sizeof err) < 0) {
        fprintf(stderr, "llmaj-scheduler: %s\n", err);
        return 2;
    }
    if (!curve_secret != !curve_broker) {
        fprintf(stderr, "llmaj-scheduler: %s\n", curve_secret ? "--curve-secret needs --curve-broker-key FILE (the broker's public key)"
                                                             : "--curve-broker-key needs --curve-secret FILE (this scheduler's secret key)");
        return 2;
    }
    if (daemon_setup_logging(dopts.log_level, dopts.log_format) < 0) return 2;
    static curve_keys_t keys;   /* until exit: the engine's session copies it when it connects */
    if (curve_secret && curve_load_client(curve_secret, curve_broker, &keys, err, sizeof err) < 0) {
        fprintf(stderr, "llmaj-scheduler: %s\n", err);
        return 2;
    }
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
    g_snap.broker = broker;
    errlist_t errs;
    errlist_init(&errs, 0);
    sched_opts_t o = {.broker = broker, .db_path = db, .window = (int)w, .heartbeat_ms = dopts.hb_ms,
                      .dead_after = dopts.dead_n, .until_idle = true, .mlflow_wait_ms = -1, .progress = progress,
                      .curve = curve_secret ? &keys : NULL};
    sched_t *s = sched_new(&o, &errs);
    httpd_t *http = NULL;
    int code = 1;
    char job_id[SCHED_JOB_ID_MAX] = "";
    sched_err_t rc = SCHED_E_INTERNAL;
    if (!s) {
        fprintf(stderr, "llmaj-scheduler: internal error:\n");
        errlist_print(&errs, stderr, "  ");
        goto out;
    }
    pthread_mutex_lock(&g_sched_mu);
    g_sched = s;
    pthread_mutex_unlock(&g_sched_mu);
    if (daemon_on_signal(stop_cb, NULL) < 0) log_warn("cannot install signal handling");
    if (dopts.metrics_addr) {
        if (!(http = httpd_start(dopts.metrics_addr, metrics_cb, ready_cb, NULL, err, sizeof err))) {
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
    pthread_mutex_lock(&g_sched_mu);
    g_sched = NULL;
    pthread_mutex_unlock(&g_sched_mu);
    sched_destroy(&s);
    free(text);
    curve_wipe(&keys);
    errlist_free(&errs);
    return code;
}
