/* bjobs: the broker's jobs, in a hash table; see bjobs.h.
 *
 * DESIGN. Separate chaining over a power-of-two array of buckets, FNV-1a over the job id, grown
 * (doubled, rehashed) when the table holds more than two jobs a bucket. A broker serves a few
 * jobs at a time but keeps every job it has not forgotten, so lookups stay O(1) however many
 * ended jobs linger until their sweep. */
#include "bjobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

struct bjobs {
    bjob_t **buckets;
    size_t n_buckets; /* a power of two */
    size_t n;
};

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

bjobs_t *bjobs_new(void)
{
    bjobs_t *t = xcalloc(1, sizeof *t);
    t->n_buckets = 64;
    t->buckets = xcalloc(t->n_buckets, sizeof *t->buckets);
    return t;
}

void bjobs_destroy(bjobs_t **self_p)
{
    if (!self_p || !*self_p) return;
    bjobs_t *t = *self_p;
    for (size_t i = 0; i < t->n_buckets; i++)
        for (bjob_t *j = t->buckets[i], *n; j; j = n) {
            n = j->next;
            free(j);
        }
    free(t->buckets);
    free(t);
    *self_p = NULL;
}

bjob_t *bjobs_find(bjobs_t *t, const char *job_id)
{
    for (bjob_t *j = t->buckets[hash(job_id) & (t->n_buckets - 1)]; j; j = j->next)
        if (!strcmp(j->job_id, job_id)) return j;
    return NULL;
}

static void grow(bjobs_t *t)
{
    size_t nb = t->n_buckets * 2;
    bjob_t **b = xcalloc(nb, sizeof *b);
    for (size_t i = 0; i < t->n_buckets; i++)
        for (bjob_t *j = t->buckets[i], *n; j; j = n) {
            n = j->next;
            size_t k = hash(j->job_id) & (nb - 1);
            j->next = b[k];
            b[k] = j;
        }
    free(t->buckets);
    t->buckets = b;
    t->n_buckets = nb;
}

bjob_t *bjobs_get(bjobs_t *t, const char *job_id, int64_t now_ms)
{
    bjob_t *j = bjobs_find(t, job_id);
    if (j) return j;
    if (t->n >= 2 * t->n_buckets) grow(t);
    j = xcalloc(1, sizeof *j);
    snprintf(j->job_id, sizeof j->job_id, "%s", job_id);
    j->active_ms = now_ms;
    size_t k = hash(job_id) & (t->n_buckets - 1);
    j->next = t->buckets[k];
    t->buckets[k] = j;
    t->n++;
    return j;
}

size_t bjobs_count(const bjobs_t *t) { return t->n; }

void bjob_set_owner(bjob_t *j, const void *ident, size_t len, uint64_t session, const char *secret)
{
    if (len > FRAME_MAX_IDENT) len = FRAME_MAX_IDENT;
    memcpy(j->owner, ident, len);
    j->owner_len = len;
    j->owner_session = session;
    if (secret && secret[0]) snprintf(j->secret, sizeof j->secret, "%s", secret);
}

void bjobs_each(bjobs_t *t, void (*fn)(bjob_t *j, void *arg), void *arg)
{
    for (size_t i = 0; i < t->n_buckets; i++)
        for (bjob_t *j = t->buckets[i]; j; j = j->next) fn(j, arg);
}

size_t bjobs_sweep(bjobs_t *t, int64_t now_ms, bool (*owner_live)(const bjob_t *j, void *arg), void *arg)
{
    size_t gone = 0;
    for (size_t i = 0; i < t->n_buckets; i++)
        for (bjob_t **pp = &t->buckets[i]; *pp;) {
            bjob_t *j = *pp;
            if (j->shards == 0 && now_ms - j->active_ms >= BJOBS_FORGET_MS && !owner_live(j, arg)) {
                *pp = j->next;
                free(j);
                t->n--;
                gone++;
            } else {
                pp = &j->next;
            }
        }
    return gone;
}
