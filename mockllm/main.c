/* llmaj-mockllm: the mock LLM server program. Settings come from LLMAJ_MOCK_* variables, then
 * flags; it prints "listening on http://HOST:PORT" once the port is bound, serves until SIGINT
 * or SIGTERM, and exits 0. Exit 2 for bad flags, 1 when the server cannot start. */
#define LOG_MODULE "mockllm"
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "log.h"
#include "mock.h"

int main(int argc, char **argv)
{
    mock_opts_t opts;
    mock_opts_default(&opts);
    char err[512];
    if (mock_opts_from_env(&opts, err, sizeof err) < 0) {
        fprintf(stderr, "llmaj-mockllm: %s\n", err);
        return 2;
    }
    int rc = mock_opts_parse_args(&opts, argc, argv, err, sizeof err);
    if (rc == MOCK_ARGS_HELP) {
        fputs(mock_opts_usage(), stdout);
        return 0;
    }
    if (rc == MOCK_ARGS_VERSION) {
        printf("llmaj-mockllm %s\n", LLMAJ_VERSION);
        return 0;
    }
    if (rc < 0) {
        fprintf(stderr, "llmaj-mockllm: %s\n", err);
        return 2;
    }
    log_set_level(opts.log_level);
    log_set_format(opts.log_format);

    /* Every parked request holds a socket: allow as many as the hard limit does. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) log_warn("cannot raise the open-file limit: %s", strerror(errno));
    }

    /* Block the stop signals before any thread starts, so only sigwait below sees them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    mock_t *m = mock_new(&opts, err, sizeof err);
    if (!m) {
        fprintf(stderr, "llmaj-mockllm: %s\n", err);
        return 1;
    }
    printf("listening on %s\n", mock_url(m));
    fflush(stdout);

    int sig = 0;
    if (sigwait(&stop, &sig) != 0) sig = SIGTERM;
    log_info("%s received, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    mock_destroy(&m);
    return 0;
}
