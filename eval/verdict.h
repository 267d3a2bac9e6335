/* verdict: reads a judge's reply and finds the rating it gave on a metric's scale (DESIGN.md
 * "Verdicts"). Does not call models or decide about re-asking (the worker does: a reply with no
 * rating is re-asked once with metric_render_reask, then recorded as unscored).
 *
 * Rules, first that applies wins:
 *  1. A JSON object with a "rating" key anywhere in the reply (fenced in ```json or not); of
 *     several, the last. Its "reasoning" (or "explanation") is the explanation. The rating may be
 *     a rating's name, a name followed by other text, or, on a numeric scale, a number equal to a
 *     rating's value. When the last such object names no rating of the scale, the verdict is "no
 *     rating": the judge answered, off the scale.
 *  2. The last line labelled `Rating:`, `Answer:` or `Score:` (optionally "Final"/"Overall",
 *     markdown such as `**Rating:**` tolerated) whose value starts with a rating.
 *  3. The last whole-word mention of a rating anywhere.
 * Matching ignores ASCII case and treats every run of whitespace as one space. Where ratings
 * overlap ("correct" / "partially correct") the longest one at a position wins; "incorrect" never
 * reads as "correct".
 *
 * Bounded: every pass over the reply is linear, and the JSON rule hands at most a fixed budget of
 * bytes to the JSON parser, so multi-megabyte replies cost a few linear scans. */
#ifndef LLMAJ_VERDICT_H
#define LLMAJ_VERDICT_H
#include <stddef.h>

#include "metric.h"

/* Explanations longer than this many bytes are cut (at a character boundary) and end in "...". */
#define VERDICT_MAX_EXPLANATION (64 * 1024)

typedef struct {
    int rating;         /* index into m->ratings, -1 = none */
    char *explanation;  /* the judge's reasoning, else the reply; caller owns, may be NULL */
} verdict_t;

/* Reads `reply` (len bytes, need not be NUL-terminated). Returns 0 when a rating of m's scale was
 * found (out->rating >= 0), -1 when none was (out->rating = -1; out->explanation may still hold
 * the reasoning). *out is always initialised; free it with verdict_clear. */
int verdict_parse(const metric_t *m, const char *reply, size_t len, verdict_t *out)
    __attribute__((warn_unused_result));

/* Frees the explanation and resets *v to no rating. */
void verdict_clear(verdict_t *v);

#endif
