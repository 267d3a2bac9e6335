/* fuzz_awsxml: AWS XML replies (S3 errors and listings, STS credentials, multipart upload ids)
 * through aws/awsxml.c, the reader the S3 and STS clients trust with what a server sends.
 *
 * Properties: lookups never read past the input (ASan watches a copy of exactly its size); an
 * element found lies inside the input; walking a repeated element always moves forward and ends;
 * decoded text has no '<' that the input did not escape, and escaping it then decoding gives it
 * back. Seeds: corpus/awsxml (replies of S3, STS and the SageMaker-shaped errors). */
#include <stdlib.h>
#include <string.h>

#include "awsxml.h"
#include "buf.h"
#include "fuzz.h"

static const char *const names[] = {
    "Code",  "Message", "Contents", "Key", "Credentials", "AccessKeyId", "UploadId", "Error", "NextContinuationToken",
    "Region"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *x = malloc(size ? size : 1);
    FUZZ_ASSERT(x != NULL);
    if (size) memcpy(x, data, size);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        awsxml_span_t sp;
        if (awsxml_find(x, size, names[i], &sp)) FUZZ_ASSERT(sp.p >= x && sp.p + sp.len <= x + size);
        size_t pos = 0, steps = 0;
        while (awsxml_next(x, size, names[i], &pos, &sp)) {
            FUZZ_ASSERT(sp.p >= x && sp.p + sp.len <= x + size && pos <= size);
            FUZZ_ASSERT(++steps <= size);
            char *t = awsxml_text(sp.p, sp.len, "Key");
            free(t);
        }
        char *t = awsxml_text(x, size, names[i]);
        if (t) {
            FUZZ_ASSERT(strchr(t, '<') == NULL || memchr(x, '&', size) != NULL);
            buf_t b;
            buf_init(&b, 0);
            FUZZ_ASSERT(awsxml_escape(&b, t) == 0);
            char *back = awsxml_decode(b.data ? b.data : "", b.len);
            FUZZ_ASSERT(back != NULL && strcmp(back, t) == 0);
            free(back);
            buf_free(&b);
            free(t);
        }
    }
    (void)awsxml_has_doctype(x, size);
    free(x);
    return 0;
}
