/* termtext: untrusted text (prompts, model responses, judge explanations) made safe and readable
 * on a terminal. Control characters (C0 but tab and newline, DEL, C1) and bytes that are not
 * UTF-8 become '?', so nothing a model wrote can move the cursor or change the terminal's state.
 * Widths count code points (a wide CJK character counts as one column: close enough for tables).
 *
 * Every function appends to a buf_t; with a capped buffer, output just ends early. */
#ifndef LLMAJ_TERMTEXT_H
#define LLMAJ_TERMTEXT_H
#include <stddef.h>

#include "buf.h"

/* Code points in s once cleaned (invalid bytes count one each). */
size_t termtext_width(const char *s);

/* s on one line: runs of white space (newlines included) become one space, leading and trailing
 * space is dropped, and when more than max code points remain (max > 0) the text is clipped to
 * max - 1 of them followed by "…". NULL appends nothing. */
void termtext_line(buf_t *out, const char *s, size_t max);

/* termtext_line clipped to `width`, then padded with spaces to exactly `width` columns. */
void termtext_cell(buf_t *out, const char *s, size_t width);

/* s wrapped at `width` code points: each line starts with `indent` and ends with '\n'; the
 * text's own line breaks are kept (blank lines collapse to one), and a word longer than a line
 * is cut. */
void termtext_wrap(buf_t *out, const char *s, size_t width, const char *indent);

#endif
