/* summtab: summary.json as the tables people read at the end of a run (`llmaj run`, `llmaj wait`,
 * `llmaj-scheduler --spec`): per target, one line per metric with its mean of normalized scores,
 * mean raw score, 95% interval and the counts behind them (n scored, unscored, not applicable,
 * errors: the four add up to the records evaluated; a metric where a lower rating is better is
 * starred); then, with a base model, the comparison, signs oriented so that positive is better.
 * A partial summary (a stopped job) says so under the tables. Reads the summary object only. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>

#include "scheduler.h"

static double num(const cJSON *o, const char *k, bool *ok)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    *ok = cJSON_IsNumber(v);
    return *ok ? v->valuedouble : 0;
}

static bool lower_is_better(const cJSON *m)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "lower_is_better"));
}

/* A metric's name as the tables show it, cut to the column's 28 characters: with a '*' at its
 * end (inside the 28) when a lower rating is better. */
static void metric_cell(char *out, size_t n, const cJSON *m)
{
    bool star = lower_is_better(m);
    snprintf(out, n, "%.*s%s", star ? 27 : 28, m->string ? m->string : "?", star ? "*" : "");
}

static bool print_metrics(FILE *f, const cJSON *metrics)
{
    bool starred = false;
    fprintf(f, "  %-28s %7s %10s %17s %7s %9s %7s %7s\n", "metric", "mean", "mean score", "95% CI", "n", "unscored",
            "n/a", "errors");
    for (const cJSON *m = metrics ? metrics->child : NULL; m; m = m->next) {
        bool ok_mean, ok_score, ok;
        double mean = num(m, "mean", &ok_mean), ms = num(m, "mean_score", &ok_score);
        char smean[16] = "-", sscore[16] = "-", sci[32] = "-";
        if (ok_mean) snprintf(smean, sizeof smean, "%.3f", mean);
        if (ok_score) snprintf(sscore, sizeof sscore, "%.3f", ms);
        const cJSON *ci = cJSON_GetObjectItemCaseSensitive(m, "ci95");
        if (cJSON_IsArray(ci) && cJSON_GetArraySize(ci) == 2 && cJSON_IsNumber(cJSON_GetArrayItem(ci, 0)))
            snprintf(sci, sizeof sci, "[%.3f, %.3f]", cJSON_GetArrayItem(ci, 0)->valuedouble,
                     cJSON_GetArrayItem(ci, 1)->valuedouble);
        char name[32];
        metric_cell(name, sizeof name, m);
        starred |= lower_is_better(m);
        fprintf(f, "  %-28.28s %7s %10s %17s %7.0f %9.0f %7.0f %7.0f\n", name, smean, sscore, sci, num(m, "n", &ok),
                num(m, "n_unscored", &ok), num(m, "n_not_applicable", &ok), num(m, "n_error", &ok));
        const cJSON *ratings = cJSON_GetObjectItemCaseSensitive(m, "ratings");
        if (!ok_mean && cJSON_IsObject(ratings)) {
            fprintf(f, "  %-28s", "");
            for (const cJSON *r = ratings->child; r; r = r->next) fprintf(f, " %s: %.0f", r->string, r->valuedouble);
            fputc('\n', f);
        }
    }
    return starred;
}

/* A difference with its sign and 3 decimals; what rounds to zero is "+0.000", never "-0.000"
 * (the viewer's sgn3 shows the same). */
static void signed3(char *out, size_t n, double v) { snprintf(out, n, "%+.3f", fabs(v) < 0.0005 ? 0.0 : v); }

void sched_summary_print(FILE *f, const cJSON *summary)
{
    const cJSON *targets = cJSON_GetObjectItemCaseSensitive(summary, "targets");
    bool starred = false;
    for (const cJSON *t = targets ? targets->child : NULL; t; t = t->next) {
        const cJSON *model = cJSON_GetObjectItemCaseSensitive(t, "model");
        fprintf(f, "\n%s model: %s\n", t->string, cJSON_IsString(model) ? model->valuestring : "?");
        starred |= print_metrics(f, cJSON_GetObjectItemCaseSensitive(t, "metrics"));
    }
    const cJSON *cmp = cJSON_GetObjectItemCaseSensitive(summary, "comparison");
    if (cJSON_IsObject(cmp) && cmp->child) {
        fprintf(f, "\ncustom vs base (positive = custom better%s)\n",
                starred ? "; for * metrics lower ratings are better, and the sign is flipped to match" : "");
        fprintf(f, "  %-28s %9s %17s %6s %6s %6s %8s\n", "metric", "mean diff", "95% CI", "wins", "ties", "losses",
                "win rate");
        for (const cJSON *m = cmp->child; m; m = m->next) {
            bool ok, okd, okw;
            double d = num(m, "mean_diff", &okd), wr = num(m, "win_rate", &okw);
            char sd[16] = "-", sci[40] = "-", swr[16] = "-";
            if (okd) signed3(sd, sizeof sd, d);
            if (okw) snprintf(swr, sizeof swr, "%.1f%%", wr * 100);
            const cJSON *ci = cJSON_GetObjectItemCaseSensitive(m, "ci95");
            if (cJSON_IsArray(ci) && cJSON_GetArraySize(ci) == 2 && cJSON_IsNumber(cJSON_GetArrayItem(ci, 0))) {
                char lo[16], hi[16];
                signed3(lo, sizeof lo, cJSON_GetArrayItem(ci, 0)->valuedouble);
                signed3(hi, sizeof hi, cJSON_GetArrayItem(ci, 1)->valuedouble);
                snprintf(sci, sizeof sci, "[%s, %s]", lo, hi);
            }
            char name[32];
            metric_cell(name, sizeof name, m);
            fprintf(f, "  %-28.28s %9s %17s %6.0f %6.0f %6.0f %8s\n", name, sd, sci, num(m, "wins", &ok),
                    num(m, "ties", &ok), num(m, "losses", &ok), swr);
        }
    } else if (starred) {
        fprintf(f, "\n* lower is better\n");
    }
    const cJSON *partial = cJSON_GetObjectItemCaseSensitive(summary, "partial");
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(summary, "status");
    if (cJSON_IsTrue(partial))
        fprintf(f, "\npartial: the job %s before every record was evaluated; these figures cover what was committed\n",
                cJSON_IsString(status) ? status->valuestring : "ended");
    fputc('\n', f);
}
