"""`llmaj run`, the embedded mode: the same libraries in one process over inproc://."""
import json
import os
import subprocess

from conftest import BIN, check_summary, read_records, start_mock, write_dataset, write_spec


def run(tmp, mock, extra_args=(), **spec_kw):
    spec_path = os.path.join(tmp, "job.json")
    kw = {"output_path": os.path.join(tmp, "runs")}
    if "dataset" not in spec_kw:
        data = os.path.join(tmp, "data.jsonl")
        write_dataset(data, 60)
        kw["dataset"] = data
    kw.update(spec_kw)
    write_spec(spec_path, **kw)
    return subprocess.run([os.path.join(BIN, "llmaj"), "run", "--spec", spec_path, "--workers", "2", *extra_args],
                          env={**os.environ, **mock.env()}, capture_output=True, text=True, timeout=600)


def out_dir(p):
    return [l for l in p.stdout.splitlines() if l.startswith("results: ")][0][len("results: "):]


def test_run_writes_results_and_summary(procs, tmp_path):
    mock = start_mock(procs, "--latency", "uniform:1:10", "--unscorable-rate", "0.1")
    p = run(str(tmp_path), mock)
    assert p.returncode == 0, p.stderr
    assert "job " in p.stdout and "succeeded" in p.stdout
    assert "Correctness" in p.stdout and "custom vs base" in p.stdout   # the summary table
    assert "progress:" in p.stderr and "(done)" in p.stderr             # plain progress when not a terminal
    d = out_dir(p)
    records = read_records(d)
    assert len(records) == 120
    summary = json.load(open(os.path.join(d, "summary.json")))
    check_summary(summary, records, metrics_lower_better=("Harmfulness",))
    # Re-asks happened (unscorable first replies) and the re-asked ones were scored.
    st = mock.stats()
    assert st["reask_calls"] > 0
    assert any(s["judge_calls"] == 2 and s["status"] == "ok" for r in records for s in r["scores"].values())
    job = json.load(open(os.path.join(d, "job.json")))
    assert job["status"] == "succeeded"
    assert job["spec"]["model"] == "openai-api/mock/ft"
    assert job["usage"]["anthropic/judge"]["input_tokens"] > 0
    # Every record line carries the DESIGN.md fields.
    r = records[0]
    for k in ("job_id", "record_index", "record_id", "target", "model", "prompt", "response", "category", "scores",
              "usage", "latency_ms", "error"):
        assert k in r, k
    assert r["record_id"] == "r0"


def test_bring_your_own_responses_makes_no_inference_call(procs, tmp_path):
    mock = start_mock(procs)
    data = os.path.join(str(tmp_path), "byo.jsonl")
    with open(data, "w") as f:
        for i in range(20):
            f.write(json.dumps({"prompt": f"q{i}", "modelResponses": [
                {"response": f"answer {i}", "modelIdentifier": "mine"},
                {"response": f"base answer {i}", "modelIdentifier": "theirs"}]}) + "\n")
    p = run(str(tmp_path), mock, dataset=data, model=None, base_model=None, evaluate_base_model=None)
    assert p.returncode == 0, p.stderr
    st = mock.stats()
    assert st["inference_calls"] == 0 and st["judge_calls"] == 20 * 4
    records = read_records(out_dir(p))
    assert [r["response"] for r in records[:2]] == ["answer 0", "answer 1"]
    assert all(r["response_from_dataset"] for r in records)


def test_string_valued_scale_reported_as_counts(procs, tmp_path):
    mock = start_mock(procs)
    metric = {"customMetricDefinition": {"name": "Style", "instructions": "Style of {{prediction}}",
                                         "ratingScale": [{"definition": "Formal", "value": {"stringValue": "F"}},
                                                         {"definition": "Casual", "value": {"stringValue": "C"}}]}}
    p = run(str(tmp_path), mock, builtin_metrics=["Correctness"], custom_metrics=[metric],
            evaluate_base_model=False, base_model=None)
    assert p.returncode == 0, p.stderr
    summary = json.load(open(os.path.join(out_dir(p), "summary.json")))
    m = summary["targets"]["custom"]["metrics"]["Style"]
    assert m["mean"] is None and m["ci95"] is None
    assert sum(m["ratings"].values()) == m["n"] == 60


def test_exhausted_quota_fails_the_job_fast(procs, tmp_path):
    mock = start_mock(procs, "--quota-exhausted", "--latency", "fixed:20")
    p = run(str(tmp_path), mock, ["--concurrency", "4"])
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert "failed" in p.stdout
    records = read_records(out_dir(p))
    assert len(records) == 120
    assert all(r["error"] for r in records)
    assert any("quota" in r["error"].lower() for r in records)
    # Dispatch to the exhausted model stopped after the first wave (2 threads x 4 in flight):
    # no retries, and the remaining calls failed without being sent.
    assert mock.model_requests() <= 16


def test_flags_override_the_spec(procs, tmp_path):
    mock = start_mock(procs)
    p = run(str(tmp_path), mock, ["--builtin-metrics", "Relevance, Coherence", "--evaluate-base-model", "false",
                                  "--shard-size", "7"])
    assert p.returncode == 0, p.stderr
    records = read_records(out_dir(p))
    assert len(records) == 60
    assert sorted(records[0]["scores"]) == ["Coherence", "Relevance", "Tone"]
    job = json.load(open(os.path.join(out_dir(p), "job.json")))
    assert job["spec"]["shard_size"] == 7 and job["shards"] == 9
