/* aggregate: one job's summary.json from its scores (see aggregate.h, schemas/summary.md).
 *
 * DESIGN: what is kept, and why it is small.
 * - Per (target, metric), and per (category, target, metric), a tally: counts per rating of the
 *   scale, split by status ok / not_applicable, plus counts of unscored, error and not-applicable
 *   answers that named no rating. About 200 bytes, whatever the number of records. Means,
 *   standard deviations and intervals are computed from the tally when the summary is built, by
 *   adding each rating's value with its count in scale order (stats_acc_add_n), so the result
 *   does not depend on the order scores arrived in.
 * - Pairing (only with a base model, only float metrics): the comparison needs, per record, the
 *   rating of both targets, and the two arrive at unrelated times. We keep one byte per
 *   (record, target, paired metric) in a dense array indexed by record_index: 0 = not seen yet,
 *   1 + i = ok with rating i, SLOT_NOT_OK = seen without a score. When the second of a record's
 *   two scores arrives, the pair (custom rating, base rating) is counted in a 10×10 table, from
 *   which the paired statistics are computed like the tallies. A million records with five float
 *   metrics cost 10 MB; a hash map would cost several times that per entry, and the collector
 *   feeds records in index order, so the array fills densely. The byte also catches a repeated
 *   (record, target, metric), which is then ignored.
 * - Categories: a string-keyed open-addressing hash table of tallies, listed sorted by name. */
#define LOG_MODULE "aggregate"
#include "aggregate.h"

#include "log.h"
#include "mem.h"
#include "stats.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define N_TARGETS 2
#define SLOT_NONE 0
#define SLOT_NOT_OK 0xFF
#define MAX_RECORD_INDEX UINT32_MAX /* bounds the pairing arrays when no total was set */
#define ANOMALIES_LOGGED 10

/* Counts for one (target, metric) in one scope (whole job or one category). */
typedef struct {
    uint64_t ok[METRIC_MAX_RATINGS]; /* status ok, per rating */
    uint64_t na[METRIC_MAX_RATINGS]; /* status not_applicable, per rating */
    uint64_t na_unrated;             /* not_applicable without a rating of the scale */
    uint64_t unscored;
    uint64_t error;
} tally_t;

typedef struct {
    char *name;
    bool seen[N_TARGETS];
    tally_t *tallies; /* [target * n_metrics + metric] */
} category_t;

typedef struct {
    metric_t *m;                                            /* our copy */
    double norm[METRIC_MAX_RATINGS];                        /* normalized value of each rating */
    bool paired;                                            /* float metric with a base model */
    uint8_t *slots[N_TARGETS];                              /* paired: per record, see DESIGN */
    uint64_t pairs[METRIC_MAX_RATINGS][METRIC_MAX_RATINGS]; /* [custom rating][base rating] */
} agg_metric_t;

struct aggregate {
    char *job_id;
    char *model[N_TARGETS];
    int n_targets; /* 1, or 2 with a base model */
    agg_metric_t *metrics;
    size_t n_metrics;
    tally_t *tallies; /* [target * n_metrics + metric] */
    size_t slots_cap; /* records the pairing arrays hold */
    category_t *cats; /* in insertion order */
    size_t n_cats, cats_cap;
    uint32_t *cat_index;  /* open addressing: 0 empty, else 1 + index into cats */
    size_t cat_index_cap; /* a power of two, > 2 * n_cats */
    bool total_known;
    uint64_t records_total, records_invalid;
    uint64_t anomalies;
};

/* Counts a score that cannot be aggregated as given, and logs the first few. */
static void anomaly(aggregate_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void anomaly(aggregate_t *a, const char *fmt, ...)
{
    a->anomalies++;
    if (a->anomalies > ANOMALIES_LOGGED) return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *job = a->job_id ? a->job_id : "-";
    log_warn("job %s: %s", job, msg);
    if (a->anomalies == ANOMALIES_LOGGED)
        log_warn("job %s: further scores that cannot be aggregated are not logged", job);
}

aggregate_t *aggregate_new(const char *job_id, metric_t *const *metrics, size_t n_metrics, const char *model,
                           const char *base_model)
{
    for (size_t i = 0; i < n_metrics; i++) {
        if (!metrics[i] || metrics[i]->n_ratings == 0 || metrics[i]->n_ratings > METRIC_MAX_RATINGS) {
            log_error("job %s: metric %s has %zu ratings; a scale has 1 to %d", job_id ? job_id : "-",
                      metrics[i] && metrics[i]->name ? metrics[i]->name : "(null)",
                      metrics[i] ? metrics[i]->n_ratings : 0, METRIC_MAX_RATINGS);
            return NULL;
        }
    }
    aggregate_t *a = xcalloc(1, sizeof(*a));
    a->job_id = xstrdup(job_id);
    a->model[TARGET_CUSTOM] = xstrdup(model);
    a->model[TARGET_BASE] = xstrdup(base_model);
    a->n_targets = base_model ? 2 : 1;
    a->n_metrics = n_metrics;
    a->metrics = xcalloc(n_metrics ? n_metrics : 1, sizeof(agg_metric_t));
    for (size_t i = 0; i < n_metrics; i++) {
        agg_metric_t *am = &a->metrics[i];
        am->m = metric_clone(metrics[i]);
        double span = am->m->max - am->m->min;
        for (size_t r = 0; r < am->m->n_ratings; r++)
            am->norm[r] = span > 0 ? (am->m->ratings[r].value - am->m->min) / span : 0.0;
        am->paired = base_model && am->m->kind == METRIC_FLOAT;
    }
    a->tallies = xcalloc(N_TARGETS * (n_metrics ? n_metrics : 1), sizeof(tally_t));
    return a;
}

void aggregate_set_counts(aggregate_t *a, uint64_t records_total, uint64_t records_invalid_skipped)
{
    a->total_known = true;
    a->records_total = records_total;
    a->records_invalid = records_invalid_skipped;
}

uint64_t aggregate_anomalies(const aggregate_t *a) { return a->anomalies; }

/* ---- categories ----------------------------------------------------------------------------- */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static void cat_index_insert(uint32_t *index, size_t cap, const char *name, uint32_t value)
{
    size_t i = (size_t)hash_str(name) & (cap - 1);
    while (index[i]) i = (i + 1) & (cap - 1);
    index[i] = value;
}

static category_t *category_get(aggregate_t *a, const char *name)
{
    if (a->cat_index_cap) {
        size_t i = (size_t)hash_str(name) & (a->cat_index_cap - 1);
        for (; a->cat_index[i]; i = (i + 1) & (a->cat_index_cap - 1)) {
            category_t *c = &a->cats[a->cat_index[i] - 1];
            if (strcmp(c->name, name) == 0) return c;
        }
    }
    if (a->n_cats == a->cats_cap) {
        a->cats_cap = a->cats_cap ? a->cats_cap * 2 : 16;
        a->cats = xrealloc(a->cats, a->cats_cap * sizeof(category_t));
    }
    if (2 * (a->n_cats + 1) >= a->cat_index_cap) {
        size_t cap = a->cat_index_cap ? a->cat_index_cap * 2 : 64;
        uint32_t *index = xcalloc(cap, sizeof(uint32_t));
        for (size_t k = 0; k < a->n_cats; k++) cat_index_insert(index, cap, a->cats[k].name, (uint32_t)(k + 1));
        free(a->cat_index);
        a->cat_index = index;
        a->cat_index_cap = cap;
    }
    category_t *c = &a->cats[a->n_cats++];
    memset(c, 0, sizeof(*c));
    c->name = xstrdup(name);
    c->tallies = xcalloc(N_TARGETS * (a->n_metrics ? a->n_metrics : 1), sizeof(tally_t));
    cat_index_insert(a->cat_index, a->cat_index_cap, name, (uint32_t)a->n_cats);
    return c;
}

/* ---- feeding -------------------------------------------------------------------------------- */

/* What one score amounts to. */
typedef enum { K_OK, K_NA, K_NA_UNRATED, K_UNSCORED, K_ERROR } kind_t;

static void tally_add(tally_t *t, kind_t k, int rating)
{
    switch (k) {
    case K_OK: t->ok[rating]++; break;
    case K_NA: t->na[rating]++; break;
    case K_NA_UNRATED: t->na_unrated++; break;
    case K_UNSCORED: t->unscored++; break;
    case K_ERROR: t->error++; break;
    }
}

static int find_metric(const aggregate_t *a, const char *name)
{
    for (size_t i = 0; i < a->n_metrics; i++)
        if (strcmp(a->metrics[i].m->name, name) == 0) return (int)i;
    for (size_t i = 0; i < a->n_metrics; i++)
        if (strcasecmp(a->metrics[i].m->name, name) == 0) return (int)i;
    return -1;
}

/* The rating a score names: by definition, else (float scales) by value among scored ratings. */
static int find_rating(const metric_t *m, const score_t *s)
{
    if (s->rating) {
        for (size_t i = 0; i < m->n_ratings; i++) /* the usual case: the scale's own spelling */
            if (strcmp(m->ratings[i].definition, s->rating) == 0) return (int)i;
        int r = metric_find_rating(m, s->rating, strlen(s->rating));
        if (r >= 0) return r;
    }
    if (s->has_score && m->kind == METRIC_FLOAT)
        for (size_t i = 0; i < m->n_ratings; i++)
            if (!m->ratings[i].not_applicable && m->ratings[i].value == s->score) return (int)i;
    return -1;
}

/* Makes the pairing arrays hold record `index`. */
static void slots_reserve(aggregate_t *a, uint64_t index)
{
    if (index < a->slots_cap) return;
    size_t cap = a->slots_cap ? a->slots_cap : 1024;
    while (cap <= index) cap *= 2;
    if (a->total_known && cap > a->records_total && index < a->records_total) cap = (size_t)a->records_total;
    for (size_t i = 0; i < a->n_metrics; i++) {
        agg_metric_t *am = &a->metrics[i];
        if (!am->paired) continue;
        for (int t = 0; t < N_TARGETS; t++) {
            am->slots[t] = xrealloc(am->slots[t], cap);
            memset(am->slots[t] + a->slots_cap, SLOT_NONE, cap - a->slots_cap);
        }
    }
    a->slots_cap = cap;
}

void aggregate_add(aggregate_t *a, uint64_t record_index, target_t target, const char *category, const score_t *score)
{
    if (!score || !score->metric) {
        anomaly(a, "record %llu: a score without a metric name, ignored", (unsigned long long)record_index);
        return;
    }
    if ((int)target < 0 || (int)target >= a->n_targets) {
        anomaly(a, "record %llu, metric %s: target %d is not evaluated in this job, ignored",
                (unsigned long long)record_index, score->metric, (int)target);
        return;
    }
    if ((a->total_known && record_index >= a->records_total) || record_index > MAX_RECORD_INDEX) {
        anomaly(a, "record %llu, metric %s: record index past the dataset's %llu records, ignored",
                (unsigned long long)record_index, score->metric,
                (unsigned long long)(a->total_known ? a->records_total : (uint64_t)MAX_RECORD_INDEX + 1));
        return;
    }
    int mi = find_metric(a, score->metric);
    if (mi < 0) {
        anomaly(a, "record %llu: metric %s is not one of the job's metrics, ignored", (unsigned long long)record_index,
                score->metric);
        return;
    }
    agg_metric_t *am = &a->metrics[mi];

    kind_t k;
    int rating = -1;
    switch (score->status) {
    case SCORE_OK:
    case SCORE_NOT_APPLICABLE:
        rating = find_rating(am->m, score);
        if (rating >= 0)
            k = am->m->ratings[rating].not_applicable || score->status == SCORE_NOT_APPLICABLE ? K_NA : K_OK;
        else if (score->status == SCORE_NOT_APPLICABLE) k = K_NA_UNRATED;
        else {
            anomaly(a, "record %llu, metric %s: status ok but \"%s\" is no rating of the scale: counted as error",
                    (unsigned long long)record_index, score->metric, score->rating ? score->rating : "(none)");
            k = K_ERROR;
        }
        break;
    case SCORE_UNSCORED: k = K_UNSCORED; break;
    case SCORE_ERROR: k = K_ERROR; break;
    default:
        anomaly(a, "record %llu, metric %s: unknown score status %d: counted as error",
                (unsigned long long)record_index, score->metric, (int)score->status);
        k = K_ERROR;
        break;
    }

    if (am->paired) {
        slots_reserve(a, record_index);
        uint8_t *mine = &am->slots[target][record_index];
        if (*mine != SLOT_NONE) {
            anomaly(a, "record %llu, target %s, metric %s: repeated score ignored", (unsigned long long)record_index,
                    target_name(target), score->metric);
            return;
        }
        *mine = k == K_OK ? (uint8_t)(1 + rating) : SLOT_NOT_OK;
        uint8_t other = am->slots[1 - target][record_index];
        if (k == K_OK && other != SLOT_NONE && other != SLOT_NOT_OK) {
            int custom = target == TARGET_CUSTOM ? rating : other - 1;
            int base = target == TARGET_CUSTOM ? other - 1 : rating;
            am->pairs[custom][base]++;
        }
    }

    tally_add(&a->tallies[(size_t)target * a->n_metrics + (size_t)mi], k, rating);
    if (category && *category) {
        category_t *c = category_get(a, category);
        c->seen[target] = true;
        tally_add(&c->tallies[(size_t)target * a->n_metrics + (size_t)mi], k, rating);
    }
}

/* ---- the summary ---------------------------------------------------------------------------- */

static void add_interval(cJSON *obj, const char *key, const stats_acc_t *acc, double lo, double hi)
{
    stats_interval_t iv;
    if (stats_mean_ci(acc, 0.95, &iv) < 0) {
        cJSON_AddNullToObject(obj, key);
        return;
    }
    stats_interval_clip(&iv, lo, hi);
    const double v[2] = {iv.low, iv.high};
    cJSON_AddItemToObject(obj, key, cJSON_CreateDoubleArray(v, 2));
}

static void add_number_or_null(cJSON *obj, const char *key, bool have, double v)
{
    if (have) cJSON_AddNumberToObject(obj, key, v);
    else cJSON_AddNullToObject(obj, key);
}

/* M: one metric's statistics from its tally. */
static cJSON *metric_json(const agg_metric_t *am, const tally_t *t)
{
    const metric_t *m = am->m;
    stats_acc_t norm, raw;
    stats_acc_init(&norm);
    stats_acc_init(&raw);
    uint64_t n = 0, na = t->na_unrated;
    for (size_t r = 0; r < m->n_ratings; r++) {
        n += t->ok[r];
        na += t->na[r];
        if (m->kind == METRIC_FLOAT) {
            stats_acc_add_n(&norm, am->norm[r], t->ok[r]);
            stats_acc_add_n(&raw, m->ratings[r].value, t->ok[r]);
        }
    }
    bool have = m->kind == METRIC_FLOAT && n > 0;
    cJSON *o = cJSON_CreateObject();
    add_number_or_null(o, "mean", have, stats_acc_mean(&norm));
    add_number_or_null(o, "mean_score", have, stats_acc_mean(&raw));
    add_number_or_null(o, "std", have, stats_acc_std(&norm));
    cJSON_AddNumberToObject(o, "n", (double)n);
    cJSON_AddNumberToObject(o, "n_unscored", (double)t->unscored);
    cJSON_AddNumberToObject(o, "n_not_applicable", (double)na);
    cJSON_AddNumberToObject(o, "n_error", (double)t->error);
    if (have) add_interval(o, "ci95", &norm, 0.0, 1.0);
    else cJSON_AddNullToObject(o, "ci95");
    cJSON *ratings = cJSON_AddObjectToObject(o, "ratings");
    for (size_t r = 0; r < m->n_ratings; r++)
        cJSON_AddNumberToObject(ratings, m->ratings[r].definition, (double)(t->ok[r] + t->na[r]));
    cJSON_AddBoolToObject(o, "lower_is_better", m->lower_is_better);
    return o;
}

static cJSON *metrics_json(const aggregate_t *a, const tally_t *tallies)
{
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; i < a->n_metrics; i++)
        cJSON_AddItemToObject(o, a->metrics[i].m->name, metric_json(&a->metrics[i], &tallies[i]));
    return o;
}

static int cat_cmp(const void *x, const void *y)
{
    const category_t *const *p = x, *const *q = y;
    return strcmp((*p)->name, (*q)->name);
}

/* T: one target. `sorted` lists the categories by name. */
static cJSON *target_json(const aggregate_t *a, int target, category_t *const *sorted)
{
    cJSON *o = cJSON_CreateObject();
    if (a->model[target]) cJSON_AddStringToObject(o, "model", a->model[target]);
    else cJSON_AddNullToObject(o, "model");
    cJSON_AddItemToObject(o, "metrics", metrics_json(a, &a->tallies[(size_t)target * a->n_metrics]));
    cJSON *cats = cJSON_AddObjectToObject(o, "categories");
    for (size_t i = 0; i < a->n_cats; i++) {
        if (!sorted[i]->seen[target]) continue;
        cJSON_AddItemToObject(cats, sorted[i]->name,
                              metrics_json(a, &sorted[i]->tallies[(size_t)target * a->n_metrics]));
    }
    return o;
}

/* C: the paired comparison of one float metric. */
static cJSON *comparison_json(const agg_metric_t *am)
{
    const metric_t *m = am->m;
    double sign = m->lower_is_better ? -1.0 : 1.0;
    stats_acc_t d;
    stats_acc_init(&d);
    uint64_t wins = 0, ties = 0, losses = 0;
    for (size_t c = 0; c < m->n_ratings; c++)
        for (size_t b = 0; b < m->n_ratings; b++) {
            uint64_t count = am->pairs[c][b];
            if (!count) continue;
            double diff = sign * (am->norm[c] - am->norm[b]);
            stats_acc_add_n(&d, diff, count);
            if (diff > 0) wins += count;
            else if (diff < 0) losses += count;
            else ties += count;
        }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "n", (double)d.n);
    add_number_or_null(o, "mean_diff", d.n > 0, stats_acc_mean(&d));
    add_interval(o, "ci95", &d, -1.0, 1.0);
    cJSON_AddNumberToObject(o, "wins", (double)wins);
    cJSON_AddNumberToObject(o, "ties", (double)ties);
    cJSON_AddNumberToObject(o, "losses", (double)losses);
    add_number_or_null(o, "win_rate", d.n > 0, d.n ? (double)wins / (double)d.n : 0.0);
    cJSON_AddBoolToObject(o, "lower_is_better", m->lower_is_better); /* d was flipped for these */
    return o;
}

cJSON *aggregate_summary(const aggregate_t *a)
{
    cJSON *s = cJSON_CreateObject();
    if (a->job_id) cJSON_AddStringToObject(s, "job_id", a->job_id);
    else cJSON_AddNullToObject(s, "job_id");
    cJSON *rec = cJSON_AddObjectToObject(s, "records");
    cJSON_AddNumberToObject(rec, "total", (double)a->records_total);
    cJSON_AddNumberToObject(rec, "invalid_skipped", (double)a->records_invalid);

    category_t **sorted = xmalloc((a->n_cats ? a->n_cats : 1) * sizeof(category_t *));
    for (size_t i = 0; i < a->n_cats; i++) sorted[i] = &a->cats[i];
    qsort(sorted, a->n_cats, sizeof(category_t *), cat_cmp);

    cJSON *targets = cJSON_AddObjectToObject(s, "targets");
    cJSON_AddItemToObject(targets, "custom", target_json(a, TARGET_CUSTOM, sorted));
    if (a->n_targets > 1) {
        cJSON_AddItemToObject(targets, "base", target_json(a, TARGET_BASE, sorted));
        cJSON *cmp = cJSON_AddObjectToObject(s, "comparison");
        for (size_t i = 0; i < a->n_metrics; i++)
            if (a->metrics[i].paired)
                cJSON_AddItemToObject(cmp, a->metrics[i].m->name, comparison_json(&a->metrics[i]));
    }
    free(sorted);
    return s;
}

void aggregate_destroy(aggregate_t **self_p)
{
    if (!self_p || !*self_p) return;
    aggregate_t *a = *self_p;
    for (size_t i = 0; i < a->n_metrics; i++) {
        metric_destroy(&a->metrics[i].m);
        for (int t = 0; t < N_TARGETS; t++) free(a->metrics[i].slots[t]);
    }
    free(a->metrics);
    free(a->tallies);
    for (size_t i = 0; i < a->n_cats; i++) {
        free(a->cats[i].name);
        free(a->cats[i].tallies);
    }
    free(a->cats);
    free(a->cat_index);
    free(a->job_id);
    for (int t = 0; t < N_TARGETS; t++) free(a->model[t]);
    free(a);
    *self_p = NULL;
}
