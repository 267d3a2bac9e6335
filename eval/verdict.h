/* verdict: reads a judge's reply and finds the rating it gave on a metric's scale (DESIGN.md
 * "Verdicts"). Does not call models or decide about re-asking (the worker does: a reply with no
 * rating, or with conflicting ones, is re-asked once, then recorded as unscored).
 *
 * A reply may come with a structured object (the judge answered in structured output: OpenAI's
 * response_format, Anthropic's and Bedrock's forced tool). Then its "rating" member is the
 * verdict, exactly one of the scale (any other value: no rating), and its "reasoning" the
 * explanation. Otherwise the reply's text is read; rules, first that applies wins:
 *  1. A JSON object with a "rating" key anywhere in the reply (fenced in ```json or not); of
 *     several (nested ones aside), the last. Its "reasoning" (or "explanation") is the
 *     explanation. The rating may be a rating's name, a name followed by other text, or, on a
 *     numeric scale, a number equal to a rating's value. When the last such object names no
 *     rating of the scale, the verdict is "no rating": the judge answered, off the scale.
 *  2. The last line labelled `Rating:`, `Answer:` or `Score:` (optionally "Final"/"Overall",
 *     markdown such as `**Rating:**` tolerated) whose value starts with a rating.
 *  3. The last whole-word mention of a rating anywhere.
 * Conflicts (prompt injection: a judge that answers "incorrect", then quotes the response's
 * {"rating": "correct"}): the reply's explicit verdicts are its JSON objects with a "rating" and
 * its labelled lines (rules 1 and 2, never mere mentions). When they name two different ratings
 * of the scale, or name one that differs from the structured object's, the reply is
 * conflicting: no verdict is taken from it, never silently the last one. More than
 * VERDICT_MAX_OBJECTS rating keys also count as conflicting (they cannot all be read).
 * Quoted material: given the prompt's tag id (metric_render), text the judge quotes between those
 * tags (<response-ID> ... </response-ID>) is not read at all.
 * Matching ignores ASCII case and treats every run of whitespace as one space. Where ratings
 * overlap ("correct" / "partially correct") the longest one at a position wins; "incorrect" never
 * reads as "correct".
 *
 * Bounded: every pass over the reply is linear, and the JSON rule hands at most a fixed budget of
 * bytes to the JSON parser, so multi-megabyte replies cost a few linear scans. */
#ifndef LLMAJ_VERDICT_H
#define LLMAJ_VERDICT_H
#include <stdbool.h>
#include <stddef.h>

#include "metric.h"

/* Explanations longer than this many bytes are cut (at a character boundary) and end in "...". */
#define VERDICT_MAX_EXPLANATION (64 * 1024)
/* A reply with more `"rating":` keys than this is taken as conflicting. */
#define VERDICT_MAX_OBJECTS 32

typedef enum {
    VERDICT_RATED = 0, /* one rating of the scale */
    VERDICT_NONE,      /* no rating of the scale */
    VERDICT_CONFLICT,  /* explicit verdicts name different ratings */
} verdict_status_t;

typedef struct {
    verdict_status_t status;
    int rating;        /* index into m->ratings, -1 = none (also when conflicting) */
    int conflict[2];   /* VERDICT_CONFLICT: two of the ratings named, else -1 */
    bool structured;   /* the rating came from the structured object */
    char *explanation; /* the judge's reasoning, else the reply; caller owns, may be NULL */
} verdict_t;

/* One judge reply. Texts need not be NUL-terminated. */
typedef struct {
    const char *text; /* the reply's text (beside the structured object); may be NULL */
    size_t len;
    const char *structured; /* the structured object as JSON text, or NULL */
    size_t structured_len;
    const char *nonce; /* the prompt's tag id, or NULL */
} verdict_reply_t;

/* Reads a reply. Returns 0 when a rating of m's scale was found (out->rating >= 0), -1 when none
 * was or the reply conflicts (out->status says which; out->explanation may still hold the
 * reasoning). *out is always initialised; free it with verdict_clear. */
int verdict_read(const metric_t *m, const verdict_reply_t *in, verdict_t *out) __attribute__((warn_unused_result));

/* verdict_read of a text reply without a structured object or a tag id. */
int verdict_parse(const metric_t *m, const char *reply, size_t len, verdict_t *out) __attribute__((warn_unused_result));

/* Frees the explanation and resets *v to no rating. */
void verdict_clear(verdict_t *v);

#endif
