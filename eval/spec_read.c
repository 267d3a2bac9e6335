/* spec_read: the spec's typed readers and key checks (spec_int.h): what a wrong value was,
 * unknown keys with the closest known name, strings, booleans, integers and numbers in range,
 * each problem named by its key. */
#include "spec_int.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

/* ---------------------------------------------------------------- messages */

/* "0", "string \"64\"", "array": what a wrong value was, for messages that say "got ...". */
const char *spec_describe(const cJSON *v, char *buf, size_t n)
{
    if (!v) return "nothing";
    if (cJSON_IsNull(v)) return "null";
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v) ? "true" : "false";
    if (cJSON_IsNumber(v)) {
        snprintf(buf, n, "%.17g", v->valuedouble);
        return buf;
    }
    if (cJSON_IsString(v)) {
        size_t len = strlen(v->valuestring);
        if (len > 40) snprintf(buf, n, "string \"%.40s...\"", v->valuestring);
        else snprintf(buf, n, "string \"%s\"", v->valuestring);
        return buf;
    }
    if (cJSON_IsArray(v)) return "array";
    if (cJSON_IsObject(v)) return "object";
    return "invalid value";
}

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return (size_t)-1;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
            if (ca == '-') ca = '_';
            if (cb == '-') cb = '_';
            size_t best = diag + (ca == cb ? 0 : 1);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* The closest of `names` to `s` if it is close enough to be a typo, else NULL. */
const char *spec_closest(const char *s, const char *const *names, size_t n)
{
    const char *best = NULL;
    size_t bestd = (size_t)-1;
    for (size_t i = 0; i < n; i++) {
        size_t d = edit_distance(s, names[i]);
        if (d < bestd) {
            bestd = d;
            best = names[i];
        }
    }
    size_t len = strlen(s);
    size_t limit = len >= 10 ? 3 : len >= 4 ? 2 : 1;
    if (bestd <= limit) return best;
    /* a name with a word more or less: "experiment_name" for "experiment" */
    for (size_t i = 0; i < n; i++) {
        size_t ln = strlen(names[i]);
        size_t shorter = ln < len ? ln : len;
        if (shorter >= 4 && strncasecmp(s, names[i], shorter) == 0) return names[i];
    }
    return NULL;
}

/* "unknown key" with a suggestion; `where` is the key's full name ("judge.max_token"). */
void spec_unknown_key(spec_ctx_t *c, const char *prefix, const char *key, const char *const *names, size_t n)
{
    const char *near = spec_closest(key, names, n);
    if (near) errlist_add(c->errs, "%s%s: unknown key; did you mean `%s%s`?", prefix, key, prefix, near);
    else errlist_add(c->errs, "%s%s: unknown key", prefix, key);
}

/* Reports unknown and repeated keys of an object. */
void spec_check_keys(spec_ctx_t *c, const cJSON *obj, const char *prefix, const char *const *names, size_t n)
{
    for (const cJSON *k = obj->child; k; k = k->next) {
        if (!k->string) continue;
        bool known = false;
        for (size_t i = 0; i < n; i++)
            if (strcmp(k->string, names[i]) == 0) known = true;
        if (!known) {
            spec_unknown_key(c, prefix, k->string, names, n);
            continue;
        }
        for (const cJSON *e = obj->child; e != k; e = e->next)
            if (e->string && strcmp(e->string, k->string) == 0) {
                errlist_add(c->errs, "%s%s: given more than once", prefix, k->string);
                break;
            }
    }
}

/* ---------------------------------------------------------------- typed getters */

/* The member, or NULL when absent or null. */
const cJSON *spec_get(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return v && !cJSON_IsNull(v) ? v : NULL;
}

/* A non-empty string of at most `max` bytes (0 = no limit). NULL if absent or wrong. */
const char *spec_get_str(spec_ctx_t *c, const cJSON *obj, const char *key, const char *name, size_t max)
{
    const cJSON *v = spec_get(obj, key);
    if (!v) return NULL;
    char d[96];
    if (!cJSON_IsString(v) || !v->valuestring[0]) {
        errlist_add(c->errs, "%s: must be a non-empty string, got %s", name, spec_describe(v, d, sizeof(d)));
        return NULL;
    }
    if (max && strlen(v->valuestring) > max) {
        errlist_add(c->errs, "%s: is %zu bytes, longer than the limit of %zu", name, strlen(v->valuestring), max);
        return NULL;
    }
    return v->valuestring;
}

void spec_get_bool(spec_ctx_t *c, const cJSON *obj, const char *key, bool *out, bool *given)
{
    const cJSON *v = spec_get(obj, key);
    if (given) *given = false;
    if (!v) return;
    if (!cJSON_IsBool(v)) {
        char d[96];
        errlist_add(c->errs, "%s: must be true or false, got %s", key, spec_describe(v, d, sizeof(d)));
        return;
    }
    *out = cJSON_IsTrue(v);
    if (given) *given = true;
}

void spec_get_int(spec_ctx_t *c, const cJSON *obj, const char *key, const char *name, int lo, int hi, int *out)
{
    const cJSON *v = spec_get(obj, key);
    if (!v) return;
    double x = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!cJSON_IsNumber(v) || !isfinite(x) || x != floor(x) || x < lo || x > hi) {
        char d[96];
        errlist_add(c->errs, "%s: must be an integer from %d to %d, got %s", name, lo, hi,
                    spec_describe(v, d, sizeof(d)));
        return;
    }
    *out = (int)x;
}

/* A number in [lo, hi] (hi = INFINITY for no upper bound). True when one was stored; a bad value
 * is already in errs, so a caller with nothing more to do may ignore the result. */
bool spec_get_num(spec_ctx_t *c, const cJSON *obj, const char *key, const char *name, double lo, double hi, double *out)
{
    const cJSON *v = spec_get(obj, key);
    if (!v) return false;
    double x = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!cJSON_IsNumber(v) || !isfinite(x) || x < lo || x > hi) {
        char d[96];
        if (isinf(hi))
            errlist_add(c->errs, "%s: must be a number >= %g, got %s", name, lo, spec_describe(v, d, sizeof(d)));
        else
            errlist_add(c->errs, "%s: must be a number from %g to %g, got %s", name, lo, hi,
                        spec_describe(v, d, sizeof(d)));
        return false;
    }
    *out = x;
    return true;
}
