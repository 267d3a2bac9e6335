/* testutil.h: small helpers several unit tests repeat, header-only: whether a list of validation
 * problems holds a message (printing them all when it does not), and a hermetic AWS environment
 * in a temporary folder. Not here: the CHECK harness (check.h), the stand-in HTTP server
 * (standin.h), fixtures that belong to one test. */
#ifndef LLMAJ_TESTS_TESTUTIL_H
#define LLMAJ_TESTS_TESTUTIL_H

#include "errlist.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Some kept message of e contains needle; if none does, prints needle and every message. */
static inline bool errs_have(const errlist_t *e, const char *needle)
{
    for (size_t i = 0; i < e->n_kept; i++)
        if (strstr(e->msgs[i], needle)) return true;
    fprintf(stderr, "  no message contains `%s`; got:\n", needle);
    errlist_print(e, stderr, "    ");
    return false;
}

/* Points HOME, AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE into dir (dir/credentials,
 * dir/config), so that no real AWS file of the machine is read, and turns off the credential
 * sources a test machine might otherwise reach (web identity, container, instance metadata). */
static inline void aws_env_home(const char *dir)
{
    char path[512];
    static const char *const off[] = {"AWS_WEB_IDENTITY_TOKEN_FILE",
                                      "AWS_ROLE_ARN",
                                      "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                                      "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                                      "AWS_CONTAINER_AUTHORIZATION_TOKEN",
                                      "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                                      "AWS_CREDENTIAL_EXPIRATION"};
    for (size_t i = 0; i < sizeof off / sizeof off[0]; i++) unsetenv(off[i]);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    setenv("HOME", dir, 1);
    snprintf(path, sizeof path, "%s/credentials", dir);
    setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
    snprintf(path, sizeof path, "%s/config", dir);
    setenv("AWS_CONFIG_FILE", path, 1);
}

#endif
