/* fuzz_sigv4: HTTP requests through the SigV4 canonicaliser and signer (aws/sigv4.c), checked
 * against the tests' verifier (tests/support/sigv4_verify.c), which recomputes a signature the
 * way an AWS service does.
 *
 * The input is a request in the form of the AWS test suite's .req files: a request line
 * "METHOD TARGET [HTTP/1.1]", header lines "Name:value" (a line starting with a blank continues
 * the value), an empty line, then the body. NUL bytes end the field they are in.
 *
 * Properties: the canonical request (for "service" and for "s3", whose path rules differ) either
 * fails with a message or has the six parts of SigV4 step 1, starting with the method, a
 * canonical URI that begins with '/' and holds only unreserved bytes, '/' and %XX escapes, and
 * signed headers that are lower-case, sorted and unique. And what the signer signs, the verifier
 * accepts: a request signed with sigv4_sign, sent with the headers it adds, verifies as
 * SIGV4_OK (for a path target, an absolute URL's Host coming from the URL, which a server never
 * sees; and for a list of signed headers the verifier reads: SIGV4_VERIFY_MAX_SIGNED_HEADERS).
 * Seeds: corpus/sigv4 (requests in the form of the AWS test suite's, and crashers). */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "log.h"
#include "sigv4.h"
#include "sigv4_int.h"
#include "sigv4_verify.h"

#define MAX_HEADERS 64
#define DATE "20150830T123600Z"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

typedef struct {
    char *text; /* the input, NUL-terminated, cut into fields in place */
    char *method, *target;
    sigv4_header_t headers[MAX_HEADERS];
    char *joined[MAX_HEADERS]; /* values rebuilt from continuation lines (owned) */
    size_t n_headers;
    const char *body;
    size_t body_len;
} req_t;

/* The end of the line starting at s (its '\n' or the end of the text). */
static char *eol(char *s, char *end)
{
    char *nl = memchr(s, '\n', (size_t)(end - s));
    return nl ? nl : end;
}

static int parse(const uint8_t *data, size_t size, req_t *r)
{
    memset(r, 0, sizeof *r);
    r->text = malloc(size + 1);
    FUZZ_ASSERT(r->text != NULL);
    memcpy(r->text, data, size);
    r->text[size] = '\0';
    char *p = r->text, *end = r->text + size;
    char *e = eol(p, end);
    *e = '\0';
    char *sp = strchr(p, ' ');
    if (!sp) return -1;
    *sp = '\0';
    r->method = p;
    r->target = sp + 1;
    char *sp2 = strrchr(r->target, ' ');
    if (sp2 && strncmp(sp2, " HTTP/", 6) == 0) *sp2 = '\0';
    p = e < end ? e + 1 : end;
    while (p < end) {
        e = eol(p, end);
        *e = '\0';
        char *next = e < end ? e + 1 : end;
        if (*p == '\0' || (p[0] == '\r' && p[1] == '\0')) {
            p = next;
            break;
        }
        if ((*p == ' ' || *p == '\t') && r->n_headers > 0) {
            size_t i = r->n_headers - 1;
            const char *old = r->headers[i].value;
            size_t ol = strlen(old), nl = strlen(p);
            char *v = malloc(ol + nl + 2);
            FUZZ_ASSERT(v != NULL);
            memcpy(v, old, ol);
            v[ol] = '\n';
            memcpy(v + ol + 1, p, nl + 1);
            free(r->joined[i]);
            r->joined[i] = v;
            r->headers[i].value = v;
        } else if (r->n_headers < MAX_HEADERS) {
            char *colon = strchr(p, ':');
            if (!colon) return -1;
            *colon = '\0';
            r->headers[r->n_headers].name = p;
            r->headers[r->n_headers].value = colon + 1;
            r->n_headers++;
        }
        p = next;
    }
    r->body = p;
    r->body_len = (size_t)(end - p);
    return 0;
}

static void req_free(req_t *r)
{
    for (size_t i = 0; i < MAX_HEADERS; i++) free(r->joined[i]);
    free(r->text);
}

static int unreserved_or_escape(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("-._~/", c)) continue;
        if (c == '%' && i + 2 < n && strchr("0123456789ABCDEF", s[i + 1]) && strchr("0123456789ABCDEF", s[i + 2])) {
            i += 2;
            continue;
        }
        return 0;
    }
    return 1;
}

static void check_canonical(const req_t *r, const char *service)
{
    char *creq = NULL, *sh = NULL, err[256] = "";
    if (sigv4_canonical_request(r->method, r->target, r->headers, r->n_headers, SIGV4_UNSIGNED_PAYLOAD, service, &creq,
                                &sh, err, sizeof err) < 0) {
        FUZZ_ASSERT(creq == NULL && sh == NULL && err[0] != '\0');
        return;
    }
    /* METHOD \n URI \n QUERY \n HEADERS... \n \n SIGNED \n HASH */
    size_t ml = strlen(r->method);
    FUZZ_ASSERT(strncmp(creq, r->method, ml) == 0 && creq[ml] == '\n');
    const char *uri = creq + ml + 1, *uri_end = strchr(uri, '\n');
    FUZZ_ASSERT(uri_end && uri[0] == '/' && unreserved_or_escape(uri, (size_t)(uri_end - uri)));
    const char *tail = strrchr(creq, '\n');
    FUZZ_ASSERT(tail && strcmp(tail + 1, SIGV4_UNSIGNED_PAYLOAD) == 0);
    const char *prev = NULL;
    size_t prevlen = 0;
    for (const char *s = sh; *s;) {
        size_t n = strcspn(s, ";");
        FUZZ_ASSERT(n > 0);
        for (size_t i = 0; i < n; i++) FUZZ_ASSERT(!(s[i] >= 'A' && s[i] <= 'Z'));
        if (prev) {
            int c = memcmp(prev, s, prevlen < n ? prevlen : n);
            FUZZ_ASSERT(c < 0 || (c == 0 && prevlen < n));
        }
        prev = s;
        prevlen = n;
        s += n + (s[n] ? 1 : 0);
    }
    free(creq);
    free(sh);
}

static int lookup(void *ctx, const char *access_key, char *secret, size_t size)
{
    if (strcmp(access_key, "AKIDEXAMPLE") != 0) return -1;
    snprintf(secret, size, "%s", SECRET);
    return 0;
}

static void check_sign_verify(const req_t *r)
{
    sigv4_params_t p = {.access_key = "AKIDEXAMPLE",
                        .secret_key = SECRET,
                        .region = "us-east-1",
                        .service = "service",
                        .amz_date = DATE};
    sigv4_result_t out;
    char err[256] = "";
    if (sigv4_sign(&p, r->method, r->target, r->headers, r->n_headers, r->body, r->body_len, &out, err, sizeof err) <
        0) {
        FUZZ_ASSERT(err[0] != '\0' && out.authorization == NULL);
        return;
    }
    FUZZ_ASSERT(out.authorization && out.signature && strlen(out.signature) == 64);
    if (r->target[0] == '/' && strlen(out.signed_headers) <= SIGV4_VERIFY_MAX_SIGNED_HEADERS) {
        /* The request as sent: the caller's headers (an Authorization among them is replaced) and
         * the ones the signer adds. */
        sigv4_header_t sent[MAX_HEADERS + SIGV4_MAX_ADDED];
        size_t n = 0;
        for (size_t i = 0; i < r->n_headers; i++) {
            if (!sigv4_name_is(r->headers[i].name, "authorization", 13)) sent[n++] = r->headers[i];
        }
        for (size_t i = 0; i < out.n_headers; i++) sent[n++] = out.headers[i];
        sigv4_verify_opts_t o = {.lookup = lookup, .region = "us-east-1", .service = "service"};
        time_t now;
        FUZZ_ASSERT(sigv4_parse_date(DATE, &now) == 0);
        o.now = now;
        char reason[1024] = "";
        sigv4_status_t st = sigv4_verify(&o, r->method, r->target, sent, n, r->body, r->body_len, NULL, reason,
                                         sizeof reason);
        if (st != SIGV4_OK) fprintf(stderr, "signed, then refused: %s: %s\n", sigv4_status_str(st), reason);
        FUZZ_ASSERT(st == SIGV4_OK);
    }
    sigv4_result_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    log_set_level(LOG_OFF);
    req_t r;
    if (parse(data, size, &r) == 0) {
        check_canonical(&r, "service");
        check_canonical(&r, "s3");
        check_sign_verify(&r);
    }
    req_free(&r);
    return 0;
}
