/* test_smpkg: DescribeModelPackage and ListModelPackages against the mock (signed, checked), and
 * what each kind of package resolves to, or the message saying what to do. */
#include "mem.h"
#include "modelstr.h"
#include "smpkg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "awstest.h"
#include "check.h"

static char dir[] = "/tmp/test_smpkg.XXXXXX";
#define ARN(x) "arn:aws:sagemaker:us-west-2:123456789012:model-package/" x

static bool servable(const char *model, void *ctx)
{
    modelstr_t m;
    char err[256];
    if (modelstr_parse(model, ctx, &m, err, sizeof err) < 0) return false;
    bool ok = m.kind == PROVIDER_BEDROCK;
    modelstr_clear(&m);
    return ok;
}

static char *resolve(const char *arn, const char *key, char *why, size_t n)
{
    smpkg_t p;
    char err[1024];
    if (smpkg_describe("us-west-2", arn, &p, err, sizeof err) < 0) {
        snprintf(why, n, "describe: %.900s", err);
        return NULL;
    }
    char *m = smpkg_resolve(&p, key, servable, "us-west-2", why, n);
    smpkg_clear(&p);
    return m;
}

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    const char *data = getenv("LLMAJ_TESTDATA");
    char *pk = xasprintf("%s/aws/model-packages.json", data ? data : "tests/data");
    mock_opts_t mo;
    mock_opts_default(&mo);
    mo.aws_model_packages = pk;
    mo.log_level = LOG_WARN;
    mock_t *m = awstest_mock(&mo);
    CHECK(m != NULL);
    if (!m) return check_summary("test_smpkg");
    awstest_env(m, dir);
    char err[1024], why[1024], *r0;

    smpkg_t p;
    CHECK(smpkg_describe("us-west-2", ARN("gamma/28"), &p, err, sizeof err) == 0);
    CHECK_STR(p.group, "gamma");
    CHECK_STR(p.version, "28");
    CHECK_STR(p.approval, "Approved");
    CHECK_STR(p.base_model, "nova-textgeneration-lite");
    CHECK_STR(p.model_data, "s3://models/gamma/28/model.tar.gz");
    CHECK_STR(p.endpoint, "gamma-28-endpoint");
    CHECK(p.bedrock_model == NULL);
    smpkg_clear(&p);
    CHECK(smpkg_describe("us-west-2", ARN("finetuned/3"), &p, err, sizeof err) == 0);
    CHECK_STR(p.model_data, "s3://models/finetuned/3/");
    smpkg_clear(&p);

    struct {
        const char *arn, *key, *want;
    } ok[] = {
        {ARN("gamma/28"), "model", "sagemaker/gamma-28-endpoint"}, /* an endpoint recorded on it */
        {ARN("imported/1"), "model", "bedrock/arn:aws:bedrock:us-west-2:123456789012:custom-model-deployment/abc123"},
        {ARN("gamma/26"), "model", "nova-textgeneration-pro"},          /* no artifacts: its base model */
        {ARN("finetuned/3"), "base_model", "nova-textgeneration-lite"}, /* the base of a fine-tune */
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char *r = resolve(ok[i].arn, ok[i].key, why, sizeof why);
        CHECK_STR(r, ok[i].want);
        if (!r) fprintf(stderr, "  %s\n", why);
        free(r);
    }
    r0 = resolve(ARN("finetuned/3"), "model", why, sizeof why);
    CHECK(r0 == NULL);
    free(r0);
    CHECK_HAS(why, "is a fine-tuned model with artifacts only (s3://models/finetuned/3/, base model "
                   "nova-textgeneration-lite");
    CHECK_HAS(why, "never deploys one (an endpoint is paid infrastructure): deploy it to a SageMaker endpoint and "
                   "pass `sagemaker/<endpoint>`");
    r0 = resolve(ARN("jumpstart/1"), "base_model", why, sizeof why);
    CHECK(r0 == NULL);
    free(r0);
    CHECK_HAS(why, "names the base model `meta-textgeneration-llama-3-8b`, which Bedrock does not serve on demand");
    r0 = resolve(ARN("nosuch/1"), "model", why, sizeof why);
    CHECK(r0 == NULL);
    free(r0);
    CHECK_HAS(why, "describe: SageMaker DescribeModelPackage (HTTP 400, ValidationException): ModelPackage "
                   "arn:aws:sagemaker:us-west-2:123456789012:model-package/nosuch/1 does not exist.");
    r0 = resolve(ARN("denied/1"), "model", why, sizeof why);
    CHECK(r0 == NULL);
    free(r0);
    CHECK_HAS(why, "AccessDeniedException");
    CHECK_HAS(why, "they need sagemaker:DescribeModelPackage");

    char *latest = smpkg_latest_approved("us-west-2", "gamma", err, sizeof err);
    CHECK_STR(latest, ARN("gamma/28")); /* 27 is newer but pending */
    free(latest);
    latest = smpkg_latest_approved("us-west-2", "arn:aws:sagemaker:us-west-2:123456789012:model-package-group/gamma",
                                   err, sizeof err);
    CHECK_STR(latest, ARN("gamma/28"));
    free(latest);
    CHECK(smpkg_latest_approved("us-west-2", "empty-group", err, sizeof err) == NULL);
    CHECK_HAS(err, "model package group empty-group has no Approved version");

    free(pk);
    awscreds_forget();
    mock_destroy(&m);
    rmdir(dir);
    return check_summary("test_smpkg");
}
