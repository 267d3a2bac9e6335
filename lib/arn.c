/* arn: ARN parsing and checks; see arn.h. */
#include "arn.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static const char *const partitions[] = {"aws",       "aws-cn",    "aws-us-gov", "aws-iso",
                                         "aws-iso-b", "aws-iso-e", "aws-iso-f",  "aws-eusc"};

bool arn_like(const char *s) { return s && strncmp(s, "arn:", 4) == 0; }

bool arn_region_ok(const char *r)
{
    size_t n = r ? strlen(r) : 0;
    if (n < 4 || n > 31 || !islower((unsigned char)r[0]) || !isdigit((unsigned char)r[n - 1]) || !strchr(r, '-'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!islower((unsigned char)r[i]) && !isdigit((unsigned char)r[i]) && r[i] != '-') return false;
    return true;
}

/* Copies s[0..n) into a field of size cap; false if it does not fit. */
static bool take(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap) return false;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return true;
}

/* A part for a message: at most 40 bytes, control bytes shown as '?'. */
static void shown(const char *s, size_t n, char *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 4 < cap && i < 40; i++) out[k++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (n > 40 && k + 4 < cap) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
}

int arn_parse(const char *s, arn_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (!arn_like(s)) {
        snprintf(err, errlen, "an ARN starts with `arn:`");
        return -1;
    }
    if (strlen(s) > ARN_MAX) {
        snprintf(err, errlen, "the ARN is %zu bytes, longer than the limit of %d", strlen(s), ARN_MAX);
        return -1;
    }
    const char *part[5];
    size_t len[5];
    const char *p = s + 4;
    for (int i = 0; i < 5; i++) {
        const char *c = strchr(p, ':');
        if (!c || i == 4) {
            if (i < 4) {
                snprintf(err, errlen,
                         "expected arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE (6 parts separated "
                         "by `:`), got %d",
                         i + 2);
                return -1;
            }
            break;
        }
        part[i] = p;
        len[i] = (size_t)(c - p);
        p = c + 1;
    }
    part[4] = p;
    len[4] = strlen(p);
    char sh[64];
    bool known = false;
    for (size_t i = 0; i < sizeof partitions / sizeof *partitions; i++)
        if (len[0] == strlen(partitions[i]) && memcmp(part[0], partitions[i], len[0]) == 0) known = true;
    if (!known || !take(out->partition, sizeof out->partition, part[0], len[0])) {
        shown(part[0], len[0], sh, sizeof sh);
        snprintf(err, errlen, "the partition `%s` is not an AWS partition (aws, aws-cn, aws-us-gov, ...)", sh);
        return -1;
    }
    bool svc_ok = len[1] > 0 && take(out->service, sizeof out->service, part[1], len[1]);
    for (size_t i = 0; svc_ok && i < len[1]; i++)
        if (!islower((unsigned char)part[1][i]) && !isdigit((unsigned char)part[1][i]) && part[1][i] != '-')
            svc_ok = false;
    if (!svc_ok) {
        shown(part[1], len[1], sh, sizeof sh);
        snprintf(err, errlen, "the service `%s` is not an AWS service name (e.g. sagemaker)", sh);
        return -1;
    }
    if (len[2] && (!take(out->region, sizeof out->region, part[2], len[2]) || !arn_region_ok(out->region))) {
        shown(part[2], len[2], sh, sizeof sh);
        snprintf(err, errlen, "the region `%s` is not an AWS region name (e.g. us-west-2)", sh);
        out->region[0] = '\0';
        return -1;
    }
    bool acct_ok = len[3] == 0 || len[3] == 12;
    for (size_t i = 0; acct_ok && i < len[3]; i++)
        if (!isdigit((unsigned char)part[3][i])) acct_ok = false;
    if (!acct_ok) {
        shown(part[3], len[3], sh, sizeof sh);
        bool placeholder = len[3] == 0 || strchr(sh, '<') || strchr(sh, '>');
        snprintf(err, errlen, "the account `%s` is not a 12-digit AWS account id%s", sh,
                 placeholder ? " (it looks like a placeholder: put your account id there)" : "");
        return -1;
    }
    (void)take(out->account, sizeof out->account, part[3], len[3]);
    if (len[4] == 0) {
        snprintf(err, errlen, "the resource part (after the account) is empty");
        return -1;
    }
    for (size_t i = 0; i < len[4]; i++) {
        unsigned char c = (unsigned char)part[4][i];
        if (c <= 0x20 || c >= 0x7f) {
            snprintf(err, errlen, "the resource part contains a blank or a non-ASCII byte at offset %zu", i);
            return -1;
        }
    }
    (void)take(out->resource, sizeof out->resource, part[4], len[4]);
    return 0;
}

void arn_resource_type(const arn_t *a, char *out, size_t outlen)
{
    size_t n = strcspn(a->resource, "/:");
    if (!outlen) return;
    if (n >= outlen) n = outlen - 1;
    memcpy(out, a->resource, n);
    out[n] = '\0';
}
