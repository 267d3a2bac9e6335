/* test_awscreds: the credential chain (environment, shared credentials file, config file), the
 * region chain, and the INI reader's tolerance and error messages, on files in a temporary HOME. */
#include "awscreds.h"
#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

static char tmpdir[] = "/tmp/test_awscreds.XXXXXX";
static char *created[32];
static size_t ncreated;

static char *write_file(const char *name, const char *text)
{
    char *path = xasprintf("%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    int seen = 0;
    for (size_t i = 0; i < ncreated; i++) seen |= strcmp(created[i], path) == 0;
    if (!seen && ncreated < 32) created[ncreated++] = xstrdup(path);
    return path;
}

static const char *const aws_vars[] = {
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
    "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"};

static void clear_env(void)
{
    for (size_t i = 0; i < sizeof(aws_vars) / sizeof(*aws_vars); i++) unsetenv(aws_vars[i]);
}

static void test_environment(void)
{
    clear_env();
    char err[512];
    setenv("AWS_ACCESS_KEY_ID", "AKIAENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
    setenv("AWS_SESSION_TOKEN", "envtoken", 1);
    awscreds_t *c = awscreds_new(NULL, err, sizeof(err));
    CHECK(c != NULL);
    if (c) {
        CHECK_STR(awscreds_access_key(c), "AKIAENV");
        CHECK_STR(awscreds_secret_key(c), "envsecret");
        CHECK_STR(awscreds_session_token(c), "envtoken");
        CHECK_STR(awscreds_source(c), "environment");
        CHECK_STR(awscreds_profile(c), "default");
    }
    awscreds_destroy(&c);
    CHECK(c == NULL);
    awscreds_destroy(&c); /* NULL is fine */
    awscreds_destroy(NULL);

    unsetenv("AWS_SESSION_TOKEN");
    c = awscreds_new(NULL, err, sizeof(err));
    CHECK(c && awscreds_session_token(c) == NULL);
    awscreds_destroy(&c);

    /* Half set: an error naming both variables, never the value. */
    unsetenv("AWS_SECRET_ACCESS_KEY");
    c = awscreds_new(NULL, err, sizeof(err));
    CHECK(c == NULL);
    CHECK_HAS(err, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
    CHECK(strstr(err, "AKIAENV") == NULL);
    setenv("AWS_ACCESS_KEY_ID", "", 1); /* empty counts as unset */
    setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
    c = awscreds_new(NULL, err, sizeof(err));
    CHECK(c == NULL);
    CHECK_HAS(err, "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not");
    CHECK(strstr(err, "envsecret") == NULL);
    clear_env();
}

static const char *creds_text =
    "\xEF\xBB\xBF# AWS credentials\r\n"
    "; another comment\r\n"
    "\r\n"
    "[default]\r\n"
    "aws_access_key_id = AKIADEFAULT\r\n"
    "aws_secret_access_key=defsecret   \r\n"
    "\r\n"
    "  [ dev ]   # the dev account\r\n"
    "\tAWS_ACCESS_KEY_ID\t=\tAKIADEV   # inline comment\r\n"
    "aws_secret_access_key = dev/secret+key\r\n"
    "aws_session_token = FwoGZXIvYXdzEA==\r\n"
    "region = eu-west-1\r\n"
    "[partial]\n"
    "aws_access_key_id = AKIAPARTIAL\n"
    "[roles]\n"
    "role_arn = arn:aws:iam::123456789012:role/x\n"
    "source_profile = default\n"
    "[empty]\n";

static const char *config_text =
    "[default]\n"
    "region = us-west-2\n"
    "s3 =\n"
    "    max_concurrent_requests = 20\n"
    "    addressing_style = path\n"
    "output = json\n"
    "\n"
    "[profile cfg]\n"
    "aws_access_key_id = AKIACFG\n"
    "aws_secret_access_key = cfgsecret\n"
    "region = ap-southeast-2 ; comment\n"
    "[profile   dev]\n"
    "region = eu-central-1\n"
    "[sso-session corp]\n"
    "sso_region = us-east-1\n"
    "[cfg]\n" /* not a profile in a config file */
    "region = xx-bad-1\n";

static void test_files(void)
{
    clear_env();
    char err[1024];
    char *cpath = write_file("credentials", creds_text);
    char *gpath = write_file("config", config_text);
    setenv("AWS_SHARED_CREDENTIALS_FILE", cpath, 1);
    setenv("AWS_CONFIG_FILE", gpath, 1);

    awscreds_t *c = awscreds_new(NULL, err, sizeof(err));
    CHECK(c != NULL);
    if (c) {
        CHECK_STR(awscreds_access_key(c), "AKIADEFAULT");
        CHECK_STR(awscreds_secret_key(c), "defsecret");
        CHECK(awscreds_session_token(c) == NULL);
        CHECK_HAS(awscreds_source(c), "shared credentials file");
        CHECK_HAS(awscreds_source(c), cpath);
    }
    awscreds_destroy(&c);

    /* AWS_PROFILE; CRLF, tabs, upper-case option names, inline comments, session token. */
    setenv("AWS_PROFILE", "dev", 1);
    c = awscreds_new(NULL, err, sizeof(err));
    CHECK(c != NULL);
    if (c) {
        CHECK_STR(awscreds_access_key(c), "AKIADEV");
        CHECK_STR(awscreds_secret_key(c), "dev/secret+key");
        CHECK_STR(awscreds_session_token(c), "FwoGZXIvYXdzEA==");
        CHECK_STR(awscreds_profile(c), "dev");
    }
    awscreds_destroy(&c);

    /* The environment comes first... */
    setenv("AWS_ACCESS_KEY_ID", "AKIAENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
    c = awscreds_new(NULL, err, sizeof(err));
    CHECK(c && strcmp(awscreds_access_key(c), "AKIAENV") == 0);
    awscreds_destroy(&c);
    /* ...unless a profile is passed explicitly. */
    c = awscreds_new("dev", err, sizeof(err));
    CHECK(c && strcmp(awscreds_access_key(c), "AKIADEV") == 0);
    awscreds_destroy(&c);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");

    /* Keys from the config file when the credentials file lacks the profile. */
    c = awscreds_new("cfg", err, sizeof(err));
    CHECK(c != NULL);
    if (c) {
        CHECK_STR(awscreds_access_key(c), "AKIACFG");
        CHECK_HAS(awscreds_source(c), "config file");
    }
    awscreds_destroy(&c);

    /* Partial profile, unsupported role profile, absent profile, empty profile. */
    c = awscreds_new("partial", err, sizeof(err));
    CHECK(c == NULL);
    CHECK_HAS(err, "[partial] has aws_access_key_id but no aws_secret_access_key");
    CHECK_HAS(err, cpath);
    c = awscreds_new("roles", err, sizeof(err));
    CHECK(c == NULL);
    CHECK_HAS(err, "role_arn");
    CHECK_HAS(err, "does not support");
    c = awscreds_new("nosuch", err, sizeof(err));
    CHECK(c == NULL);
    CHECK_HAS(err, "no AWS credentials found for profile 'nosuch' (given explicitly)");
    CHECK_HAS(err, "no [nosuch] section");
    CHECK_HAS(err, "no [profile nosuch] section");
    setenv("AWS_PROFILE", "empty", 1);
    c = awscreds_new(NULL, err, sizeof(err));
    CHECK(c == NULL);
    CHECK_HAS(err, "(from AWS_PROFILE)");
    CHECK_HAS(err, "environment (AWS_ACCESS_KEY_ID not set)");
    CHECK_HAS(err, "[empty] has no aws_access_key_id");
    unsetenv("AWS_PROFILE");

    /* Region chain. */
    char region[64];
    CHECK(awscreds_region("ca-central-1", NULL, region, sizeof(region), err, sizeof(err)) == 0);
    CHECK_STR(region, "ca-central-1");
    CHECK(awscreds_region(NULL, NULL, region, sizeof(region), err, sizeof(err)) == 0);
    CHECK_STR(region, "us-west-2"); /* [default] of the config, past the nested s3 block */
    CHECK(awscreds_region("", "cfg", region, sizeof(region), err, sizeof(err)) == 0);
    CHECK_STR(region, "ap-southeast-2");
    setenv("AWS_PROFILE", "dev", 1);
    CHECK(awscreds_region(NULL, NULL, region, sizeof(region), err, sizeof(err)) == 0);
    CHECK_STR(region, "eu-central-1"); /* the config file's, not the credentials file's */
    setenv("AWS_DEFAULT_REGION", "us-east-2", 1);
    CHECK(awscreds_region(NULL, NULL, region, sizeof(region), err, sizeof(err)) == 0);
    CHECK_STR(region, "us-east-2");
    setenv("AWS_REGION", "eu-north-1", 1);
    CHECK(awscreds_region(NULL, NULL, region, sizeof(region), err, sizeof(err)) == 0);
    CHECK_STR(region, "eu-north-1");
    CHECK(awscreds_region("sa-east-1", NULL, region, sizeof(region), err, sizeof(err)) == 0);
    CHECK_STR(region, "sa-east-1");
    setenv("AWS_REGION", "US East", 1);
    CHECK(awscreds_region(NULL, NULL, region, sizeof(region), err, sizeof(err)) < 0);
    CHECK_HAS(err, "AWS_REGION");
    CHECK_HAS(err, "not a valid AWS region");
    CHECK(awscreds_region("us-east-1", NULL, region, 5, err, sizeof(err)) < 0);
    CHECK_HAS(err, "longer");
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
    unsetenv("AWS_PROFILE");
    CHECK(awscreds_region(NULL, "partial", region, sizeof(region), err, sizeof(err)) < 0);
    CHECK_HAS(err, "has no section for profile 'partial' (given explicitly)");
    CHECK_HAS(err, "AWS_REGION");

    free(cpath);
    free(gpath);
    clear_env();
}

static void test_malformed(void)
{
    clear_env();
    char err[1024];
    char *path = write_file("bad1", "[default]\naws_access_key_id = AKIA\n"
                                    "aws_secret_access_key wJalrXUtnFEMISECRET\n");
    setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
    awscreds_t *c = awscreds_new(NULL, err, sizeof(err));
    CHECK(c == NULL);
    char *where = xasprintf("%s:3:", path);
    CHECK_HAS(err, where);
    CHECK_HAS(err, "expected '[section]' or 'name = value'");
    CHECK(strstr(err, "wJalrXUtnFEMISECRET") == NULL); /* the line is never echoed */
    free(where);
    free(path);

    /* Malformed even past the wanted profile: the whole file is checked. */
    path = write_file("bad2", "[default]\naws_access_key_id = A\naws_secret_access_key = B\n"
                              "[other\n");
    setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
    c = awscreds_new(NULL, err, sizeof(err));
    CHECK(c == NULL);
    CHECK_HAS(err, ":4: section header has no closing ']'");
    free(path);

    path = write_file("bad3", "aws_access_key_id = A\n[default]\n");
    setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
    c = awscreds_new(NULL, err, sizeof(err));
    CHECK(c == NULL);
    CHECK_HAS(err, ":1: option outside of any [section]");
    free(path);

    path = write_file("bad4", "# x\n\n[ ]\n");
    setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
    c = awscreds_new(NULL, err, sizeof(err));
    CHECK(c == NULL);
    CHECK_HAS(err, ":3: empty section name");
    free(path);

    path = write_file("bad5", "[default] extra\n");
    setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
    c = awscreds_new(NULL, err, sizeof(err));
    CHECK(c == NULL);
    CHECK_HAS(err, ":1: unexpected text after the section header");
    free(path);

    path = write_file("bad6", "[default]\n = value\n");
    setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
    c = awscreds_new(NULL, err, sizeof(err));
    CHECK(c == NULL);
    CHECK_HAS(err, ":2: option with an empty name");
    free(path);

    /* A malformed config file is reported by the region lookup too. */
    path = write_file("bad7", "[default]\nregion\n");
    setenv("AWS_CONFIG_FILE", path, 1);
    char region[64];
    CHECK(awscreds_region(NULL, NULL, region, sizeof(region), err, sizeof(err)) < 0);
    CHECK_HAS(err, ":2: expected");
    free(path);

    /* A directory where a file should be. */
    setenv("AWS_SHARED_CREDENTIALS_FILE", tmpdir, 1);
    c = awscreds_new(NULL, err, sizeof(err));
    CHECK(c == NULL);
    CHECK_HAS(err, "is a directory");
    clear_env();
}

static void test_home(void)
{
    clear_env();
    char err[1024];
    /* Nothing anywhere: the message lists every source. */
    awscreds_t *c = awscreds_new(NULL, err, sizeof(err));
    CHECK(c == NULL);
    CHECK_HAS(err, "no AWS credentials found for profile 'default' (default): tried environment");
    char *cp = xasprintf("shared credentials file %s/.aws/credentials (not found)", tmpdir);
    char *gp = xasprintf("config file %s/.aws/config (not found)", tmpdir);
    CHECK_HAS(err, cp);
    CHECK_HAS(err, gp);
    free(cp);
    free(gp);
    char region[64];
    CHECK(awscreds_region(NULL, NULL, region, sizeof(region), err, sizeof(err)) < 0);
    CHECK_HAS(err, "no AWS region");
    CHECK_HAS(err, "does not exist");

    /* ~/.aws/credentials under HOME. */
    char *dir = xasprintf("%s/.aws", tmpdir);
    CHECK(mkdir(dir, 0700) == 0);
    char *path = write_file(".aws/credentials", "[default]\naws_access_key_id=AKIAHOME\n"
                                                "aws_secret_access_key=homesecret\n");
    free(write_file(".aws/config", "[profile default]\nregion = me-south-1\n"));
    c = awscreds_new(NULL, err, sizeof(err));
    CHECK(c && strcmp(awscreds_access_key(c), "AKIAHOME") == 0);
    awscreds_destroy(&c);
    CHECK(awscreds_region(NULL, NULL, region, sizeof(region), err, sizeof(err)) == 0);
    CHECK_STR(region, "me-south-1"); /* [profile default] counts as the default profile */

    /* "~/" in the variable is expanded. */
    setenv("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials", 1);
    c = awscreds_new(NULL, err, sizeof(err));
    CHECK(c && strcmp(awscreds_access_key(c), "AKIAHOME") == 0);
    if (c) CHECK_HAS(awscreds_source(c), tmpdir);
    awscreds_destroy(&c);
    free(path);
    for (size_t i = ncreated; i-- > 0;) {
        unlink(created[i]);
        free(created[i]);
    }
    ncreated = 0;
    rmdir(dir);
    free(dir);
    clear_env();
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    setenv("HOME", tmpdir, 1);
    test_environment();
    test_files();
    test_malformed();
    test_home();
    for (size_t i = 0; i < ncreated; i++) {
        unlink(created[i]);
        free(created[i]);
    }
    rmdir(tmpdir);
    return check_summary("test_awscreds");
}
