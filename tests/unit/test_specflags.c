/* test_specflags: the spec keys as flags: each code maps to its key, with JSON booleans and
 * numbers where the key takes them, metric lists split, custom metrics as JSON or a path, the
 * mlflow keys nested; a bad value is refused naming the flag; other codes are not spec flags. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "specflags.h"

static char *set(int code, const char *arg, int *rc)
{
    cJSON *ov = cJSON_CreateObject();
    char err[256] = "";
    *rc = specflags_set(ov, code, arg, err, sizeof err);
    char *txt = *rc < 0 ? strdup(err) : cJSON_PrintUnformatted(ov);
    cJSON_Delete(ov);
    return txt;
}

int main(void)
{
    int rc;
    char *s = set(SPECFLAG_FIRST + 0, "openai/x", &rc);
    CHECK(rc == 1);
    CHECK_STR(s, "{\"model\":\"openai/x\"}");
    free(s);
    s = set(SPECFLAG_FIRST + 2, "true", &rc);
    CHECK_STR(s, "{\"evaluate_base_model\":true}");
    free(s);
    s = set(SPECFLAG_FIRST + 5, " Correctness, Helpfulness ,,", &rc);
    CHECK_STR(s, "{\"builtin_metrics\":[\"Correctness\",\"Helpfulness\"]}");
    free(s);
    s = set(SPECFLAG_FIRST + 6, "[{\"a\":1}]", &rc);
    CHECK_STR(s, "{\"custom_metrics\":[{\"a\":1}]}");
    free(s);
    s = set(SPECFLAG_FIRST + 6, "metrics.json", &rc);
    CHECK_STR(s, "{\"custom_metrics\":\"metrics.json\"}");
    free(s);
    s = set(SPECFLAG_FIRST + 8, "32", &rc);
    CHECK_STR(s, "{\"shard_size\":32}");
    free(s);
    s = set(SPECFLAG_FIRST + 9, NULL, &rc);
    CHECK_STR(s, "{\"skip_invalid\":true}");
    free(s);
    s = set(SPECFLAG_FIRST + 13, "exp", &rc);
    CHECK_STR(s, "{\"mlflow\":{\"experiment\":\"exp\"}}");
    free(s);
    s = set(SPECFLAG_FIRST + 8, "0", &rc);
    CHECK(rc < 0);
    CHECK_HAS(s, "--shard-size");
    free(s);
    s = set(SPECFLAG_FIRST + 2, "maybe", &rc);
    CHECK(rc < 0);
    CHECK_HAS(s, "not true or false");
    free(s);
    s = set('x', "y", &rc);
    CHECK(rc == 0);
    free(s);
    s = set(SPECFLAG_FIRST + 15, "first-20261206-062211-64f87a", &rc);
    CHECK_STR(s, "{\"reuse_responses_from\":\"first-20261206-062211-64f87a\"}");
    free(s);
    s = set(SPECFLAG_FIRST + 16, NULL, &rc);
    CHECK_STR(s, "{\"cache\":true}");
    free(s);
    s = set(SPECFLAG_FIRST + 17, "1048576", &rc);
    CHECK_STR(s, "{\"dataset_max_bytes\":1048576}");
    free(s);
    s = set(SPECFLAG_FIRST + 17, "lots", &rc);
    CHECK(rc < 0);
    CHECK_HAS(s, "--dataset-max-bytes");
    free(s);
    s = set(SPECFLAG_FIRST + 18, "y", &rc);
    CHECK(rc == 0);
    free(s);
    return check_summary("test_specflags");
}
