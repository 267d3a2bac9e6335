/* sigv4_int: the helpers sigv4.c (signing) and sigv4_verify.c (verification) share, so that a
 * verifier canonicalises headers exactly as the signer does. Internal to those two files: no
 * other module includes it (the public API is sigv4.h). */
#ifndef LLMAJ_SIGV4_INT_H
#define LLMAJ_SIGV4_INT_H
#include <stddef.h>
#include <string.h>

#include "sigv4.h"

static inline int is_ws(unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* HTTP token characters (RFC 9110), used for header names and the method. */
static inline int is_tchar(unsigned char c)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return 1;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static inline int is_lower_hex64(const char *s)
{
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return s[64] == '\0';
}

/* snprintf into err when err is not NULL. */
void sigv4_seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A header value as SigV4 signs it: trimmed, every run of whitespace one space. Caller owns. */
char *sigv4_canon_value(const char *v);

/* True if header name h (surrounding blanks ignored) is name[0..nl), case-insensitively. */
int sigv4_name_is(const char *h, const char *name, size_t nl);

/* The index of the first header named `name`, or -1. */
long sigv4_find_header(const sigv4_header_t *h, size_t n, const char *name);

#endif
