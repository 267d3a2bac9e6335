/* Unit test: webassets, the viewer's files compiled in. Every file of web/static/ is there, byte
 * for byte (compared with the source tree), with its content type and the ETag of its bytes;
 * the routes the service answers with them; If-None-Match. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "check.h"
#include "webassets.h"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *s = malloc(cap);
    size_t got;
    while ((got = fread(s + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) s = realloc(s, cap *= 2);
    }
    fclose(f);
    *len = n;
    return s;
}

static void test_files_match_the_tree(void)
{
    size_t n = 0;
    const webasset_t *all = webassets_list(&n);
    CHECK(n >= 4);
    const char *want[] = {"index.html", "viewer.css", "charts.js", "viewer.js"};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) CHECK(webassets_get(want[i]) != NULL);
    const char *src = getenv("LLMAJ_SRC");
    CHECK(src != NULL);
    for (size_t i = 0; src && i < n; i++) {
        const webasset_t *a = &all[i];
        char path[4096];
        snprintf(path, sizeof path, "%s/web/static/%s", src, a->name);
        size_t len = 0;
        char *bytes = slurp(path, &len);
        CHECK(bytes != NULL);
        CHECK(bytes && len == a->len && memcmp(bytes, a->data, len) == 0);
        CHECK(a->data[a->len] == '\0');
        /* ETag: the first 16 hex digits of the SHA-256 of the bytes, quoted. */
        unsigned char md[32];
        unsigned int mdlen = 0;
        char etag[24];
        CHECK(EVP_Digest(a->data, a->len, md, &mdlen, EVP_sha256(), NULL) == 1 && mdlen == 32);
        snprintf(etag, sizeof etag, "\"%02x%02x%02x%02x%02x%02x%02x%02x\"", md[0], md[1], md[2], md[3], md[4], md[5],
                 md[6], md[7]);
        CHECK_STR(a->etag, etag);
        free(bytes);
    }
    CHECK_STR(webassets_get("index.html")->content_type, "text/html; charset=utf-8");
    CHECK_STR(webassets_get("viewer.js")->content_type, "text/javascript; charset=utf-8");
    CHECK_STR(webassets_get("viewer.css")->content_type, "text/css; charset=utf-8");
    CHECK(webassets_get("nope.js") == NULL && webassets_get(NULL) == NULL);
}

static void test_routes(void)
{
    const webasset_t *page = webassets_get(WEBASSETS_PAGE);
    CHECK(webassets_route("/") == page);
    CHECK(webassets_route("/index.html") == page);
    CHECK(webassets_route("/jobs/j-20261129-0001") == page);
    CHECK(webassets_route("/jobs/j-1/") == page);
    CHECK(webassets_route("/assets/viewer.js") == webassets_get("viewer.js"));
    CHECK(webassets_route("/assets/viewer.css") == webassets_get("viewer.css"));
    const char *not_ours[] = {"", "jobs/x", "/jobs/", "/jobs//", "/jobs/a/b", "/assets/", "/assets/../x",
                              "/assets/sub/viewer.js", "/assets/missing.js", "/v1/jobs", "/metrics", "/healthz",
                              "/index.htm", "//"};
    for (size_t i = 0; i < sizeof not_ours / sizeof *not_ours; i++) {
        if (webassets_route(not_ours[i]) != NULL) fprintf(stderr, "  routed: '%s'\n", not_ours[i]);
        CHECK(webassets_route(not_ours[i]) == NULL);
    }
    CHECK(webassets_route(NULL) == NULL);
}

static void test_not_modified(void)
{
    const webasset_t *a = webassets_get("viewer.js");
    char list[128], weak[64];
    snprintf(list, sizeof list, "\"abc\", %s", a->etag);
    snprintf(weak, sizeof weak, "W/%s", a->etag);
    CHECK(webassets_not_modified(a, a->etag));
    CHECK(webassets_not_modified(a, list));
    CHECK(webassets_not_modified(a, weak));
    CHECK(webassets_not_modified(a, "*"));
    CHECK(!webassets_not_modified(a, NULL));
    CHECK(!webassets_not_modified(a, ""));
    CHECK(!webassets_not_modified(a, "\"0000000000000000\""));
    CHECK(!webassets_not_modified(webassets_get("viewer.css"), a->etag));
}

int main(void)
{
    test_files_match_the_tree();
    test_routes();
    test_not_modified();
    return check_summary("test_webassets");
}
