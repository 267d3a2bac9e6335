/* peer: THE broker-client session (schemas/protocol.md, "Sessions"). Every peer of the broker (a
 * worker thread, a scheduler) talks to it through one of these; nothing else in a role touches
 * the socket. It owns the DEALER socket on the caller's loop, the HELLO/WELCOME handshake,
 * heartbeats both ways, telling a restarted broker from a silent one, reconnecting, and an
 * outbox that keeps messages in order when the socket refuses them. It does not know what the
 * role does with shards or results: the messages of the role's business go to `on_message`.
 *
 * DESIGN. Sessions.
 *  - connect: a new DEALER socket, then HELLO (role, name, the credit `hello_credit` asks for).
 *    The session is up when WELCOME comes back; WELCOME names the broker instance.
 *  - A session ends, and the peer connects again at once, when: the broker says BYE (it does not
 *    know us: it restarted, or declared us dead); a HEARTBEAT names another broker instance than
 *    the one that welcomed us (it restarted); or nothing at all came from the broker for
 *    `dead_after` heartbeat intervals (it is gone, or the network is). Before the first WELCOME
 *    the same silence is reported as "no answer from the broker at ENDPOINT", the usual sign of a
 *    wrong address or a broker not started.
 *  - Every heartbeat interval the peer sends HEARTBEAT with the figure `heartbeat_n` gives.
 *  - Sending never blocks: a message the socket refuses (its queue full) waits in the outbox,
 *    behind which every later message waits too, so order is kept; the outbox is flushed by
 *    peer_pump. When a session ends, the outbox keeps the messages of the job's business (SUBMIT,
 *    RESULT, SHARD_DONE, CANCEL: they go out in the next session, where they are still
 *    valid since every one of them is idempotent at its receiver) and drops the session's own
 *    (HELLO, HEARTBEAT, CREDIT, DEMAND, BYE: they meant something to the old session only).
 *  - The role learns of session changes through on_session: up (after WELCOME; `again` is true
 *    when an earlier session of this peer was up, so a scheduler submits its in-flight shards
 *    again) and down (before reconnecting; a worker forgets the credit it had asked for). */
#ifndef LLMAJ_PEER_H
#define LLMAJ_PEER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "curve.h"
#include "loop.h"
#include "wire.h"

typedef struct peer peer_t;

typedef enum { PEER_UP = 1, PEER_DOWN } peer_event_t;

typedef struct {
    const char *endpoint; /* the broker: "tcp://host:5555", "inproc://..." */
    void *zmq_ctx;        /* borrowed; must outlive the peer */
    loop_t *loop;         /* the caller's loop; the peer adds its fd and a heartbeat timer */
    const char *role;     /* "worker" | "scheduler" */
    const char *name;     /* shown in the broker's logs */
    int heartbeat_ms;     /* >= 10 */
    int dead_after;       /* >= 2 */
    /* Messages of the role's business (not WELCOME, HEARTBEAT or BYE). `payload` is NULL when the
     * message has none; both are valid during the call. */
    void (*on_message)(const wire_hdr_t *h, const void *payload, size_t len, void *arg);
    /* Session up (h is the WELCOME: h->n workers alive) or down (h NULL; `why` says why). */
    void (*on_session)(peer_event_t ev, bool again, const wire_hdr_t *h, const char *why, void *arg);
    uint32_t (*hello_credit)(void *arg); /* HELLO's credit; NULL = 0 */
    uint32_t (*heartbeat_n)(void *arg);  /* HEARTBEAT's figure; NULL = 0 */
    void *arg;
    /* CURVE between hosts: this peer's key pair and the broker's public key (copied; the copy is
     * wiped at peer_destroy). NULL = plaintext (inproc, loopback). */
    const curve_keys_t *curve;
} peer_opts_t;

/* Connects and says HELLO. NULL with a message in err when the socket cannot be set up. The
 * options' strings are copied; the callbacks run on the loop's thread, never from inside
 * peer_send. Caller owns the result. */
peer_t *peer_new(const peer_opts_t *o, char *err, size_t errlen) __attribute__((warn_unused_result));
/* Says nothing and closes (see peer_bye). Accepts NULL; sets *self_p = NULL. */
void peer_destroy(peer_t **self_p);

/* Sends h (and payload, copied when it must wait) in order behind anything waiting. */
void peer_send(peer_t *p, const wire_hdr_t *h, const void *payload, size_t len);

/* Reads what the broker sent (bounded per call) and flushes the outbox. Call from the loop's
 * before-wait hook; returns non-zero when messages are still waiting (ZMQ_FD is edge-triggered). */
int peer_pump(peer_t *p);

/* Leaving: sends what the socket takes now, drops the rest of the outbox and says BYE, so the
 * broker puts our leases back at once (and forgets a scheduler without waiting for silence).
 * What was sent gets PEER_BYE_LINGER_MS to leave after the socket is closed. */
#define PEER_BYE_LINGER_MS 2000
void peer_bye(peer_t *p);

bool peer_up(const peer_t *p);               /* welcomed, and the session not since ended */
uint32_t peer_workers(const peer_t *p);      /* workers alive, as the broker last said */
const char *peer_broker_id(const peer_t *p); /* the broker instance of this session, or "" */
size_t peer_outbox(const peer_t *p);         /* messages waiting to be sent */
uint64_t peer_reconnects(const peer_t *p);   /* sessions ended so far */
/* Milliseconds since the session was last up (since peer_new when it never was); 0 while up. */
int64_t peer_down_ms(const peer_t *p);
bool peer_ever_up(const peer_t *p);         /* some session of this peer was welcomed */
const char *peer_endpoint(const peer_t *p); /* the broker's address, as given */

#endif
