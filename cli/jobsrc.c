/* jobsrc: a service or the local job database, behind one set of calls; see jobsrc.h. */
#include "jobsrc.h"

#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "jobdb.h"

int jobsrc_open(jobsrc_t *s, const char *url_flag, const char *db_flag, const char *who, int *code)
{
    memset(s, 0, sizeof *s);
    char err[4096];
    *code = CLI_EXIT_OK;
    /* --db names the local database: it wins over LLMAJ_SCHEDULER (not over --scheduler). */
    const char *url = url_flag ? url_flag : db_flag ? NULL : remote_url(NULL);
    if (url) {
        if (db_flag) {
            fprintf(stderr, "%s: give either --scheduler or --db, not both\n", who);
            *code = CLI_EXIT_BAD_INPUT;
            return -1;
        }
        if (!(s->remote = remote_open(url, err, sizeof err))) {
            fprintf(stderr, "%s: %s\n", who, err);
            *code = CLI_EXIT_BAD_INPUT;
            return -1;
        }
        return 0;
    }
    s->db_path = jobdb_path(db_flag, &s->db_origin);
    sched_err_t why;
    if (!(s->db = jobdb_open(s->db_path, s->db_origin, err, sizeof err, &why))) {
        fprintf(stderr, "%s: %s\n", who, err);
        *code = cli_exit(why);
        return -1;
    }
    return 0;
}

void jobsrc_close(jobsrc_t *s)
{
    remote_close(&s->remote);
    sched_db_close(&s->db);
}

sched_err_t jobsrc_resolve(jobsrc_t *s, const char *ref, char **job_id, errlist_t *errs)
{
    if (s->remote) return remote_resolve(s->remote, ref, job_id, errs);
    char err[4096];
    sched_err_t rc = jobdb_resolve(s->db, ref, job_id, err, sizeof err); /* says what to do next */
    if (rc != SCHED_OK) errlist_add(errs, "%s", err);
    return rc;
}

bool jobsrc_unavailable(const jobsrc_t *s) { return s->remote && remote_unavailable(s->remote); }

sched_err_t jobsrc_status(jobsrc_t *s, const char *job_id, sched_status_t *st, errlist_t *errs)
{
    return s->remote ? remote_job_status(s->remote, job_id, st, errs) : sched_job_status(s->db, job_id, st, errs);
}

sched_err_t jobsrc_summary(jobsrc_t *s, const char *job_id, cJSON **summary, errlist_t *errs)
{
    return s->remote ? remote_job_summary(s->remote, job_id, summary, errs)
                     : sched_job_summary(s->db, job_id, summary, errs);
}

sched_err_t jobsrc_list(jobsrc_t *s, sched_job_cb cb, void *arg, errlist_t *errs)
{
    return s->remote ? remote_jobs_list(s->remote, cb, arg, errs) : sched_jobs_list(s->db, cb, arg, errs);
}

sched_err_t jobsrc_results(jobsrc_t *s, const char *job_id, uint64_t offset, uint64_t limit, const sched_rows_t *cbs,
                           sched_page_t *page, errlist_t *errs)
{
    return s->remote ? remote_job_results(s->remote, job_id, offset, limit, cbs, page, errs)
                     : sched_job_results(s->db, job_id, offset, limit, cbs, page, errs);
}
