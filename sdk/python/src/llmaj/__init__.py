"""llmaj: a Python client for the llmaj scheduler service that mirrors SageMaker's
``LLMAsJudgeEvaluator``.

    from llmaj import LLMAsJudgeEvaluator
    evaluator = LLMAsJudgeEvaluator(model=..., evaluator_model=..., dataset=...,
                                    builtin_metrics=["Correctness"], scheduler="http://127.0.0.1:8080")
    execution = evaluator.evaluate()
    execution.wait(poll=5, timeout=3600)
    execution.show_results(limit=10, offset=0, show_explanations=False)

See docs/sdk.md in the llmaj repository."""
__version__ = "0.1.0"

from .client import Client  # noqa: E402
from .errors import (  # noqa: E402
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ErrorDetail,
    LLMAJError,
    NotFoundError,
    SchedulerUnreachableError,
    ServiceError,
    ValidationError,
    WaitTimeoutError,
)
from .execution import EvaluationPipelineExecution, PipelineStatus, StepDetail  # noqa: E402
from .evaluator import LLMAsJudgeEvaluator  # noqa: E402

__all__ = [
    "AuthenticationError", "BadRequestError", "Client", "ConflictError", "ErrorDetail", "EvaluationPipelineExecution",
    "LLMAJError", "LLMAsJudgeEvaluator", "NotFoundError", "PipelineStatus", "SchedulerUnreachableError",
    "ServiceError", "StepDetail", "ValidationError", "WaitTimeoutError", "__version__",
]
