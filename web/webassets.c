/* webassets: the embedded viewer files; see webassets.h. The table itself is generated at build
 * time (webassets_data.c in the build folder). */
#include "webassets.h"

#include <string.h>

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
