"""The whole fleet over TCP on 127.0.0.1: llmaj-scheduler, llmaj-broker and several llmaj-worker
processes against llmaj-mockllm with latency. Every (record, target, metric) must appear exactly
once in records.jsonl, and summary.json must equal a recomputation from records.jsonl."""
import json
import os
import signal
import subprocess
import time
import urllib.request

from conftest import (BIN, check_summary, read_records, start_broker, start_mock, start_worker, wait_for_line,
                      write_dataset, write_spec)

METRICS = ["Correctness", "Helpfulness", "Harmfulness", "Tone"]


def run_scheduler(procs, tmp, broker, mock, n_records, name="scheduler"):
    data = os.path.join(tmp, "data.jsonl")
    write_dataset(data, n_records)
    spec_path = os.path.join(tmp, "job.json")
    write_spec(spec_path, dataset=data, output_path=os.path.join(tmp, "runs"))
    return procs.start(name, [os.path.join(BIN, "llmaj-scheduler"), "--spec", spec_path, "--broker", broker,
                              "--heartbeat-ms", "200", "--dead-after", "5"], env=mock.env())


def job_dir_from(procs, p):
    with open(p.out_path) as f:
        out = f.read()
    for line in out.splitlines():
        if line.startswith("results: "):
            return line[len("results: "):]
    raise AssertionError("no results line in: " + out + procs.log(p))


def assert_exactly_once(records, n_records):
    keys = [(r["record_index"], r["target"]) for r in records]
    assert len(keys) == len(set(keys)), "a (record, target) appears twice"
    assert set(keys) == {(i, t) for i in range(n_records) for t in ("custom", "base")}
    for r in records:
        assert sorted(r["scores"].keys()) == sorted(METRICS)
        for m, s in r["scores"].items():
            assert s["status"] in ("ok", "unscored", "not_applicable", "error")


def wait_exit(p, timeout):
    try:
        return p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"{p.name} did not finish in {timeout}s")


def check_job(procs, sched, n):
    out_dir = job_dir_from(procs, sched)
    records = read_records(out_dir)
    assert_exactly_once(records, n)
    with open(os.path.join(out_dir, "summary.json")) as f:
        summary = json.load(f)
    check_summary(summary, records, metrics_lower_better=("Harmfulness",))
    ok = sum(1 for r in records for s in r["scores"].values() if s["status"] == "ok")
    assert ok > 0.9 * len(records) * len(METRICS)
    return out_dir, records, summary


def broker_counter(url, name):
    """One counter of the broker's /metrics."""
    with urllib.request.urlopen(url + "/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return int(float(line.split()[1]))
    raise AssertionError(f"no {name} in the broker's /metrics")


def test_500_records_three_workers(procs, tmp_path):
    mock = start_mock(procs, "--latency", "uniform:5:40", "--unscorable-rate", "0.05")
    broker, bp = start_broker(procs, "--metrics-addr", "127.0.0.1:0")
    metrics = wait_for_line(bp.out_path, "metrics on ", bp)
    for i in range(3):
        start_worker(procs, broker, mock.env(), "--concurrency", "64", name=f"worker{i}")
    sched = run_scheduler(procs, str(tmp_path), broker, mock, 500)
    assert wait_exit(sched, 600) == 0, procs.log(sched)
    out_dir, records, summary = check_job(procs, sched, 500)
    st = mock.stats()
    # 500 records x 2 targets of inference, 4 judge calls each, plus re-asks: exactly, when every
    # shard went to a worker once. A machine loaded enough to silence a worker or the broker for a
    # second (heartbeats of 200 ms, dead after 5) has shards run again: legitimate, and seen in the
    # broker's dispatch count; each extra dispatch may add at most one shard's inference calls.
    shards = -(-500 // 16)
    dispatched = broker_counter(metrics, "llmaj_broker_shards_dispatched_total")
    assert dispatched >= shards
    if dispatched == shards:
        assert st["inference_calls"] == 1000
    else:
        assert 1000 < st["inference_calls"] <= 1000 + (dispatched - shards) * 16 * 2, (st, dispatched)
    assert st["judge_calls"] >= 4000
    job = json.load(open(os.path.join(out_dir, "job.json")))
    assert job["status"] == "succeeded" and job["records"]["evaluated"] == 500


def test_worker_killed_midway(procs, tmp_path):
    mock = start_mock(procs, "--latency", "uniform:10:50")
    broker, _ = start_broker(procs)
    workers = [start_worker(procs, broker, mock.env(), "--concurrency", "32", name=f"worker{i}") for i in range(3)]
    sched = run_scheduler(procs, str(tmp_path), broker, mock, 500)
    # Kill one worker once the job is well under way.
    deadline = time.time() + 300
    while mock.stats()["judge_calls"] < 1200:
        assert sched.poll() is None, procs.log(sched)
        assert time.time() < deadline
        time.sleep(0.05)
    os.kill(workers[0].pid, signal.SIGKILL)
    assert wait_exit(sched, 600) == 0, procs.log(sched)
    check_job(procs, sched, 500)
    blog = procs.log(procs.items[1])
    assert "declared dead" in blog and "back to the queue" in blog, blog[-3000:]


def test_late_worker_takes_work(procs, tmp_path):
    mock = start_mock(procs, "--latency", "fixed:40")
    broker, _ = start_broker(procs)
    start_worker(procs, broker, mock.env(), "--concurrency", "8", "--max-shards", "2", name="early")
    sched = run_scheduler(procs, str(tmp_path), broker, mock, 300)
    deadline = time.time() + 300
    while mock.stats()["judge_calls"] < 200:
        assert sched.poll() is None, procs.log(sched)
        assert time.time() < deadline
        time.sleep(0.05)
    late = start_worker(procs, broker, mock.env(), "--concurrency", "8", "--max-shards", "2", name="late")
    assert wait_exit(sched, 600) == 0, procs.log(sched)
    check_job(procs, sched, 300)
    late.send_signal(signal.SIGTERM)
    late.wait(timeout=30)
    log = procs.log(late)
    done = [l for l in log.splitlines() if "shards done" in l]
    assert done, log[-3000:]
    assert int(done[-1].split("shards done")[0].split()[-1]) > 0, done[-1]


def test_broker_restarted_midway(procs, tmp_path):
    import conftest
    mock = start_mock(procs, "--latency", "uniform:10:40")
    port = conftest.free_port()
    endpoint = f"tcp://127.0.0.1:{port}"
    argv = [os.path.join(BIN, "llmaj-broker"), "--bind", endpoint, "--heartbeat-ms", "200", "--dead-after", "5"]
    broker = procs.start("broker1", argv)
    conftest.wait_for_line(broker.out_path, "llmaj-broker listening on ", broker)
    for i in range(2):
        start_worker(procs, endpoint, mock.env(), "--concurrency", "32", name=f"worker{i}")
    sched = run_scheduler(procs, str(tmp_path), endpoint, mock, 400)
    deadline = time.time() + 300
    while mock.stats()["judge_calls"] < 800:
        assert sched.poll() is None, procs.log(sched)
        assert time.time() < deadline
        time.sleep(0.05)
    os.kill(broker.pid, signal.SIGKILL)
    broker.wait()
    time.sleep(0.5)
    broker2 = procs.start("broker2", argv)
    conftest.wait_for_line(broker2.out_path, "llmaj-broker listening on ", broker2)
    assert wait_exit(sched, 600) == 0, procs.log(sched)
    check_job(procs, sched, 400)
    assert "submitted again" in procs.log(sched)
