/* test_template: {{name}} rendering (whitespace, unknown names, single pass) and checking. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template.h"
#include "check.h"

static const template_var_t vars[] = {
    {"prompt", "What is 2+2?"}, {"prediction", "4"}, {"ground_truth", "four"}, {"context", NULL}};
#define NV (sizeof(vars) / sizeof(vars[0]))

/* Renders and compares; frees. */
static int renders(const char *tmpl, const char *want)
{
    char *got = template_render(tmpl, vars, NV);
    int ok = got && strcmp(got, want) == 0;
    if (!ok) fprintf(stderr, "  render(\"%s\") = \"%s\", want \"%s\"\n", tmpl, got ? got : "(null)", want);
    free(got);
    return ok;
}

static void test_render(void)
{
    CHECK(renders("", ""));
    CHECK(renders("no variables here", "no variables here"));
    CHECK(renders("Q: {{prompt}} A: {{prediction}}", "Q: What is 2+2? A: 4"));
    CHECK(renders("{{ prompt }}|{{\tprediction\n}}|{{ground_truth   }}", "What is 2+2?|4|four"));
    CHECK(renders("[{{context}}]", "[]")); /* NULL value renders empty */
    CHECK(renders("{{unknown}} and {{ other_name }}", "{{unknown}} and {{ other_name }}"));
    CHECK(renders("{{Prompt}}", "{{Prompt}}")); /* names are case-sensitive */
    CHECK(renders("{{prompt}}{{prompt}}", "What is 2+2?What is 2+2?"));
    CHECK(renders("{{{prompt}}}", "{What is 2+2?}"));
    CHECK(renders("{{ }} {{}} {{a b}} {{1x}} {{prompt", "{{ }} {{}} {{a b}} {{1x}} {{prompt"));
    CHECK(renders("{\"json\": {\"nested\": 1}}", "{\"json\": {\"nested\": 1}}"));
    CHECK(renders("{{prompt}", "{{prompt}"));
    CHECK(renders("end {{prediction}}", "end 4"));

    /* Single pass: a value that looks like a placeholder is not expanded again. */
    const template_var_t inj[] = {{"prediction", "{{ground_truth}}"}, {"ground_truth", "SECRET"}};
    char *got = template_render("R: {{prediction}}", inj, 2);
    CHECK(strcmp(got, "R: {{ground_truth}}") == 0);
    free(got);

    /* NULL template and no variables. */
    got = template_render(NULL, NULL, 0);
    CHECK(got && got[0] == '\0');
    free(got);
    got = template_render("{{prompt}}", NULL, 0);
    CHECK(strcmp(got, "{{prompt}}") == 0);
    free(got);

    /* A large value is copied whole. */
    size_t big = 1 << 20;
    char *v = malloc(big + 1);
    memset(v, 'x', big);
    v[big] = '\0';
    const template_var_t bigv[] = {{"prediction", v}};
    got = template_render("<{{prediction}}>", bigv, 1);
    CHECK(strlen(got) == big + 2 && got[0] == '<' && got[big + 1] == '>');
    free(got);
    free(v);
}

static void test_check(void)
{
    char err[512];
    CHECK(template_check("Prompt: {{prompt}}\nResponse: {{ prediction }}\n{{ground_truth}} {{context}}", err,
                         sizeof(err)) == 0);
    CHECK(err[0] == '\0');
    CHECK(template_check("no variables", err, sizeof(err)) == 0);
    CHECK(template_check("{\"json\": 1} {{ }}", err, sizeof(err)) == 0);

    CHECK(template_check("Answer: {{answer}}", err, sizeof(err)) == -1);
    CHECK(strstr(err, "unknown template variable {{answer}}") != NULL);
    CHECK(strstr(err, "{{prompt}}") != NULL && strstr(err, "{{context}}") != NULL);

    /* Each unknown name once, with a case hint. */
    CHECK(template_check("{{foo}} {{Prompt}} {{foo}} {{ bar }}", err, sizeof(err)) == -1);
    CHECK(strstr(err, "variables {{foo}}, {{Prompt}} (did you mean {{prompt}}?), {{bar}}") != NULL);
    CHECK(strstr(err, "{{foo}}, {{Prompt}}") != NULL);
    char *second = strstr(err, "{{foo}}");
    CHECK(second && strstr(second + 1, "{{foo}}") == NULL);

    /* Many unknown names: counted beyond the first few. */
    char many[2048] = "";
    for (int i = 0; i < 40; i++) {
        char one[32];
        snprintf(one, sizeof(one), "{{v%d}} ", i);
        strncat(many, one, sizeof(many) - strlen(many) - 1);
    }
    CHECK(template_check(many, err, sizeof(err)) == -1);
    CHECK(strstr(err, "and 24 more") != NULL);

    /* A tiny error buffer is never overrun; NULL is accepted. */
    char tiny[8];
    CHECK(template_check("{{nope}}", tiny, sizeof(tiny)) == -1);
    CHECK(strlen(tiny) == 7);
    CHECK(template_check("{{nope}}", NULL, 0) == -1);

    CHECK(template_uses("a {{ prediction }} b", "prediction") == 1);
    CHECK(template_uses("a {{predictions}} b", "prediction") == 0);
    CHECK(template_uses(NULL, "prediction") == 0);

    size_t n = 0;
    const char *const *names = template_known_names(&n);
    CHECK(n == 4);
    CHECK(strcmp(names[0], "prompt") == 0 && strcmp(names[1], "prediction") == 0);
    CHECK(strcmp(names[2], "ground_truth") == 0 && strcmp(names[3], "context") == 0);
}

int main(void)
{
    test_render();
    test_check();
    return check_summary("test_template");
}
