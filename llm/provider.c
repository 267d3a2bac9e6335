/* provider: the provider table and the helpers every provider shares; see provider.h. */
#include "provider.h"
#include "jsonprint.h"
#include "mem.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The table: a model string's kind (modelstr.h) -> the provider that speaks its API. */
static const provider_t *const by_kind[] = {
    [PROVIDER_OPENAI] = &provider_openai,       [PROVIDER_OPENAI_API] = &provider_openai,
    [PROVIDER_ANTHROPIC] = &provider_anthropic, [PROVIDER_BEDROCK] = &provider_bedrock,
    [PROVIDER_SAGEMAKER] = &provider_sagemaker,
};

const provider_t *provider_for(provider_kind_t kind)
{
    if ((size_t)kind >= sizeof by_kind / sizeof by_kind[0]) return NULL;
    return by_kind[kind];
}

void provider_reply_clear(provider_reply_t *r)
{
    free(r->text);
    free(r->structured);
    memset(r, 0, sizeof(*r));
}

uint64_t provider_charge_admitted(uint64_t est_tokens, uint64_t max_tokens, const usage_t *used)
{
    uint64_t admitted = used->input_tokens + max_tokens;
    return admitted > est_tokens ? admitted : est_tokens;
}

int provider_need_key(const modelstr_t *model, const modelstr_endpoint_t *endpoint, const char *key_var,
                      const char *url_var, char *err, size_t errlen)
{
    const char *url = getenv(url_var);
    if ((endpoint->api_key && *endpoint->api_key) || (url && *url)) return 0;
    snprintf(err, errlen, "`%s` needs %s in the environment (or %s for a server without keys)",
             model->input ? model->input : "", key_var, url_var);
    return -1;
}

int provider_json_raw(buf_t *b, const char *key, const char *json)
{
    if (buf_puts(b, ",\"") < 0 || buf_puts(b, key) < 0 || buf_puts(b, "\":") < 0) return -1;
    return buf_puts(b, json);
}

int provider_json_double(buf_t *b, double v) { return jsonprint_double(b, v); }

/* Copies src[0..n) into dst (size cap), stopping before a cut UTF-8 sequence and replacing
 * control characters by spaces, so a message is one printable line. */
static void copy_clean(char *dst, size_t cap, const char *src, size_t n)
{
    if (!cap) return;
    size_t m = n < cap - 1 ? n : cap - 1;
    if (m < n) /* truncated: do not end inside a multi-byte character */
        while (m > 0 && ((unsigned char)src[m] & 0xC0) == 0x80) m--;
    for (size_t i = 0; i < m; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[i] = (c < 0x20 || c == 0x7F) ? ' ' : (char)c;
    }
    dst[m] = '\0';
}

static void take_str(const cJSON *item, char *dst, size_t cap)
{
    if (cJSON_IsString(item) && item->valuestring) copy_clean(dst, cap, item->valuestring, strlen(item->valuestring));
    else if (cJSON_IsNumber(item)) snprintf(dst, cap, "%.0f", item->valuedouble);
}

void provider_error_info(const char *body, size_t len, provider_error_info_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!body || !len) return;
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return;
    }
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
    if (cJSON_IsObject(e)) {
        take_str(cJSON_GetObjectItemCaseSensitive(e, "message"), out->message, sizeof out->message);
        take_str(cJSON_GetObjectItemCaseSensitive(e, "type"), out->type, sizeof out->type);
        take_str(cJSON_GetObjectItemCaseSensitive(e, "code"), out->code, sizeof out->code);
    } else if (cJSON_IsString(e)) {
        take_str(e, out->message, sizeof out->message);
    }
    /* servers that put the fields at the top level (vLLM: {"object":"error","message",...};
     * FastAPI: {"detail": ...}) */
    if (!out->message[0])
        take_str(cJSON_GetObjectItemCaseSensitive(root, "message"), out->message, sizeof out->message);
    if (!out->message[0]) take_str(cJSON_GetObjectItemCaseSensitive(root, "detail"), out->message, sizeof out->message);
    if (!out->type[0]) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "type");
        /* Anthropic's top-level "type" is the constant "error": not informative */
        if (cJSON_IsString(t) && strcmp(t->valuestring, "error") != 0) take_str(t, out->type, sizeof out->type);
    }
    if (!out->code[0]) take_str(cJSON_GetObjectItemCaseSensitive(root, "code"), out->code, sizeof out->code);
    cJSON_Delete(root);
}

llm_status_t provider_default_class(long status, const httpmsg_headers_t *h)
{
    const char *hint = h ? httpmsg_headers_get(h, "x-should-retry") : NULL;
    if (hint && strcasecmp(hint, "true") == 0) return LLM_ERR_TRANSIENT;
    if (hint && strcasecmp(hint, "false") == 0) return LLM_ERR_PERMANENT;
    if (status == 408 || status == 429 || status >= 500) return LLM_ERR_TRANSIENT;
    return LLM_ERR_PERMANENT;
}

void provider_error_text(const char *name, long status, const provider_error_info_t *info, const char *body, size_t len,
                         char *msg, size_t msglen)
{
    char what[512];
    if (info && info->message[0]) {
        snprintf(what, sizeof what, "%s", info->message);
    } else if (body && len) {
        copy_clean(what, 201, body, len);
        if (len > 200) snprintf(what + strlen(what), sizeof what - strlen(what), "...");
    } else {
        snprintf(what, sizeof what, "(empty body)");
    }
    char cls[140] = "";
    if (info && info->type[0] && info->code[0] && strcmp(info->type, info->code) != 0)
        snprintf(cls, sizeof cls, " (%s/%s)", info->type, info->code);
    else if (info && (info->type[0] || info->code[0]))
        snprintf(cls, sizeof cls, " (%s)", info->type[0] ? info->type : info->code);
    snprintf(msg, msglen, "HTTP %ld from %s%s: %s", status, name, cls, what);
}

void provider_redact(char *msg, size_t msglen, const char *secret)
{
    static const char mark[] = "[redacted]";
    if (!msg || !secret || !msglen) return;
    size_t sl = strlen(secret);
    if (sl < 4 || !strstr(msg, secret)) return;
    buf_t out;
    buf_init(&out, 0);
    const char *p = msg, *hit;
    while ((hit = strstr(p, secret))) {
        if (buf_append(&out, p, (size_t)(hit - p)) < 0 || buf_puts(&out, mark) < 0) break;
        p = hit + sl;
    }
    if (buf_puts(&out, p) < 0) abort(); /* an unbounded buffer cannot refuse: out of memory aborts first */
    copy_clean(msg, msglen, out.data, out.len);
    buf_free(&out);
}

int provider_check_req(const llm_req_t *req, char *err, size_t errlen)
{
    if (req->max_tokens < 1) {
        snprintf(err, errlen, "max_tokens must be at least 1, got %d", req->max_tokens);
        return -1;
    }
    if (!req->n_msgs || !req->msgs) {
        snprintf(err, errlen, "the request has no messages");
        return -1;
    }
    for (size_t i = 0; i < req->n_msgs; i++) {
        const llm_msg_t *m = &req->msgs[i];
        if (!m->role || (strcmp(m->role, "user") != 0 && strcmp(m->role, "assistant") != 0)) {
            snprintf(err, errlen, "messages[%zu].role must be \"user\" or \"assistant\"", i);
            return -1;
        }
        if (!m->content) {
            snprintf(err, errlen, "messages[%zu].content is missing", i);
            return -1;
        }
    }
    if (!isfinite(req->temperature) || req->temperature < 0) {
        snprintf(err, errlen, "temperature must be a finite number >= 0");
        return -1;
    }
    if (!isfinite(req->top_p)) {
        snprintf(err, errlen, "top_p must be a finite number (< 0 to leave it out)");
        return -1;
    }
    return 0;
}

static int json_message(buf_t *b, const char *role, const char *content)
{
    if (buf_puts(b, "{\"role\":") < 0 || buf_json_str(b, role, strlen(role)) < 0 || buf_puts(b, ",\"content\":") < 0 ||
        buf_json_str(b, content, strlen(content)) < 0 || buf_putc(b, '}') < 0)
        return -1;
    return 0;
}

int provider_json_messages(buf_t *b, const char *system, const llm_req_t *req)
{
    if (buf_putc(b, '[') < 0) return -1;
    if (system && json_message(b, "system", system) < 0) return -1;
    for (size_t i = 0; i < req->n_msgs; i++) {
        if ((system || i) && buf_putc(b, ',') < 0) return -1;
        if (json_message(b, req->msgs[i].role, req->msgs[i].content) < 0) return -1;
    }
    return buf_putc(b, ']');
}

char *provider_url(const char *base, const char *path)
{
    size_t n = strlen(base);
    while (n && base[n - 1] == '/') n--;
    while (*path == '/') path++;
    return xasprintf("%.*s/%s", (int)n, base, path);
}

void provider_post_json(httpmsg_request_t *out, const char *base_url, const char *path)
{
    out->method = "POST";
    out->url = provider_url(base_url, path);
    httpmsg_headers_add(&out->headers, "Content-Type", "application/json");
    httpmsg_headers_add(&out->headers, "Accept", "application/json");
}

cJSON *provider_parse_object(const char *name, const char *body, size_t len, char *err, size_t errlen)
{
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (cJSON_IsObject(root)) return root;
    snprintf(err, errlen, "reply from %s is not a JSON object (%zu bytes)", name, len);
    cJSON_Delete(root);
    return NULL;
}

uint64_t provider_json_count(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble > 1e15) return 0;
    return (uint64_t)v->valuedouble;
}

int provider_json_content(const cJSON *content, buf_t *text)
{
    if (cJSON_IsString(content)) return buf_puts(text, content->valuestring);
    if (!cJSON_IsArray(content)) return -1;
    const cJSON *part;
    cJSON_ArrayForEach(part, content)
    {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(part, "text");
        if (cJSON_IsString(t) && buf_puts(text, t->valuestring) < 0) return -1;
    }
    return 0;
}
