/* cache: cheap iteration (reused responses, the cache of answers); see cache.h for the DESIGN.
 * Owns: the keys (SHA-256 over length-prefixed fields), what is looked up before a shard goes out
 * and committed in the workers' place, what is kept when their results come in, the job's counts
 * of calls not made, and the process's counters for /metrics. Not here: the SQL (store_cache.c),
 * the checks of a reused job at submission (reuse.c), the plan sent to the workers (dispatch.c). */
#define LOG_MODULE "cache"
#include "cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "httpd.h"
#include "log.h"
#include "mem.h"

/* Bumped whenever what a key covers changes, so older answers are simply never found again. */
#define KEY_INFERENCE "llmaj-cache-inference-1"
#define KEY_JUDGE "llmaj-cache-judge-1"

static uint64_t counters[7]; /* lookups[2], hits[2], stored[2], reused: updated atomically */
enum { C_LOOKUP = 0, C_HIT = 2, C_STORED = 4, C_REUSED = 6 };

static void bump(int which, uint64_t n) { __atomic_add_fetch(&counters[which], n, __ATOMIC_RELAXED); }

void cache_stats(cache_stats_t *out)
{
    for (int k = 0; k < 2; k++) {
        out->lookups[k] = __atomic_load_n(&counters[C_LOOKUP + k], __ATOMIC_RELAXED);
        out->hits[k] = __atomic_load_n(&counters[C_HIT + k], __ATOMIC_RELAXED);
        out->stored[k] = __atomic_load_n(&counters[C_STORED + k], __ATOMIC_RELAXED);
    }
    out->reused = __atomic_load_n(&counters[C_REUSED], __ATOMIC_RELAXED);
}

/* ---- keys ---- */

/* One field of a key: its length on 8 bytes then its bytes; NULL is a length no text has.
 * EVP_DigestUpdate on an initialised SHA-256 context only fails on a broken library (start()
 * aborts on one), so its result is not checked. */
static void field(EVP_MD_CTX *h, const char *s)
{
    uint64_t n = s ? (uint64_t)strlen(s) : UINT64_MAX;
    unsigned char len[8];
    for (int i = 0; i < 8; i++) len[i] = (unsigned char)(n >> (8 * i));
    EVP_DigestUpdate(h, len, sizeof len);
    if (s) EVP_DigestUpdate(h, s, strlen(s));
}

static void field_num(EVP_MD_CTX *h, double v)
{
    char b[40];
    snprintf(b, sizeof b, "%.17g", v);
    field(h, b);
}

/* The settings every call of a model carries (model, region, shape, generation). */
static void settings(EVP_MD_CTX *h, const spec_t *sp, const char *model, const spec_gen_t *g)
{
    field(h, model);
    field(h, sp->region);
    field(h, spec_sagemaker_api(sp, model));
    field_num(h, g->max_tokens);
    field_num(h, g->temperature);
    field_num(h, g->top_p);
}

static void finish(EVP_MD_CTX *h, uint8_t key[CACHE_KEY_LEN])
{
    unsigned int n = 0;
    unsigned char md[EVP_MAX_MD_SIZE];
    EVP_DigestFinal_ex(h, md, &n);
    memcpy(key, md, CACHE_KEY_LEN);
    EVP_MD_CTX_free(h);
}

static EVP_MD_CTX *start(const char *kind)
{
    EVP_MD_CTX *h = EVP_MD_CTX_new();
    if (!h || EVP_DigestInit_ex(h, EVP_sha256(), NULL) != 1) {
        log_error("SHA-256 is not available from OpenSSL");
        abort(); /* the library is linked in and SHA-256 is always there: a broken installation */
    }
    field(h, kind);
    return h;
}

void cache_key_inference(const spec_t *sp, const char *model, const record_t *rec, uint8_t key[CACHE_KEY_LEN])
{
    EVP_MD_CTX *h = start(KEY_INFERENCE);
    settings(h, sp, model, &sp->inference);
    field(h, rec->prompt);
    field(h, rec->context);
    finish(h, key);
}

void cache_key_judge(const spec_t *sp, const metric_t *m, const record_t *rec, const char *response,
                     uint8_t key[CACHE_KEY_LEN])
{
    static const char fixed_nonce[METRIC_NONCE_LEN + 1] = "00000000000000000000000000000000";
    EVP_MD_CTX *h = start(KEY_JUDGE);
    settings(h, sp, sp->evaluator_model, &sp->judge);
    field(h, sp->judge_system_prompt ? sp->judge_system_prompt : metric_judge_system());
    metric_vars_t vars = {.prompt = rec->prompt,
                          .prediction = response,
                          .ground_truth = rec->reference,
                          .context = rec->context,
                          .nonce = fixed_nonce};
    char *prompt = metric_render(m, &vars);
    field(h, prompt);
    free(prompt);
    field(h, m->verdict_schema);
    field(h, rec->prompt);
    field(h, response);
    field(h, rec->reference);
    field(h, rec->context);
    finish(h, key);
}

/* ---- before a shard goes out ---- */

static const char *target_model(const spec_t *sp, unsigned t)
{
    return t == TARGET_CUSTOM ? sp->model : sp->base_model;
}

/* A hit of metric m's verdict as a committed score of r; false when there is none (or the kept
 * rating is not one of the scale's any more). */
static bool judge_hit(const spec_t *sp, const metric_t *m, const record_t *rec, const char *response, store_t *st,
                      result_t *r)
{
    uint8_t key[CACHE_KEY_LEN];
    cache_key_judge(sp, m, rec, response, key);
    bump(C_LOOKUP + STORE_CACHE_JUDGE, 1);
    store_cache_val_t v;
    int g = store_cache_get(st, STORE_CACHE_JUDGE, key, &v);
    int ri = g == 0 && v.rating ? metric_find_rating(m, v.rating, strlen(v.rating)) : -1;
    if (ri < 0) {
        store_cache_val_clear(&v);
        return false;
    }
    const metric_rating_t *rt = &m->ratings[ri];
    score_t *sc = result_add_score(r);
    sc->metric = xstrdup(m->name);
    sc->rating = xstrdup(rt->definition);
    sc->explanation = v.text;
    v.text = NULL;
    sc->cached = true;
    if (rt->not_applicable) {
        sc->status = SCORE_NOT_APPLICABLE;
    } else {
        sc->status = SCORE_OK;
        if (m->kind == METRIC_FLOAT) {
            sc->has_score = true;
            sc->score = rt->value;
            sc->normalized = metric_normalize(m, rt->value);
        }
    }
    store_cache_val_clear(&v);
    bump(C_HIT + STORE_CACHE_JUDGE, 1);
    return true;
}

/* The cache hits of one target of a record, committed. 0, or -1 (the job is failed). */
static int prefill_unit(job_t *j, ingest_t *in, const record_t *rec, unsigned t, const store_unit_t *u)
{
    const spec_t *sp = j->spec;
    store_t *st = ingest_store(in);
    result_t r = {0};
    r.record_index = rec->index;
    r.target = (target_t)t;
    if (u->has_output) {
        if (u->error || !u->response) return 0; /* the worker evaluates the whole target again */
        r.response = xstrdup(u->response);
        r.model = xstrdup(u->model);
        r.response_from_dataset = u->from_dataset;
    } else if (sp->reuse_from) { /* cache_prefill checked that there is none such */
        job_fail(j, "reuse_responses_from: job %s has no response for record %llu (%s) any more", sp->reuse_from,
                 (unsigned long long)rec->index, target_name((target_t)t));
        return -1;
    } else {
        const char *model = target_model(sp, t);
        const record_response_t *dr = record_response_for(rec, model, target_model(sp, t ^ 1u), t);
        if (dr) {
            r.response = xstrdup(dr->response);
            r.model = xstrdup(dr->model_identifier ? dr->model_identifier : model ? model : "dataset");
            r.response_from_dataset = true; /* committed only along with a verdict (else the worker as usual) */
        } else if (model) {
            uint8_t key[CACHE_KEY_LEN];
            cache_key_inference(sp, model, rec, key);
            bump(C_LOOKUP + STORE_CACHE_INFERENCE, 1);
            store_cache_val_t v;
            int g = store_cache_get(st, STORE_CACHE_INFERENCE, key, &v);
            if (g == 0 && v.text) {
                bump(C_HIT + STORE_CACHE_INFERENCE, 1);
                r.response = v.text;
                v.text = NULL;
                r.model = xstrdup(model);
                r.origin = RESPONSE_CACHED;
            }
            store_cache_val_clear(&v);
        }
    }
    if (r.response && sp->cache)
        for (size_t k = 0; k < sp->n_metrics; k++) {
            const metric_t *m = sp->metrics[k];
            bool scored = false;
            for (size_t s = 0; s < u->n_metrics && !scored; s++) scored = strcmp(u->metrics[s], m->name) == 0;
            if (!scored) judge_hit(sp, m, rec, r.response, st, &r);
        }
    int rc = 0;
    if (r.origin == RESPONSE_CACHED || r.n_scores) rc = ingest_commit(in, j, &r);
    result_clear(&r);
    return rc;
}

int cache_prefill(job_t *j, ingest_t *in, size_t shard)
{
    const spec_t *sp = j->spec;
    if (!sp->cache && !sp->reuse_from) return 0;
    store_t *st = ingest_store(in);
    const shard_t *sh = &j->shards[shard];
    if (sp->reuse_from) {
        uint64_t copied = 0;
        if (store_outputs_reuse(st, j->id, sp->reuse_from, sh->first, sh->last, j->targets, &copied) < 0) {
            job_fail(j, "database %s: cannot copy job %s's responses of shard %zu: %s", store_path(st), sp->reuse_from,
                     shard, store_errmsg(st));
            return -1;
        }
        bump(C_REUSED, copied);
        j->saved[STORE_SAVED_REUSED] += copied;
        /* Every record of the shard must have its responses now: a worker must never be asked for
         * an inference this job promised not to make (the job reused may have been deleted). */
        uint64_t usable = 0;
        if (store_outputs_usable(st, j->id, sh->first, sh->last, j->targets, &usable) < 0) {
            job_fail(j, "database %s: cannot count shard %zu's responses: %s", store_path(st), shard, store_errmsg(st));
            return -1;
        }
        if (usable < (uint64_t)sh->n * j->targets) {
            job_fail(j,
                     "reuse_responses_from: job %s no longer has the responses of %llu record-target(s) of records "
                     "%llu-%llu (deleted?): nothing is asked of the models in their place",
                     sp->reuse_from, (unsigned long long)((uint64_t)sh->n * j->targets - usable),
                     (unsigned long long)sh->first, (unsigned long long)sh->last);
            return -1;
        }
        if (!sp->cache) return 0; /* nothing else to look up: only judge calls remain */
    }
    record_t *recs = NULL;
    size_t n = 0;
    if (store_records_range(st, j->id, sh->first, sh->last, (uint64_t)j->targets * j->n_metrics, &recs, &n) < 0) {
        job_fail(j, "database %s: cannot read shard %zu: %s", store_path(st), shard, store_errmsg(st));
        return -1;
    }
    int rc = 0;
    for (size_t k = 0; k < n; k++) {
        store_unit_t u[2];
        if (rc == 0 && store_units_of(st, j->id, recs[k].index, u) < 0) {
            job_fail(j, "database %s: cannot read what record %llu has committed: %s", store_path(st),
                     (unsigned long long)recs[k].index, store_errmsg(st));
            rc = -1;
        } else if (rc == 0) {
            for (unsigned t = 0; t < j->targets && rc == 0; t++)
                if (u[t].n_metrics < j->n_metrics) rc = prefill_unit(j, in, &recs[k], t, &u[t]);
            store_unit_clear(&u[0]);
            store_unit_clear(&u[1]);
        }
        record_clear(&recs[k]);
    }
    free(recs);
    if (ingest_flush(in) < 0) rc = -1;
    return rc;
}

/* ---- after a result came in ---- */

void cache_count(job_t *j, const result_t *r, bool new_output, size_t new_scores)
{
    if (r->origin == RESPONSE_CACHED && new_output) j->saved[STORE_SAVED_INFERENCE]++;
    size_t cached = 0;
    for (size_t i = 0; i < r->n_scores; i++) cached += r->scores[i].cached;
    /* The scheduler's results carry cached verdicts only, a worker's none: all new ones or none. */
    if (cached && cached == r->n_scores) j->saved[STORE_SAVED_JUDGE] += new_scores;
}

static void put(store_t *st, const job_t *j, store_cache_kind_t kind, const uint8_t key[CACHE_KEY_LEN],
                const store_cache_val_t *v)
{
    bool added = false;
    if (store_cache_put(st, kind, key, v, &added) < 0)
        log_warn("job %s: %s: an answer could not be kept in the cache (%s)", j->id, store_path(st), store_errmsg(st));
    else if (added) bump(C_STORED + kind, 1);
}

void cache_learn(store_t *st, const job_t *j, const result_t *r, bool new_output, size_t new_scores)
{
    const spec_t *sp = j->spec;
    if (!sp->cache || !r->response || (!new_output && !new_scores)) return;
    record_t rec;
    int g = store_record_get(st, j->id, r->record_index, &rec);
    if (g != 0) {
        if (g < 0)
            log_warn("job %s: %s: record %llu unreadable: its answers are not kept in the cache", j->id, store_path(st),
                     (unsigned long long)r->record_index);
        return;
    }
    uint8_t key[CACHE_KEY_LEN];
    const char *model = target_model(sp, (unsigned)r->target);
    if (new_output && model && !r->error && !r->response_from_dataset && r->origin == RESPONSE_CALLED) {
        cache_key_inference(sp, model, &rec, key);
        store_cache_val_t v = {.text = r->response, .usage = r->usage};
        put(st, j, STORE_CACHE_INFERENCE, key, &v);
    }
    for (size_t i = 0; i < r->n_scores; i++) {
        const score_t *sc = &r->scores[i];
        if (sc->cached || !sc->rating || (sc->status != SCORE_OK && sc->status != SCORE_NOT_APPLICABLE)) continue;
        const metric_t *m = NULL;
        for (size_t k = 0; k < sp->n_metrics && !m; k++)
            if (strcmp(sp->metrics[k]->name, sc->metric) == 0) m = sp->metrics[k];
        if (!m) continue;
        cache_key_judge(sp, m, &rec, r->response, key);
        store_cache_val_t v = {.text = sc->explanation, .status = sc->status, .rating = sc->rating, .usage = sc->usage};
        put(st, j, STORE_CACHE_JUDGE, key, &v);
    }
    record_clear(&rec);
}

/* ---- what the summary and /metrics say ---- */

cJSON *cache_status_json(store_t *st, const char *job_id, bool cache, const char *reused_from, const uint64_t *saved)
{
    uint64_t cached = 0, reused = 0, verdicts = 0;
    if (saved) {
        reused = saved[STORE_SAVED_REUSED];
        cached = saved[STORE_SAVED_INFERENCE];
        verdicts = saved[STORE_SAVED_JUDGE];
    } else if (store_origin_counts(st, job_id, &cached, &reused, &verdicts) < 0) {
        return NULL;
    }
    cJSON *c = cJSON_CreateObject();
    cJSON_AddBoolToObject(c, "enabled", cache);
    if (reused_from) cJSON_AddStringToObject(c, "reused_from", reused_from);
    else cJSON_AddNullToObject(c, "reused_from");
    cJSON_AddNumberToObject(c, "reused_responses", (double)reused);
    cJSON_AddNumberToObject(c, "inference_hits", (double)cached);
    cJSON_AddNumberToObject(c, "judge_hits", (double)verdicts);
    return c;
}

void cache_summary_add(store_t *st, const char *job_id, const spec_t *sp, cJSON *summary)
{
    if (!sp->cache && !sp->reuse_from) return;
    cJSON *c = cache_status_json(st, job_id, sp->cache, sp->reuse_from, NULL); /* exact, once */
    if (!c) {
        log_warn("job %s: %s: its cache hits could not be counted for the summary (%s)", job_id, store_path(st),
                 store_errmsg(st));
        return;
    }
    cJSON_AddItemToObject(summary, "cache", c);
}

int cache_metrics(buf_t *b)
{
    cache_stats_t s;
    cache_stats(&s);
    static const char *const kinds[2] = {"inference", "judge"};
    struct {
        const char *name, *help;
        const uint64_t *v;
    } fam[] = {
        {"llmaj_scheduler_cache_lookups_total", "Model and judge calls looked up in the cache (\"cache\": true).",
         s.lookups},
        {"llmaj_scheduler_cache_hits_total", "Lookups answered from the cache: calls not made.", s.hits},
        {"llmaj_scheduler_cache_stored_total", "Answers kept in the cache.", s.stored},
    };
    for (size_t f = 0; f < sizeof fam / sizeof fam[0]; f++) {
        if (httpd_family(b, fam[f].name, HTTPD_COUNTER, fam[f].help) < 0) return -1;
        for (int k = 0; k < 2; k++) {
            const char *l[] = {"kind", kinds[k], NULL};
            if (httpd_sample_u64(b, fam[f].name, l, fam[f].v[k]) < 0) return -1;
        }
    }
    return httpd_counter(b, "llmaj_scheduler_reused_responses_total",
                         "Responses copied from another job (\"reuse_responses_from\"): model calls not made.",
                         s.reused);
}
