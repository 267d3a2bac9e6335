/* wire: protocol v1 messages <-> MessagePack bytes. schemas/protocol.md is the reference for
 * every layout and limit below; keep the two in step.
 *
 * Owns: the byte layout of the header frame and of the four payloads (shard, result, rate table);
 * the MessagePack tokens themselves are mpack.c's. Does not own sockets,
 * framing, sessions or any routing decision (broker/, worker/ and scheduler/ do).
 *
 * DESIGN. Every frame comes from the network: the bounded reader of mpack.c (its DESIGN paragraph
 * has the rules) reads it, and each message's decoder adds its own caps (string lengths, array
 * counts, integer ranges, finite doubles), required keys and cross-field checks.
 * The packer refuses to produce what the reader would reject (a string over its cap, a message
 * over WIRE_MAX_MSG, a NaN score): such a payload encode returns -1 and logs why, and leaves `out`
 * as it was, like a buffer-cap failure. */
#define LOG_MODULE "wire"
#include "wire.h"

#include "mpack.h"

#include "log.h"
#include "mem.h"
#include "metric.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Limits (protocol.md, "Limits"). */
#define MAX_SPEC (4u << 20)  /* shard.spec */
#define MAX_TEXT (16u << 20) /* record strings, responses, explanations, errors */
#define MAX_LABEL 4095u      /* model strings, rating names, rate keys */
#define MAX_METRIC ((size_t)METRIC_MAX_NAME)
#define MAX_RECORDS 100000u
#define MAX_RESPONSES 16u
#define MAX_SCORES 64u
#define MAX_RATES 10000u

static const char *const type_names[WIRE_TYPE_MAX] = {
    [WIRE_HELLO] = "HELLO",   [WIRE_WELCOME] = "WELCOME",       [WIRE_HEARTBEAT] = "HEARTBEAT",
    [WIRE_CREDIT] = "CREDIT", [WIRE_SUBMIT] = "SUBMIT",         [WIRE_SHARD] = "SHARD",
    [WIRE_RESULT] = "RESULT", [WIRE_SHARD_DONE] = "SHARD_DONE", [WIRE_CANCEL] = "CANCEL",
    [WIRE_DEMAND] = "DEMAND", [WIRE_ALLOT] = "ALLOT",           [WIRE_BYE] = "BYE",
    [WIRE_RETURN] = "RETURN", [WIRE_REVOKE] = "REVOKE",
};

const char *wire_type_name(wire_type_t t)
{
    if ((int)t <= 0 || (int)t >= WIRE_TYPE_MAX || !type_names[t]) return "?";
    return type_names[t];
}

/* ------------------------------------------------------------------------------------------ */
/* Header: [version, type, {job, shard, lease, n, role, name, threads, hb, secret, lease_s}]  */

enum { H_JOB, H_SHARD, H_LEASE, H_N, H_ROLE, H_NAME, H_THREADS, H_HB, H_SECRET, H_LEASE_S, H_NKEYS };
static const char *const hdr_keys[H_NKEYS] = {"job",  "shard",   "lease", "n",      "role",
                                              "name", "threads", "hb",    "secret", "lease_s"};

int wire_hdr_encode(const wire_hdr_t *h, buf_t *out)
{
    mpack_w_t w;
    mpack_w_init(&w, out);
    size_t job = strnlen(h->job_id, sizeof h->job_id - 1);
    size_t role = strnlen(h->role, sizeof h->role - 1);
    size_t name = strnlen(h->name, sizeof h->name - 1);
    size_t secret = strnlen(h->secret, sizeof h->secret - 1);
    size_t n = (job > 0) + (h->shard_id != 0) + (h->lease != 0) + (h->n != 0) + (role > 0) + (name > 0) +
               (h->threads != 0) + (h->heartbeat_ms != 0) + (secret > 0) + (h->lease_max_s != 0);
    mpack_w_array(&w, 3);
    mpack_w_uint(&w, WIRE_VERSION);
    mpack_w_uint(&w, (uint64_t)h->type);
    mpack_w_map(&w, n);
    if (job) {
        mpack_w_key(&w, "job");
        mpack_w_str(&w, h->job_id, job);
    }
    if (h->shard_id) mpack_w_kuint(&w, "shard", h->shard_id);
    if (h->lease) mpack_w_kuint(&w, "lease", h->lease);
    if (h->n) mpack_w_kuint(&w, "n", h->n);
    if (role) {
        mpack_w_key(&w, "role");
        mpack_w_str(&w, h->role, role);
    }
    if (name) {
        mpack_w_key(&w, "name");
        mpack_w_str(&w, h->name, name);
    }
    if (h->threads) mpack_w_kuint(&w, "threads", h->threads);
    if (h->heartbeat_ms) mpack_w_kuint(&w, "hb", h->heartbeat_ms);
    if (secret) {
        mpack_w_key(&w, "secret");
        mpack_w_str(&w, h->secret, secret);
    }
    if (h->lease_max_s) mpack_w_kuint(&w, "lease_s", h->lease_max_s);
    return mpack_w_finish(&w, "header");
}

static int hdr_field(mpack_r_t *r, int k, void *obj)
{
    wire_hdr_t *h = obj;
    switch (k) {
    case H_JOB: return mpack_r_str_into(r, h->job_id, sizeof h->job_id);
    case H_SHARD: return mpack_r_uint(r, UINT64_MAX, &h->shard_id);
    case H_LEASE: return mpack_r_uint(r, UINT64_MAX, &h->lease);
    case H_N: return mpack_r_u32(r, &h->n);
    case H_ROLE: return mpack_r_str_into(r, h->role, sizeof h->role);
    case H_NAME: return mpack_r_str_into(r, h->name, sizeof h->name);
    case H_THREADS: return mpack_r_u32(r, &h->threads);
    case H_HB: return mpack_r_u32(r, &h->heartbeat_ms);
    case H_SECRET: return mpack_r_str_into(r, h->secret, sizeof h->secret);
    case H_LEASE_S: return mpack_r_u32(r, &h->lease_max_s);
    }
    return 0;
}

/* What each type needs beyond well-formed fields (protocol.md, "Messages"). */
static int hdr_check(mpack_r_t *r, const wire_hdr_t *h)
{
    const char *t = wire_type_name(h->type);
    switch (h->type) {
    case WIRE_HELLO:
        if (strcmp(h->role, "worker") != 0 && strcmp(h->role, "scheduler") != 0) {
            char shown[sizeof h->role];
            mpack_key_display(shown, sizeof shown, h->role, strlen(h->role));
            return mpack_r_fail(r, "HELLO role \"%s\" is not \"worker\" or \"scheduler\"", shown);
        }
        break;
    case WIRE_WELCOME:
        if (h->heartbeat_ms == 0) return mpack_r_fail(r, "WELCOME without a heartbeat interval (hb)");
        break;
    case WIRE_CREDIT:
        if (h->n == 0) return mpack_r_fail(r, "CREDIT of 0 shards");
        break;
    case WIRE_SHARD:
    case WIRE_RESULT:
    case WIRE_SHARD_DONE:
    case WIRE_REVOKE:
        if (h->lease == 0) return mpack_r_fail(r, "%s without a lease", t);
        /* fall through */
    case WIRE_SUBMIT:
    case WIRE_CANCEL:
        if (!h->job_id[0]) return mpack_r_fail(r, "%s without a job id", t);
        break;
    case WIRE_RETURN:
        /* A shard handed back names its job and lease; "no more work" names neither. */
        if (h->job_id[0] && h->lease == 0) return mpack_r_fail(r, "RETURN of a shard without a lease");
        if (!h->job_id[0] && h->lease != 0) return mpack_r_fail(r, "RETURN of a lease without a job id");
        break;
    default: break;
    }
    return 0;
}

static int hdr_read(mpack_r_t *r, wire_hdr_t *h)
{
    uint64_t n = 0, v = 0;
    if (mpack_r_enter(r, MPACK_ARRAY, &n) < 0) return -1;
    if (n == 0) return mpack_r_fail(r, "expected [version, type, fields], got an empty array");
    if (mpack_r_uint(r, UINT64_MAX, &v) < 0) return mpack_r_wrap(r, ".version");
    if (v != WIRE_VERSION)
        return mpack_r_fail(r, "protocol version %llu, this peer speaks %d", (unsigned long long)v, WIRE_VERSION);
    if (n != 3) return mpack_r_fail(r, "expected [version, type, fields], got an array of %llu", (unsigned long long)n);
    if (mpack_r_uint(r, UINT64_MAX, &v) < 0) return mpack_r_wrap(r, ".type");
    if (v == 0 || v >= WIRE_TYPE_MAX) return mpack_r_fail(r, "unknown message type %llu", (unsigned long long)v);
    h->type = (wire_type_t)v;
    uint32_t present;
    if (mpack_r_object(r, hdr_keys, H_NKEYS, hdr_field, h, &present) < 0) return -1;
    mpack_r_leave(r);
    if (mpack_r_end(r) < 0) return -1;
    return hdr_check(r, h);
}

int wire_hdr_decode(const void *data, size_t len, wire_hdr_t *h, char *err, size_t errlen)
{
    mpack_r_t r;
    mpack_r_init(&r, data, len, err, errlen);
    wire_hdr_t tmp;
    memset(&tmp, 0, sizeof tmp);
    if (mpack_r_frame(&r, len) < 0 || hdr_read(&r, &tmp) < 0) {
        mpack_r_wrap(&r, "header");
        memset(h, 0, sizeof *h);
        return -1;
    }
    *h = tmp;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Shard: {spec, recs: [record]}; record: {idx, id, prompt, ref, ctx, cat, resps: [{text, model}],
 * plan: [{t, resp, from_ds, model, metrics: [name]}]} (plan: optional, see wire_plan_t) */

enum { S_SPEC, S_RECS, S_NKEYS };
static const char *const shard_keys[S_NKEYS] = {"spec", "recs"};
enum { R_IDX, R_ID, R_PROMPT, R_REF, R_CTX, R_CAT, R_RESPS, R_PLAN, R_NKEYS };
static const char *const rec_keys[R_NKEYS] = {"idx", "id", "prompt", "ref", "ctx", "cat", "resps", "plan"};
enum { P_TEXT, P_MODEL, P_NKEYS };
static const char *const resp_keys[P_NKEYS] = {"text", "model"};
enum { U_T, U_RESP, U_FROM_DS, U_MODEL, U_METRICS, U_NKEYS };
static const char *const unit_keys[U_NKEYS] = {"t", "resp", "from_ds", "model", "metrics"};

/* A record and its plan as read off the wire (split into wire_shard_t's two arrays). */
typedef struct {
    record_t rec;
    wire_plan_t plan;
} wire_rec_t;

void wire_plan_clear(wire_plan_t *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->n_units; i++) {
        wire_unit_plan_t *u = &p->units[i];
        free(u->response);
        free(u->model);
        for (size_t m = 0; m < u->n_metrics; m++) free(u->metrics[m]);
        free(u->metrics);
    }
    free(p->units);
    memset(p, 0, sizeof *p);
}

static int pk_plan(mpack_w_t *w, const wire_plan_t *p)
{
    if (p->n_units > 2) return mpack_w_limit(w, "plan", "%zu targets exceed the limit of 2", p->n_units);
    mpack_w_key(w, "plan");
    mpack_w_array(w, p->n_units);
    for (size_t i = 0; i < p->n_units; i++) {
        const wire_unit_plan_t *u = &p->units[i];
        if ((int)u->target != TARGET_CUSTOM && u->target != TARGET_BASE)
            return mpack_w_limit(w, "plan", "unknown target %d", (int)u->target);
        if (u->n_metrics > MAX_SCORES)
            return mpack_w_limit(w, "plan", "%zu metrics exceed the limit of %u", u->n_metrics, MAX_SCORES);
        mpack_w_map(w, 3 + (u->response != NULL) + (u->model != NULL));
        mpack_w_kuint(w, "t", (uint64_t)u->target);
        if (mpack_w_kstr(w, "resp", u->response, MAX_TEXT, false) < 0) return -1;
        mpack_w_kbool(w, "from_ds", u->from_dataset);
        if (mpack_w_kstr(w, "model", u->model, MAX_LABEL, false) < 0) return -1;
        mpack_w_key(w, "metrics");
        mpack_w_array(w, u->n_metrics);
        for (size_t m = 0; m < u->n_metrics; m++) {
            size_t len = u->metrics[m] ? strlen(u->metrics[m]) : 0;
            if (!len || len > MAX_METRIC) return mpack_w_limit(w, "plan", "metric %zu: empty or too long", m);
            mpack_w_str(w, u->metrics[m], len);
        }
    }
    return w->failed ? -1 : 0;
}

static int pk_response(mpack_w_t *w, const record_response_t *p)
{
    mpack_w_map(w, 1 + (p->model_identifier != NULL));
    if (mpack_w_kstr(w, "text", p->response, MAX_TEXT, true) < 0) return -1;
    return mpack_w_kstr(w, "model", p->model_identifier, MAX_TEXT, false);
}

static int pk_record(mpack_w_t *w, const record_t *rec, const wire_plan_t *plan)
{
    if (rec->n_responses > MAX_RESPONSES)
        return mpack_w_limit(w, "resps", "%zu responses exceed the limit of %u", rec->n_responses, MAX_RESPONSES);
    if (rec->n_responses && !rec->responses) return mpack_w_limit(w, "resps", "missing");
    bool planned = plan && plan->n_units > 0;
    mpack_w_map(w, 2 + (rec->id != NULL) + (rec->reference != NULL) + (rec->context != NULL) + (rec->category != NULL) +
                       (rec->n_responses > 0) + planned);
    mpack_w_kuint(w, "idx", rec->index);
    if (mpack_w_kstr(w, "id", rec->id, MAX_TEXT, false) < 0 ||
        mpack_w_kstr(w, "prompt", rec->prompt, MAX_TEXT, true) < 0 ||
        mpack_w_kstr(w, "ref", rec->reference, MAX_TEXT, false) < 0 ||
        mpack_w_kstr(w, "ctx", rec->context, MAX_TEXT, false) < 0 ||
        mpack_w_kstr(w, "cat", rec->category, MAX_TEXT, false) < 0)
        return -1;
    if (rec->n_responses) {
        mpack_w_key(w, "resps");
        mpack_w_array(w, rec->n_responses);
        for (size_t j = 0; j < rec->n_responses; j++)
            if (pk_response(w, &rec->responses[j]) < 0) {
                mpack_w_wrap(w, "[%zu]", j);
                return mpack_w_wrap(w, ".resps");
            }
    }
    if (planned && pk_plan(w, plan) < 0) return -1;
    return w->failed ? -1 : 0;
}

int wire_shard_encode(const char *spec_json, const record_t *records, size_t n, buf_t *out)
{
    return wire_shard_encode_plans(spec_json, records, NULL, n, out);
}

int wire_shard_encode_plans(const char *spec_json, const record_t *records, const wire_plan_t *plans, size_t n,
                            buf_t *out)
{
    mpack_w_t w;
    mpack_w_init(&w, out);
    if (n > MAX_RECORDS) {
        mpack_w_limit(&w, "recs", "%zu records exceed the limit of %u", n, MAX_RECORDS);
    } else if (n && !records) {
        mpack_w_limit(&w, "recs", "missing");
    } else {
        mpack_w_map(&w, 2);
        if (mpack_w_kstr(&w, "spec", spec_json, MAX_SPEC, true) == 0) {
            mpack_w_key(&w, "recs");
            mpack_w_array(&w, n);
            for (size_t i = 0; i < n && !w.failed; i++)
                if (pk_record(&w, &records[i], plans ? &plans[i] : NULL) < 0) {
                    mpack_w_wrap(&w, "[%zu]", i);
                    mpack_w_wrap(&w, ".recs");
                }
        }
    }
    return mpack_w_finish(&w, "shard");
}

static int resp_field(mpack_r_t *r, int k, void *obj)
{
    record_response_t *p = obj;
    if (k == P_TEXT) return mpack_r_str(r, MAX_TEXT, &p->response);
    return mpack_r_str(r, MAX_TEXT, &p->model_identifier);
}

/* An array of at most `max` objects of `size` bytes, each read with `field` and required to have
 * the keys in `required`. The array goes to *arr and *count follows every element started, so
 * the caller's clear frees a partly read array as well: the caller stores *arr even on failure. */
static int rd_objects(mpack_r_t *r, uint64_t max, const char *what, size_t size, const char *const *keys, int nkeys,
                      mpack_field_fn field, uint32_t required, void **arr, size_t *count)
{
    uint64_t n = 0;
    if (mpack_r_enter(r, MPACK_ARRAY, &n) < 0) return -1;
    if (n > max)
        return mpack_r_fail(r, "%llu %s exceed the limit of %llu", (unsigned long long)n, what,
                            (unsigned long long)max);
    if (n) *arr = xcalloc(n, size);
    for (uint64_t i = 0; i < n; i++) {
        *count = i + 1;
        uint32_t present;
        if (mpack_r_object(r, keys, nkeys, field, (char *)*arr + i * size, &present) < 0 ||
            mpack_r_required(r, keys, nkeys, required, present) < 0)
            return mpack_r_wrap(r, "[%llu]", (unsigned long long)i);
    }
    mpack_r_leave(r);
    return 0;
}

static int rd_responses(mpack_r_t *r, record_t *rec)
{
    void *arr = NULL;
    int rc = rd_objects(r, MAX_RESPONSES, "responses", sizeof *rec->responses, resp_keys, P_NKEYS, resp_field,
                        1u << P_TEXT, &arr, &rec->n_responses);
    rec->responses = arr;
    return rc;
}

static int unit_field(mpack_r_t *r, int k, void *obj)
{
    wire_unit_plan_t *u = obj;
    uint64_t v;
    switch (k) {
    case U_T:
        if (mpack_r_uint(r, UINT64_MAX, &v) < 0) return -1;
        if (v > TARGET_BASE) return mpack_r_fail(r, "unknown target %llu (0 custom, 1 base)", (unsigned long long)v);
        u->target = (target_t)v;
        return 0;
    case U_RESP: return mpack_r_str(r, MAX_TEXT, &u->response);
    case U_FROM_DS: return mpack_r_bool(r, &u->from_dataset);
    case U_MODEL: return mpack_r_str(r, MAX_LABEL, &u->model);
    case U_METRICS: {
        uint64_t n = 0;
        if (mpack_r_enter(r, MPACK_ARRAY, &n) < 0) return -1;
        if (n > MAX_SCORES)
            return mpack_r_fail(r, "%llu metrics exceed the limit of %u", (unsigned long long)n, MAX_SCORES);
        if (n) u->metrics = xcalloc(n, sizeof *u->metrics);
        for (uint64_t i = 0; i < n; i++) {
            u->n_metrics = i + 1; /* what was allocated is freed by the clear, also on failure */
            if (mpack_r_str(r, MAX_METRIC, &u->metrics[i]) < 0) return mpack_r_wrap(r, "[%llu]", (unsigned long long)i);
            if (!u->metrics[i][0]) return mpack_r_fail(r, "[%llu]: empty metric name", (unsigned long long)i);
        }
        mpack_r_leave(r);
        return 0;
    }
    }
    return 0;
}

static int rd_plan(mpack_r_t *r, wire_plan_t *p)
{
    void *arr = NULL;
    int rc = rd_objects(r, 2, "targets", sizeof *p->units, unit_keys, U_NKEYS, unit_field, 1u << U_T, &arr,
                        &p->n_units);
    p->units = arr;
    if (rc == 0 && p->n_units == 2 && p->units[0].target == p->units[1].target)
        return mpack_r_fail(r, "target %d planned twice", (int)p->units[0].target);
    return rc;
}

static int rec_field(mpack_r_t *r, int k, void *obj)
{
    wire_rec_t *wr = obj;
    record_t *rec = &wr->rec;
    switch (k) {
    case R_PLAN: return rd_plan(r, &wr->plan);
    case R_IDX: return mpack_r_uint(r, UINT64_MAX, &rec->index);
    case R_ID: return mpack_r_str(r, MAX_TEXT, &rec->id);
    case R_PROMPT: return mpack_r_str(r, MAX_TEXT, &rec->prompt);
    case R_REF: return mpack_r_str(r, MAX_TEXT, &rec->reference);
    case R_CTX: return mpack_r_str(r, MAX_TEXT, &rec->context);
    case R_CAT: return mpack_r_str(r, MAX_TEXT, &rec->category);
    case R_RESPS: return rd_responses(r, rec);
    }
    return 0;
}

/* Reads the records with their plans, then splits them into the shard's two arrays (also on
 * failure, so that the shard's clear frees whatever was read). */
static int rd_records(mpack_r_t *r, wire_shard_t *s)
{
    void *arr = NULL;
    size_t n = 0;
    int rc = rd_objects(r, MAX_RECORDS, "records", sizeof(wire_rec_t), rec_keys, R_NKEYS, rec_field, 1u << R_PROMPT,
                        &arr, &n);
    wire_rec_t *wr = arr;
    bool planned = false;
    for (size_t i = 0; i < n; i++) planned |= wr[i].plan.n_units > 0;
    s->n_records = n;
    s->records = n ? xcalloc(n, sizeof *s->records) : NULL;
    s->plans = planned ? xcalloc(n, sizeof *s->plans) : NULL;
    for (size_t i = 0; i < n; i++) {
        s->records[i] = wr[i].rec;
        if (planned) s->plans[i] = wr[i].plan;
        else wire_plan_clear(&wr[i].plan);
    }
    free(wr);
    return rc;
}

static int shard_field(mpack_r_t *r, int k, void *obj)
{
    wire_shard_t *s = obj;
    if (k == S_SPEC) return mpack_r_str(r, MAX_SPEC, &s->spec_json);
    return rd_records(r, s);
}

int wire_shard_decode(const void *data, size_t len, wire_shard_t *out, char *err, size_t errlen)
{
    mpack_r_t r;
    mpack_r_init(&r, data, len, err, errlen);
    wire_shard_t s = {0};
    uint32_t present = 0;
    if (mpack_r_frame(&r, len) < 0 || mpack_r_object(&r, shard_keys, S_NKEYS, shard_field, &s, &present) < 0 ||
        mpack_r_required(&r, shard_keys, S_NKEYS, (1u << S_SPEC) | (1u << S_RECS), present) < 0 ||
        mpack_r_end(&r) < 0) {
        mpack_r_wrap(&r, "shard");
        wire_shard_clear(&s);
        memset(out, 0, sizeof *out);
        return -1;
    }
    *out = s;
    return 0;
}

void wire_shard_clear(wire_shard_t *s)
{
    if (!s) return;
    free(s->spec_json);
    for (size_t i = 0; i < s->n_records; i++) {
        record_clear(&s->records[i]);
        if (s->plans) wire_plan_clear(&s->plans[i]);
    }
    free(s->records);
    free(s->plans);
    memset(s, 0, sizeof *s);
}

/* ------------------------------------------------------------------------------------------ */
/* Result: {job, shard, idx, target, model, resp, from_ds, err, in_tok, out_tok, lat_ms, scores}
 * score:  {metric, status, rating, has_score, score, norm, expl, err, in_tok, out_tok, attempts} */

enum {
    T_JOB,
    T_SHARD,
    T_IDX,
    T_TARGET,
    T_MODEL,
    T_RESP,
    T_FROM_DS,
    T_ERR,
    T_IN,
    T_OUT,
    T_LAT,
    T_SCORES,
    T_ERR_CFG,
    T_NKEYS
};
static const char *const result_keys[T_NKEYS] = {"job", "shard",  "idx",     "target", "model",  "resp",   "from_ds",
                                                 "err", "in_tok", "out_tok", "lat_ms", "scores", "err_cfg"};
enum { C_METRIC, C_STATUS, C_RATING, C_HAS, C_SCORE, C_NORM, C_EXPL, C_ERR, C_IN, C_OUT, C_ATT, C_ERR_CFG, C_NKEYS };
static const char *const score_keys[C_NKEYS] = {"metric", "status", "rating", "has_score", "score",    "norm",
                                                "expl",   "err",    "in_tok", "out_tok",   "attempts", "err_cfg"};

static int pk_score(mpack_w_t *w, const score_t *s)
{
    if ((int)s->status < SCORE_OK || s->status > SCORE_ERROR)
        return mpack_w_limit(w, "status", "unknown status %d", (int)s->status);
    mpack_w_map(w, 8 + (s->rating != NULL) + (s->explanation != NULL) + (s->error != NULL) + s->error_config);
    if (mpack_w_kstr(w, "metric", s->metric, MAX_METRIC, true) < 0) return -1;
    mpack_w_kuint(w, "status", (uint64_t)s->status);
    if (mpack_w_kstr(w, "rating", s->rating, MAX_LABEL, false) < 0) return -1;
    mpack_w_kbool(w, "has_score", s->has_score);
    if (mpack_w_kdouble(w, "score", s->score, MPACK_DBL_ANY) < 0 ||
        mpack_w_kdouble(w, "norm", s->normalized, MPACK_DBL_ANY) < 0 ||
        mpack_w_kstr(w, "expl", s->explanation, MAX_TEXT, false) < 0 ||
        mpack_w_kstr(w, "err", s->error, MAX_TEXT, false) < 0)
        return -1;
    mpack_w_kuint(w, "in_tok", s->usage.input_tokens);
    mpack_w_kuint(w, "out_tok", s->usage.output_tokens);
    mpack_w_kuint(w, "attempts", s->attempts);
    if (s->error_config) mpack_w_kbool(w, "err_cfg", true);
    return w->failed ? -1 : 0;
}

static int pk_result(mpack_w_t *w, const result_t *r)
{
    if ((int)r->target != TARGET_CUSTOM && r->target != TARGET_BASE)
        return mpack_w_limit(w, "target", "unknown target %d", (int)r->target);
    if (r->n_scores > MAX_SCORES)
        return mpack_w_limit(w, "scores", "%zu scores exceed the limit of %u", r->n_scores, MAX_SCORES);
    if (r->n_scores && !r->scores) return mpack_w_limit(w, "scores", "missing");
    mpack_w_map(w, 9 + (r->model != NULL) + (r->response != NULL) + (r->error != NULL) + r->error_config);
    if (mpack_w_kstr(w, "job", r->job_id, WIRE_MAX_ID - 1, true) < 0) return -1;
    mpack_w_kuint(w, "shard", r->shard_id);
    mpack_w_kuint(w, "idx", r->record_index);
    mpack_w_kuint(w, "target", (uint64_t)r->target);
    if (mpack_w_kstr(w, "model", r->model, MAX_LABEL, false) < 0 ||
        mpack_w_kstr(w, "resp", r->response, MAX_TEXT, false) < 0)
        return -1;
    mpack_w_kbool(w, "from_ds", r->response_from_dataset);
    if (mpack_w_kstr(w, "err", r->error, MAX_TEXT, false) < 0) return -1;
    mpack_w_kuint(w, "in_tok", r->usage.input_tokens);
    mpack_w_kuint(w, "out_tok", r->usage.output_tokens);
    if (mpack_w_kdouble(w, "lat_ms", r->latency_ms, MPACK_DBL_NONNEG) < 0) return -1;
    if (r->error_config) mpack_w_kbool(w, "err_cfg", true);
    mpack_w_key(w, "scores");
    mpack_w_array(w, r->n_scores);
    for (size_t i = 0; i < r->n_scores; i++)
        if (pk_score(w, &r->scores[i]) < 0) {
            mpack_w_wrap(w, "[%zu]", i);
            return mpack_w_wrap(w, ".scores");
        }
    return w->failed ? -1 : 0;
}

int wire_result_encode(const result_t *r, buf_t *out)
{
    mpack_w_t w;
    mpack_w_init(&w, out);
    pk_result(&w, r); /* a failure is left in w for mpack_w_finish */
    return mpack_w_finish(&w, "result");
}

static int score_field(mpack_r_t *r, int k, void *obj)
{
    score_t *s = obj;
    uint64_t v;
    switch (k) {
    case C_METRIC: return mpack_r_str(r, MAX_METRIC, &s->metric);
    case C_STATUS:
        if (mpack_r_uint(r, UINT64_MAX, &v) < 0) return -1;
        if (v > SCORE_ERROR)
            return mpack_r_fail(r, "unknown status %llu (0 ok, 1 unscored, 2 not_applicable, 3 error)",
                                (unsigned long long)v);
        s->status = (score_status_t)v;
        return 0;
    case C_RATING: return mpack_r_str(r, MAX_LABEL, &s->rating);
    case C_HAS: return mpack_r_bool(r, &s->has_score);
    case C_SCORE: return mpack_r_double(r, MPACK_DBL_ANY, &s->score);
    case C_NORM: return mpack_r_double(r, MPACK_DBL_ANY, &s->normalized);
    case C_EXPL: return mpack_r_str(r, MAX_TEXT, &s->explanation);
    case C_ERR: return mpack_r_str(r, MAX_TEXT, &s->error);
    case C_IN: return mpack_r_uint(r, UINT64_MAX, &s->usage.input_tokens);
    case C_OUT: return mpack_r_uint(r, UINT64_MAX, &s->usage.output_tokens);
    case C_ATT: return mpack_r_u32(r, &s->attempts);
    case C_ERR_CFG: return mpack_r_bool(r, &s->error_config);
    }
    return 0;
}

static int rd_scores(mpack_r_t *r, result_t *res)
{
    void *arr = NULL;
    int rc = rd_objects(r, MAX_SCORES, "scores", sizeof *res->scores, score_keys, C_NKEYS, score_field, 1u << C_METRIC,
                        &arr, &res->n_scores);
    res->scores = arr;
    return rc;
}

static int result_field(mpack_r_t *r, int k, void *obj)
{
    result_t *res = obj;
    uint64_t v;
    switch (k) {
    case T_JOB: return mpack_r_str(r, WIRE_MAX_ID - 1, &res->job_id);
    case T_SHARD: return mpack_r_uint(r, UINT64_MAX, &res->shard_id);
    case T_IDX: return mpack_r_uint(r, UINT64_MAX, &res->record_index);
    case T_TARGET:
        if (mpack_r_uint(r, UINT64_MAX, &v) < 0) return -1;
        if (v > TARGET_BASE) return mpack_r_fail(r, "unknown target %llu (0 custom, 1 base)", (unsigned long long)v);
        res->target = (target_t)v;
        return 0;
    case T_MODEL: return mpack_r_str(r, MAX_LABEL, &res->model);
    case T_RESP: return mpack_r_str(r, MAX_TEXT, &res->response);
    case T_FROM_DS: return mpack_r_bool(r, &res->response_from_dataset);
    case T_ERR: return mpack_r_str(r, MAX_TEXT, &res->error);
    case T_IN: return mpack_r_uint(r, UINT64_MAX, &res->usage.input_tokens);
    case T_OUT: return mpack_r_uint(r, UINT64_MAX, &res->usage.output_tokens);
    case T_LAT: return mpack_r_double(r, MPACK_DBL_NONNEG, &res->latency_ms);
    case T_SCORES: return rd_scores(r, res);
    case T_ERR_CFG: return mpack_r_bool(r, &res->error_config);
    }
    return 0;
}

int wire_result_decode(const void *data, size_t len, result_t *out, char *err, size_t errlen)
{
    mpack_r_t r;
    mpack_r_init(&r, data, len, err, errlen);
    result_t res;
    memset(&res, 0, sizeof res);
    uint32_t present = 0;
    if (mpack_r_frame(&r, len) < 0 || mpack_r_object(&r, result_keys, T_NKEYS, result_field, &res, &present) < 0 ||
        mpack_r_required(&r, result_keys, T_NKEYS, 1u << T_JOB, present) < 0 || mpack_r_end(&r) < 0) {
        mpack_r_wrap(&r, "result");
        result_clear(&res);
        memset(out, 0, sizeof *out);
        return -1;
    }
    *out = res;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Rate table: [{key, rpm, tpm, demand, max_conc, used_req, used_tok}]                        */

enum { A_KEY, A_RPM, A_TPM, A_DEMAND, A_MAXC, A_UREQ, A_UTOK, A_NKEYS };
static const char *const rate_keys[A_NKEYS] = {"key", "rpm", "tpm", "demand", "max_conc", "used_req", "used_tok"};

int wire_rates_encode(const wire_rate_t *rows, size_t n, buf_t *out)
{
    mpack_w_t w;
    mpack_w_init(&w, out);
    if (n > MAX_RATES) {
        mpack_w_limit(&w, NULL, "%zu rows exceed the limit of %u", n, MAX_RATES);
    } else if (n && !rows) {
        mpack_w_limit(&w, NULL, "rows missing");
    } else {
        mpack_w_array(&w, n);
        for (size_t i = 0; i < n && !w.failed; i++) {
            const wire_rate_t *a = &rows[i];
            mpack_w_map(&w, A_NKEYS);
            if (mpack_w_kstr(&w, "key", a->key, MAX_LABEL, true) < 0 ||
                mpack_w_kdouble(&w, "rpm", a->rpm, MPACK_DBL_NONNEG) < 0 ||
                mpack_w_kdouble(&w, "tpm", a->tpm, MPACK_DBL_NONNEG) < 0) {
                mpack_w_wrap(&w, "[%zu]", i);
                break;
            }
            mpack_w_kuint(&w, "demand", a->demand);
            mpack_w_kuint(&w, "max_conc", a->max_concurrency);
            mpack_w_kuint(&w, "used_req", a->used_requests);
            mpack_w_kuint(&w, "used_tok", a->used_tokens);
        }
    }
    return mpack_w_finish(&w, "rates");
}

static int rate_field(mpack_r_t *r, int k, void *obj)
{
    wire_rate_t *a = obj;
    switch (k) {
    case A_KEY: return mpack_r_str(r, MAX_LABEL, &a->key);
    case A_RPM: return mpack_r_double(r, MPACK_DBL_NONNEG, &a->rpm);
    case A_TPM: return mpack_r_double(r, MPACK_DBL_NONNEG, &a->tpm);
    case A_DEMAND: return mpack_r_u32(r, &a->demand);
    case A_MAXC: return mpack_r_u32(r, &a->max_concurrency);
    case A_UREQ: return mpack_r_uint(r, UINT64_MAX, &a->used_requests);
    case A_UTOK: return mpack_r_uint(r, UINT64_MAX, &a->used_tokens);
    }
    return 0;
}

static int rd_rates(mpack_r_t *r, wire_rate_t **rows, size_t *nrows)
{
    void *arr = NULL;
    int rc = rd_objects(r, MAX_RATES, "rows", sizeof **rows, rate_keys, A_NKEYS, rate_field, 1u << A_KEY, &arr, nrows);
    *rows = arr;
    return rc;
}

int wire_rates_decode(const void *data, size_t len, wire_rate_t **rows, size_t *n, char *err, size_t errlen)
{
    mpack_r_t r;
    mpack_r_init(&r, data, len, err, errlen);
    wire_rate_t *got = NULL;
    size_t ngot = 0;
    if (mpack_r_frame(&r, len) < 0 || rd_rates(&r, &got, &ngot) < 0 || mpack_r_end(&r) < 0) {
        mpack_r_wrap(&r, "rates");
        wire_rates_free(got, ngot);
        *rows = NULL;
        *n = 0;
        return -1;
    }
    *rows = got;
    *n = ngot;
    return 0;
}

void wire_rates_free(wire_rate_t *rows, size_t n)
{
    if (!rows) return;
    for (size_t i = 0; i < n; i++) free(rows[i].key);
    free(rows);
}
