/* test_summtab: summary.json as tables: the counts behind each metric add up (n, unscored, n/a,
 * errors: FollowingInstructions' "not applicable" has its column), a partial summary says so,
 * and an odd object prints no garbage. (test_report checks the rest of the layout through
 * report_summary.) */
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "scheduler.h"

static char *print(const char *json)
{
    cJSON *s = json ? cJSON_Parse(json) : NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    sched_summary_print(f, s);
    fclose(f);
    cJSON_Delete(s);
    return buf;
}

int main(void)
{
    char *out = print("{\"targets\": {\"custom\": {\"model\": \"m\", \"metrics\": {"
                      "\"FollowingInstructions\": {\"mean\": 1, \"mean_score\": 1, \"n\": 2, \"n_unscored\": 0,"
                      " \"n_not_applicable\": 1, \"n_error\": 0, \"ci95\": [1, 1], \"ratings\": {}}}}},"
                      " \"status\": \"stopped\", \"partial\": true}");
    CHECK_HAS(
        out, "  metric                          mean mean score            95% CI       n  unscored     n/a  errors\n");
    CHECK_HAS(
        out, "  FollowingInstructions          1.000      1.000    [1.000, 1.000]       2         0       1       0\n");
    CHECK_HAS(out, "partial: the job stopped before every record was evaluated");
    free(out);
    out = print("{\"targets\": {\"custom\": {\"model\": \"m\", \"metrics\": {}}}, \"partial\": false}");
    CHECK(!strstr(out, "partial"));
    free(out);
    out = print(NULL);
    CHECK_STR(out, "\n");
    free(out);
    out = print("[1, 2]");
    CHECK_STR(out, "\n");
    free(out);
    return check_summary("test_summtab");
}
