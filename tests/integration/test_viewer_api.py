"""The results viewer reading the REST API, in headless Chromium (tests/web/viewer_api.cjs), ahead
of the scheduler service: a stand-in on 127.0.0.1 answers the viewer's routes exactly as
web/webassets.h says the service will (the page for / and /jobs/{id}, the files under /assets/,
with the Content-Security-Policy header of webassets.h) and the REST API of DESIGN.md "Control
plane" (token required) from a job really run with `llmaj run` against the mock LLM."""
import json
import os
import re
import subprocess
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import BIN, Procs, read_records, start_mock, write_dataset, write_spec

SRC = os.environ.get("LLMAJ_SRC") or os.path.join(os.path.dirname(__file__), "..", "..")
BUILD = os.environ.get("LLMAJ_BUILD") or os.path.join(BIN, "..")
STATIC = os.path.join(SRC, "web", "static")
TOKEN = "viewer-test-token"


def header_define(name):
    """A string #define of web/webassets.h (adjacent literals joined), so the stand-in sends what
    the service will."""
    lines = open(os.path.join(SRC, "web", "webassets.h")).read().splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith("#define " + name))
    body = []
    for l in lines[start:]:
        body.append(l)
        if not l.rstrip().endswith("\\"):
            break
    return "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', "\n".join(body)))


def route(path):
    """web/webassets.c's webassets_route, for the stand-in."""
    if path in ("/", "/index.html"):
        return "index.html"
    m = re.fullmatch(r"/jobs/([^/]+)/?", path)
    if m:
        return "index.html"
    m = re.fullmatch(r"/assets/([^/]+)", path)
    if m and os.path.isfile(os.path.join(STATIC, m.group(1))):
        return m.group(1)
    return None


LIVE = "live-job"       # a second job: running (more done at each read) until GET /control/end-live


class StandIn:
    def __init__(self, job, out_dir):
        self.job = job
        self.live_reads = 0
        self.live_ended = False
        self.rows = read_records(out_dir)
        self.summary = json.load(open(os.path.join(out_dir, "summary.json")))
        self.csp = header_define("WEBASSETS_CSP")
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def handler(self):
        si = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def send(self, status, body, ctype="application/json"):
                raw = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(raw)))
                self.send_header("Content-Security-Policy", si.csp)
                self.send_header("X-Content-Type-Options", "nosniff")
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self):
                u = urllib.parse.urlsplit(self.path)
                if u.path == "/control/end-live":   # the test's own switch, not part of the API
                    si.live_ended = True
                    return self.send(200, {})
                if not u.path.startswith("/v1/"):
                    name = route(u.path)
                    if not name:
                        return self.send(404, {"errors": [{"key": "path", "message": "not found"}]})
                    ctype = {"html": "text/html", "css": "text/css", "js": "text/javascript"}[name.rsplit(".", 1)[1]]
                    return self.send(200, open(os.path.join(STATIC, name), "rb").read(), ctype + "; charset=utf-8")
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self.send(401, {"errors": [{"key": "Authorization", "message": "a bearer token is required"}]})
                parts = [urllib.parse.unquote(p) for p in u.path.split("/") if p]
                q = dict(urllib.parse.parse_qsl(u.query))
                if parts == ["v1", "jobs"]:
                    return self.send(200, {"jobs": [si.job]})
                if len(parts) >= 3 and parts[2] == LIVE:
                    running = not si.live_ended
                    if len(parts) == 3:
                        si.live_reads += 1
                        done = min(si.live_reads * 100, 1300)
                        return self.send(200, dict(si.job, job_id=LIVE, name="live", status="running" if running else "succeeded",
                                                   progress={"units_done": done if running else 1400, "units_total": 1400}))
                    if parts[3:] == ["summary"] and running:
                        return self.send(404, {"errors": [{"key": "summary", "message": "written when the job ends"}]})
                    parts[2] = si.job["job_id"]
                if len(parts) < 3 or parts[2] != si.job["job_id"]:
                    return self.send(404, {"errors": [{"key": "job_id", "message": f"no such job: {parts[2:3]}"}]})
                if len(parts) == 3:
                    return self.send(200, si.job)
                if parts[3:] == ["summary"]:
                    return self.send(200, si.summary)
                if parts[3:] == ["results"]:
                    off, lim = int(q.get("offset", 0)), int(q.get("limit", 100))
                    return self.send(200, {"total": len(si.rows), "records": si.rows[off:off + lim]})
                return self.send(404, {"errors": [{"key": "path", "message": "not found"}]})

        return H


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("viewer-api"))
    ps = Procs(tmp)
    try:
        mock = start_mock(ps, "--latency", "uniform:1:3")
        data = os.path.join(tmp, "data.jsonl")
        write_dataset(data, 700)   # 1,400 rows: the browser needs several result pages
        spec_path = os.path.join(tmp, "spec.json")
        write_spec(spec_path, dataset=data, output_path=os.path.join(tmp, "runs"), name="api", shard_size=64)
        p = subprocess.run([os.path.join(BIN, "llmaj"), "run", "--spec", spec_path, "--quiet", "--workers", "1"],
                           env={**os.environ, **mock.env()}, capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, p.stdout + p.stderr
        job_id = p.stdout.split()[1]
        out = [l for l in p.stdout.splitlines() if l.startswith("results: ")][0][len("results: "):]
        yield job_id, out
    finally:
        ps.stop_all()


def test_viewer_reads_the_api(finished):
    job_id, out = finished
    job = {"job_id": job_id, "name": "api", "status": "succeeded", "created_at": "2026-01-01T00:00:00Z",
           "started_at": "2026-01-01T00:00:01Z", "ended_at": "2026-01-01T00:02:00Z",
           "progress": {"units_done": 1400, "units_total": 1400, "scores": {"ok": 5600}}, "steps": [],
           "output": out, "error": None}
    si = StandIn(job, out)
    si.thread.start()
    try:
        shots = os.path.join(os.path.abspath(BUILD), "screenshots", "viewer")
        p = subprocess.run(["node", os.path.join(SRC, "tests", "web", "viewer_api.cjs"), si.url, job_id, TOKEN,
                            os.path.join(out, "records.jsonl"), os.path.join(out, "summary.json"), shots],
                           env={**os.environ, "LLMAJ_NODE_MODULES": os.path.join(os.path.abspath(BUILD), "node", "node_modules")},
                           capture_output=True, text=True, timeout=300)
    finally:
        si.server.shutdown()
        si.server.server_close()
    assert p.returncode == 0, p.stdout + p.stderr
    assert re.search(r"^\d+ passed, 0 failed$", p.stdout, re.M), p.stdout
