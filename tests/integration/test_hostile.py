"""Hostile peers against a real fleet (broker, worker, scheduler, mock over TCP on 127.0.0.1), the
broker's authority over jobs and leases (schemas/protocol.md §6.4, §6.10). The hostile peers are
pyzmq DEALER sockets speaking the real protocol: MessagePack headers `[1, type, {...}]` and
payloads exactly as proto/wire.c writes them.

- a black-hole worker (HELLO with huge credit, heartbeats, never a RESULT) takes every shard of a
  job: its leases are revoked past their deadline and the job completes exactly, on the honest
  worker; the recovery time is measured and printed;
- a second "scheduler" SUBMITting under the victim's job id, and a stranger's CANCEL, are refused
  (counted in the broker's /metrics) and the victim completes exactly;
- forged RESULTs and SHARD_DONEs from a peer without a session and from a fake worker without the
  lease are dropped (counted) and none is committed.

Nothing asserts a timing: every wait polls for an outcome with a generous deadline."""
import json
import os
import queue
import re
import threading
import time
import urllib.request

import msgpack
import pytest
import zmq

from conftest import BIN, read_records, start_broker, start_mock, start_worker, wait_for_line, write_dataset, write_spec

HELLO, WELCOME, HEARTBEAT, CREDIT, SUBMIT, SHARD, RESULT, SHARD_DONE, CANCEL = range(1, 10)
DEMAND, ALLOT, BYE, RETURN, REVOKE = range(10, 15)
METRICS = ["Correctness", "Helpfulness", "Harmfulness", "Tone"]
FORGED = "FORGED by a hostile peer"


class Peer:
    """One hostile DEALER on its own thread: it heartbeats every 100 ms (unless told not to say
    HELLO at all), records every message it receives, and sends what is queued."""

    def __init__(self, endpoint, name):
        self.endpoint, self.name = endpoint, name
        self.out = queue.Queue()
        self.got = []            # (type, header dict, payload bytes or None)
        self.lock = threading.Lock()
        self.beat = False
        self.stop = False
        self.on_message = None   # called on the peer's thread: fn(peer, type, hdr)
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def send(self, typ, hdr=None, payload=None):
        self.out.put((typ, hdr or {}, payload))

    def hello(self, role, credit=0):
        self.send(HELLO, {"role": role, "name": self.name, "threads": 1, "n": credit})
        self.beat = True

    def messages(self, typ):
        with self.lock:
            return [(h, p) for t, h, p in self.got if t == typ]

    def close(self):
        self.stop = True
        self.t.join(timeout=10)

    def _run(self):
        ctx = zmq.Context.instance()
        s = ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.connect(self.endpoint)
        next_beat = 0.0
        try:
            while not self.stop:
                while True:
                    try:
                        typ, hdr, payload = self.out.get_nowait()
                    except queue.Empty:
                        break
                    frames = [msgpack.packb([1, typ, hdr], use_bin_type=True)]
                    if payload is not None:
                        frames.append(payload)
                    s.send_multipart(frames)
                now = time.monotonic()
                if self.beat and now >= next_beat:
                    s.send(msgpack.packb([1, HEARTBEAT, {}]))
                    next_beat = now + 0.1
                if s.poll(20):
                    while True:
                        try:
                            frames = s.recv_multipart(zmq.NOBLOCK)
                        except zmq.Again:
                            break
                        v = msgpack.unpackb(frames[0], raw=False)
                        typ, hdr = v[1], v[2]
                        with self.lock:
                            self.got.append((typ, hdr, frames[1] if len(frames) > 1 else None))
                        if self.on_message:
                            self.on_message(self, typ, hdr)
        finally:
            s.close()


def forged_result(job_id, shard, idx, target):
    """A well-formed RESULT payload (schemas/protocol.md §5) that would be committed if it got
    through: a forged response and the worst rating on every metric."""
    scores = [{"metric": m, "status": 0, "rating": FORGED, "has_score": True, "score": 0.0, "norm": 0.0,
               "expl": FORGED, "attempts": 1} for m in METRICS]
    return msgpack.packb({"job": job_id, "shard": shard, "idx": idx, "target": target, "model": "forged",
                          "resp": FORGED, "from_ds": False, "in_tok": 1, "out_tok": 1, "lat_ms": 1.0,
                          "scores": scores}, use_bin_type=True)


def metrics_of(url):
    with urllib.request.urlopen(url + "/metrics", timeout=10) as r:
        out = {}
        for line in r.read().decode().splitlines():
            if line and not line.startswith("#") and "{" not in line:
                k, v = line.split()[:2]
                out[k] = float(v)
        return out


def wait_until(what, fn, timeout=120, every=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def start_scheduler(procs, tmp, broker, mock, n, shard_size=16, extra=(), name="scheduler"):
    data = os.path.join(tmp, f"{name}-data.jsonl")
    write_dataset(data, n)
    spec = os.path.join(tmp, f"{name}-job.json")
    write_spec(spec, dataset=data, output_path=os.path.join(tmp, f"{name}-runs"), shard_size=shard_size)
    return procs.start(name, [os.path.join(BIN, "llmaj-scheduler"), "--spec", spec, "--broker", broker,
                              "--heartbeat-ms", "200", "--dead-after", "5", *extra], env=mock.env())


def job_id_of(procs, sched):
    """The job id, from the scheduler's log line `job ID: N record(s) in ...`."""
    def find():
        m = re.search(r"job (\S+): \d+ record\(s\) in", procs.log(sched))
        return m.group(1) if m else None
    return wait_until("the scheduler's job id", find, timeout=60)


def finish(procs, sched, n, timeout=600):
    try:
        rc = sched.wait(timeout=timeout)
    except Exception:
        raise AssertionError(f"{sched.name} did not finish in {timeout}s:\n" + procs.log(sched)[-4000:])
    assert rc == 0, procs.log(sched)[-4000:]
    out = open(sched.out_path).read()
    out_dir = next(l[len("results: "):] for l in out.splitlines() if l.startswith("results: "))
    records = read_records(out_dir)
    keys = [(r["record_index"], r["target"]) for r in records]
    assert len(keys) == len(set(keys)), "a (record, target) appears twice"
    assert set(keys) == {(i, t) for i in range(n) for t in ("custom", "base")}
    for r in records:
        assert r.get("response") != FORGED and FORGED not in json.dumps(r), f"a forged result was committed: {r}"
        assert sorted(r["scores"].keys()) == sorted(METRICS)
    with open(os.path.join(out_dir, "summary.json")) as f:
        summary = json.load(f)
    return records, summary


@pytest.fixture
def peers():
    made = []

    def make(endpoint, name):
        p = Peer(endpoint, name)
        made.append(p)
        return p
    yield make
    for p in made:
        p.close()


def test_black_hole_worker(procs, tmp_path, peers):
    """A worker that takes every shard and never answers cannot stall a job: its leases are revoked
    past their deadline (--lease-floor-ms 2000 here; the job's pace is unknown until its first
    RESULT) and leased again to the honest worker. The job completes with every (record, target)
    exactly once. Prints the recovery time: from the honest worker's start (every shard held by the
    black hole) to the job's end, and the same job's time on the honest worker alone."""
    mock = start_mock(procs, "--latency", "uniform:2:10")
    broker, bp = start_broker(procs, "--metrics-addr", "127.0.0.1:0", "--lease-floor-ms", "2000")
    murl = wait_for_line(bp.out_path, "metrics on ", bp)
    n, shard_size = 96, 16
    n_shards = n // shard_size

    # Baseline: the same job on the honest worker alone.
    w0 = start_worker(procs, broker, mock.env(), "--concurrency", "32", name="honest0")
    t0 = time.time()
    base = start_scheduler(procs, str(tmp_path), broker, mock, n, shard_size, name="baseline")
    finish(procs, base, n)
    baseline_s = time.time() - t0
    w0.terminate()
    w0.wait(timeout=30)
    wait_until("the broker to see no worker", lambda: metrics_of(murl)["llmaj_broker_workers_alive"] == 0)

    bh = peers(broker, "black-hole")
    bh.hello("worker", credit=1_000_000_000)
    wait_until("WELCOME", lambda: bh.messages(WELCOME))
    sched = start_scheduler(procs, str(tmp_path), broker, mock, n, shard_size)
    wait_until("the black hole to hold every shard", lambda: len(bh.messages(SHARD)) >= n_shards)
    t_start = time.time()
    start_worker(procs, broker, mock.env(), "--concurrency", "32", name="honest")
    records, _ = finish(procs, sched, n)
    recovery_s = time.time() - t_start
    revoked = bh.messages(REVOKE)
    assert len(revoked) >= n_shards, "every lease of the black hole was revoked"
    held = {(h["job"], h.get("shard", 0), h["lease"]) for h, _ in bh.messages(SHARD)}
    assert {(h["job"], h.get("shard", 0), h["lease"]) for h, _ in revoked} <= held
    m = metrics_of(murl)
    assert m["llmaj_broker_shards_revoked_total"] >= n_shards
    assert all(r["model"] != "forged" for r in records)
    line = (f"black-hole recovery: {n} records in {n_shards} shards, lease floor 2 s: job done {recovery_s:.2f} s "
            f"after the honest worker joined (the same job alone: {baseline_s:.2f} s); "
            f"{len(revoked)} lease(s) revoked")
    print(line)
    with open(os.path.join(str(tmp_path), "..", "hostile-figures.txt"), "a") as f:
        f.write(line + "\n")


def test_black_hole_that_asks_again_is_quarantined(procs, tmp_path, peers):
    """A nastier black hole asks for all the work again after every REVOKE. Its leases are revoked
    while the honest worker does the same job's work: strikes, then quarantine (no shard, its
    CREDIT ignored). The job still completes exactly."""
    mock = start_mock(procs, "--latency", "uniform:2:10")
    broker, bp = start_broker(procs, "--metrics-addr", "127.0.0.1:0", "--lease-floor-ms", "1000")
    murl = wait_for_line(bp.out_path, "metrics on ", bp)
    n, shard_size = 160, 8
    bh = peers(broker, "greedy-black-hole")

    def again(peer, typ, hdr):
        if typ == REVOKE:
            peer.send(CREDIT, {"n": 100000})
    bh.on_message = again
    bh.hello("worker", credit=100000)
    wait_until("WELCOME", lambda: bh.messages(WELCOME))
    sched = start_scheduler(procs, str(tmp_path), broker, mock, n, shard_size)
    wait_until("the black hole to hold shards", lambda: bh.messages(SHARD))
    start_worker(procs, broker, mock.env(), "--concurrency", "16", "--max-shards", "2", name="honest")
    finish(procs, sched, n, timeout=300)
    m = metrics_of(murl)
    assert m["llmaj_broker_workers_quarantined_total"] >= 1, procs.log(bp)[-3000:]
    assert "quarantined" in procs.log(bp)


def test_second_scheduler_and_stranger_cancel_refused(procs, tmp_path, peers):
    """A second "scheduler" SUBMITs a shard under the victim's job id and CANCELs it; a stranger
    without a session CANCELs it too. Both are refused and counted; the hostile scheduler receives
    none of the victim's results, and the victim completes exactly."""
    mock = start_mock(procs, "--latency", "uniform:20:50")
    broker, bp = start_broker(procs, "--metrics-addr", "127.0.0.1:0")
    murl = wait_for_line(bp.out_path, "metrics on ", bp)
    n = 160
    start_worker(procs, broker, mock.env(), "--concurrency", "16", name="worker")
    sched = start_scheduler(procs, str(tmp_path), broker, mock, n)
    job = job_id_of(procs, sched)
    wait_until("the victim's first shards at the broker",
               lambda: metrics_of(murl)["llmaj_broker_shards_dispatched_total"] >= 1)

    thief = peers(broker, "thief")
    thief.hello("scheduler")
    wait_until("WELCOME", lambda: thief.messages(WELCOME))
    payload = msgpack.packb({"spec": "{}", "recs": []}, use_bin_type=True)
    for shard in range(3):
        thief.send(SUBMIT, {"job": job, "shard": shard}, payload)
    thief.send(SUBMIT, {"job": job, "shard": 0, "secret": "a guess"}, payload)
    thief.send(CANCEL, {"job": job})
    stranger = peers(broker, "stranger")
    stranger.send(CANCEL, {"job": job})   # no HELLO: no session
    wait_until("the refusals counted", lambda: metrics_of(murl)["llmaj_broker_submits_refused_total"] >= 4 and
               metrics_of(murl)["llmaj_broker_cancels_refused_total"] >= 1)
    finish(procs, sched, n)
    assert not thief.messages(RESULT) and not thief.messages(SHARD_DONE), "the thief got the victim's results"
    m = metrics_of(murl)
    assert m["llmaj_broker_submits_refused_total"] >= 4
    assert m["llmaj_broker_cancels_refused_total"] >= 1


def test_forged_results_never_committed(procs, tmp_path, peers):
    """RESULTs with well-formed forged payloads, sent before the real ones: from a stranger with no
    HELLO under a made-up lease, and from a worker with a session but not the lease (lease ids
    guessed around the real ones). The broker drops them all (counted) and none is committed."""
    mock = start_mock(procs, "--latency", "uniform:100:150")
    broker, bp = start_broker(procs, "--metrics-addr", "127.0.0.1:0")
    murl = wait_for_line(bp.out_path, "metrics on ", bp)
    n, shard_size = 64, 16
    fake = peers(broker, "fake-worker")
    fake.hello("worker", credit=0)
    wait_until("WELCOME", lambda: fake.messages(WELCOME))
    start_worker(procs, broker, mock.env(), "--concurrency", "8", name="worker")
    sched = start_scheduler(procs, str(tmp_path), broker, mock, n, shard_size)
    job = job_id_of(procs, sched)
    stranger = peers(broker, "stranger")
    sent = 0
    for idx in range(n):
        shard = idx // shard_size
        for t in (0, 1):
            pay = forged_result(job, shard, idx, t)
            stranger.send(RESULT, {"job": job, "shard": shard, "lease": 7}, pay)
            for lease in range(1, 6):
                fake.send(RESULT, {"job": job, "shard": shard, "lease": lease}, pay)
            sent += 6
    for shard in range(n // shard_size):
        for lease in range(1, 6):
            fake.send(SHARD_DONE, {"job": job, "shard": shard, "lease": lease, "n": 2 * shard_size})
        sent += 5
    wait_until("the forgeries counted", lambda: metrics_of(murl)["llmaj_broker_results_refused_total"] >= sent)
    finish(procs, sched, n)
    assert not fake.messages(SHARD), "the fake worker asked for nothing"


def test_stalled_job_is_reported_then_recovers(procs, tmp_path, peers):
    """With only a black hole in the fleet nobody is idle and nothing progresses: the broker keeps
    its leases (an outage looks the same), but the scheduler does not wait silently: past
    --stall-after it reports the job stalled in its log and /metrics, and the broker counts the job
    in llmaj_broker_jobs_stalled. An honest worker joining ends the stall and the job completes."""
    mock = start_mock(procs, "--latency", "uniform:2:10")
    broker, bp = start_broker(procs, "--metrics-addr", "127.0.0.1:0", "--lease-floor-ms", "1000",
                              "--stall-after", "2")
    murl = wait_for_line(bp.out_path, "metrics on ", bp)
    n = 32
    bh = peers(broker, "black-hole")
    bh.hello("worker", credit=100000)
    wait_until("WELCOME", lambda: bh.messages(WELCOME))
    sched = start_scheduler(procs, str(tmp_path), broker, mock, n,
                            extra=("--stall-after", "2", "--metrics-addr", "127.0.0.1:0"))
    surl = wait_for_line(sched.out_path, "metrics on ", sched)
    wait_until("the scheduler to report the stall",
               lambda: metrics_of(surl).get("llmaj_scheduler_job_stalled_seconds", 0) >= 2, timeout=60)
    assert "stalled" in procs.log(sched)
    wait_until("the broker to count the stalled job", lambda: metrics_of(murl)["llmaj_broker_jobs_stalled"] == 1)
    assert not bh.messages(REVOKE), "nobody idle, nobody progressing: the leases are kept"
    start_worker(procs, broker, mock.env(), "--concurrency", "16", name="honest")
    finish(procs, sched, n, timeout=300)
    assert "results come in again" in procs.log(sched)
    assert metrics_of(murl)["llmaj_broker_jobs_stalled"] == 0


def test_slow_real_worker_is_revoked(procs, tmp_path):
    """A real llmaj-worker whose model is far slower than the fleet's (its mock answers in 4 s, the
    other worker's in a few ms) has its leases revoked and handed to the fast worker: it receives
    REVOKE, drops those shards (llmaj_worker_shards_revoked_total) and nothing is committed twice."""
    slow = start_mock(procs, "--latency", "fixed:4000", name="slow-mock")
    fast = start_mock(procs, "--latency", "uniform:2:10", name="fast-mock")
    broker, bp = start_broker(procs, "--metrics-addr", "127.0.0.1:0", "--lease-floor-ms", "1000")
    murl = wait_for_line(bp.out_path, "metrics on ", bp)
    sw = start_worker(procs, broker, slow.env(), "--concurrency", "64", "--metrics-addr", "127.0.0.1:0", name="slow")
    swurl = wait_for_line(sw.out_path, "metrics on ", sw)
    n = 64
    sched = start_scheduler(procs, str(tmp_path), broker, fast, n)
    wait_until("the slow worker to hold shards", lambda: metrics_of(swurl)["llmaj_worker_shards_held"] >= 1)
    start_worker(procs, broker, fast.env(), "--concurrency", "32", name="fast")
    finish(procs, sched, n, timeout=300)
    wait_until("the slow worker to count its revoked leases",
               lambda: metrics_of(swurl)["llmaj_worker_shards_revoked_total"] >= 1, timeout=60)
    assert metrics_of(murl)["llmaj_broker_shards_revoked_total"] >= 1
    assert "revoked by the broker" in procs.log(sw)


def test_resumed_scheduler_takes_its_job_over_with_the_secret(procs, tmp_path):
    """A scheduler killed mid-job and resumed at once (its old session still live at the broker:
    --dead-after is long here) proves with the job's secret, kept in the job database, that the job
    is its own: the broker hands it over at the first SUBMIT (nothing refused) and the job completes
    exactly. A stranger's SUBMIT under the same id stays refused throughout."""
    import signal
    mock = start_mock(procs, "--latency", "uniform:10:40")
    broker, bp = start_broker(procs, "--metrics-addr", "127.0.0.1:0", "--dead-after", "100")
    murl = wait_for_line(bp.out_path, "metrics on ", bp)
    start_worker(procs, broker, mock.env(), "--concurrency", "16", name="worker")
    n = 160
    data, spec, db = str(tmp_path / "d.jsonl"), str(tmp_path / "job.json"), str(tmp_path / "jobs.db")
    write_dataset(data, n)
    write_spec(spec, dataset=data, output_path=str(tmp_path / "runs"))
    argv = [os.path.join(BIN, "llmaj-scheduler"), "--broker", broker, "--db", db, "--heartbeat-ms", "200"]
    first = procs.start("scheduler1", argv + ["--spec", spec], env=mock.env())
    job = job_id_of(procs, first)
    wait_until("results of the first scheduler", lambda: mock.stats()["inference_calls"] >= 60)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    second = procs.start("scheduler2", argv + ["--resume", job], env=mock.env())
    wait_until("the takeover", lambda: "takes it over with its secret" in procs.log(bp))
    assert metrics_of(murl)["llmaj_broker_submits_refused_total"] == 0
    finish(procs, second, n)
    import sqlite3
    with sqlite3.connect(db) as c:
        (secret,) = c.execute("SELECT secret FROM jobs WHERE job_id=?", (job,)).fetchone()
    assert re.fullmatch(r"[0-9a-f]{64}", secret)
    for p in procs.items:   # never logged
        assert secret not in procs.log(p), p.name
