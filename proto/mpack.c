/* mpack: the bounded MessagePack codec of protocol v1; see mpack.h.
 *
 * Owns: MessagePack tokens, their bounds and the failing field's path. Does not own any message's
 * layout (wire.c does) or any socket.
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
#include "mpack.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mem.h"
#include "wire.h"

/* Inserts the formatted text in front of the NUL-terminated message in buf[size], truncating
 * the tail if it no longer fits. Used to build field paths from the leaf outwards. */
__attribute__((format(printf, 3, 0))) static void mpack_vprepend(char *buf, size_t size, const char *fmt, va_list ap)
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
void mpack_key_display(char *dst, size_t size, const char *k, size_t n)
{
    size_t i = 0;
    for (; i < n && i + 1 < size; i++) dst[i] = (k[i] >= 0x20 && k[i] < 0x7f) ? k[i] : '?';
    dst[i] = '\0';
}

static const char *mpack_double_problem(double d, int flags)
{
    if (isnan(d)) return "NaN is not a number";
    if (isinf(d)) return "infinite values are not allowed";
    if ((flags & MPACK_DBL_NONNEG) && d < 0) return "negative values are not allowed";
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Packer                                                                                     */

void mpack_w_init(mpack_w_t *w, buf_t *b)
{
    w->b = b;
    w->start = b->len;
    w->failed = MPACK_W_OK;
    w->why[0] = '\0';
}

__attribute__((format(printf, 3, 4))) int mpack_w_limit(mpack_w_t *w, const char *key, const char *fmt, ...)
{
    if (w->failed) return -1;
    w->failed = MPACK_W_LIMIT;
    char msg[192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(w->why, sizeof w->why, "%s%s: %s", key ? "." : "", key ? key : "", msg);
    return -1;
}

/* Prefixes the failure's path with one more segment (".recs", "[3]"); returns -1. */
__attribute__((format(printf, 2, 3))) int mpack_w_wrap(mpack_w_t *w, const char *fmt, ...)
{
    if (w->failed == MPACK_W_LIMIT) {
        va_list ap;
        va_start(ap, fmt);
        mpack_vprepend(w->why, sizeof w->why, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static void mpack_w_raw(mpack_w_t *w, const void *p, size_t n)
{
    if (w->failed) return;
    size_t used = w->b->len - w->start;
    if (n > WIRE_MAX_MSG - used) {
        w->failed = MPACK_W_LIMIT;
        snprintf(w->why, sizeof w->why, ": message exceeds the limit of %u bytes", WIRE_MAX_MSG);
        return;
    }
    if (buf_append(w->b, p, n) < 0) w->failed = MPACK_W_ROOM;
}

/* Ends a message: 0, or -1 with out restored (and the reason logged if it was a wire limit). */
int mpack_w_finish(mpack_w_t *w, const char *what)
{
    if (!w->failed) return 0;
    if (w->failed == MPACK_W_LIMIT) log_warn("%s not encoded: %s%s", what, what, w->why);
    w->b->len = w->start;
    if (w->b->data) w->b->data[w->start] = '\0';
    return -1;
}

static void mpack_w_be(mpack_w_t *w, uint8_t tag, uint64_t v, unsigned bytes)
{
    uint8_t t[9];
    t[0] = tag;
    for (unsigned i = 0; i < bytes; i++) t[1 + i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
    mpack_w_raw(w, t, 1 + bytes);
}

void mpack_w_uint(mpack_w_t *w, uint64_t v)
{
    if (v < 0x80) {
        uint8_t c = (uint8_t)v;
        mpack_w_raw(w, &c, 1);
    } else if (v <= 0xff) {
        mpack_w_be(w, 0xcc, v, 1);
    } else if (v <= 0xffff) {
        mpack_w_be(w, 0xcd, v, 2);
    } else if (v <= 0xffffffffu) {
        mpack_w_be(w, 0xce, v, 4);
    } else {
        mpack_w_be(w, 0xcf, v, 8);
    }
}

static void mpack_w_double(mpack_w_t *w, double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    mpack_w_be(w, 0xcb, u, 8);
}

static void mpack_w_bool(mpack_w_t *w, bool b)
{
    uint8_t c = b ? 0xc3 : 0xc2;
    mpack_w_raw(w, &c, 1);
}

void mpack_w_str(mpack_w_t *w, const char *s, size_t n)
{
    if (n < 32) {
        uint8_t c = (uint8_t)(0xa0 | n);
        mpack_w_raw(w, &c, 1);
    } else if (n <= 0xff) {
        mpack_w_be(w, 0xd9, n, 1);
    } else if (n <= 0xffff) {
        mpack_w_be(w, 0xda, n, 2);
    } else if (n <= 0xffffffffu) {
        mpack_w_be(w, 0xdb, n, 4);
    } else {
        mpack_w_raw(w, s, n); /* over WIRE_MAX_MSG: fails with the message limit, copies nothing */
        return;
    }
    mpack_w_raw(w, s, n);
}

static void mpack_w_container(mpack_w_t *w, uint8_t fix, uint8_t tag16, size_t n)
{
    if (n < 16) {
        uint8_t c = (uint8_t)(fix | n);
        mpack_w_raw(w, &c, 1);
    } else if (n <= 0xffff) {
        mpack_w_be(w, tag16, n, 2);
    } else {
        mpack_w_be(w, (uint8_t)(tag16 + 1), n, 4);
    }
}

void mpack_w_array(mpack_w_t *w, size_t n) { mpack_w_container(w, 0x90, 0xdc, n); }
void mpack_w_map(mpack_w_t *w, size_t n) { mpack_w_container(w, 0x80, 0xde, n); }
void mpack_w_key(mpack_w_t *w, const char *k) { mpack_w_str(w, k, strlen(k)); }

void mpack_w_kuint(mpack_w_t *w, const char *k, uint64_t v)
{
    mpack_w_key(w, k);
    mpack_w_uint(w, v);
}

void mpack_w_kbool(mpack_w_t *w, const char *k, bool v)
{
    mpack_w_key(w, k);
    mpack_w_bool(w, v);
}

int mpack_w_kdouble(mpack_w_t *w, const char *k, double v, int flags)
{
    const char *p = mpack_double_problem(v, flags);
    if (p) return mpack_w_limit(w, k, "%s (got %g)", p, v);
    mpack_w_key(w, k);
    mpack_w_double(w, v);
    return w->failed ? -1 : 0;
}

/* Key and string; a NULL string packs nothing unless it is required. */
int mpack_w_kstr(mpack_w_t *w, const char *k, const char *s, size_t cap, bool required)
{
    if (!s) return required ? mpack_w_limit(w, k, "missing") : 0;
    size_t n = strlen(s);
    if (n > cap) return mpack_w_limit(w, k, "string of %zu bytes exceeds the limit of %zu bytes", n, cap);
    mpack_w_key(w, k);
    mpack_w_str(w, s, n);
    return w->failed ? -1 : 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Reader                                                                                     */

/* One token: what mpack_r_tok read. */
typedef struct {
    mpack_kind_t k;
    uint64_t u;       /* UINT value; BOOL 0/1; STR/BIN/EXT length; ARRAY/MAP count */
    int64_t i;        /* NEG */
    double d;         /* FLOAT */
    const uint8_t *s; /* STR/BIN/EXT data (inside the frame) */
} mpack_tok_t;

static const char *mpack_kind_name(mpack_kind_t k)
{
    switch (k) {
    case MPACK_NIL: return "nil";
    case MPACK_BOOL: return "a boolean";
    case MPACK_UINT: return "an integer";
    case MPACK_NEG: return "a negative integer";
    case MPACK_FLOAT: return "a float";
    case MPACK_STR: return "a string";
    case MPACK_BIN: return "binary data";
    case MPACK_ARRAY: return "an array";
    case MPACK_MAP: return "a map";
    case MPACK_EXT: return "an extension value";
    }
    return "?";
}

void mpack_r_init(mpack_r_t *r, const void *data, size_t len, char *err, size_t errlen)
{
    r->p = data;
    r->end = r->p + (data ? len : 0);
    r->depth = 0;
    r->err = err;
    r->errlen = errlen;
    if (err && errlen) err[0] = '\0';
}

static size_t mpack_r_left(const mpack_r_t *r) { return (size_t)(r->end - r->p); }

/* Sets the leaf problem (": what"); returns -1. */
__attribute__((format(printf, 2, 3))) int mpack_r_fail(mpack_r_t *r, const char *fmt, ...)
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
__attribute__((format(printf, 2, 3))) int mpack_r_wrap(mpack_r_t *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mpack_vprepend(r->err, r->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static int mpack_r_be(mpack_r_t *r, unsigned bytes, uint64_t *v)
{
    if (mpack_r_left(r) < bytes) return mpack_r_fail(r, "message truncated");
    uint64_t x = 0;
    for (unsigned i = 0; i < bytes; i++) x = (x << 8) | r->p[i];
    r->p += bytes;
    *v = x;
    return 0;
}

/* The data of a str/bin/ext of t->u bytes (plus `extra` bytes before it for ext's type). */
static int mpack_r_data(mpack_r_t *r, mpack_tok_t *t, size_t extra)
{
    size_t left = mpack_r_left(r);
    if (left < extra || t->u > left - extra)
        return mpack_r_fail(r, "%s of %llu bytes but only %zu bytes left", mpack_kind_name(t->k),
                            (unsigned long long)t->u, left < extra ? 0 : left - extra);
    t->s = r->p + extra;
    r->p += extra + t->u;
    return 0;
}

static int mpack_r_count(mpack_r_t *r, mpack_tok_t *t)
{
    size_t left = mpack_r_left(r);
    if (t->k == MPACK_ARRAY ? t->u > left : t->u > left / 2)
        return mpack_r_fail(r, "%s of %llu %s but only %zu bytes left", t->k == MPACK_ARRAY ? "array" : "map",
                            (unsigned long long)t->u, t->k == MPACK_ARRAY ? "elements" : "entries", left);
    return 0;
}

/* Reads one token: scalars whole, str/bin/ext with their data (bounds-checked), arrays and maps
 * as a count only (checked against the bytes left). */
static int mpack_r_tok(mpack_r_t *r, mpack_tok_t *t)
{
    if (r->p >= r->end) return mpack_r_fail(r, "message truncated");
    uint8_t c = *r->p++;
    uint64_t v = 0;
    memset(t, 0, sizeof *t);
    if (c <= 0x7f) {
        t->k = MPACK_UINT;
        t->u = c;
        return 0;
    }
    if (c >= 0xe0) {
        t->k = MPACK_NEG;
        t->i = (int8_t)c;
        return 0;
    }
    if (c <= 0x8f || (c >= 0x90 && c <= 0x9f)) {
        t->k = c <= 0x8f ? MPACK_MAP : MPACK_ARRAY;
        t->u = c & 0x0f;
        return mpack_r_count(r, t);
    }
    if (c >= 0xa0 && c <= 0xbf) {
        t->k = MPACK_STR;
        t->u = c & 0x1f;
        return mpack_r_data(r, t, 0);
    }
    switch (c) {
    case 0xc0: t->k = MPACK_NIL; return 0;
    case 0xc2:
    case 0xc3:
        t->k = MPACK_BOOL;
        t->u = c == 0xc3;
        return 0;
    case 0xc4:
    case 0xc5:
    case 0xc6:
        if (mpack_r_be(r, 1u << (c - 0xc4), &t->u) < 0) return -1;
        t->k = MPACK_BIN;
        return mpack_r_data(r, t, 0);
    case 0xc7:
    case 0xc8:
    case 0xc9:
        if (mpack_r_be(r, 1u << (c - 0xc7), &t->u) < 0) return -1;
        t->k = MPACK_EXT;
        return mpack_r_data(r, t, 1);
    case 0xca: {
        if (mpack_r_be(r, 4, &v) < 0) return -1;
        uint32_t u32 = (uint32_t)v;
        float f;
        memcpy(&f, &u32, sizeof f);
        t->k = MPACK_FLOAT;
        t->d = f;
        return 0;
    }
    case 0xcb:
        if (mpack_r_be(r, 8, &v) < 0) return -1;
        t->k = MPACK_FLOAT;
        memcpy(&t->d, &v, sizeof t->d);
        return 0;
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf:
        if (mpack_r_be(r, 1u << (c - 0xcc), &t->u) < 0) return -1;
        t->k = MPACK_UINT;
        return 0;
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: {
        unsigned bytes = 1u << (c - 0xd0);
        if (mpack_r_be(r, bytes, &v) < 0) return -1;
        int64_t x;
        if (bytes == 1) x = (int8_t)(uint8_t)v;
        else if (bytes == 2) x = (int16_t)(uint16_t)v;
        else if (bytes == 4) x = (int32_t)(uint32_t)v;
        else x = (int64_t)v;
        if (x >= 0) {
            t->k = MPACK_UINT;
            t->u = (uint64_t)x;
        } else {
            t->k = MPACK_NEG;
            t->i = x;
        }
        return 0;
    }
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
        t->k = MPACK_EXT;
        t->u = 1u << (c - 0xd4);
        return mpack_r_data(r, t, 1);
    case 0xd9:
    case 0xda:
    case 0xdb:
        if (mpack_r_be(r, 1u << (c - 0xd9), &t->u) < 0) return -1;
        t->k = MPACK_STR;
        return mpack_r_data(r, t, 0);
    case 0xdc:
    case 0xdd:
        if (mpack_r_be(r, c == 0xdc ? 2 : 4, &t->u) < 0) return -1;
        t->k = MPACK_ARRAY;
        return mpack_r_count(r, t);
    case 0xde:
    case 0xdf:
        if (mpack_r_be(r, c == 0xde ? 2 : 4, &t->u) < 0) return -1;
        t->k = MPACK_MAP;
        return mpack_r_count(r, t);
    default: return mpack_r_fail(r, "invalid MessagePack byte 0x%02x", c);
    }
}

static int mpack_r_expect(mpack_r_t *r, mpack_tok_t *t, mpack_kind_t want)
{
    if (mpack_r_tok(r, t) < 0) return -1;
    if (t->k != want) return mpack_r_fail(r, "expected %s, got %s", mpack_kind_name(want), mpack_kind_name(t->k));
    return 0;
}

/* Reads an array or map head and enters it. */
int mpack_r_enter(mpack_r_t *r, mpack_kind_t want, uint64_t *n)
{
    mpack_tok_t t;
    if (mpack_r_expect(r, &t, want) < 0) return -1;
    if (r->depth >= MPACK_DEPTH) return mpack_r_fail(r, "nested deeper than %d levels", MPACK_DEPTH);
    r->depth++;
    *n = t.u;
    return 0;
}

void mpack_r_leave(mpack_r_t *r) { r->depth--; }

/* Skips one value of any kind (an unknown field), still bounded and depth-limited. */
static int mpack_r_skip(mpack_r_t *r)
{
    mpack_tok_t t;
    if (mpack_r_tok(r, &t) < 0) return -1;
    if (t.k != MPACK_ARRAY && t.k != MPACK_MAP) return 0;
    if (r->depth >= MPACK_DEPTH) return mpack_r_fail(r, "nested deeper than %d levels", MPACK_DEPTH);
    r->depth++;
    uint64_t items = t.k == MPACK_MAP ? 2 * t.u : t.u;
    for (uint64_t i = 0; i < items; i++)
        if (mpack_r_skip(r) < 0) return -1;
    r->depth--;
    return 0;
}

/* If the next value is nil, consumes it and returns true. */
static bool mpack_r_nil(mpack_r_t *r)
{
    if (r->p < r->end && *r->p == 0xc0) {
        r->p++;
        return true;
    }
    return false;
}

int mpack_r_uint(mpack_r_t *r, uint64_t max, uint64_t *out)
{
    mpack_tok_t t;
    if (mpack_r_tok(r, &t) < 0) return -1;
    if (t.k == MPACK_NEG) return mpack_r_fail(r, "negative value %lld", (long long)t.i);
    if (t.k != MPACK_UINT) return mpack_r_fail(r, "expected an unsigned integer, got %s", mpack_kind_name(t.k));
    if (t.u > max)
        return mpack_r_fail(r, "%llu exceeds the maximum %llu", (unsigned long long)t.u, (unsigned long long)max);
    *out = t.u;
    return 0;
}

int mpack_r_u32(mpack_r_t *r, uint32_t *out)
{
    uint64_t v = 0; /* set on success; initialised for the optimiser, which cannot see it across files */
    if (mpack_r_uint(r, UINT32_MAX, &v) < 0) return -1;
    *out = (uint32_t)v;
    return 0;
}

int mpack_r_bool(mpack_r_t *r, bool *out)
{
    mpack_tok_t t;
    if (mpack_r_expect(r, &t, MPACK_BOOL) < 0) return -1;
    *out = t.u != 0;
    return 0;
}

/* A number: float64 on our wire; float32 and integers accepted from other encoders. */
int mpack_r_double(mpack_r_t *r, int flags, double *out)
{
    mpack_tok_t t;
    if (mpack_r_tok(r, &t) < 0) return -1;
    double d;
    if (t.k == MPACK_FLOAT) d = t.d;
    else if (t.k == MPACK_UINT) d = (double)t.u;
    else if (t.k == MPACK_NEG) d = (double)t.i;
    else return mpack_r_fail(r, "expected a number, got %s", mpack_kind_name(t.k));
    const char *p = mpack_double_problem(d, flags);
    if (p) return mpack_r_fail(r, "%s (got %g)", p, d);
    *out = d;
    return 0;
}

/* A string of at most cap bytes without NUL: t->s (into the frame) and t->u (its length). */
static int mpack_r_strtok(mpack_r_t *r, size_t cap, mpack_tok_t *t)
{
    if (mpack_r_expect(r, t, MPACK_STR) < 0) return -1;
    if (t->u > cap)
        return mpack_r_fail(r, "string of %llu bytes exceeds the limit of %zu bytes", (unsigned long long)t->u, cap);
    const uint8_t *nul = memchr(t->s, 0, t->u);
    if (nul) return mpack_r_fail(r, "string holds a NUL byte at offset %zu", (size_t)(nul - t->s));
    return 0;
}

/* A new string (caller owns). */
int mpack_r_str(mpack_r_t *r, size_t cap, char **out)
{
    mpack_tok_t t;
    if (mpack_r_strtok(r, cap, &t) < 0) return -1;
    *out = xstrndup((const char *)t.s, t.u);
    return 0;
}

/* A string into dst[size]. */
int mpack_r_str_into(mpack_r_t *r, char *dst, size_t size)
{
    mpack_tok_t t;
    if (mpack_r_strtok(r, size - 1, &t) < 0) return -1;
    memcpy(dst, t.s, t.u);
    dst[t.u] = '\0';
    return 0;
}

int mpack_r_end(mpack_r_t *r)
{
    size_t n = mpack_r_left(r);
    if (n) return mpack_r_fail(r, "%zu trailing byte%s after the message", n, n == 1 ? "" : "s");
    return 0;
}

/* One map whose known keys are keys[0..nkeys) (nkeys <= 32). Calls field(r, k, obj) for each
 * known key with a non-nil value; skips unknown keys; rejects a repeated key. *present gets a bit
 * per key given a non-nil value. On failure the path names the key. */

int mpack_r_object(mpack_r_t *r, const char *const *keys, int nkeys, mpack_field_fn field, void *obj, uint32_t *present)
{
    uint64_t n = 0;
    if (mpack_r_enter(r, MPACK_MAP, &n) < 0) return -1;
    uint32_t seen = 0;
    *present = 0;
    for (uint64_t i = 0; i < n; i++) {
        mpack_tok_t kt;
        if (mpack_r_tok(r, &kt) < 0) return -1;
        if (kt.k != MPACK_STR)
            return mpack_r_fail(r, "map key %llu is %s, not a string", (unsigned long long)i, mpack_kind_name(kt.k));
        char shown[MPACK_MAX_KEY + 1];
        if (kt.u > MPACK_MAX_KEY) {
            mpack_key_display(shown, sizeof shown, (const char *)kt.s, MPACK_MAX_KEY);
            return mpack_r_fail(r, "map key \"%s...\" of %llu bytes exceeds the limit of %d bytes", shown,
                                (unsigned long long)kt.u, MPACK_MAX_KEY);
        }
        int k = -1;
        for (int j = 0; j < nkeys && k < 0; j++)
            if (strlen(keys[j]) == kt.u && memcmp(keys[j], kt.s, kt.u) == 0) k = j;
        if (k < 0) {
            if (mpack_r_skip(r) == 0) continue;
            mpack_key_display(shown, sizeof shown, (const char *)kt.s, kt.u);
            return mpack_r_wrap(r, ".%s", shown);
        }
        if (seen & (1u << k)) return mpack_r_fail(r, "key \"%s\" appears twice", keys[k]);
        seen |= 1u << k;
        if (mpack_r_nil(r)) continue;
        *present |= 1u << k;
        if (field(r, k, obj) < 0) return mpack_r_wrap(r, ".%s", keys[k]);
    }
    mpack_r_leave(r);
    return 0;
}

/* Fails naming the first required key (bit set in `required`) missing from `present`. */
int mpack_r_required(mpack_r_t *r, const char *const *keys, int nkeys, uint32_t required, uint32_t present)
{
    for (int k = 0; k < nkeys; k++)
        if ((required & (1u << k)) && !(present & (1u << k))) {
            mpack_r_fail(r, "missing");
            return mpack_r_wrap(r, ".%s", keys[k]);
        }
    return 0;
}

int mpack_r_frame(mpack_r_t *r, size_t len)
{
    if (len > WIRE_MAX_MSG)
        return mpack_r_fail(r, "frame of %zu bytes exceeds the limit of %u bytes", len, WIRE_MAX_MSG);
    return 0;
}
