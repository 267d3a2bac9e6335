/* test_record: the rules of one dataset line. */
#include "record.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "testutil.h"

/* Parses `line`; returns 0/-1 and leaves the messages in *e (caller frees). */
static int parse(const char *line, record_t *r, errlist_t *e)
{
    errlist_init(e, 0);
    return record_parse_line(line, strlen(line), "data.jsonl", 7, 3, r, e);
}

/* Expects `line` to fail with a message containing `needle` (and exactly n messages if n > 0). */
static int fails(const char *line, const char *needle, size_t n)
{
    record_t r;
    errlist_t e;
    int rc = parse(line, &r, &e);
    int good = rc < 0 && errs_have(&e, needle) && (n == 0 || e.count == n);
    if (!good) fprintf(stderr, "  line %s: rc %d, %zu messages\n", line, rc, e.count);
    if (rc == 0) record_clear(&r);
    CHECK(r.prompt == NULL && r.responses == NULL); /* nothing to free on failure */
    errlist_free(&e);
    return good;
}

static void test_valid(void)
{
    record_t r;
    errlist_t e;
    CHECK(parse("{\"prompt\": \"What is ML?\"}", &r, &e) == 0);
    CHECK(e.count == 0);
    CHECK(strcmp(r.prompt, "What is ML?") == 0);
    CHECK(r.index == 3);
    CHECK(!r.id && !r.reference && !r.context && !r.category && !r.responses && r.n_responses == 0);
    char *id = record_id_text(&r);
    CHECK(strcmp(id, "3") == 0);
    free(id);
    record_clear(&r);
    errlist_free(&e);

    CHECK(parse("{\"query\":\"q\",\"ground_truth\":\"g\",\"category\":\"math\",\"context\":\"c\",\"id\":\"a-1\","
                "\"extra\":[1,2,{\"x\":null}],\"modelResponses\":[{\"response\":\"r1\",\"modelIdentifier\":\"m1\"},"
                "{\"response\":\"\"}]}",
                &r, &e) == 0);
    CHECK(strcmp(r.prompt, "q") == 0);
    CHECK(strcmp(r.reference, "g") == 0);
    CHECK(strcmp(r.category, "math") == 0);
    CHECK(strcmp(r.context, "c") == 0);
    CHECK(strcmp(r.id, "a-1") == 0);
    CHECK(r.n_responses == 2);
    CHECK(strcmp(r.responses[0].response, "r1") == 0);
    CHECK(strcmp(r.responses[0].model_identifier, "m1") == 0);
    CHECK(strcmp(r.responses[1].response, "") == 0);
    CHECK(r.responses[1].model_identifier == NULL);
    id = record_id_text(&r);
    CHECK(strcmp(id, "a-1") == 0);
    free(id);

    record_t c;
    record_copy(&c, &r);
    record_clear(&r);
    CHECK(strcmp(c.prompt, "q") == 0 && c.index == 3 && c.n_responses == 2);
    CHECK(strcmp(c.responses[0].model_identifier, "m1") == 0 && strcmp(c.id, "a-1") == 0);
    record_clear(&c);
    CHECK(c.prompt == NULL && c.n_responses == 0);
    errlist_free(&e);

    /* each alias of the reference, integer ids, nulls as absent, equal aliases, trailing space */
    const char *aliases[] = {"referenceResponse", "reference", "ground_truth", "answer"};
    for (size_t i = 0; i < 4; i++) {
        char line[128];
        snprintf(line, sizeof(line), "{\"prompt\":\"p\",\"%s\":\"R\"}", aliases[i]);
        CHECK(parse(line, &r, &e) == 0 && r.reference && strcmp(r.reference, "R") == 0);
        record_clear(&r);
        errlist_free(&e);
    }
    CHECK(parse("{\"prompt\":\"p\",\"id\":42}", &r, &e) == 0 && strcmp(r.id, "42") == 0);
    record_clear(&r);
    errlist_free(&e);
    CHECK(parse("{\"prompt\":\"p\",\"id\":-7}", &r, &e) == 0 && strcmp(r.id, "-7") == 0);
    record_clear(&r);
    errlist_free(&e);
    CHECK(parse("{\"prompt\":\"p\",\"id\":1e3}", &r, &e) == 0 && strcmp(r.id, "1000") == 0);
    record_clear(&r);
    errlist_free(&e);
    CHECK(parse("{\"prompt\":\"p\",\"reference\":\"x\",\"answer\":\"x\",\"category\":null,\"context\":null,"
                "\"id\":null,\"modelResponses\":null}  \t",
                &r, &e) == 0);
    CHECK(strcmp(r.reference, "x") == 0 && !r.category && !r.context && !r.id && !r.responses);
    record_clear(&r);
    errlist_free(&e);
    CHECK(parse("{\"prompt\":\"p\",\"query\":\"p\"}", &r, &e) == 0);
    record_clear(&r);
    errlist_free(&e);
    CHECK(parse("{\"prompt\":\"caf\\u00e9 \xe2\x9c\x93\"}", &r, &e) == 0 &&
          strcmp(r.prompt, "caf\xc3\xa9 \xe2\x9c\x93") == 0);
    record_clear(&r);
    errlist_free(&e);
    /* the line is only `len` bytes: what follows is not read */
    errlist_init(&e, 0);
    const char *two = "{\"prompt\":\"a\"}{\"prompt\":\"b\"}";
    CHECK(record_parse_line(two, 14, "f", 1, 0, &r, &e) == 0 && strcmp(r.prompt, "a") == 0);
    record_clear(&r);
    errlist_free(&e);
    /* 16 responses is the limit */
    char big[2048] = "{\"prompt\":\"p\",\"modelResponses\":[";
    for (int i = 0; i < 16; i++) strcat(big, i ? ",{\"response\":\"r\"}" : "{\"response\":\"r\"}");
    strcat(big, "]}");
    CHECK(parse(big, &r, &e) == 0 && r.n_responses == 16);
    record_clear(&r);
    errlist_free(&e);
}

static void test_invalid(void)
{
    CHECK(fails("{\"prompt\": 5}", "data.jsonl:7: key `prompt` must be a string, got number", 1));
    CHECK(fails("{\"category\": \"x\"}", "data.jsonl:7: missing key `prompt`", 1));
    CHECK(fails("{}", "missing key `prompt`", 1));
    CHECK(fails("{\"prompt\": \"  \\n\\t \"}", "key `prompt` is empty", 1));
    CHECK(fails("{\"query\": \"\"}", "key `query` is empty", 1));
    CHECK(fails("{\"prompt\": \"a\", \"query\": \"b\"}", "keys `prompt` and `query`", 1));
    CHECK(
        fails("{\"prompt\": \"p\", \"category\": 3}", "data.jsonl:7: key `category` must be a string, got number", 1));
    CHECK(fails("{\"prompt\": \"p\", \"context\": []}", "key `context` must be a string, got array", 1));
    CHECK(fails("{\"prompt\": \"p\", \"reference\": true}", "key `reference` must be a string, got boolean", 1));
    CHECK(fails("{\"prompt\": \"p\", \"referenceResponse\": {}}",
                "key `referenceResponse` must be a string, got object", 1));
    CHECK(fails("{\"prompt\": \"p\", \"reference\": \"a\", \"answer\": \"b\"}", "keys `reference` and `answer`", 1));
    CHECK(fails("{\"prompt\": \"p\", \"ground_truth\": \"a\", \"referenceResponse\": \"b\"}",
                "keys `referenceResponse` and `ground_truth`", 1));
    CHECK(fails("{\"prompt\": \"p\", \"id\": 1.5}", "key `id` must be a string or an integer, got number 1.5", 1));
    CHECK(fails("{\"prompt\": \"p\", \"id\": true}", "key `id` must be a string or an integer, got boolean", 1));
    CHECK(fails("{\"prompt\": \"p\", \"id\": \"\"}", "key `id` must not be empty", 1));
    CHECK(fails("{\"prompt\": \"p\", \"id\": 1e300}", "beyond 2^53", 1));
    CHECK(fails("{\"prompt\": \"p\", \"modelResponses\": \"r\"}", "key `modelResponses` must be an array, got string",
                1));
    CHECK(fails("{\"prompt\": \"p\", \"modelResponses\": []}", "must have 1 to 16 entries, got 0", 1));
    char big[2048] = "{\"prompt\":\"p\",\"modelResponses\":[";
    for (int i = 0; i < 17; i++) strcat(big, i ? ",{\"response\":\"r\"}" : "{\"response\":\"r\"}");
    strcat(big, "]}");
    CHECK(fails(big, "must have 1 to 16 entries, got 17", 1));
    CHECK(fails("{\"prompt\": \"p\", \"modelResponses\": [\"r\"]}",
                "key `modelResponses[0]` must be an object, got string", 1));
    CHECK(fails("{\"prompt\": \"p\", \"modelResponses\": [{\"response\":\"a\"},{}]}",
                "key `modelResponses[1].response` is missing", 1));
    CHECK(fails("{\"prompt\": \"p\", \"modelResponses\": [{\"response\":1}]}",
                "key `modelResponses[0].response` must be a string, got number", 1));
    CHECK(fails("{\"prompt\": \"p\", \"modelResponses\": [{\"response\":\"a\",\"modelIdentifier\":2}]}",
                "key `modelResponses[0].modelIdentifier` must be a string, got number", 1));
    CHECK(fails("{\"prompt\": \"p\", \"prompt\": \"q\"}", "key `prompt` appears more than once", 1));

    /* several problems on one line: each is its own message */
    CHECK(fails("{\"prompt\": 1, \"category\": 2, \"context\": 3, \"id\": [], \"modelResponses\": {}}",
                "key `category` must be a string, got number", 5));
    CHECK(fails("{\"prompt\": 1, \"category\": 2, \"context\": 3, \"id\": [], \"modelResponses\": {}}",
                "key `modelResponses` must be an array, got object", 5));
    CHECK(fails("{\"category\": 2, \"context\": 3}", "missing key `prompt`", 3));

    /* not JSON, not an object, trailing bytes */
    CHECK(fails("{\"prompt\": \"p\"", "data.jsonl:7: not valid JSON (", 1));
    CHECK(fails("{\"prompt\": \"p\"", "(the line ends before the object is complete, near column 15)", 1));
    CHECK(fails("{\"prompt\": }", "not valid JSON (unexpected `}` near column 12)", 1));
    CHECK(fails("{'prompt': 'p'}", "not valid JSON (unexpected `", 1));
    CHECK(fails("{\"prompt\": \"p\",", "the line ends before the object is complete", 1));
    CHECK(fails("{\"prompt\": \"p\", \"id\": 1", "the line ends before the object is complete", 1));
    CHECK(fails("", "the line ends before", 1));
    CHECK(fails("not json", "not valid JSON", 1));
    CHECK(fails("{\"prompt\": \"p\"} x", "not valid JSON (unexpected `x` after the object near column 17)", 1));
    CHECK(fails("{\"prompt\": \"p\"}{}", "after the object", 1));
    CHECK(fails("[{\"prompt\": \"p\"}]", "expected a JSON object, got array", 1));
    CHECK(fails("\"prompt\"", "expected a JSON object, got string", 1));
    CHECK(fails("42", "expected a JSON object, got number", 1));

    record_t r;
    errlist_t e;
    errlist_init(&e, 0);
    const char nul[] = "{\"prompt\": \"a\0b\"}";
    CHECK(record_parse_line(nul, sizeof(nul) - 1, "f.jsonl", 2, 0, &r, &e) < 0);
    CHECK(errs_have(&e, "f.jsonl:2: contains a NUL byte at column 14"));
    errlist_free(&e);
}

/* "\u0000" would cut a text short inside cJSON: an error naming FILE:LINE and the field. */
static void test_nul_escapes(void)
{
    CHECK(fails("{\"prompt\": \"What is\\u0000 ML?\"}",
                "data.jsonl:7: key `prompt` contains a NUL character (\\u0000), which would cut the text short", 1));
    CHECK(fails("{\"query\": \"q\", \"context\": \"\\u0000\"}", "data.jsonl:7: key `context` contains a NUL", 1));
    CHECK(fails("{\"prompt\": \"p\", \"answer\": \"a\\u0000\", \"category\": \"\\u0000c\"}", "key `answer`", 2));
    CHECK(fails("{\"prompt\": \"p\", \"answer\": \"a\\u0000\", \"category\": \"\\u0000c\"}", "key `category`", 2));
    CHECK(fails("{\"prompt\": \"p\", \"id\": \"x\\u0000\"}", "key `id` contains a NUL", 1));
    CHECK(fails("{\"prompt\": \"p\", \"modelResponses\": [{\"response\": \"fine\"}, {\"modelIdentifier\": \"m\", "
                "\"response\": \"cut\\u0000here\"}]}",
                "key `modelResponses[1].response` contains a NUL character", 1));
    CHECK(fails("{\"prompt\": \"p\", \"modelResponses\": [{\"response\": \"r\", \"modelIdentifier\": \"m\\u0000\"}]}",
                "key `modelResponses[0].modelIdentifier`", 1));
    CHECK(fails("{\"prompt\\u0000x\": \"p\"}", "a key contains a NUL character", 0));
    /* every text field llmaj reads, each alias included: FILE:LINE and the key */
    static const char *const fields[] = {"referenceResponse", "reference", "ground_truth", "answer", "category",
                                         "context",           "id"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        char line[256], needle[128];
        snprintf(line, sizeof line, "{\"prompt\": \"p\", \"%s\": \"x\\u0000y\"}", fields[i]);
        snprintf(needle, sizeof needle, "data.jsonl:7: key `%s` contains a NUL character", fields[i]);
        CHECK(fails(line, needle, 1));
    }
    CHECK(fails("{\"query\": \"q\\u0000\"}", "data.jsonl:7: key `query` contains a NUL character", 0));
    /* not a NUL: an escaped backslash before u0000, other \u escapes, columns llmaj does not read */
    record_t r;
    errlist_t e;
    CHECK(parse("{\"prompt\": \"C:\\\\u0000 and \\u00e9\\u0001\", \"extra\": \"\\u0000\", \"more\": [\"\\u0000\"]}", &r,
                &e) == 0);
    CHECK(e.count == 0 && r.prompt && strcmp(r.prompt, "C:\\u0000 and \xc3\xa9\x01") == 0);
    record_clear(&r);
    errlist_free(&e);
}

/* record_response_for: a response naming the target's model wins; else the position-th of the
 * unnamed ones, one naming the other target's model not counting. */
static void test_response_for(void)
{
    record_response_t rs[] = {{"a", NULL}, {"b", "base-m"}, {"c", NULL}, {"d", "ft-m"}};
    record_t r = {.prompt = "p", .responses = rs, .n_responses = 4};
    CHECK(record_response_for(&r, "ft-m", "base-m", 0) == &rs[3]);
    CHECK(record_response_for(&r, "base-m", "ft-m", 1) == &rs[1]);
    CHECK(record_response_for(&r, "other", NULL, 0) == &rs[0]);
    CHECK(record_response_for(&r, "other", "base-m", 1) == &rs[2]); /* b names the base: not counted */
    CHECK(record_response_for(&r, "other", NULL, 1) == &rs[1]);     /* b names no target here: counted */
    CHECK(record_response_for(&r, NULL, NULL, 3) == &rs[3]);
    CHECK(record_response_for(&r, "ft-m", "base-m", 2) == &rs[3]);
    r.n_responses = 2;
    CHECK(record_response_for(&r, "x", "base-m", 1) == NULL);
    r.n_responses = 0;
    CHECK(record_response_for(&r, "ft-m", NULL, 0) == NULL);
}

int main(void)
{
    test_response_for();
    test_valid();
    test_invalid();
    test_nul_escapes();
    return check_summary("test_record");
}
