"""A job survives the loss of its scheduler: `--resume JOB` finishes it from the database, keeps
the shards already done, redoes only what has no result yet, and loses or doubles nothing."""
import json
import os
import signal
import subprocess
import time

from conftest import (BIN, check_summary, read_records, start_broker, start_mock, start_worker, write_dataset,
                      write_spec)
from test_fleet import assert_exactly_once, wait_exit


def list_jobs(db):
    p = subprocess.run([os.path.join(BIN, "llmaj"), "list", "--db", db, "--json"], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def check_results(out_dir, n):
    records = read_records(out_dir)
    assert_exactly_once(records, n)
    summary = json.load(open(os.path.join(out_dir, "summary.json")))
    check_summary(summary, records, metrics_lower_better=("Harmfulness",))
    return records


def test_scheduler_killed_then_resumed(procs, tmp_path):
    n = 400
    mock = start_mock(procs, "--latency", "uniform:10:40")
    broker, _ = start_broker(procs)
    for i in range(2):
        start_worker(procs, broker, mock.env(), "--concurrency", "32", name=f"worker{i}")
    data, spec, db = str(tmp_path / "d.jsonl"), str(tmp_path / "job.json"), str(tmp_path / "jobs.db")
    write_dataset(data, n)
    write_spec(spec, dataset=data, output_path=str(tmp_path / "runs"))
    argv = [os.path.join(BIN, "llmaj-scheduler"), "--broker", broker, "--db", db, "--heartbeat-ms", "200"]
    first = procs.start("scheduler1", argv + ["--spec", spec], env=mock.env())
    deadline = time.time() + 300
    while mock.stats()["inference_calls"] < 300:
        assert first.poll() is None, procs.log(first)
        assert time.time() < deadline
        time.sleep(0.05)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    jobs = list_jobs(db)
    assert len(jobs) == 1 and jobs[0]["state"] == "running"
    job_id = jobs[0]["job_id"]
    calls_before = mock.stats()["inference_calls"]

    second = procs.start("scheduler2", argv + ["--resume", job_id], env=mock.env())
    assert wait_exit(second, 600) == 0, procs.log(second)
    out_dir = open(second.out_path).read().split("results: ")[1].split()[0]
    check_results(out_dir, n)
    # Committed results were not redone: far fewer than a second full pass of inference.
    assert mock.stats()["inference_calls"] - calls_before < 2 * n - 200
    assert list_jobs(db)[0]["state"] == "succeeded"


def test_stopped_run_resumed(procs, tmp_path):
    n = 300
    mock = start_mock(procs, "--latency", "fixed:30")
    data, spec, db = str(tmp_path / "d.jsonl"), str(tmp_path / "job.json"), str(tmp_path / "jobs.db")
    write_dataset(data, n)
    write_spec(spec, dataset=data, output_path=str(tmp_path / "runs"))
    llmaj = os.path.join(BIN, "llmaj")
    first = procs.start("run1", [llmaj, "run", "--spec", spec, "--db", db, "--workers", "1", "--concurrency", "16"],
                        env=mock.env())
    deadline = time.time() + 300
    while mock.stats()["judge_calls"] < 400:
        assert first.poll() is None, procs.log(first)
        assert time.time() < deadline
        time.sleep(0.05)
    first.send_signal(signal.SIGINT)
    assert wait_exit(first, 120) == 1        # stopped: the job did not succeed (yet)
    assert "stopped" in open(first.out_path).read()
    job_id = list_jobs(db)[0]["job_id"]
    assert list_jobs(db)[0]["state"] == "stopped"

    p = subprocess.run([llmaj, "run", "--resume", job_id, "--db", db, "--workers", "1"], env={**os.environ, **mock.env()},
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    out_dir = [l for l in p.stdout.splitlines() if l.startswith("results: ")][0][9:]
    check_results(out_dir, n)

    # A finished job cannot be resumed.
    p = subprocess.run([llmaj, "run", "--resume", job_id, "--db", db], env={**os.environ, **mock.env()},
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "already succeeded" in p.stderr
