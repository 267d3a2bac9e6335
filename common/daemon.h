/* daemon: what every llmaj program's main shares: settings from flags or LLMAJ_* environment
 * variables, log set-up, and SIGINT/SIGTERM turned into a stop callback. */
#ifndef LLMAJ_DAEMON_H
#define LLMAJ_DAEMON_H
#include <stddef.h>

/* The value of environment variable `name` if set and non-empty, else `def`. */
const char *daemon_env(const char *name, const char *def);

/* Parses a decimal integer within [min, max]; -1 with a message naming `what` in err. */
int daemon_parse_int(const char *s, long min, long max, long *out, const char *what, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Applies --log-level / --log-format values (NULL = from LLMAJ_LOG_LEVEL / LLMAJ_LOG_FORMAT). */
int daemon_setup_logging(const char *level, const char *format) __attribute__((warn_unused_result));

/* Calls stop(arg) from a signal-handling thread on SIGINT or SIGTERM. Call before other threads. */
int daemon_on_signal(void (*stop)(void *arg), void *arg) __attribute__((warn_unused_result));

#endif
