/* awscreds: AWS credentials the way the AWS CLI and SDKs find them, kept fresh for a whole
 * process; and the region chain.
 *
 * Owns: the credential chain, a process-wide cache of what it found, and refreshing temporary
 * credentials before they expire. The sources live in their own files: awsprofile.c (the two
 * AWS files: static keys, role_arn with source_profile or credential_source, web identity in a
 * profile, credential_process via awsprocess.c), awsmeta.c (container credentials, IMDSv2),
 * sts.c (AssumeRole, AssumeRoleWithWebIdentity). Does not own: signing (sigv4, awshttp).
 *
 * The chain, first source that is configured wins (the SDKs' order, SSO left out):
 *   1. environment: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN), skipped when
 *      a profile is passed explicitly (as the AWS CLI's --profile does);
 *   2. web identity (EKS IRSA): AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN
 *      (+ AWS_ROLE_SESSION_NAME) -> STS AssumeRoleWithWebIdentity; the token file is read again
 *      at every refresh;
 *   3. the profile (the argument, else AWS_PROFILE, else "default") in the shared credentials
 *      and config files: role_arn (+ source_profile | credential_source | web_identity_token_file)
 *      -> STS AssumeRole; static keys; credential_process;
 *   4. container credentials (ECS, EKS Pod Identity): AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or
 *      _FULL_URI, with AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (read again at every refresh) or
 *      AWS_CONTAINER_AUTHORIZATION_TOKEN;
 *   5. EC2 instance metadata, IMDSv2 only (a token PUT, then the role's credentials), unless
 *      AWS_EC2_METADATA_DISABLED=true; endpoint AWS_EC2_METADATA_SERVICE_ENDPOINT.
 * A source that is configured but fails (STS refuses the role, the token file is missing) is an
 * error: the chain does not fall through to the next. When no source is configured the error
 * lists every source tried and why it did not apply. A profile named explicitly (argument or
 * AWS_PROFILE) that is in neither file is an error too.
 *
 * DESIGN (refresh). awscreds_new hands out a reference to an immutable snapshot; a refresh
 * installs a new snapshot and never touches one in use, so a request being signed or in flight
 * keeps the credentials it started with. Static credentials (no expiry) are re-read after
 * AWSCREDS_STATIC_TTL_S (rotated keys are picked up within minutes) or when one of the
 * environment variables that choose them changes. Temporary credentials are refreshed in a
 * background thread once they enter the advisory window (AWSCREDS_ADVISORY_S before expiry, at
 * most half their lifetime), while callers go on with the current ones; inside the mandatory
 * window (AWSCREDS_MANDATORY_S, at most a quarter of the lifetime) or once expired, a caller
 * waits for the refresh (one refresh at a time; the others wait for it). A failed refresh keeps
 * the current credentials while they are valid and is retried after AWSCREDS_RETRY_S.
 *
 * Secrets are never logged nor put in error messages, and are wiped when freed. */
#ifndef LLMAJ_AWSCREDS_H
#define LLMAJ_AWSCREDS_H
#include <stddef.h>
#include <time.h>

#define AWSCREDS_STATIC_TTL_S 300
#define AWSCREDS_ADVISORY_S (15 * 60)
#define AWSCREDS_MANDATORY_S (5 * 60)
#define AWSCREDS_RETRY_S 10

typedef struct awscreds awscreds_t;

/* Credentials for `profile` (NULL or "" = the chain above, AWS_PROFILE or "default"), from the
 * process-wide cache, resolved or refreshed as described above. NULL with a message in err when
 * none can be had. The caller holds a reference: awscreds_destroy releases it. Thread-safe. */
awscreds_t *awscreds_new(const char *profile, char *err, size_t errlen) __attribute__((warn_unused_result));
/* Releases a reference (the last one wipes the secrets); accepts NULL, sets *self_p = NULL. */
void awscreds_destroy(awscreds_t **self_p);

/* Valid while the reference is held. session_token is NULL when there is none. */
const char *awscreds_access_key(const awscreds_t *c);
const char *awscreds_secret_key(const awscreds_t *c);
const char *awscreds_session_token(const awscreds_t *c);
/* Where they came from, for logs: "environment", "container credentials http://...",
 * "shared credentials file /home/u/.aws/credentials, profile dev", ... (no secrets). */
const char *awscreds_source(const awscreds_t *c);
/* The profile name used for the files ("default" if none was set). */
const char *awscreds_profile(const awscreds_t *c);
/* When they expire (UTC), or 0 when they do not. */
time_t awscreds_expiration(const awscreds_t *c);

/* Drops every cached credential (references held stay valid) and waits for a background refresh
 * to end; the next awscreds_new resolves again. Called when AWS rejects the credentials as
 * expired or unknown, and at shutdown. */
void awscreds_forget(void);

/* How many times the chain has run in this process (for tests and /metrics). */
unsigned long awscreds_resolutions(void);

/* Resolves the region: `explicit_region` if not NULL/"", else AWS_REGION, AWS_DEFAULT_REGION,
 * then the profile's `region` in the config file (`profile` as for awscreds_new). Copies it into
 * out (outlen bytes) and returns 0; -1 with err if none is found (listing the sources tried),
 * if the value is not a valid region name, or if the config file is malformed. */
int awscreds_region(const char *explicit_region, const char *profile, char *out, size_t outlen, char *err,
                    size_t errlen) __attribute__((warn_unused_result));

/* Test seams. The wall clock used for expiry and refresh decisions (default time()). The base URL
 * that AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is appended to (default "http://169.254.170.2", as
 * on ECS). */
extern time_t (*awscreds_clock)(void);
extern const char *awscreds_container_base;

#endif
