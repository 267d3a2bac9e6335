/* mock_opts: the mock LLM server's settings. Owns their defaults, their parsing from command-line
 * flags and from LLMAJ_MOCK_* environment variables (flags win), the usage text, and the latency
 * distributions (--latency SPEC) with their sampling. Does not run anything. */
#ifndef LLMAJ_MOCK_OPTS_H
#define LLMAJ_MOCK_OPTS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "mock_reply.h"

#define MOCK_LATENCY_MAX_MS 3600000.0 /* a sampled delay is clamped to [0, 1 h] */

typedef enum {
    MOCK_LATENCY_ZERO = 0,  /* "0": reply at once */
    MOCK_LATENCY_FIXED,     /* "fixed:MS" (a bare number means the same) */
    MOCK_LATENCY_UNIFORM,   /* "uniform:LO:HI" */
    MOCK_LATENCY_NORMAL,    /* "normal:MEAN:SD", negative draws become 0 */
    MOCK_LATENCY_LOGNORMAL, /* "lognormal:MEDIAN_MS:SIGMA" */
} mock_latency_kind_t;

typedef struct {
    mock_latency_kind_t kind;
    double a, b; /* MS | LO,HI | MEAN,SD | MEDIAN_MS,SIGMA */
} mock_latency_t;

typedef struct {
    const char *host;            /* listen address; default "127.0.0.1". Borrowed: mock_new copies */
    int port;                    /* 0 = any free port (the default) */
    int threads;                 /* HTTP threads; default 1 */
    uint64_t seed;               /* seeds latency and error draws; default 1 */
    mock_latency_t latency;      /* default zero */
    double error_rate;           /* fraction of model calls answered with error_status; default 0 */
    int error_status;            /* 500..599; default 500 */
    double rpm, tpm;             /* rate limits per (provider, model); 0 = off (the default) */
    double burst_seconds;        /* how much of a minute's quota may come at once; default 1 */
    double unscorable_rate;      /* fraction of first-turn judge replies naming no rating; default 0 */
    mock_quote_t quote_response; /* judge replies quote the judged response: never (default),
                                    first (first turns), always */
    bool no_structured;          /* refuse structured-output requests with a 400, as a server without
                                them does (response_format, a forced tool) */
    /* A limited episode: from the first model call, these per-minute limits are enforced and
     * announced instead of rpm/tpm, until episode_ms have passed or episode_requests model calls
     * were served (whichever is set and comes first); then rpm/tpm (or none) as usual. */
    double episode_rpm, episode_tpm; /* 0 = no episode (the default) */
    double episode_ms;
    uint64_t episode_requests;
    /* An outage: model calls that arrive from outage_after_ms after the first model call, for
     * outage_ms, fail with outage_status (500..599), or get their connection closed without a
     * reply when it is 0. outage_ms 0 = none (the default); outage_status default 503. */
    double outage_ms, outage_after_ms;
    int outage_status;
    bool quota_exhausted; /* every model call fails with the provider's quota error */
    const char *api_key;  /* required key (OpenAI Bearer, Anthropic x-api-key); NULL = none */
    /* AWS (mock_aws.h). Strings borrowed. */
    const char *aws_access_key; /* static key pair: turns on SigV4 verification; NULL = off */
    const char *aws_secret_key;
    int aws_creds_ttl;                  /* seconds issued credentials live; default 3600 */
    const char *aws_region;             /* region of buckets created without one; default us-east-1 */
    const char *aws_buckets;            /* "name[:region],..." created at start */
    const char *aws_deny;               /* "bucket[/prefix],...": every S3 request there is AccessDenied */
    int aws_slowdown;                   /* the first N S3 requests are answered 503 SlowDown */
    const char *aws_container_token;    /* the Authorization value container credentials require */
    const char *aws_web_identity_token; /* the token AssumeRoleWithWebIdentity accepts; NULL = any */
    const char *aws_model_packages;     /* JSON file: an array of DescribeModelPackage replies */
    log_level_t log_level;              /* default info */
    log_format_t log_format;            /* default text */
} mock_opts_t;

void mock_opts_default(mock_opts_t *o);

/* Reads every LLMAJ_MOCK_<NAME> variable that is set (NAME is the flag's name upper-cased with
 * '-' as '_', e.g. LLMAJ_MOCK_ERROR_RATE). Strings stay borrowed from the environment.
 * 0, or -1 with the variable and the problem in err. */
int mock_opts_from_env(mock_opts_t *o, char *err, size_t errlen) __attribute__((warn_unused_result));

#define MOCK_ARGS_HELP 1
#define MOCK_ARGS_VERSION 2
/* Parses flags (--name VALUE or --name=VALUE; argv[0] is skipped). Strings stay borrowed from
 * argv. 0, MOCK_ARGS_HELP / MOCK_ARGS_VERSION when asked, or -1 with the problem in err. */
int mock_opts_parse_args(mock_opts_t *o, int argc, char **argv, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* The --help text. */
const char *mock_opts_usage(void);

/* Parses a latency SPEC; 0, or -1 with the problem in err. */
int mock_latency_parse(const char *s, mock_latency_t *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* Writes the spec back in the form it is parsed from. */
void mock_latency_format(const mock_latency_t *l, char *out, size_t n);
/* One delay in ms from two independent uniform draws u1, u2 in [0, 1). */
double mock_latency_sample(const mock_latency_t *l, double u1, double u2);

#endif
