/* awshttp: blocking HTTP exchanges with AWS services (and the metadata endpoints), on one libcurl
 * easy handle per awshttp_t so that consecutive requests reuse the connection; and SigV4 signing
 * of such a request with a set of credentials.
 *
 * Owns: the transfer (method, URL, headers, body out; status, headers, body in), its time limits,
 * the cap on a buffered reply, streaming a 2xx reply body to a sink, and the signing step shared
 * by every AWS client of this folder (STS, S3, SageMaker). Does not own: retries (each client
 * knows its own retryable errors), parsing replies, finding credentials (awscreds).
 *
 * For background threads and the scheduler's validation step: every call blocks until the
 * answer or the time limit. Never for an event loop (the model-call engine in llm/ signs with
 * awscreds and sends on its own multi handle).
 *
 * Secrets: header values are sent as given and never logged; error texts carry curl's message
 * and the URL without user:password@. */
#ifndef LLMAJ_AWSHTTP_H
#define LLMAJ_AWSHTTP_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "awscreds.h"
#include "buf.h"
#include "httpmsg.h"

#define AWSHTTP_MAX_BODY ((size_t)16 << 20) /* default cap on a buffered reply body */

typedef struct awshttp awshttp_t;

/* A reply body sink: called with each chunk of a 2xx body; return 0 to go on, -1 to abort the
 * transfer (awshttp_do then fails with resp->sink_failed set). */
typedef int (*awshttp_sink_fn)(const void *data, size_t len, void *arg);

typedef struct {
    const char *method; /* "GET", "HEAD", "PUT", "POST", "DELETE" */
    const char *url;
    const httpmsg_headers_t *headers; /* sent as given (may be NULL) */
    const void *body;                 /* may be NULL */
    size_t body_len;
    long timeout_ms;         /* whole exchange; 0 = 60000 */
    long connect_timeout_ms; /* 0 = 10000 */
    size_t max_body;         /* cap on a buffered body; 0 = AWSHTTP_MAX_BODY */
    awshttp_sink_fn sink;    /* NULL: buffer every body in resp->body */
    void *sink_arg;
    bool no_proxy; /* ignore proxy variables (link-local metadata endpoints) */
    /* May be NULL. Once *cancel is non-zero the transfer stops, within about a second even when
     * the server sends nothing (awshttp_do fails with resp->cancelled set). */
    const atomic_int *cancel;
} awshttp_req_t;

typedef struct {
    long status; /* 0 when no reply came */
    httpmsg_headers_t headers;
    buf_t body;       /* non-2xx bodies always, 2xx bodies when no sink */
    bool sink_failed; /* the sink asked to stop */
    bool too_large;   /* the buffered body passed max_body */
    bool cancelled;   /* req->cancel stopped it */
    char error[320];  /* transport error, when awshttp_do returns -1 */
} awshttp_resp_t;

awshttp_t *awshttp_new(void); /* never NULL (allocation failures abort) */
void awshttp_destroy(awshttp_t **self_p);

void awshttp_resp_init(awshttp_resp_t *r);
void awshttp_resp_clear(awshttp_resp_t *r); /* frees; r can be reused after awshttp_resp_init */

/* Sends the request and waits. 0 when an HTTP reply came (whatever its status: look at
 * resp->status), -1 when none did (connection refused, timed out, TLS, a body over the cap, the
 * sink stopped): resp->error says why. resp is (re)initialised by the call; caller clears it. */
int awshttp_do(awshttp_t *h, const awshttp_req_t *req, awshttp_resp_t *resp) __attribute__((warn_unused_result));

/* Signs a request for `service` in `region` with `creds`: adds X-Amz-Date, X-Amz-Security-Token
 * (when the credentials have a session token), X-Amz-Content-Sha256 (when `s3_style`, as S3
 * requires; the hash of the body, or UNSIGNED-PAYLOAD when body is NULL and body_len is
 * (size_t)-1) and Authorization to `headers`, after removing those of an earlier signature.
 * Every header already in `headers` is signed. 0, or -1 with a reason in err (never a secret). */
int awshttp_sign(const awscreds_t *creds, const char *region, const char *service, const char *method, const char *url,
                 httpmsg_headers_t *headers, const void *body, size_t body_len, bool s3_style, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* The URL for messages: user:password@ removed, at most outlen-1 bytes. */
void awshttp_url_for_log(const char *url, char *out, size_t outlen);

/* Appends s percent-encoded for a URL: every byte but A-Z a-z 0-9 - . _ ~ (and '/' when
 * keep_slash) as %XX. */
int awshttp_encode(buf_t *b, const char *s, bool keep_slash) __attribute__((warn_unused_result));

#endif
