/* specflags: the job spec's keys as flags, shared by `llmaj run` and `llmaj evaluate`; see
 * specflags.c. */
#ifndef LLMAJ_SPECFLAGS_H
#define LLMAJ_SPECFLAGS_H
#include <getopt.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#define SPECFLAG_FIRST 1000 /* getopt codes of the flags below: SPECFLAG_FIRST + n */

/* getopt_long entries, to put in a command's option table. */
#define SPECFLAGS_LONGOPTS                                                                                      \
    {"model", required_argument, 0, 1000}, {"base-model", required_argument, 0, 1001},                          \
        {"evaluate-base-model", required_argument, 0, 1002}, {"evaluator-model", required_argument, 0, 1003},   \
        {"dataset", required_argument, 0, 1004}, {"builtin-metrics", required_argument, 0, 1005},               \
        {"custom-metrics", required_argument, 0, 1006}, {"output-path", required_argument, 0, 1007},            \
        {"shard-size", required_argument, 0, 1008}, {"skip-invalid", no_argument, 0, 1009},                     \
        {"region", required_argument, 0, 1010}, {"name", required_argument, 0, 1011},                           \
        {"mlflow-tracking-uri", required_argument, 0, 1012}, {"mlflow-experiment", required_argument, 0, 1013}, \
        {"mlflow-run-name", required_argument, 0, 1014}, {"reuse-responses-from", required_argument, 0, 1015},  \
        {"cache", no_argument, 0, 1016},                                                                        \
    {                                                                                                           \
        "dataset-max-bytes", required_argument, 0, 1017                                                         \
    }

/* The usage lines that list them. */
#define SPECFLAGS_USAGE                                                                            \
    "spec keys as flags:\n"                                                                        \
    "  --model M  --base-model M  --evaluate-base-model true|false  --evaluator-model M\n"         \
    "  --dataset PATH  --builtin-metrics A,B,...  --custom-metrics JSON|FILE  --output-path DIR\n" \
    "  --shard-size N  --skip-invalid  --region R  --name NAME  --dataset-max-bytes N\n"           \
    "  --mlflow-tracking-uri URI  --mlflow-experiment NAME  --mlflow-run-name NAME\n"              \
    "  --reuse-responses-from JOB  --cache\n"

/* Option `code` with its argument into the overrides object `ov`: 1 taken, 0 not a spec flag,
 * -1 with err (a value the key cannot take). */
int specflags_set(cJSON *ov, int code, const char *arg, char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
