/* webreport: the results viewer as one self-contained HTML file (`llmaj report JOB --html FILE`,
 * and the report.html artifact the MLflow syncer uploads). Owns turning the embedded viewer
 * (webassets.h) into a single page: its stylesheet and scripts inlined, a Content-Security-Policy
 * that allows exactly those (by SHA-256) and nothing from the network, and the job's data
 * embedded as JSON that the page reads instead of calling the REST API:
 *
 *   {"job": {...}, "summary": {...} | null, "records": [records.jsonl rows], "records_total": N}
 *
 * `job` has the shape of GET /v1/jobs/{id}; `records` may hold fewer rows than `records_total`
 * (the page says so). Does not read the job database, nor any file but a records.jsonl it is
 * handed (callers gather the rest).
 *
 * DESIGN: the data sits in <script type="application/json">, which the browser never runs; every
 * '<' in it is written as \u003c (it can only occur inside JSON strings, where that escape is the
 * same text), so no prompt or response can close the element or open markup. The viewer only
 * ever puts job text into text nodes. */
#ifndef LLMAJ_WEBREPORT_H
#define LLMAJ_WEBREPORT_H
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

typedef struct webreport webreport_t;

webreport_t *webreport_new(void); /* caller owns; never NULL (out-of-memory aborts) */
void webreport_destroy(webreport_t **self_p);

/* The job object and the summary (either may be NULL: written as {} and null). Copied as JSON
 * text whose numbers read back as the same doubles (lib/jsonprint.h), so the page shows the
 * figures summary.json and `llmaj report` show. */
void webreport_set_job(webreport_t *r, const cJSON *job);
void webreport_set_summary(webreport_t *r, const cJSON *summary);

/* Adds one records.jsonl row (its JSON text, a trailing newline allowed). Returns 0, or -1 when
 * the text is not one JSON object (nothing added). */
int webreport_add_record(webreport_t *r, const char *line, size_t len) __attribute__((warn_unused_result));
size_t webreport_records(const webreport_t *r);

/* How many rows the job has in all (default: the rows added). */
void webreport_set_rows_total(webreport_t *r, uint64_t n);

/* Adds the first `max_rows` rows of a records.jsonl file (0 = all) and sets the total to the
 * number of rows in the file. A file that does not exist has no rows (a job that failed before
 * writing it). Rows that are not JSON objects are skipped and counted in *bad_rows (may be NULL).
 * 0, or -1 with err naming the file when it cannot be opened or read (the rows read are kept). */
int webreport_load_records(webreport_t *r, const char *path, uint64_t max_rows, uint64_t *bad_rows, char *err,
                           size_t errlen) __attribute__((warn_unused_result));

/* The viewer's job object (the shape of GET /v1/jobs/{id}: job_id, name, status, started_at,
 * ended_at, error, plus model, base_model, evaluator_model, elapsed_s, estimated_cost_usd) from a
 * job folder's job.json. Caller owns. */
cJSON *webreport_job_from_file(const cJSON *job_json);

/* The page. Caller frees; *len gets its length. NULL with a message in err when the embedded
 * page lacks what it must have (a stylesheet, a script, the charset meta) or an asset could
 * not be inlined safely. */
char *webreport_html(const webreport_t *r, size_t *len, char *err, size_t errlen);

#endif
