/* shard: state names and the scheduler's rules; see shard.h (the whole story is there). */
#include "shard.h"

const char *shard_state_name(shard_state_t s)
{
    switch (s) {
    case SHARD_PENDING: return "pending";
    case SHARD_INFLIGHT: return "inflight";
    case SHARD_DONE: return "done";
    case SHARD_QUEUED: return "queued";
    case SHARD_LEASED: return "leased";
    case SHARD_RUNNING: return "running";
    case SHARD_CANCELLED: return "cancelled";
    }
    return "?";
}

shard_verdict_t shard_on_done(const shard_t *s, uint64_t outputs, unsigned targets)
{
    if (outputs >= (uint64_t)s->n * (targets ? targets : 1)) return SHARD_ACCEPT;
    return s->submits < SHARD_MAX_SUBMITS ? SHARD_RESUBMIT : SHARD_GIVE_UP;
}

shard_state_t shard_state_on_resume(shard_state_t stored)
{
    /* What was in flight when the last scheduler stopped goes again; anything unknown too. */
    return stored == SHARD_DONE ? SHARD_DONE : SHARD_PENDING;
}
