/* llmaj-broker: the broker daemon (see broker.h). Settings from flags or LLMAJ_BROKER_* env. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "broker.h"
#include "daemon.h"
#include "httpd.h"
#include "log.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: llmaj-broker [--bind ENDPOINT] [--heartbeat-ms N] [--dead-after N] [--metrics-addr ADDR]\n"
            "                    [--log-level LEVEL] [--log-format text|json]\n"
            "  --bind          ZeroMQ endpoint to bind (env LLMAJ_BROKER_BIND; default tcp://127.0.0.1:5555)\n"
            "  --heartbeat-ms  heartbeat interval (env LLMAJ_HEARTBEAT_MS; default 1000)\n"
            "  --dead-after    silent intervals before a peer is dead (env LLMAJ_DEAD_AFTER; default 5)\n"
            "  --metrics-addr  serve /metrics, /healthz and /readyz on HOST:PORT, :PORT or PORT (port 0: any free\n"
            "                  port) (env LLMAJ_METRICS_ADDR; default off)\n");
}

static void stop_cb(void *arg) { broker_stop(arg); }

/* /metrics, on the HTTP server's thread: broker_get_stats is thread-safe. */
static int metrics_cb(buf_t *out, void *arg)
{
    broker_stats_t s;
    broker_get_stats(arg, &s);
    if (daemon_build_info(out, "broker") < 0 ||
        httpd_gauge(out, "llmaj_broker_workers_alive",
                    "Worker peers (threads) heard from recently.", s.workers_alive) < 0 ||
        httpd_gauge(out, "llmaj_broker_schedulers_alive",
                    "Scheduler peers heard from recently.", s.schedulers_alive) < 0 ||
        httpd_gauge(out, "llmaj_broker_shards_queued", "Shards waiting for a worker.", (double)s.shards_queued) < 0 ||
        httpd_gauge(out, "llmaj_broker_shards_leased", "Shards leased to workers now.", (double)s.shards_leased) < 0 ||
        httpd_counter(out, "llmaj_broker_shards_dispatched_total",
                      "Shards sent to workers.", s.shards_dispatched) < 0 ||
        httpd_counter(out, "llmaj_broker_shards_requeued_total", "Leased shards put back in the queue (worker lost).",
                      s.shards_requeued) < 0 ||
        httpd_counter(out, "llmaj_broker_shards_done_total", "SHARD_DONE messages forwarded to schedulers.",
                      s.shards_done) < 0 ||
        httpd_counter(out, "llmaj_broker_results_forwarded_total", "Results forwarded to schedulers.",
                      s.results_forwarded) < 0 ||
        httpd_counter(out, "llmaj_broker_workers_died_total",
                      "Workers declared dead after silence.", s.workers_died) < 0 ||
        httpd_counter(out, "llmaj_broker_messages_dropped_total", "Malformed or unexpected messages dropped.",
                      s.messages_dropped) < 0)
        return -1;
    return 0;
}

/* /readyz: ready once the socket is bound and the loop serves it. */
static bool ready_cb(void *arg, char *reason, size_t len)
{
    if (broker_ready(arg)) return true;
    snprintf(reason, len, "the broker is not serving %s (starting or stopping)", broker_endpoint(arg));
    return false;
}

int main(int argc, char **argv)
{
    const char *bind = daemon_env("LLMAJ_BROKER_BIND", "tcp://127.0.0.1:5555");
    daemon_opts_t d;
    daemon_opts_init(&d);
    static const struct option longopts[] = {
        {"bind", required_argument, 0, 'b'}, DAEMON_LONGOPTS, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "b:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'b': bind = optarg; break;
        case 'H': case 'D': case 'M': case 'l': case 'f': daemon_opts_set(&d, c, optarg); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "llmaj-broker: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    char err[512];
    if (daemon_opts_check(&d, err, sizeof err) < 0) {
        fprintf(stderr, "llmaj-broker: %s\n", err);
        return 2;
    }
    if (daemon_setup_logging(d.log_level, d.log_format) < 0) return 2;
    broker_opts_t o;
    broker_opts_default(&o);
    o.endpoint = bind;
    o.heartbeat_ms = d.hb_ms;
    o.dead_after = d.dead_n;
    broker_t *b = broker_new(&o, err, sizeof err);
    if (!b) {
        fprintf(stderr, "llmaj-broker: %s\n", err);
        return 1;
    }
    if (daemon_on_signal(stop_cb, b) < 0) {
        fprintf(stderr, "llmaj-broker: cannot install signal handling\n");
        broker_destroy(&b);
        return 1;
    }
    httpd_t *http = NULL;
    if (d.metrics_addr && !(http = httpd_start(d.metrics_addr, metrics_cb, ready_cb, b, err, sizeof err))) {
        fprintf(stderr, "llmaj-broker: --metrics-addr: %s\n", err);
        broker_destroy(&b);
        return 1;
    }
    printf("llmaj-broker listening on %s\n", broker_endpoint(b));
    if (http) printf("metrics on %s\n", httpd_url(http));
    fflush(stdout);
    int rc = broker_run(b);
    httpd_stop(&http);
    broker_destroy(&b);
    return rc == 0 ? 0 : 1;
}
