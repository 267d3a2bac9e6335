/* peer: the broker-client session; see peer.h. */
#define LOG_MODULE "peer"
#include "peer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "frame.h"
#include "log.h"
#include "lograte.h"
#include "mem.h"

#define DRAIN_BUDGET 4096 /* messages read per pump */

typedef struct outmsg {
    wire_hdr_t h;
    void *payload;
    size_t len;
    struct outmsg *next;
} outmsg_t;

struct peer {
    peer_opts_t o;
    char *endpoint, *role, *name;
    void *sock;
    outmsg_t *out_head, *out_tail;
    size_t out_n;
    char broker_id[WIRE_MAX_ID];
    int64_t broker_seen; /* last message of any kind from the broker */
    bool up;             /* welcomed in this session */
    bool ever_up;        /* some session of this peer was welcomed */
    uint32_t workers;
    uint64_t reconnects;
    uint64_t timer;
    int64_t down_since; /* loop_now_ms when the last session ended (or the peer was made) */
    curve_keys_t curve; /* valid when has_curve */
    bool has_curve;
    lograte_t lr_drop; /* malformed frames from the broker (a flood logs a count) */
};

/* ---- the outbox ---- */
static void out_push(peer_t *p, const wire_hdr_t *h, const void *payload, size_t len)
{
    outmsg_t *m = xcalloc(1, sizeof(*m));
    m->h = *h;
    if (payload) {
        m->payload = xmalloc(len ? len : 1);
        memcpy(m->payload, payload, len);
        m->len = len;
    }
    if (p->out_tail) p->out_tail->next = m;
    else p->out_head = m;
    p->out_tail = m;
    p->out_n++;
}

static void out_free(outmsg_t *m)
{
    free(m->payload);
    free(m);
}

static void out_flush(peer_t *p)
{
    while (p->out_head) {
        outmsg_t *m = p->out_head;
        if (frame_send(p->sock, NULL, 0, &m->h, m->payload, m->len) < 0) {
            if (errno != EAGAIN)
                log_warn("%s: send %s failed: %s", p->name, wire_type_name(m->h.type), zmq_strerror(errno));
            return;
        }
        p->out_head = m->next;
        if (!p->out_head) p->out_tail = NULL;
        p->out_n--;
        out_free(m);
    }
}

/* The messages of a session mean nothing to the next one. */
static bool session_scoped(wire_type_t t)
{
    return t == WIRE_HELLO || t == WIRE_HEARTBEAT || t == WIRE_CREDIT || t == WIRE_DEMAND || t == WIRE_BYE ||
           t == WIRE_RETURN;
}

static void out_drop(peer_t *p, bool all)
{
    outmsg_t *keep = NULL, **tail = &keep;
    size_t n = 0;
    while (p->out_head) {
        outmsg_t *m = p->out_head;
        p->out_head = m->next;
        if (all || session_scoped(m->h.type)) {
            out_free(m);
            continue;
        }
        m->next = NULL;
        *tail = m;
        tail = &m->next;
        n++;
    }
    p->out_head = keep;
    p->out_tail = NULL;
    for (outmsg_t *m = keep; m; m = m->next) p->out_tail = m;
    p->out_n = n;
}

void peer_send(peer_t *p, const wire_hdr_t *h, const void *payload, size_t len)
{
    if (!p->out_head && frame_send(p->sock, NULL, 0, h, payload, len) == 0) return;
    if (!p->out_head && errno != EAGAIN)
        log_warn("%s: send %s failed: %s (kept to send again)", p->name, wire_type_name(h->type), zmq_strerror(errno));
    out_push(p, h, payload, len);
}

/* ---- the session ---- */
static void on_fd(loop_t *loop, int fd, int events, void *arg);

static void say_hello(peer_t *p)
{
    wire_hdr_t h = {.type = WIRE_HELLO, .threads = 1};
    h.n = p->o.hello_credit ? p->o.hello_credit(p->o.arg) : 0;
    snprintf(h.role, sizeof h.role, "%s", p->role);
    snprintf(h.name, sizeof h.name, "%s", p->name);
    /* HELLO opens the session: it goes before whatever the last session left in the outbox. */
    if (frame_send(p->sock, NULL, 0, &h, NULL, 0) == 0) return;
    outmsg_t *m = xcalloc(1, sizeof(*m));
    m->h = h;
    m->next = p->out_head;
    p->out_head = m;
    if (!p->out_tail) p->out_tail = m;
    p->out_n++;
}

static int open_socket(peer_t *p, char *err, size_t errlen)
{
    if (p->sock) {
        loop_fd_del(p->o.loop, frame_fd(p->sock));
        zmq_close(p->sock);
        p->sock = NULL;
    }
    p->sock = zmq_socket(p->o.zmq_ctx, ZMQ_DEALER);
    if (!p->sock || frame_setup(p->sock, ZMQ_DEALER) < 0 ||
        (p->has_curve && frame_setup_curve(p->sock, &p->curve) < 0) || zmq_connect(p->sock, p->endpoint) < 0) {
        snprintf(err, errlen, "cannot connect to the broker at %s: %s", p->endpoint, zmq_strerror(errno));
        return -1;
    }
    int fd = frame_fd(p->sock);
    if (fd < 0 || loop_fd_set(p->o.loop, fd, LOOP_READ, on_fd, p) < 0) {
        snprintf(err, errlen, "cannot watch the socket to %s", p->endpoint);
        return -1;
    }
    p->broker_seen = loop_now_ms();
    p->broker_id[0] = '\0';
    say_hello(p);
    return 0;
}

/* Ends the session and starts the next one. */
static void reconnect(peer_t *p, const char *why)
{
    bool was_up = p->up;
    p->up = false;
    if (was_up) p->down_since = loop_now_ms();
    p->reconnects++;
    out_drop(p, false);
    if (p->o.on_session) p->o.on_session(PEER_DOWN, was_up, NULL, why, p->o.arg);
    char err[512];
    if (open_socket(p, err, sizeof err) < 0) log_error("%s: %s", p->name, err);
}

static void handle(peer_t *p, const wire_hdr_t *h, const void *payload, size_t len)
{
    p->broker_seen = loop_now_ms();
    switch (h->type) {
    case WIRE_WELCOME: {
        snprintf(p->broker_id, sizeof p->broker_id, "%s", h->name);
        bool again = p->ever_up;
        p->up = p->ever_up = true;
        p->workers = h->n;
        log_info("%s: connected to %s (%u worker(s))", p->name, h->name, h->n);
        if (p->o.on_session) p->o.on_session(PEER_UP, again, h, NULL, p->o.arg);
        break;
    }
    case WIRE_HEARTBEAT:
        if (p->up) p->workers = h->n;
        if (p->up && h->name[0] && strcmp(h->name, p->broker_id) != 0) {
            log_warn("%s: the broker restarted (%s -> %s): saying HELLO again", p->name, p->broker_id, h->name);
            reconnect(p, "the broker restarted");
        }
        break;
    case WIRE_BYE:
        log_warn("%s: the broker ended our session: saying HELLO again", p->name);
        reconnect(p, "the broker ended the session");
        break;
    default:
        if (p->o.on_message) p->o.on_message(h, payload, len, p->o.arg);
    }
}

static int drain(peer_t *p)
{
    for (int i = 0; i < DRAIN_BUDGET; i++) {
        frame_in_t in;
        char err[300];
        int rc = frame_read(p->sock, false, &in, err, sizeof err);
        if (rc == 0 || rc == -1) break;
        if (rc == -2) {
            log_rated(&p->lr_drop, LOG_WARN, "%s: dropped %s", p->name, err);
            continue;
        }
        void *sock = p->sock;
        handle(p, &in.h, in.payload, in.payload_len);
        frame_in_close(&in);
        if (p->sock != sock) break; /* the session changed: the old socket is gone */
    }
    return frame_readable(p->sock);
}

/* What drain leaves waiting is taken by peer_pump, which the owner calls from its before-wait hook. */
static void on_fd(loop_t *loop, int fd, int events, void *arg) { (void)drain(arg); }

int peer_pump(peer_t *p)
{
    int more = drain(p);
    out_flush(p);
    return more || frame_readable(p->sock);
}

static void tick(loop_t *loop, uint64_t id, void *arg)
{
    peer_t *p = arg;
    int64_t silent = loop_now_ms() - p->broker_seen;
    if (silent > (int64_t)p->o.heartbeat_ms * p->o.dead_after) {
        if (!p->up && !p->broker_id[0])
            log_warn("%s: no answer from the broker at %s for %.1f s (is it running, and is the address right?%s): "
                     "trying again",
                     p->name, p->endpoint, silent / 1000.0,
                     p->has_curve ? " Is the broker key right, and our public key in its --curve-clients folder?" : "");
        else log_warn("%s: the broker is silent: reconnecting", p->name);
        reconnect(p, "the broker is silent");
    } else {
        wire_hdr_t h = {.type = WIRE_HEARTBEAT, .n = p->o.heartbeat_n ? p->o.heartbeat_n(p->o.arg) : 0};
        peer_send(p, &h, NULL, 0);
    }
    lograte_tick(&p->lr_drop, loop_now_ms());
    p->timer = loop_timer_add(loop, p->o.heartbeat_ms, tick, p);
}

peer_t *peer_new(const peer_opts_t *o, char *err, size_t errlen)
{
    peer_t *p = xcalloc(1, sizeof(*p));
    p->lr_drop = (lograte_t)LOGRATE_INIT("malformed messages from the broker dropped", LOG_WARN);
    p->o = *o;
    if (p->o.heartbeat_ms < 10) p->o.heartbeat_ms = 1000;
    if (p->o.dead_after < 2) p->o.dead_after = 5;
    p->endpoint = xstrdup(o->endpoint);
    p->role = xstrdup(o->role);
    p->name = xstrdup(o->name ? o->name : o->role);
    p->o.endpoint = p->endpoint;
    p->o.role = p->role;
    p->o.name = p->name;
    p->down_since = loop_now_ms();
    p->o.curve = NULL;
    if (o->curve) {
        p->curve = *o->curve;
        p->has_curve = true;
    }
    if (open_socket(p, err, errlen) < 0) {
        peer_destroy(&p);
        return NULL;
    }
    p->timer = loop_timer_add(p->o.loop, p->o.heartbeat_ms, tick, p);
    return p;
}

void peer_bye(peer_t *p)
{
    out_flush(p); /* what can still go (a CANCEL, the last results) goes first */
    out_drop(p, true);
    if (p->up) p->down_since = loop_now_ms();
    p->up = false;
    wire_hdr_t bye = {.type = WIRE_BYE};
    if (frame_send(p->sock, NULL, 0, &bye, NULL, 0) < 0)
        log_debug("%s: BYE not sent: %s", p->name, zmq_strerror(errno));
    /* LINGER 0 would throw away what is still queued when the socket closes: the last results
     * and the BYE itself. Give them a bounded time to leave. */
    int linger = PEER_BYE_LINGER_MS;
    if (zmq_setsockopt(p->sock, ZMQ_LINGER, &linger, sizeof linger) < 0)
        log_debug("%s: cannot set LINGER: %s", p->name, zmq_strerror(errno));
}

void peer_destroy(peer_t **self_p)
{
    if (!self_p || !*self_p) return;
    peer_t *p = *self_p;
    if (p->timer) loop_timer_del(p->o.loop, p->timer);
    out_drop(p, true);
    if (p->sock) {
        loop_fd_del(p->o.loop, frame_fd(p->sock));
        zmq_close(p->sock);
    }
    curve_wipe(&p->curve);
    free(p->endpoint);
    free(p->role);
    free(p->name);
    free(p);
    *self_p = NULL;
}

bool peer_up(const peer_t *p) { return p->up; }
uint32_t peer_workers(const peer_t *p) { return p->workers; }
const char *peer_broker_id(const peer_t *p) { return p->broker_id; }
size_t peer_outbox(const peer_t *p) { return p->out_n; }
uint64_t peer_reconnects(const peer_t *p) { return p->reconnects; }
int64_t peer_down_ms(const peer_t *p) { return p->up ? 0 : loop_now_ms() - p->down_since; }
bool peer_ever_up(const peer_t *p) { return p->ever_up; }
const char *peer_endpoint(const peer_t *p) { return p->endpoint; }
