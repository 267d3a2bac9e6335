/* awscreds: the credential chain, its process-wide cache and refresh, the environment and web
 * identity sources, and the region chain; see awscreds.h (the chain and the refresh rules).
 *
 * DESIGN. The cache is a few slots, one per (profile argument, fingerprint of the environment
 * variables that choose credentials). A slot holds the current snapshot (reference-counted; a
 * caller's reference keeps it alive however the slot changes), when it was fetched, and the
 * refresh state: `refreshing` is set while one thread (a caller in the mandatory window, or the
 * slot's background thread in the advisory window) runs the chain; callers that must wait sleep
 * on the condition variable. The background thread is joined before the next one starts and by
 * awscreds_forget, so no thread outlives a forget. Slots live in a static array: a background
 * thread's pointer to its slot stays valid. */
#define LOG_MODULE "aws"
#include "awscreds.h"
#include "awscreds_int.h"
#include "awsini.h"
#include "awsmeta.h"
#include "awsprofile.h"
#include "buf.h"
#include "log.h"
#include "mem.h"
#include "sigv4.h"
#include "sts.h"

#include <openssl/crypto.h>

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define REGION_MAX 63
#define SLOTS 8

struct awscreds {
    atomic_int refs;
    char *access_key;
    char *secret_key;
    char *session_token; /* NULL if none */
    char *source;
    char *profile;
    time_t expires; /* 0 = never */
};

static time_t wall_now(void) { return time(NULL); }
time_t (*awscreds_clock)(void) = wall_now;
const char *awscreds_container_base = "http://169.254.170.2";

/* ---- small shared helpers ---- */

void awscreds_seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

void awscreds_note(buf_t *tried, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    /* the list is unbounded and small: appending cannot fail */
    if ((tried->len && buf_puts(tried, "; ") < 0) || buf_vprintf(tried, fmt, ap) < 0) {}
    va_end(ap);
}

const char *awscreds_env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

void awscreds_free_secret(char **pp)
{
    if (*pp) OPENSSL_cleanse(*pp, strlen(*pp));
    xfree(pp);
}

char *awscreds_read_token_file(const char *path, const char *what, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        awscreds_seterr(err, errlen, "%s %s: cannot open: %s", what, path, strerror(errno));
        return NULL;
    }
    buf_t b;
    buf_init(&b, 64 * 1024);
    char chunk[4096];
    size_t n;
    int bad = 0;
    while (!bad && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (buf_append(&b, chunk, n) < 0) bad = 1;
    int rerr = ferror(f);
    fclose(f);
    OPENSSL_cleanse(chunk, sizeof chunk);
    if (bad || rerr) {
        awscreds_seterr(err, errlen, "%s %s: %s", what, path, bad ? "larger than 64 KiB" : "read error");
        if (b.data) OPENSSL_cleanse(b.data, b.len);
        buf_free(&b);
        return NULL;
    }
    char *s = b.data ? b.data : "";
    size_t len = b.len;
    while (len && isspace((unsigned char)*s)) {
        s++;
        len--;
    }
    while (len && isspace((unsigned char)s[len - 1])) len--;
    char *tok = NULL;
    if (len == 0) awscreds_seterr(err, errlen, "%s %s is empty", what, path);
    else if (memchr(s, '\n', len) || memchr(s, '\r', len) || memchr(s, '\0', len))
        awscreds_seterr(err, errlen, "%s %s holds more than one line", what, path);
    else tok = xstrndup(s, len);
    if (b.data) OPENSSL_cleanse(b.data, b.len);
    buf_free(&b);
    return tok;
}

int awscreds_parse_time(const char *s, time_t *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int y, mo, d, h, mi, se, n = 0;
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &se, &n) != 6 || n != 19) return -1;
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p)) return -1;
        while (isdigit((unsigned char)*p)) p++;
    }
    if (strcmp(p, "Z") != 0 && strcmp(p, "+00:00") != 0 && strcmp(p, "+0000") != 0) return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60 || y < 1970) return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    time_t t = timegm(&tm);
    if (t == (time_t)-1) return -1;
    *out = t;
    return 0;
}

/* ---- snapshots ---- */

awscreds_t *awscreds_make(const char *access_key, const char *secret_key, const char *token, time_t expires,
                          const char *profile, char *source)
{
    awscreds_t *c = xcalloc(1, sizeof(*c));
    atomic_init(&c->refs, 1);
    c->access_key = xstrdup(access_key);
    c->secret_key = xstrdup(secret_key);
    c->session_token = token && *token ? xstrdup(token) : NULL;
    c->profile = xstrdup(profile ? profile : "default");
    c->source = source;
    c->expires = expires;
    return c;
}

static awscreds_t *ref(awscreds_t *c)
{
    if (c) atomic_fetch_add(&c->refs, 1);
    return c;
}

void awscreds_destroy(awscreds_t **self_p)
{
    if (!self_p || !*self_p) return;
    awscreds_t *c = *self_p;
    *self_p = NULL;
    if (atomic_fetch_sub(&c->refs, 1) != 1) return;
    xfree(&c->access_key);
    awscreds_free_secret(&c->secret_key);
    awscreds_free_secret(&c->session_token);
    xfree(&c->source);
    xfree(&c->profile);
    free(c);
}

const char *awscreds_access_key(const awscreds_t *c) { return c->access_key; }
const char *awscreds_secret_key(const awscreds_t *c) { return c->secret_key; }
const char *awscreds_session_token(const awscreds_t *c) { return c->session_token; }
const char *awscreds_source(const awscreds_t *c) { return c->source; }
const char *awscreds_profile(const awscreds_t *c) { return c->profile; }
time_t awscreds_expiration(const awscreds_t *c) { return c->expires; }

int awscreds_from_json(const cJSON *o, bool need_expiry, const char *profile, char *source, awscreds_t **out, char *err,
                       size_t errlen)
{
    *out = NULL;
    const char *names[] = {"AccessKeyId", "SecretAccessKey"};
    const char *v[2];
    for (int i = 0; i < 2; i++) {
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, names[i]);
        if (!cJSON_IsString(j) || !j->valuestring[0]) {
            awscreds_seterr(err, errlen, "%s: the reply has no %s", source, names[i]);
            free(source);
            return -1;
        }
        v[i] = j->valuestring;
    }
    const cJSON *tk = cJSON_GetObjectItemCaseSensitive(o, "Token");
    if (!tk) tk = cJSON_GetObjectItemCaseSensitive(o, "SessionToken");
    if (tk && !cJSON_IsString(tk) && !cJSON_IsNull(tk)) {
        awscreds_seterr(err, errlen, "%s: the reply's Token is not a string", source);
        free(source);
        return -1;
    }
    time_t exp = 0;
    const cJSON *ex = cJSON_GetObjectItemCaseSensitive(o, "Expiration");
    if (ex && !cJSON_IsNull(ex) && (!cJSON_IsString(ex) || awscreds_parse_time(ex->valuestring, &exp) < 0)) {
        awscreds_seterr(err, errlen, "%s: the reply's Expiration is not an ISO 8601 UTC time", source);
        free(source);
        return -1;
    }
    if (need_expiry && !exp) {
        awscreds_seterr(err, errlen, "%s: the reply has no Expiration", source);
        free(source);
        return -1;
    }
    *out = awscreds_make(v[0], v[1], cJSON_IsString(tk) ? tk->valuestring : NULL, exp, profile, source);
    return 0;
}

/* ---- the first two sources ---- */

int awscreds_from_environment(buf_t *tried, const char *profile, awscreds_t **out, char *err, size_t errlen)
{
    const char *ak = awscreds_env("AWS_ACCESS_KEY_ID"), *sk = awscreds_env("AWS_SECRET_ACCESS_KEY");
    if (ak && sk) {
        time_t exp = 0;
        const char *e = awscreds_env("AWS_CREDENTIAL_EXPIRATION");
        if (e && awscreds_parse_time(e, &exp) < 0) {
            awscreds_seterr(err, errlen, "AWS_CREDENTIAL_EXPIRATION is not an ISO 8601 UTC time");
            return -1;
        }
        *out = awscreds_make(ak, sk, awscreds_env("AWS_SESSION_TOKEN"), exp, profile, xstrdup("environment"));
        return 1;
    }
    if (ak || sk) {
        awscreds_seterr(err, errlen, "%s is set but %s is not", ak ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                        ak ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
        return -1;
    }
    awscreds_note(tried, "environment (AWS_ACCESS_KEY_ID not set)");
    return 0;
}

int awscreds_from_web_identity_env(buf_t *tried, const char *profile, awscreds_t **out, char *err, size_t errlen)
{
    const char *file = awscreds_env("AWS_WEB_IDENTITY_TOKEN_FILE"), *role = awscreds_env("AWS_ROLE_ARN");
    if (!file && !role) {
        awscreds_note(tried, "web identity (AWS_WEB_IDENTITY_TOKEN_FILE not set)");
        return 0;
    }
    if (!file || !role) {
        awscreds_seterr(err, errlen, "web identity: %s is set but %s is not (EKS IRSA sets both)",
                        file ? "AWS_WEB_IDENTITY_TOKEN_FILE" : "AWS_ROLE_ARN",
                        file ? "AWS_ROLE_ARN" : "AWS_WEB_IDENTITY_TOKEN_FILE");
        return -1;
    }
    char *token = awscreds_read_token_file(file, "web identity token file", err, errlen);
    if (!token) return -1;
    const char *region = awscreds_env("AWS_REGION");
    if (!region) region = awscreds_env("AWS_DEFAULT_REGION");
    sts_role_t r = {.region = region,
                    .role_arn = role,
                    .session_name = awscreds_env("AWS_ROLE_SESSION_NAME"),
                    .profile = profile};
    int rc = sts_assume_role_with_web_identity(&r, token, out, err, errlen);
    awscreds_free_secret(&token);
    return rc < 0 ? -1 : 1;
}

/* ---- the chain ---- */

static _Atomic unsigned long resolutions;
unsigned long awscreds_resolutions(void) { return atomic_load(&resolutions); }

/* The profile to use and where it came from. */
static const char *pick_profile(const char *profile, const char **from, bool *explicit_p)
{
    *explicit_p = true;
    if (profile && *profile) {
        *from = "given explicitly";
        return profile;
    }
    const char *e = awscreds_env("AWS_PROFILE");
    if (e) {
        *from = "from AWS_PROFILE";
        return e;
    }
    *explicit_p = false;
    *from = "default";
    return "default";
}

/* Runs the chain once. */
static awscreds_t *resolve(const char *profile_arg, char *err, size_t errlen)
{
    atomic_fetch_add(&resolutions, 1);
    const char *from;
    bool named;
    const char *profile = pick_profile(profile_arg, &from, &named);
    buf_t tried;
    buf_init(&tried, 0);
    awscreds_t *c = NULL;
    int r = 0;
    if (!(profile_arg && *profile_arg)) {
        r = awscreds_from_environment(&tried, profile, &c, err, errlen);
        if (r == 0) r = awscreds_from_web_identity_env(&tried, profile, &c, err, errlen);
    } else {
        awscreds_note(&tried, "environment (skipped: profile given explicitly)");
    }
    bool found = false;
    if (r == 0) r = awsprofile_credentials(profile, &tried, &found, &c, err, errlen);
    if (r == 0 && named && !found) {
        awscreds_seterr(err, errlen, "no AWS credentials found for profile '%s' (%s): tried %s", profile, from,
                        tried.data ? tried.data : "nothing");
        r = -1;
    }
    if (r == 0) r = awsmeta_container(&tried, profile, &c, err, errlen);
    if (r == 0) r = awsmeta_imds(&tried, profile, &c, err, errlen);
    if (r == 0)
        awscreds_seterr(err, errlen, "no AWS credentials found for profile '%s' (%s): tried %s", profile, from,
                        tried.data ? tried.data : "nothing");
    buf_free(&tried);
    if (r > 0) log_debug("AWS credentials from %s", awscreds_source(c));
    return r > 0 ? c : NULL;
}

/* ---- the cache ---- */

typedef struct {
    bool used;
    char *profile; /* the argument ("" = none) */
    char fp[65];   /* fingerprint of the choosing environment */
    awscreds_t *cur;
    time_t fetched;
    time_t failed_at; /* last failed refresh; 0 = none */
    bool refreshing;
    bool thread_live; /* a background thread to join */
    pthread_t thread;
    unsigned long used_seq; /* for eviction */
} slot_t;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static slot_t slots[SLOTS];
static unsigned long seq;

static void env_fingerprint(char out[65])
{
    static const char *const vars[] = {"AWS_ACCESS_KEY_ID",
                                       "AWS_SECRET_ACCESS_KEY",
                                       "AWS_SESSION_TOKEN",
                                       "AWS_CREDENTIAL_EXPIRATION",
                                       "AWS_PROFILE",
                                       "AWS_SHARED_CREDENTIALS_FILE",
                                       "AWS_CONFIG_FILE",
                                       "HOME",
                                       "AWS_WEB_IDENTITY_TOKEN_FILE",
                                       "AWS_ROLE_ARN",
                                       "AWS_ROLE_SESSION_NAME",
                                       "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                                       "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                                       "AWS_CONTAINER_AUTHORIZATION_TOKEN",
                                       "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                                       "AWS_EC2_METADATA_DISABLED",
                                       "AWS_EC2_METADATA_SERVICE_ENDPOINT",
                                       "AWS_ENDPOINT_URL_STS",
                                       "AWS_ENDPOINT_URL"};
    buf_t b;
    buf_init(&b, 0);
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        /* "unset" and "set to x" must differ: a marker byte, then the value and a NUL */
        if (buf_putc(&b, v ? '=' : '-') < 0 || (v && buf_append(&b, v, strlen(v)) < 0) || buf_putc(&b, '\0') < 0) {
            /* unbounded buffer: cannot fail */
        }
    }
    if (buf_puts(&b, awscreds_container_base ? awscreds_container_base : "") < 0) {}
    sigv4_sha256_hex(b.data ? b.data : "", b.len, out);
    if (b.data) OPENSSL_cleanse(b.data, b.len);
    buf_free(&b);
}

/* When a refresh should start (advisory) and when callers must wait for it (mandatory). */
static void windows(const slot_t *s, time_t *advisory, time_t *mandatory)
{
    time_t exp = s->cur->expires;
    if (!exp) {
        *advisory = *mandatory = s->fetched + AWSCREDS_STATIC_TTL_S;
        return;
    }
    time_t life = exp > s->fetched ? exp - s->fetched : 0;
    time_t adv = life / 2 < AWSCREDS_ADVISORY_S ? life / 2 : AWSCREDS_ADVISORY_S;
    time_t man = life / 4 < AWSCREDS_MANDATORY_S ? life / 4 : AWSCREDS_MANDATORY_S;
    *advisory = exp - adv;
    *mandatory = exp - man;
}

/* Runs the chain for slot s, outside the lock, and installs the result. Called with mu held and
 * s->refreshing set; returns with mu held and s->refreshing cleared. */
static void refresh_locked(slot_t *s, char *err, size_t errlen)
{
    char *profile = xstrdup(s->profile);
    pthread_mutex_unlock(&mu);
    awscreds_t *c = resolve(*profile ? profile : NULL, err, errlen);
    pthread_mutex_lock(&mu);
    free(profile);
    time_t now = awscreds_clock();
    if (c) {
        awscreds_destroy(&s->cur);
        s->cur = c;
        s->fetched = now;
        s->failed_at = 0;
    } else {
        s->failed_at = now;
    }
    s->refreshing = false;
    pthread_cond_broadcast(&cv);
}

static void *background(void *arg)
{
    slot_t *s = arg;
    char err[1024];
    pthread_mutex_lock(&mu);
    refresh_locked(s, err, sizeof err);
    if (s->failed_at && s->cur) {
        char until[32] = "?";
        struct tm tm;
        time_t exp = s->cur->expires;
        if (gmtime_r(&exp, &tm)) strftime(until, sizeof until, "%Y-%m-%dT%H:%M:%SZ", &tm);
        log_warn("refreshing AWS credentials failed (the current ones stay in use until %s): %s", until, err);
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

/* Joins a finished background thread of s (mu held; released while joining). */
static void join_locked(slot_t *s)
{
    if (!s->thread_live) return;
    pthread_t t = s->thread;
    s->thread_live = false;
    pthread_mutex_unlock(&mu);
    pthread_join(t, NULL);
    pthread_mutex_lock(&mu);
}

static slot_t *slot_for(const char *profile, const char fp[65])
{
    slot_t *free_slot = NULL, *oldest = NULL;
    for (int i = 0; i < SLOTS; i++) {
        slot_t *s = &slots[i];
        if (s->used && strcmp(s->profile, profile) == 0 && strcmp(s->fp, fp) == 0) return s;
        if (!s->used && !s->thread_live && !free_slot) free_slot = s;
        if (s->used && !s->refreshing && (!oldest || s->used_seq < oldest->used_seq)) oldest = s;
    }
    slot_t *s = free_slot ? free_slot : oldest;
    if (!s) return NULL; /* every slot is refreshing: the caller resolves without caching */
    awscreds_destroy(&s->cur);
    free(s->profile);
    bool live = s->thread_live;
    pthread_t t = s->thread;
    memset(s, 0, sizeof(*s));
    s->thread_live = live;
    s->thread = t;
    s->used = true;
    s->profile = xstrdup(profile);
    memcpy(s->fp, fp, 65);
    return s;
}

awscreds_t *awscreds_new(const char *profile, char *err, size_t errlen)
{
    char fp[65];
    env_fingerprint(fp);
    const char *key = profile ? profile : "";
    pthread_mutex_lock(&mu);
    slot_t *s = slot_for(key, fp);
    if (!s) {
        pthread_mutex_unlock(&mu);
        return resolve(profile, err, errlen);
    }
    s->used_seq = ++seq;
    for (;;) {
        time_t now = awscreds_clock();
        if (s->cur) {
            time_t adv, man;
            windows(s, &adv, &man);
            bool expired = s->cur->expires && now >= s->cur->expires;
            if (now < adv) break;
            bool may_retry = !s->failed_at || now - s->failed_at >= AWSCREDS_RETRY_S || now < s->failed_at;
            if (now < man && !expired) {
                if (!s->refreshing && may_retry) {
                    join_locked(s);
                    if (!s->refreshing) {
                        s->refreshing = true;
                        if (pthread_create(&s->thread, NULL, background, s) == 0) {
                            s->thread_live = true;
                        } else {
                            s->refreshing = false;
                            log_warn("cannot start a thread to refresh AWS credentials");
                        }
                    }
                }
                break;
            }
            if (!s->refreshing && !may_retry && !expired) break; /* failed just now: keep these a while */
        }
        if (s->refreshing) {
            pthread_cond_wait(&cv, &mu);
            continue;
        }
        s->refreshing = true;
        refresh_locked(s, err, errlen);
        if (!s->failed_at) break;
        if (s->cur && (!s->cur->expires || awscreds_clock() < s->cur->expires)) {
            log_warn("refreshing AWS credentials failed; the current ones (from %s) are still valid: %s",
                     s->cur->source, err);
            break;
        }
        pthread_mutex_unlock(&mu);
        return NULL;
    }
    awscreds_t *c = ref(s->cur);
    pthread_mutex_unlock(&mu);
    return c;
}

void awscreds_forget(void)
{
    pthread_mutex_lock(&mu);
    for (int i = 0; i < SLOTS; i++) {
        slot_t *s = &slots[i];
        while (s->refreshing) pthread_cond_wait(&cv, &mu);
        join_locked(s);
        awscreds_destroy(&s->cur);
        xfree(&s->profile);
        memset(s, 0, sizeof(*s));
    }
    pthread_mutex_unlock(&mu);
}

/* ---- region ---- */

static int region_ok(const char *r)
{
    size_t n = strlen(r);
    if (n == 0 || n > REGION_MAX || r[0] == '-' || r[n - 1] == '-') return 0;
    for (size_t i = 0; i < n; i++)
        if (!((r[i] >= 'a' && r[i] <= 'z') || (r[i] >= '0' && r[i] <= '9') || r[i] == '-')) return 0;
    return 1;
}

static int set_region(const char *r, const char *where, char *out, size_t outlen, char *err, size_t errlen)
{
    if (!region_ok(r)) {
        awscreds_seterr(err, errlen, "%s: '%.80s' is not a valid AWS region name (e.g. us-east-1)", where, r);
        return -1;
    }
    if (strlen(r) >= outlen) {
        awscreds_seterr(err, errlen, "%s: region name '%s' is longer than the %zu bytes allowed", where, r,
                        outlen ? outlen - 1 : 0);
        return -1;
    }
    snprintf(out, outlen, "%s", r);
    return 0;
}

int awscreds_region(const char *explicit_region, const char *profile_arg, char *out, size_t outlen, char *err,
                    size_t errlen)
{
    if (outlen) out[0] = '\0';
    if (explicit_region && *explicit_region) return set_region(explicit_region, "region", out, outlen, err, errlen);
    if (awscreds_env("AWS_REGION"))
        return set_region(awscreds_env("AWS_REGION"), "AWS_REGION", out, outlen, err, errlen);
    if (awscreds_env("AWS_DEFAULT_REGION"))
        return set_region(awscreds_env("AWS_DEFAULT_REGION"), "AWS_DEFAULT_REGION", out, outlen, err, errlen);
    const char *from;
    bool named;
    const char *profile = pick_profile(profile_arg, &from, &named);
    char *path = awsini_path("AWS_CONFIG_FILE", "config");
    if (!path) {
        awscreds_seterr(err, errlen,
                        "no AWS region: none given, AWS_REGION and AWS_DEFAULT_REGION are unset, and "
                        "there is no home directory for ~/.aws/config");
        return -1;
    }
    awsini_profile_t pr;
    int r = awsini_read(path, true, profile, &pr, err, errlen);
    int rc = -1;
    const char *reg = r > 0 ? awsini_get(&pr, "region") : NULL;
    if (reg && *reg) {
        char *where = xasprintf("%s, profile %s", path, profile);
        rc = set_region(reg, where, out, outlen, err, errlen);
        free(where);
    } else if (r >= 0) {
        awscreds_seterr(err, errlen,
                        "no AWS region: none given, AWS_REGION and AWS_DEFAULT_REGION are unset, and "
                        "%s %s profile '%s' (%s)",
                        path,
                        r == 0      ? "does not exist, so it has no region for"
                        : !pr.found ? "has no section for"
                                    : "sets no region for",
                        profile, from);
    }
    awsini_clear(&pr);
    free(path);
    return rc;
}
