/* frame: protocol v1 messages on a ZeroMQ socket. Sets a socket up with our limits, sends a
 * header (+ optional payload) message as frames, and receives one whole message. The only place
 * besides wire.c that knows how a message is laid out in frames (schemas/protocol.md). */
#ifndef LLMAJ_FRAME_H
#define LLMAJ_FRAME_H
#include <stdbool.h>
#include <stddef.h>

#include <zmq.h>

#include "buf.h"
#include "curve.h"
#include "wire.h"

/* Applies ZMQ_MAXMSGSIZE = WIRE_MAX_MSG, LINGER 0, generous HWMs, and (for ROUTER) ROUTER_MANDATORY. */
int frame_setup(void *sock, int type) __attribute__((warn_unused_result));

/* CURVE on a socket that frame_setup set up, before it binds or connects. With k->server "" the
 * socket is a CURVE server (the broker) whose handshakes go to the ZAP handler (domain "llmaj");
 * otherwise a client that knows the server's public key. -1 with errno on failure. */
int frame_setup_curve(void *sock, const curve_keys_t *k) __attribute__((warn_unused_result));

/* Sends [identity]? header [payload]? without blocking. Returns 0, or -1 with errno (EAGAIN when
 * the peer's queue is full, EHOSTUNREACH when a ROUTER peer is gone). */
int frame_send(void *sock, const void *ident, size_t ident_len, const wire_hdr_t *h, const void *payload,
               size_t payload_len) __attribute__((warn_unused_result));

#define FRAME_MAX_PARTS 4
typedef struct {
    zmq_msg_t frames[FRAME_MAX_PARTS];
    int n; /* frames kept; extra frames are discarded and counted in `dropped` */
    int dropped;
} frame_msg_t;

/* Receives one whole message without blocking: 1 = got one (caller must frame_msg_close),
 * 0 = nothing waiting, -1 = error. */
int frame_recv(void *sock, frame_msg_t *m);
void frame_msg_close(frame_msg_t *m);

/* One received message, split and its header decoded. The pointers point into `raw`. */
#define FRAME_MAX_IDENT 255
typedef struct {
    frame_msg_t raw;
    const void *ident; /* ROUTER: the sender's routing id (1..FRAME_MAX_IDENT bytes); else NULL */
    size_t ident_len;
    wire_hdr_t h;
    const void *payload; /* the second (payload) frame, or NULL when there is none */
    size_t payload_len;
} frame_in_t;

/* Receives one whole message without blocking and decodes its header; `routed` says the socket is
 * a ROUTER (its first frame is the sender's identity). Returns 1 with the message in *in (release
 * it with frame_in_close), 0 when nothing is waiting, -1 on a socket error (errno), or -2 when a
 * message came that is not a protocol v1 message (too few or too many frames, a bad identity, a
 * header that does not decode): it is dropped and err says why. */
int frame_read(void *sock, bool routed, frame_in_t *in, char *err, size_t errlen) __attribute__((warn_unused_result));
void frame_in_close(frame_in_t *in);
/* The ZAP user id the sender's connection was given (on a CURVE broker: the sender's public key
 * in Z85), or NULL when its connection has none. Valid until frame_in_close. */
const char *frame_in_user(const frame_in_t *in);

/* True when ZMQ_EVENTS says a message is waiting (ZMQ_FD is edge-triggered: check after every
 * send and recv, and drain). */
int frame_readable(void *sock);
int frame_fd(void *sock);

#endif
