/* mock_aws_sagemaker: the mock's SageMaker control plane (JSON 1.1: POST / with X-Amz-Target
 * SageMaker.<Operation>), signed with service "sagemaker":
 *   DescribeModelPackage {ModelPackageName: ARN}: the package of --aws-model-packages (or PUT
 *     /_mock/aws/model-packages) whose ModelPackageArn it is, as given; else ValidationException
 *     "... does not exist", as SageMaker answers;
 *   ListModelPackages {ModelPackageGroupName (name or ARN), ModelApprovalStatus?, SortBy
 *     CreationTime|Name, SortOrder, MaxResults}: the summaries of the matching packages.
 * A name containing "denied" is refused with AccessDeniedException. */
#define LOG_MODULE "mockllm"
#include "mock_aws_int.h"

#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PUT(call)                \
    do {                         \
        if ((call) < 0) abort(); \
    } while (0) /* unbounded buffers */

static void sm_error(mock_resp_t *resp, int status, const char *type, const char *msg)
{
    buf_t *b = mock_resp_start(resp, status);
    resp->content_type = "application/x-amz-json-1.1";
    PUT(buf_puts(b, "{\"__type\":"));
    PUT(buf_json_str(b, type, strlen(type)));
    PUT(buf_puts(b, ",\"Message\":"));
    PUT(buf_json_str(b, msg, strlen(msg)));
    PUT(buf_putc(b, '}'));
    mock_resp_header(resp, "x-amzn-ErrorType", "%s", type);
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double jnum(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* "name" of a group given as a name or an ARN ".../model-package-group/name". */
static const char *group_name(const char *g)
{
    const char *s = strstr(g, ":model-package-group/");
    return s ? s + strlen(":model-package-group/") : g;
}

static int by_time_desc(const void *x, const void *y)
{
    double a = jnum(*(const cJSON *const *)x, "CreationTime"), b = jnum(*(const cJSON *const *)y, "CreationTime");
    return a < b ? 1 : a > b ? -1 : 0;
}

static void reply_json(mock_resp_t *resp, const cJSON *o)
{
    char *s = cJSON_PrintUnformatted(o);
    mock_resp_json(resp, 200, s, strlen(s));
    resp->content_type = "application/x-amz-json-1.1";
    free(s);
}

void mock_aws_sagemaker(mock_aws_t *a, const mock_aws_req_t *r, mock_resp_t *resp)
{
    int status = 0;
    const char *code = NULL;
    char msg[512];
    const char *target = mock_aws_header(r, "X-Amz-Target");
    const char *op = target ? target + strlen("SageMaker.") : "";
    cJSON *in = NULL;
    if (mock_aws_check_sig(a, r, "sagemaker", NULL, 0, &status, &code, msg, sizeof msg) < 0) {
        sm_error(resp, status, code, msg);
        goto done;
    }
    in = cJSON_ParseWithLength(r->body ? r->body : "", r->body_len);
    if (!cJSON_IsObject(in)) {
        sm_error(resp, 400, "SerializationException", "the request body is not a JSON object");
        goto done;
    }
    if (strcmp(op, "DescribeModelPackage") == 0) {
        const char *name = jstr(in, "ModelPackageName");
        if (!name || !*name) {
            sm_error(resp, 400, "ValidationException",
                     "1 validation error detected: Value null at 'modelPackageName' "
                     "failed to satisfy constraint: Member must not be null");
            goto done;
        }
        if (strstr(name, "denied")) {
            snprintf(msg, sizeof msg,
                     "User: arn:aws:sts::%s:assumed-role/%s/llmaj is not authorized to perform: "
                     "sagemaker:DescribeModelPackage on resource: %.200s",
                     MOCK_AWS_ACCOUNT, MOCK_AWS_ROLE, name);
            sm_error(resp, 400, "AccessDeniedException", msg);
            goto done;
        }
        const cJSON *p;
        cJSON_ArrayForEach(p, a->packages)
        {
            const char *arn = jstr(p, "ModelPackageArn");
            if (arn && strcmp(arn, name) == 0) {
                reply_json(resp, p);
                goto done;
            }
        }
        snprintf(msg, sizeof msg, "ModelPackage %.300s does not exist.", name);
        sm_error(resp, 400, "ValidationException", msg);
    } else if (strcmp(op, "ListModelPackages") == 0) {
        const char *g = jstr(in, "ModelPackageGroupName");
        const char *st = jstr(in, "ModelApprovalStatus");
        double maxr = jnum(in, "MaxResults");
        if (!g) {
            sm_error(resp, 400, "ValidationException", "ModelPackageGroupName is required by this mock");
            goto done;
        }
        size_t n = 0, cap = (size_t)cJSON_GetArraySize(a->packages) + 1;
        const cJSON **sel = xcalloc(cap, sizeof(*sel));
        const cJSON *p;
        cJSON_ArrayForEach(p, a->packages)
        {
            const char *pg = jstr(p, "ModelPackageGroupName");
            const char *ps = jstr(p, "ModelApprovalStatus");
            if (!pg || strcmp(pg, group_name(g)) != 0) continue;
            if (st && (!ps || strcmp(ps, st) != 0)) continue;
            sel[n++] = p;
        }
        qsort(sel, n, sizeof(*sel), by_time_desc);
        const char *order = jstr(in, "SortOrder");
        cJSON *out = cJSON_CreateObject();
        cJSON *list = cJSON_AddArrayToObject(out, "ModelPackageSummaryList");
        for (size_t i = 0; i < n; i++) {
            size_t k = order && strcmp(order, "Ascending") == 0 ? n - 1 - i : i;
            if (maxr > 0 && (double)i >= maxr) break;
            cJSON *s = cJSON_CreateObject();
            static const char *const fields[] = {
                "ModelPackageArn",     "ModelPackageGroupName", "ModelPackageVersion",    "CreationTime",
                "ModelApprovalStatus", "ModelPackageStatus",    "ModelPackageDescription"};
            for (size_t f = 0; f < sizeof fields / sizeof *fields; f++) {
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(sel[k], fields[f]);
                if (v) cJSON_AddItemToObject(s, fields[f], cJSON_Duplicate(v, 1));
            }
            cJSON_AddItemToArray(list, s);
        }
        free(sel);
        reply_json(resp, out);
        cJSON_Delete(out);
    } else {
        snprintf(msg, sizeof msg, "Operation %.100s is not served by the mock", op);
        sm_error(resp, 400, "UnknownOperationException", msg);
    }
done:
    cJSON_Delete(in);
    mock_aws_log(a, r, "sagemaker", resp->status);
}
