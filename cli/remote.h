/* remote: the job verbs of the CLI against a scheduler service (DESIGN.md "Control plane"),
 * shaped like scheduler.h's readers and verbs so that each command prints the same way whether
 * it reads the local job database or asks a service: a job list (sched_job_cb), a job's status
 * (sched_status_t), a page of results (sched_rows_t callbacks with record_t/result_t rows), a
 * summary, and submit, stop, retry. The service is chosen by --scheduler URL, else
 * $LLMAJ_SCHEDULER; its token comes from $LLMAJ_TOKEN (never printed). An HTTP answer maps to
 * the scheduler's errors: 400 and 401/403 bad input, 404 not found, 409 a state that does not
 * allow it, anything else (or no answer) an internal error; the service's {"errors"} messages go
 * into errs with their keys. */
#ifndef LLMAJ_REMOTE_H
#define LLMAJ_REMOTE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "errlist.h"
#include "scheduler.h"

#define REMOTE_ENV "LLMAJ_SCHEDULER"
#define REMOTE_TOKEN_ENV "LLMAJ_TOKEN"

typedef struct remote remote_t;

/* The service to talk to: `flag` (--scheduler) if given, else $LLMAJ_SCHEDULER if set and not
 * empty, else NULL (the commands then read the local database). */
const char *remote_url(const char *flag);

/* Takes `--scheduler URL` / `--scheduler=URL` out of argv (compacting it, *argc updated) and
 * returns the URL, or NULL when absent; a --scheduler without a value is left for getopt. */
const char *remote_take_flag(int *argc, char **argv);

remote_t *remote_open(const char *url, char *err, size_t errlen);
void remote_close(remote_t **self_p);
const char *remote_where(const remote_t *r); /* the service's URL, for messages */
/* Whether the last request failed because the service did not answer (or answered 502, 503 or
 * 504): a restart or a rollout, worth asking again later, unlike a refusal. */
bool remote_unavailable(const remote_t *r);

/* The id of the job `ref` names (an id, or the beginning of exactly one). Caller frees. */
sched_err_t remote_resolve(remote_t *r, const char *ref, char **job_id, errlist_t *errs)
    __attribute__((warn_unused_result));
sched_err_t remote_jobs_list(remote_t *r, sched_job_cb cb, void *arg, errlist_t *errs)
    __attribute__((warn_unused_result));
sched_err_t remote_job_status(remote_t *r, const char *job_id, sched_status_t *out, errlist_t *errs)
    __attribute__((warn_unused_result));
sched_err_t remote_job_results(remote_t *r, const char *job_id, uint64_t offset, uint64_t limit,
                               const sched_rows_t *cbs, sched_page_t *page, errlist_t *errs)
    __attribute__((warn_unused_result));
/* summary.json (caller owns); SCHED_E_NOTFOUND before it is written. */
sched_err_t remote_job_summary(remote_t *r, const char *job_id, cJSON **summary, errlist_t *errs)
    __attribute__((warn_unused_result));

/* POST /v1/jobs with the spec (JSON text): job_id (SCHED_JOB_ID_MAX) gets the new id. */
sched_err_t remote_submit(remote_t *r, const char *spec_json, char *job_id, errlist_t *errs)
    __attribute__((warn_unused_result));
sched_err_t remote_stop(remote_t *r, const char *job_id, errlist_t *errs) __attribute__((warn_unused_result));
sched_err_t remote_retry(remote_t *r, const char *job_id, bool unscored, uint64_t *cells, errlist_t *errs)
    __attribute__((warn_unused_result));

/* ---- the service's JSON as the scheduler's structs (also used by the tests) ---- */

/* A job object (api_job_json's shape) into *st (caller clears). 0, or -1 when it is not one. */
int remote_status_of(const cJSON *job, sched_status_t *st);
/* A records.jsonl row into a record and a result (caller clears both), such that
 * sched_result_line prints it back the same (the judge's token totals go on its first score).
 * 0, or -1. */
int remote_row_of(const cJSON *row, record_t *rec, result_t *res);
/* "queued" ... "stopping" back to the state; -1 when unknown. */
int remote_state_parse(const char *name);

#endif
