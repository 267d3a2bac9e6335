/* mock_limits: the mock server's provider-style rate limits. Owns one pair of token buckets
 * (requests, tokens) per (provider, model) key, and the formatting of reset times the way the
 * providers write them. Does not write HTTP headers (mock_api_*.c do).
 *
 * DESIGN. Real providers state limits per minute but enforce them over short windows, so a
 * minute's quota cannot be spent in one burst. Here each limit is a token bucket that refills
 * continuously at limit/60 per second and holds at most burst_seconds of it (and at least one
 * request): with the default burst of 1 s, rpm 600 allows 10
 * requests at once and then 10 a second. A request costs one request and its token estimate
 * (input + max_tokens requested). It is admitted when the request bucket holds one request and
 * the token bucket holds its cost (or is full, for a request larger than the bucket, which then
 * goes into debt), and either both buckets are charged or neither is.
 * "remaining" is what could be sent right now without a 429 (the bucket's whole part), "reset"
 * is the time until the bucket is full again, and retry-after the time until this request would
 * be admitted. Keys beyond MOCK_LIMITS_MAX_KEYS share one overflow pair. Thread-safe. */
#ifndef LLMAJ_MOCK_LIMITS_H
#define LLMAJ_MOCK_LIMITS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MOCK_LIMITS_MAX_KEYS 1024
#define MOCK_LIMITS_KEY_MAX 256 /* longer keys are cut to this many bytes */

typedef struct mock_limits mock_limits_t;

typedef struct {
    bool has_requests, has_tokens; /* which limits are configured */
    bool limited;                  /* the request is refused */
    bool by_tokens;                /* refused for tokens (else for requests) */
    double rpm, tpm;               /* the configured per-minute limits */
    uint64_t remaining_requests, remaining_tokens;
    double reset_requests_ms, reset_tokens_ms; /* until each bucket is full again */
    double retry_after_ms;                     /* limited: until this request would be admitted */
    double cost;                               /* tokens this request was charged (or would have been) */
} mock_limit_verdict_t;

/* rpm / tpm <= 0: that limit is off. burst_seconds <= 0 means 1. NULL when both are off. */
mock_limits_t *mock_limits_new(double rpm, double tpm, double burst_seconds);
void mock_limits_destroy(mock_limits_t **self_p);

/* Charges one request of `tokens` to `key` at monotonic time now_us, or refuses it. The key is
 * copied. With l == NULL, fills a verdict with nothing configured and nothing limited. */
void mock_limits_take(mock_limits_t *l, const char *key, size_t key_len, int64_t now_us, double tokens,
                      mock_limit_verdict_t *out);

/* A duration as OpenAI writes it in x-ratelimit-reset-*: "12ms", "1s", "1.5s", "6m0s",
 * "1h2m3s". Non-positive durations are "0s". */
void mock_fmt_duration(char *out, size_t n, double ms);

/* The wall-clock time unix_ms as RFC 3339 UTC with seconds precision, rounded up:
 * "2024-05-01T12:00:07Z". */
void mock_fmt_rfc3339(char *out, size_t n, double unix_ms);

#endif
