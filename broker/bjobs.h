/* bjobs: the broker's table of jobs: who owns each job (the scheduler session that claimed it,
 * and the job's secret when its SUBMIT carried one), where its results go, the job's pace (for
 * lease deadlines, proto/shard.h), how many of its shards the broker holds, and whether it has
 * stalled. Looked up on every RESULT, so it is a hash table; the rules that decide ownership are
 * shard.h's (shard_job_claim), the sessions are the broker's (it passes whether an owner is live).
 *
 * Not thread-safe: the broker's loop owns it. A job is forgotten (bjobs_sweep) once the broker
 * holds none of its shards, its owner's session has ended, and nothing happened to it for
 * BJOBS_FORGET_MS: a scheduler that comes back later claims it again with its secret. */
#ifndef LLMAJ_BJOBS_H
#define LLMAJ_BJOBS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "shard.h"
#include "wire.h"

#define BJOBS_FORGET_MS 3600000 /* an idle job without a live owner is forgotten after an hour */

typedef struct bjob {
    char job_id[WIRE_MAX_ID];
    unsigned char owner[FRAME_MAX_IDENT + 1]; /* the owner's routing id: where results go */
    size_t owner_len;
    uint64_t owner_session;       /* the owner's session (the broker numbers sessions) */
    char secret[WIRE_MAX_SECRET]; /* "" when claimed without one */
    shard_pace_t pace;
    uint32_t shards;       /* queued or leased at the broker now */
    int64_t active_ms;     /* the last SUBMIT, RESULT or lease grant; or when it was added */
    int64_t held_since_ms; /* when the broker last went from none of its shards to some */
    bool stalled;          /* no RESULT for the broker's stall time while it held shards */
    struct bjob *next;     /* hash chain */
} bjob_t;

typedef struct bjobs bjobs_t;

bjobs_t *bjobs_new(void);
void bjobs_destroy(bjobs_t **self_p); /* frees every job */

bjob_t *bjobs_find(bjobs_t *t, const char *job_id);
/* The job, added (no owner yet) when missing. */
bjob_t *bjobs_get(bjobs_t *t, const char *job_id, int64_t now_ms);
size_t bjobs_count(const bjobs_t *t);

/* Makes the job the session's; `secret` ("" none) replaces the stored one when given. */
void bjob_set_owner(bjob_t *j, const void *ident, size_t len, uint64_t session, const char *secret);

/* Calls fn for every job (it must not add or remove jobs). */
void bjobs_each(bjobs_t *t, void (*fn)(bjob_t *j, void *arg), void *arg);

/* Forgets the jobs with no shards held, no live owner (owner_live(j, arg) false) and nothing
 * done for BJOBS_FORGET_MS. Returns how many. */
size_t bjobs_sweep(bjobs_t *t, int64_t now_ms, bool (*owner_live)(const bjob_t *j, void *arg), void *arg);

#endif
