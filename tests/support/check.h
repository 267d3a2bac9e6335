/* check.h: the unit tests' harness, header-only (no framework). A test program includes it once;
 * its counters belong to that program.
 *
 *   CHECK(expr)           counts a check; when expr is false, prints file:line and the expression
 *                         and counts a failure.
 *   CHECK_STR(got, want)  counts a check that two strings are equal (NULL equals nothing); on a
 *                         mismatch prints both, one line each or, for text with newlines, as blocks.
 *   CHECK_HAS(s, sub)     counts a check that s contains sub (NULL contains nothing).
 *   check_summary(name)   prints the last line, "name: N checks passed" on stdout or
 *                         "name: F of N checks failed" on stderr, and returns main's exit code.
 *
 * `checks` and `failures` may also be read (or `failures` bumped) by a test's own helpers. */
#ifndef LLMAJ_TESTS_CHECK_H
#define LLMAJ_TESTS_CHECK_H

#include <stdio.h>
#include <string.h>

static int checks, failures;

#define CHECK(expr)                                                                  \
    do {                                                                             \
        checks++;                                                                    \
        if (!(expr)) {                                                               \
            failures++;                                                              \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #expr); \
        }                                                                            \
    } while (0)

#define CHECK_STR(got, want) check_str_(__FILE__, __LINE__, #got, (got), (want))
#define CHECK_HAS(s, sub) check_has_(__FILE__, __LINE__, (s), (sub))

static inline void check_str_(const char *file, int line, const char *expr, const char *got, const char *want)
{
    checks++;
    if (got && want && strcmp(got, want) == 0) return;
    failures++;
    const char *g = got ? got : "(null)", *w = want ? want : "(null)";
    if (strchr(g, '\n') || strchr(w, '\n'))
        fprintf(stderr, "%s:%d: %s\n--- got:\n%s\n--- want:\n%s\n---\n", file, line, expr, g, w);
    else fprintf(stderr, "%s:%d: %s: got '%s', want '%s'\n", file, line, expr, g, w);
}

static inline void check_has_(const char *file, int line, const char *s, const char *sub)
{
    checks++;
    if (s && sub && strstr(s, sub)) return;
    failures++;
    fprintf(stderr, "%s:%d: '%s' does not contain '%s'\n", file, line, s ? s : "(null)", sub ? sub : "(null)");
}

static inline int check_summary(const char *name)
{
    if (failures) {
        fprintf(stderr, "%s: %d of %d checks failed\n", name, failures, checks);
        return 1;
    }
    printf("%s: %d checks passed\n", name, checks);
    return 0;
}

#endif
