/* wire: protocol v1 messages <-> MessagePack bytes. schemas/protocol.md is the reference for
 * every layout and limit below; keep the two in step.
 *
 * Owns: the byte layout of the header frame and of the four payloads (shard, result, rate table),
 * a small packer that appends to a buf_t, and a bounded cursor reader. Does not own sockets,
 * framing, sessions or any routing decision (broker/, worker/ and scheduler/ do).
 *
 * DESIGN. Every frame comes from the network, so the reader trusts nothing:
 *  - one token at a time from a cursor over the frame; a string/binary/extension length must fit
 *    in the bytes that remain, an array count must not exceed them (an element is >= 1 byte) and a
 *    map count must not exceed half of them, before anything is read or allocated;
 *  - containers nest at most WIRE_DEPTH deep (unknown values included, skipped recursively);
 *  - every field has a cap (strings, array counts, integer ranges, finite doubles); strings may
 *    hold any bytes but NUL, since callers read them as C strings;
 *  - maps: keys are strings of at most MAX_KEY bytes, a known key may appear once, unknown keys
 *    are skipped (forward compatibility), nil means "absent", absent means zero/NULL;
 *  - the frame must end exactly where the message does.
 * Errors name the field path, built on the way out of the failure so success costs nothing:
 * "result.scores[3].metric: string of 70000 bytes exceeds the limit of 63 bytes".
 *
 * The packer refuses to produce what the reader would reject (a string over its cap, a message
 * over WIRE_MAX_MSG, a NaN score): such a payload encode returns -1 and logs why, and leaves `out`
 * as it was, like a buffer-cap failure. */
#define LOG_MODULE "wire"
#include "wire.h"

#include "log.h"
#include "mem.h"
#include "metric.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Limits (protocol.md, "Limits"). */
#define WIRE_DEPTH 10                    /* nested arrays/maps, the outermost counting 1 */
#define MAX_KEY 64                       /* bytes in a map key */
#define MAX_SPEC (4u << 20)              /* shard.spec */
#define MAX_TEXT (16u << 20)             /* record strings, responses, explanations, errors */
#define MAX_LABEL 4095u                  /* model strings, rating names, rate keys */
#define MAX_METRIC ((size_t)METRIC_MAX_NAME)
#define MAX_RECORDS 100000u
#define MAX_RESPONSES 16u
#define MAX_SCORES 64u
#define MAX_RATES 10000u

static const char *const type_names[WIRE_TYPE_MAX] = {
    [WIRE_HELLO] = "HELLO",         [WIRE_WELCOME] = "WELCOME", [WIRE_HEARTBEAT] = "HEARTBEAT",
    [WIRE_CREDIT] = "CREDIT",       [WIRE_SUBMIT] = "SUBMIT",   [WIRE_SHARD] = "SHARD",
    [WIRE_RESULT] = "RESULT",       [WIRE_SHARD_DONE] = "SHARD_DONE",
    [WIRE_CANCEL] = "CANCEL",       [WIRE_DEMAND] = "DEMAND",   [WIRE_ALLOT] = "ALLOT",
    [WIRE_BYE] = "BYE",             [WIRE_RETURN] = "RETURN",
};

const char *wire_type_name(wire_type_t t)
{
    if ((int)t <= 0 || (int)t >= WIRE_TYPE_MAX || !type_names[t]) return "?";
    return type_names[t];
}

/* Inserts the formatted text in front of the NUL-terminated message in buf[size], truncating
 * the tail if it no longer fits. Used to build field paths from the leaf outwards. */
__attribute__((format(printf, 3, 0))) static void vprepend(char *buf, size_t size, const char *fmt,
                                                           va_list ap)
{
    if (!buf || size == 0) return;
    char seg[192];
    int sl = vsnprintf(seg, sizeof seg, fmt, ap);
    if (sl < 0) return;
    size_t s = (size_t)sl < sizeof seg ? (size_t)sl : sizeof seg - 1;
    size_t room = size - 1;
    if (s >= room) {
        memcpy(buf, seg, room);
        buf[room] = '\0';
        return;
    }
    size_t keep = strnlen(buf, room);
    if (keep > room - s) keep = room - s;
    memmove(buf + s, buf, keep);
    memcpy(buf, seg, s);
    buf[s + keep] = '\0';
}

/* A map key made printable for messages (keys of unknown fields are peer-chosen bytes). */
static void key_display(char *dst, size_t size, const char *k, size_t n)
{
    size_t i = 0;
    for (; i < n && i + 1 < size; i++) dst[i] = (k[i] >= 0x20 && k[i] < 0x7f) ? k[i] : '?';
    dst[i] = '\0';
}

/* Doubles are finite everywhere (a NaN or an infinity would poison sums and JSON output);
 * latencies and rates are also >= 0 (a rate of 0 means "no limit configured", see protocol.md). */
enum { DBL_ANY = 0, DBL_NONNEG = 1 };

static const char *double_problem(double d, int flags)
{
    if (isnan(d)) return "NaN is not a number";
    if (isinf(d)) return "infinite values are not allowed";
    if ((flags & DBL_NONNEG) && d < 0) return "negative values are not allowed";
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Packer                                                                                     */

enum { PK_OK = 0, PK_ROOM, PK_LIMIT };

typedef struct {
    buf_t *b;
    size_t start;    /* b->len when the message began: failure truncates back to it */
    int failed;      /* PK_ROOM: b's cap; PK_LIMIT: a field or the message broke a wire limit */
    char why[256];   /* PK_LIMIT: field path and problem */
} pk_t;

static void pk_init(pk_t *w, buf_t *b)
{
    w->b = b;
    w->start = b->len;
    w->failed = PK_OK;
    w->why[0] = '\0';
}

__attribute__((format(printf, 3, 4))) static int pk_limit(pk_t *w, const char *key, const char *fmt,
                                                          ...)
{
    if (w->failed) return -1;
    w->failed = PK_LIMIT;
    char msg[192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(w->why, sizeof w->why, "%s%s: %s", key ? "." : "", key ? key : "", msg);
    return -1;
}

/* Prefixes the failure's path with one more segment (".recs", "[3]"); returns -1. */
__attribute__((format(printf, 2, 3))) static int pk_wrap(pk_t *w, const char *fmt, ...)
{
    if (w->failed == PK_LIMIT) {
        va_list ap;
        va_start(ap, fmt);
        vprepend(w->why, sizeof w->why, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static void pk_raw(pk_t *w, const void *p, size_t n)
{
    if (w->failed) return;
    size_t used = w->b->len - w->start;
    if (n > WIRE_MAX_MSG - used) {
        w->failed = PK_LIMIT;
        snprintf(w->why, sizeof w->why, ": message exceeds the limit of %u bytes", WIRE_MAX_MSG);
        return;
    }
    if (buf_append(w->b, p, n) < 0) w->failed = PK_ROOM;
}

/* Ends a message: 0, or -1 with out restored (and the reason logged if it was a wire limit). */
static int pk_finish(pk_t *w, const char *what)
{
    if (!w->failed) return 0;
    if (w->failed == PK_LIMIT) log_warn("%s not encoded: %s%s", what, what, w->why);
    w->b->len = w->start;
    if (w->b->data) w->b->data[w->start] = '\0';
    return -1;
}

static void pk_be(pk_t *w, uint8_t tag, uint64_t v, unsigned bytes)
{
    uint8_t t[9];
    t[0] = tag;
    for (unsigned i = 0; i < bytes; i++) t[1 + i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
    pk_raw(w, t, 1 + bytes);
}

static void pk_uint(pk_t *w, uint64_t v)
{
    if (v < 0x80) {
        uint8_t c = (uint8_t)v;
        pk_raw(w, &c, 1);
    } else if (v <= 0xff) {
        pk_be(w, 0xcc, v, 1);
    } else if (v <= 0xffff) {
        pk_be(w, 0xcd, v, 2);
    } else if (v <= 0xffffffffu) {
        pk_be(w, 0xce, v, 4);
    } else {
        pk_be(w, 0xcf, v, 8);
    }
}

static void pk_double(pk_t *w, double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    pk_be(w, 0xcb, u, 8);
}

static void pk_bool(pk_t *w, bool b)
{
    uint8_t c = b ? 0xc3 : 0xc2;
    pk_raw(w, &c, 1);
}

static void pk_str(pk_t *w, const char *s, size_t n)
{
    if (n < 32) {
        uint8_t c = (uint8_t)(0xa0 | n);
        pk_raw(w, &c, 1);
    } else if (n <= 0xff) {
        pk_be(w, 0xd9, n, 1);
    } else if (n <= 0xffff) {
        pk_be(w, 0xda, n, 2);
    } else if (n <= 0xffffffffu) {
        pk_be(w, 0xdb, n, 4);
    } else {
        pk_raw(w, s, n);   /* over WIRE_MAX_MSG: fails with the message limit, copies nothing */
        return;
    }
    pk_raw(w, s, n);
}

static void pk_container(pk_t *w, uint8_t fix, uint8_t tag16, size_t n)
{
    if (n < 16) {
        uint8_t c = (uint8_t)(fix | n);
        pk_raw(w, &c, 1);
    } else if (n <= 0xffff) {
        pk_be(w, tag16, n, 2);
    } else {
        pk_be(w, (uint8_t)(tag16 + 1), n, 4);
    }
}

static void pk_array(pk_t *w, size_t n) { pk_container(w, 0x90, 0xdc, n); }
static void pk_map(pk_t *w, size_t n) { pk_container(w, 0x80, 0xde, n); }
static void pk_key(pk_t *w, const char *k) { pk_str(w, k, strlen(k)); }

static void pk_kuint(pk_t *w, const char *k, uint64_t v)
{
    pk_key(w, k);
    pk_uint(w, v);
}

static void pk_kbool(pk_t *w, const char *k, bool v)
{
    pk_key(w, k);
    pk_bool(w, v);
}

static int pk_kdouble(pk_t *w, const char *k, double v, int flags)
{
    const char *p = double_problem(v, flags);
    if (p) return pk_limit(w, k, "%s (got %g)", p, v);
    pk_key(w, k);
    pk_double(w, v);
    return w->failed ? -1 : 0;
}

/* Key and string; a NULL string packs nothing unless it is required. */
static int pk_kstr(pk_t *w, const char *k, const char *s, size_t cap, bool required)
{
    if (!s) return required ? pk_limit(w, k, "missing") : 0;
    size_t n = strlen(s);
    if (n > cap) return pk_limit(w, k, "string of %zu bytes exceeds the limit of %zu bytes", n, cap);
    pk_key(w, k);
    pk_str(w, s, n);
    return w->failed ? -1 : 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Reader                                                                                     */

typedef enum { K_NIL, K_BOOL, K_UINT, K_NEG, K_FLOAT, K_STR, K_BIN, K_ARRAY, K_MAP, K_EXT } kind_t;

typedef struct {
    kind_t k;
    uint64_t u;          /* K_UINT value; K_BOOL 0/1; K_STR/K_BIN/K_EXT length; K_ARRAY/K_MAP count */
    int64_t i;           /* K_NEG */
    double d;            /* K_FLOAT */
    const uint8_t *s;    /* K_STR/K_BIN/K_EXT data */
} tok_t;

typedef struct {
    const uint8_t *p, *end;
    unsigned depth;      /* containers entered */
    char *err;
    size_t errlen;
} rd_t;

static const char *kind_name(kind_t k)
{
    switch (k) {
    case K_NIL: return "nil";
    case K_BOOL: return "a boolean";
    case K_UINT: return "an integer";
    case K_NEG: return "a negative integer";
    case K_FLOAT: return "a float";
    case K_STR: return "a string";
    case K_BIN: return "binary data";
    case K_ARRAY: return "an array";
    case K_MAP: return "a map";
    case K_EXT: return "an extension value";
    }
    return "?";
}

static void rd_init(rd_t *r, const void *data, size_t len, char *err, size_t errlen)
{
    r->p = data;
    r->end = r->p + (data ? len : 0);
    r->depth = 0;
    r->err = err;
    r->errlen = errlen;
    if (err && errlen) err[0] = '\0';
}

static size_t rd_left(const rd_t *r) { return (size_t)(r->end - r->p); }

/* Sets the leaf problem (": what"); returns -1. */
__attribute__((format(printf, 2, 3))) static int rd_fail(rd_t *r, const char *fmt, ...)
{
    if (!r->err || r->errlen < 3) return -1;
    r->err[0] = ':';
    r->err[1] = ' ';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err + 2, r->errlen - 2, fmt, ap);
    va_end(ap);
    return -1;
}

/* Prefixes one path segment on the way out of a failure; returns -1. */
__attribute__((format(printf, 2, 3))) static int rd_wrap(rd_t *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprepend(r->err, r->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static int rd_be(rd_t *r, unsigned bytes, uint64_t *v)
{
    if (rd_left(r) < bytes) return rd_fail(r, "message truncated");
    uint64_t x = 0;
    for (unsigned i = 0; i < bytes; i++) x = (x << 8) | r->p[i];
    r->p += bytes;
    *v = x;
    return 0;
}

/* The data of a str/bin/ext of t->u bytes (plus `extra` bytes before it for ext's type). */
static int rd_data(rd_t *r, tok_t *t, size_t extra)
{
    size_t left = rd_left(r);
    if (left < extra || t->u > left - extra)
        return rd_fail(r, "%s of %llu bytes but only %zu bytes left", kind_name(t->k),
                       (unsigned long long)t->u, left < extra ? 0 : left - extra);
    t->s = r->p + extra;
    r->p += extra + t->u;
    return 0;
}

static int rd_count(rd_t *r, tok_t *t)
{
    size_t left = rd_left(r);
    if (t->k == K_ARRAY ? t->u > left : t->u > left / 2)
        return rd_fail(r, "%s of %llu %s but only %zu bytes left", t->k == K_ARRAY ? "array" : "map",
                       (unsigned long long)t->u, t->k == K_ARRAY ? "elements" : "entries", left);
    return 0;
}

/* Reads one token: scalars whole, str/bin/ext with their data (bounds-checked), arrays and maps
 * as a count only (checked against the bytes left). */
static int rd_tok(rd_t *r, tok_t *t)
{
    if (r->p >= r->end) return rd_fail(r, "message truncated");
    uint8_t c = *r->p++;
    uint64_t v = 0;
    memset(t, 0, sizeof *t);
    if (c <= 0x7f) {
        t->k = K_UINT;
        t->u = c;
        return 0;
    }
    if (c >= 0xe0) {
        t->k = K_NEG;
        t->i = (int8_t)c;
        return 0;
    }
    if (c <= 0x8f || (c >= 0x90 && c <= 0x9f)) {
        t->k = c <= 0x8f ? K_MAP : K_ARRAY;
        t->u = c & 0x0f;
        return rd_count(r, t);
    }
    if (c >= 0xa0 && c <= 0xbf) {
        t->k = K_STR;
        t->u = c & 0x1f;
        return rd_data(r, t, 0);
    }
    switch (c) {
    case 0xc0: t->k = K_NIL; return 0;
    case 0xc2: case 0xc3: t->k = K_BOOL; t->u = c == 0xc3; return 0;
    case 0xc4: case 0xc5: case 0xc6:
        if (rd_be(r, 1u << (c - 0xc4), &t->u) < 0) return -1;
        t->k = K_BIN;
        return rd_data(r, t, 0);
    case 0xc7: case 0xc8: case 0xc9:
        if (rd_be(r, 1u << (c - 0xc7), &t->u) < 0) return -1;
        t->k = K_EXT;
        return rd_data(r, t, 1);
    case 0xca: {
        if (rd_be(r, 4, &v) < 0) return -1;
        uint32_t u32 = (uint32_t)v;
        float f;
        memcpy(&f, &u32, sizeof f);
        t->k = K_FLOAT;
        t->d = f;
        return 0;
    }
    case 0xcb:
        if (rd_be(r, 8, &v) < 0) return -1;
        t->k = K_FLOAT;
        memcpy(&t->d, &v, sizeof t->d);
        return 0;
    case 0xcc: case 0xcd: case 0xce: case 0xcf:
        if (rd_be(r, 1u << (c - 0xcc), &t->u) < 0) return -1;
        t->k = K_UINT;
        return 0;
    case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
        unsigned bytes = 1u << (c - 0xd0);
        if (rd_be(r, bytes, &v) < 0) return -1;
        int64_t x;
        if (bytes == 1) x = (int8_t)(uint8_t)v;
        else if (bytes == 2) x = (int16_t)(uint16_t)v;
        else if (bytes == 4) x = (int32_t)(uint32_t)v;
        else x = (int64_t)v;
        if (x >= 0) {
            t->k = K_UINT;
            t->u = (uint64_t)x;
        } else {
            t->k = K_NEG;
            t->i = x;
        }
        return 0;
    }
    case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
        t->k = K_EXT;
        t->u = 1u << (c - 0xd4);
        return rd_data(r, t, 1);
    case 0xd9: case 0xda: case 0xdb:
        if (rd_be(r, 1u << (c - 0xd9), &t->u) < 0) return -1;
        t->k = K_STR;
        return rd_data(r, t, 0);
    case 0xdc: case 0xdd:
        if (rd_be(r, c == 0xdc ? 2 : 4, &t->u) < 0) return -1;
        t->k = K_ARRAY;
        return rd_count(r, t);
    case 0xde: case 0xdf:
        if (rd_be(r, c == 0xde ? 2 : 4, &t->u) < 0) return -1;
        t->k = K_MAP;
        return rd_count(r, t);
    default:
        return rd_fail(r, "invalid MessagePack byte 0x%02x", c);
    }
}

static int rd_expect(rd_t *r, tok_t *t, kind_t want)
{
    if (rd_tok(r, t) < 0) return -1;
    if (t->k != want) return rd_fail(r, "expected %s, got %s", kind_name(want), kind_name(t->k));
    return 0;
}

/* Reads an array or map head and enters it. */
static int rd_enter(rd_t *r, kind_t want, uint64_t *n)
{
    tok_t t;
    if (rd_expect(r, &t, want) < 0) return -1;
    if (r->depth >= WIRE_DEPTH) return rd_fail(r, "nested deeper than %d levels", WIRE_DEPTH);
    r->depth++;
    *n = t.u;
    return 0;
}

static void rd_leave(rd_t *r) { r->depth--; }

/* Skips one value of any kind (an unknown field), still bounded and depth-limited. */
static int rd_skip(rd_t *r)
{
    tok_t t;
    if (rd_tok(r, &t) < 0) return -1;
    if (t.k != K_ARRAY && t.k != K_MAP) return 0;
    if (r->depth >= WIRE_DEPTH) return rd_fail(r, "nested deeper than %d levels", WIRE_DEPTH);
    r->depth++;
    uint64_t items = t.k == K_MAP ? 2 * t.u : t.u;
    for (uint64_t i = 0; i < items; i++)
        if (rd_skip(r) < 0) return -1;
    r->depth--;
    return 0;
}

/* If the next value is nil, consumes it and returns true. */
static bool rd_nil(rd_t *r)
{
    if (r->p < r->end && *r->p == 0xc0) {
        r->p++;
        return true;
    }
    return false;
}

static int rd_uint(rd_t *r, uint64_t max, uint64_t *out)
{
    tok_t t;
    if (rd_tok(r, &t) < 0) return -1;
    if (t.k == K_NEG) return rd_fail(r, "negative value %lld", (long long)t.i);
    if (t.k != K_UINT) return rd_fail(r, "expected an unsigned integer, got %s", kind_name(t.k));
    if (t.u > max)
        return rd_fail(r, "%llu exceeds the maximum %llu", (unsigned long long)t.u,
                       (unsigned long long)max);
    *out = t.u;
    return 0;
}

static int rd_u32(rd_t *r, uint32_t *out)
{
    uint64_t v;
    if (rd_uint(r, UINT32_MAX, &v) < 0) return -1;
    *out = (uint32_t)v;
    return 0;
}

static int rd_bool(rd_t *r, bool *out)
{
    tok_t t;
    if (rd_expect(r, &t, K_BOOL) < 0) return -1;
    *out = t.u != 0;
    return 0;
}

/* A number: float64 on our wire; float32 and integers accepted from other encoders. */
static int rd_double(rd_t *r, int flags, double *out)
{
    tok_t t;
    if (rd_tok(r, &t) < 0) return -1;
    double d;
    if (t.k == K_FLOAT) d = t.d;
    else if (t.k == K_UINT) d = (double)t.u;
    else if (t.k == K_NEG) d = (double)t.i;
    else return rd_fail(r, "expected a number, got %s", kind_name(t.k));
    const char *p = double_problem(d, flags);
    if (p) return rd_fail(r, "%s (got %g)", p, d);
    *out = d;
    return 0;
}

/* A string of at most cap bytes without NUL: t->s (into the frame) and t->u (its length). */
static int rd_strtok(rd_t *r, size_t cap, tok_t *t)
{
    if (rd_expect(r, t, K_STR) < 0) return -1;
    if (t->u > cap)
        return rd_fail(r, "string of %llu bytes exceeds the limit of %zu bytes",
                       (unsigned long long)t->u, cap);
    const uint8_t *nul = memchr(t->s, 0, t->u);
    if (nul) return rd_fail(r, "string holds a NUL byte at offset %zu", (size_t)(nul - t->s));
    return 0;
}

/* A new string (caller owns). */
static int rd_str(rd_t *r, size_t cap, char **out)
{
    tok_t t;
    if (rd_strtok(r, cap, &t) < 0) return -1;
    *out = xstrndup((const char *)t.s, t.u);
    return 0;
}

/* A string into dst[size]. */
static int rd_str_into(rd_t *r, char *dst, size_t size)
{
    tok_t t;
    if (rd_strtok(r, size - 1, &t) < 0) return -1;
    memcpy(dst, t.s, t.u);
    dst[t.u] = '\0';
    return 0;
}

static int rd_end(rd_t *r)
{
    size_t n = rd_left(r);
    if (n) return rd_fail(r, "%zu trailing byte%s after the message", n, n == 1 ? "" : "s");
    return 0;
}

/* One map whose known keys are keys[0..nkeys) (nkeys <= 32). Calls field(r, k, obj) for each
 * known key with a non-nil value; skips unknown keys; rejects a repeated key. *present gets a bit
 * per key given a non-nil value. On failure the path names the key. */
typedef int (*field_fn)(rd_t *r, int k, void *obj);

static int rd_object(rd_t *r, const char *const *keys, int nkeys, field_fn field, void *obj,
                     uint32_t *present)
{
    uint64_t n = 0;
    if (rd_enter(r, K_MAP, &n) < 0) return -1;
    uint32_t seen = 0;
    *present = 0;
    for (uint64_t i = 0; i < n; i++) {
        tok_t kt;
        if (rd_tok(r, &kt) < 0) return -1;
        if (kt.k != K_STR) return rd_fail(r, "map key %llu is %s, not a string", (unsigned long long)i,
                                          kind_name(kt.k));
        char shown[MAX_KEY + 1];
        if (kt.u > MAX_KEY) {
            key_display(shown, sizeof shown, (const char *)kt.s, MAX_KEY);
            return rd_fail(r, "map key \"%s...\" of %llu bytes exceeds the limit of %d bytes", shown,
                           (unsigned long long)kt.u, MAX_KEY);
        }
        int k = -1;
        for (int j = 0; j < nkeys && k < 0; j++)
            if (strlen(keys[j]) == kt.u && memcmp(keys[j], kt.s, kt.u) == 0) k = j;
        if (k < 0) {
            if (rd_skip(r) == 0) continue;
            key_display(shown, sizeof shown, (const char *)kt.s, kt.u);
            return rd_wrap(r, ".%s", shown);
        }
        if (seen & (1u << k)) return rd_fail(r, "key \"%s\" appears twice", keys[k]);
        seen |= 1u << k;
        if (rd_nil(r)) continue;
        *present |= 1u << k;
        if (field(r, k, obj) < 0) return rd_wrap(r, ".%s", keys[k]);
    }
    rd_leave(r);
    return 0;
}

/* Fails naming the first required key (bit set in `required`) missing from `present`. */
static int rd_required(rd_t *r, const char *const *keys, int nkeys, uint32_t required, uint32_t present)
{
    for (int k = 0; k < nkeys; k++)
        if ((required & (1u << k)) && !(present & (1u << k))) {
            rd_fail(r, "missing");
            return rd_wrap(r, ".%s", keys[k]);
        }
    return 0;
}

static int rd_frame(rd_t *r, size_t len)
{
    if (len > WIRE_MAX_MSG) return rd_fail(r, "frame of %zu bytes exceeds the limit of %u bytes", len,
                                           WIRE_MAX_MSG);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Header: [version, type, {job, shard, lease, n, role, name, threads, hb}]                  */

enum { H_JOB, H_SHARD, H_LEASE, H_N, H_ROLE, H_NAME, H_THREADS, H_HB, H_NKEYS };
static const char *const hdr_keys[H_NKEYS] = {"job", "shard", "lease", "n", "role", "name",
                                              "threads", "hb"};

int wire_hdr_encode(const wire_hdr_t *h, buf_t *out)
{
    pk_t w;
    pk_init(&w, out);
    size_t job = strnlen(h->job_id, sizeof h->job_id - 1);
    size_t role = strnlen(h->role, sizeof h->role - 1);
    size_t name = strnlen(h->name, sizeof h->name - 1);
    size_t n = (job > 0) + (h->shard_id != 0) + (h->lease != 0) + (h->n != 0) + (role > 0) +
               (name > 0) + (h->threads != 0) + (h->heartbeat_ms != 0);
    pk_array(&w, 3);
    pk_uint(&w, WIRE_VERSION);
    pk_uint(&w, (uint64_t)h->type);
    pk_map(&w, n);
    if (job) {
        pk_key(&w, "job");
        pk_str(&w, h->job_id, job);
    }
    if (h->shard_id) pk_kuint(&w, "shard", h->shard_id);
    if (h->lease) pk_kuint(&w, "lease", h->lease);
    if (h->n) pk_kuint(&w, "n", h->n);
    if (role) {
        pk_key(&w, "role");
        pk_str(&w, h->role, role);
    }
    if (name) {
        pk_key(&w, "name");
        pk_str(&w, h->name, name);
    }
    if (h->threads) pk_kuint(&w, "threads", h->threads);
    if (h->heartbeat_ms) pk_kuint(&w, "hb", h->heartbeat_ms);
    return pk_finish(&w, "header");
}

static int hdr_field(rd_t *r, int k, void *obj)
{
    wire_hdr_t *h = obj;
    switch (k) {
    case H_JOB: return rd_str_into(r, h->job_id, sizeof h->job_id);
    case H_SHARD: return rd_uint(r, UINT64_MAX, &h->shard_id);
    case H_LEASE: return rd_uint(r, UINT64_MAX, &h->lease);
    case H_N: return rd_u32(r, &h->n);
    case H_ROLE: return rd_str_into(r, h->role, sizeof h->role);
    case H_NAME: return rd_str_into(r, h->name, sizeof h->name);
    case H_THREADS: return rd_u32(r, &h->threads);
    case H_HB: return rd_u32(r, &h->heartbeat_ms);
    }
    return 0;
}

/* What each type needs beyond well-formed fields (protocol.md, "Messages"). */
static int hdr_check(rd_t *r, const wire_hdr_t *h)
{
    const char *t = wire_type_name(h->type);
    switch (h->type) {
    case WIRE_HELLO:
        if (strcmp(h->role, "worker") != 0 && strcmp(h->role, "scheduler") != 0) {
            char shown[sizeof h->role];
            key_display(shown, sizeof shown, h->role, strlen(h->role));
            return rd_fail(r, "HELLO role \"%s\" is not \"worker\" or \"scheduler\"", shown);
        }
        break;
    case WIRE_WELCOME:
        if (h->heartbeat_ms == 0) return rd_fail(r, "WELCOME without a heartbeat interval (hb)");
        break;
    case WIRE_CREDIT:
        if (h->n == 0) return rd_fail(r, "CREDIT of 0 shards");
        break;
    case WIRE_SHARD:
    case WIRE_RESULT:
    case WIRE_SHARD_DONE:
        if (h->lease == 0) return rd_fail(r, "%s without a lease", t);
        /* fall through */
    case WIRE_SUBMIT:
    case WIRE_CANCEL:
        if (!h->job_id[0]) return rd_fail(r, "%s without a job id", t);
        break;
    case WIRE_RETURN:
        /* A shard handed back names its job and lease; "no more work" names neither. */
        if (h->job_id[0] && h->lease == 0) return rd_fail(r, "RETURN of a shard without a lease");
        if (!h->job_id[0] && h->lease != 0) return rd_fail(r, "RETURN of a lease without a job id");
        break;
    default:
        break;
    }
    return 0;
}

static int hdr_read(rd_t *r, wire_hdr_t *h)
{
    uint64_t n = 0, v = 0;
    if (rd_enter(r, K_ARRAY, &n) < 0) return -1;
    if (n == 0) return rd_fail(r, "expected [version, type, fields], got an empty array");
    if (rd_uint(r, UINT64_MAX, &v) < 0) return rd_wrap(r, ".version");
    if (v != WIRE_VERSION)
        return rd_fail(r, "protocol version %llu, this peer speaks %d", (unsigned long long)v,
                       WIRE_VERSION);
    if (n != 3) return rd_fail(r, "expected [version, type, fields], got an array of %llu",
                               (unsigned long long)n);
    if (rd_uint(r, UINT64_MAX, &v) < 0) return rd_wrap(r, ".type");
    if (v == 0 || v >= WIRE_TYPE_MAX)
        return rd_fail(r, "unknown message type %llu", (unsigned long long)v);
    h->type = (wire_type_t)v;
    uint32_t present;
    if (rd_object(r, hdr_keys, H_NKEYS, hdr_field, h, &present) < 0) return -1;
    rd_leave(r);
    if (rd_end(r) < 0) return -1;
    return hdr_check(r, h);
}

int wire_hdr_decode(const void *data, size_t len, wire_hdr_t *h, char *err, size_t errlen)
{
    rd_t r;
    rd_init(&r, data, len, err, errlen);
    wire_hdr_t tmp;
    memset(&tmp, 0, sizeof tmp);
    if (rd_frame(&r, len) < 0 || hdr_read(&r, &tmp) < 0) {
        rd_wrap(&r, "header");
        memset(h, 0, sizeof *h);
        return -1;
    }
    *h = tmp;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Shard: {spec, recs: [record]}; record: {idx, id, prompt, ref, ctx, cat, resps: [{text, model}]} */

enum { S_SPEC, S_RECS, S_NKEYS };
static const char *const shard_keys[S_NKEYS] = {"spec", "recs"};
enum { R_IDX, R_ID, R_PROMPT, R_REF, R_CTX, R_CAT, R_RESPS, R_NKEYS };
static const char *const rec_keys[R_NKEYS] = {"idx", "id", "prompt", "ref", "ctx", "cat", "resps"};
enum { P_TEXT, P_MODEL, P_NKEYS };
static const char *const resp_keys[P_NKEYS] = {"text", "model"};

static int pk_response(pk_t *w, const record_response_t *p)
{
    pk_map(w, 1 + (p->model_identifier != NULL));
    if (pk_kstr(w, "text", p->response, MAX_TEXT, true) < 0) return -1;
    return pk_kstr(w, "model", p->model_identifier, MAX_TEXT, false);
}

static int pk_record(pk_t *w, const record_t *rec)
{
    if (rec->n_responses > MAX_RESPONSES)
        return pk_limit(w, "resps", "%zu responses exceed the limit of %u", rec->n_responses,
                        MAX_RESPONSES);
    if (rec->n_responses && !rec->responses) return pk_limit(w, "resps", "missing");
    pk_map(w, 2 + (rec->id != NULL) + (rec->reference != NULL) + (rec->context != NULL) +
                  (rec->category != NULL) + (rec->n_responses > 0));
    pk_kuint(w, "idx", rec->index);
    if (pk_kstr(w, "id", rec->id, MAX_TEXT, false) < 0 ||
        pk_kstr(w, "prompt", rec->prompt, MAX_TEXT, true) < 0 ||
        pk_kstr(w, "ref", rec->reference, MAX_TEXT, false) < 0 ||
        pk_kstr(w, "ctx", rec->context, MAX_TEXT, false) < 0 ||
        pk_kstr(w, "cat", rec->category, MAX_TEXT, false) < 0)
        return -1;
    if (rec->n_responses) {
        pk_key(w, "resps");
        pk_array(w, rec->n_responses);
        for (size_t j = 0; j < rec->n_responses; j++)
            if (pk_response(w, &rec->responses[j]) < 0) {
                pk_wrap(w, "[%zu]", j);
                return pk_wrap(w, ".resps");
            }
    }
    return w->failed ? -1 : 0;
}

int wire_shard_encode(const char *spec_json, const record_t *records, size_t n, buf_t *out)
{
    pk_t w;
    pk_init(&w, out);
    if (n > MAX_RECORDS) {
        pk_limit(&w, "recs", "%zu records exceed the limit of %u", n, MAX_RECORDS);
    } else if (n && !records) {
        pk_limit(&w, "recs", "missing");
    } else {
        pk_map(&w, 2);
        if (pk_kstr(&w, "spec", spec_json, MAX_SPEC, true) == 0) {
            pk_key(&w, "recs");
            pk_array(&w, n);
            for (size_t i = 0; i < n && !w.failed; i++)
                if (pk_record(&w, &records[i]) < 0) {
                    pk_wrap(&w, "[%zu]", i);
                    pk_wrap(&w, ".recs");
                }
        }
    }
    return pk_finish(&w, "shard");
}

static int resp_field(rd_t *r, int k, void *obj)
{
    record_response_t *p = obj;
    if (k == P_TEXT) return rd_str(r, MAX_TEXT, &p->response);
    return rd_str(r, MAX_TEXT, &p->model_identifier);
}

/* An array of at most `max` objects of `size` bytes, each read with `field` and required to have
 * the keys in `required`. The array goes to *arr and *count follows every element started, so
 * the caller's clear frees a partly read array as well: the caller stores *arr even on failure. */
static int rd_objects(rd_t *r, uint64_t max, const char *what, size_t size, const char *const *keys, int nkeys,
                      field_fn field, uint32_t required, void **arr, size_t *count)
{
    uint64_t n = 0;
    if (rd_enter(r, K_ARRAY, &n) < 0) return -1;
    if (n > max)
        return rd_fail(r, "%llu %s exceed the limit of %llu", (unsigned long long)n, what, (unsigned long long)max);
    if (n) *arr = xcalloc(n, size);
    for (uint64_t i = 0; i < n; i++) {
        *count = i + 1;
        uint32_t present;
        if (rd_object(r, keys, nkeys, field, (char *)*arr + i * size, &present) < 0 ||
            rd_required(r, keys, nkeys, required, present) < 0)
            return rd_wrap(r, "[%llu]", (unsigned long long)i);
    }
    rd_leave(r);
    return 0;
}

static int rd_responses(rd_t *r, record_t *rec)
{
    void *arr = NULL;
    int rc = rd_objects(r, MAX_RESPONSES, "responses", sizeof *rec->responses, resp_keys, P_NKEYS, resp_field,
                        1u << P_TEXT, &arr, &rec->n_responses);
    rec->responses = arr;
    return rc;
}

static int rec_field(rd_t *r, int k, void *obj)
{
    record_t *rec = obj;
    switch (k) {
    case R_IDX: return rd_uint(r, UINT64_MAX, &rec->index);
    case R_ID: return rd_str(r, MAX_TEXT, &rec->id);
    case R_PROMPT: return rd_str(r, MAX_TEXT, &rec->prompt);
    case R_REF: return rd_str(r, MAX_TEXT, &rec->reference);
    case R_CTX: return rd_str(r, MAX_TEXT, &rec->context);
    case R_CAT: return rd_str(r, MAX_TEXT, &rec->category);
    case R_RESPS: return rd_responses(r, rec);
    }
    return 0;
}

static int rd_records(rd_t *r, wire_shard_t *s)
{
    void *arr = NULL;
    int rc = rd_objects(r, MAX_RECORDS, "records", sizeof *s->records, rec_keys, R_NKEYS, rec_field, 1u << R_PROMPT,
                        &arr, &s->n_records);
    s->records = arr;
    return rc;
}

static int shard_field(rd_t *r, int k, void *obj)
{
    wire_shard_t *s = obj;
    if (k == S_SPEC) return rd_str(r, MAX_SPEC, &s->spec_json);
    return rd_records(r, s);
}

int wire_shard_decode(const void *data, size_t len, wire_shard_t *out, char *err, size_t errlen)
{
    rd_t r;
    rd_init(&r, data, len, err, errlen);
    wire_shard_t s = {0};
    uint32_t present = 0;
    if (rd_frame(&r, len) < 0 || rd_object(&r, shard_keys, S_NKEYS, shard_field, &s, &present) < 0 ||
        rd_required(&r, shard_keys, S_NKEYS, (1u << S_SPEC) | (1u << S_RECS), present) < 0 ||
        rd_end(&r) < 0) {
        rd_wrap(&r, "shard");
        wire_shard_clear(&s);
        memset(out, 0, sizeof *out);
        return -1;
    }
    *out = s;
    return 0;
}

void wire_shard_clear(wire_shard_t *s)
{
    if (!s) return;
    free(s->spec_json);
    for (size_t i = 0; i < s->n_records; i++) record_clear(&s->records[i]);
    free(s->records);
    memset(s, 0, sizeof *s);
}

/* ------------------------------------------------------------------------------------------ */
/* Result: {job, shard, idx, target, model, resp, from_ds, err, in_tok, out_tok, lat_ms, scores}
 * score:  {metric, status, rating, has_score, score, norm, expl, err, in_tok, out_tok, attempts} */

enum { T_JOB, T_SHARD, T_IDX, T_TARGET, T_MODEL, T_RESP, T_FROM_DS, T_ERR, T_IN, T_OUT, T_LAT,
       T_SCORES, T_NKEYS };
static const char *const result_keys[T_NKEYS] = {"job", "shard", "idx", "target", "model", "resp",
                                                 "from_ds", "err", "in_tok", "out_tok", "lat_ms",
                                                 "scores"};
enum { C_METRIC, C_STATUS, C_RATING, C_HAS, C_SCORE, C_NORM, C_EXPL, C_ERR, C_IN, C_OUT, C_ATT,
       C_NKEYS };
static const char *const score_keys[C_NKEYS] = {"metric", "status", "rating", "has_score", "score",
                                                "norm", "expl", "err", "in_tok", "out_tok",
                                                "attempts"};

static int pk_score(pk_t *w, const score_t *s)
{
    if ((int)s->status < SCORE_OK || s->status > SCORE_ERROR)
        return pk_limit(w, "status", "unknown status %d", (int)s->status);
    pk_map(w, 8 + (s->rating != NULL) + (s->explanation != NULL) + (s->error != NULL));
    if (pk_kstr(w, "metric", s->metric, MAX_METRIC, true) < 0) return -1;
    pk_kuint(w, "status", (uint64_t)s->status);
    if (pk_kstr(w, "rating", s->rating, MAX_LABEL, false) < 0) return -1;
    pk_kbool(w, "has_score", s->has_score);
    if (pk_kdouble(w, "score", s->score, DBL_ANY) < 0 ||
        pk_kdouble(w, "norm", s->normalized, DBL_ANY) < 0 ||
        pk_kstr(w, "expl", s->explanation, MAX_TEXT, false) < 0 ||
        pk_kstr(w, "err", s->error, MAX_TEXT, false) < 0)
        return -1;
    pk_kuint(w, "in_tok", s->usage.input_tokens);
    pk_kuint(w, "out_tok", s->usage.output_tokens);
    pk_kuint(w, "attempts", s->attempts);
    return w->failed ? -1 : 0;
}

static int pk_result(pk_t *w, const result_t *r)
{
    if ((int)r->target != TARGET_CUSTOM && r->target != TARGET_BASE)
        return pk_limit(w, "target", "unknown target %d", (int)r->target);
    if (r->n_scores > MAX_SCORES)
        return pk_limit(w, "scores", "%zu scores exceed the limit of %u", r->n_scores, MAX_SCORES);
    if (r->n_scores && !r->scores) return pk_limit(w, "scores", "missing");
    pk_map(w, 9 + (r->model != NULL) + (r->response != NULL) + (r->error != NULL));
    if (pk_kstr(w, "job", r->job_id, WIRE_MAX_ID - 1, true) < 0) return -1;
    pk_kuint(w, "shard", r->shard_id);
    pk_kuint(w, "idx", r->record_index);
    pk_kuint(w, "target", (uint64_t)r->target);
    if (pk_kstr(w, "model", r->model, MAX_LABEL, false) < 0 ||
        pk_kstr(w, "resp", r->response, MAX_TEXT, false) < 0)
        return -1;
    pk_kbool(w, "from_ds", r->response_from_dataset);
    if (pk_kstr(w, "err", r->error, MAX_TEXT, false) < 0) return -1;
    pk_kuint(w, "in_tok", r->usage.input_tokens);
    pk_kuint(w, "out_tok", r->usage.output_tokens);
    if (pk_kdouble(w, "lat_ms", r->latency_ms, DBL_NONNEG) < 0) return -1;
    pk_key(w, "scores");
    pk_array(w, r->n_scores);
    for (size_t i = 0; i < r->n_scores; i++)
        if (pk_score(w, &r->scores[i]) < 0) {
            pk_wrap(w, "[%zu]", i);
            return pk_wrap(w, ".scores");
        }
    return w->failed ? -1 : 0;
}

int wire_result_encode(const result_t *r, buf_t *out)
{
    pk_t w;
    pk_init(&w, out);
    pk_result(&w, r);   /* a failure is left in w for pk_finish */
    return pk_finish(&w, "result");
}

static int score_field(rd_t *r, int k, void *obj)
{
    score_t *s = obj;
    uint64_t v;
    switch (k) {
    case C_METRIC: return rd_str(r, MAX_METRIC, &s->metric);
    case C_STATUS:
        if (rd_uint(r, UINT64_MAX, &v) < 0) return -1;
        if (v > SCORE_ERROR)
            return rd_fail(r, "unknown status %llu (0 ok, 1 unscored, 2 not_applicable, 3 error)",
                           (unsigned long long)v);
        s->status = (score_status_t)v;
        return 0;
    case C_RATING: return rd_str(r, MAX_LABEL, &s->rating);
    case C_HAS: return rd_bool(r, &s->has_score);
    case C_SCORE: return rd_double(r, DBL_ANY, &s->score);
    case C_NORM: return rd_double(r, DBL_ANY, &s->normalized);
    case C_EXPL: return rd_str(r, MAX_TEXT, &s->explanation);
    case C_ERR: return rd_str(r, MAX_TEXT, &s->error);
    case C_IN: return rd_uint(r, UINT64_MAX, &s->usage.input_tokens);
    case C_OUT: return rd_uint(r, UINT64_MAX, &s->usage.output_tokens);
    case C_ATT: return rd_u32(r, &s->attempts);
    }
    return 0;
}

static int rd_scores(rd_t *r, result_t *res)
{
    void *arr = NULL;
    int rc = rd_objects(r, MAX_SCORES, "scores", sizeof *res->scores, score_keys, C_NKEYS, score_field,
                        1u << C_METRIC, &arr, &res->n_scores);
    res->scores = arr;
    return rc;
}

static int result_field(rd_t *r, int k, void *obj)
{
    result_t *res = obj;
    uint64_t v;
    switch (k) {
    case T_JOB: return rd_str(r, WIRE_MAX_ID - 1, &res->job_id);
    case T_SHARD: return rd_uint(r, UINT64_MAX, &res->shard_id);
    case T_IDX: return rd_uint(r, UINT64_MAX, &res->record_index);
    case T_TARGET:
        if (rd_uint(r, UINT64_MAX, &v) < 0) return -1;
        if (v > TARGET_BASE)
            return rd_fail(r, "unknown target %llu (0 custom, 1 base)", (unsigned long long)v);
        res->target = (target_t)v;
        return 0;
    case T_MODEL: return rd_str(r, MAX_LABEL, &res->model);
    case T_RESP: return rd_str(r, MAX_TEXT, &res->response);
    case T_FROM_DS: return rd_bool(r, &res->response_from_dataset);
    case T_ERR: return rd_str(r, MAX_TEXT, &res->error);
    case T_IN: return rd_uint(r, UINT64_MAX, &res->usage.input_tokens);
    case T_OUT: return rd_uint(r, UINT64_MAX, &res->usage.output_tokens);
    case T_LAT: return rd_double(r, DBL_NONNEG, &res->latency_ms);
    case T_SCORES: return rd_scores(r, res);
    }
    return 0;
}

int wire_result_decode(const void *data, size_t len, result_t *out, char *err, size_t errlen)
{
    rd_t r;
    rd_init(&r, data, len, err, errlen);
    result_t res;
    memset(&res, 0, sizeof res);
    uint32_t present = 0;
    if (rd_frame(&r, len) < 0 ||
        rd_object(&r, result_keys, T_NKEYS, result_field, &res, &present) < 0 ||
        rd_required(&r, result_keys, T_NKEYS, 1u << T_JOB, present) < 0 || rd_end(&r) < 0) {
        rd_wrap(&r, "result");
        result_clear(&res);
        memset(out, 0, sizeof *out);
        return -1;
    }
    *out = res;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Rate table: [{key, rpm, tpm, demand, max_conc, used_req, used_tok}]                        */

enum { A_KEY, A_RPM, A_TPM, A_DEMAND, A_MAXC, A_UREQ, A_UTOK, A_NKEYS };
static const char *const rate_keys[A_NKEYS] = {"key", "rpm", "tpm", "demand", "max_conc",
                                               "used_req", "used_tok"};

int wire_rates_encode(const wire_rate_t *rows, size_t n, buf_t *out)
{
    pk_t w;
    pk_init(&w, out);
    if (n > MAX_RATES) {
        pk_limit(&w, NULL, "%zu rows exceed the limit of %u", n, MAX_RATES);
    } else if (n && !rows) {
        pk_limit(&w, NULL, "rows missing");
    } else {
        pk_array(&w, n);
        for (size_t i = 0; i < n && !w.failed; i++) {
            const wire_rate_t *a = &rows[i];
            pk_map(&w, A_NKEYS);
            if (pk_kstr(&w, "key", a->key, MAX_LABEL, true) < 0 ||
                pk_kdouble(&w, "rpm", a->rpm, DBL_NONNEG) < 0 ||
                pk_kdouble(&w, "tpm", a->tpm, DBL_NONNEG) < 0) {
                pk_wrap(&w, "[%zu]", i);
                break;
            }
            pk_kuint(&w, "demand", a->demand);
            pk_kuint(&w, "max_conc", a->max_concurrency);
            pk_kuint(&w, "used_req", a->used_requests);
            pk_kuint(&w, "used_tok", a->used_tokens);
        }
    }
    return pk_finish(&w, "rates");
}

static int rate_field(rd_t *r, int k, void *obj)
{
    wire_rate_t *a = obj;
    switch (k) {
    case A_KEY: return rd_str(r, MAX_LABEL, &a->key);
    case A_RPM: return rd_double(r, DBL_NONNEG, &a->rpm);
    case A_TPM: return rd_double(r, DBL_NONNEG, &a->tpm);
    case A_DEMAND: return rd_u32(r, &a->demand);
    case A_MAXC: return rd_u32(r, &a->max_concurrency);
    case A_UREQ: return rd_uint(r, UINT64_MAX, &a->used_requests);
    case A_UTOK: return rd_uint(r, UINT64_MAX, &a->used_tokens);
    }
    return 0;
}

static int rd_rates(rd_t *r, wire_rate_t **rows, size_t *nrows)
{
    void *arr = NULL;
    int rc = rd_objects(r, MAX_RATES, "rows", sizeof **rows, rate_keys, A_NKEYS, rate_field, 1u << A_KEY, &arr,
                        nrows);
    *rows = arr;
    return rc;
}

int wire_rates_decode(const void *data, size_t len, wire_rate_t **rows, size_t *n, char *err,
                      size_t errlen)
{
    rd_t r;
    rd_init(&r, data, len, err, errlen);
    wire_rate_t *got = NULL;
    size_t ngot = 0;
    if (rd_frame(&r, len) < 0 || rd_rates(&r, &got, &ngot) < 0 || rd_end(&r) < 0) {
        rd_wrap(&r, "rates");
        wire_rates_free(got, ngot);
        *rows = NULL;
        *n = 0;
        return -1;
    }
    *rows = got;
    *n = ngot;
    return 0;
}

void wire_rates_free(wire_rate_t *rows, size_t n)
{
    if (!rows) return;
    for (size_t i = 0; i < n; i++) free(rows[i].key);
    free(rows);
}
