/* mock_api: the reply object and helpers shared by the provider dialects; see mock_api.h. */
#include "mock_api.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

void mock_resp_init(mock_resp_t *r)
{
    memset(r, 0, sizeof(*r));
    r->status = 200;
    r->content_type = "application/json";
    buf_init(&r->body, 0);
}

void mock_resp_free(mock_resp_t *r) { buf_free(&r->body); }

void mock_resp_header(mock_resp_t *r, const char *name, const char *fmt, ...)
{
    if (r->n_headers >= MOCK_RESP_MAX_HEADERS) return;
    mock_hdr_t *h = &r->headers[r->n_headers++];
    snprintf(h->name, sizeof h->name, "%s", name);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->value, sizeof h->value, fmt, ap);
    va_end(ap);
}

buf_t *mock_resp_start(mock_resp_t *r, int status)
{
    r->status = status;
    buf_reset(&r->body);
    return &r->body;
}

void mock_resp_json(mock_resp_t *r, int status, const char *json, size_t len)
{
    r->status = status;
    r->content_type = "application/json";
    buf_reset(&r->body);
    if (buf_append(&r->body, json, len) < 0) abort(); /* unbounded buffer */
}

int mock_api_add_content(mock_req_t *req, mock_role_t role, const cJSON *content, bool typed, bool null_ok,
                         const char *where, char *err, size_t errlen)
{
    if (typed && cJSON_IsString(content)) { /* Bedrock takes blocks only */
        mock_req_add(req, role, content->valuestring, strlen(content->valuestring));
        return 0;
    }
    if (null_ok && (!content || cJSON_IsNull(content))) {
        mock_req_add(req, role, "", 0);
        return 0;
    }
    if (!cJSON_IsArray(content)) {
        snprintf(err, errlen, "%s: expected %s", where,
                 typed ? "a string or an array of content blocks" : "an array of content blocks");
        return -1;
    }
    buf_t joined;
    buf_init(&joined, 0);
    int i = 0;
    const cJSON *block;
    cJSON_ArrayForEach(block, content)
    {
        if (!cJSON_IsObject(block)) {
            snprintf(err, errlen, "%s[%d]: expected an object", where, i);
            buf_free(&joined);
            return -1;
        }
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(block, "text");
        if (typed) {
            const cJSON *type = cJSON_GetObjectItemCaseSensitive(block, "type");
            if (!cJSON_IsString(type)) {
                snprintf(err, errlen, "%s[%d].type: expected a string", where, i);
                buf_free(&joined);
                return -1;
            }
            if (strcmp(type->valuestring, "text") != 0) {
                i++;
                continue;
            } /* images, tools: no text */
        } else if (!text) {
            i++;
            continue;
        }
        if (!cJSON_IsString(text)) {
            snprintf(err, errlen, "%s[%d].text: expected a string", where, i);
            buf_free(&joined);
            return -1;
        }
        if ((joined.len && buf_putc(&joined, '\n') < 0) || buf_puts(&joined, text->valuestring) < 0)
            abort(); /* unbounded buffer */
        i++;
    }
    size_t len = joined.len;
    mock_req_add_owned(req, role, buf_take(&joined), len);
    return 0;
}

int mock_api_max_tokens(const cJSON *v, const char *where, long *out, char *err, size_t errlen)
{
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble != floor(v->valuedouble) ||
        v->valuedouble < 1 || v->valuedouble > 1e9) {
        snprintf(err, errlen, "%s: expected a whole number from 1 to 1000000000", where);
        return -1;
    }
    *out = (long)v->valuedouble;
    return 0;
}

void mock_api_model_label(const char *model, char *out, size_t n)
{
    if (!model) model = "";
    size_t len = strlen(model);
    if (len <= 120) {
        snprintf(out, n, "%s", model);
        return;
    }
    int cut = 120;
    while (cut > 0 && ((unsigned char)model[cut] & 0xC0) == 0x80) cut--; /* whole characters */
    snprintf(out, n, "%.*s\xe2\x80\xa6", cut, model);
}
