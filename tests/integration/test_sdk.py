"""The Python SDK (sdk/python, package `llmaj`) against a real local fleet: mock LLMs, a broker,
two workers and `llmaj-scheduler --serve` with a token (livefleet.py), every call over HTTP on
127.0.0.1. What a notebook user does, checked against what the service itself says and what the
job wrote (records.jsonl, summary.json):

evaluate -> refresh -> wait (the progress bar: plain lines, a terminal's bar, a notebook's HTML
bar) -> show_results (plain text, pandas, a notebook's DataFrame) -> results() paging -> summary() -> to_pandas -> get(id) ->
get_all(status=, limit=) -> stop() on a running long job -> retry() (the records it never
reached) -> errors as exceptions carrying the service's {"key","message"} list (a bad spec, a bad
dataset line FILE:LINE, a bad token, no such job, nothing to retry); and the example script
examples/sdk_walkthrough.py (the seed notebook's walkthrough: Part 1 with two custom metrics and
the base model, Part 2's model package and Nova model) end to end, with a local MLflow tracking
server as its mlflow_resource_arn, its output kept in BUILD/sdk/sdk_walkthrough.out.

The fleet is shared by the module's tests (one start-up on a loaded 2-core machine); the stop and
retry test swaps the workers, so it runs last."""
import io
import json
import os
import subprocess
import sys
import time
import types

import pytest

from conftest import BIN, SRC, Procs, check_summary, read_records
from livefleet import MODEL_PACKAGE, Fleet, TOKEN, spec

sys.path.insert(0, os.path.join(SRC, "sdk", "python", "src"))

import llmaj  # noqa: E402
from llmaj import (AuthenticationError, BadRequestError, ConflictError, EvaluationPipelineExecution,  # noqa: E402
                   LLMAsJudgeEvaluator, NotFoundError, WaitTimeoutError)

BUILD = os.environ.get("LLMAJ_BUILD") or os.path.join(BIN, "..")
METRICS = ["Correctness", "Helpfulness"]
TONE = [{"customMetricDefinition": {
    "name": "Tone", "instructions": "Rate the tone.\nPrompt: {{prompt}}\nResponse: {{prediction}}",
    "ratingScale": [{"definition": "Good", "value": {"floatValue": 1}},
                    {"definition": "Poor", "value": {"floatValue": 0}}]}}]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("sdk"))
    ps = Procs(tmp)
    try:
        f = Fleet(ps, tmp)
        f.tmp = tmp
        yield f
    finally:
        ps.stop_all()


@pytest.fixture(autouse=True)
def no_env(monkeypatch):
    for k in ("LLMAJ_SCHEDULER", "LLMAJ_TOKEN", "LLMAJ_NO_PANDAS"):
        monkeypatch.delenv(k, raising=False)


def evaluator(fleet, n, name, svc="fast", **kw):
    s = spec(fleet.tmp, svc, n, name, metrics=METRICS, base=True)
    args = dict(model=s["model"], base_model=s["base_model"], evaluate_base_model=True,
                evaluator_model=s["evaluator_model"], dataset=s["dataset"], builtin_metrics=METRICS,
                custom_metrics=json.dumps(TONE), s3_output_path=s["output_path"], region="us-west-2",
                name=name, shard_size=16, scheduler=fleet.url, token=TOKEN)
    args.update(kw)
    return LLMAsJudgeEvaluator(**args)


class Terminal(io.StringIO):
    def isatty(self):
        return True


# ------------------------------------------------------------------------------------ the whole flow

def test_evaluate_watch_and_read_results(fleet, capsys, monkeypatch):
    n = 90
    ev = evaluator(fleet, n, "flow")
    assert ev.to_spec()["custom_metrics"] == TONE
    ex = ev.evaluate()
    assert ex.arn == ex.id == ex.job_id and ex.name == "flow"
    assert ex.status.overall_status in ("Queued", "Executing", "Succeeded")
    assert fleet.job(ex.id)["name"] == "flow"

    # refresh: the status as the service says it, in the seed's words, with its steps.
    ex.refresh()
    raw = fleet.job(ex.id)
    assert ex.status.status in ("queued", "running", "succeeded") and raw["job_id"] == ex.id
    assert [s.name for s in ex.status.step_details][:1] == ["validate"]
    assert ex.status.units_total in (None, 0, 2 * n)

    # wait: plain progress lines on a pipe (stderr under capsys is not a terminal).
    ex.wait(poll=0.2, timeout=600)
    err = capsys.readouterr().err
    assert ex.status.overall_status == "Succeeded" and ex.status.done
    assert ex.status.units_done == ex.status.units_total == 2 * n
    last = [l for l in err.splitlines() if "record-targets" in l][-1]
    assert f"100% {2 * n}/{2 * n} record-targets  Succeeded" in last, err
    assert ex.status.step_details and all(s.status == "Succeeded" for s in ex.status.step_details
                                          if s.name in ("validate", "infer+judge", "collect"))

    # A terminal's bar, redrawn in place (wait() on an ended job still draws its last state).
    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    ex.wait(poll=0.2, timeout=60)
    monkeypatch.undo()
    assert term.getvalue().startswith("\r\033[K[" + "#" * 30 + "] 100%") and term.getvalue().endswith("\n")

    assert ex.output == fleet.job(ex.id)["output"]
    records = read_records(ex.output)
    with open(os.path.join(ex.output, "summary.json")) as f:
        summary_file = json.load(f)

    # results(): every row through pages, equal to records.jsonl (same order as the service's pages).
    rows = list(ex.results(page_size=37))
    assert len(rows) == 2 * n == len(records)
    key = lambda r: (r["record_index"], r["target"])  # noqa: E731
    assert sorted(rows, key=key) == sorted(records, key=key)
    assert rows == fleet.call("GET", f"/v1/jobs/{ex.id}/results?offset=0&limit=1000")[1]["records"]
    page = ex.results_page(limit=7, offset=10)
    assert page["total"] == 2 * n and page["records"] == rows[10:17]

    # summary(): summary.json as written, and consistent with the records.
    summary = ex.summary()
    assert summary == summary_file
    check_summary(summary, records)
    assert set(summary["targets"]) == {"custom", "base"} and set(summary["comparison"]) >= set(METRICS + ["Tone"])

    # show_results: plain text without pandas ...
    monkeypatch.setenv("LLMAJ_NO_PANDAS", "1")
    ex.show_results(limit=5, offset=2, show_explanations=True)
    text = capsys.readouterr().out.splitlines()
    assert text[0] == f"job {ex.id}: rows 3-7 of {2 * n} (one per record and model)"
    head = text[1].split()
    assert head[:5] == ["record", "target", "model", "prompt", "response"]
    assert "Correctness" in head and "explanation" in head
    assert len(text) == 2 + 1 + 5   # title, header, rule, five rows
    for line, r in zip(text[3:], rows[2:7]):
        assert line.startswith(str(r["record_id"])) and r["target"] in line and r["model"] in line
        assert f"{r['scores']['Correctness']['rating']} (" in line
    ex.show_results(limit=10, offset=2 * n)
    assert f"no row from row {2 * n + 1} on" in capsys.readouterr().out
    with pytest.raises(ImportError, match="pip install pandas"):
        ex.to_pandas()
    monkeypatch.delenv("LLMAJ_NO_PANDAS")

    # ... and a pandas DataFrame when pandas is installed.
    pd = pytest.importorskip("pandas")
    ex.show_results(limit=4, offset=0, show_explanations=False)
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"job {ex.id}: rows 1-4 of {2 * n} (one per record and model)"
    assert "Correctness" in out and "explanation" not in out and rows[0]["model"] in out
    df = ex.to_pandas(page_size=50)
    assert isinstance(df, pd.DataFrame) and len(df) == 2 * n
    assert list(df["record_id"]) == [r["record_id"] for r in rows]
    for m in METRICS + ["Tone"]:
        assert list(df[f"{m}.rating"]) == [r["scores"][m]["rating"] for r in rows]
        assert list(df[f"{m}.status"]) == [r["scores"][m]["status"] for r in rows]
    mean = df[df.target == "custom"]["Correctness.normalized"].mean()
    assert abs(mean - summary["targets"]["custom"]["metrics"]["Correctness"]["mean"]) < 1e-9

    # get(id): the same job, from the class and from EvaluationPipelineExecution (the seed's arn=).
    again = LLMAsJudgeEvaluator.get(ex.id, region="us-west-2", scheduler=fleet.url, token=TOKEN)
    assert again.id == ex.id and again.status.overall_status == "Succeeded" and again.name == "flow"
    # The viewer's page for it (served without the token: the page asks for it).
    assert ex.viewer_url == f"{fleet.url}/jobs/{ex.id}"
    st, page = fleet.call("GET", ex.viewer_url[len(fleet.url):], token="")
    assert st == 200 and "<html" in page.lower()
    by_arn = EvaluationPipelineExecution.get(arn=ex.arn, scheduler=fleet.url, token=TOKEN)
    assert by_arn.raw["progress"]["units_done"] == 2 * n


def test_get_all_status_and_limit(fleet, monkeypatch):
    # The environment's settings are used when scheduler= and token= are not given.
    monkeypatch.setenv("LLMAJ_SCHEDULER", fleet.url)
    monkeypatch.setenv("LLMAJ_TOKEN", TOKEN)
    a = evaluator(fleet, 10, "list-a", scheduler=None, token=None).evaluate().wait(poll=0.2, progress=False)
    b = evaluator(fleet, 10, "list-b", scheduler=None, token=None).evaluate().wait(poll=0.2, progress=False)
    assert a.status.overall_status == b.status.overall_status == "Succeeded"
    listed = fleet.call("GET", "/v1/jobs")[1]["jobs"]
    everything = list(LLMAsJudgeEvaluator.get_all())
    assert [e.id for e in everything] == [j["job_id"] for j in listed]
    assert {a.id, b.id} <= {e.id for e in everything}
    ok = [j["job_id"] for j in listed if j["status"] == "succeeded"]
    assert [e.id for e in LLMAsJudgeEvaluator.get_all(status="succeeded")] == ok
    assert [e.id for e in LLMAsJudgeEvaluator.get_all(status="Succeeded", limit=2)] == ok[:2]
    assert list(LLMAsJudgeEvaluator.get_all(status="succeeded", limit=0)) == []
    ended_badly = [j["job_id"] for j in listed if j["status"] in ("stopped", "failed")]
    assert [e.id for e in LLMAsJudgeEvaluator.get_all(status=["Stopped", "failed"])] == ended_badly


# ------------------------------------------------------------------------------------ in a notebook

class ZMQInteractiveShell:   # the class name is what the SDK looks at to know it runs in a kernel
    pass


@pytest.fixture
def notebook(monkeypatch):
    """IPython replaced by a recorder: the SDK only uses get_ipython(), display(...,
    display_id=True) with handle.update(), and HTML."""
    shown = []

    class Handle:
        def update(self, obj):
            shown.append(("update", obj))

    def display(obj, display_id=False):
        shown.append(("display", obj))
        return Handle() if display_id else None

    class HTML:
        def __init__(self, data):
            self.data = data

    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: ZMQInteractiveShell()
    disp = types.ModuleType("IPython.display")
    disp.display, disp.HTML = display, HTML
    ipython.display = disp
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", disp)
    return shown


def test_in_a_notebook_one_bar_and_a_dataframe(fleet, notebook, capsys):
    n = 40
    ex = evaluator(fleet, n, "notebook").evaluate()
    ex.wait(poll=0.2, timeout=600)
    assert ex.status.overall_status == "Succeeded"
    kinds = [k for k, _ in notebook]
    assert kinds[0] == "display" and set(kinds[1:]) <= {"update"}, kinds
    last = notebook[-1][1].data
    assert f'<progress value="{2 * n}" max="{2 * n}"' in last and "Succeeded" in last
    notebook.clear()
    pd = pytest.importorskip("pandas")
    ex.show_results(limit=3, offset=0)
    assert f"rows 1-3 of {2 * n}" in capsys.readouterr().out
    (kind, df), = notebook
    assert kind == "display" and isinstance(df, pd.DataFrame) and len(df) == 3
    assert list(df.columns[:5]) == ["record", "target", "model", "prompt", "response"]
    assert list(df["record"]) == [r["record_id"] for r in ex.results_page(limit=3)["records"]]


# ------------------------------------------------------------------------------------ errors

def test_errors_carry_the_services_list(fleet, tmp_path):
    jobs_before = fleet.call("GET", "/v1/jobs")[1]["jobs"]
    # A bad spec: every problem at once, each with its key.
    with pytest.raises(BadRequestError) as e:
        evaluator(fleet, 5, "bad-spec", builtin_metrics=["Correctnes"], shard_size=0).evaluate()
    assert e.value.status == 400
    keys = {d.key for d in e.value.errors}
    assert {"builtin_metrics[0]", "shard_size"} <= keys, e.value.errors
    assert "builtin_metrics[0]" in str(e.value) and all(d.message for d in e.value.errors)
    # A bad custom metric (the seed's format, with llmaj's lowerIsBetter not a boolean).
    bad_metric = [dict(TONE[0]["customMetricDefinition"], lowerIsBetter="yes")]
    with pytest.raises(BadRequestError) as e:
        evaluator(fleet, 5, "bad-metric", custom_metrics=[{"customMetricDefinition": bad_metric[0]}]).evaluate()
    assert [d.key for d in e.value.errors] == ["custom_metrics[0].customMetricDefinition.lowerIsBetter"], e.value.errors
    # A bad dataset: FILE:LINE for each bad line.
    data = str(tmp_path / "bad.jsonl")
    with open(data, "w") as f:
        f.write('{"prompt": "ok 0"}\n{"referenceResponse": "no prompt"}\n{"prompt": "ok 2"}\nnot json\n')
    with pytest.raises(llmaj.ValidationError) as e:
        evaluator(fleet, 5, "bad-data", dataset=data).evaluate()
    keys = [d.key for d in e.value.errors]
    assert f"{data}:2" in keys and f"{data}:4" in keys, e.value.errors
    assert f"{data}:1" not in keys and f"{data}:3" not in keys
    # Nothing was created.
    assert fleet.call("GET", "/v1/jobs")[1]["jobs"] == jobs_before
    # A bad token, and none.
    for tok in ("wrong-token", ""):
        with pytest.raises(AuthenticationError) as e:
            list(LLMAsJudgeEvaluator.get_all(scheduler=fleet.url, token=tok))
        assert e.value.status == 401 and e.value.errors[0].key == "Authorization", e.value.errors
    with pytest.raises(AuthenticationError):
        evaluator(fleet, 5, "no-token", token="wrong-token").evaluate()
    assert fleet.call("GET", "/v1/jobs")[1]["jobs"] == jobs_before
    # No such job.
    with pytest.raises(NotFoundError) as e:
        LLMAsJudgeEvaluator.get("no-such-job", scheduler=fleet.url, token=TOKEN)
    assert e.value.status == 404 and e.value.errors
    # Nothing to retry in a job that succeeded cleanly: 409 with the service's reason.
    clean = evaluator(fleet, 6, "clean").evaluate().wait(poll=0.2, progress=False)
    assert clean.status.overall_status == "Succeeded"
    with pytest.raises(ConflictError) as e:
        EvaluationPipelineExecution.get(arn=clean.id, scheduler=fleet.url, token=TOKEN).retry()
    assert e.value.status == 409 and e.value.errors and e.value.errors[0].message


# ------------------------------------------------------------------------------------ the walkthrough

@pytest.fixture
def mlflow_server(tmp_path):
    from test_mlflow import MlflowServer, free_port as mlflow_port
    srv = MlflowServer(tmp_path / "mlflow", mlflow_port())
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def test_walkthrough_example(fleet, mlflow_server, tmp_path):
    """examples/sdk_walkthrough.py as a user runs it, against this fleet and a local MLflow
    tracking server (the seed's mlflow_resource_arn); its output is kept."""
    out_dir = os.path.join(os.path.abspath(BUILD), "sdk")
    os.makedirs(out_dir, exist_ok=True)
    env = {**os.environ, "LLMAJ_SCHEDULER": fleet.url, "LLMAJ_TOKEN": TOKEN,
           "EXAMPLE_OUTPUT": str(tmp_path / "runs"), "EXAMPLE_MODEL_PACKAGE": MODEL_PACKAGE,
           "EXAMPLE_MLFLOW": mlflow_server.url,
           "PYTHONPATH": os.path.join(SRC, "sdk", "python", "src"),
           "COLUMNS": "160"}
    env.pop("LLMAJ_NO_PANDAS", None)
    jobs_before = len(fleet.call("GET", "/v1/jobs")[1]["jobs"])
    p = subprocess.run([sys.executable, os.path.join(SRC, "examples", "sdk_walkthrough.py")], env=env,
                       capture_output=True, text=True, timeout=900, cwd=str(tmp_path))
    with open(os.path.join(out_dir, "sdk_walkthrough.out"), "w") as f:
        f.write(p.stdout)
    with open(os.path.join(out_dir, "sdk_walkthrough.err"), "w") as f:
        f.write(p.stderr)
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-4000:]
    out = p.stdout
    assert "Created evaluator with 2 custom metrics" in out
    assert out.count("Final status: Succeeded") == 3, out
    assert "Evaluation job started!" in out and out.count("Evaluation started!") == 2
    job_a = [l.split(": ", 1)[1] for l in out.splitlines() if l.startswith("Job ARN: ")][0]
    job_pkg, job_nova = [l.split(": ", 1)[1].strip() for l in out.splitlines() if l.strip().startswith("ARN: ")]
    a, pkg, nova = fleet.job(job_a), fleet.job(job_pkg), fleet.job(job_nova)
    assert a["name"] == "walkthrough" and a["status"] == "succeeded"
    assert pkg["name"] == "walkthrough-package" and pkg["status"] == "succeeded"
    assert nova["name"] == "walkthrough-nova" and nova["status"] == "succeeded"
    # The comparison it prints is the service's summary, BadMetric oriented lower-is-better.
    summary = fleet.call("GET", f"/v1/jobs/{job_a}/summary")[1]
    for metric in ("Completeness", "Faithfulness", "GoodMetric", "BadMetric"):
        c = summary["comparison"][metric]
        assert f"{metric:<20} mean diff {c['mean_diff']:+.3f}  wins {c['wins']}" in out, metric
    # get_all() ran after the first job, before the second: every earlier job and the first.
    assert f"Found {jobs_before + 1} LLM-as-Judge evaluation jobs" in out
    assert "  - walkthrough: Succeeded" in out
    assert f"Results viewer: {fleet.url}/jobs/{job_a}" in out
    # Its records: every dataset record; the package's endpoint (and its base model), the Nova
    # model by its seed name.
    assert len(read_records(a["output"])) == 80
    rows = read_records(nova["output"])
    assert {r["model"] for r in rows} == {"nova-textgeneration-lite"} and len(rows) == 40
    rows = read_records(pkg["output"])   # the seed's default: the package's base model evaluated too
    assert len(rows) == 80 and {r["target"] for r in rows} == {"custom", "base"}
    assert {r["model"] for r in rows if r["target"] == "custom"} == {"sagemaker/gamma-28-endpoint"}
    assert {r["model"] for r in rows if r["target"] == "base"} == {"nova-textgeneration-lite"}
    assert all(s["status"] == "ok" for r in rows for s in r["scores"].values())
    judged = fleet.fast.stats()
    assert judged["requests"]["invocations"] >= 40 and judged["requests"]["converse"] > 0, judged
    # Every job of the walkthrough logged to MLflow (the service's mlflow step, which may still be
    # going when the job reads succeeded): runs tagged with the job's id, finished.
    for job in (job_a, job_pkg, job_nova):
        fleet.wait(job, lambda j: [s["status"] for s in j["steps"] if s["name"] == "mlflow"] == ["succeeded"],
                   what="its mlflow step")
    exps = mlflow_server.post("experiments/search", {"max_results": 100})["experiments"]
    ids = [e["experiment_id"] for e in exps]
    for job in (job_a, job_pkg, job_nova):
        found = mlflow_server.post("runs/search", {"experiment_ids": ids, "max_results": 100,
                                                   "filter": f"tags.`llmaj.job_id` = '{job}'"}).get("runs", [])
        assert found and all(r["info"]["status"] == "FINISHED" for r in found), (job, found)
    assert "INFO - llmaj - llmaj job " in p.stderr   # the seed's logging set-up shows the SDK's log


# ------------------------------------------------------------------------------------ stop and retry (last)

def test_cache_and_reuse_responses_from_python(fleet):
    """cache=True and reuse_responses_from= (an execution or its id) from the evaluator: a second
    identical job is answered from the scheduler's cache; a job reusing another's responses (no
    dataset given) judges them with a new metric and sends no inference call."""
    n, metrics = 20, len(METRICS) + len(TONE)
    first = evaluator(fleet, n, "sdk-cache-1", cache=True).evaluate().wait(poll=0.2, progress=False)
    assert first.status.overall_status == "Succeeded"
    assert first.summary()["cache"]["inference_hits"] == 0
    again = evaluator(fleet, n, "sdk-cache-2", cache=True).evaluate().wait(poll=0.2, progress=False)
    assert again.status.overall_status == "Succeeded"
    c = again.summary()["cache"]
    assert c["enabled"] is True, c
    assert c["inference_hits"] == 2 * n and c["judge_hits"] == 2 * n * metrics, c
    assert "cache=True" in repr(evaluator(fleet, n, "sdk-cache-3", cache=True))

    reuse = LLMAsJudgeEvaluator(evaluator_model="openai-api/fast/judge", builtin_metrics=["Relevance"],
                                reuse_responses_from=first, name="sdk-reuse", scheduler=fleet.url, token=TOKEN)
    assert reuse.to_spec()["reuse_responses_from"] == first.id and "dataset" not in reuse.to_spec()
    done = reuse.evaluate().wait(poll=0.2, progress=False)
    assert done.status.overall_status == "Succeeded"
    c = done.summary()["cache"]
    assert c["reused_from"] == first.id and c["reused_responses"] == 2 * n, c
    def responses(ex):
        return {(r["record_index"], r["target"]): r["response"] for r in read_records(ex.output)}
    assert responses(done) == responses(first)
    for r in read_records(done.output):
        assert set(r["scores"]) == {"Relevance"}, r
    # Reusing by id works too; a job that does not exist is refused with the key named.
    assert LLMAsJudgeEvaluator(evaluator_model="openai-api/fast/judge", builtin_metrics=["Relevance"],
                               reuse_responses_from=first.id, scheduler=fleet.url,
                               token=TOKEN).to_spec()["reuse_responses_from"] == first.id
    with pytest.raises(BadRequestError) as e:
        LLMAsJudgeEvaluator(evaluator_model="openai-api/fast/judge", builtin_metrics=["Relevance"],
                            reuse_responses_from="no-such-job-xyz", scheduler=fleet.url, token=TOKEN).evaluate()
    assert any(x.key == "reuse_responses_from" for x in e.value.errors), e.value.errors
    with pytest.raises(ValueError):
        LLMAsJudgeEvaluator(evaluator_model="openai-api/fast/judge", builtin_metrics=["Relevance"],
                            scheduler=fleet.url, token=TOKEN)   # neither a dataset nor a job to reuse


def test_stop_a_running_job_then_retry(fleet, monkeypatch):
    """A long job on the slow mock (every call 250 ms: minutes of work): watched while it runs,
    wait(timeout=) running out, stop(), then retry() against the fast mock runs the records it never
    reached; every record once in the end."""
    n = 1500
    ex = evaluator(fleet, n, "long", svc="slow", custom_metrics=None).evaluate()
    deadline = time.time() + 300
    while not (ex.status.status == "running" and (ex.status.units_done or 0) > 0):
        assert time.time() < deadline, ex.raw
        time.sleep(0.2)
        ex.refresh()
    running = [e.id for e in LLMAsJudgeEvaluator.get_all(status="Executing", scheduler=fleet.url, token=TOKEN)]
    assert ex.id in running
    assert ex.summary() is None   # not written while it runs
    # wait() on the running job: a terminal's bar part-way, redrawn in place, until the timeout.
    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    with pytest.raises(WaitTimeoutError, match="it goes on"):
        ex.wait(poll=0.1, timeout=0.5)
    monkeypatch.undo()
    assert not ex.status.done
    draws = term.getvalue().rstrip("\n").split("\r\033[K")[1:]
    assert draws and all("Executing" in d and f"/{2 * n} record-targets" in d for d in draws), draws
    assert " 100% " not in draws[-1] and "#" * 30 not in draws[-1]
    with pytest.raises(ConflictError):
        ex.retry()   # not ended yet

    ex.stop()
    assert ex.status.overall_status in ("Stopping", "Stopped")
    ex.wait(poll=0.2, timeout=600, progress=False)
    assert ex.status.overall_status == "Stopped"
    done_at_stop = ex.status.units_done
    assert 0 < done_at_stop < 2 * n
    partial = ex.summary()
    assert partial["status"] == "stopped" and partial["partial"] is True
    assert len(list(ex.results())) == len(read_records(ex.output))

    # Retry, with the workers now reaching the fast mock as "slow": the rest runs.
    fleet.swap_workers(dict(fleet.env, SLOW_BASE_URL=fleet.fast.url + "/v1"))
    ex.retry()
    assert ex.status.overall_status in ("Queued", "Executing", "Succeeded")
    ex.wait(poll=0.5, timeout=900, progress=False)
    assert ex.status.overall_status == "Succeeded", ex.raw
    rows = list(ex.results(page_size=1000))
    keys = [(r["record_index"], r["target"]) for r in rows]
    assert len(keys) == len(set(keys)) == 2 * n
    assert all(s["status"] == "ok" for r in rows for s in r["scores"].values())
    final = ex.summary()
    assert final["status"] == "succeeded" and not final.get("partial")
    check_summary(final, read_records(ex.output))
