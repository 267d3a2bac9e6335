/* errlist: see errlist.h. */
#include "errlist.h"
#include "mem.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void errlist_init(errlist_t *e, size_t keep)
{
    memset(e, 0, sizeof(*e));
    e->keep = keep;
}

void errlist_free(errlist_t *e)
{
    for (size_t i = 0; i < e->n_kept; i++) free(e->msgs[i]);
    free(e->msgs);
    memset(e, 0, sizeof(*e));
}

void errlist_add(errlist_t *e, const char *fmt, ...)
{
    e->count++;
    if (e->keep && e->n_kept >= e->keep) return;
    va_list ap;
    va_start(ap, fmt);
    char *m = NULL;
    if (vasprintf(&m, fmt, ap) < 0) m = xstrdup("(unprintable error)");
    va_end(ap);
    e->msgs = xrealloc(e->msgs, (e->n_kept + 1) * sizeof(char *));
    e->msgs[e->n_kept++] = m;
}

void errlist_print(const errlist_t *e, FILE *f, const char *prefix)
{
    for (size_t i = 0; i < e->n_kept; i++) fprintf(f, "%s%s\n", prefix ? prefix : "", e->msgs[i]);
    if (e->count > e->n_kept) fprintf(f, "%s... and %zu more\n", prefix ? prefix : "", e->count - e->n_kept);
}
