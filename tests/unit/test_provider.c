/* test_provider: request building, reply parsing and error classification of the OpenAI and
 * Anthropic providers, offline (llm's test exercises them over HTTP). */
#include "provider.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static const llm_msg_t MSGS[] = {
    {"user", "Hi \"there\"\n"},
    {"assistant", "Hello."},
    {"user", "Rate it: caf\xc3\xa9"},
};

static llm_req_t req_base(void)
{
    llm_req_t r = {.system = "Be terse.", .msgs = MSGS, .n_msgs = 3, .max_tokens = 64, .temperature = 0.7, .top_p = -1};
    return r;
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void test_openai_build(void)
{
    modelstr_t ms = {.kind = PROVIDER_OPENAI, .input = "openai/gpt-4o-mini", .model = "gpt-4o-mini"};
    modelstr_endpoint_t ep = {.base_url = "http://h:1/v1", .api_key = "sk-test-123456", .key = "k"};
    llm_req_t req = req_base();
    provider_call_t pc = {.model = &ms, .endpoint = &ep, .req = &req};
    httpmsg_request_t out;
    httpmsg_request_init(&out);
    char err[256] = "";
    CHECK(provider_openai.build(&pc, &out, err, sizeof err) == 0);
    CHECK(strcmp(out.url, "http://h:1/v1/chat/completions") == 0);
    CHECK(strcmp(out.method, "POST") == 0);
    const char *auth = httpmsg_headers_get(&out.headers, "authorization");
    CHECK(auth && strcmp(auth, "Bearer sk-test-123456") == 0);
    const char *ct = httpmsg_headers_get(&out.headers, "content-type");
    CHECK(ct && strcmp(ct, "application/json") == 0);
    cJSON *j = cJSON_ParseWithLength(out.body.data, out.body.len);
    CHECK(j != NULL);
    CHECK(jstr(j, "model") && strcmp(jstr(j, "model"), "gpt-4o-mini") == 0);
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "messages");
    CHECK(cJSON_GetArraySize(m) == 4);
    CHECK(strcmp(jstr(cJSON_GetArrayItem(m, 0), "role"), "system") == 0);
    CHECK(strcmp(jstr(cJSON_GetArrayItem(m, 0), "content"), "Be terse.") == 0);
    CHECK(strcmp(jstr(cJSON_GetArrayItem(m, 1), "content"), "Hi \"there\"\n") == 0);
    CHECK(strcmp(jstr(cJSON_GetArrayItem(m, 2), "role"), "assistant") == 0);
    CHECK(strcmp(jstr(cJSON_GetArrayItem(m, 3), "content"), "Rate it: caf\xc3\xa9") == 0);
    CHECK(cJSON_GetObjectItemCaseSensitive(j, "max_tokens")->valuedouble == 64);
    CHECK(cJSON_GetObjectItemCaseSensitive(j, "temperature")->valuedouble == 0.7);
    CHECK(cJSON_GetObjectItemCaseSensitive(j, "top_p") == NULL);
    CHECK(strstr(out.body.data, "\"temperature\":0.7") != NULL); /* shortest exact form */
    cJSON_Delete(j);
    httpmsg_request_clear(&out);

    /* no key: no Authorization; no system: no system message; top_p sent when >= 0 */
    ep.api_key = NULL;
    ep.base_url = "http://h:1/v1/";
    req.system = NULL;
    req.top_p = 0.9;
    httpmsg_request_init(&out);
    CHECK(provider_openai.build(&pc, &out, err, sizeof err) == 0);
    CHECK(strcmp(out.url, "http://h:1/v1/chat/completions") == 0);
    CHECK(httpmsg_headers_get(&out.headers, "authorization") == NULL);
    j = cJSON_ParseWithLength(out.body.data, out.body.len);
    m = cJSON_GetObjectItemCaseSensitive(j, "messages");
    CHECK(cJSON_GetArraySize(m) == 3);
    CHECK(strcmp(jstr(cJSON_GetArrayItem(m, 0), "role"), "user") == 0);
    CHECK(cJSON_GetObjectItemCaseSensitive(j, "top_p")->valuedouble == 0.9);
    cJSON_Delete(j);
    httpmsg_request_clear(&out);

    /* invalid requests */
    struct {
        llm_req_t r;
        const char *needle;
    } bad[4];
    for (int i = 0; i < 4; i++) bad[i].r = req_base();
    bad[0].r.max_tokens = 0;
    bad[0].needle = "max_tokens";
    bad[1].r.n_msgs = 0;
    bad[1].needle = "no messages";
    bad[2].r.temperature = NAN;
    bad[2].needle = "temperature";
    static const llm_msg_t badrole[] = {{"system", "x"}};
    bad[3].r.msgs = badrole;
    bad[3].r.n_msgs = 1;
    bad[3].needle = "messages[0].role";
    for (int i = 0; i < 4; i++) {
        pc.req = &bad[i].r;
        httpmsg_request_init(&out);
        err[0] = '\0';
        CHECK(provider_openai.build(&pc, &out, err, sizeof err) < 0);
        CHECK(strstr(err, bad[i].needle) != NULL);
        httpmsg_request_clear(&out);
    }
}

static void test_openai_parse(void)
{
    provider_reply_t r;
    char err[256];
    const char *ok = "{\"id\":\"x\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
                     "\"Rating: good\\n\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":12,"
                     "\"completion_tokens\":5,\"total_tokens\":17}}";
    CHECK(provider_openai.parse_ok(ok, strlen(ok), false, &r, err, sizeof err) == 0);
    CHECK(r.text && strcmp(r.text, "Rating: good\n") == 0 && r.text_len == 13);
    CHECK(r.usage.input_tokens == 12 && r.usage.output_tokens == 5);
    provider_reply_clear(&r);

    const char *nousage = "{\"choices\":[{\"message\":{\"content\":\"\"}}]}";
    CHECK(provider_openai.parse_ok(nousage, strlen(nousage), false, &r, err, sizeof err) == 0);
    CHECK(r.text && r.text_len == 0 && r.usage.input_tokens == 0);
    provider_reply_clear(&r);

    const char *parts = "{\"choices\":[{\"message\":{\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
                        "{\"type\":\"text\",\"text\":\"b\"}]}}]}";
    CHECK(provider_openai.parse_ok(parts, strlen(parts), false, &r, err, sizeof err) == 0);
    CHECK(r.text && strcmp(r.text, "ab") == 0);
    provider_reply_clear(&r);

    const char *refusal = "{\"choices\":[{\"message\":{\"content\":null,\"refusal\":\"I can't.\"}}]}";
    CHECK(provider_openai.parse_ok(refusal, strlen(refusal), false, &r, err, sizeof err) == 0);
    CHECK(r.text && strcmp(r.text, "I can't.") == 0);
    provider_reply_clear(&r);

    const char *bad[] = {"",
                         "not json",
                         "[]",
                         "{}",
                         "{\"choices\":[]}",
                         "{\"choices\":[{\"message\":{}}]}",
                         "{\"choices\":[{\"message\":{\"content\":null}}]}",
                         "{\"choices\":[{}]}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        CHECK(provider_openai.parse_ok(bad[i], strlen(bad[i]), false, &r, err, sizeof err) < 0);
        CHECK(strstr(err, "openai") != NULL);
        CHECK(r.text == NULL);
    }
    const char *err200 = "{\"error\":{\"message\":\"model overloaded\"}}";
    CHECK(provider_openai.parse_ok(err200, strlen(err200), false, &r, err, sizeof err) < 0);
    CHECK(strstr(err, "model overloaded") != NULL);
}

static void test_openai_classify(void)
{
    char msg[600];
    httpmsg_headers_t h;
    httpmsg_headers_init(&h);
    const char *quota = "{\"error\":{\"message\":\"You exceeded your current quota, please check your plan.\","
                        "\"type\":\"insufficient_quota\",\"param\":null,\"code\":\"insufficient_quota\"}}";
    CHECK(provider_openai.classify(429, quota, strlen(quota), &h, msg, sizeof msg) == LLM_ERR_QUOTA);
    CHECK(strstr(msg, "HTTP 429 from openai") && strstr(msg, "exceeded your current quota"));
    CHECK(strstr(msg, "(insufficient_quota)") != NULL);
    const char *quota2 = "{\"error\":{\"message\":\"quota\",\"type\":\"insufficient_quota\",\"code\":null}}";
    CHECK(provider_openai.classify(429, quota2, strlen(quota2), &h, msg, sizeof msg) == LLM_ERR_QUOTA);
    const char *rl = "{\"error\":{\"message\":\"Rate limit reached\",\"type\":\"requests\",\"code\":"
                     "\"rate_limit_exceeded\"}}";
    CHECK(provider_openai.classify(429, rl, strlen(rl), &h, msg, sizeof msg) == LLM_ERR_TRANSIENT);
    CHECK(strstr(msg, "(requests/rate_limit_exceeded)") != NULL);
    CHECK(provider_openai.classify(500, "oops", 4, &h, msg, sizeof msg) == LLM_ERR_TRANSIENT);
    CHECK(strstr(msg, "HTTP 500 from openai: oops") != NULL);
    CHECK(provider_openai.classify(503, NULL, 0, &h, msg, sizeof msg) == LLM_ERR_TRANSIENT);
    CHECK(strstr(msg, "(empty body)") != NULL);
    CHECK(provider_openai.classify(408, NULL, 0, &h, msg, sizeof msg) == LLM_ERR_TRANSIENT);
    CHECK(provider_openai.classify(402, NULL, 0, &h, msg, sizeof msg) == LLM_ERR_QUOTA);
    const char *bad = "{\"error\":{\"message\":\"Invalid model\",\"type\":\"invalid_request_error\",\"code\":"
                      "\"model_not_found\"}}";
    CHECK(provider_openai.classify(404, bad, strlen(bad), &h, msg, sizeof msg) == LLM_ERR_PERMANENT);
    CHECK(strstr(msg, "Invalid model") != NULL);
    CHECK(provider_openai.classify(401, bad, strlen(bad), &h, msg, sizeof msg) == LLM_ERR_PERMANENT);
    /* vLLM-style top-level error */
    const char *vllm = "{\"object\":\"error\",\"message\":\"max_tokens too large\",\"type\":\"BadRequestError\","
                       "\"code\":400}";
    CHECK(provider_openai.classify(400, vllm, strlen(vllm), &h, msg, sizeof msg) == LLM_ERR_PERMANENT);
    CHECK(strstr(msg, "max_tokens too large") && strstr(msg, "(BadRequestError/400)"));
    /* the server's retry hint wins over the status rule */
    httpmsg_headers_add(&h, "x-should-retry", "true");
    CHECK(provider_openai.classify(409, NULL, 0, &h, msg, sizeof msg) == LLM_ERR_TRANSIENT);
    httpmsg_headers_clear(&h);
    httpmsg_headers_add(&h, "x-should-retry", "false");
    CHECK(provider_openai.classify(500, NULL, 0, &h, msg, sizeof msg) == LLM_ERR_PERMANENT);
    CHECK(provider_openai.classify(429, quota, strlen(quota), &h, msg, sizeof msg) == LLM_ERR_QUOTA);
    httpmsg_headers_clear(&h);
    /* long raw bodies are cut, control characters flattened */
    char big[1000];
    memset(big, 'x', sizeof big);
    big[5] = '\n';
    CHECK(provider_openai.classify(502, big, sizeof big, &h, msg, sizeof msg) == LLM_ERR_TRANSIENT);
    CHECK(strchr(msg, '\n') == NULL && strstr(msg, "...") != NULL && strlen(msg) < 300);
}

static void test_anthropic(void)
{
    modelstr_t ms = {.kind = PROVIDER_ANTHROPIC, .input = "anthropic/claude-x", .model = "claude-x"};
    modelstr_endpoint_t ep = {.base_url = "http://h:2", .api_key = "ak-secret-999", .key = "k"};
    llm_req_t req = req_base();
    req.top_p = 0.5;
    provider_call_t pc = {.model = &ms, .endpoint = &ep, .req = &req};
    httpmsg_request_t out;
    httpmsg_request_init(&out);
    char err[256];
    CHECK(provider_anthropic.build(&pc, &out, err, sizeof err) == 0);
    CHECK(strcmp(out.url, "http://h:2/v1/messages") == 0);
    CHECK(strcmp(httpmsg_headers_get(&out.headers, "x-api-key"), "ak-secret-999") == 0);
    CHECK(strcmp(httpmsg_headers_get(&out.headers, "anthropic-version"), "2023-06-01") == 0);
    CHECK(strcmp(httpmsg_headers_get(&out.headers, "content-type"), "application/json") == 0);
    CHECK(httpmsg_headers_get(&out.headers, "authorization") == NULL);
    cJSON *j = cJSON_ParseWithLength(out.body.data, out.body.len);
    CHECK(j != NULL);
    CHECK(strcmp(jstr(j, "model"), "claude-x") == 0);
    CHECK(strcmp(jstr(j, "system"), "Be terse.") == 0);
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "messages");
    CHECK(cJSON_GetArraySize(m) == 3);
    CHECK(strcmp(jstr(cJSON_GetArrayItem(m, 0), "role"), "user") == 0);
    CHECK(cJSON_GetObjectItemCaseSensitive(j, "max_tokens")->valuedouble == 64);
    CHECK(cJSON_GetObjectItemCaseSensitive(j, "temperature")->valuedouble == 0.7);
    CHECK(cJSON_GetObjectItemCaseSensitive(j, "top_p")->valuedouble == 0.5);
    cJSON_Delete(j);
    httpmsg_request_clear(&out);
    req.system = NULL;
    req.top_p = -1;
    httpmsg_request_init(&out);
    CHECK(provider_anthropic.build(&pc, &out, err, sizeof err) == 0);
    j = cJSON_ParseWithLength(out.body.data, out.body.len);
    CHECK(cJSON_GetObjectItemCaseSensitive(j, "system") == NULL);
    CHECK(cJSON_GetObjectItemCaseSensitive(j, "top_p") == NULL);
    cJSON_Delete(j);
    httpmsg_request_clear(&out);

    provider_reply_t r;
    const char *ok = "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":["
                     "{\"type\":\"text\",\"text\":\"Part one. \"},{\"type\":\"tool_use\",\"id\":\"t\"},"
                     "{\"type\":\"text\",\"text\":\"Part two.\"}],\"usage\":{\"input_tokens\":20,"
                     "\"cache_read_input_tokens\":3,\"output_tokens\":9}}";
    CHECK(provider_anthropic.parse_ok(ok, strlen(ok), false, &r, err, sizeof err) == 0);
    CHECK(r.text && strcmp(r.text, "Part one. Part two.") == 0);
    CHECK(r.usage.input_tokens == 23 && r.usage.output_tokens == 9);
    provider_reply_clear(&r);
    const char *bad = "{\"type\":\"message\",\"content\":\"text\"}";
    CHECK(provider_anthropic.parse_ok(bad, strlen(bad), false, &r, err, sizeof err) < 0);
    CHECK(strstr(err, "anthropic") != NULL);
    CHECK(provider_anthropic.parse_ok("{", 1, false, &r, err, sizeof err) < 0);

    char msg[600];
    const char *credit = "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":"
                         "\"Your credit balance is too low to access the Anthropic API.\"}}";
    CHECK(provider_anthropic.classify(400, credit, strlen(credit), NULL, msg, sizeof msg) == LLM_ERR_QUOTA);
    CHECK(strstr(msg, "HTTP 400 from anthropic (invalid_request_error): Your credit balance") != NULL);
    const char *billing = "{\"type\":\"error\",\"error\":{\"type\":\"billing_error\",\"message\":\"billing\"}}";
    CHECK(provider_anthropic.classify(403, billing, strlen(billing), NULL, msg, sizeof msg) == LLM_ERR_QUOTA);
    const char *over = "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}";
    CHECK(provider_anthropic.classify(529, over, strlen(over), NULL, msg, sizeof msg) == LLM_ERR_TRANSIENT);
    CHECK(strstr(msg, "Overloaded") != NULL);
    const char *rl = "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"slow down\"}}";
    CHECK(provider_anthropic.classify(429, rl, strlen(rl), NULL, msg, sizeof msg) == LLM_ERR_TRANSIENT);
    const char *inv = "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":"
                      "\"max_tokens: field required\"}}";
    CHECK(provider_anthropic.classify(400, inv, strlen(inv), NULL, msg, sizeof msg) == LLM_ERR_PERMANENT);
    CHECK(strstr(msg, "max_tokens: field required") != NULL);
}

static void test_helpers(void)
{
    CHECK(provider_for(PROVIDER_OPENAI) == &provider_openai);
    CHECK(provider_for(PROVIDER_OPENAI_API) == &provider_openai);
    CHECK(provider_for(PROVIDER_ANTHROPIC) == &provider_anthropic);
    CHECK(provider_for(PROVIDER_BEDROCK) == &provider_bedrock);
    CHECK(provider_for(PROVIDER_SAGEMAKER) == &provider_sagemaker);
    CHECK(provider_for((provider_kind_t)99) == NULL);

    char msg[64] = "bad key sk-abcdef in sk-abcdef!";
    provider_redact(msg, sizeof msg, "sk-abcdef");
    CHECK(strcmp(msg, "bad key [redacted] in [redacted]!") == 0);
    char short_secret[32] = "abc abc";
    provider_redact(short_secret, sizeof short_secret, "abc"); /* too short to be a key */
    CHECK(strcmp(short_secret, "abc abc") == 0);
    provider_redact(msg, sizeof msg, NULL);

    buf_t b;
    buf_init(&b, 0);
    CHECK(provider_json_double(&b, 0) == 0 && strcmp(b.data, "0") == 0);
    buf_reset(&b);
    CHECK(provider_json_double(&b, 0.1) == 0 && strcmp(b.data, "0.1") == 0);
    buf_reset(&b);
    CHECK(provider_json_double(&b, 1.0 / 3) == 0 && strtod(b.data, NULL) == 1.0 / 3);
    buf_reset(&b);
    CHECK(provider_json_double(&b, INFINITY) < 0);
    buf_free(&b);

    char *u = provider_url("http://x:1/v1///", "/chat/completions");
    CHECK(strcmp(u, "http://x:1/v1/chat/completions") == 0);
    free(u);

    provider_error_info_t info;
    provider_error_info("{\"error\":\"plain\"}", 17, &info);
    CHECK(strcmp(info.message, "plain") == 0);
    provider_error_info("{\"detail\":\"Not Found\"}", 22, &info);
    CHECK(strcmp(info.message, "Not Found") == 0);
    provider_error_info("garbage", 7, &info);
    CHECK(info.message[0] == '\0' && info.type[0] == '\0');

    httpmsg_request_t r;
    httpmsg_request_init(&r);
    provider_post_json(&r, "http://x:1/v1/", "/chat/completions");
    CHECK(strcmp(r.method, "POST") == 0 && strcmp(r.url, "http://x:1/v1/chat/completions") == 0);
    CHECK(r.headers.n == 2 && strcmp(r.headers.v[0].name, "Content-Type") == 0 &&
          strcmp(r.headers.v[0].value, "application/json") == 0 && strcmp(r.headers.v[1].name, "Accept") == 0 &&
          strcmp(r.headers.v[1].value, "application/json") == 0);
    CHECK(r.body.len == 0);
    httpmsg_request_clear(&r);

    char err[128] = "";
    cJSON *j = provider_parse_object("x", "{\"a\":1}", 7, err, sizeof err);
    CHECK(cJSON_IsObject(j) && err[0] == '\0');
    cJSON_Delete(j);
    CHECK(provider_parse_object("x", "[1]", 3, err, sizeof err) == NULL);
    CHECK(strcmp(err, "reply from x is not a JSON object (3 bytes)") == 0);
    CHECK(provider_parse_object("y", "nope", 4, err, sizeof err) == NULL);
    CHECK(strcmp(err, "reply from y is not a JSON object (4 bytes)") == 0);

    /* token counts: numbers from 0 to 1e15, anything else 0 */
    j = cJSON_Parse("{\"n\":12,\"f\":7.9,\"neg\":-1,\"big\":1e16,\"s\":\"5\",\"max\":1e15}");
    CHECK(provider_json_count(j, "n") == 12 && provider_json_count(j, "f") == 7);
    CHECK(provider_json_count(j, "neg") == 0 && provider_json_count(j, "big") == 0);
    CHECK(provider_json_count(j, "s") == 0 && provider_json_count(j, "absent") == 0);
    CHECK(provider_json_count(j, "max") == 1000000000000000ull);
    cJSON_Delete(j);

    /* content: a string, or the text parts of an array; anything else -1 */
    buf_init(&b, 0);
    j = cJSON_Parse("[\"one\", [{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"image\"},{\"text\":\"b\"}], 3, null]");
    CHECK(provider_json_content(cJSON_GetArrayItem(j, 0), &b) == 0 && strcmp(b.data, "one") == 0);
    buf_reset(&b);
    CHECK(provider_json_content(cJSON_GetArrayItem(j, 1), &b) == 0 && strcmp(b.data, "ab") == 0);
    CHECK(provider_json_content(cJSON_GetArrayItem(j, 2), &b) < 0);
    CHECK(provider_json_content(cJSON_GetArrayItem(j, 3), &b) < 0);
    CHECK(provider_json_content(NULL, &b) < 0);
    cJSON_Delete(j);
    buf_free(&b);
}

int main(void)
{
    test_openai_build();
    test_openai_parse();
    test_openai_classify();
    test_anthropic();
    test_helpers();
    return check_summary("test_provider");
}
