/* test_modelstr: model string grammar, Nova routing, endpoints from the environment. */
#include "modelstr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static char err[4096];

/* Parses s (region r) and checks kind and model; returns the parse result in *m. */
static int ok(const char *s, const char *r, provider_kind_t kind, const char *model, modelstr_t *m)
{
    err[0] = 0;
    if (modelstr_parse(s, r, m, err, sizeof(err)) < 0) {
        fprintf(stderr, "  unexpected error for %s: %s\n", s, err);
        return 0;
    }
    int good = m->kind == kind && m->model && strcmp(m->model, model) == 0 && strcmp(m->input, s) == 0;
    if (!good) fprintf(stderr, "  %s -> kind %d model %s\n", s, (int)m->kind, m->model ? m->model : "(null)");
    return good;
}

static int ok_simple(const char *s, const char *r, provider_kind_t kind, const char *model)
{
    modelstr_t m;
    int g = ok(s, r, kind, model, &m);
    modelstr_clear(&m);
    return g;
}

static int bad(const char *s, const char *r, const char *needle)
{
    modelstr_t m;
    err[0] = 0;
    if (modelstr_parse(s, r, &m, err, sizeof(err)) == 0) {
        modelstr_clear(&m);
        fprintf(stderr, "  %s: accepted, expected an error\n", s ? s : "(null)");
        return 0;
    }
    if (needle && !strstr(err, needle)) {
        fprintf(stderr, "  %s: error `%s` lacks `%s`\n", s ? s : "(null)", err, needle);
        return 0;
    }
    return 1;
}

static void clear_env(void)
{
    const char *vars[] = {"AWS_REGION",
                          "AWS_DEFAULT_REGION",
                          "OPENAI_BASE_URL",
                          "OPENAI_API_KEY",
                          "ANTHROPIC_BASE_URL",
                          "ANTHROPIC_API_KEY",
                          "LOCAL_BASE_URL",
                          "LOCAL_API_KEY",
                          "MY_VLLM_BASE_URL",
                          "MY_VLLM_API_KEY",
                          "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
                          "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME",
                          "AWS_ACCESS_KEY_ID",
                          "AWS_PROFILE"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) unsetenv(vars[i]);
}

static void test_forms(void)
{
    modelstr_t m;
    CHECK(ok_simple("openai/gpt-4o-mini", NULL, PROVIDER_OPENAI, "gpt-4o-mini"));
    CHECK(ok_simple("openai/ft:gpt-4o:org:x:1", NULL, PROVIDER_OPENAI, "ft:gpt-4o:org:x:1"));
    CHECK(ok_simple("anthropic/claude-3-5-haiku-latest", NULL, PROVIDER_ANTHROPIC, "claude-3-5-haiku-latest"));

    CHECK(ok("openai-api/local/my-finetune", NULL, PROVIDER_OPENAI_API, "my-finetune", &m));
    CHECK(m.service && strcmp(m.service, "local") == 0);
    CHECK(m.region == NULL);
    modelstr_clear(&m);
    CHECK(ok("openai-api/my-vllm/meta-llama/Llama-3.1-8B-Instruct", NULL, PROVIDER_OPENAI_API,
             "meta-llama/Llama-3.1-8B-Instruct", &m));
    CHECK(m.service && strcmp(m.service, "my-vllm") == 0);
    modelstr_clear(&m);
    CHECK(m.input == NULL && m.model == NULL); /* clear resets */

    CHECK(ok("bedrock/amazon.nova-pro-v1:0", "us-west-2", PROVIDER_BEDROCK, "amazon.nova-pro-v1:0", &m));
    CHECK(m.region && strcmp(m.region, "us-west-2") == 0);
    modelstr_clear(&m);
    CHECK(ok_simple("bedrock/arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-lite-v1:0", NULL,
                    PROVIDER_BEDROCK,
                    "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-lite-v1:0"));
    CHECK(ok_simple("amazon.nova-pro-v1:0", NULL, PROVIDER_BEDROCK, "amazon.nova-pro-v1:0"));
    CHECK(ok_simple("us.amazon.nova-lite-v1:0", NULL, PROVIDER_BEDROCK, "us.amazon.nova-lite-v1:0"));
    CHECK(ok_simple("anthropic.claude-3-5-haiku-20241022-v1:0", NULL, PROVIDER_BEDROCK,
                    "anthropic.claude-3-5-haiku-20241022-v1:0"));
    CHECK(ok_simple("eu.anthropic.claude-3-7-sonnet-20250219-v1:0", NULL, PROVIDER_BEDROCK,
                    "eu.anthropic.claude-3-7-sonnet-20250219-v1:0"));
    CHECK(ok_simple("apac.amazon.nova-micro-v1:0", NULL, PROVIDER_BEDROCK, "apac.amazon.nova-micro-v1:0"));
    CHECK(ok_simple("us-gov.anthropic.claude-3-5-sonnet-20240620-v1:0", NULL, PROVIDER_BEDROCK,
                    "us-gov.anthropic.claude-3-5-sonnet-20240620-v1:0"));
    CHECK(ok_simple("global.anthropic.claude-sonnet-4-20250514-v1:0", NULL, PROVIDER_BEDROCK,
                    "global.anthropic.claude-sonnet-4-20250514-v1:0"));
    CHECK(ok_simple("meta.llama3-1-70b-instruct-v1:0", NULL, PROVIDER_BEDROCK, "meta.llama3-1-70b-instruct-v1:0"));
    CHECK(ok_simple("mistral.mistral-large-2402-v1:0", NULL, PROVIDER_BEDROCK, "mistral.mistral-large-2402-v1:0"));
    CHECK(ok_simple("cohere.command-r-plus-v1:0", NULL, PROVIDER_BEDROCK, "cohere.command-r-plus-v1:0"));
    CHECK(ok_simple("ai21.jamba-1-5-large-v1:0", NULL, PROVIDER_BEDROCK, "ai21.jamba-1-5-large-v1:0"));
    CHECK(ok_simple("deepseek.r1-v1:0", NULL, PROVIDER_BEDROCK, "deepseek.r1-v1:0"));
    CHECK(ok_simple("writer.palmyra-x5-v1:0", NULL, PROVIDER_BEDROCK, "writer.palmyra-x5-v1:0"));
    CHECK(ok_simple("qwen.qwen3-32b-v1:0", NULL, PROVIDER_BEDROCK, "qwen.qwen3-32b-v1:0"));
    CHECK(ok_simple("openai.gpt-oss-120b-1:0", NULL, PROVIDER_BEDROCK, "openai.gpt-oss-120b-1:0"));
    CHECK(ok_simple("twelvelabs.pegasus-1-2-v1:0", NULL, PROVIDER_BEDROCK, "twelvelabs.pegasus-1-2-v1:0"));
    CHECK(ok_simple("stability.sd3-5-large-v1:0", NULL, PROVIDER_BEDROCK, "stability.sd3-5-large-v1:0"));

    CHECK(ok("sagemaker/my-endpoint-1", "eu-west-1", PROVIDER_SAGEMAKER, "my-endpoint-1", &m));
    CHECK(m.service && strcmp(m.service, "my-endpoint-1") == 0);
    CHECK(m.region && strcmp(m.region, "eu-west-1") == 0);
    modelstr_clear(&m);
    CHECK(ok("arn:aws:sagemaker:us-east-2:123456789012:endpoint/prod-llm", "us-west-2", PROVIDER_SAGEMAKER, "prod-llm",
             &m));
    CHECK(m.region && strcmp(m.region, "us-east-2") == 0); /* the ARN's region wins */
    CHECK(m.service && strcmp(m.service, "prod-llm") == 0);
    modelstr_clear(&m);
    CHECK(ok_simple("sagemaker/arn:aws:sagemaker:us-east-2:123456789012:endpoint/prod-llm", NULL, PROVIDER_SAGEMAKER,
                    "prod-llm"));

    CHECK(strcmp(provider_kind_name(PROVIDER_OPENAI), "openai") == 0);
    CHECK(strcmp(provider_kind_name(PROVIDER_OPENAI_API), "openai-api") == 0);
    CHECK(strcmp(provider_kind_name(PROVIDER_ANTHROPIC), "anthropic") == 0);
    CHECK(strcmp(provider_kind_name(PROVIDER_BEDROCK), "bedrock") == 0);
    CHECK(strcmp(provider_kind_name(PROVIDER_SAGEMAKER), "sagemaker") == 0);
}

static void test_nova(void)
{
    modelstr_t m;
    CHECK(ok("nova-textgeneration-lite", "us-west-2", PROVIDER_BEDROCK, "us.amazon.nova-lite-v1:0", &m));
    CHECK(m.region && strcmp(m.region, "us-west-2") == 0);
    modelstr_clear(&m);
    CHECK(ok_simple("nova-textgeneration-pro", "eu-central-1", PROVIDER_BEDROCK, "eu.amazon.nova-pro-v1:0"));
    CHECK(ok_simple("nova-textgeneration-micro", "ap-northeast-1", PROVIDER_BEDROCK, "apac.amazon.nova-micro-v1:0"));
    CHECK(ok_simple("nova-textgeneration-lite-v2", "us-east-1", PROVIDER_BEDROCK, "us.amazon.nova-2-lite-v1:0"));
    CHECK(ok_simple("nova-textgeneration-lite", "us-gov-west-1", PROVIDER_BEDROCK, "us-gov.amazon.nova-lite-v1:0"));

    /* region from the environment: AWS_REGION first, then AWS_DEFAULT_REGION */
    setenv("AWS_DEFAULT_REGION", "eu-west-3", 1);
    CHECK(ok_simple("nova-textgeneration-lite", NULL, PROVIDER_BEDROCK, "eu.amazon.nova-lite-v1:0"));
    setenv("AWS_REGION", "ap-south-1", 1);
    CHECK(ok_simple("nova-textgeneration-lite", NULL, PROVIDER_BEDROCK, "apac.amazon.nova-lite-v1:0"));
    CHECK(ok_simple("nova-textgeneration-lite", "us-east-1", PROVIDER_BEDROCK, "us.amazon.nova-lite-v1:0"));
    CHECK(ok("amazon.nova-pro-v1:0", NULL, PROVIDER_BEDROCK, "amazon.nova-pro-v1:0", &m));
    CHECK(m.region && strcmp(m.region, "ap-south-1") == 0);
    modelstr_clear(&m);
    clear_env();

    CHECK(bad("nova-textgeneration-lite", NULL, "region"));
    CHECK(bad("nova-textgeneration-lite", NULL, "AWS_REGION"));
    CHECK(bad("nova-textgeneration-pro", "sa-east-1", "sa-east-1"));
    CHECK(bad("nova-textgeneration-huge", "us-east-1", "nova-textgeneration-lite"));
}

static void test_errors(void)
{
    CHECK(bad("gpt-4o", NULL, "accepted forms"));
    CHECK(bad("gpt-4o", NULL, "openai-api/<service>/<model>"));
    CHECK(bad("gpt-4o", NULL, "sagemaker/<endpoint-name>"));
    CHECK(bad("", NULL, "accepted forms"));
    CHECK(bad(NULL, NULL, "accepted forms"));
    CHECK(bad("openai/", NULL, "accepted forms"));
    CHECK(bad("anthropic/", NULL, NULL));
    CHECK(bad("bedrock/", NULL, NULL));
    CHECK(bad("sagemaker/", NULL, NULL));
    CHECK(bad("openai-api/local", NULL, "openai-api/<service>/<model>"));
    CHECK(bad("openai-api/local/", NULL, "openai-api/<service>/<model>"));
    CHECK(bad("openai-api//model", NULL, "openai-api/<service>/<model>"));
    CHECK(bad("openai-api/lo.cal/model", NULL, "service name"));
    CHECK(bad("openai-api/9x/model", NULL, "service name"));
    CHECK(bad("openai/gpt 4o", NULL, "spaces"));
    CHECK(bad("openai/gpt-4o\n", NULL, "spaces"));
    CHECK(bad("foo.bar-v1:0", NULL, "accepted forms")); /* unknown vendor */
    CHECK(bad("amazon.", NULL, "accepted forms"));
    CHECK(bad("xx.amazon.nova-pro-v1:0", NULL, "accepted forms")); /* unknown geo prefix */
    CHECK(bad("amazon.nova pro", NULL, NULL));
    CHECK(bad("amazon.nova/pro", NULL, "accepted forms"));
    CHECK(bad("sagemaker/-bad-", NULL, "endpoint name"));
    CHECK(bad("sagemaker/has_underscore", NULL, "endpoint name"));
    CHECK(bad("sagemaker/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL, "endpoint name"));
    CHECK(bad("arn:aws:sagemaker:us-west-2:123456789012:model-package/x/28", NULL, "endpoint ARN"));
    CHECK(bad("arn:aws:sagemaker:us-west-2:12345:endpoint/x", NULL, "12-digit"));
    CHECK(bad("arn:aws:s3:::bucket", NULL, "accepted forms"));
    CHECK(bad("OpenAI/gpt-4o", NULL, "accepted forms"));

    /* a long string is refused without overflowing the message buffer */
    char *longs = malloc(5000);
    memset(longs, 'a', 4999);
    longs[4999] = 0;
    memcpy(longs, "openai/", 7);
    CHECK(bad(longs, NULL, "limit"));
    free(longs);
    modelstr_t m;
    char small[16];
    CHECK(modelstr_parse("nonsense", NULL, &m, small, sizeof(small)) < 0);
    CHECK(strlen(small) == sizeof(small) - 1);
}

static int endpoint(const char *s, const char *region, modelstr_endpoint_t *e)
{
    modelstr_t m;
    if (modelstr_parse(s, region, &m, err, sizeof(err)) < 0) {
        fprintf(stderr, "  parse %s: %s\n", s, err);
        return -1;
    }
    int rc = modelstr_endpoint(&m, e, err, sizeof(err));
    modelstr_clear(&m);
    return rc;
}

static void test_endpoints(void)
{
    modelstr_endpoint_t e;
    clear_env();

    CHECK(endpoint("openai/gpt-4o", NULL, &e) == 0);
    CHECK(strcmp(e.base_url, "https://api.openai.com/v1") == 0);
    CHECK(e.api_key == NULL);
    CHECK(strcmp(e.key, "openai|gpt-4o|https://api.openai.com/v1|-") == 0);
    modelstr_endpoint_clear(&e);
    CHECK(e.key == NULL && e.base_url == NULL);

    /* SHA-256("abc") = ba7816bf8f01cfea... */
    setenv("OPENAI_API_KEY", "abc", 1);
    setenv("OPENAI_BASE_URL", "http://127.0.0.1:8080/v1//", 1);
    CHECK(endpoint("openai/gpt-4o", NULL, &e) == 0);
    CHECK(strcmp(e.base_url, "http://127.0.0.1:8080/v1") == 0);
    CHECK(e.api_key && strcmp(e.api_key, "abc") == 0);
    CHECK(strcmp(e.key, "openai|gpt-4o|http://127.0.0.1:8080/v1|ba7816bf8f01cfea") == 0);
    CHECK(strstr(e.key, "abc|") == NULL);
    modelstr_endpoint_clear(&e);

    setenv("OPENAI_BASE_URL", "ftp://x", 1);
    CHECK(endpoint("openai/gpt-4o", NULL, &e) < 0);
    CHECK(strstr(err, "OPENAI_BASE_URL") != NULL);
    setenv("OPENAI_BASE_URL", "https:///", 1);
    CHECK(endpoint("openai/gpt-4o", NULL, &e) < 0);
    CHECK(strstr(err, "OPENAI_BASE_URL") != NULL);
    setenv("OPENAI_BASE_URL", "", 1); /* empty = unset */
    CHECK(endpoint("openai/gpt-4o", NULL, &e) == 0);
    CHECK(strcmp(e.base_url, "https://api.openai.com/v1") == 0);
    modelstr_endpoint_clear(&e);

    CHECK(endpoint("anthropic/claude-3-5-haiku-latest", NULL, &e) == 0);
    CHECK(strcmp(e.base_url, "https://api.anthropic.com") == 0);
    CHECK(e.api_key == NULL);
    CHECK(strcmp(e.key, "anthropic|claude-3-5-haiku-latest|https://api.anthropic.com|-") == 0);
    modelstr_endpoint_clear(&e);
    setenv("ANTHROPIC_BASE_URL", "http://localhost:9000/", 1);
    setenv("ANTHROPIC_API_KEY", "sk-ant-secret", 1);
    CHECK(endpoint("anthropic/claude-3-5-haiku-latest", NULL, &e) == 0);
    CHECK(strcmp(e.base_url, "http://localhost:9000") == 0);
    CHECK(e.api_key && strcmp(e.api_key, "sk-ant-secret") == 0);
    CHECK(strstr(e.key, "secret") == NULL);
    CHECK(strlen(strrchr(e.key, '|') + 1) == 16);
    modelstr_endpoint_clear(&e);

    /* openai-api: base URL required, key optional, SERVICE upper-cased with - -> _ */
    CHECK(endpoint("openai-api/my-vllm/meta-llama/Llama-3.1-8B", NULL, &e) < 0);
    CHECK(strstr(err, "MY_VLLM_BASE_URL") != NULL);
    setenv("MY_VLLM_BASE_URL", "http://10.0.0.5:8000/v1/", 1);
    CHECK(endpoint("openai-api/my-vllm/meta-llama/Llama-3.1-8B", NULL, &e) == 0);
    CHECK(strcmp(e.base_url, "http://10.0.0.5:8000/v1") == 0);
    CHECK(e.api_key == NULL);
    CHECK(strcmp(e.key, "openai-api|meta-llama/Llama-3.1-8B|http://10.0.0.5:8000/v1|-") == 0);
    modelstr_endpoint_clear(&e);
    setenv("MY_VLLM_API_KEY", "abc", 1);
    CHECK(endpoint("openai-api/my-vllm/meta-llama/Llama-3.1-8B", NULL, &e) == 0);
    CHECK(e.api_key && strcmp(e.api_key, "abc") == 0);
    CHECK(strcmp(e.key, "openai-api|meta-llama/Llama-3.1-8B|http://10.0.0.5:8000/v1|ba7816bf8f01cfea") == 0);
    modelstr_endpoint_clear(&e);

    /* bedrock */
    CHECK(endpoint("bedrock/amazon.nova-pro-v1:0", NULL, &e) < 0);
    CHECK(strstr(err, "AWS_REGION") != NULL);
    CHECK(endpoint("amazon.nova-pro-v1:0", "us-west-2", &e) == 0);
    CHECK(strcmp(e.base_url, "https://bedrock-runtime.us-west-2.amazonaws.com") == 0);
    CHECK(e.api_key == NULL);
    CHECK(strcmp(e.key, "bedrock|amazon.nova-pro-v1:0|https://bedrock-runtime.us-west-2.amazonaws.com|-") == 0);
    modelstr_endpoint_clear(&e);
    setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "http://127.0.0.1:7000/", 1);
    setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
    CHECK(endpoint("nova-textgeneration-lite", "eu-west-1", &e) == 0);
    CHECK(strcmp(e.base_url, "http://127.0.0.1:7000") == 0);
    CHECK(strncmp(e.key, "bedrock|eu.amazon.nova-lite-v1:0|http://127.0.0.1:7000|", 55) == 0);
    CHECK(strstr(e.key, "AKIDEXAMPLE") == NULL);
    CHECK(strcmp(strrchr(e.key, '|'), "|-") != 0); /* the identity is hashed in */
    modelstr_endpoint_clear(&e);

    /* sagemaker */
    CHECK(endpoint("sagemaker/my-ep", "us-east-1", &e) == 0);
    CHECK(strcmp(e.base_url, "https://runtime.sagemaker.us-east-1.amazonaws.com") == 0);
    CHECK(strncmp(e.key, "sagemaker|my-ep|https://runtime.sagemaker.us-east-1.amazonaws.com|", 66) == 0);
    modelstr_endpoint_clear(&e);
    setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", "http://localhost:7001", 1);
    CHECK(endpoint("arn:aws:sagemaker:ap-southeast-2:123456789012:endpoint/ep2", NULL, &e) == 0);
    CHECK(strcmp(e.base_url, "http://localhost:7001") == 0);
    modelstr_endpoint_clear(&e);
    unsetenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME");
    CHECK(endpoint("arn:aws:sagemaker:ap-southeast-2:123456789012:endpoint/ep2", NULL, &e) == 0);
    CHECK(strcmp(e.base_url, "https://runtime.sagemaker.ap-southeast-2.amazonaws.com") == 0);
    modelstr_endpoint_clear(&e);
    setenv("AWS_REGION", "ca-central-1", 1);
    CHECK(endpoint("sagemaker/my-ep", NULL, &e) == 0);
    CHECK(strcmp(e.base_url, "https://runtime.sagemaker.ca-central-1.amazonaws.com") == 0);
    modelstr_endpoint_clear(&e);

    /* different keys give different endpoint keys */
    modelstr_endpoint_t a, b;
    setenv("OPENAI_API_KEY", "k1", 1);
    CHECK(endpoint("openai/gpt-4o", NULL, &a) == 0);
    setenv("OPENAI_API_KEY", "k2", 1);
    CHECK(endpoint("openai/gpt-4o", NULL, &b) == 0);
    CHECK(strcmp(a.key, b.key) != 0);
    modelstr_endpoint_clear(&a);
    modelstr_endpoint_clear(&b);
    modelstr_endpoint_clear(NULL);
    modelstr_clear(NULL);
    clear_env();
}

int main(void)
{
    clear_env();
    test_forms();
    test_nova();
    test_errors();
    test_endpoints();
    return check_summary("test_modelstr");
}
