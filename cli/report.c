/* report: progress and summary tables; see report.h. */
#include "report.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

void report_progress_init(report_progress_t *r, FILE *f, bool quiet)
{
    memset(r, 0, sizeof(*r));
    r->f = f;
    r->quiet = quiet;
    r->tty = isatty(fileno(f)) != 0;
    r->last_line_s = -1e9;
}

/* "45s", "16m30s", "2h47m": rounded once, to the second (to the minute past an hour), so a
 * field never reads 60 ("59m60s"). */
static void fmt_eta(char *out, size_t n, double s)
{
    if (!isfinite(s) || s < 0 || s > 1e9) {
        snprintf(out, n, "--");
        return;
    }
    long long t = llround(s);
    if (t < 60) snprintf(out, n, "%llds", t);
    else if (t < 3600) snprintf(out, n, "%lldm%02llds", t / 60, t % 60);
    else snprintf(out, n, "%lldh%02lldm", (t + 30) / 3600, (t + 30) / 60 % 60);
}

void report_progress(const sched_progress_t *p, void *arg)
{
    report_progress_t *r = arg;
    if (r->quiet) return;
    double frac = p->units_total ? (double)p->units_done / (double)p->units_total : 0;
    double rate = p->elapsed_s > 0 ? p->units_done / p->elapsed_s : 0;
    char eta[32];
    fmt_eta(eta, sizeof eta, rate > 0 ? (p->units_total - p->units_done) / rate : -1);
    if (r->tty) {
        char bar[31];
        int filled = (int)(frac * 30);
        for (int i = 0; i < 30; i++) bar[i] = i < filled ? '#' : '.';
        bar[30] = '\0';
        fprintf(r->f, "\r\033[K[%s] %3.0f%% %llu/%llu  %.1f/s  ETA %s  workers %u  scores ok %llu unscored %llu errors %llu",
                bar, frac * 100, (unsigned long long)p->units_done, (unsigned long long)p->units_total, rate, eta,
                p->workers, (unsigned long long)p->scores_ok, (unsigned long long)p->scores_unscored,
                (unsigned long long)p->scores_error);
        fflush(r->f);
        r->drawn = true;
        return;
    }
    if (!p->finished && p->elapsed_s - r->last_line_s < 5) return;
    r->last_line_s = p->elapsed_s;
    fprintf(r->f, "progress: %llu/%llu (%.0f%%) record-targets, %.1f/s, shards %llu/%llu, scores ok %llu unscored %llu errors %llu%s\n",
            (unsigned long long)p->units_done, (unsigned long long)p->units_total, frac * 100, rate,
            (unsigned long long)p->shards_done, (unsigned long long)p->shards_total,
            (unsigned long long)p->scores_ok, (unsigned long long)p->scores_unscored,
            (unsigned long long)p->scores_error, p->finished ? " (done)" : "");
    fflush(r->f);
}

void report_progress_end(report_progress_t *r)
{
    if (r->drawn) fputc('\n', r->f);
    r->drawn = false;
}

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
    fprintf(f, "  %-28s %7s %10s %17s %7s %9s %7s\n", "metric", "mean", "mean score", "95% CI", "n", "unscored", "errors");
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
        fprintf(f, "  %-28.28s %7s %10s %17s %7.0f %9.0f %7.0f\n", name, smean, sscore, sci, num(m, "n", &ok),
                num(m, "n_unscored", &ok), num(m, "n_error", &ok));
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
static void signed3(char *out, size_t n, double v)
{
    snprintf(out, n, "%+.3f", fabs(v) < 0.0005 ? 0.0 : v);
}

void report_summary(FILE *f, const cJSON *summary)
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
        fprintf(f, "  %-28s %9s %17s %6s %6s %6s %8s\n", "metric", "mean diff", "95% CI", "wins", "ties", "losses", "win rate");
        for (const cJSON *m = cmp->child; m; m = m->next) {
            bool ok, okd, okw;
            double d = num(m, "mean_diff", &okd), wr = num(m, "win_rate", &okw);
            char sd[16] = "-", sci[40] = "-", swr[16] = "-";
            if (okd) signed3(sd, sizeof sd, d);
            if (okw) snprintf(swr, sizeof swr, "%.1f%%", wr * 100);
            const cJSON *ci = cJSON_GetObjectItemCaseSensitive(m, "ci95");
            if (cJSON_IsArray(ci) && cJSON_GetArraySize(ci) == 2 && cJSON_IsNumber(cJSON_GetArrayItem(ci, 0)))
            {
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
    fputc('\n', f);
}
