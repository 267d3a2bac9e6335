/* specflags: the job spec's keys as flags (DESIGN.md "CLI": flags mirror its keys), for the commands
 * that take a spec (`llmaj run`, `llmaj evaluate`): the option table, the usage lines, and each
 * flag turned into a spec key of an overrides object (JSON booleans and numbers where the key
 * takes them), applied on top of --spec by the scheduler (sched_submit_t.overrides). */
#include "specflags.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "mem.h"

static const char *const keys[] = {"model",
                                   "base_model",
                                   "evaluate_base_model",
                                   "evaluator_model",
                                   "dataset",
                                   "builtin_metrics",
                                   "custom_metrics",
                                   "output_path",
                                   "shard_size",
                                   "skip_invalid",
                                   "region",
                                   "name",
                                   "mlflow.tracking_uri",
                                   "mlflow.experiment",
                                   "mlflow.run_name",
                                   "reuse_responses_from",
                                   "cache",
                                   "dataset_max_bytes"};

/* Adds a spec key from a flag value: JSON booleans and numbers where the key takes them. */
static int add_override(cJSON *ov, const char *key, const char *val, char *err, size_t errlen)
{
    cJSON_DeleteItemFromObjectCaseSensitive(ov, key);
    if (!strcmp(key, "builtin_metrics")) {
        cJSON *a = cJSON_AddArrayToObject(ov, key);
        for (const char *p = val; *p;) {
            const char *end = strchr(p, ',');
            size_t n = end ? (size_t)(end - p) : strlen(p);
            while (n && *p == ' ') {
                p++;
                n--;
            }
            while (n && p[n - 1] == ' ') n--;
            if (n) {
                char *name = xstrndup(p, n);
                cJSON_AddItemToArray(a, cJSON_CreateString(name));
                free(name);
            }
            p = end ? end + 1 : p + strlen(p);
        }
        return 0;
    }
    if (!strcmp(key, "evaluate_base_model") || !strcmp(key, "skip_invalid") || !strcmp(key, "cache")) {
        if (!strcmp(val, "true") || !strcmp(val, "1")) cJSON_AddTrueToObject(ov, key);
        else if (!strcmp(val, "false") || !strcmp(val, "0")) cJSON_AddFalseToObject(ov, key);
        else {
            snprintf(err, errlen, "--%s: '%s' is not true or false", key, val);
            return -1;
        }
        return 0;
    }
    if (!strcmp(key, "shard_size")) {
        long v;
        if (daemon_parse_int(val, 1, 10000, &v, "--shard-size", err, errlen) < 0) return -1;
        cJSON_AddNumberToObject(ov, key, (double)v);
        return 0;
    }
    if (!strcmp(key, "dataset_max_bytes")) {
        long v;
        if (daemon_parse_int(val, 1, LONG_MAX, &v, "--dataset-max-bytes", err, errlen) < 0) return -1;
        cJSON_AddNumberToObject(ov, key, (double)v);
        return 0;
    }
    if (!strcmp(key, "custom_metrics")) {
        /* A JSON text, or a path (the spec module reads paths). */
        cJSON *j = cJSON_Parse(val);
        if (j) cJSON_AddItemToObject(ov, key, j);
        else cJSON_AddStringToObject(ov, key, val);
        return 0;
    }
    if (!strncmp(key, "mlflow.", 7)) {
        cJSON *m = cJSON_GetObjectItemCaseSensitive(ov, "mlflow");
        if (!m) m = cJSON_AddObjectToObject(ov, "mlflow");
        cJSON_DeleteItemFromObjectCaseSensitive(m, key + 7);
        cJSON_AddStringToObject(m, key + 7, val);
        return 0;
    }
    cJSON_AddStringToObject(ov, key, val);
    return 0;
}

int specflags_set(cJSON *ov, int code, const char *arg, char *err, size_t errlen)
{
    if (code < SPECFLAG_FIRST || code >= SPECFLAG_FIRST + (int)(sizeof keys / sizeof keys[0])) return 0;
    const char *key = keys[code - SPECFLAG_FIRST];
    bool flag = !strcmp(key, "skip_invalid") || !strcmp(key, "cache"); /* no argument: on */
    return add_override(ov, key, flag ? "true" : arg, err, errlen) < 0 ? -1 : 1;
}
