/* dataset: streams the records of a JSONL dataset, plain or gzip (detected by its magic bytes,
 * concatenated members included), one record_t at a time, with a cap on the length of a line.
 * Blank lines are skipped and take no index; a CRLF line end and a UTF-8 BOM at the start are
 * tolerated; invalid lines (too long, not UTF-8, not a valid record) are reported as
 * "NAME:LINE: ..." and skipped but still take an index, so record indexes never depend on which
 * lines were valid.
 *
 * The bytes come from a dataset_source_t: a local file (dataset_open), or anything else that can
 * be read in order (dataset_open_source): the scheduler feeds s3:// and https:// datasets through
 * aws/rstream.h, which eval/ does not know. Memory is bounded by the line cap and two fixed
 * buffers, whatever the size of the dataset. */
#ifndef LLMAJ_DATASET_H
#define LLMAJ_DATASET_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errlist.h"
#include "record.h"

#define DATASET_MAX_LINE_DEFAULT ((size_t)8 << 20)     /* 8 MiB */
#define DATASET_MAX_BYTES_DEFAULT ((uint64_t)10 << 30) /* 10 GiB: the spec's dataset_max_bytes */

typedef struct dataset dataset_t;

/* A source of dataset bytes, read once from start to end. */
typedef struct {
    /* Reads up to n bytes into buf: the number read (> 0), 0 at the end, or -1 on an error with a
     * message in err (which names the source). */
    long (*read)(void *ctx, void *buf, size_t n, char *err, size_t errlen);
    /* Frees ctx; may be NULL. Called once by dataset_close (or by dataset_open_source on failure). */
    void (*close)(void *ctx);
    void *ctx;
} dataset_source_t;

/* Opens `path` (a local file). max_line = 0 means DATASET_MAX_LINE_DEFAULT. Returns NULL with a
 * message in err for missing or unreadable files, for anything that is not a regular file (a
 * folder, a named pipe, a device such as /dev/zero: "PATH: is a named pipe, not a regular file"),
 * and for remote URIs (s3://, https://: open those with dataset_open_source). Caller owns the
 * result. */
dataset_t *dataset_open(const char *path, size_t max_line, char *err, size_t errlen);

/* The same with a cap on the file's size: a regular file larger than max_bytes (0: the default,
 * DATASET_MAX_BYTES_DEFAULT) is refused at open ("PATH: the file is N bytes, larger than the cap
 * of M bytes (dataset_max_bytes)"); dataset_limit's other rules apply to what is read. */
dataset_t *dataset_open_capped(const char *path, size_t max_line, uint64_t max_bytes, char *err, size_t errlen);

/* Bounds a dataset as it is read: past max_bytes bytes from the source (0: no cap; the raw bytes,
 * compressed ones for gzip) reading fails with "NAME: larger than the cap of N bytes
 * (dataset_max_bytes)"; once *cancel (may be NULL) is non-zero, the next read fails with "NAME:
 * interrupted after line N" (checked before every read from the source, so at least every
 * 128 KiB whatever the lines look like). Call before the first dataset_next. */
void dataset_limit(dataset_t *d, uint64_t max_bytes, const atomic_int *cancel);

/* Whether reading stopped because *cancel was set (not because of the data). */
bool dataset_interrupted(const dataset_t *d);

/* Opens a dataset read from `src`; `name` (a path or URI) names it in messages ("NAME:LINE: ...").
 * Takes ownership of src (closed by dataset_close). Caller owns the result. */
dataset_t *dataset_open_source(const char *name, dataset_source_t src, size_t max_line, char *err, size_t errlen);

/* The next valid record into *out (overwritten; caller record_clear's it). Invalid lines on the
 * way are added to errs and skipped. Returns 1 = a record, 0 = end of the dataset, -1 = read
 * error (corrupt or truncated gzip, I/O error: message added to errs); after 0 or -1 every
 * further call returns the same. */
int dataset_next(dataset_t *d, record_t *out, errlist_t *errs) __attribute__((warn_unused_result));

uint64_t dataset_lines(const dataset_t *d);   /* non-blank lines seen so far (= next index) */
uint64_t dataset_invalid(const dataset_t *d); /* invalid lines seen so far */
const char *dataset_path(const dataset_t *d); /* as given to dataset_open; valid until close */
void dataset_close(dataset_t **self_p);

/* Counts from reading a whole dataset. */
typedef struct {
    uint64_t lines;   /* non-blank lines */
    uint64_t records; /* valid records */
    uint64_t invalid; /* invalid lines */
    uint64_t with_reference;
    uint64_t with_responses; /* records carrying modelResponses */
    uint64_t with_context;
    uint64_t with_category;
    uint64_t categories;  /* distinct category values */
    size_t min_responses; /* fewest modelResponses on a record that has some (0 if none) */
} dataset_stats_t;

/* Reads the whole dataset, before any model call. Invalid lines are added to errs (keep errs'
 * `keep` at e.g. 20 to list the first 20 and count the rest) and counted in st->invalid; the
 * caller decides whether they are fatal (skip_invalid). Returns -1 when the dataset is unusable
 * whatever the spec says (cannot be opened or read, or has no valid record; the reason is added
 * to errs), else 0. */
int dataset_validate(const char *path, size_t max_line, errlist_t *errs, dataset_stats_t *st)
    __attribute__((warn_unused_result));

#endif
