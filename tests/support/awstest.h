/* awstest.h: the mock's AWS side (S3, STS, metadata, SageMaker; mockllm/mock_aws.h) started in the
 * test's own process, and an environment that points llmaj's AWS clients at it with the mock's
 * static key, so that every signature is checked. Header-only. Not here: what a test puts in the
 * mock or asserts. */
#ifndef LLMAJ_TESTS_AWSTEST_H
#define LLMAJ_TESTS_AWSTEST_H

#include "awscreds.h"
#include "mock.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>

#define AWSTEST_AK "AKIDLLMAJTEST"
#define AWSTEST_SK "llmaj-test-secret/key+1"

/* Starts a mock with the static key and `mo`'s other settings (NULL: defaults). NULL on failure
 * (printed). */
static inline mock_t *awstest_mock(const mock_opts_t *mo)
{
    mock_opts_t o;
    if (mo) o = *mo;
    else mock_opts_default(&o);
    o.aws_access_key = AWSTEST_AK;
    o.aws_secret_key = AWSTEST_SK;
    if (!mo) o.log_level = LOG_WARN;
    char err[512];
    mock_t *m = mock_new(&o, err, sizeof err);
    if (!m) fprintf(stderr, "mock_new: %s\n", err);
    return m;
}

/* A hermetic AWS environment in dir (aws_env_home), the static key in the environment, and every
 * AWS endpoint (S3, STS, SageMaker) at the mock. The credential cache is emptied. */
static inline void awstest_env(const mock_t *m, const char *dir)
{
    aws_env_home(dir);
    static const char *const off[] = {
        "AWS_PROFILE",         "AWS_REGION",           "AWS_DEFAULT_REGION",         "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_SAGEMAKER", "AWS_S3_ADDRESSING_STYLE"};
    for (size_t i = 0; i < sizeof off / sizeof off[0]; i++) unsetenv(off[i]);
    setenv("AWS_ACCESS_KEY_ID", AWSTEST_AK, 1);
    setenv("AWS_SECRET_ACCESS_KEY", AWSTEST_SK, 1);
    setenv("AWS_ENDPOINT_URL", mock_url(m), 1);
    awscreds_forget();
}

#endif
