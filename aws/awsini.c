/* awsini: the AWS credentials and config files; see awsini.h.
 *
 * DESIGN. A file is read whole (bounded, lib/file.h) and parsed line by line; only the wanted
 * profile's options are copied out. The file text is wiped before it is freed, as are the values. */
#include "awsini.h"
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

static void seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static const char *home_dir(char *tmp, size_t tmplen)
{
    const char *h = env("HOME");
    if (h) return h;
    struct passwd pw, *res = NULL;
    if (getpwuid_r(getuid(), &pw, tmp, tmplen, &res) == 0 && res && res->pw_dir && *res->pw_dir) return res->pw_dir;
    return NULL;
}

char *awsini_path(const char *var, const char *name)
{
    char tmp[4096];
    const char *v = env(var);
    if (v && !(v[0] == '~' && (v[1] == '/' || v[1] == '\0'))) return xstrdup(v);
    const char *home = home_dir(tmp, sizeof(tmp));
    if (!home) return NULL;
    if (v) return xasprintf("%s%s", home, v + 1);
    return xasprintf("%s/.aws/%s", home, name);
}

static void wipe_free(char **pp)
{
    if (*pp) OPENSSL_cleanse(*pp, strlen(*pp));
    xfree(pp);
}

void awsini_clear(awsini_profile_t *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->opts[i].name);
        wipe_free(&p->opts[i].value);
    }
    free(p->opts);
    free(p->path);
    memset(p, 0, sizeof(*p));
}

const char *awsini_get(const awsini_profile_t *p, const char *name)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->opts[i].name, name) == 0) return p->opts[i].value;
    return NULL;
}

static void set_opt(awsini_profile_t *p, const char *name, const char *v, size_t vn)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->opts[i].name, name) == 0) {
            wipe_free(&p->opts[i].value);
            p->opts[i].value = xstrndup(v, vn);
            return;
        }
    p->opts = xrealloc(p->opts, (p->n + 1) * sizeof(*p->opts));
    p->opts[p->n].name = xstrdup(name);
    p->opts[p->n].value = xstrndup(v, vn);
    p->n++;
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

/* Does the section name s[0..n) name `profile`? */
static int section_matches(const char *s, size_t n, bool config_style, const char *profile)
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

/* Parses the text of `path` for `profile`. 0, or -1 with "PATH:LINE: problem" in err. */
static int ini_parse(const char *path, char *text, size_t len, bool config_style, const char *profile,
                     awsini_profile_t *out, char *err, size_t errlen)
{
    int in_section = 0, in_wanted = 0;
    long opt_indent = -1; /* indentation of the last option line; -1 = none in this section */
    size_t lineno = 0;
    char *p = text, *end = text + len;
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3;
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
                seterr(err, errlen, "%s:%zu: unexpected text after the section header", path, lineno);
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
            if (in_wanted) out->found = true;
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
        for (size_t i = 0; i < kn; i++) keybuf[i] = (char)((key[i] >= 'A' && key[i] <= 'Z') ? key[i] + 32 : key[i]);
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
        set_opt(out, keybuf, val, vn);
    }
    return 0;
}

int awsini_read(const char *path, bool config_style, const char *profile, awsini_profile_t *out, char *err,
                size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->path = xstrdup(path);
    char *data = NULL;
    size_t len = 0;
    if (file_read_all(path, AWSINI_FILE_MAX, FILE_MISSING_OK | FILE_SECRET, &data, &len, err, errlen) < 0) {
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
        char *keep = out->path;
        out->path = NULL;
        awsini_clear(out);
        out->path = keep;
        return -1;
    }
    return 1;
}
