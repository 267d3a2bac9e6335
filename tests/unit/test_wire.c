/* test_wire: protocol v1 encoders and bounded decoders (common/wire.c).
 *
 * Round-trips every header type and every payload; then feeds the decoders hand-made malformed
 * frames (built with msgpack-c, an independent encoder, or as raw bytes), every truncation of
 * valid frames, and thousands of deterministic random mutations. A decoder must return 0 or -1,
 * with an error naming the field, and never crash or leak (run under ASan+UBSan). */
#include "buf.h"
#include "log.h"
#include "mem.h"
#include "wire.h"

#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* ---- helpers ------------------------------------------------------------------------------ */

static int str_eq(const char *a, const char *b)
{
    if (!a || !b) return a == b;
    return strcmp(a, b) == 0;
}

static int record_eq(const record_t *a, const record_t *b)
{
    if (a->index != b->index || !str_eq(a->id, b->id) || !str_eq(a->prompt, b->prompt) ||
        !str_eq(a->reference, b->reference) || !str_eq(a->context, b->context) || !str_eq(a->category, b->category) ||
        a->n_responses != b->n_responses)
        return 0;
    if ((a->responses == NULL) != (b->responses == NULL)) return 0;
    for (size_t i = 0; i < a->n_responses; i++)
        if (!str_eq(a->responses[i].response, b->responses[i].response) ||
            !str_eq(a->responses[i].model_identifier, b->responses[i].model_identifier))
            return 0;
    return 1;
}

static int score_eq(const score_t *a, const score_t *b)
{
    return str_eq(a->metric, b->metric) && a->status == b->status && str_eq(a->rating, b->rating) &&
           a->has_score == b->has_score && a->score == b->score && a->normalized == b->normalized &&
           str_eq(a->explanation, b->explanation) && str_eq(a->error, b->error) &&
           a->usage.input_tokens == b->usage.input_tokens && a->usage.output_tokens == b->usage.output_tokens &&
           a->attempts == b->attempts;
}

static int result_eq(const result_t *a, const result_t *b)
{
    if (!str_eq(a->job_id, b->job_id) || a->shard_id != b->shard_id || a->record_index != b->record_index ||
        a->target != b->target || !str_eq(a->model, b->model) || !str_eq(a->response, b->response) ||
        a->response_from_dataset != b->response_from_dataset || !str_eq(a->error, b->error) ||
        a->usage.input_tokens != b->usage.input_tokens || a->usage.output_tokens != b->usage.output_tokens ||
        a->latency_ms != b->latency_ms || a->n_scores != b->n_scores)
        return 0;
    for (size_t i = 0; i < a->n_scores; i++)
        if (!score_eq(&a->scores[i], &b->scores[i])) return 0;
    return 1;
}

static int hdr_eq(const wire_hdr_t *a, const wire_hdr_t *b)
{
    return a->type == b->type && strcmp(a->job_id, b->job_id) == 0 && strcmp(a->role, b->role) == 0 &&
           strcmp(a->name, b->name) == 0 && a->shard_id == b->shard_id && a->lease == b->lease && a->n == b->n &&
           a->threads == b->threads && a->heartbeat_ms == b->heartbeat_ms && strcmp(a->secret, b->secret) == 0 &&
           a->lease_max_s == b->lease_max_s;
}

/* msgpack-c as an independent encoder for hand-made frames. */
typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} mp_t;

static void mp_init(mp_t *m)
{
    msgpack_sbuffer_init(&m->sb);
    msgpack_packer_init(&m->pk, &m->sb, msgpack_sbuffer_write);
}
static void mp_free(mp_t *m) { msgpack_sbuffer_destroy(&m->sb); }
static void mp_strn(mp_t *m, const char *s, size_t n)
{
    msgpack_pack_str(&m->pk, n);
    msgpack_pack_str_body(&m->pk, s, n);
}
static void mp_str(mp_t *m, const char *s) { mp_strn(m, s, strlen(s)); }
static void mp_uint(mp_t *m, uint64_t v) { msgpack_pack_uint64(&m->pk, v); }
static void mp_raw(mp_t *m, const void *p, size_t n) { msgpack_sbuffer_write(&m->sb, p, n); }
/* [1, type, {...}] head: the caller packs `nfields` key/value pairs next. */
static void mp_hdr(mp_t *m, uint64_t type, size_t nfields)
{
    msgpack_pack_array(&m->pk, 3);
    mp_uint(m, 1);
    mp_uint(m, type);
    msgpack_pack_map(&m->pk, nfields);
}

enum { D_HDR, D_SHARD, D_RESULT, D_RATES };
static const char *const kind_names[] = {"header", "shard", "result", "rates"};

/* Decodes; on success re-encodes (what was accepted must be encodable) and frees. */
static int decode_any(int kind, const void *d, size_t n, char *err, size_t errlen)
{
    buf_t b;
    buf_init(&b, 0);
    int rc = -1, rc2 = 0;
    switch (kind) {
    case D_HDR: {
        wire_hdr_t h;
        rc = wire_hdr_decode(d, n, &h, err, errlen);
        if (rc == 0) rc2 = wire_hdr_encode(&h, &b);
        break;
    }
    case D_SHARD: {
        wire_shard_t s;
        rc = wire_shard_decode(d, n, &s, err, errlen);
        if (rc == 0) {
            rc2 = wire_shard_encode(s.spec_json, s.records, s.n_records, &b);
            wire_shard_clear(&s);
        } else if (s.spec_json || s.records || s.n_records) {
            rc2 = -1; /* failure must leave nothing to free */
        }
        break;
    }
    case D_RESULT: {
        result_t r;
        rc = wire_result_decode(d, n, &r, err, errlen);
        if (rc == 0) {
            rc2 = wire_result_encode(&r, &b);
            result_clear(&r);
        } else if (r.job_id || r.scores || r.n_scores) {
            rc2 = -1;
        }
        break;
    }
    case D_RATES: {
        wire_rate_t *rows = (wire_rate_t *)&b; /* any non-NULL: must be reset on failure */
        size_t nr = 99;
        rc = wire_rates_decode(d, n, &rows, &nr, err, errlen);
        if (rc == 0) {
            rc2 = wire_rates_encode(rows, nr, &b);
            wire_rates_free(rows, nr);
        } else if (rows || nr) {
            rc2 = -1;
        }
        break;
    }
    }
    buf_free(&b);
    if (rc2 != 0) {
        fprintf(stderr, "decode_any(%s): decode/re-encode mismatch\n", kind_names[kind]);
        return 1; /* neither 0 nor -1: the caller's check fails */
    }
    return rc;
}

/* True if decoding fails with an error containing `want` (NULL: any error). */
static int fails_with(int kind, const void *d, size_t n, const char *want)
{
    char err[512];
    int rc = decode_any(kind, d, n, err, sizeof err);
    if (rc == 0) {
        fprintf(stderr, "  %s decoded, expected an error with \"%s\"\n", kind_names[kind], want ? want : "");
        return 0;
    }
    if (rc != -1) return 0;
    if (want && !strstr(err, want)) {
        fprintf(stderr, "  %s error \"%s\" does not contain \"%s\"\n", kind_names[kind], err, want);
        return 0;
    }
    return 1;
}

static int fails_mp(int kind, mp_t *m, const char *want)
{
    int ok = fails_with(kind, m->sb.data, m->sb.size, want);
    mp_free(m);
    return ok;
}

static int decodes(int kind, const void *d, size_t n)
{
    char err[512];
    int rc = decode_any(kind, d, n, err, sizeof err);
    if (rc != 0) fprintf(stderr, "  %s failed to decode: %s\n", kind_names[kind], err);
    return rc == 0;
}

/* Every proper prefix of a valid frame must fail cleanly. */
static int all_truncations_fail(int kind, const char *d, size_t n)
{
    char err[256];
    for (size_t i = 0; i < n; i++) {
        if (decode_any(kind, d, i, err, sizeof err) != -1) {
            fprintf(stderr, "  %s truncated to %zu of %zu bytes did not fail\n", kind_names[kind], i, n);
            return 0;
        }
        if (strlen(err) == 0 || strlen(err) >= sizeof err) return 0;
    }
    return 1;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void) /* xorshift64*, deterministic */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

/* Random byte edits of a valid frame: every outcome must be 0 or -1. Returns how many decoded. */
static int mutate(int kind, const char *d, size_t n, int iterations, int *bad)
{
    int ok = 0;
    char *m = xmalloc(n + 16);
    for (int it = 0; it < iterations; it++) {
        size_t len = n;
        memcpy(m, d, n);
        int edits = 1 + (int)(rng() % 4);
        for (int e = 0; e < edits; e++) {
            uint64_t r = rng();
            size_t pos = len ? (size_t)(r % len) : 0;
            switch ((r >> 32) % 6) {
            case 0:
            case 1:
            case 2: /* overwrite a byte */
                if (len) m[pos] = (char)(rng() & 0xff);
                break;
            case 3: /* an interesting byte: container/str heads, nil, invalid, big counts */
                if (len) {
                    static const unsigned char hot[] = {0xc0, 0xc1, 0xdd, 0xdf, 0xdb, 0xff, 0x00,
                                                        0x9f, 0x8f, 0xbf, 0xcb, 0xcf, 0xd3, 0xc7};
                    m[pos] = (char)hot[rng() % sizeof hot];
                }
                break;
            case 4: /* truncate */ len = pos; break;
            case 5: /* insert a byte */
                if (len < n + 16 && len) {
                    memmove(m + pos + 1, m + pos, len - pos);
                    m[pos] = (char)(rng() & 0xff);
                    len++;
                }
                break;
            }
        }
        char err[200];
        int rc = decode_any(kind, m, len, err, sizeof err);
        if (rc == 0) ok++;
        else if (rc != -1 || strlen(err) == 0) (*bad)++;
    }
    free(m);
    return ok;
}

/* ---- headers ------------------------------------------------------------------------------ */

static wire_hdr_t hdr(wire_type_t t)
{
    wire_hdr_t h;
    memset(&h, 0, sizeof h);
    h.type = t;
    return h;
}

static void test_type_names(void)
{
    static const char *const want[] = {"?",      "HELLO", "WELCOME", "HEARTBEAT",  "CREDIT",
                                       "SUBMIT", "SHARD", "RESULT",  "SHARD_DONE", "CANCEL",
                                       "DEMAND", "ALLOT", "BYE",     "RETURN",     "REVOKE"};
    for (int t = 0; t < WIRE_TYPE_MAX; t++) CHECK(strcmp(wire_type_name((wire_type_t)t), want[t]) == 0);
    CHECK(strcmp(wire_type_name(WIRE_TYPE_MAX), "?") == 0);
    CHECK(strcmp(wire_type_name((wire_type_t)999), "?") == 0);
    CHECK(strcmp(wire_type_name((wire_type_t)-1), "?") == 0);
}

static void hdr_roundtrip(const wire_hdr_t *h)
{
    buf_t b;
    buf_init(&b, 0);
    CHECK(wire_hdr_encode(h, &b) == 0);
    wire_hdr_t got;
    char err[256];
    int rc = wire_hdr_decode(b.data, b.len, &got, err, sizeof err);
    if (rc != 0) fprintf(stderr, "  %s: %s\n", wire_type_name(h->type), err);
    CHECK(rc == 0);
    CHECK(rc == 0 && hdr_eq(h, &got));
    CHECK(all_truncations_fail(D_HDR, b.data, b.len));
    buf_free(&b);
}

static void test_hdr_roundtrip(void)
{
    wire_hdr_t h = hdr(WIRE_HELLO);
    snprintf(h.role, sizeof h.role, "worker");
    snprintf(h.name, sizeof h.name, "worker-7@host:1234");
    h.threads = 8;
    h.n = 16;
    hdr_roundtrip(&h);

    h = hdr(WIRE_HELLO);
    snprintf(h.role, sizeof h.role, "scheduler");
    hdr_roundtrip(&h);

    h = hdr(WIRE_WELCOME);
    h.heartbeat_ms = 1000;
    snprintf(h.name, sizeof h.name, "broker-5f3a");
    h.n = 3;
    hdr_roundtrip(&h);

    h = hdr(WIRE_HEARTBEAT); /* every field zero: an empty map */
    hdr_roundtrip(&h);
    h.n = 42;
    hdr_roundtrip(&h);

    h = hdr(WIRE_CREDIT);
    h.n = 1;
    hdr_roundtrip(&h);

    h = hdr(WIRE_SUBMIT);
    snprintf(h.job_id, sizeof h.job_id, "job-20240101-abcdef");
    h.shard_id = 0;
    hdr_roundtrip(&h);
    h.shard_id = 77;
    hdr_roundtrip(&h);
    /* the job's secret and its lease ceiling ride in SUBMIT (and the secret in CANCEL) */
    snprintf(h.secret, sizeof h.secret, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    h.lease_max_s = 1830;
    hdr_roundtrip(&h);

    wire_type_t leased[] = {WIRE_SHARD, WIRE_RESULT, WIRE_SHARD_DONE, WIRE_REVOKE};
    for (size_t i = 0; i < 4; i++) {
        h = hdr(leased[i]);
        snprintf(h.job_id, sizeof h.job_id, "j");
        h.shard_id = 1ull << 40;
        h.lease = 123456789;
        h.n = leased[i] == WIRE_SHARD_DONE ? 128 : 0;
        hdr_roundtrip(&h);
    }

    h = hdr(WIRE_CANCEL);
    snprintf(h.job_id, sizeof h.job_id, "job-x");
    hdr_roundtrip(&h);
    snprintf(h.secret, sizeof h.secret, "s3cr3t");
    hdr_roundtrip(&h);

    hdr_roundtrip(&(wire_hdr_t){.type = WIRE_DEMAND});
    hdr_roundtrip(&(wire_hdr_t){.type = WIRE_ALLOT});
    hdr_roundtrip(&(wire_hdr_t){.type = WIRE_BYE});

    /* RETURN: a shard handed back (job, shard, lease), or "no more work" (nothing) */
    h = hdr(WIRE_RETURN);
    snprintf(h.job_id, sizeof h.job_id, "job-r");
    h.shard_id = 9;
    h.lease = 77;
    hdr_roundtrip(&h);
    h.shard_id = 0;
    hdr_roundtrip(&h);
    hdr_roundtrip(&(wire_hdr_t){.type = WIRE_RETURN});

    /* every field at its largest */
    h = hdr(WIRE_SHARD_DONE);
    memset(h.job_id, 'j', sizeof h.job_id - 1);
    memset(h.role, 'r', sizeof h.role - 1);
    memset(h.name, 'n', sizeof h.name - 1);
    h.shard_id = UINT64_MAX;
    h.lease = UINT64_MAX;
    h.n = UINT32_MAX;
    h.threads = UINT32_MAX;
    h.heartbeat_ms = UINT32_MAX;
    memset(h.secret, 's', sizeof h.secret - 1);
    h.lease_max_s = UINT32_MAX;
    hdr_roundtrip(&h);

    /* unicode and binary-ish names survive */
    h = hdr(WIRE_HELLO);
    snprintf(h.role, sizeof h.role, "worker");
    snprintf(h.name, sizeof h.name, "wörker-日本-\x01\x7f\xff");
    hdr_roundtrip(&h);
}

static void test_hdr_encode_buffer(void)
{
    wire_hdr_t h = hdr(WIRE_SUBMIT);
    snprintf(h.job_id, sizeof h.job_id, "job-appended");
    h.shard_id = 9;

    /* appends after what is already there */
    buf_t b;
    buf_init(&b, 0);
    CHECK(buf_puts(&b, "xyz") == 0);
    CHECK(wire_hdr_encode(&h, &b) == 0);
    wire_hdr_t got;
    char err[128];
    CHECK(wire_hdr_decode(b.data + 3, b.len - 3, &got, err, sizeof err) == 0 && hdr_eq(&h, &got));
    CHECK(memcmp(b.data, "xyz", 3) == 0);
    buf_free(&b);

    /* the cap: -1 and nothing appended */
    buf_init(&b, 10);
    CHECK(buf_puts(&b, "abc") == 0);
    CHECK(wire_hdr_encode(&h, &b) == -1);
    CHECK(b.len == 3 && strcmp(b.data, "abc") == 0);
    buf_free(&b);

    /* msgpack-c reads our frame as [1, type, {map}] */
    buf_init(&b, 0);
    CHECK(wire_hdr_encode(&h, &b) == 0);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    CHECK(msgpack_unpack_next(&u, b.data, b.len, &off) == MSGPACK_UNPACK_SUCCESS);
    CHECK(off == b.len);
    msgpack_object o = u.data;
    CHECK(o.type == MSGPACK_OBJECT_ARRAY && o.via.array.size == 3);
    if (o.type == MSGPACK_OBJECT_ARRAY && o.via.array.size == 3) {
        CHECK(o.via.array.ptr[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER && o.via.array.ptr[0].via.u64 == 1);
        CHECK(o.via.array.ptr[1].via.u64 == WIRE_SUBMIT);
        CHECK(o.via.array.ptr[2].type == MSGPACK_OBJECT_MAP && o.via.array.ptr[2].via.map.size == 2);
    }
    msgpack_unpacked_destroy(&u);
    buf_free(&b);
}

static void test_hdr_lenient(void)
{
    wire_hdr_t h;
    char err[256];

    /* minimal: absent keys are zero */
    mp_t m;
    mp_init(&m);
    mp_hdr(&m, WIRE_HEARTBEAT, 0);
    CHECK(wire_hdr_decode(m.sb.data, m.sb.size, &h, err, sizeof err) == 0);
    CHECK(h.type == WIRE_HEARTBEAT && h.job_id[0] == 0 && h.n == 0 && h.lease == 0 && h.name[0] == 0);
    mp_free(&m);

    /* any key order, unknown keys (nested values) skipped, nil = absent */
    mp_init(&m);
    mp_hdr(&m, WIRE_SHARD, 6);
    mp_str(&m, "future");
    msgpack_pack_map(&m.pk, 2);
    mp_str(&m, "a");
    msgpack_pack_array(&m.pk, 3);
    mp_uint(&m, 1);
    msgpack_pack_double(&m.pk, 2.5);
    msgpack_pack_bin(&m.pk, 3);
    msgpack_pack_bin_body(&m.pk, "\x00\x01\x02", 3);
    mp_str(&m, "b");
    msgpack_pack_ext(&m.pk, 4, 7);
    msgpack_pack_ext_body(&m.pk, "abcd", 4);
    mp_str(&m, "lease");
    mp_uint(&m, 5);
    mp_str(&m, "name");
    msgpack_pack_nil(&m.pk);
    mp_str(&m, "job");
    mp_str(&m, "job-1");
    mp_str(&m, ""); /* an empty unknown key */
    msgpack_pack_true(&m.pk);
    mp_str(&m, "shard");
    mp_uint(&m, 3);
    int rc = wire_hdr_decode(m.sb.data, m.sb.size, &h, err, sizeof err);
    if (rc) fprintf(stderr, "  %s\n", err);
    CHECK(rc == 0);
    CHECK(h.type == WIRE_SHARD && strcmp(h.job_id, "job-1") == 0 && h.lease == 5 && h.shard_id == 3 && h.name[0] == 0);
    mp_free(&m);

    /* integers in signed formats, as some encoders write them */
    const unsigned char signed_ints[] = {0x93, 0xd0, 0x01, 0xd1, 0x00, 0x04,                    /* [1, 4 (CREDIT), */
                                         0x81, 0xa1, 'n',  0xd3, 0,    0,    0, 0, 0, 0, 0, 9}; /* {n: 9}] */
    CHECK(wire_hdr_decode(signed_ints, sizeof signed_ints, &h, err, sizeof err) == 0 && h.type == WIRE_CREDIT &&
          h.n == 9);

    /* nesting up to the limit is fine: array(1) map(2) + 8 nested arrays = 10 levels */
    unsigned char deep[64] = {0x93, 0x01, 0x03, 0x81, 0xa1, 'x'};
    size_t n = 6;
    for (int i = 0; i < 7; i++) deep[n++] = 0x91;
    deep[n++] = 0x90;
    CHECK(decodes(D_HDR, deep, n));
}

static void test_hdr_malformed(void)
{
    mp_t m;
    char err[256];
    wire_hdr_t h;

    /* version */
    mp_init(&m);
    msgpack_pack_array(&m.pk, 3);
    mp_uint(&m, 2);
    mp_uint(&m, WIRE_HEARTBEAT);
    msgpack_pack_map(&m.pk, 0);
    CHECK(fails_mp(D_HDR, &m, "header: protocol version 2, this peer speaks 1"));
    mp_init(&m); /* a future version's header may have another shape: still a version error */
    msgpack_pack_array(&m.pk, 5);
    mp_uint(&m, 7);
    for (int i = 0; i < 4; i++) msgpack_pack_nil(&m.pk);
    CHECK(fails_mp(D_HDR, &m, "protocol version 7"));
    mp_init(&m);
    msgpack_pack_array(&m.pk, 3);
    mp_uint(&m, 0);
    mp_uint(&m, WIRE_HEARTBEAT);
    msgpack_pack_map(&m.pk, 0);
    CHECK(fails_mp(D_HDR, &m, "protocol version 0"));
    mp_init(&m);
    msgpack_pack_array(&m.pk, 3);
    mp_str(&m, "1");
    mp_uint(&m, WIRE_HEARTBEAT);
    msgpack_pack_map(&m.pk, 0);
    CHECK(fails_mp(D_HDR, &m, "header.version: expected an unsigned integer, got a string"));

    /* shape */
    mp_init(&m);
    msgpack_pack_array(&m.pk, 2);
    mp_uint(&m, 1);
    mp_uint(&m, WIRE_HEARTBEAT);
    CHECK(fails_mp(D_HDR, &m, "got an array of 2"));
    mp_init(&m);
    msgpack_pack_array(&m.pk, 4);
    mp_uint(&m, 1);
    mp_uint(&m, WIRE_HEARTBEAT);
    msgpack_pack_map(&m.pk, 0);
    mp_uint(&m, 0);
    CHECK(fails_mp(D_HDR, &m, "got an array of 4"));
    mp_init(&m);
    msgpack_pack_array(&m.pk, 0);
    CHECK(fails_mp(D_HDR, &m, "empty array"));
    mp_init(&m);
    msgpack_pack_map(&m.pk, 0);
    CHECK(fails_mp(D_HDR, &m, "header: expected an array, got a map"));
    mp_init(&m);
    msgpack_pack_array(&m.pk, 3);
    mp_uint(&m, 1);
    mp_uint(&m, WIRE_HEARTBEAT);
    msgpack_pack_array(&m.pk, 0);
    CHECK(fails_mp(D_HDR, &m, "header: expected a map, got an array"));
    CHECK(fails_with(D_HDR, "", 0, "header: message truncated"));
    CHECK(fails_with(D_HDR, NULL, 0, "truncated"));

    /* type */
    uint64_t bad_types[] = {0, WIRE_TYPE_MAX, 200, UINT64_MAX};
    for (size_t i = 0; i < 4; i++) {
        mp_init(&m);
        mp_hdr(&m, bad_types[i], 0);
        CHECK(fails_mp(D_HDR, &m, "unknown message type"));
    }

    /* string caps: job/name 127 bytes, role 15 */
    char big[200];
    memset(big, 'a', sizeof big);
    mp_init(&m);
    mp_hdr(&m, WIRE_CANCEL, 1);
    mp_str(&m, "job");
    mp_strn(&m, big, 128);
    CHECK(fails_mp(D_HDR, &m, "header.job: string of 128 bytes exceeds the limit of 127 bytes"));
    mp_init(&m);
    mp_hdr(&m, WIRE_HEARTBEAT, 1);
    mp_str(&m, "name");
    mp_strn(&m, big, 128);
    CHECK(fails_mp(D_HDR, &m, "header.name: string of 128 bytes exceeds the limit of 127 bytes"));
    mp_init(&m);
    mp_hdr(&m, WIRE_HEARTBEAT, 1);
    mp_str(&m, "role");
    mp_strn(&m, big, 16);
    CHECK(fails_mp(D_HDR, &m, "header.role: string of 16 bytes exceeds the limit of 15 bytes"));
    mp_init(&m);
    mp_hdr(&m, WIRE_CANCEL, 1);
    mp_str(&m, "job");
    mp_strn(&m, "ab\0cd", 5);
    CHECK(fails_mp(D_HDR, &m, "header.job: string holds a NUL byte at offset 2"));

    /* integer ranges and types */
    mp_init(&m);
    mp_hdr(&m, WIRE_CREDIT, 1);
    mp_str(&m, "n");
    mp_uint(&m, 1ull << 32);
    CHECK(fails_mp(D_HDR, &m, "header.n: 4294967296 exceeds the maximum 4294967295"));
    mp_init(&m);
    mp_hdr(&m, WIRE_CREDIT, 1);
    mp_str(&m, "n");
    msgpack_pack_int64(&m.pk, -3);
    CHECK(fails_mp(D_HDR, &m, "header.n: negative value -3"));
    mp_init(&m);
    mp_hdr(&m, WIRE_HEARTBEAT, 1);
    mp_str(&m, "hb");
    msgpack_pack_double(&m.pk, 1000.0);
    CHECK(fails_mp(D_HDR, &m, "header.hb: expected an unsigned integer, got a float"));
    mp_init(&m);
    mp_hdr(&m, WIRE_CANCEL, 1);
    mp_str(&m, "job");
    mp_uint(&m, 12);
    CHECK(fails_mp(D_HDR, &m, "header.job: expected a string, got an integer"));
    mp_init(&m);
    mp_hdr(&m, WIRE_HEARTBEAT, 1);
    mp_str(&m, "shard");
    msgpack_pack_true(&m.pk);
    CHECK(fails_mp(D_HDR, &m, "header.shard: expected an unsigned integer, got a boolean"));

    /* map keys */
    mp_init(&m);
    mp_hdr(&m, WIRE_CANCEL, 2);
    mp_str(&m, "job");
    mp_str(&m, "a");
    mp_str(&m, "job");
    mp_str(&m, "b");
    CHECK(fails_mp(D_HDR, &m, "header: key \"job\" appears twice"));
    mp_init(&m);
    mp_hdr(&m, WIRE_HEARTBEAT, 1);
    mp_uint(&m, 1);
    mp_uint(&m, 2);
    CHECK(fails_mp(D_HDR, &m, "map key 0 is an integer, not a string"));
    mp_init(&m);
    mp_hdr(&m, WIRE_HEARTBEAT, 1);
    mp_strn(&m, big, 65);
    mp_uint(&m, 2);
    CHECK(fails_mp(D_HDR, &m, "of 65 bytes exceeds the limit of 64 bytes"));

    /* trailing bytes */
    mp_init(&m);
    mp_hdr(&m, WIRE_HEARTBEAT, 0);
    mp_raw(&m, "\x00", 1);
    CHECK(fails_mp(D_HDR, &m, "header: 1 trailing byte after the message"));
    mp_init(&m);
    mp_hdr(&m, WIRE_HEARTBEAT, 0);
    mp_hdr(&m, WIRE_HEARTBEAT, 0);
    CHECK(fails_mp(D_HDR, &m, "trailing bytes"));

    /* counts larger than the bytes left, lengths past the end */
    const unsigned char big_map[] = {0x93, 0x01, 0x03, 0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 'x', 0x01};
    CHECK(fails_with(D_HDR, big_map, sizeof big_map, "map of 4294967295 entries but only 3 bytes left"));
    const unsigned char big_arr[] = {0x93, 0x01, 0x03, 0x81, 0xa1, 'x', 0xdd, 0x7f, 0xff, 0xff, 0xff};
    CHECK(fails_with(D_HDR, big_arr, sizeof big_arr, "header.x: array of 2147483647 elements but only 0"));
    const unsigned char big_str[] = {0x93, 0x01, 0x09, 0x81, 0xa3, 'j', 'o', 'b',
                                     0xdb, 0xff, 0xff, 0xff, 0xf0, 'a', 'b'};
    CHECK(fails_with(D_HDR, big_str, sizeof big_str, "header.job: a string of 4294967280 bytes but only 2"));
    const unsigned char big_ext[] = {0x93, 0x01, 0x03, 0x81, 0xa1, 'x', 0xc9, 0x00, 0x01, 0x00, 0x00, 0x05};
    CHECK(fails_with(D_HDR, big_ext, sizeof big_ext, "header.x: an extension value of 65536 bytes"));
    const unsigned char big_arr_head[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    CHECK(fails_with(D_HDR, big_arr_head, sizeof big_arr_head, "header: array of 4294967295"));
    const unsigned char invalid[] = {0x93, 0x01, 0x03, 0x81, 0xa1, 'x', 0xc1};
    CHECK(fails_with(D_HDR, invalid, sizeof invalid, "header.x: invalid MessagePack byte 0xc1"));

    /* deep nesting: one level past the limit, and far past it */
    unsigned char deep[2100] = {0x93, 0x01, 0x03, 0x81, 0xa1, 'x'};
    size_t n = 6;
    for (int i = 0; i < 8; i++) deep[n++] = 0x91;
    deep[n++] = 0x90;
    CHECK(fails_with(D_HDR, deep, n, "header.x: nested deeper than 10 levels"));
    n = 6;
    for (int i = 0; i < 2000; i++) deep[n++] = 0x91;
    deep[n++] = 0x90;
    CHECK(fails_with(D_HDR, deep, n, "nested deeper than 10 levels"));
    unsigned char deep_maps[2100] = {0x93, 0x01, 0x03};
    n = 3;
    for (int i = 0; i < 600; i++) {
        deep_maps[n++] = 0x81;
        deep_maps[n++] = 0xa1;
        deep_maps[n++] = 'k';
    }
    deep_maps[n++] = 0xc0;
    CHECK(fails_with(D_HDR, deep_maps, n, "nested deeper than 10 levels"));

    /* what each type requires */
    mp_init(&m);
    mp_hdr(&m, WIRE_HELLO, 0);
    CHECK(fails_mp(D_HDR, &m, "HELLO role \"\" is not \"worker\" or \"scheduler\""));
    mp_init(&m);
    mp_hdr(&m, WIRE_HELLO, 1);
    mp_str(&m, "role");
    mp_str(&m, "admin");
    CHECK(fails_mp(D_HDR, &m, "HELLO role \"admin\""));
    mp_init(&m);
    mp_hdr(&m, WIRE_WELCOME, 0);
    CHECK(fails_mp(D_HDR, &m, "WELCOME without a heartbeat interval"));
    mp_init(&m);
    mp_hdr(&m, WIRE_CREDIT, 0);
    CHECK(fails_mp(D_HDR, &m, "CREDIT of 0 shards"));
    mp_init(&m);
    mp_hdr(&m, WIRE_SUBMIT, 1);
    mp_str(&m, "shard");
    mp_uint(&m, 4);
    CHECK(fails_mp(D_HDR, &m, "SUBMIT without a job id"));
    mp_init(&m);
    mp_hdr(&m, WIRE_CANCEL, 0);
    CHECK(fails_mp(D_HDR, &m, "CANCEL without a job id"));
    wire_type_t leased[] = {WIRE_SHARD, WIRE_RESULT, WIRE_SHARD_DONE, WIRE_REVOKE};
    for (size_t i = 0; i < 4; i++) {
        mp_init(&m);
        mp_hdr(&m, leased[i], 1);
        mp_str(&m, "job");
        mp_str(&m, "j");
        CHECK(fails_mp(D_HDR, &m, "without a lease"));
        mp_init(&m);
        mp_hdr(&m, leased[i], 1);
        mp_str(&m, "lease");
        mp_uint(&m, 4);
        CHECK(fails_mp(D_HDR, &m, "without a job id"));
    }
    mp_init(&m);
    mp_hdr(&m, WIRE_RETURN, 2);
    mp_str(&m, "job");
    mp_str(&m, "j");
    mp_str(&m, "shard");
    mp_uint(&m, 3);
    CHECK(fails_mp(D_HDR, &m, "RETURN of a shard without a lease"));
    mp_init(&m);
    mp_hdr(&m, WIRE_RETURN, 1);
    mp_str(&m, "lease");
    mp_uint(&m, 5);
    CHECK(fails_mp(D_HDR, &m, "RETURN of a lease without a job id"));
    /* a secret over 64 bytes */
    mp_init(&m);
    mp_hdr(&m, WIRE_SUBMIT, 2);
    mp_str(&m, "job");
    mp_str(&m, "j");
    mp_str(&m, "secret");
    mp_strn(&m, big, 65);
    CHECK(fails_mp(D_HDR, &m, "header.secret: string of 65 bytes exceeds the limit of 64 bytes"));

    /* a failed decode zeroes the output and tolerates tiny or absent error buffers */
    mp_init(&m);
    mp_hdr(&m, WIRE_CANCEL, 1);
    mp_str(&m, "job");
    mp_strn(&m, big, 150);
    memset(&h, 0x5a, sizeof h);
    CHECK(wire_hdr_decode(m.sb.data, m.sb.size, &h, err, sizeof err) == -1);
    CHECK(h.type == 0 && h.job_id[0] == 0 && h.lease == 0);
    char tiny[8];
    for (size_t len = 1; len <= sizeof tiny; len++) {
        memset(tiny, 'Z', sizeof tiny);
        CHECK(wire_hdr_decode(m.sb.data, m.sb.size, &h, tiny, len) == -1);
        CHECK(memchr(tiny, '\0', len) != NULL);
        if (len == sizeof tiny) CHECK(strcmp(tiny, "header.") == 0);
    }
    CHECK(wire_hdr_decode(m.sb.data, m.sb.size, &h, NULL, 0) == -1);
    mp_free(&m);

    /* a frame over WIRE_MAX_MSG is refused before it is read */
    char *huge = xcalloc(1, (size_t)WIRE_MAX_MSG + 1);
    CHECK(fails_with(D_HDR, huge, (size_t)WIRE_MAX_MSG + 1, "header: frame of 67108865 bytes exceeds"));
    CHECK(fails_with(D_RESULT, huge, (size_t)WIRE_MAX_MSG + 1, "result: frame of"));
    free(huge);
}

/* ---- shards ------------------------------------------------------------------------------- */

static char binaryish[256]; /* bytes 0x01..0xff: no NUL, not UTF-8 */
static const char *const unicode = "héllo wörld — 日本語のテキスト 🎉 ∑ ✓";

static record_t *sample_records(size_t *n)
{
    *n = 5;
    record_t *r = xcalloc(*n, sizeof *r);
    /* 0: only the required prompt */
    r[0].index = 0;
    r[0].prompt = xstrdup("What is 2+2?");
    /* 1: every optional field, two responses (one without a model identifier) */
    r[1].index = 1;
    r[1].id = xstrdup("q-001");
    r[1].prompt = xstrdup("Summarise the passage.");
    r[1].reference = xstrdup("A short summary.");
    r[1].context = xstrdup("The passage, at some length.");
    r[1].category = xstrdup("summarisation");
    r[1].n_responses = 2;
    r[1].responses = xcalloc(2, sizeof(record_response_t));
    r[1].responses[0].response = xstrdup("First answer.");
    r[1].responses[0].model_identifier = xstrdup("my-model-v2");
    r[1].responses[1].response = xstrdup("Second answer.");
    /* 2: present but empty strings stay empty (not NULL) */
    r[2].index = 2;
    r[2].id = xstrdup("");
    r[2].prompt = xstrdup("");
    r[2].reference = xstrdup("");
    r[2].category = xstrdup("");
    r[2].n_responses = 1;
    r[2].responses = xcalloc(1, sizeof(record_response_t));
    r[2].responses[0].response = xstrdup("");
    r[2].responses[0].model_identifier = xstrdup("");
    /* 3: unicode and binary-ish bytes */
    r[3].index = UINT64_MAX;
    r[3].id = xstrdup(unicode);
    r[3].prompt = xstrdup(binaryish);
    r[3].context = xstrdup(unicode);
    r[3].category = xstrdup(binaryish);
    /* 4: the most responses a record may carry */
    r[4].index = 4;
    r[4].prompt = xasprintf("%s / %s", unicode, binaryish);
    r[4].n_responses = 16;
    r[4].responses = xcalloc(16, sizeof(record_response_t));
    for (int i = 0; i < 16; i++) {
        r[4].responses[i].response = xasprintf("response %d %s", i, i % 2 ? unicode : "");
        if (i % 3) r[4].responses[i].model_identifier = xasprintf("model-%d", i);
    }
    return r;
}

static void free_records(record_t *r, size_t n)
{
    wire_shard_t s = {.records = r, .n_records = n};
    wire_shard_clear(&s);
}

static const char *const spec = "{\"model\":\"openai/gpt-4o\",\"evaluator_model\":\"anthropic/x\"}";

static void test_shard_roundtrip(void)
{
    size_t n;
    record_t *recs = sample_records(&n);
    buf_t b;
    buf_init(&b, 0);
    CHECK(wire_shard_encode(spec, recs, n, &b) == 0);
    wire_shard_t s;
    char err[256];
    int rc = wire_shard_decode(b.data, b.len, &s, err, sizeof err);
    if (rc) fprintf(stderr, "  %s\n", err);
    CHECK(rc == 0);
    if (rc == 0) {
        CHECK(strcmp(s.spec_json, spec) == 0);
        CHECK(s.n_records == n);
        for (size_t i = 0; i < n && i < s.n_records; i++) CHECK(record_eq(&recs[i], &s.records[i]));
        CHECK(s.records[0].id == NULL && s.records[0].reference == NULL && s.records[0].responses == NULL &&
              s.records[0].n_responses == 0);
        CHECK(s.records[2].id && s.records[2].id[0] == 0 && s.records[2].context == NULL);
        CHECK(s.records[1].responses[1].model_identifier == NULL);
        wire_shard_clear(&s);
        CHECK(s.records == NULL && s.spec_json == NULL && s.n_records == 0);
        wire_shard_clear(&s); /* twice is harmless */
    }
    wire_shard_clear(NULL);

    /* msgpack-c agrees it is one well-formed object */
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    CHECK(msgpack_unpack_next(&u, b.data, b.len, &off) == MSGPACK_UNPACK_SUCCESS && off == b.len);
    CHECK(u.data.type == MSGPACK_OBJECT_MAP && u.data.via.map.size == 2);
    msgpack_unpacked_destroy(&u);

    CHECK(all_truncations_fail(D_SHARD, b.data, b.len));
    int bad = 0;
    mutate(D_SHARD, b.data, b.len, 2500, &bad);
    CHECK(bad == 0);

    /* an empty shard */
    buf_reset(&b);
    CHECK(wire_shard_encode("{}", NULL, 0, &b) == 0);
    CHECK(wire_shard_decode(b.data, b.len, &s, err, sizeof err) == 0);
    CHECK(s.n_records == 0 && s.records == NULL && strcmp(s.spec_json, "{}") == 0);
    wire_shard_clear(&s);

    /* the cap of out: -1, nothing appended */
    buf_t small;
    buf_init(&small, 100);
    CHECK(buf_puts(&small, "keep") == 0);
    CHECK(wire_shard_encode(spec, recs, n, &small) == -1);
    CHECK(small.len == 4 && strcmp(small.data, "keep") == 0);
    buf_free(&small);

    free_records(recs, n);
    buf_free(&b);
}

static void test_shard_big(void)
{
    size_t n = 100000;
    record_t *recs = xcalloc(n + 1, sizeof *recs);
    for (size_t i = 0; i <= n; i++) {
        recs[i].index = i;
        recs[i].prompt = xasprintf("prompt %zu", i);
        if (i % 7 == 0) recs[i].category = xstrdup(i % 2 ? "odd" : "even");
    }
    buf_t b;
    buf_init(&b, 0);
    CHECK(wire_shard_encode(spec, recs, n, &b) == 0);
    wire_shard_t s;
    char err[256];
    CHECK(wire_shard_decode(b.data, b.len, &s, err, sizeof err) == 0);
    CHECK(s.n_records == n);
    int same = 1;
    for (size_t i = 0; i < n && i < s.n_records; i++) same &= record_eq(&recs[i], &s.records[i]);
    CHECK(same);
    wire_shard_clear(&s);

    /* one record over the limit: refused, out untouched */
    size_t before = b.len;
    CHECK(wire_shard_encode(spec, recs, n + 1, &b) == -1);
    CHECK(b.len == before);
    free_records(recs, n + 1);

    /* a count over the limit, with enough bytes behind it that only the cap can refuse it */
    mp_t m;
    mp_init(&m);
    msgpack_pack_map(&m.pk, 2);
    mp_str(&m, "spec");
    mp_str(&m, "{}");
    mp_str(&m, "recs");
    msgpack_pack_array(&m.pk, 100001);
    char *empties = xmalloc(100001);
    memset(empties, 0x80, 100001);
    mp_raw(&m, empties, 100001);
    free(empties);
    CHECK(fails_mp(D_SHARD, &m, "shard.recs: 100001 records exceed the limit of 100000"));
    buf_free(&b);
}

static void test_shard_limits(void)
{
    buf_t b;
    buf_init(&b, 0);
    char err[256];
    wire_shard_t s;

    /* spec: 4 MiB exactly is fine, one byte more is not */
    size_t spec_max = 4u << 20;
    char *big = xmalloc((16u << 20) + 2);
    memset(big, 's', (16u << 20) + 1);
    big[spec_max] = '\0';
    record_t one = {.prompt = "p"};
    CHECK(wire_shard_encode(big, &one, 1, &b) == 0);
    CHECK(wire_shard_decode(b.data, b.len, &s, err, sizeof err) == 0 && strlen(s.spec_json) == spec_max);
    wire_shard_clear(&s);
    buf_reset(&b);
    big[spec_max] = 's';
    big[spec_max + 1] = '\0';
    CHECK(wire_shard_encode(big, &one, 1, &b) == -1 && b.len == 0);
    mp_t m;
    mp_init(&m);
    msgpack_pack_map(&m.pk, 2);
    mp_str(&m, "spec");
    mp_strn(&m, big, spec_max + 1);
    mp_str(&m, "recs");
    msgpack_pack_array(&m.pk, 0);
    CHECK(fails_mp(D_SHARD, &m, "shard.spec: string of 4194305 bytes exceeds the limit of 4194304 bytes"));

    /* record strings: 16 MiB exactly is fine, one byte more is not */
    size_t text_max = 16u << 20;
    big[spec_max + 1] = 's';
    big[text_max] = '\0';
    record_t r = {.prompt = "p", .context = big};
    CHECK(wire_shard_encode("{}", &r, 1, &b) == 0);
    CHECK(wire_shard_decode(b.data, b.len, &s, err, sizeof err) == 0 && strlen(s.records[0].context) == text_max);
    wire_shard_clear(&s);
    buf_reset(&b);
    big[text_max] = 's';
    big[text_max + 1] = '\0';
    CHECK(wire_shard_encode("{}", &r, 1, &b) == -1 && b.len == 0);
    mp_init(&m);
    msgpack_pack_map(&m.pk, 2);
    mp_str(&m, "spec");
    mp_str(&m, "{}");
    mp_str(&m, "recs");
    msgpack_pack_array(&m.pk, 2);
    msgpack_pack_map(&m.pk, 1);
    mp_str(&m, "prompt");
    mp_str(&m, "ok");
    msgpack_pack_map(&m.pk, 2);
    mp_str(&m, "prompt");
    mp_str(&m, "ok");
    mp_str(&m, "ref");
    mp_strn(&m, big, text_max + 1);
    CHECK(fails_mp(D_SHARD, &m, "shard.recs[1].ref: string of 16777217 bytes exceeds the limit of 16777216 bytes"));

    /* the whole message may not pass WIRE_MAX_MSG even if each string is within its cap */
    big[text_max] = '\0';
    big[text_max - 1] = '\0'; /* 16 MiB - 1 */
    record_t many[5];
    for (int i = 0; i < 5; i++) many[i] = (record_t){.prompt = big, .index = (uint64_t)i};
    CHECK(wire_shard_encode("{}", many, 5, &b) == -1 && b.len == 0);
    CHECK(wire_shard_encode("{}", many, 3, &b) == 0);
    buf_reset(&b);
    free(big);

    /* 17 responses */
    record_response_t resp[17];
    for (int i = 0; i < 17; i++) resp[i] = (record_response_t){.response = "r"};
    record_t rr = {.prompt = "p", .responses = resp, .n_responses = 17};
    CHECK(wire_shard_encode("{}", &rr, 1, &b) == -1 && b.len == 0);
    rr.n_responses = 16;
    CHECK(wire_shard_encode("{}", &rr, 1, &b) == 0);
    buf_reset(&b);
    mp_init(&m);
    msgpack_pack_map(&m.pk, 2);
    mp_str(&m, "recs");
    msgpack_pack_array(&m.pk, 1);
    msgpack_pack_map(&m.pk, 2);
    mp_str(&m, "prompt");
    mp_str(&m, "p");
    mp_str(&m, "resps");
    msgpack_pack_array(&m.pk, 17);
    for (int i = 0; i < 17; i++) {
        msgpack_pack_map(&m.pk, 1);
        mp_str(&m, "text");
        mp_str(&m, "r");
    }
    mp_str(&m, "spec");
    mp_str(&m, "{}");
    CHECK(fails_mp(D_SHARD, &m, "shard.recs[0].resps: 17 responses exceed the limit of 16"));

    /* encoder refuses what the decoder would: a NULL prompt, a NULL response text */
    record_t noprompt = {.index = 1};
    CHECK(wire_shard_encode("{}", &noprompt, 1, &b) == -1 && b.len == 0);
    record_response_t nulltext = {.model_identifier = "m"};
    record_t r2 = {.prompt = "p", .responses = &nulltext, .n_responses = 1};
    CHECK(wire_shard_encode("{}", &r2, 1, &b) == -1 && b.len == 0);
    CHECK(wire_shard_encode(NULL, &one, 1, &b) == -1 && b.len == 0);
    buf_free(&b);
}

static void test_shard_malformed(void)
{
    mp_t m;

    /* missing required keys */
    mp_init(&m);
    msgpack_pack_map(&m.pk, 1);
    mp_str(&m, "recs");
    msgpack_pack_array(&m.pk, 0);
    CHECK(fails_mp(D_SHARD, &m, "shard.spec: missing"));
    mp_init(&m);
    msgpack_pack_map(&m.pk, 1);
    mp_str(&m, "spec");
    mp_str(&m, "{}");
    CHECK(fails_mp(D_SHARD, &m, "shard.recs: missing"));
    mp_init(&m);
    msgpack_pack_map(&m.pk, 2);
    mp_str(&m, "spec");
    msgpack_pack_nil(&m.pk); /* nil is absent, and spec is required */
    mp_str(&m, "recs");
    msgpack_pack_array(&m.pk, 0);
    CHECK(fails_mp(D_SHARD, &m, "shard.spec: missing"));

    /* a record without a prompt (after good ones: what was built is freed) */
    mp_init(&m);
    msgpack_pack_map(&m.pk, 2);
    mp_str(&m, "spec");
    mp_str(&m, "{}");
    mp_str(&m, "recs");
    msgpack_pack_array(&m.pk, 3);
    msgpack_pack_map(&m.pk, 3);
    mp_str(&m, "prompt");
    mp_str(&m, "a");
    mp_str(&m, "id");
    mp_str(&m, "x");
    mp_str(&m, "cat");
    mp_str(&m, "c");
    msgpack_pack_map(&m.pk, 2);
    mp_str(&m, "idx");
    mp_uint(&m, 1);
    mp_str(&m, "ref");
    mp_str(&m, "leaks if not freed");
    msgpack_pack_map(&m.pk, 1);
    mp_str(&m, "prompt");
    mp_str(&m, "c");
    CHECK(fails_mp(D_SHARD, &m, "shard.recs[1].prompt: missing"));

    /* a response without text */
    mp_init(&m);
    msgpack_pack_map(&m.pk, 2);
    mp_str(&m, "spec");
    mp_str(&m, "{}");
    mp_str(&m, "recs");
    msgpack_pack_array(&m.pk, 1);
    msgpack_pack_map(&m.pk, 2);
    mp_str(&m, "prompt");
    mp_str(&m, "a");
    mp_str(&m, "resps");
    msgpack_pack_array(&m.pk, 2);
    msgpack_pack_map(&m.pk, 1);
    mp_str(&m, "text");
    mp_str(&m, "t");
    msgpack_pack_map(&m.pk, 1);
    mp_str(&m, "model");
    mp_str(&m, "m");
    CHECK(fails_mp(D_SHARD, &m, "shard.recs[0].resps[1].text: missing"));

    /* wrong types */
    struct {
        const char *key;
        int what; /* 0 int, 1 string, 2 map, 3 array, 4 bool */
        const char *want;
    } cases[] = {
        {"prompt", 0, "shard.recs[0].prompt: expected a string, got an integer"},
        {"idx", 1, "shard.recs[0].idx: expected an unsigned integer, got a string"},
        {"resps", 1, "shard.recs[0].resps: expected an array, got a string"},
        {"resps", 2, "shard.recs[0].resps: expected an array, got a map"},
        {"cat", 3, "shard.recs[0].cat: expected a string, got an array"},
        {"id", 4, "shard.recs[0].id: expected a string, got a boolean"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mp_init(&m);
        msgpack_pack_map(&m.pk, 2);
        mp_str(&m, "spec");
        mp_str(&m, "{}");
        mp_str(&m, "recs");
        msgpack_pack_array(&m.pk, 1);
        msgpack_pack_map(&m.pk, strcmp(cases[i].key, "prompt") ? 2 : 1);
        if (strcmp(cases[i].key, "prompt") != 0) {
            mp_str(&m, "prompt");
            mp_str(&m, "p");
        }
        mp_str(&m, cases[i].key);
        switch (cases[i].what) {
        case 0: mp_uint(&m, 5); break;
        case 1: mp_str(&m, "s"); break;
        case 2: msgpack_pack_map(&m.pk, 0); break;
        case 3: msgpack_pack_array(&m.pk, 0); break;
        case 4: msgpack_pack_false(&m.pk); break;
        }
        CHECK(fails_mp(D_SHARD, &m, cases[i].want));
    }
    mp_init(&m);
    msgpack_pack_map(&m.pk, 2);
    mp_str(&m, "spec");
    mp_str(&m, "{}");
    mp_str(&m, "recs");
    msgpack_pack_map(&m.pk, 0);
    CHECK(fails_mp(D_SHARD, &m, "shard.recs: expected an array, got a map"));
    mp_init(&m);
    msgpack_pack_array(&m.pk, 2);
    mp_str(&m, "{}");
    msgpack_pack_array(&m.pk, 0);
    CHECK(fails_mp(D_SHARD, &m, "shard: expected a map, got an array"));

    /* a record count that the bytes cannot hold */
    mp_init(&m);
    msgpack_pack_map(&m.pk, 2);
    mp_str(&m, "spec");
    mp_str(&m, "{}");
    mp_str(&m, "recs");
    mp_raw(&m, "\xdd\x00\x01\x00\x00\x80\x80", 7);
    CHECK(fails_mp(D_SHARD, &m, "shard.recs: array of 65536 elements but only 2 bytes left"));

    /* forward compatibility: unknown keys in the shard, a record and a response are skipped */
    mp_init(&m);
    msgpack_pack_map(&m.pk, 3);
    mp_str(&m, "v2_field");
    msgpack_pack_array(&m.pk, 2);
    msgpack_pack_map(&m.pk, 1);
    mp_str(&m, "z");
    msgpack_pack_nil(&m.pk);
    msgpack_pack_float(&m.pk, 1.5f);
    mp_str(&m, "recs");
    msgpack_pack_array(&m.pk, 1);
    msgpack_pack_map(&m.pk, 4);
    mp_str(&m, "weight");
    msgpack_pack_double(&m.pk, 0.5);
    mp_str(&m, "prompt");
    mp_str(&m, "p");
    mp_str(&m, "ref");
    msgpack_pack_nil(&m.pk);
    mp_str(&m, "resps");
    msgpack_pack_array(&m.pk, 1);
    msgpack_pack_map(&m.pk, 2);
    mp_str(&m, "text");
    mp_str(&m, "t");
    mp_str(&m, "logprobs");
    msgpack_pack_array(&m.pk, 2);
    msgpack_pack_double(&m.pk, -0.1);
    msgpack_pack_double(&m.pk, -2.3);
    mp_str(&m, "spec");
    mp_str(&m, "{}");
    wire_shard_t s;
    char err[256];
    int rc = wire_shard_decode(m.sb.data, m.sb.size, &s, err, sizeof err);
    if (rc) fprintf(stderr, "  %s\n", err);
    CHECK(rc == 0);
    if (rc == 0) {
        CHECK(s.n_records == 1 && strcmp(s.records[0].prompt, "p") == 0 && s.records[0].reference == NULL &&
              s.records[0].n_responses == 1 && strcmp(s.records[0].responses[0].response, "t") == 0);
        wire_shard_clear(&s);
    }
    mp_free(&m);

    /* trailing bytes */
    buf_t b;
    buf_init(&b, 0);
    record_t one = {.prompt = "p"};
    CHECK(wire_shard_encode("{}", &one, 1, &b) == 0);
    CHECK(buf_append(&b, "\xc0\xc0", 2) == 0);
    CHECK(fails_with(D_SHARD, b.data, b.len, "shard: 2 trailing bytes after the message"));
    buf_free(&b);
}

/* ---- results ------------------------------------------------------------------------------ */

/* A result with a score of every status, optional strings present and absent. */
static void sample_result(result_t *r)
{
    memset(r, 0, sizeof *r);
    r->job_id = xstrdup("job-123");
    r->shard_id = 7;
    r->record_index = 12345678901ull;
    r->target = TARGET_BASE;
    r->model = xstrdup("bedrock/us.amazon.nova-lite-v1:0");
    r->response = xasprintf("%s\n%s", unicode, binaryish);
    r->response_from_dataset = true;
    r->usage.input_tokens = UINT64_MAX;
    r->usage.output_tokens = 77;
    r->latency_ms = 1234.5678;

    score_t *s = result_add_score(r);
    s->metric = xstrdup("Correctness");
    s->status = SCORE_OK;
    s->rating = xstrdup("partially correct");
    s->has_score = true;
    s->score = 1.0;
    s->normalized = 0.5;
    s->explanation = xstrdup(unicode);
    s->usage = (usage_t){.input_tokens = 900, .output_tokens = 120};
    s->attempts = 1;

    s = result_add_score(r);
    s->metric = xstrdup("Completeness");
    s->status = SCORE_UNSCORED;
    s->explanation = xstrdup("the whole reply, which named no rating");
    s->error = xstrdup("no rating of the scale after one re-ask");
    s->attempts = 2;

    s = result_add_score(r);
    s->metric = xstrdup("FollowingInstructions");
    s->status = SCORE_NOT_APPLICABLE;
    s->rating = xstrdup("not applicable");
    s->explanation = xstrdup("");

    s = result_add_score(r);
    s->metric = xstrdup("Harmfulness");
    s->status = SCORE_ERROR;
    s->error = xstrdup("judge call failed: HTTP 500 after 3 attempts");
    s->attempts = 3;

    s = result_add_score(r); /* a string scale: ok without a numeric score; odd doubles */
    s->metric = xstrdup("tone.v2-x_");
    s->status = SCORE_OK;
    s->rating = xstrdup(binaryish);
    s->score = -1.5;
    s->normalized = 1.0 / 3.0;

    s = result_add_score(r);
    memset(s->metric = xmalloc(64), 'm', 63);
    s->metric[63] = '\0';
    s->status = SCORE_OK;
    s->has_score = true;
    s->score = 1e300;
    s->normalized = -0.0;
    s->usage.output_tokens = UINT64_MAX;
    s->attempts = UINT32_MAX;
}

static void result_roundtrip(const result_t *r, int mutations)
{
    buf_t b;
    buf_init(&b, 0);
    CHECK(wire_result_encode(r, &b) == 0);
    result_t got;
    char err[256];
    int rc = wire_result_decode(b.data, b.len, &got, err, sizeof err);
    if (rc) fprintf(stderr, "  %s\n", err);
    CHECK(rc == 0);
    if (rc == 0) {
        CHECK(result_eq(r, &got));
        result_clear(&got);
    }
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    CHECK(msgpack_unpack_next(&u, b.data, b.len, &off) == MSGPACK_UNPACK_SUCCESS && off == b.len);
    CHECK(u.data.type == MSGPACK_OBJECT_MAP);
    msgpack_unpacked_destroy(&u);
    CHECK(all_truncations_fail(D_RESULT, b.data, b.len));
    if (mutations) {
        int bad = 0;
        mutate(D_RESULT, b.data, b.len, mutations, &bad);
        CHECK(bad == 0);
    }
    buf_free(&b);
}

static void test_result_roundtrip(void)
{
    result_t r;
    sample_result(&r);
    result_roundtrip(&r, 2500);

    /* the decoded -0.0 keeps its sign bit: doubles travel as float64 bit patterns */
    buf_t b;
    buf_init(&b, 0);
    CHECK(wire_result_encode(&r, &b) == 0);
    result_t got;
    char err[256];
    CHECK(wire_result_decode(b.data, b.len, &got, err, sizeof err) == 0);
    CHECK(got.n_scores == 6 && signbit(got.scores[5].normalized) && got.scores[4].normalized == 1.0 / 3.0);
    CHECK(got.scores[1].rating == NULL && got.scores[2].explanation && got.scores[2].explanation[0] == 0);
    result_clear(&got);
    buf_free(&b);
    result_clear(&r);

    /* an inference error: no response, no scores, no model */
    memset(&r, 0, sizeof r);
    r.job_id = xstrdup("j");
    r.error = xstrdup("inference failed: timeout after 60 s");
    result_roundtrip(&r, 0);

    /* 64 scores is the limit */
    for (int i = 0; i < 64; i++) {
        score_t *s = result_add_score(&r);
        s->metric = xasprintf("m%d", i);
        s->status = (score_status_t)(i % 4);
    }
    result_roundtrip(&r, 0);
    result_add_score(&r)->metric = xstrdup("one-too-many");
    buf_init(&b, 0);
    CHECK(wire_result_encode(&r, &b) == -1 && b.len == 0);
    result_clear(&r);

    /* encoder refusals mirror the decoder */
    sample_result(&r);
    r.scores[0].score = NAN;
    CHECK(wire_result_encode(&r, &b) == -1 && b.len == 0);
    r.scores[0].score = 1;
    r.scores[2].status = (score_status_t)9;
    CHECK(wire_result_encode(&r, &b) == -1 && b.len == 0);
    r.scores[2].status = SCORE_OK;
    r.target = (target_t)5;
    CHECK(wire_result_encode(&r, &b) == -1 && b.len == 0);
    r.target = TARGET_CUSTOM;
    r.latency_ms = -1;
    CHECK(wire_result_encode(&r, &b) == -1 && b.len == 0);
    r.latency_ms = INFINITY;
    CHECK(wire_result_encode(&r, &b) == -1 && b.len == 0);
    r.latency_ms = 0;
    free(r.scores[3].metric);
    r.scores[3].metric = xmalloc(70001);
    memset(r.scores[3].metric, 'x', 70000);
    r.scores[3].metric[70000] = '\0';
    CHECK(wire_result_encode(&r, &b) == -1 && b.len == 0);
    r.scores[3].metric[3] = '\0';
    char *job = r.job_id;
    r.job_id = NULL;
    CHECK(wire_result_encode(&r, &b) == -1 && b.len == 0);
    r.job_id = job;
    CHECK(wire_result_encode(&r, &b) == 0);
    buf_free(&b);
    result_clear(&r);
}

/* A result frame with `extra` fields appended to {job: "j"} by the callback. */
static void mp_result_head(mp_t *m, size_t extra)
{
    mp_init(m);
    msgpack_pack_map(&m->pk, 1 + extra);
    mp_str(m, "job");
    mp_str(m, "j");
}

static void test_result_malformed(void)
{
    mp_t m;
    char *big = xmalloc(70001);
    memset(big, 'x', 70000);
    big[70000] = '\0';

    /* the field path of an oversized metric four scores in */
    mp_result_head(&m, 1);
    mp_str(&m, "scores");
    msgpack_pack_array(&m.pk, 4);
    for (int i = 0; i < 4; i++) {
        msgpack_pack_map(&m.pk, 2);
        mp_str(&m, "metric");
        if (i < 3) mp_str(&m, "Correctness");
        else mp_strn(&m, big, 70000);
        mp_str(&m, "status");
        mp_uint(&m, 0);
    }
    CHECK(fails_mp(D_RESULT, &m, "result.scores[3].metric: string of 70000 bytes exceeds the limit of 63 bytes"));

    mp_result_head(&m, 1);
    mp_str(&m, "scores");
    msgpack_pack_array(&m.pk, 65);
    for (int i = 0; i < 65; i++) {
        msgpack_pack_map(&m.pk, 1);
        mp_str(&m, "metric");
        mp_str(&m, "M");
    }
    CHECK(fails_mp(D_RESULT, &m, "result.scores: 65 scores exceed the limit of 64"));

    mp_init(&m);
    msgpack_pack_map(&m.pk, 1);
    mp_str(&m, "shard");
    mp_uint(&m, 1);
    CHECK(fails_mp(D_RESULT, &m, "result.job: missing"));
    mp_init(&m);
    msgpack_pack_map(&m.pk, 1);
    mp_str(&m, "job");
    mp_strn(&m, big, 128);
    CHECK(fails_mp(D_RESULT, &m, "result.job: string of 128 bytes exceeds the limit of 127 bytes"));
    mp_result_head(&m, 1);
    mp_str(&m, "model");
    mp_strn(&m, big, 4096);
    CHECK(fails_mp(D_RESULT, &m, "result.model: string of 4096 bytes exceeds the limit of 4095 bytes"));

    struct {
        const char *key;
        int what; /* 0 uint 4, 1 uint 2, 2 string, 3 NaN, 4 +inf, 5 -1.0, 6 uint 1 */
        const char *want;
    } top[] = {
        {"target", 1, "result.target: unknown target 2 (0 custom, 1 base)"},
        {"from_ds", 6, "result.from_ds: expected a boolean, got an integer"},
        {"lat_ms", 2, "result.lat_ms: expected a number, got a string"},
        {"lat_ms", 3, "result.lat_ms: NaN is not a number"},
        {"lat_ms", 4, "result.lat_ms: infinite values are not allowed"},
        {"lat_ms", 5, "result.lat_ms: negative values are not allowed (got -1)"},
        {"in_tok", 5, "result.in_tok: expected an unsigned integer, got a float"},
        {"scores", 2, "result.scores: expected an array, got a string"},
        {"resp", 6, "result.resp: expected a string, got an integer"},
    };
    for (size_t i = 0; i < sizeof top / sizeof top[0]; i++) {
        mp_result_head(&m, 1);
        mp_str(&m, top[i].key);
        switch (top[i].what) {
        case 0: mp_uint(&m, 4); break;
        case 1: mp_uint(&m, 2); break;
        case 2: mp_str(&m, "3.5"); break;
        case 3: msgpack_pack_double(&m.pk, NAN); break;
        case 4: msgpack_pack_double(&m.pk, INFINITY); break;
        case 5: msgpack_pack_double(&m.pk, -1.0); break;
        case 6: mp_uint(&m, 1); break;
        }
        CHECK(fails_mp(D_RESULT, &m, top[i].want));
    }

    struct {
        const char *key;
        int what;
        const char *want;
    } sc[] = {
        {"status", 0, "result.scores[0].status: unknown status 4"},
        {"has_score", 6, "result.scores[0].has_score: expected a boolean, got an integer"},
        {"score", 2, "result.scores[0].score: expected a number, got a string"},
        {"norm", 3, "result.scores[0].norm: NaN is not a number"},
        {"score", 4, "result.scores[0].score: infinite values are not allowed"},
        {"attempts", 5, "result.scores[0].attempts: expected an unsigned integer, got a float"},
        {"rating", 6, "result.scores[0].rating: expected a string, got an integer"},
    };
    for (size_t i = 0; i < sizeof sc / sizeof sc[0]; i++) {
        mp_result_head(&m, 1);
        mp_str(&m, "scores");
        msgpack_pack_array(&m.pk, 1);
        msgpack_pack_map(&m.pk, 2);
        mp_str(&m, "metric");
        mp_str(&m, "Correctness");
        mp_str(&m, sc[i].key);
        switch (sc[i].what) {
        case 0: mp_uint(&m, 4); break;
        case 2: mp_str(&m, "x"); break;
        case 3: msgpack_pack_double(&m.pk, NAN); break;
        case 4: msgpack_pack_double(&m.pk, -INFINITY); break;
        case 5: msgpack_pack_double(&m.pk, 2.0); break;
        case 6: mp_uint(&m, 1); break;
        }
        CHECK(fails_mp(D_RESULT, &m, sc[i].want));
    }
    mp_result_head(&m, 1);
    mp_str(&m, "scores");
    msgpack_pack_array(&m.pk, 2);
    msgpack_pack_map(&m.pk, 1);
    mp_str(&m, "metric");
    mp_str(&m, "A");
    msgpack_pack_map(&m.pk, 1);
    mp_str(&m, "expl");
    mp_str(&m, "no metric: freed on failure");
    CHECK(fails_mp(D_RESULT, &m, "result.scores[1].metric: missing"));

    /* other encoders' number formats are accepted for doubles */
    mp_result_head(&m, 2);
    mp_str(&m, "lat_ms");
    mp_uint(&m, 250);
    mp_str(&m, "scores");
    msgpack_pack_array(&m.pk, 1);
    msgpack_pack_map(&m.pk, 3);
    mp_str(&m, "metric");
    mp_str(&m, "Correctness");
    mp_str(&m, "score");
    msgpack_pack_int64(&m.pk, -2);
    mp_str(&m, "norm");
    msgpack_pack_float(&m.pk, 0.25f);
    result_t r;
    char err[256];
    int rc = wire_result_decode(m.sb.data, m.sb.size, &r, err, sizeof err);
    if (rc) fprintf(stderr, "  %s\n", err);
    CHECK(rc == 0);
    if (rc == 0) {
        CHECK(r.latency_ms == 250.0 && r.scores[0].score == -2.0 && r.scores[0].normalized == 0.25 &&
              r.scores[0].status == SCORE_OK && r.target == TARGET_CUSTOM && r.model == NULL);
        result_clear(&r);
    }
    mp_free(&m);

    /* failure zeroes the output */
    memset(&r, 0x77, sizeof r);
    CHECK(wire_result_decode("\x80", 1, &r, err, sizeof err) == -1);
    CHECK(r.job_id == NULL && r.scores == NULL && r.n_scores == 0);
    CHECK(strcmp(err, "result.job: missing") == 0);
    free(big);
}

/* ---- rate tables -------------------------------------------------------------------------- */

static void test_rates(void)
{
    wire_rate_t rows[3] = {
        {.key = "openai|gpt-4o|3f9a",
         .rpm = 6000,
         .tpm = 2e6,
         .demand = 12,
         .max_concurrency = 512,
         .used_requests = 100,
         .used_tokens = 20000},
        {.key = "bedrock|us-west-2|amazon.nova-pro-v1:0|ab12", .rpm = 0, .tpm = 125000.25},
        {.key = "",
         .rpm = 0.5,
         .tpm = 0,
         .demand = UINT32_MAX,
         .max_concurrency = UINT32_MAX,
         .used_requests = UINT64_MAX,
         .used_tokens = UINT64_MAX},
    };
    buf_t b;
    buf_init(&b, 0);
    CHECK(wire_rates_encode(rows, 3, &b) == 0);
    wire_rate_t *got = NULL;
    size_t n = 0;
    char err[256];
    int rc = wire_rates_decode(b.data, b.len, &got, &n, err, sizeof err);
    if (rc) fprintf(stderr, "  %s\n", err);
    CHECK(rc == 0 && n == 3);
    for (size_t i = 0; rc == 0 && i < 3; i++) {
        CHECK(strcmp(got[i].key, rows[i].key) == 0);
        CHECK(got[i].rpm == rows[i].rpm && got[i].tpm == rows[i].tpm);
        CHECK(got[i].demand == rows[i].demand && got[i].max_concurrency == rows[i].max_concurrency);
        CHECK(got[i].used_requests == rows[i].used_requests && got[i].used_tokens == rows[i].used_tokens);
    }
    wire_rates_free(got, n);
    wire_rates_free(NULL, 0);
    CHECK(all_truncations_fail(D_RATES, b.data, b.len));
    int bad = 0;
    mutate(D_RATES, b.data, b.len, 2000, &bad);
    CHECK(bad == 0);

    /* empty table */
    buf_reset(&b);
    CHECK(wire_rates_encode(NULL, 0, &b) == 0);
    got = (wire_rate_t *)&b;
    n = 5;
    CHECK(wire_rates_decode(b.data, b.len, &got, &n, err, sizeof err) == 0 && got == NULL && n == 0);

    /* 10000 rows is the limit */
    wire_rate_t *many = xcalloc(10001, sizeof *many);
    for (size_t i = 0; i < 10001; i++) {
        many[i].key = xasprintf("key-%zu", i);
        many[i].rpm = (double)i;
    }
    buf_reset(&b);
    CHECK(wire_rates_encode(many, 10000, &b) == 0);
    CHECK(wire_rates_decode(b.data, b.len, &got, &n, err, sizeof err) == 0 && n == 10000 && got[9999].rpm == 9999.0 &&
          strcmp(got[9999].key, "key-9999") == 0);
    wire_rates_free(got, n);
    buf_reset(&b);
    CHECK(wire_rates_encode(many, 10001, &b) == -1 && b.len == 0);
    wire_rates_free(many, 10001);
    mp_t m;
    mp_init(&m);
    msgpack_pack_array(&m.pk, 10001);
    for (int i = 0; i < 10001; i++) msgpack_pack_map(&m.pk, 0);
    CHECK(fails_mp(D_RATES, &m, "rates: 10001 rows exceed the limit of 10000"));

    /* encoder refusals */
    wire_rate_t r = {.key = "k", .rpm = NAN};
    CHECK(wire_rates_encode(&r, 1, &b) == -1 && b.len == 0);
    r.rpm = -INFINITY;
    CHECK(wire_rates_encode(&r, 1, &b) == -1 && b.len == 0);
    r.rpm = INFINITY;
    CHECK(wire_rates_encode(&r, 1, &b) == -1 && b.len == 0);
    r.rpm = 1;
    r.tpm = -5;
    CHECK(wire_rates_encode(&r, 1, &b) == -1 && b.len == 0);
    r.tpm = 0;
    r.key = NULL;
    CHECK(wire_rates_encode(&r, 1, &b) == -1 && b.len == 0);
    buf_free(&b);

    /* malformed rows */
    struct {
        const char *key;
        int what; /* 0 NaN, 1 -1.0, 2 -inf, 3 uint 2^32, 4 string, 5 nothing (only "key") */
        const char *want;
    } cases[] = {
        {"rpm", 0, "rates[1].rpm: NaN is not a number"},
        {"tpm", 1, "rates[1].tpm: negative values are not allowed"},
        {"rpm", 2, "rates[1].rpm: infinite values are not allowed"},
        {"demand", 3, "rates[1].demand: 4294967296 exceeds the maximum 4294967295"},
        {"max_conc", 4, "rates[1].max_conc: expected an unsigned integer, got a string"},
        {"used_tok", 1, "rates[1].used_tok: expected an unsigned integer, got a float"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mp_init(&m);
        msgpack_pack_array(&m.pk, 2);
        msgpack_pack_map(&m.pk, 1);
        mp_str(&m, "key");
        mp_str(&m, "good");
        msgpack_pack_map(&m.pk, 2);
        mp_str(&m, "key");
        mp_str(&m, "bad");
        mp_str(&m, cases[i].key);
        switch (cases[i].what) {
        case 0: msgpack_pack_double(&m.pk, NAN); break;
        case 1: msgpack_pack_double(&m.pk, -1.0); break;
        case 2: msgpack_pack_double(&m.pk, INFINITY); break;
        case 3: mp_uint(&m, 1ull << 32); break;
        case 4: mp_str(&m, "many"); break;
        }
        CHECK(fails_mp(D_RATES, &m, cases[i].want));
    }
    mp_init(&m);
    msgpack_pack_array(&m.pk, 1);
    msgpack_pack_map(&m.pk, 1);
    mp_str(&m, "rpm");
    mp_uint(&m, 60);
    CHECK(fails_mp(D_RATES, &m, "rates[0].key: missing"));
    char keybuf[4097];
    memset(keybuf, 'k', 4096);
    mp_init(&m);
    msgpack_pack_array(&m.pk, 1);
    msgpack_pack_map(&m.pk, 1);
    mp_str(&m, "key");
    mp_strn(&m, keybuf, 4096);
    CHECK(fails_mp(D_RATES, &m, "rates[0].key: string of 4096 bytes exceeds the limit of 4095 bytes"));
    mp_init(&m);
    msgpack_pack_map(&m.pk, 0);
    CHECK(fails_mp(D_RATES, &m, "rates: expected an array, got a map"));
    mp_init(&m);
    msgpack_pack_array(&m.pk, 1);
    msgpack_pack_array(&m.pk, 0);
    CHECK(fails_mp(D_RATES, &m, "rates[0]: expected a map, got an array"));
    /* integer rpm from another encoder is fine */
    mp_init(&m);
    msgpack_pack_array(&m.pk, 1);
    msgpack_pack_map(&m.pk, 2);
    mp_str(&m, "key");
    mp_str(&m, "k");
    mp_str(&m, "rpm");
    mp_uint(&m, 60);
    CHECK(decodes(D_RATES, m.sb.data, m.sb.size));
    mp_free(&m);
}

/* ---- mutations of everything -------------------------------------------------------------- */

static void test_mutations_headers(void)
{
    wire_hdr_t hs[4] = {hdr(WIRE_HELLO), hdr(WIRE_SHARD_DONE), hdr(WIRE_WELCOME), hdr(WIRE_CANCEL)};
    snprintf(hs[0].role, sizeof hs[0].role, "worker");
    snprintf(hs[0].name, sizeof hs[0].name, "w-%s", unicode);
    hs[0].threads = 4;
    hs[0].n = 300;
    snprintf(hs[1].job_id, sizeof hs[1].job_id, "job-abcdef-0123456789");
    hs[1].shard_id = 1ull << 33;
    hs[1].lease = 70000;
    hs[1].n = 64;
    hs[2].heartbeat_ms = 1000;
    snprintf(hs[2].name, sizeof hs[2].name, "broker-1");
    snprintf(hs[3].job_id, sizeof hs[3].job_id, "j");
    int ok = 0, bad = 0;
    for (int i = 0; i < 4; i++) {
        buf_t b;
        buf_init(&b, 0);
        CHECK(wire_hdr_encode(&hs[i], &b) == 0);
        ok += mutate(D_HDR, b.data, b.len, 1000, &bad);
        buf_free(&b);
    }
    CHECK(bad == 0);
    CHECK(ok > 0); /* some edits keep a valid header (e.g. a changed digit): those must re-encode */
}

/* Plans: per record, the targets and metrics to evaluate and the responses to judge; a shard
 * without plans decodes with none; malformed plans are refused naming where. */
static void test_shard_plans(void)
{
    size_t n;
    record_t *recs = sample_records(&n);
    char *names[] = {"Correctness", "Tone"};
    wire_unit_plan_t units[2] = {{.target = TARGET_BASE},
                                 {.target = TARGET_CUSTOM,
                                  .response = "kept",
                                  .from_dataset = true,
                                  .model = "openai/m",
                                  .metrics = names,
                                  .n_metrics = 2}};
    wire_plan_t *plans = xcalloc(n, sizeof *plans);
    plans[1] = (wire_plan_t){.units = units, .n_units = 2};
    buf_t b;
    buf_init(&b, 0);
    CHECK(wire_shard_encode_plans(spec, recs, plans, n, &b) == 0);
    wire_shard_t s;
    char err[256];
    CHECK(wire_shard_decode(b.data, b.len, &s, err, sizeof err) == 0);
    CHECK(s.n_records == n && s.plans != NULL);
    if (s.plans) {
        CHECK(s.plans[0].n_units == 0 && s.plans[1].n_units == 2);
        const wire_unit_plan_t *u = s.plans[1].units;
        CHECK(u[0].target == TARGET_BASE && !u[0].response && !u[0].model && u[0].n_metrics == 0);
        CHECK(u[1].target == TARGET_CUSTOM && !strcmp(u[1].response, "kept") && u[1].from_dataset &&
              !strcmp(u[1].model, "openai/m") && u[1].n_metrics == 2 && !strcmp(u[1].metrics[1], "Tone"));
    }
    for (size_t i = 0; i < n && i < s.n_records; i++) CHECK(record_eq(&recs[i], &s.records[i]));
    wire_shard_clear(&s);
    buf_reset(&b);
    /* No plan at all: none decoded (and the bytes are a plain shard's). */
    CHECK(wire_shard_encode_plans(spec, recs, NULL, n, &b) == 0);
    buf_t plain;
    buf_init(&plain, 0);
    CHECK(wire_shard_encode(spec, recs, n, &plain) == 0 && plain.len == b.len && !memcmp(plain.data, b.data, b.len));
    CHECK(wire_shard_decode(b.data, b.len, &s, err, sizeof err) == 0 && s.plans == NULL);
    wire_shard_clear(&s);
    buf_free(&plain);
    /* The same target twice, a bad target, an empty metric name: refused. */
    buf_reset(&b);
    units[1].target = TARGET_BASE;
    CHECK(wire_shard_encode_plans(spec, recs, plans, n, &b) == 0);
    CHECK(wire_shard_decode(b.data, b.len, &s, err, sizeof err) < 0 && strstr(err, "planned twice"));
    units[1].target = (target_t)7;
    buf_reset(&b);
    CHECK(wire_shard_encode_plans(spec, recs, plans, n, &b) == -1);
    units[1].target = TARGET_CUSTOM;
    names[0] = "";
    buf_reset(&b);
    CHECK(wire_shard_encode_plans(spec, recs, plans, n, &b) == -1);
    free(plans);
    buf_free(&b);
    for (size_t i = 0; i < n; i++) record_clear(&recs[i]);
    free(recs);
}

/* A failure's configuration class travels with the result and its scores. */
static void test_result_config_errors(void)
{
    result_t r;
    memset(&r, 0, sizeof r);
    r.job_id = xstrdup("j");
    r.error = xstrdup("HTTP 401");
    r.error_config = true;
    score_t *sc = result_add_score(&r);
    sc->metric = xstrdup("m");
    sc->status = SCORE_ERROR;
    sc->error_config = true;
    buf_t b;
    buf_init(&b, 0);
    CHECK(wire_result_encode(&r, &b) == 0);
    result_t got;
    char err[256];
    CHECK(wire_result_decode(b.data, b.len, &got, err, sizeof err) == 0 && got.error_config &&
          got.scores[0].error_config);
    result_clear(&got);
    r.error_config = false;
    r.scores[0].error_config = false;
    buf_reset(&b);
    CHECK(wire_result_encode(&r, &b) == 0);
    CHECK(wire_result_decode(b.data, b.len, &got, err, sizeof err) == 0 && !got.error_config &&
          !got.scores[0].error_config);
    result_clear(&got);
    result_clear(&r);
    buf_free(&b);
}

int main(void)
{
    log_set_level(LOG_ERROR); /* the encoders' refusals below are expected warnings */
    for (int i = 0; i < 255; i++) binaryish[i] = (char)(i + 1);
    binaryish[255] = '\0';

    test_type_names();
    test_hdr_roundtrip();
    test_hdr_encode_buffer();
    test_hdr_lenient();
    test_hdr_malformed();
    test_shard_roundtrip();
    test_shard_plans();
    test_result_config_errors();
    test_shard_big();
    test_shard_limits();
    test_shard_malformed();
    test_result_roundtrip();
    test_result_malformed();
    test_rates();
    test_mutations_headers();

    return check_summary("test_wire");
}
