/* test_awsini: the AWS files' paths and one profile's options (the dialect's tolerance and error
 * messages are exercised through the credential chain in test_awscreds). */
#include "awsini.h"
#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

static char dir[] = "/tmp/test_awsini.XXXXXX";

static char *put(const char *name, const char *text)
{
    char *p = xasprintf("%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return p;
}

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    setenv("HOME", dir, 1);
    unsetenv("AWS_CONFIG_FILE");
    char *p = awsini_path("AWS_CONFIG_FILE", "config");
    char *want = xasprintf("%s/.aws/config", dir);
    CHECK_STR(p, want);
    free(p);
    free(want);
    setenv("AWS_CONFIG_FILE", "~/elsewhere/cfg", 1);
    p = awsini_path("AWS_CONFIG_FILE", "config");
    want = xasprintf("%s/elsewhere/cfg", dir);
    CHECK_STR(p, want);
    free(p);
    free(want);
    unsetenv("AWS_CONFIG_FILE");

    char *cfg = put("config",
                    "[default]\nregion = us-west-2\n[profile dev]\nrole_arn = arn:aws:iam::123456789012:role/r\n"
                    "Source_Profile = default ; why\nregion = eu-west-1\nregion = eu-west-2\n"
                    "credential_process = /bin/echo \"{}\"  # inline\n");
    awsini_profile_t pr;
    char err[512];
    CHECK(awsini_read(cfg, true, "dev", &pr, err, sizeof err) == 1);
    CHECK(pr.found);
    CHECK_STR(awsini_get(&pr, "source_profile"), "default"); /* names are lower-cased */
    CHECK_STR(awsini_get(&pr, "region"), "eu-west-2");       /* the last value wins */
    CHECK_STR(awsini_get(&pr, "credential_process"), "/bin/echo \"{}\"");
    CHECK(awsini_get(&pr, "aws_access_key_id") == NULL);
    CHECK(pr.n == 4);
    CHECK_STR(pr.path, cfg);
    awsini_clear(&pr);
    CHECK(awsini_read(cfg, true, "nosuch", &pr, err, sizeof err) == 1 && !pr.found && pr.n == 0);
    awsini_clear(&pr);
    /* in the credentials file a section is the bare profile name */
    CHECK(awsini_read(cfg, false, "profile dev", &pr, err, sizeof err) == 1 && pr.found);
    awsini_clear(&pr);
    char *missing = xasprintf("%s/none", dir);
    CHECK(awsini_read(missing, true, "dev", &pr, err, sizeof err) == 0 && !pr.found);
    awsini_clear(&pr);
    char *bad = put("bad", "[default]\nregion\n");
    CHECK(awsini_read(bad, true, "default", &pr, err, sizeof err) == -1);
    CHECK_HAS(err, "bad:2: expected '[section]' or 'name = value'");
    awsini_clear(&pr);
    unlink(cfg);
    unlink(bad);
    free(cfg);
    free(bad);
    free(missing);
    rmdir(dir);
    return check_summary("test_awsini");
}
