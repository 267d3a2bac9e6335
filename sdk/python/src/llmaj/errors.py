"""Errors raised by the llmaj client.

Every error the scheduler service answers is a :class:`LLMAJError` carrying the HTTP status and
the service's list of ``{"key", "message"}`` problems (a bad spec lists every problem at once,
each naming the key or the ``FILE:LINE`` it concerns)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence


@dataclass(frozen=True)
class ErrorDetail:
    """One problem the service reported: the spec key (or ``FILE:LINE``) and what is wrong."""

    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}" if self.key else self.message


class LLMAJError(Exception):
    """Base of every llmaj client error.

    ``status`` is the HTTP status (``None`` when no answer came), ``errors`` the service's
    ``{"key", "message"}`` list as :class:`ErrorDetail` values."""

    def __init__(self, message: str, status: Optional[int] = None,
                 errors: Optional[Sequence[ErrorDetail]] = None) -> None:
        self.message = message
        self.status = status
        self.errors: List[ErrorDetail] = list(errors or [])
        super().__init__(self._text())

    def _text(self) -> str:
        if not self.errors:
            return self.message
        if len(self.errors) == 1:
            return f"{self.message}: {self.errors[0]}"
        return self.message + ":\n" + "\n".join(f"  - {e}" for e in self.errors)


class BadRequestError(LLMAJError):
    """400: the spec, the dataset or the request is invalid; nothing was run."""


ValidationError = BadRequestError


class AuthenticationError(LLMAJError):
    """401: the service needs a token (``token=`` or ``LLMAJ_TOKEN``), or it was wrong."""


class NotFoundError(LLMAJError):
    """404: no such job (or its summary is not written yet)."""


class ConflictError(LLMAJError):
    """409: the job is not in a state that allows the request (e.g. retrying a running job)."""


class ServiceError(LLMAJError):
    """5xx, or an answer that is not the API's JSON."""


class SchedulerUnreachableError(LLMAJError):
    """No answer: the scheduler is not listening at the URL, or the connection failed."""


class WaitTimeoutError(LLMAJError, TimeoutError):
    """``wait(timeout=...)`` ran out before the job ended."""


def error_for_status(status: int, message: str, errors: Sequence[ErrorDetail]) -> LLMAJError:
    """The exception class for an HTTP status."""
    cls = {400: BadRequestError, 401: AuthenticationError, 403: AuthenticationError, 404: NotFoundError,
           409: ConflictError}.get(status)
    if cls is None:
        cls = ServiceError if status >= 500 else LLMAJError
    return cls(message, status, errors)
