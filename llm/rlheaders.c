/* rlheaders: rate-limit header parsing; see rlheaders.h.
 *
 * DESIGN: every value parser is strict about shape (digits where digits belong, known unit and
 * month names, calendar-valid dates) and does its arithmetic in 128-bit integers with an explicit
 * range check, so hostile values ("1e999", "99999999999999999999h", "-1") are rejected instead of
 * wrapping. Calendar conversion is done here (days from a civil date) rather than with timegm(),
 * which depends on the C library's time-zone state and silently normalizes Feb 30 to Mar 2. */
#include "rlheaders.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

typedef __int128 i128;

static const char *const dim_names[RLH_N_DIMS] = {"requests", "tokens", "input-tokens", "output-tokens"};
static const char *const wkday3[7] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
static const char *const wkday_full[7] = {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};
static const char *const months[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

#define NS_PER_MS 1000000LL
#define NS_PER_S 1000000000LL

const char *rlheaders_dim_name(rlheaders_dim_t d) { return (d >= 0 && d < RLH_N_DIMS) ? dim_names[d] : "?"; }

void rlheaders_init(rlheaders_t *r)
{
    memset(r, 0, sizeof(*r));
    r->retry_after_ms = -1;
    for (int i = 0; i < RLH_N_DIMS; i++) r->dim[i] = (rlheaders_window_t){-1, -1, -1};
}

/* ---- small lexing helpers ---- */
static void skip_ws(const char **p)
{
    while (**p == ' ' || **p == '\t') (*p)++;
}

static int at_end(const char *p)
{
    skip_ws(&p);
    return *p == '\0';
}

/* Reads between min and max decimal digits. */
static int read_digits(const char **p, int min, int max, int64_t *out)
{
    int64_t v = 0;
    int n = 0;
    while (n < max && isdigit((unsigned char)**p)) {
        v = v * 10 + (**p - '0');
        (*p)++;
        n++;
    }
    if (n < min) return -1;
    *out = v;
    return 0;
}

/* Matches one of `names` (case-insensitive, whole word up to a non-letter); index or -1. */
static int read_name(const char **p, const char *const *names, int n)
{
    size_t len = 0;
    while (isalpha((unsigned char)(*p)[len])) len++;
    for (int i = 0; i < n; i++)
        if (strlen(names[i]) == len && strncasecmp(*p, names[i], len) == 0) {
            *p += len;
            return i;
        }
    return -1;
}

static int expect(const char **p, char c)
{
    if (**p != c) return -1;
    (*p)++;
    return 0;
}

/* At least one space or tab. */
static int expect_sp(const char **p)
{
    if (**p != ' ' && **p != '\t') return -1;
    skip_ws(p);
    return 0;
}

/* A non-negative decimal "I[.F]" or ".F": integer part and up to 9 fraction digits as
 * nanosecond-scaled numerator over 1e9 (further digits must be digits, and are dropped). */
static int read_decimal(const char **p, int64_t *ip, int64_t *frac_e9)
{
    const char *s = *p;
    int64_t i = 0;
    int nd = 0;
    while (isdigit((unsigned char)*s)) {
        if (i > (INT64_MAX - 9) / 10) return -1;
        i = i * 10 + (*s - '0');
        s++;
        nd++;
    }
    int64_t f = 0;
    int nf = 0;
    if (*s == '.') {
        s++;
        while (isdigit((unsigned char)*s)) {
            if (nf < 9) {
                f = f * 10 + (*s - '0');
                nf++;
            }
            s++;
            nd++;
        }
        if (!nf) return -1; /* "5." */
    }
    if (!nd) return -1;
    for (int k = nf; k < 9; k++) f *= 10;
    *ip = i;
    *frac_e9 = f;
    *p = s;
    return 0;
}

static int64_t ceil_ms(i128 ns) { return (int64_t)((ns + NS_PER_MS - 1) / NS_PER_MS); }

/* ---- calendar ---- */
static int is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int days_in_month(int64_t y, int64_t m)
{
    static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : d[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (eras of 400 years = 146097 days). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Inverse of days_from_civil, year only. */
static int64_t year_from_days(int64_t z)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    return y + (m <= 2);
}

static int valid_date(int64_t y, int64_t mo, int64_t d, int64_t h, int64_t mi, int64_t s)
{
    return y >= 1600 && y <= 9999 && mo >= 1 && mo <= 12 && d >= 1 && d <= days_in_month(y, mo) && h <= 23 &&
           mi <= 59 && s <= 60;
}

static int64_t unix_seconds(int64_t y, int64_t mo, int64_t d, int64_t h, int64_t mi, int64_t s)
{
    return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
}

/* "HH:MM:SS" */
static int read_time(const char **p, int64_t *h, int64_t *mi, int64_t *s)
{
    if (read_digits(p, 2, 2, h) < 0 || expect(p, ':') < 0 || read_digits(p, 2, 2, mi) < 0 || expect(p, ':') < 0 ||
        read_digits(p, 2, 2, s) < 0)
        return -1;
    return 0;
}

static int read_gmt(const char **p)
{
    if (strncmp(*p, "GMT", 3) == 0 || strncmp(*p, "UTC", 3) == 0) {
        *p += 3;
        return 0;
    }
    return -1;
}

int rlheaders_parse_http_date(const char *v, int64_t now_ms, int64_t *out_unix_s)
{
    const char *p = v;
    int64_t y, mo, d, h, mi, s;
    skip_ws(&p);
    const char *start = p;
    if (read_name(&p, wkday3, 7) >= 0) {
        if (*p == ',') { /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
            p++;
            int m;
            if (expect_sp(&p) < 0 || read_digits(&p, 1, 2, &d) < 0 || expect_sp(&p) < 0 ||
                (m = read_name(&p, months, 12)) < 0 || expect_sp(&p) < 0 || read_digits(&p, 4, 4, &y) < 0 ||
                expect_sp(&p) < 0 || read_time(&p, &h, &mi, &s) < 0 || expect_sp(&p) < 0 || read_gmt(&p) < 0 ||
                !at_end(p))
                return -1;
            mo = m + 1;
        } else { /* asctime: Sun Nov  6 08:49:37 1994 */
            int m;
            if (expect_sp(&p) < 0 || (m = read_name(&p, months, 12)) < 0 || expect_sp(&p) < 0 ||
                read_digits(&p, 1, 2, &d) < 0 || expect_sp(&p) < 0 || read_time(&p, &h, &mi, &s) < 0 ||
                expect_sp(&p) < 0 || read_digits(&p, 4, 4, &y) < 0 || !at_end(p))
                return -1;
            mo = m + 1;
        }
    } else {
        p = start; /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
        int m;
        int64_t yy;
        if (read_name(&p, wkday_full, 7) < 0 || expect(&p, ',') < 0 || expect_sp(&p) < 0 ||
            read_digits(&p, 2, 2, &d) < 0 || expect(&p, '-') < 0 || (m = read_name(&p, months, 12)) < 0 ||
            expect(&p, '-') < 0 || read_digits(&p, 2, 2, &yy) < 0 || expect_sp(&p) < 0 ||
            read_time(&p, &h, &mi, &s) < 0 || expect_sp(&p) < 0 || read_gmt(&p) < 0 || !at_end(p))
            return -1;
        mo = m + 1;
        /* RFC 7231 7.1.1.1: a two-digit year more than 50 years ahead is in the past century. */
        int64_t now_days = now_ms / 86400000 - (now_ms % 86400000 < 0 ? 1 : 0); /* floor */
        int64_t cur = year_from_days(now_days);
        y = cur / 100 * 100 + yy;
        if (y > cur + 50) y -= 100;
    }
    if (!valid_date(y, mo, d, h, mi, s)) return -1;
    *out_unix_s = unix_seconds(y, mo, d, h, mi, s);
    return 0;
}

int rlheaders_parse_rfc3339(const char *v, int64_t *out_unix_ms)
{
    const char *p = v;
    int64_t y, mo, d, h, mi, s;
    skip_ws(&p);
    if (read_digits(&p, 4, 4, &y) < 0 || expect(&p, '-') < 0 || read_digits(&p, 2, 2, &mo) < 0 || expect(&p, '-') < 0 ||
        read_digits(&p, 2, 2, &d) < 0)
        return -1;
    if (*p != 'T' && *p != 't' && *p != ' ') return -1;
    p++;
    if (read_time(&p, &h, &mi, &s) < 0) return -1;
    int64_t frac_ns = 0;
    if (*p == '.') {
        p++;
        int nf = 0;
        for (; isdigit((unsigned char)*p); p++, nf++)
            if (nf < 9) frac_ns = frac_ns * 10 + (*p - '0');
        if (!nf) return -1;
        for (int k = nf; k < 9; k++) frac_ns *= 10;
    }
    int64_t off_s = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        int64_t oh, om;
        p++;
        if (read_digits(&p, 2, 2, &oh) < 0 || expect(&p, ':') < 0 || read_digits(&p, 2, 2, &om) < 0 || oh > 23 ||
            om > 59)
            return -1;
        off_s = sign * (oh * 3600 + om * 60);
    } else {
        return -1;
    }
    if (!at_end(p) || !valid_date(y, mo, d, h, mi, s)) return -1;
    i128 ns = (i128)(unix_seconds(y, mo, d, h, mi, s) - off_s) * NS_PER_S + frac_ns;
    *out_unix_ms = (int64_t)(ns >= 0 ? ceil_ms(ns) : -ceil_ms(-ns));
    return 0;
}

int rlheaders_parse_count(const char *v, int64_t *out)
{
    const char *p = v;
    skip_ws(&p);
    int64_t n = 0;
    int nd = 0;
    while (isdigit((unsigned char)*p)) {
        if (n > (INT64_MAX - (*p - '0')) / 10) return -1;
        n = n * 10 + (*p - '0');
        p++;
        nd++;
    }
    if (!nd || !at_end(p)) return -1;
    *out = n;
    return 0;
}

/* Non-negative decimal number of `unit_ns` units, rounded up to ms. */
static int parse_scaled(const char *v, int64_t unit_ns, int64_t *out_ms)
{
    const char *p = v;
    int64_t ip, f;
    skip_ws(&p);
    if (read_decimal(&p, &ip, &f) < 0 || !at_end(p)) return -1;
    i128 ns = (i128)ip * unit_ns + (i128)f * unit_ns / NS_PER_S;
    if (ns > INT64_MAX) return -1;
    *out_ms = ceil_ms(ns);
    return 0;
}

int rlheaders_parse_duration(const char *v, int64_t *out_ms)
{
    static const struct {
        const char *u;
        int64_t ns;
    } units[] = {
        {"ns", 1},         {"us", 1000},    {"\xc2\xb5s", 1000},  {"\xce\xbcs", 1000},
        {"ms", NS_PER_MS}, {"s", NS_PER_S}, {"m", 60 * NS_PER_S}, {"h", 3600 * NS_PER_S},
    };
    const char *p = v;
    skip_ws(&p);
    if (*p == '\0') return -1;
    /* A bare number (no unit at all) is seconds: some OpenAI-compatible servers send "20". */
    const char *q = p;
    while (isdigit((unsigned char)*q) || *q == '.') q++;
    if (at_end(q)) return parse_scaled(p, NS_PER_S, out_ms);

    i128 total = 0;
    while (!at_end(p)) {
        int64_t ip, f;
        if (read_decimal(&p, &ip, &f) < 0) return -1;
        int64_t unit = 0;
        size_t best = 0;
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
            size_t l = strlen(units[i].u);
            /* longest match, so "ms" is not read as "m" followed by junk "s" */
            if (l > best && strncmp(p, units[i].u, l) == 0) {
                best = l;
                unit = units[i].ns;
            }
        }
        if (!unit) return -1;
        p += best;
        total += (i128)ip * unit + (i128)f * unit / NS_PER_S;
        if (total > INT64_MAX) return -1;
    }
    *out_ms = ceil_ms(total);
    return 0;
}

int rlheaders_parse_retry_after(const char *v, int64_t now_ms, int64_t *out_ms)
{
    const char *p = v;
    skip_ws(&p);
    if (isdigit((unsigned char)*p) || *p == '.')
        return parse_scaled(p, NS_PER_S, out_ms); /* delta-seconds (fractions tolerated) */
    int64_t t;
    if (rlheaders_parse_http_date(p, now_ms, &t) < 0) return -1;
    i128 ms = (i128)t * 1000 - now_ms;
    *out_ms = ms > 0 ? (int64_t)ms : 0;
    return 0;
}

/* ---- headers ---- */
static void invalid(rlheaders_t *r, const char *name)
{
    r->n_invalid++;
    if (!r->first_invalid[0]) snprintf(r->first_invalid, sizeof r->first_invalid, "%s", name);
}

static int dim_from(const char *s, size_t len)
{
    for (int i = 0; i < RLH_N_DIMS; i++)
        if (strlen(dim_names[i]) == len && strncasecmp(s, dim_names[i], len) == 0) return i;
    return -1;
}

enum { F_LIMIT, F_REMAINING, F_RESET };

static int field_from(const char *s, size_t len)
{
    static const char *const f[] = {"limit", "remaining", "reset"};
    for (int i = 0; i < 3; i++)
        if (strlen(f[i]) == len && strncasecmp(s, f[i], len) == 0) return i;
    return -1;
}

static void set_field(rlheaders_t *r, const char *name, int dim, int field, const char *value, int reset_is_timestamp,
                      int64_t now_ms)
{
    r->n_seen++;
    rlheaders_window_t *w = &r->dim[dim];
    int64_t v;
    if (field == F_RESET) {
        if (reset_is_timestamp) {
            if (rlheaders_parse_rfc3339(value, &v) < 0) {
                invalid(r, name);
                return;
            }
            w->reset_ms = v > now_ms ? v - now_ms : 0;
        } else {
            if (rlheaders_parse_duration(value, &v) < 0) {
                invalid(r, name);
                return;
            }
            w->reset_ms = v;
        }
        return;
    }
    if (rlheaders_parse_count(value, &v) < 0) {
        invalid(r, name);
        return;
    }
    if (field == F_LIMIT) w->limit = v;
    else w->remaining = v;
}

void rlheaders_feed(rlheaders_t *r, const char *name, const char *value, int64_t now_ms)
{
    int64_t v;
    if (strcasecmp(name, "retry-after-ms") == 0) {
        r->n_seen++;
        if (parse_scaled(value, NS_PER_MS, &v) < 0) {
            invalid(r, name);
            return;
        }
        r->retry_after_ms = v;
        r->retry_after_from_ms = true;
    } else if (strcasecmp(name, "retry-after") == 0) {
        r->n_seen++;
        if (rlheaders_parse_retry_after(value, now_ms, &v) < 0) {
            invalid(r, name);
            return;
        }
        if (!r->retry_after_from_ms) r->retry_after_ms = v;
    } else if (strncasecmp(name, "x-ratelimit-", 12) == 0) {
        /* x-ratelimit-<field>-<dim>, dim requests|tokens */
        const char *rest = name + 12;
        const char *dash = strchr(rest, '-');
        if (!dash) return;
        int field = field_from(rest, (size_t)(dash - rest));
        int dim = dim_from(dash + 1, strlen(dash + 1));
        if (field < 0 || (dim != RLH_REQUESTS && dim != RLH_TOKENS)) return;
        set_field(r, name, dim, field, value, 0, now_ms);
    } else if (strncasecmp(name, "anthropic-ratelimit-", 20) == 0) {
        /* anthropic-ratelimit-<dim>-<field>, dim may itself contain a dash */
        const char *rest = name + 20;
        const char *dash = strrchr(rest, '-');
        if (!dash) return;
        int dim = dim_from(rest, (size_t)(dash - rest));
        int field = field_from(dash + 1, strlen(dash + 1));
        if (dim < 0 || field < 0) return;
        set_field(r, name, dim, field, value, 1, now_ms);
    } else if (strcasecmp(name, "x-amzn-errortype") == 0) {
        r->n_seen++;
        const char *p = value;
        skip_ws(&p);
        /* "ThrottlingException" or "ThrottlingException:http://internal.amazon.com/..." */
        if (strncmp(p, "ThrottlingException", 19) == 0 && (p[19] == '\0' || p[19] == ':' || p[19] == ' '))
            r->throttled = true;
    }
}

static int contains_ci(const char *hay, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    if (!hay || m > n) return 0;
    for (size_t i = 0; i + m <= n; i++)
        if (strncasecmp(hay + i, needle, m) == 0) return 1;
    return 0;
}

void rlheaders_parse(rlheaders_t *r, const httpmsg_headers_t *h, long status, const char *body, size_t body_len,
                     int64_t now_ms)
{
    rlheaders_init(r);
    if (h)
        for (size_t i = 0; i < h->n; i++) rlheaders_feed(r, h->v[i].name, h->v[i].value, now_ms);
    if (status == 429) r->throttled = true;
    /* Error bodies are small; a throttle message is near the start. */
    size_t scan = body_len < 64 * 1024 ? body_len : 64 * 1024;
    if (status >= 400 && body &&
        (contains_ci(body, scan, "ThrottlingException") || contains_ci(body, scan, "Too many requests")))
        r->throttled = true;
}
