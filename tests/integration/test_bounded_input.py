"""Bounded, interruptible input: a dataset must be a regular file under its size cap (a named pipe,
/dev/zero, a folder, a file past `dataset_max_bytes` each get a clear error naming the path, at
once), and SIGINT/SIGTERM stop `llmaj run` and `llmaj-scheduler` while they read a dataset, local
or remote, with nothing stored and no model called. No timing is asserted: the tests poll for the
process to exit with generous deadlines, and check what it said."""
import http.server
import json
import os
import signal
import socketserver
import subprocess
import threading
import time

import pytest

from conftest import BIN, start_mock, write_dataset, write_spec


@pytest.fixture(scope="module")
def mock(tmp_path_factory):
    from conftest import Procs
    ps = Procs(str(tmp_path_factory.mktemp("mock")))
    m = start_mock(ps)
    yield m
    ps.stop_all()


def run(tmp, mock, dataset, *flags, **spec_kw):
    spec = os.path.join(tmp, "job.json")
    write_spec(spec, dataset=dataset, output_path=os.path.join(tmp, "runs"), **spec_kw)
    return subprocess.run([os.path.join(BIN, "llmaj"), "run", "--spec", spec, "--workers", "1", *flags],
                          env={**os.environ, **mock.env()}, capture_output=True, text=True, timeout=300)


def assert_refused(p, mock, *needles):
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    for n in needles:
        assert n in p.stderr, (n, p.stderr)
    assert mock.model_requests() == 0


def test_dev_zero_is_refused(tmp_path, mock):
    p = run(str(tmp_path), mock, "/dev/zero")
    assert_refused(p, mock, "/dev/zero: is a character device, not a regular file")


def test_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path, mock):
    fifo = str(tmp_path / "data.jsonl")
    os.mkfifo(fifo)
    p = run(str(tmp_path), mock, fifo)
    assert_refused(p, mock, f"{fifo}: is a named pipe, not a regular file")


def test_folder_is_refused(tmp_path, mock):
    p = run(str(tmp_path), mock, str(tmp_path))
    assert_refused(p, mock, f"{tmp_path}: is a directory, not a regular file")


def test_size_cap_from_the_spec_and_the_flag(tmp_path, mock):
    data = str(tmp_path / "d.jsonl")
    write_dataset(data, 50)
    size = os.path.getsize(data)
    p = run(str(tmp_path), mock, data, dataset_max_bytes=1000)
    assert_refused(p, mock, f"{data}: the file is {size} bytes, larger than the cap of 1000 bytes (dataset_max_bytes)")
    p = run(str(tmp_path), mock, data, "--dataset-max-bytes", "2000")
    assert_refused(p, mock, f"larger than the cap of 2000 bytes (dataset_max_bytes)")
    p = run(str(tmp_path), mock, data, dataset_max_bytes="lots")
    assert_refused(p, mock, "dataset_max_bytes: must be a number")


def test_nul_escape_in_any_text_field(tmp_path, mock):
    data = str(tmp_path / "d.jsonl")
    with open(data, "w") as f:
        f.write(json.dumps({"prompt": "ok", "referenceResponse": "fine"}) + "\n")
        f.write('{"prompt": "ok", "referenceResponse": "cut\\u0000short"}\n')
        f.write('{"prompt": "ok", "category": "\\u0000"}\n')
    p = run(str(tmp_path), mock, data)
    assert_refused(p, mock, f"{data}:2: key `referenceResponse` contains a NUL character",
                   f"{data}:3: key `category` contains a NUL character")


def fd_position(pid, path):
    """How far process pid has read `path` (None while it has not opened it)."""
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == path:
                    with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                        return int(f.readline().split()[1])
            except OSError:
                continue
    except OSError:
        return None
    return None


def wait_gone(p, timeout):
    try:
        return p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"{p.name} did not exit within {timeout}s of the signal")


def list_jobs(db):
    p = subprocess.run([os.path.join(BIN, "llmaj"), "list", "--db", db, "--json"], capture_output=True, text=True,
                       timeout=60)
    return json.loads(p.stdout) if p.returncode == 0 else []


@pytest.mark.parametrize("program,sig", [("llmaj", signal.SIGINT), ("llmaj-scheduler", signal.SIGTERM)])
def test_signal_while_a_huge_dataset_is_read(procs, tmp_path, mock, program, sig):
    # 9 GiB (under the 10 GiB cap) of a sparse file: reading it through takes minutes.
    data = str(tmp_path / "huge.jsonl")
    with open(data, "wb") as f:
        f.truncate(9 << 30)
    spec, db = str(tmp_path / "job.json"), str(tmp_path / "jobs.db")
    write_spec(spec, dataset=data, output_path=str(tmp_path / "runs"))
    if program == "llmaj":
        argv = [os.path.join(BIN, "llmaj"), "run", "--spec", spec, "--db", db, "--workers", "1"]
    else:
        argv = [os.path.join(BIN, "llmaj-scheduler"), "--broker", "tcp://127.0.0.1:9", "--db", db, "--spec", spec]
    p = procs.start(program, argv, env=mock.env())
    deadline = time.time() + 120
    while not (fd_position(p.pid, data) or 0) > 0:
        assert p.poll() is None, procs.log(p)
        assert time.time() < deadline, "it never began reading the dataset"
        time.sleep(0.05)
    p.send_signal(sig)
    rc = wait_gone(p, 120)
    said = procs.log(p)
    assert rc == 1, (rc, said)
    assert f"dataset {data}: interrupted after" in said and "nothing was stored" in said, said
    assert fd_position(p.pid, data) is None
    assert list_jobs(db) == []
    assert mock.model_requests() == 0


class _Trickle(http.server.BaseHTTPRequestHandler):
    """An https-like dataset server (plain http on loopback, which llmaj accepts for tests) that
    announces a large object and sends it a line at a time, slowly, for as long as anyone reads."""
    line = (json.dumps({"prompt": "slow"}) + "\n").encode()

    def do_GET(self):
        total = 1 << 30
        start = 0
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes="):
            start = int(rng[6:].split("-")[0])
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {start}-{total - 1}/{total}")
        self.send_header("Content-Length", str(total - start))
        self.end_headers()
        self.server.requests += 1
        try:
            while not self.server.closing:
                self.wfile.write(self.line)
                self.wfile.flush()
                time.sleep(0.02)
        except OSError:
            pass   # the client went away

    def log_message(self, *a):
        pass


class _Silent(http.server.BaseHTTPRequestHandler):
    """A server that takes the request and never answers."""

    def do_GET(self):
        self.server.requests += 1
        while not self.server.closing:
            time.sleep(0.05)

    def log_message(self, *a):
        pass


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    requests = 0
    closing = False


@pytest.mark.parametrize("handler", [_Trickle, _Silent], ids=["trickling", "silent"])
def test_signal_while_a_remote_dataset_is_read(procs, tmp_path, mock, handler):
    srv = _Server(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        url = f"http://127.0.0.1:{srv.server_address[1]}/data.jsonl"
        spec, db = str(tmp_path / "job.json"), str(tmp_path / "jobs.db")
        write_spec(spec, dataset=url, output_path=str(tmp_path / "runs"))
        p = procs.start("run", [os.path.join(BIN, "llmaj"), "run", "--spec", spec, "--db", db, "--workers", "1"],
                        env=mock.env())
        deadline = time.time() + 120
        while srv.requests == 0:
            assert p.poll() is None, procs.log(p)
            assert time.time() < deadline, "it never asked for the dataset"
            time.sleep(0.05)
        time.sleep(0.5)   # some lines on their way: the window is far from full
        p.send_signal(signal.SIGINT)
        rc = wait_gone(p, 120)
        said = procs.log(p)
        assert rc == 1, (rc, said)
        assert "interrupted" in said and "nothing was stored" in said, said
        assert list_jobs(db) == []
        assert mock.model_requests() == 0
    finally:
        srv.closing = True
        srv.shutdown()
        srv.server_close()
