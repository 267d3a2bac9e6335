/* mock_aws_s3: the mock's S3, path style (/BUCKET, /BUCKET/KEY): CreateBucket, HeadBucket,
 * ListObjectsV2, PutObject, GetObject (Range, If-Match), HeadObject, DeleteObject and multipart
 * uploads (create, upload part, complete, abort), with S3's REST-XML errors: NoSuchBucket,
 * NoSuchKey, AccessDenied (the --aws-deny list), PermanentRedirect with x-amz-bucket-region when a
 * request is signed for another region than the bucket's, SlowDown (the first --aws-slowdown
 * requests), InvalidRange, PreconditionFailed, EntityTooSmall (a part other than the last under
 * 5 MiB), InvalidPart, NoSuchUpload. Objects live in memory, buckets sorted by key. */
#define LOG_MODULE "mockllm"
#include "mock_aws_int.h"

#include "awsxml.h"
#include "log.h"
#include "mem.h"

#include <openssl/evp.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PUT(call)                \
    do {                         \
        if ((call) < 0) abort(); \
    } while (0) /* unbounded buffers */
#define MIN_PART ((size_t)5 << 20)

/* ---- the store ---- */

mock_bucket_t *mock_aws_bucket(mock_aws_t *a, const char *name)
{
    for (size_t i = 0; i < a->n_buckets; i++)
        if (strcmp(a->buckets[i].name, name) == 0) return &a->buckets[i];
    return NULL;
}

mock_bucket_t *mock_aws_bucket_add(mock_aws_t *a, const char *name, const char *region)
{
    a->buckets = xrealloc(a->buckets, (a->n_buckets + 1) * sizeof(*a->buckets));
    mock_bucket_t *b = &a->buckets[a->n_buckets++];
    memset(b, 0, sizeof(*b));
    b->name = xstrdup(name);
    snprintf(b->region, sizeof b->region, "%s", region);
    return b;
}

static void upload_free(mock_upload_t *u)
{
    for (size_t i = 0; i < u->n_parts; i++) buf_free(&u->parts[i].data);
    free(u->parts);
    free(u->bucket);
    free(u->key);
    free(u);
}

void mock_aws_s3_free(mock_aws_t *a)
{
    for (size_t i = 0; i < a->n_buckets; i++) {
        mock_bucket_t *b = &a->buckets[i];
        for (size_t k = 0; k < b->n; k++) {
            free(b->objs[k].key);
            buf_free(&b->objs[k].data);
        }
        free(b->objs);
        free(b->name);
    }
    free(a->buckets);
    for (size_t i = 0; i < a->n_uploads; i++) upload_free(a->uploads[i]);
    free(a->uploads);
}

/* Index of key in b, or where it would go (*found says which). */
static size_t obj_pos(const mock_bucket_t *b, const char *key, bool *found)
{
    size_t lo = 0, hi = b->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(b->objs[mid].key, key);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    *found = false;
    return lo;
}

static mock_obj_t *obj_put(mock_bucket_t *b, const char *key)
{
    bool found;
    size_t i = obj_pos(b, key, &found);
    if (found) {
        buf_reset(&b->objs[i].data);
        return &b->objs[i];
    }
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 16;
        b->objs = xrealloc(b->objs, b->cap * sizeof(*b->objs));
    }
    memmove(&b->objs[i + 1], &b->objs[i], (b->n - i) * sizeof(*b->objs));
    b->n++;
    memset(&b->objs[i], 0, sizeof(b->objs[i]));
    b->objs[i].key = xstrdup(key);
    buf_init(&b->objs[i].data, 0);
    return &b->objs[i];
}

/* A whole number from text, or -1. */
static long number(const char *s)
{
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    return errno || *end || v < 0 ? -1 : v;
}

static void md5_raw(const void *p, size_t n, unsigned char out[16])
{
    unsigned int len = 0;
    if (EVP_Digest(p ? p : "", n, out, &len, EVP_md5(), NULL) != 1 || len != 16) abort();
}

static void md5_etag(const void *p, size_t n, char out[36])
{
    unsigned char md[16];
    md5_raw(p, n, md);
    out[0] = '"';
    for (int i = 0; i < 16; i++) snprintf(out + 1 + 2 * i, 3, "%02x", md[i]);
    out[33] = '"';
    out[34] = '\0';
}

static const char *static_type(const char *ct)
{
    static const char *const known[] = {"application/json", "application/x-ndjson", "application/jsonl",
                                        "text/plain",       "application/gzip",     "application/xml"};
    if (ct)
        for (size_t i = 0; i < sizeof known / sizeof *known; i++)
            if (strncasecmp(ct, known[i], strlen(known[i])) == 0) return known[i];
    return "application/octet-stream";
}

/* ---- replies ---- */

static void request_id(mock_aws_t *a, mock_resp_t *resp)
{
    mock_resp_header(resp, "x-amz-request-id", "MOCK%012llX", (unsigned long long)a->n_s3);
}

static void s3_error(mock_aws_t *a, mock_resp_t *resp, int status, const char *code, const char *msg,
                     const char *resource, bool head)
{
    buf_t *b = mock_resp_start(resp, status);
    resp->content_type = "application/xml";
    request_id(a, resp);
    if (head) return; /* HEAD errors carry no body */
    PUT(buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>"));
    PUT(buf_puts(b, code));
    PUT(buf_puts(b, "</Code><Message>"));
    PUT(awsxml_escape(b, msg));
    PUT(buf_puts(b, "</Message>"));
    if (resource) {
        PUT(buf_puts(b, "<Resource>"));
        PUT(awsxml_escape(b, resource));
        PUT(buf_puts(b, "</Resource>"));
    }
    PUT(buf_printf(b, "<RequestId>MOCK%012llX</RequestId></Error>", (unsigned long long)a->n_s3));
}

static void xml_start(mock_resp_t *resp, buf_t **b)
{
    *b = mock_resp_start(resp, 200);
    resp->content_type = "application/xml";
    PUT(buf_puts(*b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"));
}

/* ---- operations ---- */

static void list_objects(mock_aws_t *a, mock_bucket_t *bk, const char *uri, mock_resp_t *resp)
{
    char *prefix = mock_aws_query(uri, "prefix", NULL);
    char *token = mock_aws_query(uri, "continuation-token", NULL);
    char *after = mock_aws_query(uri, "start-after", NULL);
    char *mk = mock_aws_query(uri, "max-keys", NULL);
    long max = 1000;
    if (mk && *mk) {
        char *end;
        errno = 0;
        max = strtol(mk, &end, 10);
        if (errno || *end || max < 0) {
            s3_error(a, resp, 400, "InvalidArgument", "max-keys must be a whole number >= 0", NULL, false);
            goto done;
        }
        if (max > 1000) max = 1000;
    }
    const char *from = token && *token ? token : after;
    buf_t *b;
    xml_start(resp, &b);
    PUT(buf_puts(b, "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>"));
    PUT(awsxml_escape(b, bk->name));
    PUT(buf_puts(b, "</Name><Prefix>"));
    PUT(awsxml_escape(b, prefix ? prefix : ""));
    PUT(buf_printf(b, "</Prefix><MaxKeys>%ld</MaxKeys>", max));
    long count = 0;
    bool truncated = false;
    const char *last = NULL;
    size_t pl = prefix ? strlen(prefix) : 0;
    for (size_t i = 0; i < bk->n; i++) {
        const mock_obj_t *o = &bk->objs[i];
        if (pl && strncmp(o->key, prefix, pl) != 0) continue;
        if (from && *from && strcmp(o->key, from) <= 0) continue;
        if (count == max) {
            truncated = true;
            break;
        }
        PUT(buf_puts(b, "<Contents><Key>"));
        PUT(awsxml_escape(b, o->key));
        PUT(buf_puts(b, "</Key><LastModified>2025-01-01T00:00:00.000Z</LastModified><ETag>"));
        PUT(awsxml_escape(b, o->etag));
        PUT(buf_printf(b, "</ETag><Size>%zu</Size><StorageClass>STANDARD</StorageClass></Contents>", o->data.len));
        last = o->key;
        count++;
    }
    PUT(buf_printf(b, "<KeyCount>%ld</KeyCount><IsTruncated>%s</IsTruncated>", count, truncated ? "true" : "false"));
    if (truncated && last) {
        PUT(buf_puts(b, "<NextContinuationToken>"));
        PUT(awsxml_escape(b, last));
        PUT(buf_puts(b, "</NextContinuationToken>"));
    }
    PUT(buf_puts(b, "</ListBucketResult>"));
done:
    free(prefix);
    free(token);
    free(after);
    free(mk);
}

/* Parses "bytes=A-B", "bytes=A-", "bytes=-N" against size. 1 = a range, 0 = none, -1 = bad. */
static int parse_range(const char *h, size_t size, size_t *from, size_t *to)
{
    if (!h) return 0;
    if (strncmp(h, "bytes=", 6) != 0 || strchr(h, ',')) return -1;
    const char *p = h + 6;
    char *end;
    if (*p == '-') {
        unsigned long long n = strtoull(p + 1, &end, 10);
        if (*end || n == 0 || size == 0) return -1;
        *from = n >= size ? 0 : size - (size_t)n;
        *to = size - 1;
        return 1;
    }
    unsigned long long a = strtoull(p, &end, 10);
    if (end == p || *end != '-' || a >= size) return -1;
    p = end + 1;
    if (!*p) {
        *to = size - 1;
    } else {
        unsigned long long bb = strtoull(p, &end, 10);
        if (*end || bb < a) return -1;
        *to = bb >= size ? size - 1 : (size_t)bb;
    }
    *from = (size_t)a;
    return 1;
}

static void get_object(mock_aws_t *a, const mock_aws_req_t *r, mock_obj_t *o, bool head, mock_resp_t *resp)
{
    const char *im = mock_aws_header(r, "If-Match");
    if (im && strcmp(im, "*") != 0 && strcmp(im, o->etag) != 0) {
        s3_error(a, resp, 412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold",
                 NULL, head);
        return;
    }
    size_t from = 0, to = 0;
    int rr = parse_range(mock_aws_header(r, "Range"), o->data.len, &from, &to);
    if (rr < 0) {
        s3_error(a, resp, 416, "InvalidRange", "The requested range is not satisfiable", NULL, head);
        mock_resp_header(resp, "Content-Range", "bytes */%zu", o->data.len);
        return;
    }
    buf_t *b = mock_resp_start(resp, rr ? 206 : 200);
    resp->content_type = o->content_type ? o->content_type : "application/octet-stream";
    if (rr) {
        PUT(buf_append(b, o->data.data + from, to - from + 1));
        mock_resp_header(resp, "Content-Range", "bytes %zu-%zu/%zu", from, to, o->data.len);
    } else if (o->data.len) {
        PUT(buf_append(b, o->data.data, o->data.len));
    }
    mock_resp_header(resp, "ETag", "%s", o->etag);
    mock_resp_header(resp, "Accept-Ranges", "bytes");
    mock_resp_header(resp, "Last-Modified", "Wed, 01 Jan 2025 00:00:00 GMT");
    request_id(a, resp);
}

static mock_upload_t *upload_find(mock_aws_t *a, const char *id, size_t *idx)
{
    for (size_t i = 0; i < a->n_uploads; i++)
        if (strcmp(a->uploads[i]->id, id) == 0) {
            if (idx) *idx = i;
            return a->uploads[i];
        }
    return NULL;
}

static void upload_drop(mock_aws_t *a, size_t i)
{
    upload_free(a->uploads[i]);
    a->uploads[i] = a->uploads[--a->n_uploads];
}

static void complete(mock_aws_t *a, const mock_aws_req_t *r, mock_bucket_t *bk, const char *key, const char *id,
                     mock_resp_t *resp)
{
    size_t ui;
    mock_upload_t *u = upload_find(a, id, &ui);
    if (!u || strcmp(u->bucket, bk->name) != 0 || strcmp(u->key, key) != 0) {
        s3_error(a, resp, 404, "NoSuchUpload", "The specified upload does not exist.", id, false);
        return;
    }
    const char *x = r->body ? r->body : "";
    size_t pos = 0;
    awsxml_span_t part;
    int last_num = 0;
    size_t n = 0;
    struct mock_part **order = xcalloc(u->n_parts + 1, sizeof(*order));
    const char *problem = NULL, *pcode = NULL;
    while (awsxml_next(x, r->body_len, "Part", &pos, &part)) {
        char *num = awsxml_text(part.p, part.len, "PartNumber"), *etag = awsxml_text(part.p, part.len, "ETag");
        int pn = (int)(number(num) > 10000 ? -1 : number(num));
        struct mock_part *found = NULL;
        for (size_t i = 0; i < u->n_parts; i++)
            if (u->parts[i].num == pn) found = &u->parts[i];
        if (!num || !etag || pn <= last_num) {
            pcode = "InvalidPartOrder";
            problem = "The list of parts was not in ascending order.";
        } else if (!found || strcmp(found->etag, etag) != 0) {
            pcode = "InvalidPart";
            problem = "One or more of the specified parts could not be found or its ETag did not match.";
        } else if (n >= u->n_parts) {
            pcode = "InvalidPart";
            problem = "More parts listed than uploaded.";
        } else {
            order[n++] = found;
        }
        last_num = pn;
        free(num);
        free(etag);
        if (problem) break;
    }
    if (!problem && n == 0) {
        pcode = "MalformedXML";
        problem = "The XML you provided was not well-formed or did not validate against our published schema";
    }
    for (size_t i = 0; !problem && i + 1 < n; i++)
        if (order[i]->data.len < MIN_PART) {
            pcode = "EntityTooSmall";
            problem = "Your proposed upload is smaller than the minimum allowed object size.";
        }
    if (problem) {
        free(order);
        s3_error(a, resp, 400, pcode, problem, NULL, false);
        return;
    }
    mock_obj_t *o = obj_put(bk, key);
    unsigned char *mds = xmalloc(16 * n);
    for (size_t i = 0; i < n; i++) {
        if (order[i]->data.len) PUT(buf_append(&o->data, order[i]->data.data, order[i]->data.len));
        md5_raw(order[i]->data.data, order[i]->data.len, mds + 16 * i);
    }
    char etag[36];
    md5_etag(mds, 16 * n, etag);
    snprintf(o->etag, sizeof o->etag, "%.33s-%zu\"", etag, n);
    o->content_type = u->content_type;
    free(mds);
    free(order);
    upload_drop(a, ui);
    buf_t *b;
    xml_start(resp, &b);
    PUT(buf_puts(b, "<CompleteMultipartUploadResult><Bucket>"));
    PUT(awsxml_escape(b, bk->name));
    PUT(buf_puts(b, "</Bucket><Key>"));
    PUT(awsxml_escape(b, key));
    PUT(buf_puts(b, "</Key><ETag>"));
    PUT(awsxml_escape(b, o->etag));
    PUT(buf_puts(b, "</ETag></CompleteMultipartUploadResult>"));
}

static bool denied(const mock_aws_t *a, const char *bucket, const char *key)
{
    for (size_t i = 0; i < a->n_deny; i++) {
        const char *d = a->deny[i];
        size_t bl = strcspn(d, "/");
        if (strlen(bucket) != bl || strncmp(d, bucket, bl) != 0) continue;
        if (!d[bl]) return true;
        const char *pre = d + bl + 1;
        if (key && strncmp(key, pre, strlen(pre)) == 0) return true;
    }
    return false;
}

static const char *s3_code(const char *generic)
{
    if (strcmp(generic, "UnrecognizedClientException") == 0) return "InvalidAccessKeyId";
    if (strcmp(generic, "InvalidSignatureException") == 0) return "SignatureDoesNotMatch";
    if (strcmp(generic, "MissingAuthenticationTokenException") == 0) return "AccessDenied";
    if (strcmp(generic, "IncompleteSignatureException") == 0) return "AuthorizationHeaderMalformed";
    return generic;
}

void mock_aws_s3(mock_aws_t *a, const mock_aws_req_t *r, mock_resp_t *resp)
{
    bool head = strcmp(r->method, "HEAD") == 0;
    int status = 200;
    const char *code = NULL;
    char msg[300], region[32];
    if (mock_aws_check_sig(a, r, "s3", region, sizeof region, &status, &code, msg, sizeof msg) < 0) {
        s3_error(a, resp, status, s3_code(code), msg, NULL, head);
        mock_aws_log(a, r, "s3", resp->status);
        return;
    }
    if (a->slowdown_left > 0) {
        a->slowdown_left--;
        a->n_slowdown++;
        s3_error(a, resp, 503, "SlowDown", "Please reduce your request rate.", NULL, head);
        mock_aws_log(a, r, "s3", 503);
        return;
    }
    /* /bucket[/key][?query] */
    const char *path = r->raw_uri + 1;
    size_t plen = strcspn(path, "?");
    size_t blen = strcspn(path, "/?");
    char *bucket = mock_aws_unescape(path, blen);
    char *key = blen < plen ? mock_aws_unescape(path + blen + 1, plen - blen - 1) : NULL;
    if (key && !*key) xfree(&key);
    mock_bucket_t *bk = bucket ? mock_aws_bucket(a, bucket) : NULL;
    bool q_uploads = false, q_upload_id = false, q_list = false;
    char *upload_id = mock_aws_query(r->raw_uri, "uploadId", &q_upload_id);
    char *pn = mock_aws_query(r->raw_uri, "partNumber", NULL);
    char *lt = mock_aws_query(r->raw_uri, "list-type", &q_list);
    free(mock_aws_query(r->raw_uri, "uploads", &q_uploads));
    char res[512];
    snprintf(res, sizeof res, "/%s%s%s", bucket ? bucket : "", key ? "/" : "", key ? key : "");

    if (!bucket || !*bucket) {
        s3_error(a, resp, 400, "InvalidRequest", "Only path-style requests (/BUCKET/KEY) are served here", NULL, head);
    } else if (!key && strcmp(r->method, "PUT") == 0) {
        if (bk) {
            s3_error(a, resp, 409, "BucketAlreadyOwnedByYou",
                     "Your previous request to create the named bucket "
                     "succeeded and you already own it.",
                     res, false);
        } else {
            char *loc = r->body_len ? awsxml_text(r->body, r->body_len, "LocationConstraint") : NULL;
            mock_aws_bucket_add(a, bucket, loc && *loc ? loc : region[0] ? region : a->region);
            free(loc);
            (void)mock_resp_start(resp, 200);
            mock_resp_header(resp, "Location", "/%s", bucket);
            request_id(a, resp);
        }
    } else if (!bk) {
        s3_error(a, resp, 404, "NoSuchBucket", "The specified bucket does not exist", res, head);
    } else if (region[0] && strcmp(region, bk->region) != 0) {
        s3_error(a, resp, 301, "PermanentRedirect",
                 "The bucket you are attempting to access must be addressed "
                 "using the specified endpoint. Please send all future requests to this endpoint.",
                 res, head);
        mock_resp_header(resp, "x-amz-bucket-region", "%s", bk->region);
    } else if (denied(a, bucket, key)) {
        s3_error(a, resp, 403, "AccessDenied", "Access Denied", res, head);
    } else if (!key) {
        if (head) {
            (void)mock_resp_start(resp, 200);
            mock_resp_header(resp, "x-amz-bucket-region", "%s", bk->region);
        } else if (strcmp(r->method, "GET") == 0 && q_list && lt && strcmp(lt, "2") == 0) {
            list_objects(a, bk, r->raw_uri, resp);
        } else {
            s3_error(a, resp, 501, "NotImplemented", "This bucket operation is not served by the mock", res, false);
        }
    } else if (strcmp(r->method, "POST") == 0 && q_uploads) {
        mock_upload_t *u = xcalloc(1, sizeof(*u));
        snprintf(u->id, sizeof u->id, "mockupload%llu", (unsigned long long)++a->upload_seq);
        u->bucket = xstrdup(bucket);
        u->key = xstrdup(key);
        u->content_type = static_type(mock_aws_header(r, "Content-Type"));
        a->uploads = xrealloc(a->uploads, (a->n_uploads + 1) * sizeof(*a->uploads));
        a->uploads[a->n_uploads++] = u;
        buf_t *b;
        xml_start(resp, &b);
        PUT(buf_puts(b, "<InitiateMultipartUploadResult><Bucket>"));
        PUT(awsxml_escape(b, bucket));
        PUT(buf_puts(b, "</Bucket><Key>"));
        PUT(awsxml_escape(b, key));
        PUT(buf_printf(b, "</Key><UploadId>%s</UploadId></InitiateMultipartUploadResult>", u->id));
    } else if (strcmp(r->method, "PUT") == 0 && q_upload_id) {
        mock_upload_t *u = upload_find(a, upload_id, NULL);
        long num = number(pn);
        if (!u || strcmp(u->key, key) != 0) {
            s3_error(a, resp, 404, "NoSuchUpload", "The specified upload does not exist.", upload_id, false);
        } else if (num < 1 || num > 10000) {
            s3_error(a, resp, 400, "InvalidArgument", "Part number must be an integer between 1 and 10000", NULL,
                     false);
        } else {
            struct mock_part *p = NULL;
            for (size_t i = 0; i < u->n_parts; i++)
                if (u->parts[i].num == num) p = &u->parts[i];
            if (!p) {
                u->parts = xrealloc(u->parts, (u->n_parts + 1) * sizeof(*u->parts));
                p = &u->parts[u->n_parts++];
                memset(p, 0, sizeof(*p));
                p->num = (int)num;
                buf_init(&p->data, 0);
            }
            buf_reset(&p->data);
            if (r->body_len) PUT(buf_append(&p->data, r->body, r->body_len));
            md5_etag(r->body, r->body_len, p->etag);
            a->n_multipart_parts++;
            (void)mock_resp_start(resp, 200);
            mock_resp_header(resp, "ETag", "%s", p->etag);
            request_id(a, resp);
        }
    } else if (strcmp(r->method, "POST") == 0 && q_upload_id) {
        complete(a, r, bk, key, upload_id ? upload_id : "", resp);
    } else if (strcmp(r->method, "DELETE") == 0 && q_upload_id) {
        size_t ui;
        if (upload_find(a, upload_id, &ui)) upload_drop(a, ui);
        (void)mock_resp_start(resp, 204);
        request_id(a, resp);
    } else if (strcmp(r->method, "PUT") == 0) {
        mock_obj_t *o = obj_put(bk, key);
        if (r->body_len) PUT(buf_append(&o->data, r->body, r->body_len));
        md5_etag(r->body, r->body_len, o->etag);
        o->content_type = static_type(mock_aws_header(r, "Content-Type"));
        (void)mock_resp_start(resp, 200);
        mock_resp_header(resp, "ETag", "%s", o->etag);
        request_id(a, resp);
    } else if (strcmp(r->method, "GET") == 0 || head) {
        bool found;
        size_t i = obj_pos(bk, key, &found);
        if (!found) s3_error(a, resp, 404, "NoSuchKey", "The specified key does not exist.", res, head);
        else get_object(a, r, &bk->objs[i], head, resp);
    } else if (strcmp(r->method, "DELETE") == 0) {
        bool found;
        size_t i = obj_pos(bk, key, &found);
        if (found) {
            free(bk->objs[i].key);
            buf_free(&bk->objs[i].data);
            memmove(&bk->objs[i], &bk->objs[i + 1], (bk->n - i - 1) * sizeof(*bk->objs));
            bk->n--;
        }
        (void)mock_resp_start(resp, 204);
        request_id(a, resp);
    } else {
        s3_error(a, resp, 405, "MethodNotAllowed", "The specified method is not allowed against this resource.", res,
                 head);
    }
    mock_aws_log(a, r, "s3", resp->status);
    free(bucket);
    free(key);
    free(upload_id);
    free(pn);
    free(lt);
}
