/* fuzz.h: what every fuzz target of tests/fuzz/ shares. A target defines LLVMFuzzerTestOneInput
 * and nothing else; it is linked either with libFuzzer (clang, -DLLMAJ_FUZZ=ON) or with
 * replay.c, which runs the files of a corpus through it (the normal test run). See README.md.
 *
 * A target checks properties, not just "does not crash": FUZZ_ASSERT aborts with the file, line
 * and the property, so libFuzzer saves the input as a crasher and the replay test fails. */
#ifndef LLMAJ_TESTS_FUZZ_H
#define LLMAJ_TESTS_FUZZ_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(expr)                                                                    \
    do {                                                                                     \
        if (!(expr)) {                                                                       \
            fprintf(stderr, "%s:%d: fuzz property failed: %s\n", __FILE__, __LINE__, #expr); \
            abort();                                                                         \
        }                                                                                    \
    } while (0)

#endif
