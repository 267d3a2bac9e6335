/* awsjob: the AWS side of a job, for the scheduler's few hooks: the job's region, model packages,
 * datasets read from s3:// and https://, and results written to s3://.
 *
 * Owns: deciding which jobs need a region and finding it (the spec, else the scheduler's
 * environment, else the AWS config profile), resolving model packages and groups into model
 * strings before anything runs, opening remote datasets as dataset byte sources, the local
 * working folder of a job whose output goes to S3, the check that the output location accepts
 * writes, and the upload of records.jsonl, summary.json and job.json. Does not own: the spec's
 * syntax (eval/spec), the S3 protocol (s3.h), when the scheduler calls what.
 *
 * The region goes into the spec, so it travels in the canonical spec JSON with every shard and
 * every worker signs with it (a worker's own AWS_REGION never overrides a job's region), and
 * job.json records it.
 *
 * Results to S3: the job's files are written locally first, under awsjob_local_root (the local
 * output_path, or "runs" for an s3:// output), and uploaded to s3://BUCKET/PREFIX/<job_id>/ when
 * the job ends; the scheduler reports success only once every file is uploaded and checked, and a
 * job that stopped during the upload uploads again when resumed. */
#ifndef LLMAJ_AWSJOB_H
#define LLMAJ_AWSJOB_H
#include <stdbool.h>
#include <stddef.h>

#include "dataset.h"
#include "errlist.h"
#include "spec.h"

#define AWSJOB_LOCAL_ROOT "runs" /* the working folder of jobs whose output goes to S3 */

/* The spec text with "region" filled in when it sets none and the scheduler's environment
 * (AWS_REGION, AWS_DEFAULT_REGION) or AWS config profile names one; NULL when there is nothing
 * to add (the text is used as it is). Caller frees. */
char *awsjob_spec_with_region(const char *json, size_t len);

/* True when the job calls AWS: a Bedrock, Nova or SageMaker model, a model package or group, an
 * s3:// dataset or output. */
bool awsjob_needs_region(const spec_t *sp);

/* Everything AWS about a parsed spec, before anything runs: the region (required and valid when
 * needed), model packages and groups resolved (DescribeModelPackage, ListModelPackages) into
 * model strings with the packages recorded, model_artifact alone refused with what to do. Every
 * problem is added to errs with its spec key. 0, or -1 when errs gained problems. */
int awsjob_prepare(spec_t *sp, errlist_t *errs) __attribute__((warn_unused_result));

/* Opens the spec's dataset: a local file, or s3:// / https:// through rstream (whose open
 * already reports a missing object, access denied or a bucket in another region). */
/* The spec's dataset_max_bytes caps it (a local file or remote object larger is refused at open),
 * and once *cancel (may be NULL) is set, reading stops (dataset_limit, rstream_opts_t.cancel). */
dataset_t *awsjob_dataset_open_bounded(const spec_t *sp, size_t max_line, const atomic_int *cancel, char *err,
                                       size_t errlen) __attribute__((warn_unused_result));
dataset_t *awsjob_dataset_open(const spec_t *sp, size_t max_line, char *err, size_t errlen)
    __attribute__((warn_unused_result));

bool awsjob_output_is_s3(const spec_t *sp);
/* Where the job's folder <root>/<job_id> is made on this machine. */
const char *awsjob_local_root(const spec_t *sp);
/* "s3://bucket/prefix/<job_id>/" for an S3 output (caller frees), else NULL. */
char *awsjob_output_uri(const spec_t *sp, const char *job_id);

/* Checks that the S3 output accepts writes, by writing the job's job.json there as a
 * placeholder (the spec and "status": "running"; the final one replaces it). Problems (no such
 * bucket, access denied, another region) go to errs under the output key. 0 or -1. */
int awsjob_output_check(const spec_t *sp, const char *job_id, const char *spec_json, errlist_t *errs)
    __attribute__((warn_unused_result));

/* Uploads records.jsonl (multipart when large), summary.json and job.json from local_dir to the
 * job's S3 folder, each checked after (its size must match). 0, or -1 with err. */
int awsjob_upload(const spec_t *sp, const char *job_id, const char *local_dir, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif
