/* fuzz_wire: the protocol v1 decoders (proto/wire.c): header, shard, result and rate table.
 *
 * Every input goes to all four decoders (a frame's type is not known from its bytes alone).
 * Whatever decodes must survive the round trip: it encodes again (the encoders accept all that
 * the decoders accept), that encoding decodes, and encoding the second decode gives the same
 * bytes (a canonical fixed point, so no field is lost or altered on the way). A decode failure
 * must leave nothing to free and an error message. Leaks, overreads and undefined behaviour are
 * the sanitizers' to report. Seeds: corpus/wire (made by tests/fuzz/seed_wire.c). */
#include <string.h>

#include "fuzz.h"
#include "log.h"
#include "wire.h"

/* Checks that `first` (an encoding) is a fixed point of decode+encode. */
#define ROUND_TRIP(type, decode, encode, clear)                                          \
    do {                                                                                 \
        type again;                                                                      \
        buf_t b2;                                                                        \
        buf_init(&b2, 0);                                                                \
        FUZZ_ASSERT(decode(first.data, first.len, &again, err, sizeof err) == 0);        \
        FUZZ_ASSERT(encode == 0);                                                        \
        FUZZ_ASSERT(b2.len == first.len && memcmp(b2.data, first.data, first.len) == 0); \
        clear;                                                                           \
        buf_free(&b2);                                                                   \
    } while (0)

static void header(const uint8_t *data, size_t size)
{
    char err[256] = "";
    wire_hdr_t h;
    if (wire_hdr_decode(data, size, &h, err, sizeof err) < 0) {
        FUZZ_ASSERT(err[0] != '\0');
        return;
    }
    FUZZ_ASSERT(h.type > 0 && h.type < WIRE_TYPE_MAX);
    FUZZ_ASSERT(memchr(h.job_id, '\0', sizeof h.job_id) && memchr(h.name, '\0', sizeof h.name) &&
                memchr(h.role, '\0', sizeof h.role));
    buf_t first;
    buf_init(&first, 0);
    FUZZ_ASSERT(wire_hdr_encode(&h, &first) == 0);
    ROUND_TRIP(wire_hdr_t, wire_hdr_decode, wire_hdr_encode(&again, &b2), (void)0);
    buf_free(&first);
}

static void shard(const uint8_t *data, size_t size)
{
    char err[256] = "";
    wire_shard_t s;
    if (wire_shard_decode(data, size, &s, err, sizeof err) < 0) {
        FUZZ_ASSERT(err[0] != '\0' && s.spec_json == NULL && s.records == NULL && s.n_records == 0);
        return;
    }
    FUZZ_ASSERT(s.spec_json != NULL && (s.n_records == 0 || s.records != NULL));
    for (size_t i = 0; i < s.n_records; i++) FUZZ_ASSERT(s.records[i].prompt != NULL);
    buf_t first;
    buf_init(&first, 0);
    FUZZ_ASSERT(wire_shard_encode(s.spec_json, s.records, s.n_records, &first) == 0);
    wire_shard_clear(&s);
    ROUND_TRIP(wire_shard_t, wire_shard_decode, wire_shard_encode(again.spec_json, again.records, again.n_records, &b2),
               wire_shard_clear(&again));
    buf_free(&first);
}

static void result(const uint8_t *data, size_t size)
{
    char err[256] = "";
    result_t r;
    if (wire_result_decode(data, size, &r, err, sizeof err) < 0) {
        FUZZ_ASSERT(err[0] != '\0' && r.job_id == NULL && r.scores == NULL && r.n_scores == 0);
        return;
    }
    FUZZ_ASSERT(r.job_id != NULL);
    for (size_t i = 0; i < r.n_scores; i++) FUZZ_ASSERT(r.scores[i].metric != NULL);
    buf_t first;
    buf_init(&first, 0);
    FUZZ_ASSERT(wire_result_encode(&r, &first) == 0);
    result_clear(&r);
    ROUND_TRIP(result_t, wire_result_decode, wire_result_encode(&again, &b2), result_clear(&again));
    buf_free(&first);
}

/* The rate table decoder returns two values; these adapters give it the shape ROUND_TRIP uses. */
typedef struct {
    wire_rate_t *rows;
    size_t n;
} rates_t;

static int rates_dec(const void *data, size_t len, rates_t *out, char *err, size_t errlen)
{
    return wire_rates_decode(data, len, &out->rows, &out->n, err, errlen);
}

static void rates(const uint8_t *data, size_t size)
{
    char err[256] = "";
    rates_t t;
    if (rates_dec(data, size, &t, err, sizeof err) < 0) {
        FUZZ_ASSERT(err[0] != '\0' && t.rows == NULL && t.n == 0);
        return;
    }
    for (size_t i = 0; i < t.n; i++) FUZZ_ASSERT(t.rows[i].key != NULL);
    buf_t first;
    buf_init(&first, 0);
    FUZZ_ASSERT(wire_rates_encode(t.rows, t.n, &first) == 0);
    wire_rates_free(t.rows, t.n);
    ROUND_TRIP(rates_t, rates_dec, wire_rates_encode(again.rows, again.n, &b2), wire_rates_free(again.rows, again.n));
    buf_free(&first);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    log_set_level(LOG_OFF);
    header(data, size);
    shard(data, size);
    result(data, size);
    rates(data, size);
    return 0;
}
