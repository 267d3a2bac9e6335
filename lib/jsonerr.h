/* jsonerr: where a JSON text stops being valid, so that a message can point at it. Parses one
 * whole text (a value with nothing but blanks after it) and, on failure, gives the byte where
 * cJSON stopped, or where text follows a complete value; tells a text cut off early from one
 * whose last byte is wrong. Does not word the message: each caller says it its own way ("near
 * column 12" for a dataset line, "at line 3, column 5" for a spec file). */
#ifndef LLMAJ_JSONERR_H
#define LLMAJ_JSONERR_H
#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

typedef struct {
    size_t pos; /* byte offset of the problem, 0..len */
    bool after; /* a complete value was followed, at pos, by more than blanks */
} jsonerr_t;

/* Parses text[0..len) as one JSON value followed only by blanks (' ', '\t', '\r', '\n'; a NUL
 * ends the text). Returns the value (caller owns it, cJSON_Delete), or NULL with *err filled. */
cJSON *jsonerr_parse(const char *text, size_t len, jsonerr_t *err) __attribute__((warn_unused_result));

/* True when a failure of cJSON at pos on text[0..len) came from reaching the end of the text.
 * cJSON clamps an error past the end to the last byte, so a failure there is ambiguous: parsing
 * again with one more (blank) byte tells a cut-off text from a bad last byte. */
bool jsonerr_at_end(const char *text, size_t len, size_t pos);

#endif
