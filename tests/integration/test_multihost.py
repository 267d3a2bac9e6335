"""The fleet across hosts, as deploy/kubernetes/overlays/dev describes it: a broker host, a
scheduler host, two worker hosts and a provider host (the mock LLM), each a network namespace
whose programs run from the container image (buildah run --isolation chroot) with the commands,
arguments, environment and volumes of the rendered manifests, CURVE on (tests/integration/
multihost.py builds the hosts). Until the scheduler service (--serve) exists, the scheduler host
runs the job with `llmaj-scheduler --spec`, keeping the manifest's --broker and --db.

  - a job runs to exact completion across the hosts;
  - a worker host's link is cut mid-job: its shards go to the other worker, nothing is lost or
    doubled; when the link comes back it rejoins;
  - a worker is scaled down with SIGTERM mid-job: its unstarted leases are back on the queue at
    once (before it has finished what it runs), nothing committed is run again;
  - the broker is killed and restarted: the job finishes;
  - a host with no allowed key and a host speaking plaintext get no shard and see no data; a
    revoked key is refused once the folder changes.

Needs root (network namespaces) and buildah; where the machine forbids them the module stops with
exit status 77, which ctest reports as skipped (not passed). Figures (time to hand leases back,
time to detect a partitioned worker, the programs' peak RSS) are printed, never asserted."""
import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import BIN
from deploy_support import KDIR, containers, ensure_image, render
from multihost import Net, env_of, netns_usable, volumes_of

_why = netns_usable()
if _why:
    pytest.exit(f"SKIPPED: the multi-host tests need network namespaces and buildah: {_why}", returncode=77)

UID = 10001
SERVICES = {"llmaj-broker": "broker", "llmaj-scheduler": "scheduler", "llmaj-mockllm": "provider"}
HOSTS = {"broker": 10, "scheduler": 11, "worker1": 21, "worker2": 22, "provider": 30, "stranger": 40,
         "plaintext": 41}
METRICS = ["Correctness", "Helpfulness"]


def own(path, mode):
    os.chown(path, UID, UID)
    os.chmod(path, mode)


def secret_dir(root, name, files, mode=0o400):
    d = os.path.join(root, "secrets", name)
    os.makedirs(d)
    for fname, src in files.items():
        shutil.copy(src, os.path.join(d, fname))
        own(os.path.join(d, fname), mode)
    own(d, 0o755)
    return d


def wait_until(pred, what, timeout=180):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


class World:
    def __init__(self, workdir):
        self.workdir = workdir
        self.image_size = ensure_image()
        _, self.objs = render(os.path.join(KDIR, "overlays", "dev"))
        self.pods = containers(self.objs)
        self.net = Net(workdir, SERVICES)
        for h, n in HOSTS.items():
            self.net.add_host(h, n)
        keys = os.path.join(workdir, "keys")
        os.makedirs(keys)
        for k in ("broker", "worker", "scheduler", "stranger"):
            subprocess.run([os.path.join(BIN, "llmaj"), "keygen", os.path.join(keys, k)], check=True,
                           capture_output=True)
        K = lambda n: os.path.join(keys, n)
        self.secrets = {
            "llmaj-curve-broker": secret_dir(workdir, "broker", {"broker.secret": K("broker.secret"),
                                                                 "broker.key": K("broker.key")}),
            "llmaj-curve-clients": secret_dir(workdir, "clients", {"worker.key": K("worker.key"),
                                                                   "scheduler.key": K("scheduler.key")}, 0o444),
            "llmaj-curve-worker": secret_dir(workdir, "worker", {"worker.secret": K("worker.secret"),
                                                                 "broker.key": K("broker.key")}),
            "llmaj-curve-scheduler": secret_dir(workdir, "scheduler", {"scheduler.secret": K("scheduler.secret"),
                                                                       "broker.key": K("broker.key")}),
        }
        tok = os.path.join(workdir, "token")
        with open(tok, "w") as f:
            f.write("test-token\n")
        self.secrets["llmaj-api-token"] = secret_dir(workdir, "api", {"token": tok})
        # The stranger has a key pair of its own, not in the broker's folder, at the worker's paths.
        self.stranger_secrets = dict(self.secrets)
        self.stranger_secrets["llmaj-curve-worker"] = secret_dir(workdir, "stranger", {
            "worker.secret": K("stranger.secret"), "broker.key": K("broker.key")})
        self.keys = keys
        self.runs = 0

    # -- starting the manifests' programs on a host --
    def start(self, workload, host, name, argv=None, secrets=None, claims=None, extra_env=None, drop_env=()):
        kind, pod, c = self.pods[workload]
        env = env_of(c, self.objs)
        for k in drop_env:
            env.pop(k, None)
        env.update(extra_env or {})
        vols = volumes_of(pod, c, secrets or self.secrets, self.workdir, claims)
        argv = argv or (c["command"] + c.get("args", []))
        return self.net.run(host, name, argv, env, vols)

    def broker(self, name="broker"):
        p = self.start("llmaj-broker", "broker", name)
        p.wait_line("llmaj-broker listening on ")
        return p

    def mock(self):
        p = self.start("llmaj-mockllm", "provider", "mock")
        p.wait_line("listening on ")
        return p

    def worker(self, host, name=None, **kw):
        return self.start("llmaj-worker", host, name or host, **kw)

    def scheduler(self, records, shard_size=32):
        """The job, driven by `llmaj-scheduler --spec` with the manifest's --broker and --db."""
        self.runs += 1
        data = os.path.join(self.workdir, f"sched-data-{self.runs}")
        os.makedirs(data)
        own(data, 0o755)
        with open(os.path.join(data, "data.jsonl"), "w") as f:
            for i in range(records):
                f.write(json.dumps({"id": f"r{i}", "prompt": f"Question {i}: explain item {i * 7 % 97}.",
                                    "referenceResponse": f"Answer {i}.", "category": ("a", "b")[i % 2]}) + "\n")
        with open(os.path.join(data, "job.json"), "w") as f:
            json.dump({"model": "openai-api/mock/ft", "evaluator_model": "anthropic/judge",
                       "dataset": "/var/lib/llmaj/data.jsonl", "builtin_metrics": METRICS,
                       "output_path": "/var/lib/llmaj/runs", "shard_size": shard_size}, f)
        for fn in ("data.jsonl", "job.json"):
            own(os.path.join(data, fn), 0o644)
        kind, pod, c = self.pods["llmaj-scheduler"]
        args, keep = c["args"], []
        for i, a in enumerate(args):
            if a in ("--broker", "--db"):
                keep += [a, args[i + 1]]
        argv = c["command"] + ["--spec", "/var/lib/llmaj/job.json", *keep]
        p = self.start("llmaj-scheduler", "scheduler", f"scheduler-{self.runs}", argv=argv, claims={"data": data})
        p.data = data
        return p

    def results(self, sched):
        out = sched.out()
        job_dir = [l.split(": ", 1)[1] for l in out.splitlines() if l.startswith("results: ")][0]
        host_dir = os.path.join(sched.data, os.path.relpath(job_dir, "/var/lib/llmaj"))
        with open(os.path.join(host_dir, "records.jsonl")) as f:
            return [json.loads(l) for l in f if l.strip()]

    def mock_stats(self):
        return json.loads(self.net.http("provider", "http://127.0.0.1:8000/stats"))

    def broker_metrics(self):
        return self.net.metrics("broker")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = World(str(tmp_path_factory.mktemp("multihost")))
    os.chmod(w.workdir, 0o755)
    print(f"\nimage {w.image_size}")
    try:
        yield w
    finally:
        w.net.close()


@pytest.fixture
def fleet(world):
    yield world
    world.net.stop_all()
    world.net.link("worker1", True)
    world.net.link("worker2", True)


def exactly_once(recs, n):
    keys = [r["record_index"] for r in recs]
    assert len(keys) == len(set(keys)), "a record appears twice"
    assert set(keys) == set(range(n)), f"missing: {sorted(set(range(n)) - set(keys))[:10]}"
    for r in recs:
        assert sorted(r["scores"]) == sorted(METRICS)


def test_job_across_hosts(fleet):
    w = fleet
    w.mock()
    w.broker()
    workers = [w.worker("worker1"), w.worker("worker2")]
    wait_until(lambda: w.broker_metrics().get("llmaj_broker_workers_alive") == 4, "4 worker threads")
    n = 600
    sched = w.scheduler(n)
    assert sched.wait(timeout=600) == 0, sched.log()[-3000:]
    exactly_once(w.results(sched), n)
    st = w.mock_stats()
    assert st["inference_calls"] == n
    m = w.broker_metrics()
    assert m["llmaj_broker_curve"] == 1 and m["llmaj_broker_curve_keys"] == 2
    blog = w.net.procs[1].log()
    assert "joined" in blog and "key worker" in blog and "key scheduler" in blog
    rss = {p.name: p.vm_hwm_kib() for p in w.net.procs if p.popen.poll() is None}
    print("peak RSS (VmHWM, KiB) after the job: " + ", ".join(f"{k} {v}" for k, v in sorted(rss.items())))
    per_worker = [int(w.net.metrics(h).get("llmaj_worker_shards_done_total", 0)) for h in ("worker1", "worker2")]
    assert all(x > 0 for x in per_worker), per_worker


def test_worker_link_cut_midjob(fleet):
    w = fleet
    w.mock()
    w.broker()
    w1, w2 = w.worker("worker1"), w.worker("worker2")
    wait_until(lambda: w.broker_metrics().get("llmaj_broker_workers_alive") == 4, "4 worker threads")
    n = 1200
    sched = w.scheduler(n)
    wait_until(lambda: w.broker_metrics().get("llmaj_broker_shards_done_total", 0) >= 4, "the job under way")
    wait_until(lambda: w.net.metrics("worker1").get("llmaj_worker_shards_held", 0) > 0, "work on worker1")
    died = w.broker_metrics().get("llmaj_broker_workers_died_total", 0)
    t0 = time.time()
    w.net.link("worker1", False)
    wait_until(lambda: w.broker_metrics()["llmaj_broker_workers_died_total"] >= died + 2, "worker1 declared dead")
    detected = time.time() - t0
    print(f"partitioned worker detected (both threads declared dead) after {detected:.2f} s")
    assert sched.wait(timeout=600) == 0, sched.log()[-3000:]
    exactly_once(w.results(sched), n)
    assert "declared dead" in w.net.procs[1].log()
    # The link back: worker1 rejoins by itself.
    w.net.link("worker1", True)
    wait_until(lambda: w.broker_metrics()["llmaj_broker_workers_alive"] == 4, "worker1 back")
    assert w1.popen.poll() is None and w2.popen.poll() is None


def test_worker_scaled_down_midjob(fleet):
    w = fleet
    w.mock()
    w.broker()
    w1, w2 = w.worker("worker1"), w.worker("worker2")
    wait_until(lambda: w.broker_metrics().get("llmaj_broker_workers_alive") == 4, "4 worker threads")
    n = 4000
    sched = w.scheduler(n, shard_size=64)
    wait_until(lambda: w.net.metrics("worker1").get("llmaj_worker_shards_waiting", 0) >= 2, "unstarted shards on worker1")
    waiting = int(w.net.metrics("worker1")["llmaj_worker_shards_waiting"])
    returned0 = w.broker_metrics().get("llmaj_broker_shards_returned_total", 0)
    t0 = time.time()
    w1.signal(signal.SIGTERM)
    m = wait_until(lambda: (lambda m: m if m["llmaj_broker_shards_returned_total"] >= returned0 + 1 else None)(
        w.broker_metrics()), "leases handed back")
    back = time.time() - t0
    # At once: while worker1 still runs (and holds leases of) the shards it had started.
    assert w1.popen.poll() is None
    print(f"SIGTERM to {int(m['llmaj_broker_shards_returned_total'] - returned0)} unstarted leases back on the "
          f"queue: {back * 1000:.0f} ms ({waiting} were waiting just before)")
    assert w1.wait(timeout=60) == 0, w1.log()[-3000:]
    assert "drained: every running shard finished and sent" in w1.log()
    assert sched.wait(timeout=900) == 0, sched.log()[-3000:]
    exactly_once(w.results(sched), n)
    assert w.mock_stats()["inference_calls"] == n   # nothing committed was run again
    assert w2.popen.poll() is None


def test_broker_killed_and_restarted(fleet):
    w = fleet
    w.mock()
    b = w.broker()
    w.worker("worker1"), w.worker("worker2")
    wait_until(lambda: w.broker_metrics().get("llmaj_broker_workers_alive") == 4, "4 worker threads")
    n = 1200
    sched = w.scheduler(n)
    wait_until(lambda: w.broker_metrics().get("llmaj_broker_shards_done_total", 0) >= 5, "the job under way")
    w.net.stop(b, signal.SIGKILL)
    b2 = w.broker("broker-2")
    assert sched.wait(timeout=600) == 0, sched.log()[-3000:]
    exactly_once(w.results(sched), n)
    assert "joined" in b2.log()


def test_intruders_and_revocation(fleet):
    w = fleet
    w.mock()
    b = w.broker()
    w.worker("worker1")
    stranger = w.worker("stranger", secrets=w.stranger_secrets)
    plain = w.worker("plaintext", drop_env=("LLMAJ_CURVE_SECRET", "LLMAJ_CURVE_BROKER_KEY"))
    wait_until(lambda: (lambda m: m.get('llmaj_broker_handshakes_refused_total{reason="key_not_allowed"}', 0) >= 1
                        and m.get('llmaj_broker_handshakes_refused_total{reason="plaintext"}', 0) >= 1)(
        w.broker_metrics()), "both intruders refused")
    n = 300
    sched = w.scheduler(n)
    assert sched.wait(timeout=600) == 0, sched.log()[-3000:]
    exactly_once(w.results(sched), n)
    assert w.broker_metrics()["llmaj_broker_workers_alive"] == 2   # worker1's threads only
    for p, host in ((stranger, "stranger"), (plain, "plaintext")):
        m = w.net.metrics(host)
        assert m["llmaj_worker_threads_connected"] == 0 and m["llmaj_worker_shards_done_total"] == 0
        assert m["llmaj_worker_results_sent_total"] == 0
        assert "connected to" not in p.log()
    blog = b.log()
    ip = lambda h: f"10.77.0.{HOSTS[h]}"
    assert f"refused a CURVE connection from {ip('stranger')}: its key is not in" in blog
    assert "does not speak CURVE" in blog
    # Revoked: worker.key leaves the folder (as a kubelet updates a Secret volume).
    refused = w.broker_metrics()['llmaj_broker_handshakes_refused_total{reason="key_not_allowed"}']
    os.remove(os.path.join(w.secrets["llmaj-curve-clients"], "worker.key"))
    try:
        wait_until(lambda: "its key worker was revoked" in b.log(), "the revocation")
        wait_until(lambda: w.broker_metrics()["llmaj_broker_workers_alive"] == 0, "worker1 out")
        wait_until(lambda: w.broker_metrics()['llmaj_broker_handshakes_refused_total{reason="key_not_allowed"}']
                   > refused, "worker1 refused")
    finally:
        path = os.path.join(w.secrets["llmaj-curve-clients"], "worker.key")
        shutil.copy(os.path.join(w.keys, "worker.key"), path)
        own(path, 0o444)
