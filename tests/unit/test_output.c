/* test_output: a job's result files from the store: records.jsonl (one line per committed
 * (record, target), in record order, the DESIGN.md keys), summary.json computed from exactly those
 * lines and handed back in memory equal to the file, job.json (status, error, counts, usage and
 * cost per model); the shape of one line; a failed write (an out_dir in the way, a full disk)
 * reported with nothing handed back and no temporary file left behind. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"
#include "job.h"
#include "jsonprint.h"
#include "log.h"
#include "mem.h"
#include "output.h"
#include "spec.h"
#include "store.h"
#include "check.h"
#include "jobfix.h"

static char *dir;

static cJSON *read_json(const char *path)
{
    char *text = NULL, err[512];
    size_t len = 0;
    if (file_read_all(path, 1 << 24, 0, &text, &len, err, sizeof err) < 0) return NULL;
    cJSON *j = cJSON_ParseWithLength(text, len);
    free(text);
    return j;
}

static int tmp_files(const char *d)
{
    DIR *dd = opendir(d);
    int n = 0;
    for (struct dirent *e; dd && (e = readdir(dd));)
        if (strstr(e->d_name, ".tmp")) n++;
    if (dd) closedir(dd);
    return n;
}

typedef struct {
    store_t *st;
    spec_t *spec;
    char *spec_json;
    char id[SCHED_JOB_ID_MAX];
} fix_t;

/* A stored job of 4 records with a base model, every output committed (record 3's base failed). */
static void fix_start(fix_t *f, const char *db)
{
    char *data = xasprintf("%s/d.jsonl", dir), *out = xasprintf("%s/out", dir);
    jobfix_dataset(data, 4);
    char *spec = jobfix_spec(data, out, 2, 1, NULL);
    sched_submit_t in = {.spec_json = spec, .len = strlen(spec), .origin = "spec"};
    errlist_t errs;
    errlist_init(&errs, 0);
    char *used = NULL, err[512];
    CHECK(job_submit(&in, db, NULL, NULL, &used, f->id, &errs) == SCHED_OK);
    f->st = store_open(db, STORE_WRITE, err, sizeof err);
    f->spec = spec_parse(spec, strlen(spec), "spec", NULL, &errs);
    cJSON *cj = spec_to_json(f->spec);
    f->spec_json = cJSON_PrintUnformatted(cj);
    cJSON_Delete(cj);
    for (uint64_t i = 0; i < 4; i++)
        for (int t = 0; t < 2; t++) {
            result_t r = i == 3 && t == 1 ? jobfix_result(f->id, i, TARGET_BASE, 2, "!Correctness", "!Helpfulness")
                                          : jobfix_result(f->id, i, (target_t)t, 2, "Correctness", "Helpfulness");
            if (i == 3 && t == 1) {
                xfree(&r.response);
                r.error = xstrdup("HTTP 500 from the model");
            }
            bool fo;
            size_t fs;
            CHECK(store_result_commit(f->st, f->id, &r, &fo, &fs, NULL) == 0);
            result_clear(&r);
        }
    errlist_free(&errs);
    free(used);
    free(spec);
    free(data);
    free(out);
}

static void fix_stop(fix_t *f)
{
    store_close(&f->st);
    spec_destroy(&f->spec);
    free(f->spec_json);
}

/* a and b are the same JSON, every number the same double. */
static bool same_json(const cJSON *a, const cJSON *b)
{
    char *ta = jsonprint(a, false), *tb = jsonprint(b, false);
    bool same = !strcmp(ta, tb);
    free(ta);
    free(tb);
    return same;
}

static void test_write(void)
{
    fix_t f;
    char *db = xasprintf("%s/o.db", dir);
    fix_start(&f, db);
    char *out_dir = xasprintf("%s/out/%s", dir, f.id);
    output_info_t oi = {.job_id = f.id,
                        .spec = f.spec,
                        .spec_json = f.spec_json,
                        .out_dir = out_dir,
                        .state = SCHED_JOB_SUCCEEDED,
                        .started_at = 1000,
                        .finished_at = 1010,
                        .elapsed_s = 10,
                        .records = 4,
                        .invalid = 1,
                        .shards = 2,
                        .workers = 2};
    cJSON *sum = NULL, *job = NULL;
    char err[512];
    CHECK(output_write(f.st, &oi, &sum, &job, err, sizeof err) == 0);
    char *p = xasprintf("%s/records.jsonl", out_dir);
    char *text = NULL;
    size_t len = 0;
    CHECK(file_read_all(p, 1 << 24, 0, &text, &len, err, sizeof err) == 0);
    int lines = 0;
    for (char *l = text, *nl; l && *l; l = nl ? nl + 1 : NULL, lines++) {
        nl = strchr(l, '\n');
        cJSON *row = cJSON_ParseWithLength(l, nl ? (size_t)(nl - l) : strlen(l));
        CHECK(row != NULL);
        const char *keys[] = {"job_id",   "record_index", "record_id", "target", "model",      "prompt",
                              "response", "category",     "scores",    "usage",  "latency_ms", "error"};
        for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) CHECK(cJSON_HasObjectItem(row, keys[k]));
        CHECK(cJSON_GetObjectItemCaseSensitive(row, "record_index")->valuedouble == lines / 2); /* record order */
        CHECK_STR(cJSON_GetObjectItemCaseSensitive(row, "target")->valuestring, lines % 2 ? "base" : "custom");
        cJSON_Delete(row);
    }
    CHECK(lines == 8);
    free(text);
    free(p);

    /* The summary handed back is summary.json, number for number (cJSON_Compare would let the
     * last bits differ; equal jsonprint texts mean equal doubles). */
    p = xasprintf("%s/summary.json", out_dir);
    cJSON *file_sum = read_json(p);
    CHECK(file_sum && same_json(file_sum, sum));
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(sum, "targets"), "base"), "metrics"),
        "Correctness");
    CHECK(m && cJSON_GetObjectItemCaseSensitive(m, "n")->valuedouble == 3 &&
          cJSON_GetObjectItemCaseSensitive(m, "n_error")->valuedouble == 1);
    cJSON_Delete(file_sum);
    free(p);
    p = xasprintf("%s/job.json", out_dir);
    cJSON *file_job = read_json(p);
    CHECK(file_job && same_json(file_job, job));
    CHECK_STR(cJSON_GetObjectItemCaseSensitive(job, "status")->valuestring, "succeeded");
    CHECK_STR(cJSON_GetObjectItemCaseSensitive(job, "started_at")->valuestring, "1970-01-01T00:16:40Z");
    const cJSON *recs = cJSON_GetObjectItemCaseSensitive(job, "records");
    CHECK(cJSON_GetObjectItemCaseSensitive(recs, "total")->valuedouble == 5 &&
          cJSON_GetObjectItemCaseSensitive(recs, "invalid_skipped")->valuedouble == 1);
    const cJSON *usage = cJSON_GetObjectItemCaseSensitive(job, "usage");
    CHECK(cJSON_GetObjectItemCaseSensitive(usage, "openai-api/mock/ft") != NULL);
    CHECK(cJSON_GetObjectItemCaseSensitive(usage, "anthropic/judge") != NULL);
    cJSON_Delete(file_job);
    free(p);
    cJSON_Delete(sum);
    cJSON_Delete(job);
    CHECK(tmp_files(out_dir) == 0);

    /* A line's shape, with its key order and no score for an error. */
    record_t rec = {.index = 7, .prompt = "p"};
    result_t res = jobfix_result("j", 7, TARGET_CUSTOM, 1, "!Correctness");
    buf_t b;
    buf_init(&b, 0);
    CHECK(output_record_line(&b, "j", &rec, &res) == 0 && b.data[b.len - 1] == '\n');
    CHECK(b.data &&
          !strncmp(b.data, "{\"job_id\":\"j\",\"record_index\":7,\"record_id\":\"7\",\"target\":\"custom\",", 64));
    CHECK(strstr(b.data, "\"Correctness\":{\"score\":null,\"normalized\":null,") != NULL);
    buf_free(&b);
    buf_init(&b, 16);
    CHECK(output_record_line(&b, "j", &rec, &res) == -1); /* the cap */
    buf_free(&b);
    result_clear(&res);

    /* Failures: the folder is a file; the disk fills up. Nothing handed back, no temporary left. */
    char *blocked = xasprintf("%s/blocked", dir);
    FILE *fp = fopen(blocked, "w");
    fclose(fp);
    oi.out_dir = blocked;
    CHECK(output_write(f.st, &oi, &sum, &job, err, sizeof err) == -1 && !sum && !job);
    CHECK(strstr(err, "blocked") != NULL);
    char *full = xasprintf("%s/full", dir);
    oi.out_dir = full;
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 1500;
    signal(SIGXFSZ, SIG_IGN);
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    int rc = output_write(f.st, &oi, &sum, &job, err, sizeof err);
    CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
    CHECK(rc == -1 && !sum && !job && strstr(err, "File too large"));
    CHECK(tmp_files(full) == 0);
    free(full);
    free(blocked);
    free(out_dir);
    fix_stop(&f);
    free(db);
}

/* Cut short by its abort flag: OUTPUT_INTERRUPTED, nothing written, no temporary left; a killed
 * writer's temporaries are swept by the next write. */
static void test_interrupted(void)
{
    fix_t f;
    char *db = xasprintf("%s/i.db", dir);
    fix_start(&f, db);
    char *out_dir = xasprintf("%s/outi/%s", dir, f.id);
    atomic_int abort_flag = 1;
    output_info_t oi = {.job_id = f.id,
                        .spec = f.spec,
                        .spec_json = f.spec_json,
                        .out_dir = out_dir,
                        .state = SCHED_JOB_SUCCEEDED,
                        .records = 4,
                        .shards = 2,
                        .abort = &abort_flag};
    cJSON *sum = NULL, *job = NULL;
    char err[512];
    CHECK(output_write(f.st, &oi, &sum, &job, err, sizeof err) == OUTPUT_INTERRUPTED);
    CHECK(!sum && !job && strstr(err, "interrupted"));
    CHECK(tmp_files(out_dir) == 0);
    char *rec = xasprintf("%s/records.jsonl", out_dir), *stale = xasprintf("%s/summary.json.tmp", out_dir);
    CHECK(access(rec, F_OK) != 0);
    FILE *fp = fopen(stale, "w");
    CHECK(fp != NULL);
    if (fp) fclose(fp);
    atomic_store(&abort_flag, 0);
    CHECK(output_write(f.st, &oi, &sum, &job, err, sizeof err) == 0);
    CHECK(access(rec, F_OK) == 0 && access(stale, F_OK) != 0);
    CHECK(tmp_files(out_dir) == 0);
    uint64_t need = 0;
    CHECK(store_outputs_bytes(f.st, f.id, &need) == 0);
    struct stat sb;
    CHECK(stat(rec, &sb) == 0 && need > 0 && need <= (uint64_t)sb.st_size); /* a lower bound */
    cJSON_Delete(sum);
    cJSON_Delete(job);
    free(rec);
    free(stale);
    free(out_dir);
    fix_stop(&f);
    free(db);
}

int main(void)
{
    log_set_level(LOG_ERROR);
    dir = jobfix_tmpdir("test_output");
    jobfix_env("http://127.0.0.1:9");
    test_write();
    test_interrupted();
    jobfix_rmdir(dir);
    free(dir);
    return check_summary("test_output");
}
