/* mock_reply: what the mock LLM says. Owns the provider-neutral view of a chat request
 * (mock_req_t: model, system/user/assistant messages, max_tokens), the token estimate, and the
 * deterministic reply text: plausible prose for inference calls, verdicts for judge calls.
 * Does not parse HTTP or JSON (mock_api_*.c do) and knows nothing of latency or limits.
 *
 * DESIGN. Every reply is a pure function of the request: the same prompt (and model, for
 * inference) always gets the same text, on every run and every server, whatever --seed is.
 *   - A request is a judge call when a user message contains the line
 *     "Choose exactly one rating from this scale:". The scale is the "- <definition>" lines after
 *     the last occurrence of that line in the last user message that has it, up to a blank line.
 *     The judged text is the first user message that has the line; its hash picks the rating,
 *     the reply style, and whether the reply is unscorable.
 *     Tag ids (32 lower-case hex digits, metric_render's per-call <response-ID>) are left out of
 *     that hash, so the same material gets the same rating whatever id the prompt carries.
 *   - A judge call whose conversation holds an assistant turn is a re-ask: it always gets a
 *     clean JSON verdict with the same rating the first turn would have had.
 *   - A request that asks for structured output (mock_req_t.structured) gets, on a judge call,
 *     the verdict object itself: {"reasoning": ..., "rating": ...}; an unscorable one carries a
 *     rating off the scale ("undecided"), as a judge whose tool input is not validated could.
 *   - Quoting (mock_reply_opts_t.quote): a judge reply may quote the judged response (the text
 *     between its <response...> tags) without the tags, after its verdict, as a judge that
 *     repeats injected text would: in the text, beside the object (aside), or inside its
 *     reasoning when the dialect has no place beside it.
 *   - Anything else is an inference call: one to three sentences picked from a hash of the model
 *     name and every message, mentioning a salient word of the last user message.
 * Output is cut to max_tokens (at a UTF-8 boundary) and then reports a length stop. */
#ifndef LLMAJ_MOCK_REPLY_H
#define LLMAJ_MOCK_REPLY_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MOCK_JUDGE_MARKER "Choose exactly one rating from this scale:"
#define MOCK_SCALE_MAX 64       /* definitions beyond this are ignored */
#define MOCK_DEFINITION_MAX 200 /* longer "- ..." lines are not taken as definitions */

typedef enum { MOCK_ROLE_SYSTEM = 0, MOCK_ROLE_USER, MOCK_ROLE_ASSISTANT } mock_role_t;

typedef struct {
    mock_role_t role;
    const char *text; /* not NUL-terminated in general; borrowed or owned (see mock_req_t) */
    size_t len;
} mock_msg_t;

/* A parsed request. Texts either point into the caller's parsed JSON (borrowed: it must outlive
 * the request) or are owned by the request (mock_req_add_owned). */
typedef struct {
    const char *model; /* borrowed; never NULL after a successful parse */
    mock_msg_t *msgs;  /* system messages included, in order */
    size_t n_msgs, cap_msgs;
    long max_tokens;  /* output bound; 0 = not given */
    bool structured;  /* asks for a JSON object (response_format json_schema, a forced tool) */
    const char *tool; /* structured: the schema's or tool's name (borrowed) */
    bool aside_ok;    /* the dialect can carry text beside a structured object */
    int shape;        /* dialect-specific form of the request, for its reply (SageMaker: 0 the
                            messages API, 1 TGI's {"inputs", "parameters"}) */
    char **owned;     /* texts this request frees */
    size_t n_owned, cap_owned;
} mock_req_t;

void mock_req_init(mock_req_t *r);
void mock_req_free(mock_req_t *r); /* frees owned texts and the arrays; r can be re-inited */
void mock_req_add(mock_req_t *r, mock_role_t role, const char *text, size_t len); /* borrows */
void mock_req_add_owned(mock_req_t *r, mock_role_t role, char *text, size_t len); /* takes text */

typedef enum { MOCK_KIND_INFERENCE = 0, MOCK_KIND_JUDGE, MOCK_KIND_REASK } mock_kind_t;

/* How a verdict is written. Inference replies are MOCK_STYLE_PROSE. */
typedef enum {
    MOCK_STYLE_JSON = 0,    /* a bare {"reasoning": "...", "rating": "X"} */
    MOCK_STYLE_FENCED,      /* prose, then a ```json fenced object */
    MOCK_STYLE_RATING_LINE, /* prose, then a last line "Rating: X" */
    MOCK_STYLE_BOLD,        /* "**Rating:** X" first, explanation after it */
    MOCK_STYLE_CASE,        /* JSON whose rating is in another case, padded with spaces */
    MOCK_STYLE_UNSCORABLE,  /* names no rating of the scale at all */
    MOCK_STYLE_PROSE,       /* inference text */
} mock_style_t;
#define MOCK_STYLE_VERDICTS 5 /* the first five styles are the rated ones */

const char *mock_style_name(mock_style_t s);

typedef struct {
    mock_kind_t kind;
    mock_style_t style;
    int rating; /* index into the scale; -1 for inference and unscorable replies */
    char *text; /* caller frees with mock_gen_free; structured: the object's JSON */
    size_t len;
    bool structured; /* text is the structured object the request asked for */
    char *aside;     /* structured: text beside the object (a quote), or NULL */
    size_t aside_len;
    bool quoted; /* the reply quotes the judged response */
    uint32_t input_tokens, output_tokens;
    bool truncated; /* cut to max_tokens: a length stop */
} mock_gen_t;

/* The token estimate used for usage and rate limits: ceil(bytes / 4). */
uint32_t mock_tokens(size_t bytes);
/* Input tokens of a request: the estimate over the bytes of every message, system included. */
uint32_t mock_req_input_tokens(const mock_req_t *r);

/* A judge scale: definitions point into the text they were parsed from. */
typedef struct {
    const char *def[MOCK_SCALE_MAX];
    size_t len[MOCK_SCALE_MAX];
    size_t n;
} mock_scale_t;

/* Parses the scale after the last marker line in text. Returns the number of definitions
 * (0 when the marker is absent or no "- " line follows it). */
size_t mock_scale_parse(const char *text, size_t len, mock_scale_t *out);

typedef enum {
    MOCK_QUOTE_NEVER = 0, /* the default */
    MOCK_QUOTE_FIRST,     /* first-turn judge replies quote the judged response; re-asks do not */
    MOCK_QUOTE_ALWAYS,    /* re-asks too */
} mock_quote_t;

typedef struct {
    double unscorable_rate; /* [0,1]: the fraction of first-turn judge calls (by hash of the
                                judged text) whose reply names no rating */
    mock_quote_t quote;
} mock_reply_opts_t;

/* Writes the reply for r. Never fails. */
void mock_reply_generate_with(const mock_req_t *r, const mock_reply_opts_t *o, mock_gen_t *out);
/* The same with no quoting. */
void mock_reply_generate(const mock_req_t *r, double unscorable_rate, mock_gen_t *out);
void mock_gen_free(mock_gen_t *g);

/* The hash that picks a judge's rating: of the text without its tag ids. */
uint64_t mock_judged_hash(const char *text, size_t len);

/* The 64-bit hash the module uses (FNV-1a with a final mix), for tests and ids. */
uint64_t mock_hash(const void *p, size_t n, uint64_t h);
uint64_t mock_mix64(uint64_t x);

#endif
