/* test_awscreds: the credential chain (environment, shared credentials file, config file, and the
 * order of every source), the region chain, the INI reader's tolerance and error messages on files
 * in a temporary HOME; and the process-wide cache: static credentials re-read after their TTL,
 * temporary ones refreshed in the background in the advisory window while callers keep using the
 * current ones (a stand-in container endpoint that can be held shut makes this deterministic), a
 * blocking refresh in the mandatory window, a failed refresh that keeps valid credentials, and a
 * reference held across refreshes staying valid. */
#include "awscreds.h"
#include "mem.h"
#include "mock.h"
#include "sigv4.h"

#include <microhttpd.h>
#include <pthread.h>

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

static const char *const aws_vars[] = {"AWS_ACCESS_KEY_ID",
                                       "AWS_SECRET_ACCESS_KEY",
                                       "AWS_SESSION_TOKEN",
                                       "AWS_PROFILE",
                                       "AWS_REGION",
                                       "AWS_DEFAULT_REGION",
                                       "AWS_CONFIG_FILE",
                                       "AWS_SHARED_CREDENTIALS_FILE",
                                       "AWS_WEB_IDENTITY_TOKEN_FILE",
                                       "AWS_ROLE_ARN",
                                       "AWS_ROLE_SESSION_NAME",
                                       "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                                       "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                                       "AWS_CONTAINER_AUTHORIZATION_TOKEN",
                                       "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                                       "AWS_EC2_METADATA_SERVICE_ENDPOINT",
                                       "AWS_ENDPOINT_URL_STS",
                                       "AWS_ENDPOINT_URL",
                                       "AWS_CREDENTIAL_EXPIRATION"};

static void clear_env(void)
{
    for (size_t i = 0; i < sizeof(aws_vars) / sizeof(*aws_vars); i++) unsetenv(aws_vars[i]);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    awscreds_forget();
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

static const char *creds_text = "\xEF\xBB\xBF# AWS credentials\r\n"
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

static const char *config_text = "[default]\n"
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
    /* a role profile goes to STS (here a closed port): the error names the call and the role */
    setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:1", 1);
    c = awscreds_new("roles", err, sizeof(err));
    CHECK(c == NULL);
    CHECK_HAS(err, "STS AssumeRole for arn:aws:iam::123456789012:role/x");
    unsetenv("AWS_ENDPOINT_URL_STS");
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

/* ---- every source, in order, against the mock's STS, container endpoint and IMDS ---- */

static void test_sources(void)
{
    clear_env();
    char err[2048];
    mock_opts_t mo;
    mock_opts_default(&mo);
    mo.log_level = LOG_WARN;
    mo.aws_container_token = "pod-token-1";
    mo.aws_web_identity_token = "eyJ.web.identity";
    mock_t *m = mock_new(&mo, err, sizeof err);
    CHECK(m != NULL);
    if (!m) return;
    char *full = xasprintf("%s/aws/container-credentials", mock_url(m));
    char *tok = write_file("pod-token", "pod-token-1\n");
    char *wid = write_file("web-token", "eyJ.web.identity");
    char *cpath = write_file("credentials-src", "[default]\naws_access_key_id = AKIAFILE\naws_secret_access_key = s\n");
    setenv("AWS_ACCESS_KEY_ID", "AKIAENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", wid, 1);
    setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/irsa", 1);
    setenv("AWS_ENDPOINT_URL_STS", mock_url(m), 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", cpath, 1);
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", full, 1);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", tok, 1);
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", mock_url(m), 1);
    unsetenv("AWS_EC2_METADATA_DISABLED");

    awscreds_t *c = awscreds_new(NULL, err, sizeof err);
    CHECK(c && strcmp(awscreds_source(c), "environment") == 0);
    awscreds_destroy(&c);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    c = awscreds_new(NULL, err, sizeof err);
    CHECK(c != NULL);
    if (c) {
        CHECK_HAS(awscreds_source(c), "AssumeRoleWithWebIdentity arn:aws:iam::123456789012:role/irsa");
        CHECK(strncmp(awscreds_access_key(c), "ASIAMOCK", 8) == 0 && awscreds_session_token(c));
        CHECK(awscreds_expiration(c) > time(NULL));
    }
    awscreds_destroy(&c);
    /* a web identity token the provider refuses is an error, not a fall-through */
    char *wid2 = write_file("web-token2", "eyJ.other");
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", wid2, 1);
    c = awscreds_new(NULL, err, sizeof err);
    CHECK(c == NULL);
    CHECK_HAS(err, "InvalidIdentityToken");
    CHECK(strstr(err, "eyJ.other") == NULL);
    free(wid2);
    unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
    unsetenv("AWS_ROLE_ARN");
    c = awscreds_new(NULL, err, sizeof err);
    CHECK(c && strcmp(awscreds_access_key(c), "AKIAFILE") == 0);
    awscreds_destroy(&c);
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials", 1);
    c = awscreds_new(NULL, err, sizeof err);
    CHECK(c != NULL);
    if (c) {
        CHECK_HAS(awscreds_source(c), "container credentials");
        CHECK(awscreds_session_token(c) != NULL && awscreds_expiration(c) > 0);
    }
    awscreds_destroy(&c);
    /* the token file is read again at every fetch (not at every call: the cache answers until a
     * refresh): a rotated token that the endpoint refuses is an error */
    free(write_file("pod-token", "pod-token-2\n"));
    c = awscreds_new(NULL, err, sizeof err);
    CHECK(c != NULL);
    awscreds_destroy(&c);
    awscreds_forget();
    c = awscreds_new(NULL, err, sizeof err);
    CHECK(c == NULL);
    CHECK_HAS(err, "HTTP 401");
    CHECK(strstr(err, "pod-token-2") == NULL);
    free(write_file("pod-token", "pod-token-1\n"));
    /* plain http only to loopback or the ECS/EKS hosts */
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://example.com/creds", 1);
    c = awscreds_new(NULL, err, sizeof err);
    CHECK(c == NULL);
    CHECK_HAS(err, "not to example.com");
    /* the relative form goes to the container base (a seam pointing at the mock here) */
    unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc-123", 1);
    const char *saved_base = awscreds_container_base;
    awscreds_container_base = mock_url(m);
    c = awscreds_new(NULL, err, sizeof err);
    CHECK(c && strstr(awscreds_source(c), "/v2/credentials/abc-123"));
    awscreds_destroy(&c);
    awscreds_container_base = saved_base;
    unsetenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    c = awscreds_new(NULL, err, sizeof err);
    CHECK(c != NULL);
    if (c) CHECK_HAS(awscreds_source(c), "instance metadata");
    if (c) CHECK_HAS(awscreds_source(c), "role llmaj-mock-role");
    awscreds_destroy(&c);
    /* IMDS that does not answer counts as absent; every source is listed */
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1", 1);
    c = awscreds_new(NULL, err, sizeof err);
    CHECK(c == NULL);
    CHECK_HAS(
        err, "no AWS credentials found for profile 'default' (default): tried environment (AWS_ACCESS_KEY_ID not set)");
    CHECK_HAS(err, "web identity (AWS_WEB_IDENTITY_TOKEN_FILE not set)");
    CHECK_HAS(err, "shared credentials file /nonexistent/credentials (not found)");
    CHECK_HAS(err, "container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and _FULL_URI not set)");
    CHECK_HAS(err, "instance metadata (IMDSv2 at http://127.0.0.1:1");
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    c = awscreds_new(NULL, err, sizeof err);
    CHECK(c == NULL);
    CHECK_HAS(err, "instance metadata (disabled by AWS_EC2_METADATA_DISABLED)");
    /* half a web identity configuration */
    setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/irsa", 1);
    c = awscreds_new(NULL, err, sizeof err);
    CHECK(c == NULL);
    CHECK_HAS(err, "AWS_ROLE_ARN is set but AWS_WEB_IDENTITY_TOKEN_FILE is not");
    free(full);
    free(tok);
    free(wid);
    free(cpath);
    clear_env();
    mock_destroy(&m);
}

/* ---- refresh, against a container endpoint the test can hold shut ---- */

static time_t fake_now = 1800000000;
static time_t fake_clock(void) { return __atomic_load_n(&fake_now, __ATOMIC_SEQ_CST); }
static void advance(time_t s) { __atomic_add_fetch(&fake_now, s, __ATOMIC_SEQ_CST); }

static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static bool gate_closed, gate_fail;
static int served, waiting;

static enum MHD_Result creds_handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                     const char *version, const char *upload, size_t *upload_size, void **ctx)
{
    (void)cls, (void)url, (void)method, (void)version, (void)upload, (void)upload_size;
    if (!*ctx) {
        *ctx = (void *)1;
        return MHD_YES;
    }
    pthread_mutex_lock(&gate_mu);
    waiting++;
    pthread_cond_broadcast(&gate_cv);
    while (gate_closed) pthread_cond_wait(&gate_cv, &gate_mu);
    waiting--;
    int n = ++served;
    bool fail = gate_fail;
    pthread_mutex_unlock(&gate_mu);
    char body[400];
    time_t exp = fake_clock() + 3600;
    struct tm tm;
    gmtime_r(&exp, &tm);
    char iso[32];
    strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(body, sizeof body,
             "{\"AccessKeyId\":\"ASIASTANDIN%04d\",\"SecretAccessKey\":\"secret%d\","
             "\"Token\":\"token%d\",\"Expiration\":\"%s\"}",
             n, n, n, iso);
    if (fail) snprintf(body, sizeof body, "{\"message\":\"broken\"}");
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret = MHD_queue_response(conn, fail ? 500 : 200, r);
    MHD_destroy_response(r);
    return ret;
}

static int served_count(void)
{
    pthread_mutex_lock(&gate_mu);
    int n = served;
    pthread_mutex_unlock(&gate_mu);
    return n;
}

static void gate(bool closed)
{
    pthread_mutex_lock(&gate_mu);
    gate_closed = closed;
    pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&gate_mu);
}

/* Waits (up to a generous deadline) until cond() holds. */
static bool eventually(bool (*cond)(void))
{
    for (int i = 0; i < 3000; i++) {
        if (cond()) return true;
        usleep(10000);
    }
    return cond();
}

static char held_key[64];
static bool key_changed(void)
{
    char err[512];
    awscreds_t *c = awscreds_new(NULL, err, sizeof err);
    bool changed = c && strcmp(awscreds_access_key(c), held_key) != 0;
    awscreds_destroy(&c);
    return changed;
}
static bool refresh_waiting(void)
{
    pthread_mutex_lock(&gate_mu);
    bool w = waiting > 0;
    pthread_mutex_unlock(&gate_mu);
    return w;
}
static int fail_target;
static bool failures_served(void) { return served_count() >= fail_target; }

static void test_refresh(void)
{
    clear_env();
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL,
                                            NULL, creds_handler, NULL, MHD_OPTION_END);
    CHECK(d != NULL);
    if (!d) return;
    int port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/creds", port);
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials", 1);
    setenv("AWS_CONFIG_FILE", "/nonexistent/config", 1);
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
    awscreds_clock = fake_clock;
    char err[1024];

    awscreds_t *c1 = awscreds_new(NULL, err, sizeof err);
    CHECK(c1 && strcmp(awscreds_access_key(c1), "ASIASTANDIN0001") == 0);
    if (!c1) goto out;
    snprintf(held_key, sizeof held_key, "%s", awscreds_access_key(c1));
    unsigned long runs = awscreds_resolutions();

    /* well before expiry: the cache answers */
    advance(1000);
    awscreds_t *c = awscreds_new(NULL, err, sizeof err);
    CHECK(c && strcmp(awscreds_access_key(c), held_key) == 0);
    awscreds_destroy(&c);
    CHECK(awscreds_resolutions() == runs && served_count() == 1);

    /* the advisory window (15 min before expiry): the refresh runs in the background, held shut
     * at the endpoint, and callers keep getting the current credentials meanwhile */
    gate(true);
    advance(1800);
    c = awscreds_new(NULL, err, sizeof err);
    CHECK(c && strcmp(awscreds_access_key(c), held_key) == 0);
    awscreds_destroy(&c);
    CHECK(eventually(refresh_waiting));
    for (int i = 0; i < 5; i++) {
        c = awscreds_new(NULL, err, sizeof err);
        CHECK(c && strcmp(awscreds_access_key(c), held_key) == 0);
        awscreds_destroy(&c);
    }
    CHECK(awscreds_resolutions() == runs + 1); /* one refresh, not one per caller */
    gate(false);
    CHECK(eventually(key_changed));
    /* the reference held across the refresh is intact and still signs */
    CHECK(strcmp(awscreds_access_key(c1), held_key) == 0 && strcmp(awscreds_secret_key(c1), "secret1") == 0);
    sigv4_params_t p = {.access_key = awscreds_access_key(c1),
                        .secret_key = awscreds_secret_key(c1),
                        .session_token = awscreds_session_token(c1),
                        .region = "us-east-1",
                        .service = "s3",
                        .amz_date = "20270115T000000Z"};
    sigv4_result_t res;
    CHECK(sigv4_sign(&p, "GET", "https://b.s3.amazonaws.com/k", NULL, 0, "", 0, &res, err, sizeof err) == 0);
    sigv4_result_free(&res);
    awscreds_destroy(&c1);

    /* the mandatory window (5 min before expiry): the caller waits for fresh credentials */
    c = awscreds_new(NULL, err, sizeof err);
    CHECK(c != NULL);
    if (c) snprintf(held_key, sizeof held_key, "%s", awscreds_access_key(c));
    awscreds_destroy(&c);
    advance(3600 - 200);
    c = awscreds_new(NULL, err, sizeof err);
    CHECK(c && strcmp(awscreds_access_key(c), held_key) != 0);
    if (c) snprintf(held_key, sizeof held_key, "%s", awscreds_access_key(c));
    awscreds_destroy(&c);

    /* a refresh that fails keeps the current credentials while they are valid... */
    pthread_mutex_lock(&gate_mu);
    gate_fail = true;
    fail_target = served + 3; /* three attempts */
    pthread_mutex_unlock(&gate_mu);
    advance(3600 - 600);
    c = awscreds_new(NULL, err, sizeof err);
    CHECK(c && strcmp(awscreds_access_key(c), held_key) == 0);
    awscreds_destroy(&c);
    CHECK(eventually(failures_served));
    advance(30);
    c = awscreds_new(NULL, err, sizeof err); /* advisory again: another background try, same answer */
    CHECK(c && strcmp(awscreds_access_key(c), held_key) == 0);
    awscreds_destroy(&c);
    /* ...and once they have expired, the caller gets the refresh's error */
    awscreds_forget(); /* waits for the background try */
    c = awscreds_new(NULL, err, sizeof err);
    CHECK(c == NULL);
    CHECK_HAS(err, "container credentials at http://127.0.0.1:");
    CHECK_HAS(err, "HTTP 500");
    pthread_mutex_lock(&gate_mu);
    gate_fail = false;
    pthread_mutex_unlock(&gate_mu);
    c = awscreds_new(NULL, err, sizeof err);
    CHECK(c != NULL);
    awscreds_destroy(&c);
out:
    awscreds_forget();
    MHD_stop_daemon(d);
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
    time_t (*wall)(void) = awscreds_clock;
    test_sources();
    test_refresh();
    awscreds_clock = wall;
    for (size_t i = 0; i < ncreated; i++) {
        unlink(created[i]);
        free(created[i]);
    }
    rmdir(tmpdir);
    return check_summary("test_awscreds");
}
