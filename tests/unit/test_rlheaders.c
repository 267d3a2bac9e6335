/* test_rlheaders: every header format rlheaders understands, and garbage rejected cleanly. */
#include "httpmsg.h"
#include "rlheaders.h"

#include <stdio.h>
#include <string.h>

#include "check.h"

/* 2024-06-01T12:00:00Z */
#define NOW 1717243200000LL

static int64_t ra(const char *v)
{
    int64_t out = -42;
    if (rlheaders_parse_retry_after(v, NOW, &out) < 0) return -1;
    return out;
}

static int64_t dur(const char *v)
{
    int64_t out = -42;
    if (rlheaders_parse_duration(v, &out) < 0) return -1;
    return out;
}

static int64_t hdate(const char *v)
{
    int64_t out = -42;
    if (rlheaders_parse_http_date(v, NOW, &out) < 0) return -1;
    return out;
}

static int64_t r3339(const char *v)
{
    int64_t out = -42;
    if (rlheaders_parse_rfc3339(v, &out) < 0) return -1;
    return out;
}

static int64_t count(const char *v)
{
    int64_t out = -42;
    if (rlheaders_parse_count(v, &out) < 0) return -1;
    return out;
}

static void test_retry_after(void)
{
    CHECK(ra("120") == 120000);
    CHECK(ra(" 0 ") == 0);
    CHECK(ra("1.5") == 1500);
    CHECK(ra("0.0001") == 1); /* rounded up */
    /* HTTP-dates 30 s after NOW, all three formats */
    CHECK(ra("Sat, 01 Jun 2024 12:00:30 GMT") == 30000);
    CHECK(ra("Saturday, 01-Jun-24 12:00:30 GMT") == 30000);
    CHECK(ra("Sat Jun  1 12:00:30 2024") == 30000);
    CHECK(ra("Sun, 06 Nov 1994 08:49:37 GMT") == 0); /* in the past */
    CHECK(ra("-1") == -1);
    CHECK(ra("") == -1);
    CHECK(ra("   ") == -1);
    CHECK(ra("abc") == -1);
    CHECK(ra("12abc") == -1);
    CHECK(ra("1 2") == -1);
    CHECK(ra("99999999999999999999") == -1);
    CHECK(ra("9999999999999") == -1); /* past the nanosecond range */
    CHECK(ra("1e3") == -1);
    CHECK(ra("5.") == -1);
}

static void test_http_date(void)
{
    CHECK(hdate("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777);
    CHECK(hdate("Sunday, 06-Nov-94 08:49:37 GMT") == 784111777);
    CHECK(hdate("Sun Nov  6 08:49:37 1994") == 784111777);
    CHECK(hdate("Sun Nov 06 08:49:37 1994") == 784111777);
    CHECK(hdate("  Sun, 06 Nov 1994 08:49:37 GMT  ") == 784111777);
    CHECK(hdate("Tue, 29 Feb 2000 00:00:00 GMT") == 951782400);
    CHECK(hdate("Thu, 01 Jan 1970 00:00:00 GMT") == 0);
    /* RFC 850 two-digit years: up to 50 years ahead of NOW (2024) stay ahead, more are past */
    CHECK(hdate("Thursday, 06-Nov-69 08:49:37 GMT") == 3150953377LL);
    CHECK(hdate("Thursday, 06-Nov-75 08:49:37 GMT") == 184495777LL);
    /* garbage */
    CHECK(hdate("Sun, 31 Feb 2024 00:00:00 GMT") == -1);
    CHECK(hdate("Thu, 29 Feb 2001 00:00:00 GMT") == -1);
    CHECK(hdate("Sun, 06 Nov 1994 25:00:00 GMT") == -1);
    CHECK(hdate("Sun, 06 Nov 1994 08:60:00 GMT") == -1);
    CHECK(hdate("Sun, 06 Foo 1994 08:49:37 GMT") == -1);
    CHECK(hdate("Sun, 06 Nov 1994 08:49:37 PST") == -1);
    CHECK(hdate("Sun, 06 Nov 1994 08:49:37 GMT junk") == -1);
    CHECK(hdate("Sun, 06 Nov 94 08:49:37 GMT") == -1);
    CHECK(hdate("Sun, 06 Nov 1994 08:49 GMT") == -1);
    CHECK(hdate("Xyz, 06 Nov 1994 08:49:37 GMT") == -1);
    CHECK(hdate("Sunday, 06-Nov-1994 08:49:37 GMT") == -1);
    CHECK(hdate("Sun Nov  6 08:49:37") == -1);
    CHECK(hdate("") == -1);
    CHECK(hdate("1994-11-06") == -1);
}

static void test_duration(void)
{
    CHECK(dur("6m0s") == 360000);
    CHECK(dur("1s") == 1000);
    CHECK(dur("12ms") == 12);
    CHECK(dur("1h2m3.5s") == 3723500);
    CHECK(dur("0.5s") == 500);
    CHECK(dur(".5s") == 500);
    CHECK(dur("0") == 0);
    CHECK(dur("0s") == 0);
    CHECK(dur("2m59.56s") == 179560);
    CHECK(dur("1.5us") == 1); /* rounded up to a whole ms */
    CHECK(dur("1\xc2\xb5s") == 1);
    CHECK(dur("100ns") == 1);
    CHECK(dur("1500000ns") == 2);
    CHECK(dur("1m30s") == 90000);
    CHECK(dur("20") == 20000); /* bare number: seconds */
    CHECK(dur("0.25") == 250);
    CHECK(dur(" 7s ") == 7000);
    CHECK(dur("") == -1);
    CHECK(dur("s") == -1);
    CHECK(dur("1x") == -1);
    CHECK(dur("-1s") == -1);
    CHECK(dur("+1s") == -1);
    CHECK(dur("1.s") == -1);
    CHECK(dur("1s2") == -1);
    CHECK(dur("abc") == -1);
    CHECK(dur("1 s") == -1);
    CHECK(dur("1e3s") == -1);
    CHECK(dur("9999999999999999h") == -1);
    CHECK(dur("2562048h") == -1); /* just past int64 nanoseconds */
    CHECK(dur("1.2.3") == -1);
}

static void test_rfc3339(void)
{
    CHECK(r3339("2024-06-01T12:00:30Z") == 1717243230000LL);
    CHECK(r3339("2024-06-01T12:00:30.5Z") == 1717243230500LL);
    CHECK(r3339("2024-06-01T12:00:30.123456789Z") == 1717243230124LL); /* rounded up */
    CHECK(r3339("2024-06-01T14:00:30+02:00") == 1717243230000LL);
    CHECK(r3339("2024-06-01T07:30:30-04:30") == 1717243230000LL);
    CHECK(r3339("2024-06-01t12:00:30z") == 1717243230000LL);
    CHECK(r3339("2024-06-01 12:00:30Z") == 1717243230000LL);
    CHECK(r3339("2024-06-01") == -1);
    CHECK(r3339("2024-13-01T00:00:00Z") == -1);
    CHECK(r3339("2024-02-30T00:00:00Z") == -1);
    CHECK(r3339("2024-06-01T12:00:30") == -1);
    CHECK(r3339("2024-06-01T12:00:30+0200") == -1);
    CHECK(r3339("2024-06-01T12:00:30.Z") == -1);
    CHECK(r3339("2024-06-01T12:00:30Zjunk") == -1);
    CHECK(r3339("yesterday") == -1);
    CHECK(r3339("") == -1);
}

static void test_count(void)
{
    CHECK(count("10000") == 10000);
    CHECK(count(" 42 ") == 42);
    CHECK(count("0") == 0);
    CHECK(count("9223372036854775807") == 9223372036854775807LL);
    CHECK(count("9223372036854775808") == -1);
    CHECK(count("99999999999999999999") == -1);
    CHECK(count("-5") == -1);
    CHECK(count("+5") == -1);
    CHECK(count("10k") == -1);
    CHECK(count("1.5") == -1);
    CHECK(count("") == -1);
    CHECK(count(" ") == -1);
}

static void test_openai_headers(void)
{
    httpmsg_headers_t h;
    httpmsg_headers_init(&h);
    httpmsg_headers_add(&h, "Content-Type", "application/json");
    httpmsg_headers_add(&h, "x-ratelimit-limit-requests", "10000");
    httpmsg_headers_add(&h, "X-RateLimit-Limit-Tokens", "2000000");
    httpmsg_headers_add(&h, "x-ratelimit-remaining-requests", "9999");
    httpmsg_headers_add(&h, "x-ratelimit-remaining-tokens", "1999000");
    httpmsg_headers_add(&h, "x-ratelimit-reset-requests", "6ms");
    httpmsg_headers_add(&h, "x-ratelimit-reset-tokens", "1m30s");
    httpmsg_headers_add(&h, "retry-after", "3");
    rlheaders_t r;
    rlheaders_parse(&r, &h, 200, "{}", 2, NOW);
    CHECK(r.dim[RLH_REQUESTS].limit == 10000);
    CHECK(r.dim[RLH_TOKENS].limit == 2000000);
    CHECK(r.dim[RLH_REQUESTS].remaining == 9999);
    CHECK(r.dim[RLH_TOKENS].remaining == 1999000);
    CHECK(r.dim[RLH_REQUESTS].reset_ms == 6);
    CHECK(r.dim[RLH_TOKENS].reset_ms == 90000);
    CHECK(r.dim[RLH_INPUT_TOKENS].limit == -1);
    CHECK(r.dim[RLH_OUTPUT_TOKENS].reset_ms == -1);
    CHECK(r.retry_after_ms == 3000);
    CHECK(!r.throttled);
    CHECK(r.n_seen == 7);
    CHECK(r.n_invalid == 0);
    CHECK(r.first_invalid[0] == '\0');
    httpmsg_headers_clear(&h);

    /* retry-after-ms wins over Retry-After in either order */
    httpmsg_headers_add(&h, "retry-after-ms", "250");
    httpmsg_headers_add(&h, "Retry-After", "9");
    rlheaders_parse(&r, &h, 429, NULL, 0, NOW);
    CHECK(r.retry_after_ms == 250);
    CHECK(r.throttled);
    httpmsg_headers_clear(&h);
    httpmsg_headers_add(&h, "Retry-After", "9");
    httpmsg_headers_add(&h, "retry-after-ms", "12.5");
    rlheaders_parse(&r, &h, 429, NULL, 0, NOW);
    CHECK(r.retry_after_ms == 13);
    httpmsg_headers_clear(&h);

    /* garbage values: rejected one by one, the rest still read */
    httpmsg_headers_add(&h, "x-ratelimit-limit-requests", "lots");
    httpmsg_headers_add(&h, "x-ratelimit-remaining-requests", "-3");
    httpmsg_headers_add(&h, "x-ratelimit-reset-requests", "soon");
    httpmsg_headers_add(&h, "retry-after", "tomorrow");
    httpmsg_headers_add(&h, "retry-after-ms", "1e3");
    httpmsg_headers_add(&h, "x-ratelimit-limit-tokens", "500");
    httpmsg_headers_add(&h, "x-ratelimit-limit-widgets", "5");      /* unknown dimension: ignored */
    httpmsg_headers_add(&h, "x-ratelimit-bogus-requests", "5");     /* unknown field: ignored */
    httpmsg_headers_add(&h, "x-ratelimit-limit-input-tokens", "5"); /* not an OpenAI dimension */
    rlheaders_parse(&r, &h, 200, NULL, 0, NOW);
    CHECK(r.dim[RLH_REQUESTS].limit == -1);
    CHECK(r.dim[RLH_REQUESTS].remaining == -1);
    CHECK(r.dim[RLH_REQUESTS].reset_ms == -1);
    CHECK(r.retry_after_ms == -1);
    CHECK(r.dim[RLH_TOKENS].limit == 500);
    CHECK(r.dim[RLH_INPUT_TOKENS].limit == -1);
    CHECK(r.n_invalid == 5);
    CHECK(r.n_seen == 6);
    CHECK(strcmp(r.first_invalid, "x-ratelimit-limit-requests") == 0);
    httpmsg_headers_clear(&h);
}

static void test_anthropic_headers(void)
{
    httpmsg_headers_t h;
    httpmsg_headers_init(&h);
    httpmsg_headers_add(&h, "anthropic-ratelimit-requests-limit", "50");
    httpmsg_headers_add(&h, "anthropic-ratelimit-requests-remaining", "49");
    httpmsg_headers_add(&h, "anthropic-ratelimit-requests-reset", "2024-06-01T12:00:30Z");
    httpmsg_headers_add(&h, "anthropic-ratelimit-tokens-limit", "80000");
    httpmsg_headers_add(&h, "anthropic-ratelimit-tokens-remaining", "79000");
    httpmsg_headers_add(&h, "anthropic-ratelimit-tokens-reset", "2024-06-01T12:00:01.5Z");
    httpmsg_headers_add(&h, "Anthropic-RateLimit-Input-Tokens-Limit", "40000");
    httpmsg_headers_add(&h, "anthropic-ratelimit-input-tokens-remaining", "39500");
    httpmsg_headers_add(&h, "anthropic-ratelimit-input-tokens-reset", "2024-06-01T11:59:00Z"); /* past */
    httpmsg_headers_add(&h, "anthropic-ratelimit-output-tokens-limit", "8000");
    httpmsg_headers_add(&h, "anthropic-ratelimit-output-tokens-remaining", "7500");
    httpmsg_headers_add(&h, "anthropic-ratelimit-output-tokens-reset", "2024-06-01T14:00:10+02:00");
    httpmsg_headers_add(&h, "retry-after", "7");
    rlheaders_t r;
    rlheaders_parse(&r, &h, 429, "{\"type\":\"error\"}", 16, NOW);
    CHECK(r.dim[RLH_REQUESTS].limit == 50);
    CHECK(r.dim[RLH_REQUESTS].remaining == 49);
    CHECK(r.dim[RLH_REQUESTS].reset_ms == 30000);
    CHECK(r.dim[RLH_TOKENS].limit == 80000);
    CHECK(r.dim[RLH_TOKENS].remaining == 79000);
    CHECK(r.dim[RLH_TOKENS].reset_ms == 1500);
    CHECK(r.dim[RLH_INPUT_TOKENS].limit == 40000);
    CHECK(r.dim[RLH_INPUT_TOKENS].remaining == 39500);
    CHECK(r.dim[RLH_INPUT_TOKENS].reset_ms == 0);
    CHECK(r.dim[RLH_OUTPUT_TOKENS].limit == 8000);
    CHECK(r.dim[RLH_OUTPUT_TOKENS].remaining == 7500);
    CHECK(r.dim[RLH_OUTPUT_TOKENS].reset_ms == 10000);
    CHECK(r.retry_after_ms == 7000);
    CHECK(r.throttled);
    CHECK(r.n_invalid == 0);
    CHECK(r.n_seen == 13);
    httpmsg_headers_clear(&h);

    httpmsg_headers_add(&h, "anthropic-ratelimit-requests-reset", "6m0s"); /* not a timestamp */
    httpmsg_headers_add(&h, "anthropic-ratelimit-tokens-limit", "many");
    httpmsg_headers_add(&h, "anthropic-ratelimit-requests", "5");      /* no field */
    httpmsg_headers_add(&h, "anthropic-ratelimit-widgets-limit", "5"); /* unknown dimension */
    rlheaders_parse(&r, &h, 200, NULL, 0, NOW);
    CHECK(r.dim[RLH_REQUESTS].reset_ms == -1);
    CHECK(r.dim[RLH_TOKENS].limit == -1);
    CHECK(r.n_invalid == 2);
    CHECK(r.n_seen == 2);
    CHECK(strcmp(r.first_invalid, "anthropic-ratelimit-requests-reset") == 0);
    httpmsg_headers_clear(&h);
}

static void test_bedrock(void)
{
    httpmsg_headers_t h;
    httpmsg_headers_init(&h);
    rlheaders_t r;
    httpmsg_headers_add(&h, "x-amzn-ErrorType",
                        "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/");
    rlheaders_parse(&r, &h, 400, NULL, 0, NOW);
    CHECK(r.throttled);
    httpmsg_headers_clear(&h);
    httpmsg_headers_add(&h, "X-Amzn-ErrorType", "ThrottlingException");
    rlheaders_parse(&r, &h, 400, NULL, 0, NOW);
    CHECK(r.throttled);
    httpmsg_headers_clear(&h);
    httpmsg_headers_add(&h, "x-amzn-ErrorType", "ValidationException:http://internal.amazon.com/");
    rlheaders_parse(&r, &h, 400, NULL, 0, NOW);
    CHECK(!r.throttled);
    httpmsg_headers_clear(&h);
    httpmsg_headers_add(&h, "x-amzn-ErrorType", "ThrottlingExceptionally");
    rlheaders_parse(&r, &h, 400, NULL, 0, NOW);
    CHECK(!r.throttled);
    httpmsg_headers_clear(&h);

    const char *b1 = "{\"__type\":\"ThrottlingException\",\"message\":\"Rate exceeded\"}";
    rlheaders_parse(&r, &h, 400, b1, strlen(b1), NOW);
    CHECK(r.throttled);
    const char *b2 = "{\"message\":\"Too many requests, please wait before trying again.\"}";
    rlheaders_parse(&r, &h, 400, b2, strlen(b2), NOW);
    CHECK(r.throttled);
    /* a successful reply that merely mentions the words is not a throttle */
    rlheaders_parse(&r, &h, 200, b2, strlen(b2), NOW);
    CHECK(!r.throttled);
    const char *b3 = "{\"message\":\"Malformed input request\"}";
    rlheaders_parse(&r, &h, 400, b3, strlen(b3), NOW);
    CHECK(!r.throttled);
    rlheaders_parse(&r, NULL, 503, NULL, 0, NOW);
    CHECK(!r.throttled);
    CHECK(r.retry_after_ms == -1);
}

static void test_names(void)
{
    CHECK(strcmp(rlheaders_dim_name(RLH_REQUESTS), "requests") == 0);
    CHECK(strcmp(rlheaders_dim_name(RLH_OUTPUT_TOKENS), "output-tokens") == 0);
    CHECK(strcmp(rlheaders_dim_name(RLH_N_DIMS), "?") == 0);
    rlheaders_t r;
    rlheaders_init(&r);
    rlheaders_feed(&r, "Retry-After", "Sat, 01 Jun 2024 12:01:00 GMT", NOW);
    CHECK(r.retry_after_ms == 60000);
    rlheaders_feed(&r, "X-Unrelated", "5", NOW);
    CHECK(r.n_seen == 1);
}

int main(void)
{
    test_retry_after();
    test_http_date();
    test_duration();
    test_rfc3339();
    test_count();
    test_openai_headers();
    test_anthropic_headers();
    test_bedrock();
    test_names();
    return check_summary("test_rlheaders");
}
