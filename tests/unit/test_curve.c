/* test_curve: CURVE key pairs and key files (proto/curve.c): keygen, writing NAME.key and
 * NAME.secret with their modes and without replacing anything, reading them back, and every bad
 * key file refused with its path (and line) named. Works in a fresh folder under $TMPDIR. */
#include "curve.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "check.h"
#include "frame.h"
#include "log.h"

static char dir[256];

static void put(const char *name, const char *text, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    CHECK(fwrite(text, 1, len, f) == len);
    fclose(f);
}

/* dir/name; four calls may be live at once (an argument list). */
static char *path_of(const char *name)
{
    static char paths[4][512];
    static int next;
    char *path = paths[next++ % 4];
    snprintf(path, 512, "%s/%s", dir, name);
    return path;
}

/* Reading `text` as a key fails with a message containing `want`. */
static void bad_key(const char *text, size_t len, const char *want)
{
    put("bad.key", text, len);
    char out[CURVE_Z85_LEN + 1] = "unchanged", err[1024] = "";
    CHECK(curve_read_key(path_of("bad.key"), out, err, sizeof err) < 0);
    CHECK_HAS(err, want);
    CHECK_HAS(err, "bad.key");
}

static void test_keygen_and_files(void)
{
    curve_keys_t k, k2;
    CHECK(curve_keygen(&k) == 0);
    CHECK(curve_keygen(&k2) == 0);
    CHECK(curve_z85_valid(k.public_key) && curve_z85_valid(k.secret));
    CHECK(strcmp(k.public_key, k2.public_key) != 0 && strcmp(k.secret, k2.secret) != 0);
    CHECK(k.server[0] == '\0');

    char name[512], err[1024];
    snprintf(name, sizeof name, "%s/node", dir);
    CHECK(curve_write_pair(name, &k, false, err, sizeof err) == 0);
    struct stat st;
    CHECK(stat(path_of("node.secret"), &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK(stat(path_of("node.key"), &st) == 0 && (st.st_mode & 0777) == 0644 && st.st_size == CURVE_Z85_LEN + 1);

    /* Never replaced without force, and a refusal writes nothing. */
    CHECK(curve_write_pair(name, &k2, false, err, sizeof err) < 0);
    CHECK_HAS(err, "node.key: already exists");
    unlink(path_of("node.key"));
    CHECK(curve_write_pair(name, &k2, false, err, sizeof err) < 0);
    CHECK_HAS(err, "node.secret: already exists");
    CHECK(access(path_of("node.key"), F_OK) != 0);

    /* Read back: the public key derived from the secret is the one written. */
    CHECK(curve_write_pair(name, &k, true, err, sizeof err) == 0);
    curve_keys_t srv;
    CHECK(curve_load_server(path_of("node.secret"), &srv, err, sizeof err) == 0);
    CHECK_STR(srv.public_key, k.public_key);
    CHECK_STR(srv.secret, k.secret);
    CHECK(srv.server[0] == '\0');
    char pub[CURVE_Z85_LEN + 1];
    CHECK(curve_read_key(path_of("node.key"), pub, err, sizeof err) == 0);
    CHECK_STR(pub, k.public_key);

    /* A client: its pair and the broker's public key. */
    snprintf(name, sizeof name, "%s/broker", dir);
    CHECK(curve_write_pair(name, &k2, false, err, sizeof err) == 0);
    curve_keys_t cl;
    CHECK(curve_load_client(path_of("node.secret"), path_of("broker.key"), &cl, err, sizeof err) == 0);
    CHECK_STR(cl.public_key, k.public_key);
    CHECK_STR(cl.server, k2.public_key);
    CHECK(curve_load_client(path_of("node.secret"), path_of("nope.key"), &cl, err, sizeof err) < 0);
    CHECK_HAS(err, "nope.key: No such file or directory");
    CHECK(cl.secret[0] == '\0'); /* nothing half-loaded */

    curve_wipe(&k);
    CHECK(k.secret[0] == '\0' && k.public_key[0] == '\0');

    /* A folder that does not exist. */
    snprintf(name, sizeof name, "%s/no/such/folder/x", dir);
    CHECK(curve_write_pair(name, &k2, false, err, sizeof err) < 0);
    CHECK_HAS(err, "x.secret: No such file or directory");
    CHECK(curve_write_pair("", &k2, false, err, sizeof err) < 0);
}

static void test_key_file_forms(void)
{
    curve_keys_t k;
    CHECK(curve_keygen(&k) == 0);
    char text[256], out[CURVE_Z85_LEN + 1], err[1024];
    /* comments, blank lines, CRLF and spaces around the key are fine */
    snprintf(text, sizeof text, "# the broker's key\n\n  %s  \r\n\n# end\n", k.public_key);
    put("ok.key", text, strlen(text));
    CHECK(curve_read_key(path_of("ok.key"), out, err, sizeof err) == 0);
    CHECK_STR(out, k.public_key);
    snprintf(text, sizeof text, "%s", k.public_key); /* no newline */
    put("ok.key", text, strlen(text));
    CHECK(curve_read_key(path_of("ok.key"), out, err, sizeof err) == 0);

    bad_key("", 0, "no key in the file");
    bad_key("# only a comment\n\n", 18, "no key in the file");
    bad_key("abc\n", 4, "bad.key:1: not a CURVE key: 3 characters, expected 40");
    snprintf(text, sizeof text, "\n%s\n%s\n", k.public_key, k.secret);
    bad_key(text, strlen(text), "bad.key:3: a second key");
    snprintf(text, sizeof text, "%s", k.public_key);
    text[7] = '~'; /* not in the Z85 alphabet */
    bad_key(text, strlen(text), "bad.key:1: not a CURVE key: character 8 is not Z85");
    snprintf(text, sizeof text, "%sA", k.public_key);
    bad_key(text, strlen(text), "41 characters");
    snprintf(text, sizeof text, "%s", k.public_key);
    text[3] = '\0';
    bad_key(text, CURVE_Z85_LEN, "holds a NUL byte");
    char big[5000];
    memset(big, 'a', sizeof big);
    bad_key(big, sizeof big, "larger than 4096 bytes");
    /* 40 characters of the alphabet that overflow Z85's 32-bit groups */
    bad_key("$$$$$$$$$$$$$$$$$$$$$$$$$$$$$$$$$$$$$$$$", 40, "does not decode");

    char err2[1024];
    CHECK(curve_read_key(dir, out, err2, sizeof err2) < 0);
    CHECK_HAS(err2, "not a regular file");
    CHECK(curve_read_key(path_of("missing.key"), out, err2, sizeof err2) < 0);
    CHECK_HAS(err2, "missing.key: No such file or directory");

    CHECK(!curve_z85_valid(NULL) && !curve_z85_valid("") && !curve_z85_valid("abc"));
}

/* frame_setup_curve: a client and a server socket that speak to each other. */
static void test_sockets(void)
{
    curve_keys_t srv, cli;
    CHECK(curve_keygen(&srv) == 0 && curve_keygen(&cli) == 0);
    memcpy(cli.server, srv.public_key, sizeof cli.server);
    void *ctx = zmq_ctx_new();
    void *r = zmq_socket(ctx, ZMQ_ROUTER), *d = zmq_socket(ctx, ZMQ_DEALER);
    CHECK(frame_setup(r, ZMQ_ROUTER) == 0 && frame_setup_curve(r, &srv) == 0);
    CHECK(frame_setup(d, ZMQ_DEALER) == 0 && frame_setup_curve(d, &cli) == 0);
    int is_server = 0;
    size_t len = sizeof is_server;
    CHECK(zmq_getsockopt(r, ZMQ_CURVE_SERVER, &is_server, &len) == 0 && is_server == 1);
    CHECK(zmq_bind(r, "tcp://127.0.0.1:*") == 0);
    char ep[128];
    len = sizeof ep;
    CHECK(zmq_getsockopt(r, ZMQ_LAST_ENDPOINT, ep, &len) == 0);
    CHECK(zmq_connect(d, ep) == 0);
    wire_hdr_t h = {.type = WIRE_HEARTBEAT, .n = 7};
    int sent = -1;
    for (int i = 0; i < 500 && sent < 0; i++) { /* IMMEDIATE: waits for the handshake */
        sent = frame_send(d, NULL, 0, &h, NULL, 0);
        if (sent < 0) usleep(10000);
    }
    CHECK(sent == 0);
    frame_in_t in;
    char err[256];
    int rc = 0;
    for (int i = 0; i < 500 && rc == 0; i++) {
        rc = frame_read(r, true, &in, err, sizeof err);
        if (rc == 0) usleep(10000);
    }
    CHECK(rc == 1 && in.h.type == WIRE_HEARTBEAT && in.h.n == 7);
    /* No ZAP handler in this context: no user id. */
    if (rc == 1) {
        CHECK(frame_in_user(&in) == NULL || frame_in_user(&in)[0] == '\0');
        frame_in_close(&in);
    }
    zmq_close(d);
    zmq_close(r);
    zmq_ctx_term(ctx);
}

int main(void)
{
    log_set_level(LOG_OFF);
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/test_curve.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_keygen_and_files();
    test_key_file_forms();
    test_sockets();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return check_summary("test_curve");
}
