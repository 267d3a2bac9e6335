/* svcfix.h: the scheduler service in one process for unit tests, header-only: the mock LLM on a
 * free port, a broker and workers over inproc (cli/embedded.c), an engine in serve mode on its own
 * thread, and the REST API (scheduler/api.c) on 127.0.0.1:0 with a token, started when the engine
 * is up. svcfix_stop shuts it all down (jobs left running stay in the database). Not here: what
 * the tests ask of it. */
#ifndef LLMAJ_TESTS_SVCFIX_H
#define LLMAJ_TESTS_SVCFIX_H

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "embedded.h"
#include "jobfix.h"
#include "mem.h"
#include "mock.h"
#include "scheduler.h"

#define SVCFIX_TOKEN "unit-test-token"

typedef struct {
    mock_t *mock;
    embedded_t *fleet;
    sched_t *engine;
    api_t *api;
    pthread_t thread;
    char *db, *url;
    char err[512];
    volatile int started; /* 1 listening, -1 failed */
} svcfix_t;

static inline void svcfix_on_start(sched_t *s, void *arg)
{
    svcfix_t *f = arg;
    api_opts_t ao = {.listen = "127.0.0.1:0", .token = SVCFIX_TOKEN, .engine = s, .db_path = sched_db_path(s)};
    f->api = api_start(&ao, f->err, sizeof f->err);
    if (f->api) f->url = xstrdup(api_url(f->api));
    f->started = f->api ? 1 : -1;
}

static inline void *svcfix_run(void *arg)
{
    svcfix_t *f = arg;
    errlist_t errs;
    errlist_init(&errs, 0);
    if (sched_run(f->engine, &errs) != SCHED_OK) {
        errlist_print(&errs, stderr, "  svcfix run: ");
        if (!f->started) f->started = -1;
    }
    errlist_free(&errs);
    return NULL;
}

/* Starts it all; the mock with `latency_ms` per call. 0, or -1 (printed). */
static inline int svcfix_start(svcfix_t *f, const char *dir, int latency_ms, int max_jobs)
{
    memset(f, 0, sizeof *f);
    mock_opts_t mo;
    mock_opts_default(&mo);
    mo.log_level = LOG_WARN;
    if (latency_ms > 0) {
        mo.latency.kind = MOCK_LATENCY_FIXED;
        mo.latency.a = latency_ms;
    }
    if (!(f->mock = mock_new(&mo, f->err, sizeof f->err))) goto fail;
    jobfix_env(mock_url(f->mock));
    embedded_opts_t eo = {.workers = 2, .concurrency = 8};
    if (!(f->fleet = embedded_start(&eo, f->err, sizeof f->err))) goto fail;
    f->db = xasprintf("%s/svc.db", dir);
    errlist_t errs;
    errlist_init(&errs, 0);
    sched_opts_t o = {.broker = embedded_endpoint(f->fleet),
                      .zmq_ctx = embedded_zmq_ctx(f->fleet),
                      .db_path = f->db,
                      .window = 4,
                      .heartbeat_ms = 100,
                      .serve = true,
                      .max_jobs = max_jobs,
                      .on_start = svcfix_on_start,
                      .on_start_arg = f};
    f->engine = sched_new(&o, &errs);
    errlist_free(&errs);
    if (!f->engine || pthread_create(&f->thread, NULL, svcfix_run, f) != 0) goto fail;
    for (int i = 0; i < 3000 && !f->started; i++) usleep(10000);
    if (f->started == 1) return 0;
fail:
    fprintf(stderr, "svcfix: %s\n", f->err);
    return -1;
}

static inline void svcfix_stop(svcfix_t *f)
{
    if (f->engine) {
        sched_shutdown(f->engine);
        if (f->started) pthread_join(f->thread, NULL);
    }
    api_stop(&f->api);
    sched_destroy(&f->engine);
    embedded_stop(&f->fleet);
    mock_destroy(&f->mock);
    free(f->db);
    free(f->url);
    f->db = f->url = NULL;
}

#endif
