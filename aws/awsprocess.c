/* awsprocess: a profile's credential_process; see awsprocess.h.
 *
 * DESIGN. posix_spawn (not fork) starts /bin/sh -c COMMAND with stdout on a pipe: safe in a
 * threaded process. The parent reads the pipe with poll() until end of file or the deadline,
 * then reaps the child (killing it first on a timeout or an oversized output). */
#define LOG_MODULE "aws"
#include "awsprocess.h"
#include "awscreds_int.h"
#include "buf.h"
#include "mem.h"

#include <cjson/cJSON.h>
#include <openssl/crypto.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define OUT_MAX (64 * 1024)

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int awsprocess_credentials(const char *command, const char *profile, awscreds_t **out, char *err, size_t errlen)
{
    *out = NULL;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) {
        awscreds_seterr(err, errlen, "profile '%s': credential_process: cannot create a pipe: %s", profile,
                        strerror(errno));
        return -1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    char *argv[] = {"sh", "-c", (char *)command, NULL};
    pid_t pid;
    int src = posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (src != 0) {
        close(fds[0]);
        awscreds_seterr(err, errlen, "profile '%s': credential_process: cannot start /bin/sh: %s", profile,
                        strerror(src));
        return -1;
    }
    buf_t b;
    buf_init(&b, OUT_MAX);
    long long deadline = now_ms() + AWSPROCESS_TIMEOUT_S * 1000LL;
    const char *problem = NULL;
    char chunk[4096];
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0) {
            problem = "did not finish within the time limit";
            break;
        }
        struct pollfd p = {.fd = fds[0], .events = POLLIN};
        int n = poll(&p, 1, (int)(left > 1000 ? 1000 : left));
        if (n < 0 && errno != EINTR) {
            problem = "cannot read its output";
            break;
        }
        if (n <= 0) continue;
        ssize_t r = read(fds[0], chunk, sizeof chunk);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            problem = "cannot read its output";
            break;
        }
        if (r == 0) break;
        if (buf_append(&b, chunk, (size_t)r) < 0) {
            problem = "printed more than 64 KiB";
            break;
        }
    }
    OPENSSL_cleanse(chunk, sizeof chunk);
    close(fds[0]);
    if (problem) kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    int rc = -1;
    if (problem) {
        awscreds_seterr(err, errlen, "profile '%s': credential_process %s", profile, problem);
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (WIFEXITED(status))
            awscreds_seterr(err, errlen, "profile '%s': credential_process exited with status %d", profile,
                            WEXITSTATUS(status));
        else
            awscreds_seterr(err, errlen, "profile '%s': credential_process was killed by signal %d", profile,
                            WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    } else {
        cJSON *o = b.data ? cJSON_ParseWithLength(b.data, b.len) : NULL;
        const cJSON *v = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, "Version") : NULL;
        if (!cJSON_IsObject(o))
            awscreds_seterr(err, errlen, "profile '%s': credential_process did not print a JSON object", profile);
        else if (!cJSON_IsNumber(v) || v->valuedouble != 1)
            awscreds_seterr(err, errlen, "profile '%s': credential_process output must have \"Version\": 1", profile);
        else if (awscreds_from_json(o, false, profile, xasprintf("credential_process of profile %s", profile), out, err,
                                    errlen) == 0)
            rc = 0;
        if (o) {
            /* wipe the secrets in the parsed tree too */
            const char *keys[] = {"SecretAccessKey", "SessionToken", "Token"};
            for (size_t i = 0; i < 3; i++) {
                cJSON *s = cJSON_GetObjectItemCaseSensitive(o, keys[i]);
                if (cJSON_IsString(s)) OPENSSL_cleanse(s->valuestring, strlen(s->valuestring));
            }
        }
        cJSON_Delete(o);
    }
    if (b.data) OPENSSL_cleanse(b.data, b.len);
    buf_free(&b);
    return rc;
}
