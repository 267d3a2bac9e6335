/* smpkg: model packages through the SageMaker API; see smpkg.h. */
#define LOG_MODULE "aws"
#include "smpkg.h"
#include "awscreds.h"
#include "awshttp.h"
#include "backoff.h"
#include "log.h"
#include "mem.h"

#include <cjson/cJSON.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define SM_ATTEMPTS 4

static char *endpoint(const char *region)
{
    const char *u = getenv("AWS_ENDPOINT_URL_SAGEMAKER");
    if (!u || !*u) u = getenv("AWS_ENDPOINT_URL");
    if (u && *u) {
        size_t n = strlen(u);
        while (n && u[n - 1] == '/') n--;
        return xasprintf("%.*s/", (int)n, u);
    }
    return xasprintf("https://api.sagemaker.%s.amazonaws.com/", region);
}

/* One JSON 1.1 call. 0 with *out (cJSON_Delete), or -1 with err. */
static int call(const char *region, const char *op, const cJSON *in, cJSON **out, char *err, size_t errlen)
{
    *out = NULL;
    char *url = endpoint(region);
    char *body = cJSON_PrintUnformatted(in);
    char target[96];
    snprintf(target, sizeof target, "SageMaker.%s", op);
    awshttp_t *h = awshttp_new();
    backoff_t bo;
    backoff_init(&bo, 200, 5000, (uint64_t)time(NULL) ^ (uint64_t)getpid());
    int rc = -1;
    for (int attempt = 1; attempt <= SM_ATTEMPTS; attempt++) {
        char cerr[1536];
        awscreds_t *c = awscreds_new(NULL, cerr, sizeof cerr);
        if (!c) {
            snprintf(err, errlen, "SageMaker %s: no usable AWS credentials: %s", op, cerr);
            break;
        }
        httpmsg_headers_t hd;
        httpmsg_headers_init(&hd);
        httpmsg_headers_add(&hd, "Content-Type", "application/x-amz-json-1.1");
        httpmsg_headers_add(&hd, "X-Amz-Target", target);
        int sr = awshttp_sign(c, region, "sagemaker", "POST", url, &hd, body, strlen(body), false, err, errlen);
        char *source = xstrdup(awscreds_source(c));
        awscreds_destroy(&c);
        if (sr < 0) {
            httpmsg_headers_clear(&hd);
            free(source);
            break;
        }
        awshttp_req_t q = {.method = "POST",
                           .url = url,
                           .headers = &hd,
                           .body = body,
                           .body_len = strlen(body),
                           .timeout_ms = 30000,
                           .connect_timeout_ms = 10000,
                           .max_body = 4 << 20};
        awshttp_resp_t resp;
        int sent = awshttp_do(h, &q, &resp);
        httpmsg_headers_clear(&hd);
        bool again = false;
        if (sent < 0) {
            snprintf(err, errlen, "SageMaker %s: %s", op, resp.error);
            again = true;
        } else {
            cJSON *j = resp.body.data ? cJSON_ParseWithLength(resp.body.data, resp.body.len) : NULL;
            if (resp.status == 200 && cJSON_IsObject(j)) {
                *out = j;
                j = NULL;
                rc = 0;
            } else {
                const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "__type");
                const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "Message");
                if (!m) m = cJSON_GetObjectItemCaseSensitive(j, "message");
                const char *et = httpmsg_headers_get(&resp.headers, "x-amzn-ErrorType");
                char type[96] = "";
                if (cJSON_IsString(t))
                    snprintf(type, sizeof type, "%s",
                             strrchr(t->valuestring, '#') ? strrchr(t->valuestring, '#') + 1 : t->valuestring);
                else if (et) snprintf(type, sizeof type, "%.*s", (int)strcspn(et, ":"), et);
                snprintf(err, errlen, "SageMaker %s (HTTP %ld%s%s)%s%.400s", op, resp.status, type[0] ? ", " : "", type,
                         cJSON_IsString(m) ? ": " : "", cJSON_IsString(m) ? m->valuestring : "");
                if (strstr(type, "AccessDenied") && strlen(err) + 200 < errlen)
                    snprintf(err + strlen(err), errlen - strlen(err), " (credentials from %s; they need sagemaker:%s)",
                             source, op);
                again = resp.status >= 500 || strstr(type, "Throttling") != NULL;
            }
            cJSON_Delete(j);
        }
        awshttp_resp_clear(&resp);
        free(source);
        if (rc == 0 || !again || attempt == SM_ATTEMPTS) break;
        usleep((useconds_t)(backoff_delay_ms(&bo, (uint32_t)attempt, -1) * 1000));
    }
    awshttp_destroy(&h);
    free(body);
    free(url);
    return rc;
}

static char *jdup(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (cJSON_IsString(v) && v->valuestring[0]) return xstrdup(v->valuestring);
    if (cJSON_IsNumber(v)) return xasprintf("%.0f", v->valuedouble);
    return NULL;
}

/* The first of `keys` present (case-insensitively) in a string map. */
static char *meta(const cJSON *props, const char *const *keys)
{
    for (const char *const *k = keys; *k; k++)
        for (const cJSON *e = props ? props->child : NULL; e; e = e->next)
            if (e->string && strcasecmp(e->string, *k) == 0 && cJSON_IsString(e) && e->valuestring[0])
                return xstrdup(e->valuestring);
    return NULL;
}

void smpkg_clear(smpkg_t *p)
{
    free(p->arn);
    free(p->group);
    free(p->version);
    free(p->approval);
    free(p->base_model);
    free(p->model_data);
    free(p->image);
    free(p->endpoint);
    free(p->bedrock_model);
    memset(p, 0, sizeof(*p));
}

int smpkg_describe(const char *region, const char *arn, smpkg_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    cJSON *in = cJSON_CreateObject();
    cJSON_AddStringToObject(in, "ModelPackageName", arn);
    cJSON *j = NULL;
    int rc = call(region, "DescribeModelPackage", in, &j, err, errlen);
    cJSON_Delete(in);
    if (rc < 0) return -1;
    out->arn = jdup(j, "ModelPackageArn");
    if (!out->arn) out->arn = xstrdup(arn);
    out->group = jdup(j, "ModelPackageGroupName");
    out->version = jdup(j, "ModelPackageVersion");
    out->approval = jdup(j, "ModelApprovalStatus");
    const cJSON *spec = cJSON_GetObjectItemCaseSensitive(j, "InferenceSpecification");
    const cJSON *cont = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(spec, "Containers"), 0);
    if (cJSON_IsObject(cont)) {
        out->image = jdup(cont, "Image");
        out->model_data = jdup(cont, "ModelDataUrl");
        if (!out->model_data) {
            const cJSON *src = cJSON_GetObjectItemCaseSensitive(cont, "ModelDataSource");
            out->model_data = jdup(cJSON_GetObjectItemCaseSensitive(src, "S3DataSource"), "S3Uri");
        }
        out->base_model = jdup(cJSON_GetObjectItemCaseSensitive(cont, "BaseModel"), "HubContentName");
    }
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(j, "CustomerMetadataProperties");
    static const char *const ep_keys[] = {"EndpointName", "endpoint_name", "sagemaker_endpoint", NULL};
    static const char *const br_keys[] = {"BedrockModelId", "BedrockModelArn", "bedrock_model", "bedrock_model_id",
                                          NULL};
    out->endpoint = meta(props, ep_keys);
    out->bedrock_model = meta(props, br_keys);
    cJSON_Delete(j);
    return 0;
}

char *smpkg_latest_approved(const char *region, const char *group, char *err, size_t errlen)
{
    cJSON *in = cJSON_CreateObject();
    cJSON_AddStringToObject(in, "ModelPackageGroupName", group);
    cJSON_AddStringToObject(in, "ModelApprovalStatus", "Approved");
    cJSON_AddStringToObject(in, "SortBy", "CreationTime");
    cJSON_AddStringToObject(in, "SortOrder", "Descending");
    cJSON_AddNumberToObject(in, "MaxResults", 1);
    cJSON *j = NULL;
    int rc = call(region, "ListModelPackages", in, &j, err, errlen);
    cJSON_Delete(in);
    if (rc < 0) return NULL;
    const cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "ModelPackageSummaryList"), 0);
    char *arn = first ? jdup(first, "ModelPackageArn") : NULL;
    if (!arn)
        snprintf(err, errlen,
                 "model package group %s has no Approved version (approve one in the SageMaker model "
                 "registry, or give `model` as a package ARN)",
                 group);
    cJSON_Delete(j);
    return arn;
}

char *smpkg_resolve(const smpkg_t *p, const char *key, bool (*servable)(const char *model, void *ctx), void *ctx,
                    char *why, size_t whylen)
{
    bool base = strcmp(key, "base_model") == 0;
    if (p->endpoint) return xasprintf("sagemaker/%s", p->endpoint);
    if (p->bedrock_model) return xasprintf("bedrock/%s", p->bedrock_model);
    char *cand = NULL;
    if (p->base_model) {
        cand = xstrdup(p->base_model); /* a Nova name or a bare Bedrock id is a model string as it is */
        if (!servable || !servable(cand, ctx)) xfree(&cand);
    }
    if (cand && (base || !p->model_data)) return cand;
    free(cand);
    if (base && p->base_model)
        snprintf(why, whylen,
                 "the package %s names the base model `%s`, which Bedrock does not serve on demand: "
                 "deploy it to a SageMaker endpoint and pass `sagemaker/<endpoint>`",
                 p->arn, p->base_model);
    else if (p->model_data)
        snprintf(why, whylen,
                 "the package %s is a fine-tuned model with artifacts only (%s%s%s%s%s); llmaj calls "
                 "models that are already served and never deploys one (an endpoint is paid infrastructure): deploy "
                 "it to a SageMaker endpoint and pass `sagemaker/<endpoint>` (or record the endpoint on the package "
                 "as the customer metadata property EndpointName), or import it into Bedrock and pass "
                 "`bedrock/<custom model deployment ARN>`",
                 p->arn, p->model_data, p->base_model ? ", base model " : "", p->base_model ? p->base_model : "",
                 p->image ? ", image " : "", p->image ? p->image : "");
    else
        snprintf(why, whylen,
                 "the package %s names neither an inference endpoint, a Bedrock model nor a base model "
                 "llmaj can call: deploy it and pass `sagemaker/<endpoint>`",
                 p->arn);
    return NULL;
}
