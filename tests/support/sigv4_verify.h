/* sigv4_verify: checks AWS Signature Version 4 requests the way an AWS service does, for the
 * stand-in servers of the tests. It canonicalises with the signer's own helpers (sigv4_int.h), so a
 * request this verifier accepts is one the signer would have produced. Not part of the product:
 * only tests link it. */
#ifndef LLMAJ_SIGV4_VERIFY_H
#define LLMAJ_SIGV4_VERIFY_H
#include <stddef.h>
#include <time.h>

#include "sigv4.h"

/* The longest SignedHeaders list this verifier reads (the names of the signed headers, joined by
 * ';'). The signer has no such limit: a request whose list is longer is refused here as
 * malformed, with a message that says so, as a server refuses over-long headers. */
#define SIGV4_VERIFY_MAX_SIGNED_HEADERS 1023

/* The parts of an Authorization header. Strings are copies inside the struct. */
typedef struct {
    char access_key[128];
    char date8[9];
    char region[64];
    char service[64];
    char signed_headers[SIGV4_VERIFY_MAX_SIGNED_HEADERS + 1];
    char signature[65];
} sigv4_auth_t;

/* Parses "AWS4-HMAC-SHA256 Credential=AK/DATE/REGION/SERVICE/aws4_request,
 * SignedHeaders=a;b, Signature=hex". 0 or -1 with a reason in err. */
int sigv4_parse_authorization(const char *value, sigv4_auth_t *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Looks up the secret key of an access key: copies it into `secret` (size bytes, NUL included)
 * and returns 0, or returns -1 if the key is unknown. */
typedef int (*sigv4_secret_fn)(void *ctx, const char *access_key, char *secret, size_t size);

typedef struct {
    sigv4_secret_fn lookup; /* required */
    void *lookup_ctx;
    const char *region;   /* expected region; NULL = any */
    const char *service;  /* expected service; NULL = any */
    time_t now;           /* 0 = time(NULL) */
    int max_skew_seconds; /* 0 = SIGV4_MAX_SKEW_SECONDS */
} sigv4_verify_opts_t;

typedef enum {
    SIGV4_OK = 0,
    SIGV4_ERR_MISSING,        /* no Authorization header */
    SIGV4_ERR_MALFORMED,      /* Authorization, X-Amz-Date or the request cannot be parsed */
    SIGV4_ERR_UNKNOWN_KEY,    /* the lookup does not know the access key */
    SIGV4_ERR_SCOPE,          /* credential scope: wrong date, region, service or terminator */
    SIGV4_ERR_SIGNED_HEADERS, /* host/x-amz-date not signed, or a signed header absent */
    SIGV4_ERR_SKEW,           /* X-Amz-Date more than max_skew_seconds from now */
    SIGV4_ERR_PAYLOAD,        /* X-Amz-Content-Sha256 does not match the body */
    SIGV4_ERR_SIGNATURE,      /* recomputed signature differs */
} sigv4_status_t;

/* Checks a received request: recomputes its signature from the method, the raw request-target
 * (path and query exactly as received), the received headers and body, with the secret found
 * by opts->lookup, and compares in constant time. Returns SIGV4_OK or the first problem, with a
 * human-readable reason in `reason` (never a secret). If `auth` is not NULL it receives the
 * parsed Authorization header whenever that parsed. */
sigv4_status_t sigv4_verify(const sigv4_verify_opts_t *opts, const char *method, const char *path_and_query,
                            const sigv4_header_t *headers, size_t n_headers, const void *body, size_t body_len,
                            sigv4_auth_t *auth, char *reason, size_t reasonlen) __attribute__((warn_unused_result));

/* "ok", "missing authorization", ... */
const char *sigv4_status_str(sigv4_status_t s);
/* The error code an AWS JSON service answers with, for a mock: "MissingAuthenticationToken
 * Exception", "UnrecognizedClientException", "InvalidSignatureException", ...; NULL for OK. */
const char *sigv4_status_aws_code(sigv4_status_t s);

#endif
