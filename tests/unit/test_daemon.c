/* test_daemon: the start-up helpers every daemon shares: environment defaults, integer options,
 * the options every daemon takes (their getopt_long entries, defaults from LLMAJ_* variables,
 * flags over environment, range checks that name the option) and the build-info metric. */
#include "daemon.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static void test_env_and_ints(void)
{
    setenv("LLMAJ_TEST_DAEMON", "v", 1);
    CHECK(strcmp(daemon_env("LLMAJ_TEST_DAEMON", "d"), "v") == 0);
    setenv("LLMAJ_TEST_DAEMON", "", 1); /* empty counts as unset */
    CHECK(strcmp(daemon_env("LLMAJ_TEST_DAEMON", "d"), "d") == 0);
    unsetenv("LLMAJ_TEST_DAEMON");
    CHECK(daemon_env("LLMAJ_TEST_DAEMON", NULL) == NULL);

    char err[128];
    long v = 0;
    CHECK(daemon_parse_int("42", 1, 100, &v, "--n", err, sizeof err) == 0 && v == 42);
    CHECK(daemon_parse_int("1", 1, 100, &v, "--n", err, sizeof err) == 0 && v == 1);
    CHECK(daemon_parse_int("101", 1, 100, &v, "--n", err, sizeof err) < 0 && v == 1);
    CHECK(strcmp(err, "--n: '101' is not an integer from 1 to 100") == 0);
    CHECK(daemon_parse_int("4x", 1, 100, &v, "--n", err, sizeof err) < 0);
    CHECK(daemon_parse_int("", 1, 100, &v, "--n", err, sizeof err) < 0 &&
          strcmp(err, "--n: a number is required") == 0);
    CHECK(daemon_parse_int(NULL, 1, 100, &v, "--n", err, sizeof err) < 0);
}

/* Parses args (NULL-terminated; args[0] the program) with the shared options only. */
static int parse(daemon_opts_t *d, const char **args)
{
    static const struct option longopts[] = {DAEMON_LONGOPTS, {0, 0, 0, 0}};
    char *argv[16];
    int argc = 0;
    while (args[argc] && argc < 15) {
        argv[argc] = (char *)args[argc];
        argc++;
    }
    argv[argc] = NULL;
    optind = 1;
    opterr = 0;
    int c, bad = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 'H' || c == 'D' || c == 'M' || c == 'l' || c == 'f') daemon_opts_set(d, c, optarg);
        else bad++;
    }
    return bad;
}

static void test_opts(void)
{
    unsetenv("LLMAJ_HEARTBEAT_MS");
    unsetenv("LLMAJ_DEAD_AFTER");
    unsetenv("LLMAJ_METRICS_ADDR");
    daemon_opts_t d;
    daemon_opts_init(&d);
    CHECK(strcmp(d.heartbeat_ms, "1000") == 0 && strcmp(d.dead_after, "5") == 0);
    CHECK(d.metrics_addr == NULL && d.log_level == NULL && d.log_format == NULL);
    char err[128];
    CHECK(daemon_opts_check(&d, err, sizeof err) == 0 && d.hb_ms == 1000 && d.dead_n == 5);

    setenv("LLMAJ_HEARTBEAT_MS", "250", 1);
    setenv("LLMAJ_DEAD_AFTER", "7", 1);
    setenv("LLMAJ_METRICS_ADDR", ":9100", 1);
    daemon_opts_init(&d);
    CHECK(daemon_opts_check(&d, err, sizeof err) == 0 && d.hb_ms == 250 && d.dead_n == 7);
    CHECK(d.metrics_addr && strcmp(d.metrics_addr, ":9100") == 0);

    /* flags win over the environment */
    CHECK(parse(&d, (const char *[]){"x", "--heartbeat-ms", "20", "--dead-after=3", "--metrics-addr", "0",
                                     "--log-level", "debug", "--log-format", "json", NULL}) == 0);
    CHECK(daemon_opts_check(&d, err, sizeof err) == 0 && d.hb_ms == 20 && d.dead_n == 3);
    CHECK(strcmp(d.metrics_addr, "0") == 0 && strcmp(d.log_level, "debug") == 0 && strcmp(d.log_format, "json") == 0);
    CHECK(parse(&d, (const char *[]){"x", "--bind", "y", NULL}) == 1); /* not a shared option */
    daemon_opts_set(&d, 'z', "ignored");
    CHECK(d.hb_ms == 20 && strcmp(d.heartbeat_ms, "20") == 0);

    /* the ranges, and messages that name the option */
    daemon_opts_set(&d, 'H', "9");
    CHECK(daemon_opts_check(&d, err, sizeof err) < 0 &&
          strcmp(err, "--heartbeat-ms: '9' is not an integer from 10 to 600000") == 0);
    daemon_opts_set(&d, 'H', "600000");
    daemon_opts_set(&d, 'D', "1");
    CHECK(daemon_opts_check(&d, err, sizeof err) < 0 &&
          strcmp(err, "--dead-after: '1' is not an integer from 2 to 1000") == 0);
    daemon_opts_set(&d, 'D', "1000");
    CHECK(daemon_opts_check(&d, err, sizeof err) == 0 && d.hb_ms == 600000 && d.dead_n == 1000);
    unsetenv("LLMAJ_HEARTBEAT_MS");
    unsetenv("LLMAJ_DEAD_AFTER");
    unsetenv("LLMAJ_METRICS_ADDR");
}

static void test_build_info(void)
{
    buf_t b;
    buf_init(&b, 0);
    CHECK(daemon_build_info(&b, "broker") == 0);
    const char *want = "# HELP llmaj_build_info Always 1: the program and its version.\n"
                       "# TYPE llmaj_build_info gauge\n"
                       "llmaj_build_info{role=\"broker\",version=\"" LLMAJ_VERSION "\"} 1\n";
    CHECK_STR(b.data, want);
    buf_free(&b);
    buf_init(&b, 16); /* too small: -1 */
    CHECK(daemon_build_info(&b, "worker") < 0);
    buf_free(&b);
}

int main(void)
{
    test_env_and_ints();
    test_opts();
    test_build_info();
    return check_summary("test_daemon");
}
