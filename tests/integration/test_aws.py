"""llmaj on AWS, against the mock's AWS side (S3, STS, container credentials, IMDSv2, SageMaker)
with every signature checked: no AWS account needed.

- The issue's "done when" job: dataset in S3, output in S3, a Bedrock candidate and base model and a
  Nova judge named the seed's way, on a broker and workers whose only AWS setting is a
  container-credentials endpoint; exact results read back from S3 with boto3.
- llmaj's signatures recomputed with botocore, request by request, from the mock's request log.
- Every credential source running a job; the region of a job overriding the workers'.
- A large records.jsonl uploaded in parts; an upload cut by a crash redone on resume.
- Each AWS error of a spec reported before any model call."""
import gzip
import json
import os
import re
import signal
import subprocess
import time
import urllib.request

import boto3
import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from conftest import BIN, SRC, check_summary, start_broker, start_mock, start_worker

AK, SK = "AKIDLLMAJINTEG", "integ/secret/key+0123456789"
POD_TOKEN = "eks-pod-identity-token-1"
REGION = "us-west-2"
METRICS = ["Correctness", "Completeness"]


# ---- the mock's AWS side ----

def aws_mock(procs, *args, name="mock"):
    packages = os.path.join(SRC, "tests", "data", "aws", "model-packages.json")
    return start_mock(procs, "--aws-access-key", AK, "--aws-secret-key", SK, "--aws-region", REGION,
                      "--aws-buckets", f"data,results,locked,euro:eu-west-1", "--aws-deny", "locked",
                      "--aws-container-token", POD_TOKEN, "--aws-model-packages", packages, *args, name=name)


def admin(mock, path, method="GET"):
    req = urllib.request.Request(mock.url + "/_mock/aws/" + path, method=method)
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def s3(mock, region=REGION):
    return boto3.client("s3", endpoint_url=mock.url, region_name=region, aws_access_key_id=AK,
                        aws_secret_access_key=SK, config=Config(s3={"addressing_style": "path"}))


def read_object(mock, key, bucket="results"):
    return s3(mock).get_object(Bucket=bucket, Key=key)["Body"].read()


def seed_dataset(n, prompt_bytes=0):
    lines = []
    for i in range(n):
        o = {"query": f"Question {i}: what does item {i * 7 % 53} do?" + (" x" * (prompt_bytes // 2)),
             "referenceResponse": f"Reference {i}.", "category": ["math", "history"][i % 2]}
        lines.append(json.dumps(o))
    return ("\n".join(lines) + "\n").encode()


def base_env(tmp, mock):
    """What every llmaj process gets: a home with no AWS files, the endpoints at the mock, and no
    other AWS setting."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["HOME"] = tmp
    env["AWS_ENDPOINT_URL"] = mock.url
    return env


def container_env(tmp, mock):
    tok = os.path.join(tmp, "pod-token")
    with open(tok, "w") as f:
        f.write(POD_TOKEN + "\n")
    env = base_env(tmp, mock)
    env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = mock.url + "/aws/container-credentials"
    env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = tok
    return env


def key_env(tmp, mock):
    env = base_env(tmp, mock)
    env.update({"AWS_ACCESS_KEY_ID": AK, "AWS_SECRET_ACCESS_KEY": SK, "AWS_EC2_METADATA_DISABLED": "true"})
    return env


def write_spec(tmp, **kw):
    spec = {"model": "bedrock/amazon.nova-lite-v1:0", "evaluator_model": "amazon.nova-pro-v1:0",
            "builtin_metrics": METRICS, "dataset": "s3://data/gen_qa.jsonl", "s3_output_path": "s3://results/eval/",
            "region": REGION, "shard_size": 8}
    spec.update(kw)
    spec = {k: v for k, v in spec.items() if v is not None}
    path = os.path.join(tmp, "spec.json")
    with open(path, "w") as f:
        json.dump(spec, f)
    return path


def llmaj_run(tmp, env, *args, timeout=600):
    return subprocess.run([os.path.join(BIN, "llmaj"), "run", "--workers", "2", "--db", os.path.join(tmp, "llmaj.db"),
                           *args], env=env, cwd=tmp, capture_output=True, text=True, timeout=timeout)


def job_id_of(out):
    m = re.search(r"job (\S+)", out)
    assert m, out
    return m.group(1)


def s3_job(mock, job_id):
    """records, summary and job.json of a job, as boto3 reads them from the mock S3."""
    prefix = f"eval/{job_id}/"
    keys = sorted(o["Key"] for o in s3(mock).list_objects_v2(Bucket="results", Prefix=prefix).get("Contents", []))
    assert keys == [prefix + "job.json", prefix + "records.jsonl", prefix + "summary.json"], keys
    records = [json.loads(l) for l in read_object(mock, prefix + "records.jsonl").decode().splitlines() if l]
    summary = json.loads(read_object(mock, prefix + "summary.json"))
    job = json.loads(read_object(mock, prefix + "job.json"))
    return records, summary, job


def assert_exact(records, n, targets=("custom", "base")):
    keys = [(r["record_index"], r["target"]) for r in records]
    assert len(keys) == len(set(keys))
    assert set(keys) == {(i, t) for i in range(n) for t in targets}
    for r in records:
        assert r["error"] is None and r["response"]
        assert sorted(r["scores"]) == sorted(METRICS)
        assert all(s["status"] == "ok" for s in r["scores"].values()), r["scores"]


# ---- botocore's view of llmaj's signatures ----

AUTH_RE = re.compile(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, "
                     r"SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$")


def header(req, name):
    for n, v in req["headers"]:
        if n.lower() == name.lower():
            return v
    return None


def botocore_signature(mock, req, secrets):
    """The signature botocore computes for a logged request, and llmaj's."""
    ak, _date, region, service, signed, sig = AUTH_RE.match(header(req, "Authorization")).groups()
    if ak not in secrets:
        secrets[ak] = admin(mock, "secret?access_key=" + ak)["secret_key"]
    creds = Credentials(ak, secrets[ak], header(req, "X-Amz-Security-Token"))
    names = signed.split(";")
    headers = {n: v for n, v in req["headers"] if n.lower() in names}
    body = req["body"].encode()
    assert service == "s3" or len(body) == req["body_len"], "a logged body was cut"
    r = AWSRequest(method=req["method"], url=mock.url + req["uri"], headers=headers, data=body)
    r.context["timestamp"] = header(req, "X-Amz-Date")
    signer = (S3SigV4Auth if service == "s3" else SigV4Auth)(creds, service, region)
    canonical = signer.canonical_request(r)
    return signer.signature(signer.string_to_sign(r, canonical), r), sig, service


def verify_signatures(mock):
    """Every signed request in the mock's log, recomputed by botocore. Returns the count by service."""
    secrets, seen = {}, {}
    for req in admin(mock, "requests")["requests"]:
        if not header(req, "Authorization") or not AUTH_RE.match(header(req, "Authorization")):
            continue
        theirs, ours, service = botocore_signature(mock, req, secrets)
        assert theirs == ours, f"botocore signs {req['method']} {req['uri']} ({service}) differently"
        seen[service] = seen.get(service, 0) + 1
    return seen


# ---- the tests ----

def test_done_when_fleet_with_container_credentials(procs, tmp_path):
    """The issue's job: S3 in, S3 out, Bedrock candidate and base, a Nova judge named the seed's
    way, a broker and workers whose only AWS setting is a container-credentials endpoint."""
    tmp = str(tmp_path)
    mock = aws_mock(procs)
    n = 24
    s3(mock).put_object(Bucket="data", Key="gen_qa.jsonl", Body=seed_dataset(n))
    env = container_env(tmp, mock)
    broker, _ = start_broker(procs)
    for i in range(2):
        start_worker(procs, broker, env, "--threads", "2", name=f"worker{i}")
    spec = write_spec(tmp, model="nova-textgeneration-lite", base_model="bedrock/amazon.nova-micro-v1:0",
                      evaluate_base_model=True, evaluator_model="amazon.nova-pro-v1:0")
    sched = procs.start("scheduler", [os.path.join(BIN, "llmaj-scheduler"), "--spec", spec, "--broker", broker,
                                      "--db", os.path.join(tmp, "llmaj.db"), "--heartbeat-ms", "200"], env=env,
                        cwd=tmp)
    assert sched.wait(timeout=600) == 0, procs.log(sched)
    out = open(sched.out_path).read()
    job_id = job_id_of(out)
    assert f"s3://results/eval/{job_id}/" in out + procs.log(sched)
    records, summary, job = s3_job(mock, job_id)
    assert_exact(records, n)
    check_summary(summary, records)
    assert job["status"] == "succeeded" and job["spec"]["region"] == REGION
    assert {r["model"] for r in records} == {"nova-textgeneration-lite", "bedrock/amazon.nova-micro-v1:0"}
    # the local copy is the same
    local = os.path.join(tmp, "runs", job_id, "records.jsonl")
    assert open(local, "rb").read() == read_object(mock, f"eval/{job_id}/records.jsonl")
    st = mock.stats()
    assert st["inference_calls"] == 2 * n and st["judge_calls"] == 2 * n * len(METRICS)
    aws = admin(mock, "stats")
    assert aws["container"] >= 2 and aws["imds"] == 0 and aws["sts"] == 0   # scheduler + workers, nothing else
    # the Nova name went to the us. profile of the job's region, every call signed for it, and
    # every signed request (S3 and Bedrock) with credentials the container endpoint issued
    reqs = admin(mock, "requests")["requests"]
    converse = [r for r in reqs if r["uri"].startswith("/model/")]
    assert any(r["uri"] == "/model/us.amazon.nova-lite-v1%3A0/converse" for r in converse)
    assert all(f"/{REGION}/bedrock/aws4_request" in header(r, "Authorization") for r in converse)
    keys = {AUTH_RE.match(header(r, "Authorization")).group(1) for r in reqs if header(r, "Authorization")} - {AK}
    assert keys and all(admin(mock, "secret?access_key=" + k)["issuer"] == "container" for k in keys)
    seen = verify_signatures(mock)
    assert seen.get("s3", 0) >= 5 and seen.get("bedrock", 0) > 0


def test_workers_region_never_overrides_the_jobs(procs, tmp_path):
    tmp = str(tmp_path)
    mock = aws_mock(procs)
    s3(mock).put_object(Bucket="data", Key="gen_qa.jsonl", Body=seed_dataset(6))
    env = key_env(tmp, mock)
    worker_env = dict(env, AWS_REGION="eu-central-1", AWS_DEFAULT_REGION="ap-south-1")
    broker, _ = start_broker(procs)
    start_worker(procs, broker, worker_env, name="worker")
    spec = write_spec(tmp, model="nova-textgeneration-lite", evaluator_model="nova-textgeneration-pro",
                      s3_output_path=None, output_path=os.path.join(tmp, "out"))
    sched = procs.start("scheduler", [os.path.join(BIN, "llmaj-scheduler"), "--spec", spec, "--broker", broker,
                                      "--db", os.path.join(tmp, "llmaj.db")], env=env, cwd=tmp)
    assert sched.wait(timeout=600) == 0, procs.log(sched)
    converse = [r for r in admin(mock, "requests")["requests"] if r["uri"].startswith("/model/")]
    assert converse and all(r["uri"].startswith("/model/us.amazon.nova-") for r in converse)
    assert all(f"/{REGION}/bedrock/aws4_request" in header(r, "Authorization") for r in converse)


def credential_setups(tmp, mock):
    """Each credential source alone, as (name, env, issuer the mock records)."""
    wid = os.path.join(tmp, "web-identity-token")
    with open(wid, "w") as f:
        f.write("eyJ.integration.token")
    aws_dir = os.path.join(tmp, ".aws")
    os.makedirs(aws_dir, exist_ok=True)
    with open(os.path.join(aws_dir, "credentials"), "w") as f:
        f.write(f"[base]\naws_access_key_id = {AK}\naws_secret_access_key = {SK}\n")
    proc = json.dumps({"Version": 1, "AccessKeyId": AK, "SecretAccessKey": SK})
    with open(os.path.join(aws_dir, "config"), "w") as f:
        f.write("[profile role]\nrole_arn = arn:aws:iam::123456789012:role/eval\nsource_profile = base\n"
                f"[profile proc]\ncredential_process = echo '{proc}'\n")
    b = base_env(tmp, mock)
    return [
        ("environment", dict(b, AWS_ACCESS_KEY_ID=AK, AWS_SECRET_ACCESS_KEY=SK), "static"),
        ("web identity", dict(b, AWS_WEB_IDENTITY_TOKEN_FILE=wid, AWS_ROLE_ARN="arn:aws:iam::123456789012:role/irsa"),
         "sts"),
        ("profile role", dict(b, AWS_PROFILE="role"), "sts"),
        ("credential_process", dict(b, AWS_PROFILE="proc"), "static"),
        ("container", container_env(tmp, mock), "container"),
        ("instance metadata", dict(b, AWS_EC2_METADATA_SERVICE_ENDPOINT=mock.url), "imds"),
    ]


def test_every_credential_source_runs_a_job(procs, tmp_path):
    tmp = str(tmp_path)
    mock = aws_mock(procs)
    s3(mock).put_object(Bucket="data", Key="gen_qa.jsonl", Body=seed_dataset(3))
    for name, env, issuer in credential_setups(tmp, mock):
        before = admin(mock, "stats")
        p = llmaj_run(tmp, env, "--spec", write_spec(tmp, builtin_metrics=["Correctness"]))
        assert p.returncode == 0, (name, p.stderr)
        records, _, job = s3_job(mock, job_id_of(p.stdout))
        assert len(records) == 3 and job["status"] == "succeeded", name
        after = admin(mock, "stats")
        if issuer == "sts":
            assert after["sts"] > before["sts"], name
        if issuer in ("container", "imds"):
            assert after[issuer] > before[issuer] and after["sts"] == before["sts"], name
    verify_signatures(mock)


def test_large_records_go_up_in_parts(procs, tmp_path):
    tmp = str(tmp_path)
    mock = aws_mock(procs)
    n = 1200   # 1,200 records of 16 KB prompts: a records.jsonl past the 16 MiB multipart threshold
    s3(mock).put_object(Bucket="data", Key="big.jsonl.gz", Body=gzip.compress(seed_dataset(n, prompt_bytes=16000)))
    p = llmaj_run(tmp, key_env(tmp, mock), "--spec",
                  write_spec(tmp, dataset="s3://data/big.jsonl.gz", builtin_metrics=["Correctness"], shard_size=64),
                  "--workers", "4", timeout=900)
    assert p.returncode == 0, p.stderr
    job_id = job_id_of(p.stdout)
    head = s3(mock).head_object(Bucket="results", Key=f"eval/{job_id}/records.jsonl")
    local = os.path.join(tmp, "runs", job_id, "records.jsonl")
    assert head["ContentLength"] == os.path.getsize(local) > 16 << 20
    assert re.search(r"-[0-9]+\"$", head["ETag"]), head["ETag"]   # a multipart object
    parts = int(head["ETag"].rstrip('"').split("-")[1])
    assert parts == -(-os.path.getsize(local) // (8 << 20))
    assert read_object(mock, f"eval/{job_id}/records.jsonl") == open(local, "rb").read()
    assert admin(mock, "stats")["multipart_parts"] == parts
    records = [json.loads(l) for l in open(local)]
    assert len(records) == n


def test_upload_cut_by_a_crash_is_redone_on_resume(procs, tmp_path):
    tmp = str(tmp_path)
    mock = aws_mock(procs)
    n = 12
    s3(mock).put_object(Bucket="data", Key="gen_qa.jsonl", Body=seed_dataset(n))
    env = key_env(tmp, mock)
    spec = write_spec(tmp)
    # the upload of records.jsonl is held at the mock (for up to 10 minutes), so the process is
    # caught in the middle of it, whatever its speed, and killed there
    admin(mock, "stall?match=records.jsonl&ms=600000", method="POST")
    run = procs.start("run", [os.path.join(BIN, "llmaj"), "run", "--spec", spec, "--workers", "2", "--db",
                              os.path.join(tmp, "llmaj.db")], env=env, cwd=tmp)
    deadline = time.time() + 300
    while admin(mock, "stats")["stalled"] < 1:
        assert run.poll() is None, procs.log(run)
        assert time.time() < deadline, "the upload never started"
        time.sleep(0.05)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    admin(mock, "stall?ms=0", method="POST")
    listed = json.loads(subprocess.run([os.path.join(BIN, "llmaj"), "list", "--db", os.path.join(tmp, "llmaj.db"),
                                        "--json"], capture_output=True, text=True, env=env).stdout)
    jobs = listed["jobs"] if isinstance(listed, dict) else listed
    assert len(jobs) == 1 and jobs[0]["state"] == "running", jobs   # never reported done
    job_id = jobs[0]["job_id"]
    prefix = f"eval/{job_id}/"
    keys = [o["Key"] for o in s3(mock).list_objects_v2(Bucket="results", Prefix=prefix).get("Contents", [])]
    assert keys == [prefix + "job.json"]   # only the placeholder made it
    assert json.loads(read_object(mock, prefix + "job.json"))["status"] == "running"
    p = llmaj_run(tmp, env, "--resume", job_id)
    assert p.returncode == 0, p.stderr
    records, _, job = s3_job(mock, job_id)
    assert_exact(records, n, targets=("custom",))
    assert job["status"] == "succeeded"


def run_rejected(tmp, mock, env, *needles, **spec_kw):
    before = mock.model_requests()
    p = llmaj_run(tmp, env, "--spec", write_spec(tmp, **spec_kw))
    assert p.returncode == 2, (spec_kw, p.stdout, p.stderr)
    for n in needles:
        assert n in p.stderr, (n, p.stderr)
    assert mock.model_requests() == before   # not one model call
    return p


PKG = "arn:aws:sagemaker:us-west-2:123456789012:model-package/"


@pytest.mark.parametrize("spec_kw,needles", [
    ({"region": None}, ["region: this job calls AWS"]),
    ({"dataset": "s3://data/missing.jsonl"}, ["HeadObject s3://data/missing.jsonl: HTTP 404"]),
    ({"dataset": "s3://nosuch-bucket/d.jsonl"}, ["s3://nosuch-bucket/d.jsonl: HTTP 404"]),
    ({"dataset": "s3://locked/d.jsonl"}, ["s3://locked/d.jsonl: HTTP 403"]),
    ({"dataset": "s3://euro/d.jsonl"}, ["the bucket euro is in region eu-west-1, but this job's region is us-west-2"]),
    ({"s3_output_path": "s3://nosuch-bucket/x/"}, ["NoSuchBucket (HTTP 404): the bucket nosuch-bucket does not exist"]),
    ({"s3_output_path": "s3://locked/x/"}, ["AccessDenied (HTTP 403)", "they need s3:PutObject on arn:aws:s3:::locked/x/"]),
    ({"s3_output_path": "s3://euro/x/"}, ["the bucket euro is in region eu-west-1"]),
    ({"output_path": "runs/"}, ["s3_output_path: is an alias of output_path and both are given with different values"]),
    ({"model": PKG + "finetuned/3"}, ["model: the package " + PKG + "finetuned/3 is a fine-tuned model with artifacts only",
                                       "deploy it to a SageMaker endpoint and pass `sagemaker/<endpoint>`"]),
    ({"model": "arn:aws:sagemaker:us-west-2:<>:model-package/test-finetuned-models-gamma/28"},
     ["model: `arn:aws:sagemaker:us-west-2:<>:model-package/test-finetuned-models-gamma/28` is not a valid model package "
      "ARN: the account `<>` is not a 12-digit AWS account id"]),
    ({"mlflow_resource_arn": "arn:aws:sagemaker:us-west-2:<>:mlflow-tracking-server/mmlu-eval-experiment"},
     ["mlflow_resource_arn: `arn:aws:sagemaker:us-west-2:<>:mlflow-tracking-server/mmlu-eval-experiment` is not a valid "
      "ARN: the account `<>` is not a 12-digit AWS account id"]),
    ({"model_artifact": "s3://models/x/model.tar.gz", "model": None}, ["model_artifact: llmaj evaluates models that are "
                                                                        "already served"]),
    ({"dataset": "arn:aws:sagemaker:us-west-2:123456789012:hub-content/AIRegistry/DataSet/x/1.0.0"},
     ["dataset ARNs (AI Registry) are not supported: give the dataset's s3://bucket/key"]),
], ids=["no-region", "no-such-key", "no-such-bucket", "dataset-denied", "dataset-other-region", "output-no-bucket",
        "output-denied", "output-other-region", "two-outputs", "fine-tuned-package", "placeholder-package-arn",
        "placeholder-mlflow-arn", "artifact-only", "dataset-arn"])
def test_each_error_before_any_model_call(procs, tmp_path, spec_kw, needles):
    tmp = str(tmp_path)
    mock = aws_mock(procs)
    s3(mock).put_object(Bucket="data", Key="gen_qa.jsonl", Body=seed_dataset(3))
    run_rejected(tmp, mock, key_env(tmp, mock), *needles, **spec_kw)
    assert not s3(mock).list_objects_v2(Bucket="results").get("Contents")   # nothing written either


def test_no_credentials_at_all_lists_every_source(procs, tmp_path):
    tmp = str(tmp_path)
    mock = aws_mock(procs)
    env = dict(base_env(tmp, mock), AWS_EC2_METADATA_DISABLED="true")
    p = llmaj_run(tmp, env, "--spec", write_spec(tmp))
    assert p.returncode == 2, p.stderr
    for n in ("no AWS credentials found", "environment (AWS_ACCESS_KEY_ID not set)",
              "web identity (AWS_WEB_IDENTITY_TOKEN_FILE not set)", "container credentials",
              "instance metadata (disabled by AWS_EC2_METADATA_DISABLED)"):
        assert n in p.stderr, (n, p.stderr)
    assert mock.model_requests() == 0


def test_model_package_and_sagemaker_tgi_endpoint(procs, tmp_path):
    """The seed's Part 2: a model package that records its endpoint (a TGI container) evaluated
    against its base model, the base model taken from the package."""
    tmp = str(tmp_path)
    mock = aws_mock(procs)
    s3(mock).put_object(Bucket="data", Key="gen_qa.jsonl", Body=seed_dataset(4))
    p = llmaj_run(tmp, key_env(tmp, mock), "--spec",
                  write_spec(tmp, model=PKG + "gamma/28", evaluate_base_model=True, sagemaker_api="tgi"))
    assert p.returncode == 0, p.stderr
    records, _, job = s3_job(mock, job_id_of(p.stdout))
    assert_exact(records, 4)
    assert job["spec"]["model"] == "sagemaker/gamma-28-endpoint"
    assert job["spec"]["model_package"] == PKG + "gamma/28"
    assert job["spec"]["base_model"] == "nova-textgeneration-lite"
    invoked = [r for r in admin(mock, "requests")["requests"] if r["uri"] == "/endpoints/gamma-28-endpoint/invocations"]
    assert len(invoked) == 4 and all(json.loads(r["body"])["inputs"] for r in invoked)
    assert mock.stats()["requests"]["invocations"] == 4
    verify_signatures(mock)
