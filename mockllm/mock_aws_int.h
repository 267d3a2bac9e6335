/* mock_aws_int: the state the mock's AWS services share (mock_aws.c and mock_aws_*.c): the
 * credentials table, the S3 store, the model packages, counters, and the helpers every service
 * uses to answer. Internal to those files. One mutex guards all of it: the mock serves tests. */
#ifndef LLMAJ_MOCK_AWS_INT_H
#define LLMAJ_MOCK_AWS_INT_H
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "mock_aws.h"
#include "sigv4_verify.h"

#define MOCK_AWS_ROLE "llmaj-mock-role" /* the instance profile role IMDS names */
#define MOCK_AWS_ACCOUNT "123456789012"
#define MOCK_AWS_LOG_MAX 512        /* signed requests kept for /_mock/aws/requests */
#define MOCK_AWS_LOG_BODY_MAX 65536 /* body bytes kept per logged request */

typedef struct {
    char *access_key;
    char *secret;
    char *token;    /* NULL for the static key */
    time_t expires; /* 0 = never */
    char *issuer;   /* "static", "sts", "container", "imds" */
} mock_cred_t;

typedef struct {
    char *key;
    buf_t data;
    char etag[64];            /* hex MD5 in quotes, or "<md5 of part md5s>-N" for multipart */
    const char *content_type; /* a static string */
} mock_obj_t;

typedef struct {
    char *name;
    char region[32];
    mock_obj_t *objs; /* sorted by key */
    size_t n, cap;
} mock_bucket_t;

typedef struct {
    char id[40];
    char *bucket, *key;
    const char *content_type;
    struct mock_part {
        int num; /* 1..10000 */
        buf_t data;
        char etag[36]; /* hex MD5 in quotes */
    } * parts;         /* in upload order; a part uploaded again replaces its data */
    size_t n_parts;
} mock_upload_t;

typedef struct {
    char *method, *uri;
    char **hnames, **hvalues;
    size_t n_headers;
    char *body;      /* first MOCK_AWS_LOG_BODY_MAX bytes */
    size_t body_len; /* the whole body's length */
    char payload_sha256[65];
    char service[32];
    int status; /* the answer's status */
} mock_logged_t;

struct mock_aws {
    pthread_mutex_t mu;
    bool verify; /* a static key is configured */
    int creds_ttl_s;
    char *region; /* default bucket region */
    char *container_token, *web_identity_token;
    mock_cred_t *creds;
    size_t n_creds;
    uint64_t issued;
    mock_bucket_t *buckets;
    size_t n_buckets;
    mock_upload_t **uploads;
    size_t n_uploads;
    uint64_t upload_seq;
    char **deny; /* "bucket" or "bucket/prefix" */
    size_t n_deny;
    int slowdown_left;
    char imds_token[72]; /* the IMDSv2 session token handed out; "" before the first PUT */
    char *stall_match;   /* S3 requests whose raw URI contains this are stalled; NULL = none */
    int64_t stall_ms;
    cJSON *packages; /* array of DescribeModelPackage replies */
    mock_logged_t log[MOCK_AWS_LOG_MAX];
    size_t log_next, log_n;
    /* counters for /_mock/aws/stats */
    uint64_t n_s3, n_sts, n_container, n_imds, n_sagemaker, n_refused, n_multipart_parts, n_slowdown, n_stalled;
};

/* A header of the request (case-insensitive), or NULL. */
const char *mock_aws_header(const mock_aws_req_t *r, const char *name);

/* Checks r's SigV4 signature for `service`, under a->mu. On success 0 and the scope region in
 * region (may be NULL); on failure -1 with *code and *msg set to the AWS error to answer
 * (static strings or into msgbuf) and *status to its HTTP status. */
int mock_aws_check_sig(mock_aws_t *a, const mock_aws_req_t *r, const char *service, char *region, size_t rlen,
                       int *status, const char **code, char *msgbuf, size_t msglen);

/* Issues temporary credentials (under a->mu): a new key, secret and token valid creds_ttl_s. */
const mock_cred_t *mock_aws_issue(mock_aws_t *a, const char *issuer);

/* ISO 8601 UTC of t into out[21]. */
void mock_aws_time(time_t t, char out[32]);

/* Logs a signed request with the status it got (under a->mu). */
void mock_aws_log(mock_aws_t *a, const mock_aws_req_t *r, const char *service, int status);

/* The services, each called with a->mu held. */
void mock_aws_s3(mock_aws_t *a, const mock_aws_req_t *r, mock_resp_t *resp);
void mock_aws_sts(mock_aws_t *a, const mock_aws_req_t *r, mock_resp_t *resp);
void mock_aws_container(mock_aws_t *a, const mock_aws_req_t *r, mock_resp_t *resp);
void mock_aws_imds(mock_aws_t *a, const mock_aws_req_t *r, mock_resp_t *resp);
void mock_aws_sagemaker(mock_aws_t *a, const mock_aws_req_t *r, mock_resp_t *resp);

/* S3 store setup and teardown (mock_aws_s3.c). */
mock_bucket_t *mock_aws_bucket(mock_aws_t *a, const char *name);
mock_bucket_t *mock_aws_bucket_add(mock_aws_t *a, const char *name, const char *region);
void mock_aws_s3_free(mock_aws_t *a);

/* Percent-decodes s[0..n) (every %XX); NULL when malformed. Caller frees. */
char *mock_aws_unescape(const char *s, size_t n);
/* The value of query parameter `name` (decoded) from a raw URI, or NULL; caller frees. *present is
 * set when the name appears, with or without a value. */
char *mock_aws_query(const char *raw_uri, const char *name, bool *present);

#endif
