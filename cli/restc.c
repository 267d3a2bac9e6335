/* restc: the CLI's HTTP client over libcurl; see restc.h. */
#include "restc.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mem.h"

struct restc {
    char *url;
    char *auth; /* "Authorization: Bearer <token>", or NULL */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_rc = CURLE_FAILED_INIT;
static void curl_init(void) { curl_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

restc_t *restc_new(const char *url, const char *token, char *err, size_t errlen)
{
    if (!url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)) {
        snprintf(err, errlen, "scheduler '%s': not an http:// or https:// URL (--scheduler or LLMAJ_SCHEDULER)",
                 url ? url : "");
        return NULL;
    }
    pthread_once(&curl_once, curl_init);
    if (curl_rc != CURLE_OK) {
        snprintf(err, errlen, "cannot initialise libcurl: %s", curl_easy_strerror(curl_rc));
        return NULL;
    }
    restc_t *c = xcalloc(1, sizeof *c);
    size_t n = strlen(url);
    while (n && url[n - 1] == '/') n--;
    c->url = xstrndup(url, n);
    if (token && *token) c->auth = xasprintf("Authorization: Bearer %s", token);
    return c;
}

void restc_destroy(restc_t **self_p)
{
    if (!self_p || !*self_p) return;
    restc_t *c = *self_p;
    if (c->auth) memset(c->auth, 0, strlen(c->auth));
    free(c->auth);
    free(c->url);
    free(c);
    *self_p = NULL;
}

const char *restc_url(const restc_t *c) { return c->url; }

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    buf_t *b = userdata;
    size_t n = size * nmemb;
    return buf_append(b, ptr, n) < 0 ? 0 : n; /* 0 aborts: the answer is too large */
}

int restc_call(restc_t *c, const char *method, const char *path, const char *body, long *status, char **answer,
               char *err, size_t errlen)
{
    *status = 0;
    *answer = NULL;
    CURL *e = curl_easy_init();
    if (!e) {
        snprintf(err, errlen, "cannot make an HTTP request (libcurl)");
        return -1;
    }
    char *url = xasprintf("%s%s", c->url, path);
    buf_t b;
    buf_init(&b, RESTC_MAX_ANSWER);
    struct curl_slist *h = NULL, *n;
    bool ok = (n = curl_slist_append(h, "Accept: application/json")) != NULL;
    if (ok) h = n;
    if (ok && body && (n = curl_slist_append(h, "Content-Type: application/json"))) h = n;
    if (ok && c->auth && (n = curl_slist_append(h, c->auth))) h = n;
    char cerr[CURL_ERROR_SIZE] = "";
    CURLcode rc = CURLE_OK;
#define SET(opt, val) \
    if (rc == CURLE_OK) rc = curl_easy_setopt(e, opt, val)
    SET(CURLOPT_URL, url);
    SET(CURLOPT_CUSTOMREQUEST, method);
    SET(CURLOPT_HTTPHEADER, h);
    SET(CURLOPT_WRITEFUNCTION, on_data);
    SET(CURLOPT_WRITEDATA, &b);
    SET(CURLOPT_ERRORBUFFER, cerr);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_CONNECTTIMEOUT, (long)RESTC_CONNECT_S);
    SET(CURLOPT_TIMEOUT, (long)RESTC_TIMEOUT_S);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_USERAGENT, "llmaj/" LLMAJ_VERSION);
    if (body) {
        SET(CURLOPT_POSTFIELDS, body);
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    } else if (!strcmp(method, "POST")) {
        SET(CURLOPT_POSTFIELDS, "");
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    }
#undef SET
    if (!ok) {
        snprintf(err, errlen, "cannot make an HTTP request (out of memory)");
        rc = CURLE_OUT_OF_MEMORY;
    } else if (rc != CURLE_OK) {
        snprintf(err, errlen, "cannot make an HTTP request: %s", curl_easy_strerror(rc));
    } else if ((rc = curl_easy_perform(e)) != CURLE_OK) {
        if (rc == CURLE_WRITE_ERROR)
            snprintf(err, errlen, "%s %s: the answer is larger than %u MiB", method, url, RESTC_MAX_ANSWER >> 20);
        else
            snprintf(err, errlen,
                     "%s %s: no answer from the llmaj scheduler (%s); is `llmaj-scheduler --serve` running "
                     "there? (--scheduler or LLMAJ_SCHEDULER)",
                     method, c->url, cerr[0] ? cerr : curl_easy_strerror(rc));
    } else {
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(e);
    free(url);
    if (rc != CURLE_OK) {
        buf_free(&b);
        return -1;
    }
    *answer = buf_take(&b); /* NUL-terminated, "" for an empty body */
    return 0;
}
