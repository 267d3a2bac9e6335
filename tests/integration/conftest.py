"""Shared fixtures for llmaj's integration tests: real programs over TCP on 127.0.0.1.

Every process a test starts is registered with `procs` and killed when the test ends, even when
it fails. Nothing here talks to anything but loopback."""
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

BIN = os.environ.get("LLMAJ_BIN") or os.path.join(os.path.dirname(__file__), "..", "..", "build", "bin")
SRC = os.environ.get("LLMAJ_SRC") or os.path.join(os.path.dirname(__file__), "..", "..")


def rest_call(url, token, method, path, body=None, raw=None, headers=None, timeout=120):
    """(HTTP status, JSON or text) of one request to a scheduler service at url, with the bearer
    token when one is given; an error status is returned, not raised."""
    import urllib.error
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    h = {"Content-Type": "application/json"} if data is not None else {}
    if token:
        h["Authorization"] = f"Bearer {token}"
    h.update(headers or {})
    req = urllib.request.Request(url + path, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            text = r.read().decode()
            return r.status, (json.loads(text) if text and r.headers.get_content_type() == "application/json"
                              else text)
    except urllib.error.HTTPError as e:
        text = e.read().decode()
        try:
            return e.code, json.loads(text)
        except ValueError:
            return e.code, text


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Procs:
    def __init__(self, tmp):
        self.tmp = tmp
        self.items = []

    def start(self, name, argv, env=None, stdout=None, cwd=None):
        out = open(os.path.join(self.tmp, f"{name}.out"), "wb") if stdout is None else stdout
        err = open(os.path.join(self.tmp, f"{name}.err"), "wb")
        p = subprocess.Popen(argv, stdout=out, stderr=err, env={**os.environ, **(env or {})},
                             start_new_session=True, cwd=cwd)
        p.name = name
        p.out_path = os.path.join(self.tmp, f"{name}.out")
        p.err_path = os.path.join(self.tmp, f"{name}.err")
        self.items.append(p)
        return p

    def log(self, p):
        with open(p.err_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop_all(self):
        for p in self.items:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.time() + 10
        for p in self.items:
            try:
                p.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


@pytest.fixture
def procs(tmp_path):
    ps = Procs(str(tmp_path))
    yield ps
    ps.stop_all()


def wait_for_line(path, prefix, proc, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith(prefix):
                        return line[len(prefix):].strip()
        except FileNotFoundError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.name} exited with {proc.returncode}")
        time.sleep(0.05)
    raise TimeoutError(f"{proc.name} did not print {prefix!r}")


class Mock:
    def __init__(self, url, proc):
        self.url = url
        self.proc = proc

    def stats(self):
        with urllib.request.urlopen(self.url + "/stats", timeout=10) as r:
            return json.loads(r.read())

    def model_requests(self):
        r = self.stats()["requests"]
        return r["chat_completions"] + r["messages"] + r["converse"] + r.get("invocations", 0)

    def reset(self):
        req = urllib.request.Request(self.url + "/stats/reset", method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            r.read()

    def env(self):
        return {"MOCK_BASE_URL": self.url + "/v1", "MOCK_API_KEY": "k",
                "OPENAI_BASE_URL": self.url + "/v1", "OPENAI_API_KEY": "k",
                "ANTHROPIC_BASE_URL": self.url, "ANTHROPIC_API_KEY": "k"}


def start_mock(procs, *args, name="mock"):
    p = procs.start(name, [os.path.join(BIN, "llmaj-mockllm"), "--port", "0", *args])
    url = wait_for_line(p.out_path, "listening on ", p)
    m = Mock(url, p)
    deadline = time.time() + 10
    while True:
        try:
            m.stats()
            return m
        except Exception:
            if time.time() > deadline:
                raise
            time.sleep(0.05)


def start_broker(procs, *args, name="broker"):
    port = free_port()
    p = procs.start(name, [os.path.join(BIN, "llmaj-broker"), "--bind", f"tcp://127.0.0.1:{port}",
                           "--heartbeat-ms", "200", "--dead-after", "5", *args])
    wait_for_line(p.out_path, "llmaj-broker listening on ", p)
    return f"tcp://127.0.0.1:{port}", p


def start_worker(procs, broker, env, *args, name="worker"):
    return procs.start(name, [os.path.join(BIN, "llmaj-worker"), "--broker", broker, "--heartbeat-ms", "200",
                              "--dead-after", "5", "--name", name, *args], env=env)


def write_dataset(path, n, seed=7, with_context_every=5, categories=("math", "history", "code")):
    with open(path, "w") as f:
        for i in range(n):
            o = {"id": f"r{i}", "prompt": f"Question number {i}: explain item {i * seed % 97}.",
                 "referenceResponse": f"Reference answer {i}.", "category": categories[i % len(categories)]}
            if with_context_every and i % with_context_every == 0:
                o["context"] = f"Context for question {i}."
            f.write(json.dumps(o) + "\n")


def write_spec(path, **kw):
    spec = {"model": "openai-api/mock/ft", "base_model": "openai-api/mock/base", "evaluate_base_model": True,
            "evaluator_model": "anthropic/judge", "builtin_metrics": ["Correctness", "Helpfulness", "Harmfulness"],
            "custom_metrics": [{"customMetricDefinition": {
                "name": "Tone", "instructions": "Rate the tone.\nPrompt: {{prompt}}\nResponse: {{prediction}}",
                "ratingScale": [{"definition": "Good", "value": {"floatValue": 1}},
                                {"definition": "Poor", "value": {"floatValue": 0}}]}}],
            "shard_size": 16}
    spec.update(kw)
    spec = {k: v for k, v in spec.items() if v is not None}
    with open(path, "w") as f:
        json.dump(spec, f)
    return spec


def read_records(out_dir):
    with open(os.path.join(out_dir, "records.jsonl")) as f:
        return [json.loads(l) for l in f if l.strip()]


# ---- recomputing summary.json from records.jsonl (independently of the C code) ----

def _betacf(a, b, x):
    qab, qap, qam = a + b, a + 1, a - 1
    c, d = 1.0, 1 - qab * x / qap
    d = 1 / (d if abs(d) > 1e-300 else 1e-300)
    h = d
    for m in range(1, 400):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1 + aa * d; d = 1 / (d if abs(d) > 1e-300 else 1e-300)
        c = 1 + aa / c if abs(1 + aa / c) > 1e-300 else 1e-300
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1 + aa * d; d = 1 / (d if abs(d) > 1e-300 else 1e-300)
        c = 1 + aa / c if abs(1 + aa / c) > 1e-300 else 1e-300
        de = d * c
        h *= de
        if abs(de - 1) < 1e-15:
            break
    return h


def _betai(a, b, x):
    if x <= 0: return 0.0
    if x >= 1: return 1.0
    lbt = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(1 - x)
    if x < (a + 1) / (a + b + 2):
        return math.exp(lbt) * _betacf(a, b, x) / a
    return 1 - math.exp(lbt) * _betacf(b, a, 1 - x) / b


def t_cdf(t, df):
    x = df / (df + t * t)
    p = 0.5 * _betai(df / 2, 0.5, x)
    return 1 - p if t > 0 else p


def t_ppf_975(df):
    lo, hi = 0.0, 1000.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if t_cdf(mid, df) < 0.975: lo = mid
        else: hi = mid
    return (lo + hi) / 2


def mean_ci(xs, clip=True):
    n = len(xs)
    if n == 0:
        return None, None, None
    m = sum(xs) / n
    if n < 2:
        return m, 0.0, [m, m]
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (n - 1))
    h = t_ppf_975(n - 1) * sd / math.sqrt(n)
    lo, hi = m - h, m + h
    if clip:
        lo, hi = max(0.0, lo), min(1.0, hi)
    return m, sd, [lo, hi]


def close(a, b, tol=1e-9):
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


def check_summary(summary, records, metrics_lower_better=()):
    """Recomputes every figure of summary.json from records.jsonl and compares."""
    by_target = {}
    for r in records:
        by_target.setdefault(r["target"], []).append(r)
    assert set(summary["targets"].keys()) == set(by_target.keys())
    for target, recs in by_target.items():
        tm = summary["targets"][target]["metrics"]
        for metric, m in tm.items():
            scores = [r["scores"][metric] for r in recs]
            ok = [s for s in scores if s["status"] == "ok"]
            assert m["n"] == len(ok), (target, metric)
            assert m["n_unscored"] == sum(s["status"] == "unscored" for s in scores)
            assert m["n_error"] == sum(s["status"] == "error" for s in scores)
            vals = [s["normalized"] for s in ok if s["normalized"] is not None]
            if vals:
                mean, sd, ci = mean_ci(vals)
                assert close(m["mean"], mean), (metric, m["mean"], mean)
                assert close(m["std"], sd, 1e-6)
                assert close(m["ci95"][0], ci[0], 1e-6) and close(m["ci95"][1], ci[1], 1e-6), (m["ci95"], ci)
                assert close(m["mean_score"], sum(s["score"] for s in ok) / len(ok))
            counts = {}
            for s in scores:
                if s["rating"] is not None and s["status"] in ("ok", "not_applicable"):
                    counts[s["rating"]] = counts.get(s["rating"], 0) + 1
            for rating, c in m["ratings"].items():
                assert c == counts.get(rating, 0), (metric, rating, c, counts)
    if "base" in by_target:
        base = {r["record_index"]: r for r in by_target["base"]}
        for metric, c in summary.get("comparison", {}).items():
            diffs = []
            wins = ties = losses = 0
            sign = -1 if metric in metrics_lower_better else 1
            for r in by_target["custom"]:
                b = base.get(r["record_index"])
                if not b: continue
                sc, sb = r["scores"][metric], b["scores"][metric]
                if sc["status"] != "ok" or sb["status"] != "ok": continue
                d = sign * (sc["normalized"] - sb["normalized"])
                diffs.append(d)
                wins += d > 0; ties += d == 0; losses += d < 0
            assert c["n"] == len(diffs)
            assert (c["wins"], c["ties"], c["losses"]) == (wins, ties, losses)
            if diffs:
                mean, _, ci = mean_ci(diffs, clip=False)
                # a difference of normalized scores lies in [-1, 1]: the summary clips its interval there
                ci = [max(-1.0, ci[0]), min(1.0, ci[1])]
                assert close(c["mean_diff"], mean)
                assert close(c["ci95"][0], ci[0], 1e-6) and close(c["ci95"][1], ci[1], 1e-6)
