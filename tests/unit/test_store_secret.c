/* test_store_secret: a job's secret (scheduler/store_secret.c): made on first ask, 64 hex digits,
 * the same on every later ask and after the database is reopened (a restarted scheduler carries
 * the same secret), different between jobs, and 1 for a job the database does not hold. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "store.h"

static bool all_hex(const char *s)
{
    for (; *s; s++)
        if (!strchr("0123456789abcdef", *s)) return false;
    return true;
}

int main(void)
{
    char dir[] = "/tmp/llmaj-secret-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[128], p2[160];
    snprintf(path, sizeof path, "%s/jobs.db", dir);
    char err[256];
    store_t *s = store_open(path, STORE_WRITE, err, sizeof err);
    CHECK(s != NULL);
    CHECK(store_job_create(s, "job-a", "a", "{\"model\":\"m\"}", NULL) == 0);
    CHECK(store_job_create(s, "job-b", "b", "{\"model\":\"m\"}", NULL) == 0);
    char a1[65], a2[65], b1[65], none[65];
    CHECK(store_job_secret(s, "job-a", a1, sizeof a1) == 0);
    CHECK(strlen(a1) == 64 && all_hex(a1));
    CHECK(store_job_secret(s, "job-a", a2, sizeof a2) == 0 && strcmp(a1, a2) == 0);
    CHECK(store_job_secret(s, "job-b", b1, sizeof b1) == 0 && strlen(b1) == 64 && strcmp(a1, b1) != 0);
    CHECK(store_job_secret(s, "job-x", none, sizeof none) == 1 && none[0] == '\0');
    store_close(&s);
    /* reopened: the same secrets */
    s = store_open(path, STORE_WRITE, err, sizeof err);
    CHECK(s != NULL);
    CHECK(store_job_secret(s, "job-a", a2, sizeof a2) == 0 && strcmp(a1, a2) == 0);
    CHECK(store_job_secret(s, "job-b", a2, sizeof a2) == 0 && strcmp(b1, a2) == 0);
    store_close(&s);
    static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(p2, sizeof p2, "%s%s", path, sfx[i]);
        unlink(p2);
    }
    rmdir(dir);
    return check_summary("test_store_secret");
}
