/* test_termtext: untrusted text made terminal-safe: widths in code points, one-line clipping that
 * never splits a UTF-8 sequence, white space collapsed, escape sequences and bad bytes defused,
 * table cells padded, explanations wrapped with their paragraphs kept. */
#include <stdio.h>
#include <string.h>

#include "termtext.c" /* cli/, on the unit tests' include path */
#include "check.h"

static buf_t b;

static const char *line(const char *s, size_t max)
{
    buf_reset(&b);
    termtext_line(&b, s, max);
    return b.data ? b.data : "";
}

static const char *cell(const char *s, size_t w)
{
    buf_reset(&b);
    termtext_cell(&b, s, w);
    return b.data ? b.data : "";
}

static const char *wrap(const char *s, size_t w, const char *indent)
{
    buf_reset(&b);
    termtext_wrap(&b, s, w, indent);
    return b.data ? b.data : "";
}

#define EQ(got, want) CHECK(strcmp((got), (want)) == 0)

int main(void)
{
    buf_init(&b, 0);

    /* widths */
    CHECK(termtext_width("abc") == 3);
    CHECK(termtext_width("caf\xc3\xa9") == 4);
    CHECK(termtext_width("\xe4\xb8\xad\xe6\x96\x87") == 2);
    CHECK(termtext_width("\xf0\x9f\x98\x80!") == 2);
    CHECK(termtext_width("") == 0 && termtext_width(NULL) == 0);
    CHECK(termtext_width("a\xff"
                         "b") == 3); /* a bad byte is one '?' */

    /* one line: white space collapsed and trimmed */
    EQ(line("  hello \n\t  world \r\n", 0), "hello world");
    EQ(line("a\xe2\x80\xa8"
            "b",
            0),
       "a b"); /* U+2028 is a line break */
    EQ(line("", 0), "");
    EQ(line(" \n\t ", 0), "");
    buf_reset(&b);
    termtext_line(&b, NULL, 5);
    CHECK(b.len == 0);

    /* clipping */
    EQ(line("hello", 5), "hello");
    EQ(line("hello!", 5), "hell\xe2\x80\xa6");
    EQ(line("hello world", 7), "hello\xe2\x80\xa6"); /* no space before the ellipsis */
    EQ(line("hello   world", 12), "hello world");    /* clipping counts the collapsed text */
    EQ(line("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 3), "\xc3\xa9\xc3\xa9\xe2\x80\xa6");
    EQ(line("\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 2), "\xf0\x9f\x98\x80\xe2\x80\xa6");
    EQ(line("abc", 1), "\xe2\x80\xa6");

    /* nothing reaches the terminal that could drive it */
    EQ(line("\x1b[31mred\x1b[0m", 0), "?[31mred?[0m");
    EQ(line("bell\x07"
            "del\x7f",
            0),
       "bell?del?");
    EQ(line("csi\xc2\x9b"
            "2J",
            0),
       "csi?2J"); /* C1 control (8-bit CSI) */
    EQ(line("bad\xff\xfe", 0), "bad??");
    EQ(line("over\xc0\xaf", 0), "over??");         /* overlong '/' */
    EQ(line("sur\xed\xa0\x80", 0), "sur???");      /* UTF-16 surrogate */
    EQ(line("big\xf4\x90\x80\x80", 0), "big????"); /* above U+10FFFF */
    EQ(line("cut\xe2\x82", 0), "cut??");           /* sequence cut by the end */
    EQ(line("\xe2\x82"
            "ab",
            0),
       "??ab");                                                          /* ... or by an ASCII byte */
    EQ(line("caf\xc3\xa9 \xe2\x82\xac", 0), "caf\xc3\xa9 \xe2\x82\xac"); /* valid text is kept as is */

    /* cells */
    EQ(cell("ab", 5), "ab   ");
    EQ(cell("abcdef", 4), "abc\xe2\x80\xa6");
    EQ(cell("\xc3\xa9t\xc3\xa9", 5), "\xc3\xa9t\xc3\xa9  "); /* padded by columns, not bytes */
    EQ(cell(NULL, 3), "   ");
    EQ(cell("x\ny", 4), "x y ");

    /* wrapping */
    EQ(wrap("aaa bbb ccc ddd", 8, "> "), "> aaa bbb\n> ccc ddd\n");
    EQ(wrap("aaa bbb ccc", 100, ""), "aaa bbb ccc\n");
    EQ(wrap("one\ntwo", 80, "  "), "  one\n  two\n");
    EQ(wrap("one\n\n\n\ntwo", 80, "  "), "  one\n\n  two\n"); /* blank lines collapse to one */
    EQ(wrap("\n\nlead and trail\n\n", 80, ""), "lead and trail\n");
    EQ(wrap("abcdefghijkl", 8, ""), "abcdefgh\nijkl\n"); /* a word longer than a line is cut */
    EQ(wrap("ab abcdefghijkl", 8, "-"), "-ab\n-abcdefgh\n-ijkl\n");
    EQ(wrap("x\x1b]0;title\x07y", 80, ""), "x?]0;title?y\n");
    EQ(wrap("", 10, "  "), "");
    EQ(wrap("   \n  ", 10, "  "), "");
    buf_reset(&b);
    termtext_wrap(&b, NULL, 10, "");
    CHECK(b.len == 0);
    EQ(wrap("a b", 1, NULL), "a b\n"); /* widths under 8 are taken as 8 */

    /* a capped buffer just ends early */
    buf_t small;
    buf_init(&small, 4);
    termtext_line(&small, "abcdefgh", 0);
    termtext_wrap(&small, "more words here", 10, "  ");
    termtext_cell(&small, "x", 10);
    CHECK(small.len <= 4);
    buf_free(&small);

    buf_free(&b);
    return check_summary("test_termtext");
}
