"""A full disk is a bad day, not a lost job: the output folder or the job database on a small,
full tmpfs fails the job with a clear message, leaves no temporary file behind, and once space is
freed `llmaj run --resume` finishes it: the result files are rebuilt from the database without a
model call, or the results the database could not take are run again, each cell exactly once.

Mounting a tmpfs needs root (or CAP_SYS_ADMIN): where it is not allowed the tests skip, saying so."""
import contextlib
import glob
import json
import os
import sqlite3
import subprocess
import time

import pytest

from conftest import BIN, check_summary, read_records, start_mock, write_dataset, write_spec
from test_fleet import assert_exactly_once, wait_exit


@contextlib.contextmanager
def tmpfs(path, size):
    os.makedirs(path, exist_ok=True)
    try:
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", path], capture_output=True,
                           text=True, timeout=30)
    except FileNotFoundError:
        pytest.skip("no mount(8) here: the full-disk tests need to mount a small tmpfs")
    if p.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({p.stderr.strip() or 'mount failed'}): the full-disk tests need "
                    "root or CAP_SYS_ADMIN")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", path], capture_output=True, timeout=30)


def fill(dir_path, leave=0):
    """Writes a filler file until only about `leave` bytes are free (0: until the disk is full)."""
    filler = os.path.join(dir_path, "filler")
    st = os.statvfs(dir_path)
    want = max(0, st.f_bavail * st.f_frsize - leave)
    chunk = b"\0" * 65536
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)   # unbuffered: nothing left to flush
    try:
        while want > 0:
            want -= os.write(fd, chunk[:min(want, len(chunk))])
        while leave == 0:
            os.write(fd, chunk[:4096])
    except OSError:
        pass   # ENOSPC: full
    finally:
        os.close(fd)
    return filler


def llmaj(*args, env=None, timeout=600):
    return subprocess.run([os.path.join(BIN, "llmaj"), *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def job_row(db):
    p = llmaj("list", "--db", db, "--json", timeout=60)
    assert p.returncode == 0, p.stderr
    jobs = json.loads(p.stdout)
    return jobs[0] if jobs else None


def job_status(db, job_id):
    p = llmaj("status", job_id, "--db", db, "--json", timeout=60)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def no_temporaries(root):
    left = [f for f in glob.glob(os.path.join(root, "**", "*"), recursive=True) if ".tmp" in os.path.basename(f)]
    assert not left, f"temporary files left behind: {left}"


def results_dir(stdout):
    return [l for l in stdout.splitlines() if l.startswith("results: ")][0][len("results: "):].strip()


def test_output_on_a_full_disk_then_resume(procs, tmp_path):
    n = 120
    mock = start_mock(procs)
    data, spec, db = str(tmp_path / "d.jsonl"), str(tmp_path / "job.json"), str(tmp_path / "jobs.db")
    write_dataset(data, n)
    with tmpfs(str(tmp_path / "small"), "1m") as small:
        out = os.path.join(small, "runs")
        os.makedirs(out)
        write_spec(spec, dataset=data, output_path=out)
        filler = fill(small, leave=16 << 10)   # records.jsonl alone needs far more

        p = llmaj("run", "--spec", spec, "--db", db, "--workers", "2", env=mock.env())
        assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
        said = p.stdout + p.stderr
        assert "not enough free space in " + out in said, said
        assert "--resume" in said, said   # says how to finish it
        no_temporaries(small)
        job = job_row(db)
        assert job["state"] == "failed"
        st = job_status(db, job["job_id"])
        assert st["failure"] == "output", st
        calls = mock.model_requests()
        assert calls > 0

        os.unlink(filler)
        p = llmaj("run", "--resume", job["job_id"], "--db", db, "--workers", "1", env=mock.env())
        assert p.returncode == 0, (p.stdout, p.stderr)
        out_dir = results_dir(p.stdout)
        assert out_dir.startswith(out)
        records = read_records(out_dir)
        assert_exactly_once(records, n)
        check_summary(json.load(open(os.path.join(out_dir, "summary.json"))), records,
                      metrics_lower_better=("Harmfulness",))
        assert json.load(open(os.path.join(out_dir, "job.json")))["status"] == "succeeded"
        assert mock.model_requests() == calls, "rebuilding the files called a model"
        no_temporaries(small)
        job = job_row(db)
        assert job["state"] == "succeeded"
        assert job_status(db, job["job_id"])["failure"] is None


def test_temporaries_of_a_killed_writer_are_swept(procs, tmp_path):
    """A writer killed mid-write leaves `<file>.tmp-<pid>-<n>`; the next write of the job removes it
    (and the `.tmp` name older versions used), and only temporaries of processes that are gone."""
    mock = start_mock(procs)
    data, spec, db = str(tmp_path / "d.jsonl"), str(tmp_path / "job.json"), str(tmp_path / "jobs.db")
    write_dataset(data, 10)
    out = str(tmp_path / "runs")
    write_spec(spec, dataset=data, output_path=out, base_model=None, evaluate_base_model=False)
    p = llmaj("run", "--spec", spec, "--db", db, "--workers", "1", env=mock.env())
    assert p.returncode == 0, p.stderr
    out_dir = results_dir(p.stdout)
    job_id = job_row(db)["job_id"]
    calls = mock.model_requests()
    dead = subprocess.Popen(["true"])
    dead.wait()   # a pid that no longer runs
    stale = [os.path.join(out_dir, f"records.jsonl.tmp-{dead.pid}-0"), os.path.join(out_dir, "summary.json.tmp")]
    live = os.path.join(out_dir, f"job.json.tmp-{os.getpid()}-0")   # this test runs: left alone
    for f in stale + [live]:
        with open(f, "w") as fh:
            fh.write("half")
    # As if its files had failed: the resume writes them again, sweeping first.
    with sqlite3.connect(db) as c:
        c.execute("UPDATE jobs SET state=3, failure='output' WHERE job_id=?", (job_id,))
    p = llmaj("run", "--resume", job_id, "--db", db, "--workers", "1", env=mock.env())
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert mock.model_requests() == calls
    for f in stale:
        assert not os.path.exists(f), f
    assert os.path.exists(live)
    os.unlink(live)


def test_database_on_a_full_disk_then_resume(procs, tmp_path):
    n = 600
    mock = start_mock(procs, "--latency", "fixed:15", "--threads", "8")
    data, spec = str(tmp_path / "d.jsonl"), str(tmp_path / "job.json")
    write_dataset(data, n)
    with tmpfs(str(tmp_path / "dbfs"), "24m") as dbfs:
        db = os.path.join(dbfs, "jobs.db")
        out = str(tmp_path / "runs")
        write_spec(spec, dataset=data, output_path=out)
        run = procs.start("run1", [os.path.join(BIN, "llmaj"), "run", "--spec", spec, "--db", db, "--workers", "2"],
                          env=mock.env())
        # Wait until results are being committed, then fill the database's filesystem.
        deadline = time.time() + 300
        job = None
        while True:
            assert run.poll() is None, procs.log(run)
            assert time.time() < deadline, "no progress"
            job = job_row(db) if os.path.exists(db) else None
            if job and job["state"] == "running" and job_status(db, job["job_id"])["record_targets"]["done"] >= 40:
                break
            time.sleep(0.2)
        filler = fill(dbfs)
        rc = wait_exit(run, 600)
        said = open(run.out_path).read() + procs.log(run)
        assert rc == 1, said
        assert "database " + db in said, said
        assert "--resume" in said, said
        job_id = job["job_id"]
        calls = mock.stats()["inference_calls"]   # the workers run ahead of the commits: may be all
        st = job_status(db, job_id)
        # What proves the point is what was committed when the disk filled, not what was called.
        assert st["record_targets"]["done"] < 2 * n, ("the job committed everything before the disk was "
                                                      "full: the test proves nothing", st)

        os.unlink(filler)
        st = job_status(db, job_id)
        assert st["state"] in ("failed", "running"), st   # running: the failure itself could not be stored
        if st["state"] == "failed":
            assert st["failure"] == "database", st
        p = llmaj("run", "--resume", job_id, "--db", db, "--workers", "2", env=mock.env())
        assert p.returncode == 0, (p.stdout, p.stderr)
        out_dir = results_dir(p.stdout)
        records = read_records(out_dir)
        assert_exactly_once(records, n)
        check_summary(json.load(open(os.path.join(out_dir, "summary.json"))), records,
                      metrics_lower_better=("Harmfulness",))
        # Committed results were not redone: well under a second full pass of inference.
        assert mock.stats()["inference_calls"] - calls < 2 * n
        assert job_row(db)["state"] == "succeeded"


def test_service_retry_after_a_full_output_disk(procs, tmp_path):
    """The service's side: the job fails with `"failure": "output"`, and after space is freed
    POST /v1/jobs/{id}/retry writes its files from the database without a model call."""
    from conftest import start_broker, start_worker
    from test_service import Service, assert_exact, spec_for, svc_env
    n = 40
    mock = start_mock(procs)
    broker, _ = start_broker(procs)
    env = svc_env({"s": mock})
    start_worker(procs, broker, env, "--concurrency", "16")
    svc = Service(procs, str(tmp_path), broker, env).start()
    with tmpfs(str(tmp_path / "small"), "1m") as small:
        spec = spec_for(str(tmp_path), "s", n, "full", output_path=os.path.join(small, "out"))
        os.makedirs(spec["output_path"])
        filler = fill(small, leave=16 << 10)
        job_id = svc.submit(spec)
        j = svc.wait_ended(job_id)
        assert j["status"] == "failed" and j["failure"] == "output", j
        assert "not enough free space" in j["error"], j
        no_temporaries(small)
        calls = mock.model_requests()

        os.unlink(filler)
        st, ans = svc.call("POST", f"/v1/jobs/{job_id}/retry")
        assert st == 202 and ans["cells"] == 0, (st, ans)
        j = svc.wait_ended(job_id)
        assert j["status"] == "succeeded" and j["failure"] is None and j["error"] is None, j
        assert_exact(j["output"], n)
        assert mock.model_requests() == calls, "writing the files again called a model"
        no_temporaries(small)
        st, _ = svc.call("POST", f"/v1/jobs/{job_id}/retry")
        assert st == 409   # nothing left to do
