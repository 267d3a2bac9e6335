/* httpmsg: request and response-header containers; see httpmsg.h. */
#include "httpmsg.h"
#include "mem.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* Trimmed view of s[0..len). */
static void trim(const char **s, size_t *len)
{
    while (*len && is_ws(**s)) {
        (*s)++;
        (*len)--;
    }
    while (*len && is_ws((*s)[*len - 1])) (*len)--;
}

void httpmsg_headers_init(httpmsg_headers_t *h) { memset(h, 0, sizeof(*h)); }

void httpmsg_headers_clear(httpmsg_headers_t *h)
{
    for (size_t i = 0; i < h->n; i++) {
        free(h->v[i].name);
        free(h->v[i].value);
    }
    free(h->v);
    memset(h, 0, sizeof(*h));
}

static void add_n(httpmsg_headers_t *h, const char *name, size_t nlen, const char *value, size_t vlen)
{
    trim(&value, &vlen);
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 16;
        h->v = xrealloc(h->v, h->cap * sizeof(*h->v));
    }
    h->v[h->n].name = xstrndup(name, nlen);
    h->v[h->n].value = xstrndup(value, vlen);
    h->n++;
    h->bytes += nlen + vlen;
}

void httpmsg_headers_add(httpmsg_headers_t *h, const char *name, const char *value)
{
    add_n(h, name, strlen(name), value, strlen(value));
}

size_t httpmsg_headers_remove(httpmsg_headers_t *h, const char *name)
{
    size_t kept = 0, removed = 0;
    for (size_t i = 0; i < h->n; i++) {
        if (strcasecmp(h->v[i].name, name) == 0) {
            h->bytes -= strlen(h->v[i].name) + strlen(h->v[i].value);
            free(h->v[i].name);
            free(h->v[i].value);
            removed++;
        } else {
            h->v[kept++] = h->v[i];
        }
    }
    h->n = kept;
    return removed;
}

void httpmsg_headers_set(httpmsg_headers_t *h, const char *name, const char *value)
{
    httpmsg_headers_remove(h, name);
    httpmsg_headers_add(h, name, value);
}

const char *httpmsg_headers_get(const httpmsg_headers_t *h, const char *name)
{
    for (size_t i = 0; i < h->n; i++)
        if (strcasecmp(h->v[i].name, name) == 0) return h->v[i].value;
    return NULL;
}

static void drop_all(httpmsg_headers_t *h)
{
    for (size_t i = 0; i < h->n; i++) {
        free(h->v[i].name);
        free(h->v[i].value);
    }
    h->n = 0;
    h->bytes = 0;
}

int httpmsg_headers_feed_line(httpmsg_headers_t *h, const char *line, size_t len, size_t max_bytes)
{
    if (len >= 5 && strncasecmp(line, "HTTP/", 5) == 0) {
        drop_all(h);
        return 0;
    }
    if (len && (line[0] == ' ' || line[0] == '\t')) { /* obsolete line folding */
        if (!h->n) return 0;
        const char *s = line;
        size_t n = len;
        trim(&s, &n);
        if (!n) return 0;
        if (max_bytes && h->bytes + n + 1 > max_bytes) return -1;
        httpmsg_header_t *last = &h->v[h->n - 1];
        size_t old = strlen(last->value);
        last->value = xrealloc(last->value, old + 1 + n + 1);
        last->value[old] = ' ';
        memcpy(last->value + old + 1, s, n);
        last->value[old + 1 + n] = '\0';
        h->bytes += n + 1;
        return 0;
    }
    const char *colon = memchr(line, ':', len);
    if (!colon) return 0; /* the blank line ending the block, or junk */
    const char *name = line;
    size_t nlen = (size_t)(colon - line);
    trim(&name, &nlen);
    if (!nlen) return 0;
    const char *value = colon + 1;
    size_t vlen = len - (size_t)(colon + 1 - line);
    if (max_bytes && h->bytes + nlen + vlen > max_bytes) return -1;
    add_n(h, name, nlen, value, vlen);
    return 0;
}

void httpmsg_request_init(httpmsg_request_t *r)
{
    memset(r, 0, sizeof(*r));
    r->method = "POST";
    httpmsg_headers_init(&r->headers);
    buf_init(&r->body, 0);
}

void httpmsg_request_clear(httpmsg_request_t *r)
{
    free(r->url);
    r->url = NULL;
    httpmsg_headers_clear(&r->headers);
    buf_free(&r->body);
}
