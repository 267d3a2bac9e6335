"""In a notebook (an IPython kernel), wait() draws one HTML progress bar that it updates in place,
and show_results() displays a DataFrame. IPython is replaced by a recording fake: the client only
uses get_ipython(), display(..., display_id=True) with handle.update(), and HTML."""
import sys
import types

import pytest

from llmaj import EvaluationPipelineExecution


class ZMQInteractiveShell:   # the class name is what the client looks at
    pass


@pytest.fixture
def notebook(monkeypatch):
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


def test_wait_updates_one_html_bar(service, notebook):
    service.step = 5
    service.add_job("j-nb", status="running", n_records=10)
    ex = EvaluationPipelineExecution.get(arn="j-nb", scheduler=service.url)
    ex.wait(poll=0.01, timeout=30)
    kinds = [k for k, _ in notebook]
    assert kinds[0] == "display" and set(kinds[1:]) == {"update"} and len(kinds) >= 2
    last = notebook[-1][1].data
    assert '<progress value="20" max="20"' in last and "Succeeded" in last


def test_show_results_displays_a_dataframe(service, notebook, capsys):
    pd = pytest.importorskip("pandas")
    service.add_job("j-df", status="succeeded", n_records=2)
    EvaluationPipelineExecution.get(arn="j-df", scheduler=service.url).show_results(limit=3)
    assert "rows 1-3 of 4" in capsys.readouterr().out
    (kind, df), = notebook
    assert kind == "display" and isinstance(df, pd.DataFrame) and len(df) == 3
    assert list(df.columns[:5]) == ["record", "target", "model", "prompt", "response"]
