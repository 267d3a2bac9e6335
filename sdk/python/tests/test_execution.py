"""An execution: refresh, wait (to the end, timeout, progress lines), stop, retry, summary,
results paging, show_results (pandas and plain text), to_pandas."""
import pytest

import llmaj
from llmaj import EvaluationPipelineExecution


def execution(service, job_id):
    return EvaluationPipelineExecution.get(arn=job_id, scheduler=service.url)


def test_refresh_and_status(service):
    service.add_job("j-1", status="running", n_records=10)   # 20 record-targets, 10 more per read
    ex = execution(service, "j-1")
    assert ex.status.overall_status == "Executing" and ex.status.units_done == 10 and ex.status.units_total == 20
    assert [s.name for s in ex.status.step_details] == ["validate", "infer+judge"]
    assert ex.status.step_details[0].status == "Succeeded"
    assert ex.refresh() is ex and ex.status.overall_status == "Succeeded" and ex.status.done


def test_wait_until_done(service, capsys):
    service.step = 4
    service.add_job("j-w", status="running", n_records=10)
    ex = execution(service, "j-w")
    # wait() draws on stderr (not a terminal here): a line per change of status, the last at 100%.
    assert ex.wait(poll=0.01, timeout=30) is ex
    assert ex.status.overall_status == "Succeeded"
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith("[##############################] 100% 20/20 record-targets  Succeeded")


def test_wait_timeout(service):
    service.step = 0
    service.add_job("j-t", status="running")
    ex = execution(service, "j-t")
    with pytest.raises(llmaj.WaitTimeoutError, match="still running") as e:
        ex.wait(poll=0.05, timeout=0.2, progress=False)
    assert isinstance(e.value, TimeoutError)
    with pytest.raises(ValueError):
        ex.wait(poll=0)


def test_stop_and_retry(service):
    service.step = 1
    service.add_job("j-s", status="running")
    ex = execution(service, "j-s").stop()
    assert ex.status.overall_status in ("Stopping", "Stopped")
    ex.wait(poll=0.01, timeout=10, progress=False)
    assert ex.status.overall_status == "Stopped"
    ex.retry(unscored=True)
    assert [r["path"] for r in service.requests if r["method"] == "POST"] == ["/v1/jobs/j-s/stop", "/v1/jobs/j-s/retry"]
    assert ex.status.overall_status == "Executing"


def test_summary_none_while_running(service):
    service.step = 0
    service.add_job("j-r", status="running")
    assert execution(service, "j-r").summary() is None
    service.add_job("j-x", status="failed")   # ended without a summary: the 404 is an error
    with pytest.raises(llmaj.NotFoundError):
        execution(service, "j-x").summary()
    service.add_job("j-d", status="succeeded", summary={"job_id": "j-d", "targets": {"custom": {}}})
    assert execution(service, "j-d").summary()["job_id"] == "j-d"


def test_results_iterates_every_row(service):
    service.add_job("j-rows", status="succeeded", n_records=30)
    rows = list(execution(service, "j-rows").results(page_size=7))
    assert len(rows) == 60 and rows[0]["target"] == "custom" and rows[1]["target"] == "base"
    assert execution(service, "j-rows").results_page(limit=3, offset=58)["records"][-1]["record_index"] == 29


def test_show_results_plain_text(service, capsys, monkeypatch):
    monkeypatch.setenv("LLMAJ_NO_PANDAS", "1")
    service.add_job("j-txt", status="succeeded", n_records=6)
    execution(service, "j-txt").show_results(limit=4, offset=8, show_explanations=True)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "job j-txt: rows 9-12 of 12 (one per record and model)"
    assert out[1].split() == ["record", "target", "model", "prompt", "response", "Correctness", "Correctness",
                              "explanation", "BadMetric", "BadMetric", "explanation"]
    assert "r4" in out[3] and "Question 4 with a tab" in out[3] and "unscored" in out[3]   # tab shown as a space
    assert "correct (2)" in out[5] and "because 5" in out[5]
    execution(service, "j-txt").show_results(limit=4, offset=100)
    assert "no row from row 101 on (it has 12 row(s) so far)" in capsys.readouterr().out


def test_show_results_and_to_pandas_with_pandas(service, capsys):
    pd = pytest.importorskip("pandas")
    service.add_job("j-pd", status="succeeded", n_records=3)
    ex = execution(service, "j-pd")
    ex.show_results(limit=2, offset=0, show_explanations=False)
    out = capsys.readouterr().out
    assert "rows 1-2 of 6" in out and "incorrect (0)" in out and "explanation" not in out
    df = ex.to_pandas(page_size=2)
    assert isinstance(df, pd.DataFrame) and len(df) == 6
    assert list(df["Correctness.rating"][:3]) == ["incorrect", "incorrect", "correct"]
    assert df.loc[0, "Correctness.explanation"] == "because 0" and df.loc[0, "prompt"] == "Question 0\twith a tab"


def test_to_pandas_without_pandas(service, monkeypatch):
    monkeypatch.setenv("LLMAJ_NO_PANDAS", "1")
    service.add_job("j-np", status="succeeded")
    with pytest.raises(ImportError, match="pip install pandas"):
        execution(service, "j-np").to_pandas()
