"""The seed notebook's walkthrough ("SageMaker LLM-as-Judge Evaluation"), step by step, with llmaj.

Part 1 creates an evaluator with custom metrics (the seed's JSON string, with its BadMetric marked
lowerIsBetter), runs it, checks and refreshes its status, waits, shows the results, retrieves the
job again by its id, lists every job, and shows how to stop one. Part 2 evaluates a fine-tuned
model by its SageMaker model package ARN (section A, when EXAMPLE_MODEL_PACKAGE is set) and a Nova
model by its seed name (section B, routed to Bedrock) the same way, with a Nova judge.

It talks to a scheduler service (`llmaj-scheduler --serve`) at $LLMAJ_SCHEDULER (token:
$LLMAJ_TOKEN). The defaults run against a local fleet and the bundled mock LLM, with the
quickstart's dataset; set the variables below to evaluate real models:

    EXAMPLE_MODEL, EXAMPLE_BASE_MODEL, EXAMPLE_JUDGE, EXAMPLE_DATASET, EXAMPLE_OUTPUT,
    EXAMPLE_MLFLOW (a tracking URI or ARN), EXAMPLE_NOVA_MODEL, EXAMPLE_PART2_JUDGE,
    EXAMPLE_MODEL_PACKAGE, EXAMPLE_REGION

    python examples/sdk_walkthrough.py            # after `pip install sdk/python`
"""
import json
import logging
import os
import sys

from llmaj import EvaluationPipelineExecution, LLMAsJudgeEvaluator

HERE = os.path.dirname(os.path.abspath(__file__))

# ---- Configuration ----
REGION = os.environ.get("EXAMPLE_REGION", "us-west-2")
OUTPUT = os.environ.get("EXAMPLE_OUTPUT", os.path.join(HERE, "..", "runs"))
DATASET = os.environ.get("EXAMPLE_DATASET", os.path.join(HERE, "quickstart", "dataset.jsonl"))
MLFLOW = os.environ.get("EXAMPLE_MLFLOW")              # optional
MODEL = os.environ.get("EXAMPLE_MODEL", "openai-api/mock/my-finetune")
BASE_MODEL = os.environ.get("EXAMPLE_BASE_MODEL", "openai-api/mock/my-base")
JUDGE = os.environ.get("EXAMPLE_JUDGE", "anthropic/claude-judge-mock")
NOVA_MODEL = os.environ.get("EXAMPLE_NOVA_MODEL", "nova-textgeneration-lite")
PART2_JUDGE = os.environ.get("EXAMPLE_PART2_JUDGE", "amazon.nova-pro-v1:0")   # Bedrock, as in the seed
MODEL_PACKAGE = os.environ.get("EXAMPLE_MODEL_PACKAGE")   # arn:aws:sagemaker:REGION:ACCOUNT:model-package/GROUP/N

# ---- Step 1: logging, as the seed sets it up ----
logging.basicConfig(level=logging.INFO, format="%(levelname)s - %(name)s - %(message)s")


def show(title, obj):
    """The seed uses rich's pprint; plain print gives the same fields."""
    try:
        from rich.pretty import pprint  # type: ignore
    except ImportError:
        print(f"{title}: {obj!r}")
    else:
        print(title + ":")
        pprint(obj)


# ---- Step 2: the evaluator, with custom metrics as a JSON string ----
custom_metrics_list = [
    {"customMetricDefinition": {
        "name": "GoodMetric",
        "instructions": ("You are an expert evaluator. Your task is to assess if the sentiment of the response is "
                         "positive.\n\nRate on this scale:\n- Good: Response has positive sentiment\n- Poor: Response "
                         "lacks positive sentiment\n\nHere is the actual task:\nPrompt: {{prompt}}\n"
                         "Response: {{prediction}}"),
        "ratingScale": [{"definition": "Good", "value": {"floatValue": 1}},
                        {"definition": "Poor", "value": {"floatValue": 0}}]}},
    {"customMetricDefinition": {
        "name": "BadMetric",
        "lowerIsBetter": True,   # llmaj: a higher rating is worse, so the comparison is oriented right
        "instructions": ("You are an expert evaluator. Your task is to assess if the sentiment of the response is "
                         "negative.\n\nRate on this scale:\n- Bad: Response has negative sentiment\n- Good: Response "
                         "lacks negative sentiment\n\nHere is the actual task:\nPrompt: {{prompt}}\n"
                         "Response: {{prediction}}"),
        "ratingScale": [{"definition": "Bad", "value": {"floatValue": 1}},
                        {"definition": "Good", "value": {"floatValue": 0}}]}},
]
custom_metrics_json = json.dumps(custom_metrics_list)

evaluator = LLMAsJudgeEvaluator(
    model=MODEL,
    base_model=BASE_MODEL,
    evaluator_model=JUDGE,
    dataset=DATASET,
    builtin_metrics=["Completeness", "Faithfulness"],
    custom_metrics=custom_metrics_json,
    mlflow_resource_arn=MLFLOW,
    s3_output_path=OUTPUT,
    evaluate_base_model=True,
    region=REGION,
    name="walkthrough",
)
show("evaluator", evaluator)
print(f"Created evaluator with {len(json.loads(custom_metrics_json))} custom metrics")

# ---- Step 3: run it ----
execution = evaluator.evaluate()
print("Evaluation job started!")
print(f"Job ARN: {execution.arn}")
print(f"Job Name: {execution.name}")
print(f"Status: {execution.status.overall_status}")
show("execution", execution)

# ---- Step 4: check the status ----
execution.refresh()
show("status", execution.status)

# ---- Step 5: wait, then the results ----
execution.wait(poll=1, timeout=3600)
print(f"Final status: {execution.status.overall_status}")
execution.show_results(limit=10, offset=0, show_explanations=False)
print(f"Results viewer: {execution.viewer_url}")   # llmaj: figures, charts and every record in a browser

summary = execution.summary()
if summary and "comparison" in summary:
    print("custom vs base (positive = custom better, lower-is-better metrics included):")
    for metric, c in summary["comparison"].items():
        print(f"  {metric:<20} mean diff {c['mean_diff']:+.3f}  wins {c['wins']}  ties {c['ties']}  losses {c['losses']}")

# ---- Retrieve an existing job ----
existing_execution = EvaluationPipelineExecution.get(arn=execution.arn, region=REGION)
show("existing status", existing_execution.status)
existing_execution.show_results(limit=5, offset=0, show_explanations=True)

# ---- Get all LLM-as-Judge evaluations ----
all_executions = list(LLMAsJudgeEvaluator.get_all(region=REGION))
print(f"Found {len(all_executions)} LLM-as-Judge evaluation jobs")
for e in all_executions:
    print(f"  - {e.name}: {e.status.overall_status}")

# ---- Stop a running job (optional) ----
# execution.stop()
# print(f"Execution stopped. Status: {execution.status.overall_status}")

# ---- Part 2, section A: a fine-tuned model by its SageMaker model package ARN ----
# The package names its endpoint (CustomerMetadataProperties.EndpointName) and its base model;
# llmaj calls the endpoint, and the base model through Bedrock. Runs when EXAMPLE_MODEL_PACKAGE is set.
executions_part2 = []
if MODEL_PACKAGE:
    evaluator_finetuned = LLMAsJudgeEvaluator(
        model=MODEL_PACKAGE,
        evaluator_model=PART2_JUDGE,
        dataset=DATASET,
        builtin_metrics=["Correctness", "Helpfulness", "Faithfulness"],
        mlflow_resource_arn=MLFLOW,
        s3_output_path=OUTPUT,
        region=REGION,
        name="walkthrough-package",
    )
    show("evaluator_finetuned", evaluator_finetuned)
    execution_a = evaluator_finetuned.evaluate()
    print("Evaluation started!")
    print(f"  ARN: {execution_a.arn}")
    print(f"  Name: {execution_a.name}")
    print(f"  Status: {execution_a.status.overall_status}")
    execution_a.wait(poll=1, timeout=7200)
    print(f"Final status: {execution_a.status.overall_status}")
    execution_a.show_results(limit=10, offset=0, show_explanations=False)
    executions_part2.append(execution_a)

# ---- Part 2, section B: a Nova model by its seed name, routed to Bedrock ----
evaluator_nova = LLMAsJudgeEvaluator(
    model=NOVA_MODEL,
    evaluator_model=PART2_JUDGE,
    dataset=DATASET,
    builtin_metrics=["Correctness", "Helpfulness"],
    mlflow_resource_arn=MLFLOW,
    s3_output_path=OUTPUT,
    region=REGION,
    name="walkthrough-nova",
)
show("evaluator_nova", evaluator_nova)
execution_b = evaluator_nova.evaluate()
print("Evaluation started!")
print(f"  ARN: {execution_b.arn}")
print(f"  Name: {execution_b.name}")
print(f"  Status: {execution_b.status.overall_status}")
execution_b.wait(poll=1, timeout=7200)
print(f"Final status: {execution_b.status.overall_status}")
execution_b.show_results(limit=10, offset=0, show_explanations=False)

executions_part2.append(execution_b)
ok = all(e.status.overall_status == "Succeeded" for e in [execution] + executions_part2)
sys.exit(0 if ok else 1)
