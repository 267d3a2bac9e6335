/* test_awsprofile: a profile's credentials against the mock's STS: role_arn with source_profile
 * (one and two roles deep, a profile that is its own source), credential_source, a web identity
 * token file in a profile, credential_process, static keys; and the configurations it refuses
 * with what to do: loops, too deep, mfa_serial, SSO, two sources, none. */
#include "awsprofile.h"
#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "awstest.h"
#include "check.h"

static char dir[] = "/tmp/test_awsprofile.XXXXXX";

static char *put(const char *name, const char *text)
{
    char *p = xasprintf("%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return p;
}

static int get(const char *profile, awscreds_t **c, char *err, size_t errlen)
{
    buf_t tried;
    buf_init(&tried, 0);
    bool found;
    int r = awsprofile_credentials(profile, &tried, &found, c, err, errlen);
    buf_free(&tried);
    return r;
}

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    mock_opts_t mo;
    mock_opts_default(&mo);
    mo.log_level = LOG_WARN;
    mock_t *m = awstest_mock(&mo);
    CHECK(m != NULL);
    if (!m) return check_summary("test_awsprofile");
    awstest_env(m, dir);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    char *wid = put("wid-token", "eyJ.profile.token\n");
    char *creds = put("credentials", "[base]\naws_access_key_id = " AWSTEST_AK "\naws_secret_access_key = " AWSTEST_SK
                                     "\n[self]\naws_access_key_id = " AWSTEST_AK "\naws_secret_access_key = " AWSTEST_SK
                                     "\nrole_arn = arn:aws:iam::123456789012:role/self\nsource_profile = self\n");
    char *cfgtext = xasprintf(
        "[profile one]\nrole_arn = arn:aws:iam::123456789012:role/one\nsource_profile = base\nregion = us-west-2\n"
        "role_session_name = eval-one\nduration_seconds = 1800\n"
        "[profile two]\nrole_arn = arn:aws:iam::123456789012:role/two\nsource_profile = one\n"
        "[profile envsrc]\nrole_arn = arn:aws:iam::123456789012:role/env\ncredential_source = Environment\n"
        "[profile webid]\nrole_arn = arn:aws:iam::123456789012:role/web\nweb_identity_token_file = %s\n"
        "[profile proc]\ncredential_process = echo '{\"Version\":1,\"AccessKeyId\":\"AKIAPROC\",\"SecretAccessKey\":\"x\"}'\n"
        "[profile loop-a]\nrole_arn = arn:aws:iam::123456789012:role/a\nsource_profile = loop-b\n"
        "[profile loop-b]\nrole_arn = arn:aws:iam::123456789012:role/b\nsource_profile = loop-a\n"
        "[profile mfa]\nrole_arn = arn:aws:iam::123456789012:role/m\nsource_profile = base\nmfa_serial = arn:aws:iam::1:mfa/u\n"
        "[profile sso]\nsso_session = corp\nsso_account_id = 123456789012\n"
        "[profile both]\nrole_arn = arn:aws:iam::123456789012:role/x\nsource_profile = base\ncredential_source = Environment\n"
        "[profile nosource]\nrole_arn = arn:aws:iam::123456789012:role/x\n"
        "[profile badsrc]\nrole_arn = arn:aws:iam::123456789012:role/x\ncredential_source = Laptop\n"
        "[profile emptysrc]\nrole_arn = arn:aws:iam::123456789012:role/x\ncredential_source = Environment\n"
        "[profile ghost]\nrole_arn = arn:aws:iam::123456789012:role/x\nsource_profile = nowhere\n"
        "[profile baddur]\nrole_arn = arn:aws:iam::123456789012:role/x\nsource_profile = base\nduration_seconds = 5\n"
        "[profile d1]\nrole_arn = arn:aws:iam::123456789012:role/1\nsource_profile = d2\n"
        "[profile d2]\nrole_arn = arn:aws:iam::123456789012:role/2\nsource_profile = d3\n"
        "[profile d3]\nrole_arn = arn:aws:iam::123456789012:role/3\nsource_profile = d4\n"
        "[profile d4]\nrole_arn = arn:aws:iam::123456789012:role/4\nsource_profile = d5\n"
        "[profile d5]\nrole_arn = arn:aws:iam::123456789012:role/5\nsource_profile = d6\n"
        "[profile d6]\nrole_arn = arn:aws:iam::123456789012:role/6\nsource_profile = d7\n"
        "[profile d7]\nrole_arn = arn:aws:iam::123456789012:role/7\nsource_profile = base\n",
        wid);
    char *cfg = put("config", cfgtext);
    free(cfgtext);
    char err[1024];
    awscreds_t *c = NULL;

    CHECK(get("base", &c, err, sizeof err) == 1 && c && strcmp(awscreds_access_key(c), AWSTEST_AK) == 0);
    awscreds_destroy(&c);
    const char *roles[][2] = {{"one", "role/one"}, {"two", "role/two"}, {"self", "role/self"}, {"webid", "role/web"}};
    for (int i = 0; i < 4; i++) {
        CHECK(get(roles[i][0], &c, err, sizeof err) == 1);
        if (!c) {
            fprintf(stderr, "  %s: %s\n", roles[i][0], err);
            continue;
        }
        CHECK(strncmp(awscreds_access_key(c), "ASIAMOCK", 8) == 0 && awscreds_session_token(c));
        CHECK_HAS(awscreds_source(c), roles[i][1]);
        awscreds_destroy(&c);
    }
    /* credential_source = Environment: the environment's keys assume the role */
    setenv("AWS_ACCESS_KEY_ID", AWSTEST_AK, 1);
    setenv("AWS_SECRET_ACCESS_KEY", AWSTEST_SK, 1);
    CHECK(get("envsrc", &c, err, sizeof err) == 1 && c && strstr(awscreds_source(c), "role/env"));
    awscreds_destroy(&c);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    CHECK(get("emptysrc", &c, err, sizeof err) < 0);
    CHECK_HAS(err, "credential_source Environment gave no credentials");
    CHECK(get("proc", &c, err, sizeof err) == 1 && c && strcmp(awscreds_access_key(c), "AKIAPROC") == 0);
    awscreds_destroy(&c);

    struct {
        const char *profile, *want;
    } bad[] = {
        {"loop-a", "source_profile loops back to it"},
        {"mfa", "mfa_serial: an MFA code cannot be asked for here"},
        {"sso", "uses AWS SSO (IAM Identity Center), which llmaj does not support: run `aws sso login --profile sso`"},
        {"both", "give exactly one of source_profile, credential_source or web_identity_token_file"},
        {"nosource", "has role_arn and no source"},
        {"badsrc", "credential_source must be Environment, Ec2InstanceMetadata or EcsContainer"},
        {"ghost", "its source_profile 'nowhere' is in neither AWS file"},
        {"baddur", "duration_seconds must be a whole number from 900 to 43200"},
        {"d1", "more than 5 roles chained through source_profile"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(get(bad[i].profile, &c, err, sizeof err) < 0 && !c);
        CHECK_HAS(err, bad[i].want);
        CHECK(strstr(err, AWSTEST_SK) == NULL);
    }
    /* a role STS refuses */
    free(put("config", "[profile denied]\nrole_arn = arn:aws:iam::123456789012:role/denied\nsource_profile = base\n"));
    CHECK(get("denied", &c, err, sizeof err) < 0);
    CHECK_HAS(err, "AccessDenied");
    /* through the chain: AWS_PROFILE names the role profile */
    free(put("config", "[profile one]\nrole_arn = arn:aws:iam::123456789012:role/one\nsource_profile = base\n"));
    setenv("AWS_PROFILE", "one", 1);
    awscreds_forget();
    c = awscreds_new(NULL, err, sizeof err);
    CHECK(c && strstr(awscreds_source(c), "role/one"));
    awscreds_destroy(&c);
    unsetenv("AWS_PROFILE");
    awscreds_forget();
    unlink(wid);
    unlink(creds);
    unlink(cfg);
    free(wid);
    free(creds);
    free(cfg);
    rmdir(dir);
    mock_destroy(&m);
    return check_summary("test_awsprofile");
}
