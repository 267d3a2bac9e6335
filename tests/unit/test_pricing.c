/* test_pricing: model strings to list prices (provider prefixes, dated ids, Bedrock geo and
 * vendor prefixes, the seed's Nova names, ARNs), unknown models, and the cost arithmetic. */
#include <math.h>
#include <stdio.h>

#include "pricing.h"
#include "check.h"

/* 1 when `model` is priced at exactly (in, out). */
static int priced(const char *model, double in, double out)
{
    double pi = -1, po = -1;
    if (pricing_lookup(model, &pi, &po) < 0) {
        fprintf(stderr, "no price for %s\n", model);
        return 0;
    }
    if (pi != in || po != out) {
        fprintf(stderr, "%s: got %g/%g, want %g/%g\n", model, pi, po, in, out);
        return 0;
    }
    return 1;
}

static int unknown(const char *model)
{
    double pi = -7, po = -7;
    return pricing_lookup(model, &pi, &po) == -1 && pi == -7 && po == -7;
}

int main(void)
{
    /* OpenAI: longest entry wins, at a boundary. */
    CHECK(priced("openai/gpt-4o", 2.50, 10.00));
    CHECK(priced("openai/gpt-4o-2024-08-06", 2.50, 10.00));
    CHECK(priced("openai/gpt-4o-2024-05-13", 5.00, 15.00));
    CHECK(priced("openai/gpt-4o-mini", 0.15, 0.60));
    CHECK(priced("openai/gpt-4o-mini-2024-07-18", 0.15, 0.60));
    CHECK(priced("openai/gpt-4.1", 2.00, 8.00));
    CHECK(priced("openai/gpt-4.1-mini-2025-04-14", 0.40, 1.60));
    CHECK(priced("openai/gpt-4.1-nano", 0.10, 0.40));
    CHECK(priced("openai/gpt-4", 30.00, 60.00));
    CHECK(priced("openai/gpt-4-turbo-2024-04-09", 10.00, 30.00));
    CHECK(priced("openai/o1", 15.00, 60.00));
    CHECK(priced("openai/o1-mini", 1.10, 4.40));
    CHECK(priced("openai/o3", 2.00, 8.00));
    CHECK(priced("openai/o3-mini-2025-01-31", 1.10, 4.40));
    CHECK(priced("openai/o4-mini", 1.10, 4.40));
    CHECK(priced("OpenAI/GPT-4o-Mini", 0.15, 0.60)); /* case-insensitive */
    CHECK(unknown("openai/gpt-4oops"));              /* no boundary after "gpt-4o" */
    CHECK(unknown("openai/ft:gpt-4o-mini-2024-07-18:org::abc123"));
    CHECK(unknown("openai/text-davinci-003"));

    /* Anthropic, direct. */
    CHECK(priced("anthropic/claude-3-5-haiku-20241022", 0.80, 4.00));
    CHECK(priced("anthropic/claude-3-5-haiku-latest", 0.80, 4.00));
    CHECK(priced("anthropic/claude-3-5-sonnet-20241022", 3.00, 15.00));
    CHECK(priced("anthropic/claude-3-7-sonnet-20250219", 3.00, 15.00));
    CHECK(priced("anthropic/claude-sonnet-4-20250514", 3.00, 15.00));
    CHECK(priced("anthropic/claude-opus-4-20250514", 15.00, 75.00));
    CHECK(priced("anthropic/claude-opus-4-1-20250805", 15.00, 75.00));
    CHECK(priced("anthropic/claude-3-haiku-20240307", 0.25, 1.25));

    /* Bedrock: prefix, bare ids, geo prefixes, vendor prefix, ARNs, the seed's Nova names. */
    CHECK(priced("bedrock/amazon.nova-pro-v1:0", 0.80, 3.20));
    CHECK(priced("amazon.nova-pro-v1:0", 0.80, 3.20));
    CHECK(priced("us.amazon.nova-lite-v1:0", 0.06, 0.24));
    CHECK(priced("eu.amazon.nova-micro-v1:0", 0.035, 0.14));
    CHECK(priced("bedrock/apac.amazon.nova-lite-v1:0", 0.06, 0.24));
    CHECK(priced("amazon.nova-premier-v1:0", 2.50, 12.50));
    CHECK(priced("anthropic.claude-3-5-haiku-20241022-v1:0", 0.80, 4.00));
    CHECK(priced("bedrock/us.anthropic.claude-3-7-sonnet-20250219-v1:0", 3.00, 15.00));
    CHECK(priced("global.anthropic.claude-sonnet-4-20250514-v1:0", 3.00, 15.00));
    CHECK(priced("us.anthropic.claude-opus-4-1-20250805-v1:0", 15.00, 75.00));
    CHECK(priced("anthropic.claude-3-5-sonnet-20241022-v2:0", 3.00, 15.00));
    CHECK(priced("nova-textgeneration-lite", 0.06, 0.24));
    CHECK(priced("nova-textgeneration-pro", 0.80, 3.20));
    CHECK(priced("nova-textgeneration-micro", 0.035, 0.14));
    CHECK(priced("arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0", 0.80, 3.20));
    CHECK(priced("arn:aws:bedrock:us-west-2:123456789012:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0",
                 0.80, 4.00));
    CHECK(unknown("bedrock/meta.llama3-70b-instruct-v1:0"));

    /* No token price: self-hosted, SageMaker, nonsense. */
    CHECK(unknown("openai-api/local/gpt-4o"));
    CHECK(unknown("sagemaker/my-endpoint"));
    CHECK(unknown("arn:aws:sagemaker:us-west-2:123456789012:endpoint/my-endpoint"));
    CHECK(unknown("openai/"));
    CHECK(unknown(""));
    CHECK(unknown(NULL));

    /* NULL outputs are allowed. */
    CHECK(pricing_lookup("openai/gpt-4o", NULL, NULL) == 0);

    /* Cost: 1M in at 0.15 + 0.5M out at 0.60 = 0.45 USD. */
    CHECK(fabs(pricing_cost("openai/gpt-4o-mini", 1000000, 500000) - 0.45) < 1e-12);
    CHECK(fabs(pricing_cost("amazon.nova-pro-v1:0", 2500, 1000) - (2500 * 0.80 + 1000 * 3.20) / 1e6) < 1e-15);
    CHECK(pricing_cost("openai/gpt-4o", 0, 0) == 0.0);
    CHECK(pricing_cost("openai-api/local/x", 1000, 1000) == -1.0);
    CHECK(fabs(pricing_cost_at(3.0, 15.0, 2000000, 100000) - 7.5) < 1e-12);

    return check_summary("test_pricing");
}
