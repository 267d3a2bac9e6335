/* sigv4: AWS Signature Version 4 (header-based, AWS4-HMAC-SHA256), signing.
 *
 * Owns: the canonical request, the string to sign, the signing key, the Authorization header.
 * Checking a received request's signature is the tests' (tests/support/sigv4_verify.h), built on
 * the same canonicalisation helpers (sigv4_int.h).
 * Does not own: finding credentials (awscreds), sending the request (the HTTP client), presigned
 * URLs (query-string auth) or chunked/streaming payload signing.
 *
 * DESIGN. The path passed in is the request-target exactly as it goes on the wire (already
 * percent-encoded where the caller encoded it). For every service but `s3` the canonical URI is
 * that path with `.`/`..` segments and duplicate slashes removed, then URI-encoded once more
 * (every byte but the RFC 3986 unreserved set and `/`; so `%3A` on the wire becomes `%253A`, as
 * AWS computes it). For `s3` the path is not normalised and existing `%XX` escapes are kept (S3
 * encodes once). The query is split on `&` and `=`, each key and value percent-decoded then
 * encoded (unreserved kept, `+` taken literally), and sorted by encoded key then value. Header
 * names are lower-cased; values are trimmed and every run of whitespace (including folded
 * CR/LF continuation lines) becomes one space; repeated headers are joined with `,` in order.
 * A verifier therefore needs the raw request-target it received, not a percent-decoded one
 * (libmicrohttpd decodes the URL it hands to handlers unless given an
 * MHD_OPTION_UNESCAPE_CALLBACK that leaves it as it is).
 *
 * Secrets: the secret key and derived keys never leave this module and are wiped after use;
 * the canonical request may contain the session token: never log it. */
#ifndef LLMAJ_SIGV4_H
#define LLMAJ_SIGV4_H
#include <stddef.h>
#include <time.h>

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
#define SIGV4_MAX_SKEW_SECONDS 900 /* AWS rejects requests more than 15 minutes off */

typedef struct {
    const char *name;
    const char *value;
} sigv4_header_t;

typedef struct {
    const char *access_key;    /* required */
    const char *secret_key;    /* required */
    const char *session_token; /* NULL or "" = none */
    const char *region;        /* required, e.g. "us-east-1" */
    const char *service;       /* required, e.g. "bedrock"; "s3" switches the path rules */
    const char *amz_date;      /* "YYYYMMDDTHHMMSSZ"; NULL = the X-Amz-Date header, else now */
    const char *payload_hash;  /* NULL = SHA-256 of the body; else 64 hex or "UNSIGNED-PAYLOAD" */
    int add_content_sha256;    /* also send and sign X-Amz-Content-Sha256 (S3 requires it) */
    int token_unsigned;        /* add X-Amz-Security-Token after signing, outside the signature
                                  (services that want it so); default: signed */
} sigv4_params_t;

#define SIGV4_MAX_ADDED 4
/* What sigv4_sign produced. All strings are owned by the result; free with sigv4_result_free. */
typedef struct {
    char *authorization;     /* the Authorization header value */
    char *signature;         /* 64 lowercase hex */
    char *signed_headers;    /* "host;x-amz-date" */
    char *credential_scope;  /* "20150830/us-east-1/service/aws4_request" */
    char *amz_date;          /* the time signed */
    char *payload_hash;      /* hex SHA-256 of the body, or UNSIGNED-PAYLOAD */
    char *canonical_request; /* may hold the session token: never log */
    char *string_to_sign;
    /* Headers the caller must add to its request, in this order: X-Amz-Date,
     * X-Amz-Security-Token, X-Amz-Content-Sha256 (each only when needed and not already among
     * the caller's headers), then Authorization. Values point into this result. Host is never
     * added: when the caller gives no Host header it is taken from the URL, as libcurl sends it. */
    sigv4_header_t headers[SIGV4_MAX_ADDED];
    size_t n_headers;
    char *session_token_copy; /* storage behind the X-Amz-Security-Token value */
} sigv4_result_t;

/* Signs a request. `url_or_path_and_query` is "https://host[:port]/path?query" or
 * "/path?query" (then a Host header is required). `headers` are the request's headers, all of
 * which are signed (an Authorization header among them is ignored). An X-Amz-Date header given
 * by the caller must agree with p->amz_date; an X-Amz-Security-Token header with the token.
 * On success fills *out (caller frees with sigv4_result_free) and returns 0; on error returns -1
 * with a message in err and *out zeroed. Never puts secrets in err. */
int sigv4_sign(const sigv4_params_t *p, const char *method, const char *url_or_path_and_query,
               const sigv4_header_t *headers, size_t n_headers, const void *body, size_t body_len, sigv4_result_t *out,
               char *err, size_t errlen) __attribute__((warn_unused_result));
void sigv4_result_free(sigv4_result_t *r); /* accepts a zeroed or already freed result */

/* The canonical request of a request (step 1 of SigV4) over exactly the given headers, all of
 * them signed. `path_and_query` as on the wire (no scheme/host). `payload_hash` is 64 hex or
 * UNSIGNED-PAYLOAD. Caller owns *out_creq and, if out_signed_headers is not NULL, the signed
 * headers list ("a;b;c"). 0 or -1 with err. */
int sigv4_canonical_request(const char *method, const char *path_and_query, const sigv4_header_t *headers,
                            size_t n_headers, const char *payload_hash, const char *service, char **out_creq,
                            char **out_signed_headers, char *err, size_t errlen) __attribute__((warn_unused_result));

/* The string to sign (step 2): algorithm, amz_date, scope, hex SHA-256 of the canonical request.
 * Caller owns *out. 0 or -1 with err (bad date, region or service). */
int sigv4_string_to_sign(const char *amz_date, const char *region, const char *service, const char *canonical_request,
                         char **out, char *err, size_t errlen) __attribute__((warn_unused_result));

/* The signature (step 3): derives the signing key from the secret, the date ("YYYYMMDD"),
 * region and service, then HMACs the string to sign with it. out = 64 hex + NUL. 0, or -1 if
 * libcrypto fails. The derived keys are wiped before returning. */
int sigv4_signature(const char *secret_key, const char *date8, const char *region, const char *service,
                    const char *string_to_sign, char out[65]) __attribute__((warn_unused_result));

/* Lower-case hex SHA-256 of data. */
void sigv4_sha256_hex(const void *data, size_t len, char out[65]);

/* Formats t (UTC) as "YYYYMMDDTHHMMSSZ". */
void sigv4_format_date(time_t t, char out[17]);
/* Parses "YYYYMMDDTHHMMSSZ" into a UTC time; 0 or -1 if malformed. */
int sigv4_parse_date(const char *amz_date, time_t *out) __attribute__((warn_unused_result));

#endif
