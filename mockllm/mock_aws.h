/* mock_aws: the AWS side of the mock LLM server, so that tests need no AWS account: S3 (path
 * style), STS (AssumeRole, AssumeRoleWithWebIdentity), container credentials (ECS / EKS Pod
 * Identity), EC2 instance metadata (IMDSv2) and the SageMaker control plane
 * (DescribeModelPackage, ListModelPackages), plus SigV4 checks of every signed request, Bedrock
 * and SageMaker runtime calls included. Each service is one file (mock_aws_s3.c,
 * mock_aws_sts.c, mock_aws_meta.c, mock_aws_sagemaker.c); this one owns the shared state: the
 * credentials the mock knows (a static key pair and those it issued, each with its expiry), the
 * signature check, a log of the signed requests (for tests that recompute signatures with
 * botocore), and the admin routes under /_mock/aws/.
 *
 * Routing (mock_aws_route) by what a request carries, on the mock's one port:
 *   /_mock/aws/...                  admin: requests, secret?access_key=, stats, model-packages, deny,
 *                                   slowdown, stall
 *   /latest/...                     IMDSv2
 *   /aws/container-credentials..., /v2/credentials/...   container credentials
 *   X-Amz-Target: SageMaker.*       SageMaker control plane (JSON 1.1)
 *   credential scope .../sts/...     STS; so is an unsigned form POST to "/"
 *   credential scope .../s3/...      S3, path style: /BUCKET and /BUCKET/KEY
 * Bedrock Converse and SageMaker InvokeEndpoint stay model calls of mock.c; mock_aws_verify checks
 * their signature first when verification is on.
 *
 * Verification is on when a static key is configured (--aws-access-key/--aws-secret-key): then a
 * request signed with an unknown key, a wrong signature, an expired temporary key or a missing
 * or wrong session token is refused as AWS would refuse it. With no key configured, signatures
 * are checked for form only (any key is accepted), as the Bedrock dialect always did. */
#ifndef LLMAJ_MOCK_AWS_H
#define LLMAJ_MOCK_AWS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mock_api.h"
#include "mock_opts.h"
#include "sigv4.h"

typedef struct mock_aws mock_aws_t;

typedef enum {
    MOCK_AWS_NONE = 0, /* not an AWS route (a model call, /healthz, ...) */
    MOCK_AWS_ADMIN,
    MOCK_AWS_IMDS,
    MOCK_AWS_CONTAINER,
    MOCK_AWS_SAGEMAKER,
    MOCK_AWS_STS,
    MOCK_AWS_S3,
} mock_aws_route_t;

/* One received request, as the services need it. */
typedef struct {
    const char *method;
    const char *raw_uri; /* path and query exactly as received */
    const sigv4_header_t *headers;
    size_t n_headers;
    const char *body;
    size_t body_len;
} mock_aws_req_t;

/* NULL with err when an option is bad (unreadable model packages file, malformed bucket list). */
mock_aws_t *mock_aws_new(const mock_opts_t *o, char *err, size_t errlen);
void mock_aws_destroy(mock_aws_t **self_p);

/* The route of a request from its method, raw URI and the three headers that tell (each NULL when
 * absent): Authorization, X-Amz-Target, Content-Type. */
mock_aws_route_t mock_aws_route(const char *method, const char *raw_uri, const char *authorization, const char *target,
                                const char *content_type);

/* Answers an AWS route (never MOCK_AWS_NONE). *delay_ms gets how long to hold the answer back (0:
 * send it now): an S3 request that a stall rule matches is answered 503 SlowDown after the stall,
 * without being carried out, so that a test can catch a client in the middle of a call. */
void mock_aws_serve(mock_aws_t *a, mock_aws_route_t route, const mock_aws_req_t *r, mock_resp_t *resp,
                    int64_t *delay_ms);

/* Checks the signature of a model call for `service` ("bedrock", "sagemaker") and logs the request,
 * when verification is on (else 0 at once, nothing logged). 0 when it may go on; -1 with the
 * service's error reply (403 with x-amzn-ErrorType) written to resp. */
int mock_aws_verify_model_call(mock_aws_t *a, const char *service, const mock_aws_req_t *r, mock_resp_t *resp);

#endif
