/* test_mpack: the bounded MessagePack codec of protocol v1 (proto/mpack.c), below the messages
 * test_wire covers.
 *
 * Round-trips every kind the packer writes through the reader; then the reader's bounds on
 * hand-made bytes: nesting depth, map key length, string caps and NUL bytes, integer ranges,
 * non-finite doubles, a repeated or missing key, unknown keys skipped, trailing bytes, lengths that
 * claim more than the frame holds; and the packer's refusals (a string over its cap, a NaN) that
 * leave the buffer as it was. Every failure must name the field it concerns. */
#include "mpack.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "wire.h"

#include "check.h"

/* ---- a map {a: uint, b: bool, c: double, d: str, e: str-into} and its field callback ---- */

enum { F_A, F_B, F_C, F_D, F_E, F_N };
static const char *const keys[F_N] = {"a", "b", "c", "d", "e"};

typedef struct {
    uint64_t a;
    bool b;
    double c;
    char *d;
    char e[8];
} obj_t;

static int field(mpack_r_t *r, int k, void *p)
{
    obj_t *o = p;
    switch (k) {
    case F_A: return mpack_r_uint(r, 1000, &o->a);
    case F_B: return mpack_r_bool(r, &o->b);
    case F_C: return mpack_r_double(r, MPACK_DBL_NONNEG, &o->c);
    case F_D: return mpack_r_str(r, 16, &o->d);
    case F_E: return mpack_r_str_into(r, o->e, sizeof o->e);
    }
    return -1;
}

/* Reads one object from data[len]; 0 or -1 with err set. */
static int read_obj(const void *data, size_t len, obj_t *o, uint32_t required, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    mpack_r_t r;
    mpack_r_init(&r, data, len, err, errlen);
    uint32_t present = 0;
    if (mpack_r_frame(&r, len) < 0) return -1;
    if (mpack_r_object(&r, keys, F_N, field, o, &present) < 0) return mpack_r_wrap(&r, "obj");
    if (mpack_r_required(&r, keys, F_N, required, present) < 0) return mpack_r_wrap(&r, "obj");
    return mpack_r_end(&r) < 0 ? mpack_r_wrap(&r, "obj") : 0;
}

static void test_round_trip(void)
{
    buf_t b;
    buf_init(&b, 0);
    mpack_w_t w;
    mpack_w_init(&w, &b);
    mpack_w_map(&w, 5);
    mpack_w_kuint(&w, "a", 999);
    mpack_w_kbool(&w, "b", true);
    CHECK(mpack_w_kdouble(&w, "c", 0.25, MPACK_DBL_NONNEG) == 0);
    CHECK(mpack_w_kstr(&w, "d", "hello", 16, true) == 0);
    CHECK(mpack_w_kstr(&w, "e", "1234567", 7, true) == 0);
    CHECK(mpack_w_finish(&w, "obj") == 0);

    obj_t o;
    char err[256];
    CHECK(read_obj(b.data, b.len, &o, (1u << F_A) | (1u << F_D), err, sizeof err) == 0);
    CHECK(o.a == 999 && o.b && o.c == 0.25);
    CHECK_STR(o.d, "hello");
    CHECK_STR(o.e, "1234567");
    free(o.d);

    /* Every truncation fails cleanly, naming the object. */
    for (size_t n = 0; n < b.len; n++) {
        obj_t t;
        CHECK(read_obj(b.data, n, &t, 0, err, sizeof err) < 0);
        CHECK_HAS(err, "obj");
        free(t.d);
    }
    /* A trailing byte is refused. */
    CHECK(buf_putc(&b, 0xc0) == 0);
    CHECK(read_obj(b.data, b.len, &o, 0, err, sizeof err) < 0);
    CHECK_HAS(err, "trailing byte");
    free(o.d);
    buf_free(&b);
}

/* Hand-made maps: fixmap header then key/value bytes. */
static int read_bytes(const char *bytes, size_t n, obj_t *o, char *err, size_t errlen)
{
    int rc = read_obj(bytes, n, o, 0, err, errlen);
    free(o->d);
    o->d = NULL;
    return rc;
}

static void test_reader_bounds(void)
{
    obj_t o;
    char err[256];
    /* {"a": 1001}: over the field's range, named. */
    CHECK(read_bytes("\x81\xa1"
                     "a"
                     "\xcd\x03\xe9",
                     6, &o, err, sizeof err) < 0);
    CHECK_HAS(err, "obj.a");
    /* {"a": 1, "a": 2}: a key twice. */
    CHECK(read_bytes("\x82\xa1"
                     "a"
                     "\x01\xa1"
                     "a"
                     "\x02",
                     7, &o, err, sizeof err) < 0);
    CHECK_HAS(err, "appears twice");
    /* {"zz": [1, 2], "a": 7}: an unknown key is skipped with its value. */
    CHECK(read_bytes("\x82\xa2"
                     "zz"
                     "\x92\x01\x02\xa1"
                     "a"
                     "\x07",
                     10, &o, err, sizeof err) == 0);
    CHECK(o.a == 7);
    /* {"a": nil}: nil means absent. */
    CHECK(read_bytes("\x81\xa1"
                     "a"
                     "\xc0",
                     4, &o, err, sizeof err) == 0);
    CHECK(o.a == 0);
    /* {"d": "a\0b"}: a NUL inside a string. */
    CHECK(read_bytes("\x81\xa1"
                     "d"
                     "\xa3"
                     "a\0b",
                     7, &o, err, sizeof err) < 0);
    CHECK_HAS(err, "obj.d");
    /* {"d": 17 bytes}: over the cap of 16. */
    char big[3 + 18] = "\x81\xa1"
                       "d";
    big[3] = (char)(0xa0 | 17);
    memset(big + 4, 'x', 17);
    CHECK(read_bytes(big, 21, &o, err, sizeof err) < 0);
    CHECK_HAS(err, "obj.d");
    /* {"c": NaN} and {"c": -1.0}: a float64 that is not finite, a negative where none may be. */
    unsigned char nan[12] = {0x81, 0xa1, 'c', 0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0};
    CHECK(read_bytes((const char *)nan, 12, &o, err, sizeof err) < 0);
    CHECK_HAS(err, "obj.c");
    unsigned char neg[12] = {0x81, 0xa1, 'c', 0xcb, 0xbf, 0xf0, 0, 0, 0, 0, 0, 0};
    CHECK(read_bytes((const char *)neg, 12, &o, err, sizeof err) < 0);
    CHECK_HAS(err, "negative");
    /* A map key longer than MPACK_MAX_KEY. */
    char lk[2 + MPACK_MAX_KEY + 2 + 1];
    lk[0] = (char)0x81;
    lk[1] = (char)0xd9;
    lk[2] = (char)(MPACK_MAX_KEY + 1);
    memset(lk + 3, 'k', MPACK_MAX_KEY + 1);
    CHECK(read_bytes(lk, sizeof lk - 1, &o, err, sizeof err) < 0);
    CHECK_HAS(err, "exceeds the limit");
    /* A string that claims more bytes than the frame holds. */
    CHECK(read_bytes("\x81\xa1"
                     "d"
                     "\xdb\xff\xff\xff\xff",
                     8, &o, err, sizeof err) < 0);
    CHECK(err[0] != '\0');
    /* An array that claims a billion elements in a 10-byte frame: refused before allocating. */
    CHECK(read_bytes("\x81\xa2"
                     "zz"
                     "\xdd\x3b\x9a\xca\x00",
                     9, &o, err, sizeof err) < 0);
    CHECK(err[0] != '\0');
    /* Unknown values nested past MPACK_DEPTH. */
    char deep[4 + MPACK_DEPTH + 2];
    size_t n = 0;
    deep[n++] = (char)0x81;
    deep[n++] = (char)0xa2;
    deep[n++] = 'z';
    deep[n++] = 'z';
    for (int i = 0; i < MPACK_DEPTH + 1; i++) deep[n++] = (char)0x91;
    deep[n++] = 0x01;
    CHECK(read_bytes(deep, n, &o, err, sizeof err) < 0);
    CHECK(err[0] != '\0');
    /* Not a map at all. */
    CHECK(read_bytes("\x01", 1, &o, err, sizeof err) < 0);
    CHECK_HAS(err, "obj");
    /* A required key missing: named. */
    CHECK(read_obj("\x80", 1, &o, 1u << F_D, err, sizeof err) < 0);
    CHECK_HAS(err, "obj.d");
    CHECK_HAS(err, "missing");
    /* A frame over WIRE_MAX_MSG is refused before reading. */
    mpack_r_t r;
    mpack_r_init(&r, "", 0, err, sizeof err);
    CHECK(mpack_r_frame(&r, (size_t)WIRE_MAX_MSG + 1) < 0);
    CHECK_HAS(err, "exceeds the limit");
}

static void test_packer_refusals(void)
{
    buf_t b;
    buf_init(&b, 0);
    CHECK(buf_puts(&b, "keep") == 0);
    mpack_w_t w;
    mpack_w_init(&w, &b);
    mpack_w_map(&w, 1);
    CHECK(mpack_w_kstr(&w, "d", "too long for its cap", 4, true) < 0);
    CHECK(mpack_w_wrap(&w, "obj") < 0);
    CHECK(mpack_w_finish(&w, "test") < 0);
    CHECK(b.len == 4 && memcmp(b.data, "keep", 4) == 0); /* left as it was */
    CHECK_HAS(w.why, "obj");
    CHECK_HAS(w.why, ".d");

    mpack_w_init(&w, &b);
    mpack_w_map(&w, 1);
    CHECK(mpack_w_kdouble(&w, "c", NAN, MPACK_DBL_ANY) < 0);
    CHECK(mpack_w_finish(&w, "test") < 0);
    CHECK(b.len == 4);
    CHECK_HAS(w.why, "NaN");

    /* A required string that is NULL is refused; an optional one packs nothing. */
    mpack_w_init(&w, &b);
    CHECK(mpack_w_kstr(&w, "d", NULL, 4, false) == 0);
    CHECK(b.len == 4);
    CHECK(mpack_w_kstr(&w, "d", NULL, 4, true) < 0);
    CHECK(mpack_w_finish(&w, "test") < 0);
    CHECK(b.len == 4);
    buf_free(&b);
}

int main(void)
{
    log_set_level(LOG_OFF); /* the refusals log why; the checks read it from the packer */
    test_round_trip();
    test_reader_bounds();
    test_packer_refusals();
    return check_summary("test_mpack");
}
