/* log: one logging macro for every program. Lines go to stderr, stamped with time, level and
 * module (and file:line in debug builds); `log_set_format(LOG_FORMAT_JSON)` switches to JSON lines.
 * Secrets must never be passed here: callers log key names, not values. Thread-safe. */
#ifndef LLMAJ_LOG_H
#define LLMAJ_LOG_H

typedef enum { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF } log_level_t;
typedef enum { LOG_FORMAT_TEXT = 0, LOG_FORMAT_JSON } log_format_t;

void log_set_level(log_level_t level);
log_level_t log_get_level(void);
void log_set_format(log_format_t fmt);
/* Parses "debug|info|warn|error|off" and "text|json"; -1 if unknown. */
int log_parse_level(const char *s, log_level_t *out);
int log_parse_format(const char *s, log_format_t *out);

void log_emit(log_level_t level, const char *module, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#ifdef NDEBUG
#define LOG_WHERE NULL, 0
#else
#define LOG_WHERE __FILE__, __LINE__
#endif
/* Each .c defines LOG_MODULE before including log.h, e.g. #define LOG_MODULE "broker". */
#ifndef LOG_MODULE
#define LOG_MODULE "llmaj"
#endif
#define LOG(level, ...)                                                                        \
    do {                                                                                       \
        if ((level) >= log_get_level()) log_emit((level), LOG_MODULE, LOG_WHERE, __VA_ARGS__); \
    } while (0)
#define log_debug(...) LOG(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) LOG(LOG_INFO, __VA_ARGS__)
#define log_warn(...) LOG(LOG_WARN, __VA_ARGS__)
#define log_error(...) LOG(LOG_ERROR, __VA_ARGS__)

#endif
