/* arn: Amazon Resource Names, "arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE": split and checked
 * part by part, so that a malformed ARN in a spec (the seed's `arn:aws:sagemaker:us-west-2:<>:...`
 * placeholder) is refused when the spec is read, with a message naming the part that is wrong,
 * instead of failing much later against the network. Pure parsing; no domain words: which
 * services and resource types a caller accepts is the caller's to check.
 *
 * Rules: the partition is one AWS knows (aws, aws-cn, aws-us-gov, aws-iso, aws-iso-b,
 * aws-iso-e, aws-iso-f, aws-eusc); the service is lower-case letters, digits and '-'; the region
 * is empty or a region name (lower-case letters, digits and '-', with a '-' and ending in a
 * digit); the account is empty or exactly 12 digits; the resource is non-empty printable ASCII
 * without blanks. Each of partition, service, region and account fits its field below. */
#ifndef LLMAJ_ARN_H
#define LLMAJ_ARN_H
#include <stdbool.h>
#include <stddef.h>

#define ARN_MAX 2048

typedef struct {
    char partition[16];
    char service[64];
    char region[32];
    char account[16];
    char resource[ARN_MAX]; /* "model-package/name/3", "mlflow-tracking-server/x", ... */
} arn_t;

/* Parses s. 0, or -1 with a message in err that quotes the offending part
 * ("the account `<>` is not a 12-digit AWS account id"). */
int arn_parse(const char *s, arn_t *out, char *err, size_t errlen) __attribute__((warn_unused_result));

/* True when s starts with "arn:" (whether or not the rest is valid). */
bool arn_like(const char *s);

/* True when r is a region name as described above (e.g. "us-west-2"). */
bool arn_region_ok(const char *r);

/* The resource type: the part of the resource before its first '/' or ':' into out. */
void arn_resource_type(const arn_t *a, char *out, size_t outlen);

#endif
