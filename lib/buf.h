/* buf: a growable byte buffer with a hard cap (after curl's dynbuf).
 * Owns its bytes; always NUL-terminated so text can be read in place. */
#ifndef LLMAJ_BUF_H
#define LLMAJ_BUF_H
#include <stdarg.h>
#include <stddef.h>

typedef struct {
    char *data; /* NUL-terminated; NULL until the first append */
    size_t len;
    size_t cap; /* allocated */
    size_t max; /* hard limit on len; 0 = unlimited */
} buf_t;

void buf_init(buf_t *b, size_t max);
void buf_free(buf_t *b);  /* frees the bytes; b can be reused after buf_init */
void buf_reset(buf_t *b); /* len = 0, keeps memory */
/* Appends; returns -1 (and appends nothing) if the result would pass max. */
int buf_append(buf_t *b, const void *p, size_t n) __attribute__((warn_unused_result));
int buf_puts(buf_t *b, const char *s) __attribute__((warn_unused_result));
int buf_putc(buf_t *b, char c) __attribute__((warn_unused_result));
int buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3), warn_unused_result));
int buf_vprintf(buf_t *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0), warn_unused_result));
/* Appends s as a JSON string literal, quotes included. */
int buf_json_str(buf_t *b, const char *s, size_t n) __attribute__((warn_unused_result));
/* Hands the bytes to the caller (caller owns, free()); b is left empty. Never NULL. */
char *buf_take(buf_t *b);

#endif
