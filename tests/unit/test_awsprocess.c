/* test_awsprocess: credential_process commands: the JSON they print, with and without a session
 * token and an expiry; every way they can fail, reported without their output. */
#include "awsprocess.h"

#include <stdlib.h>
#include <string.h>

#include "check.h"

int main(void)
{
    char err[512];
    awscreds_t *c = NULL;
    CHECK(awsprocess_credentials("printf '{\"Version\":1,\"AccessKeyId\":\"AKIAPROC\",\"SecretAccessKey\":\"s3cr3t\","
                                 "\"SessionToken\":\"tok\",\"Expiration\":\"2030-01-02T03:04:05Z\"}'",
                                 "dev", &c, err, sizeof err) == 0);
    if (c) {
        CHECK_STR(awscreds_access_key(c), "AKIAPROC");
        CHECK_STR(awscreds_secret_key(c), "s3cr3t");
        CHECK_STR(awscreds_session_token(c), "tok");
        CHECK(awscreds_expiration(c) == 1893553445);
        CHECK_STR(awscreds_source(c), "credential_process of profile dev");
    }
    awscreds_destroy(&c);
    CHECK(awsprocess_credentials("echo '{\"Version\": 1, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"B\"}'", "p", &c,
                                 err, sizeof err) == 0);
    CHECK(c && !awscreds_session_token(c) && awscreds_expiration(c) == 0);
    awscreds_destroy(&c);
    struct {
        const char *cmd, *want;
    } bad[] = {
        {"echo '{\"Version\": 2, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"B\"}'", "must have \"Version\": 1"},
        {"echo 'not json s3cr3tvalue'", "did not print a JSON object"},
        {"echo '{\"Version\": 1, \"AccessKeyId\": \"A\"}'", "the reply has no SecretAccessKey"},
        {"echo '{\"Version\": 1, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"B\", \"Expiration\": \"soon\"}'",
         "Expiration is not an ISO 8601 UTC time"},
        {"echo s3cr3tvalue; exit 3", "exited with status 3"},
        {"kill -9 $$", "was killed by signal 9"},
        {"head -c 70000 /dev/zero", "printed more than 64 KiB"},
        {"/nonexistent/helper", "exited with status 127"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(awsprocess_credentials(bad[i].cmd, "p", &c, err, sizeof err) < 0 && !c);
        CHECK_HAS(err, bad[i].want);
        CHECK_HAS(err, "profile");
        CHECK(strstr(err, "s3cr3tvalue") == NULL);
    }
    /* stdin is /dev/null: a command that reads it does not hang */
    CHECK(awsprocess_credentials("cat; echo '{\"Version\":1,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"B\"}'", "p", &c,
                                 err, sizeof err) == 0);
    awscreds_destroy(&c);
    return check_summary("test_awsprocess");
}
