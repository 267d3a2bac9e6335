/* jsonprint: JSON text whose numbers read back as exactly the doubles that were printed. Owns
 * printing a number and printing a whole cJSON tree that way (compact, or in cJSON_Print's
 * layout). Does not own parsing (cJSON) nor escaping rules beyond buf_json_str's.
 *
 * DESIGN. cJSON's printer tries 15 significant digits and keeps them when they read back within
 * a relative epsilon of the value, not when they read back as the value: a mean of
 * 0.48750000000000004 is written 0.4875, which reads back as 0.48749999999999999, a different
 * double. Rounded to three places the first is 0.488 and the second 0.487, so a program showing
 * the number it computed and one showing the number it read from the file disagree. Here a
 * number is printed with the fewest of 15, 16 and 17 significant digits (printf %.Ng) that
 * strtod turns back into the same double; 17 always does. Integral values within 15 digits print
 * without a fraction or exponent, as cJSON prints them. NaN and infinities have no JSON form:
 * jsonprint_double refuses them and the tree printers write null (as cJSON does). Numbers are
 * printed in the C locale's form, which is the only one the programs use (none calls setlocale). */
#ifndef LLMAJ_JSONPRINT_H
#define LLMAJ_JSONPRINT_H
#include <stdbool.h>

#include <cjson/cJSON.h>

#include "buf.h"

/* Appends v as a JSON number that reads back as exactly v. 0, or -1 (nothing appended) when v is
 * NaN or infinite or b's cap is hit. */
int jsonprint_double(buf_t *b, double v) __attribute__((warn_unused_result));

/* Appends the JSON text of j, every number as jsonprint_double writes it. `pretty`: the layout
 * of cJSON_Print (a member a line, tab-indented, arrays on one line), else no blanks at all.
 * 0, or -1 when b's cap is hit (what was appended stays: reset b). */
int jsonprint_buf(buf_t *b, const cJSON *j, bool pretty) __attribute__((warn_unused_result));

/* The JSON text of j as jsonprint_buf makes it. Caller frees; never NULL (out of memory aborts).
 * A drop-in for cJSON_Print (pretty) and cJSON_PrintUnformatted. */
char *jsonprint(const cJSON *j, bool pretty);

#endif
