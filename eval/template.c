/* template: `{{name}}` placeholders; see template.h. */
#include "template.h"
#include "buf.h"
#include "mem.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const known_names[] = {"prompt", "prediction", "ground_truth", "context"};
#define N_KNOWN (sizeof(known_names) / sizeof(known_names[0]))

/* A template may name at most this many distinct unknown variables in one error message; the
 * rest are counted. */
#define MAX_REPORTED 16

const char *const *template_known_names(size_t *n)
{
    if (n) *n = N_KNOWN;
    return known_names;
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
static bool is_name_start(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
static bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }

typedef struct {
    const char *start; /* the first '{' */
    const char *end;   /* one past the last '}' */
    const char *name;
    size_t name_len;
} placeholder_t;

/* Finds the next placeholder at or after `s`. Returns false when there is none. */
static bool next_placeholder(const char *s, placeholder_t *ph)
{
    for (const char *p = strstr(s, "{{"); p; p = strstr(p + 1, "{{")) {
        const char *q = p + 2;
        while (is_space(*q)) q++;
        if (!is_name_start(*q)) continue;
        const char *name = q;
        while (is_name_char(*q)) q++;
        size_t name_len = (size_t)(q - name);
        while (is_space(*q)) q++;
        if (q[0] != '}' || q[1] != '}') continue;
        ph->start = p;
        ph->end = q + 2;
        ph->name = name;
        ph->name_len = name_len;
        return true;
    }
    return false;
}

static bool name_is(const placeholder_t *ph, const char *name)
{
    return strlen(name) == ph->name_len && memcmp(ph->name, name, ph->name_len) == 0;
}

char *template_render(const char *tmpl, const template_var_t *vars, size_t n)
{
    buf_t out;
    buf_init(&out, 0);
    int rc = 0;
    const char *s = tmpl ? tmpl : "";
    placeholder_t ph;
    while (next_placeholder(s, &ph)) {
        const template_var_t *v = NULL;
        for (size_t i = 0; i < n && !v; i++)
            if (vars[i].name && name_is(&ph, vars[i].name)) v = &vars[i];
        if (v) {
            rc |= buf_append(&out, s, (size_t)(ph.start - s));
            if (v->value) rc |= buf_puts(&out, v->value);
        } else {
            rc |= buf_append(&out, s, (size_t)(ph.end - s)); /* unknown: left as it is */
        }
        s = ph.end;
    }
    rc |= buf_puts(&out, s);
    (void)rc; /* an unlimited buffer cannot refuse an append; out-of-memory aborts in mem.c */
    return buf_take(&out);
}

int template_uses(const char *tmpl, const char *name)
{
    placeholder_t ph;
    for (const char *s = tmpl ? tmpl : ""; next_placeholder(s, &ph); s = ph.end)
        if (name_is(&ph, name)) return 1;
    return 0;
}

static bool known(const placeholder_t *ph, const char **case_hint)
{
    *case_hint = NULL;
    for (size_t i = 0; i < N_KNOWN; i++) {
        if (name_is(ph, known_names[i])) return true;
        if (strlen(known_names[i]) == ph->name_len && strncasecmp(ph->name, known_names[i], ph->name_len) == 0)
            *case_hint = known_names[i];
    }
    return false;
}

int template_check(const char *tmpl, char *err, size_t errlen)
{
    placeholder_t seen[MAX_REPORTED];
    size_t n_seen = 0, n_more = 0;
    buf_t msg;
    buf_init(&msg, 0);
    int rc = 0;
    placeholder_t ph;
    for (const char *s = tmpl ? tmpl : ""; next_placeholder(s, &ph); s = ph.end) {
        const char *hint;
        if (known(&ph, &hint)) continue;
        bool dup = false;
        for (size_t i = 0; i < n_seen && !dup; i++)
            dup = seen[i].name_len == ph.name_len && memcmp(seen[i].name, ph.name, ph.name_len) == 0;
        if (dup) continue;
        if (n_seen == MAX_REPORTED) {
            n_more++;
            continue;
        }
        rc |= buf_printf(&msg, "%s{{%.*s}}", n_seen ? ", " : "", (int)ph.name_len, ph.name);
        if (hint) rc |= buf_printf(&msg, " (did you mean {{%s}}?)", hint);
        seen[n_seen++] = ph;
    }
    if (n_seen == 0) {
        buf_free(&msg);
        if (err && errlen) err[0] = '\0';
        return 0;
    }
    if (n_more) rc |= buf_printf(&msg, " and %zu more", n_more);
    (void)rc; /* unlimited buffer: appends cannot fail */
    if (err && errlen) {
        snprintf(err, errlen,
                 "unknown template variable%s %s; the variables are {{prompt}}, {{prediction}}, "
                 "{{ground_truth}} and {{context}}",
                 n_seen + n_more > 1 ? "s" : "", msg.data);
    }
    buf_free(&msg);
    return -1;
}
