/* sigv4_verify: checking a received request's SigV4 signature, for stand-in servers and tests
 * (the "verification" section of sigv4.h). It parses the Authorization header, checks the
 * credential scope, the signed headers, the clock skew and the payload hash, then recomputes
 * the signature with sigv4_canonical_request, sigv4_string_to_sign and sigv4_signature (the
 * signer's own steps, in sigv4.c) and compares in constant time. */
#include "sigv4_verify.h"
#include "sigv4_int.h"
#include "mem.h"

#include <openssl/crypto.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *sigv4_status_str(sigv4_status_t s)
{
    switch (s) {
    case SIGV4_OK: return "ok";
    case SIGV4_ERR_MISSING: return "missing authorization";
    case SIGV4_ERR_MALFORMED: return "malformed authorization";
    case SIGV4_ERR_UNKNOWN_KEY: return "unknown access key";
    case SIGV4_ERR_SCOPE: return "wrong credential scope";
    case SIGV4_ERR_SIGNED_HEADERS: return "bad signed headers";
    case SIGV4_ERR_SKEW: return "request time too skewed";
    case SIGV4_ERR_PAYLOAD: return "payload hash mismatch";
    case SIGV4_ERR_SIGNATURE: return "signature mismatch";
    }
    return "unknown status";
}

const char *sigv4_status_aws_code(sigv4_status_t s)
{
    switch (s) {
    case SIGV4_OK: return NULL;
    case SIGV4_ERR_MISSING: return "MissingAuthenticationTokenException";
    case SIGV4_ERR_MALFORMED: return "IncompleteSignatureException";
    case SIGV4_ERR_UNKNOWN_KEY: return "UnrecognizedClientException";
    case SIGV4_ERR_SCOPE:
    case SIGV4_ERR_SIGNED_HEADERS:
    case SIGV4_ERR_SKEW:
    case SIGV4_ERR_PAYLOAD:
    case SIGV4_ERR_SIGNATURE: return "InvalidSignatureException";
    }
    return "InvalidSignatureException";
}

/* Copies s[0..n) into dst; -1 if empty or it does not fit. */
static int copy_field(char *dst, size_t size, const char *s, size_t n)
{
    if (n == 0 || n >= size) return -1;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

/* Checks "a;b;c": lower-case header tokens, sorted and unique. */
static int signed_headers_ok(const char *sh)
{
    const char *prev = NULL;
    size_t prevlen = 0;
    for (const char *s = sh;;) {
        size_t n = strcspn(s, ";");
        if (n == 0) return 0;
        for (size_t i = 0; i < n; i++)
            if (!is_tchar((unsigned char)s[i]) || (s[i] >= 'A' && s[i] <= 'Z')) return 0;
        if (prev) {
            size_t m = prevlen < n ? prevlen : n;
            int c = memcmp(prev, s, m);
            if (c > 0 || (c == 0 && prevlen >= n)) return 0;
        }
        prev = s;
        prevlen = n;
        if (!s[n]) return 1;
        s += n + 1;
    }
}

static int list_has(const char *sh, const char *name)
{
    size_t nl = strlen(name);
    for (const char *s = sh;;) {
        size_t n = strcspn(s, ";");
        if (n == nl && memcmp(s, name, n) == 0) return 1;
        if (!s[n]) return 0;
        s += n + 1;
    }
}

int sigv4_parse_authorization(const char *value, sigv4_auth_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    const char *s = value ? value : "";
    while (is_ws((unsigned char)*s)) s++;
    size_t alg = strlen(SIGV4_ALGORITHM);
    if (strncmp(s, SIGV4_ALGORITHM, alg) != 0 || !is_ws((unsigned char)s[alg])) {
        sigv4_seterr(err, errlen, "Authorization does not start with '" SIGV4_ALGORITHM " '");
        return -1;
    }
    s += alg;
    int have_cred = 0, have_sh = 0, have_sig = 0;
    for (;;) {
        while (is_ws((unsigned char)*s) || *s == ',') s++;
        if (!*s) break;
        size_t klen = strcspn(s, "=, \t");
        if (s[klen] != '=') {
            sigv4_seterr(err, errlen, "Authorization component '%.*s' has no '='", (int)(klen > 40 ? 40 : klen), s);
            return -1;
        }
        const char *v = s + klen + 1;
        size_t vlen = strcspn(v, ", \t\r\n");
        if (klen == 10 && strncmp(s, "Credential", 10) == 0 && !have_cred) {
            /* AK/YYYYMMDD/region/service/aws4_request */
            const char *part[5];
            size_t plen[5], np = 0;
            for (const char *c = v; np < 5;) {
                const char *slash = memchr(c, '/', (size_t)(v + vlen - c));
                part[np] = c;
                plen[np++] = slash ? (size_t)(slash - c) : (size_t)(v + vlen - c);
                if (!slash) break;
                c = slash + 1;
            }
            if (np != 5 || memchr(part[4], '/', plen[4])) {
                sigv4_seterr(err, errlen,
                             "Credential must be ACCESS_KEY/YYYYMMDD/REGION/SERVICE/"
                             "aws4_request");
                return -1;
            }
            if (copy_field(out->access_key, sizeof(out->access_key), part[0], plen[0]) < 0 ||
                copy_field(out->date8, sizeof(out->date8), part[1], plen[1]) < 0 ||
                copy_field(out->region, sizeof(out->region), part[2], plen[2]) < 0 ||
                copy_field(out->service, sizeof(out->service), part[3], plen[3]) < 0) {
                sigv4_seterr(err, errlen, "Credential has an empty or over-long part");
                return -1;
            }
            if (plen[1] != 8 || strspn(out->date8, "0123456789") != 8) {
                sigv4_seterr(err, errlen, "Credential date '%s' is not YYYYMMDD", out->date8);
                return -1;
            }
            if (plen[4] != 12 || memcmp(part[4], "aws4_request", 12) != 0) {
                sigv4_seterr(err, errlen, "Credential scope does not end in '/aws4_request'");
                return -1;
            }
            have_cred = 1;
        } else if (klen == 13 && strncmp(s, "SignedHeaders", 13) == 0 && !have_sh) {
            if (vlen > SIGV4_VERIFY_MAX_SIGNED_HEADERS) {
                sigv4_seterr(err, errlen, "SignedHeaders of %zu bytes is longer than the %d bytes this verifier reads",
                             vlen, SIGV4_VERIFY_MAX_SIGNED_HEADERS);
                return -1;
            }
            if (copy_field(out->signed_headers, sizeof(out->signed_headers), v, vlen) < 0 ||
                !signed_headers_ok(out->signed_headers)) {
                sigv4_seterr(err, errlen,
                             "SignedHeaders must be lower-case header names, sorted, "
                             "unique, separated by ';'");
                return -1;
            }
            have_sh = 1;
        } else if (klen == 9 && strncmp(s, "Signature", 9) == 0 && !have_sig) {
            if (copy_field(out->signature, sizeof(out->signature), v, vlen) < 0 || !is_lower_hex64(out->signature)) {
                sigv4_seterr(err, errlen, "Signature must be 64 lower-case hex digits");
                return -1;
            }
            have_sig = 1;
        } else {
            sigv4_seterr(err, errlen, "Authorization has an unknown or repeated component '%.*s'",
                         (int)(klen > 40 ? 40 : klen), s);
            return -1;
        }
        s = v + vlen;
    }
    if (!have_cred || !have_sh || !have_sig) {
        sigv4_seterr(err, errlen, "Authorization lacks %s",
                     !have_cred ? "Credential"
                     : !have_sh ? "SignedHeaders"
                                : "Signature");
        return -1;
    }
    return 0;
}

sigv4_status_t sigv4_verify(const sigv4_verify_opts_t *o, const char *method, const char *path_and_query,
                            const sigv4_header_t *headers, size_t n_headers, const void *body, size_t body_len,
                            sigv4_auth_t *auth, char *reason, size_t reasonlen)
{
    sigv4_auth_t local;
    sigv4_auth_t *a = auth ? auth : &local;
    memset(a, 0, sizeof(*a));
    sigv4_seterr(reason, reasonlen, "ok");
    long ia = sigv4_find_header(headers, n_headers, "authorization");
    if (ia < 0) {
        sigv4_seterr(reason, reasonlen, "the request has no Authorization header");
        return SIGV4_ERR_MISSING;
    }
    if (sigv4_find_header(headers + ia + 1, n_headers - (size_t)ia - 1, "authorization") >= 0) {
        sigv4_seterr(reason, reasonlen, "the request has more than one Authorization header");
        return SIGV4_ERR_MALFORMED;
    }
    char perr[160];
    if (sigv4_parse_authorization(headers[ia].value, a, perr, sizeof(perr)) < 0) {
        sigv4_seterr(reason, reasonlen, "%s", perr);
        return SIGV4_ERR_MALFORMED;
    }
    if (o->region && strcmp(a->region, o->region) != 0) {
        sigv4_seterr(reason, reasonlen, "credential scope region '%s' should be '%s'", a->region, o->region);
        return SIGV4_ERR_SCOPE;
    }
    if (o->service && strcmp(a->service, o->service) != 0) {
        sigv4_seterr(reason, reasonlen, "credential scope service '%s' should be '%s'", a->service, o->service);
        return SIGV4_ERR_SCOPE;
    }
    if (!list_has(a->signed_headers, "host")) {
        sigv4_seterr(reason, reasonlen, "SignedHeaders '%s' does not include host", a->signed_headers);
        return SIGV4_ERR_SIGNED_HEADERS;
    }
    long id = sigv4_find_header(headers, n_headers, "x-amz-date");
    if (id < 0) {
        sigv4_seterr(reason, reasonlen, "the request has no X-Amz-Date header");
        return SIGV4_ERR_MALFORMED;
    }
    if (!list_has(a->signed_headers, "x-amz-date")) {
        sigv4_seterr(reason, reasonlen, "SignedHeaders '%s' does not include x-amz-date", a->signed_headers);
        return SIGV4_ERR_SIGNED_HEADERS;
    }
    char *date = sigv4_canon_value(headers[id].value);
    sigv4_status_t st = SIGV4_OK;
    time_t t = 0;
    if (sigv4_parse_date(date, &t) < 0) {
        sigv4_seterr(reason, reasonlen, "X-Amz-Date '%.40s' is not YYYYMMDDTHHMMSSZ", date);
        st = SIGV4_ERR_MALFORMED;
    } else if (strncmp(date, a->date8, 8) != 0) {
        sigv4_seterr(reason, reasonlen, "credential scope date %s does not match X-Amz-Date %s", a->date8, date);
        st = SIGV4_ERR_SCOPE;
    } else {
        time_t now = o->now ? o->now : time(NULL);
        long long skew = (long long)now - (long long)t;
        long long max = o->max_skew_seconds > 0 ? o->max_skew_seconds : SIGV4_MAX_SKEW_SECONDS;
        if (skew > max || skew < -max) {
            char nowstr[17];
            sigv4_format_date(now, nowstr);
            sigv4_seterr(reason, reasonlen,
                         "X-Amz-Date %s is %lld s %s the server time %s (at most "
                         "%lld s allowed)",
                         date, skew < 0 ? -skew : skew, skew < 0 ? "ahead of" : "behind", nowstr, max);
            st = SIGV4_ERR_SKEW;
        }
    }
    if (st != SIGV4_OK) {
        free(date);
        return st;
    }

    /* The signed headers, every occurrence, in the order received. */
    sigv4_header_t *sel = xcalloc(n_headers ? n_headers : 1, sizeof(*sel));
    size_t nsel = 0;
    for (const char *s = a->signed_headers; st == SIGV4_OK;) {
        size_t n = strcspn(s, ";"), before = nsel;
        for (size_t i = 0; i < n_headers; i++)
            if (sigv4_name_is(headers[i].name, s, n)) sel[nsel++] = headers[i];
        if (nsel == before) {
            sigv4_seterr(reason, reasonlen, "signed header '%.*s' is not in the request", (int)(n > 100 ? 100 : n), s);
            st = SIGV4_ERR_SIGNED_HEADERS;
        }
        if (!s[n]) break;
        s += n + 1;
    }

    char payload[65];
    if (st == SIGV4_OK) {
        char bodyhash[65];
        sigv4_sha256_hex(body, body ? body_len : 0, bodyhash);
        long is = sigv4_find_header(headers, n_headers, "x-amz-content-sha256");
        if (is < 0) {
            memcpy(payload, bodyhash, sizeof(payload));
        } else {
            char *v = sigv4_canon_value(headers[is].value);
            if (strcmp(v, SIGV4_UNSIGNED_PAYLOAD) == 0) {
                snprintf(payload, sizeof(payload), "%s", v);
            } else if (strlen(v) == 64 && is_lower_hex64(v)) {
                memcpy(payload, v, sizeof(payload));
                if (strcmp(v, bodyhash) != 0) {
                    sigv4_seterr(reason, reasonlen,
                                 "X-Amz-Content-Sha256 %s does not match the body's "
                                 "SHA-256 %s",
                                 v, bodyhash);
                    st = SIGV4_ERR_PAYLOAD;
                }
            } else {
                sigv4_seterr(reason, reasonlen,
                             "X-Amz-Content-Sha256 '%.70s' is neither a SHA-256 "
                             "nor " SIGV4_UNSIGNED_PAYLOAD,
                             v);
                st = SIGV4_ERR_MALFORMED;
            }
            free(v);
        }
    }

    char secret[512];
    secret[0] = '\0';
    if (st == SIGV4_OK) {
        if (!o->lookup || o->lookup(o->lookup_ctx, a->access_key, secret, sizeof(secret)) < 0) {
            sigv4_seterr(reason, reasonlen, "access key '%s' is not known", a->access_key);
            st = SIGV4_ERR_UNKNOWN_KEY;
        }
        secret[sizeof(secret) - 1] = '\0';
    }
    char *creq = NULL, *sts = NULL;
    if (st == SIGV4_OK) {
        char cerr[200];
        char sig[65];
        if (sigv4_canonical_request(method, path_and_query, sel, nsel, payload, a->service, &creq, NULL, cerr,
                                    sizeof(cerr)) < 0 ||
            sigv4_string_to_sign(date, a->region, a->service, creq, &sts, cerr, sizeof(cerr)) < 0) {
            sigv4_seterr(reason, reasonlen, "%s", cerr);
            st = SIGV4_ERR_MALFORMED;
        } else if (sigv4_signature(secret, a->date8, a->region, a->service, sts, sig) < 0) {
            sigv4_seterr(reason, reasonlen, "HMAC-SHA256 failed in libcrypto");
            st = SIGV4_ERR_SIGNATURE;
        } else if (CRYPTO_memcmp(sig, a->signature, 64) != 0) {
            sigv4_seterr(reason, reasonlen,
                         "the signature does not match; the string to sign "
                         "computed here was:\n%s",
                         sts);
            st = SIGV4_ERR_SIGNATURE;
        }
    }
    OPENSSL_cleanse(secret, sizeof(secret));
    if (creq) OPENSSL_cleanse(creq, strlen(creq));
    free(creq);
    free(sts);
    free(sel);
    free(date);
    return st;
}
