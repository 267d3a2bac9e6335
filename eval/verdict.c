/* verdict: finds the rating in a judge's reply; see verdict.h for the rules.
 *
 * DESIGN: every comparison runs on "folded" text: ASCII lower-cased, whitespace runs (including
 * U+00A0) read as one space, leading and trailing whitespace dropped, the same folding as
 * metric_find_rating. The scale's definitions are folded once per call.
 *
 * The JSON rule does not try to parse from every '{' (quadratic on brace-heavy text). It finds the
 * `"rating":` keys in one pass, keeps the last VERDICT_MAX_OBJECTS, and for each, from the last,
 * tries the nearest '{' before it, then the next nearest, a bounded number of times, stopping at
 * the first object that parses, spans the key and has a "rating" member. A key inside an object
 * already found is that object's (nested), and an object found around earlier finds swallows
 * them: only top-level verdict objects count. All parse attempts share a byte budget.
 *
 * Every explicit verdict (top-level JSON objects, labelled lines) is collected, not only the one
 * that decides, so that two that disagree are seen: a set of the ratings named decides conflict.
 *
 * The mention rule takes, over all ratings, the whole-word occurrence that ends last, and of
 * those ending at the same place the longest: "partially correct" and the "correct" inside it end
 * together, so the longer wins, and an earlier rating never hides a later one. */
#include "verdict.h"
#include "mem.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#define JSON_KEYS_TRIED VERDICT_MAX_OBJECTS  /* last `"rating":` keys considered */
#define JSON_STARTS_PER_KEY 8                /* '{' positions tried before each key */
#define JSON_MAX_OBJECT (1024 * 1024)        /* bytes one object may span */
#define JSON_PARSE_BUDGET (16 * 1024 * 1024) /* bytes handed to the parser per reply */
#define VALUE_FOLD_MAX 1024                  /* bytes of a rating value read; definitions are <= 400 */

/* ---- folding --------------------------------------------------------------------------------- */

static size_t space_at(const char *s, size_t len, size_t i)
{
    unsigned char c = (unsigned char)s[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') return 1;
    if (c == 0xC2 && i + 1 < len && (unsigned char)s[i + 1] == 0xA0) return 2;
    return 0;
}

static bool word_byte(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

/* A folded copy of s[0..n); *out_len receives its length. Caller owns. */
static char *fold(const char *s, size_t n, size_t *out_len)
{
    char *t = xmalloc(n + 1);
    size_t o = 0;
    bool pending = false;
    for (size_t i = 0; i < n;) {
        size_t w = space_at(s, n, i);
        if (w) {
            pending = o > 0;
            i += w;
            continue;
        }
        if (pending) t[o++] = ' ';
        pending = false;
        unsigned char c = (unsigned char)s[i++];
        t[o++] = (char)((c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c);
    }
    t[o] = '\0';
    *out_len = o;
    return t;
}

/* ---- the scale, folded ----------------------------------------------------------------------- */

typedef struct {
    const metric_t *m;
    size_t n;
    char **def; /* folded definitions */
    size_t *def_len;
    char **sval; /* folded string values (string scales), or NULL */
    size_t *sval_len;
} scale_t;

static void scale_init(scale_t *sc, const metric_t *m)
{
    sc->m = m;
    sc->n = m->n_ratings;
    size_t k = sc->n ? sc->n : 1;
    sc->def = xcalloc(k, sizeof(char *));
    sc->def_len = xcalloc(k, sizeof(size_t));
    sc->sval = xcalloc(k, sizeof(char *));
    sc->sval_len = xcalloc(k, sizeof(size_t));
    for (size_t i = 0; i < sc->n; i++) {
        const char *d = m->ratings[i].definition ? m->ratings[i].definition : "";
        sc->def[i] = fold(d, strlen(d), &sc->def_len[i]);
        if (m->kind == METRIC_STRING && m->ratings[i].svalue)
            sc->sval[i] = fold(m->ratings[i].svalue, strlen(m->ratings[i].svalue), &sc->sval_len[i]);
    }
}

static void scale_free(scale_t *sc)
{
    for (size_t i = 0; i < sc->n; i++) {
        free(sc->def[i]);
        free(sc->sval[i]);
    }
    free(sc->def);
    free(sc->def_len);
    free(sc->sval);
    free(sc->sval_len);
}

/* True if needle (folded, nl > 0) occurs in t at p as a whole word: a word character at either
 * end of the needle must not continue into a word character of t. */
static bool whole_word_at(const char *t, size_t tl, size_t p, const char *needle, size_t nl)
{
    if (p > 0 && word_byte((unsigned char)needle[0]) && word_byte((unsigned char)t[p - 1])) return false;
    size_t e = p + nl;
    if (e < tl && word_byte((unsigned char)needle[nl - 1]) && word_byte((unsigned char)t[e])) return false;
    return true;
}

/* The longest folded string of `cands` that starts t (folded) as a whole word; -1 if none. */
static int longest_prefix(char *const *cands, const size_t *lens, size_t n, const char *t, size_t tl)
{
    int best = -1;
    for (size_t i = 0; i < n; i++) {
        size_t dl = lens[i];
        if (!cands[i] || dl == 0 || dl > tl || memcmp(t, cands[i], dl) != 0) continue;
        if (!whole_word_at(t, tl, 0, cands[i], dl)) continue;
        if (best < 0 || dl > lens[best]) best = (int)i;
    }
    return best;
}

/* Length of the number that starts t ("3", "-1.5", "2."), 0 if none or if a word character
 * follows it ("3rd"). */
static size_t lead_number(const char *t, size_t tl, double *x)
{
    size_t i = 0, digits = 0;
    if (i < tl && (t[i] == '+' || t[i] == '-')) i++;
    while (i < tl && t[i] >= '0' && t[i] <= '9') i++, digits++;
    if (i < tl && t[i] == '.') {
        i++;
        while (i < tl && t[i] >= '0' && t[i] <= '9') i++, digits++;
    }
    if (digits == 0 || (i < tl && word_byte((unsigned char)t[i]))) return 0;
    char tmp[64];
    if (i >= sizeof(tmp)) return 0;
    memcpy(tmp, t, i);
    tmp[i] = '\0';
    *x = strtod(tmp, NULL);
    return i;
}

/* The rating a number names: one whose definition is that number, else (numeric scales) the only
 * scored rating with that value. -1 if none or ambiguous. */
static int match_number(const scale_t *sc, double x)
{
    for (size_t i = 0; i < sc->n; i++) {
        double d;
        if (lead_number(sc->def[i], sc->def_len[i], &d) == sc->def_len[i] && sc->def_len[i] && d == x) return (int)i;
    }
    if (sc->m->kind != METRIC_FLOAT) return -1;
    int found = -1;
    for (size_t i = 0; i < sc->n; i++) {
        const metric_rating_t *r = &sc->m->ratings[i];
        if (r->not_applicable || r->value != x) continue;
        if (found >= 0) return -1;
        found = (int)i;
    }
    return found;
}

/* Skips whitespace and the markdown or quoting that often wraps an answer: ** _ ` " ' [ ( */
static size_t skip_decoration(const char *s, size_t n, size_t i)
{
    while (i < n) {
        if (space_at(s, n, i)) i += space_at(s, n, i);
        else if (s[i] != '\0' && strchr("*_`\"'[(", s[i])) i++;
        else break;
    }
    return i;
}

/* The rating a value names: it starts with a rating's name (the longest that fits), or is a
 * number naming one, or (string scales) starts with a rating's string value. -1 if none. */
static int match_value(const scale_t *sc, const char *s, size_t n)
{
    for (int pass = 0; pass < 2; pass++) {
        size_t i = pass ? skip_decoration(s, n, 0) : 0;
        if (pass && i == 0) break;
        size_t take = n - i < VALUE_FOLD_MAX ? n - i : VALUE_FOLD_MAX;
        size_t tl;
        char *t = fold(s + i, take, &tl);
        int idx = longest_prefix(sc->def, sc->def_len, sc->n, t, tl);
        double x;
        if (idx < 0 && lead_number(t, tl, &x)) idx = match_number(sc, x);
        if (idx < 0 && sc->m->kind == METRIC_STRING) idx = longest_prefix(sc->sval, sc->sval_len, sc->n, t, tl);
        free(t);
        if (idx >= 0) return idx;
    }
    return -1;
}

/* ---- explanations ---------------------------------------------------------------------------- */

static bool ascii_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

/* A trimmed copy of s[0..n), cut to VERDICT_MAX_EXPLANATION bytes; NULL if blank. */
static char *explanation(const char *s, size_t n)
{
    while (n && ascii_space(*s)) s++, n--;
    while (n && ascii_space(s[n - 1])) n--;
    if (n == 0) return NULL;
    if (n <= VERDICT_MAX_EXPLANATION) return xstrndup(s, n);
    size_t cut = VERDICT_MAX_EXPLANATION - 3;
    while (cut && ((unsigned char)s[cut] & 0xC0) == 0x80) cut--; /* not inside a character */
    char *e = xmalloc(cut + 4);
    memcpy(e, s, cut);
    memcpy(e + cut, "...", 4);
    return e;
}

/* The reply text before a JSON object, without a trailing ``` or ```json fence opener. */
static char *text_before(const char *s, size_t n)
{
    while (n && ascii_space(s[n - 1])) n--;
    if (n >= 4 && strncasecmp(s + n - 4, "json", 4) == 0 && n >= 7 && memcmp(s + n - 7, "```", 3) == 0) n -= 7;
    else if (n >= 3 && memcmp(s + n - 3, "```", 3) == 0) n -= 3;
    return explanation(s, n);
}

/* ---- rule 1: JSON objects with a "rating" key ------------------------------------------------ */

/* Position of the '"' of a `"rating"` key (any case) followed by optional whitespace and ':' at p,
 * or false. */
static bool rating_key_at(const char *r, size_t len, size_t p)
{
    if (p + 8 > len || r[p] != '"' || strncasecmp(r + p + 1, "rating", 6) != 0 || r[p + 7] != '"') return false;
    size_t i = p + 8;
    while (i < len && ascii_space(r[i])) i++;
    return i < len && r[i] == ':';
}

static const char *const reason_keys[] = {"reasoning", "explanation", "rationale", "justification"};

/* Judges a parsed object's "rating" member. Returns 1 and sets *idx (possibly -1, off the scale)
 * when the object decides the verdict; 0 when it must be ignored (a copy of the prompt's
 * placeholder, "<one rating from the scale>"). */
static int judge_object(const scale_t *sc, const cJSON *obj, int *idx)
{
    const cJSON *v = cJSON_GetObjectItem(obj, "rating");
    *idx = -1;
    if (cJSON_IsString(v)) {
        const char *s = v->valuestring;
        size_t n = strlen(s);
        while (n && ascii_space(*s)) s++, n--;
        while (n && ascii_space(s[n - 1])) n--;
        if (n >= 2 && s[0] == '<' && s[n - 1] == '>') return 0;
        *idx = match_value(sc, s, n);
    } else if (cJSON_IsNumber(v)) {
        *idx = match_number(sc, v->valuedouble);
    } else if (cJSON_IsBool(v)) {
        const char *word = cJSON_IsTrue(v) ? "yes" : "no";
        *idx = metric_find_rating(sc->m, word, strlen(word));
    }
    return 1;
}

static char *object_reasoning(const cJSON *obj)
{
    for (size_t i = 0; i < sizeof(reason_keys) / sizeof(reason_keys[0]); i++) {
        const cJSON *e = cJSON_GetObjectItem(obj, reason_keys[i]);
        if (cJSON_IsString(e)) return explanation(e->valuestring, strlen(e->valuestring));
    }
    return NULL;
}

/* One verdict object of the reply: r[start..end), its rating (-1: off the scale) and reasoning. */
typedef struct {
    size_t start, end;
    int idx;
    char *expl;
} vobj_t;

typedef struct {
    vobj_t objs[JSON_KEYS_TRIED];
    size_t n;
    size_t keys_seen; /* every `"rating":` key of the reply */
} vobjs_t;

static void vobjs_free(vobjs_t *v)
{
    for (size_t i = 0; i < v->n; i++) free(v->objs[i].expl);
    v->n = 0;
}

/* Finds the object of the key at `key`: 1 and *o filled, 0 for none (or a placeholder), -1 when
 * the parse budget is spent. */
static int object_at(const scale_t *sc, const char *r, size_t len, size_t key, size_t *budget, vobj_t *o)
{
    size_t low = key > JSON_MAX_OBJECT ? key - JSON_MAX_OBJECT : 0;
    int tries = 0;
    for (size_t p = key; p-- > low && tries < JSON_STARTS_PER_KEY;) {
        if (r[p] != '{') continue;
        tries++;
        size_t avail = len - p < JSON_MAX_OBJECT ? len - p : JSON_MAX_OBJECT;
        if (*budget == 0) return -1;
        if (avail > *budget) avail = *budget;
        const char *end = NULL;
        cJSON *obj = cJSON_ParseWithLengthOpts(r + p, avail, &end, 0);
        size_t used = end && end >= r + p ? (size_t)(end - (r + p)) + 1 : avail;
        *budget -= used < *budget ? used : *budget;
        if (!obj) continue;
        if (!cJSON_IsObject(obj) || (size_t)(end - r) <= key || !cJSON_GetObjectItem(obj, "rating")) {
            cJSON_Delete(obj);
            continue;
        }
        int decided = judge_object(sc, obj, &o->idx);
        if (decided) {
            o->start = p;
            o->end = (size_t)(end - r);
            o->expl = object_reasoning(obj);
            if (!o->expl) o->expl = text_before(r, p);
        }
        cJSON_Delete(obj);
        return decided; /* a placeholder copy: look at earlier keys */
    }
    return 0;
}

/* Collects the reply's top-level verdict objects (in no particular order). */
static void json_collect(const scale_t *sc, const char *r, size_t len, vobjs_t *out)
{
    size_t keys[JSON_KEYS_TRIED];
    size_t n_keys = 0;
    out->n = out->keys_seen = 0;
    for (const char *q = memchr(r, '"', len); q; q = memchr(q + 1, '"', len - (size_t)(q + 1 - r))) {
        size_t p = (size_t)(q - r);
        if (!rating_key_at(r, len, p)) continue;
        out->keys_seen++;
        if (n_keys == JSON_KEYS_TRIED) {
            memmove(keys, keys + 1, (JSON_KEYS_TRIED - 1) * sizeof(keys[0]));
            n_keys--;
        }
        keys[n_keys++] = p;
        if (p + 1 >= len) break;
    }
    size_t budget = JSON_PARSE_BUDGET;
    for (size_t k = n_keys; k-- > 0;) {
        bool nested = false;
        for (size_t i = 0; i < out->n && !nested; i++)
            nested = out->objs[i].start < keys[k] && keys[k] < out->objs[i].end;
        if (nested) continue;
        vobj_t o = {0};
        int rc = object_at(sc, r, len, keys[k], &budget, &o);
        if (rc < 0) break;
        if (rc == 0) continue;
        for (size_t i = 0; i < out->n;) { /* objects found inside this one were nested */
            if (o.start <= out->objs[i].start && out->objs[i].end <= o.end) {
                free(out->objs[i].expl);
                out->objs[i] = out->objs[--out->n];
            } else {
                i++;
            }
        }
        out->objs[out->n++] = o;
    }
}

/* ---- rule 2: `Rating:` / `Answer:` / `Score:` lines --------------------------------------------- */

static bool word_ci(const char *s, size_t n, size_t i, const char *w)
{
    size_t wl = strlen(w);
    return i + wl <= n && strncasecmp(s + i, w, wl) == 0 && (i + wl == n || !word_byte((unsigned char)s[i + wl]));
}

static size_t skip_set(const char *s, size_t n, size_t i, const char *set)
{
    while (i < n && s[i] && strchr(set, s[i])) i++;
    return i;
}

/* If s[0..n) is a label line, returns true and sets *value to the offset of its value. */
static bool label_line(const char *s, size_t n, size_t *value)
{
    size_t i = skip_set(s, n, 0, " \t#*_>-|");
    if (word_ci(s, n, i, "final")) i = skip_set(s, n, i + 5, " \t*_");
    else if (word_ci(s, n, i, "overall")) i = skip_set(s, n, i + 7, " \t*_");
    static const char *const labels[] = {"rating", "answer", "score"};
    size_t j = 0;
    for (; j < 3; j++)
        if (word_ci(s, n, i, labels[j])) break;
    if (j == 3) return false;
    i = skip_set(s, n, i + strlen(labels[j]), " \t*_");
    if (i < n && s[i] == '(') { /* "Score (0-4): 3" */
        const char *close = memchr(s + i, ')', n - i);
        if (!close) return false;
        i = skip_set(s, n, (size_t)(close - s) + 1, " \t*_");
    }
    if (i >= n || s[i] != ':') return false;
    *value = i + 1;
    return true;
}

static bool blank_after_decoration(const char *s, size_t n) { return skip_decoration(s, n, 0) >= n; }

/* The last labelled line's rating (-1: none); every rating a labelled line names is marked in
 * `named` (n_ratings entries). */
static int label_rule(const scale_t *sc, const char *r, size_t len, bool *named)
{
    /* Lines from the last to the first; `next` is the nearest non-blank line after the current
     * one, where a label with nothing after it ("**Rating:**\ncorrect") finds its value. */
    const char *next = NULL;
    size_t next_len = 0;
    size_t e = len;
    int last = -1;
    for (;;) {
        size_t s = e;
        while (s > 0 && r[s - 1] != '\n') s--;
        size_t n = e - s;
        const char *line = r + s;
        if (n && line[n - 1] == '\r') n--;
        size_t v;
        if (label_line(line, n, &v)) {
            int idx = -1;
            if (!blank_after_decoration(line + v, n - v)) idx = match_value(sc, line + v, n - v);
            else if (next) idx = match_value(sc, next, next_len);
            if (idx >= 0) {
                named[idx] = true;
                if (last < 0) last = idx;
            }
        }
        if (!blank_after_decoration(line, n)) {
            next = line;
            next_len = n;
        }
        if (s == 0) break;
        e = s - 1;
    }
    return last;
}

/* ---- rule 3: the last mention ----------------------------------------------------------------- */

static int mention_rule(const scale_t *sc, const char *r, size_t len)
{
    size_t tl;
    char *t = fold(r, len, &tl);
    int best = -1;
    size_t best_end = 0;
    for (size_t i = 0; i < sc->n; i++) {
        const char *d = sc->def[i];
        size_t dl = sc->def_len[i];
        if (dl == 0 || dl > tl) continue;
        size_t last_end = 0;
        bool seen = false;
        for (size_t pos = 0; pos + dl <= tl;) {
            const char *hit = memmem(t + pos, tl - pos, d, dl);
            if (!hit) break;
            size_t p = (size_t)(hit - t);
            if (whole_word_at(t, tl, p, d, dl)) {
                last_end = p + dl;
                seen = true;
            }
            pos = p + 1;
        }
        if (!seen) continue;
        if (best < 0 || last_end > best_end || (last_end == best_end && dl > sc->def_len[best])) {
            best = (int)i;
            best_end = last_end;
        }
    }
    free(t);
    return best;
}

/* ---- quoted material -------------------------------------------------------------------------- */

/* Length of a tag "<name-NONCE>" (closing: "</name-NONCE>") at r[i], name of [a-z_], else 0. */
static size_t tag_at(const char *r, size_t len, size_t i, const char *nonce, size_t nl, bool closing)
{
    size_t j = i;
    if (j >= len || r[j++] != '<') return 0;
    if (closing && (j >= len || r[j++] != '/')) return 0;
    size_t name = j;
    while (j < len && ((r[j] >= 'a' && r[j] <= 'z') || r[j] == '_')) j++;
    if (j == name || j >= len || r[j++] != '-') return 0;
    if (len - j < nl + 1 || memcmp(r + j, nonce, nl) != 0 || r[j + nl] != '>') return 0;
    return j + nl + 1 - i;
}

/* The reply without what the judge quoted between the prompt's tags (each span, tags included,
 * becomes one space; an unclosed one runs to the end). NULL when there is nothing to remove. */
static char *strip_quoted(const char *r, size_t len, const char *nonce, size_t *out_len)
{
    size_t nl = strlen(nonce);
    if (nl == 0 || !memmem(r, len, nonce, nl)) return NULL;
    char *out = xmalloc(len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t t = r[i] == '<' ? tag_at(r, len, i, nonce, nl, false) : 0;
        if (!t) {
            out[o++] = r[i++];
            continue;
        }
        size_t j = i + t;
        while (j < len && !(r[j] == '<' && tag_at(r, len, j, nonce, nl, true))) j++;
        i = j < len ? j + tag_at(r, len, j, nonce, nl, true) : len;
        out[o++] = ' ';
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}

/* ---- entry points ---------------------------------------------------------------------------- */

/* The ratings the explicit verdicts name (`named`), with the one that decides (idx, -1 for
 * none): true when they are two or more different ones; pair gets two of them. */
static bool conflicting(const bool *named, size_t n, int idx, int pair[2])
{
    pair[0] = idx >= 0 ? idx : -1;
    pair[1] = -1;
    for (size_t i = 0; i < n; i++) {
        if (!named[i] || (int)i == pair[0]) continue;
        if (pair[0] < 0) {
            pair[0] = (int)i;
        } else {
            pair[1] = (int)i;
            return true;
        }
    }
    return false;
}

/* Reads the structured object: 1 with *idx (maybe -1) and *expl when it has a rating member. */
static int read_structured(const scale_t *sc, const char *s, size_t len, int *idx, char **expl)
{
    cJSON *obj = cJSON_ParseWithLength(s, len);
    int rc = 0;
    *idx = -1;
    if (cJSON_IsObject(obj) && cJSON_GetObjectItem(obj, "rating")) {
        if (!judge_object(sc, obj, idx)) *idx = -1;
        *expl = object_reasoning(obj);
        rc = 1;
    }
    cJSON_Delete(obj);
    return rc;
}

int verdict_read(const metric_t *m, const verdict_reply_t *in, verdict_t *out)
{
    out->status = VERDICT_NONE;
    out->rating = -1;
    out->conflict[0] = out->conflict[1] = -1;
    out->structured = false;
    out->explanation = NULL;
    const char *text = in && in->text ? in->text : "";
    size_t len = in && in->text ? in->len : 0;
    if (!m || !in || m->n_ratings == 0 || (len == 0 && !in->structured)) return -1;
    scale_t sc;
    scale_init(&sc, m);
    size_t own_len = 0;
    char *own = in->nonce ? strip_quoted(text, len, in->nonce, &own_len) : NULL;
    if (own) {
        text = own;
        len = own_len;
    }

    /* every explicit verdict of the text */
    bool *named = xcalloc(sc.n, sizeof(bool));
    vobjs_t objs;
    json_collect(&sc, text, len, &objs);
    for (size_t i = 0; i < objs.n; i++)
        if (objs.objs[i].idx >= 0) named[objs.objs[i].idx] = true;
    int label = label_rule(&sc, text, len, named);
    bool too_many = objs.keys_seen > VERDICT_MAX_OBJECTS;

    int idx = -1;
    char *expl = NULL;
    bool from_object = false; /* an object decided: its reasoning, or the text before it, explains */
    if (in->structured && read_structured(&sc, in->structured, in->structured_len, &idx, &expl)) {
        out->structured = true;
    } else if (objs.n) {
        size_t last = 0;
        for (size_t i = 1; i < objs.n; i++)
            if (objs.objs[i].start > objs.objs[last].start) last = i;
        idx = objs.objs[last].idx;
        expl = objs.objs[last].expl;
        objs.objs[last].expl = NULL;
        from_object = true;
    } else if (label >= 0) {
        idx = label;
    } else if (!in->structured) {
        idx = mention_rule(&sc, text, len);
    }
    if (!expl && !from_object) expl = explanation(text, len);
    out->explanation = expl;
    bool conflict = conflicting(named, sc.n, idx, out->conflict);
    if (conflict || too_many) {
        out->status = VERDICT_CONFLICT;
    } else {
        out->rating = idx;
        out->status = idx >= 0 ? VERDICT_RATED : VERDICT_NONE;
        out->conflict[0] = out->conflict[1] = -1;
    }
    vobjs_free(&objs);
    free(named);
    free(own);
    scale_free(&sc);
    return out->status == VERDICT_RATED ? 0 : -1;
}

int verdict_parse(const metric_t *m, const char *reply, size_t len, verdict_t *out)
{
    verdict_reply_t in = {.text = reply, .len = reply ? len : 0};
    return verdict_read(m, &in, out);
}

void verdict_clear(verdict_t *v)
{
    if (!v) return;
    free(v->explanation);
    v->explanation = NULL;
    v->rating = -1;
    v->status = VERDICT_NONE;
    v->conflict[0] = v->conflict[1] = -1;
}
