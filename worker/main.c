/* llmaj-worker: the worker daemon (see worker.h). Settings from flags or LLMAJ_WORKER_* env. */
#include <getopt.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "worker.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: llmaj-worker [--broker ENDPOINT] [--threads N] [--concurrency N] [--max-shards N]\n"
            "                    [--name NAME] [--region R] [--heartbeat-ms N] [--dead-after N]\n"
            "                    [--log-level LEVEL] [--log-format text|json]\n"
            "  --broker       broker endpoint (env LLMAJ_BROKER; default tcp://127.0.0.1:5555)\n"
            "  --threads      worker threads, each a peer of the broker (env LLMAJ_WORKER_THREADS; default 1)\n"
            "  --concurrency  model calls in flight per thread (env LLMAJ_WORKER_CONCURRENCY; default 256)\n"
            "  --max-shards   shards held per thread at most (env LLMAJ_WORKER_MAX_SHARDS; default 8)\n"
            "  --name         worker name in logs (env LLMAJ_WORKER_NAME; default host-pid)\n"
            "  --region       default AWS region for Bedrock/SageMaker models (env AWS_REGION)\n");
}

static sem_t g_done;

static void stop_cb(void *arg)
{
    worker_stop(arg);
    sem_post(&g_done);
}

int main(int argc, char **argv)
{
    const char *broker = daemon_env("LLMAJ_BROKER", "tcp://127.0.0.1:5555");
    const char *threads = daemon_env("LLMAJ_WORKER_THREADS", "1");
    const char *conc = daemon_env("LLMAJ_WORKER_CONCURRENCY", "256");
    const char *shards = daemon_env("LLMAJ_WORKER_MAX_SHARDS", "8");
    const char *name = daemon_env("LLMAJ_WORKER_NAME", NULL);
    const char *region = daemon_env("AWS_REGION", daemon_env("AWS_DEFAULT_REGION", NULL));
    const char *hb = daemon_env("LLMAJ_HEARTBEAT_MS", "1000");
    const char *dead = daemon_env("LLMAJ_DEAD_AFTER", "5");
    const char *level = NULL, *format = NULL;
    static const struct option longopts[] = {
        {"broker", required_argument, 0, 'b'},      {"threads", required_argument, 0, 't'},
        {"concurrency", required_argument, 0, 'c'}, {"max-shards", required_argument, 0, 'm'},
        {"name", required_argument, 0, 'n'},        {"region", required_argument, 0, 'r'},
        {"heartbeat-ms", required_argument, 0, 'H'}, {"dead-after", required_argument, 0, 'D'},
        {"log-level", required_argument, 0, 'l'},   {"log-format", required_argument, 0, 'f'},
        {"help", no_argument, 0, 'h'},              {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "b:t:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'b': broker = optarg; break;
        case 't': threads = optarg; break;
        case 'c': conc = optarg; break;
        case 'm': shards = optarg; break;
        case 'n': name = optarg; break;
        case 'r': region = optarg; break;
        case 'H': hb = optarg; break;
        case 'D': dead = optarg; break;
        case 'l': level = optarg; break;
        case 'f': format = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "llmaj-worker: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    char err[512];
    long nt, nc, ns, hbv, dv;
    if (daemon_parse_int(threads, 1, 1024, &nt, "--threads", err, sizeof err) < 0 ||
        daemon_parse_int(conc, 1, 100000, &nc, "--concurrency", err, sizeof err) < 0 ||
        daemon_parse_int(shards, 1, 10000, &ns, "--max-shards", err, sizeof err) < 0 ||
        daemon_parse_int(hb, 10, 600000, &hbv, "--heartbeat-ms", err, sizeof err) < 0 ||
        daemon_parse_int(dead, 2, 1000, &dv, "--dead-after", err, sizeof err) < 0) {
        fprintf(stderr, "llmaj-worker: %s\n", err);
        return 2;
    }
    if (daemon_setup_logging(level, format) < 0) return 2;
    worker_opts_t o;
    worker_opts_default(&o);
    o.broker = broker;
    o.threads = (int)nt;
    o.max_concurrency = (int)nc;
    o.max_shards = (int)ns;
    o.name = name;
    o.region = region;
    o.heartbeat_ms = (int)hbv;
    o.dead_after = (int)dv;
    sem_init(&g_done, 0, 0);
    worker_t *w = worker_new(&o, err, sizeof err);
    if (!w) {
        fprintf(stderr, "llmaj-worker: %s\n", err);
        return 1;
    }
    if (daemon_on_signal(stop_cb, w) < 0 || worker_start(w) < 0) {
        fprintf(stderr, "llmaj-worker: cannot start\n");
        worker_destroy(&w);
        return 1;
    }
    log_info("worker started: %ld thread(s) -> %s", nt, broker);
    while (sem_wait(&g_done) != 0) {}
    worker_join(w);
    worker_stats_t st;
    worker_get_stats(w, &st);
    log_info("worker stopped: %llu shards done, %llu results sent, %llu model calls ok, %llu failed, %llu retries, "
             "%llu answered 429, %llu reconnects",
             (unsigned long long)st.shards_done, (unsigned long long)st.results_sent, (unsigned long long)st.calls_ok,
             (unsigned long long)st.calls_failed, (unsigned long long)st.retries, (unsigned long long)st.http_429,
             (unsigned long long)st.reconnects);
    worker_destroy(&w);
    return 0;
}
