/* template: the `{{name}}` placeholders of judge prompts (DESIGN.md "Metrics": {{prompt}},
 * {{prediction}}, {{ground_truth}}, {{context}}). Renders a template in one pass and checks a
 * user's template for unknown names. Knows nothing about metrics or models.
 *
 * A placeholder is `{{`, optional whitespace, a name of [A-Za-z_][A-Za-z0-9_]*, optional
 * whitespace, `}}`; names are case-sensitive. Anything else (`{{ }}`, `{{a b}}`, JSON braces) is
 * plain text. Rendering is a single pass: substituted values are never scanned again, so a model
 * response containing "{{ground_truth}}" cannot pull the reference into the prompt. */
#ifndef LLMAJ_TEMPLATE_H
#define LLMAJ_TEMPLATE_H
#include <stddef.h>

typedef struct {
    const char *name;  /* without braces: "prompt" */
    const char *value; /* NULL renders as empty text */
} template_var_t;

/* The variables a judge prompt may use, in DESIGN.md order: prompt, prediction, ground_truth,
 * context. `*n` receives the count. Static storage. */
const char *const *template_known_names(size_t *n);

/* `tmpl` with every placeholder whose name is in `vars` replaced by its value; placeholders of
 * other names are left as they are. Never NULL; caller owns the result. */
char *template_render(const char *tmpl, const template_var_t *vars, size_t n);

/* Checks that every placeholder in `tmpl` names a known variable. Returns 0 if so; otherwise -1
 * with a message in err naming each unknown variable once (with a hint when only the case is
 * wrong) and listing the known ones. err may be NULL. */
int template_check(const char *tmpl, char *err, size_t errlen) __attribute__((warn_unused_result));

/* 1 if `tmpl` has a placeholder named `name`, else 0. */
int template_uses(const char *tmpl, const char *name);

#endif
