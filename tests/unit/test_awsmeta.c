/* test_awsmeta: container credentials (full and relative URI, token from a file or the
 * environment, the endpoint's refusal, the host rule for plain http) and IMDSv2 (token then role
 * credentials, disabled, absent, the endpoint variables) against the mock. */
#include "awsmeta.h"
#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "awstest.h"
#include "check.h"

static char dir[] = "/tmp/test_awsmeta.XXXXXX";

static int container(awscreds_t **c, char *err, size_t errlen, char *notes, size_t nlen)
{
    buf_t t;
    buf_init(&t, 0);
    int r = awsmeta_container(&t, "default", c, err, errlen);
    snprintf(notes, nlen, "%s", t.data ? t.data : "");
    buf_free(&t);
    return r;
}

static int imds(awscreds_t **c, char *err, size_t errlen, char *notes, size_t nlen)
{
    buf_t t;
    buf_init(&t, 0);
    int r = awsmeta_imds(&t, "default", c, err, errlen);
    snprintf(notes, nlen, "%s", t.data ? t.data : "");
    buf_free(&t);
    return r;
}

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    mock_opts_t mo;
    mock_opts_default(&mo);
    mo.log_level = LOG_WARN;
    mo.aws_container_token = "Bearer-pod-token";
    mock_t *m = awstest_mock(&mo);
    CHECK(m != NULL);
    if (!m) return check_summary("test_awsmeta");
    awstest_env(m, dir);
    char err[1024], notes[1024];
    awscreds_t *c = NULL;
    CHECK(container(&c, err, sizeof err, notes, sizeof notes) == 0 && !c);
    CHECK_HAS(notes, "container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and _FULL_URI not set)");

    char *full = xasprintf("%s/aws/container-credentials", mock_url(m));
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", full, 1);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer-pod-token", 1);
    CHECK(container(&c, err, sizeof err, notes, sizeof notes) == 1 && c);
    if (c) {
        CHECK(strncmp(awscreds_access_key(c), "ASIAMOCK", 8) == 0 && awscreds_session_token(c) &&
              awscreds_expiration(c) > 0);
        CHECK_HAS(awscreds_source(c), full);
    }
    awscreds_destroy(&c);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer-other", 1);
    CHECK(container(&c, err, sizeof err, notes, sizeof notes) == -1);
    CHECK_HAS(err, "HTTP 401");
    CHECK(strstr(err, "Bearer-other") == NULL);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "a\r\nInjected: x", 1);
    CHECK(container(&c, err, sizeof err, notes, sizeof notes) == -1);
    CHECK_HAS(err, "AWS_CONTAINER_AUTHORIZATION_TOKEN holds a line break");
    unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    /* the token file wins over the variable and is read at every fetch */
    char *tf = xasprintf("%s/token", dir);
    FILE *f = fopen(tf, "w");
    if (f) {
        fputs("Bearer-pod-token\n", f);
        fclose(f);
    }
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", tf, 1);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "ignored", 1);
    CHECK(container(&c, err, sizeof err, notes, sizeof notes) == 1);
    awscreds_destroy(&c);
    unlink(tf);
    CHECK(container(&c, err, sizeof err, notes, sizeof notes) == -1);
    CHECK_HAS(err, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    CHECK_HAS(err, "cannot open");
    unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    /* plain http only to loopback or the ECS/EKS hosts; https anywhere */
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://10.0.0.1/creds", 1);
    CHECK(container(&c, err, sizeof err, notes, sizeof notes) == -1);
    CHECK_HAS(err, "plain http is allowed only to a loopback address or the ECS/EKS credential hosts");
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "ftp://x/creds", 1);
    CHECK(container(&c, err, sizeof err, notes, sizeof notes) == -1);
    CHECK_HAS(err, "not an http:// or https:// URL");
    unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    /* the relative form, against the (test-pointed) ECS base */
    setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/task-1", 1);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer-pod-token", 1);
    const char *saved = awscreds_container_base;
    awscreds_container_base = mock_url(m);
    CHECK(container(&c, err, sizeof err, notes, sizeof notes) == 1);
    if (c) CHECK_HAS(awscreds_source(c), "/v2/credentials/task-1");
    awscreds_destroy(&c);
    awscreds_container_base = saved;
    unsetenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");

    /* IMDSv2 */
    CHECK(imds(&c, err, sizeof err, notes, sizeof notes) == 0);
    CHECK_HAS(notes, "instance metadata (disabled by AWS_EC2_METADATA_DISABLED)");
    unsetenv("AWS_EC2_METADATA_DISABLED");
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", mock_url(m), 1);
    CHECK(imds(&c, err, sizeof err, notes, sizeof notes) == 1 && c);
    if (c) CHECK_HAS(awscreds_source(c), "instance metadata");
    awscreds_destroy(&c);
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1/", 1);
    CHECK(imds(&c, err, sizeof err, notes, sizeof notes) == 0 && !c);
    CHECK_HAS(notes, "instance metadata (IMDSv2 at http://127.0.0.1:1:");
    char *e = awsmeta_imds_endpoint();
    CHECK_STR(e, "http://127.0.0.1:1");
    free(e);
    unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv6", 1);
    e = awsmeta_imds_endpoint();
    CHECK_STR(e, "http://[fd00:ec2::254]");
    free(e);
    unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
    e = awsmeta_imds_endpoint();
    CHECK_STR(e, "http://169.254.169.254");
    free(e);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    free(full);
    free(tf);
    rmdir(dir);
    awscreds_forget();
    mock_destroy(&m);
    return check_summary("test_awsmeta");
}
