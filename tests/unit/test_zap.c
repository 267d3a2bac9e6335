/* test_zap: the CURVE broker's door (broker/zap.c), with a real ROUTER over TCP on 127.0.0.1
 * and real DEALER clients: an allowed key gets in and its messages carry the key as their user
 * id; an unknown key, a plaintext peer and a peer with the wrong broker key are refused and
 * counted; the folder is read again when it changes (a file removed, added, a Kubernetes-style
 * symlink swap, the folder gone); bad folders and files are refused at start with their names.
 * Waits poll for outcomes against generous deadlines. */
#include "zap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "check.h"
#include "curve.h"
#include "frame.h"
#include "log.h"
#include "loop.h"

#define DEADLINE_MS 10000

static char dir[256];

static const char *in_dir(const char *name)
{
    static char paths[4][512];
    static int next;
    char *p = paths[next++ % 4];
    snprintf(p, 512, "%s/%s", dir, name);
    return p;
}

static void write_key(const char *path, const char *z85)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fprintf(f, "%s\n", z85);
    fclose(f);
}

typedef struct {
    void *ctx, *router;
    zap_t *z;
    char ep[128];
    curve_keys_t broker;
    char last_user[64]; /* user id of the last message the router got */
    int got;            /* messages the router got */
    bool saw_bye;
} env_t;

static void pump(env_t *e)
{
    zap_pump(e->z);
    frame_in_t in;
    char err[256];
    while (frame_read(e->router, true, &in, err, sizeof err) == 1) {
        const char *u = frame_in_user(&in);
        snprintf(e->last_user, sizeof e->last_user, "%s", u ? u : "");
        e->got++;
        if (in.h.type == WIRE_BYE) e->saw_bye = true;
        frame_in_close(&in);
    }
    zmq_pollitem_t it[3] = {{e->router, 0, ZMQ_POLLIN, 0}};
    int fds[2], n = zap_fds(e->z, fds);
    for (int i = 0; i < n; i++) it[1 + i] = (zmq_pollitem_t){NULL, fds[i], ZMQ_POLLIN, 0};
    if (zmq_poll(it, 1 + n, 5) < 0) return;
}

typedef bool (*pred_t)(env_t *e, const void *arg);

static bool wait_for(env_t *e, pred_t p, const void *arg)
{
    int64_t end = loop_now_ms() + DEADLINE_MS;
    while (!p(e, arg)) {
        if (loop_now_ms() > end) return false;
        pump(e);
    }
    return true;
}

static bool got_above(env_t *e, const void *arg) { return e->got > *(const int *)arg; }
static bool refused(env_t *e, const void *arg)
{
    zap_stats_t s;
    zap_get_stats(e->z, &s);
    const uint64_t *want = arg; /* key, plaintext, other */
    return s.refused_key >= want[0] && s.refused_plaintext >= want[1] && s.refused_other >= want[2];
}

/* A DEALER to the broker: CURVE with `mine` and `server` (NULL: plaintext); sends HEARTBEATs. */
static void *client(env_t *e, const curve_keys_t *mine, const char *server)
{
    void *d = zmq_socket(e->ctx, ZMQ_DEALER);
    CHECK(frame_setup(d, ZMQ_DEALER) == 0);
    if (mine) {
        curve_keys_t k = *mine;
        snprintf(k.server, sizeof k.server, "%s", server);
        CHECK(frame_setup_curve(d, &k) == 0);
    }
    CHECK(zmq_connect(d, e->ep) == 0);
    return d;
}

static void say(void *d)
{
    wire_hdr_t h = {.type = WIRE_HEARTBEAT};
    if (frame_send(d, NULL, 0, &h, NULL, 0) < 0) {} /* IMMEDIATE: refused until the handshake is done */
}

static int env_start(env_t *e)
{
    memset(e, 0, sizeof(*e));
    e->ctx = zmq_ctx_new();
    char err[1024] = "";
    CHECK(curve_keygen(&e->broker) == 0);
    e->z = zap_new(e->ctx, dir, err, sizeof err);
    CHECK(e->z != NULL);
    if (!e->z) {
        fprintf(stderr, "zap_new: %s\n", err);
        return -1;
    }
    e->router = zmq_socket(e->ctx, ZMQ_ROUTER);
    CHECK(frame_setup(e->router, ZMQ_ROUTER) == 0 && frame_setup_curve(e->router, &e->broker) == 0);
    CHECK(zap_watch(e->z, e->router, err, sizeof err) == 0);
    CHECK(zmq_bind(e->router, "tcp://127.0.0.1:*") == 0);
    size_t len = sizeof e->ep;
    CHECK(zmq_getsockopt(e->router, ZMQ_LAST_ENDPOINT, e->ep, &len) == 0);
    return 0;
}

static void env_stop(env_t *e)
{
    zmq_close(e->router);
    zap_destroy(&e->z);
    CHECK(e->z == NULL);
    zmq_ctx_term(e->ctx);
}

static void test_start_errors(void)
{
    void *ctx = zmq_ctx_new();
    char err[1024];
    CHECK(zap_new(ctx, in_dir("nope"), err, sizeof err) == NULL);
    CHECK_HAS(err, "nope: No such file or directory");
    write_key(in_dir("plain-file"), "x");
    CHECK(zap_new(ctx, in_dir("plain-file"), err, sizeof err) == NULL);
    CHECK_HAS(err, "plain-file: not a folder");
    CHECK(zap_new(ctx, "", err, sizeof err) == NULL);
    CHECK_HAS(err, "--curve-clients");
    unlink(in_dir("plain-file"));
    /* a bad key file at start: named, and nothing started */
    write_key(in_dir("broken.key"), "not-a-key");
    CHECK(zap_new(ctx, dir, err, sizeof err) == NULL);
    CHECK_HAS(err, "broken.key:1: not a CURVE key");
    unlink(in_dir("broken.key"));
    /* an empty folder is allowed (nobody gets in until a key is added) */
    zap_t *z = zap_new(ctx, dir, err, sizeof err);
    CHECK(z != NULL);
    zap_stats_t s;
    if (z) zap_get_stats(z, &s);
    CHECK(z && s.keys == 0);
    CHECK(z && !zap_allowed(z, NULL) && !zap_allowed(z, ""));
    zap_destroy(&z);
    zmq_ctx_term(ctx);
}

static void test_door(void)
{
    curve_keys_t a, b, c;
    CHECK(curve_keygen(&a) == 0 && curve_keygen(&b) == 0 && curve_keygen(&c) == 0);
    write_key(in_dir("worker-a.key"), a.public_key);
    write_key(in_dir(".hidden.key"), b.public_key); /* dot files are not keys (Kubernetes' ..data) */
    write_key(in_dir("notes.txt"), b.public_key);   /* neither is anything but *.key */
    env_t e;
    if (env_start(&e) < 0) return;
    zap_stats_t s;
    zap_get_stats(e.z, &s);
    CHECK(s.keys == 1);
    CHECK(zap_allowed(e.z, a.public_key) && !zap_allowed(e.z, b.public_key));
    CHECK_STR(zap_key_name(e.z, a.public_key), "worker-a");

    /* The allowed key gets in; its messages carry it as their user id. */
    void *da = client(&e, &a, e.broker.public_key);
    int zero = 0;
    int64_t end = loop_now_ms() + DEADLINE_MS;
    while (e.got == 0 && loop_now_ms() < end) {
        say(da);
        pump(&e);
    }
    CHECK(e.got > 0);
    CHECK_STR(e.last_user, a.public_key);

    /* An unknown key, a plaintext peer, and a peer with the wrong broker key: refused, counted. */
    void *db = client(&e, &b, e.broker.public_key);
    void *dp = client(&e, NULL, NULL);
    void *dw = client(&e, &c, c.public_key);
    /* da is quiet from here: the messages it queued while the first handshake ran arrive first. */
    wire_hdr_t mark = {.type = WIRE_BYE};
    CHECK(frame_send(da, NULL, 0, &mark, NULL, 0) == 0);
    end = loop_now_ms() + DEADLINE_MS;
    while (!e.saw_bye && loop_now_ms() < end) pump(&e);
    CHECK(e.saw_bye);
    int before = e.got;
    uint64_t want[3] = {1, 1, 1};
    end = loop_now_ms() + DEADLINE_MS;
    while (!refused(&e, want) && loop_now_ms() < end) {
        say(db);
        say(dp);
        say(dw);
        pump(&e);
    }
    CHECK(refused(&e, want));
    CHECK(e.got == before); /* nothing from them reached the socket */

    /* Revoked: the file goes; the folder is read again; the connection made before is refused. */
    unlink(in_dir("worker-a.key"));
    CHECK(zap_refresh(e.z));
    CHECK(!zap_allowed(e.z, a.public_key));
    CHECK_STR(zap_key_name(e.z, a.public_key), "a revoked key");
    CHECK(!zap_refresh(e.z)); /* nothing changed since */
    zap_get_stats(e.z, &s);
    CHECK(s.keys == 0 && s.reloads >= 1);

    /* b allowed by adding its file: its next handshake gets in. A half-written file next to it is
     * left out without stopping the others. */
    write_key(in_dir("worker-b.key"), b.public_key);
    write_key(in_dir("half.key"), "abc");
    CHECK(zap_refresh(e.z));
    CHECK(zap_allowed(e.z, b.public_key));
    /* libzmq does not retry a connection that ZAP refused (a protocol error ends it): a new
     * socket, as peer.c opens after silence, makes the next handshake. */
    zmq_close(db);
    db = client(&e, &b, e.broker.public_key);
    before = e.got;
    end = loop_now_ms() + DEADLINE_MS;
    while (e.got == before && loop_now_ms() < end) {
        say(db);
        pump(&e);
    }
    CHECK(e.got > before);
    CHECK_STR(e.last_user, b.public_key);
    CHECK(wait_for(&e, got_above, &zero));
    unlink(in_dir("half.key"));
    CHECK(!zap_refresh(e.z)); /* the set of keys did not change */
    zmq_close(da);
    zmq_close(db);
    zmq_close(dp);
    zmq_close(dw);
    env_stop(&e);
    unlink(in_dir("worker-b.key"));
    unlink(in_dir(".hidden.key"));
    unlink(in_dir("notes.txt"));
}

/* A Kubernetes Secret volume: name -> ..data/name, ..data -> ..<timestamp>/; an update writes a
 * new timestamped folder and swaps the ..data link. The folder's names do not change. */
static void test_symlink_swap(void)
{
    curve_keys_t a, b;
    CHECK(curve_keygen(&a) == 0 && curve_keygen(&b) == 0);
    CHECK(mkdir(in_dir("..v1"), 0755) == 0);
    write_key(in_dir("..v1/w.key"), a.public_key);
    CHECK(symlink("..v1", in_dir("..data")) == 0);
    CHECK(symlink("..data/w.key", in_dir("w.key")) == 0);
    env_t e;
    if (env_start(&e) < 0) return;
    CHECK(zap_allowed(e.z, a.public_key));
    CHECK_STR(zap_key_name(e.z, a.public_key), "w");

    CHECK(mkdir(in_dir("..v2"), 0755) == 0);
    write_key(in_dir("..v2/w.key"), b.public_key);
    CHECK(symlink("..v2", in_dir("..data.tmp")) == 0);
    CHECK(rename(in_dir("..data.tmp"), in_dir("..data")) == 0);
    CHECK(zap_refresh(e.z));
    CHECK(!zap_allowed(e.z, a.public_key) && zap_allowed(e.z, b.public_key));

    /* The whole folder gone: nobody. Back: read again. */
    char moved[512];
    snprintf(moved, sizeof moved, "%s.moved", dir);
    CHECK(rename(dir, moved) == 0);
    CHECK(zap_refresh(e.z));
    CHECK(!zap_allowed(e.z, b.public_key));
    CHECK(!zap_refresh(e.z));
    CHECK(rename(moved, dir) == 0);
    CHECK(zap_refresh(e.z));
    CHECK(zap_allowed(e.z, b.public_key));
    env_stop(&e);
    unlink(in_dir("w.key"));
    unlink(in_dir("..data"));
    unlink(in_dir("..v1/w.key"));
    unlink(in_dir("..v2/w.key"));
    rmdir(in_dir("..v1"));
    rmdir(in_dir("..v2"));
}

int main(void)
{
    log_set_level(getenv("TEST_ZAP_LOG") ? LOG_DEBUG : LOG_OFF);
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/test_zap.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_start_errors();
    test_door();
    test_symlink_swap();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s.moved'", dir, dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return check_summary("test_zap");
}
