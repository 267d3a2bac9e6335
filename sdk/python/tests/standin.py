"""A stand-in for the scheduler's REST control plane (DESIGN.md "Control plane"), for the SDK's
unit tests: a real HTTP server on 127.0.0.1 with the same routes, bodies, status codes and token
rule, over jobs kept in memory. A job advances by `step` record-targets each time it is read, so
waiting is deterministic. Every request is recorded (method, path, query, headers, body)."""
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def make_rows(job_id, n_records, base=True):
    rows = []
    for i in range(n_records):
        for target in (("custom", "base") if base else ("custom",)):
            bad = i % 5 == 4
            rows.append({
                "job_id": job_id, "record_index": i, "record_id": f"r{i}", "target": target,
                "model": "m-ft" if target == "custom" else "m-base",
                "prompt": f"Question {i}\twith a tab", "response": f"Answer {i} from {target}",
                "category": "math" if i % 2 else "history", "reference": None,
                "scores": {
                    "Correctness": {"score": 2 if i % 3 else 0, "normalized": 1.0 if i % 3 else 0.0,
                                    "rating": "correct" if i % 3 else "incorrect",
                                    "explanation": f"because {i}", "status": "ok"},
                    "BadMetric": {"score": None, "normalized": None, "rating": None,
                                  "explanation": "", "status": "unscored" if bad else "ok"}
                    if bad else {"score": 0, "normalized": 0.0, "rating": "Good", "explanation": "fine",
                                 "status": "ok"},
                },
                "usage": {"input_tokens": 1, "output_tokens": 2}, "latency_ms": 3.5, "error": None,
            })
    return rows


class Service:
    def __init__(self, token=None, step=10):
        self.token = token
        self.step = step
        self.jobs = {}
        self.order = []
        self.requests = []
        self.reject = None          # a list of {"key","message"}: POST /v1/jobs answers 400 with it
        self.fail_next = []         # statuses to answer to the next requests (e.g. 503)
        self.lock = threading.RLock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *a):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)

    def add_job(self, job_id, name=None, status="running", n_records=4, base=True, summary=None):
        rows = make_rows(job_id, n_records, base)
        job = {"job_id": job_id, "name": name, "status": status, "created_at": "2026-01-01T00:00:00Z",
               "started_at": "2026-01-01T00:00:01Z", "ended_at": None, "error": None,
               "output": f"/runs/{job_id}", "rows": rows, "summary": summary,
               "progress": {"units_done": 0 if status in ("queued", "running") else len(rows), "units_total": len(rows),
                            "scores": {"ok": 0, "unscored": 0, "not_applicable": 0, "error": 0}},
               "steps": [{"name": "validate", "status": "succeeded", "detail": "ok"},
                         {"name": "infer+judge", "status": "running" if status == "running" else "succeeded",
                          "detail": ""}]}
        with self.lock:
            self.jobs[job_id] = job
            self.order.insert(0, job_id)
        return job

    def public(self, job):
        return {k: v for k, v in job.items() if k not in ("rows", "summary", "spec")}

    def _advance(self, job):
        if job["status"] == "queued":
            job["status"] = "running"
        elif job["status"] == "running":
            p = job["progress"]
            p["units_done"] = min(p["units_total"], p["units_done"] + self.step)
            if p["units_done"] >= p["units_total"]:
                job["status"] = "succeeded"
                job["ended_at"] = "2026-01-01T00:01:00Z"
                job["summary"] = job["summary"] or {"job_id": job["job_id"], "targets": {}}
        elif job["status"] == "stopping":
            job["status"] = "stopped"

    def _handler(self):
        svc = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _send(self, status, body=None):
                raw = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _err(self, status, key, message):
                self._send(status, {"errors": [{"key": key, "message": message}]})

            def _handle(self, method):
                u = urllib.parse.urlsplit(self.path)
                q = dict(urllib.parse.parse_qsl(u.query))
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                body = json.loads(raw) if raw else None
                with svc.lock:
                    svc.requests.append({"method": method, "path": u.path, "query": q, "headers": dict(self.headers),
                                         "body": body})
                    if svc.fail_next:
                        self._send(svc.fail_next.pop(0), {"errors": [{"key": "", "message": "injected"}]})
                        return
                    if svc.token and self.headers.get("Authorization") != f"Bearer {svc.token}":
                        self._err(401, "Authorization", "a bearer token is required")
                        return
                    parts = [p for p in u.path.split("/") if p]
                    if parts[:2] != ["v1", "jobs"]:
                        self._err(404, "path", "no such endpoint")
                        return
                    if len(parts) == 2 and method == "POST":
                        if svc.reject:
                            self._send(400, {"errors": svc.reject})
                            return
                        jid = f"j-{len(svc.jobs) + 1:04d}"
                        job = svc.add_job(jid, name=body.get("name"), status="queued")
                        job["spec"] = body
                        self._send(201, {"job_id": jid, "status": "queued"})
                        return
                    if len(parts) == 2 and method == "GET":
                        self._send(200, {"jobs": [svc.public(svc.jobs[j]) for j in svc.order]})
                        return
                    job = svc.jobs.get(urllib.parse.unquote(parts[2])) if len(parts) > 2 else None
                    if job is None:
                        self._err(404, "job_id", "no such job")
                        return
                    rest = parts[3:]
                    if not rest and method == "GET":
                        svc._advance(job)
                        self._send(200, svc.public(job))
                    elif rest == ["stop"] and method == "POST":
                        if job["status"] in ("queued", "running"):
                            job["status"] = "stopping"
                        self._send(202, {"job_id": job["job_id"], "status": job["status"]})
                    elif rest == ["retry"] and method == "POST":
                        if job["status"] not in ("succeeded", "failed", "stopped"):
                            self._err(409, "status", f"job is {job['status']}: only an ended job can be retried")
                            return
                        job["status"] = "running"
                        job["progress"]["units_done"] = 0
                        self._send(202, {"job_id": job["job_id"], "status": "running"})
                    elif rest == ["summary"] and method == "GET":
                        if job["summary"] is None:
                            self._err(404, "summary", "written when the job ends")
                        else:
                            self._send(200, job["summary"])
                    elif rest == ["results"] and method == "GET":
                        try:
                            off, lim = int(q.get("offset", 0)), int(q.get("limit", 100))
                        except ValueError:
                            self._err(400, "offset", "must be an integer")
                            return
                        self._send(200, {"total": len(job["rows"]), "records": job["rows"][off:off + lim]})
                    else:
                        self._err(404, "path", "no such endpoint")

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

        return H
