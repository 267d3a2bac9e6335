/* fuzz_spec: job spec text through the spec parser (eval/spec.c, with metric.c and modelstr.c
 * behind it), as `llmaj run` reads a job.json.
 *
 * Properties: a spec is either returned with no problem or refused with at least one; and a
 * returned spec is a canonical fixed point: spec_to_json of it parses again without a problem,
 * and writing that second spec gives the same JSON text (spec.h: "spec_parse(spec_to_json(s))
 * gives an equal spec"). The fuzzer does not read the machine's files: an input whose
 * custom_metrics is a file path is skipped (a path such as /dev/stdin would block). Seeds:
 * corpus/spec; dictionary: spec.dict. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "errlist.h"
#include "fuzz.h"
#include "jsonerr.h"
#include "log.h"
#include "spec.h"

/* True when custom_metrics is a string that spec.c would open as a file. */
static int names_a_file(const uint8_t *data, size_t size)
{
    jsonerr_t at;
    cJSON *root = jsonerr_parse((const char *)data, size, &at);
    if (!root) return 0;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "custom_metrics");
    int file = 0;
    if (cJSON_IsString(v)) {
        const char *t = v->valuestring;
        while (isspace((unsigned char)*t)) t++;
        file = *t != '[' && *t != '{';
    }
    cJSON_Delete(root);
    return file;
}

static char *canonical(const spec_t *s)
{
    cJSON *j = spec_to_json(s);
    FUZZ_ASSERT(j != NULL);
    char *text = cJSON_PrintUnformatted(j);
    FUZZ_ASSERT(text != NULL);
    cJSON_Delete(j);
    return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    log_set_level(LOG_OFF);
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
    if (names_a_file(data, size)) return 0;
    errlist_t errs;
    errlist_init(&errs, 0);
    spec_t *s = spec_parse((const char *)data, size, "fuzz.json", NULL, &errs);
    if (!s) {
        FUZZ_ASSERT(errs.count > 0);
        errlist_free(&errs);
        return 0;
    }
    FUZZ_ASSERT(errs.count == 0);
    FUZZ_ASSERT(s->evaluator_model && s->dataset && s->output_path && s->n_metrics > 0);
    FUZZ_ASSERT(s->shard_size >= 1 && s->shard_size <= 10000);
    char *first = canonical(s);
    spec_destroy(&s);
    FUZZ_ASSERT(s == NULL);

    spec_t *again = spec_parse(first, strlen(first), "canonical", NULL, &errs);
    if (!again) errlist_print(&errs, stderr, "canonical spec refused: ");
    FUZZ_ASSERT(again != NULL && errs.count == 0);
    char *second = canonical(again);
    if (strcmp(first, second) != 0) fprintf(stderr, "first:  %s\nsecond: %s\n", first, second);
    FUZZ_ASSERT(strcmp(first, second) == 0);
    free(first);
    free(second);
    spec_destroy(&again);
    errlist_free(&errs);
    return 0;
}
