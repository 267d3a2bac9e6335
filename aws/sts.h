/* sts: the two AWS STS calls the credential chain makes: AssumeRole (signed with the source
 * credentials) and AssumeRoleWithWebIdentity (unsigned: the web identity token is the proof), on
 * the query protocol (POST form, Version 2011-06-15, XML reply).
 *
 * Endpoint: AWS_ENDPOINT_URL_STS, else AWS_ENDPOINT_URL, else https://sts.REGION.amazonaws.com
 * for the region given, else the global https://sts.amazonaws.com (signed for us-east-1).
 * Transient failures (connection errors, 5xx, Throttling, IDPCommunicationError) are retried
 * three times with backoff; every other error is reported with STS's code and message, e.g.
 * "STS AssumeRoleWithWebIdentity for arn:aws:iam::1:role/x refused (AccessDenied): Not
 * authorized to perform sts:AssumeRoleWithWebIdentity". Secrets never appear in errors. */
#ifndef LLMAJ_STS_H
#define LLMAJ_STS_H
#include <stddef.h>

#include "awscreds.h"

#define STS_DEFAULT_DURATION_S 3600

typedef struct {
    const char *region;       /* where to call STS; NULL = the global endpoint */
    const char *role_arn;     /* required */
    const char *session_name; /* NULL = "llmaj-<unix time>" */
    const char *external_id;  /* AssumeRole only; NULL = none */
    int duration_s;           /* 0 = STS_DEFAULT_DURATION_S */
    const char *profile;      /* recorded on the result */
} sts_role_t;

/* AssumeRole with `source` credentials. 0 with *out (caller owns: awscreds_destroy), or -1. */
int sts_assume_role(const sts_role_t *r, const awscreds_t *source, awscreds_t **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* AssumeRoleWithWebIdentity with `token` (an OIDC JWT). 0 with *out, or -1. */
int sts_assume_role_with_web_identity(const sts_role_t *r, const char *token, awscreds_t **out, char *err,
                                      size_t errlen) __attribute__((warn_unused_result));

/* The STS endpoint URL for a region (see above). Caller frees. */
char *sts_endpoint(const char *region);

#endif
