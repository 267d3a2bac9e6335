/* modelstr: model strings (DESIGN.md "Model strings") -> provider and model id, and the endpoint
 * each resolves to from the environment. Pure parsing; no network. */
#ifndef LLMAJ_MODELSTR_H
#define LLMAJ_MODELSTR_H
#include <stdbool.h>
#include <stddef.h>

typedef enum {
    PROVIDER_OPENAI = 0, /* openai/<model> */
    PROVIDER_OPENAI_API, /* openai-api/<service>/<model> */
    PROVIDER_ANTHROPIC,  /* anthropic/<model> */
    PROVIDER_BEDROCK,    /* bedrock/<id>, bare Bedrock ids, nova-textgeneration-* */
    PROVIDER_SAGEMAKER,  /* sagemaker/<endpoint> or an endpoint ARN */
} provider_kind_t;

typedef struct {
    provider_kind_t kind;
    char *input;   /* the string as given */
    char *model;   /* model id sent to the API (Bedrock: resolved inference profile id) */
    char *service; /* openai-api: the service name; sagemaker: endpoint name; else NULL */
    char *region;  /* bedrock/sagemaker: region used (may be NULL until resolved) */
} modelstr_t;

/* Parses `s`. `region` is the spec's region (NULL: AWS_REGION, then AWS_DEFAULT_REGION) and
 * matters for the Nova names. On error writes a message listing the accepted forms into err and
 * returns -1. */
int modelstr_parse(const char *s, const char *region, modelstr_t *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void modelstr_clear(modelstr_t *m);
const char *provider_kind_name(provider_kind_t k); /* "openai", "openai-api", ... */

/* Where calls for this model go, read from the environment (DESIGN.md table):
 * base URL (OPENAI_BASE_URL default https://api.openai.com/v1, ANTHROPIC_BASE_URL default
 * https://api.anthropic.com, <SERVICE>_BASE_URL required for openai-api, AWS endpoint overrides)
 * and the API key (never logged). Caller frees with modelstr_endpoint_clear. -1 with a message
 * naming the missing variable when the endpoint cannot be resolved. */
typedef struct {
    char *base_url;
    char *api_key; /* may be NULL */
    char *key;     /* endpoint key for rate limits: provider|model|base_url|hash(credentials) */
} modelstr_endpoint_t;
int modelstr_endpoint(const modelstr_t *m, modelstr_endpoint_t *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void modelstr_endpoint_clear(modelstr_endpoint_t *e);

#endif
