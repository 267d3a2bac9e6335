"""Quota saturation across the fleet (issue 3): llmaj-scheduler, llmaj-broker and several
llmaj-worker processes against an llmaj-mockllm that enforces requests and tokens per minute the
way a provider does (token buckets per model, 429 with Retry-After and rate-limit headers).

The offered load is far above the limit (hundreds of calls in flight against a mock that admits
ten a second per model), so without fleet-wide pacing most requests would be answered 429. The
tests assert counts and behaviour, never timings: every (record, target, metric) is judged exactly
once, nothing ends as an error, and the share of requests the mock refused stays small."""
import json
import os
import signal
import time

from conftest import BIN, read_records, start_broker, start_mock, start_worker, write_dataset

RPM = 600          # per model at the mock: 10 requests a second, a burst of 10
TPM = 300000       # per model at the mock: 5,000 tokens a second
MAX_429_SHARE = 0.03

MODEL = "openai-api/mock/ft"
JUDGE = "openai-api/mock/judge"
TONE = {"customMetricDefinition": {
    "name": "Tone", "instructions": "Rate the tone.\nPrompt: {{prompt}}\nResponse: {{prediction}}",
    "ratingScale": [{"definition": "Good", "value": {"floatValue": 1}},
                    {"definition": "Poor", "value": {"floatValue": 0}}]}}
METRICS = ["Correctness", "Tone"]


def write_job(tmp, n_records, limits=True, model=MODEL, judge=JUDGE, judge_only=False, metrics=("Correctness",),
              custom=(TONE,)):
    data = os.path.join(tmp, "data.jsonl")
    if judge_only:
        with open(data, "w") as f:
            for i in range(n_records):
                f.write(json.dumps({"id": f"r{i}", "prompt": f"Question {i}: explain item {i * 7 % 97}.",
                                    "referenceResponse": f"Reference {i}.",
                                    "modelResponses": [{"response": f"Answer {i}.", "modelIdentifier": "m"}]}) + "\n")
    else:
        write_dataset(data, n_records)
    spec = {"evaluator_model": judge, "dataset": data, "builtin_metrics": list(metrics),
            "custom_metrics": list(custom), "output_path": os.path.join(tmp, "runs"), "shard_size": 8,
            "inference": {"max_tokens": 128}, "judge": {"max_tokens": 128}}
    if not judge_only:
        spec["model"] = model
    if limits:
        # The same fleet-wide limits as the mock's, for the inference and the judge key alike.
        spec["limits"] = {model: {"rpm": RPM, "tpm": TPM}, judge: {"rpm": RPM, "tpm": TPM}}
    path = os.path.join(tmp, "job.json")
    with open(path, "w") as f:
        json.dump(spec, f)
    return path


def run_scheduler(procs, spec_path, broker, env):
    return procs.start("scheduler", [os.path.join(BIN, "llmaj-scheduler"), "--spec", spec_path, "--broker", broker,
                                     "--heartbeat-ms", "200", "--dead-after", "5"], env=env)


def wait_exit(p, timeout):
    deadline = time.time() + timeout
    while p.poll() is None:
        assert time.time() < deadline, f"{p.name} did not finish in {timeout}s"
        time.sleep(0.1)
    return p.returncode


def job_records(procs, sched):
    with open(sched.out_path) as f:
        out = f.read()
    for line in out.splitlines():
        if line.startswith("results: "):
            return read_records(line[len("results: "):])
    raise AssertionError("no results line in: " + out + procs.log(sched))


def assert_judged_once(records, n_records, metrics):
    keys = [(r["record_index"], r["target"]) for r in records]
    assert len(keys) == len(set(keys)), "a (record, target) appears twice"
    assert set(keys) == {(i, "custom") for i in range(n_records)}
    for r in records:
        assert r["error"] is None, r
        assert sorted(r["scores"].keys()) == sorted(metrics)
        for m, s in r["scores"].items():
            # a 429 is retried, never recorded: no score may end as an error
            assert s["status"] in ("ok", "unscored", "not_applicable"), (r["record_index"], m, s)


def refused_share(mock):
    st = mock.stats()["responses"]
    ok, refused = st["2xx"], st["429"]
    return ok, refused, refused / max(1, ok + refused)


def test_three_workers_share_the_limit(procs, tmp_path):
    """Three workers, two rate-limited keys (the model and the judge): the broker divides each
    key's limit among them and the fleet keeps to it."""
    n = 150
    mock = start_mock(procs, "--rpm", str(RPM), "--tpm", str(TPM), "--latency", "uniform:5:30")
    broker, _ = start_broker(procs)
    workers = [start_worker(procs, broker, mock.env(), name=f"worker{i}") for i in range(3)]
    sched = run_scheduler(procs, write_job(str(tmp_path), n), broker, mock.env())
    assert wait_exit(sched, 600) == 0, procs.log(sched)
    assert_judged_once(job_records(procs, sched), n, METRICS)
    st = mock.stats()
    assert st["inference_calls"] >= n
    assert st["judge_calls"] >= n * len(METRICS)
    ok, refused, share = refused_share(mock)
    assert share < MAX_429_SHARE, f"{refused} of {ok + refused} requests answered 429"
    for w in workers:
        w.send_signal(signal.SIGTERM)
        w.wait(timeout=30)
        assert "no rate allotment" not in procs.log(w), procs.log(w)[-3000:]


def test_workers_join_and_die(procs, tmp_path):
    """Two workers start; two more join midway and one of the first is killed: the broker
    re-divides the limits each time, and every record is still judged exactly once."""
    n = 150
    mock = start_mock(procs, "--rpm", str(RPM), "--tpm", str(TPM), "--latency", "uniform:5:30")
    broker, bproc = start_broker(procs)
    first = [start_worker(procs, broker, mock.env(), name=f"worker{i}") for i in range(2)]
    sched = run_scheduler(procs, write_job(str(tmp_path), n), broker, mock.env())

    def wait_judged(k):
        deadline = time.time() + 300
        while mock.stats()["judge_calls"] < k:
            assert sched.poll() is None, procs.log(sched)
            assert time.time() < deadline
            time.sleep(0.05)

    wait_judged(60)
    start_worker(procs, broker, mock.env(), name="late0")
    start_worker(procs, broker, mock.env(), name="late1")
    wait_judged(150)
    os.kill(first[0].pid, signal.SIGKILL)
    assert wait_exit(sched, 600) == 0, procs.log(sched)
    assert_judged_once(job_records(procs, sched), n, METRICS)
    ok, refused, share = refused_share(mock)
    assert share < MAX_429_SHARE, f"{refused} of {ok + refused} requests answered 429"
    assert "declared dead" in procs.log(bproc)


def test_adaptive_learns_announced_limits(procs, tmp_path):
    """No limits in the spec: the workers probe, read the limits the mock announces in its
    x-ratelimit-* headers and pace the fleet to them."""
    n = 150
    mock = start_mock(procs, "--rpm", str(RPM), "--tpm", str(TPM), "--latency", "uniform:5:30")
    broker, _ = start_broker(procs)
    workers = [start_worker(procs, broker, mock.env(), name=f"worker{i}") for i in range(3)]
    sched = run_scheduler(procs, write_job(str(tmp_path), n, limits=False), broker, mock.env())
    assert wait_exit(sched, 600) == 0, procs.log(sched)
    assert_judged_once(job_records(procs, sched), n, METRICS)
    ok, refused, share = refused_share(mock)
    assert share < MAX_429_SHARE, f"{refused} of {ok + refused} requests answered 429"
    for w in workers:
        w.send_signal(signal.SIGTERM)
        w.wait(timeout=30)
    assert any("the provider announces 600 requests" in procs.log(w) for w in workers)


def test_adaptive_without_headers(procs, tmp_path):
    """No limits in the spec and none announced (Bedrock's throttles say nothing but
    ThrottlingException): the workers adapt their concurrency to the 429s, retry the refused
    calls, and every record is still judged."""
    n = 120
    mock = start_mock(procs, "--rpm", str(RPM), "--latency", "uniform:20:60")
    env = {**mock.env(), "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": mock.url, "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
           "AWS_SECRET_ACCESS_KEY": "secret", "AWS_REGION": "us-east-1"}
    broker, _ = start_broker(procs)
    for i in range(3):
        start_worker(procs, broker, env, "--concurrency", "8", name=f"worker{i}")
    spec = write_job(str(tmp_path), n, limits=False, judge="bedrock/amazon.nova-pro-v1:0", judge_only=True,
                     custom=())
    sched = run_scheduler(procs, spec, broker, env)
    assert wait_exit(sched, 600) == 0, procs.log(sched)
    assert_judged_once(job_records(procs, sched), n, ["Correctness"])
    ok, refused, share = refused_share(mock)
    assert refused > 0, "the mock never throttled: the test does not exercise adaptation"
    assert share < 0.5, f"{refused} of {ok + refused} requests answered 429"
