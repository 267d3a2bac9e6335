/* test_buf: the bounded byte buffer (lib/buf.c): appending of every kind, the NUL that always
 * follows the bytes, the hard cap (a refused append changes nothing), printf growth past the
 * first allocation, JSON string escaping, reset and take. */
#include "buf.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static void test_append(void)
{
    buf_t b;
    buf_init(&b, 0);
    CHECK(b.data == NULL && b.len == 0 && b.max == 0);
    CHECK(buf_append(&b, "", 0) == 0); /* an empty append still gives a NUL-terminated text */
    CHECK(b.data != NULL && b.len == 0 && b.data[0] == '\0');
    CHECK(buf_puts(&b, "abc") == 0 && buf_putc(&b, '-') == 0 && buf_append(&b, "xyz", 2) == 0);
    CHECK(b.len == 6 && strcmp(b.data, "abc-xy") == 0);
    /* Binary bytes, NULs included, are kept as they are. */
    CHECK(buf_append(&b, "\0\1\2", 3) == 0);
    CHECK(b.len == 9 && memcmp(b.data + 6, "\0\1\2", 3) == 0 && b.data[9] == '\0');
    /* Growth keeps everything written before. */
    int all = 1;
    for (int i = 0; i < 10000; i++) all &= buf_putc(&b, (char)('a' + i % 26)) == 0;
    CHECK(all);
    CHECK(b.len == 10009 && b.cap > b.len && b.data[b.len] == '\0');
    CHECK(memcmp(b.data, "abc-xy", 6) == 0 && b.data[9] == 'a' && b.data[10008] == (char)('a' + 9999 % 26));
    /* Without a cap, a length that would wrap the size around is still refused. */
    CHECK(buf_append(&b, "x", (size_t)-1) < 0 && buf_append(&b, "x", (size_t)-1 - b.len) < 0 && b.len == 10009);
    buf_free(&b);
    CHECK(b.data == NULL && b.len == 0 && b.cap == 0);
    buf_free(&b); /* twice is fine */
}

static void test_cap(void)
{
    buf_t b;
    buf_init(&b, 8);
    CHECK(buf_puts(&b, "12345678") == 0 && b.len == 8);
    /* At the cap: every kind of append is refused and the bytes stay as they were. */
    CHECK(buf_putc(&b, 'x') < 0);
    CHECK(buf_append(&b, "x", 1) < 0);
    CHECK(buf_printf(&b, "%d", 1) < 0);
    CHECK(buf_json_str(&b, "", 0) < 0);
    CHECK(b.len == 8 && strcmp(b.data, "12345678") == 0);
    CHECK(buf_append(&b, "", 0) == 0); /* nothing more is still allowed */
    buf_reset(&b);
    CHECK(b.len == 0 && b.data && b.data[0] == '\0');
    /* A refused append in the middle leaves the earlier bytes alone. */
    CHECK(buf_puts(&b, "1234") == 0 && buf_puts(&b, "56789") < 0 && b.len == 4 && strcmp(b.data, "1234") == 0);
    /* A length that would wrap around size_t is refused, not wrapped. */
    CHECK(buf_append(&b, "x", (size_t)-1) < 0 && b.len == 4);
    buf_free(&b);

    /* A printf that would pass the cap appends nothing (not a truncated text). */
    buf_init(&b, 10);
    CHECK(buf_puts(&b, "ab") == 0);
    CHECK(buf_printf(&b, "%s", "0123456789") < 0);
    CHECK(b.len == 2 && strcmp(b.data, "ab") == 0);
    CHECK(buf_printf(&b, "%05d%s", 42, "xyz") == 0 && strcmp(b.data, "ab00042xyz") == 0 && b.len == 10);
    buf_free(&b);
}

static int vp(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int vp(buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

static void test_printf(void)
{
    buf_t b;
    buf_init(&b, 0);
    CHECK(buf_printf(&b, "%s=%d;", "a", 1) == 0 && buf_printf(&b, "%.2f", 0.5) == 0);
    CHECK(strcmp(b.data, "a=1;0.50") == 0 && b.len == 8);
    CHECK(buf_printf(&b, "%s", "") == 0 && b.len == 8);
    /* Longer than the first allocation (64 bytes): written whole, in one go. */
    char big[5000];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK(vp(&b, "<%s>", big) == 0);
    CHECK(b.len == 8 + 2 + 4999 && b.data[8] == '<' && b.data[b.len - 1] == '>' && b.data[b.len] == '\0');
    CHECK(strspn(b.data + 9, "q") == 4999);
    buf_free(&b);
}

static char *json(const char *s, size_t n)
{
    buf_t b;
    buf_init(&b, 0);
    if (buf_json_str(&b, s, n) < 0) failures++;
    return buf_take(&b);
}

static void test_json_str(void)
{
    char *j = json("plain", 5);
    CHECK_STR(j, "\"plain\"");
    free(j);
    j = json("", 0);
    CHECK_STR(j, "\"\"");
    free(j);
    j = json("q\"b\\n\nr\rt\tb\bf\f", 14);
    CHECK_STR(j, "\"q\\\"b\\\\n\\nr\\rt\\tb\\bf\\f\"");
    free(j);
    /* Other control bytes as \u00XX; a NUL inside the span too; UTF-8 and DEL as they are. */
    j = json("\x01\x1f\x7f"
             "caf\xc3\xa9"
             "\0end",
             12);
    CHECK_STR(j, "\"\\u0001\\u001f\x7f"
                 "caf\xc3\xa9"
                 "\\u0000end\"");
    free(j);
    /* Only n bytes are read. */
    j = json("abcdef", 3);
    CHECK_STR(j, "\"abc\"");
    free(j);
}

static void test_take_reset(void)
{
    buf_t b;
    buf_init(&b, 100);
    char *t = buf_take(&b); /* never NULL, even with nothing written */
    CHECK(t && t[0] == '\0');
    free(t);
    CHECK(buf_puts(&b, "hello") == 0);
    t = buf_take(&b);
    CHECK_STR(t, "hello");
    free(t);
    CHECK(b.data == NULL && b.len == 0 && b.cap == 0 && b.max == 100); /* empty, same cap, reusable */
    CHECK(buf_puts(&b, "again") == 0 && strcmp(b.data, "again") == 0);
    size_t cap = b.cap;
    buf_reset(&b);
    CHECK(b.len == 0 && b.cap == cap && b.data[0] == '\0'); /* reset keeps the memory */
    buf_free(&b);
    buf_reset(&b); /* on an empty buffer too */
    CHECK(b.len == 0 && b.data == NULL);
}

int main(void)
{
    test_append();
    test_cap();
    test_printf();
    test_json_str();
    test_take_reset();
    return check_summary("test_buf");
}
