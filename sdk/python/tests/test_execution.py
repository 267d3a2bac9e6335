"""An execution, on states and rows the real service does not produce on demand (the real flow
- refresh, wait, stop, retry, results, show_results, to_pandas - is tests/integration/test_sdk.py):
a job that ended without a summary (the 404 is then an error, not "not yet"), and crafted rows
for show_results' plain text (a tab and an unscored metric in the cells)."""
import pytest

import llmaj
from llmaj import EvaluationPipelineExecution


def execution(service, job_id):
    return EvaluationPipelineExecution.get(arn=job_id, scheduler=service.url)






def test_summary_none_while_running(service):
    service.step = 0
    service.add_job("j-r", status="running")
    assert execution(service, "j-r").summary() is None
    service.add_job("j-x", status="failed")   # ended without a summary: the 404 is an error
    with pytest.raises(llmaj.NotFoundError):
        execution(service, "j-x").summary()
    service.add_job("j-d", status="succeeded", summary={"job_id": "j-d", "targets": {"custom": {}}})
    assert execution(service, "j-d").summary()["job_id"] == "j-d"



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
