/* modelstr: model strings -> provider, model id and endpoint (see modelstr.h and DESIGN.md
 * "Model strings").
 *
 * Owns the grammar of model strings and the environment variables each provider reads for its
 * base URL and key. Does not talk to any API, does not read AWS credentials (the SigV4 module
 * does): for AWS providers the endpoint key hashes the identity the environment names
 * (AWS_ACCESS_KEY_ID, else AWS_PROFILE) so that two accounts get two rate-limit buckets.
 *
 * DESIGN. The forms are tried in a fixed order: explicit provider prefixes first
 * (`openai/`, `openai-api/`, `anthropic/`, `bedrock/`, `sagemaker/`), then SageMaker endpoint
 * ARNs, then the seed's Nova names, then bare Bedrock ids (an optional geo prefix, a known Bedrock
 * vendor, a dot, an id). A string is never guessed into a provider from a partial match: anything
 * else is an error listing every accepted form. */
#include "modelstr.h"
#include "mem.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#define ACCEPTED_FORMS                                                                  \
    "accepted forms: openai/<model>, openai-api/<service>/<model>, anthropic/<model>, " \
    "bedrock/<model-id>, a Bedrock model id (e.g. amazon.nova-pro-v1:0, "               \
    "us.amazon.nova-lite-v1:0, anthropic.claude-3-5-haiku-20241022-v1:0), "             \
    "nova-textgeneration-lite|-pro|-micro|-lite-v2, sagemaker/<endpoint-name>, "        \
    "arn:aws:sagemaker:<region>:<account>:endpoint/<name>"

#define MODELSTR_MAX 2048

static const char *const geo_prefixes[] = {"us.", "eu.", "apac.", "us-gov.", "global.", "jp.", "au.", "ca."};
static const char *const bedrock_vendors[] = {"amazon",   "anthropic", "meta",   "mistral", "cohere",     "ai21",
                                              "deepseek", "writer",    "qwen",   "openai",  "twelvelabs", "stability",
                                              "luma",     "google",    "nvidia", "minimax", "moonshot",   "moonshotai"};

static const struct {
    const char *name;
    const char *id; /* without the geo prefix */
} nova_names[] = {
    {"nova-textgeneration-lite", "amazon.nova-lite-v1:0"},
    {"nova-textgeneration-pro", "amazon.nova-pro-v1:0"},
    {"nova-textgeneration-micro", "amazon.nova-micro-v1:0"},
    {"nova-textgeneration-lite-v2", "amazon.nova-2-lite-v1:0"},
};

const char *provider_kind_name(provider_kind_t k)
{
    switch (k) {
    case PROVIDER_OPENAI: return "openai";
    case PROVIDER_OPENAI_API: return "openai-api";
    case PROVIDER_ANTHROPIC: return "anthropic";
    case PROVIDER_BEDROCK: return "bedrock";
    case PROVIDER_SAGEMAKER: return "sagemaker";
    }
    return "unknown";
}

static bool starts_with(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

/* Printable ASCII without spaces: what any model id, endpoint name or ARN is made of. */
static bool is_token(const char *s)
{
    if (!*s) return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f) return false;
    return true;
}

static bool is_bedrock_id_char(unsigned char c) { return isalnum(c) || c == '.' || c == '-' || c == '_' || c == ':'; }

/* The region given, else AWS_REGION, else AWS_DEFAULT_REGION; NULL if none (empty = unset). */
static const char *pick_region(const char *region)
{
    if (region && *region) return region;
    const char *r = getenv("AWS_REGION");
    if (r && *r) return r;
    r = getenv("AWS_DEFAULT_REGION");
    if (r && *r) return r;
    return NULL;
}

/* A bare Bedrock id: [geo.]vendor.rest with rest made of id characters. */
static bool is_bare_bedrock_id(const char *s)
{
    const char *p = s;
    for (size_t i = 0; i < sizeof(geo_prefixes) / sizeof(geo_prefixes[0]); i++)
        if (starts_with(p, geo_prefixes[i])) {
            p += strlen(geo_prefixes[i]);
            break;
        }
    const char *dot = strchr(p, '.');
    if (!dot) return false;
    size_t vlen = (size_t)(dot - p);
    bool vendor = false;
    for (size_t i = 0; i < sizeof(bedrock_vendors) / sizeof(bedrock_vendors[0]); i++)
        if (strlen(bedrock_vendors[i]) == vlen && strncmp(p, bedrock_vendors[i], vlen) == 0) vendor = true;
    if (!vendor || !dot[1]) return false;
    for (const unsigned char *q = (const unsigned char *)dot + 1; *q; q++)
        if (!is_bedrock_id_char(*q)) return false;
    return true;
}

/* SageMaker endpoint names: 1-63 of [A-Za-z0-9-], starting and ending alphanumeric. */
static bool is_endpoint_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63) return false;
    if (!isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1])) return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-') return false;
    return true;
}

static bool is_region_text(const char *s, size_t n)
{
    if (n == 0 || n > 32) return false;
    for (size_t i = 0; i < n; i++)
        if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '-') return false;
    return true;
}

/* The cross-region inference profile prefix for a region, or NULL when Bedrock has none. */
static const char *geo_for_region(const char *region)
{
    if (starts_with(region, "us-gov-")) return "us-gov.";
    if (starts_with(region, "us-")) return "us.";
    if (starts_with(region, "eu-")) return "eu.";
    if (starts_with(region, "ap-")) return "apac.";
    return NULL;
}

static void fill(modelstr_t *out, provider_kind_t kind, const char *input, char *model, char *service,
                 const char *region)
{
    out->kind = kind;
    out->input = xstrdup(input);
    out->model = model;
    out->service = service;
    out->region = region ? xstrdup(region) : NULL;
}

/* arn:<partition>:sagemaker:<region>:<account>:endpoint/<name> */
static int parse_endpoint_arn(const char *s, modelstr_t *out, char *err, size_t errlen)
{
    const char *p = s + strlen("arn:");
    const char *colon = strchr(p, ':');
    if (!colon || !starts_with(p, "aws") || !starts_with(colon + 1, "sagemaker:")) return 1;
    p = colon + 1 + strlen("sagemaker:");
    const char *rend = strchr(p, ':');
    if (!rend) return 1;
    const char *region = p;
    size_t rlen = (size_t)(rend - p);
    const char *acct = rend + 1;
    const char *aend = strchr(acct, ':');
    if (!aend) return 1;
    const char *res = aend + 1;
    if (!starts_with(res, "endpoint/")) {
        snprintf(err, errlen,
                 "model string `%s`: only SageMaker endpoint ARNs (arn:aws:sagemaker:<region>:<account>:"
                 "endpoint/<name>) are accepted, not other SageMaker resources; " ACCEPTED_FORMS,
                 s);
        return -1;
    }
    const char *name = res + strlen("endpoint/");
    bool acct_ok = aend - acct == 12;
    for (const char *q = acct; q < aend; q++)
        if (!isdigit((unsigned char)*q)) acct_ok = false;
    if (!is_region_text(region, rlen) || !acct_ok || !is_endpoint_name(name)) {
        snprintf(err, errlen,
                 "model string `%s`: malformed SageMaker endpoint ARN; expected "
                 "arn:aws:sagemaker:<region>:<12-digit account>:endpoint/<name> where the name is 1-63 "
                 "letters, digits and hyphens",
                 s);
        return -1;
    }
    char *reg = xstrndup(region, rlen);
    fill(out, PROVIDER_SAGEMAKER, s, xstrdup(name), xstrdup(name), reg);
    free(reg);
    return 0;
}

int modelstr_parse(const char *s, const char *region, modelstr_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (!s || !*s) {
        snprintf(err, errlen, "empty model string; " ACCEPTED_FORMS);
        return -1;
    }
    if (strlen(s) > MODELSTR_MAX) {
        snprintf(err, errlen, "model string is %zu bytes, longer than the limit of %d", strlen(s), MODELSTR_MAX);
        return -1;
    }
    if (!is_token(s)) {
        snprintf(err, errlen, "model string `%s` contains spaces or control characters; " ACCEPTED_FORMS, s);
        return -1;
    }

    if (starts_with(s, "openai/")) {
        const char *m = s + strlen("openai/");
        if (!*m) goto missing_model;
        fill(out, PROVIDER_OPENAI, s, xstrdup(m), NULL, NULL);
        return 0;
    }
    if (starts_with(s, "openai-api/")) {
        const char *svc = s + strlen("openai-api/");
        const char *slash = strchr(svc, '/');
        if (!slash || slash == svc || !slash[1]) {
            snprintf(err, errlen, "model string `%s`: expected openai-api/<service>/<model>", s);
            return -1;
        }
        if (!isalpha((unsigned char)svc[0])) goto bad_service;
        for (const char *q = svc; q < slash; q++)
            if (!isalnum((unsigned char)*q) && *q != '-' && *q != '_') goto bad_service;
        fill(out, PROVIDER_OPENAI_API, s, xstrdup(slash + 1), xstrndup(svc, (size_t)(slash - svc)), NULL);
        return 0;
    bad_service:
        snprintf(err, errlen,
                 "model string `%s`: the service name must start with a letter and use only letters, "
                 "digits, `-` and `_` (it names the <SERVICE>_BASE_URL variable)",
                 s);
        return -1;
    }
    if (starts_with(s, "anthropic/")) {
        const char *m = s + strlen("anthropic/");
        if (!*m) goto missing_model;
        fill(out, PROVIDER_ANTHROPIC, s, xstrdup(m), NULL, NULL);
        return 0;
    }
    if (starts_with(s, "bedrock/")) {
        const char *m = s + strlen("bedrock/");
        if (!*m) goto missing_model;
        fill(out, PROVIDER_BEDROCK, s, xstrdup(m), NULL, pick_region(region));
        return 0;
    }
    if (starts_with(s, "sagemaker/")) {
        const char *m = s + strlen("sagemaker/");
        if (!*m) goto missing_model;
        if (starts_with(m, "arn:")) {
            int rc = parse_endpoint_arn(m, out, err, errlen);
            if (rc == 0) {
                free(out->input);
                out->input = xstrdup(s);
                return 0;
            }
            if (rc < 0) return -1;
        }
        if (!is_endpoint_name(m)) {
            snprintf(err, errlen,
                     "model string `%s`: a SageMaker endpoint name is 1-63 letters, digits and hyphens, "
                     "starting and ending with a letter or digit",
                     s);
            return -1;
        }
        fill(out, PROVIDER_SAGEMAKER, s, xstrdup(m), xstrdup(m), pick_region(region));
        return 0;
    }
    if (starts_with(s, "arn:")) {
        int rc = parse_endpoint_arn(s, out, err, errlen);
        if (rc <= 0) return rc;
        snprintf(err, errlen, "model string `%s`: not a SageMaker endpoint ARN; " ACCEPTED_FORMS, s);
        return -1;
    }
    if (starts_with(s, "nova-textgeneration-")) {
        for (size_t i = 0; i < sizeof(nova_names) / sizeof(nova_names[0]); i++) {
            if (strcmp(s, nova_names[i].name) != 0) continue;
            const char *r = pick_region(region);
            if (!r) {
                snprintf(err, errlen,
                         "model string `%s` needs a region to choose its Bedrock cross-region profile: "
                         "set `region` in the spec, or AWS_REGION or AWS_DEFAULT_REGION",
                         s);
                return -1;
            }
            const char *geo = geo_for_region(r);
            if (!geo) {
                snprintf(err, errlen,
                         "model string `%s`: Bedrock has no Nova cross-region profile for region `%s` "
                         "(known: us-*, eu-*, ap-*); give a Bedrock id such as bedrock/%s instead",
                         s, r, nova_names[i].id);
                return -1;
            }
            fill(out, PROVIDER_BEDROCK, s, xasprintf("%s%s", geo, nova_names[i].id), NULL, r);
            return 0;
        }
        snprintf(err, errlen,
                 "model string `%s`: unknown Nova name; the Nova names are nova-textgeneration-lite, "
                 "nova-textgeneration-pro, nova-textgeneration-micro and nova-textgeneration-lite-v2",
                 s);
        return -1;
    }
    if (is_bare_bedrock_id(s)) {
        fill(out, PROVIDER_BEDROCK, s, xstrdup(s), NULL, pick_region(region));
        return 0;
    }
    snprintf(err, errlen, "unknown model string `%s`; " ACCEPTED_FORMS, s);
    return -1;

missing_model:
    snprintf(err, errlen, "model string `%s` names no model after the provider; " ACCEPTED_FORMS, s);
    return -1;
}

void modelstr_clear(modelstr_t *m)
{
    if (!m) return;
    free(m->input);
    free(m->model);
    free(m->service);
    free(m->region);
    memset(m, 0, sizeof(*m));
}

void modelstr_endpoint_clear(modelstr_endpoint_t *e)
{
    if (!e) return;
    free(e->base_url);
    if (e->api_key) {
        /* the key was a secret: do not leave it in freed memory */
        volatile char *p = e->api_key;
        while (*p) *p++ = 0;
        free(e->api_key);
    }
    free(e->key);
    memset(e, 0, sizeof(*e));
}

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* Copies a base URL without trailing slashes; -1 if it is not an http(s) URL. */
static int take_base_url(const char *var, const char *value, char **out, char *err, size_t errlen)
{
    if (!starts_with(value, "http://") && !starts_with(value, "https://")) {
        snprintf(err, errlen, "%s must be an http:// or https:// URL, got `%s`", var, value);
        return -1;
    }
    size_t n = strlen(value);
    while (n > 0 && value[n - 1] == '/') n--;
    const char *host = strstr(value, "://") + 3;
    if ((size_t)(host - value) >= n) {
        snprintf(err, errlen, "%s has no host: `%s`", var, value);
        return -1;
    }
    *out = xstrndup(value, n);
    return 0;
}

/* First 16 hex digits of SHA-256(text), or "-" when text is NULL. */
static void cred_hash(const char *text, char out[17])
{
    if (!text) {
        snprintf(out, 17, "-");
        return;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(text, strlen(text), md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen < 8) {
        /* libcrypto cannot fail here short of a broken install; an unhashed key must never
         * appear, so fall back to a marker that still separates "some key" from none */
        snprintf(out, 17, "unhashed");
        return;
    }
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 8; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[16] = '\0';
}

int modelstr_endpoint(const modelstr_t *m, modelstr_endpoint_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    const char *identity = NULL; /* what the key hash is made of */
    char *aws_identity = NULL;
    switch (m->kind) {
    case PROVIDER_OPENAI: {
        const char *u = env_nonempty("OPENAI_BASE_URL");
        if (take_base_url("OPENAI_BASE_URL", u ? u : "https://api.openai.com/v1", &out->base_url, err, errlen) < 0)
            return -1;
        out->api_key = xstrdup(env_nonempty("OPENAI_API_KEY"));
        identity = out->api_key;
        break;
    }
    case PROVIDER_ANTHROPIC: {
        const char *u = env_nonempty("ANTHROPIC_BASE_URL");
        if (take_base_url("ANTHROPIC_BASE_URL", u ? u : "https://api.anthropic.com", &out->base_url, err, errlen) < 0)
            return -1;
        out->api_key = xstrdup(env_nonempty("ANTHROPIC_API_KEY"));
        identity = out->api_key;
        break;
    }
    case PROVIDER_OPENAI_API: {
        if (!m->service || !*m->service) {
            snprintf(err, errlen, "model string `%s` has no service name", m->input ? m->input : "");
            return -1;
        }
        char *svc = xstrdup(m->service);
        for (char *p = svc; *p; p++) *p = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
        char *url_var = xasprintf("%s_BASE_URL", svc);
        char *key_var = xasprintf("%s_API_KEY", svc);
        free(svc);
        const char *u = env_nonempty(url_var);
        int rc = 0;
        if (!u) {
            snprintf(err, errlen, "model string `%s` needs %s (the service's base URL, e.g. http://host:8000/v1)",
                     m->input ? m->input : "", url_var);
            rc = -1;
        } else if (take_base_url(url_var, u, &out->base_url, err, errlen) < 0) {
            rc = -1;
        } else {
            out->api_key = xstrdup(env_nonempty(key_var));
            identity = out->api_key;
        }
        free(url_var);
        free(key_var);
        if (rc < 0) return -1;
        break;
    }
    case PROVIDER_BEDROCK:
    case PROVIDER_SAGEMAKER: {
        bool br = m->kind == PROVIDER_BEDROCK;
        const char *region = m->region && *m->region ? m->region : pick_region(NULL);
        if (!region) {
            snprintf(err, errlen,
                     "model string `%s` needs an AWS region: set `region` in the spec, or AWS_REGION or "
                     "AWS_DEFAULT_REGION",
                     m->input ? m->input : "");
            return -1;
        }
        const char *var = br ? "AWS_ENDPOINT_URL_BEDROCK_RUNTIME" : "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME";
        const char *u = env_nonempty(var);
        if (!u && (u = env_nonempty("AWS_ENDPOINT_URL"))) var = "AWS_ENDPOINT_URL"; /* every service's, as the SDKs */
        if (u) {
            if (take_base_url(var, u, &out->base_url, err, errlen) < 0) return -1;
        } else {
            out->base_url = br ? xasprintf("https://bedrock-runtime.%s.amazonaws.com", region)
                               : xasprintf("https://runtime.sagemaker.%s.amazonaws.com", region);
        }
        const char *akid = env_nonempty("AWS_ACCESS_KEY_ID");
        const char *profile = env_nonempty("AWS_PROFILE");
        if (akid) aws_identity = xasprintf("aws-key:%s", akid);
        else if (profile) aws_identity = xasprintf("aws-profile:%s", profile);
        identity = aws_identity;
        break;
    }
    default: snprintf(err, errlen, "unknown provider kind %d", (int)m->kind); return -1;
    }
    char h[17];
    cred_hash(identity, h);
    free(aws_identity);
    out->key = xasprintf("%s|%s|%s|%s", provider_kind_name(m->kind), m->model ? m->model : "", out->base_url, h);
    return 0;
}
