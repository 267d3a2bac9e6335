/* mock_int: the mock server's state, shared by mock.c (the HTTP server and the model-call
 * pipeline) and mock_stats.c (its counters and /stats); private to mockllm/. */
#ifndef LLMAJ_MOCK_INT_H
#define LLMAJ_MOCK_INT_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <microhttpd.h>

#include "mock.h"
#include "mock_aws.h"
#include "mock_limits.h"
#include "mock_timer.h"

/* Counters, in the order of mock_stats_t. */
enum {
    ST_REQUESTS,
    ST_REQ_CHAT,
    ST_REQ_MESSAGES,
    ST_REQ_CONVERSE,
    ST_REQ_INVOKE,
    ST_REQ_HEALTHZ,
    ST_REQ_STATS,
    ST_REQ_OTHER,
    ST_INFERENCE,
    ST_JUDGE,
    ST_REASK,
    ST_UNSCORABLE,
    ST_2XX,
    ST_4XX,
    ST_429,
    ST_5XX,
    ST_RATE_LIMITED,
    ST_TOKENS_IN,
    ST_TOKENS_OUT,
    ST_IN_FLIGHT,
    ST_MAX_IN_FLIGHT,
    ST_OUTAGE,
    ST_EPISODE,
    ST__N
};
_Static_assert(sizeof(mock_stats_t) == ST__N * sizeof(uint64_t), "mock_stats_t mirrors the counters");

/* One HTTP thread: a libmicrohttpd daemon in external epoll mode and the thread that drives it. */
typedef struct {
    mock_t *m;
    struct MHD_Daemon *daemon;
    int epoll_fd; /* the daemon's own epoll set (MHD_DAEMON_INFO_EPOLL_FD) */
    int wake_fd;  /* eventfd: written after a resume, and to stop the thread */
    pthread_t thread;
    bool started;
} srv_t;

struct mock {
    mock_opts_t opts; /* host and api_key point at the copies below */
    char *host, *api_key;
    srv_t *srv; /* opts.threads of them, all accepting on one listening socket */
    int n_srv;
    atomic_bool stopping; /* the HTTP threads must return */
    mock_timer_t *timer;
    mock_limits_t *limits;          /* NULL when no rate limit is set */
    mock_limits_t *episode;         /* the --episode-* limits, or NULL */
    _Atomic int64_t first_call_us;  /* the first model call's arrival (loop_now_us); 0 = none yet */
    _Atomic uint64_t episode_seen;  /* model calls counted against --episode-requests */
    _Atomic int64_t episode_end_us; /* when the episode ended; 0 = not (yet) */
    mock_aws_t *aws;                /* S3, STS, metadata, SageMaker (mock_aws.h) */
    _Atomic uint64_t st[ST__N];
    _Atomic uint64_t draws; /* position in the seeded stream of latency / error draws */
    _Atomic uint64_t ids;   /* reply ids */
    uint64_t id_base;
    int port;
    char url[320];
};

#endif
