/* test_file: whole-file reads (sizes at and past the cap, missing files with and without
 * FILE_MISSING_OK, folders, devices), folders with their parents, and atomic writes: the content
 * replaced whole, nothing changed and no temporary left when a write fails (a file-size limit
 * makes the disk "full") or is aborted. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "file.h"
#include "mem.h"
#include "check.h"

static char dir[64];

static char *at(const char *name) { return xasprintf("%s/%s", dir, name); }

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) exit(2);
    fputs(text, f);
    fclose(f);
}

static char *slurp(const char *path)
{
    char *s = NULL, err[256];
    if (file_read_all(path, 1 << 20, 0, &s, NULL, err, sizeof err) < 0) return NULL;
    return s;
}

/* Entries of dir whose name contains `part`. */
static int count_entries(const char *part)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        if (strstr(e->d_name, part)) n++;
    if (d) closedir(d);
    return n;
}

static void test_read(void)
{
    char err[512], *s = NULL;
    size_t len = 99;
    char *p = at("ten");
    put(p, "0123456789");
    CHECK(file_read_all(p, 10, 0, &s, &len, err, sizeof err) == 0);
    CHECK_STR(s, "0123456789");
    CHECK(len == 10 && s[10] == '\0');
    free(s);
    s = NULL;
    CHECK(file_read_all(p, 9, 0, &s, &len, err, sizeof err) == -1 && errno == EFBIG && s == NULL);
    CHECK_HAS(err, "is larger than the limit of 9 bytes");
    CHECK_HAS(err, p);
    free(p);

    p = at("empty");
    put(p, "");
    CHECK(file_read_all(p, 0, 0, &s, &len, err, sizeof err) == 0 && s && *s == '\0' && len == 0);
    free(s);
    free(p);

    p = at("missing");
    CHECK(file_read_all(p, 100, 0, &s, &len, err, sizeof err) == -1 && errno == ENOENT);
    CHECK_HAS(err, "cannot open `");
    CHECK_HAS(err, "missing`: No such file or directory");
    err[0] = '\0';
    CHECK(file_read_all(p, 100, FILE_MISSING_OK, &s, &len, err, sizeof err) == 0 && s == NULL && len == 0);
    CHECK(err[0] == '\0');
    free(p);
    /* A file in place of a folder of the path: also "missing". */
    p = at("ten/below");
    CHECK(file_read_all(p, 100, FILE_MISSING_OK, &s, &len, err, sizeof err) == 0 && s == NULL);
    free(p);

    CHECK(file_read_all(dir, 100, FILE_MISSING_OK, &s, &len, err, sizeof err) == -1 && errno == EISDIR);
    CHECK_HAS(err, "is a folder, not a file");

    /* Not a regular file: read up to the cap, then refused. */
    CHECK(file_read_all("/dev/zero", 100000, FILE_SECRET, &s, &len, err, sizeof err) == -1 && errno == EFBIG);
    CHECK(file_read_all("/dev/null", 100, 0, &s, &len, err, sizeof err) == 0 && len == 0 && s && !*s);
    free(s);

    /* Larger than the first guess: grows by doubling, secret or not. */
    p = at("big");
    FILE *f = fopen(p, "w");
    for (int i = 0; i < 100000; i++) fputc('a' + i % 26, f);
    fclose(f);
    for (unsigned flags = 0; flags <= FILE_SECRET; flags += FILE_SECRET) {
        CHECK(file_read_all(p, 100000, flags, &s, &len, err, sizeof err) == 0 && len == 100000);
        CHECK(s && s[0] == 'a' && s[99999] == 'a' + 99999 % 26 && s[100000] == '\0');
        free(s);
    }
    free(p);
}

static void test_mkdirs(void)
{
    char err[512];
    char *p = at("a/b/c/");
    CHECK(file_mkdirs(p, 0755, err, sizeof err) == 0);
    struct stat st;
    CHECK(stat(p, &st) == 0 && S_ISDIR(st.st_mode));
    CHECK(file_mkdirs(p, 0755, err, sizeof err) == 0); /* already there */
    free(p);

    p = at("a/file");
    put(p, "x");
    char *q = at("a/file/d");
    CHECK(file_mkdirs(q, 0755, err, sizeof err) == -1);
    CHECK_HAS(err, "cannot create folder");
    CHECK_HAS(err, "a/file");
    CHECK(file_mkdirs(p, 0755, err, sizeof err) == -1 && errno == ENOTDIR);
    CHECK_HAS(err, "a file of that name is in the way");
    free(q);
    free(p);
    CHECK(file_mkdirs("", 0755, err, sizeof err) == -1);
}

static void test_atomic(void)
{
    char err[512];
    char *p = at("out.json");
    CHECK(file_write_atomic(p, "first\n", 6, err, sizeof err) == 0);
    char *s = slurp(p);
    CHECK_STR(s, "first\n");
    free(s);
    CHECK(file_write_atomic(p, "second", 6, err, sizeof err) == 0);
    s = slurp(p);
    CHECK_STR(s, "second");
    free(s);
    CHECK(count_entries(".tmp-") == 0);

    /* Written in pieces, some larger than the buffer. */
    file_atomic_t *f = file_atomic_open(p, err, sizeof err);
    CHECK(f != NULL);
    size_t total = 0;
    char *chunk = xmalloc(200000);
    memset(chunk, 'z', 200000);
    for (int i = 0; i < 50; i++) {
        CHECK(file_atomic_write(f, "line\n", 5) == 0);
        total += 5;
    }
    CHECK(file_atomic_write(f, chunk, 200000) == 0);
    total += 200000;
    CHECK(count_entries(".tmp-") == 1);
    s = slurp(p);
    CHECK_STR(s, "second"); /* not replaced before the commit */
    free(s);
    CHECK(file_atomic_commit(&f, err, sizeof err) == 0 && f == NULL);
    struct stat st;
    CHECK(stat(p, &st) == 0 && (size_t)st.st_size == total);
    CHECK(count_entries(".tmp-") == 0);

    /* Aborted: the old file stays, the temporary goes. */
    f = file_atomic_open(p, err, sizeof err);
    CHECK(file_atomic_write(f, "never", 5) == 0);
    file_atomic_abort(&f);
    CHECK(f == NULL);
    file_atomic_abort(&f);
    CHECK(stat(p, &st) == 0 && (size_t)st.st_size == total);
    CHECK(count_entries(".tmp-") == 0);

    /* The disk "fills up" (a file-size limit): the write fails, commit says so, the old file is
     * untouched and no temporary is left. */
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 1000;
    signal(SIGXFSZ, SIG_IGN);
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    CHECK(file_write_atomic(p, chunk, 200000, err, sizeof err) == -1);
    CHECK_HAS(err, "cannot write ");
    CHECK_HAS(err, "out.json: File too large");
    f = file_atomic_open(p, err, sizeof err);
    int failed = 0;
    for (int i = 0; i < 100 && !failed; i++) failed = file_atomic_write(f, chunk, 20000) < 0;
    CHECK(failed);
    CHECK(file_atomic_commit(&f, err, sizeof err) == -1 && f == NULL);
    CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
    CHECK(stat(p, &st) == 0 && (size_t)st.st_size == total);
    CHECK(count_entries(".tmp-") == 0);
    free(chunk);

    /* A folder that does not exist: nothing to create the temporary in. */
    char *q = at("nope/out.json");
    CHECK(file_write_atomic(q, "x", 1, err, sizeof err) == -1);
    CHECK_HAS(err, "cannot create ");
    CHECK_HAS(err, "No such file or directory");
    free(q);
    free(p);
}

/* Temporaries of processes that are gone are removed; a live process's (ours) and other names stay. */
static void test_sweep(void)
{
    pid_t dead = fork();
    if (dead == 0) _exit(0);
    CHECK(dead > 0);
    int status;
    CHECK(waitpid(dead, &status, 0) == dead); /* reaped: no such process any more */
    char *target = at("sw.jsonl");
    char *gone = xasprintf("%s.tmp-%ld-3", target, (long)dead), *old = xasprintf("%s.tmp", target);
    char *live = xasprintf("%s.tmp-%ld-0", target, (long)getpid()), *other = at("sw.jsonl.tmpfoo");
    char *unrelated = at("other.jsonl.tmp");
    put(gone, "half");
    put(old, "half");
    put(live, "mine");
    put(other, "x");
    put(unrelated, "x");
    CHECK(file_atomic_sweep(target) == 2);
    CHECK(access(gone, F_OK) != 0 && access(old, F_OK) != 0);
    CHECK(access(live, F_OK) == 0 && access(other, F_OK) == 0 && access(unrelated, F_OK) == 0);
    CHECK(file_atomic_sweep(target) == 0);
    unlink(live);
    unlink(other);
    unlink(unrelated);
    free(gone);
    free(old);
    free(live);
    free(other);
    free(unrelated);
    free(target);

    uint64_t bytes = 0;
    char err[256];
    CHECK(file_free_space(dir, &bytes, err, sizeof err) == 0 && bytes > 0);
    char *missing = at("no/such/folder");
    CHECK(file_free_space(missing, &bytes, err, sizeof err) == -1);
    CHECK_HAS(err, "cannot read the free space of ");
    CHECK_HAS(err, "No such file or directory");
    free(missing);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/test_file.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }
    test_read();
    test_mkdirs();
    test_atomic();
    test_sweep();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return check_summary("test_file");
}
