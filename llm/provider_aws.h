/* provider_aws: what the two AWS providers (provider_bedrock.c, provider_sagemaker.c) share:
 * SigV4 signing of a built request with cached credentials, the signing region, the parts of an
 * AWS JSON error reply, and request paths with a percent-encoded segment.
 *
 * Owns: a process-wide credential cache. Does not own: finding credentials (awscreds), the
 * signature itself (sigv4), sending (llm.c).
 *
 * DESIGN. Credentials come from awscreds_new(NULL): the whole AWS credential chain (environment,
 * web identity, profiles, container credentials, IMDSv2) behind a process-wide cache that
 * refreshes temporary credentials before they expire (awscreds.h). Each signature takes a
 * reference to the current snapshot and releases it when signed, so a refresh never disturbs a
 * request being signed. Nothing here logs a secret.
 *
 * Signing region: the region named by an AWS endpoint host (`bedrock-runtime.<region>.
 * amazonaws.com`, FIPS and VPC-endpoint hosts included), since AWS only accepts that one; else
 * the model's region (spec, AWS_REGION, AWS_DEFAULT_REGION, or the SageMaker ARN); else the
 * profile's `region` in the config file. */
#ifndef LLMAJ_PROVIDER_AWS_H
#define LLMAJ_PROVIDER_AWS_H
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "httpmsg.h"
#include "modelstr.h"
#include "provider.h"

/* (Re-)signs `req` for `service` ("bedrock", "sagemaker"): drops the Authorization,
 * X-Amz-Date, X-Amz-Security-Token and X-Amz-Content-Sha256 headers of an earlier attempt, then
 * signs the remaining headers, host and body with the current time and appends the new ones.
 * -1 with err when no credentials are found (err lists every source tried), no region can be
 * determined, or the request cannot be signed. Never puts a secret in err. */
int provider_aws_sign(const modelstr_t *model, const modelstr_endpoint_t *endpoint, const char *service,
                      httpmsg_request_t *req, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Drops the cached credentials (awscreds_forget); the next signature resolves them again.
 * Called when AWS says the credentials are expired or unknown, and at shutdown. */
void provider_aws_forget_credentials(void);

/* The signing region (see above) into out. 0, or -1 with err naming the sources tried. */
int provider_aws_region(const modelstr_t *model, const char *base_url, char *out, size_t outlen, char *err,
                        size_t errlen) __attribute__((warn_unused_result));

/* An AWS error reply: `type` is the error code from the x-amzn-ErrorType header (the part
 * before ':'), else the body's `__type` (the part after '#'), `code` or `Code`; `message` is the
 * body's `message` or `Message` (else what provider_error_info finds). Missing fields are "". */
void provider_aws_error_info(const char *body, size_t len, const httpmsg_headers_t *h, provider_error_info_t *out);

/* True when the error type says the credentials were rejected as expired or unknown
 * (ExpiredToken, ExpiredTokenException, UnrecognizedClientException, InvalidClientTokenId). */
int provider_aws_creds_rejected(const char *type);

/* Appends s percent-encoded as one URL path segment (every byte but A-Z a-z 0-9 - . _ ~). */
int provider_aws_path_segment(buf_t *b, const char *s) __attribute__((warn_unused_result));

/* Makes `out` a POST of JSON (provider_post_json) to base_url + prefix + segment as one
 * percent-encoded path segment + suffix ("model/" id "/converse"). -1 with err when the path
 * cannot be encoded. */
int provider_aws_post_json(httpmsg_request_t *out, const char *base_url, const char *prefix, const char *segment,
                           const char *suffix, char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
