/* record: one dataset line -> record_t (see record.h and DESIGN.md "Dataset").
 *
 * Owns the rules of a dataset line: which keys mean what, their types, the aliases and their
 * conflicts. Does not read files, check line lengths or UTF-8 (dataset.c does, before calling
 * record_parse_line). Every problem on a line is reported, each as its own "FILE:LINE: ..."
 * message; unknown keys are ignored so that datasets can carry extra columns. A JSON `null` on an
 * optional key means "absent". */
#include "record.h"
#include "jsonerr.h"
#include "mem.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#define RECORD_MAX_RESPONSES 16

static const char *const reference_keys[] = {"referenceResponse", "reference", "ground_truth", "answer"};
static const char *const prompt_keys[] = {"prompt", "query"};

static const char *json_type_name(const cJSON *v)
{
    if (cJSON_IsNull(v)) return "null";
    if (cJSON_IsBool(v)) return "boolean";
    if (cJSON_IsNumber(v)) return "number";
    if (cJSON_IsString(v)) return "string";
    if (cJSON_IsArray(v)) return "array";
    if (cJSON_IsObject(v)) return "object";
    return "invalid";
}

static bool is_json_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static bool blank_text(const char *s)
{
    for (; *s; s++)
        if (!is_json_ws(*s) && *s != '\f' && *s != '\v') return false;
    return true;
}

typedef struct {
    const char *file;
    size_t lineno;
    errlist_t *errs;
    bool bad; /* some problem was reported for this line */
} where_t;

#define LINE_ERR(w, fmt, ...)                                                          \
    do {                                                                               \
        errlist_add((w)->errs, "%s:%zu: " fmt, (w)->file, (w)->lineno, ##__VA_ARGS__); \
        (w)->bad = true;                                                               \
    } while (0)

/* The object's member `key`; NULL if absent. A key that occurs twice is reported. */
static const cJSON *member(const cJSON *obj, const char *key, where_t *w)
{
    const cJSON *found = NULL;
    for (const cJSON *c = obj->child; c; c = c->next) {
        if (!c->string || strcmp(c->string, key) != 0) continue;
        if (found) {
            LINE_ERR(w, "key `%s` appears more than once", key);
            break;
        }
        found = c;
    }
    return found;
}

/* An optional string member: NULL if absent or null; reported and NULL if not a string. */
static const char *opt_string(const cJSON *obj, const char *key, where_t *w)
{
    const cJSON *v = member(obj, key, w);
    if (!v || cJSON_IsNull(v)) return NULL;
    if (!cJSON_IsString(v)) {
        LINE_ERR(w, "key `%s` must be a string, got %s", key, json_type_name(v));
        return NULL;
    }
    return v->valuestring;
}

/* One of several alias keys; two present with different values is an error. */
static const char *alias_string(const cJSON *obj, const char *const *keys, size_t n, where_t *w, const char **which)
{
    const char *val = NULL;
    *which = NULL;
    for (size_t i = 0; i < n; i++) {
        const char *v = opt_string(obj, keys[i], w);
        if (!v) continue;
        if (!val) {
            val = v;
            *which = keys[i];
        } else if (strcmp(val, v) != 0) {
            LINE_ERR(w, "keys `%s` and `%s` are aliases but have different values; give one", *which, keys[i]);
        }
    }
    return val;
}

/* `id`: a string or an integer that a double holds exactly. Returns the text (caller owns). */
static char *parse_id(const cJSON *obj, where_t *w)
{
    const cJSON *v = member(obj, "id", w);
    if (!v || cJSON_IsNull(v)) return NULL;
    if (cJSON_IsString(v)) {
        if (!*v->valuestring) {
            LINE_ERR(w, "key `id` must not be empty");
            return NULL;
        }
        return xstrdup(v->valuestring);
    }
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (!isfinite(d) || d != floor(d)) {
            LINE_ERR(w, "key `id` must be a string or an integer, got number %g", d);
            return NULL;
        }
        if (fabs(d) > 9007199254740992.0) {
            LINE_ERR(w, "key `id` is an integer beyond 2^53, which JSON numbers do not hold exactly; "
                        "give it as a string");
            return NULL;
        }
        return xasprintf("%lld", (long long)d);
    }
    LINE_ERR(w, "key `id` must be a string or an integer, got %s", json_type_name(v));
    return NULL;
}

static void parse_responses(const cJSON *obj, where_t *w, record_t *out)
{
    const cJSON *arr = member(obj, "modelResponses", w);
    if (!arr || cJSON_IsNull(arr)) return;
    if (!cJSON_IsArray(arr)) {
        LINE_ERR(w, "key `modelResponses` must be an array, got %s", json_type_name(arr));
        return;
    }
    int n = cJSON_GetArraySize(arr);
    if (n < 1 || n > RECORD_MAX_RESPONSES) {
        LINE_ERR(w, "key `modelResponses` must have 1 to %d entries, got %d", RECORD_MAX_RESPONSES, n);
        return;
    }
    record_response_t *rs = xcalloc((size_t)n, sizeof(*rs));
    int i = 0;
    for (const cJSON *e = arr->child; e; e = e->next, i++) {
        if (!cJSON_IsObject(e)) {
            LINE_ERR(w, "key `modelResponses[%d]` must be an object, got %s", i, json_type_name(e));
            continue;
        }
        const cJSON *resp = NULL, *mid = NULL;
        int n_resp = 0, n_mid = 0;
        for (const cJSON *c = e->child; c; c = c->next) {
            if (!c->string) continue;
            if (strcmp(c->string, "response") == 0 && n_resp++ == 0) resp = c;
            if (strcmp(c->string, "modelIdentifier") == 0 && n_mid++ == 0) mid = c;
        }
        if (n_resp > 1 || n_mid > 1) {
            LINE_ERR(w, "key `modelResponses[%d].%s` appears more than once", i,
                     n_resp > 1 ? "response" : "modelIdentifier");
        }
        if (!resp) {
            LINE_ERR(w, "key `modelResponses[%d].response` is missing", i);
        } else if (!cJSON_IsString(resp)) {
            LINE_ERR(w, "key `modelResponses[%d].response` must be a string, got %s", i, json_type_name(resp));
        } else {
            rs[i].response = xstrdup(resp->valuestring);
        }
        if (mid && !cJSON_IsNull(mid)) {
            if (!cJSON_IsString(mid)) {
                LINE_ERR(w, "key `modelResponses[%d].modelIdentifier` must be a string, got %s", i,
                         json_type_name(mid));
            } else {
                rs[i].model_identifier = xstrdup(mid->valuestring);
            }
        }
    }
    out->responses = rs;
    out->n_responses = (size_t)n;
}

/* ---- NUL escapes ----
 * cJSON decodes "\u0000" into a NUL and the C string ends there: a prompt would be cut short
 * without a word. So a line that holds the escape is walked (it is valid JSON by then) and every
 * string of a field llmaj reads (and every key) that holds one is reported by its path. */

static const char *const read_keys[] = {"prompt", "query",    "referenceResponse", "reference", "ground_truth",
                                        "answer", "category", "context",           "id",        "modelResponses"};

/* r[i] starts a JSON string: its end (after the closing quote), and whether it holds \u0000. */
static size_t json_string(const char *r, size_t len, size_t i, bool *nul)
{
    *nul = false;
    for (i++; i < len && r[i] != '"'; i++) {
        if (r[i] != '\\') continue;
        if (i + 5 < len && r[i + 1] == 'u' && memcmp(r + i + 2, "0000", 4) == 0) *nul = true;
        i++; /* the escaped character (a \uXXXX's digits are plain characters) */
    }
    return i < len ? i + 1 : len;
}

#define NUL_DEPTH 8 /* path components named in messages; deeper ones are "..." */

typedef struct {
    bool array;
    size_t index;    /* arrays: the element's index */
    const char *key; /* objects: the current key, raw, and its length */
    size_t key_len;
} frame_t;

static void nul_report(where_t *w, const frame_t *st, size_t depth)
{
    if (depth == 0 || st[0].array || !st[0].key) return;
    bool wanted = false;
    for (size_t i = 0; i < sizeof read_keys / sizeof read_keys[0]; i++)
        wanted |= strlen(read_keys[i]) == st[0].key_len && memcmp(read_keys[i], st[0].key, st[0].key_len) == 0;
    if (!wanted) return; /* a column llmaj does not read */
    char path[256];
    size_t n = 0;
    for (size_t d = 0; d < depth && d < NUL_DEPTH && n < sizeof path; d++) {
        int k = st[d].array ? snprintf(path + n, sizeof path - n, "[%zu]", st[d].index)
                            : snprintf(path + n, sizeof path - n, "%s%.*s", d ? "." : "",
                                       (int)(st[d].key_len > 64 ? 64 : st[d].key_len), st[d].key ? st[d].key : "");
        if (k > 0) n += (size_t)k;
    }
    if (depth > NUL_DEPTH && n < sizeof path) snprintf(path + n, sizeof path - n, "...");
    LINE_ERR(w, "key `%s` contains a NUL character (\\u0000), which would cut the text short; remove it", path);
}

/* Reports every \u0000 in the strings of fields llmaj reads, and in keys. */
static void check_nul_escapes(const char *r, size_t len, where_t *w)
{
    frame_t st[NUL_DEPTH + 1];
    size_t depth = 0, deep = 0; /* deep: containers beyond the tracked ones */
    bool expect_key = false;
    for (size_t i = 0; i < len;) {
        char c = r[i];
        if (c == '{' || c == '[') {
            if (depth < NUL_DEPTH + 1 && !deep) st[depth++] = (frame_t){.array = c == '['};
            else deep++;
            expect_key = c == '{';
            i++;
        } else if (c == '}' || c == ']') {
            if (deep) deep--;
            else if (depth) depth--;
            expect_key = false;
            i++;
        } else if (c == ',') {
            frame_t *f = depth && !deep ? &st[depth - 1] : NULL;
            if (f && f->array) f->index++;
            expect_key = f && !f->array;
            if (deep) expect_key = false;
            i++;
        } else if (c == '"') {
            bool nul;
            size_t end = json_string(r, len, i, &nul);
            if (expect_key && depth && !deep) {
                st[depth - 1].key = r + i + 1;
                st[depth - 1].key_len = end - i >= 2 ? end - i - 2 : 0;
                if (nul) LINE_ERR(w, "a key contains a NUL character (\\u0000); remove it");
                expect_key = false;
            } else if (nul) {
                if (deep) nul_report(w, st, NUL_DEPTH + 1);
                else nul_report(w, st, depth);
            }
            i = end;
        } else {
            i++;
        }
    }
}

/* Describes where cJSON stopped: "unexpected `}` near column 12". */
static void json_error(where_t *w, const char *line, size_t len, jsonerr_t at)
{
    size_t pos = at.pos;
    while (!at.after && pos < len && is_json_ws(line[pos])) pos++;
    if (!at.after && jsonerr_at_end(line, len, pos)) {
        LINE_ERR(w, "not valid JSON (the line ends before the object is complete, near column %zu)", len + 1);
        return;
    }
    unsigned char c = (unsigned char)line[pos];
    char shown[8];
    if (c >= 0x20 && c < 0x7f) snprintf(shown, sizeof(shown), "%c", c);
    else snprintf(shown, sizeof(shown), "\\x%02x", c);
    LINE_ERR(w, "not valid JSON (unexpected `%s`%s near column %zu)", shown, at.after ? " after the object" : "",
             pos + 1);
}

int record_parse_line(const char *line, size_t len, const char *file, size_t lineno, uint64_t index, record_t *out,
                      errlist_t *errs)
{
    memset(out, 0, sizeof(*out));
    where_t w = {.file = file ? file : "-", .lineno = lineno, .errs = errs, .bad = false};
    const char *nul = memchr(line, '\0', len);
    if (nul) {
        LINE_ERR(&w, "contains a NUL byte at column %zu", (size_t)(nul - line) + 1);
        return -1;
    }
    jsonerr_t at;
    cJSON *root = jsonerr_parse(line, len, &at);
    if (!root) {
        json_error(&w, line, len, at);
        return -1;
    }
    if (!cJSON_IsObject(root)) {
        LINE_ERR(&w, "expected a JSON object, got %s", json_type_name(root));
        cJSON_Delete(root);
        return -1;
    }
    if (memmem(line, len, "\\u0000", 6)) check_nul_escapes(line, len, &w);

    const char *pkey = NULL;
    const char *prompt = alias_string(root, prompt_keys, 2, &w, &pkey);
    if (!prompt) {
        /* a present key of the wrong type was already reported */
        if (!w.bad) LINE_ERR(&w, "missing key `prompt` (or its alias `query`)");
    } else if (blank_text(prompt)) {
        LINE_ERR(&w, "key `%s` is empty", pkey);
    }
    const char *rkey = NULL;
    const char *reference = alias_string(root, reference_keys, 4, &w, &rkey);
    const char *category = opt_string(root, "category", &w);
    const char *context = opt_string(root, "context", &w);
    char *id = parse_id(root, &w);
    parse_responses(root, &w, out);

    if (w.bad) {
        free(id);
        record_clear(out);
        cJSON_Delete(root);
        return -1;
    }
    out->index = index;
    out->id = id;
    out->prompt = xstrdup(prompt);
    out->reference = xstrdup(reference);
    out->category = xstrdup(category);
    out->context = xstrdup(context);
    cJSON_Delete(root);
    return 0;
}

char *record_id_text(const record_t *r)
{
    if (r->id) return xstrdup(r->id);
    return xasprintf("%llu", (unsigned long long)r->index);
}

void record_clear(record_t *r)
{
    if (!r) return;
    free(r->id);
    free(r->prompt);
    free(r->reference);
    free(r->context);
    free(r->category);
    for (size_t i = 0; i < r->n_responses; i++) {
        free(r->responses[i].response);
        free(r->responses[i].model_identifier);
    }
    free(r->responses);
    memset(r, 0, sizeof(*r));
}

const record_response_t *record_response_for(const record_t *rec, const char *want, const char *other,
                                             unsigned position)
{
    if (want)
        for (size_t i = 0; i < rec->n_responses; i++)
            if (rec->responses[i].model_identifier && strcmp(rec->responses[i].model_identifier, want) == 0)
                return &rec->responses[i];
    size_t pos = 0;
    for (size_t i = 0; i < rec->n_responses; i++) {
        const char *id = rec->responses[i].model_identifier;
        if (id && ((want && strcmp(id, want) == 0) || (other && strcmp(id, other) == 0))) continue;
        if (pos == position) return &rec->responses[i];
        pos++;
    }
    return NULL;
}

void record_copy(record_t *dst, const record_t *src)
{
    memset(dst, 0, sizeof(*dst));
    dst->index = src->index;
    dst->id = xstrdup(src->id);
    dst->prompt = xstrdup(src->prompt);
    dst->reference = xstrdup(src->reference);
    dst->context = xstrdup(src->context);
    dst->category = xstrdup(src->category);
    if (src->n_responses) {
        dst->responses = xcalloc(src->n_responses, sizeof(*dst->responses));
        for (size_t i = 0; i < src->n_responses; i++) {
            dst->responses[i].response = xstrdup(src->responses[i].response);
            dst->responses[i].model_identifier = xstrdup(src->responses[i].model_identifier);
        }
        dst->n_responses = src->n_responses;
    }
}
