"""Recovery from bad days (issue 8, findings 3 and 4): a real llmaj-broker, llmaj-worker processes
and llmaj-scheduler against an llmaj-mockllm that has a bad day on purpose.

- A limited episode: for its first seconds the mock announces (and enforces) a low rate limit in
  its x-ratelimit-* headers, then no limit at all. The workers learn the low limit; once the
  mock stops announcing it they must grow back to the fleet's full rate within a bounded time
  (docs/rate-limits.md: held 5 s, +1x a second, forgotten at 30 s), not keep the low pace for
  the rest of their lives.
- An outage: the mock answers every model call 503 (or closes the connection unanswered) for 30
  seconds in the middle of a job. Retries ride it out within their time budget: no result is
  lost, no score ends as an error.

The rate assertions have generous bounds (a window of 60 s for what the design does in ~30 s);
the figures themselves are printed (pytest -s) for the record."""
import datetime
import json
import os
import time

from conftest import BIN, read_records, start_broker, start_mock, start_worker

JUDGE = "openai-api/mock/judge"
EPISODE_RPM = 600          # 10 calls a second while the episode lasts
EPISODE_MS = 8000


def write_judge_job(tmp, n, metrics=("Correctness",), **extra):
    data = os.path.join(tmp, "data.jsonl")
    with open(data, "w") as f:
        for i in range(n):
            f.write(json.dumps({"id": f"r{i}", "prompt": f"Question {i}: explain item {i * 7 % 97}.",
                                "referenceResponse": f"Reference {i}.",
                                "modelResponses": [{"response": f"Answer {i}.", "modelIdentifier": "m"}]}) + "\n")
    spec = {"evaluator_model": JUDGE, "dataset": data, "builtin_metrics": list(metrics),
            "output_path": os.path.join(tmp, "runs"), "shard_size": 16, "judge": {"max_tokens": 128}}
    spec.update(extra)
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


def assert_all_scored(records, n, metrics):
    keys = [(r["record_index"], r["target"]) for r in records]
    assert len(keys) == len(set(keys)), "a (record, target) appears twice"
    assert set(keys) == {(i, "custom") for i in range(n)}
    for r in records:
        assert r["error"] is None, r
        assert sorted(r["scores"].keys()) == sorted(metrics)
        for m, s in r["scores"].items():
            assert s["status"] in ("ok", "unscored", "not_applicable"), (r["record_index"], m, s)


def log_times(text, needle):
    """Wall-clock times (seconds since the epoch) of the log lines that contain needle."""
    out = []
    for line in text.splitlines():
        if needle in line:
            stamp = line.split(" ", 1)[0]
            out.append(datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")
                       .replace(tzinfo=datetime.timezone.utc).timestamp())
    return out


def test_fleet_returns_to_full_rate_after_a_limited_episode(procs, tmp_path):
    n = 12000
    mock = start_mock(procs, "--episode-rpm", str(EPISODE_RPM), "--episode-ms", str(EPISODE_MS),
                      "--latency", "uniform:5:15")
    broker, _ = start_broker(procs)
    workers = [start_worker(procs, broker, mock.env(), "--threads", "1", name=f"worker{i}") for i in range(2)]
    sched = run_scheduler(procs, write_judge_job(str(tmp_path), n), broker, mock.env())

    # Sample the mock's judge calls; note when the episode ended.
    samples = []                     # (time, judge_calls)
    episode_end = None               # wall-clock time of the episode's end
    deadline = time.time() + 600
    while sched.poll() is None and time.time() < deadline:
        st = mock.stats()
        now = time.time()
        samples.append((now, st["judge_calls"]))
        ep = st["episode"]
        if episode_end is None and ep["state"] == "over":
            episode_end = now - ep["over_for_ms"] / 1000.0
        time.sleep(0.25)
    assert wait_exit(sched, 60) == 0, procs.log(sched)
    assert_all_scored(job_records(procs, sched), n, ["Correctness"])
    assert episode_end is not None, "the episode never ended"

    def rate(t0, t1):
        inside = [c for t, c in samples if t0 <= t <= t1]
        return (inside[-1] - inside[0]) / (t1 - t0) if len(inside) >= 2 else 0.0

    limit_per_s = EPISODE_RPM / 60.0
    # While limited, the fleet kept to the episode's limit (its burst aside).
    during = rate(episode_end - EPISODE_MS / 1000.0 + 2, episode_end)
    assert during <= 2.5 * limit_per_s, f"{during:.1f} calls/s during an episode limited to {limit_per_s:.0f}/s"
    # Every worker learned the limit and, once it was no longer announced, forgot it: within 60 s
    # of the episode's end (the design: 30 s after the last announcement).
    logs = [procs.log(w) for w in workers]
    for w, l in zip(workers, logs):
        assert log_times(l, "the provider announces 600 requests"), (w.name, l[-3000:])
        forgot = [t for t in log_times(l, "back to adaptive pacing") if t >= episode_end - 1]
        assert forgot and forgot[0] - episode_end <= 60, (w.name, l[-3000:])
    forgot_after = max(min(t for t in log_times(l, "back to adaptive pacing") if t >= episode_end - 1) for l in logs)
    forgot_after -= episode_end
    # ...and the rate grew past the old limit meanwhile: some 2 s window well above it within
    # 60 s (three times: a margin for a busy machine; the figure printed is the point).
    first_at = lambda k: next((t + 2.0 - episode_end for t, _ in samples
                               if t >= episode_end and rate(t, t + 2.0) >= k * limit_per_s), None)
    three, ten = first_at(3), first_at(10)
    peak = max((rate(t, t + 2.0) for t, _ in samples if t >= episode_end), default=0.0)
    print(f"\nepisode: {during:.1f} calls/s while limited to {limit_per_s:.0f}/s; after its end: 3x within "
          f"{three if three is None else round(three, 1)} s, 10x within {ten if ten is None else round(ten, 1)} s, "
          f"every worker back to unpaced (limit forgotten) {forgot_after:.1f} s after; peak {peak:.0f} calls/s")
    assert three is not None and three <= 60, f"the rate never passed 3x the episode's limit (peak {peak:.0f}/s)"


def outage_run(procs, tmp_path, status, outage_ms):
    n = 2000
    mock = start_mock(procs, "--outage-after-ms", "500", "--outage-ms", str(outage_ms), "--outage-status", status,
                      "--latency", "uniform:20:60")
    broker, _ = start_broker(procs)
    for i in range(2):
        start_worker(procs, broker, mock.env(), name=f"worker{i}", )
    spec = write_judge_job(str(tmp_path), n, metrics=("Correctness", "Helpfulness"), shard_size=8)
    t0 = time.time()
    sched = run_scheduler(procs, spec, broker, mock.env())
    assert wait_exit(sched, 600) == 0, procs.log(sched)
    took = time.time() - t0
    records = job_records(procs, sched)
    assert_all_scored(records, n, ["Correctness", "Helpfulness"])
    st = mock.stats()
    assert st["outage_replies"] > 0, "the outage never hit the job: it finished first"
    retried = sum(s["judge_calls"] > 1 for r in records for s in r["scores"].values())
    print(f"\noutage of {outage_ms / 1000:.0f} s ({'closed connections' if status == '0' else 'HTTP ' + status}): "
          f"{st['outage_replies']} calls failed by it, {n * 2} of {n * 2} scores recorded, 0 errors; "
          f"job took {took:.0f} s")
    return st, took


def test_a_30_s_outage_loses_no_result(procs, tmp_path):
    st, took = outage_run(procs, tmp_path, "503", 30000)
    assert took >= 30   # the job did wait the outage out (it started 0.5 s in)


def test_closed_connections_are_retried(procs, tmp_path):
    outage_run(procs, tmp_path, "0", 10000)
