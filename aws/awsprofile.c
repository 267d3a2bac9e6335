/* awsprofile: a profile's credentials; see awsprofile.h.
 *
 * DESIGN. A profile is resolved by resolve(): read its sections of both files, then take the
 * first of role_arn, static keys, credential_process that it sets. A role's source profile is
 * resolved by the same function one level deeper with the names already visited, so chains
 * (A -> B -> C with static keys) work and loops are reported. Only the top level writes notes to
 * the list of sources tried: below it, a source profile without credentials is an error. */
#define LOG_MODULE "aws"
#include "awsprofile.h"
#include "awscreds_int.h"
#include "awsini.h"
#include "awsmeta.h"
#include "awsprocess.h"
#include "mem.h"
#include "sts.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *cpath, *gpath; /* credentials file, config file (NULL: no home directory) */
    awsini_profile_t cred, conf;
    int cred_r, conf_r; /* awsini_read's result: 1 read, 0 absent */
} pfiles_t;

static void pfiles_clear(pfiles_t *f)
{
    awsini_clear(&f->cred);
    awsini_clear(&f->conf);
    free(f->cpath);
    free(f->gpath);
    memset(f, 0, sizeof(*f));
}

static int pfiles_load(const char *profile, pfiles_t *f, char *err, size_t errlen)
{
    memset(f, 0, sizeof(*f));
    f->cpath = awsini_path("AWS_SHARED_CREDENTIALS_FILE", "credentials");
    f->gpath = awsini_path("AWS_CONFIG_FILE", "config");
    if (f->cpath && (f->cred_r = awsini_read(f->cpath, false, profile, &f->cred, err, errlen)) < 0) return -1;
    if (f->gpath && (f->conf_r = awsini_read(f->gpath, true, profile, &f->conf, err, errlen)) < 0) return -1;
    return 0;
}

/* An option of the profile: the credentials file's, else the config file's. */
static const char *opt(const pfiles_t *f, const char *name)
{
    const char *v = f->cred.found ? awsini_get(&f->cred, name) : NULL;
    if (!v && f->conf.found) v = awsini_get(&f->conf, name);
    return v && *v ? v : NULL;
}

static const char *section_name(bool config, const char *profile, char *buf, size_t n)
{
    snprintf(buf, n, "[%s%s]", config && strcmp(profile, "default") != 0 ? "profile " : "", profile);
    return buf;
}

/* Static keys of one file's section: 1 found, 0 none, -1 half given. */
static int static_keys(const awsini_profile_t *p, bool config, const char *profile, awscreds_t **out, char *err,
                       size_t errlen)
{
    if (!p->found) return 0;
    const char *ak = awsini_get(p, "aws_access_key_id"), *sk = awsini_get(p, "aws_secret_access_key");
    const char *tk = awsini_get(p, "aws_session_token");
    if (!tk) tk = awsini_get(p, "aws_security_token");
    bool has_ak = ak && *ak, has_sk = sk && *sk;
    if (has_ak && has_sk) {
        *out = awscreds_make(
            ak, sk, tk, 0, profile,
            xasprintf("%s %s, profile %s", config ? "config file" : "shared credentials file", p->path, profile));
        return 1;
    }
    if (has_ak || has_sk) {
        char sec[300];
        awscreds_seterr(err, errlen, "%s: profile %s has %s but no %s", p->path,
                        section_name(config, profile, sec, sizeof sec),
                        has_ak ? "aws_access_key_id" : "aws_secret_access_key",
                        has_ak ? "aws_secret_access_key" : "aws_access_key_id");
        return -1;
    }
    return 0;
}

static int resolve(const char *profile, int depth, const char **visited, buf_t *tried, bool *found, awscreds_t **out,
                   char *err, size_t errlen);

static int parse_duration(const char *s, const char *profile, int *out, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 900 || v > 43200) {
        awscreds_seterr(err, errlen, "profile '%s': duration_seconds must be a whole number from 900 to 43200",
                        profile);
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* role_arn: the source credentials, then STS. */
static int assume(const pfiles_t *f, const char *profile, const char *role, int depth, const char **visited,
                  awscreds_t **out, char *err, size_t errlen)
{
    const char *src = opt(f, "source_profile"), *csrc = opt(f, "credential_source");
    const char *wit = opt(f, "web_identity_token_file");
    sts_role_t r = {.region = opt(f, "region"),
                    .role_arn = role,
                    .session_name = opt(f, "role_session_name"),
                    .external_id = opt(f, "external_id"),
                    .profile = profile};
    const char *dur = opt(f, "duration_seconds");
    if (dur && parse_duration(dur, profile, &r.duration_s, err, errlen) < 0) return -1;
    if (opt(f, "mfa_serial")) {
        awscreds_seterr(err, errlen,
                        "profile '%s' assumes %s with mfa_serial: an MFA code cannot be asked for "
                        "here; run `aws sts assume-role` yourself and export the result, or drop mfa_serial",
                        profile, role);
        return -1;
    }
    if ((src != NULL) + (csrc != NULL) + (wit != NULL) != 1) {
        awscreds_seterr(err, errlen,
                        "profile '%s' has role_arn and %s: give exactly one of source_profile, "
                        "credential_source or web_identity_token_file",
                        profile, src || csrc || wit ? "more than one source" : "no source");
        return -1;
    }
    if (wit) {
        char *token = awscreds_read_token_file(wit, "web_identity_token_file", err, errlen);
        if (!token) return -1;
        int rc = sts_assume_role_with_web_identity(&r, token, out, err, errlen);
        awscreds_free_secret(&token);
        return rc < 0 ? -1 : 1;
    }
    awscreds_t *base = NULL;
    int rc = 0;
    if (src && strcmp(src, profile) == 0) {
        rc = static_keys(&f->cred, false, profile, &base, err, errlen);
        if (rc == 0) rc = static_keys(&f->conf, true, profile, &base, err, errlen);
        if (rc == 0) {
            awscreds_seterr(err, errlen, "profile '%s' is its own source_profile but has no static keys", profile);
            return -1;
        }
    } else if (src) {
        bool sfound = false;
        rc = resolve(src, depth + 1, visited, NULL, &sfound, &base, err, errlen);
        if (rc == 0) {
            awscreds_seterr(err, errlen, "profile '%s': its source_profile '%s' %s", profile, src,
                            sfound ? "has no credentials" : "is in neither AWS file");
            return -1;
        }
    } else {
        buf_t t;
        buf_init(&t, 0);
        if (strcmp(csrc, "Environment") == 0) rc = awscreds_from_environment(&t, profile, &base, err, errlen);
        else if (strcmp(csrc, "Ec2InstanceMetadata") == 0) rc = awsmeta_imds(&t, profile, &base, err, errlen);
        else if (strcmp(csrc, "EcsContainer") == 0) rc = awsmeta_container(&t, profile, &base, err, errlen);
        else {
            awscreds_seterr(err, errlen,
                            "profile '%s': credential_source must be Environment, Ec2InstanceMetadata "
                            "or EcsContainer",
                            profile);
            rc = -1;
        }
        if (rc == 0)
            awscreds_seterr(err, errlen, "profile '%s': credential_source %s gave no credentials: %s", profile, csrc,
                            t.data ? t.data : "");
        buf_free(&t);
        if (rc == 0) return -1;
    }
    if (rc < 0) return -1;
    rc = sts_assume_role(&r, base, out, err, errlen);
    awscreds_destroy(&base);
    return rc < 0 ? -1 : 1;
}

static int resolve(const char *profile, int depth, const char **visited, buf_t *tried, bool *found, awscreds_t **out,
                   char *err, size_t errlen)
{
    *found = false;
    if (depth > AWSPROFILE_MAX_DEPTH) {
        awscreds_seterr(err, errlen, "profile '%s': more than %d roles chained through source_profile", profile,
                        AWSPROFILE_MAX_DEPTH);
        return -1;
    }
    for (int i = 0; i < depth; i++)
        if (strcmp(visited[i], profile) == 0) {
            awscreds_seterr(err, errlen, "profile '%s': source_profile loops back to it", profile);
            return -1;
        }
    visited[depth] = profile;
    pfiles_t f;
    if (pfiles_load(profile, &f, err, errlen) < 0) {
        pfiles_clear(&f);
        return -1;
    }
    char sec[300];
    if (tried) {
        if (!f.cpath)
            awscreds_note(tried, "shared credentials file (no home directory and AWS_SHARED_CREDENTIALS_FILE unset)");
        else if (f.cred_r == 0) awscreds_note(tried, "shared credentials file %s (not found)", f.cpath);
        else if (!f.cred.found)
            awscreds_note(tried, "shared credentials file %s (no %s section)", f.cpath,
                          section_name(false, profile, sec, sizeof sec));
        if (!f.gpath) awscreds_note(tried, "config file (no home directory and AWS_CONFIG_FILE unset)");
        else if (f.conf_r == 0) awscreds_note(tried, "config file %s (not found)", f.gpath);
        else if (!f.conf.found)
            awscreds_note(tried, "config file %s (no %s section)", f.gpath,
                          section_name(true, profile, sec, sizeof sec));
    }
    *found = f.cred.found || f.conf.found;
    int rc = 0;
    const char *role = opt(&f, "role_arn");
    if (*found && role) {
        rc = assume(&f, profile, role, depth, visited, out, err, errlen);
    } else if (*found) {
        rc = static_keys(&f.cred, false, profile, out, err, errlen);
        if (rc == 0) rc = static_keys(&f.conf, true, profile, out, err, errlen);
        const char *proc = opt(&f, "credential_process");
        if (rc == 0 && proc) rc = awsprocess_credentials(proc, profile, out, err, errlen) < 0 ? -1 : 1;
        if (rc == 0 && (opt(&f, "sso_session") || opt(&f, "sso_start_url"))) {
            awscreds_seterr(err, errlen,
                            "AWS profile '%s' uses AWS SSO (IAM Identity Center), which llmaj does not "
                            "support: run `aws sso login --profile %s` then `eval \"$(aws configure "
                            "export-credentials --profile %s --format env)\"`, or give the profile a "
                            "credential_process",
                            profile, profile, profile);
            rc = -1;
        }
        if (rc == 0 && tried) {
            if (f.cred.found)
                awscreds_note(tried, "shared credentials file %s (%s has no aws_access_key_id)", f.cpath,
                              section_name(false, profile, sec, sizeof sec));
            if (f.conf.found)
                awscreds_note(tried, "config file %s (%s has no aws_access_key_id)", f.gpath,
                              section_name(true, profile, sec, sizeof sec));
        }
    }
    pfiles_clear(&f);
    return rc;
}

int awsprofile_credentials(const char *profile, buf_t *tried, bool *found, awscreds_t **out, char *err, size_t errlen)
{
    const char *visited[AWSPROFILE_MAX_DEPTH + 2];
    *out = NULL;
    return resolve(profile, 0, visited, tried, found, out, err, errlen);
}
