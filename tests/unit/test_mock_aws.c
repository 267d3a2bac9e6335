/* test_mock_aws: the mock's AWS side as a client sees it on the wire: routing by credential scope
 * and target, SageMaker InvokeEndpoint in both request shapes (and its signature check), S3 details
 * (HEAD errors without a body, EntityTooSmall, ranges, CreateBucket with a region, SlowDown),
 * IMDSv2 refusing requests without its token, STS forms, the SageMaker control plane's errors,
 * and the admin routes (the request log, a key's secret, counters, packages and deny rules). */
#include "awshttp.h"
#include "mem.h"
#include "mock_aws.h"
#include "s3.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "awstest.h"
#include "check.h"

static char dir[] = "/tmp/test_mock_aws.XXXXXX";
static const char *base;
static awshttp_t *h;

/* A signed request (service may be NULL: unsigned); returns the status, the body in *out. */
static long req(const char *method, const char *path, const char *service, const char *region, const char *ctype,
                const char *target, const char *body, char **out, httpmsg_headers_t *rh)
{
    char *url = xasprintf("%s%s", base, path);
    httpmsg_headers_t hd;
    httpmsg_headers_init(&hd);
    if (ctype) httpmsg_headers_add(&hd, "Content-Type", ctype);
    if (target) httpmsg_headers_add(&hd, "X-Amz-Target", target);
    if (service) {
        char err[512];
        awscreds_t *c = awscreds_new(NULL, err, sizeof err);
        CHECK(c && awshttp_sign(c, region, service, method, url, &hd, body ? body : "", body ? strlen(body) : 0,
                                strcmp(service, "s3") == 0, err, sizeof err) == 0);
        awscreds_destroy(&c);
    }
    awshttp_req_t q = {.method = method, .url = url, .headers = &hd, .body = body, .body_len = body ? strlen(body) : 0};
    awshttp_resp_t r;
    long status = awshttp_do(h, &q, &r) == 0 ? r.status : -1;
    if (out) *out = xstrdup(r.body.data ? r.body.data : "");
    if (rh) {
        *rh = r.headers;
        httpmsg_headers_init(&r.headers);
    }
    awshttp_resp_clear(&r);
    httpmsg_headers_clear(&hd);
    free(url);
    return status;
}

static void test_invoke(void)
{
    char *out;
    /* the messages API, answered as a chat completion */
    CHECK(req("POST", "/endpoints/ft-ep/invocations", "sagemaker", "us-west-2", "application/json", NULL,
              "{\"messages\":[{\"role\":\"user\",\"content\":\"What is rain?\"}],\"max_tokens\":50}", &out,
              NULL) == 200);
    cJSON *j = cJSON_Parse(out);
    CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "choices"), 0),
                                         "message"),
        "content")));
    cJSON_Delete(j);
    free(out);
    /* TGI: {"inputs", "parameters"} -> [{"generated_text"}] */
    CHECK(req("POST", "/endpoints/tgi-ep/invocations", "sagemaker", "us-west-2", "application/json", NULL,
              "{\"inputs\":\"What is rain?\",\"parameters\":{\"max_new_tokens\":40,\"do_sample\":false}}", &out,
              NULL) == 200);
    j = cJSON_Parse(out);
    CHECK(cJSON_IsArray(j) &&
          cJSON_IsString(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(j, 0), "generated_text")));
    cJSON_Delete(j);
    free(out);
    CHECK(req("POST", "/endpoints/tgi-ep/invocations", "sagemaker", "us-west-2", "application/json", NULL,
              "{\"inputs\":\"x\",\"parameters\":{\"temperature\":0}}", &out, NULL) == 400);
    CHECK_HAS(out, "TGI refuses 0");
    free(out);
    /* an unsigned or badly signed call is refused as SageMaker would */
    CHECK(req("POST", "/endpoints/ft-ep/invocations", NULL, NULL, "application/json", NULL,
              "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", &out, NULL) == 403);
    free(out);
    setenv("AWS_SECRET_ACCESS_KEY", "wrong", 1);
    awscreds_forget();
    httpmsg_headers_t rh;
    CHECK(req("POST", "/endpoints/ft-ep/invocations", "sagemaker", "us-west-2", "application/json", NULL,
              "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", &out, &rh) == 403);
    CHECK_STR(httpmsg_headers_get(&rh, "x-amzn-ErrorType"), "InvalidSignatureException");
    httpmsg_headers_clear(&rh);
    free(out);
    setenv("AWS_SECRET_ACCESS_KEY", AWSTEST_SK, 1);
    awscreds_forget();
}

static void test_s3_details(void)
{
    char *out;
    httpmsg_headers_t rh;
    /* CreateBucket with a location; then a request signed for another region: 301 and the header */
    CHECK(
        req("PUT", "/newbkt", "s3", "us-east-1", NULL, NULL,
            "<CreateBucketConfiguration><LocationConstraint>ap-south-1</LocationConstraint></CreateBucketConfiguration>",
            &out, NULL) == 200);
    free(out);
    CHECK(req("HEAD", "/newbkt/k", "s3", "us-east-1", NULL, NULL, NULL, &out, &rh) == 301);
    CHECK_STR(out, "");
    CHECK_STR(httpmsg_headers_get(&rh, "x-amz-bucket-region"), "ap-south-1");
    httpmsg_headers_clear(&rh);
    free(out);
    CHECK(req("PUT", "/newbkt", "s3", "ap-south-1", NULL, NULL, NULL, &out, NULL) == 409);
    CHECK_HAS(out, "BucketAlreadyOwnedByYou");
    free(out);
    /* ranges */
    CHECK(req("PUT", "/data/r.txt", "s3", "us-east-1", "text/plain", NULL, "abcdefghij", &out, NULL) == 200);
    free(out);
    char *url = xasprintf("%s/data/r.txt", base);
    (void)url;
    free(url);
    s3_opts_t so = {.region = "us-east-1", .path_style = -1};
    char err[256];
    s3_t *s = s3_new(&so, err, sizeof err);
    buf_t b;
    buf_init(&b, 0);
    s3_err_t e;
    CHECK(s3_get_range(s, "data", "r.txt", 8, 100, NULL, &b, &e) == 0 && b.len == 2 && memcmp(b.data, "ij", 2) == 0);
    buf_reset(&b);
    CHECK(s3_get_range(s, "data", "r.txt", 50, 1, NULL, &b, &e) < 0 && e.status == 416);
    buf_free(&b);
    /* multipart: a first part under 5 MiB is refused at completion */
    CHECK(req("POST", "/data/mp?uploads", "s3", "us-east-1", NULL, NULL, "", &out, NULL) == 200);
    char *id = strstr(out, "<UploadId>")
                   ? xstrndup(strstr(out, "<UploadId>") + 10, strcspn(strstr(out, "<UploadId>") + 10, "<"))
                   : NULL;
    free(out);
    CHECK(id != NULL);
    char path[128];
    snprintf(path, sizeof path, "/data/mp?partNumber=1&uploadId=%s", id ? id : "");
    CHECK(req("PUT", path, "s3", "us-east-1", NULL, NULL, "small", &out, &rh) == 200);
    char *etag = xstrdup(httpmsg_headers_get(&rh, "ETag"));
    httpmsg_headers_clear(&rh);
    free(out);
    snprintf(path, sizeof path, "/data/mp?partNumber=2&uploadId=%s", id ? id : "");
    CHECK(req("PUT", path, "s3", "us-east-1", NULL, NULL, "last", &out, &rh) == 200);
    char *etag2 = xstrdup(httpmsg_headers_get(&rh, "ETag"));
    httpmsg_headers_clear(&rh);
    free(out);
    char *xml = xasprintf("<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>%s</ETag></Part>"
                          "<Part><PartNumber>2</PartNumber><ETag>%s</ETag></Part></CompleteMultipartUpload>",
                          etag, etag2);
    snprintf(path, sizeof path, "/data/mp?uploadId=%s", id ? id : "");
    CHECK(req("POST", path, "s3", "us-east-1", "application/xml", NULL, xml, &out, NULL) == 400);
    CHECK_HAS(out, "EntityTooSmall");
    free(out);
    free(xml);
    xml = xasprintf("<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>%s</ETag></Part>"
                    "<Part><PartNumber>1</PartNumber><ETag>%s</ETag></Part></CompleteMultipartUpload>",
                    etag2, etag);
    CHECK(req("POST", path, "s3", "us-east-1", "application/xml", NULL, xml, &out, NULL) == 400);
    CHECK_HAS(out, "InvalidPartOrder");
    free(out);
    free(xml);
    CHECK(req("DELETE", path, "s3", "us-east-1", NULL, NULL, NULL, &out, NULL) == 204);
    free(out);
    xml = xasprintf(
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>%s</ETag></Part></CompleteMultipartUpload>",
        etag);
    CHECK(req("POST", path, "s3", "us-east-1", "application/xml", NULL, xml, &out, NULL) == 404);
    CHECK_HAS(out, "NoSuchUpload");
    free(out);
    free(xml);
    free(etag);
    free(etag2);
    free(id);
    s3_destroy(&s);
}

static void test_meta_and_admin(void)
{
    char *out;
    CHECK(req("GET", "/latest/meta-data/iam/security-credentials/", NULL, NULL, NULL, NULL, NULL, &out, NULL) == 401);
    free(out);
    CHECK(req("PUT", "/latest/api/token", NULL, NULL, NULL, NULL, NULL, &out, NULL) == 400); /* no TTL header */
    free(out);
    /* STS: an unsigned AssumeRole is refused; an unknown action too */
    CHECK(
        req("POST", "/", NULL, NULL, "application/x-www-form-urlencoded", NULL,
            "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fx&RoleSessionName=s",
            &out, NULL) == 403);
    free(out);
    CHECK(req("POST", "/", "sts", "us-east-1", "application/x-www-form-urlencoded", NULL,
              "Action=GetCallerIdentity&Version=2011-06-15", &out, NULL) == 400);
    CHECK_HAS(out, "InvalidAction");
    free(out);
    /* the control plane: an unknown operation, a malformed body */
    CHECK(req("POST", "/", "sagemaker", "us-west-2", "application/x-amz-json-1.1", "SageMaker.CreateEndpoint", "{}",
              &out, NULL) == 400);
    CHECK_HAS(out, "UnknownOperationException");
    free(out);
    CHECK(req("POST", "/", "sagemaker", "us-west-2", "application/x-amz-json-1.1", "SageMaker.DescribeModelPackage",
              "[", &out, NULL) == 400);
    CHECK_HAS(out, "SerializationException");
    free(out);
    /* admin: packages, deny rules, the request log with everything botocore needs, a key's secret */
    CHECK(req("PUT", "/_mock/aws/model-packages", NULL, NULL, NULL, NULL,
              "[{\"ModelPackageArn\":\"arn:aws:sagemaker:us-west-2:123456789012:model-package/p/1\","
              "\"ModelPackageGroupName\":\"p\"}]",
              &out, NULL) == 200);
    free(out);
    CHECK(req("POST", "/", "sagemaker", "us-west-2", "application/x-amz-json-1.1", "SageMaker.DescribeModelPackage",
              "{\"ModelPackageName\":\"arn:aws:sagemaker:us-west-2:123456789012:model-package/p/1\"}", &out,
              NULL) == 200);
    CHECK_HAS(out, "\"ModelPackageGroupName\":\"p\"");
    free(out);
    CHECK(req("POST", "/_mock/aws/deny?prefix=data%2Fsecret%2F", NULL, NULL, NULL, NULL, NULL, &out, NULL) == 200);
    free(out);
    CHECK(req("GET", "/data/secret/x", "s3", "us-east-1", NULL, NULL, NULL, &out, NULL) == 403);
    free(out);
    CHECK(req("GET", "/_mock/aws/requests", NULL, NULL, NULL, NULL, NULL, &out, NULL) == 200);
    cJSON *j = cJSON_Parse(out);
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(j, "requests");
    const cJSON *last = cJSON_GetArrayItem(list, cJSON_GetArraySize(list) - 1);
    CHECK(cJSON_GetArraySize(list) > 5);
    CHECK(last && strcmp(cJSON_GetObjectItemCaseSensitive(last, "uri")->valuestring, "/data/secret/x") == 0 &&
          cJSON_GetObjectItemCaseSensitive(last, "status")->valuedouble == 403 &&
          cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(last, "headers")));
    cJSON_Delete(j);
    free(out);
    CHECK(req("GET", "/_mock/aws/secret?access_key=" AWSTEST_AK, NULL, NULL, NULL, NULL, NULL, &out, NULL) == 200);
    CHECK_HAS(out, "\"issuer\":\"static\"");
    free(out);
    CHECK(req("GET", "/_mock/aws/secret?access_key=AKIDNOPE", NULL, NULL, NULL, NULL, NULL, &out, NULL) == 404);
    free(out);
    CHECK(req("GET", "/_mock/aws/stats", NULL, NULL, NULL, NULL, NULL, &out, NULL) == 200);
    CHECK_HAS(out, "\"multipart_parts\":2");
    free(out);
    CHECK(req("POST", "/_mock/aws/slowdown?n=1", NULL, NULL, NULL, NULL, NULL, &out, NULL) == 200);
    free(out);
    CHECK(req("GET", "/data/r.txt", "s3", "us-east-1", NULL, NULL, NULL, &out, NULL) == 503);
    CHECK_HAS(out, "SlowDown");
    free(out);
    CHECK(req("GET", "/data/r.txt", "s3", "us-east-1", NULL, NULL, NULL, &out, NULL) == 200);
    free(out);
    CHECK(req("POST", "/_mock/aws/slowdown?n=x", NULL, NULL, NULL, NULL, NULL, &out, NULL) == 400);
    free(out);
    /* a stall: the matching request is held, then refused without being carried out */
    CHECK(req("POST", "/_mock/aws/stall?match=held.txt&ms=300", NULL, NULL, NULL, NULL, NULL, &out, NULL) == 200);
    free(out);
    CHECK(req("PUT", "/data/held.txt", "s3", "us-east-1", NULL, NULL, "x", &out, NULL) == 503);
    free(out);
    CHECK(req("GET", "/data/held.txt", "s3", "us-east-1", NULL, NULL, NULL, &out, NULL) == 503);
    free(out);
    CHECK(req("POST", "/_mock/aws/stall?ms=0", NULL, NULL, NULL, NULL, NULL, &out, NULL) == 200);
    free(out);
    CHECK(req("GET", "/data/held.txt", "s3", "us-east-1", NULL, NULL, NULL, &out, NULL) == 404); /* never stored */
    free(out);
    CHECK(req("POST", "/_mock/aws/stall?ms=5", NULL, NULL, NULL, NULL, NULL, &out, NULL) == 400);
    free(out);
    CHECK(req("GET", "/_mock/aws/stats", NULL, NULL, NULL, NULL, NULL, &out, NULL) == 200);
    CHECK_HAS(out, "\"stalled\":2");
    free(out);
    CHECK(req("GET", "/_mock/aws/nothing", NULL, NULL, NULL, NULL, NULL, &out, NULL) == 404);
    free(out);
}

static void test_routes(void)
{
    const char *s3a =
        "AWS4-HMAC-SHA256 Credential=AK/20250101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00";
    const char *bra = "AWS4-HMAC-SHA256 Credential=AK/20250101/us-east-1/bedrock/aws4_request, SignedHeaders=host, "
                      "Signature=00";
    const char *form = "application/x-www-form-urlencoded; charset=utf-8";
    CHECK(mock_aws_route("GET", "/model/x/converse", s3a, NULL, NULL) == MOCK_AWS_S3); /* the scope decides */
    CHECK(mock_aws_route("POST", "/model/x/converse", bra, NULL, NULL) == MOCK_AWS_NONE);
    CHECK(mock_aws_route("POST", "/", NULL, "SageMaker.ListModelPackages", NULL) == MOCK_AWS_SAGEMAKER);
    CHECK(mock_aws_route("POST", "/", NULL, NULL, form) == MOCK_AWS_STS);
    CHECK(mock_aws_route("POST", "/", NULL, NULL, "application/json") == MOCK_AWS_NONE);
    CHECK(mock_aws_route("GET", "/latest/api/token", NULL, NULL, NULL) == MOCK_AWS_IMDS);
    CHECK(mock_aws_route("GET", "/v2/credentials/x", NULL, NULL, NULL) == MOCK_AWS_CONTAINER);
    CHECK(mock_aws_route("GET", "/_mock/aws/stats", NULL, NULL, NULL) == MOCK_AWS_ADMIN);
    CHECK(mock_aws_route("GET", "/healthz", NULL, NULL, NULL) == MOCK_AWS_NONE);
}

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    mock_opts_t mo;
    mock_opts_default(&mo);
    mo.aws_buckets = "data";
    mo.log_level = LOG_WARN;
    mock_t *m = awstest_mock(&mo);
    CHECK(m != NULL);
    if (!m) return check_summary("test_mock_aws");
    awstest_env(m, dir);
    base = mock_url(m);
    h = awshttp_new();
    test_routes();
    test_invoke();
    test_s3_details();
    test_meta_and_admin();
    awshttp_destroy(&h);
    awscreds_forget();
    mock_destroy(&m);
    /* bad options are refused */
    mock_opts_default(&mo);
    mo.aws_access_key = "AK";
    char err[256];
    CHECK(mock_new(&mo, err, sizeof err) == NULL);
    CHECK_HAS(err, "--aws-access-key and --aws-secret-key go together");
    mock_opts_default(&mo);
    mo.aws_buckets = "okay,x";
    CHECK(mock_new(&mo, err, sizeof err) == NULL);
    CHECK_HAS(err, "'x' is not name[:region]");
    mock_opts_default(&mo);
    mo.aws_model_packages = "/nonexistent.json";
    CHECK(mock_new(&mo, err, sizeof err) == NULL);
    CHECK_HAS(err, "--aws-model-packages /nonexistent.json");
    rmdir(dir);
    return check_summary("test_mock_aws");
}
