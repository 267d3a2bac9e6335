"""Graceful stops over TCP on 127.0.0.1: a worker told SIGTERM mid-job hands back the shards it
has not started at once (RETURN: the broker counts them before any of the worker's running shards
has finished), finishes and sends the running ones, says BYE and exits; another worker finishes
the job and nothing is run twice (the mock counts every inference call). A broker told SIGTERM
says BYE to its peers and exits 0; the one-job scheduler stops its job and exits."""
import os
import signal
import time
import urllib.request

from conftest import BIN, free_port, read_records, start_mock, wait_for_line, write_dataset, write_spec


def metrics(url):
    with urllib.request.urlopen(url + "/metrics", timeout=10) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
    return out


def wait_until(pred, what, timeout=120):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)


def start_broker(procs):
    port, mport = free_port(), free_port()
    b = procs.start("broker", [os.path.join(BIN, "llmaj-broker"), "--bind", f"tcp://127.0.0.1:{port}",
                               "--heartbeat-ms", "200", "--dead-after", "5", "--metrics-addr", f"127.0.0.1:{mport}"])
    wait_for_line(b.out_path, "llmaj-broker listening on ", b)
    return f"tcp://127.0.0.1:{port}", f"http://127.0.0.1:{mport}", b


def worker(procs, broker, mock, name, *args):
    mport = free_port()
    p = procs.start(name, [os.path.join(BIN, "llmaj-worker"), "--broker", broker, "--heartbeat-ms", "200",
                           "--dead-after", "5", "--name", name, "--metrics-addr", f"127.0.0.1:{mport}", *args],
                    env=mock.env())
    return p, f"http://127.0.0.1:{mport}"


def test_worker_drains_on_sigterm(procs, tmp_path):
    tmp = str(tmp_path)
    mock = start_mock(procs, "--latency", "fixed:300")
    broker, burl, b = start_broker(procs)
    # Few calls at a time and room for 8 shards: most of what it holds waits unstarted.
    a, aurl = worker(procs, broker, mock, "leaver", "--concurrency", "8", "--max-shards", "8",
                     "--drain-timeout", "60")
    wait_until(lambda: metrics(burl)["llmaj_broker_workers_alive"] == 1, "the first worker")
    data = os.path.join(tmp, "data.jsonl")
    write_dataset(data, 160)
    spec = os.path.join(tmp, "job.json")
    write_spec(spec, dataset=data, output_path=os.path.join(tmp, "runs"), shard_size=8, evaluate_base_model=False,
               base_model=None, builtin_metrics=["Correctness"], custom_metrics=None)
    sched = procs.start("scheduler", [os.path.join(BIN, "llmaj-scheduler"), "--spec", spec, "--broker", broker,
                                      "--heartbeat-ms", "200", "--dead-after", "5"], env=mock.env())
    # Wait until it runs some shards and holds others unstarted.
    wait_until(lambda: (lambda m: m["llmaj_worker_shards_waiting"] >= 3 and m["llmaj_worker_calls_pending"] > 0)(
        metrics(aurl)), "shards waiting at the worker")
    held = metrics(aurl)
    waiting = int(held["llmaj_worker_shards_waiting"])
    t0 = time.time()
    a.send_signal(signal.SIGTERM)
    m = wait_until(lambda: (lambda m: m if m["llmaj_broker_shards_returned_total"] >= waiting else None)(metrics(burl)),
                   "the unstarted shards back")
    returned_after = time.time() - t0
    # Handed back at once: before the worker finished what it runs (its leases are still out).
    assert m["llmaj_broker_shards_leased"] >= 1 and a.poll() is None, m
    print(f"SIGTERM to {int(m['llmaj_broker_shards_returned_total'])} leases back on the queue: "
          f"{returned_after * 1000:.0f} ms")
    assert a.wait(timeout=90) == 0, procs.log(a)
    alog = procs.log(a)
    assert "draining:" in alog and "drained: every running shard finished and sent" in alog, alog[-2000:]
    # Another worker finishes the job.
    worker(procs, broker, mock, "stayer", "--concurrency", "64")
    assert sched.wait(timeout=300) == 0, procs.log(sched)
    out = open(sched.out_path).read()
    out_dir = [l.split(": ", 1)[1] for l in out.splitlines() if l.startswith("results: ")][0]
    recs = read_records(out_dir)
    assert sorted(r["record_index"] for r in recs) == list(range(160))
    # Nothing committed was run again: one inference call per record, in all.
    assert mock.stats()["inference_calls"] == 160
    blog = procs.log(b)
    assert "returned shard" in blog and "leaver-t0 said BYE" in blog
    assert "back to the queue" not in blog   # no lease was left for the BYE to requeue


def test_broker_and_scheduler_stop_cleanly(procs, tmp_path):
    tmp = str(tmp_path)
    mock = start_mock(procs, "--latency", "fixed:200")
    broker, burl, b = start_broker(procs)
    w, _ = worker(procs, broker, mock, "w", "--concurrency", "4")
    data = os.path.join(tmp, "data.jsonl")
    write_dataset(data, 200)
    spec = os.path.join(tmp, "job.json")
    write_spec(spec, dataset=data, output_path=os.path.join(tmp, "runs"), shard_size=4)
    sched = procs.start("scheduler", [os.path.join(BIN, "llmaj-scheduler"), "--spec", spec, "--broker", broker,
                                      "--heartbeat-ms", "200", "--dead-after", "5"], env=mock.env())
    wait_until(lambda: mock.stats()["judge_calls"] > 10, "the job under way")
    sched.send_signal(signal.SIGTERM)
    assert sched.wait(timeout=60) == 1, procs.log(sched)   # the job ended stopped, not succeeded
    assert " stopped" in open(sched.out_path).read()
    b.send_signal(signal.SIGTERM)
    assert b.wait(timeout=30) == 0
    assert "stopped: BYE to" in procs.log(b)
    # The worker heard the BYE and looks for the next broker at once (not after the silence).
    try:
        wait_until(lambda: "the broker ended our session" in procs.log(w), "the worker told", timeout=30)
    except AssertionError:
        raise AssertionError(procs.log(b)[-3000:] + "\n---\n" + procs.log(w)[-3000:])
    w.send_signal(signal.SIGTERM)
    assert w.wait(timeout=60) == 0
