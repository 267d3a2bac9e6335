/* dispatch: a job's shards in flight (proto/shard.h has the states and the rules; this is where
 * the scheduler applies them). Keeps at most `window` shards of the job INFLIGHT, sends each as a
 * SUBMIT with only its records still missing an output, acts on SHARD_DONE (accept, resubmit, or
 * give up), submits every in-flight shard again when a new broker session comes up, and sends
 * CANCEL when the job is stopped. Every SUBMIT is counted in the store (the shard's `attempts`).
 *
 * Does not own the broker session (sched.c lends its peer), the commit of results (ingest.c), or
 * when a job ends (job.c). Runs on the engine's thread.
 *
 * DESIGN. A shard's state change is written to the store as it happens, outside the results'
 * transaction. The in-memory table is what decides; the stored state is for status and for a
 * resume, where a stale state is harmless (a stale INFLIGHT becomes PENDING, a stale PENDING is
 * submitted with only its missing records, and one with none is DONE at once without a trip to the
 * workers). So a failed write of a shard's state is logged with the job and shard, not fatal. */
#ifndef LLMAJ_DISPATCH_H
#define LLMAJ_DISPATCH_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ingest.h"
#include "job.h"
#include "peer.h"

/* Submits PENDING shards while fewer than `window` are INFLIGHT (nothing while the session is
 * down, the job is stopping or has failed); looks at a bounded number of shards per call, so the
 * engine calls it on every pass. Returns whether PENDING shards remain to look at now. */
bool dispatch_fill(job_t *j, ingest_t *in, peer_t *peer, int window);

/* SHARD_DONE for shard `shard_id` of j: the check (shard_on_done) and what it says. A SHARD_DONE
 * for a shard not INFLIGHT, or out of range, is ignored. */
void dispatch_shard_done(job_t *j, ingest_t *in, peer_t *peer, uint64_t shard_id);

/* A new broker session after an earlier one: every INFLIGHT shard goes again. */
void dispatch_resubmit_inflight(job_t *j, ingest_t *in, peer_t *peer);

/* A RESULT or SHARD_DONE of shard `shard_id` came under `lease`: counts a new delivery. */
void dispatch_lease_seen(job_t *j, ingest_t *in, uint64_t shard_id, uint64_t lease);
/* Whether a RESULT or SHARD_DONE under (shard, lease) may count (protocol.md §6.10, the
 * collector's rule): the shard is one this engine dispatched and has in flight, and the lease is
 * not older than the latest seen for it (the broker numbers leases in order; a broker session
 * that starts again forgets the order: dispatch_resubmit_inflight). */
bool dispatch_accepts(const job_t *j, uint64_t shard_id, uint64_t lease);

/* The job is stopping: CANCEL it at the broker (once). */
void dispatch_cancel(job_t *j, peer_t *peer);

#endif
