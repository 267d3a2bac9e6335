/* embedded: the fleet of `llmaj run` in one process: a broker on its own thread and worker
 * threads, talking over inproc:// through one ZeroMQ context, the same libraries the daemons
 * run. The scheduler engine (scheduler.h) connects to it like to any broker. Does not own the
 * scheduler, the job or what is printed. */
#ifndef LLMAJ_EMBEDDED_H
#define LLMAJ_EMBEDDED_H
#include <stddef.h>

typedef struct embedded embedded_t;

typedef struct {
    int workers;     /* worker threads; >= 1 */
    int concurrency; /* model calls in flight per worker thread; >= 1 */
} embedded_opts_t;

/* Starts the broker thread and the workers. NULL with the reason in err. Caller owns the result. */
embedded_t *embedded_start(const embedded_opts_t *o, char *err, size_t errlen);

const char *embedded_endpoint(const embedded_t *e); /* the broker's inproc:// endpoint */
void *embedded_zmq_ctx(const embedded_t *e);        /* the context a scheduler must share */

/* Stops the workers (they say BYE), then the broker, and frees; every thread has ended when it
 * returns. A scheduler using the context must be destroyed first. Accepts NULL. */
void embedded_stop(embedded_t **self_p);

#endif
