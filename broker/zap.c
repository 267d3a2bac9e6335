/* zap: the CURVE broker's door; see zap.h. */
#define LOG_MODULE "broker"
#include "zap.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <zmq.h>

#include "curve.h"
#include "log.h"
#include "loop.h"
#include "mem.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01" /* fixed by RFC 27 */
#define MAX_KEYS 4096                         /* keys read from the folder at most */
#define PUMP_BUDGET 256                       /* requests and events handled per pump */
#define ADDR_SLOTS 256                        /* accepted connections remembered */
#define LOG_BURST 10                          /* refusals logged per LOG_WINDOW_MS */
#define LOG_WINDOW_MS 10000
#define FOLDER_GONE 1u /* the fingerprint of a folder that cannot be read */

typedef struct {
    char z85[CURVE_Z85_LEN + 1];
    char *name;
} key_t_;

typedef struct {
    int fd;
    char addr[INET6_ADDRSTRLEN + 8];
} addr_slot_t;

typedef enum { PENDING_NONE = 0, PENDING_PLAINTEXT, PENDING_OTHER } pending_t;

struct zap {
    void *ctx;
    void *rep; /* the ZAP handler */
    void *mon; /* the monitor's PAIR end, once zap_watch ran */
    char *dir;
    key_t_ *keys; /* sorted by z85 */
    size_t n_keys;
    uint64_t fingerprint; /* of the folder as last read */
    addr_slot_t addrs[ADDR_SLOTS];
    size_t next_slot;
    pending_t pending; /* a failed handshake waiting for its DISCONNECTED event */
    int64_t log_window;
    int log_count, log_skipped;
    _Atomic uint64_t refused_key, refused_plaintext, refused_other, messages_refused, reloads;
    _Atomic uint32_t n_allowed;
};

/* ---- the folder ---- */
static int key_cmp(const void *a, const void *b) { return strcmp(((const key_t_ *)a)->z85, ((const key_t_ *)b)->z85); }

static void keys_free(key_t_ *keys, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        explicit_bzero(keys[i].z85, sizeof keys[i].z85);
        free(keys[i].name);
    }
    free(keys);
}

static bool is_key_file(const char *name)
{
    size_t n = strlen(name);
    return name[0] != '.' && n > 4 && strcmp(name + n - 4, ".key") == 0;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

/* What the folder looks like now: every *.key entry's name and what it points to (Kubernetes
 * swaps a Secret volume's files by replacing a symlink, so stat follows links). Order-independent. */
static int folder_fingerprint(const char *dir, uint64_t *out)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    uint64_t sum = 0, count = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!is_key_file(e->d_name)) continue;
        char path[4096];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= sizeof path) continue;
        struct stat st;
        uint64_t h = fnv(1469598103934665603ull, e->d_name, strlen(e->d_name));
        if (stat(path, &st) == 0) {
            h = fnv(h, &st.st_dev, sizeof st.st_dev);
            h = fnv(h, &st.st_ino, sizeof st.st_ino);
            h = fnv(h, &st.st_size, sizeof st.st_size);
            h = fnv(h, &st.st_mtim, sizeof st.st_mtim);
            h = fnv(h, &st.st_ctim, sizeof st.st_ctim);
        }
        sum += h;
        count++;
    }
    closedir(d);
    *out = sum ^ (count * 0x9e3779b97f4a7c15ull);
    if (*out == FOLDER_GONE) *out = FOLDER_GONE + 1;
    return 0;
}

/* Reads every *.key file. strict: a bad file is an error (at start); otherwise it is logged and
 * left out (a reload must never let a half-written file stop the broker). */
static int folder_read(const char *dir, bool strict, key_t_ **keys_out, size_t *n_out, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "--curve-clients %s: %s", dir, strerror(errno));
        return -1;
    }
    key_t_ *keys = NULL;
    size_t n = 0;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        if (!is_key_file(e->d_name)) continue;
        if (n == MAX_KEYS) {
            snprintf(err, errlen, "--curve-clients %s: more than %d keys", dir, MAX_KEYS);
            rc = -1;
            break;
        }
        char path[4096], why[4200], z85[CURVE_Z85_LEN + 1];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= sizeof path) continue;
        if (curve_read_key(path, z85, why, sizeof why) < 0) {
            if (strict) {
                snprintf(err, errlen, "--curve-clients: %s", why);
                rc = -1;
                break;
            }
            log_warn("--curve-clients: %s: left out", why);
            continue;
        }
        keys = xrealloc(keys, (n + 1) * sizeof(*keys));
        memcpy(keys[n].z85, z85, sizeof z85);
        keys[n].name = xstrndup(e->d_name, strlen(e->d_name) - 4);
        explicit_bzero(z85, sizeof z85);
        n++;
    }
    closedir(d);
    if (rc < 0) {
        keys_free(keys, n);
        return -1;
    }
    if (n) qsort(keys, n, sizeof(*keys), key_cmp);
    *keys_out = keys;
    *n_out = n;
    return 0;
}

static const key_t_ *key_find(const zap_t *z, const char *z85)
{
    if (!z85 || !z->n_keys) return NULL;
    key_t_ probe;
    snprintf(probe.z85, sizeof probe.z85, "%s", z85);
    return bsearch(&probe, z->keys, z->n_keys, sizeof(*z->keys), key_cmp);
}

/* Whether two sorted key sets differ (in keys, not names). */
static bool keys_differ(const key_t_ *a, size_t na, const key_t_ *b, size_t nb)
{
    if (na != nb) return true;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i].z85, b[i].z85) != 0) return true;
    return false;
}

bool zap_refresh(zap_t *z)
{
    uint64_t fp;
    bool gone = folder_fingerprint(z->dir, &fp) < 0;
    if (gone) fp = FOLDER_GONE; /* allows nobody, like an empty folder */
    if (fp == z->fingerprint) return false;
    key_t_ *keys = NULL;
    size_t n = 0;
    char err[512];
    if (gone) {
        log_warn("--curve-clients %s: %s: no key is allowed until it is back", z->dir, strerror(errno));
    } else if (folder_read(z->dir, false, &keys, &n, err, sizeof err) < 0) {
        log_warn("%s: keeping the keys read before", err);
        return false;
    }
    z->fingerprint = fp;
    bool changed = keys_differ(z->keys, z->n_keys, keys, n);
    keys_free(z->keys, z->n_keys);
    z->keys = keys;
    z->n_keys = n;
    atomic_store(&z->n_allowed, (uint32_t)n);
    atomic_fetch_add(&z->reloads, 1);
    if (changed) log_info("--curve-clients %s changed: %zu key(s) allowed now", z->dir, n);
    return changed;
}

bool zap_allowed(const zap_t *z, const char *user_id) { return key_find(z, user_id) != NULL; }

const char *zap_key_name(const zap_t *z, const char *user_id)
{
    const key_t_ *k = key_find(z, user_id);
    return k ? k->name : "a revoked key";
}

void zap_count_refused_message(zap_t *z) { atomic_fetch_add(&z->messages_refused, 1); }

/* ---- logging refusals, bounded ---- */
static bool log_ok(zap_t *z)
{
    int64_t now = loop_now_ms();
    if (now - z->log_window > LOG_WINDOW_MS) {
        if (z->log_skipped) log_warn("%d more refused connection(s) not logged", z->log_skipped);
        z->log_window = now;
        z->log_count = z->log_skipped = 0;
    }
    if (z->log_count < LOG_BURST) {
        z->log_count++;
        return true;
    }
    z->log_skipped++;
    return false;
}

/* ---- the ZAP handler ---- */
static void zap_reply(void *rep, const void *req_id, size_t id_len, const char *status, const char *text,
                      const char *user)
{
    const char *parts[] = {"1.0", NULL, status, text, user, ""};
    for (int i = 0; i < 6; i++) {
        const void *d = i == 1 ? req_id : parts[i];
        size_t n = i == 1 ? id_len : strlen(parts[i]);
        if (zmq_send(rep, d, n, (i < 5 ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT) < 0) {
            log_error("ZAP reply not sent: %s", zmq_strerror(errno));
            return;
        }
    }
}

static void zap_request(zap_t *z, zmq_msg_t *f, int n)
{
    const void *id = n > 1 ? zmq_msg_data(&f[1]) : "";
    size_t id_len = n > 1 ? zmq_msg_size(&f[1]) : 0;
    if (n < 6 || zmq_msg_size(&f[0]) != 3 || memcmp(zmq_msg_data(&f[0]), "1.0", 3) != 0) {
        zap_reply(z->rep, id, id_len, "500", "malformed ZAP request", "");
        return;
    }
    char addr[64];
    snprintf(addr, sizeof addr, "%.*s", (int)(zmq_msg_size(&f[3]) < 63 ? zmq_msg_size(&f[3]) : 63),
             (const char *)zmq_msg_data(&f[3]));
    bool curve = zmq_msg_size(&f[5]) == 5 && memcmp(zmq_msg_data(&f[5]), "CURVE", 5) == 0;
    if (!curve || n < 7 || zmq_msg_size(&f[6]) != 32) {
        atomic_fetch_add(&z->refused_other, 1);
        if (log_ok(z)) log_warn("refused a connection from %s: not a CURVE handshake", addr);
        zap_reply(z->rep, id, id_len, "400", "CURVE only", "");
        return;
    }
    zap_refresh(z); /* a key added a moment ago is let in */
    char z85[CURVE_Z85_LEN + 1];
    if (!zmq_z85_encode(z85, zmq_msg_data(&f[6]), 32)) {
        zap_reply(z->rep, id, id_len, "500", "cannot encode the key", "");
        return;
    }
    const key_t_ *k = key_find(z, z85);
    if (!k) {
        atomic_fetch_add(&z->refused_key, 1);
        if (log_ok(z)) log_warn("refused a CURVE connection from %s: its key is not in %s", addr, z->dir);
        zap_reply(z->rep, id, id_len, "400", "key not allowed", "");
    } else {
        log_debug("CURVE connection from %s with key %s allowed", addr, k->name);
        zap_reply(z->rep, id, id_len, "200", "OK", z85);
    }
    explicit_bzero(z85, sizeof z85);
}

/* One ZAP request, if one is waiting: 1 handled, 0 none. */
static int zap_one(zap_t *z)
{
    zmq_msg_t f[8];
    int n = 0, more = 1;
    while (more) {
        zmq_msg_t tmp;
        zmq_msg_init(&tmp);
        if (zmq_msg_recv(&tmp, z->rep, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&tmp);
            break; /* EAGAIN before the first frame: nothing waiting (later frames come with the first) */
        }
        more = zmq_msg_more(&tmp);
        if (n < 8) f[n++] = tmp;
        else zmq_msg_close(&tmp);
    }
    if (n == 0) return 0;
    zap_request(z, f, n);
    for (int i = 0; i < n; i++) zmq_msg_close(&f[i]);
    return 1;
}

/* ---- the monitor ---- */
static void addr_remember(zap_t *z, int fd)
{
    addr_slot_t *s = &z->addrs[z->next_slot++ % ADDR_SLOTS];
    s->fd = fd;
    snprintf(s->addr, sizeof s->addr, "an unknown address");
    struct sockaddr_storage sa;
    socklen_t len = sizeof sa;
    if (getpeername(fd, (struct sockaddr *)&sa, &len) < 0) return;
    if (sa.ss_family == AF_INET) inet_ntop(AF_INET, &((struct sockaddr_in *)&sa)->sin_addr, s->addr, sizeof s->addr);
    else if (sa.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&sa)->sin6_addr, s->addr, sizeof s->addr);
}

static const char *addr_of(zap_t *z, int fd)
{
    for (size_t i = 0; i < ADDR_SLOTS; i++)
        if (z->addrs[i].fd == fd && z->addrs[i].addr[0]) return z->addrs[i].addr;
    return "an unknown address";
}

static void addr_forget(zap_t *z, int fd)
{
    for (size_t i = 0; i < ADDR_SLOTS; i++)
        if (z->addrs[i].fd == fd) z->addrs[i].addr[0] = '\0';
}

static void pending_log(zap_t *z, const char *addr)
{
    if (z->pending == PENDING_PLAINTEXT && log_ok(z))
        log_warn("refused a connection from %s: it does not speak CURVE (a peer without --curve-secret?)", addr);
    else if (z->pending == PENDING_OTHER && log_ok(z))
        log_warn("refused a CURVE connection from %s: the handshake failed (does it use this broker's public key?)",
                 addr);
    z->pending = PENDING_NONE;
}

static void on_event(zap_t *z, uint16_t ev, uint32_t value)
{
    switch (ev) {
    case ZMQ_EVENT_ACCEPTED: addr_remember(z, (int)value); break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
        if (z->pending) pending_log(z, "an unknown address");
        if (value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH) {
            atomic_fetch_add(&z->refused_plaintext, 1);
            z->pending = PENDING_PLAINTEXT;
        } else {
            atomic_fetch_add(&z->refused_other, 1);
            z->pending = PENDING_OTHER;
        }
        break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: /* ZAP said no: counted and logged there */
    case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
        if (z->pending) pending_log(z, "an unknown address");
        break;
    case ZMQ_EVENT_DISCONNECTED:
        if (z->pending) pending_log(z, addr_of(z, (int)value));
        addr_forget(z, (int)value);
        break;
    default: break;
    }
}

/* One monitor event, if one is waiting: 1 handled, 0 none. */
static int mon_one(zap_t *z)
{
    zmq_msg_t a, b;
    zmq_msg_init(&a);
    if (zmq_msg_recv(&a, z->mon, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&a);
        return 0;
    }
    bool more = zmq_msg_more(&a);
    zmq_msg_init(&b);
    if (more && zmq_msg_recv(&b, z->mon, ZMQ_DONTWAIT) >= 0) {
        while (zmq_msg_more(&b)) { /* a later libzmq may add frames: skip them */
            zmq_msg_close(&b);
            zmq_msg_init(&b);
            if (zmq_msg_recv(&b, z->mon, ZMQ_DONTWAIT) < 0) break;
        }
    }
    if (zmq_msg_size(&a) >= 6) {
        const unsigned char *d = zmq_msg_data(&a);
        uint16_t ev;
        uint32_t value;
        memcpy(&ev, d, 2);
        memcpy(&value, d + 2, 4);
        on_event(z, ev, value);
    }
    zmq_msg_close(&a);
    zmq_msg_close(&b);
    return 1;
}

static bool readable(void *sock)
{
    int ev = 0;
    size_t len = sizeof ev;
    return sock && zmq_getsockopt(sock, ZMQ_EVENTS, &ev, &len) == 0 && (ev & ZMQ_POLLIN);
}

int zap_pump(zap_t *z)
{
    for (int i = 0; i < PUMP_BUDGET && zap_one(z); i++) {}
    for (int i = 0; z->mon && i < PUMP_BUDGET && mon_one(z); i++) {}
    return readable(z->rep) || readable(z->mon);
}

int zap_fds(zap_t *z, int fds[2])
{
    int n = 0;
    void *socks[2] = {z->rep, z->mon};
    for (int i = 0; i < 2; i++) {
        int fd = -1;
        size_t len = sizeof fd;
        if (socks[i] && zmq_getsockopt(socks[i], ZMQ_FD, &fd, &len) == 0) fds[n++] = fd;
    }
    return n;
}

int zap_watch(zap_t *z, void *sock, char *err, size_t errlen)
{
    char ep[96];
    snprintf(ep, sizeof ep, "inproc://llmaj-zap-monitor-%p", (void *)z);
    int events = ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                 ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_SUCCEEDED;
    if (zmq_socket_monitor(sock, ep, events) < 0 || !(z->mon = zmq_socket(z->ctx, ZMQ_PAIR)) ||
        zmq_connect(z->mon, ep) < 0) {
        snprintf(err, errlen, "cannot monitor the broker socket: %s", zmq_strerror(errno));
        return -1;
    }
    int linger = 0;
    if (zmq_setsockopt(z->mon, ZMQ_LINGER, &linger, sizeof linger) < 0) {} /* best effort: closing only */
    return 0;
}

zap_t *zap_new(void *ctx, const char *clients_dir, char *err, size_t errlen)
{
    struct stat st;
    if (!clients_dir || !*clients_dir) {
        snprintf(err, errlen, "--curve-clients: a folder of allowed public keys (*.key) is required");
        return NULL;
    }
    if (stat(clients_dir, &st) < 0) {
        snprintf(err, errlen, "--curve-clients %s: %s", clients_dir, strerror(errno));
        return NULL;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "--curve-clients %s: not a folder", clients_dir);
        return NULL;
    }
    zap_t *z = xcalloc(1, sizeof(*z));
    z->ctx = ctx;
    z->dir = xstrdup(clients_dir);
    for (size_t i = 0; i < ADDR_SLOTS; i++) z->addrs[i].fd = -1;
    if (folder_fingerprint(z->dir, &z->fingerprint) < 0) {
        snprintf(err, errlen, "--curve-clients %s: %s", clients_dir, strerror(errno));
        zap_destroy(&z);
        return NULL;
    }
    if (folder_read(z->dir, true, &z->keys, &z->n_keys, err, errlen) < 0) {
        zap_destroy(&z);
        return NULL;
    }
    atomic_store(&z->n_allowed, (uint32_t)z->n_keys);
    if (z->n_keys == 0)
        log_warn("--curve-clients %s holds no *.key file: every peer is refused until one is added", z->dir);
    int linger = 0;
    z->rep = zmq_socket(ctx, ZMQ_REP);
    if (!z->rep || zmq_setsockopt(z->rep, ZMQ_LINGER, &linger, sizeof linger) < 0 ||
        zmq_bind(z->rep, ZAP_ENDPOINT) < 0) {
        snprintf(err, errlen, "cannot start the ZAP handler (%s): %s", ZAP_ENDPOINT, zmq_strerror(errno));
        zap_destroy(&z);
        return NULL;
    }
    return z;
}

void zap_get_stats(zap_t *z, zap_stats_t *out)
{
    out->refused_key = atomic_load(&z->refused_key);
    out->refused_plaintext = atomic_load(&z->refused_plaintext);
    out->refused_other = atomic_load(&z->refused_other);
    out->messages_refused = atomic_load(&z->messages_refused);
    out->reloads = atomic_load(&z->reloads);
    out->keys = atomic_load(&z->n_allowed);
}

void zap_destroy(zap_t **self_p)
{
    if (!self_p || !*self_p) return;
    zap_t *z = *self_p;
    if (z->mon) zmq_close(z->mon);
    if (z->rep) zmq_close(z->rep);
    keys_free(z->keys, z->n_keys);
    free(z->dir);
    free(z);
    *self_p = NULL;
}
