/* awscreds: AWS credential and region resolution; see awscreds.h for the order and the file
 * rules.
 *
 * DESIGN. Each file is read whole (bounded), checked line by line in full even when the wanted
 * profile comes early (a malformed file is reported, as the AWS CLI does), and only the wanted
 * profile's keys are kept. The file text and every secret copied out of it are wiped before
 * they are freed. Error messages name files, line numbers, profiles and option names, never
 * option values. */
#include "awscreds.h"
#include "buf.h"
#include "file.h"
#include "mem.h"

#include <openssl/crypto.h>

#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_MAX ((size_t)1 << 20) /* AWS files are a few KiB; refuse anything past 1 MiB */
#define REGION_MAX 63

struct awscreds {
    char *access_key;
    char *secret_key;
    char *session_token; /* NULL if none */
    char *source;
    char *profile;
};

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Appends to the list of sources tried. The list is unbounded and small; buf_vprintf cannot
 * fail without a cap, so its result is not needed. */
static void note(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (buf_vprintf(b, fmt, ap) < 0) {
        /* unreachable: no cap */
    }
    va_end(ap);
}

static void free_secret(char **pp)
{
    if (*pp) OPENSSL_cleanse(*pp, strlen(*pp));
    xfree(pp);
}

/* An environment variable, or NULL when unset or empty. */
static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* ---- paths ---- */

static const char *home_dir(char *tmp, size_t tmplen)
{
    const char *h = env("HOME");
    if (h) return h;
    struct passwd pw, *res = NULL;
    if (getpwuid_r(getuid(), &pw, tmp, tmplen, &res) == 0 && res && res->pw_dir &&
        *res->pw_dir)
        return res->pw_dir;
    return NULL;
}

/* The path of an AWS file: $var (with a leading "~/" expanded) or ~/.aws/<name>. Caller frees;
 * NULL when it would need a home directory and there is none. */
static char *aws_file_path(const char *var, const char *name)
{
    char tmp[4096];
    const char *v = env(var);
    if (v && !(v[0] == '~' && (v[1] == '/' || v[1] == '\0'))) return xstrdup(v);
    const char *home = home_dir(tmp, sizeof(tmp));
    if (!home) return NULL;
    if (v) return xasprintf("%s%s", home, v + 1);
    return xasprintf("%s/.aws/%s", home, name);
}

/* ---- INI reading ---- */

typedef struct {
    int has_section;   /* the wanted profile's section was seen */
    char *access_key;  /* aws_access_key_id */
    char *secret_key;  /* aws_secret_access_key */
    char *token;       /* aws_session_token (or the legacy aws_security_token) */
    char *region;
    const char *unsupported; /* an option naming a credential source we do not implement */
} profile_t;

static void profile_clear(profile_t *p)
{
    xfree(&p->access_key);
    free_secret(&p->secret_key);
    free_secret(&p->token);
    xfree(&p->region);
    memset(p, 0, sizeof(*p));
}

static int is_blank(char c) { return c == ' ' || c == '\t'; }

/* Trims blanks (and a CR) off both ends of s[0..*n); returns the new start. */
static char *trim(char *s, size_t *n)
{
    while (*n && (is_blank(*s) || *s == '\r')) {
        s++;
        (*n)--;
    }
    while (*n && (is_blank(s[*n - 1]) || s[*n - 1] == '\r')) (*n)--;
    return s;
}

/* Does the section name s[0..n) name `profile`? In a config file profiles are "[profile NAME]",
 * and the default one "[default]" or "[profile default]"; other sections ("[sso-session x]",
 * "[services x]") are not profiles. */
static int section_matches(const char *s, size_t n, int config_style, const char *profile)
{
    size_t pl = strlen(profile);
    if (config_style) {
        if (n == 7 && memcmp(s, "default", 7) == 0) return strcmp(profile, "default") == 0;
        if (n < 8 || memcmp(s, "profile", 7) != 0 || !is_blank(s[7])) return 0;
        s += 8;
        n -= 8;
        while (n && is_blank(*s)) {
            s++;
            n--;
        }
    }
    return n == pl && memcmp(s, profile, n) == 0;
}

static void keep(char **slot, const char *v, size_t n, int secret)
{
    if (secret) free_secret(slot);
    else xfree(slot);
    *slot = xstrndup(v, n);
}

/* Applies one option of the wanted section. */
static void profile_set(profile_t *p, const char *key, const char *v, size_t n)
{
    static const char *const unsupported[] = {"role_arn", "credential_process", "sso_start_url",
                                              "sso_session", "web_identity_token_file",
                                              "credential_source"};
    if (strcmp(key, "aws_access_key_id") == 0) keep(&p->access_key, v, n, 0);
    else if (strcmp(key, "aws_secret_access_key") == 0) keep(&p->secret_key, v, n, 1);
    else if (strcmp(key, "aws_session_token") == 0) keep(&p->token, v, n, 1);
    else if (strcmp(key, "aws_security_token") == 0 && !p->token) keep(&p->token, v, n, 1);
    else if (strcmp(key, "region") == 0) keep(&p->region, v, n, 0);
    else
        for (size_t i = 0; i < sizeof(unsupported) / sizeof(*unsupported); i++)
            if (strcmp(key, unsupported[i]) == 0 && !p->unsupported)
                p->unsupported = unsupported[i];
}

/* Parses the text of `path` for `profile`. 0, or -1 with "PATH:LINE: problem" in err. */
static int ini_parse(const char *path, char *text, size_t len, int config_style,
                     const char *profile, profile_t *out, char *err, size_t errlen)
{
    int in_section = 0, in_wanted = 0;
    long opt_indent = -1; /* indentation of the last option line; -1 = none in this section */
    size_t lineno = 0;
    char *p = text, *end = text + len;
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3; /* UTF-8 byte order mark */
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *eol = nl ? nl : end;
        lineno++;
        size_t n = (size_t)(eol - p);
        long indent = 0;
        while ((size_t)indent < n && is_blank(p[indent])) indent++;
        char *s = trim(p, &n);
        p = nl ? nl + 1 : end;
        if (n == 0 || *s == '#' || *s == ';') continue;
        /* A "[...]" line is a section header however it is indented; any other line indented
         * deeper than the last option continues that option (nested settings). */
        if (*s != '[' && opt_indent >= 0 && indent > opt_indent) continue;
        if (*s == '[') {
            char *close = memchr(s, ']', n);
            if (!close) {
                seterr(err, errlen, "%s:%zu: section header has no closing ']'", path, lineno);
                return -1;
            }
            size_t rest = n - (size_t)(close + 1 - s);
            char *after = trim(close + 1, &rest);
            if (rest && *after != '#' && *after != ';') {
                seterr(err, errlen, "%s:%zu: unexpected text after the section header", path,
                       lineno);
                return -1;
            }
            size_t sn = (size_t)(close - s - 1);
            char *name = trim(s + 1, &sn);
            if (sn == 0) {
                seterr(err, errlen, "%s:%zu: empty section name '[]'", path, lineno);
                return -1;
            }
            in_section = 1;
            in_wanted = section_matches(name, sn, config_style, profile);
            if (in_wanted) out->has_section = 1;
            opt_indent = -1;
            continue;
        }
        size_t klen = strcspn(s, "=:");
        if (klen >= n) {
            seterr(err, errlen, "%s:%zu: expected '[section]' or 'name = value'", path, lineno);
            return -1;
        }
        if (!in_section) {
            seterr(err, errlen, "%s:%zu: option outside of any [section]", path, lineno);
            return -1;
        }
        size_t kn = klen;
        char *key = trim(s, &kn);
        if (kn == 0) {
            seterr(err, errlen, "%s:%zu: option with an empty name", path, lineno);
            return -1;
        }
        if (kn > 64) {
            seterr(err, errlen, "%s:%zu: option name longer than 64 characters", path, lineno);
            return -1;
        }
        opt_indent = indent;
        if (!in_wanted) continue;
        char keybuf[65];
        for (size_t i = 0; i < kn; i++)
            keybuf[i] = (char)((key[i] >= 'A' && key[i] <= 'Z') ? key[i] + 32 : key[i]);
        keybuf[kn] = '\0';
        size_t vn = n - klen - 1;
        char *val = trim(s + klen + 1, &vn);
        for (size_t i = 1; i < vn; i++) { /* inline comment: '#' or ';' after a blank */
            if ((val[i] == '#' || val[i] == ';') && is_blank(val[i - 1])) {
                vn = i;
                val = trim(val, &vn);
                break;
            }
        }
        profile_set(out, keybuf, val, vn);
    }
    return 0;
}

/* Reads `path` and collects `profile`. Returns 1 if read, 0 if the file does not exist, -1 on
 * error (unreadable, too large, malformed) with err set. */
static int read_profile(const char *path, int config_style, const char *profile,
                        profile_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    char *data = NULL;
    size_t len = 0;
    if (file_read_all(path, FILE_MAX, FILE_MISSING_OK | FILE_SECRET, &data, &len, err, errlen) < 0) {
        if (errno == EISDIR)
            seterr(err, errlen, "%s is a directory, not an AWS %s file", path, config_style ? "config" : "credentials");
        return -1;
    }
    if (!data) return 0;
    int rc = 0;
    if (memchr(data, '\0', len)) {
        seterr(err, errlen, "%s: contains a NUL byte: not a text file", path);
        rc = -1;
    }
    if (rc == 0) rc = ini_parse(path, data, len, config_style, profile, out, err, errlen);
    OPENSSL_cleanse(data, len);
    free(data);
    if (rc < 0) {
        profile_clear(out);
        return -1;
    }
    return 1;
}

/* ---- credentials ---- */

void awscreds_destroy(awscreds_t **self_p)
{
    if (!self_p || !*self_p) return;
    awscreds_t *c = *self_p;
    xfree(&c->access_key);
    free_secret(&c->secret_key);
    free_secret(&c->session_token);
    xfree(&c->source);
    xfree(&c->profile);
    free(c);
    *self_p = NULL;
}

const char *awscreds_access_key(const awscreds_t *c) { return c->access_key; }
const char *awscreds_secret_key(const awscreds_t *c) { return c->secret_key; }
const char *awscreds_session_token(const awscreds_t *c) { return c->session_token; }
const char *awscreds_source(const awscreds_t *c) { return c->source; }
const char *awscreds_profile(const awscreds_t *c) { return c->profile; }

static awscreds_t *make(const char *ak, const char *sk, const char *token, const char *profile,
                        char *source)
{
    awscreds_t *c = xcalloc(1, sizeof(*c));
    c->access_key = xstrdup(ak);
    c->secret_key = xstrdup(sk);
    c->session_token = token && *token ? xstrdup(token) : NULL;
    c->profile = xstrdup(profile);
    c->source = source;
    return c;
}

/* The profile to use and where it came from. */
static const char *pick_profile(const char *profile, const char **from)
{
    if (profile && *profile) {
        *from = "given explicitly";
        return profile;
    }
    const char *e = env("AWS_PROFILE");
    if (e) {
        *from = "from AWS_PROFILE";
        return e;
    }
    *from = "default";
    return "default";
}

/* Tries one file. Returns the credentials, or NULL with *fail set on an error (err holds it)
 * and a note appended to `tried` when the file simply has none. */
static awscreds_t *try_file(const char *var, const char *name, int config_style,
                            const char *profile, buf_t *tried, const char **unsupported_key,
                            char **unsupported_path, int *fail, char *err, size_t errlen)
{
    const char *kind = config_style ? "config file" : "shared credentials file";
    char *path = aws_file_path(var, name);
    if (!path) {
        note(tried, "; %s (no home directory and %s unset)", kind, var);
        return NULL;
    }
    profile_t pr;
    int r = read_profile(path, config_style, profile, &pr, err, errlen);
    awscreds_t *c = NULL;
    char section[300];
    snprintf(section, sizeof(section), "[%s%s]",
             config_style && strcmp(profile, "default") != 0 ? "profile " : "", profile);
    if (r < 0) {
        *fail = 1;
    } else if (r == 0) {
        note(tried, "; %s %s (not found)", kind, path);
    } else if (!pr.has_section) {
        note(tried, "; %s %s (no %s section)", kind, path, section);
    } else if (pr.access_key && pr.secret_key && *pr.access_key && *pr.secret_key) {
        c = make(pr.access_key, pr.secret_key, pr.token, profile,
                 xasprintf("%s %s, profile %s", kind, path, profile));
    } else if ((pr.access_key && *pr.access_key) || (pr.secret_key && *pr.secret_key)) {
        seterr(err, errlen, "%s: profile %s has %s but no %s", path, section,
               pr.access_key && *pr.access_key ? "aws_access_key_id" : "aws_secret_access_key",
               pr.access_key && *pr.access_key ? "aws_secret_access_key" : "aws_access_key_id");
        *fail = 1;
    } else {
        note(tried, "; %s %s (%s has no aws_access_key_id)", kind, path, section);
        if (pr.unsupported && !*unsupported_key) {
            *unsupported_key = pr.unsupported;
            *unsupported_path = xstrdup(path);
        }
    }
    profile_clear(&pr);
    free(path);
    return c;
}

awscreds_t *awscreds_new(const char *profile_arg, char *err, size_t errlen)
{
    const char *from;
    const char *profile = pick_profile(profile_arg, &from);
    buf_t tried;
    buf_init(&tried, 0);
    if (!(profile_arg && *profile_arg)) {
        const char *ak = env("AWS_ACCESS_KEY_ID"), *sk = env("AWS_SECRET_ACCESS_KEY");
        if (ak && sk)
            return make(ak, sk, env("AWS_SESSION_TOKEN"), profile, xstrdup("environment"));
        if (ak || sk) {
            seterr(err, errlen, "%s is set but %s is not",
                   ak ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                   ak ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
            return NULL;
        }
        note(&tried, "environment (AWS_ACCESS_KEY_ID not set)");
    } else {
        note(&tried, "environment (skipped: profile given explicitly)");
    }
    const char *unsupported = NULL;
    char *unsupported_path = NULL;
    int fail = 0;
    awscreds_t *c = try_file("AWS_SHARED_CREDENTIALS_FILE", "credentials", 0, profile, &tried,
                             &unsupported, &unsupported_path, &fail, err, errlen);
    if (!c && !fail)
        c = try_file("AWS_CONFIG_FILE", "config", 1, profile, &tried, &unsupported,
                     &unsupported_path, &fail, err, errlen);
    if (!c && !fail) {
        if (unsupported)
            seterr(err, errlen, "AWS profile '%s' in %s uses %s, which llmaj does not support: "
                   "give static keys (aws_access_key_id, aws_secret_access_key, "
                   "aws_session_token) in the environment or the profile", profile,
                   unsupported_path, unsupported);
        else
            seterr(err, errlen, "no AWS credentials found for profile '%s' (%s): tried %s",
                   profile, from, tried.data ? tried.data : "nothing");
    }
    free(unsupported_path);
    buf_free(&tried);
    return c;
}

/* ---- region ---- */

static int region_ok(const char *r)
{
    size_t n = strlen(r);
    if (n == 0 || n > REGION_MAX || r[0] == '-' || r[n - 1] == '-') return 0;
    for (size_t i = 0; i < n; i++)
        if (!((r[i] >= 'a' && r[i] <= 'z') || (r[i] >= '0' && r[i] <= '9') || r[i] == '-'))
            return 0;
    return 1;
}

static int set_region(const char *r, const char *where, char *out, size_t outlen, char *err,
                      size_t errlen)
{
    if (!region_ok(r)) {
        seterr(err, errlen, "%s: '%.80s' is not a valid AWS region name (e.g. us-east-1)",
               where, r);
        return -1;
    }
    if (strlen(r) >= outlen) {
        seterr(err, errlen, "%s: region name '%s' is longer than the %zu bytes allowed", where,
               r, outlen ? outlen - 1 : 0);
        return -1;
    }
    snprintf(out, outlen, "%s", r);
    return 0;
}

int awscreds_region(const char *explicit_region, const char *profile_arg, char *out,
                    size_t outlen, char *err, size_t errlen)
{
    if (outlen) out[0] = '\0';
    if (explicit_region && *explicit_region)
        return set_region(explicit_region, "region", out, outlen, err, errlen);
    if (env("AWS_REGION"))
        return set_region(env("AWS_REGION"), "AWS_REGION", out, outlen, err, errlen);
    if (env("AWS_DEFAULT_REGION"))
        return set_region(env("AWS_DEFAULT_REGION"), "AWS_DEFAULT_REGION", out, outlen, err,
                          errlen);
    const char *from;
    const char *profile = pick_profile(profile_arg, &from);
    char *path = aws_file_path("AWS_CONFIG_FILE", "config");
    if (!path) {
        seterr(err, errlen, "no AWS region: none given, AWS_REGION and AWS_DEFAULT_REGION are "
                            "unset, and there is no home directory for ~/.aws/config");
        return -1;
    }
    profile_t pr;
    int r = read_profile(path, 1, profile, &pr, err, errlen);
    int rc = -1;
    if (r > 0 && pr.region && *pr.region) {
        char *where = xasprintf("%s, profile %s", path, profile);
        rc = set_region(pr.region, where, out, outlen, err, errlen);
        free(where);
    } else if (r >= 0) {
        seterr(err, errlen, "no AWS region: none given, AWS_REGION and AWS_DEFAULT_REGION are "
               "unset, and %s %s profile '%s' (%s)", path,
               r == 0 ? "does not exist, so it has no region for"
                      : !pr.has_section ? "has no section for" : "sets no region for",
               profile, from);
    }
    profile_clear(&pr);
    free(path);
    return rc;
}
