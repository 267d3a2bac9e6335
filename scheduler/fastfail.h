/* fastfail: tells a job whose models are refused for how they are set up, from its first calls,
 * so that it fails in seconds with the provider's message instead of grinding through every
 * record with the same error (a missing key or base URL on the workers, a wrong model name, no
 * region: 401/403/404, or a model string no worker can resolve).
 *
 * One per running job, fed every committed result (ingest.c) on the engine's thread. For each
 * model string the job calls (the model, the base model, the judge), it watches the calls in the
 * order their results come: while every one of them failed with a configuration error
 * (result_t/score_t error_config, set by the worker), it counts; at FASTFAIL_CALLS such calls the
 * job must fail; the first call that did anything else (succeeded, or failed another way)
 * disarms the rule for that model for the rest of the run. A judge "call" that never happened
 * (no response to judge) is not counted. Does not fail the job itself: it returns the message. */
#ifndef LLMAJ_FASTFAIL_H
#define LLMAJ_FASTFAIL_H
#include "result.h"
#include "spec.h"

#define FASTFAIL_CALLS 8 /* configuration errors in a row, from the first call, that fail a job */

typedef struct fastfail fastfail_t;

fastfail_t *fastfail_new(void);
void fastfail_destroy(fastfail_t **self_p); /* accepts NULL */

/* Looks at one committed result of the job whose spec is sp. NULL, or (once) the reason the job
 * must fail, naming the spec key, the model and the first error; valid until the next call. */
const char *fastfail_see(fastfail_t *f, const spec_t *sp, const result_t *r);

#endif
