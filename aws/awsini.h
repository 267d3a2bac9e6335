/* awsini: the two AWS files (the shared credentials file and the config file) as the AWS CLI
 * and SDKs read them: where they are, and the options of one profile.
 *
 * Owns: the paths (AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE, a leading "~/" expanded, else
 * ~/.aws/credentials and ~/.aws/config), the INI dialect and its error messages. Does not own:
 * what the options mean (awscreds, awsprofile).
 *
 * Dialect: '#' and ';' start comment lines (and inline comments after a blank); blanks and CRLF
 * line ends are ignored; a UTF-8 byte order mark is skipped; option names are case-insensitive
 * (kept lower-cased); an indented line under an option continues it (nested settings such as
 * `s3 =` blocks) and is skipped. In a config file a profile is "[profile NAME]" (the default one
 * "[default]" or "[profile default]"); other sections ("[sso-session x]", "[services x]") are
 * not profiles; in the credentials file a profile is "[NAME]". The whole file is checked even
 * when the wanted profile comes early (a malformed file is reported, as the AWS CLI does); a
 * malformed line is an error naming the file and line, never its content (which may be a
 * secret). Values are wiped before they are freed. */
#ifndef LLMAJ_AWSINI_H
#define LLMAJ_AWSINI_H
#include <stdbool.h>
#include <stddef.h>

#define AWSINI_FILE_MAX ((size_t)1 << 20) /* AWS files are a few KiB; refuse anything past 1 MiB */

typedef struct {
    char *name;  /* lower-cased */
    char *value; /* trimmed, inline comment removed */
} awsini_opt_t;

/* The options of one profile in one file. */
typedef struct {
    char *path;         /* the file read */
    bool found;         /* the profile's section is in the file */
    awsini_opt_t *opts; /* in file order; a repeated option keeps its last value */
    size_t n;
} awsini_profile_t;

/* The path of an AWS file: $var (with a leading "~/" expanded) or ~/.aws/<name>. Caller frees;
 * NULL when it would need a home directory and there is none. */
char *awsini_path(const char *var, const char *name);

/* Reads `profile` from the file at `path` (config_style: the config file's section names).
 * Returns 1 when the file was read (out->found says whether the profile is in it), 0 when the
 * file does not exist, -1 on error (unreadable, too large, not text, malformed) with err set.
 * out is initialised in every case; clear it with awsini_clear. */
int awsini_read(const char *path, bool config_style, const char *profile, awsini_profile_t *out, char *err,
                size_t errlen) __attribute__((warn_unused_result));

/* The value of option `name` (lower-case), or NULL. Valid until awsini_clear. */
const char *awsini_get(const awsini_profile_t *p, const char *name);

/* Wipes the values and frees. */
void awsini_clear(awsini_profile_t *p);

#endif
