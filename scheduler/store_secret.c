/* store_secret: a job's secret in the job database (jobs.secret): made once, at random, the
 * first time the job is opened to run, and kept, so a scheduler that restarts (or a second engine
 * resuming the job) proves to the broker that the job is its own (protocol.md §6.10). See
 * store.h (store_job_secret).
 *
 * Does not own the schema's other columns, nor what the broker does with the secret.
 *
 * DESIGN. 32 bytes from getrandom, written as 64 lowercase hex digits. The read and the write
 * are separate statements prepared here (once per job open: not a hot path), so this file does
 * not add to store.c's table of statements. The secret is never logged. */
#define LOG_MODULE "store"
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "store.h"
#include "store_int.h"

/* 64 hex digits from the kernel's generator; -1 when it cannot give them. */
static int make_secret(char *out, size_t outlen)
{
    unsigned char raw[32];
    size_t got = 0;
    while (got < sizeof raw) {
        ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
        if (n <= 0) return -1;
        got += (size_t)n;
    }
    static const char hex[] = "0123456789abcdef";
    if (outlen < 2 * sizeof raw + 1) return -1;
    for (size_t i = 0; i < sizeof raw; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[2 * sizeof raw] = '\0';
    return 0;
}

int store_job_secret(store_t *s, const char *job_id, char *out, size_t outlen)
{
    out[0] = '\0';
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT secret FROM jobs WHERE job_id=?", -1, &st, NULL) != SQLITE_OK) return -1;
    sqlite3_bind_text(st, 1, job_id, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_TEXT)
        snprintf(out, outlen, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) return rc == SQLITE_DONE ? 1 : -1;
    if (out[0]) return 0;
    char fresh[65];
    if (make_secret(fresh, sizeof fresh) < 0) return -1;
    /* Only where none is kept yet: two engines opening the job at once keep the first one's. */
    if (sqlite3_prepare_v2(s->db, "UPDATE jobs SET secret=? WHERE job_id=? AND secret IS NULL", -1, &st, NULL) !=
        SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, fresh, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, job_id, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    int changed = sqlite3_changes(s->db);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return -1;
    if (changed == 1) {
        snprintf(out, outlen, "%s", fresh);
        return 0;
    }
    /* Another engine's, written meanwhile: read it (once; an empty one is refused). */
    if (sqlite3_prepare_v2(s->db, "SELECT secret FROM jobs WHERE job_id=?", -1, &st, NULL) != SQLITE_OK) return -1;
    sqlite3_bind_text(st, 1, job_id, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_TEXT)
        snprintf(out, outlen, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return out[0] ? 0 : -1;
}
