"""llmaj-scheduler --serve over TCP on 127.0.0.1 with a real broker, two workers and mock LLMs:
jobs submitted over REST, one stopped mid-way, one surviving a SIGKILL of the service and a
restart, results exact and exactly once; validation before acceptance (400, no model called);
the token; malformed requests; the fleet's note; fast failure on configuration errors; retry of
error cells in place; `llmaj wait` exit codes; the CLI against the service; the fairness of a
small job submitted after a huge one; and schemathesis against schemas/openapi.yaml.

Each job calls its models on a mock of its own (openai-api/<svc>/... with <SVC>_BASE_URL), so a
job's model calls are that mock's counters."""
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import (BIN, SRC, check_summary, free_port, rest_call, read_records, start_broker, start_mock, start_worker,
                      wait_for_line, write_dataset)

TOKEN = "tok-" + "0123456789abcdef" * 2
METRICS = ["Correctness", "Helpfulness"]


# ---------------------------------------------------------------------------------------- helpers

class Service:
    """One llmaj-scheduler --serve process (restartable on the same database)."""

    def __init__(self, procs, tmp, broker, env, token=TOKEN, max_jobs=4, name="service"):
        self.procs, self.tmp, self.broker, self.env, self.token = procs, tmp, broker, env, token
        self.max_jobs, self.name = max_jobs, name
        self.db = os.path.join(tmp, "svc", "llmaj.db")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.starts = 0
        self.p = None

    def start(self):
        self.starts += 1
        argv = [os.path.join(BIN, "llmaj-scheduler"), "--serve", "--listen", f"127.0.0.1:{self.port}",
                "--broker", self.broker, "--db", self.db, "--max-jobs", str(self.max_jobs),
                "--heartbeat-ms", "200", "--dead-after", "5", "--log-level", "info"]
        env = dict(self.env)
        if self.token:
            path = os.path.join(self.tmp, "token")
            with open(path, "w") as f:
                f.write(self.token + "\n")
            argv += ["--token-file", path]
        self.p = self.procs.start(f"{self.name}{self.starts}", argv, env=env)
        wait_for_line(self.p.out_path, "llmaj-scheduler listening on ", self.p, timeout=60)
        return self

    def kill9(self):
        os.kill(self.p.pid, signal.SIGKILL)
        self.p.wait(timeout=30)

    def call(self, method, path, body=None, token=None, raw=None, headers=None):
        return rest_call(self.url, self.token if token is None else token, method, path, body, raw, headers)

    def job(self, job_id):
        st, j = self.call("GET", f"/v1/jobs/{job_id}")
        assert st == 200, (st, j)
        return j

    def submit(self, spec):
        st, ans = self.call("POST", "/v1/jobs", spec)
        assert st == 201, (st, ans, self.procs.log(self.p))
        assert ans["status"] == "queued"
        return ans["job_id"]

    def wait(self, job_id, pred, timeout=300, what="the condition"):
        deadline = time.time() + timeout
        while time.time() < deadline:
            j = self.job(job_id)
            if pred(j):
                return j
            assert self.p.poll() is None, self.procs.log(self.p)
            time.sleep(0.1)
        raise AssertionError(f"job {job_id}: {what} not reached in {timeout}s: {self.job(job_id)}")

    def wait_ended(self, job_id, timeout=300):
        return self.wait(job_id, lambda j: j["status"] in ("succeeded", "failed", "stopped"), timeout, "its end")


def svc_env(mocks):
    """Endpoint settings for services named after the mocks (openai-api/<name>/...)."""
    env = {}
    for name, m in mocks.items():
        env[f"{name.upper()}_BASE_URL"] = m.url + "/v1"
        env[f"{name.upper()}_API_KEY"] = "k"
    return env


def spec_for(tmp, svc, n, name, base=False, shard=16, **kw):
    data = os.path.join(tmp, f"{name}.jsonl")
    write_dataset(data, n)
    spec = {"name": name, "model": f"openai-api/{svc}/ft", "evaluator_model": f"openai-api/{svc}/judge",
            "builtin_metrics": METRICS, "dataset": data, "output_path": os.path.join(tmp, "out"), "shard_size": shard}
    if base:
        spec.update(base_model=f"openai-api/{svc}/base", evaluate_base_model=True)
    spec.update(kw)
    return spec


def calls(mock):
    return mock.model_requests()


def assert_exact(out_dir, n, targets=("custom",), data=None):
    """Every (record, target) once, every metric scored ok, ids in dataset order; summary matches."""
    records = read_records(out_dir)
    keys = [(r["record_index"], r["target"]) for r in records]
    assert len(keys) == len(set(keys)), "a (record, target) appears twice"
    assert set(keys) == {(i, t) for i in range(n) for t in targets}
    for r in records:
        assert r["record_id"] == f"r{r['record_index']}"
        assert sorted(r["scores"]) == sorted(METRICS)
        assert all(s["status"] == "ok" for s in r["scores"].values()), r
    with open(os.path.join(out_dir, "summary.json")) as f:
        summary = json.load(f)
    check_summary(summary, records)
    return records, summary


@pytest.fixture
def fleet(procs, tmp_path):
    """Broker, two workers, three mocks (a, b, c): the workers reach each mock as its service."""
    mocks = {n: start_mock(procs, "--latency", "fixed:20", name=f"mock-{n}") for n in ("a", "b", "c")}
    broker, bp = start_broker(procs)
    env = svc_env(mocks)
    workers = [start_worker(procs, broker, env, "--concurrency", "16", name=f"worker{i}") for i in (1, 2)]
    return {"tmp": str(tmp_path), "mocks": mocks, "broker": broker, "broker_proc": bp, "env": env,
            "workers": workers}


# ---------------------------------------------------------------------------------------- three jobs

def test_three_jobs_stop_and_restart(procs, fleet):
    """Three jobs at once: one stopped mid-way (its mock's counter stops), one through a SIGKILL of
    the service and a restart (no --resume), one plain; every result exact and exactly once."""
    tmp, mocks = fleet["tmp"], fleet["mocks"]
    svc = Service(procs, tmp, fleet["broker"], fleet["env"], max_jobs=3).start()
    n_stop, n_kill, n_plain = 1500, 2000, 300
    j_stop = svc.submit(spec_for(tmp, "a", n_stop, "stopped"))
    j_kill = svc.submit(spec_for(tmp, "b", n_kill, "killed", base=True))
    j_plain = svc.submit(spec_for(tmp, "c", n_plain, "plain"))

    # Stop the first mid-way: no new model call starts for it anywhere in the fleet.
    svc.wait(j_stop, lambda j: j["progress"]["units_done"] >= 150, what="150 units")
    st, ans = svc.call("POST", f"/v1/jobs/{j_stop}/stop")
    assert st == 202 and ans == {"job_id": j_stop, "status": "stopping"}
    stopped = svc.wait_ended(j_stop)
    assert stopped["status"] == "stopped" and stopped["partial"] is True
    assert stopped["progress"]["shards"]["in_flight"] == 0
    assert stopped["progress"]["units_done"] < n_stop
    before = calls(mocks["a"])
    time.sleep(2.0)   # ten heartbeats: a call that still started would show
    assert calls(mocks["a"]) == before, "model calls of a stopped job went on"
    assert mocks["a"].stats()["in_flight"] == 0

    # SIGKILL the service with the second job half-way, start it again on the same database.
    half = svc.wait(j_kill, lambda j: j["progress"]["units_done"] >= n_kill, what="half-way")   # 2 targets: half
    svc.kill9()
    assert half["status"] == "running", half
    svc.start()
    resumed = svc.job(j_kill)
    assert resumed["status"] in ("running", "queued", "succeeded")
    done = svc.wait_ended(j_kill)
    assert done["status"] == "succeeded", done
    assert done["progress"]["units_done"] == 2 * n_kill
    assert "resumed" in procs.log(svc.p) or "left running" in procs.log(svc.p)
    plain = svc.wait_ended(j_plain)
    assert plain["status"] == "succeeded"

    # The stopped job stayed stopped through the restart; its results are what it committed.
    assert svc.job(j_stop)["status"] == "stopped"
    assert calls(mocks["a"]) == before
    recs = read_records(svc.job(j_stop)["output"])
    keys = [(r["record_index"], r["target"]) for r in recs]
    assert len(keys) == len(set(keys)) and 0 < len(keys) < n_stop
    with open(os.path.join(svc.job(j_stop)["output"], "summary.json")) as f:
        s = json.load(f)
    assert s["partial"] is True and s["status"] == "stopped"
    check_summary(s, recs)

    assert_exact(done["output"], n_kill, ("custom", "base"))
    assert_exact(plain["output"], n_plain)
    # Nothing counted twice: the summary's n is the records' count.
    with open(os.path.join(done["output"], "summary.json")) as f:
        assert json.load(f)["targets"]["custom"]["metrics"]["Correctness"]["n"] == n_kill

    # /metrics carries per-job figures while jobs run, and jobs by status.
    st, text = svc.call("GET", "/metrics")
    assert st == 200 and 'llmaj_scheduler_jobs{status="succeeded"} 2' in text
    assert 'llmaj_scheduler_jobs{status="stopped"} 1' in text

    # A clean stop says BYE: the broker never declares the service dead.
    svc.p.send_signal(signal.SIGTERM)
    svc.p.wait(timeout=60)
    time.sleep(1.5)
    name = f"scheduler-{svc.p.pid}"
    blog = procs.log(fleet["broker_proc"]).splitlines()
    assert any(name in l and "said BYE" in l for l in blog), blog[-20:]
    assert not any(name in l and "declared dead" in l for l in blog)


def test_per_job_metrics_while_running(procs, fleet):
    tmp = fleet["tmp"]
    svc = Service(procs, tmp, fleet["broker"], fleet["env"], max_jobs=1).start()
    a = svc.submit(spec_for(tmp, "a", 3000, "first"))
    b = svc.submit(spec_for(tmp, "b", 50, "second"))
    svc.wait(a, lambda j: j["status"] == "running" and j["progress"]["units_done"] > 0)
    assert svc.job(b)["status"] == "queued"   # --max-jobs 1: it waits its turn
    st, text = svc.call("GET", "/metrics")
    assert st == 200
    assert f'llmaj_scheduler_job_info{{job_id="{a}",phase="running"}} 1' in text
    assert f'llmaj_scheduler_job_info{{job_id="{b}",phase="queued"}} 1' in text
    assert f'llmaj_scheduler_job_units{{job_id="{a}"}} 3000' in text
    svc.call("POST", f"/v1/jobs/{a}/stop")
    assert svc.wait_ended(b)["status"] == "succeeded"


# ---------------------------------------------------------------------------------------- validation

def test_bad_job_400_no_model_called(procs, fleet):
    tmp, mocks = fleet["tmp"], fleet["mocks"]
    svc = Service(procs, tmp, fleet["broker"], fleet["env"]).start()
    data = os.path.join(tmp, "bad.jsonl")
    with open(data, "w") as f:
        f.write('{"prompt": "ok 0"}\n{"referenceResponse": "no prompt"}\n{"prompt": "ok 2"}\nnot json\n')
    spec = {"model": "openai-api/a/ft", "evaluator_model": "openai-api/a/judge", "builtin_metrics": ["Correctness"],
            "dataset": data, "output_path": os.path.join(tmp, "out")}
    st, ans = svc.call("POST", "/v1/jobs", spec)
    assert st == 400, ans
    keys = [e["key"] for e in ans["errors"]]
    assert f"{data}:2" in keys and f"{data}:4" in keys, ans
    # Spec problems, every one with its key.
    st, ans = svc.call("POST", "/v1/jobs", {"model": "nope/x", "evaluator_model": "openai-api/a/judge",
                                            "builtin_metrics": ["Correctnes"], "dataset": data, "shard_size": 0})
    assert st == 400
    keys = {e["key"] for e in ans["errors"]}
    assert {"model", "builtin_metrics[0]", "shard_size"} <= keys, ans
    # A model whose provider lacks its base URL on the service: an error now, not a failed run later.
    spec2 = dict(spec, dataset=os.path.join(tmp, "good.jsonl"), model="openai-api/nowhere/ft")
    write_dataset(spec2["dataset"], 5)
    st, ans = svc.call("POST", "/v1/jobs", spec2)
    assert st == 400 and [e for e in ans["errors"] if e["key"] == "model" and "NOWHERE_BASE_URL" in e["message"]], ans
    # Nothing created, no model called.
    st, ans = svc.call("GET", "/v1/jobs")
    assert st == 200 and ans == {"jobs": []}
    assert sum(calls(m) for m in mocks.values()) == 0


def test_token_limits_and_malformed(procs, fleet, tmp_path):
    svc = Service(procs, fleet["tmp"], fleet["broker"], fleet["env"]).start()
    assert svc.call("GET", "/v1/jobs", token="")[0] == 401
    st, ans = svc.call("GET", "/v1/jobs", token="wrong")
    assert st == 401 and ans["errors"][0]["key"] == "Authorization"
    assert svc.call("GET", "/metrics", token="")[0] == 401
    assert svc.call("GET", "/healthz", token="") == (200, "ok\n")
    assert svc.call("GET", "/readyz", token="")[0] == 200
    # Malformed requests: 400 with a message, and the service goes on.
    assert svc.call("POST", "/v1/jobs", raw=b"{not json")[0] == 400
    assert svc.call("POST", "/v1/jobs", raw=b"[1, 2]")[0] == 400
    st, ans = svc.call("POST", "/v1/jobs", raw=b"[" * 100 + b"]" * 100)
    assert st == 400 and "deeper" in ans["errors"][0]["message"]
    # A body announced larger than the cap is refused before it is read.
    with socket.create_connection(("127.0.0.1", svc.port)) as s:
        s.sendall(f"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
                  f"Content-Type: application/json\r\nContent-Length: {5 << 20}\r\n\r\n".encode())
        assert s.recv(4096).startswith(b"HTTP/1.1 413")
    # One sent in chunks is read up to the cap, the rest dropped, and refused the same.
    with socket.create_connection(("127.0.0.1", svc.port)) as s:
        s.sendall(f"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
                  f"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
        chunk = b"x" * (1 << 20)
        for _ in range(5):
            s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        s.sendall(b"0\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 413")
    assert svc.call("POST", "/v1/jobs", raw=b"{}", headers={"Content-Type": "text/plain"})[0] == 415
    assert svc.call("GET", "/v1/jobs/x/results?offset=-1")[0] in (400, 404)
    assert svc.call("DELETE", "/v1/jobs")[0] == 405
    assert svc.call("GET", "/v1/nothing")[0] == 404
    assert svc.call("GET", "/v1/jobs/%2e%2e%2fetc")[0] == 404
    # A request cut off mid-body does not hold the service up.
    s = socket.create_connection(("127.0.0.1", svc.port))
    s.sendall(b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"a\":")
    assert svc.call("GET", "/healthz")[0] == 200
    s.close()
    assert svc.p.poll() is None
    assert TOKEN not in procs.log(svc.p), "the token was logged"
    # Off loopback without a token: refuses to start.
    p = procs.start("open", [os.path.join(BIN, "llmaj-scheduler"), "--serve", "--listen", f"0.0.0.0:{free_port()}",
                             "--broker", fleet["broker"], "--db", str(tmp_path / "o.db")], env={"LLMAJ_TOKEN": ""})
    assert p.wait(timeout=30) != 0
    assert "not a loopback address" in procs.log(p)


# ---------------------------------------------------------------------------------------- failures

def test_unreachable_broker_note_and_fast_fail(procs, tmp_path):
    """A service pointed at a dead broker says so in the job's status; a job whose judge is refused
    (wrong key: 401) fails quickly with the provider's message."""
    tmp = str(tmp_path)
    mock = start_mock(procs, "--api-key", "right-key", name="mock-keyed")
    dead = f"tcp://127.0.0.1:{free_port()}"
    env = {"K_BASE_URL": mock.url + "/v1", "K_API_KEY": "wrong-key"}
    svc = Service(procs, tmp, dead, env, token=None).start()
    j = svc.submit(spec_for(tmp, "k", 20, "nobroker"))
    note = svc.wait(j, lambda x: x["note"] and "cannot reach the broker" in x["note"], what="the note")["note"]
    assert dead in note
    st, text = svc.call("GET", "/readyz")
    assert st == 200 and "cannot reach the broker" in text
    svc.call("POST", f"/v1/jobs/{j}/stop")
    svc.wait_ended(j)

    broker, _ = start_broker(procs)
    start_worker(procs, broker, env, name="wk")
    svc2 = Service(procs, tmp + "/2", broker, env, token=None, name="svc2")
    os.makedirs(tmp + "/2", exist_ok=True)
    svc2.start()
    n = 2000
    j = svc2.submit(spec_for(tmp, "k", n, "refused"))
    end = svc2.wait_ended(j, timeout=120)
    assert end["status"] == "failed", end
    assert "401" in end["error"] and "first" in end["error"] and "`openai-api/k/" in end["error"], end["error"]
    assert end["progress"]["units_done"] < n / 2
    assert calls(mock) < n   # not every record ground through


# ---------------------------------------------------------------------------------------- retry and wait

def llmaj(*args, env=None, timeout=300):
    return subprocess.run([os.path.join(BIN, "llmaj"), *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def test_retry_error_cells_and_wait_codes(procs, tmp_path):
    """Base-model calls refused for quota: the job succeeds with error cells (wait exits 3); with the
    base model healthy again, retry reruns those cells only, in place (wait exits 0). A judge out of
    quota: the job fails (exit 1); its retry judges the committed responses again, no inference."""
    tmp = str(tmp_path)
    good = start_mock(procs, name="mock-good")
    quota = start_mock(procs, "--quota-exhausted", name="mock-quota")
    broker, _ = start_broker(procs)
    env_bad = {"G_BASE_URL": good.url + "/v1", "G_API_KEY": "k", "Q_BASE_URL": quota.url + "/v1", "Q_API_KEY": "k"}
    svc = Service(procs, tmp, broker, env_bad).start()
    cli = {"LLMAJ_SCHEDULER": svc.url, "LLMAJ_TOKEN": TOKEN}
    workers = [start_worker(procs, broker, env_bad, name=f"w{i}") for i in (1, 2)]
    n, n2 = 60, 30
    spec = spec_for(tmp, "g", n, "quota", base=True, base_model="openai-api/q/base")
    path = os.path.join(tmp, "quota.json")
    with open(path, "w") as f:
        json.dump(spec, f)
    p = llmaj("evaluate", "--spec", path, env=cli)
    assert p.returncode == 0, p.stderr
    job = p.stdout.strip()
    w = llmaj("wait", job, "--quiet", env=cli)
    assert w.returncode == 3, (w.stdout, w.stderr)
    assert w.stdout.strip().splitlines()[-1].startswith(f"job {job} succeeded with {n * len(METRICS)} error cell(s)")
    before = {(r["record_index"], r["target"]): r for r in read_records(svc.job(job)["output"])}
    assert all(r["error"] for (i, t), r in before.items() if t == "base")
    # A judge out of quota: nothing scored, the job fails (exit 1).
    j2 = svc.submit(spec_for(tmp, "g", n2, "judgeless", evaluator_model="openai-api/q/judge"))
    assert llmaj("wait", j2, "--quiet", env=cli).returncode == 1
    assert svc.job(j2)["status"] == "failed"

    # The quota is back (new workers reach a healthy mock): retry only the error cells, in place.
    for wp in workers:
        wp.send_signal(signal.SIGTERM)
        wp.wait(timeout=60)
    env_ok = dict(env_bad, Q_BASE_URL=good.url + "/v1")
    for i in (3, 4):
        start_worker(procs, broker, env_ok, name=f"w{i}")
    good.reset()
    r = llmaj("retry", job, env=cli)
    assert r.returncode == 0 and "queued to run again" in r.stdout, r.stderr
    w = llmaj("wait", job, "--quiet", env=cli)
    assert w.returncode == 0, (w.stdout, w.stderr)
    st = good.stats()
    assert st["inference_calls"] == n and st["judge_calls"] == n * len(METRICS), st   # the base units only
    after = {(r["record_index"], r["target"]): r for r in read_records(svc.job(job)["output"])}
    assert set(after) == set(before)
    for k, row in after.items():
        if k[1] == "custom":
            assert row == before[k], "a cell that succeeded was redone"
        else:
            assert row["error"] is None and all(s["status"] == "ok" for s in row["scores"].values())
    assert llmaj("retry", job, env=cli).returncode == 2   # nothing left to retry (409)
    # The failed job: its retry judges the committed responses again, without inference.
    good.reset()
    st, ans = svc.call("POST", f"/v1/jobs/{j2}/retry")
    assert st == 202 and ans["cells"] == n2 * len(METRICS), ans
    assert llmaj("wait", j2, "--quiet", env=cli).returncode == 0
    st = good.stats()
    assert st["inference_calls"] == 0 and st["judge_calls"] == n2 * len(METRICS), st
    assert_exact(svc.job(j2)["output"], n2)

    # Other codes: no such job 2; --timeout 1; stopped 1.
    assert llmaj("wait", "no-such-job", "--quiet", env=cli).returncode == 2
    j3 = svc.submit(spec_for(tmp, "g", 3000, "long"))
    t = llmaj("wait", j3, "--quiet", "--timeout", "1", env=cli)
    assert t.returncode == 1 and "still" in t.stderr
    assert llmaj("stop", j3, env=cli).returncode == 0
    assert llmaj("wait", j3, "--quiet", env=cli).returncode == 1
    assert svc.job(j3)["status"] == "stopped"
    # The other job verbs against the service.
    ls = llmaj("list", "--json", env=cli)
    assert ls.returncode == 0 and {j["job_id"] for j in json.loads(ls.stdout)} == {job, j2, j3}
    s = json.loads(llmaj("status", job[:10], "--json", env=cli).stdout)
    assert s["state"] == "succeeded" and s["record_targets"]["done"] == 2 * n
    rows = [json.loads(l) for l in llmaj("results", job, "--json", "--limit", "1000", env=cli).stdout.splitlines()]
    assert len(rows) == 2 * n and rows == [after[(r["record_index"], r["target"])] for r in rows]
    assert llmaj("status", job, env={"LLMAJ_SCHEDULER": svc.url, "LLMAJ_TOKEN": "bad"}).returncode == 2


# ---------------------------------------------------------------------------------------- fairness

def test_small_job_not_starved_by_huge_one(procs, tmp_path):
    """A 1,000,000-record job keeps its window of shards queued at the broker; a 50-record job
    submitted after it gets the next free worker (round robin over jobs) and ends while the huge
    job has done only a few shards more. Prints the small job's completion time."""
    tmp = str(tmp_path)
    mock = start_mock(procs, "--latency", "fixed:5", name="mock-f")
    broker, _ = start_broker(procs)
    env = svc_env({"f": mock})
    for i in (1, 2):
        start_worker(procs, broker, env, "--max-shards", "4", name=f"fw{i}")
    svc = Service(procs, tmp, broker, env).start()
    big = svc.submit(spec_for(tmp, "f", 1_000_000, "huge", shard=64, builtin_metrics=["Correctness"]))
    window = 64
    # Its window is full at the broker: every worker holds what it can, the rest is queued.
    svc.wait(big, lambda j: j["progress"]["shards"]["done"] >= 16, timeout=600, what="16 shards done")
    t0 = time.time()
    before = svc.job(big)["progress"]["shards"]["done"]
    small = svc.submit(spec_for(tmp, "f", 50, "small", shard=64, builtin_metrics=["Correctness"]))
    end = svc.wait_ended(small, timeout=300)
    took = time.time() - t0
    during = svc.job(big)["progress"]["shards"]["done"] - before
    print(f"\nsmall job (50 records) completed in {took:.2f} s from POST while the 1,000,000-record job ran;"
          f" the big job completed {during} shards meanwhile")
    assert end["status"] == "succeeded" and end["progress"]["units_done"] == 50
    assert svc.job(big)["status"] == "running"
    # First in, first out would have served the big job's whole queued window (64 shards less the 8
    # the workers hold) before the small job's one shard; round robin serves it next.
    assert during < window - 8, f"the small job waited behind {during} shards of the big one"
    svc.call("POST", f"/v1/jobs/{big}/stop")
    assert svc.wait_ended(big, timeout=300)["status"] == "stopped"


# ---------------------------------------------------------------------------------------- schemathesis

def test_schemathesis_finds_nothing(procs, fleet):
    tmp = fleet["tmp"]
    svc = Service(procs, tmp, fleet["broker"], fleet["env"]).start()
    # A job that ended, so that the job routes have one to act on (through the spec's links).
    j = svc.submit(spec_for(tmp, "a", 20, "ended"))
    svc.wait_ended(j)
    cfg = os.path.join(tmp, "schemathesis.toml")
    with open(cfg, "w") as f:
        # A spec can be valid by the schema and still refused (its dataset does not exist): 400.
        f.write('[[operations]]\ninclude-operation-id = "submitJob"\n'
                'checks.positive_data_acceptance.expected-statuses = ["201", "400"]\n')
    st = os.path.join(os.path.dirname(sys.executable), "schemathesis")
    p = subprocess.run([st, "--config-file", cfg, "run", os.path.join(SRC, "schemas", "openapi.yaml"),
                        "--url", svc.url, "-H", f"Authorization: Bearer {TOKEN}", "--max-examples", "60",
                        "--seed", "7", "--no-color"],
                       capture_output=True, text=True, timeout=900, cwd=tmp)
    assert p.returncode == 0, p.stdout[-6000:] + p.stderr[-2000:]
    assert svc.p.poll() is None
    assert svc.call("GET", "/healthz")[0] == 200
