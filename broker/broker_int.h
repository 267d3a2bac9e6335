/* broker_int: what the broker's files share and nobody else sees: broker.c (the loop, the
 * sessions, the messages) and blease.c (dispatch, leases, their deadlines, quarantine, stalls).
 * The structs, the stats macro and the functions each file gives the other. Everything here runs
 * on the broker's loop thread, but the stats (under stats_mu). */
#ifndef LLMAJ_BROKER_INT_H
#define LLMAJ_BROKER_INT_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "allot.h"
#include "bjobs.h"
#include "bqueue.h"
#include "broker.h"
#include "curve.h"
#include "frame.h"
#include "lograte.h"
#include "loop.h"
#include "shard.h"
#include "wire.h"
#include "zap.h"

#define MAX_IDENT FRAME_MAX_IDENT

typedef enum { ROLE_UNKNOWN = 0, ROLE_WORKER, ROLE_SCHEDULER } role_t;

/* A shard at the broker: its routing fields and the payload bytes exactly as the scheduler sent
 * them. In exactly one place: the queue (SHARD_QUEUED) or a worker's lease list (SHARD_LEASED). */
typedef struct item {
    bq_node_t node; /* in the queue (bqueue.c) while SHARD_QUEUED */
    bjob_t *job;    /* its job (owner, pace); counts it in job->shards */
    uint64_t shard_id;
    shard_state_t state; /* SHARD_QUEUED or SHARD_LEASED */
    uint64_t lease;      /* 0 while queued */
    int64_t progress_ms; /* leased: its grant, then its last RESULT (the liveness clock) */
    void *payload;
    size_t payload_len;
    uint32_t attempts;        /* deliveries so far (SHARD's n) */
    struct item *prev, *next; /* in a worker's lease list */
} item_t;

typedef struct {
    item_t *head, *tail;
    size_t n;
} list_t;

typedef struct peer {
    unsigned char ident[MAX_IDENT + 1];
    size_t ident_len;
    role_t role;
    char name[WIRE_MAX_ID];
    uint64_t session; /* numbered at HELLO: a job's owner is a session, not an identity */
    int64_t last_seen;
    uint32_t credit;
    uint32_t threads;
    list_t leases;
    bool alive;
    uint32_t strikes;            /* leases revoked while the fleet progressed, since its last SHARD_DONE */
    uint64_t results;            /* RESULTs forwarded from this session (it has done some work) */
    int64_t quarantined_until;   /* 0: not quarantined */
    uint32_t quarantines;        /* how many it has had (its next one is longer) */
    char key[CURVE_Z85_LEN + 1]; /* CURVE: the public key its HELLO came with */
    char key_name[64];           /* that key's file name, for logs */
} peer_t;

/* A CURVE key in quarantine: every session that key opens is quarantined until `until`. */
typedef struct {
    char key[CURVE_Z85_LEN + 1];
    int64_t until;
    uint32_t count;
} qkey_t;

struct broker {
    void *ctx;
    bool own_ctx;
    void *sock;
    loop_t *loop;
    char instance[40];
    char endpoint[256];
    int heartbeat_ms, dead_after;
    int64_t lease_floor_ms;         /* the least lease deadline (broker_opts_t) */
    int64_t stall_ms;               /* a job with shards held and no RESULT this long is stalled */
    int64_t (*clock_ms)(void *arg); /* the liveness clock (broker_opts_t); NULL = loop_now_ms */
    void *clock_arg;
    int64_t allot_at; /* liveness clock at the last allot_tick */
    peer_t **peers;
    size_t n_peers;
    uint64_t next_session;
    bqueue_t *queue;
    bjobs_t *jobs;
    uint64_t next_lease;
    qkey_t *qkeys;
    size_t n_qkeys;
    allot_t *allot;
    zap_t *zap;          /* CURVE on: who may talk to us */
    lograte_t lr_drop;   /* malformed, unexpected or unleased messages dropped */
    lograte_t lr_refuse; /* SUBMITs and CANCELs refused */
    pthread_mutex_t stats_mu;
    broker_stats_t stats;
    atomic_bool running; /* broker_run is serving the socket */
};

#define STAT_ADD(b, field, v)                 \
    do {                                      \
        pthread_mutex_lock(&(b)->stats_mu);   \
        (b)->stats.field += (v);              \
        pthread_mutex_unlock(&(b)->stats_mu); \
    } while (0)

/* broker.c */
int64_t broker_now(const broker_t *b); /* the liveness clock */
int broker_send(broker_t *b, peer_t *p, const wire_hdr_t *h, const void *payload, size_t len);
void broker_update_stats(broker_t *b);
const char *broker_role_name(const peer_t *p);

/* blease.c: the lease lists */
void blist_push_back(list_t *l, item_t *it);
void blist_remove(list_t *l, item_t *it);
/* A new queued item of `job` (counted in job->shards); the payload is copied. */
item_t *bitem_new(bjob_t *job, uint64_t shard_id, const void *payload, size_t len);
void bitem_free(item_t *it); /* uncounts it from its job */
/* Every lease of p back at the front of the queue, in order. */
void blease_requeue_all(broker_t *b, peer_t *p);
/* Hands queued shards to workers with credit (bounded per call). */
void blease_dispatch(broker_t *b);
/* Whether (job, shard) is queued or leased. */
bool blease_known(broker_t *b, const char *job_id, uint64_t shard_id);
/* p's lease (job, shard, lease), or NULL; _take also removes it from p's list. */
item_t *blease_find(peer_t *p, const char *job_id, uint64_t shard_id, uint64_t lease);
item_t *blease_take(peer_t *p, const char *job_id, uint64_t shard_id, uint64_t lease);
/* Drops every queued and leased shard of the job (CANCEL); returns how many. */
size_t blease_drop_job(broker_t *b, const char *job_id);
/* A RESULT under p's lease `it`: its progress, and the job's pace. */
void blease_progress(broker_t *b, item_t *it);
/* The session of a worker starts: quarantined already when its CURVE key is. */
void blease_worker_joined(broker_t *b, peer_t *p);
bool blease_quarantined(const broker_t *b, const peer_t *p);
/* Every heartbeat tick: lease deadlines, quarantines that end, stalled jobs, forgotten jobs. */
void blease_tick(broker_t *b);

#endif
