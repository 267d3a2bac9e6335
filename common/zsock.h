/* zsock: the few ZeroMQ helpers every role shares: socket set-up with our limits, sending a
 * header (+ optional payload) message, and receiving one whole message as frames. */
#ifndef LLMAJ_ZSOCK_H
#define LLMAJ_ZSOCK_H
#include <stddef.h>

#include <zmq.h>

#include "buf.h"
#include "wire.h"

/* Applies ZMQ_MAXMSGSIZE = WIRE_MAX_MSG, LINGER 0, generous HWMs, and (for ROUTER) ROUTER_MANDATORY. */
int zsock_setup(void *sock, int type) __attribute__((warn_unused_result));

/* Sends [identity]? header [payload]? without blocking. Returns 0, or -1 with errno (EAGAIN when
 * the peer's queue is full, EHOSTUNREACH when a ROUTER peer is gone). */
int zsock_send(void *sock, const void *ident, size_t ident_len, const wire_hdr_t *h, const void *payload,
               size_t payload_len) __attribute__((warn_unused_result));

#define ZSOCK_MAX_FRAMES 4
typedef struct {
    zmq_msg_t frames[ZSOCK_MAX_FRAMES];
    int n;           /* frames kept; extra frames are discarded and counted in `dropped` */
    int dropped;
} zsock_msg_t;

/* Receives one whole message without blocking: 1 = got one (caller must zsock_msg_close),
 * 0 = nothing waiting, -1 = error. */
int zsock_recv(void *sock, zsock_msg_t *m);
void zsock_msg_close(zsock_msg_t *m);

/* True when ZMQ_EVENTS says a message is waiting (ZMQ_FD is edge-triggered: check after every
 * send and recv, and drain). */
int zsock_readable(void *sock);
int zsock_fd(void *sock);

#endif
