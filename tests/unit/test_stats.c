/* test_stats: Welford moments, the Student-t quantile against scipy's values, t-intervals. */
#include <math.h>
#include <stdio.h>

#include "stats.h"
#include "check.h"

#define NEAR(a, b, tol) (fabs((a) - (b)) <= (tol))

static void test_moments(void)
{
    stats_acc_t a;
    stats_acc_init(&a);
    CHECK(a.n == 0);
    CHECK(isnan(stats_acc_mean(&a)));
    CHECK(stats_acc_var(&a) == 0.0);
    CHECK(stats_acc_std(&a) == 0.0);

    stats_acc_add(&a, 3.5);
    CHECK(stats_acc_mean(&a) == 3.5);
    CHECK(stats_acc_var(&a) == 0.0); /* n < 2 */

    /* 2 4 4 4 5 5 7 9: mean 5, sum of squared deviations 32, sample variance 32/7. */
    const double xs[] = {2, 4, 4, 4, 5, 5, 7, 9};
    stats_acc_init(&a);
    for (int i = 0; i < 8; i++) stats_acc_add(&a, xs[i]);
    CHECK(a.n == 8);
    CHECK(NEAR(stats_acc_mean(&a), 5.0, 1e-15));
    CHECK(NEAR(stats_acc_var(&a), 32.0 / 7.0, 1e-14));
    CHECK(NEAR(stats_acc_std(&a), 2.1380899352993950, 1e-14));

    /* Stability: a large offset must not destroy the variance (naive sum-of-squares fails). */
    stats_acc_t big;
    stats_acc_init(&big);
    const double d[] = {4, 7, 13, 16};
    for (int i = 0; i < 4; i++) stats_acc_add(&big, 1e9 + d[i]);
    CHECK(NEAR(stats_acc_mean(&big), 1e9 + 10, 1e-6));
    CHECK(NEAR(stats_acc_var(&big), 30.0, 1e-6)); /* (36 + 9 + 9 + 36) / 3 */

    /* Merge of two halves equals the whole. */
    stats_acc_t lo, hi;
    stats_acc_init(&lo);
    stats_acc_init(&hi);
    for (int i = 0; i < 3; i++) stats_acc_add(&lo, xs[i]);
    for (int i = 3; i < 8; i++) stats_acc_add(&hi, xs[i]);
    stats_acc_merge(&lo, &hi);
    CHECK(lo.n == 8);
    CHECK(NEAR(stats_acc_mean(&lo), 5.0, 1e-14));
    CHECK(NEAR(stats_acc_var(&lo), 32.0 / 7.0, 1e-13));
    /* Merging an empty accumulator in either direction. */
    stats_acc_t empty;
    stats_acc_init(&empty);
    stats_acc_merge(&lo, &empty);
    CHECK(lo.n == 8 && NEAR(stats_acc_mean(&lo), 5.0, 1e-14));
    stats_acc_merge(&empty, &lo);
    CHECK(empty.n == 8 && NEAR(stats_acc_var(&empty), 32.0 / 7.0, 1e-13));

    /* add_n equals repeated add: 4, 4, 4 then 5, 5 then the rest. */
    stats_acc_t w;
    stats_acc_init(&w);
    stats_acc_add_n(&w, 2, 1);
    stats_acc_add_n(&w, 4, 3);
    stats_acc_add_n(&w, 5, 2);
    stats_acc_add_n(&w, 6, 0); /* no-op */
    stats_acc_add_n(&w, 7, 1);
    stats_acc_add_n(&w, 9, 1);
    CHECK(w.n == 8);
    CHECK(NEAR(stats_acc_mean(&w), 5.0, 1e-14));
    CHECK(NEAR(stats_acc_var(&w), 32.0 / 7.0, 1e-13));
}

static void test_quantiles(void)
{
    /* scipy.stats.t.ppf(0.975, df) (values from a 40-digit evaluation; scipy agrees to ~1e-14). */
    static const struct {
        double df, t;
    } ref[] = {
        {1, 12.706204736174704647},   {2, 4.3026527297494638523},    {3, 3.1824463052837095927},
        {5, 2.5705818356363155147},   {10, 2.2281388519862747484},   {30, 2.0422724563012383100},
        {100, 1.9839715185235522866}, {1000, 1.9623390808264084850}, {1e6, 1.9599663568141070353},
    };
    for (size_t i = 0; i < sizeof ref / sizeof ref[0]; i++) {
        double t = stats_t_quantile(0.975, ref[i].df);
        if (!NEAR(t, ref[i].t, 1e-6))
            fprintf(stderr, "t.ppf(0.975, %g): got %.17g, want %.17g\n", ref[i].df, t, ref[i].t);
        CHECK(NEAR(t, ref[i].t, 1e-6));
        CHECK(NEAR(t, ref[i].t, 1e-11 * ref[i].t)); /* in fact far tighter */
        /* Symmetry (1 − 0.975 is not exactly 0.025 in binary, hence the tolerance). */
        CHECK(NEAR(stats_t_quantile(0.025, ref[i].df), -t, 1e-12 * t));
    }
    /* Other levels and the normal limit. */
    CHECK(NEAR(stats_t_quantile(0.95, 9), 1.8331129326562371687, 1e-12));
    CHECK(NEAR(stats_t_quantile(0.975, 7), 2.3646242515927853417, 1e-12));
    CHECK(NEAR(stats_normal_quantile(0.975), 1.9599639845400542355, 1e-13));
    CHECK(NEAR(stats_normal_quantile(1e-12), -7.0344838253011319, 1e-11));
    CHECK(NEAR(stats_t_quantile(0.975, INFINITY), 1.9599639845400542355, 1e-13));
    CHECK(NEAR(stats_t_quantile(0.975, 1e12), 1.9599639845400542355, 1e-10));
    CHECK(stats_t_quantile(0.5, 4) == 0.0);
    /* Monotone in p and decreasing in df. */
    CHECK(stats_t_quantile(0.99, 4) > stats_t_quantile(0.975, 4));
    CHECK(stats_t_quantile(0.975, 4) > stats_t_quantile(0.975, 5));
    /* Out of range. */
    CHECK(isnan(stats_t_quantile(0.0, 5)));
    CHECK(isnan(stats_t_quantile(1.0, 5)));
    CHECK(isnan(stats_t_quantile(0.975, 0)));
    CHECK(isnan(stats_t_quantile(0.975, -1)));
    CHECK(isnan(stats_t_quantile(NAN, 5)));
    CHECK(isnan(stats_normal_quantile(1.5)));
}

static void test_intervals(void)
{
    stats_acc_t a;
    stats_interval_t iv = {-7, -7};
    stats_acc_init(&a);
    CHECK(stats_mean_ci(&a, 0.95, &iv) == -1); /* n = 0: no interval */
    CHECK(iv.low == -7 && iv.high == -7);

    stats_acc_add(&a, 0.25);
    CHECK(stats_mean_ci(&a, 0.95, &iv) == 0); /* n = 1: [mean, mean] */
    CHECK(iv.low == 0.25 && iv.high == 0.25);
    CHECK(stats_mean_ci(&a, 1.0, &iv) == -1);
    CHECK(stats_mean_ci(&a, 0.0, &iv) == -1);

    /* 2 4 4 4 5 5 7 9: 5 ± t(0.975, 7) · sqrt(32/7) / sqrt(8) = 5 ± 1.787487918236210895. */
    const double xs[] = {2, 4, 4, 4, 5, 5, 7, 9};
    stats_acc_init(&a);
    for (int i = 0; i < 8; i++) stats_acc_add(&a, xs[i]);
    CHECK(stats_mean_ci(&a, 0.95, &iv) == 0);
    CHECK(NEAR(iv.low, 3.212512081763789105, 1e-12));
    CHECK(NEAR(iv.high, 6.787487918236210895, 1e-12));
    stats_interval_clip(&iv, 0.0, 4.0);
    CHECK(iv.low == 3.212512081763789105 || NEAR(iv.low, 3.212512081763789105, 1e-12));
    CHECK(iv.high == 4.0);
    stats_interval_t out = {-0.5, 1.5};
    stats_interval_clip(&out, 0.0, 1.0);
    CHECK(out.low == 0.0 && out.high == 1.0);
    stats_interval_t above = {1.2, 1.5};
    stats_interval_clip(&above, 0.0, 1.0);
    CHECK(above.low == 1.0 && above.high == 1.0);

    /* Paired: d = 0.25 0.5 0 -0.25, mean 0.125, s² = 0.3125/3,
     * half = t(0.975, 3) · s / 2 = 0.51356506419013050657. */
    const double x[] = {0.5, 1.0, 0.75, 0.25}, y[] = {0.25, 0.5, 0.75, 0.5};
    double md = 0;
    CHECK(stats_paired_ci(x, y, 4, 0.95, &md, &iv) == 0);
    CHECK(NEAR(md, 0.125, 1e-15));
    CHECK(NEAR(iv.low, -0.38856506419013050657, 1e-12));
    CHECK(NEAR(iv.high, 0.63856506419013050657, 1e-12));
    CHECK(stats_paired_ci(x, y, 0, 0.95, &md, &iv) == -1);
    CHECK(isnan(md));
    CHECK(stats_paired_ci(x, y, 1, 0.95, &md, &iv) == 0);
    CHECK(md == 0.25 && iv.low == 0.25 && iv.high == 0.25);
}

int main(void)
{
    test_moments();
    test_quantiles();
    test_intervals();
    return check_summary("test_stats");
}
