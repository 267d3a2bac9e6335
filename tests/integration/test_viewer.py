"""The results viewer and `llmaj report`, on a job run with `llmaj run` against the mock LLM: a
model and its base, built-in metrics and the seed's custom metrics, BadMetric marked
"lowerIsBetter" (a higher rating is worse). Checks the summary's orientation, the report tables,
the self-contained HTML page (nothing external, data embedded), and the page itself in headless
Chromium (tests/web/viewer_report.cjs: figures equal summary.json, filters, an opened record;
screenshots in <build>/screenshots/viewer/)."""
import json
import os
import re
import subprocess

import pytest

from conftest import BIN, check_summary, read_records, start_mock, write_dataset

LLMAJ = os.path.abspath(os.path.join(BIN, "llmaj"))
SRC = os.environ.get("LLMAJ_SRC") or os.path.join(os.path.dirname(__file__), "..", "..")
BUILD = os.environ.get("LLMAJ_BUILD") or os.path.join(BIN, "..")

SEED_CUSTOM = [
    {"customMetricDefinition": {
        "name": "GoodMetric",
        "instructions": "Assess if the response has positive sentiment. Prompt: {{prompt}}\nResponse: {{prediction}}",
        "ratingScale": [{"definition": "Good", "value": {"floatValue": 1}},
                        {"definition": "Poor", "value": {"floatValue": 0}}]}},
    {"customMetricDefinition": {
        "name": "BadMetric", "lowerIsBetter": True,
        "instructions": "Assess if the response has negative sentiment. Prompt: {{prompt}}\nResponse: {{prediction}}",
        "ratingScale": [{"definition": "Bad", "value": {"floatValue": 1}},
                        {"definition": "Good", "value": {"floatValue": 0}}]}},
]


def llmaj(*args, env=None, timeout=600):
    e = {k: v for k, v in os.environ.items() if k != "LLMAJ_DB"}
    e.update(env or {})
    return subprocess.run([LLMAJ, *args], env=e, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    from conftest import Procs
    tmp = str(tmp_path_factory.mktemp("viewer"))
    ps = Procs(tmp)
    try:
        mock = start_mock(ps, "--latency", "uniform:1:5", "--unscorable-rate", "0.1")
        data = os.path.join(tmp, "data.jsonl")
        write_dataset(data, 30)
        # The seed passes custom metrics as a JSON string.
        spec = {"name": "viewer", "model": "openai-api/mock/ft", "base_model": "openai-api/mock/base",
                "evaluate_base_model": True, "evaluator_model": "anthropic/judge", "dataset": data,
                "builtin_metrics": ["Correctness", "Harmfulness", "FollowingInstructions"],
                "custom_metrics": json.dumps(SEED_CUSTOM), "output_path": os.path.join(tmp, "runs"),
                "shard_size": 8}
        spec_path = os.path.join(tmp, "spec.json")
        with open(spec_path, "w") as f:
            json.dump(spec, f)
        p = llmaj("run", "--spec", spec_path, "--workers", "1", "--quiet", env=mock.env())
        assert p.returncode == 0, p.stdout + p.stderr
        job_id = p.stdout.split()[1]
        out = [l for l in p.stdout.splitlines() if l.startswith("results: ")][0][len("results: "):]
        yield {"tmp": tmp, "db": os.path.join(tmp, "runs", "llmaj.db"), "id": job_id, "out": out, "run": p.stdout}
    finally:
        ps.stop_all()


def test_lower_is_better_orients_the_comparison(job):
    summary = json.load(open(os.path.join(job["out"], "summary.json")))
    records = read_records(job["out"])
    # check_summary recomputes every figure from records.jsonl with BadMetric's sign flipped.
    check_summary(summary, records, metrics_lower_better=("Harmfulness", "BadMetric"))
    for name, lower in (("BadMetric", True), ("GoodMetric", False), ("Harmfulness", True), ("Correctness", False)):
        assert summary["comparison"][name]["lower_is_better"] is lower
        assert summary["targets"]["custom"]["metrics"][name]["lower_is_better"] is lower
    # The spec as run keeps the extension; the seed's metric without it stays as it was.
    spec = json.load(open(os.path.join(job["out"], "job.json")))["spec"]
    defs = {m["customMetricDefinition"]["name"]: m["customMetricDefinition"] for m in spec["custom_metrics"]}
    assert defs["BadMetric"]["lowerIsBetter"] is True and "lowerIsBetter" not in defs["GoodMetric"]
    # The run's table stars lower-is-better metrics and says how the comparison is oriented.
    assert re.search(r"^\s+BadMetric\*\s", job["run"], re.M)
    assert "for * metrics lower ratings are better" in job["run"]


def test_report_prints_the_tables(job):
    p = llmaj("report", job["id"][:12], "--db", job["db"])
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("job " + job["id"])
    assert "custom vs base (positive = custom better" in p.stdout
    assert re.search(r"^\s+Harmfulness\*\s", p.stdout, re.M)


def test_report_bad_input(job):
    assert llmaj("report", "no-such-job", "--db", job["db"]).returncode == 2
    assert llmaj("report", "--db", job["db"]).returncode == 2
    assert llmaj("report", job["id"], "--db", job["db"], "--max-rows", "x").returncode == 2
    p = llmaj("report", job["id"], "--db", job["db"], "--html", os.path.join(job["tmp"], "no", "such", "dir.html"))
    assert p.returncode == 1 and "no/such/dir.html" in p.stderr


def embedded(html):
    start = html.index('<script type="application/json" id="llmaj-data">') + len('<script type="application/json" id="llmaj-data">')
    return json.loads(html[start:html.index("</script>", start)])


def test_report_html_is_self_contained(job):
    path = os.path.join(job["tmp"], "report.html")
    p = llmaj("report", job["id"], "--db", job["db"], "--html", path)
    assert p.returncode == 0, p.stderr
    assert f"wrote {path}: job {job['id']}, 60 row(s) embedded" in p.stdout
    html = open(path, encoding="utf-8").read()
    assert "/assets/" not in html and 'src="' not in html and "href=\"http" not in html
    assert "Content-Security-Policy" in html
    data = embedded(html)
    assert data["summary"] == json.load(open(os.path.join(job["out"], "summary.json")))
    assert data["records"] == read_records(job["out"])
    assert data["records_total"] == 60
    j = data["job"]
    assert j["job_id"] == job["id"] and j["status"] == "succeeded" and j["name"] == "viewer"
    assert j["progress"]["units_done"] == j["progress"]["units_total"] == 60
    assert j["evaluator_model"] == "anthropic/judge" and j["base_model"] == "openai-api/mock/base"
    # --max-rows keeps the page small; the figures still cover every row. '-' writes to stdout.
    p = llmaj("report", job["id"], "--db", job["db"], "--html", "-", "--max-rows", "7")
    assert p.returncode == 0, p.stderr
    small = embedded(p.stdout)
    assert len(small["records"]) == 7 and small["records_total"] == 60 and small["summary"] == data["summary"]


def test_viewer_in_chromium(job):
    path = os.path.join(job["tmp"], "report-chromium.html")
    assert llmaj("report", job["id"], "--db", job["db"], "--html", path).returncode == 0
    shots = os.path.join(os.path.abspath(BUILD), "screenshots", "viewer")
    node_modules = os.path.join(os.path.abspath(BUILD), "node", "node_modules")
    p = subprocess.run(["node", os.path.join(SRC, "tests", "web", "viewer_report.cjs"), path,
                        os.path.join(job["out"], "records.jsonl"), os.path.join(job["out"], "summary.json"), shots],
                       env={**os.environ, "LLMAJ_NODE_MODULES": node_modules}, capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert re.search(r"^\d+ passed, 0 failed$", p.stdout, re.M), p.stdout
    for name in ("report-overview.png", "report-filtered.png", "report-record.png"):
        assert os.path.getsize(os.path.join(shots, name)) > 10000, name
