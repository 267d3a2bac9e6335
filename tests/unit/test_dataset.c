/* test_dataset: streaming JSONL/gzip reading, line rules, errors and the validator, on fixture
 * files written into a temporary directory. */
#include "dataset.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "check.h"
#include "testutil.h"

static char dir[256];

static char *path_of(const char *name)
{
    static char p[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof(p[k]), "%s/%s", dir, name);
    return p[k];
}

static void write_file(const char *name, const void *data, size_t n)
{
    FILE *f = fopen(path_of(name), "wb");
    if (!f || fwrite(data, 1, n, f) != n) {
        fprintf(stderr, "cannot write fixture %s\n", name);
        exit(2);
    }
    fclose(f);
}

static void write_text(const char *name, const char *s) { write_file(name, s, strlen(s)); }

static void write_gz(const char *name, const char *s, const char *mode)
{
    gzFile g = gzopen(path_of(name), mode);
    if (!g || gzwrite(g, s, (unsigned)strlen(s)) != (int)strlen(s)) {
        fprintf(stderr, "cannot write gzip fixture %s\n", name);
        exit(2);
    }
    gzclose(g);
}

static void *read_whole(const char *name, size_t *n)
{
    FILE *f = fopen(path_of(name), "rb");
    if (!f) exit(2);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *d = malloc((size_t)sz);
    if (fread(d, 1, (size_t)sz, f) != (size_t)sz) exit(2);
    fclose(f);
    *n = (size_t)sz;
    return d;
}

/* Reads every record; records[i] gets "index:prompt". Returns the last dataset_next code. */
static int read_all(const char *name, size_t max_line, errlist_t *errs, char out[][64], size_t *n, uint64_t *lines,
                    uint64_t *invalid)
{
    char err[512];
    dataset_t *d = dataset_open(path_of(name), max_line, err, sizeof(err));
    if (!d) {
        fprintf(stderr, "  open %s: %s\n", name, err);
        return -2;
    }
    record_t r;
    int rc;
    *n = 0;
    while ((rc = dataset_next(d, &r, errs)) == 1) {
        if (*n < 64) snprintf(out[*n], 64, "%llu:%s", (unsigned long long)r.index, r.prompt);
        (*n)++;
        record_clear(&r);
    }
    CHECK(dataset_next(d, &r, errs) == rc); /* sticky at the end */
    *lines = dataset_lines(d);
    *invalid = dataset_invalid(d);
    CHECK(strcmp(dataset_path(d), path_of(name)) == 0);
    dataset_close(&d);
    CHECK(d == NULL);
    return rc;
}

static const char *mixed = "\xef\xbb\xbf{\"prompt\":\"a\"}\r\n"   /* 1: BOM + CRLF -> index 0 */
                           "\n"                                   /* 2: blank */
                           "   \t \r\n"                           /* 3: blank */
                           "{\"prompt\": 1}\n"                    /* 4: invalid -> index 1 */
                           "{\"query\":\"b\",\"id\":7}\n"         /* 5: index 2 */
                           "{\"prompt\":\"\xc3\x28\"}\n"          /* 6: bad UTF-8 -> index 3 */
                           "not json\n"                           /* 7: index 4 */
                           "\r\n"                                 /* 8: blank */
                           "{\"prompt\":\"c \xf0\x9f\x98\x80\"}"; /* 9: no final newline, index 5 */

static void test_mixed(void)
{
    char recs[64][64];
    size_t n;
    uint64_t lines, invalid;
    errlist_t e;
    errlist_init(&e, 0);
    write_text("mixed.jsonl", mixed);
    CHECK(read_all("mixed.jsonl", 0, &e, recs, &n, &lines, &invalid) == 0);
    CHECK(n == 3);
    CHECK(strcmp(recs[0], "0:a") == 0);
    CHECK(strcmp(recs[1], "2:b") == 0);
    CHECK(strcmp(recs[2], "5:c \xf0\x9f\x98\x80") == 0);
    CHECK(lines == 6);
    CHECK(invalid == 3);
    CHECK(e.count == 3);
    char want[600];
    snprintf(want, sizeof(want), "%s:4: key `prompt` must be a string, got number", path_of("mixed.jsonl"));
    CHECK(errs_have(&e, want));
    snprintf(want, sizeof(want), "%s:6: not valid UTF-8 (byte 0xc3 at column 12)", path_of("mixed.jsonl"));
    CHECK(errs_have(&e, want));
    snprintf(want, sizeof(want), "%s:7: not valid JSON", path_of("mixed.jsonl"));
    CHECK(errs_have(&e, want));
    errlist_free(&e);

    /* the same bytes gzip-compressed, under a .gz name and under a .jsonl name (magic bytes) */
    const char *names[] = {"mixed.jsonl.gz", "mixed-gz.jsonl"};
    for (int i = 0; i < 2; i++) {
        errlist_init(&e, 0);
        write_gz(names[i], mixed, "wb9");
        CHECK(read_all(names[i], 0, &e, recs, &n, &lines, &invalid) == 0);
        CHECK(n == 3 && lines == 6 && invalid == 3 && e.count == 3);
        CHECK(n == 3 && strcmp(recs[1], "2:b") == 0);
        snprintf(want, sizeof(want), "%s:6: not valid UTF-8", path_of(names[i]));
        CHECK(errs_have(&e, want));
        errlist_free(&e);
    }
    /* plain text under a .gz name is read as it is */
    errlist_init(&e, 0);
    write_text("plain.gz", mixed);
    CHECK(read_all("plain.gz", 0, &e, recs, &n, &lines, &invalid) == 0);
    CHECK(n == 3 && lines == 6);
    errlist_free(&e);
    /* concatenated gzip members read as one stream */
    write_gz("multi.gz", "{\"prompt\":\"m1\"}\n", "wb");
    size_t n1;
    char *m1 = read_whole("multi.gz", &n1);
    write_gz("multi2.gz", "{\"prompt\":\"m2\"}\n", "wb");
    size_t n2;
    char *m2 = read_whole("multi2.gz", &n2);
    char *both = malloc(n1 + n2);
    memcpy(both, m1, n1);
    memcpy(both + n1, m2, n2);
    write_file("multi.gz", both, n1 + n2);
    free(m1);
    free(m2);
    free(both);
    errlist_init(&e, 0);
    CHECK(read_all("multi.gz", 0, &e, recs, &n, &lines, &invalid) == 0);
    CHECK(n == 2 && strcmp(recs[1], "1:m2") == 0 && e.count == 0);
    errlist_free(&e);
}

static void test_utf8(void)
{
    struct {
        const char *text;
        bool valid;
    } cases[] = {
        {"{\"prompt\":\"\xc2\xa9 \xe2\x82\xac \xf4\x8f\xbf\xbf\"}\n", true},
        {"{\"prompt\":\"\xc0\x80\"}\n", false},         /* overlong NUL */
        {"{\"prompt\":\"\xe0\x80\xaf\"}\n", false},     /* overlong 3-byte */
        {"{\"prompt\":\"\xed\xa0\x80\"}\n", false},     /* surrogate */
        {"{\"prompt\":\"\xf4\x90\x80\x80\"}\n", false}, /* > U+10FFFF */
        {"{\"prompt\":\"\xf5\x80\x80\x80\"}\n", false},
        {"{\"prompt\":\"\xff\"}\n", false},
        {"{\"prompt\":\"\x80\"}\n", false},      /* lone continuation */
        {"{\"prompt\":\"x\"}\xe2\x82\n", false}, /* cut short at the end of the line */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char recs[64][64];
        size_t n;
        uint64_t lines, invalid;
        errlist_t e;
        errlist_init(&e, 0);
        write_text("utf8.jsonl", cases[i].text);
        CHECK(read_all("utf8.jsonl", 0, &e, recs, &n, &lines, &invalid) == 0);
        if (cases[i].valid) CHECK(n == 1 && e.count == 0);
        else CHECK(n == 0 && invalid == 1 && errs_have(&e, ":1: not valid UTF-8"));
        errlist_free(&e);
    }
}

static void test_line_limit(void)
{
    char recs[64][64];
    size_t n;
    uint64_t lines, invalid;
    errlist_t e;
    /* limit 20: {"prompt":"abcdefgh"} is 21 bytes, {"prompt":"abcdefg"} is 20 */
    errlist_init(&e, 0);
    write_text("limit.jsonl", "{\"prompt\":\"abcdefg\"}\n{\"prompt\":\"abcdefgh\"}\n{\"prompt\":\"abcdefg\"}\r\n"
                              "                         \n{\"prompt\":\"z\"}");
    CHECK(read_all("limit.jsonl", 20, &e, recs, &n, &lines, &invalid) == 0);
    CHECK(n == 3 && lines == 4 && invalid == 1);
    CHECK(n == 3 && strcmp(recs[1], "2:abcdefg") == 0 && strcmp(recs[2], "3:z") == 0);
    char want[600];
    snprintf(want, sizeof(want), "%s:2: line is 21 bytes, longer than the limit of 20", path_of("limit.jsonl"));
    CHECK(e.count == 1 && errs_have(&e, want));
    errlist_free(&e);

    /* the default limit (8 MiB), with a line longer than a read chunk that is kept, and one that
     * is too long by one byte */
    size_t big = (size_t)8 << 20;
    char *buf = malloc(big + 64);
    size_t off = 0;
    off += (size_t)snprintf(buf, 64, "{\"prompt\":\"");
    size_t fill = big - off - 2; /* the line is exactly 8 MiB */
    memset(buf + off, 'x', fill);
    off += fill;
    memcpy(buf + off, "\"}\n", 3);
    off += 3;
    write_file("big.jsonl", buf, off);
    errlist_init(&e, 0);
    CHECK(read_all("big.jsonl", 0, &e, recs, &n, &lines, &invalid) == 0);
    CHECK(n == 1 && e.count == 0);
    errlist_free(&e);
    buf[off - 3] = 'x';
    memcpy(buf + off - 2, "\"}\n{\"prompt\":\"after\"}\n", 22);
    write_file("big2.jsonl", buf, off + 20);
    errlist_init(&e, 0);
    CHECK(read_all("big2.jsonl", 0, &e, recs, &n, &lines, &invalid) == 0);
    CHECK(n == 1 && strcmp(recs[0], "1:after") == 0 && invalid == 1);
    snprintf(want, sizeof(want), "%s:1: line is 8388609 bytes, longer than the limit of 8388608",
             path_of("big2.jsonl"));
    CHECK(errs_have(&e, want));
    errlist_free(&e);
    /* a huge whitespace-only line is blank, not too long */
    memset(buf, ' ', big + 10);
    buf[big + 10] = '\n';
    memcpy(buf + big + 11, "{\"prompt\":\"p\"}", 14);
    write_file("bigblank.jsonl", buf, big + 25);
    errlist_init(&e, 0);
    CHECK(read_all("bigblank.jsonl", 0, &e, recs, &n, &lines, &invalid) == 0);
    CHECK(n == 1 && strcmp(recs[0], "0:p") == 0 && lines == 1 && e.count == 0);
    errlist_free(&e);
    free(buf);
}

static void test_open_errors(void)
{
    char err[512];
    CHECK(dataset_open(path_of("missing.jsonl"), 0, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "missing.jsonl: cannot open: No such file or directory") != NULL);
    CHECK(dataset_open(dir, 0, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "is a directory") != NULL);
    CHECK(dataset_open("s3://bucket/data.jsonl", 0, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "s3://bucket/data.jsonl: a remote dataset is read through its stream") != NULL);
    CHECK(dataset_open("https://example.com/d.jsonl", 0, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "https://example.com/d.jsonl: a remote dataset is read through its stream") != NULL);
    CHECK(dataset_open("", 0, err, sizeof(err)) == NULL);
    if (geteuid() != 0) { /* root reads anything */
        write_text("noperm.jsonl", "{\"prompt\":\"p\"}\n");
        chmod(path_of("noperm.jsonl"), 0);
        CHECK(dataset_open(path_of("noperm.jsonl"), 0, err, sizeof(err)) == NULL);
        CHECK(strstr(err, "Permission denied") != NULL);
    }
    dataset_close(NULL);
}

/* Only regular files; a cap on their size; reading stops when asked to. */
static void test_bounds(void)
{
    char err[512];
    /* a named pipe is refused at once, without waiting for a writer */
    CHECK(mkfifo(path_of("pipe.jsonl"), 0600) == 0);
    CHECK(dataset_open(path_of("pipe.jsonl"), 0, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "pipe.jsonl: is a named pipe, not a regular file") != NULL);
    unlink(path_of("pipe.jsonl"));
    CHECK(dataset_open("/dev/zero", 0, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "/dev/zero: is a character device, not a regular file") != NULL);
    CHECK(dataset_open(dir, 0, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "is a directory, not a regular file") != NULL);

    /* the cap at open: the file's size against it */
    write_text("capped.jsonl", "{\"prompt\":\"a\"}\n{\"prompt\":\"b\"}\n"); /* 30 bytes */
    CHECK(dataset_open_capped(path_of("capped.jsonl"), 0, 29, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "capped.jsonl: the file is 30 bytes, larger than the cap of 29 bytes (dataset_max_bytes)"));
    dataset_t *d = dataset_open_capped(path_of("capped.jsonl"), 0, 30, err, sizeof(err));
    CHECK(d != NULL);
    dataset_close(&d);

    /* the cap while reading (a file that grew, a stream): the bytes from the source */
    errlist_t e;
    errlist_init(&e, 10);
    record_t r;
    d = dataset_open(path_of("capped.jsonl"), 0, err, sizeof(err));
    dataset_limit(d, 20, NULL);
    CHECK(dataset_next(d, &r, &e) == -1);
    CHECK(e.count == 1 && strstr(e.msgs[0], "capped.jsonl: larger than the cap of 20 bytes (dataset_max_bytes)"));
    CHECK(!dataset_interrupted(d));
    dataset_close(&d);
    errlist_free(&e);

    /* cancelled: the next read from the source fails, and says so */
    atomic_int cancel = 0;
    errlist_init(&e, 10);
    d = dataset_open(path_of("capped.jsonl"), 0, err, sizeof(err));
    dataset_limit(d, 0, &cancel);
    CHECK(dataset_next(d, &r, &e) == 1);
    record_clear(&r);
    atomic_store(&cancel, 1);
    CHECK(dataset_next(d, &r, &e) == 1); /* already read: the second line is in the buffer */
    record_clear(&r);
    CHECK(dataset_next(d, &r, &e) == -1); /* the end needs one more read: refused */
    CHECK(dataset_interrupted(d));
    CHECK(e.count == 1 && strstr(e.msgs[0], "capped.jsonl: interrupted after line 2"));
    dataset_close(&d);
    errlist_free(&e);
}

static void test_bad_gzip(void)
{
    /* a gzip file cut in the middle */
    char text[20000];
    size_t off = 0;
    for (int i = 0; i < 400; i++)
        off += (size_t)snprintf(text + off, sizeof(text) - off, "{\"prompt\":\"q%d %d\"}\n", i, i * 7919);
    write_gz("cut.gz", text, "wb");
    size_t n;
    char *gz = read_whole("cut.gz", &n);
    write_file("cut.gz", gz, n / 2);
    errlist_t e;
    errlist_init(&e, 0);
    char err[512];
    dataset_t *d = dataset_open(path_of("cut.gz"), 0, err, sizeof(err));
    CHECK(d != NULL);
    record_t r;
    int rc, got = 0;
    while ((rc = dataset_next(d, &r, &e)) == 1) {
        got++;
        record_clear(&r);
    }
    CHECK(rc == -1);
    CHECK(got < 400);
    CHECK(errs_have(&e, "truncated"));
    size_t before = e.count;
    CHECK(dataset_next(d, &r, &e) == -1); /* sticky, not reported twice */
    CHECK(e.count == before);
    dataset_close(&d);
    errlist_free(&e);

    /* a valid header followed by garbage */
    memset(gz + 10, 0xff, n - 10);
    write_file("garbage.gz", gz, n);
    free(gz);
    errlist_init(&e, 0);
    d = dataset_open(path_of("garbage.gz"), 0, err, sizeof(err));
    CHECK(d != NULL);
    CHECK(dataset_next(d, &r, &e) == -1);
    CHECK(errs_have(&e, "corrupt gzip data"));
    dataset_close(&d);
    errlist_free(&e);

    /* the validator reports an unreadable dataset as unusable */
    dataset_stats_t st;
    errlist_init(&e, 0);
    CHECK(dataset_validate(path_of("garbage.gz"), 0, &e, &st) == -1);
    CHECK(errs_have(&e, "garbage.gz"));
    errlist_free(&e);
}

static void test_validate(void)
{
    dataset_stats_t st;
    errlist_t e;
    errlist_init(&e, 20);
    char text[65536];
    size_t off = 0;
    for (int i = 0; i < 100; i++) {
        if (i % 10 == 3) {
            off += (size_t)snprintf(text + off, sizeof(text) - off, "{\"prompt\": %d}\n", i); /* invalid */
            continue;
        }
        off += (size_t)snprintf(text + off, sizeof(text) - off, "{\"prompt\":\"p%d\",\"category\":\"c%d\"%s%s%s}\n\n",
                                i, i % 4, i % 2 ? ",\"reference\":\"r\"" : "", i % 5 == 0 ? ",\"context\":\"ctx\"" : "",
                                i < 50 ? ",\"modelResponses\":[{\"response\":\"a\"},{\"response\":\"b\"}]" : "");
    }
    write_text("v.jsonl", text);
    CHECK(dataset_validate(path_of("v.jsonl"), 0, &e, &st) == 0);
    CHECK(st.lines == 100);
    CHECK(st.records == 90);
    CHECK(st.invalid == 10);
    CHECK(st.with_reference == 40); /* odd i, minus the invalid ones (3, 13, ..., 93) */
    CHECK(st.with_context == 20);
    CHECK(st.with_category == 90);
    CHECK(st.categories == 4);
    CHECK(st.with_responses == 45);
    CHECK(st.min_responses == 2);
    CHECK(e.count == 10);
    errlist_free(&e);

    /* more invalid lines than kept: the count goes on */
    off = 0;
    for (int i = 0; i < 50; i++) off += (size_t)snprintf(text + off, sizeof(text) - off, "{\"prompt\": %d}\n", i);
    off += (size_t)snprintf(text + off, sizeof(text) - off, "{\"prompt\": \"ok\"}\n");
    write_text("many-bad.jsonl", text);
    errlist_init(&e, 20);
    CHECK(dataset_validate(path_of("many-bad.jsonl"), 0, &e, &st) == 0);
    CHECK(st.invalid == 50 && st.records == 1 && e.count == 50 && e.n_kept == 20);
    CHECK(st.with_responses == 0 && st.min_responses == 0 && st.categories == 0);
    errlist_free(&e);

    errlist_init(&e, 0);
    write_text("empty.jsonl", "");
    CHECK(dataset_validate(path_of("empty.jsonl"), 0, &e, &st) == -1);
    CHECK(errs_have(&e, "no records"));
    errlist_free(&e);
    errlist_init(&e, 0);
    write_text("blank.jsonl", "\n  \n\r\n");
    CHECK(dataset_validate(path_of("blank.jsonl"), 0, &e, &st) == -1);
    CHECK(errs_have(&e, "no records") && st.lines == 0);
    errlist_free(&e);
    errlist_init(&e, 0);
    write_text("allbad.jsonl", "{}\n[]\n");
    CHECK(dataset_validate(path_of("allbad.jsonl"), 0, &e, &st) == -1);
    CHECK(errs_have(&e, "no valid record (all 2 lines are invalid)") && st.invalid == 2);
    errlist_free(&e);
    errlist_init(&e, 0);
    CHECK(dataset_validate(path_of("nope.jsonl"), 0, &e, &st) == -1);
    CHECK(errs_have(&e, "cannot open"));
    errlist_free(&e);

    /* many lines, across read chunks, gzip */
    size_t cap = 4 << 20;
    char *t = malloc(cap);
    off = 0;
    for (int i = 0; i < 50000; i++)
        off += (size_t)snprintf(t + off, cap - off, "{\"prompt\":\"question number %d\",\"id\":%d}\n", i, i);
    write_gz("many.jsonl.gz", t, "wb1");
    free(t);
    errlist_init(&e, 0);
    CHECK(dataset_validate(path_of("many.jsonl.gz"), 0, &e, &st) == 0);
    CHECK(st.records == 50000 && st.lines == 50000 && e.count == 0);
    errlist_free(&e);
}

static void cleanup(void)
{
    const char *names[] = {"mixed.jsonl",    "mixed.jsonl.gz", "mixed-gz.jsonl", "plain.gz",     "multi.gz",
                           "multi2.gz",      "utf8.jsonl",     "limit.jsonl",    "big.jsonl",    "big2.jsonl",
                           "bigblank.jsonl", "noperm.jsonl",   "cut.gz",         "garbage.gz",   "v.jsonl",
                           "many-bad.jsonl", "empty.jsonl",    "blank.jsonl",    "allbad.jsonl", "many.jsonl.gz"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) unlink(path_of(names[i]));
    rmdir(dir);
}

/* A source over bytes in memory that hands out at most `step` bytes a read, and fails at `fail_at`
 * (when not 0), the way a remote stream can. */
typedef struct {
    const char *data;
    size_t len, pos, step, fail_at;
    int *closed;
} mem_src_t;

static long mem_read(void *ctx, void *buf, size_t n, char *err, size_t errlen)
{
    mem_src_t *m = ctx;
    if (m->fail_at && m->pos >= m->fail_at) {
        snprintf(err, errlen, "s3://b/k: GetObject: connection reset");
        return -1;
    }
    size_t k = m->len - m->pos;
    if (k > n) k = n;
    if (k > m->step) k = m->step;
    memcpy(buf, m->data + m->pos, k);
    m->pos += k;
    return (long)k;
}

static void mem_close(void *ctx)
{
    mem_src_t *m = ctx;
    (*m->closed)++;
    free(m);
}

static dataset_t *open_mem(const char *data, size_t len, size_t step, size_t fail_at, int *closed)
{
    mem_src_t *m = calloc(1, sizeof(*m));
    *m = (mem_src_t){.data = data, .len = len, .step = step, .fail_at = fail_at, .closed = closed};
    char err[256];
    dataset_t *d = dataset_open_source("s3://b/k.jsonl.gz", (dataset_source_t){mem_read, mem_close, m}, 0, err,
                                       sizeof err);
    CHECK(d != NULL);
    return d;
}

static void test_source(void)
{
    /* gzip bytes fed one byte at a time, then in large reads: the same records, names in messages */
    const char *text = "{\"prompt\":\"a\"}\n\nnot json\n{\"prompt\":\"b\"}\r\n";
    write_gz("src.gz", text, "wb");
    size_t n = 0;
    char *gz = read_whole("src.gz", &n);
    size_t steps[] = {1, 3, 1 << 20};
    for (size_t k = 0; k < 3; k++) {
        int closed = 0;
        dataset_t *d = open_mem(gz, n, steps[k], 0, &closed);
        errlist_t e;
        errlist_init(&e, 0);
        record_t r;
        int got = 0, rc;
        while ((rc = dataset_next(d, &r, &e)) == 1) {
            got++;
            record_clear(&r);
        }
        CHECK(rc == 0 && got == 2 && dataset_lines(d) == 3 && dataset_invalid(d) == 1);
        CHECK(errs_have(&e, "s3://b/k.jsonl.gz:3:"));
        dataset_close(&d);
        CHECK(closed == 1);
        errlist_free(&e);
    }
    /* a source that fails midway: a read error naming the source, sticky */
    int closed = 0;
    dataset_t *d = open_mem(text, strlen(text), 4, 20, &closed);
    errlist_t e;
    errlist_init(&e, 0);
    record_t r;
    int rc;
    while ((rc = dataset_next(d, &r, &e)) == 1) record_clear(&r);
    CHECK(rc == -1 &&
          errs_have(&e, "s3://b/k.jsonl.gz: read error after line 2: s3://b/k: GetObject: connection reset"));
    CHECK(dataset_next(d, &r, &e) == -1 && e.count == 1);
    dataset_close(&d);
    CHECK(closed == 1);
    errlist_free(&e);
    /* a source without a read function is refused and still closed */
    char err[256];
    mem_src_t *m = calloc(1, sizeof(*m));
    m->closed = &closed;
    CHECK(dataset_open_source("x", (dataset_source_t){NULL, mem_close, m}, 0, err, sizeof err) == NULL);
    CHECK(closed == 2);
    free(gz);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/test_dataset.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }
    test_mixed();
    test_utf8();
    test_line_limit();
    test_open_errors();
    test_bounds();
    test_bad_gzip();
    test_validate();
    test_source();
    cleanup();
    return check_summary("test_dataset");
}
