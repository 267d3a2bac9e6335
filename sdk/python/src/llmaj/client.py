"""The HTTP client of the scheduler's REST control plane (DESIGN.md "Control plane").

Standard library only (``urllib``). One :class:`Client` holds the service URL, the token and the
timeouts; every call returns the decoded JSON or raises an :mod:`llmaj.errors` exception built
from the service's ``{"errors": [{"key", "message"}]}`` body. GET requests are retried a few
times on a dropped connection or a 502/503/504, with a short growing pause; POST requests are
never retried (a job must not be submitted twice).

Settings: ``scheduler=`` else ``LLMAJ_SCHEDULER`` else ``http://127.0.0.1:8080``; ``token=`` else
``LLMAJ_TOKEN`` (sent as ``Authorization: Bearer``; never logged, never in ``repr``)."""
from __future__ import annotations

import json
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional

from . import __version__
from .errors import ErrorDetail, LLMAJError, SchedulerUnreachableError, ServiceError, error_for_status

DEFAULT_SCHEDULER = "http://127.0.0.1:8080"
ENV_SCHEDULER = "LLMAJ_SCHEDULER"
ENV_TOKEN = "LLMAJ_TOKEN"
RETRY_STATUS = (502, 503, 504)

Opener = Callable[[urllib.request.Request, float], Any]


def _default_open(req: urllib.request.Request, timeout: float) -> Any:
    return urllib.request.urlopen(req, timeout=timeout)  # noqa: S310 (the URL is the user's scheduler)


def _errors_of(body: Any) -> List[ErrorDetail]:
    out: List[ErrorDetail] = []
    if isinstance(body, dict) and isinstance(body.get("errors"), list):
        for e in body["errors"]:
            if isinstance(e, dict):
                out.append(ErrorDetail(str(e.get("key") or ""), str(e.get("message") or "")))
            else:
                out.append(ErrorDetail("", str(e)))
    return out


class Client:
    """A connection to one llmaj scheduler service."""

    def __init__(self, scheduler: Optional[str] = None, token: Optional[str] = None, timeout: float = 30.0,
                 retries: int = 3, opener: Optional[Opener] = None) -> None:
        url = scheduler or os.environ.get(ENV_SCHEDULER) or DEFAULT_SCHEDULER
        if "://" not in url:
            url = "http://" + url
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise LLMAJError(f"scheduler: '{url}' is not an http:// or https:// URL")
        self.url = url.rstrip("/")
        self._token = token if token is not None else (os.environ.get(ENV_TOKEN) or None)
        self.timeout = timeout
        self.retries = max(0, retries)
        self._open = opener or _default_open

    def __repr__(self) -> str:
        return f"Client(scheduler={self.url!r}, token={'set' if self._token else 'none'})"

    # ---- requests ----

    def request(self, method: str, path: str, body: Any = None, query: Optional[Mapping[str, Any]] = None) -> Any:
        """Sends one request; returns the decoded JSON answer (None for an empty body)."""
        url = self.url + path
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        data = None
        headers = {"Accept": "application/json", "User-Agent": f"llmaj-python/{__version__}"}
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        attempts = 1 + (self.retries if method == "GET" else 0)
        for attempt in range(attempts):
            last = attempt == attempts - 1
            req = urllib.request.Request(url, data=data, headers=headers, method=method)
            try:
                with self._open(req, self.timeout) as r:
                    return self._decode(r.read(), method, path, getattr(r, "status", 200))
            except urllib.error.HTTPError as e:
                raw = e.read() if e.fp is not None else b""
                if e.code in RETRY_STATUS and not last:
                    time.sleep(0.2 * 2 ** attempt)
                    continue
                raise self._http_error(e.code, raw, method, path) from None
            except (urllib.error.URLError, socket.timeout, ConnectionError, OSError) as e:
                if not last:
                    time.sleep(0.2 * 2 ** attempt)
                    continue
                reason = getattr(e, "reason", e)
                raise SchedulerUnreachableError(
                    f"{method} {self.url}{path}: no answer from the llmaj scheduler ({reason}); is "
                    f"`llmaj-scheduler --serve` running there? (set scheduler= or {ENV_SCHEDULER})") from None
        raise AssertionError("unreachable")

    @staticmethod
    def _decode(raw: bytes, method: str, path: str, status: int) -> Any:
        if not raw:
            return None
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ServiceError(f"{method} {path}: the answer (HTTP {status}) is not JSON", status) from None

    @staticmethod
    def _http_error(status: int, raw: bytes, method: str, path: str) -> LLMAJError:
        try:
            body = json.loads(raw.decode("utf-8")) if raw else None
        except (UnicodeDecodeError, ValueError):
            body = None
        errors = _errors_of(body)
        what = {400: "the request was refused", 401: "the service needs a valid token (token= or LLMAJ_TOKEN)",
                403: "the token is not allowed to do this", 404: "not found", 409: "not possible now"}.get(
            status, f"HTTP {status}")
        return error_for_status(status, f"{method} {path}: {what}", errors)

    # ---- the endpoints ----

    def submit(self, spec: Mapping[str, Any]) -> Dict[str, Any]:
        """POST /v1/jobs: ``{"job_id", "status"}``."""
        return self.request("POST", "/v1/jobs", body=dict(spec))

    def jobs(self) -> List[Dict[str, Any]]:
        """GET /v1/jobs: every job, newest first."""
        ans = self.request("GET", "/v1/jobs") or {}
        return list(ans.get("jobs") or [])

    def job(self, job_id: str) -> Dict[str, Any]:
        """GET /v1/jobs/{id}."""
        return self.request("GET", "/v1/jobs/" + urllib.parse.quote(job_id, safe=""))

    def stop(self, job_id: str) -> Any:
        """POST /v1/jobs/{id}/stop."""
        return self.request("POST", "/v1/jobs/" + urllib.parse.quote(job_id, safe="") + "/stop")

    def retry(self, job_id: str, unscored: bool = False) -> Any:
        """POST /v1/jobs/{id}/retry (``?unscored=true`` to rerun unscored cells too)."""
        return self.request("POST", "/v1/jobs/" + urllib.parse.quote(job_id, safe="") + "/retry",
                            query={"unscored": "true"} if unscored else None)

    def summary(self, job_id: str) -> Dict[str, Any]:
        """GET /v1/jobs/{id}/summary (NotFoundError before it is written)."""
        return self.request("GET", "/v1/jobs/" + urllib.parse.quote(job_id, safe="") + "/summary")

    def results(self, job_id: str, offset: int = 0, limit: int = 100) -> Dict[str, Any]:
        """GET /v1/jobs/{id}/results?offset&limit: ``{"total", "records"}``."""
        if offset < 0 or limit < 1:
            raise LLMAJError(f"results: offset must be >= 0 and limit >= 1 (got offset={offset}, limit={limit})")
        return self.request("GET", "/v1/jobs/" + urllib.parse.quote(job_id, safe="") + "/results",
                            query={"offset": offset, "limit": limit})

    def all_results(self, job_id: str, page_size: int = 500) -> Iterator[Dict[str, Any]]:
        """Every row of a job, in record order, fetched a page at a time."""
        offset = 0
        while True:
            page = self.results(job_id, offset=offset, limit=page_size)
            rows = list(page.get("records") or [])
            yield from rows
            offset += len(rows)
            total = page.get("total")
            if not rows or (isinstance(total, int) and offset >= total):
                return
