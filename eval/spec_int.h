/* spec_int: what spec.c and spec_read.c share, private to the spec module: the validation
 * context and the typed readers of spec keys, each adding its problem to the context's errlist
 * with the key it concerns. */
#ifndef LLMAJ_SPEC_INT_H
#define LLMAJ_SPEC_INT_H
#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "errlist.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

typedef struct {
    errlist_t *errs;
    const char *base_dir;
    const char *region; /* the spec's region once checked, for model strings */
} spec_ctx_t;

/* "0", "string \"64\"", "array": what a wrong value was, for messages ("got ..."). */
const char *spec_describe(const cJSON *v, char *buf, size_t n);
/* The closest of names[0..n) to s if it is close enough to be a typo, else NULL. */
const char *spec_closest(const char *s, const char *const *names, size_t n);
/* An unknown key: the problem, with the closest known name when one is near ("did you mean"). */
void spec_unknown_key(spec_ctx_t *c, const char *prefix, const char *key, const char *const *names, size_t n);
/* Every key of obj (under prefix) must be one of names[0..n). */
void spec_check_keys(spec_ctx_t *c, const cJSON *obj, const char *prefix, const char *const *names, size_t n);
/* The typed readers: obj's key (JSON null counts as absent), checked (a string of at most max
 * bytes, a boolean, an integer or a number in [lo, hi]) under the spec name `name`. */
const cJSON *spec_get(const cJSON *obj, const char *key);
const char *spec_get_str(spec_ctx_t *c, const cJSON *obj, const char *key, const char *name, size_t max);
void spec_get_bool(spec_ctx_t *c, const cJSON *obj, const char *key, bool *out, bool *given);
void spec_get_int(spec_ctx_t *c, const cJSON *obj, const char *key, const char *name, int lo, int hi, int *out);
bool spec_get_num(spec_ctx_t *c, const cJSON *obj, const char *key, const char *name, double lo, double hi,
                  double *out);

#endif
