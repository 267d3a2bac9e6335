/* log: see log.h. One write(2) per line so lines from threads never interleave. */
#include "log.h"
#include "buf.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static atomic_int g_level = LOG_INFO;
static atomic_int g_format = LOG_FORMAT_TEXT;
static const char *const names[] = {"debug", "info", "warn", "error", "off"};

void log_set_level(log_level_t level) { atomic_store(&g_level, (int)level); }
log_level_t log_get_level(void) { return (log_level_t)atomic_load(&g_level); }
void log_set_format(log_format_t fmt) { atomic_store(&g_format, (int)fmt); }

int log_parse_level(const char *s, log_level_t *out)
{
    for (int i = 0; i <= LOG_OFF; i++)
        if (strcasecmp(s, names[i]) == 0) {
            *out = (log_level_t)i;
            return 0;
        }
    if (strcasecmp(s, "warning") == 0) {
        *out = LOG_WARN;
        return 0;
    }
    return -1;
}

int log_parse_format(const char *s, log_format_t *out)
{
    if (strcasecmp(s, "text") == 0) {
        *out = LOG_FORMAT_TEXT;
        return 0;
    }
    if (strcasecmp(s, "json") == 0) {
        *out = LOG_FORMAT_JSON;
        return 0;
    }
    return -1;
}

void log_emit(log_level_t level, const char *module, const char *file, int line, const char *fmt, ...)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[80];
    snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, (long)(tv.tv_usec / 1000));

    buf_t msg;
    buf_init(&msg, 64 * 1024);
    va_list ap;
    va_start(ap, fmt);
    if (buf_vprintf(&msg, fmt, ap) < 0) {
        /* Past the cap: say so rather than print a cut line. After the reset this short text
         * fits; were it not to, the line would be empty, which is all a logger can do. */
        buf_reset(&msg);
        if (buf_puts(&msg, "(log line too long)") < 0) buf_reset(&msg);
    }
    va_end(ap);

    buf_t out;
    buf_init(&out, 0);
    int rc = 0;
    if (atomic_load(&g_format) == LOG_FORMAT_JSON) {
        rc |= buf_printf(&out, "{\"ts\":\"%s\",\"level\":\"%s\",\"module\":", ts, names[level]);
        rc |= buf_json_str(&out, module, strlen(module));
        if (file) {
            rc |= buf_puts(&out, ",\"src\":");
            char src[256];
            snprintf(src, sizeof src, "%s:%d", file, line);
            rc |= buf_json_str(&out, src, strlen(src));
        }
        rc |= buf_puts(&out, ",\"msg\":");
        rc |= buf_json_str(&out, msg.data ? msg.data : "", msg.len);
        rc |= buf_puts(&out, "}\n");
    } else {
        rc |= buf_printf(&out, "%s %-5s %s: %s", ts, names[level], module, msg.data ? msg.data : "");
        if (file) {
            const char *base = strrchr(file, '/');
            rc |= buf_printf(&out, " (%s:%d)", base ? base + 1 : file, line);
        }
        rc |= buf_putc(&out, '\n');
    }
    (void)rc;
    ssize_t w = write(STDERR_FILENO, out.data, out.len);
    (void)w;
    buf_free(&out);
    buf_free(&msg);
}
