/* fuzz_dataset: a whole dataset file through the streaming reader (eval/dataset.c): gzip or
 * plain, line splitting with a small line cap (so that "too long" is reachable), blank lines,
 * CRLF, the BOM, UTF-8 validity, then each line through record.c.
 *
 * The input is the file's bytes, in an anonymous memory file read through its /proc path.
 * Properties: indexes rise strictly and stay below the count of non-blank lines; at a clean
 * end, valid records plus invalid lines make every non-blank line; after the end every call
 * gives the same answer; and dataset_validate, reading the same file again, counts exactly what
 * the stream saw. Seeds: corpus/dataset (JSONL files, one gzip). */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dataset.h"
#include "errlist.h"
#include "fuzz.h"
#include "log.h"

#define MAX_LINE 200

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    log_set_level(LOG_OFF);
    int fd = memfd_create("fuzz-dataset", MFD_CLOEXEC);
    FUZZ_ASSERT(fd >= 0);
    for (size_t off = 0; off < size;) {
        ssize_t w = write(fd, data + off, size - off);
        FUZZ_ASSERT(w > 0);
        off += (size_t)w;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);

    char err[512];
    dataset_t *d = dataset_open(path, MAX_LINE, err, sizeof err);
    FUZZ_ASSERT(d != NULL);
    errlist_t errs;
    errlist_init(&errs, 0);
    uint64_t records = 0, last_index = 0;
    int rc;
    record_t rec;
    while ((rc = dataset_next(d, &rec, &errs)) == 1) {
        FUZZ_ASSERT(rec.prompt != NULL && rec.index < dataset_lines(d));
        FUZZ_ASSERT(records == 0 || rec.index > last_index);
        last_index = rec.index;
        records++;
        record_clear(&rec);
    }
    FUZZ_ASSERT(rc == 0 || rc == -1);
    FUZZ_ASSERT(dataset_next(d, &rec, &errs) == rc && rec.prompt == NULL);
    uint64_t lines = dataset_lines(d), invalid = dataset_invalid(d);
    FUZZ_ASSERT(invalid <= lines && records + invalid <= lines);
    if (rc == 0) FUZZ_ASSERT(records + invalid == lines);
    FUZZ_ASSERT(invalid == 0 || errs.count >= invalid);
    if (rc < 0) FUZZ_ASSERT(errs.count > 0);
    dataset_close(&d);
    FUZZ_ASSERT(d == NULL);
    errlist_free(&errs);

    errlist_init(&errs, 20);
    dataset_stats_t st;
    memset(&st, 0, sizeof st);
    int vrc = dataset_validate(path, MAX_LINE, &errs, &st);
    if (rc == 0) {
        FUZZ_ASSERT(st.lines == lines && st.records == records && st.invalid == invalid);
        FUZZ_ASSERT(vrc == (records ? 0 : -1));
        FUZZ_ASSERT(st.with_reference <= records && st.with_responses <= records && st.with_context <= records &&
                    st.with_category <= records && st.categories <= st.with_category);
    } else {
        FUZZ_ASSERT(vrc == -1);
    }
    FUZZ_ASSERT(vrc == 0 || errs.count > 0);
    errlist_free(&errs);
    close(fd);
    return 0;
}
