/* output: a job's result files (DESIGN.md "Results"), written from the store when the job ends:
 * records.jsonl (one line per committed (record, target), in record order), summary.json
 * (aggregate.c) and job.json (the spec as run, status, timings, token usage per model, estimated
 * cost). Each file is written atomically (lib/file.h): a reader never sees half a file, and a
 * failed write (a full disk) leaves no temporary behind. The summary and job objects are also
 * handed back in memory: the engine stores the summary and gives both to the MLflow syncer
 * without reading the files back. Also owns the shape of one records.jsonl line, which the
 * results page (sched_result_line) shares. */
#ifndef LLMAJ_OUTPUT_H
#define LLMAJ_OUTPUT_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "errlist.h"
#include "record.h"
#include "result.h"
#include "scheduler.h"
#include "spec.h"
#include "store.h"

typedef struct {
    const char *job_id;
    const spec_t *spec;
    const char *spec_json; /* canonical */
    const char *out_dir;   /* <output_path>/<job_id>; created if missing */
    sched_job_state_t state;
    const char *error; /* or NULL */
    time_t started_at, finished_at;
    double elapsed_s;
    uint64_t records, invalid, shards;
    uint32_t workers;
    bool partial;            /* cells are missing (a stopped or failed job): summary.json says so */
    const atomic_int *abort; /* may be NULL; once non-zero the writing stops (OUTPUT_INTERRUPTED) */
} output_info_t;

#define OUTPUT_INTERRUPTED (-2)

/* Appends one records.jsonl line (newline included) for a (record, target) to b. 0 / -1 (b's cap). */
int output_record_line(buf_t *b, const char *job_id, const record_t *rec, const result_t *res)
    __attribute__((warn_unused_result));

/* Writes the three files in one pass over the store's committed outputs (so summary.json is
 * computed from exactly the lines records.jsonl holds). *summary and *job get the two objects
 * (caller owns both). 0, or -1 with the reason in err (nothing handed back; files already
 * renamed into place stay; no temporary file is left), OUTPUT_INTERRUPTED when info->abort cut
 * it short. Before writing: temporaries a killed writer left in the folder are removed, and the
 * filesystem must have room for records.jsonl (store_outputs_bytes, a lower bound, plus a margin
 * for summary.json and job.json): "not enough free space in DIR: ..." otherwise, nothing
 * touched. */
int output_write(store_t *st, const output_info_t *info, cJSON **summary, cJSON **job, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif
