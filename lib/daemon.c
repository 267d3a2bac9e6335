/* daemon: shared start-up helpers; see daemon.h. Signals are blocked in every thread and taken
 * by one sigwait thread, so stop callbacks run in ordinary thread context (no async-signal rules). */
#include "daemon.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "httpd.h"
#include "log.h"

const char *daemon_env(const char *name, const char *def)
{
    const char *v = getenv(name);
    return v && *v ? v : def;
}

int daemon_parse_int(const char *s, long min, long max, long *out, const char *what, char *err, size_t errlen)
{
    if (!s || !*s) {
        snprintf(err, errlen, "%s: a number is required", what);
        return -1;
    }
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max) {
        snprintf(err, errlen, "%s: '%s' is not an integer from %ld to %ld", what, s, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

int daemon_setup_logging(const char *level, const char *format)
{
    if (!level) level = daemon_env("LLMAJ_LOG_LEVEL", "info");
    if (!format) format = daemon_env("LLMAJ_LOG_FORMAT", "text");
    log_level_t l;
    log_format_t f;
    if (log_parse_level(level, &l) < 0) {
        fprintf(stderr, "--log-level: '%s' is not one of debug, info, warn, error, off\n", level);
        return -1;
    }
    if (log_parse_format(format, &f) < 0) {
        fprintf(stderr, "--log-format: '%s' is not one of text, json\n", format);
        return -1;
    }
    log_set_level(l);
    log_set_format(f);
    return 0;
}

typedef struct {
    void (*stop)(void *);
    void *arg;
    sigset_t set;
} sigctx_t;

static sigctx_t g_sig;

static void *sig_thread(void *unused)
{
    (void)unused;
    for (;;) {
        int sig = 0;
        if (sigwait(&g_sig.set, &sig) != 0) continue;
        log_info("signal %d: stopping", sig);
        g_sig.stop(g_sig.arg);
    }
    return NULL;
}

int daemon_on_signal(void (*stop)(void *arg), void *arg)
{
    g_sig.stop = stop;
    g_sig.arg = arg;
    sigemptyset(&g_sig.set);
    sigaddset(&g_sig.set, SIGINT);
    sigaddset(&g_sig.set, SIGTERM);
    if (pthread_sigmask(SIG_BLOCK, &g_sig.set, NULL) != 0) return -1;
    signal(SIGPIPE, SIG_IGN);
    pthread_t t;
    if (pthread_create(&t, NULL, sig_thread, NULL) != 0) return -1;
    pthread_detach(t);
    return 0;
}

void daemon_opts_init(daemon_opts_t *d)
{
    *d = (daemon_opts_t){
        .heartbeat_ms = daemon_env("LLMAJ_HEARTBEAT_MS", "1000"),
        .dead_after = daemon_env("LLMAJ_DEAD_AFTER", "5"),
        .metrics_addr = daemon_env("LLMAJ_METRICS_ADDR", NULL),
    };
}

void daemon_opts_set(daemon_opts_t *d, int code, const char *arg)
{
    switch (code) {
    case 'H': d->heartbeat_ms = arg; break;
    case 'D': d->dead_after = arg; break;
    case 'M': d->metrics_addr = arg; break;
    case 'l': d->log_level = arg; break;
    case 'f': d->log_format = arg; break;
    default: break;
    }
}

int daemon_opts_check(daemon_opts_t *d, char *err, size_t errlen)
{
    long hb, dead;
    if (daemon_parse_int(d->heartbeat_ms, 10, 600000, &hb, "--heartbeat-ms", err, errlen) < 0 ||
        daemon_parse_int(d->dead_after, 2, 1000, &dead, "--dead-after", err, errlen) < 0)
        return -1;
    d->hb_ms = (int)hb;
    d->dead_n = (int)dead;
    return 0;
}

int daemon_build_info(buf_t *out, const char *role)
{
    const char *labels[] = {"role", role, "version", LLMAJ_VERSION, NULL};
    if (httpd_family(out, "llmaj_build_info", HTTPD_GAUGE, "Always 1: the program and its version.") < 0 ||
        httpd_sample(out, "llmaj_build_info", labels, 1) < 0)
        return -1;
    return 0;
}
