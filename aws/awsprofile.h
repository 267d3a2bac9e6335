/* awsprofile: credentials from a profile of the two AWS files, as the AWS CLI resolves them.
 *
 * Owns what a profile's options mean for credentials. For the profile (the options of its
 * sections in the shared credentials file and the config file, the credentials file winning
 * where both set one):
 *   - role_arn: assume that role with STS AssumeRole, from the credentials of source_profile
 *     (recursively, at most AWSPROFILE_MAX_DEPTH roles deep, a loop is an error; a profile that
 *     names itself as source uses its own static keys), or of credential_source (Environment,
 *     Ec2InstanceMetadata, EcsContainer); or with web_identity_token_file, STS
 *     AssumeRoleWithWebIdentity. role_session_name, external_id, duration_seconds are passed on;
 *     mfa_serial is refused (a daemon cannot ask for a code). STS is called in the profile's
 *     region when it sets one.
 *   - aws_access_key_id + aws_secret_access_key (+ aws_session_token): static keys;
 *   - credential_process: runs the command (awsprocess.h);
 *   - sso_session / sso_start_url: refused with what to do instead.
 * Does not own: the file format (awsini), the other sources of the chain (awscreds). */
#ifndef LLMAJ_AWSPROFILE_H
#define LLMAJ_AWSPROFILE_H
#include <stdbool.h>
#include <stddef.h>

#include "awscreds.h"
#include "buf.h"

#define AWSPROFILE_MAX_DEPTH 5

/* 1 = credentials (*out, caller owns), 0 = the profile names none (a note per file is added to
 * tried; *found says whether either file has the profile), -1 = the profile is configured but
 * its credentials cannot be had, or a file is malformed (err says why). */
int awsprofile_credentials(const char *profile, buf_t *tried, bool *found, awscreds_t **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif
