/* s3: an Amazon S3 client on libcurl and our SigV4, for the scheduler's datasets and results.
 *
 * Owns: addressing, signing, retries and readable errors for the calls llmaj makes: HeadObject,
 * GetObject of a byte range, PutObject, multipart upload of a file (s3_upload.c), ListObjectsV2.
 * Does not own: streaming a dataset (rstream.h reads windows with s3_get_range), what to upload
 * (the caller), credentials (awscreds: the whole chain, refreshed).
 *
 * Addressing. Virtual-hosted by default: https://BUCKET.s3.REGION.amazonaws.com/KEY (a bucket
 * with a '.' goes path style on https://s3.REGION.amazonaws.com/BUCKET/KEY, as the SDKs do, since
 * its name breaks the TLS wildcard). An endpoint override (opts.endpoint, else AWS_ENDPOINT_URL_S3,
 * else AWS_ENDPOINT_URL) switches to path style: ENDPOINT/BUCKET/KEY (MinIO, LocalStack, the mock);
 * AWS_S3_ADDRESSING_STYLE=path|virtual|auto overrides either default. Keys are percent-encoded
 * except '/'.
 *
 * Retries. Connection errors, HTTP 500/502/503/504, SlowDown, RequestTimeout, InternalError and
 * OperationAborted are retried with capped exponential backoff and jitter (opts.max_attempts in
 * all); ExpiredToken / InvalidToken drop the credential cache and retry once with fresh
 * credentials. A 200 answer to CompleteMultipartUpload that carries an <Error> is an error too.
 *
 * Errors say what failed, where and what to do: "GetObject s3://b/k: NoSuchKey (HTTP 404): the
 * object does not exist"; "NoSuchBucket: the bucket b does not exist"; AccessDenied names the
 * credentials' source and the IAM action needed (s3:GetObject, s3:PutObject, s3:ListBucket); a
 * bucket in another region than the job's (HTTP 301 PermanentRedirect with x-amz-bucket-region,
 * or AuthorizationHeaderMalformed naming the region) names both regions and the spec key to
 * change. Secrets never appear.
 *
 * Blocking; one s3_t per thread (it keeps one connection). */
#ifndef LLMAJ_S3_H
#define LLMAJ_S3_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "httpmsg.h"

#define S3_PART_SIZE_DEFAULT ((size_t)8 << 20)
#define S3_PART_SIZE_MIN ((size_t)5 << 20)
#define S3_MULTIPART_THRESHOLD_DEFAULT ((size_t)16 << 20)
#define S3_MAX_PARTS 10000

typedef struct s3 s3_t;

typedef struct {
    const char *region;         /* required: the job's region */
    const char *profile;        /* AWS profile for credentials; NULL = the chain's default */
    const char *endpoint;       /* NULL = AWS_ENDPOINT_URL_S3, then AWS_ENDPOINT_URL, then AWS */
    int path_style;             /* -1 = as described above, 0 = virtual-hosted, 1 = path */
    int max_attempts;           /* 0 = 5 */
    int backoff_base_ms;        /* 0 = 200 */
    int backoff_max_ms;         /* 0 = 20000 */
    size_t part_size;           /* multipart part size; 0 = S3_PART_SIZE_DEFAULT (at least 5 MiB) */
    size_t multipart_threshold; /* files larger than this go multipart; 0 = the default */
    long timeout_ms;            /* one request; 0 = 300000 */
} s3_opts_t;

/* What went wrong with a call. */
typedef struct {
    long status;            /* HTTP status of the last answer, 0 when none came */
    char code[64];          /* S3's error code ("NoSuchBucket", "AccessDenied", ...), or "" */
    char bucket_region[32]; /* the bucket's region when S3 said it is elsewhere, else "" */
    char msg[2048];         /* the whole readable message */
} s3_err_t;

typedef struct {
    uint64_t size;
    char etag[80];
} s3_object_t;

typedef struct {
    char *key;
    uint64_t size;
    char etag[80];
} s3_entry_t;

/* Splits "s3://bucket/key" (key may be empty when allow_no_key). Caller frees both. 0 or -1 with
 * err naming what is wrong (bucket naming rules are checked). */
int s3_uri_parse(const char *uri, bool allow_no_key, char **bucket, char **key, char *err, size_t errlen)
    __attribute__((warn_unused_result));

s3_t *s3_new(const s3_opts_t *opts, char *err, size_t errlen) __attribute__((warn_unused_result));
void s3_destroy(s3_t **self_p);

/* The URL of an object (for logs and tests). Caller frees. */
char *s3_object_url(const s3_t *s, const char *bucket, const char *key);

int s3_head(s3_t *s, const char *bucket, const char *key, s3_object_t *out, s3_err_t *e)
    __attribute__((warn_unused_result));

/* Reads bytes [offset, offset + len) of an object into out (appended; len is also the cap).
 * if_match: the ETag the object must still have (a 412 PreconditionFailed is reported as "the
 * object changed while it was being read"), or NULL. 0, or -1 with e. */
int s3_get_range(s3_t *s, const char *bucket, const char *key, uint64_t offset, uint64_t len, const char *if_match,
                 buf_t *out, s3_err_t *e) __attribute__((warn_unused_result));

int s3_put(s3_t *s, const char *bucket, const char *key, const void *data, size_t len, const char *content_type,
           s3_err_t *e) __attribute__((warn_unused_result));

/* Uploads a local file: one PutObject up to the multipart threshold, else a multipart upload of
 * part_size parts read one at a time (memory: one part), aborted on failure. The object is then
 * checked with HeadObject: its size must be the file's. out (may be NULL) gets size and ETag.
 * Returns the number of parts used (1 for a PutObject), or -1 with e. */
int s3_upload_file(s3_t *s, const char *bucket, const char *key, const char *path, const char *content_type,
                   s3_object_t *out, s3_err_t *e) __attribute__((warn_unused_result));

/* One page of ListObjectsV2 under prefix (max_keys 1..1000; continuation NULL for the first
 * page). *next gets the token for the next page, or NULL at the end. Caller frees with
 * s3_entries_free and free(*next). */
int s3_list(s3_t *s, const char *bucket, const char *prefix, const char *continuation, int max_keys, s3_entry_t **out,
            size_t *n, char **next, s3_err_t *e) __attribute__((warn_unused_result));
void s3_entries_free(s3_entry_t *v, size_t n);

/* ---- for s3_upload.c ---- */

/* One S3 request with retries. query: "uploads" or "partNumber=1&uploadId=..." (already
 * encoded) or NULL. On success (2xx) 0 with the reply in *resp_body and *resp_headers when not NULL
 * (caller frees / clears). -1 with e. `op` names the call in messages; `action` is the IAM
 * action an AccessDenied asks for. */
int s3_request(s3_t *s, const char *op, const char *action, const char *method, const char *bucket, const char *key,
               const char *query, const httpmsg_headers_t *extra, const void *body, size_t body_len, buf_t *resp_body,
               httpmsg_headers_t *resp_headers, s3_err_t *e) __attribute__((warn_unused_result));
size_t s3_part_size(const s3_t *s, uint64_t file_size);
size_t s3_multipart_threshold(const s3_t *s);

#endif
