/* httpmsg: the two HTTP message parts that cross module lines in the model-call path: the
 * request a provider builds (method, URL, headers, body) and the response headers a transfer
 * collected. It owns no transport: llm.c hands the request to libcurl, providers and the
 * rate-limit header parser read the headers. Header names compare case-insensitively. */
#ifndef LLMAJ_HTTPMSG_H
#define LLMAJ_HTTPMSG_H
#include <stddef.h>

#include "buf.h"

typedef struct {
    char *name;
    char *value; /* leading/trailing whitespace removed */
} httpmsg_header_t;

typedef struct {
    httpmsg_header_t *v; /* in arrival order; the same name may repeat */
    size_t n, cap;
    size_t bytes; /* name + value bytes held, for the cap in httpmsg_headers_feed_line */
} httpmsg_headers_t;

void httpmsg_headers_init(httpmsg_headers_t *h);
void httpmsg_headers_clear(httpmsg_headers_t *h); /* frees entries; h can be reused */
/* Appends a copy of name/value (value trimmed). */
void httpmsg_headers_add(httpmsg_headers_t *h, const char *name, const char *value);
/* Replaces every header called `name` by one `name: value` at the end (a signer re-signing a
 * request on retry). */
void httpmsg_headers_set(httpmsg_headers_t *h, const char *name, const char *value);
/* Removes every header called `name`; returns how many there were. */
size_t httpmsg_headers_remove(httpmsg_headers_t *h, const char *name);
/* Value of the first header called `name`, or NULL. Valid until h changes. */
const char *httpmsg_headers_get(const httpmsg_headers_t *h, const char *name);

/* Feeds one raw header line the way libcurl's CURLOPT_HEADERFUNCTION delivers it
 * ("Name: value\r\n"). A status line ("HTTP/...") starts a new block, dropping headers of an
 * earlier block (100 Continue, redirects); a folded continuation line extends the previous value;
 * the blank line and lines without a colon are ignored. -1 when the held bytes would pass
 * max_bytes (0 = no cap): the line is not stored. */
int httpmsg_headers_feed_line(httpmsg_headers_t *h, const char *line, size_t len, size_t max_bytes)
    __attribute__((warn_unused_result));

typedef struct {
    const char *method;        /* static string, e.g. "POST" */
    char *url;                 /* owned */
    httpmsg_headers_t headers; /* sent as given, in order */
    buf_t body;
} httpmsg_request_t;

void httpmsg_request_init(httpmsg_request_t *r);
void httpmsg_request_clear(httpmsg_request_t *r); /* frees members; r can be re-inited */

#endif
