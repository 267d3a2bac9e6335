/* stats: the statistics behind llmaj's summaries. Owns a numerically stable running
 * mean/variance accumulator (Welford, with Chan's merge), the Student-t quantile for any degrees
 * of freedom, and the t-intervals built on them. Pure arithmetic: no allocation, no I/O, no
 * knowledge of metrics or jobs (scheduler/aggregate.c applies these to scores).
 *
 * DESIGN: why llmaj's intervals are Student-t intervals.
 * Every `ci95` llmaj reports is a 95% two-sided Student-t confidence interval on a mean:
 *
 *     mean ± t(0.975, n−1) · s / √n        (s = sample standard deviation, n − 1 denominator)
 *
 * justified by the central limit theorem: a judge score is a bounded variable, so its sample mean
 * is close to normal for the sample sizes evaluations use, and the t quantile (rather than 1.96)
 * keeps the interval honest for small n. For means of normalized scores the interval is clipped
 * to the scale [0, 1] (a mean can never leave it); paired differences of normalized scores are
 * clipped to [−1, 1]. n = 1 gives the degenerate interval [mean, mean]; n = 0 gives none.
 * The comparison of two models uses the paired-difference interval: the t-interval of the
 * per-record differences, which removes the between-record variance both models share.
 *
 * We do not bootstrap: a bootstrap costs O(B·n) (B resamples, thousands, times millions of
 * records), and its result depends on the random generator and the resampling scheme, so another
 * implementation (an MLflow reader, a notebook, the Python SDK) cannot recompute our numbers. The
 * t-interval is deterministic, O(1) from (n, mean, s), and anyone can recompute it with
 * scipy.stats.t.ppf(0.975, n - 1).
 *
 * The t quantile inverts the Student-t distribution function, computed from the regularized
 * incomplete beta function (continued fraction), by safeguarded Newton iteration; df >= 1e4 use
 * the Cornish-Fisher expansion around the normal quantile. It agrees with scipy's t.ppf to about
 * 1e-13 (relative) for any df > 0. */
#ifndef LLMAJ_STATS_H
#define LLMAJ_STATS_H
#include <stdint.h>

/* Running mean and sum of squared deviations (Welford). Zero-initialize or stats_acc_init. */
typedef struct {
    uint64_t n;
    double mean;
    double m2; /* sum of squared deviations from the mean */
} stats_acc_t;

typedef struct {
    double low, high;
} stats_interval_t;

void stats_acc_init(stats_acc_t *a);
void stats_acc_add(stats_acc_t *a, double x);
/* Adds `count` copies of x at once (exactly as adding them one by one, up to rounding). */
void stats_acc_add_n(stats_acc_t *a, double x, uint64_t count);
/* Folds b into a (Chan et al.'s parallel update); b is unchanged. */
void stats_acc_merge(stats_acc_t *a, const stats_acc_t *b);
/* The mean; NAN when n == 0. */
double stats_acc_mean(const stats_acc_t *a);
/* Sample variance and standard deviation (n − 1 denominator); 0 when n < 2. */
double stats_acc_var(const stats_acc_t *a);
double stats_acc_std(const stats_acc_t *a);

/* Quantile of Student's t distribution: the t with P(T <= t) = p, for 0 < p < 1 and df > 0
 * (df need not be an integer; df = INFINITY gives the normal quantile). NAN for arguments
 * outside those ranges. */
double stats_t_quantile(double p, double df);
/* The standard normal quantile, 0 < p < 1 (NAN outside). */
double stats_normal_quantile(double p);

/* Two-sided t-interval at confidence `level` (0 < level < 1, e.g. 0.95) for the mean of the
 * values in a. n == 1 gives [mean, mean]. Returns -1 (out untouched) when n == 0 or level is out
 * of range. */
int stats_mean_ci(const stats_acc_t *a, double level, stats_interval_t *out) __attribute__((warn_unused_result));

/* The paired-difference interval: the t-interval at `level` for the mean of x[i] − y[i] over
 * i < n. Writes that mean to *mean_diff (NAN when n == 0) and returns stats_mean_ci's result. */
int stats_paired_ci(const double *x, const double *y, uint64_t n, double level, double *mean_diff,
                    stats_interval_t *out) __attribute__((warn_unused_result));

/* Clips iv to [lo, hi] (both ends). */
void stats_interval_clip(stats_interval_t *iv, double lo, double hi);

#endif
