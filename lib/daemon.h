/* daemon: what every llmaj program's main shares: settings from flags or LLMAJ_* environment
 * variables (the options every daemon takes among them), log set-up, the build-info metric, and
 * SIGINT/SIGTERM turned into a stop callback. */
#ifndef LLMAJ_DAEMON_H
#define LLMAJ_DAEMON_H
#include <getopt.h>
#include <stddef.h>

#include "buf.h"

/* The value of environment variable `name` if set and non-empty, else `def`. */
const char *daemon_env(const char *name, const char *def);

/* Parses a decimal integer within [min, max]; -1 with a message naming `what` in err. */
int daemon_parse_int(const char *s, long min, long max, long *out, const char *what, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Applies --log-level / --log-format values (NULL = from LLMAJ_LOG_LEVEL / LLMAJ_LOG_FORMAT). */
int daemon_setup_logging(const char *level, const char *format) __attribute__((warn_unused_result));

/* Calls stop(arg) from a signal-handling thread on SIGINT or SIGTERM. Call before other threads. */
int daemon_on_signal(void (*stop)(void *arg), void *arg) __attribute__((warn_unused_result));

/* The options every daemon (broker, worker, scheduler) takes besides its own. The strings are
 * borrowed from the environment or argv. */
typedef struct {
    const char *heartbeat_ms; /* --heartbeat-ms, env LLMAJ_HEARTBEAT_MS, default "1000" */
    const char *dead_after;   /* --dead-after, env LLMAJ_DEAD_AFTER, default "5" */
    const char *metrics_addr; /* --metrics-addr, env LLMAJ_METRICS_ADDR; NULL: no HTTP server */
    const char *log_level;    /* --log-level; NULL: daemon_setup_logging reads the environment */
    const char *log_format;   /* --log-format; likewise */
    int hb_ms, dead_n;        /* heartbeat_ms and dead_after as numbers, set by daemon_opts_check */
} daemon_opts_t;

/* getopt_long entries for the options above, with the codes daemon_opts_set takes:
 * 'H' heartbeat-ms, 'D' dead-after, 'M' metrics-addr, 'l' log-level, 'f' log-format. */
#define DAEMON_LONGOPTS                                                                        \
    {"heartbeat-ms", required_argument, 0, 'H'}, {"dead-after", required_argument, 0, 'D'},    \
        {"metrics-addr", required_argument, 0, 'M'}, {"log-level", required_argument, 0, 'l'}, \
    {                                                                                          \
        "log-format", required_argument, 0, 'f'                                                \
    }

/* The defaults, from the environment. */
void daemon_opts_init(daemon_opts_t *d);
/* Takes option `code` (one of DAEMON_LONGOPTS's) with its argument. */
void daemon_opts_set(daemon_opts_t *d, int code, const char *arg);
/* Parses --heartbeat-ms (10..600000) and --dead-after (2..1000) into hb_ms and dead_n; -1 with a
 * message naming the option in err. */
int daemon_opts_check(daemon_opts_t *d, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Appends the llmaj_build_info family (always 1, labelled with the role and the version) to a
 * /metrics exposition. 0, or -1 when out is full. */
int daemon_build_info(buf_t *out, const char *role) __attribute__((warn_unused_result));

#endif
