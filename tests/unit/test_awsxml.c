/* test_awsxml: element lookup, repeated elements, entity decoding and escaping on AWS-shaped
 * replies. */
#include "awsxml.h"

#include <stdlib.h>
#include <string.h>

#include "check.h"

static const char list[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                           "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name><Prefix/>"
                           "<Contents><Key>a&amp;b.txt</Key><Size>3</Size><ETag>&quot;e1&quot;</ETag></Contents>"
                           "<Contents><Key>c&#x2F;d&#233;&#20013;</Key><Size>10</Size></Contents>"
                           "<IsTruncated>true</IsTruncated><NextContinuationToken>tok&lt;1&gt;</NextContinuationToken>"
                           "</ListBucketResult>";

int main(void)
{
    size_t len = strlen(list);
    char *v = awsxml_text(list, len, "Name");
    CHECK_STR(v, "b");
    free(v);
    v = awsxml_text(list, len, "Prefix");
    CHECK_STR(v, "");
    free(v);
    v = awsxml_text(list, len, "NextContinuationToken");
    CHECK_STR(v, "tok<1>");
    free(v);
    CHECK(awsxml_text(list, len, "Missing") == NULL);
    /* a name that is a prefix of another is not confused with it */
    CHECK(awsxml_text("<KeyCount>2</KeyCount>", 22, "Key") == NULL);

    size_t pos = 0, n = 0;
    awsxml_span_t c;
    const char *keys[] = {"a&b.txt", "c/d\xc3\xa9\xe4\xb8\xad"};
    while (awsxml_next(list, len, "Contents", &pos, &c)) {
        char *k = awsxml_text(c.p, c.len, "Key");
        if (n < 2) CHECK_STR(k, keys[n]);
        if (n == 0) {
            char *e = awsxml_text(c.p, c.len, "ETag");
            CHECK_STR(e, "\"e1\"");
            free(e);
        }
        free(k);
        n++;
    }
    CHECK(n == 2);

    /* malformed entities and child elements are not text */
    CHECK(awsxml_decode("a&bogus;", 8) == NULL);
    CHECK(awsxml_decode("&#0;", 4) == NULL);
    CHECK(awsxml_decode("&#xD800;", 8) == NULL);
    CHECK(awsxml_decode("&amp", 4) == NULL);
    CHECK(awsxml_text("<A><B>x</B></A>", 15, "A") == NULL);
    /* cut short: never reads past the end */
    CHECK(awsxml_text("<Code>NoSuchKey</Co", 19, "Code") == NULL);
    CHECK(awsxml_text("<Code", 5, "Code") == NULL);
    CHECK(awsxml_has_doctype("<!DOCTYPE x [<!ENTITY e \"y\">]><a/>", 33));
    CHECK(!awsxml_has_doctype(list, len));

    buf_t b;
    buf_init(&b, 0);
    CHECK(awsxml_escape(&b, "<a href=\"x\">'&'</a>") == 0);
    CHECK_STR(b.data, "&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;");
    char *back = awsxml_decode(b.data, b.len);
    CHECK_STR(back, "<a href=\"x\">'&'</a>");
    free(back);
    buf_free(&b);
    return check_summary("test_awsxml");
}
