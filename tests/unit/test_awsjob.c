/* test_awsjob: the AWS side of a job against the mock: the region's chain (spec, the scheduler's
 * environment, the AWS config profile) and when a job needs one; model packages and groups
 * resolved into model strings (and every refusal with its key); datasets opened locally and from
 * S3; the output check that writes job.json; the upload of the result files. */
#include "awsjob.h"
#include "mem.h"
#include "s3.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "awstest.h"
#include "check.h"

static char dir[] = "/tmp/test_awsjob.XXXXXX";
#define PKG(x) "arn:aws:sagemaker:us-west-2:123456789012:model-package/" x

static spec_t *spec(const char *extra, errlist_t *e)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "{\"builtin_metrics\": [\"Correctness\"]%s%s%s}",
             strstr(extra, "\"dataset\"") ? "" : ", \"dataset\": \"s3://data/d.jsonl\"",
             strstr(extra, "\"evaluator_model\"") ? "" : ", \"evaluator_model\": \"amazon.nova-pro-v1:0\"", extra);
    errlist_init(e, 0);
    spec_t *s = spec_parse(buf, strlen(buf), "spec", NULL, e);
    if (!s) errlist_print(e, stderr, "  spec: ");
    return s;
}

static void put_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void test_region(void)
{
    char *out = awsjob_spec_with_region("{\"model\":\"x\"}", 13);
    CHECK(out == NULL); /* no region anywhere: nothing to add */
    setenv("AWS_REGION", "eu-west-3", 1);
    out = awsjob_spec_with_region("{\"model\":\"x\"}", 13);
    CHECK(out && strstr(out, "\"region\":\"eu-west-3\""));
    free(out);
    out = awsjob_spec_with_region("{\"region\":\"ap-south-1\"}", 23);
    CHECK(out == NULL); /* the spec's own wins */
    unsetenv("AWS_REGION");
    char *cfg = xasprintf("%s/config", dir);
    put_file(cfg, "[default]\nregion = ca-central-1\n");
    out = awsjob_spec_with_region("{\"region\":null}", 15);
    CHECK(out && strstr(out, "\"region\":\"ca-central-1\""));
    free(out);
    unlink(cfg);
    free(cfg);

    errlist_t e;
    spec_t *s = spec(", \"model\": \"openai/x\", \"output_path\": \"out/\", \"dataset\": \"d.jsonl\", "
                     "\"evaluator_model\": \"openai/judge\"",
                     &e);
    CHECK(s && !awsjob_needs_region(s));
    errlist_free(&e);
    spec_destroy(&s);
    const char *needs[] = {", \"model\": \"sagemaker/ep\"", ", \"s3_output_path\": \"s3://out/x/\"",
                           ", \"model\": \"" PKG("gamma/28") "\""};
    for (int i = 0; i < 3; i++) {
        s = spec(needs[i], &e);
        CHECK(s && awsjob_needs_region(s));
        if (s) {
            errlist_t pe;
            errlist_init(&pe, 0);
            CHECK(awsjob_prepare(s, &pe) < 0);
            CHECK(pe.count == 1 && errs_have(&pe, "region: this job calls AWS (Bedrock, SageMaker or S3) but no region "
                                                  "is set"));
            errlist_free(&pe);
        }
        errlist_free(&e);
        spec_destroy(&s);
    }
}

static void test_packages(void)
{
    errlist_t e, pe;
    /* the seed's Part 2: a fine-tuned package with an endpoint recorded, its base model evaluated too */
    spec_t *s = spec(", \"region\": \"us-west-2\", \"model\": \"" PKG("gamma/28") "\", \"evaluate_base_model\": true",
                     &e);
    errlist_init(&pe, 0);
    CHECK(s && awsjob_prepare(s, &pe) == 0);
    if (s) {
        CHECK_STR(s->model, "sagemaker/gamma-28-endpoint");
        CHECK_STR(s->model_package, PKG("gamma/28"));
        CHECK_STR(s->base_model, "nova-textgeneration-lite");
        CHECK(!s->model_is_package);
        cJSON *j = spec_to_json(s);
        char *t = cJSON_PrintUnformatted(j);
        CHECK(strstr(t, "\"model_package\":\"" PKG("gamma/28") "\"") && strstr(t, "\"region\":\"us-west-2\""));
        free(t);
        cJSON_Delete(j);
    }
    errlist_free(&pe);
    errlist_free(&e);
    spec_destroy(&s);
    /* a group: its latest approved version */
    s = spec(", \"region\": \"us-west-2\", \"model_package_group\": \"gamma\"", &e);
    errlist_init(&pe, 0);
    CHECK(s && awsjob_prepare(s, &pe) == 0 && strcmp(s->model, "sagemaker/gamma-28-endpoint") == 0 &&
          strcmp(s->model_package, PKG("gamma/28")) == 0);
    errlist_free(&pe);
    errlist_free(&e);
    spec_destroy(&s);
    /* every refusal, each with its key, all at once */
    s = spec(", \"region\": \"us-west-2\", \"model\": \"" PKG("finetuned/3") "\", \"base_model\": \"" PKG(
                 "jumpstart/1") "\", \"evaluate_base_model\": true",
             &e);
    errlist_init(&pe, 0);
    CHECK(s && awsjob_prepare(s, &pe) < 0);
    CHECK(pe.count == 2);
    CHECK(errs_have(&pe, "model: the package " PKG("finetuned/3") " is a fine-tuned model with artifacts only"));
    CHECK(errs_have(&pe,
                    "base_model: the package " PKG(
                        "jumpstart/1") " names the base model "
                                       "`meta-textgeneration-llama-3-8b`, which Bedrock does not serve on demand"));
    errlist_free(&pe);
    errlist_free(&e);
    spec_destroy(&s);
    s = spec(
        ", \"region\": \"us-west-2\", \"model\": \"arn:aws:sagemaker:us-east-1:123456789012:model-package/east/1\"",
        &e);
    errlist_init(&pe, 0);
    CHECK(s && awsjob_prepare(s, &pe) < 0 &&
          errs_have(&pe,
                    "model: the model package "
                    "arn:aws:sagemaker:us-east-1:123456789012:model-package/east/1 is in region us-east-1, but this "
                    "job's region is us-west-2"));
    errlist_free(&pe);
    errlist_free(&e);
    spec_destroy(&s);
    s = spec(", \"region\": \"us-west-2\", \"model_package_group\": \"empty\"", &e);
    errlist_init(&pe, 0);
    CHECK(s && awsjob_prepare(s, &pe) < 0 &&
          errs_have(&pe, "model_package_group: model package group empty has no "
                         "Approved version"));
    errlist_free(&pe);
    errlist_free(&e);
    spec_destroy(&s);
    s = spec(", \"region\": \"us-west-2\", \"model_artifact\": \"s3://models/x/model.tar.gz\"", &e);
    errlist_init(&pe, 0);
    CHECK(s && awsjob_prepare(s, &pe) < 0 &&
          errs_have(&pe, "model_artifact: llmaj evaluates models that are already "
                         "served; it does not deploy model artifacts"));
    errlist_free(&pe);
    errlist_free(&e);
    spec_destroy(&s);
}

static void test_data_and_results(void)
{
    errlist_t e, pe;
    s3_opts_t so = {.region = "us-east-1", .path_style = -1};
    char err[1024];
    s3_t *s3 = s3_new(&so, err, sizeof err);
    s3_err_t se;
    CHECK(s3_put(s3, "data", "d.jsonl", "{\"prompt\":\"a\"}\n{\"prompt\":\"b\"}\n", 30, NULL, &se) == 0);
    spec_t *s = spec(", \"region\": \"us-east-1\", \"model\": \"openai/x\", \"s3_output_path\": \"s3://out/eval\"", &e);
    CHECK(s != NULL);
    if (!s) return;
    dataset_t *d = awsjob_dataset_open(s, 0, err, sizeof err);
    CHECK(d != NULL);
    record_t r;
    int n = 0;
    while (d && dataset_next(d, &r, &e) == 1) {
        n++;
        record_clear(&r);
    }
    CHECK(n == 2);
    dataset_close(&d);
    CHECK(awsjob_output_is_s3(s));
    CHECK_STR(awsjob_local_root(s), "runs");
    char *u = awsjob_output_uri(s, "job-1");
    CHECK_STR(u, "s3://out/eval/job-1/");
    free(u);
    errlist_init(&pe, 0);
    CHECK(awsjob_output_check(s, "job-1", "{\"model\":\"openai/x\"}", &pe) == 0);
    errlist_free(&pe);
    buf_t b;
    buf_init(&b, 0);
    s3_object_t o;
    CHECK(s3_head(s3, "out", "eval/job-1/job.json", &o, &se) == 0 &&
          s3_get_range(s3, "out", "eval/job-1/job.json", 0, o.size, NULL, &b, &se) == 0);
    CHECK(b.data && strstr(b.data, "\"status\":\"running\"") && strstr(b.data, "\"spec\":{\"model\":\"openai/x\"}"));
    buf_free(&b);
    /* the results: three files, checked */
    char *jd = xasprintf("%s/job-1", dir);
    CHECK(mkdir(jd, 0755) == 0);
    const char *names[] = {"records.jsonl", "summary.json", "job.json"};
    for (int i = 0; i < 3; i++) {
        char *p = xasprintf("%s/%s", jd, names[i]);
        put_file(p, "{\"x\":1}\n");
        free(p);
    }
    CHECK(awsjob_upload(s, "job-1", jd, err, sizeof err) == 0);
    for (int i = 0; i < 3; i++) {
        char *k = xasprintf("eval/job-1/%s", names[i]);
        CHECK(s3_head(s3, "out", k, &o, &se) == 0 && o.size == 8);
        free(k);
    }
    /* a missing local file: not uploaded, said so, with where the results are */
    char *p = xasprintf("%s/summary.json", jd);
    unlink(p);
    CHECK(awsjob_upload(s, "job-1", jd, err, sizeof err) < 0);
    CHECK_HAS(err, "results not uploaded to s3://out/eval/job-1/ (they are in ");
    CHECK_HAS(err, "summary.json: cannot read");
    free(p);
    spec_destroy(&s);
    errlist_free(&e);
    /* output checks: each error before anything runs, under the output key */
    struct {
        const char *out, *want;
    } bad[] = {
        {"s3://nosuch-bucket/x/", "output_path: s3://nosuch-bucket/x/ is not writable: PutObject "
                                  "s3://nosuch-bucket/x/job-2/job.json: NoSuchBucket (HTTP 404)"},
        {"s3://locked/x/", "AccessDenied (HTTP 403) for the credentials from environment: they need s3:PutObject on "
                           "arn:aws:s3:::locked/x/job-2/job.json"},
        {"s3://euro/x/", "the bucket euro is in region eu-west-1, but this job's region is us-east-1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char extra[256];
        snprintf(extra, sizeof extra,
                 ", \"region\": \"us-east-1\", \"model\": \"openai/x\", \"s3_output_path\": \"%s\"", bad[i].out);
        s = spec(extra, &e);
        errlist_init(&pe, 0);
        CHECK(s && awsjob_output_check(s, "job-2", "{}", &pe) < 0 && errs_have(&pe, bad[i].want));
        errlist_free(&pe);
        errlist_free(&e);
        spec_destroy(&s);
    }
    /* datasets that are not there are reported when opened */
    s = spec(", \"region\": \"us-east-1\", \"model\": \"openai/x\", \"dataset\": \"s3://data/missing.jsonl\"", &e);
    CHECK(s && !awsjob_dataset_open(s, 0, err, sizeof err));
    CHECK_HAS(err, "HeadObject s3://data/missing.jsonl: HTTP 404");
    spec_destroy(&s);
    errlist_free(&e);
    free(jd);
    s3_destroy(&s3);
}

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    const char *data = getenv("LLMAJ_TESTDATA");
    char *pk = xasprintf("%s/aws/model-packages.json", data ? data : "tests/data");
    mock_opts_t mo;
    mock_opts_default(&mo);
    mo.aws_model_packages = pk;
    mo.aws_buckets = "data,out,locked,euro:eu-west-1";
    mo.aws_deny = "locked";
    mo.log_level = LOG_WARN;
    mock_t *m = awstest_mock(&mo);
    CHECK(m != NULL);
    if (!m) return check_summary("test_awsjob");
    awstest_env(m, dir);
    test_region();
    test_packages();
    test_data_and_results();
    awscreds_forget();
    mock_destroy(&m);
    free(pk);
    char *cmd = xasprintf("rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
    free(cmd);
    return check_summary("test_awsjob");
}
