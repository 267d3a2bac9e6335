"""llmaj sync against a real MLflow server (issue 4).

Starts `mlflow server` (the pinned mlflow of the test venv) with a SQLite backend and artifact
serving on a free loopback port, syncs realistic job folders with `llmaj sync`, and reads back
over MLflow's REST API: experiment, parent and child runs, params, metrics (equal to
summary.json), tags, artifacts (byte-equal), run status; a repeated sync duplicates nothing; a
sync while MLflow is down fails with exit 1, records the error, and completes once MLflow is up.
"""
import json
import math
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

BIN = Path(os.environ.get("LLMAJ_BIN", "build/bin"))
BUILD = Path(os.environ.get("LLMAJ_BUILD", "build"))


def mlflow_exe():
    for cand in (Path(sys.executable).parent / "mlflow", BUILD / "venv" / "bin" / "mlflow"):
        if cand.exists():
            return cand
    pytest.fail(f"no mlflow executable beside {sys.executable} or in {BUILD}/venv: run scripts/venv.sh {BUILD}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MlflowServer:
    """One `mlflow server` process; stop() always ends it (and its workers)."""

    def __init__(self, root: Path, port: int):
        self.root, self.port, self.proc = root, port, None
        self.url = f"http://127.0.0.1:{port}"

    def start(self, timeout=180):
        self.root.mkdir(parents=True, exist_ok=True)
        log = open(self.root / "server.log", "ab")
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        self.proc = subprocess.Popen(
            [str(mlflow_exe()), "server",
             "--backend-store-uri", f"sqlite:///{self.root / 'mlflow.db'}",
             "--serve-artifacts", "--artifacts-destination", str(self.root / "artifacts"),
             "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.root, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited: {(self.root / 'server.log').read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError("mlflow server did not become ready in time")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    # REST helpers
    def get(self, path, **params):
        q = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}/api/2.0/mlflow/{path}?{q}", timeout=30) as r:
            return json.load(r)

    def post(self, path, body):
        req = urllib.request.Request(f"{self.url}/api/2.0/mlflow/{path}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.load(r)

    def artifact(self, artifact_uri, name):
        assert artifact_uri.startswith("mlflow-artifacts:/"), artifact_uri
        path = artifact_uri[len("mlflow-artifacts:/"):].strip("/")
        with urllib.request.urlopen(f"{self.url}/api/2.0/mlflow-artifacts/artifacts/{path}/{name}", timeout=30) as r:
            return r.read()

    def runs_of_job(self, exp_id, job_id, role=None):
        flt = f"tags.`llmaj.job_id` = '{job_id}'"
        if role:
            flt += f" and tags.`llmaj.role` = '{role}'"
        return self.post("runs/search", {"experiment_ids": [exp_id], "filter": flt, "max_results": 100}).get("runs", [])

    def history(self, run_id, key):
        return self.get("metrics/get-history", run_id=run_id, metric_key=key).get("metrics", [])


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = MlflowServer(tmp_path_factory.mktemp("mlflow"), free_port())
    srv.start()
    yield srv
    srv.stop()


# ---------------------------------------------------------------- job folders

SPEC = {
    "name": "ft-28-eval",
    "model": "openai-api/local/my-finetune",
    "base_model": "openai-api/local/my-base",
    "evaluate_base_model": True,
    "evaluator_model": "bedrock/amazon.nova-pro-v1:0",
    "dataset": "/data/gen_qa.jsonl",
    "builtin_metrics": ["Correctness", "Helpfulness"],
    "custom_metrics": [{"customMetricDefinition": {
        "name": "Conciseness", "instructions": "Is {{prediction}} concise for {{prompt}}?",
        "ratingScale": [{"definition": "Good", "value": {"floatValue": 1}},
                        {"definition": "Poor", "value": {"floatValue": 0}}]}}],
    "shard_size": 16,
    "region": "us-west-2",
}


def metric_stats(mean, n, std, ratings, unscored=0, errors=0):
    return {"mean": mean, "mean_score": mean * 2, "std": std, "n": n, "n_unscored": unscored,
            "n_not_applicable": 0, "n_error": errors,
            "ci95": None if std is None else [max(0.0, mean - 0.1), min(1.0, mean + 0.1)], "ratings": ratings}


def make_job(root: Path, job_id: str, experiment: str, status="succeeded", mlflow_uri=None, records=40):
    d = root / job_id
    d.mkdir(parents=True)
    spec = dict(SPEC, mlflow={"experiment": experiment, "run_name": f"run-{job_id}"})
    if mlflow_uri:
        spec["mlflow"]["tracking_uri"] = mlflow_uri
    cats = {"math": {"Correctness": metric_stats(0.625, 8, 0.3, {"correct": 3, "partially correct": 4, "incorrect": 1}),
                     "Helpfulness": metric_stats(0.7, 8, 0.2, {"very helpful": 8})},
            "history / culture": {"Correctness": metric_stats(0.5, 1, None, {"partially correct": 1})}}
    summary = {
        "job_id": job_id,
        "records": {"total": records + 1, "invalid_skipped": 1},
        "targets": {
            "custom": {"model": SPEC["model"],
                       "metrics": {"Correctness": metric_stats(0.8125, records, 0.25, {"correct": 27, "partially correct": 11, "incorrect": 2}),
                                   "Helpfulness": metric_stats(0.7333333333333333, records, 0.1873, {"very helpful": 20, "somewhat helpful": 20}),
                                   "Conciseness": metric_stats(0.9, records - 2, 0.3, {"Good": 34, "Poor": 4}, unscored=1, errors=1)},
                       "categories": cats},
            "base": {"model": SPEC["base_model"],
                     "metrics": {"Correctness": metric_stats(0.6, records, 0.31, {"correct": 20, "partially correct": 8, "incorrect": 12}),
                                 "Helpfulness": metric_stats(0.55, records, 0.2, {"somewhat helpful": 40}),
                                 "Conciseness": metric_stats(0.75, records, 0.43, {"Good": 30, "Poor": 10})},
                     "categories": {}},
        },
        "comparison": {
            "Correctness": {"n": records, "mean_diff": 0.2125, "ci95": [0.11, 0.31], "wins": 18, "ties": 15, "losses": 7, "win_rate": 0.45},
            "Helpfulness": {"n": records, "mean_diff": 0.18333333333333335, "ci95": [0.1, 0.26], "wins": 22, "ties": 10, "losses": 8, "win_rate": 0.55},
            "Conciseness": {"n": records - 2, "mean_diff": 0.15, "ci95": None, "wins": 9, "ties": 25, "losses": 4, "win_rate": 0.23684210526315788},
        },
    }
    with open(d / "records.jsonl", "w") as f:
        for i in range(records):
            for target in ("custom", "base"):
                f.write(json.dumps({
                    "job_id": job_id, "record_index": i, "record_id": f"q{i}", "target": target,
                    "model": SPEC["model"] if target == "custom" else SPEC["base_model"],
                    "prompt": f"What is {i} + {i}? ünïcödé ✓", "response": f"{2 * i}", "category": "math",
                    "scores": {"Correctness": {"score": 2, "normalized": 1.0, "rating": "correct",
                                               "explanation": "right", "status": "ok"}},
                    "usage": {"input_tokens": 12, "output_tokens": 3}, "latency_ms": 10.5, "error": None}) + "\n")
    job = {"job_id": job_id, "llmaj_version": "0.1.0", "status": status, "spec": spec,
           "started_at": "2025-03-01T10:00:00Z", "finished_at": "2025-03-01T10:07:30Z", "elapsed_s": 450.0,
           "records": {"total": records + 1, "evaluated": records, "invalid_skipped": 1, "per_second": records / 450.0},
           "usage": {SPEC["model"]: {"input_tokens": 480, "output_tokens": 120, "calls": records},
                     SPEC["evaluator_model"]: {"input_tokens": 9000, "output_tokens": 2000, "calls": 6 * records,
                                               "estimated_cost_usd": 0.0134}},
           "estimated_cost_usd": None}
    if status == "failed":
        job["error"] = "no score at all: every judge call failed"
    (d / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    (d / "job.json").write_text(json.dumps(job, indent=2, ensure_ascii=False))
    return d, summary, job


def sync(job_dir: Path, *args, uri=None, env_extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["MLFLOW_HTTP_REQUEST_TIMEOUT"] = "30"
    if env_extra:
        env.update(env_extra)
    cmd = [str(BIN / "llmaj"), "sync", "--job-dir", str(job_dir), *args]
    if uri:
        cmd += ["--tracking-uri", uri]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


def sync_state(db: Path, job_id: str):
    con = sqlite3.connect(db)
    try:
        return dict(con.execute("SELECT key, value FROM mlflow_sync WHERE job_id = ?", (job_id,)).fetchall())
    finally:
        con.close()


def experiment_id(server, name):
    return server.get("experiments/get-by-name", experiment_name=name)["experiment"]["experiment_id"]


def as_dict(items):
    return {i["key"]: i["value"] for i in items}


def expected_stats(prefix, stats):
    """The metrics llmaj logs for one summary object (nulls skipped)."""
    out = {}
    for k, v in stats.items():
        if k == "ci95":
            if v is not None:
                out[f"{prefix}/ci95_low"], out[f"{prefix}/ci95_high"] = v
        elif k == "ratings":
            for r, c in v.items():
                out[f"{prefix}/ratings/{r}"] = c
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[f"{prefix}/{k}"] = v
    return out


def key(k):
    """llmaj's key sanitising for the characters these tests use."""
    return "/".join(seg for seg in k.replace("✓", "_").split("/") if seg)


# ---------------------------------------------------------------- tests

def test_sync_logs_everything(server, tmp_path):
    job_dir, summary, job = make_job(tmp_path / "runs", "job-full-1", "llmaj-it-full")
    r = sync(job_dir, uri=server.url)
    assert r.returncode == 0, r.stderr
    assert "synced to MLflow" in r.stdout

    exp = experiment_id(server, "llmaj-it-full")
    parents = server.runs_of_job(exp, "job-full-1", "parent")
    assert len(parents) == 1
    parent = parents[0]
    pid = parent["info"]["run_id"]
    assert parent["info"]["status"] == "FINISHED"
    assert parent["info"]["run_name"] == "run-job-full-1"
    assert parent["info"]["end_time"] == 1740823650000  # job.json finished_at
    ptags = as_dict(parent["data"]["tags"])
    assert ptags["llmaj.job_id"] == "job-full-1"
    assert ptags["llmaj.version"] == "0.1.0"
    assert ptags["llmaj.status"] == "FINISHED"
    assert "my-finetune" in ptags["mlflow.note.content"]

    pparams = as_dict(parent["data"]["params"])
    assert pparams["model"] == SPEC["model"]
    assert pparams["base_model"] == SPEC["base_model"]
    assert pparams["evaluator_model"] == SPEC["evaluator_model"]
    assert pparams["dataset"] == SPEC["dataset"]
    assert pparams["metrics"] == "Correctness,Helpfulness,Conciseness"
    assert "metrics_lower_is_better" not in pparams   # no metric of this job is lower-is-better
    assert pparams["shard_size"] == "16"
    assert pparams["records.total"] == "41"
    assert pparams["records.invalid_skipped"] == "1"

    # Parent metrics: records, comparison, headline copies of each target; equal to summary.json.
    pm = {m["key"]: m["value"] for m in parent["data"]["metrics"]}
    want = {"records/total": 41, "records/invalid_skipped": 1}
    for metric, c in summary["comparison"].items():
        want.update(expected_stats(f"compare/{metric}", c))
    for target, t in summary["targets"].items():
        for metric, m in t["metrics"].items():
            want.update(expected_stats(f"{target}/{metric}", m))
    for k, v in want.items():
        assert k in pm, f"parent lacks metric {k}"
        assert pm[k] == pytest.approx(v, rel=0, abs=0), k
    assert "compare/Conciseness/ci95_low" not in pm  # null ci95 skipped
    assert pm["usage/bedrock/amazon.nova-pro-v1:0/input_tokens".replace(":", "_")] == 9000

    # Children: one per target, linked to the parent.
    children = {}
    for role in ("custom", "base"):
        runs = server.runs_of_job(exp, "job-full-1", role)
        assert len(runs) == 1, role
        children[role] = runs[0]
    for role, run in children.items():
        tags = as_dict(run["data"]["tags"])
        assert tags["mlflow.parentRunId"] == pid
        assert tags["llmaj.target"] == role
        assert run["info"]["status"] == "FINISHED"
        params = as_dict(run["data"]["params"])
        assert params["target"] == role
        assert params["model"] == summary["targets"][role]["model"]
        got = {m["key"]: m["value"] for m in run["data"]["metrics"]}
        want = {}
        t = summary["targets"][role]
        for metric, m in t["metrics"].items():
            want.update(expected_stats(metric, m))
        for cat, ms in t["categories"].items():
            for metric, m in ms.items():
                want.update(expected_stats(key(f"category/{cat}/{metric}"), m))
        assert got == pytest.approx(want, rel=0, abs=0)
    assert children["custom"]["data"]["metrics"]
    assert "category/history / culture/Correctness/mean" in {m["key"] for m in children["custom"]["data"]["metrics"]}

    # Artifacts: byte-equal through the proxy.
    listing = server.get("artifacts/list", run_id=pid)
    assert sorted(f["path"] for f in listing["files"]) == ["job.json", "records.jsonl", "report.html", "summary.json"]
    for name in ("records.jsonl", "summary.json", "job.json"):
        assert server.artifact(parent["info"]["artifact_uri"], name) == (job_dir / name).read_bytes(), name
    # report.html: the results viewer with the job's summary and records embedded.
    page = server.artifact(parent["info"]["artifact_uri"], "report.html").decode()
    start = page.index('<script type="application/json" id="llmaj-data">') + len('<script type="application/json" id="llmaj-data">')
    data = json.loads(page[start:page.index("</script>", start)])
    assert data["summary"] == json.loads((job_dir / "summary.json").read_text())
    assert data["job"]["job_id"] == "job-full-1"
    rows = [json.loads(l) for l in (job_dir / "records.jsonl").read_text().splitlines() if l.strip()]
    assert data["records"] == rows and data["records_total"] == len(rows)

    # The sync state in the job database.
    st = sync_state(tmp_path / "runs" / "llmaj.db", "job-full-1")
    assert st["state"] == "done"
    assert st["run:parent"] == pid
    assert st["run:custom"] == children["custom"]["info"]["run_id"]
    assert st["experiment_id"] == exp
    assert st["attempts"] == "1"
    assert "last_error" not in st


def test_repeated_sync_duplicates_nothing(server, tmp_path):
    job_dir, summary, _ = make_job(tmp_path / "runs", "job-twice-1", "llmaj-it-twice")
    assert sync(job_dir, uri=server.url).returncode == 0
    exp = experiment_id(server, "llmaj-it-twice")

    def snapshot():
        runs = server.runs_of_job(exp, "job-twice-1")
        out = {}
        for run in runs:
            rid = run["info"]["run_id"]
            hist = {m["key"]: len(server.history(rid, m["key"])) for m in run["data"]["metrics"]}
            out[as_dict(run["data"]["tags"])["llmaj.role"]] = (rid, hist, len(run["data"]["params"]))
        return out

    first = snapshot()
    assert set(first) == {"parent", "custom", "base"}
    assert all(n == 1 for _, hist, _ in first.values() for n in hist.values())

    # Again with the state: nothing to do.
    r = sync(job_dir, uri=server.url)
    assert r.returncode == 0, r.stderr
    assert snapshot() == first

    # Again after losing the whole sync state (a crash before anything was recorded): the runs
    # are found by their tags and the re-sent metrics are the same points.
    db = tmp_path / "runs" / "llmaj.db"
    con = sqlite3.connect(db)
    con.execute("DELETE FROM mlflow_sync")
    con.commit()
    con.close()
    r = sync(job_dir, uri=server.url)
    assert r.returncode == 0, r.stderr
    assert snapshot() == first
    assert sync_state(db, "job-twice-1")["state"] == "done"

    # Losing only the record of the batches and of the run ends (a crash after MLflow accepted
    # them): still nothing doubled.
    con = sqlite3.connect(db)
    con.execute("DELETE FROM mlflow_sync WHERE key LIKE 'batch:%' OR key LIKE 'end:%' OR key = 'state'")
    con.commit()
    con.close()
    assert sync(job_dir, uri=server.url).returncode == 0
    assert snapshot() == first


def test_failed_job_ends_runs_failed(server, tmp_path):
    job_dir, _, _ = make_job(tmp_path / "runs", "job-failed-1", "llmaj-it-failed", status="failed",
                             mlflow_uri=server.url)
    r = sync(job_dir)  # tracking URI from the spec in job.json
    assert r.returncode == 0, r.stderr
    exp = experiment_id(server, "llmaj-it-failed")
    runs = server.runs_of_job(exp, "job-failed-1")
    assert len(runs) == 3
    assert {run["info"]["status"] for run in runs} == {"FAILED"}
    parent = [r for r in runs if as_dict(r["data"]["tags"])["llmaj.role"] == "parent"][0]
    assert as_dict(parent["data"]["tags"])["llmaj.error"].startswith("no score at all")


def test_env_tracking_uri_and_default_experiment(server, tmp_path):
    job_dir, _, job = make_job(tmp_path / "runs", "job-env-1", "unused")
    # No experiment in the spec: the job's name is used.
    del job["spec"]["mlflow"]
    (job_dir / "job.json").write_text(json.dumps(job))
    r = sync(job_dir, env_extra={"MLFLOW_TRACKING_URI": server.url})
    assert r.returncode == 0, r.stderr
    exp = experiment_id(server, SPEC["name"])
    parents = server.runs_of_job(exp, "job-env-1", "parent")
    assert len(parents) == 1
    assert parents[0]["info"]["run_name"] == SPEC["name"]


def test_sync_while_mlflow_down_completes_later(tmp_path):
    port = free_port()
    srv = MlflowServer(tmp_path / "mlflow-late", port)
    job_dir, summary, _ = make_job(tmp_path / "runs", "job-down-1", "llmaj-it-down")
    db = tmp_path / "runs" / "llmaj.db"
    try:
        r = sync(job_dir, uri=srv.url)
        assert r.returncode == 1, r.stdout + r.stderr
        assert "MLflow sync incomplete" in r.stderr
        st = sync_state(db, "job-down-1")
        assert st["state"] == "pending"
        assert f"127.0.0.1:{port}" in st["last_error"]
        assert st["attempts"] == "1"

        r = sync(job_dir, uri=srv.url)  # still down: a second failed attempt, nothing created
        assert r.returncode == 1
        assert sync_state(db, "job-down-1")["attempts"] == "2"

        srv.start()
        r = sync(job_dir, uri=srv.url)
        assert r.returncode == 0, r.stderr
        st = sync_state(db, "job-down-1")
        assert st["state"] == "done"
        assert "last_error" not in st
        exp = experiment_id(srv, "llmaj-it-down")
        assert len(srv.runs_of_job(exp, "job-down-1", "parent")) == 1
        assert len(srv.runs_of_job(exp, "job-down-1")) == 3
        parent = srv.runs_of_job(exp, "job-down-1", "parent")[0]
        pm = {m["key"]: m["value"] for m in parent["data"]["metrics"]}
        assert pm["compare/Correctness/mean_diff"] == summary["comparison"]["Correctness"]["mean_diff"]
        assert srv.artifact(parent["info"]["artifact_uri"], "summary.json") == (job_dir / "summary.json").read_bytes()
    finally:
        srv.stop()


def test_bad_input(tmp_path):
    r = sync(tmp_path / "nope", uri="http://127.0.0.1:9")
    assert r.returncode == 2
    assert "not a folder" in r.stderr
    job_dir, _, job = make_job(tmp_path / "runs", "job-bad-1", "x")
    del job["spec"]["mlflow"]
    (job_dir / "job.json").write_text(json.dumps(job))
    r = sync(job_dir)  # no URI anywhere
    assert r.returncode == 2
    assert "no MLflow tracking URI" in r.stderr
    r = sync(job_dir, "--status", "DONE", uri="http://127.0.0.1:9")
    assert r.returncode == 2
    r = sync(job_dir, uri="ftp://example")
    assert r.returncode == 2
    assert "expected an http:// or https:// URL" in r.stderr
    r = sync(job_dir, uri="arn:aws:sagemaker:us-east-1:123:mlflow-tracking-server/x")
    assert r.returncode == 2
    assert "12-digit" in r.stderr
    (job_dir / "job.json").write_text("{not json")
    r = sync(job_dir, uri="http://127.0.0.1:9")
    assert r.returncode == 2
    assert "not valid JSON" in r.stderr
