/* zap: who may talk to a broker that speaks CURVE. Owns the ZAP handler (ZeroMQ RFC 27) in the
 * broker's context, the allowed-clients folder (the `*.key` public keys that may connect, read
 * again whenever the folder changes, so that a key is revoked by deleting its file), and a
 * monitor on the broker's socket that counts refused handshakes and logs them with the peer's
 * address (never a key). It does not own the broker's socket or its sessions: the broker asks
 * zap_allowed about every message's sender and ends the sessions of revoked keys.
 *
 * DESIGN. Runs on the broker's thread and loop: zap_pump answers ZAP requests and reads monitor
 * events; nothing blocks. A connection is accepted when its CURVE public key is in the folder;
 * the ZAP reply gives the connection that key (Z85) as its user id, which libzmq attaches to every
 * message from it (frame_in_user), so revocation also reaches connections made before it.
 * Plaintext peers never reach ZAP: libzmq refuses them at the greeting (mechanism mismatch) and
 * the monitor reports it. The monitor's events carry the broker's own endpoint, not the peer's,
 * so the peer's address is taken from the socket when the connection is accepted and matched by
 * file descriptor at the DISCONNECTED event that follows a failed handshake (libzmq emits both from
 * the engine, in that order, on the context's one I/O thread). */
#ifndef LLMAJ_ZAP_H
#define LLMAJ_ZAP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct zap zap_t;

typedef struct {
    uint64_t refused_key;       /* CURVE handshakes whose key is not in the folder */
    uint64_t refused_plaintext; /* peers that did not speak CURVE */
    uint64_t refused_other;     /* other failed CURVE handshakes (a wrong broker key, garbage) */
    uint64_t messages_refused;  /* messages from connections whose key was revoked since */
    uint64_t reloads;           /* times the folder was read again after a change */
    uint32_t keys;              /* keys allowed now */
} zap_stats_t;

/* Binds the ZAP handler in `ctx` (before the broker's socket binds) and reads `clients_dir`.
 * NULL with a message naming the folder or the bad file in err. */
zap_t *zap_new(void *ctx, const char *clients_dir, char *err, size_t errlen) __attribute__((warn_unused_result));
void zap_destroy(zap_t **self_p);

/* Watches the broker's socket (before it binds) for failed handshakes. 0 / -1 with err. */
int zap_watch(zap_t *z, void *sock, char *err, size_t errlen) __attribute__((warn_unused_result));

/* The file descriptors to watch for reading (ZMQ_FD: edge-triggered); returns how many (<= 2). */
int zap_fds(zap_t *z, int fds[2]);
/* Answers ZAP requests and reads monitor events, bounded per call; non-zero when more wait. */
int zap_pump(zap_t *z);

/* Reads the folder again if anything in it changed. True when the set of allowed keys changed. */
bool zap_refresh(zap_t *z);
/* True when `user_id` (frame_in_user of a message) is a key allowed now. NULL is not allowed. */
bool zap_allowed(const zap_t *z, const char *user_id);
/* The name of an allowed key (its file name without ".key") for logs, or "a revoked key". */
const char *zap_key_name(const zap_t *z, const char *user_id);
/* Counts a message refused because its sender's key is no longer allowed. */
void zap_count_refused_message(zap_t *z);

/* Thread-safe (/metrics). */
void zap_get_stats(zap_t *z, zap_stats_t *out);

#endif
