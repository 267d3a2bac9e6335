/* daemon: shared start-up helpers; see daemon.h. Signals are blocked in every thread and taken
 * by one sigwait thread, so stop callbacks run in ordinary thread context (no async-signal rules). */
#include "daemon.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

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
