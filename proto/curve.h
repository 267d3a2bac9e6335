/* curve: ZeroMQ CURVE key pairs and the files that hold them (DESIGN.md, "Secure on a network").
 * Owns making a key pair, writing it as NAME.key (the Z85 public key) and NAME.secret (the Z85
 * secret key, mode 0600), and reading those files back with clear errors. It does not touch
 * sockets (frame.c applies keys to a socket) and does not decide who may connect (the broker's
 * ZAP handler does).
 *
 * A key file holds one key: 40 characters of Z85 (32 bytes), optionally followed by a newline;
 * blank lines and lines starting with '#' are ignored. A key is never written to a log. */
#ifndef LLMAJ_CURVE_H
#define LLMAJ_CURVE_H
#include <stdbool.h>
#include <stddef.h>

#define CURVE_Z85_LEN 40 /* a 32-byte key in Z85 */

/* The keys one socket needs. A server (the broker) has `secret` and `public_key`; a client (a
 * worker or scheduler) also has `server`, the broker's public key. All NUL-terminated Z85. */
typedef struct curve_keys {
    char secret[CURVE_Z85_LEN + 1];
    char public_key[CURVE_Z85_LEN + 1]; /* derived from `secret` */
    char server[CURVE_Z85_LEN + 1];     /* a client's: the broker's public key; "" on the broker */
} curve_keys_t;

/* A fresh key pair in *out (server left ""). -1 when libzmq was built without CURVE. */
int curve_keygen(curve_keys_t *out) __attribute__((warn_unused_result));

/* True when `s` is exactly CURVE_Z85_LEN characters of valid Z85. */
bool curve_z85_valid(const char *s);

/* Reads one key from `path` into out (CURVE_Z85_LEN + 1 bytes). -1 with "PATH: why" (or
 * "PATH:LINE: why") in err. */
int curve_read_key(const char *path, char *out, char *err, size_t errlen) __attribute__((warn_unused_result));

/* The broker's keys: its secret from `secret_path`, the public half derived. */
int curve_load_server(const char *secret_path, curve_keys_t *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* A peer's keys: its secret from `secret_path` and the broker's public key from `broker_key_path`. */
int curve_load_client(const char *secret_path, const char *broker_key_path, curve_keys_t *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Writes `name`.key and `name`.secret (mode 0600) for k. Refuses to replace an existing file
 * unless `force`. -1 with a message naming the file in err; on failure nothing is left behind. */
int curve_write_pair(const char *name, const curve_keys_t *k, bool force, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Overwrites the keys in memory (before freeing what held them). */
void curve_wipe(curve_keys_t *k);

#endif
