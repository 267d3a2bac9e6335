/* seed_wire: writes the seed corpus of fuzz_wire (tests/fuzz/corpus/wire) from the real
 * encoders, plus hand-made MessagePack that the encoders never produce but other peers may
 * (nil fields, unknown keys, float32 and integer numbers) and a few malformed frames. Run it
 * again when the wire format changes:
 *
 *   build-asan/tests/fuzz_seed_wire tests/fuzz/corpus/wire
 *
 * Not a test: the corpus it writes is checked in, and fuzz_wire replays it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "wire.h"

static const char *dir;
static int failed;

static void put(const char *name, const void *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "seed_wire: cannot write %s: %s\n", path, strerror(errno));
        failed = 1;
    }
}

static void put_buf(const char *name, buf_t *b, int rc)
{
    if (rc < 0) {
        fprintf(stderr, "seed_wire: %s did not encode\n", name);
        failed = 1;
    } else {
        put(name, b->data, b->len);
    }
    buf_free(b);
}

/* A string literal's bytes, without its terminating NUL. */
#define PUT_LIT(name, lit) put(name, lit, sizeof(lit) - 1)

/* A tiny MessagePack writer for the hand-made seeds. */
static void mp_raw(buf_t *b, const void *p, size_t n)
{
    if (buf_append(b, p, n) < 0) failed = 1;
}

static void mp_byte(buf_t *b, unsigned c)
{
    unsigned char x = (unsigned char)c;
    mp_raw(b, &x, 1);
}

static void mp_str(buf_t *b, const char *s)
{
    size_t n = strlen(s);
    if (n < 32) {
        mp_byte(b, 0xa0 | (unsigned)n);
    } else {
        mp_byte(b, 0xd9);
        mp_byte(b, (unsigned)n);
    }
    mp_raw(b, s, n);
}

static void headers(void)
{
    static const struct {
        const char *name;
        wire_hdr_t h;
    } hs[] = {
        {"hdr-hello", {.type = WIRE_HELLO, .role = "worker", .name = "worker-1", .n = 8, .threads = 4}},
        {"hdr-hello-scheduler", {.type = WIRE_HELLO, .role = "scheduler", .name = "sched-1"}},
        {"hdr-welcome", {.type = WIRE_WELCOME, .name = "broker-1-abc", .heartbeat_ms = 1000, .n = 3}},
        {"hdr-heartbeat", {.type = WIRE_HEARTBEAT, .n = 2}},
        {"hdr-credit", {.type = WIRE_CREDIT, .n = 1}},
        {"hdr-submit", {.type = WIRE_SUBMIT, .job_id = "job-20250101-abcdef", .shard_id = 7}},
        {"hdr-shard", {.type = WIRE_SHARD, .job_id = "j", .shard_id = 1, .lease = 99, .n = 2}},
        {"hdr-result", {.type = WIRE_RESULT, .job_id = "j", .shard_id = 1, .lease = 0xffffffffffULL}},
        {"hdr-shard-done", {.type = WIRE_SHARD_DONE, .job_id = "j", .shard_id = UINT64_MAX, .lease = 1, .n = 64}},
        {"hdr-cancel", {.type = WIRE_CANCEL, .job_id = "j"}},
        {"hdr-demand", {.type = WIRE_DEMAND}},
        {"hdr-allot", {.type = WIRE_ALLOT}},
        {"hdr-bye", {.type = WIRE_BYE}},
    };
    for (size_t i = 0; i < sizeof hs / sizeof *hs; i++) {
        buf_t b;
        buf_init(&b, 0);
        put_buf(hs[i].name, &b, wire_hdr_encode(&hs[i].h, &b));
    }
    /* Hand-made: nil and unknown fields (skipped), another encoder's wider integers. */
    buf_t b;
    buf_init(&b, 0);
    mp_byte(&b, 0x93);
    mp_byte(&b, 0x01);
    mp_byte(&b, 0x01);
    mp_byte(&b, 0x85);
    mp_str(&b, "role");
    mp_str(&b, "worker");
    mp_str(&b, "name");
    mp_byte(&b, 0xc0);
    mp_str(&b, "future");
    mp_byte(&b, 0x92);
    mp_byte(&b, 0x81);
    mp_str(&b, "k");
    mp_byte(&b, 0xca);
    mp_raw(&b, "\x3f\x80\x00\x00", 4);
    mp_byte(&b, 0xc4);
    mp_byte(&b, 0x02);
    mp_raw(&b, "\x00\x01", 2);
    mp_str(&b, "threads");
    mp_byte(&b, 0xce);
    mp_raw(&b, "\x00\x00\x00\x10", 4);
    mp_str(&b, "n");
    mp_byte(&b, 0xd0);
    mp_byte(&b, 0x05);
    put("hdr-handmade-nil-unknown", b.data, b.len);
    buf_free(&b);
    /* Malformed: version 2, a repeated key, a truncated frame, too deep. */
    PUT_LIT("bad-hdr-version2", "\x93\x02\x01\x80");
    PUT_LIT("bad-hdr-repeated-key", "\x93\x01\x04\x82\xa1n\x01\xa1n\x02");
    PUT_LIT("bad-hdr-truncated", "\x93\x01\x06\x83\xa3job\xa1j\xa5shard\x01\xa5le");
    PUT_LIT("bad-hdr-deep", "\x93\x01\x04\x81\xa1x\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x01");
    PUT_LIT("bad-hdr-huge-count", "\x93\x01\x04\xdf\x7f\xff\xff\xff\xa1n");
}

static void shards(void)
{
    record_response_t resps[2] = {{.response = "Paris.", .model_identifier = "my-model"},
                                  {.response = "Lyon? \xe2\x9c\x93", .model_identifier = NULL}};
    record_t recs[3] = {
        {.index = 0,
         .id = "q-1",
         .prompt = "What is the capital of France?",
         .reference = "Paris",
         .context = "Geography quiz",
         .category = "geo",
         .responses = resps,
         .n_responses = 2},
        {.index = 1, .prompt = "2+2?"},
        {.index = UINT64_MAX, .id = "42", .prompt = "line\nbreak \"quoted\"", .category = ""},
    };
    const char *spec = "{\"evaluator_model\":\"anthropic/claude-judge-mock\",\"builtin_metrics\":[\"Correctness\"]}";
    buf_t b;
    buf_init(&b, 0);
    put_buf("shard-three-records", &b, wire_shard_encode(spec, recs, 3, &b));
    buf_init(&b, 0);
    put_buf("shard-no-records", &b, wire_shard_encode("{}", NULL, 0, &b));
    /* Hand-made: unknown keys at both levels, nil optional fields. */
    buf_init(&b, 0);
    mp_byte(&b, 0x83);
    mp_str(&b, "spec");
    mp_str(&b, "{}");
    mp_str(&b, "extra");
    mp_byte(&b, 0xc3);
    mp_str(&b, "recs");
    mp_byte(&b, 0x91);
    mp_byte(&b, 0x84);
    mp_str(&b, "prompt");
    mp_str(&b, "p");
    mp_str(&b, "ref");
    mp_byte(&b, 0xc0);
    mp_str(&b, "idx");
    mp_byte(&b, 0xcd);
    mp_raw(&b, "\x01\x00", 2);
    mp_str(&b, "x-new");
    mp_byte(&b, 0x90);
    put("shard-handmade-unknown-nil", b.data, b.len);
    buf_free(&b);
    PUT_LIT("bad-shard-nul-in-string", "\x82\xa4spec\xa3{\x00}\xa4recs\x90");
    PUT_LIT("bad-shard-missing-prompt", "\x82\xa4spec\xa2{}\xa4recs\x91\x81\xa3idx\x01");
}

static void results(void)
{
    score_t scores[4] = {
        {.metric = "Correctness",
         .status = SCORE_OK,
         .rating = "correct",
         .has_score = true,
         .score = 2,
         .normalized = 1,
         .explanation = "It is right.",
         .usage = {120, 30},
         .attempts = 1},
        {.metric = "Helpfulness", .status = SCORE_UNSCORED, .error = "no rating after a re-ask", .attempts = 2},
        {.metric = "FollowingInstructions", .status = SCORE_NOT_APPLICABLE, .rating = "Not applicable", .attempts = 1},
        {.metric = "Tone", .status = SCORE_ERROR, .error = "judge call failed: HTTP 500", .score = -0.0},
    };
    result_t r = {.job_id = "job-1",
                  .shard_id = 3,
                  .record_index = 17,
                  .target = TARGET_BASE,
                  .model = "openai/gpt-4o",
                  .response = "Paris.",
                  .usage = {10, 2},
                  .latency_ms = 1234.5,
                  .scores = scores,
                  .n_scores = 4};
    buf_t b;
    buf_init(&b, 0);
    put_buf("result-four-scores", &b, wire_result_encode(&r, &b));
    result_t err = {.job_id = "j", .error = "inference failed: timeout", .response_from_dataset = true};
    buf_init(&b, 0);
    put_buf("result-error", &b, wire_result_encode(&err, &b));
    /* Hand-made: float32 and integer numbers, where our encoder writes float64. */
    buf_init(&b, 0);
    mp_byte(&b, 0x83);
    mp_str(&b, "job");
    mp_str(&b, "j");
    mp_str(&b, "lat_ms");
    mp_byte(&b, 0xca);
    mp_raw(&b, "\x41\x20\x00\x00", 4);
    mp_str(&b, "scores");
    mp_byte(&b, 0x91);
    mp_byte(&b, 0x83);
    mp_str(&b, "metric");
    mp_str(&b, "m");
    mp_str(&b, "score");
    mp_byte(&b, 0xd0);
    mp_byte(&b, 0xfe);
    mp_str(&b, "norm");
    mp_byte(&b, 0x01);
    put("result-handmade-numbers", b.data, b.len);
    buf_free(&b);
    PUT_LIT("bad-result-nan", "\x82\xa3job\xa1j\xa6lat_ms\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00");
    PUT_LIT("bad-result-status", "\x82\xa3job\xa1j\xa6scores\x91\x82\xa6metric\xa1m\xa6status\x04");
}

static void rates(void)
{
    wire_rate_t rows[2] = {
        {.key = "openai|gpt-4o|https://api.openai.com|abc",
         .rpm = 500,
         .tpm = 30000,
         .demand = 12,
         .max_concurrency = 8,
         .used_requests = 40,
         .used_tokens = 12000},
        {.key = "bedrock|anthropic.claude|us-east-1|def", .rpm = 0, .tpm = 0.5},
    };
    buf_t b;
    buf_init(&b, 0);
    put_buf("rates-two-rows", &b, wire_rates_encode(rows, 2, &b));
    buf_init(&b, 0);
    put_buf("rates-empty", &b, wire_rates_encode(NULL, 0, &b));
    PUT_LIT("bad-rates-negative", "\x91\x82\xa3key\xa1k\xa3rpm\xff");
    PUT_LIT("bad-rates-trailing", "\x90\x90");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    dir = argv[1];
    headers();
    shards();
    results();
    rates();
    return failed;
}
