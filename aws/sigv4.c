/* sigv4: AWS Signature Version 4 signing; see sigv4.h for the rules. The verifier is in
 * sigv4_verify.c.
 *
 * Layout: encoding helpers, then the canonical request (URI, query, headers), the string to
 * sign and the key derivation, then sigv4_sign. Signing and verifying share
 * sigv4_canonical_request (and the helpers of sigv4_int.h) so that a stand-in server recomputes
 * exactly what the client signed. */
#include "sigv4.h"
#include "sigv4_int.h"
#include "buf.h"
#include "mem.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CREQ_MAX ((size_t)4 << 20) /* bound on a canonical request (URI, query and headers) */
#define SCOPE_PART_MAX 63          /* region and service names */

void sigv4_seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- encoding ---- */

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~';
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static void hex_lower(const unsigned char *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

/* True if s[i] starts a "%XX" escape within s[0..n). */
static int is_escape(const char *s, size_t n, size_t i)
{
    return s[i] == '%' && i + 2 < n && hexval((unsigned char)s[i + 1]) >= 0 && hexval((unsigned char)s[i + 2]) >= 0;
}

/* Appends s[0..n) URI-encoded: unreserved bytes as they are, '/' kept if keep_slash, a valid
 * "%XX" escape kept (hex upper-cased) if keep_escapes, every other byte as %XX. */
static int uri_encode(buf_t *b, const char *s, size_t n, int keep_slash, int keep_escapes)
{
    static const char digits[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_unreserved(c) || (keep_slash && c == '/')) {
            if (buf_putc(b, (char)c) < 0) return -1;
            continue;
        }
        char esc[3] = {'%', digits[c >> 4], digits[c & 15]};
        if (keep_escapes && is_escape(s, n, i)) {
            esc[1] = digits[hexval((unsigned char)s[i + 1])];
            esc[2] = digits[hexval((unsigned char)s[i + 2])];
            i += 2;
        }
        if (buf_append(b, esc, 3) < 0) return -1;
    }
    return 0;
}

/* Percent-decodes s[0..n) into out (room for n bytes); a '%' that does not start a valid
 * escape is kept literally, '+' too. Returns the decoded length. */
static size_t pct_decode(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (is_escape(s, n, i)) {
            out[o++] = (char)(hexval((unsigned char)s[i + 1]) << 4 | hexval((unsigned char)s[i + 2]));
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    return o;
}

/* ---- canonical request ---- */

typedef struct {
    size_t off, len;
} span_t;

/* Canonical URI of path[0..n): see sigv4.h. */
static int canonical_uri(buf_t *b, const char *path, size_t n, int s3)
{
    if (n == 0) return buf_putc(b, '/');
    if (s3) {
        if (path[0] != '/' && buf_putc(b, '/') < 0) return -1;
        return uri_encode(b, path, n, 1, 1);
    }
    /* Remove empty, "." and ".." segments (RFC 3986 section 5.2.4, plus duplicate slashes). */
    span_t *segs = xmalloc((n + 1) * sizeof(*segs));
    size_t nseg = 0;
    int trailing = 0;
    for (size_t i = 0; i <= n;) {
        size_t j = i;
        while (j < n && path[j] != '/') j++;
        size_t len = j - i;
        int last = j >= n;
        if (len == 0 || (len == 1 && path[i] == '.')) {
            if (last) trailing = 1;
        } else if (len == 2 && path[i] == '.' && path[i + 1] == '.') {
            if (nseg) nseg--;
            if (last) trailing = 1;
        } else {
            segs[nseg++] = (span_t){i, len};
            if (last) trailing = 0;
        }
        i = j + 1;
    }
    int rc = buf_putc(b, '/');
    for (size_t k = 0; rc == 0 && k < nseg; k++) {
        if (k && buf_putc(b, '/') < 0) rc = -1;
        if (rc == 0) rc = uri_encode(b, path + segs[k].off, segs[k].len, 0, 0);
    }
    if (rc == 0 && trailing && nseg) rc = buf_putc(b, '/');
    free(segs);
    return rc;
}

typedef struct {
    char *key, *value; /* encoded */
} qparam_t;

static int qparam_cmp(const void *a, const void *b)
{
    const qparam_t *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(x->value, y->value);
}

/* Appends the decoded-then-encoded form of s[0..n) to b. */
static int reencode(buf_t *b, const char *s, size_t n)
{
    char *tmp = xmalloc(n + 1);
    size_t m = pct_decode(s, n, tmp);
    int rc = uri_encode(b, tmp, m, 0, 0);
    free(tmp);
    return rc;
}

/* Canonical query string of q[0..n) (without the '?'). */
static int canonical_query(buf_t *b, const char *q, size_t n)
{
    size_t cap = 1;
    for (size_t i = 0; i < n; i++) cap += q[i] == '&';
    qparam_t *ps = xcalloc(cap, sizeof(*ps));
    size_t np = 0;
    int rc = 0;
    buf_t tmp;
    buf_init(&tmp, CREQ_MAX);
    for (size_t i = 0; i <= n && rc == 0;) {
        size_t j = i;
        while (j < n && q[j] != '&') j++;
        if (j > i) {
            size_t eq = i;
            while (eq < j && q[eq] != '=') eq++;
            buf_reset(&tmp);
            rc = reencode(&tmp, q + i, eq - i);
            if (rc == 0) ps[np].key = xstrndup(tmp.data ? tmp.data : "", tmp.len);
            buf_reset(&tmp);
            if (rc == 0 && eq < j) rc = reencode(&tmp, q + eq + 1, j - eq - 1);
            if (rc == 0) ps[np++].value = xstrndup(tmp.data ? tmp.data : "", tmp.len);
        }
        i = j + 1;
    }
    buf_free(&tmp);
    if (rc == 0) qsort(ps, np, sizeof(*ps), qparam_cmp);
    for (size_t k = 0; rc == 0 && k < np; k++) rc = buf_printf(b, "%s%s=%s", k ? "&" : "", ps[k].key, ps[k].value);
    for (size_t k = 0; k < cap; k++) {
        free(ps[k].key);
        free(ps[k].value);
    }
    free(ps);
    return rc;
}

typedef struct {
    char *name;  /* lower-cased */
    char *value; /* trimmed, whitespace runs collapsed */
    size_t idx;  /* input order, for a stable sort */
} hent_t;

static int hent_cmp(const void *a, const void *b)
{
    const hent_t *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c) return c;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

char *sigv4_canon_value(const char *v)
{
    size_t n = v ? strlen(v) : 0;
    char *out = xmalloc(n + 1);
    size_t o = 0;
    int pending_space = 0;
    for (size_t i = 0; i < n; i++) {
        if (is_ws((unsigned char)v[i])) {
            pending_space = o > 0;
            continue;
        }
        if (pending_space) out[o++] = ' ';
        pending_space = 0;
        out[o++] = v[i];
    }
    out[o] = '\0';
    return out;
}

/* Trimmed, lower-cased copy of a header name, or NULL if it is not a valid token. */
static char *canon_name(const char *name)
{
    if (!name) return NULL;
    while (is_ws((unsigned char)*name)) name++;
    size_t n = strlen(name);
    while (n && is_ws((unsigned char)name[n - 1])) n--;
    if (n == 0) return NULL;
    char *out = xmalloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!is_tchar(c)) {
            free(out);
            return NULL;
        }
        out[i] = (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
    }
    out[n] = '\0';
    return out;
}

int sigv4_canonical_request(const char *method, const char *path_and_query, const sigv4_header_t *headers,
                            size_t n_headers, const char *payload_hash, const char *service, char **out_creq,
                            char **out_signed_headers, char *err, size_t errlen)
{
    *out_creq = NULL;
    if (out_signed_headers) *out_signed_headers = NULL;
    if (!method || !*method) {
        sigv4_seterr(err, errlen, "sigv4: empty HTTP method");
        return -1;
    }
    for (const char *m = method; *m; m++) {
        if (!is_tchar((unsigned char)*m)) {
            sigv4_seterr(err, errlen, "sigv4: HTTP method '%.32s' has an invalid character", method);
            return -1;
        }
    }
    if (!payload_hash || !*payload_hash) {
        sigv4_seterr(err, errlen, "sigv4: empty payload hash");
        return -1;
    }
    for (const char *h = payload_hash; *h; h++) {
        if ((unsigned char)*h <= ' ' || (unsigned char)*h >= 127) {
            sigv4_seterr(err, errlen, "sigv4: payload hash has whitespace or a non-ASCII byte");
            return -1;
        }
    }
    if (!path_and_query) path_and_query = "/";
    size_t plen = strcspn(path_and_query, "?#");
    const char *query = path_and_query + plen;
    size_t qlen = 0;
    if (*query == '?') {
        query++;
        qlen = strcspn(query, "#");
    }

    hent_t *hs = xcalloc(n_headers ? n_headers : 1, sizeof(*hs));
    int rc = 0;
    for (size_t i = 0; i < n_headers; i++) {
        hs[i].idx = i;
        hs[i].name = canon_name(headers[i].name);
        hs[i].value = sigv4_canon_value(headers[i].value);
        if (!hs[i].name && rc == 0) {
            sigv4_seterr(err, errlen, "sigv4: header %zu has an empty or invalid name", i + 1);
            rc = -1;
        }
    }
    buf_t b, sh;
    buf_init(&b, CREQ_MAX);
    buf_init(&sh, CREQ_MAX);
    if (rc == 0) {
        qsort(hs, n_headers, sizeof(*hs), hent_cmp);
        if (buf_printf(&b, "%s\n", method) < 0 ||
            canonical_uri(&b, path_and_query, plen, service && strcmp(service, "s3") == 0) < 0 ||
            buf_putc(&b, '\n') < 0 || canonical_query(&b, query, qlen) < 0 || buf_putc(&b, '\n') < 0)
            rc = -1;
        for (size_t i = 0; rc == 0 && i < n_headers; i++) {
            int first = i == 0 || strcmp(hs[i].name, hs[i - 1].name) != 0;
            if (first) {
                if ((i && buf_putc(&b, '\n') < 0) || buf_printf(&b, "%s:%s", hs[i].name, hs[i].value) < 0 ||
                    buf_printf(&sh, "%s%s", i ? ";" : "", hs[i].name) < 0)
                    rc = -1;
            } else if (buf_printf(&b, ",%s", hs[i].value) < 0) {
                rc = -1;
            }
        }
        if (rc == 0 && (buf_printf(&b, "%s\n%s\n%s", n_headers ? "\n" : "", sh.data ? sh.data : "", payload_hash) < 0))
            rc = -1;
        if (rc < 0) sigv4_seterr(err, errlen, "sigv4: canonical request exceeds %zu bytes", CREQ_MAX);
    }
    for (size_t i = 0; i < n_headers; i++) {
        free(hs[i].name);
        free(hs[i].value);
    }
    free(hs);
    if (rc < 0) {
        buf_free(&b);
        buf_free(&sh);
        return -1;
    }
    *out_creq = buf_take(&b);
    if (out_signed_headers) *out_signed_headers = buf_take(&sh);
    buf_free(&sh);
    return 0;
}

/* ---- string to sign, signature ---- */

void sigv4_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(data ? data : "", len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) {
        /* libcrypto cannot fail SHA-256 short of a broken install or OOM: treat as fatal. */
        fprintf(stderr, "sigv4: EVP_Digest(SHA-256) failed\n");
        abort();
    }
    hex_lower(md, 32, out);
}

void sigv4_format_date(time_t t, char out[17])
{
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) != 16) snprintf(out, 17, "19700101T000000Z");
}

int sigv4_parse_date(const char *s, time_t *out)
{
    if (!s || strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z') return -1;
    int v[6];
    static const int pos[6] = {0, 4, 6, 9, 11, 13}, len[6] = {4, 2, 2, 2, 2, 2};
    for (int k = 0; k < 6; k++) {
        v[k] = 0;
        for (int i = 0; i < len[k]; i++) {
            char c = s[pos[k] + i];
            if (c < '0' || c > '9') return -1;
            v[k] = v[k] * 10 + (c - '0');
        }
    }
    if (v[0] < 1970 || v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 || v[4] > 59 || v[5] > 60) return -1;
    struct tm tm = {0};
    tm.tm_year = v[0] - 1900;
    tm.tm_mon = v[1] - 1;
    tm.tm_mday = v[2];
    tm.tm_hour = v[3];
    tm.tm_min = v[4];
    tm.tm_sec = v[5];
    time_t t = timegm(&tm);
    if (t == (time_t)-1) return -1;
    struct tm back;
    if (!gmtime_r(&t, &back) || back.tm_mday != v[2]) return -1; /* e.g. February 30 */
    *out = t;
    return 0;
}

/* A region or service name: 1..63 bytes of [a-z0-9-_.], as the credential scope allows. */
static int scope_part_ok(const char *s)
{
    if (!s || !*s || strlen(s) > SCOPE_PART_MAX) return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')) return 0;
    }
    return 1;
}

int sigv4_string_to_sign(const char *amz_date, const char *region, const char *service, const char *canonical_request,
                         char **out, char *err, size_t errlen)
{
    *out = NULL;
    time_t t;
    if (sigv4_parse_date(amz_date, &t) < 0) {
        sigv4_seterr(err, errlen, "sigv4: date '%.40s' is not YYYYMMDDTHHMMSSZ", amz_date ? amz_date : "(null)");
        return -1;
    }
    if (!scope_part_ok(region)) {
        sigv4_seterr(err, errlen, "sigv4: region '%.70s' is not a valid region name", region ? region : "(null)");
        return -1;
    }
    if (!scope_part_ok(service)) {
        sigv4_seterr(err, errlen, "sigv4: service '%.70s' is not a valid service name", service ? service : "(null)");
        return -1;
    }
    char hash[65];
    sigv4_sha256_hex(canonical_request, strlen(canonical_request), hash);
    *out = xasprintf(SIGV4_ALGORITHM "\n%s\n%.8s/%s/%s/aws4_request\n%s", amz_date, amz_date, region, service, hash);
    return 0;
}

static int hmac(const void *key, size_t keylen, const char *msg, unsigned char out[32])
{
    unsigned int outlen = 0;
    if (!HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, strlen(msg), out, &outlen) || outlen != 32)
        return -1;
    return 0;
}

int sigv4_signature(const char *secret_key, const char *date8, const char *region, const char *service,
                    const char *string_to_sign, char out[65])
{
    out[0] = '\0';
    size_t slen = strlen(secret_key);
    if (slen > INT32_MAX - 8) return -1;
    char *k0 = xmalloc(slen + 5);
    memcpy(k0, "AWS4", 4);
    memcpy(k0 + 4, secret_key, slen + 1);
    char d8[9];
    snprintf(d8, sizeof(d8), "%.8s", date8);
    unsigned char k1[32], k2[32], k3[32], k4[32], sig[32];
    int rc = hmac(k0, slen + 4, d8, k1) < 0 || hmac(k1, 32, region, k2) < 0 || hmac(k2, 32, service, k3) < 0 ||
                     hmac(k3, 32, "aws4_request", k4) < 0 || hmac(k4, 32, string_to_sign, sig) < 0
                 ? -1
                 : 0;
    if (rc == 0) hex_lower(sig, 32, out);
    OPENSSL_cleanse(k0, slen + 4);
    OPENSSL_cleanse(k1, sizeof(k1));
    OPENSSL_cleanse(k2, sizeof(k2));
    OPENSSL_cleanse(k3, sizeof(k3));
    OPENSSL_cleanse(k4, sizeof(k4));
    free(k0);
    return rc;
}

/* ---- signing ---- */

void sigv4_result_free(sigv4_result_t *r)
{
    if (!r) return;
    free(r->authorization);
    free(r->signature);
    free(r->signed_headers);
    free(r->credential_scope);
    free(r->amz_date);
    free(r->payload_hash);
    if (r->canonical_request) {
        OPENSSL_cleanse(r->canonical_request, strlen(r->canonical_request));
        free(r->canonical_request);
    }
    free(r->string_to_sign);
    if (r->session_token_copy) {
        OPENSSL_cleanse(r->session_token_copy, strlen(r->session_token_copy));
        free(r->session_token_copy);
    }
    memset(r, 0, sizeof(*r));
}

/* True if header name h (surrounding blanks ignored) is name[0..nl), case-insensitively. */
int sigv4_name_is(const char *h, const char *name, size_t nl)
{
    if (!h) return 0;
    while (is_ws((unsigned char)*h)) h++;
    if (strncasecmp(h, name, nl) != 0) return 0;
    h += nl;
    while (is_ws((unsigned char)*h)) h++;
    return *h == '\0';
}

/* The index of the first header named `name`, or -1. */
long sigv4_find_header(const sigv4_header_t *h, size_t n, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < n; i++)
        if (sigv4_name_is(h[i].name, name, nl)) return (long)i;
    return -1;
}

/* Splits an absolute URL into a Host header value (default port dropped, as libcurl sends it)
 * and the path+query. Returns 1 for an absolute URL, 0 for a path, -1 if malformed. */
static int split_url(const char *url, char **host, const char **pq)
{
    *host = NULL;
    *pq = url;
    const char *sep = strstr(url, "://");
    if (!sep || sep == url) return 0;
    for (const char *c = url; c < sep; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '+' ||
              *c == '-' || *c == '.'))
            return 0; /* "://" inside a path or query: not a scheme */
    }
    const char *auth = sep + 3;
    size_t alen = strcspn(auth, "/?#");
    *pq = auth + alen;
    const char *at = memrchr(auth, '@', alen);
    if (at) {
        alen -= (size_t)(at + 1 - auth);
        auth = at + 1;
    }
    if (alen == 0) return -1;
    /* Port: after the last ':' unless that ':' is inside an IPv6 literal. */
    const char *colon = memrchr(auth, ':', alen);
    const char *bracket = memrchr(auth, ']', alen);
    size_t hlen = alen;
    if (colon && (!bracket || colon > bracket)) {
        const char *port = colon + 1;
        size_t portlen = alen - (size_t)(port - auth);
        size_t schemelen = (size_t)(sep - url);
        int is_default = portlen == 0 ||
                         (schemelen == 5 && strncasecmp(url, "https", 5) == 0 && portlen == 3 &&
                          memcmp(port, "443", 3) == 0) ||
                         (schemelen == 4 && strncasecmp(url, "http", 4) == 0 && portlen == 2 &&
                          memcmp(port, "80", 2) == 0);
        if (is_default) hlen = (size_t)(colon - auth);
    }
    if (hlen == 0) return -1;
    *host = xstrndup(auth, hlen);
    return 1;
}

int sigv4_sign(const sigv4_params_t *p, const char *method, const char *url_or_path_and_query,
               const sigv4_header_t *headers, size_t n_headers, const void *body, size_t body_len, sigv4_result_t *out,
               char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (!p->access_key || !*p->access_key || strpbrk(p->access_key, "/, \t\r\n=")) {
        sigv4_seterr(err, errlen, "sigv4: access key is empty or has '/', ',', '=' or whitespace");
        return -1;
    }
    if (!p->secret_key || !*p->secret_key) {
        sigv4_seterr(err, errlen, "sigv4: secret key is empty");
        return -1;
    }
    if (!scope_part_ok(p->region)) {
        sigv4_seterr(err, errlen, "sigv4: region '%.70s' is not a valid region name", p->region ? p->region : "(null)");
        return -1;
    }
    if (!scope_part_ok(p->service)) {
        sigv4_seterr(err, errlen, "sigv4: service '%.70s' is not a valid service name",
                     p->service ? p->service : "(null)");
        return -1;
    }
    if (!url_or_path_and_query) url_or_path_and_query = "/";
    const char *token = p->session_token && *p->session_token ? p->session_token : NULL;
    if (token && strpbrk(token, "\r\n")) {
        sigv4_seterr(err, errlen, "sigv4: session token contains a line break");
        return -1;
    }

    char *url_host = NULL;
    const char *pq = NULL;
    if (split_url(url_or_path_and_query, &url_host, &pq) < 0) {
        sigv4_seterr(err, errlen, "sigv4: URL '%.200s' has no host", url_or_path_and_query);
        return -1;
    }
    long i_host = sigv4_find_header(headers, n_headers, "host");
    long i_date = sigv4_find_header(headers, n_headers, "x-amz-date");
    long i_token = sigv4_find_header(headers, n_headers, "x-amz-security-token");
    long i_sha = sigv4_find_header(headers, n_headers, "x-amz-content-sha256");

    char date[17] = "";
    char *given = NULL;
    int rc = 0;
    if (i_date >= 0) given = sigv4_canon_value(headers[i_date].value);
    if (p->amz_date) {
        time_t t;
        if (sigv4_parse_date(p->amz_date, &t) < 0) {
            sigv4_seterr(err, errlen, "sigv4: amz_date '%.40s' is not YYYYMMDDTHHMMSSZ", p->amz_date);
            rc = -1;
        } else if (given && strcmp(given, p->amz_date) != 0) {
            sigv4_seterr(err, errlen, "sigv4: X-Amz-Date header '%.40s' differs from amz_date '%s'", given,
                         p->amz_date);
            rc = -1;
        } else {
            snprintf(date, sizeof(date), "%s", p->amz_date);
        }
    } else if (given) {
        time_t t;
        if (sigv4_parse_date(given, &t) < 0) {
            sigv4_seterr(err, errlen, "sigv4: X-Amz-Date header '%.40s' is not YYYYMMDDTHHMMSSZ", given);
            rc = -1;
        } else {
            snprintf(date, sizeof(date), "%s", given);
        }
    } else {
        sigv4_format_date(time(NULL), date);
    }
    free(given);

    if (rc == 0 && i_token >= 0) {
        char *tv = sigv4_canon_value(headers[i_token].value);
        if (token && strcmp(tv, token) != 0) {
            sigv4_seterr(err, errlen,
                         "sigv4: the X-Amz-Security-Token header differs from the "
                         "session token");
            rc = -1;
        } else if (p->token_unsigned) {
            sigv4_seterr(err, errlen,
                         "sigv4: token_unsigned is set but the request headers already "
                         "carry X-Amz-Security-Token, which would be signed");
            rc = -1;
        }
        OPENSSL_cleanse(tv, strlen(tv));
        free(tv);
    }

    char payload[65];
    if (rc == 0) {
        if (p->payload_hash) {
            if (strcmp(p->payload_hash, SIGV4_UNSIGNED_PAYLOAD) != 0 &&
                !(strlen(p->payload_hash) == 64 && is_lower_hex64(p->payload_hash))) {
                sigv4_seterr(err, errlen,
                             "sigv4: payload_hash must be 64 lower-case hex digits or " SIGV4_UNSIGNED_PAYLOAD);
                rc = -1;
            } else {
                snprintf(payload, sizeof(payload), "%s", p->payload_hash);
            }
        } else {
            sigv4_sha256_hex(body, body ? body_len : 0, payload);
        }
    }
    if (rc == 0 && i_sha >= 0) {
        char *sv = sigv4_canon_value(headers[i_sha].value);
        if (strcmp(sv, payload) != 0) {
            sigv4_seterr(err, errlen,
                         "sigv4: X-Amz-Content-Sha256 header '%.70s' does not match the "
                         "payload hash %s",
                         sv, payload);
            rc = -1;
        }
        free(sv);
    }
    if (rc == 0 && i_host < 0 && !url_host) {
        sigv4_seterr(err, errlen, "sigv4: no Host header and '%.200s' is not an absolute URL", url_or_path_and_query);
        rc = -1;
    }
    if (rc < 0) {
        free(url_host);
        return -1;
    }

    /* The signed set: the caller's headers (but Authorization) plus what we add. */
    sigv4_header_t *all = xcalloc(n_headers + 4, sizeof(*all));
    size_t n = 0;
    for (size_t i = 0; i < n_headers; i++)
        if (!sigv4_name_is(headers[i].name, "authorization", 13)) all[n++] = headers[i];
    if (i_host < 0) all[n++] = (sigv4_header_t){"host", url_host};
    if (i_date < 0) all[n++] = (sigv4_header_t){"x-amz-date", date};
    if (token && i_token < 0 && !p->token_unsigned) all[n++] = (sigv4_header_t){"x-amz-security-token", token};
    if (p->add_content_sha256 && i_sha < 0) all[n++] = (sigv4_header_t){"x-amz-content-sha256", payload};

    char *creq = NULL, *sh = NULL, *sts = NULL;
    char sig[65];
    rc = sigv4_canonical_request(method, pq, all, n, payload, p->service, &creq, &sh, err, errlen);
    free(all);
    free(url_host);
    if (rc == 0) rc = sigv4_string_to_sign(date, p->region, p->service, creq, &sts, err, errlen);
    if (rc == 0 && sigv4_signature(p->secret_key, date, p->region, p->service, sts, sig) < 0) {
        sigv4_seterr(err, errlen, "sigv4: HMAC-SHA256 failed in libcrypto");
        rc = -1;
    }
    if (rc < 0) {
        free(creq);
        free(sh);
        free(sts);
        return -1;
    }
    out->canonical_request = creq;
    out->string_to_sign = sts;
    out->signed_headers = sh;
    out->signature = xstrdup(sig);
    out->amz_date = xstrdup(date);
    out->payload_hash = xstrdup(payload);
    out->credential_scope = xasprintf("%.8s/%s/%s/aws4_request", date, p->region, p->service);
    out->authorization = xasprintf(SIGV4_ALGORITHM " Credential=%s/%s, SignedHeaders=%s, "
                                                   "Signature=%s",
                                   p->access_key, out->credential_scope, sh, sig);
    if (i_date < 0) out->headers[out->n_headers++] = (sigv4_header_t){"X-Amz-Date", out->amz_date};
    if (token && i_token < 0) {
        out->session_token_copy = xstrdup(token);
        out->headers[out->n_headers++] = (sigv4_header_t){"X-Amz-Security-Token", out->session_token_copy};
    }
    if (p->add_content_sha256 && i_sha < 0)
        out->headers[out->n_headers++] = (sigv4_header_t){"X-Amz-Content-Sha256", out->payload_hash};
    out->headers[out->n_headers++] = (sigv4_header_t){"Authorization", out->authorization};
    return 0;
}
