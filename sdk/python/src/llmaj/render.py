"""What the client shows a person: result tables (a pandas DataFrame when pandas is installed,
plain text otherwise) and the progress bar of ``wait()`` (an updating HTML bar in a notebook, a
bar redrawn in place on a terminal, a line now and then elsewhere).

Text from a job (prompts, responses, explanations) is untrusted: in plain text, control
characters are replaced and long values clipped; in a notebook, pandas escapes HTML."""
from __future__ import annotations

import html
import os
import sys
import time
from typing import Any, Dict, List, Optional, Sequence

CLIP = 80            # characters of prompt and response shown in a table cell
EXPL_CLIP = 300      # characters of an explanation in the plain-text table
BAR = 30


def _pandas() -> Any:
    """pandas when it is installed (and not disabled with LLMAJ_NO_PANDAS=1), else None."""
    if os.environ.get("LLMAJ_NO_PANDAS") == "1":
        return None
    try:
        import pandas  # type: ignore
    except ImportError:
        return None
    return pandas


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython  # type: ignore
    except ImportError:
        return False
    ip = get_ipython()
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def clean(s: Any, clip: Optional[int]) -> str:
    """One line of text: control characters shown as spaces or \\uXXXX, clipped with an ellipsis."""
    if s is None:
        return ""
    t = str(s)
    out = []
    for ch in t:
        if ch in "\n\r\t":
            out.append(" ")
        elif ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 or ch in "\u2028\u2029\u202e\u202d\u2066\u2067\u2068\u2069":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    t = "".join(out)
    if clip is not None and len(t) > clip:
        t = t[: max(0, clip - 1)] + "\u2026"
    return t


def _metrics(rows: Sequence[Dict[str, Any]]) -> List[str]:
    names: List[str] = []
    for r in rows:
        for m in (r.get("scores") or {}):
            if m not in names:
                names.append(m)
    return names


def _rating_cell(s: Optional[Dict[str, Any]]) -> str:
    if not s:
        return ""
    status = s.get("status")
    if status != "ok":
        return f"{s.get('rating')} ({status})" if s.get("rating") else str(status)
    score = s.get("score")
    if isinstance(score, (int, float)):
        return f"{s.get('rating')} ({score:g})"
    return str(s.get("rating"))


def table_rows(rows: Sequence[Dict[str, Any]], explanations: bool, clip: Optional[int]) -> List[Dict[str, Any]]:
    """The rows as flat dicts: record, target, model, prompt, response, then one column per
    metric (its rating and score), and ``<metric> explanation`` columns when asked."""
    metrics = _metrics(rows)
    out = []
    for r in rows:
        d: Dict[str, Any] = {"record": r.get("record_id"), "target": r.get("target"), "model": r.get("model"),
                             "prompt": clean(r.get("prompt"), clip), "response": clean(r.get("response"), clip)}
        if r.get("error"):
            d["error"] = clean(r.get("error"), clip)
        scores = r.get("scores") or {}
        for m in metrics:
            d[m] = _rating_cell(scores.get(m))
            if explanations:
                d[m + " explanation"] = clean((scores.get(m) or {}).get("explanation"), None if clip is None else EXPL_CLIP)
        out.append(d)
    return out


def frame(rows: Sequence[Dict[str, Any]], explanations: bool = True, clip: Optional[int] = None) -> Any:
    """Every row as a DataFrame with one column per (metric, field). Needs pandas."""
    pd = _pandas()
    if pd is None:
        raise ImportError("to_pandas() needs pandas: pip install pandas (or `pip install llmaj[pandas]`)")
    flat = []
    for r in rows:
        d: Dict[str, Any] = {k: r.get(k) for k in ("record_index", "record_id", "target", "model", "category",
                                                   "prompt", "response", "reference", "error", "latency_ms")}
        for m, s in (r.get("scores") or {}).items():
            for f in ("rating", "score", "normalized", "status") + (("explanation",) if explanations else ()):
                d[f"{m}.{f}"] = (s or {}).get(f)
        flat.append(d)
    return pd.DataFrame(flat)


def text_table(rows: List[Dict[str, Any]]) -> str:
    """A plain-text table; columns as wide as their widest cell (cells are already clipped)."""
    if not rows:
        return ""
    cols: List[str] = []
    for r in rows:
        for k in r:
            if k not in cols:
                cols.append(k)
    width = {c: max(len(c), *(len(str(r.get(c, "") if r.get(c) is not None else "")) for r in rows)) for c in cols}
    lines = ["  ".join(c.ljust(width[c]) for c in cols).rstrip(),
             "  ".join("-" * width[c] for c in cols)]
    for r in rows:
        lines.append("  ".join(str(r.get(c, "") if r.get(c) is not None else "").ljust(width[c]) for c in cols).rstrip())
    return "\n".join(lines)


def show_page(job_id: str, page: Dict[str, Any], offset: int, explanations: bool, out: Any = None) -> None:
    """Shows one page of results (the seed's show_results)."""
    out = out or sys.stdout
    rows = list(page.get("records") or [])
    total = page.get("total", len(rows))
    if not rows:
        print(f"job {job_id}: no row from row {offset + 1} on (it has {total} row(s) so far)", file=out)
        return
    head = f"job {job_id}: rows {offset + 1}-{offset + len(rows)} of {total} (one per record and model)"
    flat = table_rows(rows, explanations, CLIP)
    pd = _pandas()
    if pd is not None:
        df = pd.DataFrame(flat)
        if _in_notebook():
            from IPython.display import display  # type: ignore
            print(head, file=out)
            display(df)
            return
        with pd.option_context("display.max_columns", None, "display.width", 250, "display.max_colwidth", CLIP):
            print(head + "\n" + df.to_string(index=False), file=out)
        return
    print(head + "\n" + text_table(flat), file=out)


# ---- progress ----

def _eta(seconds: float) -> str:
    if seconds < 0 or seconds != seconds:
        return "--"
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds // 60:.0f}m{seconds % 60:02.0f}s"
    return f"{seconds // 3600:.0f}h{seconds % 3600 // 60:02.0f}m"


def progress_text(status: Any, elapsed: float, rate: Optional[float] = None) -> str:
    """One line: bar, percent, record-targets done, scores, ETA."""
    done, total = status.units_done or 0, status.units_total or 0
    frac = done / total if total else (1.0 if status.done else 0.0)
    filled = int(frac * BAR)
    eta = "--"
    if rate and rate > 0 and total and not status.done:
        eta = _eta((total - done) / rate)
    sc = status.scores or {}
    scores = f"  scores ok {sc.get('ok', 0)} unscored {sc.get('unscored', 0)} errors {sc.get('error', 0)}" if sc else ""
    return (f"[{'#' * filled}{'.' * (BAR - filled)}] {frac * 100:3.0f}% {done}/{total} record-targets  "
            f"{status.overall_status}  ETA {eta}{scores}")


class Progress:
    """The bar ``wait()`` draws. ``start(enabled=None)`` picks the kind: notebook, terminal, or
    plain lines at most every 30 s (also on a change of status)."""

    def __init__(self, kind: str, out: Any) -> None:
        self.kind = kind
        self.out = out
        self.handle: Any = None
        self.first: Optional[tuple] = None   # (elapsed, done) of the first update, for the rate
        self.last_line = -1e9
        self.last_status: Optional[str] = None

    @classmethod
    def start(cls, enabled: Optional[bool] = None, out: Any = None) -> "Progress":
        out = out or sys.stderr
        if enabled is False:
            return cls("none", out)
        if _in_notebook():
            return cls("notebook", out)
        if hasattr(out, "isatty") and out.isatty():
            return cls("tty", out)
        return cls("lines", out)

    def _rate(self, status: Any, elapsed: float) -> Optional[float]:
        done = status.units_done or 0
        if self.first is None:
            self.first = (elapsed, done)
            return None
        dt, dd = elapsed - self.first[0], done - self.first[1]
        return dd / dt if dt > 0 and dd > 0 else None

    def update(self, status: Any, elapsed: float) -> None:
        if self.kind == "none":
            return
        line = progress_text(status, elapsed, self._rate(status, elapsed))
        if self.kind == "notebook":
            from IPython.display import HTML, display  # type: ignore
            done, total = status.units_done or 0, status.units_total or 0
            body = HTML(f'<progress value="{done}" max="{max(total, 1)}" style="width:320px"></progress> '
                        f'<code>{html.escape(line.split("] ", 1)[-1])}</code>')
            if self.handle is None:
                self.handle = display(body, display_id=True)
            else:
                self.handle.update(body)
        elif self.kind == "tty":
            self.out.write("\r\033[K" + line)
            self.out.flush()
        else:
            now = time.monotonic()
            if status.done or status.status != self.last_status or now - self.last_line >= 30:
                self.out.write(line + "\n")
                self.out.flush()
                self.last_line = now
        self.last_status = status.status

    def close(self) -> None:
        if self.kind == "tty":
            self.out.write("\n")
            self.out.flush()
