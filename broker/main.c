/* llmaj-broker: the broker daemon (see broker.h). Settings from flags or LLMAJ_BROKER_* env. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "daemon.h"
#include "httpd.h"
#include "log.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: llmaj-broker [--bind ENDPOINT] [--curve-secret FILE --curve-clients DIR | --insecure]\n"
               "                    [--heartbeat-ms N] [--dead-after N] [--metrics-addr ADDR]\n"
               "                    [--log-level LEVEL] [--log-format text|json]\n"
               "  --bind          ZeroMQ endpoint to bind (env LLMAJ_BROKER_BIND; default tcp://127.0.0.1:5555)\n"
               "  --curve-secret  the broker's CURVE secret key file, from `llmaj keygen` (env LLMAJ_CURVE_SECRET)\n"
               "  --curve-clients folder of the public keys (*.key) allowed to connect, read again when it\n"
               "                  changes (env LLMAJ_CURVE_CLIENTS)\n"
               "  --insecure      bind a non-loopback address without CURVE: any host that reaches the port may\n"
               "                  take shards (env LLMAJ_INSECURE=1; refused otherwise)\n"
               "  --heartbeat-ms  heartbeat interval (env LLMAJ_HEARTBEAT_MS; default 1000)\n"
               "  --dead-after    silent intervals before a peer is dead (env LLMAJ_DEAD_AFTER; default 5)\n"
               "  --lease-floor-ms  the least deadline of a lease without a RESULT before it is revoked and leased\n"
               "                  again (schemas/protocol.md 6.4) (env LLMAJ_LEASE_FLOOR_MS; default 30000)\n"
               "  --stall-after   seconds a job may show no RESULT while shards of it are here before it is\n"
               "                  reported stalled (env LLMAJ_STALL_AFTER; default 600)\n"
               "  --metrics-addr  serve /metrics, /healthz and /readyz on HOST:PORT, or :PORT or PORT on loopback\n"
               "                  (0.0.0.0:PORT for every interface; port 0: any free port) (env LLMAJ_METRICS_ADDR;\n"
               "                  default off)\n");
}

static void stop_cb(void *arg) { broker_stop(arg); }

/* /metrics, on the HTTP server's thread: broker_get_stats is thread-safe. */
static int metrics_cb(buf_t *out, void *arg)
{
    broker_stats_t s;
    broker_get_stats(arg, &s);
    if (daemon_build_info(out, "broker") < 0 ||
        httpd_gauge(out, "llmaj_broker_workers_alive", "Worker peers (threads) heard from recently.", s.workers_alive) <
            0 ||
        httpd_gauge(out, "llmaj_broker_schedulers_alive", "Scheduler peers heard from recently.", s.schedulers_alive) <
            0 ||
        httpd_gauge(out, "llmaj_broker_shards_queued", "Shards waiting for a worker.", (double)s.shards_queued) < 0 ||
        httpd_gauge(out, "llmaj_broker_shards_leased", "Shards leased to workers now.", (double)s.shards_leased) < 0 ||
        httpd_counter(out, "llmaj_broker_shards_dispatched_total", "Shards sent to workers.", s.shards_dispatched) <
            0 ||
        httpd_counter(out, "llmaj_broker_shards_requeued_total", "Leased shards put back in the queue (worker lost).",
                      s.shards_requeued) < 0 ||
        httpd_counter(out, "llmaj_broker_shards_done_total", "SHARD_DONE messages forwarded to schedulers.",
                      s.shards_done) < 0 ||
        httpd_counter(out, "llmaj_broker_results_forwarded_total", "Results forwarded to schedulers.",
                      s.results_forwarded) < 0 ||
        httpd_counter(out, "llmaj_broker_workers_died_total", "Workers declared dead after silence.", s.workers_died) <
            0 ||
        httpd_counter(out, "llmaj_broker_messages_dropped_total", "Malformed or unexpected messages dropped.",
                      s.messages_dropped) < 0 ||
        httpd_counter(out, "llmaj_broker_shards_returned_total",
                      "Shards handed back unstarted by draining workers (RETURN), requeued at the front.",
                      s.shards_returned) < 0 ||
        httpd_counter(out, "llmaj_broker_submits_refused_total",
                      "SUBMITs refused: the job belongs to another scheduler session.", s.submits_refused) < 0 ||
        httpd_counter(out, "llmaj_broker_cancels_refused_total",
                      "CANCELs refused: the job belongs to another scheduler session, or is unknown here.",
                      s.cancels_refused) < 0 ||
        httpd_counter(out, "llmaj_broker_results_refused_total",
                      "RESULT, SHARD_DONE and RETURN dropped: not from the session holding that lease.",
                      s.results_refused) < 0 ||
        httpd_counter(out, "llmaj_broker_shards_revoked_total",
                      "Leases revoked: no RESULT within their deadline, or their worker quarantined.",
                      s.shards_revoked) < 0 ||
        httpd_counter(out, "llmaj_broker_workers_quarantined_total", "Worker quarantines so far.",
                      s.workers_quarantined_total) < 0 ||
        httpd_gauge(out, "llmaj_broker_workers_quarantined", "Worker sessions in quarantine now.",
                    s.workers_quarantined) < 0 ||
        httpd_gauge(out, "llmaj_broker_jobs_stalled", "Jobs with shards here and no RESULT for --stall-after.",
                    s.jobs_stalled) < 0 ||
        httpd_gauge(out, "llmaj_broker_jobs", "Jobs the broker knows (owned, not yet forgotten).",
                    (double)s.jobs_known) < 0 ||
        httpd_gauge(out, "llmaj_broker_curve", "1 when peers must speak CURVE with an allowed key.", s.curve) < 0)
        return -1;
    if (!s.curve) return 0;
    const char *key[] = {"reason", "key_not_allowed", NULL}, *plain[] = {"reason", "plaintext", NULL};
    const char *other[] = {"reason", "handshake_failed", NULL};
    if (httpd_gauge(out, "llmaj_broker_curve_keys", "Public keys allowed to connect now.", s.curve_keys) < 0 ||
        httpd_family(out, "llmaj_broker_handshakes_refused_total", HTTPD_COUNTER,
                     "Connections refused at the handshake, by reason.") < 0 ||
        httpd_sample_u64(out, "llmaj_broker_handshakes_refused_total", key, s.refused_key) < 0 ||
        httpd_sample_u64(out, "llmaj_broker_handshakes_refused_total", plain, s.refused_plaintext) < 0 ||
        httpd_sample_u64(out, "llmaj_broker_handshakes_refused_total", other, s.refused_other) < 0 ||
        httpd_counter(out, "llmaj_broker_messages_refused_total",
                      "Messages dropped because their sender's key was revoked after it connected.",
                      s.messages_refused) < 0)
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
    const char *curve_secret = daemon_env("LLMAJ_CURVE_SECRET", NULL);
    const char *curve_clients = daemon_env("LLMAJ_CURVE_CLIENTS", NULL);
    const char *insecure_env = daemon_env("LLMAJ_INSECURE", "0");
    const char *lease_floor = daemon_env("LLMAJ_LEASE_FLOOR_MS", "30000");
    const char *stall_after = daemon_env("LLMAJ_STALL_AFTER", "600");
    bool insecure = !strcmp(insecure_env, "1") || !strcmp(insecure_env, "true");
    daemon_opts_t d;
    daemon_opts_init(&d);
    static const struct option longopts[] = {{"bind", required_argument, 0, 'b'},
                                             {"curve-secret", required_argument, 0, 'S'},
                                             {"curve-clients", required_argument, 0, 'C'},
                                             {"insecure", no_argument, 0, 'I'},
                                             {"lease-floor-ms", required_argument, 0, 'F'},
                                             {"stall-after", required_argument, 0, 'A'},
                                             DAEMON_LONGOPTS,
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "b:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'b': bind = optarg; break;
        case 'S': curve_secret = optarg; break;
        case 'C': curve_clients = optarg; break;
        case 'I': insecure = true; break;
        case 'F': lease_floor = optarg; break;
        case 'A': stall_after = optarg; break;
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
        fprintf(stderr, "llmaj-broker: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    char err[512];
    long floor_ms, stall_s;
    if (daemon_opts_check(&d, err, sizeof err) < 0 ||
        daemon_parse_int(lease_floor, 100, 86400000, &floor_ms, "--lease-floor-ms", err, sizeof err) < 0 ||
        daemon_parse_int(stall_after, 1, 31 * 86400, &stall_s, "--stall-after", err, sizeof err) < 0) {
        fprintf(stderr, "llmaj-broker: %s\n", err);
        return 2;
    }
    if (strcmp(insecure_env, "0") && strcmp(insecure_env, "1") && strcmp(insecure_env, "true") &&
        strcmp(insecure_env, "false")) {
        fprintf(stderr, "llmaj-broker: LLMAJ_INSECURE: '%s' is not one of 0, 1, true, false\n", insecure_env);
        return 2;
    }
    if (!curve_secret != !curve_clients) {
        fprintf(stderr, "llmaj-broker: %s\n",
                curve_secret ? "--curve-secret needs --curve-clients DIR (the public keys allowed to connect)"
                             : "--curve-clients needs --curve-secret FILE (the broker's secret key)");
        return 2;
    }
    if (!curve_secret && !insecure && !broker_endpoint_is_local(bind)) {
        fprintf(
            stderr,
            "llmaj-broker: refusing to bind %s without CURVE: any host that reaches it could take shards and the\n"
            "  prompts in them. Give --curve-secret FILE and --curve-clients DIR (docs/kubernetes.md, \"Keys\"), or\n"
            "  --insecure on a network you trust.\n",
            bind);
        return 2;
    }
    if (daemon_setup_logging(d.log_level, d.log_format) < 0) return 2;
    curve_keys_t keys;
    if (curve_secret && curve_load_server(curve_secret, &keys, err, sizeof err) < 0) {
        fprintf(stderr, "llmaj-broker: --curve-secret %s\n", err);
        return 2;
    }
    if (!curve_secret && insecure && !broker_endpoint_is_local(bind))
        log_warn("--insecure: %s accepts plaintext peers from any host that reaches it", bind);
    broker_opts_t o;
    broker_opts_default(&o);
    o.endpoint = bind;
    o.heartbeat_ms = d.hb_ms;
    o.dead_after = d.dead_n;
    o.lease_floor_ms = floor_ms;
    o.stall_after_ms = (int64_t)stall_s * 1000;
    o.curve = curve_secret ? &keys : NULL;
    o.curve_clients = curve_clients;
    broker_t *b = broker_new(&o, err, sizeof err);
    curve_wipe(&keys);
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
