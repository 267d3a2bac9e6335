/* collector: writes a finished job's result files from the store (DESIGN.md "Results"):
 * records.jsonl (one line per (record, target), in record order), summary.json (aggregate.c) and
 * job.json (the spec as run, timings, token usage per model, estimated cost). Each file is
 * written to a temporary name and renamed, so a reader never sees half a file. */
#ifndef LLMAJ_COLLECTOR_H
#define LLMAJ_COLLECTOR_H
#include <stdint.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "record.h"
#include "result.h"
#include "spec.h"
#include "store.h"

typedef struct {
    const char *job_id;
    const spec_t *spec;
    const char *spec_json;   /* canonical */
    const char *out_dir;     /* <output_path>/<job_id> */
    job_state_t state;
    const char *error;       /* or NULL */
    time_t started_at, finished_at;
    double elapsed_s;
    uint64_t records, invalid, shards;
    uint32_t workers;
} collector_info_t;

/* Appends one records.jsonl line (newline included) for a (record, target) to b. 0 / -1 (b's cap). */
int collector_record_line(buf_t *b, const char *job_id, const record_t *rec, const result_t *res)
    __attribute__((warn_unused_result));

/* Writes the three files; *summary gets the summary (caller owns). -1 with a message on failure. */
int collector_write(store_t *st, const collector_info_t *ci, cJSON **summary, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif
