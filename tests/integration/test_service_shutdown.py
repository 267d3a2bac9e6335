"""The scheduler service's shutdown (llmaj-scheduler --serve, scheduler/main.c "DESIGN"), with a real
broker, two workers and the mock LLM on 127.0.0.1:

  - SIGTERM mid-job: the service exits with status 0 (within --shutdown-timeout, past which it
    would exit 1), says BYE, cancels its job's shards at the broker so the fleet stops working for
    it, and leaves the job `running` in its database; started again on the same database it takes
    the job up by itself, and the job ends with every result exactly once;
  - the bound: while a request it had taken cannot finish (a submission whose s3:// output is
    checked against an endpoint that never answers), everything new is answered 503 but /healthz, a second signal exits at
    once, and otherwise the deadline exits with status 1, naming what it was still doing; the next
    start on the database serves as usual.

Times (SIGTERM to exit, model calls redone after the restart) are printed, never asserted."""
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

from conftest import BIN, free_port, read_records, start_broker, start_mock, start_worker, wait_for_line, write_dataset

TOKEN = "shutdown-test-token"
METRICS = ["Correctness", "Helpfulness"]


class Service:
    def __init__(self, procs, tmp, broker, env, timeout_s=20):
        self.procs, self.tmp, self.broker, self.env, self.timeout_s = procs, tmp, broker, env, timeout_s
        self.db = os.path.join(tmp, "svc", "llmaj.db")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token_file = os.path.join(tmp, "token")
        with open(self.token_file, "w") as f:
            f.write(TOKEN + "\n")
        self.starts = 0
        self.p = None

    def start(self):
        self.starts += 1
        argv = [os.path.join(BIN, "llmaj-scheduler"), "--serve", "--listen", f"127.0.0.1:{self.port}",
                "--broker", self.broker, "--db", self.db, "--token-file", self.token_file, "--heartbeat-ms", "200",
                "--dead-after", "5", "--shutdown-timeout", str(self.timeout_s)]
        self.p = self.procs.start(f"service{self.starts}", argv, env=self.env)
        wait_for_line(self.p.out_path, "llmaj-scheduler listening on ", self.p, timeout=60)
        return self

    def call(self, method, path, body=None, timeout=60):
        data = json.dumps(body).encode() if body is not None else None
        h = {"Authorization": f"Bearer {TOKEN}"}
        if data is not None:
            h["Content-Type"] = "application/json"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                text = r.read().decode()
                return r.status, dict(r.headers), (json.loads(text) if r.headers.get_content_type() ==
                                                   "application/json" else text)
        except urllib.error.HTTPError as e:
            text = e.read().decode()
            try:
                return e.code, dict(e.headers), json.loads(text)
            except ValueError:
                return e.code, dict(e.headers), text

    def job(self, job_id):
        st, _, j = self.call("GET", f"/v1/jobs/{job_id}")
        assert st == 200, (st, j)
        return j

    def wait(self, job_id, pred, what, timeout=300):
        end = time.time() + timeout
        while time.time() < end:
            j = self.job(job_id)
            if pred(j):
                return j
            assert self.p.poll() is None, self.procs.log(self.p)[-3000:]
            time.sleep(0.05)
        raise AssertionError(f"job {job_id}: {what} not reached in {timeout} s: {self.job(job_id)}")

    def log(self):
        return self.procs.log(self.p)


def status_in_db(db, job_id):
    """The job's state as the database holds it, read with `llmaj status --db` (no service)."""
    p = subprocess.run([os.path.join(BIN, "llmaj"), "status", job_id, "--db", db, "--json"], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


@pytest.fixture
def fleet(procs, tmp_path):
    mock = start_mock(procs, "--latency", "fixed:20")
    broker, bp = start_broker(procs)
    env = mock.env()
    workers = [start_worker(procs, broker, env, "--concurrency", "16", name=f"worker{i}") for i in (1, 2)]
    return {"tmp": str(tmp_path), "mock": mock, "broker": broker, "broker_proc": bp, "env": env, "workers": workers}


def spec(tmp, n, name):
    data = os.path.join(tmp, f"{name}.jsonl")
    write_dataset(data, n)
    return {"name": name, "model": "openai-api/mock/ft", "evaluator_model": "anthropic/judge",
            "builtin_metrics": METRICS, "dataset": data, "output_path": os.path.join(tmp, "out"), "shard_size": 16}


def test_sigterm_midjob_clean_exit_then_resumed(procs, fleet):
    tmp, mock = fleet["tmp"], fleet["mock"]
    svc = Service(procs, tmp, fleet["broker"], fleet["env"]).start()
    n = 3000
    st, _, ans = svc.call("POST", "/v1/jobs", spec(tmp, n, "sigterm"))
    assert st == 201, ans
    job_id = ans["job_id"]
    svc.wait(job_id, lambda j: j["progress"]["units_done"] >= 300, "300 units done")

    t0 = time.time()
    svc.p.send_signal(signal.SIGTERM)
    code = svc.p.wait(timeout=120)
    took = time.time() - t0
    log = svc.log()
    assert code == 0, log[-3000:]
    print(f"\nSIGTERM to exit: {took:.2f} s (--shutdown-timeout {svc.timeout_s})")
    assert "shut down in" in log and f"job {job_id} left running" in log, log[-3000:]

    # Left running in its database, with what it committed.
    db = status_in_db(svc.db, job_id)
    assert db["state"] == "running", db
    committed = db["record_targets"]["done"]
    assert 300 <= committed < n, db
    # BYE said (never declared dead), and the job's shards cancelled at the broker.
    def broker_saw():
        blog = procs.log(fleet["broker_proc"])
        return "said BYE" in blog and f"job {job_id} cancelled" in blog
    end = time.time() + 60
    while not broker_saw() and time.time() < end:
        time.sleep(0.05)
    blog = procs.log(fleet["broker_proc"])
    assert broker_saw(), blog[-3000:]
    assert "scheduler" not in "".join(l for l in blog.splitlines() if "declared dead" in l)
    # The fleet stops calling models for it: once the calls in flight are over, no new one starts.
    end = time.time() + 60
    while mock.stats()["in_flight"] > 0 and time.time() < end:
        time.sleep(0.05)
    at_rest = mock.model_requests()
    time.sleep(2.0)   # ten heartbeats: a call that still started would show
    assert mock.model_requests() == at_rest, "the fleet went on calling models for a scheduler that is gone"

    # Started again on the same database: the job is taken up by itself and ends exact.
    svc.start()
    done = svc.wait(job_id, lambda j: j["status"] in ("succeeded", "failed", "stopped"), "its end", timeout=600)
    assert done["status"] == "succeeded", done
    assert done["progress"]["units_done"] == n
    assert "resumed" in svc.log()
    recs = read_records(done["output"])
    keys = [r["record_index"] for r in recs]
    assert len(keys) == len(set(keys)) == n and set(keys) == set(range(n))
    for r in recs:
        assert sorted(r["scores"]) == sorted(METRICS)
        assert all(s["status"] == "ok" for s in r["scores"].values()), r
    with open(os.path.join(done["output"], "summary.json")) as f:
        assert json.load(f)["targets"]["custom"]["metrics"]["Correctness"]["n"] == n
    inference = mock.stats()["requests"]["chat_completions"]
    print(f"committed at SIGTERM: {committed}; inference calls {inference} for {n} records "
          f"({inference - n} redone: in flight when it stopped)")
    assert inference >= n


class _Silent:
    """A TCP server that takes connections and never answers (an S3 endpoint gone quiet)."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


def test_shutdown_is_bounded(procs, fleet, tmp_path):
    tmp = fleet["tmp"]
    # A submission that cannot finish: its s3:// output is checked against an S3 endpoint that never
    # answers. (A dataset no longer can hang one: reading it stops at the shutdown.)
    quiet = _Silent()
    bad = spec(tmp, 10, "stuck")
    bad.update(output_path="s3://bucket/prefix", region="us-east-1")
    env = dict(fleet["env"], AWS_ACCESS_KEY_ID="AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY="secret",
               AWS_ENDPOINT_URL_S3=f"http://127.0.0.1:{quiet.port}")

    def hang_a_submission(svc):
        """POSTs the stuck job from a thread; returns once the service is waiting on the endpoint."""
        before = len(quiet.conns)

        def post():
            try:
                svc.call("POST", "/v1/jobs", bad, timeout=120)
            except OSError:
                pass   # the service exits with it unanswered: what the test makes happen
        threading.Thread(target=post, daemon=True).start()
        end = time.time() + 120
        while len(quiet.conns) == before:
            assert time.time() < end and svc.p.poll() is None, svc.log()[-3000:]
            time.sleep(0.05)

    # A second signal: at once, status 1.
    svc = Service(procs, tmp, fleet["broker"], env, timeout_s=600).start()
    hang_a_submission(svc)
    svc.p.send_signal(signal.SIGTERM)
    end = time.time() + 60
    while "signal 15" not in svc.log() and time.time() < end:
        time.sleep(0.05)
    # Closed: everything new is 503 (Retry-After) but /healthz.
    st, h, body = svc.call("GET", "/v1/jobs")
    assert st == 503 and h.get("Retry-After") == "5" and "shutting down" in json.dumps(body), (st, body)
    st, _, _ = svc.call("GET", "/readyz")
    assert st == 503
    st, _, body = svc.call("GET", "/healthz")
    assert st == 200, body
    svc.p.send_signal(signal.SIGTERM)
    assert svc.p.wait(timeout=60) == 1
    assert "a second signal: exiting now, still waiting for the requests it had taken" in svc.log()

    # The deadline: status 1 past --shutdown-timeout, naming what it was doing.
    svc.timeout_s = 2
    svc.start()
    hang_a_submission(svc)
    t0 = time.time()
    svc.p.send_signal(signal.SIGTERM)
    assert svc.p.wait(timeout=120) == 1
    print(f"\ncut short by the deadline after {time.time() - t0:.2f} s (--shutdown-timeout 2)")
    assert "shutdown not over after 2 s (--shutdown-timeout), still waiting for the requests it had taken" in \
        svc.log()
    quiet.close()

    # The next start serves as usual; the cut-short submission left no job.
    svc.timeout_s = 20
    svc.start()
    st, _, jobs = svc.call("GET", "/v1/jobs")
    assert st == 200 and jobs["jobs"] == [], jobs
    svc.p.send_signal(signal.SIGTERM)
    assert svc.p.wait(timeout=60) == 0, svc.log()[-3000:]


def test_wait_rides_out_a_restart(procs, fleet, tmp_path):
    """`llmaj wait --scheduler` keeps asking a service that stopped answering (--patience) and ends
    with the job's outcome once the restarted service has finished it: a rollout does not fail a
    waiting client."""
    tmp, mock = fleet["tmp"], fleet["mock"]
    svc = Service(procs, tmp, fleet["broker"], fleet["env"]).start()
    n = 1500
    st, _, ans = svc.call("POST", "/v1/jobs", spec(tmp, n, "waiter"))
    assert st == 201, ans
    job_id = ans["job_id"]
    env = dict(os.environ, LLMAJ_TOKEN=TOKEN)
    err_path = os.path.join(str(tmp_path), "wait.err")
    with open(err_path, "w") as err, open(os.path.join(str(tmp_path), "wait.out"), "w") as out:
        waiter = subprocess.Popen([os.path.join(BIN, "llmaj"), "wait", job_id, "--scheduler", svc.url, "--poll", "1",
                                   "--patience", "300"], stdout=out, stderr=err, env=env)
    try:
        svc.wait(job_id, lambda j: j["progress"]["units_done"] >= 100, "100 units done")
        svc.p.send_signal(signal.SIGTERM)
        assert svc.p.wait(timeout=120) == 0, svc.log()[-3000:]

        def waiter_said(text):
            with open(err_path) as f:
                return text in f.read()
        end = time.time() + 120
        while not waiter_said("asking again") and time.time() < end:
            assert waiter.poll() is None, open(err_path).read()
            time.sleep(0.1)
        assert waiter_said("asking again"), open(err_path).read()
        assert waiter.poll() is None, "wait gave up while the service was down"

        svc.start()
        code = waiter.wait(timeout=600)
        text = open(err_path).read()
        assert code == 0, text
        assert "answers again after" in text, text
        with open(os.path.join(str(tmp_path), "wait.out")) as f:
            outcome = f.read()
        assert "Correctness" in outcome, outcome   # the summary table, as `llmaj run` prints it
        assert svc.job(job_id)["status"] == "succeeded"
    finally:
        if waiter.poll() is None:
            waiter.kill()
            waiter.wait()


def test_wait_gives_up_after_patience(procs, fleet, tmp_path):
    """With nothing answering, `llmaj wait` gives up after --patience with exit 1 and says why."""
    port = free_port()   # nothing listens there
    p = subprocess.run([os.path.join(BIN, "llmaj"), "wait", "job-x", "--scheduler", f"http://127.0.0.1:{port}",
                        "--poll", "1", "--patience", "2"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert "no answer from the llmaj scheduler" in p.stderr, p.stderr
