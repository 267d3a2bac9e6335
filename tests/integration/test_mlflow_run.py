"""MLflow end to end through `llmaj run`: a job's results land in a real MLflow server, and a job
run while MLflow was down arrives once it is back (the next scheduler on the same database
resumes the sync), with exactly one parent run."""
import json
import os
import subprocess
import time

import pytest

from conftest import BIN, start_mock, write_dataset, write_spec
from test_mlflow import MlflowServer, as_dict, expected_stats, experiment_id, free_port


def run_job(tmp, mock, name, mlflow=None, extra=()):
    data = os.path.join(tmp, f"{name}.jsonl")
    write_dataset(data, 24)
    spec_path = os.path.join(tmp, f"{name}.json")
    kw = {"dataset": data, "output_path": os.path.join(tmp, "runs"), "name": name}
    if mlflow:
        kw["mlflow"] = mlflow
    write_spec(spec_path, **kw)
    p = subprocess.run([os.path.join(BIN, "llmaj"), "run", "--spec", spec_path, "--workers", "1", *extra],
                       env={**os.environ, **mock.env()}, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    job_id = p.stdout.split()[1]
    out = [l for l in p.stdout.splitlines() if l.startswith("results: ")][0][9:]
    return job_id, out, p


def check_job_in_mlflow(server, exp_name, job_id, out):
    exp = experiment_id(server, exp_name)
    parents = server.runs_of_job(exp, job_id, "parent")
    assert len(parents) == 1, parents
    parent = parents[0]
    assert parent["info"]["status"] == "FINISHED"
    summary = json.load(open(os.path.join(out, "summary.json")))
    children = {}
    for target in ("custom", "base"):
        runs = server.runs_of_job(exp, job_id, target)
        assert len(runs) == 1, (target, runs)
        tags = as_dict(runs[0]["data"]["tags"])
        assert tags["mlflow.parentRunId"] == parent["info"]["run_id"]
        children[target] = runs[0]
        logged = as_dict(runs[0]["data"]["metrics"])
        for metric, stats in summary["targets"][target]["metrics"].items():
            for k, v in expected_stats(metric, stats).items():
                assert logged[k] == pytest.approx(v, rel=1e-12, abs=1e-12), k
    pm = as_dict(parent["data"]["metrics"])
    for metric, c in summary["comparison"].items():
        assert pm[f"compare/{metric}/mean_diff"] == pytest.approx(c["mean_diff"], rel=1e-12)
    arts = server.get("artifacts/list", run_id=parent["info"]["run_id"])
    assert {"records.jsonl", "summary.json", "job.json", "report.html"} <= {f["path"] for f in arts.get("files", [])}
    with open(os.path.join(out, "summary.json"), "rb") as f:
        assert server.artifact(parent["info"]["artifact_uri"], "summary.json") == f.read()


def test_run_logs_to_mlflow(procs, tmp_path):
    server = MlflowServer(tmp_path / "mlflow", free_port())
    server.start()
    try:
        mock = start_mock(procs)
        job_id, out, p = run_job(str(tmp_path), mock, "e2e", {"tracking_uri": server.url, "experiment": "llmaj-e2e"})
        assert '"done"' in p.stdout, p.stdout + p.stderr
        check_job_in_mlflow(server, "llmaj-e2e", job_id, out)
    finally:
        server.stop()


def test_job_run_while_mlflow_down_arrives_when_back(procs, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    mock = start_mock(procs)
    # MLflow is down: the job still succeeds, and its sync stays pending.
    job_id, out, p = run_job(str(tmp_path), mock, "offline", {"tracking_uri": url, "experiment": "llmaj-late"},
                             ["--mlflow-wait", "3"])
    assert "succeeded" in p.stdout
    assert '"pending"' in p.stdout, p.stdout
    server = MlflowServer(tmp_path / "mlflow", port)
    server.start()
    try:
        # The next job on the same database (this one without MLflow) resumes the pending sync.
        run_job(str(tmp_path), mock, "next", None, ["--mlflow-wait", "120"])
        check_job_in_mlflow(server, "llmaj-late", job_id, out)
        # And once more: nothing is duplicated.
        run_job(str(tmp_path), mock, "again", None, ["--mlflow-wait", "60"])
        check_job_in_mlflow(server, "llmaj-late", job_id, out)
    finally:
        server.stop()
