/* llmaj-worker: the worker daemon (see worker.h). Settings from flags or LLMAJ_WORKER_* env. */
#include <getopt.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "daemon.h"
#include "httpd.h"
#include "log.h"
#include "worker.h"

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: llmaj-worker [--broker ENDPOINT] [--threads N] [--concurrency N] [--max-shards N]\n"
        "                    [--name NAME] [--region R] [--drain-timeout S]\n"
        "                    [--curve-secret FILE --curve-broker-key FILE] [--heartbeat-ms N] [--dead-after N]\n"
        "                    [--metrics-addr ADDR] [--log-level LEVEL] [--log-format text|json]\n"
        "  --broker       broker endpoint (env LLMAJ_BROKER; default tcp://127.0.0.1:5555)\n"
        "  --threads      worker threads, each a peer of the broker (env LLMAJ_WORKER_THREADS; default 1)\n"
        "  --concurrency  model calls in flight per thread (env LLMAJ_WORKER_CONCURRENCY; default 256)\n"
        "  --max-shards   shards held per thread at most (env LLMAJ_WORKER_MAX_SHARDS; default 8)\n"
        "  --name         worker name in logs (env LLMAJ_WORKER_NAME; default host-pid)\n"
        "  --region       AWS region for jobs whose spec names none (env AWS_REGION); a job's own\n"
        "                 region (every job that calls AWS has one) always wins\n"
        "  --drain-timeout on SIGTERM: hand back the shards not started, finish the running ones, and leave\n"
        "                 within S seconds (env LLMAJ_WORKER_DRAIN_TIMEOUT; default 25); a second signal stops at once\n"
        "  --curve-secret this worker's CURVE secret key file, from `llmaj keygen` (env LLMAJ_CURVE_SECRET)\n"
        "  --curve-broker-key the broker's CURVE public key file (env LLMAJ_CURVE_BROKER_KEY)\n"
        "  --metrics-addr serve /metrics, /healthz and /readyz on HOST:PORT, or :PORT or PORT on loopback\n"
        "                 (0.0.0.0:PORT: every interface; port 0: any free port) (env LLMAJ_METRICS_ADDR; default off)\n");
}

typedef struct {
    worker_t *w;
    const char *broker;
    long threads;
} mctx_t;

/* /metrics, on the HTTP server's thread: worker_get_stats is thread-safe. Counters are as of each
 * thread's last heartbeat. */
static int metrics_cb(buf_t *out, void *arg)
{
    const mctx_t *m = arg;
    worker_stats_t s;
    worker_get_stats(m->w, &s);
    const char *ok[] = {"result", "ok", NULL}, *failed[] = {"result", "failed", NULL};
    if (daemon_build_info(out, "worker") < 0 ||
        httpd_gauge(out, "llmaj_worker_threads", "Worker threads (each a peer of the broker).", (double)m->threads) <
            0 ||
        httpd_gauge(out, "llmaj_worker_threads_connected", "Threads welcomed by a broker now.", s.threads_connected) <
            0 ||
        httpd_gauge(out, "llmaj_worker_shards_held", "Shards held now.", s.shards_held) < 0 ||
        httpd_gauge(out, "llmaj_worker_shards_waiting", "Shards held and not started yet.", s.shards_waiting) < 0 ||
        httpd_counter(out, "llmaj_worker_shards_revoked_total",
                      "Leases the broker revoked here (no progress within their deadline).", s.shards_revoked) < 0 ||
        httpd_counter(out, "llmaj_worker_shards_returned_total",
                      "Shards handed back unstarted while draining (RETURN).", s.shards_returned) < 0 ||
        httpd_gauge(out, "llmaj_worker_calls_pending",
                    "Model calls accepted and not completed (queued, waiting for a retry, or on the wire).",
                    s.calls_pending) < 0 ||
        httpd_counter(out, "llmaj_worker_shards_done_total", "Shards finished.", s.shards_done) < 0 ||
        httpd_counter(out, "llmaj_worker_results_sent_total", "Results sent to the broker.", s.results_sent) < 0 ||
        httpd_family(out, "llmaj_worker_model_calls_total", HTTPD_COUNTER,
                     "Model calls (inference and judge) by outcome, after retries.") < 0 ||
        httpd_sample_u64(out, "llmaj_worker_model_calls_total", ok, s.calls_ok) < 0 ||
        httpd_sample_u64(out, "llmaj_worker_model_calls_total", failed, s.calls_failed) < 0 ||
        httpd_counter(out, "llmaj_worker_http_requests_total", "HTTP requests sent to model APIs.", s.http_requests) <
            0 ||
        httpd_counter(out, "llmaj_worker_retries_total", "HTTP requests retried.", s.retries) < 0 ||
        httpd_counter(out, "llmaj_worker_http_429_total", "Responses 429 (rate limited).", s.http_429) < 0 ||
        httpd_counter(out, "llmaj_worker_http_5xx_total", "Responses 5xx.", s.http_5xx) < 0 ||
        httpd_counter(out, "llmaj_worker_transport_errors_total", "Requests failed below HTTP (connect, TLS, timeout).",
                      s.transport_errors) < 0 ||
        httpd_counter(out, "llmaj_worker_input_tokens_total", "Input tokens the model APIs reported.", s.input_tokens) <
            0 ||
        httpd_counter(out, "llmaj_worker_output_tokens_total", "Output tokens the model APIs reported.",
                      s.output_tokens) < 0 ||
        httpd_counter(out, "llmaj_worker_reconnects_total", "Reconnections to the broker.", s.reconnects) < 0)
        return -1;
    return 0;
}

/* /readyz: ready while at least one thread is welcomed by a broker. */
static bool ready_cb(void *arg, char *reason, size_t len)
{
    const mctx_t *m = arg;
    if (worker_ready(m->w)) return true;
    snprintf(reason, len, "not connected to a broker: no WELCOME from %s yet", m->broker);
    return false;
}

static sem_t g_done;
static atomic_int g_signals;
static int g_drain_ms;

/* The first SIGTERM/SIGINT drains (Kubernetes scale-down); another stops at once. */
static void stop_cb(void *arg)
{
    if (atomic_fetch_add(&g_signals, 1) == 0) {
        worker_drain(arg, g_drain_ms);
        sem_post(&g_done);
    } else {
        worker_stop(arg);
    }
}

int main(int argc, char **argv)
{
    const char *broker = daemon_env("LLMAJ_BROKER", "tcp://127.0.0.1:5555");
    const char *threads = daemon_env("LLMAJ_WORKER_THREADS", "1");
    const char *conc = daemon_env("LLMAJ_WORKER_CONCURRENCY", "256");
    const char *shards = daemon_env("LLMAJ_WORKER_MAX_SHARDS", "8");
    const char *name = daemon_env("LLMAJ_WORKER_NAME", NULL);
    const char *region = daemon_env("AWS_REGION", daemon_env("AWS_DEFAULT_REGION", NULL));
    const char *drain = daemon_env("LLMAJ_WORKER_DRAIN_TIMEOUT", "25");
    const char *curve_secret = daemon_env("LLMAJ_CURVE_SECRET", NULL);
    const char *curve_broker = daemon_env("LLMAJ_CURVE_BROKER_KEY", NULL);
    daemon_opts_t d;
    daemon_opts_init(&d);
    static const struct option longopts[] = {{"broker", required_argument, 0, 'b'},
                                             {"threads", required_argument, 0, 't'},
                                             {"concurrency", required_argument, 0, 'c'},
                                             {"max-shards", required_argument, 0, 'm'},
                                             {"name", required_argument, 0, 'n'},
                                             {"region", required_argument, 0, 'r'},
                                             {"drain-timeout", required_argument, 0, 'T'},
                                             {"curve-secret", required_argument, 0, 'S'},
                                             {"curve-broker-key", required_argument, 0, 'K'},
                                             DAEMON_LONGOPTS,
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "b:t:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'b': broker = optarg; break;
        case 't': threads = optarg; break;
        case 'c': conc = optarg; break;
        case 'm': shards = optarg; break;
        case 'n': name = optarg; break;
        case 'r': region = optarg; break;
        case 'T': drain = optarg; break;
        case 'S': curve_secret = optarg; break;
        case 'K': curve_broker = optarg; break;
        case 'H':
        case 'D':
        case 'M':
        case 'l':
        case 'f': daemon_opts_set(&d, c, optarg); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "llmaj-worker: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    char err[512];
    long nt, nc, ns, nd;
    if (daemon_parse_int(threads, 1, 1024, &nt, "--threads", err, sizeof err) < 0 ||
        daemon_parse_int(drain, 0, 86400, &nd, "--drain-timeout", err, sizeof err) < 0 ||
        daemon_parse_int(conc, 1, 100000, &nc, "--concurrency", err, sizeof err) < 0 ||
        daemon_parse_int(shards, 1, 10000, &ns, "--max-shards", err, sizeof err) < 0 ||
        daemon_opts_check(&d, err, sizeof err) < 0) {
        fprintf(stderr, "llmaj-worker: %s\n", err);
        return 2;
    }
    if (!curve_secret != !curve_broker) {
        fprintf(stderr, "llmaj-worker: %s\n",
                curve_secret ? "--curve-secret needs --curve-broker-key FILE (the broker's public key)"
                             : "--curve-broker-key needs --curve-secret FILE (this worker's secret key)");
        return 2;
    }
    if (daemon_setup_logging(d.log_level, d.log_format) < 0) return 2;
    curve_keys_t keys;
    if (curve_secret && curve_load_client(curve_secret, curve_broker, &keys, err, sizeof err) < 0) {
        fprintf(stderr, "llmaj-worker: %s\n", err);
        return 2;
    }
    g_drain_ms = (int)nd * 1000;
    worker_opts_t o;
    worker_opts_default(&o);
    o.broker = broker;
    o.threads = (int)nt;
    o.max_concurrency = (int)nc;
    o.max_shards = (int)ns;
    o.name = name;
    o.region = region;
    o.heartbeat_ms = d.hb_ms;
    o.dead_after = d.dead_n;
    o.curve = curve_secret ? &keys : NULL;
    sem_init(&g_done, 0, 0);
    worker_t *w = worker_new(&o, err, sizeof err);
    curve_wipe(&keys);
    if (!w) {
        fprintf(stderr, "llmaj-worker: %s\n", err);
        return 1;
    }
    if (daemon_on_signal(stop_cb, w) < 0) {
        fprintf(stderr, "llmaj-worker: cannot install signal handling\n");
        worker_destroy(&w);
        return 1;
    }
    /* The HTTP server before the threads: a bad --metrics-addr stops us before any work is taken. */
    mctx_t mctx = {.w = w, .broker = broker, .threads = nt};
    httpd_t *http = NULL;
    if (d.metrics_addr && !(http = httpd_start(d.metrics_addr, metrics_cb, ready_cb, &mctx, err, sizeof err))) {
        fprintf(stderr, "llmaj-worker: --metrics-addr: %s\n", err);
        worker_destroy(&w);
        return 1;
    }
    if (worker_start(w) < 0) {
        fprintf(stderr, "llmaj-worker: cannot start\n");
        httpd_stop(&http);
        worker_destroy(&w);
        return 1;
    }
    log_info("worker started: %ld thread(s) -> %s", nt, broker);
    if (http) {
        printf("metrics on %s\n", httpd_url(http));
        fflush(stdout);
    }
    while (sem_wait(&g_done) != 0) {} /* sem_wait fails only when a signal interrupts it: wait again */
    worker_join(w);
    httpd_stop(&http);
    worker_stats_t st;
    worker_get_stats(w, &st);
    log_info("worker stopped: %llu shards done, %llu results sent, %llu model calls ok, %llu failed, %llu retries, "
             "%llu answered 429, %llu reconnects, %llu shards handed back",
             (unsigned long long)st.shards_done, (unsigned long long)st.results_sent, (unsigned long long)st.calls_ok,
             (unsigned long long)st.calls_failed, (unsigned long long)st.retries, (unsigned long long)st.http_429,
             (unsigned long long)st.reconnects, (unsigned long long)st.shards_returned);
    worker_destroy(&w);
    return 0;
}
