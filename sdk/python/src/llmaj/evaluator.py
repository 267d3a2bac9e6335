"""``LLMAsJudgeEvaluator``: the seed's evaluator, submitting jobs to an llmaj scheduler service.

The constructor takes the seed's parameter names (``model``, ``evaluator_model``, ``dataset``,
``builtin_metrics``, ``custom_metrics``, ``evaluate_base_model``, ``base_model``,
``mlflow_resource_arn``, ``s3_output_path``, ``region``) and turns them into a job spec
(schemas/job-spec.md in the llmaj repository); the service checks the whole spec and dataset
before anything runs, and its 400 answer becomes a BadRequestError listing every problem.

What differs from SageMaker, on purpose: ``dataset`` and ``s3_output_path`` may also be local
paths or ``https://`` URLs (a local dataset path is made absolute, and must be readable by the
scheduler); ``mlflow_resource_arn`` may also be an ``http(s)://`` MLflow tracking URI;
``model_package_group`` and ``model_artifact`` are accepted and ignored (a warning says so)."""
from __future__ import annotations

import json
import logging
import os
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Union

from .client import Client
from .execution import OVERALL, EvaluationPipelineExecution

log = logging.getLogger("llmaj")

CustomMetrics = Union[str, Mapping[str, Any], Sequence[Mapping[str, Any]]]


def _custom_metrics(value: Optional[CustomMetrics]) -> Optional[List[Dict[str, Any]]]:
    """The seed's custom metrics in any of its forms (JSON text, a list or one metric as dicts, or
    the path of a JSON file) as a list of ``{"customMetricDefinition": ...}``."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text.startswith(("[", "{")):
            if not os.path.isfile(text):
                raise ValueError(f"custom_metrics: '{value[:80]}' is neither JSON text nor a file that exists here")
            with open(text, encoding="utf-8") as f:
                text = f.read()
            where = f"custom_metrics file {value}"
        else:
            where = "custom_metrics"
        try:
            value = json.loads(text)
        except ValueError as e:
            raise ValueError(f"{where}: not valid JSON ({e}); the seed's format is a JSON list of "
                             '{"customMetricDefinition": {...}} objects') from None
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, Sequence) or not all(isinstance(m, Mapping) for m in value):
        raise ValueError("custom_metrics: give a list of {\"customMetricDefinition\": {...}} objects, one such "
                         "object, their JSON text, or the path of a JSON file")
    return [dict(m) for m in value]


def _dataset(value: str) -> str:
    if "://" in value or value.startswith("arn:"):
        return value
    return os.path.abspath(os.path.expanduser(value)) if os.path.exists(os.path.expanduser(value)) else value


def _is_model_package(model: Optional[str]) -> bool:
    """A SageMaker model package ARN (arn:aws:sagemaker:REGION:ACCOUNT:model-package/GROUP/N)."""
    return bool(model) and str(model).startswith("arn:aws:sagemaker:") and ":model-package/" in str(model)


def _status_wanted(status: Optional[Union[str, Sequence[str]]]) -> Optional[set]:
    if status is None:
        return None
    words = [status] if isinstance(status, str) else list(status)
    back = {v.lower(): k for k, v in OVERALL.items()}
    return {back.get(w.lower(), w.lower()) for w in words}


class LLMAsJudgeEvaluator:
    """An LLM-as-judge evaluation to run on an llmaj scheduler (``scheduler=`` URL, else
    ``LLMAJ_SCHEDULER``; ``token=``, else ``LLMAJ_TOKEN``)."""

    def __init__(self, model: Optional[str] = None, evaluator_model: Optional[str] = None,
                 dataset: Optional[str] = None, builtin_metrics: Optional[Union[str, Sequence[str]]] = None,
                 custom_metrics: Optional[CustomMetrics] = None, evaluate_base_model: Optional[bool] = None,
                 base_model: Optional[str] = None, mlflow_resource_arn: Optional[str] = None,
                 s3_output_path: Optional[str] = None, region: Optional[str] = None, *,
                 scheduler: Optional[str] = None, token: Optional[str] = None, name: Optional[str] = None,
                 output_path: Optional[str] = None, mlflow_tracking_uri: Optional[str] = None,
                 mlflow_experiment: Optional[str] = None, mlflow_run_name: Optional[str] = None,
                 inference: Optional[Mapping[str, Any]] = None, judge: Optional[Mapping[str, Any]] = None,
                 limits: Optional[Mapping[str, Any]] = None, shard_size: Optional[int] = None,
                 skip_invalid: Optional[bool] = None, judge_system_prompt: Optional[str] = None,
                 model_package_group: Optional[str] = None, model_artifact: Optional[str] = None,
                 cache: Optional[bool] = None, reuse_responses_from: Optional[Any] = None,
                 client: Optional[Client] = None) -> None:
        # reuse_responses_from: another job (its id, or an execution) whose model responses this
        # job judges again: its dataset and models are the other job's, so dataset may be left out.
        if reuse_responses_from is not None and not isinstance(reuse_responses_from, str):
            reuse_responses_from = getattr(reuse_responses_from, "id", None) or reuse_responses_from
        if reuse_responses_from is not None and not (isinstance(reuse_responses_from, str) and reuse_responses_from):
            raise ValueError("reuse_responses_from: give a job id or an execution, not "
                             f"{reuse_responses_from!r}")
        if cache is not None and not isinstance(cache, bool):
            raise ValueError(f"cache: give True or False, not {cache!r}")
        required = [("evaluator_model", evaluator_model)] + ([] if reuse_responses_from else [("dataset", dataset)])
        missing = [k for k, v in required if not v]
        if missing:
            raise ValueError("LLMAsJudgeEvaluator: " + ", ".join(missing) + " required")
        if isinstance(builtin_metrics, str):
            builtin_metrics = [builtin_metrics]
        self.model = model
        self.evaluator_model = evaluator_model
        self.dataset = _dataset(str(dataset)) if dataset else None
        self.cache = cache
        self.reuse_responses_from = reuse_responses_from
        self.builtin_metrics = list(builtin_metrics or [])
        self.custom_metrics = _custom_metrics(custom_metrics)
        if not self.builtin_metrics and not self.custom_metrics:
            raise ValueError("LLMAsJudgeEvaluator: give builtin_metrics, custom_metrics or both")
        if evaluate_base_model is None and (base_model or _is_model_package(model)):
            # The seed's default is True: both models are evaluated when there is a base model to
            # evaluate (given, or the model package's own). Without one, the spec's default (False).
            evaluate_base_model = True
        self.evaluate_base_model = evaluate_base_model
        self.base_model = base_model
        if s3_output_path and output_path and s3_output_path != output_path:
            raise ValueError(f"s3_output_path ({s3_output_path}) and output_path ({output_path}) differ: give one")
        self.output_path = output_path or s3_output_path
        if mlflow_resource_arn and mlflow_tracking_uri and mlflow_resource_arn != mlflow_tracking_uri:
            raise ValueError("mlflow_resource_arn and mlflow_tracking_uri differ: give one")
        self.mlflow_tracking_uri = mlflow_tracking_uri or mlflow_resource_arn
        self.mlflow_experiment = mlflow_experiment
        self.mlflow_run_name = mlflow_run_name
        self.region = region
        self.name = name
        self.inference = dict(inference) if inference else None
        self.judge = dict(judge) if judge else None
        self.limits = dict(limits) if limits else None
        self.shard_size = shard_size
        self.skip_invalid = skip_invalid
        self.judge_system_prompt = judge_system_prompt
        for k, v in (("model_package_group", model_package_group), ("model_artifact", model_artifact)):
            if v:
                log.warning("%s has no effect in llmaj (models are given as model strings); ignored", k)
        self._client = client or Client(scheduler=scheduler, token=token)

    @property
    def scheduler(self) -> str:
        return self._client.url

    def to_spec(self) -> Dict[str, Any]:
        """The job spec that evaluate() submits."""
        spec: Dict[str, Any] = {"evaluator_model": self.evaluator_model}
        optional = {"dataset": self.dataset, "reuse_responses_from": self.reuse_responses_from, "cache": self.cache,
                    "name": self.name, "model": self.model, "base_model": self.base_model,
                    "evaluate_base_model": self.evaluate_base_model, "builtin_metrics": self.builtin_metrics or None,
                    "custom_metrics": self.custom_metrics, "output_path": self.output_path, "region": self.region,
                    "inference": self.inference, "judge": self.judge, "limits": self.limits,
                    "shard_size": self.shard_size, "skip_invalid": self.skip_invalid,
                    "judge_system_prompt": self.judge_system_prompt}
        spec.update({k: v for k, v in optional.items() if v is not None})
        mlflow = {"tracking_uri": self.mlflow_tracking_uri, "experiment": self.mlflow_experiment,
                  "run_name": self.mlflow_run_name}
        mlflow = {k: v for k, v in mlflow.items() if v}
        if mlflow:
            spec["mlflow"] = mlflow
        return spec

    def _fields(self) -> Iterator[Any]:
        yield "model", self.model
        if self.base_model:
            yield "base_model", self.base_model
        yield "evaluate_base_model", self.evaluate_base_model
        yield "evaluator_model", self.evaluator_model
        yield "dataset", self.dataset
        if self.reuse_responses_from:
            yield "reuse_responses_from", self.reuse_responses_from
        if self.cache is not None:
            yield "cache", self.cache
        yield "builtin_metrics", self.builtin_metrics
        yield "custom_metrics", ([m.get("customMetricDefinition", {}).get("name") for m in self.custom_metrics]
                                 if self.custom_metrics else None)
        yield "output_path", self.output_path
        yield "mlflow_tracking_uri", self.mlflow_tracking_uri
        yield "region", self.region
        yield "scheduler", self.scheduler

    def __repr__(self) -> str:
        return "LLMAsJudgeEvaluator(" + ", ".join(f"{k}={v!r}" for k, v in self._fields()) + ")"

    def __rich_repr__(self) -> Iterator[Any]:
        yield from self._fields()

    # ---- running ----

    def evaluate(self) -> EvaluationPipelineExecution:
        """Submits the job and returns at once; the execution watches it (refresh, wait, ...)."""
        ans = self._client.submit(self.to_spec())
        job_id = ans.get("job_id") if isinstance(ans, dict) else None
        if not job_id:
            raise ValueError(f"the scheduler accepted the job but sent no job_id: {ans!r}")
        log.info("llmaj job %s submitted to %s (%s)", job_id, self.scheduler, ans.get("status"))
        return EvaluationPipelineExecution(self._client.job(job_id), self._client)

    # ---- retrieving ----

    @classmethod
    def get(cls, id: str, region: Optional[str] = None, scheduler: Optional[str] = None,
            token: Optional[str] = None, client: Optional[Client] = None) -> EvaluationPipelineExecution:
        """The job ``id`` (the seed's ``arn``). ``region`` is accepted as the seed passes it."""
        return EvaluationPipelineExecution.get(arn=id, scheduler=scheduler, token=token, client=client)

    @classmethod
    def get_all(cls, status: Optional[Union[str, Sequence[str]]] = None, limit: Optional[int] = None,
                region: Optional[str] = None, scheduler: Optional[str] = None, token: Optional[str] = None,
                client: Optional[Client] = None) -> Iterator[EvaluationPipelineExecution]:
        """The service's jobs, newest first: only those with ``status`` (llmaj's words or the
        seed's, e.g. "running" or "Executing"; one or a list) and at most ``limit`` of them."""
        if limit is not None and limit < 0:
            raise ValueError("get_all: limit must be >= 0")
        c = client or Client(scheduler=scheduler, token=token)
        wanted = _status_wanted(status)
        n = 0
        for job in c.jobs():
            if limit is not None and n >= limit:
                return
            if wanted is not None and str(job.get("status")) not in wanted:
                continue
            n += 1
            yield EvaluationPipelineExecution(job, c)
