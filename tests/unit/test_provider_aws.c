/* test_provider_aws: the Bedrock and SageMaker providers and their shared AWS part, offline:
 * request building (URL, body JSON, headers), SigV4 signing in before_send (checked with
 * sigv4_verify), the credential cache, the signing region, reply parsing and the classification
 * of every AWS error type. test_provider_aws_http drives them over HTTP through llm_call. */
#include "provider.h"
#include "provider_aws.h"
#include "awscreds.h"
#include "sigv4.h"
#include "sigv4_verify.h"
#include "mem.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "check.h"
#include "testutil.h"

#define AK "AKIDTESTEXAMPLE1"
#define SK "wJalrXUtnFEMI/K7MDENG+bPxRfiCYTESTKEY1"
#define AK2 "AKIDTESTEXAMPLE2"
#define SK2 "secret/number/two/for/the/file/tests22"

static const llm_msg_t MSGS[] = {{"user", "Rate \"this\"\n"}, {"assistant", "Ok."}, {"user", "caf\xc3\xa9?"}};

static llm_req_t req_base(void)
{
    llm_req_t r =
        {.system = "Be a judge.", .msgs = MSGS, .n_msgs = 3, .max_tokens = 64, .temperature = 0.5, .top_p = -1};
    return r;
}

static bool has(const char *s, const char *needle) { return s && needle && strstr(s, needle); }

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double jnum(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : -999;
}

/* A fake wall clock for the credential cache (awscreds_clock). */
static time_t fake_now = 1700000000;
static time_t fake_clock(void) { return fake_now; }

static char tmpdir[64];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

/* Environment with only the given static keys (NULL: none) and files under tmpdir. */
static void env_keys(const char *ak, const char *sk, const char *token)
{
    if (ak) setenv("AWS_ACCESS_KEY_ID", ak, 1);
    else unsetenv("AWS_ACCESS_KEY_ID");
    if (sk) setenv("AWS_SECRET_ACCESS_KEY", sk, 1);
    else unsetenv("AWS_SECRET_ACCESS_KEY");
    if (token) setenv("AWS_SESSION_TOKEN", token, 1);
    else unsetenv("AWS_SESSION_TOKEN");
}

static int lookup(void *ctx, const char *ak, char *secret, size_t size)
{
    (void)ctx;
    const char *s = strcmp(ak, AK) == 0 ? SK : strcmp(ak, AK2) == 0 ? SK2 : NULL;
    if (!s) return -1;
    snprintf(secret, size, "%s", s);
    return 0;
}

/* Checks a signed request the way a server would: path from the URL, Host from the URL. */
static sigv4_status_t verify(const httpmsg_request_t *r, const char *service, const char *region, sigv4_auth_t *auth)
{
    const char *hoststart = strstr(r->url, "://") + 3;
    const char *path = strchr(hoststart, '/');
    char *host = xstrndup(hoststart, (size_t)(path - hoststart));
    sigv4_header_t *hs = xcalloc(r->headers.n + 1, sizeof(*hs));
    hs[0] = (sigv4_header_t){"Host", host};
    for (size_t i = 0; i < r->headers.n; i++) hs[i + 1] = (sigv4_header_t){r->headers.v[i].name, r->headers.v[i].value};
    sigv4_verify_opts_t o = {.lookup = lookup, .region = region, .service = service};
    char reason[1024];
    sigv4_status_t st = sigv4_verify(&o, r->method, path, hs, r->headers.n + 1, r->body.data, r->body.len, auth, reason,
                                     sizeof reason);
    if (st != SIGV4_OK) fprintf(stderr, "verify: %s\n", reason);
    free(hs);
    free(host);
    return st;
}

static size_t count_header(const httpmsg_request_t *r, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < r->headers.n; i++) n += strcasecmp(r->headers.v[i].name, name) == 0;
    return n;
}

static void test_bedrock_build(void)
{
    CHECK(provider_for(PROVIDER_BEDROCK) == &provider_bedrock);
    CHECK(provider_for(PROVIDER_SAGEMAKER) == &provider_sagemaker);
    modelstr_t ms = {.kind = PROVIDER_BEDROCK,
                     .input = "nova-textgeneration-lite",
                     .model = "us.amazon.nova-lite-v1:0",
                     .region = "us-west-2"};
    modelstr_endpoint_t ep = {.base_url = "https://bedrock-runtime.us-west-2.amazonaws.com", .key = "k"};
    llm_req_t req = req_base();
    provider_call_t pc = {.model = &ms, .endpoint = &ep, .req = &req};
    httpmsg_request_t out;
    httpmsg_request_init(&out);
    char err[512] = "";
    CHECK(provider_bedrock.build(&pc, &out, err, sizeof err) == 0);
    CHECK(strcmp(out.url,
                 "https://bedrock-runtime.us-west-2.amazonaws.com/model/us.amazon.nova-lite-v1%3A0/converse") == 0);
    CHECK(strcmp(out.method, "POST") == 0);
    CHECK(has(httpmsg_headers_get(&out.headers, "content-type"), "application/json"));
    CHECK(httpmsg_headers_get(&out.headers, "authorization") == NULL); /* signed in before_send */
    cJSON *j = cJSON_ParseWithLength(out.body.data, out.body.len);
    CHECK(cJSON_IsObject(j));
    CHECK(cJSON_GetObjectItemCaseSensitive(j, "model") == NULL); /* the model is in the path */
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(j, "messages");
    CHECK(cJSON_GetArraySize(msgs) == 3);
    const cJSON *m0 = cJSON_GetArrayItem(msgs, 0), *m2 = cJSON_GetArrayItem(msgs, 2);
    CHECK(has(jstr(m0, "role"), "user"));
    const cJSON *c0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(m0, "content"), 0);
    CHECK(jstr(c0, "text") && strcmp(jstr(c0, "text"), "Rate \"this\"\n") == 0);
    CHECK(strcmp(jstr(cJSON_GetArrayItem(msgs, 1), "role"), "assistant") == 0);
    const cJSON *c2 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(m2, "content"), 0);
    CHECK(jstr(c2, "text") && strcmp(jstr(c2, "text"), "caf\xc3\xa9?") == 0);
    const cJSON *sys = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "system"), 0);
    CHECK(jstr(sys, "text") && strcmp(jstr(sys, "text"), "Be a judge.") == 0);
    const cJSON *ic = cJSON_GetObjectItemCaseSensitive(j, "inferenceConfig");
    CHECK(jnum(ic, "maxTokens") == 64 && jnum(ic, "temperature") == 0.5);
    CHECK(cJSON_GetObjectItemCaseSensitive(ic, "topP") == NULL);
    cJSON_Delete(j);
    httpmsg_request_clear(&out);

    /* topP when >= 0, no system when none (or empty), an ARN id is one path segment */
    req.top_p = 0.9;
    req.system = "";
    ms.model = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.meta.llama3-3-70b-instruct-v1:0";
    httpmsg_request_init(&out);
    CHECK(provider_bedrock.build(&pc, &out, err, sizeof err) == 0);
    CHECK(has(out.url, "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.meta."
                       "llama3-3-70b-instruct-v1%3A0/converse"));
    j = cJSON_ParseWithLength(out.body.data, out.body.len);
    CHECK(jnum(cJSON_GetObjectItemCaseSensitive(j, "inferenceConfig"), "topP") == 0.9);
    CHECK(cJSON_GetObjectItemCaseSensitive(j, "system") == NULL);
    cJSON_Delete(j);
    httpmsg_request_clear(&out);

    /* what cannot be expressed */
    req.max_tokens = 0;
    httpmsg_request_init(&out);
    err[0] = '\0';
    CHECK(provider_bedrock.build(&pc, &out, err, sizeof err) < 0);
    CHECK(has(err, "max_tokens"));
    httpmsg_request_clear(&out);
}

static void test_sagemaker_build(void)
{
    modelstr_t ms = {.kind = PROVIDER_SAGEMAKER,
                     .input = "sagemaker/my-endpoint",
                     .model = "my-endpoint",
                     .service = "my-endpoint",
                     .region = "eu-west-1"};
    modelstr_endpoint_t ep = {.base_url = "https://runtime.sagemaker.eu-west-1.amazonaws.com/", .key = "k"};
    llm_req_t req = req_base();
    req.top_p = 0.25;
    provider_call_t pc = {.model = &ms, .endpoint = &ep, .req = &req};
    httpmsg_request_t out;
    httpmsg_request_init(&out);
    char err[512] = "";
    CHECK(provider_sagemaker.build(&pc, &out, err, sizeof err) == 0);
    CHECK(strcmp(out.url, "https://runtime.sagemaker.eu-west-1.amazonaws.com/endpoints/my-endpoint/invocations") == 0);
    CHECK(has(httpmsg_headers_get(&out.headers, "Content-Type"), "application/json"));
    cJSON *j = cJSON_ParseWithLength(out.body.data, out.body.len);
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(j, "messages");
    CHECK(cJSON_GetArraySize(msgs) == 4);
    CHECK(has(jstr(cJSON_GetArrayItem(msgs, 0), "role"), "system"));
    CHECK(has(jstr(cJSON_GetArrayItem(msgs, 0), "content"), "Be a judge."));
    CHECK(has(jstr(cJSON_GetArrayItem(msgs, 3), "content"), "caf\xc3\xa9?"));
    CHECK(jnum(j, "max_tokens") == 64 && jnum(j, "temperature") == 0.5 && jnum(j, "top_p") == 0.25);
    cJSON_Delete(j);
    httpmsg_request_clear(&out);

    req.system = NULL;
    req.top_p = -1;
    httpmsg_request_init(&out);
    CHECK(provider_sagemaker.build(&pc, &out, err, sizeof err) == 0);
    j = cJSON_ParseWithLength(out.body.data, out.body.len);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "messages")) == 3);
    CHECK(cJSON_GetObjectItemCaseSensitive(j, "top_p") == NULL);
    cJSON_Delete(j);
    httpmsg_request_clear(&out);

    req.temperature = -1;
    httpmsg_request_init(&out);
    CHECK(provider_sagemaker.build(&pc, &out, err, sizeof err) < 0 && has(err, "temperature"));
    httpmsg_request_clear(&out);

    /* TGI's native shape: the conversation as text, parameters as TGI takes them (no temperature
     * 0: greedy decoding is do_sample false) */
    req = req_base();
    req.api = "tgi";
    req.top_p = 0.9;
    req.temperature = 0;
    httpmsg_request_init(&out);
    CHECK(provider_sagemaker.build(&pc, &out, err, sizeof err) == 0);
    j = cJSON_ParseWithLength(out.body.data, out.body.len);
    const char *inputs = jstr(j, "inputs");
    CHECK(inputs && strncmp(inputs, "Be a judge.\n\nUser: ", 19) == 0 && has(inputs, "\n\nAssistant: ") &&
          has(inputs, "caf\xc3\xa9?\n\nAssistant:"));
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(j, "parameters");
    CHECK(jnum(params, "max_new_tokens") == 64 && jnum(params, "top_p") == 0.9);
    CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(params, "do_sample")) &&
          !cJSON_GetObjectItemCaseSensitive(params, "temperature"));
    CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(params, "return_full_text")));
    cJSON_Delete(j);
    httpmsg_request_clear(&out);
    llm_msg_t one = {"user", "Just this?"};
    req.msgs = &one;
    req.n_msgs = 1;
    req.system = NULL;
    req.temperature = 0.7;
    httpmsg_request_init(&out);
    CHECK(provider_sagemaker.build(&pc, &out, err, sizeof err) == 0);
    j = cJSON_ParseWithLength(out.body.data, out.body.len);
    CHECK(has(jstr(j, "inputs"), "Just this?") && strcmp(jstr(j, "inputs"), "Just this?") == 0);
    params = cJSON_GetObjectItemCaseSensitive(j, "parameters");
    CHECK(jnum(params, "temperature") == 0.7 && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(params, "do_sample")));
    cJSON_Delete(j);
    httpmsg_request_clear(&out);
    req.api = "json";
    httpmsg_request_init(&out);
    CHECK(provider_sagemaker.build(&pc, &out, err, sizeof err) < 0 && has(err, "unknown SageMaker request shape"));
    httpmsg_request_clear(&out);
}

/* before_send signs, re-signs without piling up headers, and the signature verifies. */
static void test_sign(void)
{
    env_keys(AK, SK, NULL);
    modelstr_t ms = {.kind = PROVIDER_BEDROCK,
                     .input = "bedrock/amazon.nova-pro-v1:0",
                     .model = "amazon.nova-pro-v1:0",
                     .region = "eu-central-1"};
    modelstr_endpoint_t ep = {.base_url = "http://127.0.0.1:9/base", .key = "k"};
    llm_req_t req = req_base();
    provider_call_t pc = {.model = &ms, .endpoint = &ep, .req = &req};
    httpmsg_request_t r;
    httpmsg_request_init(&r);
    char err[1024] = "";
    CHECK(provider_bedrock.build(&pc, &r, err, sizeof err) == 0);
    CHECK(provider_bedrock.before_send(&ms, &ep, &r, err, sizeof err) == 0);
    CHECK(count_header(&r, "Authorization") == 1 && count_header(&r, "X-Amz-Date") == 1);
    CHECK(count_header(&r, "X-Amz-Security-Token") == 0);
    sigv4_auth_t a;
    CHECK(verify(&r, "bedrock", "eu-central-1", &a) == SIGV4_OK);
    CHECK(strcmp(a.access_key, AK) == 0);
    CHECK(has(a.signed_headers, "content-type") && has(a.signed_headers, "host"));

    /* a retry: fresh signature, still one of each, with a session token now */
    env_keys(AK, SK, "session-token-value-123");
    fake_now += 1;
    CHECK(provider_bedrock.before_send(&ms, &ep, &r, err, sizeof err) == 0);
    CHECK(count_header(&r, "Authorization") == 1 && count_header(&r, "X-Amz-Date") == 1);
    CHECK(count_header(&r, "X-Amz-Security-Token") == 1);
    CHECK(has(httpmsg_headers_get(&r.headers, "X-Amz-Security-Token"), "session-token-value-123"));
    CHECK(verify(&r, "bedrock", "eu-central-1", &a) == SIGV4_OK);
    CHECK(has(a.signed_headers, "x-amz-security-token"));
    httpmsg_request_clear(&r);

    /* SageMaker signs as `sagemaker`; an AWS host names the region */
    env_keys(AK, SK, NULL);
    modelstr_t sm = {.kind = PROVIDER_SAGEMAKER,
                     .input = "sagemaker/ep1",
                     .model = "ep1",
                     .service = "ep1",
                     .region = "us-east-1"};
    modelstr_endpoint_t sep = {.base_url = "https://runtime.sagemaker.ap-south-1.amazonaws.com", .key = "k"};
    provider_call_t spc = {.model = &sm, .endpoint = &sep, .req = &req};
    httpmsg_request_init(&r);
    CHECK(provider_sagemaker.build(&spc, &r, err, sizeof err) == 0);
    CHECK(provider_sagemaker.before_send(&sm, &sep, &r, err, sizeof err) == 0);
    CHECK(verify(&r, "sagemaker", "ap-south-1", &a) == SIGV4_OK);
    httpmsg_request_clear(&r);
}

static void test_region(void)
{
    modelstr_t ms = {.kind = PROVIDER_BEDROCK, .input = "bedrock/x.y", .model = "x.y", .region = "us-east-2"};
    char reg[64], err[512];
    CHECK(provider_aws_region(&ms, "http://localhost:8080", reg, sizeof reg, err, sizeof err) == 0 &&
          strcmp(reg, "us-east-2") == 0);
    CHECK(provider_aws_region(&ms, "https://bedrock-runtime-fips.us-gov-west-1.amazonaws.com", reg, sizeof reg, err,
                              sizeof err) == 0 &&
          strcmp(reg, "us-gov-west-1") == 0);
    CHECK(provider_aws_region(&ms, "https://vpce-0a1b-c2d3.bedrock-runtime.eu-west-3.vpce.amazonaws.com:443/x", reg,
                              sizeof reg, err, sizeof err) == 0 &&
          strcmp(reg, "eu-west-3") == 0);
    CHECK(provider_aws_region(&ms, "https://runtime.sagemaker.cn-north-1.amazonaws.com.cn", reg, sizeof reg, err,
                              sizeof err) == 0 &&
          strcmp(reg, "cn-north-1") == 0);
    ms.region = "Bad Region";
    CHECK(provider_aws_region(&ms, "http://localhost", reg, sizeof reg, err, sizeof err) < 0 && has(err, "region"));
    /* no model region: the profile's region in the config file */
    ms.region = NULL;
    char cfg[128];
    snprintf(cfg, sizeof cfg, "%s/config", tmpdir);
    write_file(cfg, "[default]\nregion = sa-east-1\n");
    setenv("AWS_CONFIG_FILE", cfg, 1);
    CHECK(provider_aws_region(&ms, "http://localhost", reg, sizeof reg, err, sizeof err) == 0 &&
          strcmp(reg, "sa-east-1") == 0);
    snprintf(cfg, sizeof cfg, "%s/no-config", tmpdir);
    setenv("AWS_CONFIG_FILE", cfg, 1);
    err[0] = '\0';
    CHECK(provider_aws_region(&ms, "http://localhost", reg, sizeof reg, err, sizeof err) < 0);
    CHECK(has(err, "AWS_REGION"));
}

/* Signs a fresh request and returns the access key it was signed with ("" on failure). */
static void signed_with(char *ak, size_t aklen, char *err, size_t errlen)
{
    modelstr_t ms = {.kind = PROVIDER_BEDROCK, .input = "bedrock/a.b", .model = "a.b", .region = "us-east-1"};
    modelstr_endpoint_t ep = {.base_url = "http://127.0.0.1:9", .key = "k"};
    llm_req_t req = req_base();
    provider_call_t pc = {.model = &ms, .endpoint = &ep, .req = &req};
    httpmsg_request_t r;
    httpmsg_request_init(&r);
    ak[0] = '\0';
    err[0] = '\0';
    sigv4_auth_t a;
    if (provider_bedrock.build(&pc, &r, err, errlen) == 0 &&
        provider_bedrock.before_send(&ms, &ep, &r, err, errlen) == 0 &&
        verify(&r, "bedrock", "us-east-1", &a) == SIGV4_OK)
        snprintf(ak, aklen, "%s", a.access_key);
    httpmsg_request_clear(&r);
}

static void test_credential_cache(void)
{
    char creds[128], ak[128], err[1024];
    snprintf(creds, sizeof creds, "%s/credentials", tmpdir);
    setenv("AWS_SHARED_CREDENTIALS_FILE", creds, 1);
    env_keys(NULL, NULL, NULL);
    unsetenv("AWS_PROFILE");
    write_file(creds, "[default]\naws_access_key_id = " AK "\naws_secret_access_key = " SK "\n[other]\n"
                      "aws_access_key_id = " AK2 "\naws_secret_access_key = " SK2 "\n");
    provider_aws_forget_credentials();
    signed_with(ak, sizeof ak, err, sizeof err);
    CHECK(strcmp(ak, AK) == 0);
    /* the file changes: within the TTL the cache answers */
    write_file(creds, "[default]\naws_access_key_id = " AK2 "\naws_secret_access_key = " SK2 "\n");
    fake_now += AWSCREDS_STATIC_TTL_S - 1;
    signed_with(ak, sizeof ak, err, sizeof err);
    CHECK(strcmp(ak, AK) == 0);
    /* past the TTL it is read again */
    fake_now += 2;
    signed_with(ak, sizeof ak, err, sizeof err);
    CHECK(strcmp(ak, AK2) == 0);
    /* a changed environment takes effect at once */
    write_file(creds, "[default]\naws_access_key_id = " AK "\naws_secret_access_key = " SK "\n[other]\n"
                      "aws_access_key_id = " AK2 "\naws_secret_access_key = " SK2 "\n");
    signed_with(ak, sizeof ak, err, sizeof err);
    CHECK(strcmp(ak, AK2) == 0); /* still cached */
    setenv("AWS_PROFILE", "default", 1);
    signed_with(ak, sizeof ak, err, sizeof err);
    CHECK(strcmp(ak, AK) == 0);
    env_keys(AK2, SK2, NULL);
    signed_with(ak, sizeof ak, err, sizeof err);
    CHECK(strcmp(ak, AK2) == 0);
    env_keys(NULL, NULL, NULL);
    signed_with(ak, sizeof ak, err, sizeof err);
    CHECK(strcmp(ak, AK) == 0);
    /* AWS saying the token expired drops the cache */
    write_file(creds, "[default]\naws_access_key_id = " AK2 "\naws_secret_access_key = " SK2 "\n");
    httpmsg_headers_t h;
    httpmsg_headers_init(&h);
    httpmsg_headers_add(&h, "x-amzn-ErrorType", "ExpiredTokenException:http://internal.amazon.com/coral/");
    static const char expired[] = "{\"message\":\"The security token included in the request is expired\"}";
    char msg[512];
    CHECK(provider_bedrock.classify(403, expired, strlen(expired), &h, msg, sizeof msg) == LLM_ERR_PERMANENT);
    httpmsg_headers_clear(&h);
    signed_with(ak, sizeof ak, err, sizeof err);
    CHECK(strcmp(ak, AK2) == 0);

    /* nothing anywhere: a clear error naming what was tried, never a secret */
    char none[128];
    snprintf(none, sizeof none, "%s/absent", tmpdir);
    setenv("AWS_SHARED_CREDENTIALS_FILE", none, 1);
    signed_with(ak, sizeof ak, err, sizeof err);
    CHECK(ak[0] == '\0');
    CHECK(has(err, "credentials") && has(err, "AWS_ACCESS_KEY_ID") && has(err, none) && has(err, "bedrock"));
    CHECK(!has(err, SK) && !has(err, SK2));
    /* a half-set environment is named */
    env_keys(AK, NULL, NULL);
    signed_with(ak, sizeof ak, err, sizeof err);
    CHECK(ak[0] == '\0' && has(err, "AWS_SECRET_ACCESS_KEY"));
    env_keys(NULL, NULL, NULL);
    unsetenv("AWS_PROFILE");
    provider_aws_forget_credentials();
}

static void test_parse(void)
{
    provider_reply_t r;
    char err[512];
    static const char conv[] =
        "{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":[{\"reasoningContent\":{\"reasoningText\":"
        "{\"text\":\"hmm\"}}},{\"text\":\"Score: \"},{\"text\":\"4\"}]}},\"stopReason\":\"end_turn\",\"usage\":"
        "{\"inputTokens\":30,\"outputTokens\":7,\"totalTokens\":37,\"cacheReadInputTokens\":5},\"metrics\":{\"latencyMs\":9}}";
    CHECK(provider_bedrock.parse_ok(conv, strlen(conv), false, &r, err, sizeof err) == 0);
    CHECK(r.text && strcmp(r.text, "Score: 4") == 0 && r.text_len == 8);
    CHECK(r.usage.input_tokens == 35 && r.usage.output_tokens == 7);
    provider_reply_clear(&r);
    static const char nomsg[] = "{\"message\":\"odd\"}";
    CHECK(provider_bedrock.parse_ok(nomsg, strlen(nomsg), false, &r, err, sizeof err) < 0 && has(err, "odd"));
    CHECK(provider_bedrock.parse_ok("[1]", 3, false, &r, err, sizeof err) < 0 && has(err, "bedrock"));
    CHECK(provider_bedrock.parse_ok("not json", 8, false, &r, err, sizeof err) < 0 && r.text == NULL);

    static const char chat[] = "{\"id\":\"x\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
                               "\"Fine.\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":21,"
                               "\"completion_tokens\":2,\"total_tokens\":23}}";
    CHECK(provider_sagemaker.parse_ok(chat, strlen(chat), false, &r, err, sizeof err) == 0);
    CHECK(r.text && strcmp(r.text, "Fine.") == 0 && r.usage.input_tokens == 21 && r.usage.output_tokens == 2);
    provider_reply_clear(&r);
    static const char parts[] =
        "{\"choices\":[{\"message\":{\"content\":[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"text\",\"text\":\"b\"}]}}]}";
    CHECK(provider_sagemaker.parse_ok(parts, strlen(parts), false, &r, err, sizeof err) == 0 &&
          strcmp(r.text, "ab") == 0);
    provider_reply_clear(&r);
    static const char tgi[] = "[{\"generated_text\":\"Verdict: yes\"}]";
    CHECK(provider_sagemaker.parse_ok(tgi, strlen(tgi), false, &r, err, sizeof err) == 0);
    CHECK(r.text && strcmp(r.text, "Verdict: yes") == 0 && r.usage.output_tokens == 0);
    provider_reply_clear(&r);
    static const char lmi[] =
        "{\"generated_text\":\"no\",\"details\":{\"generated_tokens\":3,\"finish_reason\":\"eos\"}}";
    CHECK(provider_sagemaker.parse_ok(lmi, strlen(lmi), false, &r, err, sizeof err) == 0);
    CHECK(r.text && strcmp(r.text, "no") == 0 && r.usage.output_tokens == 3);
    provider_reply_clear(&r);
    static const char nochoice[] = "{\"choices\":[{\"message\":{\"content\":null}}]}";
    CHECK(provider_sagemaker.parse_ok(nochoice, strlen(nochoice), false, &r, err, sizeof err) < 0 &&
          has(err, "content"));
    static const char other[] = "{\"predictions\":[1]}";
    CHECK(provider_sagemaker.parse_ok(other, strlen(other), false, &r, err, sizeof err) < 0 &&
          has(err, "generated_text"));
    CHECK(provider_sagemaker.parse_ok("[]", 2, false, &r, err, sizeof err) < 0);
    CHECK(provider_sagemaker.parse_ok("", 0, false, &r, err, sizeof err) < 0 && r.text == NULL);
}

typedef struct {
    long status;
    const char *error_type; /* x-amzn-ErrorType, or NULL */
    const char *body;
    llm_status_t want;
    const char *msg_has;
} case_t;

static void run_cases(const provider_t *p, const case_t *cs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        httpmsg_headers_t h;
        httpmsg_headers_init(&h);
        if (cs[i].error_type) httpmsg_headers_add(&h, "x-amzn-ErrorType", cs[i].error_type);
        char msg[1024] = "";
        llm_status_t got = p->classify(cs[i].status, cs[i].body, strlen(cs[i].body), &h, msg, sizeof msg);
        if (got != cs[i].want || !has(msg, cs[i].msg_has))
            fprintf(stderr, "%s case %zu: class %d (want %d), message `%s`\n", p->name, i, (int)got, (int)cs[i].want,
                    msg);
        CHECK(got == cs[i].want);
        CHECK(has(msg, cs[i].msg_has));
        httpmsg_headers_clear(&h);
    }
}

static void test_classify(void)
{
    static const char *const CORAL = ":http://internal.amazon.com/coral/com.amazon.bedrock/";
    char t1[128], t2[128];
    snprintf(t1, sizeof t1, "ThrottlingException%s", CORAL);
    snprintf(t2, sizeof t2, "ValidationException%s", CORAL);
    const case_t bedrock[] = {
        {429, t1, "{\"message\":\"Too many requests, please wait before trying again.\"}", LLM_ERR_TRANSIENT,
         "HTTP 429 from bedrock (ThrottlingException): Too many requests"},
        {400, "ThrottlingException", "{\"message\":\"Rate exceeded\"}", LLM_ERR_TRANSIENT, "Rate exceeded"},
        {429, NULL, "", LLM_ERR_TRANSIENT, "HTTP 429"},
        {400, "TooManyRequestsException", "{\"Message\":\"slow\"}", LLM_ERR_TRANSIENT,
         "(TooManyRequestsException): slow"},
        {503, "ServiceUnavailableException", "{\"message\":\"busy\"}", LLM_ERR_TRANSIENT, "busy"},
        {429, "ModelNotReadyException", "{\"message\":\"warming\"}", LLM_ERR_TRANSIENT, "warming"},
        {500, "InternalServerException", "{\"message\":\"oops\"}", LLM_ERR_TRANSIENT, "oops"},
        {500, NULL, "<html>err</html>", LLM_ERR_TRANSIENT, "<html>err</html>"},
        {503, NULL, "", LLM_ERR_TRANSIENT, "HTTP 503"},
        {408, "ModelTimeoutException", "{\"message\":\"took too long\"}", LLM_ERR_TRANSIENT, "took too long"},
        {400, "ServiceQuotaExceededException", "{\"message\":\"quota\"}", LLM_ERR_QUOTA,
         "ServiceQuotaExceededException"},
        {403, "AccessDeniedException", "{\"message\":\"You have exceeded the Service Quota for tokens\"}",
         LLM_ERR_QUOTA, "Service Quota"},
        {403, "AccessDeniedException",
         "{\"message\":\"You don't have access to the model with the specified model ID.\"}", LLM_ERR_PERMANENT,
         "(AccessDeniedException): You don't have access"},
        {400, t2, "{\"message\":\"The provided model identifier is invalid.\"}", LLM_ERR_PERMANENT,
         "HTTP 400 from bedrock (ValidationException): The provided model identifier is invalid."},
        {404, "ResourceNotFoundException", "{\"message\":\"Model not found\"}", LLM_ERR_PERMANENT, "Model not found"},
        {403, NULL, "{\"__type\":\"com.amazon.coral.service#UnrecognizedClientException\",\"message\":\"bad key\"}",
         LLM_ERR_PERMANENT, "(UnrecognizedClientException): bad key"},
        {424, "ModelErrorException", "{\"message\":\"model failed\"}", LLM_ERR_PERMANENT, "model failed"},
        {413, NULL, "{\"message\":\"too big\"}", LLM_ERR_PERMANENT, "too big"},
    };
    run_cases(&provider_bedrock, bedrock, sizeof bedrock / sizeof bedrock[0]);

    const case_t sagemaker[] = {
        {429, NULL, "{\"message\":\"slow down\"}", LLM_ERR_TRANSIENT, "HTTP 429 from sagemaker: slow down"},
        {400, "ThrottlingException", "{\"message\":\"Rate exceeded\"}", LLM_ERR_TRANSIENT,
         "(ThrottlingException): Rate exceeded"},
        {424, "ModelError:http://internal.amazon.com/coral/com.amazon.sagemaker/",
         "{\"ErrorCode\":\"SERVER_ERROR_FROM_MODEL\",\"OriginalStatusCode\":503,\"OriginalMessage\":\"overloaded\","
         "\"Message\":\"Received server error (503) from primary with message \\\"overloaded\\\".\"}",
         LLM_ERR_TRANSIENT, "(ModelError): Received server error (503)"},
        {424, "ModelError", "{\"OriginalStatusCode\":429,\"Message\":\"Model is overloaded\"}", LLM_ERR_TRANSIENT,
         "overloaded"},
        {424, "ModelError",
         "{\"ErrorCode\":\"CLIENT_ERROR_FROM_MODEL\",\"OriginalStatusCode\":422,\"Message\":\"Received client error "
         "(422) from primary with message \\\"Input validation error\\\".\"}",
         LLM_ERR_PERMANENT, "Received client error (422)"},
        {424, "ModelError", "{\"Message\":\"Received server error (500) from primary\"}", LLM_ERR_TRANSIENT,
         "Received server error"},
        {400, "ModelNotReadyException", "{\"message\":\"not ready\"}", LLM_ERR_TRANSIENT, "not ready"},
        {500, "InternalFailure", "{\"message\":\"internal\"}", LLM_ERR_TRANSIENT, "internal"},
        {530, "InternalDependencyException", "{\"message\":\"dep\"}", LLM_ERR_TRANSIENT, "dep"},
        {503, "ServiceUnavailable", "{\"message\":\"unavailable\"}", LLM_ERR_TRANSIENT, "unavailable"},
        {400, "ValidationError", "{\"message\":\"Endpoint my-endpoint of account 1 not found.\"}", LLM_ERR_PERMANENT,
         "(ValidationError): Endpoint my-endpoint"},
        {404, NULL, "", LLM_ERR_PERMANENT, "HTTP 404 from sagemaker"},
    };
    run_cases(&provider_sagemaker, sagemaker, sizeof sagemaker / sizeof sagemaker[0]);

    buf_t b;
    buf_init(&b, 0);
    CHECK(provider_aws_path_segment(&b, "a.b-c_d~e:f/g h%") == 0);
    CHECK(b.data && strcmp(b.data, "a.b-c_d~e%3Af%2Fg%20h%25") == 0);
    buf_free(&b);

    httpmsg_request_t r;
    httpmsg_request_init(&r);
    char err[128] = "";
    CHECK(provider_aws_post_json(&r, "https://h.example/", "model/", "us.x:0/y", "/converse", err, sizeof err) == 0);
    CHECK(strcmp(r.method, "POST") == 0 && strcmp(r.url, "https://h.example/model/us.x%3A0%2Fy/converse") == 0);
    CHECK(r.headers.n == 2 && strcmp(httpmsg_headers_get(&r.headers, "Content-Type"), "application/json") == 0 &&
          strcmp(httpmsg_headers_get(&r.headers, "Accept"), "application/json") == 0);
    CHECK(err[0] == '\0');
    httpmsg_request_clear(&r);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_provider_aws.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    awscreds_clock = fake_clock;
    /* hermetic: no real AWS files or keys are read */
    aws_env_home(tmpdir);
    unsetenv("AWS_PROFILE");
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");

    test_bedrock_build();
    test_sagemaker_build();
    test_sign();
    test_region();
    test_credential_cache();
    test_parse();
    test_classify();

    provider_aws_forget_credentials();
    const char *files[] = {"credentials", "config", NULL};
    char path[128];
    for (int i = 0; files[i]; i++) {
        snprintf(path, sizeof path, "%s/%s", tmpdir, files[i]);
        unlink(path);
    }
    rmdir(tmpdir);
    return check_summary("test_provider_aws");
}
