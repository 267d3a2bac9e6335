/* restc: the CLI's small HTTP client for the scheduler service (DESIGN.md "Control plane"), over
 * libcurl's easy interface: one request at a time, JSON in and out, the token sent as a Bearer
 * header (never printed), bounded answers and timeouts. Does not know the routes' meaning
 * (remote.c does). */
#ifndef LLMAJ_RESTC_H
#define LLMAJ_RESTC_H
#include <stddef.h>

#define RESTC_MAX_ANSWER (256u << 20) /* bytes of an answer body */
#define RESTC_TIMEOUT_S 120           /* a whole request (a submission reads its dataset) */
#define RESTC_CONNECT_S 10

typedef struct restc restc_t;

/* A client for the service at `url` ("http://host:port", a trailing slash is fine). `token` (may
 * be NULL) is copied. NULL with err when the URL is not http:// or https://. */
restc_t *restc_new(const char *url, const char *token, char *err, size_t errlen);
void restc_destroy(restc_t **self_p); /* accepts NULL */
const char *restc_url(const restc_t *c);

/* One request: `path` ("/v1/jobs", with its query) and, for POST, a JSON `body` (may be NULL).
 * *status gets the HTTP status and *answer the body (caller frees; NUL-terminated). 0, or -1
 * with err when no answer came (cannot connect, timeout, answer too large). */
int restc_call(restc_t *c, const char *method, const char *path, const char *body, long *status, char **answer,
               char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
