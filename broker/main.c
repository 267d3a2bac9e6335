/* llmaj-broker: the broker daemon (see broker.h). Settings from flags or LLMAJ_BROKER_* env. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "broker.h"
#include "daemon.h"
#include "log.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: llmaj-broker [--bind ENDPOINT] [--heartbeat-ms N] [--dead-after N]\n"
            "                    [--log-level LEVEL] [--log-format text|json]\n"
            "  --bind          ZeroMQ endpoint to bind (env LLMAJ_BROKER_BIND; default tcp://127.0.0.1:5555)\n"
            "  --heartbeat-ms  heartbeat interval (env LLMAJ_HEARTBEAT_MS; default 1000)\n"
            "  --dead-after    silent intervals before a peer is dead (env LLMAJ_DEAD_AFTER; default 5)\n");
}

static void stop_cb(void *arg) { broker_stop(arg); }

int main(int argc, char **argv)
{
    const char *bind = daemon_env("LLMAJ_BROKER_BIND", "tcp://127.0.0.1:5555");
    const char *hb = daemon_env("LLMAJ_HEARTBEAT_MS", "1000");
    const char *dead = daemon_env("LLMAJ_DEAD_AFTER", "5");
    const char *level = NULL, *format = NULL;
    static const struct option longopts[] = {
        {"bind", required_argument, 0, 'b'},       {"heartbeat-ms", required_argument, 0, 'H'},
        {"dead-after", required_argument, 0, 'D'}, {"log-level", required_argument, 0, 'l'},
        {"log-format", required_argument, 0, 'f'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "b:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'b': bind = optarg; break;
        case 'H': hb = optarg; break;
        case 'D': dead = optarg; break;
        case 'l': level = optarg; break;
        case 'f': format = optarg; break;
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
    long hb_ms, dead_n;
    if (daemon_parse_int(hb, 10, 600000, &hb_ms, "--heartbeat-ms", err, sizeof err) < 0 ||
        daemon_parse_int(dead, 2, 1000, &dead_n, "--dead-after", err, sizeof err) < 0) {
        fprintf(stderr, "llmaj-broker: %s\n", err);
        return 2;
    }
    if (daemon_setup_logging(level, format) < 0) return 2;
    broker_opts_t o;
    broker_opts_default(&o);
    o.endpoint = bind;
    o.heartbeat_ms = (int)hb_ms;
    o.dead_after = (int)dead_n;
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
    printf("llmaj-broker listening on %s\n", broker_endpoint(b));
    fflush(stdout);
    int rc = broker_run(b);
    broker_destroy(&b);
    return rc == 0 ? 0 : 1;
}
