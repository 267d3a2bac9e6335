/* test_spec_read: the spec's typed readers and key checks (eval/spec_read.c): each problem is
 * added to the errlist with the key it concerns and says what the wrong value was; unknown keys
 * suggest the closest known one; JSON null counts as absent. */
#include "spec_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static const char *last(const errlist_t *e) { return e->n_kept ? e->msgs[e->n_kept - 1] : NULL; }

int main(void)
{
    errlist_t errs;
    errlist_init(&errs, 0);
    spec_ctx_t c = {.errs = &errs};
    cJSON *o = cJSON_Parse("{\"n\": 64, \"s\": \"64\", \"big\": 5000, \"f\": 0.5, \"b\": true, \"nb\": 1, "
                           "\"z\": null, \"long\": \"abcdefghij\", \"arr\": [1]}");
    CHECK(o != NULL);

    char buf[64];
    CHECK_STR(spec_describe(spec_get(o, "n"), buf, sizeof buf), "64");
    CHECK_HAS(spec_describe(spec_get(o, "s"), buf, sizeof buf), "string");
    CHECK_HAS(spec_describe(spec_get(o, "arr"), buf, sizeof buf), "array");
    CHECK(spec_get(o, "z") == NULL); /* null is absent */
    CHECK(spec_get(o, "missing") == NULL);

    static const char *const names[] = {"max_tokens", "temperature", "top_p"};
    CHECK_STR(spec_closest("max_token", names, N_OF(names)), "max_tokens");
    CHECK(spec_closest("completely-different", names, N_OF(names)) == NULL);

    int i = 7;
    spec_get_int(&c, o, "n", "judge.n", 1, 100, &i);
    CHECK(i == 64 && errs.count == 0);
    spec_get_int(&c, o, "big", "judge.big", 1, 100, &i);
    CHECK(errs.count == 1 && i == 64);
    CHECK_HAS(last(&errs), "judge.big");
    spec_get_int(&c, o, "s", "judge.s", 1, 100, &i);
    CHECK(errs.count == 2);
    CHECK_HAS(last(&errs), "judge.s");
    CHECK_HAS(last(&errs), "string");

    double d = 0;
    CHECK(spec_get_num(&c, o, "f", "judge.f", 0, 1, &d) && d == 0.5);
    CHECK(!spec_get_num(&c, o, "big", "judge.big", 0, 1, &d));
    CHECK_HAS(last(&errs), "judge.big");

    bool b = false, given = false;
    spec_get_bool(&c, o, "b", &b, &given);
    CHECK(b && given);
    size_t before = errs.count;
    spec_get_bool(&c, o, "nb", &b, &given);
    CHECK(errs.count == before + 1);
    CHECK_HAS(last(&errs), "nb");

    CHECK(spec_get_str(&c, o, "long", "name", 4) == NULL);
    CHECK_HAS(last(&errs), "name");
    CHECK_STR(spec_get_str(&c, o, "long", "name", 100), "abcdefghij");
    CHECK(spec_get_str(&c, o, "z", "name", 100) == NULL);

    before = errs.count;
    cJSON *g = cJSON_Parse("{\"max_token\": 1, \"top_p\": 1}");
    spec_check_keys(&c, g, "judge.", names, N_OF(names));
    CHECK(errs.count == before + 1);
    CHECK_HAS(last(&errs), "judge.max_token");
    CHECK_HAS(last(&errs), "max_tokens"); /* did you mean */

    cJSON_Delete(g);
    cJSON_Delete(o);
    errlist_free(&errs);
    return check_summary("test_spec_read");
}
