/* jobfix.h: what the scheduler's unit tests share, header-only: a temporary folder, a dataset of
 * n records, a job spec for it (models on the mock LLM's OpenAI-compatible and Anthropic APIs),
 * the environment that points those models at a server, and a result builder. Not here: the
 * engine, the broker, the workers (test_sched.c starts them), what the tests assert. */
#ifndef LLMAJ_TESTS_JOBFIX_H
#define LLMAJ_TESTS_JOBFIX_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mem.h"
#include "result.h"

/* A new temporary folder "<TMPDIR>/<name>.XXXXXX" (exits the test when it cannot). Caller frees. */
static inline char *jobfix_tmpdir(const char *name)
{
    const char *tmp = getenv("TMPDIR");
    char *d = xasprintf("%s/%s.XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
    if (!mkdtemp(d)) {
        perror("mkdtemp");
        exit(2);
    }
    return d;
}

static inline void jobfix_rmdir(const char *dir)
{
    char *cmd = xasprintf("rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    free(cmd);
}

/* n records, one a line: id r<i>, a prompt, a reference, a category of three. */
static inline void jobfix_dataset(const char *path, int n)
{
    FILE *f = fopen(path, "w");
    if (!f) exit(2);
    static const char *const cats[] = {"math", "history", "code"};
    for (int i = 0; i < n; i++)
        fprintf(f,
                "{\"id\": \"r%d\", \"prompt\": \"Question number %d: explain item %d.\", "
                "\"referenceResponse\": \"Reference answer %d.\", \"category\": \"%s\"}\n",
                i, i, i * 7 % 97, i, cats[i % 3]);
    fclose(f);
}

/* A spec (caller frees) for `dataset` writing under `out`, `shard_size` records a shard, with a base
 * model when `base`; `extra` (may be NULL) is more members, e.g. "\"name\": \"x\"". */
static inline char *jobfix_spec(const char *dataset, const char *out, int shard_size, int base, const char *extra)
{
    return xasprintf("{\"model\": \"openai-api/mock/ft\", \"base_model\": \"openai-api/mock/base\", "
                     "\"evaluate_base_model\": %s, \"evaluator_model\": \"anthropic/judge\", "
                     "\"builtin_metrics\": [\"Correctness\", \"Helpfulness\"], \"dataset\": \"%s\", "
                     "\"output_path\": \"%s\", \"shard_size\": %d%s%s}",
                     base ? "true" : "false", dataset, out, shard_size, extra ? ", " : "", extra ? extra : "");
}

/* Points the spec's models at `url` (the mock LLM: "http://127.0.0.1:PORT"). */
static inline void jobfix_env(const char *url)
{
    char *v1 = xasprintf("%s/v1", url);
    setenv("MOCK_BASE_URL", v1, 1);
    setenv("MOCK_API_KEY", "k", 1);
    setenv("ANTHROPIC_BASE_URL", url, 1);
    setenv("ANTHROPIC_API_KEY", "k", 1);
    free(v1);
}

/* A result of (record, target) with a score for each metric named: "Name" ok (rating "correct",
 * score 2, normalized 1), "!Name" error. */
static inline result_t jobfix_result(const char *job_id, uint64_t idx, target_t t, int n, ...)
{
    result_t r = {0};
    r.job_id = xstrdup(job_id);
    r.record_index = idx;
    r.target = t;
    r.model = xstrdup(t == TARGET_CUSTOM ? "openai-api/mock/ft" : "openai-api/mock/base");
    r.response = xasprintf("response %llu/%d", (unsigned long long)idx, (int)t);
    r.usage.input_tokens = 10;
    r.usage.output_tokens = 20;
    r.latency_ms = 5;
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        const char *m = va_arg(ap, const char *);
        score_t *s = result_add_score(&r);
        if (m[0] == '!') {
            s->metric = xstrdup(m + 1);
            s->status = SCORE_ERROR;
            s->error = xstrdup("judge failed");
        } else {
            s->metric = xstrdup(m);
            s->status = SCORE_OK;
            s->rating = xstrdup(!strcmp(m, "Helpfulness") ? "very helpful" : "correct");
            s->has_score = true;
            s->score = !strcmp(m, "Helpfulness") ? 5 : 2;
            s->normalized = !strcmp(m, "Helpfulness") ? 5.0 / 6 : 1;
            s->explanation = xstrdup("because");
        }
        s->attempts = 1;
    }
    va_end(ap);
    return r;
}

#endif
