/* awsxml: the little XML reading the AWS query and REST-XML replies need (STS credentials, S3
 * errors, ListObjectsV2 pages, multipart upload ids): find an element by name, take its text with
 * the five entities and numeric character references decoded, and walk repeated elements.
 *
 * Not a general XML parser: no DTDs (a reply with <!DOCTYPE is refused), no namespaces prefixes
 * (AWS sends a default namespace only), elements are matched by name wherever they are. Bounded
 * by the input: never reads past `len`. */
#ifndef LLMAJ_AWSXML_H
#define LLMAJ_AWSXML_H
#include <stdbool.h>
#include <stddef.h>

/* A piece of the input: the content between an element's start and end tags. */
typedef struct {
    const char *p;
    size_t len;
} awsxml_span_t;

/* The content of the first element called `name` in xml[0..len), into *out. True if found (an
 * empty element <name/> is found with len 0). */
bool awsxml_find(const char *xml, size_t len, const char *name, awsxml_span_t *out);

/* The next element called `name` at or after *pos (an offset into xml, updated past it). */
bool awsxml_next(const char *xml, size_t len, const char *name, size_t *pos, awsxml_span_t *out);

/* The decoded text of the first element `name`: caller owns (free); NULL when absent, or when it
 * holds a malformed entity or child elements. */
char *awsxml_text(const char *xml, size_t len, const char *name);

/* Decodes entities of s[0..n): caller owns; NULL when malformed. */
char *awsxml_decode(const char *s, size_t n);

/* Appends s with &, <, >, " and ' escaped (for request bodies). */
#include "buf.h"
int awsxml_escape(buf_t *b, const char *s) __attribute__((warn_unused_result));

/* True when the text declares a DOCTYPE (refused by callers: AWS never sends one). */
bool awsxml_has_doctype(const char *xml, size_t len);

#endif
