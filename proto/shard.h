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
 *    the attempt number (SHARD's `n`) counts deliveries. v1 has no lease deadline: a worker bounds
 *    each model call instead (timeouts, a bounded number of retries).
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
#include <stdint.h>

#define SHARD_MAX_SUBMITS 5         /* scheduler: SUBMITs that may end incomplete before giving up */
#define SHARD_WINDOW_DEFAULT 64     /* scheduler: shards of a job in flight at most */
#define SHARD_HOLD_DEFAULT 8        /* worker: shards a thread holds at most (max_shards) */
#define SHARD_CREDIT_MAX 100000u    /* broker: a worker's credit (shards asked for) is capped here */

typedef enum {
    /* The scheduler's states; these three are stored (shards.state), so their values are fixed. */
    SHARD_PENDING = 0,    /* cut from the dataset, waiting for room in the window */
    SHARD_INFLIGHT = 1,   /* submitted; no SHARD_DONE accepted yet (it may be queued, leased, or lost) */
    SHARD_DONE = 2,       /* every output committed (or, after giving up, recorded as an error) */
    /* The broker's. */
    SHARD_QUEUED = 3,     /* in the broker's FIFO queue, waiting for a worker with credit */
    SHARD_LEASED = 4,     /* sent to one worker under a lease; ends with SHARD_DONE or the session */
    /* The worker's. */
    SHARD_RUNNING = 5,    /* held by a worker thread: its model calls in flight, results streaming */
    SHARD_CANCELLED = 6,  /* CANCEL came: no new call starts, nothing more is sent, freed when idle */
} shard_state_t;

const char *shard_state_name(shard_state_t s);   /* "pending", ...; "?" if unknown */

/* A shard as the scheduler keeps it: one entry of a job's shard table, mirrored in the store. */
typedef struct {
    uint64_t id;             /* dense from 0 within the job; the `shard` of SUBMIT, RESULT, SHARD_DONE */
    uint64_t first, last;    /* record indexes (positions among the dataset's non-blank lines) of its
                                first and last valid record; only valid records belong to shards */
    uint32_t n;              /* valid records in [first, last] */
    shard_state_t state;     /* SHARD_PENDING, SHARD_INFLIGHT or SHARD_DONE */
    uint32_t submits;        /* SUBMITs so far, across scheduler restarts (stored as `attempts`) */
    int64_t submitted_ms;    /* monotonic time of the last SUBMIT, 0 before the first */
} shard_t;

/* What the scheduler does with an accepted SHARD_DONE (see "The check"). */
typedef enum {
    SHARD_ACCEPT,     /* complete: mark it DONE */
    SHARD_RESUBMIT,   /* incomplete: submit it again (its missing records only) */
    SHARD_GIVE_UP,    /* incomplete SHARD_MAX_SUBMITS times: record the missing outputs as errors, DONE */
} shard_verdict_t;

/* The check, for a shard with `outputs` of its n × targets outputs committed. */
shard_verdict_t shard_on_done(const shard_t *s, uint64_t outputs, unsigned targets);

/* The state a stored shard takes when a scheduler resumes its job. */
shard_state_t shard_state_on_resume(shard_state_t stored);

#endif
