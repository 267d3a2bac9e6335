/* Unit test: webreport, the self-contained report page. The page inlines the viewer's stylesheet
 * and scripts with a CSP that names their SHA-256 and nothing else, embeds the data so that no
 * text from a job can end the data element (every '<' escaped), parses back to what was given
 * (numbers to the same doubles), and refuses rows that are not JSON objects; rows from a
 * records.jsonl file (missing, a folder, at most N rows). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "check.h"
#include "webassets.h"
#include "webreport.h"

static int count(const char *s, const char *sub)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, sub)); p += strlen(sub)) n++;
    return n;
}

/* The text between `open` (its end) and the next `close`; caller frees. */
static char *between(const char *s, const char *open, const char *close)
{
    const char *a = strstr(s, open);
    if (!a) return NULL;
    a += strlen(open);
    const char *b = strstr(a, close);
    if (!b) return NULL;
    char *out = malloc((size_t)(b - a) + 1);
    memcpy(out, a, (size_t)(b - a));
    out[b - a] = '\0';
    return out;
}

static void hash_b64(const char *s, char *out)
{
    unsigned char md[32], b64[64];
    unsigned int n = 0;
    EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL);
    EVP_EncodeBlock(b64, md, (int)n);
    sprintf(out, "'sha256-%s'", (const char *)b64); /* out is 64 bytes; the hash is 53 */
}

static const char *evil_prompt = "Close it: </script><script>alert(1)</script> and <!-- too";

static void test_page(void)
{
    webreport_t *r = webreport_new();
    cJSON *job = cJSON_Parse("{\"job_id\":\"j-1\",\"name\":\"</title><b>x\",\"status\":\"succeeded\"}");
    cJSON *summary = cJSON_Parse("{\"job_id\":\"j-1\",\"targets\":{\"custom\":{\"model\":\"m\",\"metrics\":{}}}}");
    webreport_set_job(r, job);
    webreport_set_summary(r, summary);
    cJSON *row = cJSON_CreateObject();
    cJSON_AddNumberToObject(row, "record_index", 0);
    cJSON_AddStringToObject(row, "prompt", evil_prompt);
    char *line = cJSON_PrintUnformatted(row);
    char *nl = malloc(strlen(line) + 2);
    sprintf(nl, "%s\n", line); /* sized above */
    CHECK(webreport_add_record(r, nl, strlen(nl)) == 0);
    CHECK(webreport_add_record(r, "{\"record_index\":1}", 18) == 0);
    CHECK(webreport_add_record(r, "[1,2]", 5) == -1);
    CHECK(webreport_add_record(r, "{\"cut\":", 7) == -1);
    CHECK(webreport_add_record(r, "", 0) == -1);
    CHECK(webreport_records(r) == 2);
    webreport_set_rows_total(r, 40);

    char err[256] = "";
    size_t len = 0;
    char *html = webreport_html(r, &len, err, sizeof err);
    CHECK(html != NULL && len == strlen(html));
    if (!html) {
        fprintf(stderr, "  %s\n", err);
        goto out;
    }
    /* Nothing from the network, nothing from /assets/: the stylesheet and scripts are inline. */
    CHECK(strstr(html, "/assets/") == NULL);
    CHECK(count(html, "://") == count(html, "\"http://www.w3.org/2000/svg\"")); /* only SVG's namespace */
    CHECK(count(html, "<style>") == 1);
    CHECK(count(html, "<script") == 2); /* the data element and one script */
    /* The evil prompt did not make it through as markup. */
    CHECK(strstr(html, "<script>alert") == NULL && strstr(html, "</title><b>") == NULL);
    CHECK(strstr(html, "\\u003c/script>\\u003cscript>alert(1)") != NULL);

    /* The data parses back to what was given. */
    char *data = between(html, "<script type=\"application/json\" id=\"llmaj-data\">", "</script>");
    cJSON *d = data ? cJSON_Parse(data) : NULL;
    CHECK(d != NULL);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "job"), "name")), "</title><b>x");
    const cJSON *recs = cJSON_GetObjectItem(d, "records");
    CHECK(cJSON_GetArraySize(recs) == 2);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(recs, 0), "prompt")), evil_prompt);
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(d, "records_total")) == 40);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "summary"), "job_id")), "j-1");

    /* The policy names exactly the inlined script and style. */
    char *csp = between(html, "<meta http-equiv=\"Content-Security-Policy\" content=\"", "\">");
    char *js = between(html, "</script>\n<script>", "</script>");
    char *css = between(html, "<style>", "</style>");
    CHECK(csp && js && css);
    if (csp && js && css) {
        char hj[64], hc[64];
        hash_b64(js, hj);
        hash_b64(css, hc);
        CHECK_HAS(csp, hj);
        CHECK_HAS(csp, hc);
        CHECK_HAS(csp, "default-src 'none'");
        CHECK(strstr(csp, "unsafe") == NULL && strstr(csp, "connect-src") == NULL);
        /* Every script of the page, in order. */
        const char *c = strstr(js, "window.LLMAJ.charts = "), *v = strstr(js, "window.LLMAJ.viewer = ");
        CHECK(c && v && c < v);
    }
    CHECK(strstr(html, "<meta charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy\"") != NULL);
    free(csp);
    free(js);
    free(css);
    cJSON_Delete(d);
    free(data);
    free(html);
out:
    free(line);
    free(nl);
    cJSON_Delete(row);
    cJSON_Delete(job);
    cJSON_Delete(summary);
    webreport_destroy(&r);
    CHECK(r == NULL);
    webreport_destroy(&r); /* NULL is fine */
}

static void test_empty(void)
{
    webreport_t *r = webreport_new();
    char err[256];
    char *html = webreport_html(r, NULL, err, sizeof err);
    CHECK(html != NULL);
    char *data = html ? between(html, "id=\"llmaj-data\">", "</script>") : NULL;
    CHECK_STR(data, "{\"job\":{},\"summary\":null,\"records\":[],\"records_total\":0}");
    free(data);
    free(html);

    /* The summary's numbers read back as the same doubles (cJSON's own printer would write the
     * next double above 0.4875 as 0.4875, a different double). */
    cJSON *sum = cJSON_CreateObject();
    double up = nextafter(0.4875, 1.0);
    cJSON_AddNumberToObject(sum, "m", up);
    webreport_set_summary(r, sum);
    cJSON_Delete(sum);
    html = webreport_html(r, NULL, err, sizeof err);
    data = html ? between(html, "id=\"llmaj-data\">", "</script>") : NULL;
    cJSON *d = data ? cJSON_Parse(data) : NULL;
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "summary"), "m")) == up);
    cJSON_Delete(d);
    free(data);
    free(html);
    webreport_destroy(&r);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void test_load_records(void)
{
    char dir[] = "/tmp/test_webreport.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char err[512] = "", path[512];
    snprintf(path, sizeof path, "%s/records.jsonl", dir);

    /* No records.jsonl (a job that failed before writing it): no rows, not an error. */
    webreport_t *r = webreport_new();
    uint64_t bad = 9;
    CHECK(webreport_load_records(r, path, 0, &bad, err, sizeof err) == 0);
    CHECK(bad == 0 && webreport_records(r) == 0);
    webreport_destroy(&r);

    /* A folder where the file should be: an error naming it. */
    CHECK(mkdir(path, 0700) == 0);
    r = webreport_new();
    CHECK(webreport_load_records(r, path, 0, NULL, err, sizeof err) == -1);
    CHECK_HAS(err, path);
    webreport_destroy(&r);
    CHECK(rmdir(path) == 0);

    /* The job from job.json's object, the rows from the file. */
    write_file(dir, "records.jsonl", "{\"record_index\":0}\n\n{\"record_index\":1}\nnot json\n{\"record_index\":2}\n");
    cJSON *jj = cJSON_Parse(
        "{\"job_id\":\"j-9\",\"status\":\"succeeded\",\"started_at\":\"2026-01-01T00:00:00Z\","
        "\"finished_at\":\"2026-01-01T00:01:00Z\",\"elapsed_s\":60,\"estimated_cost_usd\":null,"
        "\"spec\":{\"name\":\"nine\",\"model\":\"m\",\"base_model\":\"b\",\"evaluate_base_model\":false,"
        "\"evaluator_model\":\"judge\"}}");
    cJSON *jo = webreport_job_from_file(jj);
    cJSON_Delete(jj);
    r = webreport_new();
    webreport_set_job(r, jo);
    cJSON_Delete(jo);
    CHECK(webreport_load_records(r, path, 0, &bad, err, sizeof err) == 0);
    CHECK(bad == 1 && webreport_records(r) == 3);
    char *html = webreport_html(r, NULL, err, sizeof err);
    char *data = html ? between(html, "id=\"llmaj-data\">", "</script>") : NULL;
    cJSON *d = data ? cJSON_Parse(data) : NULL;
    const cJSON *job = cJSON_GetObjectItem(d, "job");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(job, "job_id")), "j-9");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(job, "name")), "nine");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(job, "ended_at")), "2026-01-01T00:01:00Z");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(job, "evaluator_model")), "judge");
    CHECK(cJSON_GetObjectItem(job, "base_model") == NULL);         /* not evaluated */
    CHECK(cJSON_GetObjectItem(job, "estimated_cost_usd") == NULL); /* null: unknown */
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(d, "summary")));
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(d, "records_total")) == 4); /* blank lines are not rows */
    cJSON_Delete(d);
    free(data);
    free(html);
    webreport_destroy(&r);

    /* At most max_rows rows; the total still counts them all. */
    r = webreport_new();
    CHECK(webreport_load_records(r, path, 2, NULL, err, sizeof err) == 0);
    CHECK(webreport_records(r) == 2);
    html = webreport_html(r, NULL, err, sizeof err);
    CHECK(html && strstr(html, "\"records_total\":4}") != NULL);
    free(html);
    webreport_destroy(&r);
    CHECK(remove(path) == 0);
    CHECK(rmdir(dir) == 0);
}

int main(void)
{
    test_page();
    test_empty();
    test_load_records();
    return check_summary("test_webreport");
}
