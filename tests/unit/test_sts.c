/* test_sts: AssumeRole (signed, the mock checks the signature) and AssumeRoleWithWebIdentity
 * against the mock's STS; STS's refusals reported with its code and message; the endpoint's
 * resolution; a dead endpoint retried and then reported. */
#include "awscreds.h"
#include "mem.h"
#include "sts.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "awstest.h"
#include "check.h"

static char dir[] = "/tmp/test_sts.XXXXXX";

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    mock_opts_t mo;
    mock_opts_default(&mo);
    mo.log_level = LOG_WARN;
    mo.aws_web_identity_token = "eyJhbGciOi.jwt.sig";
    mock_t *m = awstest_mock(&mo);
    CHECK(m != NULL);
    if (!m) return check_summary("test_sts");
    awstest_env(m, dir);
    char err[1024];
    awscreds_t *src = awscreds_new(NULL, err, sizeof err);
    CHECK(src != NULL);

    sts_role_t r = {.region = "us-west-2",
                    .role_arn = "arn:aws:iam::123456789012:role/eval",
                    .session_name = "t1",
                    .profile = "p"};
    awscreds_t *c = NULL;
    CHECK(sts_assume_role(&r, src, &c, err, sizeof err) == 0);
    if (c) {
        CHECK(strncmp(awscreds_access_key(c), "ASIAMOCK", 8) == 0 && awscreds_session_token(c));
        CHECK(awscreds_expiration(c) > time(NULL) + 3000);
        CHECK_HAS(awscreds_source(c), "STS AssumeRole arn:aws:iam::123456789012:role/eval");
        CHECK_STR(awscreds_profile(c), "p");
        /* the issued credentials sign in their turn */
        awscreds_t *c2 = NULL;
        CHECK(sts_assume_role(&r, c, &c2, err, sizeof err) == 0);
        awscreds_destroy(&c2);
    }
    awscreds_destroy(&c);
    /* refused: STS's code and message, the role named, no secret */
    r.role_arn = "arn:aws:iam::123456789012:role/denied-role";
    CHECK(sts_assume_role(&r, src, &c, err, sizeof err) < 0 && !c);
    CHECK_HAS(err, "STS AssumeRole for arn:aws:iam::123456789012:role/denied-role at ");
    CHECK_HAS(err, "refused (HTTP 403, AccessDenied): User is not authorized to perform: sts:AssumeRole");
    CHECK(strstr(err, AWSTEST_SK) == NULL);
    /* a wrong secret: the mock checks the signature */
    setenv("AWS_SECRET_ACCESS_KEY", "wrong", 1);
    awscreds_forget();
    awscreds_t *bad = awscreds_new(NULL, err, sizeof err);
    r.role_arn = "arn:aws:iam::123456789012:role/eval";
    CHECK(bad && sts_assume_role(&r, bad, &c, err, sizeof err) < 0);
    CHECK_HAS(err, "SignatureDoesNotMatch");
    awscreds_destroy(&bad);
    /* web identity: no signature; the token is the proof */
    r.session_name = NULL;
    CHECK(sts_assume_role_with_web_identity(&r, "eyJhbGciOi.jwt.sig", &c, err, sizeof err) == 0);
    if (c) CHECK_HAS(awscreds_source(c), "AssumeRoleWithWebIdentity");
    awscreds_destroy(&c);
    CHECK(sts_assume_role_with_web_identity(&r, "eyJ.other", &c, err, sizeof err) < 0);
    CHECK_HAS(err, "InvalidIdentityToken");
    CHECK(strstr(err, "eyJ.other") == NULL);
    /* endpoints */
    char *e = sts_endpoint("eu-west-1");
    char *want = xasprintf("%s/", mock_url(m));
    CHECK_STR(e, want); /* AWS_ENDPOINT_URL */
    free(e);
    free(want);
    setenv("AWS_ENDPOINT_URL_STS", "http://sts.example:1/", 1);
    e = sts_endpoint("eu-west-1");
    CHECK_STR(e, "http://sts.example:1/");
    free(e);
    unsetenv("AWS_ENDPOINT_URL_STS");
    unsetenv("AWS_ENDPOINT_URL");
    e = sts_endpoint("eu-west-1");
    CHECK_STR(e, "https://sts.eu-west-1.amazonaws.com/");
    free(e);
    e = sts_endpoint(NULL);
    CHECK_STR(e, "https://sts.amazonaws.com/");
    free(e);
    /* nothing listening: retried, then the connection error */
    setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:1", 1);
    CHECK(sts_assume_role_with_web_identity(&r, "eyJhbGciOi.jwt.sig", &c, err, sizeof err) < 0);
    CHECK_HAS(err, "STS AssumeRoleWithWebIdentity for arn:aws:iam::123456789012:role/eval:");
    unsetenv("AWS_ENDPOINT_URL_STS");
    awscreds_destroy(&src);
    awscreds_forget();
    mock_destroy(&m);
    rmdir(dir);
    return check_summary("test_sts");
}
