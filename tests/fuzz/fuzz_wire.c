/* fuzz_wire: libFuzzer entry for the wire decoders (common/wire.c). Not built by CMake (clang is
 * not installed here). To build and run it with clang:
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Icommon -I/usr/include/cjson \
 *     tests/fuzz/fuzz_wire.c common/wire.c common/record.c common/result.c common/errlist.c \
 *     common/buf.c common/mem.c common/log.c -o fuzz_wire -lcjson -lm -lpthread
 *   ./fuzz_wire -max_len=65536 corpus/
 *
 * Every input goes to all four decoders; whatever decodes must encode again (the encoders accept
 * all that the decoders accept). Leaks and crashes are the sanitizers' to report. */
#include <stdint.h>
#include <stdlib.h>

#include "log.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    log_set_level(LOG_OFF);
    char err[256];
    buf_t b;
    buf_init(&b, 0);
    wire_hdr_t h;
    if (wire_hdr_decode(data, size, &h, err, sizeof err) == 0 && wire_hdr_encode(&h, &b) < 0) abort();
    wire_shard_t s;
    if (wire_shard_decode(data, size, &s, err, sizeof err) == 0) {
        if (wire_shard_encode(s.spec_json, s.records, s.n_records, &b) < 0) abort();
        wire_shard_clear(&s);
    }
    result_t r;
    if (wire_result_decode(data, size, &r, err, sizeof err) == 0) {
        if (wire_result_encode(&r, &b) < 0) abort();
        result_clear(&r);
    }
    wire_rate_t *rows;
    size_t n;
    if (wire_rates_decode(data, size, &rows, &n, err, sizeof err) == 0) {
        if (wire_rates_encode(rows, n, &b) < 0) abort();
        wire_rates_free(rows, n);
    }
    buf_free(&b);
    return 0;
}
