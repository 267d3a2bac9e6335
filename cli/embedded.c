/* embedded: broker and workers of `llmaj run` in this process; see embedded.h. */
#define LOG_MODULE "run"
#include "embedded.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <zmq.h>

#include "broker.h"
#include "log.h"
#include "mem.h"
#include "worker.h"

struct embedded {
    void *ctx;
    char endpoint[64];
    broker_t *broker;
    pthread_t broker_tid;
    bool broker_running;
    worker_t *workers;
};

static void *broker_main(void *arg)
{
    if (broker_run(arg) < 0) log_error("the embedded broker stopped with an error");
    return NULL;
}

embedded_t *embedded_start(const embedded_opts_t *o, char *err, size_t errlen)
{
    embedded_t *e = xcalloc(1, sizeof *e);
    if (!(e->ctx = zmq_ctx_new())) {
        snprintf(err, errlen, "cannot create a ZeroMQ context: %s", zmq_strerror(zmq_errno()));
        free(e);
        return NULL;
    }
    snprintf(e->endpoint, sizeof e->endpoint, "inproc://llmaj-broker-%d", (int)getpid());
    broker_opts_t bo;
    broker_opts_default(&bo);
    bo.endpoint = e->endpoint;
    bo.zmq_ctx = e->ctx;
    if (!(e->broker = broker_new(&bo, err, errlen))) goto fail;
    if (pthread_create(&e->broker_tid, NULL, broker_main, e->broker) != 0) {
        snprintf(err, errlen, "cannot start the broker thread");
        goto fail;
    }
    e->broker_running = true;
    worker_opts_t wo;
    worker_opts_default(&wo);
    wo.broker = e->endpoint;
    wo.zmq_ctx = e->ctx;
    wo.threads = o->workers;
    wo.max_concurrency = o->concurrency;
    if (!(e->workers = worker_new(&wo, err, errlen))) goto fail;
    if (worker_start(e->workers) < 0) {
        snprintf(err, errlen, "cannot start the worker threads");
        goto fail;
    }
    return e;
fail:
    embedded_stop(&e);
    return NULL;
}

const char *embedded_endpoint(const embedded_t *e) { return e->endpoint; }
void *embedded_zmq_ctx(const embedded_t *e) { return e->ctx; }

void embedded_stop(embedded_t **self_p)
{
    if (!self_p || !*self_p) return;
    embedded_t *e = *self_p;
    worker_destroy(&e->workers); /* stops and joins the worker threads */
    if (e->broker_running) {
        broker_stop(e->broker);
        pthread_join(e->broker_tid, NULL);
    }
    broker_destroy(&e->broker);
    zmq_ctx_term(e->ctx);
    free(e);
    *self_p = NULL;
}
