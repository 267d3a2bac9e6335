"""Cheap iteration against llmaj-scheduler --serve, a broker, two workers and mock LLMs, every
model behind a mock of its own so that each mock's counters are the calls of one role:
- `"cache": true`: a second identical job makes no model call at all, its responses and verdicts
  are the first job's, and summary.json, the REST status and /metrics count the hits;
- `"reuse_responses_from"`: a job that judges another job's responses with a new judge and an
  added metric makes no inference call, only judge calls, on exactly the same responses;
- a cached job with a changed judge makes only judge calls (inference comes from the cache);
- both keys at once: another job's responses, every verdict from the cache, no call at all;
- validation: an unknown job, a job not ended yet, another dataset, another model and a bad
  "cache" value are 400s naming the key, and no model is called;
- the same with `llmaj run` and its --cache and --reuse-responses-from flags (exit 2 on a bad id)."""
import json
import os
import re
import subprocess

import pytest

from conftest import BIN, read_records, start_broker, start_mock, start_worker, write_dataset
from test_service import Service, svc_env

N = 30
METRICS = ["Correctness", "Helpfulness"]


@pytest.fixture
def fleet(procs, tmp_path):
    """Mocks: gen (the evaluated models), judge and judge2 (two judges), slow (a job that lasts)."""
    mocks = {n: start_mock(procs, name=f"mock-{n}") for n in ("gen", "judge", "judge2")}
    mocks["slow"] = start_mock(procs, "--latency", "fixed:3000", name="mock-slow")
    broker, _ = start_broker(procs)
    env = svc_env(mocks)
    for i in (1, 2):
        start_worker(procs, broker, env, "--concurrency", "16", name=f"worker{i}")
    svc = Service(procs, str(tmp_path), broker, env, max_jobs=4).start()
    data = os.path.join(str(tmp_path), "data.jsonl")
    write_dataset(data, N)
    return {"tmp": str(tmp_path), "mocks": mocks, "svc": svc, "data": data}


def base_spec(fleet, name, **kw):
    spec = {"name": name, "model": "openai-api/gen/ft", "base_model": "openai-api/gen/base",
            "evaluate_base_model": True, "evaluator_model": "openai-api/judge/j", "builtin_metrics": METRICS,
            "dataset": fleet["data"], "output_path": os.path.join(fleet["tmp"], "out"), "shard_size": 8}
    spec.update(kw)
    return {k: v for k, v in spec.items() if v is not None}


def calls(fleet):
    return {n: m.model_requests() for n, m in fleet["mocks"].items()}


def run(fleet, spec):
    svc = fleet["svc"]
    job_id = svc.submit(spec)
    j = svc.wait_ended(job_id)
    assert j["status"] == "succeeded", (j, fleet["svc"].procs.log(svc.p))
    with open(os.path.join(j["output"], "summary.json")) as f:
        summary = json.load(f)
    return job_id, j, read_records(j["output"]), summary


def by_cell(records):
    return {(r["record_index"], r["target"]): r for r in records}


def job_usage(job):
    """job.json's calls and tokens by model: what was paid for."""
    with open(os.path.join(job["output"], "job.json")) as f:
        return json.load(f)["usage"]


def judge_calls(records):
    return sum(s["judge_calls"] for r in records for s in r["scores"].values())


def metric_value(text, name, kind):
    m = re.search(r'^%s\{kind="%s"\} (\d+)' % (re.escape(name), kind), text, re.M)
    assert m, f"{name}{{kind={kind}}} not in /metrics"
    return int(m.group(1))


def test_cache_reuse_and_changed_judge(fleet):
    svc = fleet["svc"]
    cells = 2 * N

    # 1. A cached job: every call is made (and kept).
    c0 = calls(fleet)
    a_id, a, a_recs, a_sum = run(fleet, base_spec(fleet, "first", cache=True))
    c1 = calls(fleet)
    assert c1["gen"] - c0["gen"] == cells
    assert c1["judge"] - c0["judge"] == judge_calls(a_recs) >= cells * len(METRICS)
    assert a_sum["cache"] == {"enabled": True, "reused_from": None, "reused_responses": 0, "inference_hits": 0,
                              "judge_hits": 0}
    assert a["cache"]["inference_hits"] == 0

    # 2. The same job again: no model call at all, the same answers, the hits counted.
    b_id, b, b_recs, b_sum = run(fleet, base_spec(fleet, "again", cache=True))
    c2 = calls(fleet)
    assert c2 == c1, "a fully cached job called a model"
    assert b_sum["cache"] == {"enabled": True, "reused_from": None, "reused_responses": 0, "inference_hits": cells,
                              "judge_hits": cells * len(METRICS)}
    assert b["cache"] == b_sum["cache"]
    assert len(b_recs) == cells
    for key, r in by_cell(b_recs).items():
        ra = by_cell(a_recs)[key]
        assert r["response"] == ra["response"] and r["response_origin"] == "cache"
        for m in METRICS:
            assert r["scores"][m]["cached"] is True and r["scores"][m]["judge_calls"] == 0
            assert r["scores"][m]["rating"] == ra["scores"][m]["rating"]
            assert r["scores"][m]["score"] == ra["scores"][m]["score"]
    assert all(u["calls"] == 0 for u in job_usage(b).values()), job_usage(b)
    st, text = svc.call("GET", "/metrics")
    assert st == 200
    assert metric_value(text, "llmaj_scheduler_cache_hits_total", "inference") >= cells
    assert metric_value(text, "llmaj_scheduler_cache_hits_total", "judge") >= cells * len(METRICS)
    assert metric_value(text, "llmaj_scheduler_cache_stored_total", "inference") == cells

    # 3. Reuse the first job's responses with another judge and one more metric: judge calls only.
    metrics3 = METRICS + ["Completeness"]
    spec = base_spec(fleet, "rejudge", evaluator_model="openai-api/judge2/j", builtin_metrics=metrics3,
                     reuse_responses_from=a_id)
    for k in ("model", "base_model", "evaluate_base_model", "dataset"):
        del spec[k]   # taken from the reused job
    r_id, r, r_recs, r_sum = run(fleet, spec)
    c3 = calls(fleet)
    assert c3["gen"] == c2["gen"] and c3["judge"] == c2["judge"], "reuse made an inference or old-judge call"
    assert c3["judge2"] - c2["judge2"] == judge_calls(r_recs) >= cells * len(metrics3)
    assert r_sum["cache"] == {"enabled": False, "reused_from": a_id, "reused_responses": cells, "inference_hits": 0,
                              "judge_hits": 0}
    assert r["model"] == "openai-api/gen/ft" and r["base_model"] == "openai-api/gen/base"
    assert len(r_recs) == cells
    for key, rec in by_cell(r_recs).items():
        assert rec["response"] == by_cell(a_recs)[key]["response"] and rec["response_origin"] == "reused"
        assert sorted(rec["scores"]) == sorted(metrics3)
        assert all(s["status"] == "ok" for s in rec["scores"].values())
    usage = job_usage(r)
    assert usage["openai-api/gen/ft"]["calls"] == 0 and usage["openai-api/gen/base"]["calls"] == 0
    assert usage["openai-api/judge2/j"]["calls"] == judge_calls(r_recs)

    # 4. A cached job with the judge changed: inference comes from the cache, only judge calls go out.
    d_id, d, d_recs, d_sum = run(fleet, base_spec(fleet, "newjudge", cache=True,
                                                  evaluator_model="openai-api/judge2/j"))
    c4 = calls(fleet)
    assert c4["gen"] == c3["gen"] and c4["judge"] == c3["judge"]
    assert c4["judge2"] - c3["judge2"] == judge_calls(d_recs) >= cells * len(METRICS)
    assert d_sum["cache"]["inference_hits"] == cells and d_sum["cache"]["judge_hits"] == 0

    # 5. Both keys: the first job's responses, judged as it judged them: every verdict from the cache.
    spec = base_spec(fleet, "both", reuse_responses_from=a_id, cache=True)
    for k in ("model", "base_model", "evaluate_base_model", "dataset"):
        del spec[k]
    e_id, e, e_recs, e_sum = run(fleet, spec)
    assert calls(fleet) == c4, "a job with every answer at hand called a model"
    assert e_sum["cache"] == {"enabled": True, "reused_from": a_id, "reused_responses": cells, "inference_hits": 0,
                              "judge_hits": cells * len(METRICS)}
    assert e["cache"] == e_sum["cache"]
    for key, rec in by_cell(e_recs).items():
        assert rec["response_origin"] == "reused" and rec["response"] == by_cell(a_recs)[key]["response"]
        assert all(sc["cached"] and sc["judge_calls"] == 0 for sc in rec["scores"].values())


def test_validation(fleet):
    svc = fleet["svc"]
    a_id, _, _, _ = run(fleet, base_spec(fleet, "source", evaluate_base_model=None, base_model=None))
    before = calls(fleet)

    def rejected(spec, key, *words):
        st, ans = svc.call("POST", "/v1/jobs", spec)
        assert st == 400, (st, ans)
        errs = [e for e in ans["errors"] if e["key"] == key]
        assert errs, ans
        for w in words:
            assert any(w in e["message"] for e in errs), (w, ans)

    def reuse(**kw):
        spec = {"reuse_responses_from": a_id, "evaluator_model": "openai-api/judge2/j", "builtin_metrics": METRICS,
                "output_path": os.path.join(fleet["tmp"], "out")}
        spec.update(kw)
        return spec

    rejected(reuse(reuse_responses_from="no-such-job"), "reuse_responses_from", "no-such-job")
    rejected(reuse(reuse_responses_from="bad id!"), "reuse_responses_from", "not a job id")
    rejected(reuse(reuse_responses_from=7), "reuse_responses_from")
    other = os.path.join(fleet["tmp"], "other.jsonl")
    write_dataset(other, 5)
    rejected(reuse(dataset=other), "dataset", a_id)
    rejected(reuse(model="openai-api/gen/other"), "model", a_id)
    rejected(reuse(evaluate_base_model=True), "evaluate_base_model", "base")
    rejected(base_spec(fleet, "badcache", cache="yes"), "cache")

    # A job that has not ended yet cannot be reused.
    slow = base_spec(fleet, "slow", model="openai-api/slow/ft", evaluate_base_model=None, base_model=None)
    s_id = svc.submit(slow)
    rejected(reuse(reuse_responses_from=s_id), "reuse_responses_from", s_id)
    st, _ = svc.call("POST", f"/v1/jobs/{s_id}/stop")
    assert st == 202
    svc.wait_ended(s_id)
    after = calls(fleet)
    assert after["gen"] == before["gen"] and after["judge2"] == before["judge2"], "a rejected job called a model"


def test_cli_run(procs, tmp_path):
    """`llmaj run` (one process, the job database under output_path): --cache twice, then
    --reuse-responses-from with another judge; the mock's counters say which calls were made."""
    tmp = str(tmp_path)
    gen, judge = start_mock(procs, name="cli-gen"), start_mock(procs, name="cli-judge")
    env = {**os.environ, **svc_env({"gen": gen, "judge": judge})}
    data = os.path.join(tmp, "data.jsonl")
    write_dataset(data, 12)
    spec = os.path.join(tmp, "spec.json")
    with open(spec, "w") as f:
        json.dump({"model": "openai-api/gen/ft", "evaluator_model": "openai-api/judge/j", "builtin_metrics": METRICS,
                   "dataset": data, "output_path": os.path.join(tmp, "runs"), "shard_size": 5}, f)
    llmaj = os.path.join(BIN, "llmaj")
    db = os.path.join(tmp, "runs", "llmaj.db")

    def run(*args):
        p = subprocess.run([llmaj, "run", "--spec", spec, "--workers", "1", "--quiet", *args], env=env,
                           capture_output=True, text=True, timeout=300)
        return p

    def job_named(name):
        p = subprocess.run([llmaj, "list", "--db", db, "--json"], capture_output=True, text=True, timeout=60)
        return [j["job_id"] for j in json.loads(p.stdout) if j["name"] == name][0]

    def summary(job_id):
        with open(os.path.join(tmp, "runs", job_id, "summary.json")) as f:
            return json.load(f)

    assert run("--cache", "--name", "one").returncode == 0
    assert (gen.model_requests(), judge.model_requests()) == (12, 12 * len(METRICS))
    assert run("--cache", "--name", "two").returncode == 0
    assert (gen.model_requests(), judge.model_requests()) == (12, 12 * len(METRICS))
    assert summary(job_named("two"))["cache"]["inference_hits"] == 12
    one = job_named("one")
    p = run("--reuse-responses-from", one, "--name", "three", "--builtin-metrics", "Correctness,Completeness")
    assert p.returncode == 0, p.stderr
    assert gen.model_requests() == 12 and judge.model_requests() == 12 * len(METRICS) + 12 * 2
    assert summary(job_named("three"))["cache"]["reused_responses"] == 12
    # A bad reference is refused before anything runs (exit 2), the key named.
    p = run("--reuse-responses-from", "nope", "--name", "four")
    assert p.returncode == 2 and "reuse_responses_from" in p.stderr and "nope" in p.stderr, p.stderr


def test_cached_job_through_a_restart(fleet):
    """A cached job whose judge calls are slow, the service SIGKILLed half-way and started again on
    the same database: the job finishes with every inference from the cache, and its status counts
    (the engine's, read back at the restart) agree with summary.json's exact ones."""
    svc = fleet["svc"]
    run(fleet, base_spec(fleet, "warm", cache=True, evaluate_base_model=None, base_model=None))
    c0 = calls(fleet)
    spec = base_spec(fleet, "slowjudge", cache=True, evaluate_base_model=None, base_model=None,
                     evaluator_model="openai-api/slow/j", shard_size=2,
                     builtin_metrics=METRICS + ["Completeness", "Coherence"])   # 120 calls of 3 s, 32 at a time
    job_id = svc.submit(spec)
    half = svc.wait(job_id, lambda j: j["progress"]["units_done"] >= 4, what="4 units")
    svc.kill9()
    # Counted with the units in the same row: the units done had their responses from the cache.
    assert half["cache"]["inference_hits"] >= 4, half
    svc.start()
    j = svc.wait_ended(job_id, timeout=600)
    assert j["status"] == "succeeded", j
    with open(os.path.join(j["output"], "summary.json")) as f:
        summary = json.load(f)
    assert summary["cache"]["inference_hits"] == N
    assert j["cache"] == summary["cache"]
    assert calls(fleet)["gen"] == c0["gen"], "a cached response was asked of the model again"
