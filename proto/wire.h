/* wire: protocol v1 between scheduler, broker and workers (schemas/protocol.md).
 *
 * A message is one or two ZeroMQ frames (a ROUTER adds the peer's identity in front):
 *   frame 1  header : MessagePack array [version, type, {small map of routing fields}]
 *   frame 2  payload: MessagePack, only for SUBMIT/SHARD (a shard), RESULT (a result),
 *                     DEMAND and ALLOT (rate-limit tables)
 * The broker routes on the header alone and forwards payload frames untouched.
 *
 * Decoding is bounded: every array/map/string count is checked against the bytes that remain,
 * strings have per-field caps, and anything malformed is an error (-1 and a message), never a
 * crash. Receivers log and drop what fails to decode. */
#ifndef LLMAJ_WIRE_H
#define LLMAJ_WIRE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "record.h"
#include "result.h"

#define WIRE_VERSION 1
#define WIRE_MAX_MSG (64u * 1024 * 1024) /* ZMQ_MAXMSGSIZE for every socket */
#define WIRE_MAX_ID 128                  /* job ids, peer names, roles */
#define WIRE_MAX_SECRET 65               /* a job's secret (SUBMIT, CANCEL): at most 64 bytes */

typedef enum {
    WIRE_HELLO = 1,  /* peer -> broker: role, name, threads, credit (initial shards wanted) */
    WIRE_WELCOME,    /* broker -> peer: heartbeat_ms, name (broker instance id) */
    WIRE_HEARTBEAT,  /* both ways; n = in-flight shards (worker) / workers alive (broker) */
    WIRE_CREDIT,     /* worker -> broker: n more shards wanted */
    WIRE_SUBMIT,     /* scheduler -> broker: job_id, shard_id; payload: shard */
    WIRE_SHARD,      /* broker -> worker: job_id, shard_id, lease; payload: shard */
    WIRE_RESULT,     /* worker -> broker -> scheduler: job_id, shard_id, lease; payload: result */
    WIRE_SHARD_DONE, /* worker -> broker -> scheduler: job_id, shard_id, lease, n = results sent */
    WIRE_CANCEL,     /* scheduler -> broker -> workers: job_id: drop its shards */
    WIRE_DEMAND,     /* worker -> broker: payload: rate table (demand per endpoint key) */
    WIRE_ALLOT,      /* broker -> worker: payload: rate table (this worker's share) */
    WIRE_BYE,        /* peer -> broker: leaving; its leases go back to the queue */
    WIRE_RETURN,     /* worker -> broker: job_id, shard_id, lease of a shard handed back unstarted
                         * (requeued at the front), or no job: no shard, just "no more work";
                         * either way the worker's credit drops to 0 */
    WIRE_REVOKE,     /* broker -> worker: job_id, shard_id, lease: that lease has ended (no
                         * progress within its deadline); drop the shard, send nothing more for
                         * it; the worker's credit at the broker is 0 now */
    WIRE_TYPE_MAX
} wire_type_t;

const char *wire_type_name(wire_type_t t); /* "HELLO", ...; "?" if unknown */

typedef struct {
    wire_type_t type;
    char job_id[WIRE_MAX_ID]; /* "" when absent */
    char role[16];            /* HELLO: "worker" | "scheduler" */
    char name[WIRE_MAX_ID];   /* HELLO: peer name; WELCOME: broker instance id */
    uint64_t shard_id;
    uint64_t lease;
    uint32_t n;            /* CREDIT count, HELLO initial credit, HEARTBEAT figure, SHARD_DONE count */
    uint32_t threads;      /* HELLO */
    uint32_t heartbeat_ms; /* WELCOME */
    /* SUBMIT, CANCEL: the job's secret, which proves the sender owns the job (protocol.md §6.10);
     * "" when absent. Never logged, never forwarded. */
    char secret[WIRE_MAX_SECRET];
    uint32_t lease_max_s; /* SUBMIT: the longest a lease of this job may go without a RESULT
                                   when no other lease progresses either (0: the broker's default) */
} wire_hdr_t;

/* Header <-> bytes. encode appends to out; -1 only if out's cap is hit. decode: -1 with a
 * message in err for anything malformed, a version other than WIRE_VERSION, an unknown type. */
int wire_hdr_encode(const wire_hdr_t *h, buf_t *out) __attribute__((warn_unused_result));
int wire_hdr_decode(const void *data, size_t len, wire_hdr_t *h, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* What a worker does for one target of a record when a record is not to be evaluated in full
 * (a retry of some cells, a resubmission after part of it was committed): judge the listed
 * metrics of a response already committed, or, with no response, evaluate the target in full. */
typedef struct {
    target_t target;
    char *response;    /* the committed response to judge; NULL: call the model first */
    bool from_dataset; /* that response came from the dataset */
    char *model;       /* the model string that gave it (the result's `model`), or NULL */
    char **metrics;    /* the metrics (by name) to judge; n_metrics 0: every metric */
    size_t n_metrics;
} wire_unit_plan_t;

/* A record's plan: the targets to evaluate and how. n_units 0: every target, every metric (the
 * record as it stands in the dataset, which is what a record without a plan means too). */
typedef struct {
    wire_unit_plan_t *units;
    size_t n_units;
} wire_plan_t;
void wire_plan_clear(wire_plan_t *p);

/* Shard payload: the job's canonical spec JSON and the records to evaluate, with, for some
 * records, a plan (`plans` is NULL when no record has one, else parallel to `records`). */
typedef struct {
    char *spec_json;
    record_t *records;
    size_t n_records;
    wire_plan_t *plans;
} wire_shard_t;

int wire_shard_encode(const char *spec_json, const record_t *records, size_t n, buf_t *out)
    __attribute__((warn_unused_result));
/* The same with a plan per record (`plans` NULL, or n entries of which n_units 0 means none). */
int wire_shard_encode_plans(const char *spec_json, const record_t *records, const wire_plan_t *plans, size_t n,
                            buf_t *out) __attribute__((warn_unused_result));
/* On success the caller owns *out's members (wire_shard_clear). On failure nothing to free. */
int wire_shard_decode(const void *data, size_t len, wire_shard_t *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void wire_shard_clear(wire_shard_t *s);

/* Result payload: one result_t (all its scores). */
int wire_result_encode(const result_t *r, buf_t *out) __attribute__((warn_unused_result));
int wire_result_decode(const void *data, size_t len, result_t *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Rate table payload (DEMAND and ALLOT): one row per endpoint key. In a DEMAND, rpm/tpm are the
 * configured fleet-wide limits and `demand` the calls waiting or running for that key; `used_*`
 * what was sent since the last DEMAND. In an ALLOT, rpm/tpm are this worker's share. */
typedef struct {
    char *key;
    double rpm, tpm;
    uint32_t demand;
    uint32_t max_concurrency;
    uint64_t used_requests, used_tokens;
} wire_rate_t;

int wire_rates_encode(const wire_rate_t *rows, size_t n, buf_t *out) __attribute__((warn_unused_result));
int wire_rates_decode(const void *data, size_t len, wire_rate_t **rows, size_t *n, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void wire_rates_free(wire_rate_t *rows, size_t n);

#endif
