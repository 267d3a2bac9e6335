/* test_httpmsg: header lists fed the way libcurl delivers them, and request containers. */
#include "httpmsg.h"

#include <stdio.h>
#include <string.h>

#include "check.h"

static int feed(httpmsg_headers_t *h, const char *line, size_t max)
{
    return httpmsg_headers_feed_line(h, line, strlen(line), max);
}

static const char *get(const httpmsg_headers_t *h, const char *name)
{
    const char *v = httpmsg_headers_get(h, name);
    return v ? v : "(null)";
}

int main(void)
{
    httpmsg_headers_t h;
    httpmsg_headers_init(&h);
    CHECK(feed(&h, "HTTP/1.1 100 Continue\r\n", 0) == 0);
    CHECK(feed(&h, "X-Early: 1\r\n", 0) == 0);
    CHECK(feed(&h, "\r\n", 0) == 0);
    CHECK(feed(&h, "HTTP/1.1 429 Too Many Requests\r\n", 0) == 0); /* new block: X-Early dropped */
    CHECK(feed(&h, "Retry-After:   5  \r\n", 0) == 0);
    CHECK(feed(&h, "x-ratelimit-limit-requests:10\r\n", 0) == 0);
    CHECK(feed(&h, "X-Folded: first\r\n", 0) == 0);
    CHECK(feed(&h, "   second part\r\n", 0) == 0);
    CHECK(feed(&h, "no colon here\r\n", 0) == 0);
    CHECK(feed(&h, ": empty name\r\n", 0) == 0);
    CHECK(feed(&h, "Empty:\r\n", 0) == 0);
    CHECK(feed(&h, "retry-after: 6\r\n", 0) == 0);
    CHECK(feed(&h, "\r\n", 0) == 0);
    CHECK(h.n == 5);
    CHECK(httpmsg_headers_get(&h, "x-early") == NULL);
    CHECK(strcmp(get(&h, "retry-after"), "5") == 0); /* first of repeated names */
    CHECK(strcmp(get(&h, "X-RATELIMIT-LIMIT-REQUESTS"), "10") == 0);
    CHECK(strcmp(get(&h, "x-folded"), "first second part") == 0);
    CHECK(strcmp(get(&h, "empty"), "") == 0);
    CHECK(httpmsg_headers_get(&h, "missing") == NULL);

    /* the byte cap refuses a line and keeps what was there */
    httpmsg_headers_clear(&h);
    CHECK(feed(&h, "A: 12345\r\n", 20) == 0);
    CHECK(feed(&h, "B: 1234567890123456\r\n", 20) == -1);
    CHECK(h.n == 1);
    CHECK(feed(&h, " continued beyond the cap\r\n", 20) == -1);
    CHECK(strcmp(get(&h, "a"), "12345") == 0);
    /* a continuation before any header is ignored */
    httpmsg_headers_clear(&h);
    CHECK(feed(&h, " orphan\r\n", 0) == 0);
    CHECK(h.n == 0);
    httpmsg_headers_add(&h, "Name", "  padded value \t");
    CHECK(strcmp(get(&h, "name"), "padded value") == 0);
    httpmsg_headers_add(&h, "X-Amz-Date", "1");
    httpmsg_headers_add(&h, "Other", "o");
    httpmsg_headers_add(&h, "x-amz-date", "2");
    httpmsg_headers_set(&h, "X-Amz-Date", "3");
    CHECK(h.n == 3);
    CHECK(strcmp(get(&h, "x-amz-date"), "3") == 0);
    CHECK(strcmp(h.v[2].name, "X-Amz-Date") == 0);
    CHECK(httpmsg_headers_remove(&h, "x-AMZ-date") == 1);
    CHECK(httpmsg_headers_remove(&h, "missing") == 0);
    CHECK(h.n == 2 && strcmp(get(&h, "other"), "o") == 0);
    CHECK(h.bytes == strlen("Name") + strlen("padded value") + strlen("Other") + strlen("o"));
    httpmsg_headers_clear(&h);
    httpmsg_headers_clear(&h); /* twice is fine */

    httpmsg_request_t r;
    httpmsg_request_init(&r);
    CHECK(strcmp(r.method, "POST") == 0);
    CHECK(r.url == NULL && r.body.len == 0 && r.headers.n == 0);
    httpmsg_headers_add(&r.headers, "Content-Type", "application/json");
    CHECK(buf_puts(&r.body, "{}") == 0);
    httpmsg_request_clear(&r);
    CHECK(r.url == NULL && r.headers.n == 0 && r.body.data == NULL);

    return check_summary("test_httpmsg");
}
