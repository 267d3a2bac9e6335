"""One evaluation job on the scheduler service, as the seed's ``EvaluationPipelineExecution``.

llmaj has no ARNs: ``arn`` is the job id (``id`` and ``job_id`` are the same). ``status`` is a
:class:`PipelineStatus` whose ``overall_status`` uses the seed's words (``Executing``,
``Succeeded``, ``Failed``, ``Stopping``, ``Stopped``; ``Queued`` before a job starts) and whose
``status`` keeps llmaj's own (``queued``, ``running``, ...)."""
from __future__ import annotations

import logging
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional

from . import render
from .client import Client
from .errors import NotFoundError, WaitTimeoutError

log = logging.getLogger("llmaj")

TERMINAL = ("succeeded", "failed", "stopped")
OVERALL = {"queued": "Queued", "running": "Executing", "stopping": "Stopping", "stopped": "Stopped",
           "succeeded": "Succeeded", "failed": "Failed"}
STEP = {"pending": "Pending", "running": "Executing", "succeeded": "Succeeded", "failed": "Failed",
        "stopped": "Stopped", "skipped": "Skipped"}


def _seed_word(table: Dict[str, str], s: Optional[str]) -> str:
    if not s:
        return "Unknown"
    return table.get(s, s[:1].upper() + s[1:])


@dataclass
class StepDetail:
    """One step of a job (validate, infer+judge, collect, mlflow)."""

    name: str
    status: str
    detail: Optional[str] = None


@dataclass
class PipelineStatus:
    """Where a job is. ``overall_status`` as the seed reads it; ``status`` is llmaj's value."""

    overall_status: str
    status: str
    step_details: List[StepDetail] = field(default_factory=list)
    units_done: Optional[int] = None
    units_total: Optional[int] = None
    scores: Dict[str, int] = field(default_factory=dict)
    failure_reason: Optional[str] = None
    created_at: Optional[str] = None
    started_at: Optional[str] = None
    ended_at: Optional[str] = None

    @classmethod
    def from_job(cls, job: Dict[str, Any]) -> "PipelineStatus":
        st = str(job.get("status") or "")
        progress = job.get("progress") or {}
        steps = []
        for s in job.get("steps") or []:
            if isinstance(s, dict):
                steps.append(StepDetail(str(s.get("name") or ""), _seed_word(STEP, s.get("status")), s.get("detail")))
        return cls(overall_status=_seed_word(OVERALL, st), status=st, step_details=steps,
                   units_done=progress.get("units_done"), units_total=progress.get("units_total"),
                   scores=dict(progress.get("scores") or {}), failure_reason=job.get("error"),
                   created_at=job.get("created_at"), started_at=job.get("started_at"), ended_at=job.get("ended_at"))

    @property
    def done(self) -> bool:
        """The job has ended (succeeded, failed or stopped)."""
        return self.status in TERMINAL


class EvaluationPipelineExecution:
    """A job on the scheduler. Made by ``LLMAsJudgeEvaluator.evaluate()``, ``.get()`` and
    ``.get_all()``, or by :meth:`get` here (the seed's ``EvaluationPipelineExecution.get(arn=...)``)."""

    def __init__(self, job: Dict[str, Any], client: Client) -> None:
        self._client = client
        self._job: Dict[str, Any] = {}
        self._update(job)

    def _update(self, job: Dict[str, Any]) -> None:
        self._job = dict(job)
        self.status = PipelineStatus.from_job(self._job)

    # ---- identity ----

    @property
    def id(self) -> str:
        return str(self._job.get("job_id"))

    job_id = id
    arn = id

    @property
    def name(self) -> str:
        """The job's name (the spec's ``name``), else its id."""
        return str(self._job.get("name") or self.id)

    @property
    def viewer_url(self) -> str:
        """The job's page in the service's results viewer (it asks for the token once, if the
        service has one)."""
        return f"{self._client.url}/jobs/{urllib.parse.quote(self.id, safe='')}"

    @property
    def output(self) -> Optional[str]:
        """Where the job's result files are (on the scheduler's side)."""
        return self._job.get("output")

    @property
    def raw(self) -> Dict[str, Any]:
        """The job object as the service last gave it."""
        return dict(self._job)

    def __repr__(self) -> str:
        return (f"EvaluationPipelineExecution(arn={self.id!r}, name={self.name!r}, "
                f"overall_status={self.status.overall_status!r}, scheduler={self._client.url!r})")

    def __rich_repr__(self) -> Iterator[Any]:
        yield "arn", self.id
        yield "name", self.name
        yield "status", self.status
        yield "output", self.output
        yield "scheduler", self._client.url

    # ---- retrieving ----

    @classmethod
    def get(cls, arn: Optional[str] = None, region: Optional[str] = None, scheduler: Optional[str] = None,
            token: Optional[str] = None, id: Optional[str] = None, client: Optional[Client] = None,
            ) -> "EvaluationPipelineExecution":
        """The job ``arn`` (its id; ``id=`` is the same). ``region`` is accepted as the seed passes
        it, and not needed: the scheduler knows its jobs."""
        job_id = arn or id
        if not job_id:
            raise ValueError("EvaluationPipelineExecution.get: give the job's arn (its id)")
        c = client or Client(scheduler=scheduler, token=token)
        return cls(c.job(job_id), c)

    # ---- watching ----

    def refresh(self) -> "EvaluationPipelineExecution":
        """Reads the job's status again from the service."""
        self._update(self._client.job(self.id))
        return self

    def wait(self, poll: float = 5, timeout: Optional[float] = 3600,
             progress: Optional[bool] = None) -> "EvaluationPipelineExecution":
        """Polls every ``poll`` seconds until the job ends, showing a progress bar (in a notebook,
        on a terminal, or a line now and then elsewhere; ``progress=False`` for none). Raises
        WaitTimeoutError after ``timeout`` seconds (None: no limit); the job goes on."""
        if poll <= 0:
            raise ValueError("wait: poll must be > 0 seconds")
        bar = render.Progress.start(enabled=progress)
        start = time.monotonic()
        try:
            while True:
                self.refresh()
                bar.update(self.status, time.monotonic() - start)
                if self.status.done:
                    break
                if timeout is not None and time.monotonic() - start + poll > timeout:
                    raise WaitTimeoutError(f"job {self.id} is still {self.status.status} after {timeout:g}s; "
                                           "it goes on: wait again, or stop() it")
                time.sleep(poll)
        finally:
            bar.close()
        if self.status.status == "failed":
            log.warning("job %s failed: %s", self.id, self.status.failure_reason or "no reason given")
        else:
            log.info("job %s %s", self.id, self.status.status)
        return self

    # ---- acting ----

    def stop(self) -> "EvaluationPipelineExecution":
        """Asks the service to stop the job (no new model call starts for it); it ends Stopped
        with what it committed kept."""
        self._client.stop(self.id)
        return self.refresh()

    def retry(self, unscored: bool = False) -> "EvaluationPipelineExecution":
        """Reruns, in place, the cells of an ended job that ended in error (and unscored ones
        with ``unscored=True``); ``wait()`` again for the new outcome."""
        self._client.retry(self.id, unscored=unscored)
        return self.refresh()

    # ---- results ----

    def summary(self) -> Optional[Dict[str, Any]]:
        """summary.json (means, 95% intervals, comparison, categories). None while the job runs."""
        try:
            return self._client.summary(self.id)
        except NotFoundError:
            if not self.refresh().status.done:
                return None
            raise

    def results(self, page_size: int = 500) -> Iterator[Dict[str, Any]]:
        """Every row (one per record and model, as records.jsonl), fetched page by page."""
        return self._client.all_results(self.id, page_size=page_size)

    def results_page(self, limit: int = 10, offset: int = 0) -> Dict[str, Any]:
        """One page: ``{"total", "records"}``."""
        return self._client.results(self.id, offset=offset, limit=limit)

    def show_results(self, limit: int = 10, offset: int = 0, show_explanations: bool = False) -> None:
        """Shows a page of results as a table: a pandas DataFrame in a notebook (or printed) when
        pandas is installed, plain text otherwise."""
        page = self.results_page(limit=limit, offset=offset)
        render.show_page(self.id, page, offset, show_explanations)

    def to_pandas(self, page_size: int = 500) -> Any:
        """Every row as a pandas DataFrame, one row per record and model, one column per
        (metric, field): ``<metric>.rating``, ``.score``, ``.normalized``, ``.status``,
        ``.explanation``."""
        return render.frame(list(self.results(page_size=page_size)), explanations=True, clip=None)
