/* awsxml: element lookup and entity decoding for AWS XML replies; see awsxml.h. */
#include "awsxml.h"
#include "mem.h"

#include <stdlib.h>
#include <string.h>

static bool name_end(char c) { return c == '>' || c == '/' || c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* Finds "<name" followed by an end of the name, from `from`; returns the offset of '<' or -1. */
static long find_open(const char *xml, size_t len, const char *name, size_t from)
{
    size_t nl = strlen(name);
    for (size_t i = from; i + nl + 1 < len; i++) {
        if (xml[i] != '<') continue;
        if (memcmp(xml + i + 1, name, nl) == 0 && i + 1 + nl < len && name_end(xml[i + 1 + nl])) return (long)i;
    }
    return -1;
}

bool awsxml_next(const char *xml, size_t len, const char *name, size_t *pos, awsxml_span_t *out)
{
    if (!xml || !name || !*name) return false;
    long o = find_open(xml, len, name, *pos);
    if (o < 0) return false;
    const char *gt = memchr(xml + o, '>', len - (size_t)o);
    if (!gt) return false;
    size_t start = (size_t)(gt - xml) + 1;
    if (gt > xml + o && gt[-1] == '/') { /* <name/> */
        out->p = xml + start;
        out->len = 0;
        *pos = start;
        return true;
    }
    size_t nl = strlen(name);
    for (size_t i = start; i + 2 + nl < len; i++) {
        if (xml[i] == '<' && xml[i + 1] == '/' && memcmp(xml + i + 2, name, nl) == 0 && xml[i + 2 + nl] == '>') {
            out->p = xml + start;
            out->len = i - start;
            *pos = i + 3 + nl;
            return true;
        }
    }
    return false;
}

bool awsxml_find(const char *xml, size_t len, const char *name, awsxml_span_t *out)
{
    size_t pos = 0;
    return awsxml_next(xml, len, name, &pos, out);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Appends code point cp as UTF-8; false for values XML does not allow. */
static bool put_utf8(buf_t *b, unsigned long cp)
{
    if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return false;
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return buf_append(b, u, n) == 0;
}

char *awsxml_decode(const char *s, size_t n)
{
    buf_t b;
    buf_init(&b, 0);
    static const struct {
        const char *ent;
        char c;
    } ents[] = {{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}};
    for (size_t i = 0; i < n;) {
        char c = s[i];
        if (c == '<') goto bad; /* a child element: not text */
        if (c != '&') {
            if (buf_putc(&b, c) < 0) goto bad;
            i++;
            continue;
        }
        size_t rest = n - i - 1;
        const char *e = s + i + 1;
        bool done = false;
        for (size_t k = 0; k < sizeof ents / sizeof *ents && !done; k++) {
            size_t el = strlen(ents[k].ent);
            if (rest >= el && memcmp(e, ents[k].ent, el) == 0) {
                if (buf_putc(&b, ents[k].c) < 0) goto bad;
                i += 1 + el;
                done = true;
            }
        }
        if (done) continue;
        if (rest >= 3 && e[0] == '#') {
            bool hex = e[1] == 'x' || e[1] == 'X';
            size_t j = hex ? 2 : 1;
            unsigned long cp = 0;
            size_t digits = 0;
            while (j < rest && e[j] != ';' && digits < 8) {
                int v = hex ? hexval(e[j]) : (e[j] >= '0' && e[j] <= '9' ? e[j] - '0' : -1);
                if (v < 0) goto bad;
                cp = cp * (hex ? 16 : 10) + (unsigned long)v;
                j++;
                digits++;
            }
            if (j >= rest || e[j] != ';' || digits == 0 || !put_utf8(&b, cp)) goto bad;
            i += 1 + j + 1;
            continue;
        }
        goto bad;
    }
    return buf_take(&b);
bad:
    buf_free(&b);
    return NULL;
}

char *awsxml_text(const char *xml, size_t len, const char *name)
{
    awsxml_span_t sp;
    if (!awsxml_find(xml, len, name, &sp)) return NULL;
    return awsxml_decode(sp.p, sp.len);
}

int awsxml_escape(buf_t *b, const char *s)
{
    for (; *s; s++) {
        const char *r = NULL;
        switch (*s) {
        case '&': r = "&amp;"; break;
        case '<': r = "&lt;"; break;
        case '>': r = "&gt;"; break;
        case '"': r = "&quot;"; break;
        case '\'': r = "&apos;"; break;
        default: break;
        }
        if (r ? buf_puts(b, r) < 0 : buf_putc(b, *s) < 0) return -1;
    }
    return 0;
}

bool awsxml_has_doctype(const char *xml, size_t len)
{
    static const char d[] = "<!DOCTYPE";
    for (size_t i = 0; i + sizeof d - 1 <= len; i++)
        if (xml[i] == '<' && memcmp(xml + i, d, sizeof d - 1) == 0) return true;
    return false;
}
