/* rstream: a remote object read in order, a window at a time, for datasets: s3://bucket/key (S3
 * GetObject of byte ranges, the object pinned by the ETag its first HeadObject saw) and
 * https://... (plain GET with Range; presigned URLs work since nothing is added to them).
 * http:// is accepted for servers on this machine only (tests, a local mirror).
 *
 * Memory: one window (rstream_opts_t.window, default 8 MiB) whatever the object's size, so a
 * 10 GB dataset streams through a fixed buffer. An https server that ignores Range (answers 200
 * with the whole body) is spooled to an unlinked temporary file instead, read from there.
 *
 * Errors come at open when they can (the object does not exist, access denied, the bucket is in
 * another region: S3's messages, see s3.h), else at the read that hits them; each names the URI.
 * Transient failures are retried (s3.h's rules; https: three attempts per window on connection
 * errors and 5xx). The object changing while read (ETag mismatch) is an error, never a silent
 * mix of two versions. */
#ifndef LLMAJ_RSTREAM_H
#define LLMAJ_RSTREAM_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataset.h"

#define RSTREAM_WINDOW_DEFAULT ((size_t)8 << 20)

typedef struct rstream rstream_t;

typedef struct {
    const char *region;  /* s3:// only: the job's region (required for s3://) */
    const char *profile; /* AWS profile, or NULL */
    size_t window;       /* bytes per ranged request; 0 = RSTREAM_WINDOW_DEFAULT */
    /* Once *cancel (may be NULL) is non-zero, an https transfer under way is cut short and every
     * read fails with "URI: interrupted" (an S3 window, at most `window` bytes, completes first). */
    const atomic_int *cancel;
    uint64_t max_bytes; /* an https server that ignores Range: its body spooled up to this; 0 = no cap */
} rstream_opts_t;

/* True for the URIs rstream reads (s3://, https://, http:// to a loopback host). */
bool rstream_supports(const char *uri);

/* Opens uri (HeadObject for s3://, the first window for https://). NULL with err. */
rstream_t *rstream_open(const char *uri, const rstream_opts_t *o, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Reads up to n bytes: > 0 bytes, 0 at the end, -1 with err. */
long rstream_read(rstream_t *r, void *buf, size_t n, char *err, size_t errlen);

uint64_t rstream_size(const rstream_t *r);     /* the object's size, 0 when not known yet */
uint64_t rstream_requests(const rstream_t *r); /* ranged requests made so far */
void rstream_close(rstream_t **self_p);

/* The stream as a dataset byte source: takes ownership of r (closed by dataset_close). */
dataset_source_t rstream_dataset_source(rstream_t *r);

#endif
