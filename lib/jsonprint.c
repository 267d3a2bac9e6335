/* jsonprint: JSON text with numbers that read back exactly; see jsonprint.h. */
#include "jsonprint.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int jsonprint_double(buf_t *b, double v)
{
    if (!isfinite(v)) return -1;
    char s[40];
    if (v == trunc(v) && fabs(v) < 1e15) { /* integral: its digits, no need to read it back */
        snprintf(s, sizeof s, "%.0f", v);
        return buf_puts(b, s);
    }
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(s, sizeof s, "%.*g", digits, v);
        if (strtod(s, NULL) == v) break; /* %.17g always reads back: the loop ends with it at worst */
    }
    return buf_puts(b, s);
}

static int put_tabs(buf_t *b, int n)
{
    int rc = 0;
    for (int i = 0; i < n; i++) rc |= buf_putc(b, '\t');
    return rc;
}

static int put_string(buf_t *b, const char *s) { return buf_json_str(b, s ? s : "", s ? strlen(s) : 0); }

/* `depth` is the nesting of the value's container, as cJSON counts it for indentation: every
 * object and array opens one level (an array's members sit on its line, but objects inside it
 * indent one level deeper). */
static int put_value(buf_t *b, const cJSON *j, bool pretty, int depth)
{
    int rc = 0;
    const cJSON *c;
    switch (j->type & 0xFF) {
    case cJSON_NULL: return buf_puts(b, "null");
    case cJSON_False: return buf_puts(b, "false");
    case cJSON_True: return buf_puts(b, "true");
    case cJSON_Number:
        if (!isfinite(j->valuedouble)) return buf_puts(b, "null");
        return jsonprint_double(b, j->valuedouble);
    case cJSON_String: return put_string(b, j->valuestring);
    case cJSON_Raw: return buf_puts(b, j->valuestring ? j->valuestring : "null");
    case cJSON_Array:
        rc |= buf_putc(b, '[');
        for (c = j->child; c; c = c->next) {
            rc |= put_value(b, c, pretty, depth + 1);
            if (c->next) rc |= buf_puts(b, pretty ? ", " : ",");
            if (rc) return -1;
        }
        return rc | buf_putc(b, ']');
    case cJSON_Object:
        rc |= buf_putc(b, '{');
        if (pretty) rc |= buf_putc(b, '\n');
        for (c = j->child; c; c = c->next) {
            if (pretty) rc |= put_tabs(b, depth + 1);
            rc |= put_string(b, c->string);
            rc |= buf_puts(b, pretty ? ":\t" : ":");
            rc |= put_value(b, c, pretty, depth + 1);
            if (c->next) rc |= buf_putc(b, ',');
            if (pretty) rc |= buf_putc(b, '\n');
            if (rc) return -1;
        }
        if (pretty) rc |= put_tabs(b, depth);
        return rc | buf_putc(b, '}');
    default: return buf_puts(b, "null"); /* cJSON_Invalid: not a value */
    }
}

int jsonprint_buf(buf_t *b, const cJSON *j, bool pretty)
{
    if (!j) return buf_puts(b, "null");
    return put_value(b, j, pretty, 0) ? -1 : 0;
}

char *jsonprint(const cJSON *j, bool pretty)
{
    buf_t b;
    buf_init(&b, 0);
    if (jsonprint_buf(&b, j, pretty) < 0) { /* an unlimited buffer cannot refuse an append */
        fprintf(stderr, "jsonprint: append refused by an unlimited buffer\n");
        abort();
    }
    return buf_take(&b);
}
