"""The commands that read jobs back, on jobs run with `llmaj run` against the mock LLM: `list`
(newest first, --json), `status` (steps, counts, MLflow sync state, output folder), `results`
(pages, explanations, records.jsonl-shaped --json; also while a job runs), the job database's
default / LLMAJ_DB / --db, job id prefixes, and exit 2 for a missing database or an unknown job."""
import json
import os
import subprocess
import time

import pytest

from conftest import BIN, Procs, free_port, read_records, start_mock, write_dataset, write_spec

LLMAJ = os.path.abspath(os.path.join(BIN, "llmaj"))   # the tests change folders


def llmaj(*args, cwd=None, env=None, timeout=120):
    e = {k: v for k, v in os.environ.items() if k != "LLMAJ_DB"}
    e.update(env or {})
    return subprocess.run([LLMAJ, *args], cwd=cwd, env=e, capture_output=True, text=True, timeout=timeout)


def run_job(tmp, mock, name, n=12, extra=(), **spec_kw):
    data = os.path.join(tmp, f"{name}.jsonl")
    write_dataset(data, n)
    spec_path = os.path.join(tmp, f"{name}.json")
    kw = {"dataset": data, "output_path": os.path.join(tmp, "runs"), "name": name, "shard_size": 4}
    kw.update(spec_kw)
    write_spec(spec_path, **kw)
    p = subprocess.run([LLMAJ, "run", "--spec", spec_path, "--workers", "1", "--quiet", *extra],
                       env={**os.environ, **mock.env()}, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    job_id = p.stdout.split()[1]
    out = [l for l in p.stdout.splitlines() if l.startswith("results: ")][0][len("results: "):]
    return job_id, out


@pytest.fixture(scope="module")
def jobs(tmp_path_factory):
    """Two finished jobs in one database: cli-a (model and base, 12 records, some unscored) and
    cli-b (model only, run second)."""
    tmp = str(tmp_path_factory.mktemp("cli"))
    ps = Procs(tmp)
    try:
        mock = start_mock(ps, "--latency", "uniform:1:5", "--unscorable-rate", "0.15")
        a, a_out = run_job(tmp, mock, "cli-a")
        b, b_out = run_job(tmp, mock, "cli-b", n=5, evaluate_base_model=False, base_model=None,
                           builtin_metrics=["Correctness"])
        yield {"tmp": tmp, "db": os.path.join(tmp, "runs", "llmaj.db"), "a": a, "a_out": a_out, "b": b,
               "b_out": b_out}
    finally:
        ps.stop_all()


# ---- list ----

def test_list_shows_every_job_newest_first(jobs):
    p = llmaj("list", "--db", jobs["db"])
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].split()[:3] == ["JOB", "ID", "NAME"]
    assert lines[1].split()[:4] == [jobs["b"], "cli-b", "succeeded", "5"]
    assert lines[2].split()[:4] == [jobs["a"], "cli-a", "succeeded", "12"]
    assert len(lines) == 3


def test_list_json(jobs):
    p = llmaj("list", "--db", jobs["db"], "--json")
    assert p.returncode == 0, p.stderr
    rows = json.loads(p.stdout)
    assert [r["job_id"] for r in rows] == [jobs["b"], jobs["a"]]
    a = rows[1]
    assert a["name"] == "cli-a" and a["state"] == "succeeded" and a["error"] is None
    assert a["records"] == 12 and a["records_total"] == 12 and a["records_invalid"] == 0
    assert a["model"] == "openai-api/mock/ft" and a["base_model"] == "openai-api/mock/base"
    assert rows[0]["base_model"] is None
    assert a["created_at"].endswith("Z") and a["finished_at"] >= a["started_at"] >= a["created_at"]
    assert a["elapsed_s"] >= 0
    job = json.load(open(os.path.join(jobs["a_out"], "job.json")))
    assert job["job_id"] == a["job_id"]


def test_database_default_env_and_flag(jobs):
    # Default: runs/llmaj.db under the current folder.
    p = llmaj("list", "--json", cwd=jobs["tmp"])
    assert p.returncode == 0, p.stderr
    assert len(json.loads(p.stdout)) == 2
    # LLMAJ_DB, from anywhere.
    p = llmaj("list", "--json", cwd="/", env={"LLMAJ_DB": jobs["db"]})
    assert p.returncode == 0, p.stderr
    assert len(json.loads(p.stdout)) == 2
    # --db wins over LLMAJ_DB.
    p = llmaj("list", "--db", jobs["db"], env={"LLMAJ_DB": "/nonexistent/llmaj.db"})
    assert p.returncode == 0, p.stderr


def test_missing_database_is_exit_2_and_creates_nothing(tmp_path):
    for cmd in (["list"], ["status", "x"], ["results", "x"]):
        p = llmaj(*cmd, cwd=str(tmp_path))
        assert p.returncode == 2, (cmd, p.stdout, p.stderr)
        assert "no job database at runs/llmaj.db" in p.stderr and "--db" in p.stderr and "LLMAJ_DB" in p.stderr
    p = llmaj("list", env={"LLMAJ_DB": str(tmp_path / "nope.db")})
    assert p.returncode == 2 and "from LLMAJ_DB" in p.stderr
    assert os.listdir(tmp_path) == []
    (tmp_path / "text.db").write_text("not a database\n" * 10)
    p = llmaj("list", "--db", str(tmp_path / "text.db"))
    assert p.returncode == 2 and "not a job database" in p.stderr


def test_empty_database_lists_nothing(tmp_path, jobs):
    import sqlite3
    db = tmp_path / "llmaj.db"
    src = sqlite3.connect(jobs["db"])
    dst = sqlite3.connect(str(db))
    src.backup(dst)
    dst.execute("DELETE FROM jobs")
    dst.commit()
    dst.close()
    src.close()
    p = llmaj("list", "--db", str(db))
    assert p.returncode == 0 and p.stdout == "" and "no job" in p.stderr
    assert json.loads(llmaj("list", "--db", str(db), "--json").stdout) == []


# ---- job ids ----

def test_unknown_and_ambiguous_job_ids_are_exit_2(jobs):
    for cmd in ("status", "results"):
        p = llmaj(cmd, "no-such-job", "--db", jobs["db"])
        assert p.returncode == 2, p.stdout + p.stderr
        assert "no job 'no-such-job'" in p.stderr and "llmaj list" in p.stderr
        p = llmaj(cmd, "cli-", "--db", jobs["db"])
        assert p.returncode == 2
        assert "2 job ids" in p.stderr and jobs["a"] in p.stderr and jobs["b"] in p.stderr
    p = llmaj("status", "--db", jobs["db"])
    assert p.returncode == 2 and "which job" in p.stderr


def test_a_unique_prefix_names_the_job(jobs):
    p = llmaj("status", "cli-a", "--db", jobs["db"], "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["job_id"] == jobs["a"]


# ---- status ----

def test_status_of_a_finished_job(jobs):
    records = read_records(jobs["a_out"])
    p = llmaj("status", jobs["a"], "--db", jobs["db"], "--json")
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout)
    assert s["state"] == "succeeded" and s["error"] is None and s["name"] == "cli-a"
    assert [(st["name"], st["status"]) for st in s["steps"]] == [
        ("validate", "succeeded"), ("infer+judge", "succeeded"), ("collect", "succeeded"), ("mlflow", "skipped")]
    assert s["records"] == {"total": 12, "valid": 12, "invalid": 0, "evaluated": 12}
    assert s["record_targets"] == {"total": 24, "done": 24, "errors": 0}
    assert s["shards"]["total"] == 3 and s["shards"]["done"] == 3
    assert s["shards"]["in_flight"] == 0 and s["shards"]["pending"] == 0 and s["shards"]["dispatches"] >= 3
    statuses = [sc["status"] for r in records for sc in r["scores"].values()]
    assert s["scores"] == {"ok": statuses.count("ok"), "unscored": statuses.count("unscored"),
                           "not_applicable": statuses.count("not_applicable"), "error": statuses.count("error")}
    assert sum(s["scores"].values()) == 24 * 4
    assert s["mlflow"] == {"state": "none"}
    assert s["output_dir"] == jobs["a_out"] and s["output_written"] is True
    assert s["elapsed_s"] >= 0 and s["finished_at"]

    p = llmaj("status", jobs["a"], "--db", jobs["db"])
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert f"job             {jobs['a']}" in out and "state           succeeded" in out
    for step, status in (("validate", "succeeded"), ("infer+judge", "succeeded"), ("collect", "succeeded"),
                         ("mlflow", "skipped")):
        assert any(l.split()[:2] == [step, status] for l in out.splitlines()), (step, out)
    assert "24/24 done" in out and "3 done, 0 in flight, 0 pending" in out
    assert f"output          {jobs['a_out']}" in out


def test_status_shows_mlflow_pending(procs, tmp_path):
    """MLflow unreachable (a closed port) and --mlflow-wait 1: the job succeeds, its sync stays
    pending with the attempts made and the last error."""
    mock = start_mock(procs)
    uri = f"http://127.0.0.1:{free_port()}"
    job_id, out = run_job(str(tmp_path), mock, "offline", n=6, extra=["--mlflow-wait", "1"],
                          mlflow={"tracking_uri": uri, "experiment": "cli"}, evaluate_base_model=False,
                          base_model=None, builtin_metrics=["Correctness"])
    db = str(tmp_path / "runs" / "llmaj.db")
    p = llmaj("status", job_id, "--db", db, "--json")
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout)
    assert s["state"] == "succeeded"
    m = s["mlflow"]
    assert m["state"] in ("pending", "syncing"), m   # syncing: stopped during an attempt
    assert m["attempts"] >= 1 and m["tracking_uri"] == uri and m["parent_run_id"] is None
    step = s["steps"][3]
    assert step["name"] == "mlflow" and step["status"] == {"pending": "pending", "syncing": "running"}[m["state"]]
    assert f"llmaj sync --job-dir {out}" in step["detail"]
    if m["state"] == "pending":
        assert "127.0.0.1" in m["last_error"]
    p = llmaj("status", job_id, "--db", db)
    assert p.returncode == 0
    line = [l for l in p.stdout.splitlines() if l.startswith("mlflow ")][0]
    assert m["state"] in line and uri in line


# ---- results ----

def blocks(out):
    return [l for l in out.splitlines() if l.startswith("[")]


def test_results_pages(jobs):
    records = read_records(jobs["a_out"])
    p = llmaj("results", jobs["a"], "--db", jobs["db"])
    assert p.returncode == 0, p.stderr
    assert "rows 1-10 of 24" in p.stdout.splitlines()[0]
    bl = blocks(p.stdout)
    assert len(bl) == 10
    for i, (line, r) in enumerate(zip(bl, records[:10])):
        assert line.startswith(f"[{i + 1}] record {r['record_id']} (index {r['record_index']})"), line
        assert f" {r['target']} " in line and r["model"] in line
    assert f"next page: llmaj results {jobs['a']} --db {jobs['db']} --offset 10" in p.stdout
    # Every metric of a row, with its rating; prompts and responses shown.
    first = p.stdout.split("\n[2]")[0]
    assert records[0]["prompt"] in first
    for metric, sc in records[0]["scores"].items():
        row = [l for l in first.splitlines() if l.strip().startswith(metric + " ")][0]
        assert sc["status"] in row
        if sc["rating"]:
            assert sc["rating"] in row
    # The last page.
    p = llmaj("results", jobs["a"], "--db", jobs["db"], "--offset", "20", "--limit", "10")
    assert p.returncode == 0
    assert "rows 21-24 of 24" in p.stdout and len(blocks(p.stdout)) == 4
    assert blocks(p.stdout)[0].startswith("[21] ") and "next page" not in p.stdout
    # Past the end: an empty page, not an error.
    p = llmaj("results", jobs["a"], "--db", jobs["db"], "--offset", "24")
    assert p.returncode == 0 and blocks(p.stdout) == [] and "24 row(s)" in p.stdout


def test_results_explanations(jobs):
    records = read_records(jobs["a_out"])
    plain = llmaj("results", jobs["a"], "--db", jobs["db"], "--limit", "2").stdout
    full = llmaj("results", jobs["a"], "--db", jobs["db"], "--limit", "2", "--explanations").stdout
    explanations = [sc["explanation"] for r in records[:2] for sc in r["scores"].values() if sc["explanation"]]
    assert explanations
    flat = " ".join(full.split())
    for e in explanations:
        words = " ".join(e.split()[:6])
        assert words in flat, (words, full)
        assert " ".join(e.split()[:12]) not in " ".join(plain.split())
    assert len(full.splitlines()) > len(plain.splitlines())


def test_results_json_is_records_jsonl(jobs):
    records = read_records(jobs["a_out"])
    p = llmaj("results", jobs["a"], "--db", jobs["db"], "--json", "--limit", "5", "--offset", "3")
    assert p.returncode == 0, p.stderr
    lines = [json.loads(l) for l in p.stdout.splitlines()]
    assert lines == records[3:8]
    with open(os.path.join(jobs["a_out"], "records.jsonl")) as f:
        first_keys = list(json.loads(f.readline()).keys())
    assert list(lines[0].keys()) == first_keys
    p = llmaj("results", jobs["a"], "--db", jobs["db"], "--json", "--limit", "1000")
    assert [json.loads(l) for l in p.stdout.splitlines()] == records
    assert llmaj("results", jobs["a"], "--db", jobs["db"], "--json", "--offset", "99").stdout == ""


def test_results_bad_flags_are_exit_2(jobs):
    for args in (["--limit", "0"], ["--limit", "ten"], ["--offset", "-1"], ["--bogus"]):
        p = llmaj("results", jobs["a"], "--db", jobs["db"], *args)
        assert p.returncode == 2, (args, p.stdout, p.stderr)
    p = llmaj("results", jobs["a"], jobs["b"], "--db", jobs["db"])
    assert p.returncode == 2 and "one job at a time" in p.stderr


def test_status_and_results_while_the_job_runs(procs, tmp_path):
    """A slow job (one call in flight at a time): status and results read the committed part."""
    mock = start_mock(procs, "--latency", "fixed:150")
    data = str(tmp_path / "slow.jsonl")
    write_dataset(data, 12)
    spec = str(tmp_path / "slow.json")
    write_spec(spec, dataset=data, output_path=str(tmp_path / "runs"), name="slow", evaluate_base_model=False,
               base_model=None, builtin_metrics=["Correctness"], custom_metrics=[], shard_size=2)
    run = procs.start("run", [LLMAJ, "run", "--spec", spec, "--workers", "1", "--concurrency", "1", "--window", "1",
                              "--quiet"], env=mock.env())
    db = str(tmp_path / "runs" / "llmaj.db")
    seen = None
    deadline = time.time() + 300
    while time.time() < deadline and run.poll() is None:
        p = llmaj("status", "slow", "--db", db, "--json")
        if p.returncode == 0:
            s = json.loads(p.stdout)
            if s["state"] == "running" and 0 < s["record_targets"]["done"] < 12:
                seen = s
                break
        time.sleep(0.1)
    assert seen is not None, "the job ended before it could be seen running"
    steps = dict((st["name"], st["status"]) for st in seen["steps"])
    assert steps["validate"] == "succeeded" and steps["infer+judge"] == "running" and steps["collect"] == "pending"
    assert seen["finished_at"] is None and seen["output_written"] is False
    assert seen["shards"]["total"] == 6 and seen["shards"]["done"] < 6
    rows = [json.loads(l) for l in llmaj("results", "slow", "--db", db, "--json", "--limit", "100").stdout.splitlines()]
    assert len(rows) >= seen["record_targets"]["done"] and all(r["response"] for r in rows)
    p = llmaj("results", "slow", "--db", db)
    assert p.returncode == 0
    assert "committed so far" in p.stdout.splitlines()[0] or "(succeeded)" in p.stdout   # it may have just ended
    assert run.wait(timeout=300) == 0, procs.log(run)
    s = json.loads(llmaj("status", "slow", "--db", db, "--json").stdout)
    assert s["state"] == "succeeded" and s["record_targets"]["done"] == 12 and s["output_written"] is True


def test_status_of_a_failed_job(procs, tmp_path):
    """Every model call refused (quota exhausted): the job fails; status says why and which step."""
    mock = start_mock(procs, "--quota-exhausted")
    data = str(tmp_path / "d.jsonl")
    write_dataset(data, 6)
    spec = str(tmp_path / "s.json")
    write_spec(spec, dataset=data, output_path=str(tmp_path / "runs"), name="doomed", evaluate_base_model=False,
               base_model=None, builtin_metrics=["Correctness"], custom_metrics=[])
    p = subprocess.run([LLMAJ, "run", "--spec", spec, "--workers", "1", "--quiet"], env={**os.environ, **mock.env()},
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 1, p.stdout + p.stderr
    db = str(tmp_path / "runs" / "llmaj.db")
    s = json.loads(llmaj("status", "doomed", "--db", db, "--json").stdout)
    assert s["state"] == "failed" and "no score" in s["error"]
    steps = dict((st["name"], st["status"]) for st in s["steps"])
    assert steps == {"validate": "succeeded", "infer+judge": "failed", "collect": "succeeded", "mlflow": "skipped"}
    assert s["record_targets"] == {"total": 6, "done": 6, "errors": 6}
    assert s["scores"]["error"] == 6 and s["scores"]["ok"] == 0
    out = llmaj("status", "doomed", "--db", db).stdout
    assert "state           failed" in out and "error           no score" in out
    # Results still show every row, with the inference error in place of a response.
    p = llmaj("results", "doomed", "--db", db, "--limit", "1")
    assert p.returncode == 0 and "  error      " in p.stdout and "quota" in p.stdout
    assert llmaj("list", "--db", db).stdout.splitlines()[1].split()[2] == "failed"
