/* jobsrc: where the job verbs (status, results, list, wait, stop, retry) read and act: a scheduler
 * service (remote.c) when one is named (--scheduler URL or LLMAJ_SCHEDULER), else the local job
 * database (jobdb.c). One handle with the same calls either way, so each command has one code
 * path and prints the same whichever it talks to. */
#ifndef LLMAJ_JOBSRC_H
#define LLMAJ_JOBSRC_H
#include <stdbool.h>
#include <stddef.h>

#include "remote.h"
#include "scheduler.h"

typedef struct {
    remote_t *remote;      /* the service, or NULL */
    sched_db_t *db;        /* the local database, or NULL */
    const char *db_path;   /* its path */
    const char *db_origin; /* "--db", "LLMAJ_DB" or "default" */
} jobsrc_t;

/* Opens the service of --scheduler `url_flag`, else (unless --db `db_flag` is given) of
 * $LLMAJ_SCHEDULER, else the local database (--db `db_flag` or its default). 0, or -1 after printing the reason on stderr prefixed by `who` ("llmaj status"); *code
 * gets the exit code then. */
int jobsrc_open(jobsrc_t *s, const char *url_flag, const char *db_flag, const char *who, int *code);
void jobsrc_close(jobsrc_t *s);

/* Each as its sched_* or remote_* counterpart. */
sched_err_t jobsrc_resolve(jobsrc_t *s, const char *ref, char **job_id, errlist_t *errs);
/* Whether the last call failed only because the service was unreachable (remote_unavailable);
 * never for the local database. */
bool jobsrc_unavailable(const jobsrc_t *s);
sched_err_t jobsrc_status(jobsrc_t *s, const char *job_id, sched_status_t *st, errlist_t *errs);
sched_err_t jobsrc_summary(jobsrc_t *s, const char *job_id, cJSON **summary, errlist_t *errs);
sched_err_t jobsrc_list(jobsrc_t *s, sched_job_cb cb, void *arg, errlist_t *errs);
sched_err_t jobsrc_results(jobsrc_t *s, const char *job_id, uint64_t offset, uint64_t limit, const sched_rows_t *cbs,
                           sched_page_t *page, errlist_t *errs);

#endif
