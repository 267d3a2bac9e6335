/* pricing: list prices of well-known hosted models, for the estimated cost in job.json.
 * Owns a small static table (USD per million input / output tokens, standard on-demand tier) and
 * the matching of a model string (DESIGN.md "Model strings") to it. Does not know about usage or
 * jobs; a price given in the job spec, when the spec gains that key, takes precedence over the
 * table (use pricing_cost_at with the spec's prices).
 *
 * The table reflects public list prices as of PRICING_AS_OF. Estimates ignore prompt caching,
 * batch discounts, long-context surcharges and regional premiums; self-hosted models
 * (`openai-api/...`) and SageMaker endpoints (billed per instance hour) have no token price. */
#ifndef LLMAJ_PRICING_H
#define LLMAJ_PRICING_H
#include <stdint.h>

/* The month the table's prices were taken from (also written to job.json). */
#define PRICING_AS_OF "2025-11"

/* Prices for `model_string`: matched by model id after the provider prefix (`openai/`,
 * `anthropic/`, `bedrock/`, or none for bare Bedrock ids), with Bedrock geo prefixes (`us.`,
 * `eu.`, `apac.`, ...) and the `anthropic.` vendor prefix stripped, case-insensitively, to the
 * longest table entry that the id starts with at a `-`, `:` or `@` boundary (so dated and
 * versioned ids match: `gpt-4o-mini-2024-07-18`, `anthropic.claude-3-5-haiku-20241022-v1:0`).
 * The seed's `nova-textgeneration-*` names and Bedrock foundation-model ARNs are understood.
 * Returns 0 and writes both prices (either pointer may be NULL), or -1 (nothing written) when the
 * model has no known price. */
int pricing_lookup(const char *model_string, double *usd_per_mtok_in, double *usd_per_mtok_out)
    __attribute__((warn_unused_result));

/* Estimated USD for `input_tokens` and `output_tokens` of `model_string`; -1.0 when the price is
 * unknown. */
double pricing_cost(const char *model_string, uint64_t input_tokens, uint64_t output_tokens);

/* The same arithmetic with given prices (USD per million tokens), e.g. from the spec. */
double pricing_cost_at(double usd_per_mtok_in, double usd_per_mtok_out, uint64_t input_tokens, uint64_t output_tokens);

#endif
