/* test_jsonprint: numbers that read back as the same double (the shortest of 15-17 digits, the
 * cases cJSON's printer gets wrong, integers, extremes, NaN and infinities refused), whole trees
 * that parse back equal number for number, and the layouts: byte for byte cJSON_Print's and
 * cJSON_PrintUnformatted's on trees whose numbers cJSON prints exactly; strings escaped; a capped
 * buffer refusing. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "jsonprint.h"
#include "check.h"

/* v as jsonprint_double writes it, into a static buffer. */
static const char *num(double v)
{
    static char out[64];
    buf_t b;
    buf_init(&b, 0);
    if (jsonprint_double(&b, v) < 0) {
        buf_free(&b);
        return NULL;
    }
    snprintf(out, sizeof out, "%s", b.data);
    buf_free(&b);
    return out;
}

static bool reads_back(double v)
{
    const char *s = num(v);
    return s && strtod(s, NULL) == v;
}

static void test_double(void)
{
    CHECK_STR(num(0), "0");
    CHECK_STR(num(1), "1");
    CHECK_STR(num(-3), "-3");
    CHECK_STR(num(-0.0), "-0"); /* reads back as -0.0 */
    CHECK_STR(num(3000000000.0), "3000000000");
    CHECK_STR(num(999999999999999.0), "999999999999999");
    CHECK_STR(num(0.1), "0.1"); /* shortest: not 0.10000000000000001 */
    CHECK_STR(num(0.4875), "0.4875");
    CHECK_STR(num(123456789012345.0), "123456789012345"); /* 15 digits: no exponent */
    CHECK_STR(num(1e300), "1e+300");
    CHECK_STR(num(2.5e-7), "2.5e-07");

    /* The next double above 0.4875: 15 digits say 0.4875, which is the double below. cJSON
     * accepts that (within an epsilon); we print what reads back. */
    double up = nextafter(0.4875, 1.0);
    CHECK(strcmp(num(up), "0.4875") != 0);
    CHECK(reads_back(up));
    cJSON *n = cJSON_CreateNumber(up);
    char *cj = cJSON_PrintUnformatted(n);
    CHECK(cj && strtod(cj, NULL) != up); /* the failure this module exists for */
    free(cj);
    cJSON_Delete(n);

    /* 16 digits when 16 do: 0.1 + 0.2 needs 17; 1/3 needs 16. */
    CHECK_STR(num(0.1 + 0.2), "0.30000000000000004");
    CHECK_STR(num(1.0 / 3), "0.3333333333333333");

    /* Every kind of double reads back. */
    double cases[] = {1.0 / 3,
                      2.0 / 3,
                      0.1 + 0.2,
                      -0.0,
                      DBL_MIN,
                      DBL_MAX,
                      DBL_EPSILON,
                      5e-324,
                      9007199254740993.0,
                      1e15,
                      1e16,
                      123.456e-100,
                      -7.0 / 9,
                      0.0625,
                      0.48749999999999999,
                      nextafter(1.0, 2.0),
                      nextafter(1.0, 0.0)};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) CHECK(reads_back(cases[i]));
    /* A sweep: means of k/n and their neighbours, as the summaries hold them. */
    int bad = 0;
    for (int den = 1; den <= 200; den++)
        for (int k = 0; k <= den; k++) {
            double v = (double)k / den;
            if (!reads_back(v) || !reads_back(nextafter(v, 2.0)) || !reads_back(nextafter(v, -1.0))) bad++;
        }
    CHECK(bad == 0);

    /* No JSON for NaN and infinities: refused, nothing appended. */
    buf_t b;
    buf_init(&b, 0);
    CHECK(jsonprint_double(&b, NAN) == -1 && b.len == 0);
    CHECK(jsonprint_double(&b, INFINITY) == -1 && b.len == 0);
    CHECK(jsonprint_double(&b, -INFINITY) == -1 && b.len == 0);
    buf_free(&b);
}

/* Every number in a equals (==) the one at the same place in b, and the shapes agree. */
static bool same_tree(const cJSON *a, const cJSON *b)
{
    if ((a->type & 0xFF) != (b->type & 0xFF)) return false;
    if (cJSON_IsNumber(a)) return a->valuedouble == b->valuedouble;
    if (cJSON_IsString(a)) return !strcmp(a->valuestring, b->valuestring);
    const cJSON *x = a->child, *y = b->child;
    for (; x && y; x = x->next, y = y->next) {
        if ((x->string || y->string) && (!x->string || !y->string || strcmp(x->string, y->string))) return false;
        if (!same_tree(x, y)) return false;
    }
    return !x && !y;
}

static void test_tree_round_trip(void)
{
    cJSON *s = cJSON_CreateObject();
    cJSON *m = cJSON_AddObjectToObject(s, "metrics");
    cJSON_AddNumberToObject(m, "mean", nextafter(0.4875, 1.0));
    cJSON_AddNumberToObject(m, "std", 0.1 + 0.2);
    cJSON *ci = cJSON_AddArrayToObject(m, "ci95");
    cJSON_AddItemToArray(ci, cJSON_CreateNumber(nextafter(0.25, 0.0)));
    cJSON_AddItemToArray(ci, cJSON_CreateNumber(2.0 / 3));
    cJSON_AddNullToObject(m, "win_rate");
    for (int pretty = 0; pretty <= 1; pretty++) {
        char *t = jsonprint(s, pretty);
        cJSON *back = cJSON_Parse(t);
        CHECK(back != NULL && same_tree(s, back));
        /* Printing what was read gives the same text: a reader that reprints agrees. */
        char *t2 = back ? jsonprint(back, pretty) : NULL;
        CHECK_STR(t2, t);
        free(t2);
        free(t);
        cJSON_Delete(back);
    }
    cJSON_Delete(s);

    /* NaN and infinities become null, as with cJSON. */
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "nan", NAN);
    cJSON_AddNumberToObject(o, "inf", -INFINITY);
    char *t = jsonprint(o, false);
    CHECK_STR(t, "{\"nan\":null,\"inf\":null}");
    free(t);
    cJSON_Delete(o);
}

/* On numbers cJSON prints exactly (integers, short fractions), the text is cJSON's own. */
static void test_layout(void)
{
    const char *docs[] = {
        "{}",
        "[]",
        "{\"a\":1,\"b\":[1,2.5,\"x\"],\"c\":{\"d\":null,\"e\":true,\"f\":false,\"g\":{}},\"h\":[]}",
        "{\"rows\":[{\"x\":1,\"y\":[{\"z\":0.125}]},{},[[1],[2,{\"k\":\"v\"}]]],\"n\":-42,\"big\":3000000000}",
        "[{\"a\":{\"b\":{\"c\":[1,{\"d\":2}]}}},\"s\",0.5]",
        "{\"esc\":\"quote\\\" backslash\\\\ nl\\n tab\\t cr\\r bs\\b ff\\f ctl\\u0001 del\\u007f \\u00e9 /\"}",
        "{\"\":\"empty key\",\"k\":\"\"}",
        "\"top-level string\"",
        "17",
    };
    for (size_t i = 0; i < sizeof docs / sizeof *docs; i++) {
        cJSON *j = cJSON_Parse(docs[i]);
        CHECK(j != NULL);
        if (!j) continue;
        char *want = cJSON_Print(j), *got = jsonprint(j, true);
        CHECK_STR(got, want);
        free(want);
        free(got);
        want = cJSON_PrintUnformatted(j);
        got = jsonprint(j, false);
        CHECK_STR(got, want);
        free(want);
        free(got);
        cJSON_Delete(j);
    }
    char *t = jsonprint(NULL, false);
    CHECK_STR(t, "null");
    free(t);
    cJSON *raw = cJSON_CreateObject();
    cJSON_AddRawToObject(raw, "r", "[1, 2]");
    t = jsonprint(raw, false);
    CHECK_STR(t, "{\"r\":[1, 2]}");
    free(t);
    cJSON_Delete(raw);
}

static void test_cap(void)
{
    cJSON *j = cJSON_Parse("{\"a\":\"0123456789\",\"b\":[1,2,3]}");
    buf_t b;
    buf_init(&b, 8);
    CHECK(jsonprint_buf(&b, j, false) == -1);
    buf_free(&b);
    buf_init(&b, 64);
    CHECK(jsonprint_buf(&b, j, false) == 0);
    CHECK_STR(b.data, "{\"a\":\"0123456789\",\"b\":[1,2,3]}");
    buf_free(&b);
    buf_init(&b, 4);
    CHECK(jsonprint_double(&b, 0.30000000000000004) == -1 && b.len == 0);
    buf_free(&b);
    cJSON_Delete(j);
}

int main(void)
{
    test_double();
    test_tree_round_trip();
    test_layout();
    test_cap();
    return check_summary("test_jsonprint");
}
