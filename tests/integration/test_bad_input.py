"""Bad input: `llmaj run` exits 2, names every problem (file:line or spec key), and calls no model:
the mock LLM's request counter stays at 0."""
import json
import os
import subprocess

import pytest

from conftest import BIN, start_mock, write_dataset, write_spec


def run(tmp, mock, spec_kw, dataset_lines=None):
    data = os.path.join(tmp, "data.jsonl")
    if dataset_lines is None:
        write_dataset(data, 20)
    else:
        with open(data, "w") as f:
            f.write("".join(l + "\n" for l in dataset_lines))
    spec_path = os.path.join(tmp, "job.json")
    kw = {"dataset": data, "output_path": os.path.join(tmp, "runs")}
    kw.update(spec_kw)
    write_spec(spec_path, **kw)
    p = subprocess.run([os.path.join(BIN, "llmaj"), "run", "--spec", spec_path, "--workers", "1"],
                       env={**os.environ, **mock.env()}, capture_output=True, text=True, timeout=120)
    return p


@pytest.fixture(scope="module")
def mock(tmp_path_factory):
    from conftest import Procs
    ps = Procs(str(tmp_path_factory.mktemp("mock")))
    m = start_mock(ps)
    yield m
    ps.stop_all()


def assert_rejected(p, mock, *needles):
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    for n in needles:
        assert n in p.stderr, (n, p.stderr)
    assert mock.model_requests() == 0, "a model was called despite bad input"


GOOD = json.dumps({"prompt": "What is 2+2?", "referenceResponse": "4"})


def test_broken_json_line(tmp_path, mock):
    p = run(str(tmp_path), mock, {}, [GOOD, '{"prompt": "unterminated', GOOD])
    assert_rejected(p, mock, "data.jsonl:2:")


def test_line_without_prompt(tmp_path, mock):
    p = run(str(tmp_path), mock, {}, [GOOD, GOOD, json.dumps({"referenceResponse": "x"})])
    assert_rejected(p, mock, "data.jsonl:3:", "prompt")


def test_wrong_types(tmp_path, mock):
    p = run(str(tmp_path), mock, {}, [json.dumps({"prompt": 5}), json.dumps({"prompt": "ok", "category": 3}),
                                       json.dumps({"prompt": "ok", "modelResponses": "nope"})])
    assert_rejected(p, mock, "data.jsonl:1:", "data.jsonl:2:", "category", "data.jsonl:3:", "modelResponses")


def test_every_bad_line_listed_with_a_count(tmp_path, mock):
    lines = [GOOD] + ["not json"] * 30
    p = run(str(tmp_path), mock, {}, lines)
    assert_rejected(p, mock, "data.jsonl:2:", "data.jsonl:21:", "more")


def test_oversized_line(tmp_path, mock):
    big = json.dumps({"prompt": "x" * (9 << 20)})
    p = run(str(tmp_path), mock, {}, [GOOD, big])
    assert_rejected(p, mock, "data.jsonl:2:", "limit")


def test_skip_invalid_runs_the_rest(tmp_path, mock):
    # The counterpart: with skip_invalid the valid lines run (this one does call the mock).
    p = run(str(tmp_path), mock, {"skip_invalid": True, "evaluate_base_model": False, "base_model": None},
            [GOOD, "not json", GOOD])
    assert p.returncode == 0, p.stderr
    out = [l for l in p.stdout.splitlines() if l.startswith("results: ")][0][9:]
    summary = json.load(open(os.path.join(out, "summary.json")))
    assert summary["records"] == {"total": 3, "invalid_skipped": 1}
    assert mock.model_requests() > 0
    mock.reset()


def cm(name="Tone", instructions="Rate {{prediction}}", scale=None):
    return {"customMetricDefinition": {"name": name, "instructions": instructions,
                                       "ratingScale": scale if scale is not None else
                                       [{"definition": "Good", "value": {"floatValue": 1}},
                                        {"definition": "Poor", "value": {"floatValue": 0}}]}}


CUSTOM_CASES = {
    "too_many": ([cm(f"M{i}") for i in range(11)], "custom_metrics"),
    "bad_name_chars": ([cm("has space")], "custom_metrics[0].customMetricDefinition.name"),
    "name_too_long": ([cm("n" * 64)], "custom_metrics[0].customMetricDefinition.name"),
    "empty_name": ([cm("")], "custom_metrics[0].customMetricDefinition.name"),
    "duplicate_name": ([cm("Same"), cm("same")], "custom_metrics[1]"),
    "builtin_name": ([cm("Correctness")], "custom_metrics[0].customMetricDefinition.name"),
    "empty_instructions": ([cm(instructions="")], "custom_metrics[0].customMetricDefinition.instructions"),
    "long_instructions": ([cm(instructions="x" * 5001)], "custom_metrics[0].customMetricDefinition.instructions"),
    "no_ratings": ([cm(scale=[])], "custom_metrics[0].customMetricDefinition.ratingScale"),
    "too_many_ratings": ([cm(scale=[{"definition": f"r{i}", "value": {"floatValue": i}} for i in range(11)])],
                         "custom_metrics[0].customMetricDefinition.ratingScale"),
    "empty_definition": ([cm(scale=[{"definition": "", "value": {"floatValue": 1}}])],
                         "custom_metrics[0].customMetricDefinition.ratingScale[0].definition"),
    "long_definition": ([cm(scale=[{"definition": "d" * 101, "value": {"floatValue": 1}}])],
                        "custom_metrics[0].customMetricDefinition.ratingScale[0].definition"),
    "mixed_values": ([cm(scale=[{"definition": "a", "value": {"floatValue": 1}},
                                {"definition": "b", "value": {"stringValue": "x"}}])],
                     "custom_metrics[0].customMetricDefinition.ratingScale"),
    "bad_value": ([cm(scale=[{"definition": "a", "value": 1}])],
                  "custom_metrics[0].customMetricDefinition.ratingScale[0].value"),
}


@pytest.mark.parametrize("case", sorted(CUSTOM_CASES))
def test_custom_metric_limits(tmp_path, mock, case):
    metrics, needle = CUSTOM_CASES[case]
    p = run(str(tmp_path), mock, {"custom_metrics": metrics})
    assert_rejected(p, mock, needle)


def test_unknown_builtin_metric(tmp_path, mock):
    p = run(str(tmp_path), mock, {"builtin_metrics": ["Correctness", "Corectness"]})
    assert_rejected(p, mock, "builtin_metrics", "Corectness", "Faithfulness")


def test_unknown_model_string(tmp_path, mock):
    p = run(str(tmp_path), mock, {"model": "gpt-4o-please"})
    assert_rejected(p, mock, "model", "gpt-4o-please", "openai/")


def test_all_problems_at_once(tmp_path, mock):
    p = run(str(tmp_path), mock, {"model": "nope", "evaluator_model": "also-nope", "shard_size": 0,
                                  "builtin_metrics": ["Bogus"]})
    assert_rejected(p, mock, "nope", "also-nope", "shard_size", "Bogus")


def test_seed_json_string_custom_metrics(tmp_path, mock):
    # The seed passes custom metrics as a JSON string: its problems are named the same way.
    p = run(str(tmp_path), mock, {"custom_metrics": json.dumps([cm("bad name")])})
    assert_rejected(p, mock, "custom_metrics[0].customMetricDefinition.name")
