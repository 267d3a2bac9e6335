/* test_sigv4: the AWS SigV4 test suite (every case, from $LLMAJ_TESTDATA/aws-sigv4-testsuite),
 * then the signer's own rules (URLs, S3 paths, dates, tokens, payload hashes) and the verifier. */
#include "sigv4.h"
#include "sigv4_verify.h"
#include "buf.h"
#include "mem.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"

/* The suite's fixed inputs (tests/data/README.md). */
#define AK "AKIDEXAMPLE"
#define SK "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define REGION "us-east-1"
#define SERVICE "service"
#define DATE "20150830T123600Z"
#define SUITE_CASES 34 /* .req files in the suite, nested folders included */

/* Reads a whole file with '\r' removed; NULL if it cannot be read. Caller frees. */
static char *read_text(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    buf_t b;
    buf_init(&b, 0);
    char chunk[4096];
    size_t n;
    int ok = 1;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        for (size_t i = 0; i < n && ok; i++)
            if (chunk[i] != '\r' && buf_putc(&b, chunk[i]) < 0) ok = 0;
    fclose(f);
    if (len_out) *len_out = b.len;
    char *s = buf_take(&b);
    buf_free(&b);
    return s;
}

typedef struct {
    char *method, *target;
    sigv4_header_t h[32];
    size_t nh;
    char *body;
    size_t body_len;
    char *storage; /* the .req text, cut in place */
} req_t;

/* Parses a raw request: "METHOD TARGET HTTP/1.1" (the target may hold spaces), headers (a line
 * starting with a blank continues the previous value: kept with its '\n' for the signer to
 * fold), a blank line, the body. */
static char *eol_of(char *p, char *end)
{
    char *e = memchr(p, '\n', (size_t)(end - p));
    return e ? e : end;
}

static int parse_req(char *text, size_t len, req_t *r)
{
    memset(r, 0, sizeof(*r));
    r->storage = text;
    char *end = text + len; /* *end == '\0' */
    char *eol = eol_of(text, end);
    *eol = '\0';
    char *sp1 = strchr(text, ' '), *sp2 = strrchr(text, ' ');
    if (!sp1 || sp2 == sp1) return -1;
    *sp1 = '\0';
    *sp2 = '\0';
    r->method = text;
    r->target = sp1 + 1;
    r->body = end;
    for (char *line = eol < end ? eol + 1 : end; line < end;) {
        eol = eol_of(line, end);
        if (eol == line) { /* blank line: the body follows */
            r->body = line + 1;
            break;
        }
        if (*line == ' ' || *line == '\t' || r->nh == 32) return -1;
        char *colon = memchr(line, ':', (size_t)(eol - line));
        if (!colon) return -1;
        char *hend = eol; /* the header goes on over continuation lines */
        while (hend + 1 < end && (hend[1] == ' ' || hend[1] == '\t')) hend = eol_of(hend + 1, end);
        char *next = hend < end ? hend + 1 : end;
        *hend = '\0';
        *colon = '\0';
        r->h[r->nh].name = line;
        r->h[r->nh].value = colon + 1;
        r->nh++;
        line = next;
    }
    r->body_len = (size_t)(end - r->body);
    return 0;
}

static int secret_lookup(void *ctx, const char *ak, char *secret, size_t size)
{
    (void)ctx;
    if (strcmp(ak, AK) != 0) return -1;
    snprintf(secret, size, "%s", SK);
    return 0;
}

/* The token from the "x-amz-security-token:" line of a canonical request, or NULL. */
static char *creq_token(const char *creq)
{
    const char *k = "\nx-amz-security-token:";
    const char *p = strstr(creq, k);
    if (!p) return NULL;
    p += strlen(k);
    return xstrndup(p, strcspn(p, "\n"));
}

static int cases_passed;

static void run_case(const char *dir, const char *name)
{
    char *path[4];
    static const char *ext[4] = {"req", "creq", "sts", "authz"};
    char *txt[4];
    size_t len[4];
    for (int i = 0; i < 4; i++) {
        path[i] = xasprintf("%s/%s.%s", dir, name, ext[i]);
        txt[i] = read_text(path[i], &len[i]);
        if (!txt[i]) fprintf(stderr, "%s: cannot read: %s\n", path[i], strerror(errno));
        CHECK(txt[i] != NULL);
    }
    int before = failures;
    req_t r;
    if (txt[0] && txt[1] && txt[2] && txt[3]) {
        int pr = parse_req(txt[0], len[0], &r);
        CHECK(pr == 0);
        char *token = creq_token(txt[1]);
        sigv4_params_t p = {.access_key = AK,
                            .secret_key = SK,
                            .session_token = token,
                            .region = REGION,
                            .service = SERVICE,
                            .amz_date = DATE};
        sigv4_result_t res;
        char err[256];
        int rc = pr == 0 ? sigv4_sign(&p, r.method, r.target, r.h, r.nh, r.body, r.body_len, &res, err, sizeof(err))
                         : -1;
        if (rc < 0) fprintf(stderr, "%s: sign failed: %s\n", name, err);
        CHECK(rc == 0);
        if (rc == 0) {
            CHECK_STR(res.canonical_request, txt[1]);
            CHECK_STR(res.string_to_sign, txt[2]);
            CHECK_STR(res.authorization, txt[3]);
            /* Round trip: the request as sent, checked by the verifier. */
            sigv4_header_t all[40];
            size_t n = 0;
            for (size_t i = 0; i < r.nh; i++) all[n++] = r.h[i];
            for (size_t i = 0; i < res.n_headers; i++) all[n++] = res.headers[i];
            time_t now;
            CHECK(sigv4_parse_date(DATE, &now) == 0);
            sigv4_verify_opts_t vo = {.lookup = secret_lookup, .region = REGION, .service = SERVICE, .now = now + 60};
            char reason[1024];
            sigv4_auth_t auth;
            sigv4_status_t st = sigv4_verify(&vo, r.method, r.target, all, n, r.body, r.body_len, &auth, reason,
                                             sizeof(reason));
            if (st != SIGV4_OK) fprintf(stderr, "%s: verify: %s\n", name, reason);
            CHECK(st == SIGV4_OK);
            CHECK_STR(auth.access_key, AK);
            if (strcmp(name, "get-vanilla") == 0)
                CHECK_STR(res.signature, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
            sigv4_result_free(&res);
        }
        /* post-sts-header-after: the token goes on after signing, outside the signature. */
        if (pr == 0 && strcmp(name, "post-sts-header-after") == 0) {
            p.session_token = "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZ"
                              "TwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/"
                              "qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQD"
                              "YwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT3"
                              "8xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KS"
                              "YvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";
            p.token_unsigned = 1;
            rc = sigv4_sign(&p, r.method, r.target, r.h, r.nh, r.body, r.body_len, &res, err, sizeof(err));
            CHECK(rc == 0);
            if (rc == 0) {
                CHECK_STR(res.authorization, txt[3]);
                CHECK(res.n_headers == 2);
                CHECK_STR(res.headers[0].name, "X-Amz-Security-Token");
                CHECK_STR(res.headers[0].value, p.session_token);
                char *sreq_path = xasprintf("%s/%s.sreq", dir, name);
                char *sreq = read_text(sreq_path, NULL);
                char *line = xasprintf("\nX-Amz-Security-Token:%s\n", p.session_token);
                CHECK(sreq && strstr(sreq, line));
                free(line);
                free(sreq);
                free(sreq_path);
                sigv4_result_free(&res);
            }
        }
        free(token);
    }
    if (failures == before) cases_passed++;
    else fprintf(stderr, "case %s failed\n", name);
    for (int i = 0; i < 4; i++) {
        free(path[i]);
        free(txt[i]);
    }
}

/* Runs every case under dir (recursively); returns the number of .req files found. */
static int walk(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "%s: %s\n", dir, strerror(errno));
        return 0;
    }
    int found = 0;
    struct dirent *e;
    char **names = NULL;
    size_t nn = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        names = xrealloc(names, (nn + 1) * sizeof(*names));
        names[nn++] = xstrdup(e->d_name);
    }
    closedir(d);
    for (size_t i = 0; i < nn; i++) {
        char *full = xasprintf("%s/%s", dir, names[i]);
        struct stat st;
        size_t l = strlen(names[i]);
        if (stat(full, &st) == 0 && S_ISDIR(st.st_mode)) {
            found += walk(full);
        } else if (l > 4 && strcmp(names[i] + l - 4, ".req") == 0) {
            names[i][l - 4] = '\0';
            run_case(dir, names[i]);
            found++;
        }
        free(full);
        free(names[i]);
    }
    free(names);
    return found;
}

static void test_suite(void)
{
    const char *data = getenv("LLMAJ_TESTDATA");
    CHECK(data != NULL);
    if (!data) {
        fprintf(stderr, "LLMAJ_TESTDATA is not set: run through ctest\n");
        return;
    }
    char *dir = xasprintf("%s/aws-sigv4-testsuite", data);
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) fprintf(stderr, "%s: the SigV4 test suite is missing\n", dir);
    int found = walk(dir);
    if (found < SUITE_CASES) fprintf(stderr, "%s: found %d cases, expected %d\n", dir, found, SUITE_CASES);
    CHECK(found >= SUITE_CASES);
    CHECK(cases_passed == found);
    printf("test_sigv4: %d of %d suite cases passed\n", cases_passed, found);
    free(dir);
}

/* ---- the signer's own rules ---- */

static sigv4_params_t base_params(void)
{
    return (sigv4_params_t){.access_key = AK, .secret_key = SK, .region = REGION, .service = SERVICE, .amz_date = DATE};
}

static char *creq_of(const char *service, const char *target)
{
    sigv4_header_t h[] = {{"Host", "example.amazonaws.com"}};
    char *creq = NULL, err[200];
    if (sigv4_canonical_request("GET", target, h, 1, SIGV4_UNSIGNED_PAYLOAD, service, &creq, NULL, err, sizeof(err)) <
        0) {
        fprintf(stderr, "canonical_request(%s): %s\n", target, err);
        return NULL;
    }
    /* Keep the URI and query lines only. */
    char *nl1 = strchr(creq, '\n');
    char *nl3 = strchr(strchr(nl1 + 1, '\n') + 1, '\n');
    char *out = xstrndup(nl1 + 1, (size_t)(nl3 - nl1 - 1));
    free(creq);
    return out;
}

static void test_paths_and_queries(void)
{
    char *s;
#define URI(svc, in, want) \
    s = creq_of(svc, in);  \
    CHECK_STR(s, want);    \
    free(s)
    URI("service", "", "/\n");
    URI("service", "/a/b/../c/./d", "/a/c/d\n");
    URI("service", "/a/b/..", "/a/\n");
    URI("service", "/../..", "/\n");
    URI("service", "/model/us.amazon.nova-lite-v1:0/converse", "/model/us.amazon.nova-lite-v1%3A0/converse\n");
    /* What goes on the wire is encoded again, as AWS does for every service but S3. */
    URI("bedrock", "/model/us.amazon.nova-lite-v1%3A0/converse", "/model/us.amazon.nova-lite-v1%253A0/converse\n");
    URI("s3", "/my-object//example//photo.user", "/my-object//example//photo.user\n");
    URI("s3", "/a b/%2fc/./d", "/a%20b/%2Fc/./d\n");
    URI("service", "/p?b=2&a=1&a=0", "/p\na=0&a=1&b=2");
    URI("service", "/p?k&=v&&x=a%20b+c", "/p\n=v&k=&x=a%20b%2Bc");
    URI("service", "/p?%zz=%41%c3%a9#frag", "/p\n%25zz=A%C3%A9");
#undef URI
}

static void test_sign_rules(void)
{
    sigv4_params_t p = base_params();
    sigv4_result_t r;
    char err[256];

    /* Absolute URL: Host from the URL (default port dropped), added headers listed. */
    p.session_token = "TOKEN";
    p.add_content_sha256 = 1;
    CHECK(sigv4_sign(&p, "POST",
                     "https://bedrock-runtime.us-east-1.amazonaws.com:443/model/x/"
                     "converse?a=1",
                     NULL, 0, "{}", 2, &r, err, sizeof(err)) == 0);
    CHECK(strstr(r.canonical_request, "\nhost:bedrock-runtime.us-east-1.amazonaws.com\n"));
    CHECK_STR(r.signed_headers, "host;x-amz-content-sha256;x-amz-date;x-amz-security-token");
    CHECK(r.n_headers == 4);
    CHECK_STR(r.headers[0].name, "X-Amz-Date");
    CHECK_STR(r.headers[0].value, DATE);
    CHECK_STR(r.headers[1].name, "X-Amz-Security-Token");
    CHECK_STR(r.headers[1].value, "TOKEN");
    CHECK_STR(r.headers[2].name, "X-Amz-Content-Sha256");
    CHECK_STR(r.headers[2].value, "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
    CHECK_STR(r.headers[3].name, "Authorization");
    CHECK_STR(r.credential_scope, "20150830/us-east-1/service/aws4_request");
    sigv4_result_free(&r);
    sigv4_result_free(&r); /* twice is harmless */

    p = base_params();
    CHECK(sigv4_sign(&p, "GET", "http://user@127.0.0.1:8080/x", NULL, 0, NULL, 0, &r, err, sizeof(err)) == 0);
    CHECK(strstr(r.canonical_request, "\nhost:127.0.0.1:8080\n"));
    sigv4_result_free(&r);
    CHECK(sigv4_sign(&p, "GET", "http://[::1]:80/x", NULL, 0, NULL, 0, &r, err, sizeof(err)) == 0);
    CHECK(strstr(r.canonical_request, "\nhost:[::1]\n"));
    sigv4_result_free(&r);

    /* An explicit Host header wins over the URL; Authorization among headers is ignored. */
    sigv4_header_t h[] = {{"Host", "example.amazonaws.com"}, {"Authorization", "old"}};
    CHECK(sigv4_sign(&p, "GET", "http://127.0.0.1:9/", h, 2, NULL, 0, &r, err, sizeof(err)) == 0);
    CHECK(strstr(r.canonical_request, "\nhost:example.amazonaws.com\n"));
    CHECK_STR(r.signed_headers, "host;x-amz-date");
    sigv4_result_free(&r);

    /* UNSIGNED-PAYLOAD. */
    p.payload_hash = SIGV4_UNSIGNED_PAYLOAD;
    CHECK(sigv4_sign(&p, "PUT", "/k", h, 1, "data", 4, &r, err, sizeof(err)) == 0);
    CHECK(strstr(r.canonical_request, "\nUNSIGNED-PAYLOAD") != NULL);
    sigv4_result_free(&r);

    /* Date now: 16 characters, and the signature verifies at that time. */
    p = base_params();
    p.amz_date = NULL;
    CHECK(sigv4_sign(&p, "GET", "/", h, 1, NULL, 0, &r, err, sizeof(err)) == 0);
    time_t t;
    CHECK(strlen(r.amz_date) == 16 && sigv4_parse_date(r.amz_date, &t) == 0);
    sigv4_result_free(&r);

    /* Errors leave *out zeroed and say what is wrong. */
    p = base_params();
    CHECK(sigv4_sign(&p, "GET", "/", NULL, 0, NULL, 0, &r, err, sizeof(err)) < 0);
    CHECK(strstr(err, "Host") != NULL);
    CHECK(r.authorization == NULL);
    p.amz_date = "2015-08-30T12:36:00Z";
    CHECK(sigv4_sign(&p, "GET", "/", h, 1, NULL, 0, &r, err, sizeof(err)) < 0);
    CHECK(strstr(err, "amz_date") != NULL);
    p = base_params();
    sigv4_header_t hd[] = {{"Host", "h"}, {"X-Amz-Date", "20150830T123700Z"}};
    CHECK(sigv4_sign(&p, "GET", "/", hd, 2, NULL, 0, &r, err, sizeof(err)) < 0);
    CHECK(strstr(err, "X-Amz-Date") != NULL);
    p.region = "us east";
    CHECK(sigv4_sign(&p, "GET", "/", h, 1, NULL, 0, &r, err, sizeof(err)) < 0);
    CHECK(strstr(err, "region") != NULL);
    p = base_params();
    p.secret_key = "";
    CHECK(sigv4_sign(&p, "GET", "/", h, 1, NULL, 0, &r, err, sizeof(err)) < 0);
    CHECK(strstr(err, "secret") != NULL);
    p = base_params();
    sigv4_header_t bad[] = {{"Host", "h"}, {"Bad Name", "v"}};
    CHECK(sigv4_sign(&p, "GET", "/", bad, 2, NULL, 0, &r, err, sizeof(err)) < 0);
    CHECK(strstr(err, "header 2") != NULL);
    p.payload_hash = "abc";
    CHECK(sigv4_sign(&p, "GET", "/", h, 1, NULL, 0, &r, err, sizeof(err)) < 0);
    p = base_params();
    p.session_token = "T1";
    sigv4_header_t ht[] = {{"Host", "h"}, {"X-Amz-Security-Token", "T2"}};
    CHECK(sigv4_sign(&p, "GET", "/", ht, 2, NULL, 0, &r, err, sizeof(err)) < 0);
    CHECK(strstr(err, "T1") == NULL && strstr(err, "T2") == NULL); /* no secrets in errors */
    CHECK(sigv4_sign(&p, "GET", "https:///x", NULL, 0, NULL, 0, &r, err, sizeof(err)) < 0);

    /* Dates. */
    CHECK(sigv4_parse_date("20150830T123600Z", &t) == 0 && t == 1440938160);
    char d[17];
    sigv4_format_date(1440938160, d);
    CHECK_STR(d, "20150830T123600Z");
    CHECK(sigv4_parse_date("20150230T123600Z", &t) < 0);
    CHECK(sigv4_parse_date("20150830T123600", &t) < 0);
    CHECK(sigv4_parse_date(NULL, &t) < 0);
}

/* ---- the verifier ---- */

static void test_verify(void)
{
    sigv4_params_t p = base_params();
    sigv4_header_t req[8] = {{"Host", "example.amazonaws.com"}, {"Content-Type", "application/json"}};
    sigv4_result_t r;
    char err[256], reason[1024];
    const char *body = "{\"a\":1}";
    p.add_content_sha256 = 1;
    CHECK(sigv4_sign(&p, "POST", "/model/m%3A0/converse", req, 2, body, strlen(body), &r, err, sizeof(err)) == 0);
    size_t n = 2;
    for (size_t i = 0; i < r.n_headers; i++) req[n++] = r.headers[i];
    time_t now;
    CHECK(sigv4_parse_date(DATE, &now) == 0);
    sigv4_verify_opts_t o = {.lookup = secret_lookup, .region = REGION, .service = SERVICE, .now = now};
    sigv4_status_t st;
    st = sigv4_verify(&o, "POST", "/model/m%3A0/converse", req, n, body, strlen(body), NULL, reason, sizeof(reason));
    CHECK(st == SIGV4_OK);

    /* Tampered body: the content hash says so first. */
    st = sigv4_verify(&o, "POST", "/model/m%3A0/converse", req, n, "{}", 2, NULL, reason, sizeof(reason));
    CHECK(st == SIGV4_ERR_PAYLOAD);
    /* Other path, method: signature mismatch, with the string to sign in the reason. */
    st = sigv4_verify(&o, "POST", "/model/m:0/converse", req, n, body, strlen(body), NULL, reason, sizeof(reason));
    CHECK(st == SIGV4_ERR_SIGNATURE);
    CHECK(strstr(reason, "does not match") && strstr(reason, "AWS4-HMAC-SHA256\n"));
    CHECK(strstr(reason, SK) == NULL);
    st = sigv4_verify(&o, "PUT", "/model/m%3A0/converse", req, n, body, strlen(body), NULL, reason, sizeof(reason));
    CHECK(st == SIGV4_ERR_SIGNATURE);
    CHECK_STR(sigv4_status_aws_code(st), "InvalidSignatureException");
    /* Wrong region or service. */
    o.region = "eu-west-1";
    st = sigv4_verify(&o, "POST", "/model/m%3A0/converse", req, n, body, strlen(body), NULL, reason, sizeof(reason));
    CHECK(st == SIGV4_ERR_SCOPE && strstr(reason, "eu-west-1"));
    o.region = REGION;
    o.service = "bedrock";
    st = sigv4_verify(&o, "POST", "/model/m%3A0/converse", req, n, body, strlen(body), NULL, reason, sizeof(reason));
    CHECK(st == SIGV4_ERR_SCOPE);
    o.service = SERVICE;
    /* Skew beyond 15 minutes, either way; 15 minutes exactly is fine. */
    o.now = now + 901;
    st = sigv4_verify(&o, "POST", "/model/m%3A0/converse", req, n, body, strlen(body), NULL, reason, sizeof(reason));
    CHECK(st == SIGV4_ERR_SKEW && strstr(reason, "behind"));
    o.now = now - 901;
    st = sigv4_verify(&o, "POST", "/model/m%3A0/converse", req, n, body, strlen(body), NULL, reason, sizeof(reason));
    CHECK(st == SIGV4_ERR_SKEW && strstr(reason, "ahead"));
    o.now = now + 900;
    st = sigv4_verify(&o, "POST", "/model/m%3A0/converse", req, n, body, strlen(body), NULL, reason, sizeof(reason));
    CHECK(st == SIGV4_OK);
    o.now = now;
    /* A signed header dropped from the request. */
    st = sigv4_verify(&o, "POST", "/model/m%3A0/converse", req + 1, n - 1, body, strlen(body), NULL, reason,
                      sizeof(reason));
    CHECK(st == SIGV4_ERR_SIGNED_HEADERS && strstr(reason, "host"));
    /* Unknown key. */
    o.lookup = NULL;
    st = sigv4_verify(&o, "POST", "/model/m%3A0/converse", req, n, body, strlen(body), NULL, reason, sizeof(reason));
    CHECK(st == SIGV4_ERR_UNKNOWN_KEY);
    CHECK_STR(sigv4_status_aws_code(st), "UnrecognizedClientException");
    o.lookup = secret_lookup;
    /* No Authorization. */
    st = sigv4_verify(&o, "POST", "/", req, 2, body, strlen(body), NULL, reason, sizeof(reason));
    CHECK(st == SIGV4_ERR_MISSING);
    CHECK_STR(sigv4_status_aws_code(st), "MissingAuthenticationTokenException");
    CHECK(sigv4_status_aws_code(SIGV4_OK) == NULL);
    CHECK_STR(sigv4_status_str(SIGV4_ERR_SKEW), "request time too skewed");
    sigv4_result_free(&r);

    /* Hand-made Authorization headers. */
    char auth[512];
    sigv4_header_t hh[3] = {{"host", "example.amazonaws.com"}, {"x-amz-date", DATE}, {"authorization", auth}};
    const char *sig64 = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
    snprintf(auth, sizeof(auth),
             "AWS4-HMAC-SHA256 Credential=" AK "/20150830/" REGION "/" SERVICE
             "/aws4_request,SignedHeaders=host;x-amz-date,Signature=%s",
             sig64);
    st = sigv4_verify(&o, "GET", "/", hh, 3, NULL, 0, NULL, reason, sizeof(reason));
    CHECK(st == SIGV4_OK); /* get-vanilla, written without spaces after the commas */
    snprintf(auth, sizeof(auth),
             "AWS4-HMAC-SHA256 Credential=" AK "/20150830/" REGION "/" SERVICE
             "/aws4_request, SignedHeaders=x-amz-date, Signature=%s",
             sig64);
    st = sigv4_verify(&o, "GET", "/", hh, 3, NULL, 0, NULL, reason, sizeof(reason));
    CHECK(st == SIGV4_ERR_SIGNED_HEADERS && strstr(reason, "host"));
    snprintf(auth, sizeof(auth),
             "AWS4-HMAC-SHA256 Credential=" AK "/20150831/" REGION "/" SERVICE
             "/aws4_request, SignedHeaders=host;x-amz-date, Signature=%s",
             sig64);
    st = sigv4_verify(&o, "GET", "/", hh, 3, NULL, 0, NULL, reason, sizeof(reason));
    CHECK(st == SIGV4_ERR_SCOPE && strstr(reason, "20150831"));
    snprintf(auth, sizeof(auth),
             "AWS4-HMAC-SHA256 Credential=" AK "/20150830/" REGION "/" SERVICE
             "/aws4_request, SignedHeaders=x-amz-date;host, Signature=%s",
             sig64);
    st = sigv4_verify(&o, "GET", "/", hh, 3, NULL, 0, NULL, reason, sizeof(reason));
    CHECK(st == SIGV4_ERR_MALFORMED && strstr(reason, "sorted"));

    sigv4_auth_t a;
    CHECK(sigv4_parse_authorization("AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request, "
                                    "SignedHeaders=host, Signature="
                                    "5fa00fa31553b73ebf1942676e8"
                                    "6291e8372ff2a2260956d9b8aae1d763fbf31",
                                    &a, err, sizeof(err)) == 0);
    CHECK_STR(a.access_key, "A");
    CHECK_STR(a.region, "r");
    CHECK_STR(a.service, "s");
    CHECK_STR(a.signed_headers, "host");
    CHECK(sigv4_parse_authorization("AWS4-HMAC-SHA1 Credential=x", &a, err, sizeof(err)) < 0);
    CHECK(sigv4_parse_authorization("AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request, "
                                    "SignedHeaders=host",
                                    &a, err, sizeof(err)) < 0);
    CHECK(strstr(err, "Signature") != NULL);
    CHECK(sigv4_parse_authorization("AWS4-HMAC-SHA256 Credential=A/2015/r/s/aws4_request, "
                                    "SignedHeaders=host, Signature=00",
                                    &a, err, sizeof(err)) < 0);
    CHECK(sigv4_parse_authorization("AWS4-HMAC-SHA256 Credential=A/20150830/r/s/x, "
                                    "SignedHeaders=host, Signature=00",
                                    &a, err, sizeof(err)) < 0);
    CHECK(strstr(err, "aws4_request") != NULL);
    CHECK(sigv4_parse_authorization("AWS4-HMAC-SHA256 Bogus=1", &a, err, sizeof(err)) < 0);
    /* A SignedHeaders list longer than the verifier reads is refused as such (found by fuzz_sigv4:
     * a request with a 1,195-byte header name, which the signer signs). At the limit it is read. */
    char longsh[SIGV4_VERIFY_MAX_SIGNED_HEADERS + 2], longauth[1400];
    memset(longsh, 'h', sizeof longsh - 1);
    longsh[sizeof longsh - 1] = '\0';
    snprintf(longauth, sizeof longauth,
             "AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request, SignedHeaders=%s, "
             "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
             longsh);
    CHECK(sigv4_parse_authorization(longauth, &a, err, sizeof(err)) < 0);
    CHECK_HAS(err, "SignedHeaders of 1024 bytes is longer than the 1023 bytes this verifier reads");
    longsh[sizeof longsh - 2] = '\0';
    snprintf(longauth, sizeof longauth,
             "AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request, SignedHeaders=%s, "
             "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
             longsh);
    CHECK(sigv4_parse_authorization(longauth, &a, err, sizeof(err)) == 0 && strlen(a.signed_headers) == 1023);
    CHECK(sigv4_parse_authorization(NULL, &a, err, sizeof(err)) < 0);
}

int main(void)
{
    test_suite();
    test_paths_and_queries();
    test_sign_rules();
    test_verify();
    return check_summary("test_sigv4");
}
