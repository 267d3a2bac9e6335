"""CURVE between the fleet's programs over TCP on 127.0.0.1 (DESIGN.md "Secure on a network"):
`llmaj keygen`, a broker that lets in only the keys of its --curve-clients folder, a job run to
exact completion by peers that hold allowed keys while a peer with an unknown key and a plaintext
peer get nothing; a key revoked by deleting its file; the start-up refusals (a plaintext broker
on a non-loopback address, half a key configuration, bad key files)."""
import os
import signal
import subprocess
import time
import urllib.request

from conftest import BIN, free_port, read_records, start_mock, wait_for_line, write_dataset, write_spec


def keygen(tmp, name):
    p = subprocess.run([os.path.join(BIN, "llmaj"), "keygen", os.path.join(tmp, name)], capture_output=True,
                       text=True)
    assert p.returncode == 0, p.stderr
    return os.path.join(tmp, name + ".key"), os.path.join(tmp, name + ".secret")


def metrics(url):
    with urllib.request.urlopen(url + "/metrics", timeout=10) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
    return out


def wait_until(pred, what, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def test_keygen(tmp_path):
    pub, sec = keygen(str(tmp_path), "node")
    assert oct(os.stat(sec).st_mode & 0o777) == "0o600"
    assert len(open(pub).read().strip()) == 40 and len(open(sec).read().strip()) == 40
    p = subprocess.run([os.path.join(BIN, "llmaj"), "keygen", str(tmp_path / "node")], capture_output=True, text=True)
    assert p.returncode == 1 and "node.key: already exists" in p.stderr
    p = subprocess.run([os.path.join(BIN, "llmaj"), "keygen"], capture_output=True, text=True)
    assert p.returncode == 2 and "NAME" in p.stderr


def test_startup_refusals(tmp_path, procs):
    broker = os.path.join(BIN, "llmaj-broker")
    port = free_port()
    p = subprocess.run([broker, "--bind", f"tcp://0.0.0.0:{port}"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "refusing to bind" in p.stderr and "--insecure" in p.stderr
    env = {**os.environ, "LLMAJ_INSECURE": "maybe"}
    p = subprocess.run([broker, "--bind", "tcp://127.0.0.1:1"], capture_output=True, text=True, env=env, timeout=30)
    assert p.returncode == 2 and "LLMAJ_INSECURE" in p.stderr
    pub, sec = keygen(str(tmp_path), "b")
    p = subprocess.run([broker, "--curve-secret", sec], capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "--curve-clients" in p.stderr
    p = subprocess.run([broker, "--curve-secret", sec, "--curve-clients", str(tmp_path / "none")],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and "none: No such file or directory" in p.stderr
    (tmp_path / "clients").mkdir()
    (tmp_path / "clients" / "bad.key").write_text("not a key\n")
    p = subprocess.run([broker, "--bind", f"tcp://127.0.0.1:{port}", "--curve-secret", sec, "--curve-clients",
                        str(tmp_path / "clients")], capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and "bad.key:1: not a CURVE key" in p.stderr
    p = subprocess.run([broker, "--curve-secret", pub + ".nope", "--curve-clients", str(tmp_path)],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and ".nope: No such file" in p.stderr
    for prog in ("llmaj-worker", "llmaj-scheduler"):
        p = subprocess.run([os.path.join(BIN, prog), "--curve-secret", sec], capture_output=True, text=True,
                           timeout=30)
        assert p.returncode == 2 and "--curve-broker-key" in p.stderr, (prog, p.stderr)
    # --insecure: a plaintext broker anywhere, said loudly.
    b = procs.start("insecure", [broker, "--bind", f"tcp://0.0.0.0:{port}", "--insecure"])
    wait_for_line(b.out_path, "llmaj-broker listening on ", b)
    b.send_signal(signal.SIGTERM)
    assert b.wait(timeout=30) == 0
    assert "--insecure" in procs.log(b)


def test_job_with_curve(tmp_path, procs):
    tmp = str(tmp_path)
    clients = tmp_path / "clients"
    clients.mkdir()
    bpub, bsec = keygen(tmp, "broker")
    wpub, wsec = keygen(tmp, "worker")
    spub, ssec = keygen(tmp, "scheduler")
    xpub, xsec = keygen(tmp, "stranger")
    os.rename(wpub, clients / "worker.key")
    os.rename(spub, clients / "scheduler.key")
    mock = start_mock(procs, "--latency", "uniform:5:20")
    port, mport = free_port(), free_port()
    ep = f"tcp://127.0.0.1:{port}"
    murl = f"http://127.0.0.1:{mport}"
    broker = procs.start("broker", [os.path.join(BIN, "llmaj-broker"), "--bind", ep, "--heartbeat-ms", "200",
                                    "--dead-after", "5", "--metrics-addr", f"127.0.0.1:{mport}"],
                         env={"LLMAJ_CURVE_SECRET": bsec, "LLMAJ_CURVE_CLIENTS": str(clients)})
    wait_for_line(broker.out_path, "llmaj-broker listening on ", broker)
    common = ["--broker", ep, "--heartbeat-ms", "200", "--dead-after", "5"]
    worker = procs.start("worker", [os.path.join(BIN, "llmaj-worker"), *common, "--name", "good",
                                    "--curve-secret", wsec, "--curve-broker-key", bpub], env=mock.env())
    # A worker whose key is not in the folder, and one that speaks plaintext.
    stranger = procs.start("stranger", [os.path.join(BIN, "llmaj-worker"), *common, "--name", "stranger",
                                        "--curve-secret", xsec, "--curve-broker-key", bpub], env=mock.env())
    plain = procs.start("plain", [os.path.join(BIN, "llmaj-worker"), *common, "--name", "plain"], env=mock.env())
    wait_until(lambda: metrics(murl).get('llmaj_broker_handshakes_refused_total{reason="key_not_allowed"}', 0) >= 1
               and metrics(murl).get('llmaj_broker_handshakes_refused_total{reason="plaintext"}', 0) >= 1,
               "both refusals")
    data = os.path.join(tmp, "data.jsonl")
    write_dataset(data, 120)
    spec = os.path.join(tmp, "job.json")
    write_spec(spec, dataset=data, output_path=os.path.join(tmp, "runs"), shard_size=8)
    sched = procs.start("scheduler", [os.path.join(BIN, "llmaj-scheduler"), "--spec", spec, *common,
                                      "--curve-secret", ssec, "--curve-broker-key", bpub], env=mock.env())
    assert sched.wait(timeout=300) == 0, procs.log(sched)
    out = open(sched.out_path).read()
    out_dir = [l.split(": ", 1)[1] for l in out.splitlines() if l.startswith("results: ")][0]
    recs = read_records(out_dir)
    keys = [(r["record_index"], r["target"]) for r in recs]
    assert sorted(keys) == sorted((i, t) for i in range(120) for t in ("custom", "base"))
    assert mock.stats()["inference_calls"] == 240   # nothing ran twice: only `good` worked
    m = metrics(murl)
    assert m["llmaj_broker_curve"] == 1 and m["llmaj_broker_curve_keys"] == 2
    blog = procs.log(broker)
    assert "worker good-t0 joined" in blog and "key worker" in blog
    assert "stranger" not in blog and "plain-t0" not in blog
    assert "refused a CURVE connection from 127.0.0.1: its key is not in" in blog
    assert "does not speak CURVE" in blog
    for p in (stranger, plain):
        assert "shard" not in procs.log(p).lower()
        assert "connected to" not in procs.log(p)
    # Its silence warning (after dead_after heartbeats with no WELCOME) says what to check.
    wait_until(lambda: "--curve-clients folder" in procs.log(stranger), "the stranger's warning")
    # No key reaches a log.
    for p in (broker, worker, stranger, plain, sched):
        text = procs.log(p) + open(p.out_path).read()
        for f in (bsec, wsec, ssec, xsec, bpub):
            assert open(f).read().strip() not in text

    # Revoked: the worker's file goes; its session ends at the next tick, its new handshakes are refused.
    refused = metrics(murl)['llmaj_broker_handshakes_refused_total{reason="key_not_allowed"}']
    worker_key = (clients / "worker.key").read_text()
    os.remove(clients / "worker.key")
    wait_until(lambda: "its key worker was revoked" in procs.log(broker), "the revocation")
    wait_until(lambda: metrics(murl)["llmaj_broker_workers_alive"] == 0 and metrics(murl)["llmaj_broker_curve_keys"] == 1,
               "the worker gone")
    wait_until(lambda: metrics(murl)['llmaj_broker_handshakes_refused_total{reason="key_not_allowed"}'] > refused,
               "its next handshake refused")
    # Allowed again: it comes back by itself (its next attempt after the silence).
    (clients / "worker.key").write_text(worker_key)
    wait_until(lambda: metrics(murl)["llmaj_broker_workers_alive"] == 1, "the worker back")
    assert worker.poll() is None
