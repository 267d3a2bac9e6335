/* webreport: the viewer as one self-contained HTML page; see webreport.h.
 *
 * The page is index.html read line by line: the line with <meta charset> is followed by the CSP
 * meta; each <link rel="stylesheet" href="/assets/X"> line becomes <style>X</style>; the first
 * <script src="/assets/X"></script> line becomes the data element followed by one <script>
 * holding every script of the page in order (later script lines are dropped). The CSP names the
 * SHA-256 of each inlined element, so a browser runs nothing else. */
#include "webreport.h"

#include "buf.h"
#include "jsonprint.h"
#include "mem.h"
#include "webassets.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#define MAX_INLINED 16

struct webreport {
    char *job;     /* JSON text */
    char *summary; /* JSON text, or NULL */
    buf_t records; /* rows joined by ',' */
    size_t n_records;
    uint64_t rows_total;
    bool total_set;
};

webreport_t *webreport_new(void)
{
    webreport_t *r = xcalloc(1, sizeof(*r));
    buf_init(&r->records, 0);
    return r;
}

void webreport_destroy(webreport_t **self_p)
{
    if (!self_p || !*self_p) return;
    webreport_t *r = *self_p;
    free(r->job);
    free(r->summary);
    buf_free(&r->records);
    free(r);
    *self_p = NULL;
}

void webreport_set_job(webreport_t *r, const cJSON *job)
{
    free(r->job);
    r->job = job ? jsonprint(job, false) : NULL;
}

void webreport_set_summary(webreport_t *r, const cJSON *summary)
{
    free(r->summary);
    r->summary = summary ? jsonprint(summary, false) : NULL;
}

int webreport_add_record(webreport_t *r, const char *line, size_t len)
{
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ')) len--;
    cJSON *j = cJSON_ParseWithLength(line, len);
    bool ok = cJSON_IsObject(j);
    cJSON_Delete(j);
    if (!ok) return -1;
    int rc = r->n_records ? buf_putc(&r->records, ',') : 0;
    rc |= buf_append(&r->records, line, len);
    (void)rc; /* unlimited buffer: appends cannot fail, out-of-memory aborts */
    r->n_records++;
    return 0;
}

size_t webreport_records(const webreport_t *r) { return r->n_records; }

void webreport_set_rows_total(webreport_t *r, uint64_t n)
{
    r->rows_total = n;
    r->total_set = true;
}

/* ---- a job folder ---- */

static void copy_str(cJSON *to, const char *key, const cJSON *from, const char *from_key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(from, from_key);
    if (cJSON_IsString(v)) cJSON_AddStringToObject(to, key, v->valuestring);
}

static void copy_num(cJSON *to, const char *key, const cJSON *from, const char *from_key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(from, from_key);
    if (cJSON_IsNumber(v)) cJSON_AddNumberToObject(to, key, v->valuedouble);
}

cJSON *webreport_job_from_file(const cJSON *jj)
{
    cJSON *job = cJSON_CreateObject();
    const cJSON *spec = cJSON_GetObjectItemCaseSensitive(jj, "spec");
    copy_str(job, "job_id", jj, "job_id");
    copy_str(job, "name", spec, "name");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(jj, "status");
    /* The store's "pending" is the control plane's "queued". */
    cJSON_AddStringToObject(job, "status",
                            !cJSON_IsString(st)                   ? "unknown"
                            : !strcmp(st->valuestring, "pending") ? "queued"
                                                                  : st->valuestring);
    copy_str(job, "started_at", jj, "started_at");
    copy_str(job, "ended_at", jj, "finished_at");
    copy_str(job, "error", jj, "error");
    copy_str(job, "model", spec, "model");
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(spec, "evaluate_base_model")))
        copy_str(job, "base_model", spec, "base_model");
    copy_str(job, "evaluator_model", spec, "evaluator_model");
    copy_num(job, "elapsed_s", jj, "elapsed_s");
    copy_num(job, "estimated_cost_usd", jj, "estimated_cost_usd");
    return job;
}

int webreport_load_records(webreport_t *r, const char *path, uint64_t max_rows, uint64_t *bad_rows, char *err,
                           size_t errlen)
{
    if (bad_rows) *bad_rows = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) { /* a job that failed before writing it: no rows */
            webreport_set_rows_total(r, 0);
            return 0;
        }
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    uint64_t rows = 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (n == 1 && line[0] == '\n') continue;
        rows++;
        if ((max_rows == 0 || rows <= max_rows) && webreport_add_record(r, line, (size_t)n) < 0 && bad_rows)
            (*bad_rows)++;
    }
    free(line);
    int rc = 0;
    if (ferror(f)) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        rc = -1;
    }
    fclose(f);
    webreport_set_rows_total(r, rows);
    return rc;
}

/* JSON text with every '<' written as \u003c. */
static void put_json(buf_t *b, const char *s, size_t n)
{
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        size_t run = i;
        while (run < n && s[run] != '<') run++;
        rc |= buf_append(b, s + i, run - i);
        i = run;
        if (i < n) rc |= buf_puts(b, "\\u003c");
    }
    (void)rc; /* unlimited buffer */
}

static void put_data(buf_t *b, const webreport_t *r)
{
    int rc = buf_puts(b, "{\"job\":");
    put_json(b, r->job ? r->job : "{}", strlen(r->job ? r->job : "{}"));
    rc |= buf_puts(b, ",\"summary\":");
    put_json(b, r->summary ? r->summary : "null", strlen(r->summary ? r->summary : "null"));
    rc |= buf_puts(b, ",\"records\":[");
    put_json(b, r->records.data ? r->records.data : "", r->records.len);
    rc |= buf_printf(b, "],\"records_total\":%llu}",
                     (unsigned long long)(r->total_set ? r->rows_total : (uint64_t)r->n_records));
    (void)rc; /* unlimited buffer */
}

/* 'sha256-<base64>' of the bytes, into out (at least 60 bytes). */
static void csp_hash(const void *p, size_t n, char *out, size_t outlen)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    unsigned char b64[64];
    if (EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL) != 1) {
        fprintf(stderr, "SHA-256 failed\n");
        abort();
    }
    EVP_EncodeBlock(b64, md, (int)mdlen);
    /* A SHA-256 digest is 44 characters of base64; saying so also lets the compiler see it fits. */
    snprintf(out, outlen, "'sha256-%.44s'", (const char *)b64);
}

/* The asset named between `prefix` and the next '"' on a line, or NULL (name in *name). */
static const webasset_t *asset_on_line(const char *line, size_t len, const char *prefix, char *name, size_t namelen)
{
    const char *p = memmem(line, len, prefix, strlen(prefix));
    if (!p) return NULL;
    p += strlen(prefix);
    const char *q = memchr(p, '"', (size_t)(line + len - p));
    if (!q || (size_t)(q - p) >= namelen) return NULL;
    memcpy(name, p, (size_t)(q - p));
    name[q - p] = '\0';
    return webassets_get(name);
}

/* An asset can be inlined when its bytes cannot end the element they go in. */
static bool inlinable(const webasset_t *a, const char *closer)
{
    size_t cl = strlen(closer);
    for (size_t i = 0; i + cl <= a->len; i++)
        if (a->data[i] == '<' && !strncasecmp((const char *)a->data + i, closer, cl)) return false;
    return true;
}

#define STYLE_PREFIX "<link rel=\"stylesheet\" href=\"/assets/"
#define SCRIPT_PREFIX "<script src=\"/assets/"

char *webreport_html(const webreport_t *r, size_t *len, char *err, size_t errlen)
{
    const webasset_t *page = webassets_get(WEBASSETS_PAGE);
    if (!page) {
        snprintf(err, errlen, "the viewer's page %s is not embedded", WEBASSETS_PAGE);
        return NULL;
    }
    const webasset_t *styles[MAX_INLINED], *scripts[MAX_INLINED];
    size_t n_styles = 0, n_scripts = 0;
    bool charset = false;
    const char *text = (const char *)page->data, *end = text + page->len;
    char name[128];

    /* Pass 1: what the page inlines. */
    for (const char *l = text; l < end;) {
        const char *nl = memchr(l, '\n', (size_t)(end - l));
        size_t n = nl ? (size_t)(nl - l) : (size_t)(end - l);
        const webasset_t *a;
        if (memmem(l, n, "<meta charset=", 14)) charset = true;
        if ((a = asset_on_line(l, n, STYLE_PREFIX, name, sizeof name)) ||
            memmem(l, n, STYLE_PREFIX, strlen(STYLE_PREFIX))) {
            if (!a || !inlinable(a, "</style") || n_styles == MAX_INLINED) {
                snprintf(err, errlen, "%s: stylesheet '%s' cannot be inlined", WEBASSETS_PAGE, a ? a->name : name);
                return NULL;
            }
            styles[n_styles++] = a;
        } else if ((a = asset_on_line(l, n, SCRIPT_PREFIX, name, sizeof name)) ||
                   memmem(l, n, SCRIPT_PREFIX, strlen(SCRIPT_PREFIX))) {
            if (!a || !inlinable(a, "</script") || !inlinable(a, "<!--") || n_scripts == MAX_INLINED) {
                snprintf(err, errlen, "%s: script '%s' cannot be inlined", WEBASSETS_PAGE, a ? a->name : name);
                return NULL;
            }
            scripts[n_scripts++] = a;
        }
        l += n + 1;
    }
    if (!charset || !n_styles || !n_scripts) {
        snprintf(err, errlen, "%s lacks its charset meta, a stylesheet or a script", WEBASSETS_PAGE);
        return NULL;
    }

    /* The script element's text (all scripts), and the policy. */
    buf_t js, csp, out;
    buf_init(&js, 0);
    buf_init(&csp, 0);
    buf_init(&out, 0);
    int rc = 0;
    for (size_t i = 0; i < n_scripts; i++) {
        rc |= buf_append(&js, scripts[i]->data, scripts[i]->len);
        rc |= buf_putc(&js, '\n');
    }
    char h[64];
    csp_hash(js.data, js.len, h, sizeof h);
    rc |= buf_printf(&csp, "default-src 'none'; script-src %s; style-src", h);
    for (size_t i = 0; i < n_styles; i++) {
        csp_hash(styles[i]->data, styles[i]->len, h, sizeof h);
        rc |= buf_printf(&csp, " %s", h);
    }
    rc |= buf_puts(&csp, "; img-src data:; base-uri 'none'; form-action 'none'");

    /* Pass 2: the page. */
    size_t si = 0;
    bool scripts_done = false;
    for (const char *l = text; l < end;) {
        const char *nl = memchr(l, '\n', (size_t)(end - l));
        size_t n = nl ? (size_t)(nl - l) : (size_t)(end - l);
        if (memmem(l, n, STYLE_PREFIX, strlen(STYLE_PREFIX))) {
            rc |= buf_puts(&out, "<style>");
            rc |= buf_append(&out, styles[si]->data, styles[si]->len);
            rc |= buf_puts(&out, "</style>\n");
            si++;
        } else if (memmem(l, n, SCRIPT_PREFIX, strlen(SCRIPT_PREFIX))) {
            if (!scripts_done) {
                rc |= buf_puts(&out, "<script type=\"application/json\" id=\"llmaj-data\">");
                put_data(&out, r);
                rc |= buf_puts(&out, "</script>\n<script>");
                rc |= buf_append(&out, js.data, js.len);
                rc |= buf_puts(&out, "</script>\n");
                scripts_done = true;
            }
        } else {
            rc |= buf_append(&out, l, n);
            rc |= buf_putc(&out, '\n');
            if (memmem(l, n, "<meta charset=", 14))
                rc |= buf_printf(&out, "<meta http-equiv=\"Content-Security-Policy\" content=\"%s\">\n", csp.data);
        }
        l += n + 1;
    }
    (void)rc; /* unlimited buffers: appends cannot fail, out-of-memory aborts */
    buf_free(&js);
    buf_free(&csp);
    if (len) *len = out.len;
    return buf_take(&out);
}
