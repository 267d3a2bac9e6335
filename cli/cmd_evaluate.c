/* llmaj evaluate --spec FILE: the seed's `evaluate()`: submits a job to a scheduler service
 * (--scheduler URL, else LLMAJ_SCHEDULER, else http://127.0.0.1:8080; token from LLMAJ_TOKEN),
 * prints its id and returns at once (`llmaj wait JOB` follows it; --wait does that here). The
 * spec is the file with the spec-key flags applied over it, as `llmaj run` takes them. Paths in
 * it are the service's: relative ones are sent made absolute from the spec's folder (`dataset`
 * and a custom metrics file when they exist here, `output_path` always), which is right when the
 * service shares this machine's files; give absolute paths, s3:// or https:// otherwise. */
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "file.h"
#include "mem.h"
#include "remote.h"
#include "specflags.h"

#define SPEC_MAX (64u << 20)
#define DEFAULT_SERVICE "http://127.0.0.1:8080"

static void usage(FILE *f)
{
    fprintf(f, "usage: llmaj evaluate --spec FILE [--scheduler URL] [--wait [--quiet]] [spec flags]\n"
               "\n"
               "Submits a job to a scheduler service and prints its id (then `llmaj wait JOB`, `llmaj status JOB`).\n"
               "The service validates it first: a bad spec or dataset is refused with every problem, nothing run.\n"
               "\n"
               "options:\n"
               "  --spec FILE       the job spec (JSON); the flags below override its keys\n"
               "  --scheduler URL   the service (env LLMAJ_SCHEDULER; default " DEFAULT_SERVICE
               "); token from LLMAJ_TOKEN\n"
               "  --wait            then wait for it as `llmaj wait` does (exit status as `llmaj run`)\n"
               "  --quiet           with --wait: no progress output\n" SPECFLAGS_USAGE "\n"
               "exit status: 0 submitted, 1 the service could not be reached or failed, 2 bad input (nothing run)\n");
}

/* A relative path becomes absolute from the spec's folder (base): for `dataset` and a custom
 * metrics file when it exists here; for `output_path` always (as `llmaj run` reads it). */
static void absolutize(cJSON *spec, const char *key, const char *base, bool must_exist)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(spec, key);
    if (!cJSON_IsString(v) || !*v->valuestring || v->valuestring[0] == '/' || strstr(v->valuestring, "://") ||
        v->valuestring[0] == '[' || v->valuestring[0] == '{')
        return;
    char *joined = xasprintf("%s/%s", base, v->valuestring);
    char real[PATH_MAX], dir[PATH_MAX];
    if (realpath(joined, real)) {
        cJSON_SetValuestring(v, real);
    } else if (!must_exist && realpath(base, dir)) {
        char *abs = xasprintf("%s/%s", dir, v->valuestring);
        cJSON_SetValuestring(v, abs);
        free(abs);
    }
    free(joined);
}

int cmd_evaluate(int argc, char **argv)
{
    static const struct option opts[] = {
        {"spec", required_argument, NULL, 's'},
        {"scheduler", required_argument, NULL, 'S'},
        {"wait", no_argument, NULL, 'w'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        SPECFLAGS_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    const char *spec_path = NULL, *url_flag = NULL;
    bool wait = false, quiet = false;
    char err[2048];
    cJSON *ov = cJSON_CreateObject();
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "s:hq", opts, NULL)) != -1) {
        switch (c) {
        case 's': spec_path = optarg; break;
        case 'S': url_flag = optarg; break;
        case 'w': wait = true; break;
        case 'q': quiet = true; break;
        case 'h':
            usage(stdout);
            cJSON_Delete(ov);
            return CLI_EXIT_OK;
        default: {
            int k = specflags_set(ov, c, optarg, err, sizeof err);
            if (k < 0) goto bad;
            if (k > 0) break;
            usage(stderr);
            cJSON_Delete(ov);
            return CLI_EXIT_BAD_INPUT;
        }
        }
    }
    if (optind < argc) {
        snprintf(err, sizeof err, "unexpected argument '%s'", argv[optind]);
        goto bad;
    }
    if (!spec_path && !cJSON_GetArraySize(ov)) {
        snprintf(err, sizeof err, "--spec FILE is required (or give the spec keys as flags)");
        goto bad;
    }
    cJSON *spec = NULL;
    char base[PATH_MAX] = ".";
    if (spec_path) {
        char *text = NULL;
        size_t len = 0;
        if (file_read_all(spec_path, SPEC_MAX, 0, &text, &len, err, sizeof err) < 0) goto bad;
        spec = cJSON_ParseWithLength(text, len);
        free(text);
        if (!cJSON_IsObject(spec)) {
            cJSON_Delete(spec);
            snprintf(err, sizeof err, "%s: not a JSON object", spec_path);
            goto bad;
        }
        char tmp[PATH_MAX];
        snprintf(tmp, sizeof tmp, "%s", spec_path);
        snprintf(base, sizeof base, "%s", dirname(tmp));
    } else {
        spec = cJSON_CreateObject();
        if (!getcwd(base, sizeof base)) snprintf(base, sizeof base, ".");
    }
    for (const cJSON *it = ov->child; it; it = it->next) {
        cJSON_DeleteItemFromObjectCaseSensitive(spec, it->string);
        cJSON_AddItemToObject(spec, it->string, cJSON_Duplicate(it, 1));
    }
    absolutize(spec, "dataset", base, true);
    absolutize(spec, "custom_metrics", base, true);
    absolutize(spec, "output_path", base, false);
    char *body = cJSON_PrintUnformatted(spec);
    cJSON_Delete(spec);
    cJSON_Delete(ov);
    ov = NULL;
    const char *url = remote_url(url_flag);
    if (!url) url = DEFAULT_SERVICE;
    remote_t *r = remote_open(url, err, sizeof err);
    if (!r) {
        free(body);
        goto bad;
    }
    errlist_t errs;
    errlist_init(&errs, 0);
    char job_id[SCHED_JOB_ID_MAX];
    sched_err_t rc = remote_submit(r, body, job_id, &errs);
    free(body);
    int code = cli_exit(rc);
    if (rc == SCHED_OK) {
        printf("%s\n", job_id);
        fflush(stdout);
    } else {
        fprintf(stderr, "llmaj evaluate: %s: %zu problem(s):\n",
                code == CLI_EXIT_BAD_INPUT ? "the job was not accepted" : sched_strerror(rc), errs.count);
        errlist_print(&errs, stderr, "  ");
    }
    errlist_free(&errs);
    remote_close(&r);
    if (rc == SCHED_OK && wait) {
        char *av[] = {"wait", job_id, "--scheduler", (char *)url, "--quiet", NULL};
        code = cmd_wait(quiet ? 5 : 4, av);
    }
    return code;
bad:
    fprintf(stderr, "llmaj evaluate: %s\n", err);
    cJSON_Delete(ov);
    return CLI_EXIT_BAD_INPUT;
}
