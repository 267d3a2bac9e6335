/* report: what `llmaj run` and `llmaj wait` show a person: live progress on stderr (a bar that
 * redraws in place on a terminal, a plain line every few seconds otherwise) and the summary
 * table of a finished job. */
#ifndef LLMAJ_REPORT_H
#define LLMAJ_REPORT_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "scheduler.h"

typedef struct {
    FILE *f;
    bool tty, quiet, drawn;
    double last_line_s;
} report_progress_t;

void report_progress_init(report_progress_t *r, FILE *f, bool quiet);
void report_progress(const sched_progress_t *p, void *arg); /* a scheduler progress callback */
void report_progress_end(report_progress_t *r);             /* ends a drawn bar with a newline */

/* Prints summary.json as tables: per target and metric, then the comparison. */
void report_summary(FILE *f, const cJSON *summary);

/* How `llmaj run`, `llmaj wait` and `llmaj retry` end: the summary tables (when `summary` is not
 * NULL), the error, the results folder, the MLflow sync, and a last line that says how the job
 * ended. Returns the exit code: CLI_EXIT_OK succeeded, CLI_EXIT_ERROR_CELLS succeeded with error
 * cells (the last line says so, and how to rerun them), CLI_EXIT_FAILED failed or stopped. */
int report_outcome(FILE *f, const sched_status_t *st, const cJSON *summary);

#endif
