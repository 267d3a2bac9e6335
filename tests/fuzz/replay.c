/* replay: the driver that stands in for libFuzzer in the normal test run. It feeds every file
 * named on the command line, and every regular file of every folder named (in name order), to
 * the target's LLVMFuzzerTestOneInput, once each, in a buffer of exactly the file's size so that
 * AddressSanitizer sees any read past the end. A crash or a failed property aborts (the test
 * fails, naming the file on the line before); otherwise it prints how many inputs ran.
 *
 *   build-asan/tests/fuzz_wire tests/fuzz/corpus/wire         (what ctest runs)
 *   build-asan/tests/fuzz_wire crash-0123abcd                 (one input, e.g. a crasher) */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

/* Reads a whole file into a buffer of exactly its size (NULL for an empty file). -1 on error. */
static int read_exact(const char *path, uint8_t **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    uint8_t *data = NULL;
    size_t n = 0;
    uint8_t chunk[65536];
    size_t r;
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0) {
        uint8_t *grown = realloc(data, n + r);
        if (!grown) {
            free(data);
            fclose(f);
            fprintf(stderr, "replay: out of memory reading %s\n", path);
            return -1;
        }
        data = grown;
        memcpy(data + n, chunk, r);
        n += r;
    }
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        free(data);
        fprintf(stderr, "replay: cannot read %s\n", path);
        return -1;
    }
    *out = data;
    *len = n;
    return 0;
}

static int run_file(const char *path)
{
    uint8_t *data = NULL;
    size_t len = 0;
    if (read_exact(path, &data, &len) < 0) return -1;
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
    LLVMFuzzerTestOneInput(data, len);
    free(data);
    return 0;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Runs every regular file of dir in name order; adds to *count. -1 if the folder is unreadable
 * or empty (an empty corpus would make the test pass without testing anything). */
static int run_dir(const char *dir, size_t *count)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "replay: cannot open %s: %s\n", dir, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char **grown = realloc(names, (n + 1) * sizeof *names);
        char *name = strdup(e->d_name);
        if (!grown || !name) {
            free(name);
            free(grown ? grown : names);
            closedir(d);
            fprintf(stderr, "replay: out of memory listing %s\n", dir);
            return -1;
        }
        names = grown;
        names[n++] = name;
    }
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    int rc = 0;
    size_t ran = 0;
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (rc == 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            if (run_file(path) < 0) rc = -1;
            else ran++;
        }
        free(names[i]);
    }
    free(names);
    if (rc == 0 && ran == 0) {
        fprintf(stderr, "replay: %s holds no input\n", dir);
        rc = -1;
    }
    *count += ran;
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR|FILE...\n", argv[0]);
        return 2;
    }
    size_t count = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) < 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            return 1;
        }
        if (S_ISDIR(st.st_mode) ? run_dir(argv[i], &count) < 0 : run_file(argv[i]) < 0) return 1;
        if (!S_ISDIR(st.st_mode)) count++;
    }
    printf("%s: %zu inputs replayed, no crash\n", argv[0], count);
    return 0;
}
