/* test_s3: the S3 client against the mock (every request's signature checked): objects in and
 * out (ranges, keys that need encoding, listing pages), single and multipart uploads checked
 * afterwards, the errors users meet named clearly (NoSuchBucket, NoSuchKey, AccessDenied with the
 * IAM action, a bucket in another region), SlowDown retried, expired credentials refreshed and the
 * request retried, and the addressing styles. */
#include "mem.h"
#include "s3.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "awstest.h"
#include "check.h"

static char dir[] = "/tmp/test_s3.XXXXXX";

static s3_t *client(const char *region, int attempts)
{
    char err[512];
    s3_opts_t o = {.region = region,
                   .path_style = -1,
                   .max_attempts = attempts,
                   .backoff_base_ms = 10,
                   .backoff_max_ms = 50,
                   .part_size = 5u << 20,
                   .multipart_threshold = 6u << 20};
    s3_t *s = s3_new(&o, err, sizeof err);
    if (!s) fprintf(stderr, "s3_new: %s\n", err);
    return s;
}

static void test_objects(mock_t *m)
{
    s3_t *s = client("us-east-1", 3);
    s3_err_t e;
    const char *key = "dir/a b+c é.jsonl";
    CHECK(s3_put(s, "data", key, "0123456789", 10, "application/x-ndjson", &e) == 0);
    s3_object_t o;
    CHECK(s3_head(s, "data", key, &o, &e) == 0 && o.size == 10 && o.etag[0] == '"');
    buf_t b;
    buf_init(&b, 0);
    CHECK(s3_get_range(s, "data", key, 2, 5, o.etag, &b, &e) == 0);
    CHECK(b.len == 5 && memcmp(b.data, "23456", 5) == 0);
    /* the object replaced: If-Match says so */
    CHECK(s3_put(s, "data", key, "changed", 7, NULL, &e) == 0);
    buf_reset(&b);
    CHECK(s3_get_range(s, "data", key, 0, 3, o.etag, &b, &e) < 0);
    CHECK_HAS(e.msg, "the object changed while it was being read");
    buf_free(&b);
    /* listing in pages */
    for (int i = 0; i < 5; i++) {
        char k[32];
        snprintf(k, sizeof k, "list/k%d", i);
        CHECK(s3_put(s, "data", k, "x", 1, NULL, &e) == 0);
    }
    char *token = NULL;
    size_t total = 0;
    int pages = 0;
    do {
        s3_entry_t *v;
        size_t n;
        char *next = NULL;
        CHECK(s3_list(s, "data", "list/", token, 2, &v, &n, &next, &e) == 0);
        for (size_t i = 0; i < n; i++) {
            char k[32];
            snprintf(k, sizeof k, "list/k%zu", total + i);
            CHECK_STR(v[i].key, k);
            CHECK(v[i].size == 1);
        }
        total += n;
        pages++;
        s3_entries_free(v, n);
        free(token);
        token = next;
    } while (token && pages < 10);
    CHECK(total == 5 && pages == 3);
    s3_destroy(&s);
    (void)m;
}

static void test_errors(void)
{
    s3_t *s = client("us-east-1", 2);
    s3_err_t e;
    s3_object_t o;
    CHECK(s3_head(s, "nosuch-bucket", "k", &o, &e) < 0);
    CHECK(e.status == 404);
    CHECK_HAS(e.msg, "HeadObject s3://nosuch-bucket/k: HTTP 404");
    buf_t b;
    buf_init(&b, 0);
    CHECK(s3_get_range(s, "nosuch-bucket", "k", 0, 1, NULL, &b, &e) < 0);
    CHECK_STR(e.code, "NoSuchBucket");
    CHECK_HAS(e.msg,
              "GetObject s3://nosuch-bucket/k: NoSuchBucket (HTTP 404): the bucket nosuch-bucket does not exist");
    CHECK(s3_get_range(s, "data", "missing.jsonl", 0, 1, NULL, &b, &e) < 0);
    CHECK_HAS(e.msg, "GetObject s3://data/missing.jsonl: NoSuchKey (HTTP 404): the object does not exist");
    CHECK(s3_get_range(s, "locked", "in/k", 0, 1, NULL, &b, &e) < 0);
    CHECK_STR(e.code, "AccessDenied");
    CHECK_HAS(e.msg, "AccessDenied (HTTP 403) for the credentials from environment: they need s3:GetObject on "
                     "arn:aws:s3:::locked/in/k");
    CHECK(s3_put(s, "locked", "out/x", "1", 1, NULL, &e) < 0);
    CHECK_HAS(e.msg, "they need s3:PutObject on arn:aws:s3:::locked/out/x");
    s3_entry_t *v;
    size_t n;
    char *next;
    CHECK(s3_list(s, "locked", "", NULL, 10, &v, &n, &next, &e) < 0);
    CHECK_HAS(e.msg, "they need s3:ListBucket on arn:aws:s3:::locked");
    /* a bucket in another region: never followed, named with both regions and what to change */
    CHECK(s3_get_range(s, "euro", "k", 0, 1, NULL, &b, &e) < 0);
    CHECK(e.status == 301);
    CHECK_STR(e.bucket_region, "eu-west-1");
    CHECK_HAS(e.msg, "the bucket euro is in region eu-west-1, but this job's region is us-east-1");
    CHECK_HAS(e.msg, "set \"region\": \"eu-west-1\"");
    CHECK(s3_head(s, "euro", "k", &o, &e) < 0); /* HEAD: only the header says where */
    CHECK_HAS(e.msg, "is in region eu-west-1");
    buf_free(&b);
    s3_destroy(&s);
    s = client("eu-west-1", 2);
    CHECK(s3_put(s, "euro", "k", "x", 1, NULL, &e) == 0);
    s3_destroy(&s);
    char *bk, *key, err[256];
    CHECK(s3_uri_parse("s3://Bad_Bucket/k", false, &bk, &key, err, sizeof err) < 0);
    CHECK_HAS(err, "is not an S3 bucket name");
    CHECK(s3_uri_parse("s3://bucket", false, &bk, &key, err, sizeof err) < 0);
    CHECK_HAS(err, "names a bucket but no object");
    CHECK(s3_uri_parse("s3://bucket", true, &bk, &key, err, sizeof err) == 0 && strcmp(bk, "bucket") == 0 && !*key);
    free(bk);
    free(key);
    CHECK(s3_uri_parse("https://x", false, &bk, &key, err, sizeof err) < 0);
}

static void test_upload(const char *tmp)
{
    s3_t *s = client("us-east-1", 3);
    char *small = xasprintf("%s/small.json", tmp), *big = xasprintf("%s/records.jsonl", tmp);
    FILE *f = fopen(small, "w");
    if (f) {
        fputs("{\"a\":1}\n", f);
        fclose(f);
    }
    /* 12 MiB of lines: three 5 MiB parts (the last one short) */
    f = fopen(big, "w");
    size_t size = 0;
    for (int i = 0; f && size < (12u << 20); i++)
        size += (size_t)fprintf(f, "{\"record_index\":%d,\"pad\":\"%0100d\"}\n", i, i);
    if (f) fclose(f);
    s3_object_t o;
    s3_err_t e;
    CHECK(s3_upload_file(s, "data", "out/small.json", small, "application/json", &o, &e) == 1 && o.size == 8);
    int parts = s3_upload_file(s, "data", "out/records.jsonl", big, "application/x-ndjson", &o, &e);
    CHECK(parts == 3);
    if (parts < 0) fprintf(stderr, "  %s\n", e.msg);
    CHECK(o.size == size && strstr(o.etag, "-3\"") != NULL);
    /* read back what was written, in full */
    buf_t b;
    buf_init(&b, 0);
    CHECK(s3_get_range(s, "data", "out/records.jsonl", 0, size, NULL, &b, &e) == 0 && b.len == size);
    FILE *g = fopen(big, "rb");
    char *local = xmalloc(size);
    CHECK(g && fread(local, 1, size, g) == size);
    if (g) fclose(g);
    CHECK(b.data && memcmp(b.data, local, size) == 0);
    free(local);
    buf_free(&b);
    /* a failed upload is reported and aborted */
    CHECK(s3_upload_file(s, "locked", "x/records.jsonl", big, NULL, &o, &e) < 0);
    CHECK_HAS(e.msg, "AccessDenied");
    CHECK(s3_upload_file(s, "data", "x", "/nonexistent/file", NULL, &o, &e) < 0);
    CHECK_HAS(e.msg, "/nonexistent/file: cannot read");
    unlink(small);
    unlink(big);
    free(small);
    free(big);
    s3_destroy(&s);
}

static void test_addressing(mock_t *m)
{
    char err[256];
    unsetenv("AWS_ENDPOINT_URL");
    s3_opts_t o = {.region = "us-west-2", .path_style = -1};
    s3_t *s = s3_new(&o, err, sizeof err);
    char *u = s3_object_url(s, "bkt", "a b/c");
    CHECK_STR(u, "https://bkt.s3.us-west-2.amazonaws.com/a%20b/c");
    free(u);
    u = s3_object_url(s, "my.dotted.bucket", "k");
    CHECK_STR(u, "https://s3.us-west-2.amazonaws.com/my.dotted.bucket/k");
    free(u);
    s3_destroy(&s);
    setenv("AWS_S3_ADDRESSING_STYLE", "path", 1);
    s = s3_new(&o, err, sizeof err);
    u = s3_object_url(s, "bkt", "k");
    CHECK_STR(u, "https://s3.us-west-2.amazonaws.com/bkt/k");
    free(u);
    s3_destroy(&s);
    unsetenv("AWS_S3_ADDRESSING_STYLE");
    setenv("AWS_ENDPOINT_URL_S3", "http://minio.local:9000/", 1);
    s = s3_new(&o, err, sizeof err);
    u = s3_object_url(s, "bkt", "k");
    CHECK_STR(u, "http://minio.local:9000/bkt/k");
    free(u);
    s3_destroy(&s);
    setenv("AWS_S3_ADDRESSING_STYLE", "virtual", 1);
    s = s3_new(&o, err, sizeof err);
    u = s3_object_url(s, "bkt", "k");
    CHECK_STR(u, "http://bkt.minio.local:9000/k");
    free(u);
    s3_destroy(&s);
    unsetenv("AWS_S3_ADDRESSING_STYLE");
    unsetenv("AWS_ENDPOINT_URL_S3");
    s3_opts_t none = {.path_style = -1};
    CHECK(s3_new(&none, err, sizeof err) == NULL);
    CHECK_HAS(err, "S3 needs a region");
    setenv("AWS_ENDPOINT_URL", mock_url(m), 1);
}

static time_t frozen;
static time_t frozen_clock(void) { return frozen; }

static void test_retries(const char *tmp)
{
    mock_opts_t mo;
    mock_opts_default(&mo);
    mo.aws_buckets = "data";
    mo.aws_slowdown = 2;
    mo.aws_creds_ttl = 2;
    mo.log_level = LOG_WARN;
    mock_t *m = awstest_mock(&mo);
    CHECK(m != NULL);
    if (!m) return;
    awstest_env(m, tmp);
    s3_t *s = client("us-east-1", 3);
    s3_err_t e;
    CHECK(s3_put(s, "data", "k", "x", 1, NULL, &e) == 0); /* two SlowDowns, then done */
    s3_destroy(&s);
    /* expired credentials: the mock says ExpiredToken, the client drops its cache and retries with
     * fresh ones. The cache is held at the moment the credentials were issued (a clock seam), so
     * only the server knows they expired. */
    char *full = xasprintf("%s/aws/container-credentials", mock_url(m));
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", full, 1);
    time_t (*wall)(void) = awscreds_clock;
    frozen = time(NULL);
    awscreds_clock = frozen_clock;
    awscreds_forget();
    s = client("us-east-1", 3);
    char err[512];
    awscreds_t *c = awscreds_new(NULL, err, sizeof err);
    CHECK(c != NULL);
    char first[64];
    snprintf(first, sizeof first, "%s", c ? awscreds_access_key(c) : "");
    awscreds_destroy(&c);
    sleep(3); /* past the mock's 2 s lifetime; the frozen cache still trusts them */
    CHECK(s3_put(s, "data", "k2", "y", 1, NULL, &e) == 0);
    if (e.msg[0]) fprintf(stderr, "  %s\n", e.msg);
    c = awscreds_new(NULL, err, sizeof err);
    CHECK(c && strcmp(awscreds_access_key(c), first) != 0);
    awscreds_destroy(&c);
    awscreds_clock = wall;
    awscreds_forget();
    s3_destroy(&s);
    unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    free(full);
    /* SlowDown past the attempts: reported */
    mock_destroy(&m);
    mo.aws_slowdown = 10;
    mo.aws_creds_ttl = 3600;
    m = awstest_mock(&mo);
    awstest_env(m, tmp);
    s = client("us-east-1", 2);
    CHECK(s3_put(s, "data", "k", "x", 1, NULL, &e) < 0);
    CHECK_HAS(e.msg, "PutObject s3://data/k: HTTP 503 SlowDown: Please reduce your request rate.");
    s3_destroy(&s);
    mock_destroy(&m);
}

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    mock_opts_t mo;
    mock_opts_default(&mo);
    mo.aws_buckets = "data,locked,euro:eu-west-1";
    mo.aws_deny = "locked";
    mo.log_level = LOG_WARN;
    mock_t *m = awstest_mock(&mo);
    CHECK(m != NULL);
    if (!m) return check_summary("test_s3");
    awstest_env(m, dir);
    test_objects(m);
    test_errors();
    test_upload(dir);
    test_addressing(m);
    mock_destroy(&m);
    test_retries(dir);
    awscreds_forget();
    rmdir(dir);
    return check_summary("test_s3");
}
