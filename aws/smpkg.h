/* smpkg: SageMaker model packages, as far as an evaluation needs them: DescribeModelPackage and
 * the latest approved version of a model package group (ListModelPackages), on the SageMaker API
 * (JSON 1.1, SigV4 service "sagemaker"), and what a package resolves to for llmaj: a model string
 * that can be called without creating anything, or a message saying exactly what is needed.
 *
 * Endpoint: AWS_ENDPOINT_URL_SAGEMAKER, else AWS_ENDPOINT_URL, else
 * https://api.sagemaker.REGION.amazonaws.com. Throttling and 5xx are retried (four attempts).
 *
 * Resolution (smpkg_resolve). A package can be called when:
 *   - its CustomerMetadataProperties name an inference endpoint (EndpointName, endpoint_name,
 *     sagemaker_endpoint): `sagemaker/<name>`;
 *   - or name a Bedrock model (BedrockModelId, BedrockModelArn, bedrock_model, e.g. a custom model
 *     deployment imported from the package): `bedrock/<id or ARN>`;
 *   - or, for a base model (and for a package without model artifacts of its own), its inference
 *     container names a base model that Bedrock serves on demand (BaseModel.HubContentName
 *     nova-textgeneration-lite|-pro|-micro|-lite-v2, or a Bedrock model id): that model.
 * Otherwise the package is a fine-tuned model with artifacts only, and llmaj never deploys it (an
 * endpoint is paid infrastructure): the error says so and what to pass instead. */
#ifndef LLMAJ_SMPKG_H
#define LLMAJ_SMPKG_H
#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char *arn;
    char *group;         /* ModelPackageGroupName */
    char *version;       /* ModelPackageVersion as text, or NULL */
    char *approval;      /* ModelApprovalStatus */
    char *base_model;    /* InferenceSpecification.Containers[0].BaseModel.HubContentName, or NULL */
    char *model_data;    /* the container's ModelDataUrl or ModelDataSource S3 URI, or NULL */
    char *image;         /* the container's Image, or NULL */
    char *endpoint;      /* from CustomerMetadataProperties, or NULL */
    char *bedrock_model; /* from CustomerMetadataProperties, or NULL */
} smpkg_t;

/* DescribeModelPackage of `arn` in `region`. 0 with *out (smpkg_clear), or -1 with err. */
int smpkg_describe(const char *region, const char *arn, smpkg_t *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void smpkg_clear(smpkg_t *p);

/* The ARN of the newest Approved package of `group` (a name or a group ARN). Caller frees.
 * NULL with err (naming the group) when it has none or the call fails. */
char *smpkg_latest_approved(const char *region, const char *group, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* What `p` resolves to for the spec key `key` ("model" or "base_model"; a base model may use the
 * package's base model). Caller frees; NULL with the reason (what to do) in why. `servable`
 * decides whether a candidate model string is one llmaj can call (modelstr's judgement). */
char *smpkg_resolve(const smpkg_t *p, const char *key, bool (*servable)(const char *model, void *ctx), void *ctx,
                    char *why, size_t whylen) __attribute__((warn_unused_result));

#endif
