/* test_spec: every key's rule, the aliases, "every problem at once", canonical JSON round trips
 * and spec_load's path resolution. */
#include "spec.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "mem.h"
#include "testutil.h"

static char dir[256];

static spec_t *parse(const char *json, const char *base_dir, errlist_t *e)
{
    errlist_init(e, 0);
    return spec_parse(json, strlen(json), "spec", base_dir, e);
}

/* A spec made of the minimal valid keys plus `extra` (",\"key\": value..." or ""). */
static spec_t *parse_with(const char *extra, errlist_t *e)
{
    static char buf[65536];
    snprintf(buf, sizeof(buf), "{\"evaluator_model\": \"bedrock/amazon.nova-pro-v1:0\", \"dataset\": \"d.jsonl\"%s%s}",
             strstr(extra, "builtin_metrics") || strstr(extra, "custom_metrics")
                 ? ""
                 : ", \"builtin_metrics\": [\"Correctness\"]",
             extra);
    return parse(buf, NULL, e);
}

/* `extra` is accepted. */
static bool accepts(const char *extra)
{
    errlist_t e;
    spec_t *s = parse_with(extra, &e);
    bool good = s != NULL && e.count == 0;
    if (!good) {
        fprintf(stderr, "  rejected: %s\n", extra);
        errlist_print(&e, stderr, "    ");
    }
    spec_destroy(&s);
    errlist_free(&e);
    return good;
}

/* `extra` is rejected with exactly one message containing `needle`. */
static bool rejects(const char *extra, const char *needle)
{
    errlist_t e;
    spec_t *s = parse_with(extra, &e);
    bool good = s == NULL && errs_have(&e, needle);
    if (good && e.count != 1) {
        fprintf(stderr, "  %zu messages for %s:\n", e.count, extra);
        errlist_print(&e, stderr, "    ");
        good = false;
    }
    spec_destroy(&s);
    errlist_free(&e);
    return good;
}

static const char *full_spec =
    "{\n"
    "  \"name\": \"ft-28 vs base\",\n"
    "  \"model\": \"openai-api/local/my-finetune\",\n"
    "  \"base_model\": \"openai-api/local/my-base\",\n"
    "  \"evaluator_model\": \"bedrock/amazon.nova-pro-v1:0\",\n"
    "  \"dataset\": \"data/gen_qa.jsonl\",\n"
    "  \"builtin_metrics\": [\"Correctness\", \"Builtin.Completeness\"],\n"
    "  \"custom_metrics\": [{\"customMetricDefinition\": {\"name\": \"PositiveSentiment\",\n"
    "      \"instructions\": \"Is it positive? Prompt: {{prompt}} Response: {{prediction}}\",\n"
    "      \"ratingScale\": [{\"definition\": \"Good\", \"value\": {\"floatValue\": 1}},\n"
    "                      {\"definition\": \"Poor\", \"value\": {\"floatValue\": 0}}]}}],\n"
    "  \"output_path\": \"runs/\",\n"
    "  \"mlflow\": {\"tracking_uri\": \"http://127.0.0.1:5000\", \"experiment\": \"my-evals\", \"run_name\": \"ft-28\"},\n"
    "  \"region\": \"us-west-2\",\n"
    "  \"inference\": {\"max_tokens\": 2048, \"temperature\": 0.7, \"top_p\": 0.9, \"retry_budget_s\": 120},\n"
    "  \"judge\": {\"max_tokens\": 1024, \"temperature\": 0},\n"
    "  \"limits\": {\"bedrock/amazon.nova-pro-v1:0\": {\"rpm\": 6000, \"tpm\": 2000000, \"max_concurrency\": 512},\n"
    "             \"openai-api/local/my-finetune\": {\"rpm\": 0.5}},\n"
    "  \"shard_size\": 32,\n"
    "  \"skip_invalid\": true,\n"
    "  \"judge_system_prompt\": \"You are a strict judge.\"\n"
    "}\n";

static void test_full(void)
{
    errlist_t e;
    spec_t *s = parse(full_spec, "/data/specs", &e);
    CHECK(s != NULL);
    if (!s) {
        errlist_print(&e, stderr, "    ");
        errlist_free(&e);
        return;
    }
    CHECK(strcmp(s->job_name, "ft-28 vs base") == 0);
    CHECK(strcmp(s->model, "openai-api/local/my-finetune") == 0);
    CHECK(strcmp(s->base_model, "openai-api/local/my-base") == 0);
    CHECK(s->evaluate_base_model); /* default with a base model */
    CHECK(strcmp(s->evaluator_model, "bedrock/amazon.nova-pro-v1:0") == 0);
    CHECK(strcmp(s->dataset, "/data/specs/data/gen_qa.jsonl") == 0);
    CHECK(strcmp(s->output_path, "/data/specs/runs/") == 0);
    CHECK(strcmp(s->region, "us-west-2") == 0);
    CHECK(s->n_metrics == 3);
    CHECK(strcmp(s->metrics[0]->name, "Correctness") == 0 && s->metrics[0]->builtin);
    CHECK(strcmp(s->metrics[1]->name, "Completeness") == 0 && s->metrics[1]->builtin);
    CHECK(strcmp(s->metrics[2]->name, "PositiveSentiment") == 0 && !s->metrics[2]->builtin);
    CHECK(s->inference.max_tokens == 2048 && s->inference.temperature == 0.7 && s->inference.top_p == 0.9);
    CHECK(s->judge.max_tokens == 1024 && s->judge.temperature == 0 && s->judge.top_p < 0);
    CHECK(s->n_limits == 2);
    CHECK(strcmp(s->limits[0].model, "bedrock/amazon.nova-pro-v1:0") == 0);
    CHECK(s->limits[0].rpm == 6000 && s->limits[0].tpm == 2000000 && s->limits[0].max_concurrency == 512);
    CHECK(s->limits[1].rpm == 0.5 && s->limits[1].tpm == 0 && s->limits[1].max_concurrency == 0);
    CHECK(s->shard_size == 32 && s->skip_invalid);
    CHECK(strcmp(s->mlflow_tracking_uri, "http://127.0.0.1:5000") == 0);
    CHECK(strcmp(s->mlflow_experiment, "my-evals") == 0 && strcmp(s->mlflow_run_name, "ft-28") == 0);
    CHECK(strcmp(s->judge_system_prompt, "You are a strict judge.") == 0);

    /* limits apply by string, and to other spellings of the same model */
    CHECK(spec_limit_for(s, "bedrock/amazon.nova-pro-v1:0") == &s->limits[0]);
    CHECK(spec_limit_for(s, "amazon.nova-pro-v1:0") == &s->limits[0]);
    CHECK(spec_limit_for(s, "openai-api/local/my-finetune") == &s->limits[1]);
    CHECK(spec_limit_for(s, "openai-api/other/my-finetune") == NULL);
    CHECK(spec_limit_for(s, "openai/gpt-4o") == NULL);
    CHECK(spec_limit_for(s, "garbage") == NULL);
    CHECK(spec_limit_for(s, NULL) == NULL);

    /* canonical JSON re-parses to an equal spec, and is a fixed point */
    cJSON *j = spec_to_json(s);
    char *t1 = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    errlist_t e2;
    spec_t *s2 = parse(t1, NULL, &e2);
    CHECK(s2 != NULL);
    if (s2) {
        j = spec_to_json(s2);
        char *t2 = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        CHECK(strcmp(t1, t2) == 0);
        free(t2);
        CHECK(strcmp(s2->dataset, s->dataset) == 0 && strcmp(s2->output_path, s->output_path) == 0);
        CHECK(s2->n_metrics == 3 && strcmp(s2->metrics[2]->name, "PositiveSentiment") == 0);
        CHECK(s2->metrics[2]->n_ratings == 2 && s2->metrics[2]->ratings[0].value == 1);
        CHECK(strcmp(s2->metrics[2]->instructions, s->metrics[2]->instructions) == 0);
        CHECK(s2->inference.temperature == 0.7 && s2->inference.top_p == 0.9 && s2->judge.top_p < 0);
        CHECK(s2->inference.retry_budget_s == 120 && s2->judge.retry_budget_s == SPEC_RETRY_BUDGET_S);
        CHECK(s2->n_limits == 2 && s2->limits[1].rpm == 0.5 && s2->limits[0].max_concurrency == 512);
        CHECK(s2->evaluate_base_model && s2->skip_invalid && s2->shard_size == 32);
        CHECK(strcmp(s2->mlflow_run_name, "ft-28") == 0 && strcmp(s2->job_name, s->job_name) == 0);
        CHECK(strcmp(s2->judge_system_prompt, s->judge_system_prompt) == 0);
    } else {
        errlist_print(&e2, stderr, "    ");
    }
    CHECK(strstr(t1, "\"builtin_metrics\":[\"Correctness\",\"Completeness\"]") != NULL);
    CHECK(strstr(t1, "\"evaluate_base_model\":true") != NULL);
    free(t1);
    spec_destroy(&s2);
    errlist_free(&e2);
    spec_destroy(&s);
    CHECK(s == NULL);
    spec_destroy(&s);
    spec_destroy(NULL);
    errlist_free(&e);
}

static void test_defaults(void)
{
    errlist_t e;
    spec_t *s = parse_with("", &e);
    CHECK(s != NULL && e.count == 0);
    if (!s) return;
    CHECK(s->model == NULL && s->base_model == NULL && !s->evaluate_base_model);
    CHECK(strcmp(s->dataset, "d.jsonl") == 0);
    CHECK(strcmp(s->output_path, "runs/") == 0);
    CHECK(s->region == NULL && s->job_name == NULL && s->judge_system_prompt == NULL);
    CHECK(s->shard_size == 64 && !s->skip_invalid);
    CHECK(s->dataset_max_bytes == SPEC_DATASET_MAX_BYTES_DEFAULT && s->dataset_max_bytes == (uint64_t)10 << 30);
    CHECK(s->inference.max_tokens == 1024 && s->inference.temperature == 0 && s->inference.top_p < 0);
    CHECK(s->judge.max_tokens == 1024 && s->judge.temperature == 0 && s->judge.top_p < 0);
    CHECK(s->n_limits == 0 && s->mlflow_tracking_uri == NULL && s->mlflow_experiment == NULL);
    CHECK(s->n_metrics == 1);
    cJSON *j = spec_to_json(s);
    char *t = cJSON_PrintUnformatted(j);
    CHECK(strstr(t, "\"output_path\":\"runs/\"") && strstr(t, "\"shard_size\":64") &&
          strstr(t, "\"judge\":{\"max_tokens\":1024,\"temperature\":0}") && !strstr(t, "\"model\""));
    CHECK(!strstr(t, "dataset_max_bytes")); /* the default is not written into the canonical spec */
    errlist_t e2;
    spec_t *s2 = parse(t, NULL, &e2);
    CHECK(s2 && s2->model == NULL && s2->n_metrics == 1 && !s2->evaluate_base_model);
    spec_destroy(&s2);
    errlist_free(&e2);
    free(t);
    cJSON_Delete(j);
    spec_destroy(&s);
    errlist_free(&e);

    /* nulls are absent */
    CHECK(accepts(",\"model\": null, \"base_model\": null, \"region\": null, \"shard_size\": null, "
                  "\"inference\": null, \"limits\": null, \"mlflow\": null, \"custom_metrics\": null, "
                  "\"builtin_metrics\": [\"Helpfulness\"]"));
}

static void test_models(void)
{
    CHECK(accepts(",\"model\": \"openai/gpt-4o-mini\""));
    CHECK(accepts(",\"model\": \"anthropic.claude-3-5-haiku-20241022-v1:0\""));
    CHECK(accepts(",\"model\": \"sagemaker/my-endpoint\""));
    CHECK(accepts(",\"model\": \"nova-textgeneration-lite\", \"region\": \"eu-west-1\""));
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
    CHECK(rejects(",\"model\": \"nova-textgeneration-lite\"",
                  "model: model string `nova-textgeneration-lite` needs a region"));
    CHECK(rejects(",\"model\": \"gpt-4o\"", "model: unknown model string `gpt-4o`; accepted forms"));
    CHECK(rejects(",\"base_model\": \"llama3\"", "base_model: unknown model string `llama3`"));
    CHECK(rejects(",\"model\": 5", "model: must be a non-empty string, got 5"));
    CHECK(rejects(",\"model\": \"\"", "model: must be a non-empty string"));
    CHECK(rejects(",\"region\": \"Oregon\"", "region: `Oregon` is not an AWS region name"));
    CHECK(rejects(",\"region\": 2", "region: must be a non-empty string"));

    /* without `region`, the environment's region is fixed into the spec */
    setenv("AWS_DEFAULT_REGION", "eu-west-2", 1);
    errlist_t e0;
    spec_t *s0 = parse_with(",\"model\": \"nova-textgeneration-pro\"", &e0);
    CHECK(s0 && s0->region && strcmp(s0->region, "eu-west-2") == 0);
    spec_destroy(&s0);
    errlist_free(&e0);
    setenv("AWS_REGION", "ap-southeast-1", 1);
    s0 = parse_with(",\"region\": \"us-east-1\"", &e0);
    CHECK(s0 && strcmp(s0->region, "us-east-1") == 0);
    spec_destroy(&s0);
    errlist_free(&e0);
    s0 = parse_with("", &e0);
    CHECK(s0 && strcmp(s0->region, "ap-southeast-1") == 0);
    spec_destroy(&s0);
    errlist_free(&e0);
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");

    errlist_t e;
    spec_t *s = parse("{\"dataset\": \"d\", \"builtin_metrics\": [\"Correctness\"], \"evaluator_model\": \"gpt\"}",
                      NULL, &e);
    CHECK(s == NULL && e.count == 1 && errs_have(&e, "evaluator_model: unknown model string `gpt`"));
    errlist_free(&e);

    /* evaluate_base_model */
    s = parse_with(",\"base_model\": \"openai/gpt-4o\", \"evaluate_base_model\": false", &e);
    CHECK(s && !s->evaluate_base_model);
    spec_destroy(&s);
    errlist_free(&e);
    s = parse_with(",\"base_model\": \"openai/gpt-4o\"", &e);
    CHECK(s && s->evaluate_base_model);
    spec_destroy(&s);
    errlist_free(&e);
    CHECK(accepts(",\"evaluate_base_model\": false"));
    CHECK(rejects(",\"evaluate_base_model\": true", "evaluate_base_model: is true but no base_model is given"));
    CHECK(
        rejects(",\"evaluate_base_model\": \"yes\"", "evaluate_base_model: must be true or false, got string \"yes\""));
}

static void test_locations(void)
{
    errlist_t e;
    spec_t *s = parse(
        "{\"evaluator_model\": \"openai/gpt-4o\", \"builtin_metrics\": [\"Correctness\"], "
        "\"dataset\": \"s3://my-bucket/datasets/gen_qa.jsonl\", \"s3_output_path\": \"s3://my-bucket/eval/\"}",
        "/base", &e);
    CHECK(s != NULL);
    if (s) {
        CHECK(strcmp(s->dataset, "s3://my-bucket/datasets/gen_qa.jsonl") == 0);
        CHECK(strcmp(s->output_path, "s3://my-bucket/eval/") == 0);
    }
    spec_destroy(&s);
    errlist_free(&e);
    s = parse("{\"evaluator_model\": \"openai/gpt-4o\", \"builtin_metrics\": [\"Correctness\"], "
              "\"dataset\": \"/abs/d.jsonl\", \"output_path\": \"out\"}",
              "rel/dir/", &e);
    CHECK(s && strcmp(s->dataset, "/abs/d.jsonl") == 0 && strcmp(s->output_path, "rel/dir/out") == 0);
    spec_destroy(&s);
    errlist_free(&e);

    CHECK(accepts(",\"output_path\": \"out/\", \"s3_output_path\": \"out/\""));
    CHECK(rejects(",\"output_path\": \"a/\", \"s3_output_path\": \"s3://b-u-c/x\"",
                  "s3_output_path: is an alias of output_path and both are given with different values"));
    CHECK(accepts(",\"output_path\": \"s3://bucket\""));
    CHECK(rejects(",\"output_path\": \"https://x/y\"", "output_path: unsupported location `https://x/y`"));
    CHECK(rejects(",\"s3_output_path\": \"s3://B!\"", "s3_output_path: `s3://B!` is not an S3 location"));
    CHECK(rejects(",\"output_path\": \"\"", "output_path: must be a non-empty string"));

    char buf[512];
    const char *bad_ds[][2] = {
        {"s3://bucket", "dataset: `s3://bucket` is not an S3 object URI; expected s3://bucket/key"},
        {"s3://bucket/", "is not an S3 object URI"},
        {"https://", "dataset: `https://` has no host"},
        {"ftp://host/x", "dataset: unsupported location `ftp://host/x`"},
        {"http://host/x", "plain http:// is accepted only for a server on this machine"},
        {"arn:aws:sagemaker:us-west-2:1:hub-content/AIRegistry/DataSet/x/1.0.0",
         "dataset ARNs (AI Registry) are not supported"},
    };
    for (size_t i = 0; i < sizeof(bad_ds) / sizeof(bad_ds[0]); i++) {
        snprintf(buf, sizeof(buf),
                 "{\"evaluator_model\": \"openai/gpt-4o\", \"builtin_metrics\": [\"Correctness\"], "
                 "\"dataset\": \"%s\"}",
                 bad_ds[i][0]);
        s = parse(buf, NULL, &e);
        CHECK(s == NULL && e.count == 1 && errs_have(&e, bad_ds[i][1]));
        spec_destroy(&s);
        errlist_free(&e);
    }
    s = parse("{\"evaluator_model\": \"openai/gpt-4o\", \"builtin_metrics\": [\"Correctness\"], "
              "\"dataset\": \"https://example.com/d.jsonl\"}",
              NULL, &e);
    CHECK(s && strcmp(s->dataset, "https://example.com/d.jsonl") == 0);
    spec_destroy(&s);
    errlist_free(&e);
}

static void test_metrics(void)
{
    CHECK(accepts(",\"builtin_metrics\": [\"builtin.faithfulness\", \"Helpfulness\"]"));
    CHECK(rejects(",\"builtin_metrics\": [\"Correctness\", \"Foo\"]",
                  "builtin_metrics[1]: unknown metric `Foo`; the built-in metrics are Correctness, Completeness"));
    CHECK(rejects(",\"builtin_metrics\": [\"Corectness\"]",
                  "builtin_metrics[0]: unknown metric `Corectness`; did you mean `Correctness`?"));
    CHECK(rejects(",\"builtin_metrics\": [\"Foo\"]", "Refusal"));
    CHECK(rejects(",\"builtin_metrics\": \"Correctness\"",
                  "builtin_metrics: must be an array of metric names, got string"));
    CHECK(rejects(",\"builtin_metrics\": [3]", "builtin_metrics[0]: must be a metric name, got 3"));
    CHECK(rejects(",\"builtin_metrics\": [\"Correctness\", \"correctness\"]", "builtin_metrics[1]"));
    CHECK(rejects(",\"builtin_metrics\": []", "at least one metric"));
    CHECK(rejects(",\"custom_metrics\": []", "at least one metric"));

    const char *cm =
        "[{\\\"customMetricDefinition\\\":{\\\"name\\\":\\\"GoodMetric\\\",\\\"instructions\\\":"
        "\\\"Rate {{prediction}} for {{prompt}}\\\",\\\"ratingScale\\\":[{\\\"definition\\\":\\\"Good\\\","
        "\\\"value\\\":{\\\"floatValue\\\":1}},{\\\"definition\\\":\\\"Poor\\\",\\\"value\\\":{\\\"floatValue\\\":0}}]}}]";
    char buf[4096];
    /* the seed's JSON string */
    snprintf(buf, sizeof(buf), ",\"custom_metrics\": \"%s\"", cm);
    errlist_t e;
    spec_t *s = parse_with(buf, &e);
    CHECK(s && s->n_metrics == 1 && strcmp(s->metrics[0]->name, "GoodMetric") == 0);
    spec_destroy(&s);
    errlist_free(&e);
    snprintf(buf, sizeof(buf), ",\"custom_metrics\": \"  %s\", \"builtin_metrics\": [\"Completeness\"]", cm);
    s = parse_with(buf, &e);
    CHECK(s && s->n_metrics == 2 && s->metrics[0]->builtin && !s->metrics[1]->builtin);
    spec_destroy(&s);
    errlist_free(&e);
    CHECK(rejects(",\"custom_metrics\": \"[{\\\"customMetricDefinition\\\": \"",
                  "custom_metrics: the string is not valid JSON (the text ends early"));
    CHECK(rejects(",\"custom_metrics\": \"{\\\"a\\\":1}\"", "custom_metrics: must be an array"));
    CHECK(rejects(",\"custom_metrics\": 7", "custom_metrics: must be an array"));
    CHECK(rejects(",\"custom_metrics\": \"\"", "got an empty string"));
    CHECK(rejects(",\"custom_metrics\": [{\"customMetricDefinition\": {\"name\": \"x\", \"ratingScale\": "
                  "[{\"definition\": \"a\", \"value\": {\"floatValue\": 1}}]}}]",
                  "custom_metrics[0].customMetricDefinition.instructions"));
    /* a custom metric named like a built-in, and more than 10 */
    CHECK(rejects(",\"custom_metrics\": [{\"customMetricDefinition\": {\"name\": \"Correctness\", \"instructions\": "
                  "\"{{prediction}}\", \"ratingScale\": [{\"definition\": \"a\", \"value\": {\"floatValue\": 1}}]}}]",
                  "built-in"));
    size_t off = (size_t)snprintf(buf, sizeof(buf), ",\"custom_metrics\": [");
    for (int i = 0; i < 11; i++)
        off += (size_t)snprintf(
            buf + off, sizeof(buf) - off,
            "%s{\"customMetricDefinition\": {\"name\": \"M%d\", \"instructions\": \"{{prediction}}\", "
            "\"ratingScale\": [{\"definition\": \"a\", \"value\": {\"floatValue\": 1}}]}}",
            i ? "," : "", i);
    snprintf(buf + off, sizeof(buf) - off, "]");
    CHECK(rejects(buf, "at most 10"));

    /* the path of a JSON file, relative to base_dir */
    char path[512];
    snprintf(path, sizeof(path), "%s/metrics.json", dir);
    FILE *f = fopen(path, "w");
    if (!f) exit(2);
    fputs("[{\"customMetricDefinition\":{\"name\":\"FromFile\",\"instructions\":\"{{prediction}}\","
          "\"ratingScale\":[{\"definition\":\"Yes\",\"value\":{\"stringValue\":\"y\"}},"
          "{\"definition\":\"No\",\"value\":{\"stringValue\":\"n\"}}]}}]\n",
          f);
    fclose(f);
    s = parse("{\"evaluator_model\": \"openai/gpt-4o\", \"dataset\": \"d\", \"custom_metrics\": \"metrics.json\"}", dir,
              &e);
    CHECK(s && s->n_metrics == 1 && strcmp(s->metrics[0]->name, "FromFile") == 0);
    if (s) {
        /* inlined in the canonical JSON */
        cJSON *j = spec_to_json(s);
        char *t = cJSON_PrintUnformatted(j);
        CHECK(strstr(t, "\"custom_metrics\":[{\"customMetricDefinition\"") != NULL);
        CHECK(strstr(t, "metrics.json") == NULL);
        errlist_t e2;
        spec_t *s2 = parse(t, NULL, &e2);
        CHECK(s2 && s2->n_metrics == 1 && s2->metrics[0]->kind == METRIC_STRING);
        spec_destroy(&s2);
        errlist_free(&e2);
        free(t);
        cJSON_Delete(j);
    }
    spec_destroy(&s);
    errlist_free(&e);
    s = parse("{\"evaluator_model\": \"openai/gpt-4o\", \"dataset\": \"d\", \"custom_metrics\": \"nope.json\"}", dir,
              &e);
    CHECK(s == NULL && e.count == 1 && errs_have(&e, "custom_metrics: cannot open `") &&
          errs_have(&e, "nope.json`: No such file"));
    errlist_free(&e);
    f = fopen(path, "w");
    if (!f) exit(2);
    fputs("[\n  {\"customMetricDefinition\": }\n]\n", f);
    fclose(f);
    s = parse("{\"evaluator_model\": \"openai/gpt-4o\", \"dataset\": \"d\", \"custom_metrics\": \"metrics.json\"}", dir,
              &e);
    CHECK(s == NULL && e.count == 1 &&
          errs_have(&e, "metrics.json` is not valid JSON (unexpected `}` at line 2, column 30)"));
    errlist_free(&e);
    unlink(path);
}

static void test_numbers(void)
{
    CHECK(accepts(",\"shard_size\": 1"));
    CHECK(accepts(",\"shard_size\": 10000"));
    CHECK(rejects(",\"shard_size\": 0", "shard_size: must be an integer from 1 to 10000, got 0"));
    CHECK(rejects(",\"shard_size\": 10001", "shard_size: must be an integer from 1 to 10000, got 10001"));
    CHECK(rejects(",\"shard_size\": 1.5", "shard_size: must be an integer from 1 to 10000, got 1.5"));
    CHECK(rejects(",\"shard_size\": \"64\"", "shard_size: must be an integer from 1 to 10000, got string \"64\""));
    CHECK(rejects(",\"shard_size\": true", "got true"));

    errlist_t e;
    spec_t *s = parse_with(",\"dataset_max_bytes\": 1048576", &e);
    CHECK(s && s->dataset_max_bytes == 1048576);
    if (s) {
        cJSON *j = spec_to_json(s);
        char *t = cJSON_PrintUnformatted(j);
        CHECK(strstr(t, "\"dataset_max_bytes\":1048576") != NULL); /* kept with the job */
        free(t);
        cJSON_Delete(j);
    }
    spec_destroy(&s);
    errlist_free(&e);
    CHECK(accepts(",\"dataset_max_bytes\": 1"));
    CHECK(rejects(",\"dataset_max_bytes\": 0", "dataset_max_bytes: must be a number from 1 to"));
    CHECK(rejects(",\"dataset_max_bytes\": 1.5", "dataset_max_bytes: must be a whole number of bytes, got 1.5"));
    CHECK(rejects(",\"dataset_max_bytes\": \"10G\"", "dataset_max_bytes: must be a number from 1 to"));

    CHECK(accepts(",\"inference\": {\"max_tokens\": 200000, \"temperature\": 2, \"top_p\": 0}"));
    CHECK(accepts(",\"judge\": {\"max_tokens\": 1, \"temperature\": 0.0, \"top_p\": 1}"));
    CHECK(accepts(",\"judge\": {}"));
    CHECK(rejects(",\"inference\": {\"max_tokens\": 0}",
                  "inference.max_tokens: must be an integer from 1 to 200000, got 0"));
    CHECK(rejects(",\"judge\": {\"max_tokens\": 200001}", "judge.max_tokens: must be an integer from 1 to 200000"));
    CHECK(rejects(",\"judge\": {\"temperature\": 2.5}", "judge.temperature: must be a number from 0 to 2, got 2.5"));
    CHECK(rejects(",\"judge\": {\"temperature\": -0.1}", "judge.temperature: must be a number from 0 to 2"));
    CHECK(rejects(",\"inference\": {\"top_p\": 1.5}", "inference.top_p: must be a number from 0 to 1, got 1.5"));
    CHECK(rejects(",\"inference\": {\"top_p\": \"0.5\"}", "inference.top_p: must be a number from 0 to 1, got string"));
    CHECK(rejects(",\"inference\": {\"max_token\": 10}",
                  "inference.max_token: unknown key; did you mean `inference.max_tokens`?"));
    CHECK(rejects(",\"judge\": [1]",
                  "judge: must be an object {max_tokens, temperature, top_p, retry_budget_s}, got array"));
    /* the retry budget: whole seconds, 1 s to a day; written back only when not the default */
    CHECK(accepts(",\"judge\": {\"retry_budget_s\": 1}, \"inference\": {\"retry_budget_s\": 86400}"));
    CHECK(rejects(",\"judge\": {\"retry_budget_s\": 0}",
                  "judge.retry_budget_s: must be an integer from 1 to 86400, got 0"));
    CHECK(rejects(",\"inference\": {\"retry_budget_s\": 1.5}",
                  "inference.retry_budget_s: must be an integer from 1 to 86400"));
    CHECK(rejects(",\"judge\": {\"retry_budget\": 60}",
                  "judge.retry_budget: unknown key; did you mean `judge.retry_budget_s`?"));

    CHECK(accepts(",\"skip_invalid\": false"));
    CHECK(rejects(",\"skip_invalid\": 1", "skip_invalid: must be true or false, got 1"));
    CHECK(accepts(",\"name\": \"n\", \"judge_system_prompt\": \"Be fair.\""));
    CHECK(rejects(",\"name\": 1", "name: must be a non-empty string, got 1"));
    CHECK(rejects(",\"judge_system_prompt\": \"\"", "judge_system_prompt: must be a non-empty string"));
    char big[21000];
    memset(big, 0, sizeof(big));
    memcpy(big, ",\"judge_system_prompt\": \"", 25);
    memset(big + 25, 'x', 20001);
    memcpy(big + 25 + 20001, "\"", 1);
    CHECK(rejects(big, "judge_system_prompt: is 20001 bytes, longer than the limit of 20000"));
}

static void test_limits_mlflow(void)
{
    CHECK(accepts(",\"limits\": {}"));
    CHECK(accepts(",\"limits\": {\"openai/gpt-4o\": {\"rpm\": 500, \"tpm\": 0, \"max_concurrency\": 1}}"));
    CHECK(rejects(",\"limits\": {\"gpt-4o\": {\"rpm\": 500}}", "limits[\"gpt-4o\"]: unknown model string `gpt-4o`"));
    CHECK(rejects(",\"limits\": {\"openai/gpt-4o\": {\"rpm\": -1}}",
                  "limits[\"openai/gpt-4o\"].rpm: must be a number >= 0, got -1"));
    CHECK(rejects(",\"limits\": {\"openai/gpt-4o\": {\"tpm\": \"x\"}}",
                  "limits[\"openai/gpt-4o\"].tpm: must be a number >= 0"));
    CHECK(rejects(",\"limits\": {\"openai/gpt-4o\": {\"max_concurrency\": 0}}",
                  "limits[\"openai/gpt-4o\"].max_concurrency: must be an integer from 1 to 1000000, got 0"));
    CHECK(rejects(",\"limits\": {\"openai/gpt-4o\": {\"rpn\": 1}}",
                  "limits[\"openai/gpt-4o\"].rpn: unknown key; did you mean `limits[\"openai/gpt-4o\"].rpm`?"));
    CHECK(rejects(",\"limits\": {\"openai/gpt-4o\": 5}", "limits[\"openai/gpt-4o\"]: must be an object"));
    CHECK(rejects(",\"limits\": [1]", "limits: must be an object of model string"));
    CHECK(rejects(",\"limits\": {\"openai/gpt-4o\": {}, \"openai/gpt-4o\": {}}",
                  "limits[\"openai/gpt-4o\"]: given more than once"));

    errlist_t e;
    spec_t *s = parse_with(
        ",\"mlflow_resource_arn\": \"arn:aws:sagemaker:us-west-2:123456789012:mlflow-tracking-server/x\"", &e);
    CHECK(s &&
          strcmp(s->mlflow_tracking_uri, "arn:aws:sagemaker:us-west-2:123456789012:mlflow-tracking-server/x") == 0);
    if (s) {
        cJSON *j = spec_to_json(s);
        char *t = cJSON_PrintUnformatted(j);
        CHECK(strstr(t, "\"mlflow\":{\"tracking_uri\":\"arn:aws:sagemaker") != NULL);
        free(t);
        cJSON_Delete(j);
    }
    spec_destroy(&s);
    errlist_free(&e);
#define ML_ARN "arn:aws:sagemaker:us-west-2:123456789012:mlflow-tracking-server/x"
    CHECK(accepts(",\"mlflow_resource_arn\": \"" ML_ARN "\", \"mlflow\": {\"tracking_uri\": \"" ML_ARN "\"}"));
    CHECK(rejects(",\"mlflow_resource_arn\": \"" ML_ARN "\", \"mlflow\": {\"tracking_uri\": \"http://h:5000\"}",
                  "mlflow_resource_arn: is an alias of mlflow.tracking_uri"));
    /* malformed ARNs are refused when the spec is read, not retried against the network later: the
     * seed's literal placeholder, a wrong service or resource, a missing region */
    CHECK(rejects(",\"mlflow_resource_arn\": \"arn:aws:sagemaker:us-west-2:<>:mlflow-tracking-server/mmlu-eval\"",
                  "mlflow_resource_arn: `arn:aws:sagemaker:us-west-2:<>:mlflow-tracking-server/mmlu-eval` is not a "
                  "valid ARN: the account `<>` is not a 12-digit AWS account id (it looks like a placeholder"));
    CHECK(rejects(",\"mlflow_resource_arn\": \"arn:x\"", "is not a valid ARN: expected arn:PARTITION:SERVICE"));
    CHECK(rejects(",\"mlflow\": {\"tracking_uri\": \"arn:aws:s3:us-west-2:123456789012:mlflow-tracking-server/x\"}",
                  "mlflow.tracking_uri: `arn:aws:s3:us-west-2:123456789012:mlflow-tracking-server/x` is not a "
                  "SageMaker MLflow tracking server ARN"));
    CHECK(rejects(",\"mlflow_resource_arn\": \"arn:aws:sagemaker::123456789012:mlflow-tracking-server/x\"",
                  "(the region is missing)"));
    CHECK(rejects(",\"mlflow_resource_arn\": \"arn:aws:sagemaker:us-west-2:123456789012:endpoint/x\"",
                  "is not a SageMaker MLflow tracking server ARN"));
    CHECK(rejects(",\"mlflow_resource_arn\": \"http://h\"", "mlflow_resource_arn: must be an ARN"));
    CHECK(rejects(",\"mlflow\": {\"tracking_uri\": \"ftp://h\"}",
                  "mlflow.tracking_uri: must be an http:// or https:// URL"));
    CHECK(rejects(",\"mlflow\": {\"experiment_name\": \"x\"}",
                  "mlflow.experiment_name: unknown key; did you mean `mlflow.experiment`?"));
    CHECK(rejects(",\"mlflow\": \"http://h\"", "mlflow: must be an object"));
    CHECK(rejects(",\"mlflow\": {\"run_name\": 3}", "mlflow.run_name: must be a non-empty string, got 3"));
    CHECK(accepts(",\"mlflow\": {\"experiment\": \"e\"}"));
}

static void test_keys(void)
{
    CHECK(rejects(",\"buildin_metrics\": [\"Correctness\"]",
                  "buildin_metrics: unknown key; did you mean `builtin_metrics`?"));
    CHECK(rejects(",\"Model\": \"openai/x\"", "Model: unknown key; did you mean `model`?"));
    CHECK(rejects(",\"shard-size\": 3", "did you mean `shard_size`?"));
    CHECK(rejects(",\"model_pakage_group\": \"x\"",
                  "model_pakage_group: unknown key; did you mean `model_package_group`?"));
    CHECK(rejects(",\"zzz\": 1", "zzz: unknown key"));
    CHECK(rejects(",\"shard_size\": 3, \"shard_size\": 4", "shard_size: given more than once"));

    errlist_t e;
    spec_t *s = parse("{}", NULL, &e);
    CHECK(s == NULL && e.count == 3);
    CHECK(errs_have(&e, "evaluator_model: is required"));
    CHECK(errs_have(&e, "dataset: is required"));
    CHECK(errs_have(&e, "at least one metric"));
    errlist_free(&e);

    s = parse("[1]", NULL, &e);
    CHECK(s == NULL && e.count == 1 && errs_have(&e, "spec: a job spec must be a JSON object, got array"));
    errlist_free(&e);
    s = parse("{\n  \"model\": \"openai/x\",\n  \"dataset\" \"d\"\n}", NULL, &e);
    CHECK(s == NULL && e.count == 1 && errs_have(&e, "spec: not valid JSON (unexpected `\"` at line 3, column 13)"));
    errlist_free(&e);
    s = parse("{\"model\": \"openai/x\"} {}", NULL, &e);
    CHECK(s == NULL && e.count == 1 && errs_have(&e, "spec: not valid JSON (unexpected `{` at line 1, column 23)"));
    errlist_free(&e);
    s = parse("", NULL, &e);
    CHECK(s == NULL && e.count == 1 && errs_have(&e, "not valid JSON"));
    errlist_free(&e);
}

/* "reuse_responses_from" and "cache": their forms; a reusing job needs no dataset or base model
 * (the scheduler takes them from the job it names), and both are written back. */
static void test_iteration_keys(void)
{
    CHECK(accepts(",\"cache\": true"));
    CHECK(accepts(",\"cache\": false"));
    CHECK(rejects(",\"cache\": \"yes\"", "cache:"));
    CHECK(rejects(",\"cache\": 1", "cache:"));
    CHECK(accepts(",\"reuse_responses_from\": \"first-20261206-062211-64f87a\""));
    CHECK(rejects(",\"reuse_responses_from\": \"a b\"", "reuse_responses_from: `a b` is not a job id"));
    CHECK(rejects(",\"reuse_responses_from\": \"../x\"", "reuse_responses_from: `../x` is not a job id"));
    CHECK(rejects(",\"reuse_responses_from\": 7", "reuse_responses_from:"));
    CHECK(rejects(",\"reuse_responses_from\": \"\"", "reuse_responses_from:"));
    char longid[200];
    memset(longid, 'a', sizeof longid);
    longid[150] = '\0';
    char extra[256];
    snprintf(extra, sizeof extra, ",\"reuse_responses_from\": \"%s\"", longid);
    CHECK(rejects(extra, "reuse_responses_from:"));

    errlist_t e;
    spec_t *s = parse("{\"evaluator_model\": \"bedrock/j\", \"builtin_metrics\": [\"Correctness\"], "
                      "\"reuse_responses_from\": \"job-1\", \"evaluate_base_model\": true, \"cache\": true}",
                      NULL, &e);
    CHECK(s != NULL && e.count == 0); /* no dataset, no base_model: both come from job-1 */
    if (s) {
        CHECK(s->reuse_from && strcmp(s->reuse_from, "job-1") == 0 && s->cache && !s->dataset);
        CHECK(s->evaluate_base_model && s->evaluate_base_model_given);
        cJSON *o = spec_to_json(s);
        CHECK(strcmp(cJSON_GetObjectItem(o, "reuse_responses_from")->valuestring, "job-1") == 0);
        CHECK(cJSON_IsTrue(cJSON_GetObjectItem(o, "cache")));
        cJSON_Delete(o);
    }
    spec_destroy(&s);
    errlist_free(&e);
    s = parse_with("", &e); /* neither: neither is written back */
    CHECK(s && !s->cache && !s->reuse_from);
    if (s) {
        cJSON *o = spec_to_json(s);
        CHECK(!cJSON_GetObjectItem(o, "cache") && !cJSON_GetObjectItem(o, "reuse_responses_from"));
        cJSON_Delete(o);
    }
    spec_destroy(&s);
    errlist_free(&e);
}

/* One spec with a problem in nearly every key: every one is reported, each with its key. */
static void test_all_at_once(void)
{
    const char *bad =
        "{\"model\": \"gpt-4o\", \"base_model\": 3, \"evaluator_model\": \"\", \"dataset\": \"s3://b\","
        " \"builtin_metrics\": [\"Nope\"], \"custom_metrics\": 5, \"output_path\": \"https://x\","
        " \"mlflow\": {\"tracking_uri\": \"ftp://x\", \"colour\": 1}, \"region\": \"Mars\","
        " \"inference\": {\"max_tokens\": 0, \"temperature\": 9}, \"judge\": {\"top_p\": 2},"
        " \"limits\": {\"x\": {\"rpm\": -5}}, \"shard_size\": 0, \"skip_invalid\": \"no\","
        " \"evaluate_base_model\": 1, \"name\": \"\", \"judge_system_prompt\": 4, \"buildin_metrics\": []}";
    errlist_t e;
    spec_t *s = parse(bad, NULL, &e);
    CHECK(s == NULL);
    const char *keys[] = {"model: ",       "base_model: ",           "evaluator_model: ",
                          "dataset: ",     "builtin_metrics[0]: ",   "custom_metrics: ",
                          "output_path: ", "mlflow.tracking_uri: ",  "mlflow.colour: ",
                          "region: ",      "inference.max_tokens: ", "inference.temperature: ",
                          "judge.top_p: ", "limits[\"x\"]: ",        "limits[\"x\"].rpm: ",
                          "shard_size: ",  "skip_invalid: ",         "evaluate_base_model: ",
                          "name: ",        "judge_system_prompt: ",  "buildin_metrics: "};
    size_t nk = sizeof(keys) / sizeof(keys[0]);
    for (size_t i = 0; i < nk; i++) {
        bool found = false;
        for (size_t k = 0; k < e.n_kept; k++)
            if (strncmp(e.msgs[k], keys[i], strlen(keys[i])) == 0) found = true;
        if (!found) fprintf(stderr, "  no message starts with `%s`\n", keys[i]);
        CHECK(found);
    }
    CHECK(e.count == nk);
    if (e.count != nk) errlist_print(&e, stderr, "    ");
    errlist_free(&e);
}

static void test_load(void)
{
    char sub[400], path[512];
    snprintf(sub, sizeof(sub), "%s/specs", dir);
    mkdir(sub, 0700);
    snprintf(path, sizeof(path), "%s/job.json", sub);
    FILE *f = fopen(path, "w");
    if (!f) exit(2);
    fputs("{\"evaluator_model\": \"openai/gpt-4o\", \"dataset\": \"../data/d.jsonl\", \"builtin_metrics\": "
          "[\"Coherence\"], \"output_path\": \"out\"}",
          f);
    fclose(f);
    errlist_t e;
    errlist_init(&e, 0);
    spec_t *s = spec_load(path, &e);
    CHECK(s != NULL);
    char want[600];
    snprintf(want, sizeof(want), "%s/../data/d.jsonl", sub);
    CHECK(s && strcmp(s->dataset, want) == 0);
    snprintf(want, sizeof(want), "%s/out", sub);
    CHECK(s && strcmp(s->output_path, want) == 0);
    spec_destroy(&s);
    errlist_free(&e);

    f = fopen(path, "w");
    if (!f) exit(2);
    fputs("{\"shard_size\": 0}", f);
    fclose(f);
    errlist_init(&e, 0);
    CHECK(spec_load(path, &e) == NULL);
    CHECK(errs_have(&e, "shard_size: must be an integer"));
    errlist_free(&e);
    f = fopen(path, "w");
    if (!f) exit(2);
    fputs("{,}", f);
    fclose(f);
    errlist_init(&e, 0);
    CHECK(spec_load(path, &e) == NULL);
    snprintf(want, sizeof(want), "%s: not valid JSON", path);
    CHECK(errs_have(&e, want));
    errlist_free(&e);
    unlink(path);

    errlist_init(&e, 0);
    CHECK(spec_load(path, &e) == NULL);
    snprintf(want, sizeof(want), "cannot open `%s`: No such file or directory", path);
    CHECK(errs_have(&e, want));
    errlist_free(&e);
    rmdir(sub);
}

/* The AWS keys: model package ARNs for model and base_model, the group, the artifact, the request
 * shape of SageMaker endpoints, and their canonical form. */
static void test_aws_keys(void)
{
#define PKG "arn:aws:sagemaker:us-west-2:123456789012:model-package/test-finetuned-models-gamma/28"
    errlist_t e;
    spec_t *s = parse("{\"model\": \"" PKG "\", \"evaluator_model\": \"anthropic.claude-3-5-haiku-20241022-v1:0\","
                      "\"dataset\": \"s3://my-bucket/gen_qa.jsonl\", \"builtin_metrics\": [\"Completeness\"],"
                      "\"s3_output_path\": \"s3://out-bucket/eval/\", \"evaluate_base_model\": true,"
                      "\"model_artifact\": \"s3://art/model.tar.gz\", \"region\": \"us-west-2\"}",
                      NULL, &e);
    CHECK(s != NULL);
    if (!s) errlist_print(&e, stderr, "    ");
    errlist_free(&e);
    if (s) {
        CHECK(s->model_is_package && !s->base_model && s->evaluate_base_model);
        CHECK(strcmp(s->output_path, "s3://out-bucket/eval/") == 0 &&
              strcmp(s->dataset, "s3://my-bucket/gen_qa.jsonl") == 0);
        CHECK(strcmp(s->model_artifact, "s3://art/model.tar.gz") == 0);
        CHECK(strcmp(spec_sagemaker_api(s, "sagemaker/x"), "messages") == 0);
        /* the scheduler records a resolution; the canonical form carries both and reads back */
        s->model_package = s->model;
        s->model = xstrdup("sagemaker/ft-28");
        s->model_is_package = false;
        s->base_model = xstrdup("nova-textgeneration-lite");
        cJSON *j = spec_to_json(s);
        char *t = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        errlist_init(&e, 0);
        spec_t *back = spec_parse(t, strlen(t), "canonical", NULL, &e);
        CHECK(back && strcmp(back->model, "sagemaker/ft-28") == 0 && strcmp(back->model_package, PKG) == 0 &&
              strcmp(back->base_model, "nova-textgeneration-lite") == 0 && !back->model_is_package);
        spec_destroy(&back);
        errlist_free(&e);
        free(t);
    }
    spec_destroy(&s);
    /* the seed's placeholder account and other malformed package ARNs */
    CHECK(rejects(",\"base_model\": \"arn:aws:sagemaker:us-west-2:<>:model-package/Demo-test-deb-2/1\"",
                  "base_model: `arn:aws:sagemaker:us-west-2:<>:model-package/Demo-test-deb-2/1` is not a valid model "
                  "package ARN: the account `<>` is not a 12-digit AWS account id"));
    CHECK(rejects(
        ",\"base_model\": \"arn:aws:sagemaker:us-east-1:123456789012:model-package/<package-name>/<version>\"",
        "is not a valid model package ARN: expected arn:aws:sagemaker:REGION:ACCOUNT:model-package/NAME/VERSION"));
    CHECK(accepts(",\"base_model\": \"arn:aws:sagemaker:us-east-1:123456789012:model-package/unversioned-pkg\""));
    s = parse("{\"evaluator_model\": \"" PKG "\", \"dataset\": \"d.jsonl\", \"builtin_metrics\": [\"Correctness\"]}",
              NULL, &e);
    CHECK(!s && e.count == 1 && errs_have(&e, "evaluator_model: a model package cannot be the judge"));
    spec_destroy(&s);
    errlist_free(&e);
    /* a group: by name or ARN; with a model that is not a package it is a contradiction */
    CHECK(accepts(",\"model_package_group\": \"my-group\""));
    CHECK(accepts(",\"model_package_group\": \"arn:aws:sagemaker:us-west-2:123456789012:model-package-group/g1\""));
    CHECK(rejects(",\"model_package_group\": \"arn:aws:sagemaker:us-west-2:123456789012:model-package/g1/1\"",
                  "model_package_group: `arn:aws:sagemaker:us-west-2:123456789012:model-package/g1/1` is not a model "
                  "package group ARN"));
    CHECK(rejects(",\"model_package_group\": \"bad group\"", "is not a model package group name"));
    CHECK(rejects(",\"model\": \"openai/x\", \"model_package_group\": \"g\"",
                  "model_package_group: is given, but `model` is not a model package"));
    CHECK(rejects(",\"model_artifact\": \"/local/model.tar.gz\"", "model_artifact: `/local/model.tar.gz` is not an S3 "
                                                                  "object URI"));
    /* SageMaker request shapes */
    CHECK(accepts(",\"sagemaker_api\": \"tgi\""));
    CHECK(accepts(",\"sagemaker_api\": {\"sagemaker/ep-a\": \"tgi\", \"sagemaker/ep-b\": \"messages\"}"));
    CHECK(rejects(",\"sagemaker_api\": \"openai\"", "sagemaker_api: must be \"messages\""));
    CHECK(rejects(",\"sagemaker_api\": {\"bedrock/x\": \"tgi\"}", "keys are sagemaker/<endpoint> model strings"));
    CHECK(rejects(",\"sagemaker_api\": {\"sagemaker/x\": 1}", "sagemaker_api[\"sagemaker/x\"]: must be"));
    s = parse_with(",\"sagemaker_api\": {\"sagemaker/ep-a\": \"tgi\"}", &e);
    CHECK(s && strcmp(spec_sagemaker_api(s, "sagemaker/ep-a"), "tgi") == 0 &&
          strcmp(spec_sagemaker_api(s, "sagemaker/ep-b"), "messages") == 0);
    if (s) {
        cJSON *j = spec_to_json(s);
        char *t = cJSON_PrintUnformatted(j);
        CHECK(strstr(t, "\"sagemaker_api\":{\"sagemaker/ep-a\":\"tgi\"}") != NULL);
        free(t);
        cJSON_Delete(j);
    }
    spec_destroy(&s);
    errlist_free(&e);
    /* output_path and its seed alias must agree; datasets from S3 and https */
    CHECK(rejects(",\"output_path\": \"runs/\", \"s3_output_path\": \"s3://b-1/x/\"",
                  "s3_output_path: is an alias of output_path and both are given with different values"));
    CHECK(accepts(",\"output_path\": \"s3://b-1/x/\", \"s3_output_path\": \"s3://b-1/x/\""));
    const char *remote[] = {"https://example.com/d.jsonl.gz?X-Amz-Signature=abc", "http://127.0.0.1:8000/d.jsonl"};
    for (int i = 0; i < 2; i++) {
        char buf[512];
        snprintf(buf, sizeof buf,
                 "{\"evaluator_model\": \"openai/x\", \"dataset\": \"%s\", \"builtin_metrics\": "
                 "[\"Correctness\"]}",
                 remote[i]);
        s = parse(buf, NULL, &e);
        CHECK(s && strcmp(s->dataset, remote[i]) == 0);
        spec_destroy(&s);
        errlist_free(&e);
    }
#undef PKG
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/test_spec.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
    test_full();
    test_defaults();
    test_models();
    test_locations();
    test_metrics();
    test_numbers();
    test_limits_mlflow();
    test_keys();
    test_aws_keys();
    test_iteration_keys();
    test_all_at_once();
    test_load();
    rmdir(dir);
    return check_summary("test_spec");
}
