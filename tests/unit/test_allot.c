/* test_allot: broker/allot.c on its own, with a fake send callback that decodes and keeps every
 * ALLOT table: proportional shares that add up to the fleet-wide limit, zero demand gets zero,
 * staleness after 5 ticks, re-send only when a share moves by more than 2%, a worker gone,
 * several keys, limits that change, malformed DEMAND payloads, and holders: only as many workers
 * hold a share as whole calls fit in a second of the limit, taking turns after 120 ticks. */
#include "allot.h"
#include "buf.h"
#include "log.h"
#include "mem.h"
#include "wire.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static int near(double a, double b) { return fabs(a - b) <= 1e-6 * fmax(1, fabs(b)); }

/* ---- fake transport: one inbox per fake peer ---------------------------------------------- */

#define MAX_ROWS 8
typedef struct {
    const char *name;
    int sends;                  /* tables received */
    wire_rate_t rows[MAX_ROWS]; /* the last table (keys owned) */
    size_t n_rows;
} fake_peer_t;

static int fail_sends; /* when set, the callback reports a failed send */

static void peer_clear(fake_peer_t *p)
{
    for (size_t i = 0; i < p->n_rows; i++) free(p->rows[i].key);
    p->n_rows = 0;
}

static int fake_send(void *arg, void *peer, const void *payload, size_t len)
{
    int *total = arg;
    (*total)++;
    fake_peer_t *p = peer;
    wire_rate_t *rows = NULL;
    size_t n = 0;
    char err[256];
    if (wire_rates_decode(payload, len, &rows, &n, err, sizeof err) < 0) {
        fprintf(stderr, "ALLOT to %s does not decode: %s\n", p->name, err);
        failures++;
        return -1;
    }
    peer_clear(p);
    for (size_t i = 0; i < n && i < MAX_ROWS; i++) {
        p->rows[i] = rows[i];
        p->rows[i].key = xstrdup(rows[i].key);
    }
    p->n_rows = n < MAX_ROWS ? n : MAX_ROWS;
    p->sends++;
    wire_rates_free(rows, n);
    return fail_sends ? -1 : 0;
}

static const wire_rate_t *row(const fake_peer_t *p, const char *key)
{
    for (size_t i = 0; i < p->n_rows; i++)
        if (strcmp(p->rows[i].key, key) == 0) return &p->rows[i];
    return NULL;
}

/* The last table `p` received has `key` with exactly these shares. */
static int got(const fake_peer_t *p, const char *key, double rpm, double tpm, uint32_t conc)
{
    const wire_rate_t *r = row(p, key);
    return r && near(r->rpm, rpm) && near(r->tpm, tpm) && r->max_concurrency == conc;
}

static void demand(allot_t *a, fake_peer_t *p, const char *key, double rpm, double tpm, uint32_t conc, uint32_t d)
{
    wire_rate_t r = {.key = (char *)key, .rpm = rpm, .tpm = tpm, .demand = d, .max_concurrency = conc};
    buf_t b;
    buf_init(&b, WIRE_MAX_MSG);
    if (wire_rates_encode(&r, 1, &b) < 0) {
        failures++;
        buf_free(&b);
        return;
    }
    allot_demand(a, p, b.data, b.len);
    buf_free(&b);
}

static void demand2(allot_t *a, fake_peer_t *p, const char *k1, uint32_t d1, const char *k2, uint32_t d2)
{
    wire_rate_t r[2] = {{.key = (char *)k1, .rpm = 1200, .tpm = 200000, .demand = d1, .max_concurrency = 40},
                        {.key = (char *)k2, .rpm = 60, .tpm = 0, .demand = d2, .max_concurrency = 4}};
    buf_t b;
    buf_init(&b, WIRE_MAX_MSG);
    if (wire_rates_encode(r, 2, &b) < 0) failures++;
    else allot_demand(a, p, b.data, b.len);
    buf_free(&b);
}

#define K "openai|gpt-4o|https://api.example|abc123"
#define D(a, p, d) demand((a), (p), K, 1200, 200000, 40, (d))

/* ---- tests ------------------------------------------------------------------------------- */

static void test_proportional(void)
{
    int total = 0;
    fake_peer_t w1 = {.name = "w1"}, w2 = {.name = "w2"};
    allot_t *a = allot_new(fake_send, &total);
    allot_worker_joined(a, &w1);
    allot_worker_joined(a, &w2);
    CHECK(total == 0); /* nothing to say before any demand */

    D(a, &w1, 30);
    CHECK(w1.sends == 1 && w2.sends == 0);
    CHECK(got(&w1, K, 1200, 200000, 40)); /* alone: the whole limit */

    D(a, &w2, 10);
    CHECK(w1.sends == 2 && w2.sends == 1);
    CHECK(got(&w1, K, 900, 150000, 30));
    CHECK(got(&w2, K, 300, 50000, 10));
    double rpm, tpm;
    int conc;
    CHECK(allot_share(a, &w1, K, &rpm, &tpm, &conc) == 0 && near(rpm, 900) && near(tpm, 150000) && conc == 30);
    CHECK(allot_share(a, &w2, K, &rpm, &tpm, &conc) == 0 && near(rpm, 300) && near(tpm, 50000) && conc == 10);
    CHECK(allot_share(a, &w2, "no-such-key", &rpm, &tpm, &conc) == -1);
    CHECK(allot_share(a, (void *)&total, K, &rpm, &tpm, &conc) == -1);

    /* The same report again changes nothing and sends nothing. */
    D(a, &w1, 30);
    D(a, &w2, 10);
    CHECK(w1.sends == 2 && w2.sends == 1);

    /* Demand 0 gets 0; the other has the whole limit. */
    D(a, &w2, 0);
    CHECK(got(&w2, K, 0, 0, 0));
    CHECK(got(&w1, K, 1200, 200000, 40));

    /* A third worker whose first report is zero demand is told so (once). */
    fake_peer_t w3 = {.name = "w3"};
    D(a, &w3, 0);
    CHECK(w3.sends == 1 && got(&w3, K, 0, 0, 0));
    int before = total;
    D(a, &w3, 0);
    CHECK(total == before);

    allot_destroy(&a);
    CHECK(a == NULL);
    allot_destroy(&a); /* NULL is fine */
    peer_clear(&w1);
    peer_clear(&w2);
    peer_clear(&w3);
}

/* Shares always add up to the limit: rpm and tpm exactly (floating point), concurrency in whole
 * calls, never more than max_conc, and every worker with demand can run at least one call. */
static void test_sums(void)
{
    static const uint32_t demands[][6] = {
        {10, 10, 10, 0, 0, 0}, {30, 10, 20, 0, 0, 0}, {7, 5, 3, 1, 0, 0},       {1, 1, 1, 1, 1, 1},
        {1000, 1, 1, 0, 0, 0}, {3, 0, 9, 0, 27, 81},  {13, 17, 19, 23, 29, 31},
    };
    for (size_t c = 0; c < sizeof demands / sizeof demands[0]; c++) {
        int total = 0;
        fake_peer_t w[6] = {{.name = "a"}, {.name = "b"}, {.name = "c"}, {.name = "d"}, {.name = "e"}, {.name = "f"}};
        allot_t *a = allot_new(fake_send, &total);
        for (int i = 0; i < 6; i++) D(a, &w[i], demands[c][i]);
        double sum_rpm = 0, sum_tpm = 0, dsum = 0;
        int sum_conc = 0, each_ok = 1;
        for (int i = 0; i < 6; i++) dsum += demands[c][i];
        int tiny = 0;
        for (int i = 0; i < 6; i++)
            if (demands[c][i] > 0 && 40.0 * demands[c][i] / dsum < 1) tiny = 1;
        for (int i = 0; i < 6; i++) {
            const wire_rate_t *r = row(&w[i], K);
            if (!r) {
                each_ok = 0;
                continue;
            }
            sum_rpm += r->rpm;
            sum_tpm += r->tpm;
            sum_conc += (int)r->max_concurrency;
            /* A table is re-sent only when its share moves by more than 2%, so what a worker
             * holds is within 2% of its exact share. */
            double exact = 1200 * demands[c][i] / dsum;
            if (fabs(r->rpm - exact) > 0.02 * exact + 1e-9) each_ok = 0;
            if (demands[c][i] > 0 && r->max_concurrency < 1) each_ok = 0;
            if (demands[c][i] == 0 && (r->rpm != 0 || r->max_concurrency != 0)) each_ok = 0;
            /* whole-call rounding: within one call of the exact share (when no worker needed the
             * one-call minimum, which is taken from the largest shares) */
            if (!tiny && fabs((double)r->max_concurrency - 40.0 * demands[c][i] / dsum) >= 1.0) each_ok = 0;
        }
        if (!each_ok) fprintf(stderr, "case %zu\n", c);
        CHECK(each_ok);
        CHECK(fabs(sum_rpm - 1200) <= 0.02 * 1200);
        CHECK(fabs(sum_tpm - 200000) <= 0.02 * 200000);
        CHECK(sum_conc == 40);
        allot_destroy(&a);
        for (int i = 0; i < 6; i++) peer_clear(&w[i]);
    }

    /* More workers with demand than calls allowed: each still gets one (or it could never start). */
    int total = 0;
    fake_peer_t w[3] = {{.name = "a"}, {.name = "b"}, {.name = "c"}};
    allot_t *a = allot_new(fake_send, &total);
    for (int i = 0; i < 3; i++) demand(a, &w[i], K, 1200, 0, 2, 5);
    for (int i = 0; i < 3; i++) CHECK(got(&w[i], K, 400, 0, 1));
    allot_destroy(&a);
    for (int i = 0; i < 3; i++) peer_clear(&w[i]);

    /* No concurrency limit configured: shares carry 0 (= none). */
    total = 0;
    fake_peer_t x = {.name = "x"}, y = {.name = "y"};
    a = allot_new(fake_send, &total);
    demand(a, &x, K, 600, 0, 0, 1);
    demand(a, &y, K, 600, 0, 0, 2);
    CHECK(got(&x, K, 200, 0, 0));
    CHECK(got(&y, K, 400, 0, 0));
    allot_destroy(&a);
    peer_clear(&x);
    peer_clear(&y);
}

static void test_staleness(void)
{
    int total = 0;
    fake_peer_t w1 = {.name = "w1"}, w2 = {.name = "w2"};
    allot_t *a = allot_new(fake_send, &total);
    D(a, &w1, 30);
    D(a, &w2, 10);
    CHECK(got(&w2, K, 300, 50000, 10));
    /* w1 keeps reporting every heartbeat; w2 goes quiet without saying so. */
    for (int tick = 1; tick <= 4; tick++) {
        D(a, &w1, 30);
        allot_tick(a);
        CHECK(got(&w1, K, 900, 150000, 30));
        CHECK(got(&w2, K, 300, 50000, 10));
    }
    int w2_sends = w2.sends;
    D(a, &w1, 30);
    allot_tick(a); /* the 5th tick without a report: w2's demand counts as zero */
    CHECK(got(&w1, K, 1200, 200000, 40));
    CHECK(w2.sends == w2_sends + 1 && got(&w2, K, 0, 0, 0));
    /* More ticks change nothing more. */
    int before = total;
    for (int tick = 0; tick < 10; tick++) {
        D(a, &w1, 30);
        allot_tick(a);
    }
    CHECK(total == before);
    /* w2 reports again: back to proportional shares. */
    D(a, &w2, 10);
    CHECK(got(&w1, K, 900, 150000, 30));
    CHECK(got(&w2, K, 300, 50000, 10));

    /* Everybody quiet: everybody stale, all shares 0. */
    for (int tick = 0; tick < 5; tick++) allot_tick(a);
    CHECK(got(&w1, K, 0, 0, 0));
    CHECK(got(&w2, K, 0, 0, 0));
    allot_destroy(&a);
    peer_clear(&w1);
    peer_clear(&w2);
}

static void test_resend_threshold(void)
{
    int total = 0;
    fake_peer_t w1 = {.name = "w1"}, w2 = {.name = "w2"};
    allot_t *a = allot_new(fake_send, &total);
    /* No concurrency limit here, so that only the rates move. */
#define DN(p, d) demand(a, (p), K, 1200, 200000, 0, (d))
    DN(&w1, 300);
    DN(&w2, 100);
    CHECK(got(&w1, K, 900, 150000, 0));
    int s1 = w1.sends, s2 = w2.sends;

    /* w2 104: w1's share moves by 1% (not re-sent), w2's by 3% (re-sent). */
    DN(&w2, 104);
    CHECK(w1.sends == s1);
    CHECK(w2.sends == s2 + 1);
    CHECK(got(&w2, K, 1200 * 104 / 404.0, 200000 * 104 / 404.0, 0));
    CHECK(got(&w1, K, 900, 150000, 0)); /* what w1 holds: the last table sent */
    double rpm, tpm;
    int conc;
    CHECK(allot_share(a, &w1, K, &rpm, &tpm, &conc) == 0 && near(rpm, 900)); /* the share last sent */

    /* Small moves accumulate against the last table sent, not the last computation. */
    DN(&w2, 108); /* w1: 300/408 = 882.35, 1.96% below 900: still not re-sent */
    CHECK(w1.sends == s1);
    DN(&w2, 110); /* w1: 300/410 = 878.05, 2.4% below 900: re-sent */
    CHECK(w1.sends == s1 + 1);
    CHECK(got(&w1, K, 1200 * 300 / 410.0, 200000 * 300 / 410.0, 0));
#undef DN

    /* A concurrency change alone re-sends (a key limited in concurrency only). */
    demand(a, &w1, "kc", 0, 0, 40, 30);
    demand(a, &w2, "kc", 0, 0, 40, 10);
    CHECK(got(&w1, "kc", 0, 0, 30) && got(&w2, "kc", 0, 0, 10));
    s1 = w1.sends;
    s2 = w2.sends;
    demand(a, &w2, "kc", 0, 0, 40, 11); /* 40 * 30/41 = 29.3, 40 * 11/41 = 10.7 */
    CHECK(w1.sends == s1 + 1 && got(&w1, "kc", 0, 0, 29));
    CHECK(w2.sends == s2 + 1 && got(&w2, "kc", 0, 0, 11));
    allot_destroy(&a);
    peer_clear(&w1);
    peer_clear(&w2);
}

static void test_worker_gone(void)
{
    int total = 0;
    fake_peer_t w1 = {.name = "w1"}, w2 = {.name = "w2"}, w3 = {.name = "w3"};
    allot_t *a = allot_new(fake_send, &total);
    D(a, &w1, 30);
    D(a, &w2, 10);
    int s2 = w2.sends;
    allot_worker_gone(a, &w2);
    CHECK(got(&w1, K, 1200, 200000, 40)); /* the other has the whole limit */
    CHECK(w2.sends == s2);                /* nothing sent to the peer that left */
    double rpm, tpm;
    int conc;
    CHECK(allot_share(a, &w2, K, &rpm, &tpm, &conc) == -1);

    /* A third worker with demand re-balances. */
    D(a, &w3, 10);
    CHECK(got(&w1, K, 900, 150000, 30));
    CHECK(got(&w3, K, 300, 50000, 10));

    /* Unknown peers and peers without shares: no sends, no crash. */
    int before = total;
    allot_worker_gone(a, &w2);
    allot_worker_gone(a, &total);
    allot_worker_joined(a, &w2);
    CHECK(total == before);

    allot_worker_gone(a, &w1);
    allot_worker_gone(a, &w3);
    CHECK(got(&w3, K, 1200, 200000, 40)); /* w3 alone before it left too */
    before = total;
    allot_tick(a);
    CHECK(total == before);
    allot_destroy(&a);
    peer_clear(&w1);
    peer_clear(&w2);
    peer_clear(&w3);
}

static void test_keys_and_limits(void)
{
    int total = 0;
    fake_peer_t w1 = {.name = "w1"}, w2 = {.name = "w2"};
    allot_t *a = allot_new(fake_send, &total);
    demand2(a, &w1, "k1", 30, "k2", 1);
    D(a, &w2, 0);
    demand(a, &w2, "k1", 1200, 200000, 40, 10);
    /* w1's table has both keys; w2 only k1 (and the K row of its zero report). */
    CHECK(w1.n_rows == 2);
    CHECK(got(&w1, "k1", 900, 150000, 30));
    CHECK(got(&w1, "k2", 60, 0, 4));
    CHECK(got(&w2, "k1", 300, 50000, 10));
    CHECK(row(&w2, "k2") == NULL);
    CHECK(got(&w2, K, 0, 0, 0));

    /* The latest report of a key's limits wins (a new job may change them). */
    demand(a, &w2, "k1", 600, 100000, 20, 10);
    CHECK(got(&w1, "k1", 450, 75000, 15));
    CHECK(got(&w2, "k1", 150, 25000, 5));
    CHECK(got(&w1, "k2", 60, 0, 4));

    /* Malformed DEMAND payloads are dropped: no send, nothing changes. */
    int before = total;
    static const unsigned char junk[][8] = {{0xc1},
                                            {0x91, 0x81, 0xa3, 'k', 'e', 'y', 0x05},
                                            {0xdd, 0xff, 0xff, 0xff, 0xff}};
    allot_demand(a, &w1, junk[0], 1);
    allot_demand(a, &w1, junk[1], 7);
    allot_demand(a, &w1, junk[2], 5);
    allot_demand(a, &w1, "", 0);
    CHECK(total == before);
    CHECK(got(&w1, "k1", 450, 75000, 15));

    /* An empty table is a valid DEMAND that says nothing. */
    buf_t b;
    buf_init(&b, 1024);
    CHECK(wire_rates_encode(NULL, 0, &b) == 0);
    allot_demand(a, &w1, b.data, b.len);
    buf_free(&b);
    CHECK(total == before);

    /* A failed send is survived. */
    fail_sends = 1;
    demand(a, &w2, "k1", 600, 100000, 20, 30);
    fail_sends = 0;
    CHECK(got(&w2, "k1", 300, 50000, 10));
    allot_destroy(&a);
    peer_clear(&w1);
    peer_clear(&w2);
}

/* ---- holders: only as many workers as whole calls fit in one second of the limit ------------ */

/* A DEMAND row that also reports the calls started and tokens used since the last one. */
static void demand_used(allot_t *a, fake_peer_t *p, const char *key, double rpm, double tpm, uint32_t conc, uint32_t d,
                        uint64_t used_req, uint64_t used_tok)
{
    wire_rate_t r = {.key = (char *)key,
                     .rpm = rpm,
                     .tpm = tpm,
                     .demand = d,
                     .max_concurrency = conc,
                     .used_requests = used_req,
                     .used_tokens = used_tok};
    buf_t b;
    buf_init(&b, WIRE_MAX_MSG);
    if (wire_rates_encode(&r, 1, &b) < 0 || allot_demand(a, p, b.data, b.len) < 0) failures++;
    buf_free(&b);
}

static double rpm_of(const allot_t *a, const fake_peer_t *p, const char *key)
{
    double rpm = -1, tpm;
    int conc;
    if (allot_share(a, p, key, &rpm, &tpm, &conc) < 0) return -1;
    return rpm;
}

static void test_holders(void)
{
    int total = 0;
    fake_peer_t w[3] = {{.name = "w1"}, {.name = "w2"}, {.name = "w3"}};
    allot_t *a = allot_new(fake_send, &total);

    /* Call size unknown yet: the token limit does not restrict holders; 20 requests a second do
     * not either, so all three hold a third. */
    for (int i = 0; i < 3; i++) demand_used(a, &w[i], K, 1200, 200000, 0, 10, 0, 0);
    for (int i = 0; i < 3; i++) CHECK(near(rpm_of(a, &w[i], K), 400));

    /* 1,500-token calls: 200,000 tpm is 3,333 tokens a second, two whole calls: two holders. */
    demand_used(a, &w[0], K, 1200, 200000, 0, 10, 10, 15000);
    CHECK(got(&w[0], K, 600, 100000, 0));
    CHECK(got(&w[1], K, 600, 100000, 0));
    CHECK(got(&w[2], K, 0, 0, 0)); /* waits with nothing */
    int w3_sends = w[2].sends;

    /* Turns: the holders keep their share 120 heartbeats while w3 waits, then w3 takes over. */
    int changed_at = -1;
    for (int t = 1; t <= 121 && changed_at < 0; t++) {
        for (int i = 0; i < 3; i++) demand_used(a, &w[i], K, 1200, 200000, 0, 10, 0, 0);
        allot_tick(a);
        if (rpm_of(a, &w[2], K) > 0) changed_at = t;
    }
    CHECK(changed_at == 120);
    CHECK(w[2].sends == w3_sends + 1 && got(&w[2], K, 600, 100000, 0));
    double sum = 0;
    int holders = 0;
    for (int i = 0; i < 3; i++) {
        double rpm = rpm_of(a, &w[i], K);
        sum += rpm;
        holders += rpm > 0;
    }
    CHECK(holders == 2 && near(sum, 1200)); /* still two holders, the whole limit */
    allot_destroy(&a);
    for (int i = 0; i < 3; i++) peer_clear(&w[i]);

    /* Less than one request a second: one holder at a time (never none). */
    total = 0;
    a = allot_new(fake_send, &total);
    demand_used(a, &w[0], K, 30, 0, 2, 5, 0, 0);
    demand_used(a, &w[1], K, 30, 0, 2, 5, 0, 0);
    CHECK(got(&w[0], K, 30, 0, 2));
    CHECK(got(&w[1], K, 0, 0, 0));

    /* Nobody waiting: the holders' turns are not counted, shares stay put. */
    allot_destroy(&a);
    for (int i = 0; i < 3; i++) peer_clear(&w[i]);
    total = 0;
    a = allot_new(fake_send, &total);
    demand_used(a, &w[0], K, 120, 0, 0, 5, 0, 0); /* 2 requests a second: two holders */
    demand_used(a, &w[1], K, 120, 0, 0, 5, 0, 0);
    int sends = total;
    for (int t = 0; t < 200; t++) {
        demand_used(a, &w[0], K, 120, 0, 0, 5, 0, 0);
        demand_used(a, &w[1], K, 120, 0, 0, 5, 0, 0);
        allot_tick(a);
    }
    CHECK(total == sends);
    CHECK(near(rpm_of(a, &w[0], K), 60) && near(rpm_of(a, &w[1], K), 60));

    /* A holder without demand gives its slot to the one waiting at once. */
    demand_used(a, &w[2], K, 120, 0, 0, 5, 0, 0);
    CHECK(near(rpm_of(a, &w[2], K), 0));
    demand_used(a, &w[0], K, 120, 0, 0, 0, 0, 0);
    CHECK(near(rpm_of(a, &w[0], K), 0));
    CHECK(near(rpm_of(a, &w[1], K), 60) && near(rpm_of(a, &w[2], K), 60));
    allot_destroy(&a);
    for (int i = 0; i < 3; i++) peer_clear(&w[i]);
}

int main(void)
{
    log_set_level(LOG_OFF);
    test_proportional();
    test_sums();
    test_staleness();
    test_resend_threshold();
    test_worker_gone();
    test_keys_and_limits();
    test_holders();
    return check_summary("test_allot");
}
