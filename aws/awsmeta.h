/* awsmeta: credentials from the metadata endpoints of the machine llmaj runs on.
 *
 * Container credentials (ECS task roles, EKS Pod Identity):
 *   AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (appended to http://169.254.170.2), else
 *   AWS_CONTAINER_CREDENTIALS_FULL_URI: https to any host; http only to a loopback address or the
 *   ECS / EKS link-local hosts (169.254.170.2, 169.254.170.23, fd00:ec2::23), as the SDKs allow.
 *   Authorization header from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (read again at every fetch:
 *   EKS rotates it) else AWS_CONTAINER_AUTHORIZATION_TOKEN. Reply: JSON AccessKeyId,
 *   SecretAccessKey, Token, Expiration. Three attempts on connection errors and 5xx.
 * EC2 instance metadata, IMDSv2 only: PUT /latest/api/token (X-aws-ec2-metadata-token-ttl-seconds),
 *   then GET /latest/meta-data/iam/security-credentials/ (the role name) and
 *   .../security-credentials/ROLE with the token. Endpoint AWS_EC2_METADATA_SERVICE_ENDPOINT, else
 *   http://[fd00:ec2::254] when AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6, else
 *   http://169.254.169.254. AWS_EC2_METADATA_DISABLED=true skips it. A metadata service that
 *   does not answer (not on EC2) counts as "not configured", with a 1 s connect limit and
 *   one retry, as the SDKs do.
 * Both return as the sources of awscreds_int.h: 1 found, 0 not configured (note in tried),
 * -1 configured but failed. */
#ifndef LLMAJ_AWSMETA_H
#define LLMAJ_AWSMETA_H
#include <stddef.h>

#include "awscreds.h"
#include "buf.h"

int awsmeta_container(buf_t *tried, const char *profile, awscreds_t **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));
int awsmeta_imds(buf_t *tried, const char *profile, awscreds_t **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* The IMDS endpoint chosen by the environment (see above), without a trailing slash. Caller frees. */
char *awsmeta_imds_endpoint(void);

#endif
