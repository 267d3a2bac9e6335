/* summtab: summary.json as the tables people read at the end of a run (`llmaj run`, `llmaj wait`,
 * `llmaj-scheduler --spec`): per target, one line per metric with its mean of normalized scores,
 * mean raw score, 95% interval and the counts behind them (n scored, unscored, not applicable,
 * errors: the four add up to the records evaluated); then, with a base model, the comparison.
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

static void print_metrics(FILE *f, const cJSON *metrics)
{
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
        fprintf(f, "  %-28.28s %7s %10s %17s %7.0f %9.0f %7.0f %7.0f\n", m->string, smean, sscore, sci,
                num(m, "n", &ok), num(m, "n_unscored", &ok), num(m, "n_not_applicable", &ok), num(m, "n_error", &ok));
        const cJSON *ratings = cJSON_GetObjectItemCaseSensitive(m, "ratings");
        if (!ok_mean && cJSON_IsObject(ratings)) {
            fprintf(f, "  %-28s", "");
            for (const cJSON *r = ratings->child; r; r = r->next) fprintf(f, " %s: %.0f", r->string, r->valuedouble);
            fputc('\n', f);
        }
    }
}

void sched_summary_print(FILE *f, const cJSON *summary)
{
    const cJSON *targets = cJSON_GetObjectItemCaseSensitive(summary, "targets");
    for (const cJSON *t = targets ? targets->child : NULL; t; t = t->next) {
        const cJSON *model = cJSON_GetObjectItemCaseSensitive(t, "model");
        fprintf(f, "\n%s model: %s\n", t->string, cJSON_IsString(model) ? model->valuestring : "?");
        print_metrics(f, cJSON_GetObjectItemCaseSensitive(t, "metrics"));
    }
    const cJSON *cmp = cJSON_GetObjectItemCaseSensitive(summary, "comparison");
    if (cJSON_IsObject(cmp) && cmp->child) {
        fprintf(f, "\ncustom vs base (positive = custom better)\n");
        fprintf(f, "  %-28s %9s %17s %6s %6s %6s %8s\n", "metric", "mean diff", "95% CI", "wins", "ties", "losses", "win rate");
        for (const cJSON *m = cmp->child; m; m = m->next) {
            bool ok, okd, okw;
            double d = num(m, "mean_diff", &okd), wr = num(m, "win_rate", &okw);
            char sd[16] = "-", sci[32] = "-", swr[16] = "-";
            if (okd) snprintf(sd, sizeof sd, "%+.3f", fabs(d) < 0.0005 ? 0.0 : d);   /* no "-0.000" */
            if (okw) snprintf(swr, sizeof swr, "%.1f%%", wr * 100);
            const cJSON *ci = cJSON_GetObjectItemCaseSensitive(m, "ci95");
            if (cJSON_IsArray(ci) && cJSON_GetArraySize(ci) == 2 && cJSON_IsNumber(cJSON_GetArrayItem(ci, 0)))
                snprintf(sci, sizeof sci, "[%+.3f, %+.3f]", cJSON_GetArrayItem(ci, 0)->valuedouble,
                         cJSON_GetArrayItem(ci, 1)->valuedouble);
            fprintf(f, "  %-28.28s %9s %17s %6.0f %6.0f %6.0f %8s\n", m->string, sd, sci, num(m, "wins", &ok),
                    num(m, "ties", &ok), num(m, "losses", &ok), swr);
        }
    }
    const cJSON *partial = cJSON_GetObjectItemCaseSensitive(summary, "partial");
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(summary, "status");
    if (cJSON_IsTrue(partial))
        fprintf(f, "\npartial: the job %s before every record was evaluated; these figures cover what was committed\n",
                cJSON_IsString(status) ? status->valuestring : "ended");
    fputc('\n', f);
}
