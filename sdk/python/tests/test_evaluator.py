"""LLMAsJudgeEvaluator's side of the seed's API, with no job run: its parameter names and
aliases become the job spec, custom metrics in every form the seed gives them, what is required
or conflicting. Submitting, get and get_all against the real service: tests/integration/test_sdk.py."""
import json
import logging

import pytest

from llmaj import LLMAsJudgeEvaluator

SEED_METRICS = [
    {"customMetricDefinition": {"name": "GoodMetric", "instructions": "Positive? {{prompt}} {{prediction}}",
                                "ratingScale": [{"definition": "Good", "value": {"floatValue": 1}},
                                                {"definition": "Poor", "value": {"floatValue": 0}}]}},
    {"customMetricDefinition": {"name": "BadMetric", "lowerIsBetter": True,
                                "instructions": "Negative? {{prompt}} {{prediction}}",
                                "ratingScale": [{"definition": "Bad", "value": {"floatValue": 1}},
                                                {"definition": "Good", "value": {"floatValue": 0}}]}},
]


def seed_evaluator(service, **kw):
    args = dict(model="openai-api/local/ft", evaluator_model="anthropic.claude-3-5-haiku-20241022-v1:0",
                dataset="s3://bucket/gen_qa.jsonl", builtin_metrics=["Completeness", "Faithfulness"],
                custom_metrics=json.dumps(SEED_METRICS), mlflow_resource_arn="arn:aws:sagemaker:us-west-2:1:mlflow-tracking-server/x",
                s3_output_path="s3://bucket/eval/", evaluate_base_model=False, scheduler=service.url)
    args.update(kw)
    return LLMAsJudgeEvaluator(**args)


def test_seed_parameters_become_the_spec(service):
    ev = seed_evaluator(service, region="us-west-2", name="seed")
    spec = ev.to_spec()
    assert spec == {
        "name": "seed", "model": "openai-api/local/ft", "evaluator_model": "anthropic.claude-3-5-haiku-20241022-v1:0",
        "dataset": "s3://bucket/gen_qa.jsonl", "builtin_metrics": ["Completeness", "Faithfulness"],
        "custom_metrics": SEED_METRICS, "evaluate_base_model": False, "output_path": "s3://bucket/eval/",
        "region": "us-west-2", "mlflow": {"tracking_uri": "arn:aws:sagemaker:us-west-2:1:mlflow-tracking-server/x"}}
    text = repr(ev)
    assert text.startswith("LLMAsJudgeEvaluator(model='openai-api/local/ft'")
    assert "custom_metrics=['GoodMetric', 'BadMetric']" in text and service.url in text
    assert dict(ev.__rich_repr__())["builtin_metrics"] == ["Completeness", "Faithfulness"]


def test_custom_metric_forms(service, tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps(SEED_METRICS))
    for form in (SEED_METRICS, json.dumps(SEED_METRICS), str(path), "  " + json.dumps(SEED_METRICS[0])):
        ev = seed_evaluator(service, custom_metrics=form)
        assert ev.to_spec()["custom_metrics"] in (SEED_METRICS, SEED_METRICS[:1])
    assert seed_evaluator(service, custom_metrics=SEED_METRICS[1]).to_spec()["custom_metrics"] == [SEED_METRICS[1]]
    with pytest.raises(ValueError, match="not valid JSON"):
        seed_evaluator(service, custom_metrics="[{oops")
    with pytest.raises(ValueError, match="neither JSON text nor a file"):
        seed_evaluator(service, custom_metrics="no/such/file.json")
    with pytest.raises(ValueError, match="list of"):
        seed_evaluator(service, custom_metrics=[1, 2])


def test_required_and_conflicting(service):
    with pytest.raises(ValueError, match="evaluator_model, dataset required"):
        LLMAsJudgeEvaluator(model="m", builtin_metrics=["Correctness"], scheduler=service.url)
    with pytest.raises(ValueError, match="builtin_metrics, custom_metrics"):
        LLMAsJudgeEvaluator(model="m", evaluator_model="j", dataset="d", scheduler=service.url)
    with pytest.raises(ValueError, match="differ"):
        seed_evaluator(service, output_path="runs/")
    # A single built-in name is a list of one; a local dataset becomes an absolute path.
    ev = seed_evaluator(service, builtin_metrics="Correctness", custom_metrics=None, dataset=__file__.split("/")[-1])
    assert ev.to_spec()["builtin_metrics"] == ["Correctness"]


def test_local_dataset_is_made_absolute(service, tmp_path, monkeypatch):
    (tmp_path / "d.jsonl").write_text('{"prompt": "hi"}\n')
    monkeypatch.chdir(tmp_path)
    assert seed_evaluator(service, dataset="d.jsonl").to_spec()["dataset"] == str(tmp_path / "d.jsonl")
    assert seed_evaluator(service, dataset="https://x/d.jsonl").to_spec()["dataset"] == "https://x/d.jsonl"


def test_ignored_seed_parameters_warn(service, caplog):
    with caplog.at_level(logging.WARNING, logger="llmaj"):
        seed_evaluator(service, model_package_group="arn:group", model_artifact="s3://a")
    assert "model_package_group has no effect" in caplog.text and "model_artifact has no effect" in caplog.text


def test_evaluate_base_model_defaults_as_the_seeds(service):
    """True when there is a base model to evaluate (given, or a model package's own), else left to
    the spec's default; an explicit value always wins."""
    pkg = "arn:aws:sagemaker:us-west-2:123456789012:model-package/gamma/28"
    def spec(**kw):
        return seed_evaluator(service, evaluate_base_model=kw.pop("evaluate_base_model", None), **kw).to_spec()
    assert spec(model=pkg)["evaluate_base_model"] is True
    assert spec(base_model="openai-api/local/base")["evaluate_base_model"] is True
    assert "evaluate_base_model" not in spec(model="nova-textgeneration-lite")
    assert spec(model=pkg, evaluate_base_model=False)["evaluate_base_model"] is False

