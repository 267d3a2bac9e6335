"""What the client prints: cleaned, clipped cells; the plain-text table; the progress line and
the terminal bar."""
import io

from llmaj import render
from llmaj.execution import PipelineStatus


def test_clean_and_clip():
    assert render.clean("a\nb\tc", None) == "a b c"
    assert render.clean("bell\x07 esc\x1b[31m rtl\u202e", None) == "bell\\u0007 esc\\u001b[31m rtl\\u202e"
    assert render.clean("x" * 10, 5) == "xxxx\u2026"
    assert render.clean(None, 5) == ""


def test_text_table_widths():
    t = render.text_table([{"a": "1", "b": "long value"}, {"a": "22", "b": None}]).splitlines()
    assert t[0] == "a   b"
    assert t[1] == "--  ----------"
    assert t[2] == "1   long value" and t[3] == "22"


def status(done, total, st="running"):
    return PipelineStatus.from_job({"status": st, "progress": {"units_done": done, "units_total": total,
                                                               "scores": {"ok": 3, "unscored": 1, "error": 0}}})


def test_progress_text():
    line = render.progress_text(status(15, 60), 10.0, rate=1.5)
    assert line.startswith("[#######.......................]  25% 15/60 record-targets  Executing  ETA 30s")
    assert line.endswith("scores ok 3 unscored 1 errors 0")
    assert "ETA --" in render.progress_text(status(0, 0, "queued"), 0.0)
    assert "100%" in render.progress_text(status(60, 60, "succeeded"), 9.0)
    assert render._eta(3725) == "1h02m" and render._eta(125) == "2m05s"


def test_terminal_bar_redraws_in_place():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    out = Tty()
    bar = render.Progress.start(out=out)
    assert bar.kind == "tty"
    bar.update(status(10, 60), 1.0)
    bar.update(status(40, 60), 3.0)
    bar.close()
    text = out.getvalue()
    assert text.count("\r\033[K") == 2 and text.endswith("\n")
    assert "ETA 1s" in text   # 30 more in 2 s, 20 to go


def test_plain_lines_on_change_only():
    out = io.StringIO()
    bar = render.Progress.start(out=out)
    assert bar.kind == "lines"
    bar.update(status(10, 60), 1.0)
    bar.update(status(20, 60), 2.0)          # same status, within 30 s: no line
    bar.update(status(60, 60, "succeeded"), 3.0)
    assert len(out.getvalue().splitlines()) == 2
    assert render.Progress.start(enabled=False).kind == "none"
