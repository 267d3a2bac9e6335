/* test_arn: ARN parsing, part by part, and its messages. */
#include "arn.h"

#include <string.h>

#include "check.h"

static void test_good(void)
{
    arn_t a;
    char err[256];
    CHECK(arn_parse("arn:aws:sagemaker:us-west-2:123456789012:model-package/test-models/28", &a, err, sizeof err) == 0);
    CHECK_STR(a.partition, "aws");
    CHECK_STR(a.service, "sagemaker");
    CHECK_STR(a.region, "us-west-2");
    CHECK_STR(a.account, "123456789012");
    CHECK_STR(a.resource, "model-package/test-models/28");
    char t[64];
    arn_resource_type(&a, t, sizeof t);
    CHECK_STR(t, "model-package");
    CHECK(arn_parse("arn:aws:s3:::bucket/key:with:colons", &a, err, sizeof err) == 0);
    CHECK_STR(a.region, "");
    CHECK_STR(a.account, "");
    CHECK_STR(a.resource, "bucket/key:with:colons");
    CHECK(arn_parse("arn:aws-us-gov:iam::123456789012:role/x", &a, err, sizeof err) == 0);
    CHECK(arn_like("arn:x") && !arn_like("urn:x") && !arn_like(NULL));
    CHECK(arn_region_ok("eu-central-1") && arn_region_ok("us-gov-west-1"));
    CHECK(!arn_region_ok("US-EAST-1") && !arn_region_ok("useast") && !arn_region_ok("us-east-") && !arn_region_ok(""));
}

static void test_bad(void)
{
    arn_t a;
    char err[256];
    CHECK(arn_parse("arn:aws:sagemaker:us-west-2:<>:mlflow-tracking-server/mmlu", &a, err, sizeof err) < 0);
    CHECK_HAS(err, "the account `<>` is not a 12-digit AWS account id (it looks like a placeholder");
    CHECK(arn_parse("arn:aws:sagemaker:us-west-2:12345:x/y", &a, err, sizeof err) < 0);
    CHECK_HAS(err, "the account `12345` is not a 12-digit AWS account id");
    CHECK(strstr(err, "placeholder") == NULL);
    CHECK(arn_parse("arn:amazon:sagemaker:us-west-2:123456789012:x", &a, err, sizeof err) < 0);
    CHECK_HAS(err, "the partition `amazon` is not an AWS partition");
    CHECK(arn_parse("arn:aws:SageMaker:us-west-2:123456789012:x", &a, err, sizeof err) < 0);
    CHECK_HAS(err, "the service `SageMaker` is not an AWS service name");
    CHECK(arn_parse("arn:aws:sagemaker:<region>:123456789012:x", &a, err, sizeof err) < 0);
    CHECK_HAS(err, "the region `<region>` is not an AWS region name");
    CHECK(arn_parse("arn:aws:sagemaker:us-west-2:123456789012:", &a, err, sizeof err) < 0);
    CHECK_HAS(err, "the resource part (after the account) is empty");
    CHECK(arn_parse("arn:aws:sagemaker:us-west-2:123456789012:a b", &a, err, sizeof err) < 0);
    CHECK_HAS(err, "blank or a non-ASCII byte at offset 1");
    CHECK(arn_parse("arn:aws:sagemaker", &a, err, sizeof err) < 0);
    CHECK_HAS(err, "6 parts separated by `:`), got 3");
    CHECK(arn_parse("nope", &a, err, sizeof err) < 0);
    CHECK_HAS(err, "starts with `arn:`");
    char big[ARN_MAX + 20];
    memset(big, 'a', sizeof big - 1);
    memcpy(big, "arn:", 4);
    big[sizeof big - 1] = '\0';
    CHECK(arn_parse(big, &a, err, sizeof err) < 0);
    CHECK_HAS(err, "longer than the limit");
}

int main(void)
{
    test_good();
    test_bad();
    return check_summary("test_arn");
}
