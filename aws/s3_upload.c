/* s3_upload: uploading a local file to S3, in one PutObject or as a multipart upload; see
 * s3_upload_file in s3.h.
 *
 * DESIGN. The file is read one part at a time into a single buffer (part_size, at least 5 MiB,
 * raised so that no file needs more than 10,000 parts), each part uploaded with its own retries
 * (s3_request) and its ETag kept; CompleteMultipartUpload lists them in order. Any failure aborts
 * the upload so that no orphan parts are left billed, then reports the first error. The result is
 * checked with HeadObject: an upload is only a success when the object has the file's size. */
#define LOG_MODULE "aws"
#include "s3.h"
#include "awshttp.h"
#include "awsxml.h"
#include "log.h"
#include "mem.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Reads up to n bytes (fewer only at the end of the file). */
static size_t read_full(FILE *f, char *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        size_t r = fread(p + got, 1, n - got, f);
        if (r == 0) break;
        got += r;
    }
    return got;
}

static int put_small(s3_t *s, const char *bucket, const char *key, FILE *f, uint64_t size, const char *path,
                     const char *ct, s3_err_t *e)
{
    char *data = xmalloc(size ? (size_t)size : 1);
    size_t got = read_full(f, data, (size_t)size);
    int rc = -1;
    if (got != size || ferror(f)) snprintf(e->msg, sizeof e->msg, "%s: read error: %s", path, strerror(errno));
    else rc = s3_put(s, bucket, key, data, (size_t)size, ct, e);
    free(data);
    return rc;
}

static void abort_upload(s3_t *s, const char *bucket, const char *key, const char *qid)
{
    s3_err_t ae;
    if (s3_request(s, "AbortMultipartUpload", "s3:AbortMultipartUpload", "DELETE", bucket, key, qid, NULL, NULL, 0,
                   NULL, NULL, &ae) < 0)
        log_warn("could not abort the multipart upload to s3://%s/%s (its parts stay until a lifecycle rule "
                 "removes them): %s",
                 bucket, key, ae.msg);
}

static int put_multipart(s3_t *s, const char *bucket, const char *key, FILE *f, uint64_t size, const char *path,
                         const char *ct, s3_err_t *e)
{
    httpmsg_headers_t hd;
    httpmsg_headers_init(&hd);
    httpmsg_headers_add(&hd, "Content-Type", ct);
    buf_t reply;
    buf_init(&reply, 1 << 20);
    int rc = s3_request(s, "CreateMultipartUpload", "s3:PutObject", "POST", bucket, key, "uploads", &hd, "", 0, &reply,
                        NULL, e);
    httpmsg_headers_clear(&hd);
    char *id = rc == 0 ? awsxml_text(reply.data ? reply.data : "", reply.len, "UploadId") : NULL;
    buf_free(&reply);
    if (rc < 0) return -1;
    if (!id || !*id) {
        free(id);
        snprintf(e->msg, sizeof e->msg, "CreateMultipartUpload s3://%s/%s: the answer has no UploadId", bucket, key);
        return -1;
    }
    buf_t qid;
    buf_init(&qid, 0);
    if (buf_puts(&qid, "uploadId=") < 0 || awshttp_encode(&qid, id, false) < 0) abort();
    size_t part = s3_part_size(s, size);
    uint64_t nparts = (size + part - 1) / part;
    char *data = xmalloc(part);
    buf_t done;
    buf_init(&done, 0);
    if (buf_puts(&done, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">") < 0) abort();
    int result = (int)nparts;
    for (uint64_t i = 0; i < nparts; i++) {
        size_t want = (size_t)(i + 1 < nparts ? part : size - i * part);
        if (read_full(f, data, want) != want) {
            snprintf(e->msg, sizeof e->msg, "%s: read error or the file shrank while uploading (part %" PRIu64 ")",
                     path, i + 1);
            result = -1;
            break;
        }
        char q[600];
        snprintf(q, sizeof q, "partNumber=%" PRIu64 "&%s", i + 1, qid.data);
        httpmsg_headers_t rh;
        httpmsg_headers_init(&rh);
        if (s3_request(s, "UploadPart", "s3:PutObject", "PUT", bucket, key, q, NULL, data, want, NULL, &rh, e) < 0) {
            httpmsg_headers_clear(&rh);
            result = -1;
            break;
        }
        const char *etag = httpmsg_headers_get(&rh, "ETag");
        if (!etag || !*etag) {
            snprintf(e->msg, sizeof e->msg, "UploadPart s3://%s/%s: part %" PRIu64 " came back without an ETag", bucket,
                     key, i + 1);
            httpmsg_headers_clear(&rh);
            result = -1;
            break;
        }
        if (buf_printf(&done, "<Part><PartNumber>%" PRIu64 "</PartNumber><ETag>", i + 1) < 0 ||
            awsxml_escape(&done, etag) < 0 || buf_puts(&done, "</ETag></Part>") < 0)
            abort();
        httpmsg_headers_clear(&rh);
        log_debug("s3://%s/%s: part %" PRIu64 " of %" PRIu64 " uploaded", bucket, key, i + 1, nparts);
    }
    free(data);
    if (result > 0) {
        if (buf_puts(&done, "</CompleteMultipartUpload>") < 0) abort();
        httpmsg_headers_init(&hd);
        httpmsg_headers_add(&hd, "Content-Type", "application/xml");
        if (s3_request(s, "CompleteMultipartUpload", "s3:PutObject", "POST", bucket, key, qid.data, &hd, done.data,
                       done.len, NULL, NULL, e) < 0)
            result = -1;
        httpmsg_headers_clear(&hd);
    }
    if (result < 0) {
        s3_err_t keep = *e;
        abort_upload(s, bucket, key, qid.data);
        *e = keep;
    }
    buf_free(&done);
    buf_free(&qid);
    free(id);
    return result;
}

int s3_upload_file(s3_t *s, const char *bucket, const char *key, const char *path, const char *content_type,
                   s3_object_t *out, s3_err_t *e)
{
    memset(e, 0, sizeof(*e));
    const char *ct = content_type ? content_type : "application/octet-stream";
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(e->msg, sizeof e->msg, "%s: cannot read: %s", path, f ? "not a regular file" : strerror(errno));
        if (f) fclose(f);
        return -1;
    }
    uint64_t size = (uint64_t)st.st_size;
    int parts = size <= s3_multipart_threshold(s) ? (put_small(s, bucket, key, f, size, path, ct, e) < 0 ? -1 : 1)
                                                  : put_multipart(s, bucket, key, f, size, path, ct, e);
    fclose(f);
    if (parts < 0) return -1;
    s3_object_t o;
    if (s3_head(s, bucket, key, &o, e) < 0) return -1;
    if (o.size != size) {
        snprintf(e->msg, sizeof e->msg,
                 "s3://%s/%s: uploaded %s (%" PRIu64 " bytes) but the object has %" PRIu64 " bytes", bucket, key, path,
                 size, o.size);
        return -1;
    }
    if (out) *out = o;
    return parts;
}
