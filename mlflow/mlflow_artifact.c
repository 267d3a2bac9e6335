/* mlflow_artifact: artifact upload of the MLflow client (mlflow-artifacts proxy, http(s), s3://,
 * local paths); see mlflow.h. */
#include "mlflow.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#define LOG_MODULE "mlflow"
#include "awscreds.h"
#include "buf.h"
#include "file.h"
#include "log.h"
#include "mem.h"
#include "mlflow_int.h"

/* Where an artifact goes. */
typedef enum { DEST_HTTP, DEST_S3, DEST_FILE } dest_kind_t;

typedef struct {
    dest_kind_t kind;
    char *url;    /* HTTP/S3: the full URL; FILE: the local path */
    char *region; /* S3: signing region */
} dest_t;

static void dest_clear(dest_t *d)
{
    free(d->url);
    free(d->region);
    memset(d, 0, sizeof *d);
}

static bool rel_path_ok(const char *p)
{
    if (!*p || *p == '/') return false;
    const char *s = p;
    for (;;) {
        const char *slash = strchr(s, '/');
        size_t n = slash ? (size_t)(slash - s) : strlen(s);
        if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.')) return false;
        if (!slash) return true;
        s = slash + 1;
    }
}

/* The region of s3:// artifacts: the tracking server's (from its ARN), else the AWS region chain
 * (AWS_REGION, AWS_DEFAULT_REGION, the profile's region), else us-east-1. Caller owns. */
static char *aws_region_default(const mlflow_t *m)
{
    if (m->region) return xstrdup(m->region);
    char region[64], why[256];
    if (awscreds_region(NULL, m->aws_profile, region, sizeof region, why, sizeof why) == 0) return xstrdup(region);
    return xstrdup("us-east-1");
}

static int dest_resolve(mlflow_t *m, const char *artifact_uri, const char *rel, dest_t *d, mlflow_err_t *e)
{
    memset(d, 0, sizeof *d);
    if (!artifact_uri || !*artifact_uri) {
        mlflow_err_set(e, 0, NULL, "%s: the run has no artifact_uri", m->display);
        return -1;
    }
    if (!rel_path_ok(rel)) {
        mlflow_err_set(e, 0, NULL, "artifact path '%s' must be relative, without empty, '.' or '..' parts", rel);
        return -1;
    }
    buf_t u;
    buf_init(&u, 0);
    int w = 0;
    if (!strncmp(artifact_uri, "mlflow-artifacts:", 17)) {
        /* mlflow-artifacts:/P, or mlflow-artifacts://HOST[:PORT]/P (served by that host with our
         * tracking server's scheme). */
        const char *p = artifact_uri + 17;
        if (!strncmp(p, "//", 2)) {
            const char *host = p + 2, *slash = strchr(host, '/');
            size_t hl = slash ? (size_t)(slash - host) : strlen(host);
            const char *scheme_end = strstr(m->base, "://");
            if (hl) w |= buf_printf(&u, "%.*s://%.*s", (int)(scheme_end - m->base), m->base, (int)hl, host);
            else w |= buf_puts(&u, m->base);
            p = slash ? slash : "";
        } else {
            w |= buf_puts(&u, m->base);
        }
        w |= buf_puts(&u, ARTIFACTS_ROUTE);
        while (*p == '/') p++;
        if (*p) {
            w |= buf_putc(&u, '/');
            mlflow_url_encode(&u, p, strlen(p), true);
        }
        while (u.len && u.data[u.len - 1] == '/') u.data[--u.len] = '\0';
        w |= buf_putc(&u, '/');
        mlflow_url_encode(&u, rel, strlen(rel), true);
        d->kind = DEST_HTTP;
    } else if (!strncmp(artifact_uri, "http://", 7) || !strncmp(artifact_uri, "https://", 8)) {
        if (!strstr(artifact_uri, ARTIFACTS_ROUTE)) {
            mlflow_err_set(e, 0, NULL, "%s: artifact_uri '%s' is an HTTP URL outside %s: not supported", m->display,
                           artifact_uri, ARTIFACTS_ROUTE);
            buf_free(&u);
            return -1;
        }
        w |= buf_puts(&u, artifact_uri);
        while (u.len && u.data[u.len - 1] == '/') u.data[--u.len] = '\0';
        w |= buf_putc(&u, '/');
        mlflow_url_encode(&u, rel, strlen(rel), true);
        d->kind = DEST_HTTP;
    } else if (!strncmp(artifact_uri, "s3://", 5)) {
        const char *bucket = artifact_uri + 5, *slash = strchr(bucket, '/');
        size_t bl = slash ? (size_t)(slash - bucket) : strlen(bucket);
        if (!bl) {
            mlflow_err_set(e, 0, NULL, "%s: artifact_uri '%s' has no bucket", m->display, artifact_uri);
            buf_free(&u);
            return -1;
        }
        const char *prefix = slash ? slash + 1 : "";
        size_t pl = strlen(prefix);
        while (pl && prefix[pl - 1] == '/') pl--;
        d->region = aws_region_default(m);
        bool dotted = memchr(bucket, '.', bl) != NULL;
        if (m->s3_endpoint) {
            const char *ep = m->s3_endpoint;
            size_t el = strlen(ep);
            while (el && ep[el - 1] == '/') el--;
            w |= buf_printf(&u, "%.*s/%.*s/", (int)el, ep, (int)bl, bucket);
        } else if (dotted) {
            /* A dotted bucket breaks virtual-host TLS names: path style. */
            w |= buf_printf(&u, "https://s3.%s.amazonaws.com/%.*s/", d->region, (int)bl, bucket);
        } else {
            w |= buf_printf(&u, "https://%.*s.s3.%s.amazonaws.com/", (int)bl, bucket, d->region);
        }
        if (pl) {
            mlflow_url_encode(&u, prefix, pl, true);
            w |= buf_putc(&u, '/');
        }
        mlflow_url_encode(&u, rel, strlen(rel), true);
        d->kind = DEST_S3;
    } else if (!strncmp(artifact_uri, "file://", 7) || artifact_uri[0] == '/') {
        const char *p = artifact_uri;
        if (!strncmp(p, "file://", 7)) {
            p += 7;
            if (!strncmp(p, "localhost/", 10)) p += 9;
            if (*p != '/') {
                mlflow_err_set(e, 0, NULL, "%s: artifact_uri '%s' names another host's files", m->display,
                               artifact_uri);
                buf_free(&u);
                return -1;
            }
        }
        w |= buf_puts(&u, p);
        while (u.len > 1 && u.data[u.len - 1] == '/') u.data[--u.len] = '\0';
        w |= buf_putc(&u, '/');
        w |= buf_puts(&u, rel);
        d->kind = DEST_FILE;
    } else {
        const char *colon = strchr(artifact_uri, ':');
        mlflow_err_set(e, 0, NULL,
                       "%s: artifact store '%.*s' of artifact_uri '%s' is not supported (llmaj uploads to "
                       "mlflow-artifacts:, http(s) artifact proxies, s3:// and local paths); start the server "
                       "with --serve-artifacts",
                       m->display, colon ? (int)(colon - artifact_uri) : (int)strlen(artifact_uri), artifact_uri,
                       artifact_uri);
        buf_free(&u);
        return -1;
    }
    if (w < 0) {
        buf_free(&u);
        return -1;
    }
    d->url = buf_take(&u);
    return 0;
}

char *mlflow_artifact_location(mlflow_t *m, const char *artifact_uri, const char *rel_path, mlflow_err_t *e)
{
    dest_t d;
    if (dest_resolve(m, artifact_uri, rel_path, &d, e) < 0) return NULL;
    char *u = d.url;
    d.url = NULL;
    dest_clear(&d);
    return u;
}

/* Writes a local artifact atomically (lib/file.h): the bytes of `data`, or, when `src` is not NULL,
 * the rest of that file. Creates the artifact's folder first. */
static int put_file(const char *path, const void *data, size_t len, FILE *src, char *err, size_t errlen)
{
    char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    int rc = 0;
    if (slash && slash != dir) {
        *slash = '\0';
        rc = file_mkdirs(dir, 0775, err, errlen);
    }
    free(dir);
    if (rc < 0) return -1;
    file_atomic_t *out = file_atomic_open(path, err, errlen);
    if (!out) return -1;
    bool ok = true;
    if (src) {
        char chunk[65536];
        size_t n;
        while (ok && (n = fread(chunk, 1, sizeof chunk, src)) > 0) ok = file_atomic_write(out, chunk, n) == 0;
        if (ferror(src)) {
            snprintf(err, errlen, "cannot read the artifact's source for %s: %s", path, strerror(errno));
            file_atomic_abort(&out);
            return -1;
        }
    } else if (len) {
        ok = file_atomic_write(out, data, len) == 0;
    }
    /* A failed write is remembered by `out`: the commit reports it and removes the temporary. */
    return file_atomic_commit(&out, err, errlen);
}

/* Sends an artifact upload (a PUT, r->what naming it); 0 when answered 2xx, else -1 with e. */
static int put_upload(mlflow_t *m, const request_t *r, mlflow_err_t *e)
{
    buf_t resp;
    buf_init(&resp, 1u << 20);
    long status = 0;
    int rc = -1;
    if (mlflow_http_send(m, r, &status, &resp, e) == 0) {
        if (status >= 200 && status <= 299) rc = 0;
        else mlflow_err_from_answer(m, r->what, status, &resp, e);
    }
    buf_free(&resp);
    return rc;
}

int mlflow_artifact_put(mlflow_t *m, const char *artifact_uri, const char *rel_path, const void *data, size_t len,
                        const char *content_type, mlflow_err_t *e)
{
    dest_t d;
    if (dest_resolve(m, artifact_uri, rel_path, &d, e) < 0) return -1;
    int rc = -1;
    if (d.kind == DEST_FILE) {
        char why[512];
        if (put_file(d.url, data, len, NULL, why, sizeof why) < 0)
            mlflow_err_set(e, 0, NULL, "artifact %s: %s", rel_path, why);
        else rc = 0;
        dest_clear(&d);
        return rc;
    }
    char *what = xasprintf("PUT artifact %s", rel_path);
    bool s3 = d.kind == DEST_S3;
    request_t r = {
        .method = "PUT",
        .url = d.url,
        .what = what,
        .body = data,
        .body_len = len,
        .content_type = content_type ? content_type : "application/octet-stream",
        /* The proxy is the tracking server: it takes the tracking server's auth. S3 is signed
         * for S3 with the same AWS credentials. */
        .sign_service = s3 ? "s3" : (m->auth == MLFLOW_AUTH_SIGV4 ? MLFLOW_SAGEMAKER_SERVICE : NULL),
        .sign_region = s3 ? d.region : m->region,
        .s3 = s3,
        .tracking = !s3,
    };
    rc = put_upload(m, &r, e);
    free(what);
    dest_clear(&d);
    return rc;
}

/* Hex SHA-256 of the rest of f; rewinds f. */
static int file_sha256(FILE *f, char out[65])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return -1;
    }
    unsigned char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (EVP_DigestUpdate(ctx, chunk, n) != 1) {
            EVP_MD_CTX_free(ctx);
            return -1;
        }
    unsigned char md[32];
    unsigned int mdlen = 0;
    int ok = !ferror(f) && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32;
    EVP_MD_CTX_free(ctx);
    if (!ok) return -1;
    for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
    rewind(f);
    return 0;
}

int mlflow_file_sha256(const char *path, char out[65], char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    int rc = file_sha256(f, out);
    if (rc < 0) snprintf(err, errlen, "cannot read %s: %s", path, errno ? strerror(errno) : "I/O error");
    fclose(f);
    return rc;
}

int mlflow_artifact_put_file(mlflow_t *m, const char *artifact_uri, const char *rel_path, const char *path,
                             const char *content_type, mlflow_err_t *e)
{
    dest_t d;
    if (dest_resolve(m, artifact_uri, rel_path, &d, e) < 0) return -1;
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
        mlflow_err_set(e, 0, NULL, "artifact %s: cannot read %s: %s", rel_path, path,
                       f ? "not a regular file" : strerror(errno));
        if (f) fclose(f);
        dest_clear(&d);
        return -1;
    }
    int rc = -1;
    if (d.kind == DEST_FILE) {
        char why[512];
        if (put_file(d.url, NULL, 0, f, why, sizeof why) < 0)
            mlflow_err_set(e, 0, NULL, "artifact %s: %s", rel_path, why);
        else rc = 0;
        fclose(f);
        dest_clear(&d);
        return rc;
    }
    bool s3 = d.kind == DEST_S3;
    const char *service = s3 ? "s3" : (m->auth == MLFLOW_AUTH_SIGV4 ? MLFLOW_SAGEMAKER_SERVICE : NULL);
    char hash[65];
    if (service && file_sha256(f, hash) < 0) {
        mlflow_err_set(e, 0, NULL, "artifact %s: cannot read %s", rel_path, path);
        fclose(f);
        dest_clear(&d);
        return -1;
    }
    char *what = xasprintf("PUT artifact %s", rel_path);
    request_t r = {
        .method = "PUT",
        .url = d.url,
        .what = what,
        .file = f,
        .file_len = (uint64_t)st.st_size,
        .payload_hash = service ? hash : NULL,
        .content_type = content_type ? content_type : "application/octet-stream",
        .sign_service = service,
        .sign_region = s3 ? d.region : m->region,
        .s3 = s3,
        .tracking = !s3,
    };
    rc = put_upload(m, &r, e);
    free(what);
    fclose(f);
    dest_clear(&d);
    return rc;
}
