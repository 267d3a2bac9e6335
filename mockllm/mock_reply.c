/* mock_reply: deterministic reply text for the mock LLM; see mock_reply.h. */
#include "mock_reply.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "mem.h"

/* ---- requests ---------------------------------------------------------------------------- */

void mock_req_init(mock_req_t *r) { memset(r, 0, sizeof(*r)); }

void mock_req_free(mock_req_t *r)
{
    for (size_t i = 0; i < r->n_owned; i++) free(r->owned[i]);
    free(r->owned);
    free(r->msgs);
    memset(r, 0, sizeof(*r));
}

void mock_req_add(mock_req_t *r, mock_role_t role, const char *text, size_t len)
{
    if (r->n_msgs == r->cap_msgs) {
        r->cap_msgs = r->cap_msgs ? r->cap_msgs * 2 : 8;
        r->msgs = xrealloc(r->msgs, r->cap_msgs * sizeof(*r->msgs));
    }
    r->msgs[r->n_msgs].role = role;
    r->msgs[r->n_msgs].text = text ? text : "";
    r->msgs[r->n_msgs].len = text ? len : 0;
    r->n_msgs++;
}

void mock_req_add_owned(mock_req_t *r, mock_role_t role, char *text, size_t len)
{
    if (r->n_owned == r->cap_owned) {
        r->cap_owned = r->cap_owned ? r->cap_owned * 2 : 4;
        r->owned = xrealloc(r->owned, r->cap_owned * sizeof(*r->owned));
    }
    r->owned[r->n_owned++] = text;
    mock_req_add(r, role, text, len);
}

/* ---- hashing and tokens ------------------------------------------------------------------ */

uint64_t mock_hash(const void *p, size_t n, uint64_t h)
{
    const unsigned char *s = p;
    if (h == 0) h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

uint64_t mock_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* The next draw of a splitmix64 stream. */
static uint64_t draw(uint64_t *state)
{
    *state += 0x9e3779b97f4a7c15ULL;
    return mock_mix64(*state);
}

uint32_t mock_tokens(size_t bytes)
{
    uint64_t t = ((uint64_t)bytes + 3) / 4;
    return t > UINT32_MAX ? UINT32_MAX : (uint32_t)t;
}

uint32_t mock_req_input_tokens(const mock_req_t *r)
{
    size_t bytes = 0;
    for (size_t i = 0; i < r->n_msgs; i++) bytes += r->msgs[i].len;
    return mock_tokens(bytes);
}

const char *mock_style_name(mock_style_t s)
{
    switch (s) {
    case MOCK_STYLE_JSON: return "json";
    case MOCK_STYLE_FENCED: return "fenced";
    case MOCK_STYLE_RATING_LINE: return "rating_line";
    case MOCK_STYLE_BOLD: return "bold";
    case MOCK_STYLE_CASE: return "case";
    case MOCK_STYLE_UNSCORABLE: return "unscorable";
    case MOCK_STYLE_PROSE: return "prose";
    }
    return "?";
}

/* ---- judge scale --------------------------------------------------------------------------- */

/* Last occurrence of needle in hay[0..n). */
static const char *find_last(const char *hay, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    const char *last = NULL, *p = hay;
    size_t left = n;
    while (left >= m) {
        const char *q = memmem(p, left, needle, m);
        if (!q) break;
        last = q;
        left -= (size_t)(q + 1 - p);
        p = q + 1;
    }
    return last;
}

static bool is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isspace((unsigned char)s[i])) return false;
    return true;
}

size_t mock_scale_parse(const char *text, size_t len, mock_scale_t *out)
{
    out->n = 0;
    const char *mark = find_last(text, len, MOCK_JUDGE_MARKER);
    if (!mark) return 0;
    const char *end = text + len;
    const char *p = memchr(mark, '\n', (size_t)(end - mark));
    if (!p) return 0;
    p++;
    while (p < end && out->n < MOCK_SCALE_MAX) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        if (is_blank(p, (size_t)(le - p))) break;
        const char *s = p;
        while (s < le && (*s == ' ' || *s == '\t')) s++;
        if (le - s >= 2 && s[0] == '-' && (s[1] == ' ' || s[1] == '\t')) {
            s += 2;
            const char *e = le;
            while (s < e && isspace((unsigned char)*s)) s++;
            while (e > s && isspace((unsigned char)e[-1])) e--;
            if (e > s && (size_t)(e - s) <= MOCK_DEFINITION_MAX) {
                out->def[out->n] = s;
                out->len[out->n] = (size_t)(e - s);
                out->n++;
            }
        }
        if (!nl) break;
        p = nl + 1;
    }
    return out->n;
}

/* ---- text banks ---------------------------------------------------------------------------- */

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *const openers[] = {
    "In short,",
    "Broadly speaking,",
    "Put simply,",
    "In most cases,",
    "To answer directly,",
    "As a general rule,",
    "From a practical point of view,",
    "At a high level,",
};
static const char *const topic_forms[] = {
    /* prefixes of the salient word */
    "the question of ",
    "",
    "anything involving ",
    "a good answer about ",
};
static const char *const verbs[] = {
    "depends mostly on",   "comes down to",      "is shaped by",     "relies on",
    "can be explained by", "is closely tied to", "usually turns on",
};
static const char *const objects[] = {
    "the context in which it is used",  "a balance between cost and accuracy",
    "how the inputs are prepared",      "clear definitions and consistent measurement",
    "the constraints of the situation", "a few well-understood principles",
    "the goals of the people involved", "careful attention to detail",
};
static const char *const middles[] = {
    "It helps to start with the basics and build up from there.",
    "The details matter, but the overall pattern is fairly consistent.",
    "A common mistake is to focus on a single factor and ignore the rest.",
    "Most sources agree on the main points, even if they differ on specifics.",
    "Looking at a concrete example usually makes this much clearer.",
    "The trade-offs are real, so the best choice depends on your goals.",
    "There are exceptions, but they tend to be rare in practice.",
    "Measuring the outcome carefully is the best way to confirm it.",
};
static const char *const closings[] = {
    "I hope this gives you a useful starting point.",
    "Let me know if you would like more detail on any part of this.",
    "In the end, a little testing will tell you what works best.",
    "That is the short version; the full picture has more nuance.",
    "With that in mind, the answer should be straightforward to apply.",
    "Either way, it is worth revisiting as circumstances change.",
};
static const char *const reasons[] = {
    "The response addresses the request directly and stays on topic.",
    "It covers the main points, though some details could be more precise.",
    "The answer is consistent with the information given in the prompt.",
    "The wording is clear and the structure is easy to follow.",
    "Some parts are thin on supporting detail, which limits the assessment.",
    "Overall the scope of the response matches what the prompt asked for.",
    "A reader would come away with a reasonable understanding of the answer.",
    "There is little in the response that goes beyond what was asked.",
};
static const char *const unscorables[] = {
    "I am unable to settle on a single assessment of this response without more information.",
    "The response has both strengths and weaknesses; I would need more context to decide.",
    "Insufficient information to reach a verdict.",
    "Unable to judge.",
};

/* Words of requests that say what to do rather than what about. */
static const char *const instruction_words[] = {
    "about",     "answer",    "briefly", "could", "describe", "explain", "following", "please", "question", "should",
    "summarise", "summarize", "their",   "there", "these",    "those",   "which",     "would",  "write",
};

static bool is_instruction_word(const char *w, size_t n)
{
    for (size_t i = 0; i < COUNT(instruction_words); i++)
        if (strlen(instruction_words[i]) == n && strncasecmp(instruction_words[i], w, n) == 0) return true;
    return false;
}

/* The longest run of ASCII letters (5..24 long, not an instruction word) in s, lower-cased into
 * out; "this topic" if none. */
static void salient_word(const char *s, size_t n, char *out, size_t outlen)
{
    size_t best = 0, best_at = 0, i = 0;
    while (i < n) {
        while (i < n && !isalpha((unsigned char)s[i])) i++;
        size_t st = i;
        while (i < n && isalpha((unsigned char)s[i])) i++;
        size_t wl = i - st;
        if (wl >= 5 && wl <= 24 && wl > best && !is_instruction_word(s + st, wl)) {
            best = wl;
            best_at = st;
        }
    }
    if (best == 0 || best + 1 > outlen) {
        snprintf(out, outlen, "this topic");
        return;
    }
    for (size_t k = 0; k < best; k++) out[k] = (char)tolower((unsigned char)s[best_at + k]);
    out[best] = '\0';
}

/* Case-insensitive: does hay contain needle? */
static bool contains_ci(const char *hay, size_t n, const char *needle, size_t m)
{
    if (m == 0) return true;
    for (size_t i = 0; i + m <= n; i++)
        if (strncasecmp(hay + i, needle, m) == 0) return true;
    return false;
}

static bool mentions_any(const char *text, const mock_scale_t *sc)
{
    size_t n = strlen(text);
    for (size_t i = 0; i < sc->n; i++)
        if (contains_ci(text, n, sc->def[i], sc->len[i])) return true;
    return false;
}

/* ---- generation ---------------------------------------------------------------------------- */

/* buf_t appends below cannot fail: the buffers have no cap. */
#define PUT(call)                \
    do {                         \
        if ((call) < 0) abort(); \
    } while (0)

static void inference_text(const mock_req_t *r, buf_t *out)
{
    uint64_t h = mock_hash(r->model, strlen(r->model), 0);
    for (size_t i = 0; i < r->n_msgs; i++) {
        unsigned char role = (unsigned char)r->msgs[i].role;
        h = mock_hash(&role, 1, h);
        h = mock_hash(r->msgs[i].text, r->msgs[i].len, h);
    }
    uint64_t st = h;
    const mock_msg_t *last_user = NULL;
    for (size_t i = r->n_msgs; i-- > 0;)
        if (r->msgs[i].role == MOCK_ROLE_USER) {
            last_user = &r->msgs[i];
            break;
        }
    char word[32];
    if (last_user) salient_word(last_user->text, last_user->len, word, sizeof word);
    else snprintf(word, sizeof word, "this topic");

    /* One draw per statement: argument evaluation order is unspecified in C. */
    const char *form = topic_forms[draw(&st) % COUNT(topic_forms)];
    const char *opener = openers[draw(&st) % COUNT(openers)];
    const char *verb = verbs[draw(&st) % COUNT(verbs)];
    const char *object = objects[draw(&st) % COUNT(objects)];
    PUT(buf_printf(out, "%s %s%s %s %s.", opener, form, word, verb, object));
    unsigned sentences = 1 + (unsigned)(draw(&st) % 3);
    if (sentences >= 2) PUT(buf_printf(out, " %s", middles[draw(&st) % COUNT(middles)]));
    if (sentences >= 3) PUT(buf_printf(out, " %s", closings[draw(&st) % COUNT(closings)]));
}

static void reasoning(uint64_t *st, buf_t *out)
{
    size_t a = draw(st) % COUNT(reasons);
    size_t b = (a + 1 + draw(st) % (COUNT(reasons) - 1)) % COUNT(reasons);
    PUT(buf_printf(out, "%s %s", reasons[a], reasons[b]));
}

static void json_verdict(buf_t *out, const char *why, const char *rating, size_t rlen)
{
    PUT(buf_puts(out, "{\"reasoning\": "));
    PUT(buf_json_str(out, why, strlen(why)));
    PUT(buf_puts(out, ", \"rating\": "));
    PUT(buf_json_str(out, rating, rlen));
    PUT(buf_putc(out, '}'));
}

static void judge_text(const mock_scale_t *sc, uint64_t h, mock_style_t style, int rating, buf_t *out)
{
    uint64_t st = h ^ 0x5bd1e9955bd1e995ULL;
    if (style == MOCK_STYLE_UNSCORABLE) {
        for (size_t i = 0; i < COUNT(unscorables); i++) {
            size_t k = (size_t)((draw(&st) + i) % COUNT(unscorables));
            if (!mentions_any(unscorables[k], sc)) {
                PUT(buf_puts(out, unscorables[k]));
                return;
            }
        }
        if (!mentions_any("?", sc)) PUT(buf_puts(out, "?"));
        return; /* every candidate names a rating: an empty reply names none */
    }
    buf_t why;
    buf_init(&why, 0);
    reasoning(&st, &why);
    const char *def = sc->def[rating];
    size_t dl = sc->len[rating];
    switch (style) {
    case MOCK_STYLE_JSON: json_verdict(out, why.data, def, dl); break;
    case MOCK_STYLE_FENCED:
        PUT(buf_printf(out, "%s\n\n```json\n{\n  \"reasoning\": ", why.data));
        PUT(buf_json_str(out, why.data, why.len));
        PUT(buf_puts(out, ",\n  \"rating\": "));
        PUT(buf_json_str(out, def, dl));
        PUT(buf_puts(out, "\n}\n```"));
        break;
    case MOCK_STYLE_RATING_LINE: PUT(buf_printf(out, "%s\n\nRating: %.*s", why.data, (int)dl, def)); break;
    case MOCK_STYLE_BOLD: PUT(buf_printf(out, "**Rating:** %.*s\n\n%s", (int)dl, def, why.data)); break;
    case MOCK_STYLE_CASE: {
        bool has_lower = false;
        for (size_t i = 0; i < dl; i++) has_lower |= islower((unsigned char)def[i]) != 0;
        char *alt = xstrndup(def, dl);
        for (size_t i = 0; i < dl; i++)
            alt[i] = (char)(has_lower ? toupper((unsigned char)alt[i]) : tolower((unsigned char)alt[i]));
        buf_t padded;
        buf_init(&padded, 0);
        PUT(buf_printf(&padded, "  %s \t", alt));
        PUT(buf_puts(out, "{ \"reasoning\" :  "));
        PUT(buf_json_str(out, why.data, why.len));
        PUT(buf_puts(out, ",\n   \"rating\" :   "));
        PUT(buf_json_str(out, padded.data, padded.len));
        PUT(buf_puts(out, "  }"));
        buf_free(&padded);
        free(alt);
        break;
    }
    default: abort(); /* programmer error: no other style carries a rating */
    }
    buf_free(&why);
}

/* Cuts out to at most max bytes, backing off to a UTF-8 character boundary. */
static bool truncate_utf8(buf_t *out, size_t max)
{
    if (out->len <= max) return false;
    size_t n = max;
    while (n > 0 && ((unsigned char)out->data[n] & 0xC0) == 0x80) n--;
    out->len = n;
    out->data[n] = '\0';
    return true;
}

static bool is_hex_lower(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

uint64_t mock_judged_hash(const char *text, size_t len)
{
    uint64_t h = 0;
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && is_hex_lower(text[j])) j++;
        if (j > i) {
            if (j - i != 32) h = mock_hash(text + i, j - i, h); /* a 32-digit run is a tag id */
            i = j;
            continue;
        }
        h = mock_hash(text + i, 1, h);
        i++;
    }
    return mock_mix64(h);
}

/* The judged response: what lies between the first "<response..." tag of the judged text and its
 * closing tag ("</response-ID>" for "<response-ID>", else the first "</response" after it),
 * trimmed; n = 0 when there is none. */
static const char *judged_response(const mock_msg_t *judged, size_t *n)
{
    *n = 0;
    const char *t = judged->text, *end = judged->text + judged->len;
    const char *open = memmem(t, judged->len, "<response", 9);
    const char *gt = open ? memchr(open, '>', (size_t)(end - open)) : NULL;
    if (!gt || gt - open > 100) return NULL;
    const char *body = gt + 1;
    char closing[112];
    int cl = snprintf(closing, sizeof closing, "</%.*s>", (int)(gt - open - 1), open + 1);
    const char *close = cl > 0 ? memmem(body, (size_t)(end - body), closing, (size_t)cl) : NULL;
    if (!close) close = memmem(body, (size_t)(end - body), "</response", 10);
    if (!close) return NULL;
    while (body < close && isspace((unsigned char)*body)) body++;
    while (close > body && isspace((unsigned char)close[-1])) close--;
    *n = (size_t)(close - body);
    return body;
}

/* A structured verdict: the object, with the quote in its reasoning when it has no place beside. */
static void structured_verdict(const mock_scale_t *sc, uint64_t h, int rating, const char *quote, size_t qlen,
                               bool aside_ok, buf_t *out)
{
    uint64_t st = h ^ 0x5bd1e9955bd1e995ULL;
    buf_t why;
    buf_init(&why, 0);
    if (rating < 0) PUT(buf_puts(&why, unscorables[draw(&st) % COUNT(unscorables)]));
    else reasoning(&st, &why);
    if (quote && !aside_ok) PUT(buf_printf(&why, " The response said: %.*s", (int)qlen, quote));
    if (rating >= 0) json_verdict(out, why.data, sc->def[rating], sc->len[rating]);
    else json_verdict(out, why.data, "undecided", strlen("undecided"));
    buf_free(&why);
}

void mock_reply_generate_with(const mock_req_t *r, const mock_reply_opts_t *o, mock_gen_t *out)
{
    memset(out, 0, sizeof(*out));
    out->rating = -1;
    out->input_tokens = mock_req_input_tokens(r);

    /* Judge call? The scale comes from the last user message with the marker, the judged text
     * is the first one. */
    mock_scale_t sc = {.n = 0};
    const mock_msg_t *judged = NULL;
    bool has_assistant = false;
    for (size_t i = r->n_msgs; i-- > 0;) {
        const mock_msg_t *m = &r->msgs[i];
        if (m->role == MOCK_ROLE_ASSISTANT) has_assistant = true;
        if (m->role != MOCK_ROLE_USER) continue;
        if (sc.n == 0) mock_scale_parse(m->text, m->len, &sc);
        if (sc.n > 0 && memmem(m->text, m->len, MOCK_JUDGE_MARKER, strlen(MOCK_JUDGE_MARKER))) judged = m;
    }

    buf_t text;
    buf_init(&text, 0);
    if (sc.n == 0 || !judged) {
        out->kind = MOCK_KIND_INFERENCE;
        out->style = MOCK_STYLE_PROSE;
        inference_text(r, &text);
    } else {
        uint64_t h = mock_judged_hash(judged->text, judged->len);
        out->kind = has_assistant ? MOCK_KIND_REASK : MOCK_KIND_JUDGE;
        out->rating = (int)(h % sc.n);
        uint64_t u = mock_mix64(h ^ 0x243f6a8885a308d3ULL);
        double unit = (double)(u >> 11) * (1.0 / 9007199254740992.0);
        if (out->kind == MOCK_KIND_REASK) out->style = MOCK_STYLE_JSON;
        else if (unit < o->unscorable_rate) out->style = MOCK_STYLE_UNSCORABLE;
        else out->style = (mock_style_t)((h >> 32) % MOCK_STYLE_VERDICTS);
        if (out->style == MOCK_STYLE_UNSCORABLE) out->rating = -1;
        size_t qlen = 0;
        const char *quote = NULL;
        if (o->quote == MOCK_QUOTE_ALWAYS || (o->quote == MOCK_QUOTE_FIRST && out->kind == MOCK_KIND_JUDGE))
            quote = judged_response(judged, &qlen);
        out->quoted = quote != NULL;
        if (r->structured) {
            out->structured = true;
            structured_verdict(&sc, h, out->rating, quote, qlen, r->aside_ok, &text);
            if (quote && r->aside_ok) {
                buf_t aside;
                buf_init(&aside, 0);
                PUT(buf_printf(&aside, "The response said: %.*s", (int)qlen, quote));
                out->aside_len = aside.len;
                out->aside = buf_take(&aside);
            }
        } else {
            judge_text(&sc, h, out->style, out->rating, &text);
            if (quote) PUT(buf_printf(&text, "\n\nThe response under evaluation said:\n%.*s", (int)qlen, quote));
        }
    }
    /* A structured object is never cut: it would not parse (real APIs answer a length stop there
     * with an error of their own). */
    if (!out->structured && r->max_tokens > 0 && (uint64_t)r->max_tokens < SIZE_MAX / 4)
        out->truncated = truncate_utf8(&text, (size_t)r->max_tokens * 4);
    out->len = text.len;
    out->text = buf_take(&text);
    out->output_tokens = mock_tokens(out->len + out->aside_len);
}

void mock_reply_generate(const mock_req_t *r, double unscorable_rate, mock_gen_t *out)
{
    mock_reply_opts_t o = {.unscorable_rate = unscorable_rate, .quote = MOCK_QUOTE_NEVER};
    mock_reply_generate_with(r, &o, out);
}

void mock_gen_free(mock_gen_t *g)
{
    free(g->text);
    free(g->aside);
    g->text = g->aside = NULL;
    g->len = g->aside_len = 0;
}
