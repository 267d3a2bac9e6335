/* awscreds_int: what the credential sources of this folder share (awscreds.c, awsprofile.c,
 * awsprocess.c, awsmeta.c, sts.c): making a snapshot, the JSON and time formats the sources
 * answer with, and the list of sources tried. Internal to aws/: the public API is awscreds.h. */
#ifndef LLMAJ_AWSCREDS_INT_H
#define LLMAJ_AWSCREDS_INT_H
#include <stdbool.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "awscreds.h"
#include "buf.h"

/* A new snapshot (one reference). Copies every string; `source` is taken (caller gives up it).
 * expires 0 = never. */
awscreds_t *awscreds_make(const char *access_key, const char *secret_key, const char *token, time_t expires,
                          const char *profile, char *source);

/* Parses an ISO 8601 UTC time ("2024-05-01T12:00:00Z", fractions and "+00:00" accepted). */
int awscreds_parse_time(const char *s, time_t *out) __attribute__((warn_unused_result));

/* Credentials from a JSON object of the container, IMDS and credential_process formats:
 * AccessKeyId, SecretAccessKey, Token or SessionToken, Expiration (optional unless
 * need_expiry). 0 with *out, or -1 with err naming the missing or malformed field (never a
 * value). `source` is taken in both cases. */
int awscreds_from_json(const cJSON *o, bool need_expiry, const char *profile, char *source, awscreds_t **out, char *err,
                       size_t errlen) __attribute__((warn_unused_result));

/* Appends "; " (unless first) and a formatted note to the list of sources tried. */
void awscreds_note(buf_t *tried, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* An environment variable, or NULL when unset or empty. */
const char *awscreds_env(const char *name);

/* snprintf into err when err is not NULL. */
void awscreds_seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Reads a small secret file (a web identity or container token): trimmed of surrounding blanks
 * and line ends. Caller frees (wiping). NULL with err naming the file. */
char *awscreds_read_token_file(const char *path, const char *what, char *err, size_t errlen);
/* Wipes and frees *pp. */
void awscreds_free_secret(char **pp);

/* Each source: 1 = found (*out set), 0 = not configured (a note added to tried), -1 = configured
 * but failed (err set). */
int awscreds_from_environment(buf_t *tried, const char *profile, awscreds_t **out, char *err, size_t errlen);
int awscreds_from_web_identity_env(buf_t *tried, const char *profile, awscreds_t **out, char *err, size_t errlen);

#endif
