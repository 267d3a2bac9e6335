/* stats: running moments, the Student-t quantile and t-intervals (see stats.h for why llmaj's
 * intervals are t-intervals).
 *
 * DESIGN: the t quantile. P(T > t) for t >= 0 is ½·I_x(ν/2, ½) with x = ν/(ν + t²), where I is
 * the regularized incomplete beta function. We evaluate I by its continued fraction (DLMF 8.17.22,
 * modified Lentz), on whichever side of the symmetry I_x(a,b) = 1 − I_{1−x}(b,a) converges fast,
 * with x and 1 − x both computed directly so neither loses digits to cancellation, and with
 * log B(a,b) from a Stirling-series difference when an argument is large (lgamma(a) itself
 * carries an absolute error of about eps·a·log a, which would swamp the tail for ν ~ 1e6).
 * The quantile is the root of P(T > t) = 1 − p, found by Newton's method inside a bracket that
 * shrinks every step (a Newton step that leaves it is replaced by bisection), so it converges for
 * every ν and p. ν = 1 and ν = 2 have closed forms. For ν >= 1e4 the continued fraction starts to
 * lose digits to cancellation (x is within O(1/ν) of 1), while the Cornish-Fisher expansion in
 * 1/ν around the normal quantile (four terms) is exact to double precision there, so we use it.
 * The normal quantile is itself the Newton root of ½·erfc(z/√2) = q. Checked against 40-digit
 * mpmath over ν from 0.5 to 1e12 and p from 1e-15 to 1 − 1e-10: relative error below 1e-13. */
#include "stats.h"

#include <float.h>
#include <math.h>
#include <stddef.h>

void stats_acc_init(stats_acc_t *a)
{
    a->n = 0;
    a->mean = 0.0;
    a->m2 = 0.0;
}

void stats_acc_add(stats_acc_t *a, double x)
{
    a->n++;
    double d = x - a->mean;
    a->mean += d / (double)a->n;
    a->m2 += d * (x - a->mean);
}

void stats_acc_merge(stats_acc_t *a, const stats_acc_t *b)
{
    if (b->n == 0) return;
    if (a->n == 0) {
        *a = *b;
        return;
    }
    double na = (double)a->n, nb = (double)b->n, n = na + nb;
    double d = b->mean - a->mean;
    a->mean += d * (nb / n);
    a->m2 += b->m2 + d * d * (na * nb / n);
    a->n += b->n;
}

void stats_acc_add_n(stats_acc_t *a, double x, uint64_t count)
{
    if (count == 0) return;
    stats_acc_t b = {.n = count, .mean = x, .m2 = 0.0};
    stats_acc_merge(a, &b);
}

double stats_acc_mean(const stats_acc_t *a) { return a->n == 0 ? NAN : a->mean; }

double stats_acc_var(const stats_acc_t *a)
{
    if (a->n < 2) return 0.0;
    double v = a->m2 / (double)(a->n - 1);
    return v > 0.0 ? v : 0.0; /* m2 can round to a hair below 0 */
}

double stats_acc_std(const stats_acc_t *a) { return sqrt(stats_acc_var(a)); }

/* ---- special functions ---------------------------------------------------------------------- */

/* lgamma(x) − [(x − ½)·log x − x + ½·log 2π]: the Stirling series, for x >= 10 (truncation error
 * below 1e-14 there). */
static double stirling_tail(double x)
{
    double r = 1.0 / x, r2 = r * r;
    return r * (1.0 / 12 - r2 * (1.0 / 360 - r2 * (1.0 / 1260 - r2 * (1.0 / 1680 - r2 / 1188))));
}

/* log Γ(a + b) − log Γ(a) for a, b > 0, accurate also when a is huge. */
static double lgamma_ratio(double a, double b)
{
    if (a < 10.0) return lgamma(a + b) - lgamma(a);
    return (a - 0.5) * log1p(b / a) + b * log(a + b) - b + stirling_tail(a + b) - stirling_tail(a);
}

/* log B(a, b) = log Γ(a) + log Γ(b) − log Γ(a + b). */
static double lbeta(double a, double b)
{
    double big = a > b ? a : b, small = a > b ? b : a;
    if (big < 10.0) return lgamma(a) + lgamma(b) - lgamma(a + b);
    return lgamma(small) - lgamma_ratio(big, small);
}

#define CF_MAX_TERMS 20000
#define CF_TINY 1e-300

/* x^a·y^b / (a·B(a,b)) times the continued fraction of I_x(a,b), where y = 1 − x and lx, ly are
 * log x, log y, all supplied by the caller to full precision (with a ~ 1e6, a·log x would
 * otherwise inherit an absolute error of a·eps from the rounding of x). Converges quickly for
 * x < (a + 1)/(a + b + 2). */
static double ibeta_cf(double a, double b, double x, double lx, double lx_c)
{
    double front = exp(a * lx + b * lx_c - lbeta(a, b)) / a;
    if (front == 0.0) return 0.0;

    /* f = 1 + d1/(1 + d2/(1 + ...)), modified Lentz. */
    double f = 1.0, c = 1.0, d = 0.0;
    for (int j = 1; j <= CF_MAX_TERMS; j++) {
        int m = j / 2;
        double dj;
        if (j % 2 == 0) dj = m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m));
        else dj = -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0));
        d = 1.0 + dj * d;
        if (fabs(d) < CF_TINY) d = CF_TINY;
        c = 1.0 + dj / c;
        if (fabs(c) < CF_TINY) c = CF_TINY;
        d = 1.0 / d;
        double delta = c * d;
        f *= delta;
        if (fabs(delta - 1.0) < 1e-16) break;
    }
    return front / f;
}

/* The regularized incomplete beta I_x(a, b), given x, y = 1 − x and their logarithms. */
static double ibeta(double a, double b, double x, double y, double lx, double ly)
{
    if (x <= 0.0) return 0.0;
    if (y <= 0.0) return 1.0;
    if (x > (a + 1.0) / (a + b + 2.0)) return 1.0 - ibeta_cf(b, a, y, ly, lx);
    return ibeta_cf(a, b, x, lx, ly);
}

/* P(T > t) for t >= 0, and the density, of Student's t with ν degrees of freedom. */
static double t_tail(double t, double nu)
{
    double t2 = t * t;
    if (isinf(t2)) return 0.0;
    if (t2 == 0.0) return 0.5;
    /* x = ν/(ν + t²), y = t²/(ν + t²); log x = −log1p(t²/ν) keeps ν/2·log x exact to eps. */
    double s = nu + t2;
    double lx = -log1p(t2 / nu), ly = t2 < nu ? log(t2 / nu) + lx : -log1p(nu / t2);
    return 0.5 * ibeta(nu / 2.0, 0.5, nu / s, t2 / s, lx, ly);
}

static double t_density(double t, double nu)
{
    double l = lgamma_ratio(nu / 2.0, 0.5) - 0.5 * log(nu * M_PI) - (nu + 1.0) / 2.0 * log1p(t * t / nu);
    return exp(l);
}

static double normal_tail(double z, double unused) { return 0.5 * erfc(z / M_SQRT2); }

static double normal_density(double z, double unused) { return exp(-0.5 * z * z) / sqrt(2.0 * M_PI); }

/* The root t >= 0 of tail(t) = q for 0 < q < ½ and a decreasing tail, starting from `guess`.
 * Newton inside a shrinking bracket [lo, hi]; a step outside it bisects instead. */
static double solve_tail(double q, double param, double guess, double (*tail)(double, double),
                         double (*density)(double, double))
{
    double lo = 0.0, hi = guess > 0.0 && isfinite(guess) ? guess : 1.0;
    /* Grow hi until it brackets the root (the tail at 0 is ½ > q). */
    for (int i = 0; i < 2100 && tail(hi, param) > q; i++) {
        lo = hi;
        hi *= 2.0;
        if (isinf(hi)) return INFINITY;
    }
    double t = guess > lo && guess < hi ? guess : 0.5 * (lo + hi);
    for (int i = 0; i < 400; i++) {
        double g = tail(t, param) - q;
        if (g == 0.0) return t;
        if (g > 0.0) lo = t;
        else hi = t;
        double dens = density(t, param);
        double next = dens > 0.0 ? t + g / dens : NAN;
        if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
        if (fabs(next - t) <= 4.0 * DBL_EPSILON * fabs(next) || next == lo || next == hi) return next;
        t = next;
    }
    return t;
}

double stats_normal_quantile(double p)
{
    if (!(p > 0.0 && p < 1.0)) return NAN;
    if (p == 0.5) return 0.0;
    double q = p > 0.5 ? 1.0 - p : p;
    /* Starting point: the rational approximation of Abramowitz & Stegun 26.2.23 (|err| < 4.5e-4). */
    double w = sqrt(-2.0 * log(q));
    double guess = w -
                   (2.515517 + w * (0.802853 + w * 0.010328)) / (1.0 + w * (1.432788 + w * (0.189269 + w * 0.001308)));
    double z = solve_tail(q, 0.0, guess, normal_tail, normal_density);
    return p > 0.5 ? z : -z;
}

#define T_CORNISH_FISHER_DF 1e4

/* The t >= 0 with P(T > t) = q, for 0 < q <= ½ and df > 0. */
static double t_upper_quantile(double q, double df)
{
    double t;
    if (q == 0.5) return 0.0;
    if (df == 1.0) {
        t = 1.0 / tan(M_PI * q);
    } else if (df == 2.0) {
        t = (1.0 - 2.0 * q) / sqrt(2.0 * q * (1.0 - q));
    } else {
        double z = -stats_normal_quantile(q); /* not (1 − q): that would round q away */
        if (isinf(df)) {
            t = z;
        } else {
            /* Cornish-Fisher expansion (Abramowitz & Stegun 26.7.5). */
            double z2 = z * z;
            double g1 = z * (z2 + 1.0) / 4.0;
            double g2 = z * ((5.0 * z2 + 16.0) * z2 + 3.0) / 96.0;
            double g3 = z * (((3.0 * z2 + 19.0) * z2 + 17.0) * z2 - 15.0) / 384.0;
            double g4 = z * ((((79.0 * z2 + 776.0) * z2 + 1482.0) * z2 - 1920.0) * z2 - 945.0) / 92160.0;
            double cf = z + (g1 + (g2 + (g3 + g4 / df) / df) / df) / df;
            t = df >= T_CORNISH_FISHER_DF ? cf : solve_tail(q, df, cf, t_tail, t_density);
        }
    }
    return t;
}

double stats_t_quantile(double p, double df)
{
    if (!(p > 0.0 && p < 1.0) || !(df > 0.0)) return NAN;
    if (p == 0.5) return 0.0;
    double t = t_upper_quantile(p > 0.5 ? 1.0 - p : p, df); /* 1 − p is exact for p >= ½ */
    return p > 0.5 ? t : -t;
}

/* ---- intervals ------------------------------------------------------------------------------ */

int stats_mean_ci(const stats_acc_t *a, double level, stats_interval_t *out)
{
    if (a->n == 0 || !(level > 0.0 && level < 1.0)) return -1;
    if (a->n == 1) {
        out->low = out->high = a->mean;
        return 0;
    }
    double df = (double)(a->n - 1);
    double half = t_upper_quantile((1.0 - level) / 2.0, df) * stats_acc_std(a) / sqrt((double)a->n);
    out->low = a->mean - half;
    out->high = a->mean + half;
    return 0;
}

int stats_paired_ci(const double *x, const double *y, uint64_t n, double level, double *mean_diff,
                    stats_interval_t *out)
{
    stats_acc_t acc;
    stats_acc_init(&acc);
    for (uint64_t i = 0; i < n; i++) stats_acc_add(&acc, x[i] - y[i]);
    *mean_diff = stats_acc_mean(&acc);
    return stats_mean_ci(&acc, level, out);
}

void stats_interval_clip(stats_interval_t *iv, double lo, double hi)
{
    if (iv->low < lo) iv->low = lo;
    if (iv->low > hi) iv->low = hi;
    if (iv->high > hi) iv->high = hi;
    if (iv->high < lo) iv->high = lo;
}
