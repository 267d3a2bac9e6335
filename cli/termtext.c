/* termtext: terminal-safe text; see termtext.h.
 *
 * DESIGN: one decoder (next_char) walks the input a character at a time and classifies it as
 * white space, a printable character (kept byte for byte), or something to replace with '?'
 * (controls, and each byte of a malformed, overlong or surrogate UTF-8 sequence). The three
 * writers are loops over it. */
#include "termtext.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

typedef enum { CH_END, CH_SPACE, CH_NEWLINE, CH_PRINT, CH_BAD } ch_kind_t;

typedef struct {
    ch_kind_t kind;
    const char *p; /* the character's bytes (CH_PRINT) */
    size_t len;    /* bytes it takes in the input */
} ch_t;

static ch_t next_char(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    ch_t c = {CH_END, s, 0};
    if (!*u) return c;
    c.len = 1;
    if (*u == '\n') {
        c.kind = CH_NEWLINE;
        return c;
    }
    if (*u == ' ' || *u == '\t' || *u == '\r' || *u == '\v' || *u == '\f') {
        c.kind = CH_SPACE;
        return c;
    }
    if (*u < 0x20 || *u == 0x7f) {
        c.kind = CH_BAD;
        return c;
    }
    if (*u < 0x80) {
        c.kind = CH_PRINT;
        return c;
    }
    size_t n;
    uint32_t cp, min;
    if ((*u & 0xe0) == 0xc0) {
        n = 2;
        cp = *u & 0x1f;
        min = 0x80;
    } else if ((*u & 0xf0) == 0xe0) {
        n = 3;
        cp = *u & 0x0f;
        min = 0x800;
    } else if ((*u & 0xf8) == 0xf0) {
        n = 4;
        cp = *u & 0x07;
        min = 0x10000;
    } else {
        c.kind = CH_BAD;
        return c;
    }
    for (size_t i = 1; i < n; i++) {
        if ((u[i] & 0xc0) != 0x80) {
            c.kind = CH_BAD;
            return c;
        } /* also stops at the NUL */
        cp = (cp << 6) | (u[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        c.kind = CH_BAD;
        return c;
    }
    /* C1 controls (0x9b is a CSI on some terminals) and the line/paragraph separators. */
    if (cp >= 0x80 && cp <= 0x9f) {
        c.kind = CH_BAD;
        c.len = n;
        return c;
    }
    if (cp == 0x2028 || cp == 0x2029) {
        c.kind = CH_NEWLINE;
        c.len = n;
        return c;
    }
    c.kind = CH_PRINT;
    c.len = n;
    return c;
}

/* Appends. When a capped buffer is full the rest is dropped, as termtext.h promises: a line that
 * ends early is the right outcome on a terminal, so there is nothing to pass on. */
static void put(buf_t *b, const char *p, size_t n)
{
    if (buf_append(b, p, n) < 0) return;
}

static void put_char(buf_t *b, const ch_t *c)
{
    if (c->kind == CH_PRINT) put(b, c->p, c->len);
    else put(b, "?", 1);
}

size_t termtext_width(const char *s)
{
    size_t w = 0;
    if (!s) return 0;
    for (ch_t c = next_char(s); c.kind != CH_END; s += c.len, c = next_char(s)) w++;
    return w;
}

/* Code points termtext_line keeps of s (before clipping). */
static size_t line_width(const char *s)
{
    size_t w = 0, pending = 0;
    bool any = false;
    for (ch_t c = next_char(s); c.kind != CH_END; s += c.len, c = next_char(s)) {
        if (c.kind == CH_SPACE || c.kind == CH_NEWLINE) {
            pending = any ? 1 : 0;
            continue;
        }
        w += pending + 1;
        pending = 0;
        any = true;
    }
    return w;
}

void termtext_line(buf_t *out, const char *s, size_t max)
{
    if (!s) return;
    size_t keep = max && line_width(s) > max ? max - 1 : SIZE_MAX;
    bool clipped = keep != SIZE_MAX, any = false, space = false;
    size_t w = 0;
    for (ch_t c = next_char(s); c.kind != CH_END && w < keep; s += c.len, c = next_char(s)) {
        if (c.kind == CH_SPACE || c.kind == CH_NEWLINE) {
            space = any;
            continue;
        }
        if (space) {
            if (w + 1 >= keep) break; /* no room for what follows: no trailing space before "…" */
            put(out, " ", 1);
            space = false;
            w++;
        }
        put_char(out, &c);
        w++;
        any = true;
    }
    if (clipped) put(out, "\xe2\x80\xa6", 3); /* … */
}

void termtext_cell(buf_t *out, const char *s, size_t width)
{
    size_t before = out->len;
    termtext_line(out, s, width);
    size_t w = termtext_width(out->data ? out->data + before : "");
    for (; w < width; w++) put(out, " ", 1);
}

void termtext_wrap(buf_t *out, const char *s, size_t width, const char *indent)
{
    if (!s) return;
    if (width < 8) width = 8;
    size_t ilen = indent ? strlen(indent) : 0;
    size_t col = 0;    /* code points on the current output line */
    bool open = false; /* a line has been started */
    while (true) {
        /* Skip white space, noting line breaks. */
        ch_t c = next_char(s);
        size_t breaks = 0;
        while (c.kind == CH_SPACE || c.kind == CH_NEWLINE) {
            if (c.kind == CH_NEWLINE) breaks++;
            s += c.len;
            c = next_char(s);
        }
        if (c.kind == CH_END) break;
        if (breaks && open) {
            put(out, "\n", 1);
            open = false;
            col = 0;
            if (breaks > 1) put(out, "\n", 1); /* a paragraph break: one blank line */
        }
        /* The next word: its bytes and width. */
        const char *w0 = s;
        size_t ww = 0;
        for (ch_t d = next_char(s); d.kind == CH_PRINT || d.kind == CH_BAD; s += d.len, d = next_char(s)) ww++;
        if (open && col + 1 + ww > width) {
            put(out, "\n", 1);
            open = false;
            col = 0;
        }
        if (!open) {
            put(out, indent ? indent : "", ilen);
            open = true;
        } else {
            put(out, " ", 1);
            col++;
        }
        for (ch_t d = next_char(w0); w0 < s; w0 += d.len, d = next_char(w0)) {
            if (col >= width) {
                put(out, "\n", 1);
                put(out, indent ? indent : "", ilen);
                col = 0;
            }
            put_char(out, &d);
            col++;
        }
    }
    if (open) put(out, "\n", 1);
}
