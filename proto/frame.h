/* frame: protocol v1 messages on a ZeroMQ socket. Sets a socket up with our limits, sends a
 * header (+ optional payload) message as frames, and receives one whole message. The only place
 * besides wire.c that knows how a message is laid out in frames (schemas/protocol.md). */
#ifndef LLMAJ_FRAME_H
#define LLMAJ_FRAME_H
#include <stddef.h>

#include <zmq.h>

#include "buf.h"
#include "wire.h"

/* Applies ZMQ_MAXMSGSIZE = WIRE_MAX_MSG, LINGER 0, generous HWMs, and (for ROUTER) ROUTER_MANDATORY. */
int frame_setup(void *sock, int type) __attribute__((warn_unused_result));

/* Sends [identity]? header [payload]? without blocking. Returns 0, or -1 with errno (EAGAIN when
 * the peer's queue is full, EHOSTUNREACH when a ROUTER peer is gone). */
int frame_send(void *sock, const void *ident, size_t ident_len, const wire_hdr_t *h, const void *payload,
               size_t payload_len) __attribute__((warn_unused_result));

#define FRAME_MAX_PARTS 4
typedef struct {
    zmq_msg_t frames[FRAME_MAX_PARTS];
    int n;           /* frames kept; extra frames are discarded and counted in `dropped` */
    int dropped;
} frame_msg_t;

/* Receives one whole message without blocking: 1 = got one (caller must frame_msg_close),
 * 0 = nothing waiting, -1 = error. */
int frame_recv(void *sock, frame_msg_t *m);
void frame_msg_close(frame_msg_t *m);

/* True when ZMQ_EVENTS says a message is waiting (ZMQ_FD is edge-triggered: check after every
 * send and recv, and drain). */
int frame_readable(void *sock);
int frame_fd(void *sock);

#endif
