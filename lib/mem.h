/* mem: the allocation wrapper. Out-of-memory is decided here, once: it logs and aborts.
 * Every other module may assume these never return NULL. */
#ifndef LLMAJ_MEM_H
#define LLMAJ_MEM_H
#include <stddef.h>

void *xmalloc(size_t n);               /* caller owns the result */
void *xcalloc(size_t count, size_t n); /* caller owns the result, zeroed */
void *xrealloc(void *p, size_t n);     /* like realloc; aborts instead of returning NULL */
char *xstrdup(const char *s);          /* NULL in, NULL out; caller owns the result */
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2))); /* caller owns */

/* Frees *pp and sets it to NULL. */
#define xfree(pp)     \
    do {              \
        free(*(pp));  \
        *(pp) = NULL; \
    } while (0)

#endif
