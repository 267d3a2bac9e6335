/* mpack: protocol v1's bounded MessagePack codec, shared by the message codecs of wire.c and
 * private to proto/ (not part of any face). A packer that appends to a buf_t and refuses what the
 * reader would reject, and a cursor reader that trusts nothing; both build the failing field's
 * path on the way out ("result.scores[3].metric: ...") so that success costs nothing. The limits
 * are protocol.md's ("Limits"); the DESIGN paragraph is in mpack.c. */
#ifndef LLMAJ_MPACK_H
#define LLMAJ_MPACK_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define MPACK_DEPTH 10   /* nested arrays/maps, the outermost counting 1 */
#define MPACK_MAX_KEY 64 /* bytes in a map key */

/* Doubles are finite everywhere (a NaN or an infinity would poison sums and JSON output);
 * latencies and rates are also >= 0 (a rate of 0 means "no limit configured", see protocol.md). */
enum { MPACK_DBL_ANY = 0, MPACK_DBL_NONNEG = 1 };

/* ---- packer ---- */

enum { MPACK_W_OK = 0, MPACK_W_ROOM, MPACK_W_LIMIT };

typedef struct {
    buf_t *b;
    size_t start;  /* b->len when the message began: failure truncates back to it */
    int failed;    /* MPACK_W_ROOM: b's cap; MPACK_W_LIMIT: a field or the message broke a wire limit */
    char why[256]; /* MPACK_W_LIMIT: field path and problem */
} mpack_w_t;

/* Starts a message at the end of b; every put is a no-op once the packer failed. */
void mpack_w_init(mpack_w_t *w, buf_t *b);
/* Ends a message: 0, or -1 with b restored (and the reason logged, naming `what`, if it was a
 * wire limit). */
int mpack_w_finish(mpack_w_t *w, const char *what) __attribute__((warn_unused_result));
/* A wire limit broken at key (NULL: at the message); -1. */
__attribute__((format(printf, 3, 4))) int mpack_w_limit(mpack_w_t *w, const char *key, const char *fmt, ...);
/* Prefixes the failure's path with one more segment (".recs", "[3]"); -1. */
__attribute__((format(printf, 2, 3))) int mpack_w_wrap(mpack_w_t *w, const char *fmt, ...);
void mpack_w_uint(mpack_w_t *w, uint64_t v);
void mpack_w_str(mpack_w_t *w, const char *s, size_t n);
void mpack_w_array(mpack_w_t *w, size_t n);
void mpack_w_map(mpack_w_t *w, size_t n);
void mpack_w_key(mpack_w_t *w, const char *k);
void mpack_w_kuint(mpack_w_t *w, const char *k, uint64_t v);
void mpack_w_kbool(mpack_w_t *w, const char *k, bool v);
/* A finite double (flags MPACK_DBL_*) under key k; -1 (a limit) otherwise. */
int mpack_w_kdouble(mpack_w_t *w, const char *k, double v, int flags) __attribute__((warn_unused_result));
/* Key and string of at most cap bytes; a NULL string packs nothing unless it is required. */
int mpack_w_kstr(mpack_w_t *w, const char *k, const char *s, size_t cap, bool required)
    __attribute__((warn_unused_result));

/* ---- reader ---- */

typedef enum {
    MPACK_NIL,
    MPACK_BOOL,
    MPACK_UINT,
    MPACK_NEG,
    MPACK_FLOAT,
    MPACK_STR,
    MPACK_BIN,
    MPACK_ARRAY,
    MPACK_MAP,
    MPACK_EXT
} mpack_kind_t;

typedef struct {
    const uint8_t *p, *end;
    unsigned depth; /* containers entered */
    char *err;
    size_t errlen;
} mpack_r_t;

/* A cursor over data[len]; failures write their message into err. */
void mpack_r_init(mpack_r_t *r, const void *data, size_t len, char *err, size_t errlen);
/* Sets the leaf problem (": what"); -1. */
__attribute__((format(printf, 2, 3))) int mpack_r_fail(mpack_r_t *r, const char *fmt, ...);
/* Prefixes one path segment on the way out of a failure; -1. */
__attribute__((format(printf, 2, 3))) int mpack_r_wrap(mpack_r_t *r, const char *fmt, ...);
/* A frame longer than WIRE_MAX_MSG is refused before it is read. */
int mpack_r_frame(mpack_r_t *r, size_t len) __attribute__((warn_unused_result));
/* The frame must end where the message does. */
int mpack_r_end(mpack_r_t *r) __attribute__((warn_unused_result));
/* An array or map head, entered (depth-limited); mpack_r_leave when its items are read. */
int mpack_r_enter(mpack_r_t *r, mpack_kind_t want, uint64_t *n) __attribute__((warn_unused_result));
void mpack_r_leave(mpack_r_t *r);
/* Bounded scalars: an unsigned integer <= max, a u32, a boolean, a finite double (MPACK_DBL_*). */
int mpack_r_uint(mpack_r_t *r, uint64_t max, uint64_t *out) __attribute__((warn_unused_result));
int mpack_r_u32(mpack_r_t *r, uint32_t *out) __attribute__((warn_unused_result));
int mpack_r_bool(mpack_r_t *r, bool *out) __attribute__((warn_unused_result));
int mpack_r_double(mpack_r_t *r, int flags, double *out) __attribute__((warn_unused_result));
/* A string of at most cap bytes without NUL, copied (caller frees) or into dst[size]. */
int mpack_r_str(mpack_r_t *r, size_t cap, char **out) __attribute__((warn_unused_result));
int mpack_r_str_into(mpack_r_t *r, char *dst, size_t size) __attribute__((warn_unused_result));

/* One map whose known keys are keys[0..nkeys) (nkeys <= 32): field(r, k, obj) for each known key
 * with a non-nil value; unknown keys skipped; a repeated key refused. *present gets a bit per key
 * given a non-nil value. On failure the path names the key. */
typedef int (*mpack_field_fn)(mpack_r_t *r, int k, void *obj);
int mpack_r_object(mpack_r_t *r, const char *const *keys, int nkeys, mpack_field_fn field, void *obj, uint32_t *present)
    __attribute__((warn_unused_result));
/* Fails naming the first required key (bit set in `required`) missing from `present`. */
int mpack_r_required(mpack_r_t *r, const char *const *keys, int nkeys, uint32_t required, uint32_t present)
    __attribute__((warn_unused_result));
/* A map key made printable for messages (keys of unknown fields are peer-chosen bytes). */
void mpack_key_display(char *dst, size_t size, const char *k, size_t n);

#endif
