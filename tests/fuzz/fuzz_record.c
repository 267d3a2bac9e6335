/* fuzz_record: one dataset line through the record parser (eval/record.c), the rules of what a
 * line means, as dataset.c hands it over (a line without its newline, not NUL-terminated).
 *
 * Properties: a line is either a record or at least one problem, and every problem names
 * "FILE:LINE:" (never both, never neither); a record has a non-blank prompt and survives a deep
 * copy; and every record the parser accepts can be shipped: the wire encodes it in a shard and
 * decodes exactly the same record (the dataset's limits are within the wire's). Seeds:
 * corpus/record (JSON lines, valid and not). */
#include <string.h>

#include "errlist.h"
#include "fuzz.h"
#include "log.h"
#include "record.h"
#include "wire.h"

static int same_str(const char *a, const char *b) { return (!a && !b) || (a && b && strcmp(a, b) == 0); }

static int same_record(const record_t *a, const record_t *b)
{
    if (a->index != b->index || a->n_responses != b->n_responses || !same_str(a->id, b->id) ||
        !same_str(a->prompt, b->prompt) || !same_str(a->reference, b->reference) || !same_str(a->context, b->context) ||
        !same_str(a->category, b->category))
        return 0;
    for (size_t i = 0; i < a->n_responses; i++)
        if (!same_str(a->responses[i].response, b->responses[i].response) ||
            !same_str(a->responses[i].model_identifier, b->responses[i].model_identifier))
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    log_set_level(LOG_OFF);
    errlist_t errs;
    errlist_init(&errs, 0);
    record_t rec;
    int rc = record_parse_line((const char *)data, size, "fuzz.jsonl", 7, 41, &rec, &errs);
    if (rc < 0) {
        FUZZ_ASSERT(errs.count > 0 && rec.prompt == NULL && rec.responses == NULL);
        for (size_t i = 0; i < errs.n_kept; i++) FUZZ_ASSERT(strncmp(errs.msgs[i], "fuzz.jsonl:7: ", 14) == 0);
        errlist_free(&errs);
        return 0;
    }
    FUZZ_ASSERT(errs.count == 0);
    errlist_free(&errs);
    FUZZ_ASSERT(rec.index == 41 && rec.prompt && strspn(rec.prompt, " \t\r\n\f\v") < strlen(rec.prompt));
    for (size_t i = 0; i < rec.n_responses; i++) FUZZ_ASSERT(rec.responses[i].response != NULL);
    char *id = record_id_text(&rec);
    FUZZ_ASSERT(id && *id);
    free(id);

    record_t copy;
    record_copy(&copy, &rec);
    FUZZ_ASSERT(same_record(&copy, &rec));
    record_clear(&copy);

    buf_t b;
    buf_init(&b, WIRE_MAX_MSG);
    FUZZ_ASSERT(wire_shard_encode("{}", &rec, 1, &b) == 0);
    wire_shard_t s;
    char err[256];
    FUZZ_ASSERT(wire_shard_decode(b.data, b.len, &s, err, sizeof err) == 0);
    FUZZ_ASSERT(s.n_records == 1 && same_record(&s.records[0], &rec));
    wire_shard_clear(&s);
    buf_free(&b);
    record_clear(&rec);
    return 0;
}
