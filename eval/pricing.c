/* pricing: the price table and model-string matching (see pricing.h). */
#include "pricing.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

typedef struct {
    const char *id; /* model id prefix, lower case; Claude ids without the Bedrock vendor prefix */
    double in, out; /* USD per million tokens */
} price_t;

/* List prices, standard on-demand tier, as of 2025-11 (PRICING_AS_OF). Bedrock's on-demand prices
 * for Anthropic models equal Anthropic's list prices, so one row serves both. */
static const price_t prices[] = {
    /* OpenAI */
    {"gpt-5", 1.25, 10.00},
    {"gpt-5-mini", 0.25, 2.00},
    {"gpt-5-nano", 0.05, 0.40},
    {"gpt-4.1", 2.00, 8.00},
    {"gpt-4.1-mini", 0.40, 1.60},
    {"gpt-4.1-nano", 0.10, 0.40},
    {"gpt-4.5-preview", 75.00, 150.00},
    {"gpt-4o", 2.50, 10.00},
    {"gpt-4o-2024-05-13", 5.00, 15.00},
    {"chatgpt-4o-latest", 5.00, 15.00},
    {"gpt-4o-mini", 0.15, 0.60},
    {"gpt-4-turbo", 10.00, 30.00},
    {"gpt-4-1106-preview", 10.00, 30.00},
    {"gpt-4-0125-preview", 10.00, 30.00},
    {"gpt-4", 30.00, 60.00},
    {"gpt-4-32k", 60.00, 120.00},
    {"gpt-3.5-turbo", 0.50, 1.50},
    {"o1", 15.00, 60.00},
    {"o1-preview", 15.00, 60.00},
    {"o1-mini", 1.10, 4.40},
    {"o1-pro", 150.00, 600.00},
    {"o3", 2.00, 8.00},
    {"o3-mini", 1.10, 4.40},
    {"o3-pro", 20.00, 80.00},
    {"o4-mini", 1.10, 4.40},
    /* Anthropic (also on Bedrock as anthropic.<id>-vN:0) */
    {"claude-opus-4-5", 5.00, 25.00},
    {"claude-opus-4-1", 15.00, 75.00},
    {"claude-opus-4", 15.00, 75.00},
    {"claude-sonnet-4-5", 3.00, 15.00},
    {"claude-sonnet-4", 3.00, 15.00},
    {"claude-haiku-4-5", 1.00, 5.00},
    {"claude-3-7-sonnet", 3.00, 15.00},
    {"claude-3-5-sonnet", 3.00, 15.00},
    {"claude-3-5-haiku", 0.80, 4.00},
    {"claude-3-opus", 15.00, 75.00},
    {"claude-3-sonnet", 3.00, 15.00},
    {"claude-3-haiku", 0.25, 1.25},
    /* Amazon Nova on Bedrock */
    {"amazon.nova-micro", 0.035, 0.14},
    {"amazon.nova-lite", 0.06, 0.24},
    {"amazon.nova-pro", 0.80, 3.20},
    {"amazon.nova-premier", 2.50, 12.50},
};

/* Bedrock cross-region inference profile prefixes. */
static const char *const geo_prefixes[] = {"us.", "us-gov.", "eu.", "apac.", "jp.", "au.", "global."};

/* The seed's Nova names. */
static const struct {
    const char *name, *id;
} nova_names[] = {
    {"nova-textgeneration-micro", "amazon.nova-micro"},
    {"nova-textgeneration-lite", "amazon.nova-lite"},
    {"nova-textgeneration-pro", "amazon.nova-pro"},
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static bool has_prefix(const char *s, const char *p) { return strncasecmp(s, p, strlen(p)) == 0; }

/* A Bedrock id without its geo and `anthropic.` prefixes. */
static const char *bedrock_id(const char *id)
{
    for (size_t i = 0; i < N(geo_prefixes); i++)
        if (has_prefix(id, geo_prefixes[i])) {
            id += strlen(geo_prefixes[i]);
            break;
        }
    if (has_prefix(id, "anthropic.")) id += strlen("anthropic.");
    return id;
}

/* The id to look up for a model string, or NULL when the model has no token price. */
static const char *model_id(const char *s)
{
    if (has_prefix(s, "openai-api/") || has_prefix(s, "sagemaker/")) return NULL;
    if (has_prefix(s, "openai/")) {
        s += strlen("openai/");
        return has_prefix(s, "ft:") ? NULL : s; /* fine-tuned models are priced differently */
    }
    if (has_prefix(s, "anthropic/")) return s + strlen("anthropic/");
    if (has_prefix(s, "bedrock/")) return bedrock_id(s + strlen("bedrock/"));
    if (has_prefix(s, "arn:")) {
        /* arn:aws:bedrock:REGION::foundation-model/ID or ...:inference-profile/ID */
        const char *slash = strrchr(s, '/');
        return strstr(s, ":bedrock:") && slash ? bedrock_id(slash + 1) : NULL;
    }
    for (size_t i = 0; i < N(nova_names); i++)
        if (strcasecmp(s, nova_names[i].name) == 0) return nova_names[i].id;
    return bedrock_id(s);
}

int pricing_lookup(const char *model_string, double *usd_per_mtok_in, double *usd_per_mtok_out)
{
    if (!model_string) return -1;
    const char *id = model_id(model_string);
    if (!id || !*id) return -1;
    const price_t *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < N(prices); i++) {
        size_t len = strlen(prices[i].id);
        if (len <= best_len || strncasecmp(id, prices[i].id, len) != 0) continue;
        char next = id[len];
        if (next == '\0' || next == '-' || next == ':' || next == '@') {
            best = &prices[i];
            best_len = len;
        }
    }
    if (!best) return -1;
    if (usd_per_mtok_in) *usd_per_mtok_in = best->in;
    if (usd_per_mtok_out) *usd_per_mtok_out = best->out;
    return 0;
}

double pricing_cost_at(double usd_per_mtok_in, double usd_per_mtok_out, uint64_t input_tokens, uint64_t output_tokens)
{
    return ((double)input_tokens * usd_per_mtok_in + (double)output_tokens * usd_per_mtok_out) / 1e6;
}

double pricing_cost(const char *model_string, uint64_t input_tokens, uint64_t output_tokens)
{
    double in, out;
    if (pricing_lookup(model_string, &in, &out) < 0) return -1.0;
    return pricing_cost_at(in, out, input_tokens, output_tokens);
}
