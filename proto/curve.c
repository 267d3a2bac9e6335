/* curve: CURVE key pairs and key files; see curve.h. */
#define LOG_MODULE "curve"
#include "curve.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "log.h"

#define MAX_KEY_FILE 4096 /* a key file is one line; anything larger is not one */

static const char z85_chars[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

bool curve_z85_valid(const char *s)
{
    if (!s || strlen(s) != CURVE_Z85_LEN) return false;
    for (const char *p = s; *p; p++)
        if (!strchr(z85_chars, *p)) return false;
    uint8_t raw[32];
    return zmq_z85_decode(raw, s) != NULL;
}

int curve_keygen(curve_keys_t *out)
{
    memset(out, 0, sizeof(*out));
    if (zmq_curve_keypair(out->public_key, out->secret) != 0) return -1;
    return 0;
}

/* Reads a small file whole; -1 with a message in err. */
static int slurp(const char *path, char *buf, size_t cap, size_t *len, struct stat *st, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        close(fd);
        return -1;
    }
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
        if (r == 0) break;
        n += (size_t)r;
        if (n == cap) {
            snprintf(err, errlen, "%s: larger than %zu bytes: not a key file", path, cap - 1);
            close(fd);
            return -1;
        }
    }
    close(fd);
    buf[n] = '\0';
    *len = n;
    return 0;
}

/* The one key line of a key file's text: 0 with it in out, or -1 with "PATH[:LINE]: why". */
static int parse_key(const char *path, char *text, size_t len, char *out, char *err, size_t errlen)
{
    if (memchr(text, '\0', len)) {
        snprintf(err, errlen, "%s: holds a NUL byte: not a key file", path);
        return -1;
    }
    int line = 0, key_line = 0;
    const char *key = NULL;
    size_t key_len = 0;
    for (char *p = text; p && *p;) {
        line++;
        char *nl = strchr(p, '\n');
        char *end = nl ? nl : p + strlen(p);
        while (end > p && (end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t')) end--;
        while (p < end && (*p == ' ' || *p == '\t')) p++;
        if (p < end && *p != '#') {
            if (key) {
                snprintf(err, errlen, "%s:%d: a second key (a key file holds one)", path, line);
                return -1;
            }
            key = p;
            key_len = (size_t)(end - p);
            key_line = line;
        }
        p = nl ? nl + 1 : NULL;
    }
    if (!key) {
        snprintf(err, errlen, "%s: no key in the file", path);
        return -1;
    }
    if (key_len != CURVE_Z85_LEN) {
        snprintf(err, errlen, "%s:%d: not a CURVE key: %zu characters, expected %d of Z85", path, key_line, key_len,
                 CURVE_Z85_LEN);
        return -1;
    }
    for (size_t i = 0; i < key_len; i++) {
        if (!strchr(z85_chars, key[i])) {
            snprintf(err, errlen, "%s:%d: not a CURVE key: character %zu is not Z85", path, key_line, i + 1);
            return -1;
        }
    }
    memcpy(out, key, CURVE_Z85_LEN);
    out[CURVE_Z85_LEN] = '\0';
    if (!curve_z85_valid(out)) {
        snprintf(err, errlen, "%s:%d: not a CURVE key: it does not decode as Z85", path, key_line);
        memset(out, 0, CURVE_Z85_LEN + 1);
        return -1;
    }
    return 0;
}

static int read_key(const char *path, char *out, struct stat *st, char *err, size_t errlen)
{
    char buf[MAX_KEY_FILE + 1];
    size_t len = 0;
    int rc = slurp(path, buf, sizeof buf, &len, st, err, errlen);
    if (rc == 0) rc = parse_key(path, buf, len, out, err, errlen);
    memset(buf, 0, sizeof buf);
    return rc;
}

int curve_read_key(const char *path, char *out, char *err, size_t errlen)
{
    struct stat st;
    return read_key(path, out, &st, err, errlen);
}

static int load_secret(const char *path, curve_keys_t *out, char *err, size_t errlen)
{
    struct stat st;
    if (read_key(path, out->secret, &st, err, errlen) < 0) return -1;
    if (zmq_curve_public(out->public_key, out->secret) != 0) {
        snprintf(err, errlen, "%s: cannot derive the public key: %s", path, zmq_strerror(errno));
        curve_wipe(out);
        return -1;
    }
    /* Kubernetes mounts Secrets group-readable under fsGroup; readable by anyone is a mistake
     * worth saying, not worth refusing to start over. */
    if (st.st_mode & S_IROTH) log_warn("%s: a secret key readable by every user (chmod 600 it)", path);
    return 0;
}

int curve_load_server(const char *secret_path, curve_keys_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    return load_secret(secret_path, out, err, errlen);
}

int curve_load_client(const char *secret_path, const char *broker_key_path, curve_keys_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (load_secret(secret_path, out, err, errlen) < 0) return -1;
    if (curve_read_key(broker_key_path, out->server, err, errlen) < 0) {
        curve_wipe(out);
        return -1;
    }
    return 0;
}

/* Writes text to path, created with `mode` (exclusive unless force), synced. */
static int write_file(const char *path, const char *text, mode_t mode, bool force, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (force ? O_TRUNC : O_EXCL), mode);
    if (fd < 0) {
        if (errno == EEXIST) snprintf(err, errlen, "%s: already exists (give --force to replace it)", path);
        else snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    size_t len = strlen(text), off = 0;
    int rc = fchmod(fd, mode);
    while (rc == 0 && off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) rc = -1;
        else off += (size_t)w;
    }
    if (rc == 0) rc = fsync(fd);
    if (rc < 0) snprintf(err, errlen, "%s: %s", path, strerror(errno));
    if (close(fd) < 0 && rc == 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        rc = -1;
    }
    if (rc < 0) unlink(path);
    return rc;
}

int curve_write_pair(const char *name, const curve_keys_t *k, bool force, char *err, size_t errlen)
{
    if (!name || !*name) {
        snprintf(err, errlen, "a key name is required");
        return -1;
    }
    char pub_path[4096], sec_path[4096];
    if ((size_t)snprintf(pub_path, sizeof pub_path, "%s.key", name) >= sizeof pub_path ||
        (size_t)snprintf(sec_path, sizeof sec_path, "%s.secret", name) >= sizeof sec_path) {
        snprintf(err, errlen, "%s: name too long", name);
        return -1;
    }
    if (!force) {
        /* Check both first, so that a refusal leaves nothing half-written. */
        struct stat st;
        const char *paths[2] = {pub_path, sec_path};
        for (int i = 0; i < 2; i++) {
            if (lstat(paths[i], &st) == 0) {
                snprintf(err, errlen, "%s: already exists (give --force to replace it)", paths[i]);
                return -1;
            }
        }
    }
    char line[CURVE_Z85_LEN + 2];
    snprintf(line, sizeof line, "%s\n", k->secret);
    int rc = write_file(sec_path, line, 0600, force, err, errlen);
    memset(line, 0, sizeof line);
    if (rc < 0) return -1;
    snprintf(line, sizeof line, "%s\n", k->public_key);
    if (write_file(pub_path, line, 0644, force, err, errlen) < 0) {
        unlink(sec_path);
        return -1;
    }
    return 0;
}

void curve_wipe(curve_keys_t *k)
{
    if (!k) return;
    explicit_bzero(k, sizeof(*k));
}
