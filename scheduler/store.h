/* store: the job database (SQLite, WAL), private to scheduler/. ALL the SQL against it is in the
 * store's files: store.c (the connection, the schema, jobs, records, shards), store_results.c
 * (committed results and the counts read from them) and store_sync.c (the MLflow sync's state).
 *
 * What it keeps: jobs (the spec as run, state, counts, times, output folder, summary), their
 * valid records (so shards are re-read from here, never from the dataset, and a restarted
 * scheduler needs nothing but this file), their shards (proto/shard.h: state and SUBMIT count),
 * the committed results split into `outputs` (one row per (record, target)) and `scores` (one row
 * per (record, target, metric)), and `mlflow_sync`, a key-value table per job.
 *
 * A result is keyed by (job, record, target, metric): committing it twice is harmless (INSERT OR
 * IGNORE), which is what makes redelivery safe. Does not aggregate (aggregate.c) or write files
 * (output.c). One store_t per thread (a connection); several connections, in one process or many,
 * may use one file: WAL lets readers work while one writer writes. */
#ifndef LLMAJ_STORE_H
#define LLMAJ_STORE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record.h"
#include "result.h"
#include "scheduler.h"
#include "shard.h"

typedef struct store store_t;

/* A job whose submission is still loading its dataset (stored in jobs.state, never a
 * sched_job_state_t): invisible to every listing, and deleted if its submission fails or its
 * process dies before it is published (store_job_publish). */
#define STORE_STATE_LOADING (-1)

typedef enum {
    STORE_WRITE, /* creates the file and its tables if missing: an engine, a submission, a sync */
    STORE_READ,  /* the file must already be a job database (store_probe); no table is created */
} store_mode_t;

/* Whether `path` holds a job database, through a read-only connection that changes nothing:
 * 0 yes; 1 an SQLite database without a jobs table; -1 not one (err has SQLite's reason). */
int store_probe(const char *path, char *err, size_t errlen);

/* Opens a connection (busy timeout 10 s). Databases made by older versions get the columns added
 * since. NULL with "PATH: reason" in err. */
store_t *store_open(const char *path, store_mode_t mode, char *err, size_t errlen);
void store_close(store_t **self_p);
const char *store_errmsg(store_t *s); /* the last error of this connection */
const char *store_path(const store_t *s);

/* Transactions. A read transaction around several reads makes them one snapshot. */
int store_begin(store_t *s) __attribute__((warn_unused_result));
int store_commit(store_t *s) __attribute__((warn_unused_result));
int store_rollback(store_t *s) __attribute__((warn_unused_result));
bool store_in_tx(store_t *s);

/* ---- jobs ---- */

int store_job_create(store_t *s, const char *job_id, const char *name, const char *spec_json, const char *out_dir)
    __attribute__((warn_unused_result));
/* The same with an owner (the engine mode that adopts it after a restart: "service", or NULL)
 * and a first state (SCHED_JOB_PENDING, or STORE_STATE_LOADING). */
int store_job_create_as(store_t *s, const char *job_id, const char *name, const char *spec_json, const char *out_dir,
                        const char *owner, int state) __attribute__((warn_unused_result));
/* A LOADING job becomes PENDING (created_at = now). */
int store_job_publish(store_t *s, const char *job_id) __attribute__((warn_unused_result));
/* Every row of a job, in short transactions of their own (call outside a transaction). */
int store_job_delete(store_t *s, const char *job_id) __attribute__((warn_unused_result));
/* *state = the stored state: 0; 1 no such job; -1. */
int store_job_state(store_t *s, const char *job_id, int *state) __attribute__((warn_unused_result));
/* What the engine running the job wants people to know about its fleet ("cannot reach the
 * broker at ..."), or NULL when all is well. */
int store_job_set_note(store_t *s, const char *job_id, const char *note) __attribute__((warn_unused_result));
/* The job's secret (store_secret.c): the stored one, or a new random one (64 hex digits) stored
 * now when it has none. out needs 65 bytes. 0; 1 when the job is not in the database; -1 on an
 * error (store_errmsg). Never log it. */
int store_job_secret(store_t *s, const char *job_id, char *out, size_t outlen) __attribute__((warn_unused_result));
/* Inflight shards back to PENDING (a stopped job: nothing of it is in flight any more). */
int store_shards_unsend(store_t *s, const char *job_id) __attribute__((warn_unused_result));
/* Jobs of an owner that an engine of that owner takes up at start: loading (left by a crash:
 * deleted), pending, running, stopping; oldest first. cb(job_id, state); non-zero stops: -1. */
typedef int (*store_owned_cb)(const char *job_id, int state, void *arg);
int store_jobs_owned(store_t *s, const char *owner, store_owned_cb cb, void *arg) __attribute__((warn_unused_result));

/* A job's progress as the engine running it counts it (kept in the job's row, so that reading a
 * large job's status needs no count over its results). */
typedef struct {
    uint64_t units_done;   /* (record, target) with every metric committed */
    uint64_t unit_errors;  /* of which the inference call failed */
    uint64_t records_done; /* records with every target done */
    uint64_t scores[4];    /* committed scores by score_status_t */
    uint64_t saved[3];     /* calls not made (cache.h): STORE_SAVED_REUSED responses copied from
                                 another job, STORE_SAVED_INFERENCE and STORE_SAVED_JUDGE cache hits */
    bool has_saved;        /* parsed: the row had them (an engine of before them wrote it without) */
} store_counts_t;
enum { STORE_SAVED_REUSED = 0, STORE_SAVED_INFERENCE = 1, STORE_SAVED_JUDGE = 2 };
int store_counts_parse(const char *json, store_counts_t *c); /* 0, or -1 when it is not that */
/* Writes the counts and marks the job alive (updated_at = now). */
int store_job_set_progress(store_t *s, const char *job_id, const store_counts_t *c) __attribute__((warn_unused_result));
/* Counts them from the committed results (slow on a large job: once at open, not per status). */
int store_job_count(store_t *s, const char *job_id, unsigned targets, size_t n_metrics, store_counts_t *c)
    __attribute__((warn_unused_result));
/* What kind of failure a FAILED job had (job.h JOB_FAILURE_*: "output", "database", ...), or NULL. */
int store_job_set_failure(store_t *s, const char *job_id, const char *failure) __attribute__((warn_unused_result));
/* Sets state and error; RUNNING sets started_at (once), an ended state finished_at. */
int store_job_set_state(store_t *s, const char *job_id, sched_job_state_t st, const char *error)
    __attribute__((warn_unused_result));
int store_job_set_counts(store_t *s, const char *job_id, uint64_t total, uint64_t invalid)
    __attribute__((warn_unused_result));
int store_job_set_outdir(store_t *s, const char *job_id, const char *out_dir) __attribute__((warn_unused_result));
/* A sign of life of the engine running the job (updated_at = now). */
int store_job_touch(store_t *s, const char *job_id) __attribute__((warn_unused_result));
/* The summary.json text of an ended job. */
int store_job_set_summary(store_t *s, const char *job_id, const char *summary_json) __attribute__((warn_unused_result));
/* *json = the summary text (caller frees): 0; 1 when the job has none (or does not exist); -1. */
int store_job_summary(store_t *s, const char *job_id, char **json) __attribute__((warn_unused_result));

/* A job's row. */
typedef struct {
    char *job_id;
    char *name;      /* the spec's name, or NULL */
    char *spec_json; /* the spec as run (canonical JSON) */
    char *error;     /* why it failed, or NULL */
    sched_job_state_t state;
    int64_t created_at, started_at, finished_at; /* Unix seconds, 0 when not reached */
    uint64_t records_total;                      /* non-blank dataset lines */
    uint64_t records_invalid;                    /* of which invalid (skipped) */
    char *out_dir;                               /* the job's results folder (absolute), once known */
    int64_t updated_at;                          /* last sign of life of the engine running it */
    char *owner;     /* "service" for a job a serving engine adopts after a restart, or NULL */
    char *note;      /* the running engine's word on its fleet, or NULL */
    bool has_counts; /* counts holds what the engine last wrote */
    store_counts_t counts;
    char *failure; /* a FAILED job's kind of failure ("output", "database", ...), or NULL */
} store_job_t;
void store_job_clear(store_job_t *j); /* frees the members; accepts NULL */

/* 0 found (caller clears *out); 1 no such job (*out zeroed); -1 on a database error. */
int store_job_get(store_t *s, const char *job_id, store_job_t *out) __attribute__((warn_unused_result));

/* Every job, newest first (created_at, then insertion order); the row is valid during the call.
 * 0, or -1 on a database error or when cb returns non-zero. */
typedef int (*store_job_cb)(const store_job_t *job, void *arg);
int store_jobs_each(store_t *s, store_job_cb cb, void *arg) __attribute__((warn_unused_result));

/* Job ids that begin with `prefix`: *n gets how many match, ids[0..min(*n, max)-1] the first of
 * them, newest first (caller frees each). An id equal to `prefix` is the only match even when
 * longer ids begin with it. 0, or -1 on a database error. */
int store_job_match(store_t *s, const char *prefix, char **ids, size_t max, size_t *n)
    __attribute__((warn_unused_result));

/* ---- records and shards ---- */

/* Stores one valid record (its index is the key). */
int store_record_put(store_t *s, const char *job_id, const record_t *r) __attribute__((warn_unused_result));
/* The records with first <= index <= last that have fewer than `cells` committed scores (a
 * record's cells are its targets × the job's metrics; all records when nothing is committed), in
 * index order; caller owns *out (record_clear each, free). */
int store_records_range(store_t *s, const char *job_id, uint64_t first, uint64_t last, uint64_t cells, record_t **out,
                        size_t *n) __attribute__((warn_unused_result));

int store_shard_put(store_t *s, const char *job_id, uint64_t shard_id, uint64_t first, uint64_t last, uint32_t n)
    __attribute__((warn_unused_result));
/* Sets a shard's state; SHARD_INFLIGHT also counts one SUBMIT (attempts + 1). */
int store_shard_set_state(store_t *s, const char *job_id, uint64_t shard_id, shard_state_t st)
    __attribute__((warn_unused_result));
/* A shard's deliveries to workers seen so far (shard_t.leases). */
int store_shard_set_leases(store_t *s, const char *job_id, uint64_t shard_id, uint32_t leases)
    __attribute__((warn_unused_result));
/* Every shard of a job in id order: id, first, last, n, state, submits (attempts), leases filled. */
typedef int (*store_shard_cb)(const shard_t *sh, void *arg);
int store_shards_each(store_t *s, const char *job_id, store_shard_cb cb, void *arg) __attribute__((warn_unused_result));

/* ---- results (store_results.c) ---- */

/* Commits one result idempotently. *new_output: the (record, target) output was not there
 * before; *new_scores: scores not seen before (0 on a redelivery); by_status (may be NULL): those
 * new scores counted by score_status_t, added to what it holds. */
int store_result_commit(store_t *s, const char *job_id, const result_t *r, bool *new_output, size_t *new_scores,
                        uint64_t by_status[4]) __attribute__((warn_unused_result));

/* Committed (record, target) outputs in (record_index, target) order with their scores and the
 * record's fields; cb gets a filled record_t and result_t (valid during the call). 0, or -1 on a
 * database error or when cb returns non-zero. _page: the outputs at positions offset ..
 * offset+limit-1 of that order. */
typedef int (*store_output_cb)(const record_t *rec, const result_t *res, void *arg);
/* *bytes = a lower bound of what records.jsonl takes for the job's committed outputs (its texts
 * and a floor per row and score): the free-space check before writing it. 0, or -1. */
int store_outputs_bytes(store_t *s, const char *job_id, uint64_t *bytes) __attribute__((warn_unused_result));
int store_outputs_each(store_t *s, const char *job_id, store_output_cb cb, void *arg)
    __attribute__((warn_unused_result));
int store_outputs_page(store_t *s, const char *job_id, uint64_t offset, uint64_t limit, store_output_cb cb, void *arg)
    __attribute__((warn_unused_result));

/* Counts of a job's committed outputs and scores. */
int store_counts(store_t *s, const char *job_id, uint64_t *outputs, uint64_t *scores)
    __attribute__((warn_unused_result));
/* (record, target) units with first <= record index <= last that have all n_metrics scores. */
int store_outputs_in_range(store_t *s, const char *job_id, uint64_t first, uint64_t last, size_t n_metrics, uint64_t *n)
    __attribute__((warn_unused_result));
/* The committed scores of one (record, target). */
int store_unit_scores(store_t *s, const char *job_id, uint64_t idx, target_t target, uint64_t *n)
    __attribute__((warn_unused_result));
/* Committed scores by score_status_t. */
int store_score_counts(store_t *s, const char *job_id, uint64_t counts[4]) __attribute__((warn_unused_result));

/* Token usage grouped by model: inference (outputs, judge false) and judge (scores: one call with
 * model NULL and judge true). */
typedef void (*store_usage_cb)(const char *model, bool judge, uint64_t in, uint64_t out, uint64_t calls, void *arg);
int store_usage(store_t *s, const char *job_id, store_usage_cb cb, void *arg) __attribute__((warn_unused_result));

/* Where a job is, in one snapshot. */
typedef struct {
    uint64_t records;       /* valid records stored */
    uint64_t records_done;  /* records with every cell (target × metric) committed */
    uint64_t outputs;       /* committed (record, target) outputs */
    uint64_t units_done;    /* (record, target) with every metric committed */
    uint64_t output_errors; /* of which the inference call failed */
    uint64_t shards[3];     /* by shard state (PENDING, INFLIGHT, DONE) */
    uint64_t dispatches;    /* SUBMITs, resubmissions included */
    uint64_t leases;        /* deliveries to workers seen (shard_t.leases) */
    uint64_t scores[4];     /* committed scores by score_status_t */
} store_job_stats_t;
int store_job_stats(store_t *s, const char *job_id, unsigned targets, size_t n_metrics, store_job_stats_t *out)
    __attribute__((warn_unused_result));
/* Only records, shards, dispatches and leases (the rest zero): for a job whose counts the engine
 * keeps in its row (store_job_t.counts). */
int store_job_stats_light(store_t *s, const char *job_id, store_job_stats_t *out) __attribute__((warn_unused_result));

/* ---- what is missing, and retrying it (store_cells.c) ---- */

/* What is committed of one record: per target, whether it has an output (its response, where it
 * came from, its model, its inference error) and which metrics are scored. Caller clears. */
typedef struct {
    bool has_output;
    char *response, *model, *error;
    bool from_dataset;
    char **metrics; /* scored metric names */
    size_t n_metrics;
} store_unit_t;
int store_units_of(store_t *s, const char *job_id, uint64_t idx, store_unit_t units[2])
    __attribute__((warn_unused_result));
void store_unit_clear(store_unit_t *u);

/* Prepares a retry of an ended job in one transaction: removes its `error` cells (and with
 * `unscored` its unscored ones; an output whose inference failed goes with all its scores), puts
 * back to PENDING (attempts 0) every shard with a cell missing, and the job to PENDING with no
 * error, end or summary. *missing gets the cells (record × target × metric) now missing, the
 * never-run ones of a stopped or failed job included; 0: nothing was changed (nothing to rerun).
 * 0, or -1 (rolled back). */
/* A FAILED job whose files or database writes failed, made PENDING again as it is (error,
 * failure, end and summary cleared; its shards and results untouched): the next engine opens it,
 * runs what is missing and writes its files. 0, or -1. */
int store_job_reopen(store_t *s, const char *job_id) __attribute__((warn_unused_result));
int store_retry_prepare(store_t *s, const char *job_id, unsigned targets, size_t n_metrics, bool unscored,
                        uint64_t *missing) __attribute__((warn_unused_result));

/* ---- the cache of model and judge answers, and reused responses (store_cache.c) ---- */

/* The cache is one table shared by every job of the database: an answer is keyed by the SHA-256
 * of what was asked (cache.c makes the keys), whatever job asked it. */
typedef enum { STORE_CACHE_INFERENCE = 0, STORE_CACHE_JUDGE = 1 } store_cache_kind_t;
#define STORE_CACHE_KEY 32 /* bytes of a key */

typedef struct {
    char *text;            /* inference: the response; judge: the explanation (may be NULL) */
    score_status_t status; /* judge: SCORE_OK or SCORE_NOT_APPLICABLE */
    char *rating;          /* judge: the rating's definition */
    usage_t usage;         /* what the call that made it spent */
} store_cache_val_t;
void store_cache_val_clear(store_cache_val_t *v);

/* 0 found (caller clears *out), 1 not there, -1 on a database error. */
int store_cache_get(store_t *s, store_cache_kind_t kind, const uint8_t key[STORE_CACHE_KEY], store_cache_val_t *out)
    __attribute__((warn_unused_result));
/* Keeps an answer unless one is kept for that key already (*added says which). 0, or -1. */
int store_cache_put(store_t *s, store_cache_kind_t kind, const uint8_t key[STORE_CACHE_KEY], const store_cache_val_t *v,
                    bool *added) __attribute__((warn_unused_result));
/* Answers kept, by kind. */
int store_cache_size(store_t *s, uint64_t counts[2]) __attribute__((warn_unused_result));

/* One stored record of a job: 0 (caller clears *out), 1 no such record, -1. */
int store_record_get(store_t *s, const char *job_id, uint64_t idx, record_t *out) __attribute__((warn_unused_result));
/* Up to `limit` records of a job with index > `after` (after = -1: from the first), in index order;
 * caller owns *out (record_clear each, free). */
int store_records_after(store_t *s, const char *job_id, int64_t after, size_t limit, record_t **out, size_t *n)
    __attribute__((warn_unused_result));

/* Copies job src's responses of the records first..last (targets below `targets`, those without an
 * inference error) into job_id as committed outputs with origin RESPONSE_REUSED, no usage, and no
 * score; an output job_id has already stays as it is. *copied: outputs added. 0, or -1. */
int store_outputs_reuse(store_t *s, const char *job_id, const char *src, uint64_t first, uint64_t last,
                        unsigned targets, uint64_t *copied) __attribute__((warn_unused_result));
/* Outputs of job_id with a response (no inference error) for the records first..last, targets
 * below `targets`. 0, or -1. */
int store_outputs_usable(store_t *s, const char *job_id, uint64_t first, uint64_t last, unsigned targets, uint64_t *n)
    __attribute__((warn_unused_result));
/* Job src's records that have no response for `target` (no output, or one whose inference failed):
 * how many, and the first of them with its error (NULL when it has no output; caller frees). */
int store_reuse_missing(store_t *s, const char *src, target_t target, uint64_t *missing, uint64_t *first_idx,
                        char **first_error) __attribute__((warn_unused_result));
/* A job's outputs whose response came from the cache and from another job, and its verdicts that
 * came from the cache. */
int store_origin_counts(store_t *s, const char *job_id, uint64_t *cached_outputs, uint64_t *reused_outputs,
                        uint64_t *cached_scores) __attribute__((warn_unused_result));

/* ---- the MLflow sync's state: (job, key) -> value (store_sync.c) ---- */

/* *value = the value (caller frees): 0; 1 when there is none; -1 on a database error. */
int store_sync_get(store_t *s, const char *job_id, const char *key, char **value) __attribute__((warn_unused_result));
int store_sync_set(store_t *s, const char *job_id, const char *key, const char *value)
    __attribute__((warn_unused_result));
int store_sync_del(store_t *s, const char *job_id, const char *key) __attribute__((warn_unused_result));
/* Every key of a job: cb(key, value, updated_at in ms). A store opened STORE_READ on a database
 * that never had a sync has no such table: no call, 0. */
typedef void (*store_sync_cb)(const char *key, const char *value, int64_t updated_ms, void *arg);
int store_sync_each(store_t *s, const char *job_id, store_sync_cb cb, void *arg) __attribute__((warn_unused_result));
/* Jobs whose sync is "pending" or "syncing" and that can be resumed (their spec is recorded),
 * oldest first. Caller frees each id and the array. */
int store_sync_unfinished(store_t *s, char ***job_ids, size_t *n) __attribute__((warn_unused_result));

#endif
