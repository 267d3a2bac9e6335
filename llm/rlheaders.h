/* rlheaders: reads what a provider's reply says about rate limits into one struct: how long to
 * wait (Retry-After, retry-after-ms), and per dimension (requests, tokens, input and output
 * tokens) the window's limit, what remains of it and when it resets; plus whether the reply was
 * a throttle. It does not decide anything: llm.c and the ratelimit module act on the result.
 *
 * Formats understood:
 *   Retry-After                       delta-seconds, or an HTTP-date (IMF-fixdate, RFC 850, asctime)
 *   retry-after-ms                    milliseconds (wins over Retry-After when both are present)
 *   x-ratelimit-{limit,remaining}-{requests,tokens}   integers (OpenAI and compatible servers)
 *   x-ratelimit-reset-{requests,tokens}               Go durations: "6m0s", "1s", "12ms", "1h2m3.5s"
 *   anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}
 *                                     integers; reset is an RFC 3339 timestamp
 *   x-amzn-ErrorType: ThrottlingException[:...]        Bedrock / SageMaker
 * A value that does not parse leaves its field unknown and is counted in n_invalid; it never
 * aborts the rest. Time values become milliseconds from `now_ms` (Unix epoch milliseconds, a
 * parameter so tests control the clock); a time already past becomes 0. */
#ifndef LLMAJ_RATELIMIT_HEADERS_H
#define LLMAJ_RATELIMIT_HEADERS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "httpmsg.h"

typedef enum { RLH_REQUESTS = 0, RLH_TOKENS, RLH_INPUT_TOKENS, RLH_OUTPUT_TOKENS, RLH_N_DIMS } rlheaders_dim_t;

typedef struct {
    int64_t limit;     /* -1 = not reported */
    int64_t remaining; /* -1 = not reported */
    int64_t reset_ms;  /* ms from now until the window is full again; -1 = not reported */
} rlheaders_window_t;

typedef struct {
    int64_t retry_after_ms; /* -1 = not reported */
    rlheaders_window_t dim[RLH_N_DIMS];
    bool throttled;           /* 429, or a Bedrock ThrottlingException */
    unsigned n_seen;          /* rate-limit headers recognized (valid or not) */
    unsigned n_invalid;       /* of those, values rejected */
    char first_invalid[64];   /* name of the first rejected header, "" if none */
    bool retry_after_from_ms; /* internal: retry-after-ms took precedence */
} rlheaders_t;

void rlheaders_init(rlheaders_t *r); /* everything unknown */

/* Reads one header (name case-insensitive); unrelated headers are ignored. */
void rlheaders_feed(rlheaders_t *r, const char *name, const char *value, int64_t now_ms);

/* rlheaders_init, then every header of `h`, then the status and, for error statuses (>= 400),
 * the body (Bedrock throttles named only there: "ThrottlingException", "Too many requests"). */
void rlheaders_parse(rlheaders_t *r, const httpmsg_headers_t *h, long status, const char *body, size_t body_len,
                     int64_t now_ms);

const char *rlheaders_dim_name(rlheaders_dim_t d); /* "requests", "tokens", ... */

/* The value parsers, exported for tests and the mock server. Each returns 0, or -1 on anything
 * malformed, negative or out of range (and leaves *out alone). Surrounding whitespace is allowed. */
int rlheaders_parse_retry_after(const char *v, int64_t now_ms, int64_t *out_ms) __attribute__((warn_unused_result));
/* Go duration ("1h2m3.5s", "12ms", "1.5us", "0"); a bare non-negative number is taken as
 * seconds. Rounded up to whole milliseconds. */
int rlheaders_parse_duration(const char *v, int64_t *out_ms) __attribute__((warn_unused_result));
/* HTTP-date (RFC 7231 7.1.1.1: IMF-fixdate, obsolete RFC 850 and asctime) -> Unix seconds. */
int rlheaders_parse_http_date(const char *v, int64_t now_ms, int64_t *out_unix_s) __attribute__((warn_unused_result));
/* RFC 3339 date-time ("2024-06-01T12:00:30.5Z", "...+02:00") -> Unix ms, fractions rounded up. */
int rlheaders_parse_rfc3339(const char *v, int64_t *out_unix_ms) __attribute__((warn_unused_result));
/* Non-negative decimal integer (int64). */
int rlheaders_parse_count(const char *v, int64_t *out) __attribute__((warn_unused_result));

#endif
