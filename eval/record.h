/* record: one dataset line, parsed and validated (dataset.c reads files of them). */
#ifndef LLMAJ_RECORD_H
#define LLMAJ_RECORD_H
#include <stddef.h>
#include <stdint.h>

#include "errlist.h"

typedef struct {
    char *response;
    char *model_identifier; /* may be NULL */
} record_response_t;

typedef struct record {
    uint64_t index;               /* 0-based position among the dataset's non-blank lines */
    char *id;                     /* the line's `id` (a string or a number, as text), else NULL */
    char *prompt;                 /* `prompt` or `query`; never NULL once parsed */
    char *reference;              /* `referenceResponse` | `reference` | `ground_truth` | `answer`, or NULL */
    char *context;                /* or NULL */
    char *category;               /* or NULL */
    record_response_t *responses; /* `modelResponses`, or NULL */
    size_t n_responses;
} record_t;

/* Parses one JSON line. `file` and `lineno` (1-based) are used in messages, which are added to
 * errs as "FILE:LINE: what is wrong" (several per line if several things are wrong). Returns 0
 * and fills *out (caller frees with record_clear), or -1 with nothing to free. */
int record_parse_line(const char *line, size_t len, const char *file, size_t lineno, uint64_t index, record_t *out,
                      errlist_t *errs) __attribute__((warn_unused_result));

/* The record's id as results show it: `id` if present, else the index in decimal. Caller owns. */
char *record_id_text(const record_t *r);

/* The dataset response (`modelResponses`) that belongs to a target, or NULL: the one whose
 * modelIdentifier names `want` (the target's model string), else the `position`-th (0 custom,
 * 1 base) of the unnamed ones, an entry naming `want` or `other` (the other target's model) not
 * counting as unnamed. Valid while rec is. The worker and the scheduler's cache both pick with it. */
const record_response_t *record_response_for(const record_t *rec, const char *want, const char *other,
                                             unsigned position);

void record_clear(record_t *r);                       /* frees the members; r itself is the caller's */
void record_copy(record_t *dst, const record_t *src); /* deep copy; dst owns */

#endif
