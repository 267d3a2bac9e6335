/* frame: protocol v1 on a ZeroMQ socket; see frame.h. */
#include "frame.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

int frame_setup(void *sock, int type)
{
    int64_t max = WIRE_MAX_MSG;
    int linger = 0, hwm = 1000000, one = 1;
    if (zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &max, sizeof max) < 0) return -1;
    if (zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger) < 0) return -1;
    if (zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof hwm) < 0) return -1;
    if (zmq_setsockopt(sock, ZMQ_RCVHWM, &hwm, sizeof hwm) < 0) return -1;
    if (type == ZMQ_ROUTER && zmq_setsockopt(sock, ZMQ_ROUTER_MANDATORY, &one, sizeof one) < 0) return -1;
    /* A reconnecting peer with the same routing id takes its old session over. */
    if (type == ZMQ_ROUTER && zmq_setsockopt(sock, ZMQ_ROUTER_HANDOVER, &one, sizeof one) < 0) return -1;
    if (type == ZMQ_DEALER) {
        /* A fixed routing id per socket, so a TCP reconnect keeps the broker's session (the
         * default would be a new anonymous identity per connection). First byte non-zero:
         * ids starting with 0 are libzmq's own. */
        unsigned char id[16];
        if (getrandom(id, sizeof id, 0) != (ssize_t)sizeof id) {
            uint64_t a = (uint64_t)clock() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)sock;
            memcpy(id, &a, 8);
            memcpy(id + 8, &sock, sizeof(void *) < 8 ? sizeof(void *) : 8);
        }
        if (id[0] == 0) id[0] = 1;
        if (zmq_setsockopt(sock, ZMQ_ROUTING_ID, id, sizeof id) < 0) return -1;
        /* Queue only to a live connection: while the broker is away, sends fail with EAGAIN and
         * wait in the session's outbox (peer.c), which survives a reconnect, instead of in a pipe
         * that closing the socket would throw away. */
        if (zmq_setsockopt(sock, ZMQ_IMMEDIATE, &one, sizeof one) < 0) return -1;
        int ivl = 100, ivl_max = 2000;
        if (zmq_setsockopt(sock, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl) < 0) return -1;
        if (zmq_setsockopt(sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max) < 0) return -1;
    }
    return 0;
}

int frame_setup_curve(void *sock, const curve_keys_t *k)
{
    if (!k->server[0]) {
        int one = 1;
        if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one) < 0) return -1;
        if (zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, k->secret, CURVE_Z85_LEN + 1) < 0) return -1;
        return zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, "llmaj", 5);
    }
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, k->server, CURVE_Z85_LEN + 1) < 0) return -1;
    if (zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, k->public_key, CURVE_Z85_LEN + 1) < 0) return -1;
    return zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, k->secret, CURVE_Z85_LEN + 1);
}

int frame_send(void *sock, const void *ident, size_t ident_len, const wire_hdr_t *h, const void *payload,
               size_t payload_len)
{
    buf_t b;
    buf_init(&b, 1 << 20);
    if (wire_hdr_encode(h, &b) < 0) {
        buf_free(&b);
        errno = EMSGSIZE;
        return -1;
    }
    int more = payload ? ZMQ_SNDMORE : 0;
    int rc = 0;
    if (ident && zmq_send(sock, ident, ident_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) rc = -1;
    /* After the first frame is accepted the rest go out atomically with it. */
    if (!rc && zmq_send(sock, b.data, b.len, more | ZMQ_DONTWAIT) < 0) rc = -1;
    if (!rc && payload && zmq_send(sock, payload, payload_len, ZMQ_DONTWAIT) < 0) rc = -1;
    int saved = errno;
    buf_free(&b);
    errno = saved;
    return rc;
}

int frame_recv(void *sock, frame_msg_t *m)
{
    memset(m, 0, sizeof(*m));
    for (;;) {
        zmq_msg_t f;
        zmq_msg_init(&f);
        if (zmq_msg_recv(&f, sock, ZMQ_DONTWAIT) < 0) {
            int e = errno;
            zmq_msg_close(&f);
            if (m->n == 0 && e == EAGAIN) return 0;
            if (e == EINTR && m->n == 0) return 0;
            frame_msg_close(m);
            errno = e;
            return -1;
        }
        int more = zmq_msg_more(&f);
        if (m->n < FRAME_MAX_PARTS) {
            m->frames[m->n++] = f;
        } else {
            m->dropped++;
            zmq_msg_close(&f);
        }
        if (!more) return 1;
    }
}

void frame_msg_close(frame_msg_t *m)
{
    for (int i = 0; i < m->n; i++) zmq_msg_close(&m->frames[i]);
    m->n = 0;
}

int frame_readable(void *sock)
{
    int ev = 0;
    size_t len = sizeof ev;
    if (zmq_getsockopt(sock, ZMQ_EVENTS, &ev, &len) < 0) return 0;
    return (ev & ZMQ_POLLIN) != 0;
}

int frame_fd(void *sock)
{
    int fd = -1;
    size_t len = sizeof fd;
    if (zmq_getsockopt(sock, ZMQ_FD, &fd, &len) < 0) return -1;
    return fd;
}

int frame_read(void *sock, bool routed, frame_in_t *in, char *err, size_t errlen)
{
    memset(in, 0, sizeof(*in));
    int rc = frame_recv(sock, &in->raw);
    if (rc <= 0) return rc;
    frame_msg_t *m = &in->raw;
    int first = routed ? 1 : 0;
    if (m->dropped || m->n < first + 1 || m->n > first + 2) {
        snprintf(err, errlen, "a message of %d frame(s): expected %sheader[, payload]", m->n + m->dropped,
                 routed ? "identity, " : "");
        frame_in_close(in);
        return -2;
    }
    if (routed) {
        in->ident = zmq_msg_data(&m->frames[0]);
        in->ident_len = zmq_msg_size(&m->frames[0]);
        if (in->ident_len == 0 || in->ident_len > FRAME_MAX_IDENT) {
            snprintf(err, errlen, "a message with a %zu-byte identity", in->ident_len);
            frame_in_close(in);
            return -2;
        }
    }
    char why[256];
    if (wire_hdr_decode(zmq_msg_data(&m->frames[first]), zmq_msg_size(&m->frames[first]), &in->h, why, sizeof why) <
        0) {
        snprintf(err, errlen, "a malformed message: %s", why);
        frame_in_close(in);
        return -2;
    }
    if (m->n > first + 1) {
        in->payload = zmq_msg_data(&m->frames[first + 1]);
        in->payload_len = zmq_msg_size(&m->frames[first + 1]);
    }
    return 1;
}

const char *frame_in_user(const frame_in_t *in)
{
    /* The header frame: a ROUTER's identity frame is made by the socket and carries no metadata
     * when the socket made up the identity. */
    int at = in->ident ? 1 : 0;
    if (in->raw.n <= at) return NULL;
    return zmq_msg_gets(&in->raw.frames[at], "User-Id");
}

void frame_in_close(frame_in_t *in)
{
    frame_msg_close(&in->raw);
    in->ident = in->payload = NULL;
    in->ident_len = in->payload_len = 0;
}
