/* errlist: a list of human-readable problems found while validating input (a spec, a dataset,
 * a custom metric). Validation collects every problem instead of stopping at the first, so a
 * user sees them all at once. Each message names where the problem is: a spec key
 * ("custom_metrics[1].customMetricDefinition.name: ..."), or "FILE:LINE: ..." for a dataset. */
#ifndef LLMAJ_ERRLIST_H
#define LLMAJ_ERRLIST_H
#include <stddef.h>
#include <stdio.h>

typedef struct {
    char **msgs; /* the first `keep` messages */
    size_t n_kept;
    size_t count; /* every problem added, kept or not */
    size_t keep;  /* how many messages to keep; 0 = all */
} errlist_t;

void errlist_init(errlist_t *e, size_t keep);
void errlist_free(errlist_t *e);
void errlist_add(errlist_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Writes each kept message on its own line with `prefix`, then "... and N more" if some were
 * not kept. */
void errlist_print(const errlist_t *e, FILE *f, const char *prefix);

#endif
