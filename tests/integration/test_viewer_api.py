"""The results viewer served by the real service (`llmaj-scheduler --serve`: / and /jobs/{id},
files under /assets/), reading its REST API with the token, end to end in headless Chromium
(tests/web/viewer_api.cjs, Debian's chromium driven by playwright-core; scripts/web.sh installs
it). The fleet is livefleet.py's: mock LLMs, a broker, two workers, the service with a token.

Two jobs: a finished one (700 records, candidate and base: 1,400 rows, several result pages),
whose page must show summary.json's figures, filter its records as records.jsonl says and open
one; and a long one on the slow mock (every model call 250 ms: at least eight minutes of work for
two workers), whose page must update while it runs and show its partial summary once the test
stops it (POST /v1/jobs/{id}/stop, the API a user calls): states are polled, never timings. Screenshots go to BUILD/screenshots/viewer/."""
import json
import os
import re
import subprocess

import pytest

from conftest import BIN, SRC, Procs, check_summary, read_records
from livefleet import Fleet, TOKEN, spec

BUILD = os.environ.get("LLMAJ_BUILD") or os.path.join(BIN, "..")
TONE = [{"customMetricDefinition": {
    "name": "Tone", "lowerIsBetter": True,
    "instructions": "Rate the tone.\nPrompt: {{prompt}}\nResponse: {{prediction}}",
    "ratingScale": [{"definition": "Harsh", "value": {"floatValue": 1}},
                    {"definition": "Kind", "value": {"floatValue": 0}}]}}]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("viewer-api"))
    ps = Procs(tmp)
    try:
        f = Fleet(ps, tmp)
        f.tmp = tmp
        yield f
    finally:
        ps.stop_all()


def test_viewer_reads_the_live_service(fleet):
    finished = fleet.submit(spec(fleet.tmp, "fast", 700, "api", metrics=("Correctness", "Helpfulness", "Harmfulness"),
                                 base=True, custom_metrics=TONE, shard_size=64))
    job = fleet.wait_ended(finished)
    assert job["status"] == "succeeded", job
    out = job["output"]
    records = read_records(out)
    with open(os.path.join(out, "summary.json")) as f:
        summary = json.load(f)
    check_summary(summary, records, metrics_lower_better=("Harmfulness", "Tone"))
    st, served = fleet.call("GET", f"/v1/jobs/{finished}/summary")
    assert st == 200 and served == summary

    # The long job: running (and committing) when the browser opens it.
    live = fleet.submit(spec(fleet.tmp, "slow", 4000, "live", base=True, shard_size=16))
    fleet.wait(live, lambda j: j["status"] == "running" and j["progress"]["units_done"] > 0, what="its first units")

    shots = os.path.join(os.path.abspath(BUILD), "screenshots", "viewer")
    os.makedirs(shots, exist_ok=True)
    for old in os.listdir(shots):   # this run's screenshots only (viewer_report.cjs writes report-*.png)
        if old.startswith("api-"):
            os.remove(os.path.join(shots, old))
    p = subprocess.run(["node", os.path.join(SRC, "tests", "web", "viewer_api.cjs"), fleet.url, finished, TOKEN,
                        os.path.join(out, "records.jsonl"), os.path.join(out, "summary.json"), shots, live],
                       env={**os.environ, "LLMAJ_NODE_MODULES": os.path.join(os.path.abspath(BUILD), "node", "node_modules")},
                       capture_output=True, text=True, timeout=600)
    print(p.stdout)   # the browser checks' tally, in the test's log
    assert p.returncode == 0, p.stdout + p.stderr
    m = re.search(r"^(\d+) passed, 0 failed$", p.stdout, re.M)
    assert m, p.stdout
    # every figure of summary.json (4 metrics, 2 targets, 3 categories, the comparison) and the rest
    assert int(m.group(1)) >= 115, p.stdout
    for name in ("api-token.png", "api-jobs.png", "api-job.png", "api-filtered.png", "api-record.png",
                 "api-live-running.png", "api-live-stopped.png"):
        assert os.path.getsize(os.path.join(shots, name)) > 10000, name

    # The browser stopped the live job through the API: it ended stopped, partial, as the page said.
    ended = fleet.wait_ended(live)
    assert ended["status"] == "stopped" and ended["partial"] is True, ended
    assert TOKEN not in fleet.log()
