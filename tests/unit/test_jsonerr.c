/* test_jsonerr: whole-text parsing (blanks after a value, text after it, a NUL that ends the text),
 * where cJSON's failures are placed, and telling a cut-off text from a bad last byte. */
#include "jsonerr.h"

#include <stdbool.h>
#include <string.h>

#include "check.h"

/* Parses s (its strlen) and expects a failure at pos, after a complete value or not. */
static bool fails_at(const char *s, size_t pos, bool after)
{
    jsonerr_t e = {.pos = 999, .after = !after};
    cJSON *j = jsonerr_parse(s, strlen(s), &e);
    bool good = j == NULL && e.pos == pos && e.after == after;
    if (!good) fprintf(stderr, "  %s: %s, pos %zu, after %d\n", s, j ? "parsed" : "failed", e.pos, e.after);
    cJSON_Delete(j);
    return good;
}

/* The failure on s is placed at its end (a cut-off text) or not. */
static bool cut_off(const char *s)
{
    jsonerr_t e;
    size_t len = strlen(s);
    cJSON *j = jsonerr_parse(s, len, &e);
    bool at_end = j == NULL && !e.after && jsonerr_at_end(s, len, e.pos);
    cJSON_Delete(j);
    return at_end;
}

static void test_parse(void)
{
    jsonerr_t e = {0};
    cJSON *j = jsonerr_parse("{\"a\": 1}", 8, &e);
    CHECK(cJSON_IsObject(j) && cJSON_GetObjectItemCaseSensitive(j, "a")->valueint == 1);
    cJSON_Delete(j);
    j = jsonerr_parse("[1, 2] \t\r\n ", 11, &e);
    CHECK(cJSON_IsArray(j) && cJSON_GetArraySize(j) == 2);
    cJSON_Delete(j);
    j = jsonerr_parse("  \"s\"", 5, &e);
    CHECK(cJSON_IsString(j) && strcmp(j->valuestring, "s") == 0);
    cJSON_Delete(j);
    /* only len bytes count; a NUL ends the text */
    j = jsonerr_parse("{\"a\": 1}garbage", 8, &e);
    CHECK(cJSON_IsObject(j));
    cJSON_Delete(j);
    j = jsonerr_parse("{\"a\": 1}\n\0junk", 14, &e);
    CHECK(cJSON_IsObject(j));
    cJSON_Delete(j);

    /* text after a complete value: its first byte past the blanks */
    CHECK(fails_at("{\"a\": 1} x", 9, true));
    CHECK(fails_at("{\"a\": 1}}", 8, true));
    CHECK(fails_at("1 2", 2, true));
    CHECK(fails_at("{} \f", 3, true)); /* a form feed is not a JSON blank */
    /* a bad token: where cJSON stopped */
    CHECK(fails_at("{\"a\": tru}", 6, false));
    CHECK(fails_at("{\"a\" 1}", 5, false));
    CHECK(fails_at("[1,,2]", 3, false));
    CHECK(fails_at("x", 0, false));
    /* cJSON places an unterminated string just after its opening quote */
    CHECK(fails_at("{\"a\": \"unterminated", 7, false));
    CHECK(!cut_off("{\"a\": \"unterminated"));
}

static void test_at_end(void)
{
    /* cut off: the value is not complete when the text ends */
    CHECK(cut_off("{\"a\": [1, 2"));
    CHECK(cut_off("{\"a\": 1, "));
    CHECK(cut_off("["));
    CHECK(cut_off(""));
    /* the last byte is wrong, the text is not short */
    CHECK(!cut_off("{\"a\": 1]"));
    CHECK(!cut_off("[1, 2}"));
    CHECK(!cut_off("{\"a\": x}"));
    /* the position alone: before the last byte never, past it always */
    CHECK(!jsonerr_at_end("[1, 2", 5, 2));
    CHECK(jsonerr_at_end("[1, 2", 5, 5));
    CHECK(jsonerr_at_end("[1, 2", 5, 4));
    CHECK(!jsonerr_at_end("[1, x", 5, 4));
    CHECK(jsonerr_at_end("", 0, 0));
}

int main(void)
{
    test_parse();
    test_at_end();
    return check_summary("test_jsonerr");
}
