/* jsonerr: locating where a JSON text stops being valid (see jsonerr.h). Owns the parse of a
 * whole text and the cut-off test; the wording of messages belongs to the callers (record.c,
 * spec.c). */
#include "jsonerr.h"
#include "mem.h"

#include <stdlib.h>
#include <string.h>

static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

cJSON *jsonerr_parse(const char *text, size_t len, jsonerr_t *err)
{
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!j) {
        err->pos = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
        err->after = false;
        return NULL;
    }
    size_t pos = end ? (size_t)(end - text) : len;
    while (pos < len && is_blank(text[pos])) pos++;
    if (pos < len && text[pos] != '\0') {
        err->pos = pos;
        err->after = true;
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

bool jsonerr_at_end(const char *text, size_t len, size_t pos)
{
    if (pos + 1 < len) return false;
    if (pos >= len) return true;
    char *copy = xmalloc(len + 1);
    memcpy(copy, text, len);
    copy[len] = ' ';
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(copy, len + 1, &end, 0);
    bool at_end = !j && end && (size_t)(end - copy) >= len;
    cJSON_Delete(j);
    free(copy);
    return at_end;
}
