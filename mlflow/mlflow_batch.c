/* mlflow_batch: MLflow key rules and log-batch splitting; see mlflow_batch.h. */
#include "mlflow_batch.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "mlflow"
#include "buf.h"
#include "log.h"
#include "mem.h"

typedef enum { ENTRY_PARAM = 0, ENTRY_TAG = 1, ENTRY_METRIC = 2 } entry_kind_t;

typedef struct {
    char *json; /* the entry as it goes into the body: {"key":...,"value":...} */
} entry_t;

typedef struct {
    entry_t *v;
    size_t n, cap;
} entries_t;

/* A set of (kind, key, step) already added, open addressing. */
typedef struct {
    char *key;
    int64_t step;
    entry_kind_t kind;
} seen_t;

struct mlflow_batch {
    entries_t params, tags, metrics;
    seen_t *seen;
    size_t seen_n, seen_cap;
};

static uint64_t seen_hash(entry_kind_t kind, const char *key, int64_t step)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)kind;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) h = (h ^ *p) * 1099511628211ULL;
    h ^= (uint64_t)step * 0x9e3779b97f4a7c15ULL;
    return h;
}

static seen_t *seen_slot(seen_t *tab, size_t cap, entry_kind_t kind, const char *key, int64_t step)
{
    size_t i = (size_t)(seen_hash(kind, key, step) & (cap - 1));
    for (;;) {
        seen_t *s = &tab[i];
        if (!s->key || (s->kind == kind && s->step == step && !strcmp(s->key, key))) return s;
        i = (i + 1) & (cap - 1);
    }
}

/* Adds (kind, key, step) to the set; false if it was there already. Takes nothing: copies key. */
static bool seen_add(mlflow_batch_t *b, entry_kind_t kind, const char *key, int64_t step)
{
    if ((b->seen_n + 1) * 2 > b->seen_cap) {
        size_t cap = b->seen_cap ? b->seen_cap * 2 : 64;
        seen_t *tab = xcalloc(cap, sizeof *tab);
        for (size_t i = 0; i < b->seen_cap; i++)
            if (b->seen[i].key) *seen_slot(tab, cap, b->seen[i].kind, b->seen[i].key, b->seen[i].step) = b->seen[i];
        free(b->seen);
        b->seen = tab;
        b->seen_cap = cap;
    }
    seen_t *s = seen_slot(b->seen, b->seen_cap, kind, key, step);
    if (s->key) return false;
    s->key = xstrdup(key);
    s->kind = kind;
    s->step = step;
    b->seen_n++;
    return true;
}

static void entries_push(entries_t *e, char *json)
{
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 32;
        e->v = xrealloc(e->v, e->cap * sizeof *e->v);
    }
    e->v[e->n++].json = json;
}

static void entries_free(entries_t *e)
{
    for (size_t i = 0; i < e->n; i++) free(e->v[i].json);
    free(e->v);
    memset(e, 0, sizeof *e);
}

mlflow_batch_t *mlflow_batch_new(void) { return xcalloc(1, sizeof(mlflow_batch_t)); }

void mlflow_batch_destroy(mlflow_batch_t **self_p)
{
    if (!self_p || !*self_p) return;
    mlflow_batch_t *b = *self_p;
    entries_free(&b->params);
    entries_free(&b->tags);
    entries_free(&b->metrics);
    for (size_t i = 0; i < b->seen_cap; i++) free(b->seen[i].key);
    free(b->seen);
    free(b);
    *self_p = NULL;
}

size_t mlflow_utf8_cut(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max) return n;
    n = max;
    /* Back up over continuation bytes (10xxxxxx) to the start of the cut character. */
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
    return n;
}

static bool key_char_ok(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.' || c == ' ' || c == '/';
}

/* Appends one path segment (not empty) to out, mapping "." and "..". The buffer has no cap, so
 * appends cannot fail (out-of-memory aborts in mem.c). */
static void put_segment(buf_t *out, const char *seg, size_t len)
{
    int rc = 0;
    if (out->len) rc |= buf_putc(out, '/');
    if (len == 1 && seg[0] == '.') rc |= buf_putc(out, '_');
    else if (len == 2 && seg[0] == '.' && seg[1] == '.') rc |= buf_puts(out, "__");
    else rc |= buf_append(out, seg, len);
    if (rc < 0) log_error("key buffer append failed");
}

char *mlflow_key_sanitize(const char *key)
{
    if (!key) key = "";
    size_t n = strlen(key);
    char *mapped = xmalloc(n + 1);
    for (size_t i = 0; i < n; i++) mapped[i] = key_char_ok((unsigned char)key[i]) ? key[i] : '_';
    mapped[n] = '\0';

    buf_t out;
    buf_init(&out, 0);
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || mapped[i] == '/') {
            if (i > start) put_segment(&out, mapped + start, i - start);
            start = i + 1;
        }
    }
    free(mapped);
    if (out.len > MLFLOW_MAX_KEY_LEN) {
        out.len = MLFLOW_MAX_KEY_LEN;
        out.data[out.len] = '\0';
        while (out.len && out.data[out.len - 1] == '/') out.data[--out.len] = '\0';
        /* The cut may have left a last segment "." or "..": map it again (same length). */
        char *last = strrchr(out.data, '/');
        last = last ? last + 1 : out.data;
        if (!strcmp(last, ".")) last[0] = '_';
        else if (!strcmp(last, "..")) last[0] = last[1] = '_';
    }
    if (out.len == 0 && buf_putc(&out, '_') < 0) { /* cannot fail: no cap */
    }
    return buf_take(&out);
}

static char *kv_json(const char *key, const char *value, size_t max_value)
{
    buf_t b;
    buf_init(&b, 0);
    size_t vlen = mlflow_utf8_cut(value ? value : "", max_value);
    if (buf_puts(&b, "{\"key\":") < 0 || buf_json_str(&b, key, strlen(key)) < 0 || buf_puts(&b, ",\"value\":") < 0 ||
        buf_json_str(&b, value ? value : "", vlen) < 0 || buf_putc(&b, '}') < 0) {
        /* unbounded buffer: only out-of-memory could fail, and that aborts in mem.c */
    }
    return buf_take(&b);
}

static int add_kv(mlflow_batch_t *b, entry_kind_t kind, const char *key, const char *value)
{
    char *k = mlflow_key_sanitize(key);
    if (!seen_add(b, kind, k, 0)) {
        log_warn("%s key '%s' (from '%s') is already in this batch: the later value is not logged",
                 kind == ENTRY_PARAM ? "param" : "tag", k, key ? key : "");
        free(k);
        return -1;
    }
    size_t max = kind == ENTRY_PARAM ? MLFLOW_MAX_PARAM_VALUE : MLFLOW_MAX_TAG_VALUE;
    if (value && strlen(value) > max)
        log_warn("%s '%s': value of %zu bytes cut to MLflow's limit of %zu", kind == ENTRY_PARAM ? "param" : "tag", k,
                 strlen(value), max);
    entries_push(kind == ENTRY_PARAM ? &b->params : &b->tags, kv_json(k, value, max));
    free(k);
    return 0;
}

int mlflow_batch_param(mlflow_batch_t *b, const char *key, const char *value)
{
    return add_kv(b, ENTRY_PARAM, key, value);
}

int mlflow_batch_tag(mlflow_batch_t *b, const char *key, const char *value) { return add_kv(b, ENTRY_TAG, key, value); }

int mlflow_batch_metric(mlflow_batch_t *b, const char *key, double value, int64_t timestamp_ms, int64_t step)
{
    if (!isfinite(value)) return -1;
    char *k = mlflow_key_sanitize(key);
    if (!seen_add(b, ENTRY_METRIC, k, step)) {
        log_warn("metric key '%s' (from '%s') at step %lld is already in this batch: not logged twice", k,
                 key ? key : "", (long long)step);
        free(k);
        return -1;
    }
    buf_t j;
    buf_init(&j, 0);
    if (value == 0) value = 0; /* -0 prints as "-0": keep the JSON plain */
    if (buf_puts(&j, "{\"key\":") < 0 || buf_json_str(&j, k, strlen(k)) < 0 ||
        buf_printf(&j, ",\"value\":%.17g,\"timestamp\":%lld,\"step\":%lld}", value, (long long)timestamp_ms,
                   (long long)step) < 0) {
        /* unbounded buffer */
    }
    entries_push(&b->metrics, buf_take(&j));
    free(k);
    return 0;
}

void mlflow_batch_counts(const mlflow_batch_t *b, size_t *n_metrics, size_t *n_params, size_t *n_tags)
{
    if (n_metrics) *n_metrics = b->metrics.n;
    if (n_params) *n_params = b->params.n;
    if (n_tags) *n_tags = b->tags.n;
}

/* One request being packed. */
typedef struct {
    const entry_t *items[3][MLFLOW_MAX_ENTITIES_PER_BATCH];
    size_t count[3];
    size_t total;
    size_t bytes;
} pack_t;

static char *pack_body(const pack_t *p, const char *run_id)
{
    static const char *const names[3] = {"params", "tags", "metrics"};
    buf_t b;
    buf_init(&b, 0);
    if (buf_puts(&b, "{\"run_id\":") < 0 || buf_json_str(&b, run_id, strlen(run_id)) < 0) return buf_take(&b);
    /* MLflow accepts any order of fields: metrics first reads best in a log. */
    static const int order[3] = {ENTRY_METRIC, ENTRY_PARAM, ENTRY_TAG};
    for (int oi = 0; oi < 3; oi++) {
        int k = order[oi];
        if (!p->count[k]) continue;
        if (buf_printf(&b, ",\"%s\":[", names[k]) < 0) break;
        for (size_t i = 0; i < p->count[k]; i++)
            if ((i && buf_putc(&b, ',') < 0) || buf_puts(&b, p->items[k][i]->json) < 0) break;
        if (buf_putc(&b, ']') < 0) break;
    }
    if (buf_putc(&b, '}') < 0) { /* unbounded */
    }
    return buf_take(&b);
}

char **mlflow_batch_bodies(const mlflow_batch_t *b, const char *run_id, size_t *n)
{
    *n = 0;
    size_t total = b->params.n + b->tags.n + b->metrics.n;
    if (!total) return NULL;
    static const size_t limit[3] = {MLFLOW_MAX_PARAMS_PER_BATCH, MLFLOW_MAX_TAGS_PER_BATCH,
                                    MLFLOW_MAX_METRICS_PER_BATCH};
    const entries_t *lists[3] = {&b->params, &b->tags, &b->metrics};
    /* Fixed bytes of a body: {"run_id":"...","metrics":[],"params":[],"tags":[]} with room to
     * spare for escapes in the run id. */
    size_t fixed = 2 * strlen(run_id) + 64;

    char **out = NULL;
    size_t n_out = 0, cap_out = 0;
    pack_t *p = xcalloc(1, sizeof *p);
    p->bytes = fixed;
    for (int k = 0; k < 3; k++) {
        for (size_t i = 0; i < lists[k]->n; i++) {
            const entry_t *e = &lists[k]->v[i];
            size_t len = strlen(e->json) + 1; /* + the comma */
            bool full = p->count[k] >= limit[k] || p->total >= MLFLOW_MAX_ENTITIES_PER_BATCH ||
                        p->bytes + len > MLFLOW_MAX_BATCH_BYTES;
            if (full && p->total) {
                if (n_out == cap_out) {
                    cap_out = cap_out ? cap_out * 2 : 4;
                    out = xrealloc(out, cap_out * sizeof *out);
                }
                out[n_out++] = pack_body(p, run_id);
                memset(p, 0, sizeof *p);
                p->bytes = fixed;
            }
            p->items[k][p->count[k]++] = e;
            p->total++;
            p->bytes += len;
        }
    }
    if (p->total) {
        if (n_out == cap_out) {
            cap_out = cap_out ? cap_out * 2 : 4;
            out = xrealloc(out, cap_out * sizeof *out);
        }
        out[n_out++] = pack_body(p, run_id);
    }
    free(p);
    *n = n_out;
    return out;
}

void mlflow_bodies_free(char **bodies, size_t n)
{
    if (!bodies) return;
    for (size_t i = 0; i < n; i++) free(bodies[i]);
    free(bodies);
}
