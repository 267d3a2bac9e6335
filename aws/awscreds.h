/* awscreds: finds AWS credentials and the region the way the AWS CLI and SDKs do, for the
 * static-key sources.
 *
 * Owns: the credential chain (environment, shared credentials file, config file), the region
 * chain, and a small INI reader for the two AWS files. Does not own: signing (sigv4), refreshing
 * or assuming roles: profiles that use role_arn, credential_process, SSO or web identity are
 * reported as unsupported, and instance/container metadata endpoints are not queried.
 *
 * Credentials, first match wins:
 *   1. environment: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN), skipped
 *      when a profile is passed explicitly (as the AWS CLI's --profile does);
 *   2. shared credentials file: AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials,
 *      section [PROFILE]: aws_access_key_id, aws_secret_access_key, aws_session_token;
 *   3. config file: AWS_CONFIG_FILE, else ~/.aws/config, section [profile PROFILE] (or
 *      [default]), the same keys.
 * PROFILE is the argument, else AWS_PROFILE, else "default".
 * Region: the explicit argument, AWS_REGION, AWS_DEFAULT_REGION, then `region` of the profile
 * in the config file.
 *
 * Files: '#' and ';' start comment lines (and inline comments after a blank); blanks and CRLF
 * line ends are ignored; option names are case-insensitive; an indented line under an option
 * continues it (nested settings such as `s3 =` blocks) and is skipped; a missing file is
 * skipped; a malformed line is an error naming the file and line (never its content, which may
 * be a secret). Secrets are never logged nor put in error messages, and are wiped on destroy. */
#ifndef LLMAJ_AWSCREDS_H
#define LLMAJ_AWSCREDS_H
#include <stddef.h>

typedef struct awscreds awscreds_t;

/* Resolves credentials (see above). `profile` NULL or "" = AWS_PROFILE or "default". Returns
 * NULL with a message in err when nothing is found (the message lists every source tried),
 * when a source is partial (a key id without a secret) or when a file is malformed or
 * unreadable. Caller owns the result: awscreds_destroy. */
awscreds_t *awscreds_new(const char *profile, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* Wipes the secrets and frees; accepts NULL and sets *self_p = NULL. */
void awscreds_destroy(awscreds_t **self_p);

/* Valid while the object lives. session_token is NULL when there is none. */
const char *awscreds_access_key(const awscreds_t *c);
const char *awscreds_secret_key(const awscreds_t *c);
const char *awscreds_session_token(const awscreds_t *c);
/* Where they came from, for logs: "environment", "shared credentials file /home/u/.aws/
 * credentials, profile dev", ... (no secrets). */
const char *awscreds_source(const awscreds_t *c);
/* The profile name used for the files ("default" if none was set). */
const char *awscreds_profile(const awscreds_t *c);

/* Resolves the region: `explicit_region` if not NULL/"", else AWS_REGION, AWS_DEFAULT_REGION,
 * then the profile's `region` in the config file (`profile` as for awscreds_new). Copies it into
 * out (outlen bytes) and returns 0; -1 with err if none is found (listing the sources tried),
 * if the value is not a valid region name, or if the config file is malformed. */
int awscreds_region(const char *explicit_region, const char *profile, char *out, size_t outlen,
                    char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
