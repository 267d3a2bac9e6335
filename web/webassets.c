/* webassets: the embedded viewer files; see webassets.h. The table itself is generated at build
 * time (webassets_data.c in the build folder). */
#include "webassets.h"

#include <string.h>

#include <microhttpd.h>

extern const webasset_t webassets_table[];
extern const size_t webassets_count;

const webasset_t *webassets_list(size_t *n)
{
    if (n) *n = webassets_count;
    return webassets_table;
}

const webasset_t *webassets_get(const char *name)
{
    if (!name) return NULL;
    for (size_t i = 0; i < webassets_count; i++)
        if (!strcmp(webassets_table[i].name, name)) return &webassets_table[i];
    return NULL;
}

const webasset_t *webassets_route(const char *path)
{
    if (!path || path[0] != '/') return NULL;
    if (!strcmp(path, "/") || !strcmp(path, "/" WEBASSETS_PAGE)) return webassets_get(WEBASSETS_PAGE);
    static const char jobs[] = "/jobs/", assets[] = "/assets/";
    if (!strncmp(path, jobs, sizeof jobs - 1)) {
        const char *id = path + sizeof jobs - 1;
        size_t n = strcspn(id, "/");
        if (n == 0 || (id[n] == '/' && id[n + 1] != '\0')) return NULL;
        return webassets_get(WEBASSETS_PAGE);
    }
    if (!strncmp(path, assets, sizeof assets - 1)) {
        const char *name = path + sizeof assets - 1;
        if (!*name || strchr(name, '/')) return NULL;
        return webassets_get(name);
    }
    return NULL;
}

int webassets_not_modified(const webasset_t *a, const char *inm)
{
    if (!a || !inm) return 0;
    size_t elen = strlen(a->etag);
    const char *p = inm;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        if (!*p) break;
        if (*p == '*') return 1;
        if (!strncmp(p, "W/", 2)) p += 2;
        size_t n = strcspn(p, ",");
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
        if (n == elen && !memcmp(p, a->etag, elen)) return 1;
        p += strcspn(p, ",");
    }
    return 0;
}

static int queue(struct MHD_Connection *c, unsigned status, const webasset_t *a, const char *allow)
{
    struct MHD_Response *r = a && status == MHD_HTTP_OK
                                 ? MHD_create_response_from_buffer(a->len, (void *)a->data, MHD_RESPMEM_PERSISTENT)
                                 : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!r) return -1;
    int ok = 1;
    if (a) {
        if (status == MHD_HTTP_OK)
            ok &= MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, a->content_type) == MHD_YES;
        ok &= MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, a->etag) == MHD_YES;
        ok &= MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, WEBASSETS_CACHE_CONTROL) == MHD_YES;
    }
    if (allow) ok &= MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow) == MHD_YES;
    ok &= MHD_add_response_header(r, "Content-Security-Policy", WEBASSETS_CSP) == MHD_YES;
    ok &= MHD_add_response_header(r, "X-Content-Type-Options", WEBASSETS_NOSNIFF) == MHD_YES;
    ok &= MHD_add_response_header(r, "Referrer-Policy", WEBASSETS_REFERRER_POLICY) == MHD_YES;
    ok &= MHD_queue_response(c, status, r) == MHD_YES;
    MHD_destroy_response(r);
    return ok ? 1 : -1;
}

int webassets_mhd_answer(struct MHD_Connection *c, const char *method, const char *url)
{
    const webasset_t *a = webassets_route(url);
    if (!a) return 0;
    if (!method || (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD)))
        return queue(c, MHD_HTTP_METHOD_NOT_ALLOWED, NULL, "GET, HEAD");
    const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
    return queue(c, webassets_not_modified(a, inm) ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK, a, NULL);
}
