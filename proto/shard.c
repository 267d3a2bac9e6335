/* shard: state names and the scheduler's rules; see shard.h (the whole story is there). */
#include "shard.h"

#include <string.h>

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

/* ---- lease deadlines ---- */

int64_t shard_pace_now(const shard_pace_t *p, int64_t now_ms)
{
    int64_t v = p->slow_ms;
    if (v <= 0 || now_ms <= p->at_ms) return v > 0 ? v : 0;
    int64_t halves = (now_ms - p->at_ms) / SHARD_PACE_HALFLIFE_MS;
    return halves >= 62 ? 0 : v >> halves;
}

void shard_pace_observe(shard_pace_t *p, int64_t silence_ms, int64_t now_ms)
{
    if (silence_ms < 0) silence_ms = 0;
    int64_t cur = shard_pace_now(p, now_ms);
    if (silence_ms >= cur) {
        p->slow_ms = silence_ms;
        p->at_ms = now_ms;
    } else if (now_ms - p->at_ms >= SHARD_PACE_HALFLIFE_MS) {
        p->slow_ms = cur; /* keep the halvings already due, so they are not applied twice */
        p->at_ms = now_ms - (now_ms - p->at_ms) % SHARD_PACE_HALFLIFE_MS;
    }
    if (now_ms > p->last_progress_ms) p->last_progress_ms = now_ms;
}

int64_t shard_lease_deadline_ms(const shard_pace_t *p, uint32_t attempt, int64_t floor_ms, int64_t now_ms)
{
    int64_t ceiling = p->ceiling_ms ? (int64_t)p->ceiling_ms : (int64_t)SHARD_LEASE_MAX_S * 1000;
    if (floor_ms <= 0) floor_ms = SHARD_LEASE_FLOOR_MS;
    int64_t d = SHARD_PACE_K * shard_pace_now(p, now_ms);
    if (d < floor_ms) d = floor_ms;
    for (uint32_t a = 1; a < attempt && d < ceiling; a++) d *= 2;
    return d < ceiling ? d : ceiling;
}

shard_lease_verdict_t shard_lease_check(const shard_pace_t *p, int64_t last_ms, uint32_t attempt, int64_t floor_ms,
                                        bool idle_capacity, int64_t now_ms)
{
    int64_t d = shard_lease_deadline_ms(p, attempt, floor_ms, now_ms);
    int64_t silence = now_ms - last_ms;
    if (silence <= d) return SHARD_LEASE_KEEP;
    if (p->last_progress_ms && p->last_progress_ms - last_ms >= d) return SHARD_LEASE_REVOKE_STRIKE;
    int64_t ceiling = p->ceiling_ms ? (int64_t)p->ceiling_ms : (int64_t)SHARD_LEASE_MAX_S * 1000;
    if (idle_capacity || silence > ceiling) return SHARD_LEASE_REVOKE;
    return SHARD_LEASE_KEEP;
}

int64_t shard_quarantine_ms(uint32_t n)
{
    int64_t d = SHARD_QUARANTINE_MS;
    for (uint32_t i = 1; i < n && d < SHARD_QUARANTINE_MAX_MS; i++) d *= 2;
    return d < SHARD_QUARANTINE_MAX_MS ? d : SHARD_QUARANTINE_MAX_MS;
}

uint32_t shard_lease_ceiling_s(int inference_budget_s, int judge_budget_s, int request_timeout_s)
{
    int64_t one_inf = (int64_t)(inference_budget_s > 0 ? inference_budget_s : 0) +
                      (request_timeout_s > 0 ? request_timeout_s : 0);
    int64_t one_judge = (int64_t)(judge_budget_s > 0 ? judge_budget_s : 0) +
                        (request_timeout_s > 0 ? request_timeout_s : 0);
    int64_t s = one_inf + 2 * one_judge + 60;
    return s > UINT32_MAX / 1000 ? UINT32_MAX / 1000 : (uint32_t)s;
}

/* ---- job authority ---- */

/* Equal strings, in a time that does not depend on where they differ. */
static bool secret_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = (unsigned char)(la != lb);
    for (size_t i = 0; i < la; i++) d |= (unsigned char)(a[i] ^ b[i < lb ? i : 0]);
    return d == 0;
}

shard_claim_t shard_job_claim(bool known, bool same_session, bool owner_live, const char *stored, const char *given)
{
    if (!known) return SHARD_CLAIM_TAKE;
    if (same_session) return SHARD_CLAIM_OWNER;
    if (stored[0]) return given[0] && secret_eq(stored, given) ? SHARD_CLAIM_TAKE : SHARD_CLAIM_REFUSE;
    /* Claimed without a secret: bound to its session only. */
    return owner_live ? SHARD_CLAIM_REFUSE : SHARD_CLAIM_TAKE;
}
