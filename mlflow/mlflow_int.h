/* mlflow_int: what the three files of the MLflow client share (mlflow.c: the client and one HTTP
 * exchange; mlflow_runs.c: experiments, runs, log-batch; mlflow_artifact.c: artifacts). Private to
 * them: the public API is mlflow.h. */
#ifndef LLMAJ_MLFLOW_INT_H
#define LLMAJ_MLFLOW_INT_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <curl/curl.h>

#include "buf.h"
#include "mlflow.h"

#define REPLY_MAX (32u << 20) /* bytes of one answer we are willing to hold */
#define API "/api/2.0/mlflow"
#define ARTIFACTS_ROUTE "/api/2.0/mlflow-artifacts/artifacts"

struct mlflow {
    char *base;    /* scheme://[userinfo@]host[:port][/prefix], no trailing slash */
    char *display; /* base without userinfo: the only form used in messages */
    mlflow_auth_t auth;
    char *token;
    char *username;
    char *password;
    char *arn;         /* SIGV4: the tracking-server ARN (sent in a header) */
    char *region;      /* SIGV4: from the ARN; s3:// artifacts use it too */
    char *s3_endpoint; /* NULL = https://BUCKET.s3.REGION.amazonaws.com */
    char *aws_profile;
    long timeout_ms;
    long connect_timeout_ms;
    bool insecure_tls;
    const atomic_int *abort_flag;
    CURL *curl;
};

typedef struct {
    const char *method;
    const char *url;  /* full URL as it goes on the wire */
    const char *what; /* "POST /api/2.0/mlflow/runs/create" for messages */
    const void *body;
    size_t body_len;
    const char *content_type; /* or NULL */
    const char *sign_service; /* SigV4 service, or NULL = no signing */
    const char *sign_region;
    FILE *file; /* PUT this file's bytes instead of body (file_len bytes) */
    uint64_t file_len;
    const char *payload_hash; /* hex SHA-256 of file, for signing; NULL = of body */
    bool s3;                  /* sign as S3 (content hash header) */
    bool tracking;            /* a tracking-server request: bearer/basic/ARN header apply */
} request_t;

/* Fills e (when not NULL): the HTTP status (0 = no answer), MLflow's error code, the message. */
void mlflow_err_set(mlflow_err_t *e, long status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Percent-encodes s (len bytes) into b: RFC 3986 unreserved bytes kept, and '/' when keep_slash. */
void mlflow_url_encode(buf_t *b, const char *s, size_t len, bool keep_slash);
/* Sends one request; answer body in *resp, status in *status. Returns -1 (with e) only when no
 * HTTP answer came; the caller judges the status. */
int mlflow_http_send(mlflow_t *m, const request_t *r, long *status, buf_t *resp, mlflow_err_t *e);
/* e from a non-2xx answer: MLflow's error_code and message when the body carries them. */
void mlflow_err_from_answer(mlflow_t *m, const char *what, long status, const buf_t *resp, mlflow_err_t *e);

#endif
