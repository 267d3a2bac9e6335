/* mock_opts: settings of the mock LLM server from flags and environment; see mock_opts.h.
 * Every setting is one row of a table, so a flag and its LLMAJ_MOCK_* variable cannot drift. */
#include "mock_opts.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum { T_STR, T_INT, T_U64, T_NUM, T_BOOL, T_LATENCY, T_LOGLEVEL, T_LOGFORMAT, T_QUOTE } type_t;

typedef struct {
    const char *flag; /* without the leading "--" */
    type_t type;
    size_t off;    /* offset of the field in mock_opts_t */
    double lo, hi; /* range for T_INT / T_NUM */
} opt_t;

#define OFF(f) offsetof(mock_opts_t, f)
static const opt_t table[] = {
    {"host", T_STR, OFF(host), 0, 0},
    {"port", T_INT, OFF(port), 0, 65535},
    {"threads", T_INT, OFF(threads), 1, 256},
    {"seed", T_U64, OFF(seed), 0, 0},
    {"latency", T_LATENCY, OFF(latency), 0, 0},
    {"error-rate", T_NUM, OFF(error_rate), 0, 1},
    {"error-status", T_INT, OFF(error_status), 500, 599},
    {"rpm", T_NUM, OFF(rpm), 0, 1e12},
    {"tpm", T_NUM, OFF(tpm), 0, 1e15},
    {"burst-seconds", T_NUM, OFF(burst_seconds), 0.001, 3600},
    {"unscorable-rate", T_NUM, OFF(unscorable_rate), 0, 1},
    {"quote-response", T_QUOTE, OFF(quote_response), 0, 0},
    {"no-structured", T_BOOL, OFF(no_structured), 0, 0},
    {"episode-rpm", T_NUM, OFF(episode_rpm), 0, 1e12},
    {"episode-tpm", T_NUM, OFF(episode_tpm), 0, 1e15},
    {"episode-ms", T_NUM, OFF(episode_ms), 0, 1e9},
    {"episode-requests", T_U64, OFF(episode_requests), 0, 0},
    {"outage-ms", T_NUM, OFF(outage_ms), 0, 1e9},
    {"outage-after-ms", T_NUM, OFF(outage_after_ms), 0, 1e9},
    {"outage-status", T_INT, OFF(outage_status), 0, 599},
    {"quota-exhausted", T_BOOL, OFF(quota_exhausted), 0, 0},
    {"api-key", T_STR, OFF(api_key), 0, 0},
    {"aws-access-key", T_STR, OFF(aws_access_key), 0, 0},
    {"aws-secret-key", T_STR, OFF(aws_secret_key), 0, 0},
    {"aws-creds-ttl", T_INT, OFF(aws_creds_ttl), 1, 86400 * 7},
    {"aws-region", T_STR, OFF(aws_region), 0, 0},
    {"aws-buckets", T_STR, OFF(aws_buckets), 0, 0},
    {"aws-deny", T_STR, OFF(aws_deny), 0, 0},
    {"aws-slowdown", T_INT, OFF(aws_slowdown), 0, 1000000},
    {"aws-container-token", T_STR, OFF(aws_container_token), 0, 0},
    {"aws-web-identity-token", T_STR, OFF(aws_web_identity_token), 0, 0},
    {"aws-model-packages", T_STR, OFF(aws_model_packages), 0, 0},
    {"log-level", T_LOGLEVEL, OFF(log_level), 0, 0},
    {"log-format", T_LOGFORMAT, OFF(log_format), 0, 0},
};
#define NOPTS (sizeof(table) / sizeof(table[0]))

void mock_opts_default(mock_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->host = "127.0.0.1";
    o->threads = 1;
    o->seed = 1;
    o->error_status = 500;
    o->outage_status = 503;
    o->burst_seconds = 1.0;
    o->aws_creds_ttl = 3600;
    o->aws_region = "us-east-1";
    o->log_level = LOG_INFO;
    o->log_format = LOG_FORMAT_TEXT;
}

const char *mock_opts_usage(void)
{
    return "usage: llmaj-mockllm [flags]\n"
           "A mock OpenAI / Anthropic / Bedrock server for tests, benchmarks and the quickstart.\n"
           "Every flag can also be set as LLMAJ_MOCK_<FLAG> (e.g. LLMAJ_MOCK_ERROR_RATE=0.1); flags win.\n"
           "\n"
           "  --host ADDR            listen address (default 127.0.0.1)\n"
           "  --port N               listen port, 0 = any free port (default 0)\n"
           "  --threads N            HTTP threads, 1..256 (default 1)\n"
           "  --seed N               seed of latency and error draws (default 1)\n"
           "  --latency SPEC         0 | fixed:MS | uniform:LO:HI | normal:MEAN:SD |\n"
           "                         lognormal:MEDIAN_MS:SIGMA (default 0)\n"
           "  --error-rate P         fraction of model calls that fail with --error-status (default 0)\n"
           "  --error-status CODE    500..599 (default 500)\n"
           "  --rpm N, --tpm N       rate limits per provider and model, 0 = off (default off)\n"
           "  --burst-seconds S      share of a minute's limit allowed at once (default 1)\n"
           "  --unscorable-rate P    fraction of first-turn judge replies naming no rating (default 0)\n"
           "  --quote-response MODE  judge replies quote the judged response after their verdict:\n"
           "                         never | first (first turns) | always (default never)\n"
           "  --no-structured        refuse structured-output requests with a 400\n"
           "  --episode-rpm N, --episode-tpm N\n"
           "                         limits enforced and announced from the first model call ...\n"
           "  --episode-ms MS, --episode-requests N\n"
           "                         ... for this long or this many calls; then --rpm/--tpm or none\n"
           "  --outage-ms MS         model calls fail for this long (default 0: no outage) ...\n"
           "  --outage-after-ms MS   ... from this long after the first model call (default 0)\n"
           "  --outage-status CODE   500..599, or 0 to close connections unanswered (default 503)\n"
           "  --quota-exhausted      every model call fails with the provider's quota error\n"
           "  --api-key KEY          require this key (OpenAI: Bearer; Anthropic: x-api-key)\n"
           "AWS (S3 path style, STS, container credentials, IMDSv2, SageMaker; docs/mockllm.md):\n"
           "  --aws-access-key AK, --aws-secret-key SK   a key pair; turns on SigV4 verification\n"
           "  --aws-creds-ttl S      lifetime of the credentials it issues (default 3600)\n"
           "  --aws-region R         region of buckets created without one (default us-east-1)\n"
           "  --aws-buckets LIST     buckets to create: name[:region],...\n"
           "  --aws-deny LIST        bucket[/prefix],... where every S3 request is AccessDenied\n"
           "  --aws-slowdown N       answer the first N S3 requests 503 SlowDown\n"
           "  --aws-container-token T    Authorization value container credentials require\n"
           "  --aws-web-identity-token T the only token AssumeRoleWithWebIdentity accepts\n"
           "  --aws-model-packages FILE  JSON array of DescribeModelPackage replies\n"
           "  --log-level LEVEL      debug | info | warn | error | off (default info)\n"
           "  --log-format FORMAT    text | json (default text)\n"
           "  --help, --version\n"
           "\n"
           "On start it prints one line, \"listening on http://HOST:PORT\", and serves until\n"
           "SIGINT or SIGTERM.\n";
}

/* ---- numbers ---- */

static int parse_double(const char *s, double *out)
{
    if (!s || !*s || isspace((unsigned char)*s)) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

int mock_latency_parse(const char *s, mock_latency_t *out, char *err, size_t errlen)
{
    mock_latency_t l = {MOCK_LATENCY_ZERO, 0, 0};
    char kind[16];
    const char *colon = strchr(s, ':');
    double a = 0, b = 0;
    if (!colon) {
        if (strcmp(s, "0") == 0 || strcasecmp(s, "none") == 0) {
            *out = l;
            return 0;
        }
        if (parse_double(s, &a) == 0 && a >= 0 && a <= MOCK_LATENCY_MAX_MS) {
            l.kind = a > 0 ? MOCK_LATENCY_FIXED : MOCK_LATENCY_ZERO;
            l.a = a;
            *out = l;
            return 0;
        }
        goto bad;
    }
    size_t kl = (size_t)(colon - s);
    if (kl >= sizeof kind) goto bad;
    memcpy(kind, s, kl);
    kind[kl] = '\0';
    const char *rest = colon + 1;
    const char *colon2 = strchr(rest, ':');
    char first[64];
    if (colon2) {
        size_t fl = (size_t)(colon2 - rest);
        if (fl >= sizeof first) goto bad;
        memcpy(first, rest, fl);
        first[fl] = '\0';
    } else {
        snprintf(first, sizeof first, "%s", rest);
    }
    if (strcmp(kind, "fixed") == 0) {
        if (colon2 || parse_double(rest, &a) < 0 || a < 0 || a > MOCK_LATENCY_MAX_MS) goto bad;
        l.kind = a > 0 ? MOCK_LATENCY_FIXED : MOCK_LATENCY_ZERO;
        l.a = a;
    } else {
        if (!colon2 || parse_double(first, &a) < 0 || parse_double(colon2 + 1, &b) < 0) goto bad;
        if (a < 0 || b < 0 || a > MOCK_LATENCY_MAX_MS || b > MOCK_LATENCY_MAX_MS) goto bad;
        if (strcmp(kind, "uniform") == 0) {
            if (b < a) goto bad;
            l.kind = MOCK_LATENCY_UNIFORM;
        } else if (strcmp(kind, "normal") == 0) {
            l.kind = MOCK_LATENCY_NORMAL;
        } else if (strcmp(kind, "lognormal") == 0) {
            if (a <= 0 || b > 10) goto bad;
            l.kind = MOCK_LATENCY_LOGNORMAL;
        } else {
            goto bad;
        }
        l.a = a;
        l.b = b;
    }
    *out = l;
    return 0;
bad:
    snprintf(err, errlen,
             "'%s' is not a latency: expected 0, fixed:MS, uniform:LO:HI (LO <= HI), "
             "normal:MEAN:SD or lognormal:MEDIAN_MS:SIGMA (median > 0, sigma <= 10), "
             "times in ms from 0 to %.0f",
             s, MOCK_LATENCY_MAX_MS);
    return -1;
}

void mock_latency_format(const mock_latency_t *l, char *out, size_t n)
{
    switch (l->kind) {
    case MOCK_LATENCY_ZERO: snprintf(out, n, "0"); return;
    case MOCK_LATENCY_FIXED: snprintf(out, n, "fixed:%g", l->a); return;
    case MOCK_LATENCY_UNIFORM: snprintf(out, n, "uniform:%g:%g", l->a, l->b); return;
    case MOCK_LATENCY_NORMAL: snprintf(out, n, "normal:%g:%g", l->a, l->b); return;
    case MOCK_LATENCY_LOGNORMAL: snprintf(out, n, "lognormal:%g:%g", l->a, l->b); return;
    }
    snprintf(out, n, "?");
}

double mock_latency_sample(const mock_latency_t *l, double u1, double u2)
{
    double v = 0;
    /* Box-Muller: a standard normal draw from two uniforms (1 - u1 is in (0, 1]). */
    double z = sqrt(-2.0 * log(1.0 - u1)) * cos(2.0 * M_PI * u2);
    switch (l->kind) {
    case MOCK_LATENCY_ZERO: v = 0; break;
    case MOCK_LATENCY_FIXED: v = l->a; break;
    case MOCK_LATENCY_UNIFORM: v = l->a + (l->b - l->a) * u1; break;
    case MOCK_LATENCY_NORMAL: v = l->a + l->b * z; break;
    case MOCK_LATENCY_LOGNORMAL: v = l->a * exp(l->b * z); break;
    }
    if (!(v > 0)) return 0;
    return v > MOCK_LATENCY_MAX_MS ? MOCK_LATENCY_MAX_MS : v;
}

/* ---- the table ---- */

static int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"}, *const no[] = {"0", "false", "no", "off", ""};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    return -1;
}

/* Sets one option from text. `src` names where the value came from, for messages. */
static int set_opt(mock_opts_t *o, const opt_t *t, const char *v, const char *src, char *err, size_t errlen)
{
    char *field = (char *)o + t->off;
    char lerr[300];
    switch (t->type) {
    case T_STR:
        if (!*v) {
            snprintf(err, errlen, "%s: expected a non-empty value", src);
            return -1;
        }
        *(const char **)(void *)field = v;
        return 0;
    case T_INT: {
        double d;
        if (parse_double(v, &d) < 0 || d != floor(d) || d < t->lo || d > t->hi) {
            snprintf(err, errlen, "%s: '%s' is not a whole number from %.0f to %.0f", src, v, t->lo, t->hi);
            return -1;
        }
        *(int *)(void *)field = (int)d;
        return 0;
    }
    case T_U64: {
        char *end;
        errno = 0;
        unsigned long long u = strtoull(v, &end, 10);
        if (!*v || !isdigit((unsigned char)*v) || *end || errno) {
            snprintf(err, errlen, "%s: '%s' is not a whole number from 0 to 18446744073709551615", src, v);
            return -1;
        }
        *(uint64_t *)(void *)field = (uint64_t)u;
        return 0;
    }
    case T_NUM: {
        double d;
        if (parse_double(v, &d) < 0 || d < t->lo || d > t->hi) {
            snprintf(err, errlen, "%s: '%s' is not a number from %g to %g", src, v, t->lo, t->hi);
            return -1;
        }
        *(double *)(void *)field = d;
        return 0;
    }
    case T_BOOL:
        if (parse_bool(v, (bool *)(void *)field) < 0) {
            snprintf(err, errlen, "%s: '%s' is not a boolean (true/false, 1/0, yes/no, on/off)", src, v);
            return -1;
        }
        return 0;
    case T_LATENCY:
        if (mock_latency_parse(v, (mock_latency_t *)(void *)field, lerr, sizeof lerr) < 0) {
            snprintf(err, errlen, "%s: %s", src, lerr);
            return -1;
        }
        return 0;
    case T_LOGLEVEL:
        if (log_parse_level(v, (log_level_t *)(void *)field) < 0) {
            snprintf(err, errlen, "%s: '%s' is not a log level (debug, info, warn, error, off)", src, v);
            return -1;
        }
        return 0;
    case T_LOGFORMAT:
        if (log_parse_format(v, (log_format_t *)(void *)field) < 0) {
            snprintf(err, errlen, "%s: '%s' is not a log format (text, json)", src, v);
            return -1;
        }
        return 0;
    case T_QUOTE:
        if (strcasecmp(v, "never") == 0) *(mock_quote_t *)(void *)field = MOCK_QUOTE_NEVER;
        else if (strcasecmp(v, "first") == 0) *(mock_quote_t *)(void *)field = MOCK_QUOTE_FIRST;
        else if (strcasecmp(v, "always") == 0) *(mock_quote_t *)(void *)field = MOCK_QUOTE_ALWAYS;
        else {
            snprintf(err, errlen, "%s: '%s' is not a quoting mode (never, first, always)", src, v);
            return -1;
        }
        return 0;
    }
    return -1;
}

int mock_opts_from_env(mock_opts_t *o, char *err, size_t errlen)
{
    for (size_t i = 0; i < NOPTS; i++) {
        char name[64] = "LLMAJ_MOCK_";
        size_t n = strlen(name);
        for (const char *p = table[i].flag; *p && n + 1 < sizeof name; p++)
            name[n++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
        name[n] = '\0';
        const char *v = getenv(name);
        if (!v) continue;
        if (set_opt(o, &table[i], v, name, err, errlen) < 0) return -1;
    }
    return 0;
}

int mock_opts_parse_args(mock_opts_t *o, int argc, char **argv, char *err, size_t errlen)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) return MOCK_ARGS_HELP;
        if (strcmp(a, "--version") == 0) return MOCK_ARGS_VERSION;
        if (strncmp(a, "--", 2) != 0) {
            snprintf(err, errlen, "unexpected argument '%s' (flags start with --; see --help)", a);
            return -1;
        }
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t nl = eq ? (size_t)(eq - name) : strlen(name);
        const opt_t *t = NULL;
        for (size_t k = 0; k < NOPTS; k++)
            if (strlen(table[k].flag) == nl && strncmp(table[k].flag, name, nl) == 0) t = &table[k];
        if (!t) {
            snprintf(err, errlen, "unknown flag '--%.*s' (see --help)", (int)nl, name);
            return -1;
        }
        char src[64];
        snprintf(src, sizeof src, "--%s", t->flag);
        const char *v;
        if (eq) {
            v = eq + 1;
        } else if (t->type == T_BOOL) {
            v = "true";
        } else if (i + 1 < argc) {
            v = argv[++i];
        } else {
            snprintf(err, errlen, "%s: missing value", src);
            return -1;
        }
        if (set_opt(o, t, v, src, err, errlen) < 0) return -1;
    }
    return 0;
}
