/* awsprocess: credentials from a profile's `credential_process` command.
 *
 * The command runs through /bin/sh -c with stdin from /dev/null and stderr inherited (it is the
 * user's diagnostic channel); stdout must be one JSON object, at most 64 KiB, within
 * AWSPROCESS_TIMEOUT_S: {"Version": 1, "AccessKeyId", "SecretAccessKey", "SessionToken"?,
 * "Expiration"?}. A command that fails, times out (it is killed) or prints anything else is an
 * error naming the profile and the exit status, never the output (it holds secrets). */
#ifndef LLMAJ_AWSPROCESS_H
#define LLMAJ_AWSPROCESS_H
#include <stddef.h>

#include "awscreds.h"

#define AWSPROCESS_TIMEOUT_S 60

int awsprocess_credentials(const char *command, const char *profile, awscreds_t **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif
