/* shard: the unit of work, written once (after disque's job.h). What a shard is, every state it
 * passes through in the three roles, and the rules for leasing, retrying and resubmitting it, in
 * this one place; the scheduler (its shard table, its store), the broker (its queue and leases)
 * and the worker (what it holds) all take their states and constants from here. The wire format
 * of SUBMIT, SHARD, RESULT and SHARD_DONE is wire.h's; schemas/protocol.md §6 is the reference
 * these rules implement.
 *
 * DESIGN. A shard is a run of consecutive valid records of one job: `shard_size` of them (the last
 * one fewer), cut once when the job is loaded and stored with the job, so a restarted scheduler
 * finds the same shards. Its identity on the wire is (job id, shard id); one delivery of it to a
 * worker is a lease (lease id, attempt). Each (record, target) of a shard is one "output"; its
 * results are keyed by (job, record, target, metric) and committed idempotently, which is what
 * makes every rule below safe to repeat.
 *
 * Life, with who holds the state:
 *
 *   scheduler   PENDING --SUBMIT--> INFLIGHT --SHARD_DONE, complete--> DONE
 *                                      |  ^
 *                                      |  '-- SHARD_DONE incomplete: SUBMIT again (RESUBMIT)
 *                                      '----- incomplete SHARD_MAX_SUBMITS times: GIVE_UP
 *                                              (missing outputs recorded as errors) --> DONE
 *   broker      QUEUED --lease to a worker with credit--> LEASED --SHARD_DONE--> (forgotten)
 *                  ^                                        |
 *                  '--- the worker's session ends ----------'  (back to the FRONT, attempt kept)
 *               CANCEL drops it from either state.
 *   worker      RUNNING --every output sent--> (SHARD_DONE n=outputs; freed)
 *                  '--CANCEL--> CANCELLED --calls in flight returned--> (freed, nothing sent)
 *
 * The rules:
 *  - Window. A scheduler keeps at most `window` shards of a job INFLIGHT (default
 *    SHARD_WINDOW_DEFAULT); that bounds the broker's queue.
 *  - Credit. A worker thread holds at most SHARD_HOLD_DEFAULT shards (its `max_shards`) and asks
 *    for each one (CREDIT); the broker never leases to a worker without credit and caps a
 *    worker's credit at SHARD_CREDIT_MAX.
 *  - Lease end. SHARD_DONE ends a lease. When a worker's session ends (dead, BYE, a new HELLO) its
 *    leases go back to the front of the queue in order and are leased again with new lease ids;
 *    the attempt number (SHARD's `n`) counts deliveries. A lease ends with its session: what a
 *    worker sends under a lease it no longer holds is dropped by the broker.
 *  - Holder only. The broker forwards a RESULT or SHARD_DONE (and takes a RETURN) only from the
 *    session that holds that lease, for that job and shard; anything else is dropped and counted.
 *  - Lease deadline (shard_lease_check, on every broker tick). A lease's *silence* is the time
 *    since its last progress (a RESULT under it, else since it was granted). The job's *pace* is
 *    the longest silence its leases showed before they progressed, a maximum that halves every
 *    SHARD_PACE_HALFLIFE_MS (shard_pace_observe). The deadline of a lease is
 *      D = min(ceiling, max(floor, SHARD_PACE_K × pace) × 2^(attempt − 1))
 *    where `ceiling` is the job's `lease_s` (SUBMIT; the scheduler derives it from the job's retry
 *    budgets and request timeouts: the longest one unit may legitimately take) and `floor` the
 *    broker's (SHARD_LEASE_FLOOR_MS by default). A lease silent past D is revoked (REVOKE to its
 *    worker, the shard back to the front of the queue, the worker's credit cut to 0) when
 *      (a) the fleet progressed on the same job for at least D after this lease's last progress:
 *          the worker is slow or a black hole, and it gets a strike; or
 *      (b) another worker (not quarantined) has credit and nothing to do: re-leasing helps, no
 *          strike (the whole job may be stuck in an outage: nobody is to blame), unless the
 *          session has never delivered a RESULT and the job progressed elsewhere after the lease's
 *          last progress (the broker's blease.c: a black hole that asks for every shard again
 *          after each REVOKE is blamed); or
 *      (c) it is silent past the ceiling itself, no strike.
 *    Otherwise (every lease of the job silent together, nobody idle: an outage) it is kept. The
 *    doubling per attempt bounds the churn of a job whose first results are slower than the
 *    floor. SHARD_STRIKES_MAX strikes quarantine the worker (shard_quarantine_ms): every lease it
 *    holds is revoked, it gets no shard and its CREDIT is ignored until the quarantine ends; a
 *    completed lease (SHARD_DONE) clears its strikes.
 *  - Job authority (shard_job_claim). A job belongs to the scheduler session that first SUBMITs
 *    it; its SUBMIT may carry the job's secret, which the broker keeps. A SUBMIT or CANCEL from
 *    another session is refused unless it carries that secret (a restarted scheduler resumes its
 *    job with it, taking the job over); a job claimed without a secret passes to another session
 *    only once its owner's session has ended. After a broker restart the first SUBMIT (or CANCEL)
 *    with a secret claims the job again.
 *  - Unrunnable. A worker that cannot run a shard (payload or spec unusable) still answers
 *    SHARD_DONE n=0, so the lease ends and the scheduler's check below resubmits or gives up.
 *  - The check (shard_on_done). On SHARD_DONE for an INFLIGHT shard the scheduler commits what it
 *    received and counts the shard's committed outputs. All there: DONE. Some missing (a result
 *    lost, a lease requeued and finished elsewhere, an unrunnable shard): submitted again with
 *    only the records still missing an output, until it has been submitted SHARD_MAX_SUBMITS
 *    times; then the missing outputs are recorded as errors and the shard is DONE, so one
 *    poisonous shard cannot loop forever. A SHARD_DONE for a shard not INFLIGHT is ignored.
 *  - Broker lost. On every session after the scheduler's first (the broker restarted, was silent,
 *    or ended the session), every INFLIGHT shard is submitted again; the broker ignores a SUBMIT of
 *    a (job, shard) it still holds, so nothing runs twice because of it.
 *  - Scheduler restart (shard_state_on_resume). A stored INFLIGHT shard becomes PENDING and is
 *    submitted again (only its missing records); DONE stays DONE; `submits` carries over, so the
 *    give-up rule counts across restarts.
 *  - CANCEL. The broker drops the job's queued and leased shards and tells every worker, which
 *    aborts the job's calls and sends nothing more for it. */
#ifndef LLMAJ_SHARD_H
#define LLMAJ_SHARD_H
#include <stdbool.h>
#include <stdint.h>

#define SHARD_MAX_SUBMITS 5             /* scheduler: SUBMITs that may end incomplete before giving up */
#define SHARD_WINDOW_DEFAULT 64         /* scheduler: shards of a job in flight at most */
#define SHARD_HOLD_DEFAULT 8            /* worker: shards a thread holds at most (max_shards) */
#define SHARD_CREDIT_MAX 100000u        /* broker: a worker's credit (shards asked for) is capped here */
#define SHARD_LEASE_FLOOR_MS 30000      /* broker: the least deadline of a lease (--lease-floor-ms) */
#define SHARD_LEASE_MAX_S 1860          /* broker: a lease's ceiling when the SUBMIT gives none */
#define SHARD_PACE_K 4                  /* broker: a lease may be this many times slower than the job's pace */
#define SHARD_PACE_HALFLIFE_MS 300000   /* broker: the job's pace forgets a slow spell this fast */
#define SHARD_STRIKES_MAX 3             /* broker: strikes (revoked while the fleet progressed) that quarantine */
#define SHARD_QUARANTINE_MS 300000      /* broker: the first quarantine; each next one doubles ... */
#define SHARD_QUARANTINE_MAX_MS 3600000 /* ... up to an hour */

typedef enum {
    /* The scheduler's states; these three are stored (shards.state), so their values are fixed. */
    SHARD_PENDING = 0,  /* cut from the dataset, waiting for room in the window */
    SHARD_INFLIGHT = 1, /* submitted; no SHARD_DONE accepted yet (it may be queued, leased, or lost) */
    SHARD_DONE = 2,     /* every output committed (or, after giving up, recorded as an error) */
    /* The broker's. */
    SHARD_QUEUED = 3, /* in the broker's FIFO queue, waiting for a worker with credit */
    SHARD_LEASED = 4, /* sent to one worker under a lease; ends with SHARD_DONE or the session */
    /* The worker's. */
    SHARD_RUNNING = 5,   /* held by a worker thread: its model calls in flight, results streaming */
    SHARD_CANCELLED = 6, /* CANCEL came: no new call starts, nothing more is sent, freed when idle */
} shard_state_t;

const char *shard_state_name(shard_state_t s); /* "pending", ...; "?" if unknown */

/* A shard as the scheduler keeps it: one entry of a job's shard table, mirrored in the store. */
typedef struct {
    uint64_t id;          /* dense from 0 within the job; the `shard` of SUBMIT, RESULT, SHARD_DONE */
    uint64_t first, last; /* record indexes (positions among the dataset's non-blank lines) of its
                                first and last valid record; only valid records belong to shards */
    uint32_t n;           /* valid records in [first, last] */
    shard_state_t state;  /* SHARD_PENDING, SHARD_INFLIGHT or SHARD_DONE */
    uint32_t submits;     /* SUBMITs so far, across scheduler restarts (stored as `attempts`) */
    int64_t submitted_ms; /* monotonic time of the last SUBMIT, 0 before the first */
    uint32_t leases;      /* deliveries to workers seen (distinct lease ids in its RESULTs and
                                SHARD_DONEs): a lease the broker requeued after a worker was lost
                                shows as one more; stored as `leases` */
    uint64_t last_lease;  /* the lease id seen last (0: none yet) */
} shard_t;

/* What the scheduler does with an accepted SHARD_DONE (see "The check"). */
typedef enum {
    SHARD_ACCEPT,   /* complete: mark it DONE */
    SHARD_RESUBMIT, /* incomplete: submit it again (its missing records only) */
    SHARD_GIVE_UP,  /* incomplete SHARD_MAX_SUBMITS times: record the missing outputs as errors, DONE */
} shard_verdict_t;

/* The check, for a shard with `outputs` of its n × targets outputs committed. */
shard_verdict_t shard_on_done(const shard_t *s, uint64_t outputs, unsigned targets);

/* The state a stored shard takes when a scheduler resumes its job. */
shard_state_t shard_state_on_resume(shard_state_t stored);

/* ---- lease deadlines (the broker's; see "Lease deadline") ---- */

/* A job's pace as the broker observes it. Zero-initialised: nothing observed yet. */
typedef struct {
    int64_t slow_ms;          /* the longest silence before progress, as of at_ms */
    int64_t at_ms;            /* when slow_ms was set */
    int64_t last_progress_ms; /* the job's last RESULT under any lease; 0: none yet */
    uint32_t ceiling_ms;      /* the job's lease ceiling (from SUBMIT's lease_s); 0: the default */
} shard_pace_t;

/* A RESULT came at now_ms under a lease silent for silence_ms: the pace takes it in. */
void shard_pace_observe(shard_pace_t *p, int64_t silence_ms, int64_t now_ms);
/* The pace now: slow_ms halved for every SHARD_PACE_HALFLIFE_MS since at_ms. */
int64_t shard_pace_now(const shard_pace_t *p, int64_t now_ms);
/* The deadline D of a lease on its `attempt`-th delivery (1 = first), floor_ms the broker's. */
int64_t shard_lease_deadline_ms(const shard_pace_t *p, uint32_t attempt, int64_t floor_ms, int64_t now_ms);

typedef enum {
    SHARD_LEASE_KEEP,          /* within its deadline, or the whole job is silent (an outage) */
    SHARD_LEASE_REVOKE,        /* revoke it; nobody to blame (idle capacity, or past the ceiling) */
    SHARD_LEASE_REVOKE_STRIKE, /* revoke it; the fleet did this job's work meanwhile: a strike */
} shard_lease_verdict_t;

/* The check of one lease whose last progress (a RESULT, else its grant) was at last_ms.
 * idle_capacity: another worker, not quarantined, has credit and nothing queued to take. */
shard_lease_verdict_t shard_lease_check(const shard_pace_t *p, int64_t last_ms, uint32_t attempt, int64_t floor_ms,
                                        bool idle_capacity, int64_t now_ms);

/* How long a worker's n-th quarantine (1 = first) lasts. */
int64_t shard_quarantine_ms(uint32_t n);

/* The lease ceiling (lease_s) of a job: the longest one (record, target) may legitimately take,
 * an inference call and a judge call and its re-ask, each within its retry budget plus the
 * request timeout of its last attempt, and a minute's margin. Seconds. */
uint32_t shard_lease_ceiling_s(int inference_budget_s, int judge_budget_s, int request_timeout_s);

/* ---- job authority (the broker's; see "Job authority") ---- */

typedef enum {
    SHARD_CLAIM_OWNER,  /* the sender owns the job: go ahead */
    SHARD_CLAIM_TAKE,   /* the job is the sender's from now on (new, or proven by its secret) */
    SHARD_CLAIM_REFUSE, /* another session owns it: refuse and count */
} shard_claim_t;

/* A SUBMIT or CANCEL of a job. known: the broker has an owner for it; same_session: the owner
 * is the sender's session; owner_live: the owner's session has not ended; stored: the secret the
 * broker keeps for it ("" none); given: the message's ("" none). */
shard_claim_t shard_job_claim(bool known, bool same_session, bool owner_live, const char *stored, const char *given);

#endif
