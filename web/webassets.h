/* webassets: the results viewer's static files (web/static/), compiled into the program. The
 * build turns each file into a byte array (cmake/embed_files.cmake); nothing is read from disk at
 * run time. Owns the table of files, their content types and ETags, and which GET paths the
 * viewer answers. Does not serve HTTP (the scheduler service does, with these bytes and
 * webassets_headers) nor hold any job data (the page fetches it from the REST API, or carries it:
 * webreport.h).
 *
 * The viewer is one page (index.html) that routes in the browser: "/" is the job list and
 * "/jobs/{id}" a job; its stylesheet and scripts are under "/assets/". */
#ifndef LLMAJ_WEBASSETS_H
#define LLMAJ_WEBASSETS_H
#include <stddef.h>

typedef struct {
    const char *name;          /* file name under web/static/, e.g. "viewer.js" */
    const char *content_type;  /* e.g. "text/javascript; charset=utf-8" */
    const unsigned char *data; /* the bytes, followed by a NUL that len does not count */
    size_t len;
    const char *etag; /* strong ETag, quoted: "\"<16 hex digits of SHA-256>\"" */
} webasset_t;

/* The page every viewer route answers with. */
#define WEBASSETS_PAGE "index.html"

/* Headers to send with every asset (besides Content-Type and ETag): the policy allows only the
 * page's own scripts, styles and API calls; nothing may frame it. */
#define WEBASSETS_CSP                                                                 \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " \
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
#define WEBASSETS_CACHE_CONTROL "no-cache" /* revalidate with If-None-Match: answers 304 */

/* Every embedded file, in the order the build listed them. Static storage. */
const webasset_t *webassets_list(size_t *n);

/* The file called `name` ("viewer.js"), or NULL. */
const webasset_t *webassets_get(const char *name);

/* What the viewer answers for a GET of `path` (the URL path, without query string): the page for
 * "/", "/index.html" and "/jobs/<id>" (one non-empty segment, optionally followed by "/"); the
 * file for "/assets/<name>"; NULL for anything else (the API's or nobody's: 404). */
const webasset_t *webassets_route(const char *path);

/* The headers webassets_mhd_answer sends with every file, besides Content-Type and ETag. */
#define WEBASSETS_NOSNIFF "nosniff"
#define WEBASSETS_REFERRER_POLICY "no-referrer"

struct MHD_Connection;

/* Answers a request for the viewer on a libmicrohttpd connection, from the access handler of a
 * service (the scheduler's REST listener): when webassets_route(url) knows the path, queues
 * 200 with the file (GET, and HEAD without the body; 304 without a body when If-None-Match
 * matches) or 405 with "Allow: GET, HEAD" for another method, and returns 1; returns 0, queuing
 * nothing, when the path is not the viewer's (the caller answers it: the API, or 404); -1 when
 * the response could not be queued. The files hold no job data, so the caller answers them
 * before its token check: the page asks for the token and sends it with its API calls. Bytes are
 * static: nothing is copied or freed. */
int webassets_mhd_answer(struct MHD_Connection *c, const char *method, const char *url);

/* Whether a request's If-None-Match header value (may be NULL) matches the asset's ETag, so the
 * answer is 304 Not Modified without a body. Accepts "*", a list, and weak forms (W/"..."). */
int webassets_not_modified(const webasset_t *a, const char *if_none_match);

#endif
