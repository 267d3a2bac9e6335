/* wshard: a shard as a worker holds it; see wshard.h.
 *
 * DESIGN. A unit is one (record, target). Its life: RESPONSE (inference call, unless the dataset
 * carries the response) -> JUDGING (one judge call per metric, all in flight at once, each with
 * its own random tag id around the material (metric_render) and asking for the verdict as
 * structured output where the judge's provider can; a reply that names no rating, or
 * conflicting ones, is re-asked once with the conversation so far) -> DONE (the result is
 * reported). A unit whose inference fails is reported with every metric `error`: the failure is
 * recorded on the record and never stalls the shard. Every callback from the llm client carries
 * a pointer into the shard's own arrays, so nothing outlives the shard. */
#define LOG_MODULE "worker"
#include "wshard.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "mem.h"
#include "metric.h"
#include "verdict.h"

#define MAX_EXPLANATION (64 * 1024)

typedef struct unit unit_t;

typedef struct {
    unit_t *u;
    size_t metric;                    /* index into spec->metrics */
    size_t score;                     /* index into the unit's res.scores */
    char *prompt;                     /* the rendered judge prompt (kept for the re-ask) */
    char nonce[METRIC_NONCE_LEN + 1]; /* the prompt's tag id */
    char *first_reply;                /* the first reply, when it named no rating or conflicting ones */
    bool conflicted;                  /* ...conflicting ones */
} jslot_t;

struct unit {
    wshard_t *s;
    record_t *rec;
    target_t target;
    const char *model; /* model string for inference (or NULL when from the dataset) */
    result_t res;
    jslot_t *slots; /* one per metric to judge (every metric, unless a plan lists some) */
    size_t n_slots;
    size_t metrics_left;
    bool done;
};

struct wshard {
    wjob_t *job;
    uint64_t shard_id, lease;
    record_t *records;
    size_t n_records;
    unit_t *units;
    size_t n_units;
    size_t units_left;
    size_t results;
    size_t calls_out; /* llm calls in flight */
    llm_client_t *llm;
    wshard_cbs_t cbs;
    shard_state_t state; /* SHARD_RUNNING, or SHARD_CANCELLED (proto/shard.h) */
    bool cancel;         /* the llm client's `cancelled` flag of every call: set by wshard_cancel */
    bool done_reported;
};

/* A failed call whose cause is how the model is set up (its key, its name, its endpoint), which
 * every other call to it will meet too: the scheduler fails a job fast on these. */
static bool config_error(const llm_reply_t *r)
{
    return r->status == LLM_ERR_PERMANENT && (r->http_status == 401 || r->http_status == 403 || r->http_status == 404);
}

static void maybe_done(wshard_t *s)
{
    if (s->done_reported) return;
    if ((s->units_left == 0 || s->state == SHARD_CANCELLED) && s->calls_out == 0) {
        s->done_reported = true;
        s->cbs.on_done(s, s->cbs.arg);
    }
}

static void unit_finish(unit_t *u)
{
    if (u->done) return;
    u->done = true;
    wshard_t *s = u->s;
    s->units_left--;
    if (s->state != SHARD_CANCELLED) {
        s->results++;
        s->cbs.on_result(s, &u->res, s->cbs.arg);
    }
    /* The result was reported: free its bulk now rather than with the shard. */
    result_clear(&u->res);
    for (size_t i = 0; i < u->n_slots && u->slots; i++) {
        xfree(&u->slots[i].prompt);
        xfree(&u->slots[i].first_reply);
    }
    maybe_done(s);
}

static char *clip(const char *t, size_t len)
{
    if (len > MAX_EXPLANATION) len = MAX_EXPLANATION;
    return xstrndup(t, len);
}

static void score_set_error(score_t *sc, const char *why)
{
    sc->status = SCORE_ERROR;
    free(sc->error);
    sc->error = xstrdup(why);
}

static void slot_complete(jslot_t *j)
{
    unit_t *u = j->u;
    if (--u->metrics_left == 0) unit_finish(u);
}

static void judge_send(jslot_t *j);

static void on_judge(const llm_reply_t *r, void *arg)
{
    jslot_t *j = arg;
    unit_t *u = j->u;
    wshard_t *s = u->s;
    s->calls_out--;
    const metric_t *m = s->job->spec->metrics[j->metric];
    score_t *sc = &u->res.scores[j->score];
    sc->attempts++;
    sc->usage.input_tokens += r->usage.input_tokens;
    sc->usage.output_tokens += r->usage.output_tokens;
    if (s->state == SHARD_CANCELLED) {
        slot_complete(j);
        return;
    }
    if (r->status != LLM_OK) {
        score_set_error(sc, r->error ? r->error : "judge call failed");
        sc->error_config = config_error(r);
        slot_complete(j);
        return;
    }
    verdict_t v;
    verdict_reply_t in = {.text = r->text,
                          .len = r->text_len,
                          .structured = r->structured,
                          .structured_len = r->structured_len,
                          .nonce = j->nonce};
    int rc = verdict_read(m, &in, &v);
    if (rc == 0 && v.rating >= 0 && (size_t)v.rating < m->n_ratings) {
        const metric_rating_t *rt = &m->ratings[v.rating];
        free(sc->rating);
        sc->rating = xstrdup(rt->definition);
        free(sc->explanation);
        sc->explanation = v.explanation   ? clip(v.explanation, strlen(v.explanation))
                          : r->structured ? clip(r->structured, r->structured_len)
                                          : clip(r->text, r->text_len);
        xfree(&sc->error);
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
        verdict_clear(&v);
        slot_complete(j);
        return;
    }
    if (!j->first_reply) {
        /* Re-ask once, with the conversation so far. */
        j->first_reply = r->structured ? xstrndup(r->structured, r->structured_len) : xstrndup(r->text, r->text_len);
        j->conflicted = v.status == VERDICT_CONFLICT;
        verdict_clear(&v);
        judge_send(j);
        return;
    }
    sc->status = SCORE_UNSCORED;
    free(sc->explanation);
    sc->explanation = v.explanation   ? clip(v.explanation, strlen(v.explanation))
                      : r->structured ? clip(r->structured, r->structured_len)
                                      : clip(r->text, r->text_len);
    free(sc->error);
    if (v.status == VERDICT_CONFLICT && v.conflict[0] >= 0 && v.conflict[1] >= 0)
        sc->error = xasprintf("the judge's reply named conflicting ratings (`%s` and `%s`), also after one re-ask",
                              m->ratings[v.conflict[0]].definition, m->ratings[v.conflict[1]].definition);
    else if (v.status == VERDICT_CONFLICT)
        sc->error = xstrdup("the judge's reply named conflicting ratings, also after one re-ask");
    else sc->error = xstrdup("the judge named no rating of the scale, also after one re-ask");
    verdict_clear(&v);
    slot_complete(j);
}

static void judge_send(jslot_t *j)
{
    unit_t *u = j->u;
    wshard_t *s = u->s;
    const spec_t *sp = s->job->spec;
    const metric_t *m = sp->metrics[j->metric];
    llm_msg_t msgs[3];
    size_t n = 0;
    char *reask = NULL;
    msgs[n++] = (llm_msg_t){"user", j->prompt};
    if (j->first_reply) {
        reask = j->conflicted ? metric_render_reask_conflict(m) : metric_render_reask(m);
        msgs[n++] = (llm_msg_t){"assistant", j->first_reply};
        msgs[n++] = (llm_msg_t){"user", reask};
    }
    llm_schema_t schema = {.name = METRIC_VERDICT_NAME,
                           .description = METRIC_VERDICT_DESCRIPTION,
                           .schema = m->verdict_schema};
    llm_req_t req = {.system = sp->judge_system_prompt ? sp->judge_system_prompt : metric_judge_system(),
                     .msgs = msgs,
                     .n_msgs = n,
                     .max_tokens = sp->judge.max_tokens,
                     .temperature = sp->judge.temperature,
                     .top_p = sp->judge.top_p,
                     .schema = m->verdict_schema ? &schema : NULL,
                     .retry_budget_ms = sp->judge.retry_budget_s * 1000,
                     /* the job's region, never the worker's: it travels in the spec */
                     .region = sp->region,
                     .api = spec_sagemaker_api(sp, sp->evaluator_model),
                     .cancelled = &s->cancel};
    char err[512];
    if (llm_call(s->llm, sp->evaluator_model, &req, on_judge, j, err, sizeof err) < 0) {
        score_set_error(&u->res.scores[j->score], err);
        u->res.scores[j->score].error_config = true; /* the model string resolves to no endpoint here */
        free(reask);
        slot_complete(j);
        return;
    }
    s->calls_out++;
    free(reask);
}

static void unit_judge(unit_t *u)
{
    wshard_t *s = u->s;
    const spec_t *sp = s->job->spec;
    metric_vars_t vars = {.prompt = u->rec->prompt,
                          .prediction = u->res.response,
                          .ground_truth = u->rec->reference,
                          .context = u->rec->context};
    u->metrics_left = u->n_slots;
    for (size_t i = 0; i < u->n_slots; i++) {
        if (s->state == SHARD_CANCELLED) {
            slot_complete(&u->slots[i]);
            continue;
        }
        metric_nonce(u->slots[i].nonce);
        vars.nonce = u->slots[i].nonce;
        u->slots[i].prompt = metric_render(sp->metrics[u->slots[i].metric], &vars);
        judge_send(&u->slots[i]);
    }
}

static void unit_fail_all(unit_t *u, const char *why)
{
    for (size_t i = 0; i < u->res.n_scores; i++) {
        char *msg = xasprintf("no response to judge: %s", why);
        score_set_error(&u->res.scores[i], msg);
        free(msg);
    }
    unit_finish(u);
}

static void on_inference(const llm_reply_t *r, void *arg)
{
    unit_t *u = arg;
    wshard_t *s = u->s;
    s->calls_out--;
    u->res.usage = r->usage;
    u->res.latency_ms = r->latency_ms;
    if (s->state == SHARD_CANCELLED) {
        unit_finish(u);
        return;
    }
    if (r->status != LLM_OK) {
        u->res.error = xstrdup(r->error ? r->error : "inference failed");
        u->res.error_config = config_error(r);
        unit_fail_all(u, u->res.error);
        return;
    }
    u->res.response = xstrndup(r->text, r->text_len);
    unit_judge(u);
}

/* The user message for inference: the prompt, after the context when the record has one. */
static char *inference_prompt(const record_t *rec)
{
    if (!rec->context || !*rec->context) return xstrdup(rec->prompt);
    return xasprintf("%s\n\n%s", rec->context, rec->prompt);
}

static void unit_start(unit_t *u)
{
    wshard_t *s = u->s;
    if (u->res.response) {
        unit_judge(u);
        return;
    }
    const spec_t *sp = s->job->spec;
    char *prompt = inference_prompt(u->rec);
    llm_msg_t msg = {"user", prompt};
    llm_req_t req = {.msgs = &msg,
                     .n_msgs = 1,
                     .max_tokens = sp->inference.max_tokens,
                     .temperature = sp->inference.temperature,
                     .top_p = sp->inference.top_p,
                     .retry_budget_ms = sp->inference.retry_budget_s * 1000,
                     .region = sp->region,
                     .api = spec_sagemaker_api(sp, u->model),
                     .cancelled = &s->cancel};
    char err[512];
    if (llm_call(s->llm, u->model, &req, on_inference, u, err, sizeof err) < 0) {
        u->res.error = xstrdup(err);
        u->res.error_config = true; /* the model string resolves to no endpoint here */
        free(prompt);
        unit_fail_all(u, err);
        return;
    }
    s->calls_out++;
    free(prompt);
}

/* Which dataset response (if any) belongs to `target` (record_response_for). */
static const record_response_t *dataset_response(const spec_t *sp, const record_t *rec, target_t t)
{
    const char *want = t == TARGET_CUSTOM ? sp->model : sp->base_model;
    const char *other = t == TARGET_CUSTOM ? sp->base_model : sp->model;
    return record_response_for(rec, want, other, (unsigned)t);
}

/* Sets up unit u for `target` of rec: what to judge (`metrics`/`n_metrics` names, 0: every
 * metric) of which response (`plan` given with a response: that one; else the dataset's, else
 * the model is called). */
static void unit_init(wshard_t *s, unit_t *u, record_t *rec, target_t target, const wire_unit_plan_t *plan)
{
    const spec_t *sp = s->job->spec;
    u->s = s;
    u->rec = rec;
    u->target = target;
    const char *model = target == TARGET_CUSTOM ? sp->model : sp->base_model;
    u->res.job_id = xstrdup(s->job->job_id);
    u->res.shard_id = s->shard_id;
    u->res.record_index = rec->index;
    u->res.target = target;
    const record_response_t *dr = plan && plan->response ? NULL : dataset_response(sp, rec, target);
    if (plan && plan->response) {
        u->res.response = xstrdup(plan->response);
        u->res.response_from_dataset = plan->from_dataset;
        u->res.model = xstrdup(plan->model ? plan->model : model ? model : "dataset");
    } else if (dr) {
        u->res.response = xstrdup(dr->response);
        u->res.response_from_dataset = true;
        u->res.model = xstrdup(dr->model_identifier ? dr->model_identifier : model ? model : "dataset");
    } else {
        u->model = model;
        u->res.model = xstrdup(model ? model : "");
    }
    u->slots = xcalloc(sp->n_metrics ? sp->n_metrics : 1, sizeof(jslot_t));
    for (size_t m = 0; m < sp->n_metrics; m++) {
        bool wanted = !plan || plan->n_metrics == 0;
        for (size_t k = 0; plan && k < plan->n_metrics && !wanted; k++)
            wanted = strcmp(plan->metrics[k], sp->metrics[m]->name) == 0;
        if (!wanted) continue;
        score_t *sc = result_add_score(&u->res);
        sc->metric = xstrdup(sp->metrics[m]->name);
        sc->status = SCORE_ERROR;
        jslot_t *j = &u->slots[u->n_slots++];
        j->u = u;
        j->metric = m;
        j->score = u->res.n_scores - 1;
    }
}

wshard_t *wshard_new(wjob_t *job, uint64_t shard_id, uint64_t lease, record_t *records, const wire_plan_t *plans,
                     size_t n, llm_client_t *llm, const wshard_cbs_t *cbs)
{
    wshard_t *s = xcalloc(1, sizeof(*s));
    s->state = SHARD_RUNNING;
    const spec_t *sp = job->spec;
    job->refs++;
    s->job = job;
    s->shard_id = shard_id;
    s->lease = lease;
    s->records = records;
    s->n_records = n;
    s->llm = llm;
    s->cbs = *cbs;
    size_t n_targets = sp->evaluate_base_model ? 2 : 1;
    s->units = xcalloc(n > 0 ? n * n_targets : 1, sizeof(unit_t));
    for (size_t i = 0; i < n; i++) {
        const wire_plan_t *p = plans && plans[i].n_units ? &plans[i] : NULL;
        if (!p) {
            for (size_t t = 0; t < n_targets; t++)
                unit_init(s, &s->units[s->n_units++], &records[i], (target_t)t, NULL);
            continue;
        }
        for (size_t k = 0; k < p->n_units; k++) {
            if ((size_t)p->units[k].target >= n_targets) {
                log_warn("job %s shard %llu: record %llu plans target %d, which the job does not evaluate: ignored",
                         job->job_id, (unsigned long long)shard_id, (unsigned long long)records[i].index,
                         (int)p->units[k].target);
                continue;
            }
            unit_init(s, &s->units[s->n_units++], &records[i], p->units[k].target, &p->units[k]);
        }
    }
    s->units_left = s->n_units;
    return s;
}

void wshard_start(wshard_t *s)
{
    for (size_t i = 0; i < s->n_units && s->state != SHARD_CANCELLED; i++) {
        unit_t *u = &s->units[i];
        if (!u->model && !u->res.response) {
            u->res.error = xstrdup("the record has no response for this target and the spec names no model for it");
            unit_fail_all(u, u->res.error);
            continue;
        }
        unit_start(u);
    }
    maybe_done(s);
}

void wshard_cancel(wshard_t *s)
{
    s->state = SHARD_CANCELLED;
    s->cancel = true; /* calls still queued in the llm client are not sent */
    maybe_done(s);
}

void wshard_destroy(wshard_t **self_p)
{
    if (!self_p || !*self_p) return;
    wshard_t *s = *self_p;
    for (size_t i = 0; i < s->n_units; i++) {
        unit_t *u = &s->units[i];
        result_clear(&u->res);
        if (u->slots) {
            for (size_t m = 0; m < u->n_slots; m++) {
                free(u->slots[m].prompt);
                free(u->slots[m].first_reply);
            }
            free(u->slots);
        }
    }
    free(s->units);
    for (size_t i = 0; i < s->n_records; i++) record_clear(&s->records[i]);
    free(s->records);
    s->job->refs--;
    free(s);
    *self_p = NULL;
}

const char *wshard_job_id(const wshard_t *s) { return s->job->job_id; }
uint64_t wshard_id(const wshard_t *s) { return s->shard_id; }
uint64_t wshard_lease(const wshard_t *s) { return s->lease; }
size_t wshard_results(const wshard_t *s) { return s->results; }
size_t wshard_units(const wshard_t *s) { return s->n_units; }
bool wshard_cancelled(const wshard_t *s) { return s->state == SHARD_CANCELLED; }
