#!/usr/bin/env python3
"""llmaj benchmarks: one subcommand per scenario, each printing its figures and recording them in
bench/RESULTS.md with the machine and the command.

    python3 bench/bench.py overhead|latency|quota|memory|scale|all [--quick] [--bin DIR]

Scenarios (bench/README.md has the details):
  overhead  mock at zero latency: the fleet's judge calls/s against the mock's own capacity
            measured by wrk in the same run; llmaj pinned on one core, the mock on another
  latency   mock latency 200 ms: achieved calls/s over the ideal (calls in flight / latency)
  quota     mock enforcing RPM and TPM, four llmaj-worker processes sharing it: achieved rate
            over the limits, 429s as a share of requests
  memory    llmaj-worker RSS with 1,000 requests in flight
  scale     one to four llmaj-worker processes

It builds nothing: it runs the programs of an optimised build (`bash scripts/build.sh` makes
build/bin; --bin or LLMAJ_BIN point elsewhere). Every program listens on loopback only, on free
ports, and is stopped when the scenario ends, also on failure or Ctrl-C. Calls/s are read from the
mock's /stats counters over a steady-state window that leaves out start-up. Python 3.11 stdlib only.
"""
import argparse
import datetime
import json
import math
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "RESULTS.md")
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

JUDGE = "openai-api/mock/judge"          # served by the mock's /v1/chat/completions
METRICS = ["Correctness", "Completeness", "Helpfulness", "Relevance"]
SAMPLE_S = 0.25                         # how often counters are read during a window
NOISE = []                              # others_load() of every window measured in this scenario


class BenchError(Exception):
    """A scenario could not be measured; the message says what went wrong and where."""


class Interrupted(BaseException):
    """SIGTERM or SIGHUP: unwinds like Ctrl-C so every started program is stopped."""


def on_signal(signum, frame):
    raise Interrupted(signal.Signals(signum).name)


# ---------------------------------------------------------------- processes

class Procs:
    """Programs started by a scenario. Each runs in its own session (process group), with stdout
    and stderr in files of the work dir; stop_all() ends every group, SIGTERM then SIGKILL."""

    def __init__(self, work):
        self.work = work
        self.items = []

    def start(self, name, argv, env=None, cpus=None):
        if cpus is not None:
            argv = ["taskset", "-c", str(cpus), *argv]
        out_path = os.path.join(self.work, f"{name}.out")
        err_path = os.path.join(self.work, f"{name}.err")
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            p = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                 env={**os.environ, **(env or {})}, start_new_session=True)
        p.name, p.argv, p.out_path, p.err_path = name, argv, out_path, err_path
        self.items.append(p)
        return p

    def tail(self, p, lines=15):
        text = ""
        for path in (p.out_path, p.err_path):
            try:
                with open(path, "rb") as f:
                    text += f.read().decode(errors="replace")
            except OSError:
                pass
        return "\n".join("    " + l for l in text.strip().splitlines()[-lines:])

    def check_alive(self, *ps):
        for p in ps:
            if p.poll() is not None:
                raise BenchError(f"{p.name} exited with status {p.returncode} "
                                 f"({' '.join(p.argv)}); its last output:\n{self.tail(p)}")

    def stop(self, p, grace=10.0):
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            p.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()

    def stop_all(self):
        for p in self.items:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 10
        for p in self.items:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
        self.items = []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_line(procs, p, prefix, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(p.out_path) as f:
                for line in f:
                    if line.startswith(prefix):
                        return line[len(prefix):].strip()
        except FileNotFoundError:
            pass
        procs.check_alive(p)
        time.sleep(0.05)
    raise BenchError(f"{p.name} did not print {prefix!r} within {timeout} s; its last output:\n{procs.tail(p)}")


def cpu_seconds(pid):
    """user + system CPU time of a process (all its threads), in seconds; None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return None


def mem_status(pid):
    """VmRSS and VmHWM of a process, in bytes."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    key, val = line.split(":", 1)
                    out[key] = int(val.split()[0]) * 1024
    except OSError:
        return None
    return out


# ---------------------------------------------------------------- the mock

class Mock:
    def __init__(self, procs, p, url):
        self.procs, self.p, self.url = procs, p, url

    def stats(self):
        try:
            with urllib.request.urlopen(self.url + "/stats", timeout=10) as r:
                return json.loads(r.read())
        except (OSError, ValueError) as e:
            self.procs.check_alive(self.p)
            raise BenchError(f"GET {self.url}/stats failed: {e}") from e

    def reset(self):
        req = urllib.request.Request(self.url + "/stats/reset", data=b"", method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            r.read()

    def env(self):
        return {"MOCK_BASE_URL": self.url + "/v1", "MOCK_API_KEY": "bench-key",
                "ANTHROPIC_BASE_URL": self.url, "ANTHROPIC_API_KEY": "bench-key"}


def start_mock(procs, bin_dir, *args, cpus=None, name="mock"):
    p = procs.start(name, [os.path.join(bin_dir, "llmaj-mockllm"), "--port", "0", "--log-level", "warn", *args],
                    cpus=cpus)
    url = wait_for_line(procs, p, "listening on ")
    m = Mock(procs, p, url)
    deadline = time.monotonic() + 10
    while True:
        try:
            m.stats()
            return m
        except BenchError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def start_broker(procs, bin_dir, cpus=None, name="broker"):
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    p = procs.start(name, [os.path.join(bin_dir, "llmaj-broker"), "--bind", endpoint, "--log-level", "warn"],
                    cpus=cpus)
    wait_for_line(procs, p, "llmaj-broker listening on ")
    return endpoint, p


def start_worker(procs, bin_dir, broker, env, *args, cpus=None, name="worker"):
    return procs.start(name, [os.path.join(bin_dir, "llmaj-worker"), "--broker", broker, "--name", name,
                              "--log-level", "warn", *args], env=env, cpus=cpus)


def start_scheduler(procs, bin_dir, broker, spec_path, env, *args, cpus=None, name="scheduler"):
    return procs.start(name, [os.path.join(bin_dir, "llmaj-scheduler"), "--spec", spec_path, "--broker", broker,
                              "--log-level", "warn", *args], env=env, cpus=cpus)


# ---------------------------------------------------------------- data

_TOPICS = ["photosynthesis", "the French revolution", "binary search", "plate tectonics", "compound interest",
           "the TCP handshake", "vaccines", "the Pythagorean theorem", "inflation", "garbage collection",
           "the water cycle", "supply and demand", "black holes", "recursion", "the immune system"]
_CATEGORIES = ["science", "history", "code", "finance", "health"]


def write_dataset(path, n, with_responses=True):
    """n records of realistic size (a question, a reference, one model response of ~300 characters).
    With responses the job makes judge calls only: one per metric per record."""
    with open(path, "w") as f:
        for i in range(n):
            topic = _TOPICS[i % len(_TOPICS)]
            o = {"id": f"q{i}",
                 "prompt": f"Question {i}: explain {topic} to a first-year student in a short paragraph, "
                           f"with one concrete example.",
                 "referenceResponse": f"A short, correct explanation of {topic} with an example (ref {i}).",
                 "category": _CATEGORIES[i % len(_CATEGORIES)]}
            if with_responses:
                o["modelResponses"] = [{"modelIdentifier": "bench-model",
                                        "response": f"{topic.capitalize()} is best understood step by step. "
                                                    f"First, the basic idea: it describes how one thing leads to "
                                                    f"another under clear rules. For example, case {i} shows the "
                                                    f"rule at work in everyday life. In short, {topic} matters "
                                                    f"because it explains what we observe."}]
            f.write(json.dumps(o) + "\n")


def write_spec(path, dataset, output, metrics=METRICS, limits=None, judge_max_tokens=None, shard_size=None):
    spec = {"evaluator_model": JUDGE, "dataset": dataset, "builtin_metrics": list(metrics), "output_path": output}
    if limits:
        spec["limits"] = {JUDGE: limits}
    if judge_max_tokens:
        spec["judge"] = {"max_tokens": judge_max_tokens, "temperature": 0}
    if shard_size:
        spec["shard_size"] = shard_size
    with open(path, "w") as f:
        json.dump(spec, f, indent=1)
    return spec


# ---------------------------------------------------------------- measuring

def machine_busy():
    """CPU seconds the whole machine has spent busy (all cores), from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal ...
    return (v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)) / CLK_TCK


class Snap:
    def __init__(self, t, stats, cpu, mem, busy, ours):
        self.t, self.stats, self.cpu, self.mem, self.busy, self.ours = t, stats, cpu, mem, busy, ours


def snapshot(mock, pids, procs=None):
    stats = mock.stats()
    t = time.monotonic()
    me = resource.getrusage(resource.RUSAGE_SELF)
    ours = me.ru_utime + me.ru_stime          # this script's own sampling
    for p in (procs.items if procs else []):
        ours += cpu_seconds(p.pid) or 0.0
    return Snap(t, stats, {n: cpu_seconds(pid) for n, pid in pids.items()},
                {n: mem_status(pid) for n, pid in pids.items()}, machine_busy(), ours)


def wait_quiet(ctx):
    """With --wait-quiet S: waits (at most S seconds) until the machine's busy time over 2 s is below
    --quiet-cores cores, so that other users' work does not land in the next measurement. Programs
    of the benchmark still running (an idle mock) count as busy, which errs on the safe side."""
    limit = ctx.args.wait_quiet
    if not limit:
        return
    deadline = time.monotonic() + limit
    while True:
        b0, t0 = machine_busy(), time.monotonic()
        time.sleep(2)
        busy = (machine_busy() - b0) / (time.monotonic() - t0)
        if busy < ctx.args.quiet_cores:
            return
        if time.monotonic() > deadline:
            print(f"bench: the machine stayed busy ({busy:.2f} cores) for {limit:.0f} s; measuring anyway",
                  flush=True)
            return
        print(f"bench: waiting for a quiet machine ({busy:.2f} cores busy)", flush=True)


def others_load(samples):
    """Cores used on average by programs this benchmark did not start, over the samples: the noise
    of a shared machine (0 on a quiet one)."""
    busy = samples[-1].busy - samples[0].busy
    ours = samples[-1].ours - samples[0].ours
    return max(0.0, (busy - ours) / span(samples))


def wait_first_call(procs, mock, watch, timeout=300):
    """Waits until the mock has received a model call (start-up: dataset read, shards made)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = mock.stats()
        if s["requests"]["chat_completions"] > 0:
            return
        procs.check_alive(mock.p, *watch)
        time.sleep(0.05)
    raise BenchError(f"no model call reached the mock within {timeout} s of start")


def measure(procs, mock, watch, pids, warmup, window, what="the job"):
    """Waits for the first call, lets `warmup` seconds pass, then samples the mock's counters (and
    CPU/memory of `pids`) every SAMPLE_S over `window` seconds. Every program in `watch` must still
    run when the window closes: a job that finished early would put its tail into the figure."""
    wait_first_call(procs, mock, watch)
    end = time.monotonic() + warmup
    while time.monotonic() < end:
        procs.check_alive(mock.p, *watch)
        time.sleep(min(SAMPLE_S, max(0.0, end - time.monotonic())))
    samples = [snapshot(mock, pids, procs)]
    end = samples[0].t + window
    while True:
        time.sleep(min(SAMPLE_S, max(0.0, end - time.monotonic())))
        for p in watch:
            if p.poll() is not None:
                raise BenchError(f"{p.name} ended (status {p.returncode}) {samples[-1].t - samples[0].t:.1f} s "
                                 f"into the {window:.0f} s window: {what} ran out of work; give a larger "
                                 f"--records. Its last output:\n{procs.tail(p)}")
        samples.append(snapshot(mock, pids, procs))
        if samples[-1].t >= end:
            NOISE.append(others_load(samples))
            return samples


def delta(samples, path):
    """Increase of a /stats counter over the samples; path like 'judge_calls' or 'responses.429'."""
    def get(s):
        v = s.stats
        for k in path.split("."):
            v = v[k]
        return v
    return get(samples[-1]) - get(samples[0])


def span(samples):
    return samples[-1].t - samples[0].t


def cpu_share(samples, name):
    a, b = samples[0].cpu.get(name), samples[-1].cpu.get(name)
    if a is None or b is None:
        return None
    return (b - a) / span(samples)


def mean_gauge(samples, key):
    return sum(s.stats[key] for s in samples) / len(samples)


# ---------------------------------------------------------------- a judge request, captured

def capture_judge_requests(bin_dir, work, metrics):
    """Runs `llmaj run` on one record against a tiny local HTTP server that records the first-turn
    judge requests the worker sends (one per metric): the bodies wrk replays."""
    got, lock = {}, threading.Lock()

    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                msgs = json.loads(body).get("messages", [])
            except ValueError:
                msgs = []
            if not any(m.get("role") == "assistant" for m in msgs):
                with lock:
                    got[len(got)] = {"path": self.path, "body": body.decode(),
                                     "headers": {k: v for k, v in self.headers.items()
                                                 if k.lower() not in ("host", "content-length", "connection",
                                                                      "expect", "accept-encoding")}}
            reply = json.dumps({"id": "cap", "object": "chat.completion", "created": 0, "model": "judge",
                                "choices": [{"index": 0, "finish_reason": "stop", "message": {
                                    "role": "assistant", "content": "Rating: none"}}],
                                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    cap = os.path.join(work, "capture")
    os.makedirs(cap, exist_ok=True)
    try:
        write_dataset(os.path.join(cap, "one.jsonl"), 1)
        write_spec(os.path.join(cap, "spec.json"), "one.jsonl", os.path.join(cap, "out"), metrics=metrics)
        env = {**os.environ, "MOCK_BASE_URL": f"http://127.0.0.1:{srv.server_address[1]}/v1",
               "MOCK_API_KEY": "bench-key"}
        r = subprocess.run([os.path.join(bin_dir, "llmaj"), "run", "--spec", os.path.join(cap, "spec.json"),
                            "--workers", "1", "--quiet"], env=env, capture_output=True, timeout=120,
                           start_new_session=True)
    finally:
        srv.shutdown()
        srv.server_close()
    if len(got) != len(metrics):
        raise BenchError(f"capturing judge requests: expected {len(metrics)} first-turn requests, got {len(got)} "
                         f"(llmaj run exited {r.returncode}: {r.stderr.decode(errors='replace')[-800:]})")
    return [got[i] for i in sorted(got)]


def lua_long_string(s):
    level = 0
    while ("]" + "=" * level + "]") in s:
        level += 1
    eq = "=" * level
    return f"[{eq}[\n{s}]{eq}]"


def write_wrk_script(path, captured):
    def lua_str(s):
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
    heads = ", ".join(f"[{lua_str(k)}] = {lua_str(v)}" for k, v in captured[0]["headers"].items())
    bodies = ",\n".join(lua_long_string(c["body"]) for c in captured)
    with open(path, "w") as f:
        f.write(f"-- POSTs the judge requests llmaj's worker sends (captured), in turn, as pre-built requests.\n"
                f"local path = {lua_str(captured[0]['path'])}\n"
                f"local headers = {{ {heads} }}\n"
                f"local bodies = {{\n{bodies}\n}}\n"
                "local reqs, i = {}, 0\n"
                "init = function(args)\n"
                "  for k, b in ipairs(bodies) do reqs[k] = wrk.format(\"POST\", path, headers, b) end\n"
                "end\n"
                "request = function()\n"
                "  i = i % #reqs + 1\n"
                "  return reqs[i]\n"
                "end\n")


def run_wrk(mock, script, seconds, connections, cpus):
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", script, mock.url]
    if cpus is not None:
        argv = ["taskset", "-c", str(cpus), *argv]
    before = mock.stats()
    t0 = time.monotonic()
    busy0, mock0 = machine_busy(), cpu_seconds(mock.p.pid) or 0.0
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = p.communicate(timeout=seconds + 60)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    t1 = time.monotonic()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    mock_cpu = (cpu_seconds(mock.p.pid) or 0.0) - mock0
    ours = mock_cpu + (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    other = max(0.0, (machine_busy() - busy0 - ours) / (t1 - t0))
    NOISE.append(other)
    after = mock.stats()
    text = out.decode(errors="replace")
    if p.returncode != 0:
        raise BenchError(f"wrk exited {p.returncode}: {text[-800:]}")
    m = re.search(r"Requests/sec:\s+([0-9.]+)", text)
    if not m:
        raise BenchError(f"wrk printed no Requests/sec:\n{text}")
    judged = after["judge_calls"] - before["judge_calls"]
    sent = after["requests"]["chat_completions"] - before["requests"]["chat_completions"]
    return {"wrk_rps": float(m.group(1)), "judge_calls": judged, "requests": sent,
            "mock_cpu": mock_cpu / (t1 - t0), "other": other,
            "non_2xx": sent - (after["responses"]["2xx"] - before["responses"]["2xx"]),
            "wall": t1 - t0, "text": text}


# ---------------------------------------------------------------- reporting

def sh(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10, cwd=ROOT).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def machine():
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    commit = sh(["git", "rev-parse", "--short=12", "HEAD"]) or "unknown"
    dirty = sh(["git", "status", "--porcelain", "--untracked-files=normal"])
    return {"nproc": os.cpu_count(), "cpu": cpu, "mem": f"{mem / 2**30:.1f} GiB", "kernel": platform.release(),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": commit + (" (with uncommitted changes)" if dirty else "")}


def md_table(header, rows):
    cells = [header] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    def line(r):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"
    return "\n".join([line(cells[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] +
                     [line(r) for r in cells[1:]])


def fnum(x, digits=0):
    if x is None:
        return "n/a"
    return f"{x:,.{digits}f}"


def pct(x, digits=1):
    return "n/a" if x is None else f"{100 * x:.{digits}f}%"


def verdict(ok):
    return "met" if ok else "NOT met"


TITLES = {"overhead": "a. Overhead: zero-latency mock", "latency": "b. Latency-bound: mock latency 200 ms",
          "quota": "c. Quota: provider rate limits shared by four workers",
          "memory": "d. Memory: worker RSS with 1,000 requests in flight",
          "scale": "e. Scale: one to four worker processes",
          "service": "f. Service: submission, a small job beside a huge one, restart"}
ORDER = list(TITLES)


def record(name, ctx, body):
    """Prints the section and puts it in bench/RESULTS.md in place of the previous one."""
    m = ctx.machine
    m["date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = (f"## {TITLES[name]}\n\n"
            f"- Machine: {m['nproc']} CPUs ({m['cpu']}), {m['mem']} memory, Linux {m['kernel']}\n"
            f"- Date: {m['date']}; commit {m['commit']}; binaries {ctx.bin_rel} ({ctx.build_type})\n"
            f"- Command: `{ctx.command}`\n"
            f"- Other load: {ctx.noise}\n\n{body.strip()}\n")
    print("\n" + text, flush=True)
    begin, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{begin}\n{text}{end}\n"
    head = ("# llmaj benchmark results\n\n"
            "Written by `python3 bench/bench.py SCENARIO`: each run replaces its scenario's section. What the\n"
            "scenarios measure and how to run them: [README.md](README.md). Targets are measured here,\n"
            "never asserted in tests.\n\n")
    try:
        with open(RESULTS) as f:
            doc = f.read()
    except FileNotFoundError:
        doc = head
    sections = {}
    for n in ORDER:
        mm = re.search(re.escape(f"<!-- bench:{n} -->") + r".*?" + re.escape(f"<!-- /bench:{n} -->") + r"\n?",
                       doc, re.S)
        if mm:
            sections[n] = mm.group(0)
            doc = doc.replace(mm.group(0), "")
    sections[name] = block
    preamble = doc.strip() + "\n\n" if doc.strip() else head
    out = preamble + "\n".join(sections[n] for n in ORDER if n in sections)
    tmp = RESULTS + ".tmp"
    with open(tmp, "w") as f:
        f.write(out)
    os.replace(tmp, RESULTS)


# ---------------------------------------------------------------- scenarios

class Ctx:
    pass


def env_for(mock):
    return {**mock.env(), "LLMAJ_LOG_LEVEL": "warn"}


def llmaj_run(ctx, procs, mock, spec, workers, concurrency, name="llmaj", cpus=None, window=None):
    argv = [os.path.join(ctx.bin, "llmaj"), "run", "--spec", spec, "--workers", str(workers),
            "--concurrency", str(concurrency), "--quiet", "--log-level", "warn"]
    if window:
        argv += ["--window", str(window)]
    return procs.start(name, argv, env=env_for(mock), cpus=cpus)


def scenario_overhead(ctx):
    """The fleet (llmaj run, one worker thread, pinned on one core) against a zero-latency mock
    (one HTTP thread, pinned on another core), and wrk against the same mock from the same core."""
    q = ctx.quick
    cores = sorted(os.sched_getaffinity(0))
    mock_cpu, fleet_cpu = (cores[0], cores[1]) if len(cores) >= 2 else (None, None)
    warmup, window = (3, 8) if q else (5, 20)
    wrk_s = 8 if q else 20
    concs = ctx.args.concurrency_list or ([ctx.args.concurrency] if ctx.args.concurrency else
                                          [256] if q else [32, 256, 1000])
    records = ctx.args.records or (60000 if q else 150000)
    work = ctx.work
    captured = capture_judge_requests(ctx.bin, work, METRICS)
    script = os.path.join(work, "judge.lua")
    write_wrk_script(script, captured)
    body_bytes = sum(len(c["body"]) for c in captured) / len(captured)
    ds = os.path.join(work, "overhead.jsonl")
    write_dataset(ds, records)
    procs = Procs(work)
    fleet = []
    try:
        # a fresh mock for every row, so that nothing one load left behind weighs on the next
        wrk_rows = []
        for c in ctx.args.wrk_connections:
            wait_quiet(ctx)
            mock = start_mock(procs, ctx.bin, "--threads", "1", cpus=mock_cpu, name=f"mock-wrk{c}")
            r = run_wrk(mock, script, wrk_s, c, fleet_cpu)
            procs.stop(mock.p)
            if r["non_2xx"]:
                raise BenchError(f"wrk: {r['non_2xx']} of {r['requests']} requests were not answered 2xx: "
                                 f"the captured request is not what the mock accepts")
            r["connections"] = c
            r["mock_rate"] = r["judge_calls"] / r["wall"]
            wrk_rows.append(r)
            print(f"wrk -c{c}: {r['wrk_rps']:,.0f} requests/s", flush=True)
        best = max(wrk_rows, key=lambda r: r["wrk_rps"])
        for conc in concs:
            wait_quiet(ctx)
            spec = os.path.join(work, f"overhead-{conc}.json")
            write_spec(spec, ds, os.path.join(work, f"out-overhead-{conc}"))
            mock = start_mock(procs, ctx.bin, "--threads", "1", cpus=mock_cpu, name=f"mock-c{conc}")
            run = llmaj_run(ctx, procs, mock, spec, 1, conc, name=f"llmaj-c{conc}", cpus=fleet_cpu)
            samples = measure(procs, mock, [run], {"llmaj": run.pid, "mock": mock.p.pid}, warmup, window)
            procs.stop(run)
            procs.stop(mock.p)
            rate = delta(samples, "judge_calls") / span(samples)
            cpu_f = cpu_share(samples, "llmaj")
            fleet.append({"conc": conc, "rate": rate, "cpu": cpu_f, "mock_cpu": cpu_share(samples, "mock"),
                          "span": span(samples), "per_core": rate / cpu_f if cpu_f else None,
                          "non2xx": delta(samples, "requests.chat_completions") - delta(samples, "responses.2xx"),
                          "other": others_load(samples)})
            print(f"llmaj run --concurrency {conc}: {rate:,.0f} judge calls/s", flush=True)
    finally:
        procs.stop_all()
    top = max(fleet, key=lambda f: f["rate"])
    ratio = top["rate"] / best["wrk_rps"]
    pin = (f"the mock (`--threads 1`) on core {mock_cpu}, wrk and `llmaj run` on core {fleet_cpu} (`taskset`)"
           if mock_cpu is not None else "no pinning (one CPU)")
    rows = [[f"wrk -t1 -c{r['connections']}, {wrk_s} s", fnum(r["wrk_rps"]), fnum(r["mock_rate"]), "", "",
             pct(r["mock_cpu"], 0), f"{r['other']:.2f}"] for r in wrk_rows]
    rows += [[f"llmaj run --workers 1 --concurrency {f['conc']}, {f['span']:.1f} s window", "", fnum(f["rate"]),
              pct(f["cpu"], 0), fnum(f["per_core"]), pct(f["mock_cpu"], 0), f"{f['other']:.2f}"] for f in fleet]
    stalled = [r for r in wrk_rows if r["wrk_rps"] < 0.2 * best["wrk_rps"] and r["mock_cpu"] < 0.5]
    body = (f"Judge calls only (the dataset carries `modelResponses`), {len(METRICS)} metrics a record, "
            f"{records:,} records; model `{JUDGE}`. Pinning: {pin}; a fresh mock for every row. The wrk script replays the {len(captured)} "
            f"first-turn judge requests the worker sent for one record (captured; {body_bytes:,.0f} bytes "
            f"on average) to `/v1/chat/completions`. Rates are the mock's `/stats` counters over the window "
            f"(warm-up {warmup} s left out); CPU is the process's user+system time over the window, and "
            f"\"calls/s per llmaj core\" is the rate divided by llmaj's CPU share. \"Other load\" is the cores "
            f"used meanwhile by programs this benchmark did not start.\n\n"
            + md_table(["load", "wrk requests/s", "mock calls/s", "llmaj CPU", "calls/s per llmaj core",
                        "mock CPU", "other load"], rows) +
            "\n\n" + md_table(["figure", "value", "target", ""], [
                [f"fleet (best: --concurrency {top['conc']}) / load generator (best: wrk -c{best['connections']})",
                 pct(ratio), ">= 50%", verdict(ratio >= 0.5)],
                [f"judge calls/s on one core (--concurrency {top['conc']})", fnum(top["rate"]), ">= 10,000",
                 verdict(top["rate"] >= 10000)],
                ["non-2xx answers in the fleet's windows", fnum(sum(f["non2xx"] for f in fleet)), "0", ""],
            ]) + "\n")
    if stalled:
        body += ("\nwrk " + ", ".join(f"-c{r['connections']}" for r in stalled) + ": the mock stalled (it used "
                 "little CPU while wrk waited for answers), so the row is not a capacity figure; the best row is "
                 "the mock's capacity.\n")
    if any(f["mock_cpu"] and f["mock_cpu"] > 0.9 for f in fleet):
        body += ("\nThe mock used a whole core during a window: that figure is bounded by the mock, and the "
                 "per-core figure is what llmaj's own CPU use projects.\n")
    return body


def scenario_latency(ctx):
    """llmaj run against a mock answering every call after 200 ms: achieved rate vs in-flight/latency."""
    q = ctx.quick
    warmup, window = (3, 8) if q else (5, 20)
    latency_ms = 200
    confs = [(1, c) for c in (ctx.args.concurrency_list or [100, 1000])]
    rows = []
    for threads, conc in confs:
        ideal = threads * conc / (latency_ms / 1000)
        records = ctx.args.records or int(ideal * (warmup + window + 30) / len(METRICS)) + 1000
        ds = os.path.join(ctx.work, f"latency-{conc}.jsonl")
        write_dataset(ds, records)
        spec = os.path.join(ctx.work, f"latency-{conc}.json")
        write_spec(spec, ds, os.path.join(ctx.work, f"out-latency-{conc}"))
        wait_quiet(ctx)
        procs = Procs(ctx.work)
        try:
            mock = start_mock(procs, ctx.bin, "--latency", f"fixed:{latency_ms}", "--threads", "1")
            run = llmaj_run(ctx, procs, mock, spec, threads, conc, name=f"llmaj-c{conc}")
            samples = measure(procs, mock, [run], {"llmaj": run.pid, "mock": mock.p.pid}, warmup, window)
        finally:
            procs.stop_all()
        rate = delta(samples, "judge_calls") / span(samples)
        inflight = mean_gauge(samples, "in_flight")
        rows.append([f"{threads} × {conc}", fnum(ideal), fnum(rate), pct(rate / ideal), fnum(inflight),
                     pct(cpu_share(samples, "llmaj"), 0), f"{others_load(samples):.2f}",
                     verdict(rate / ideal >= 0.95)])
        print(f"{threads} thread(s) × {conc}: {rate:,.0f} calls/s of {ideal:,.0f} ideal", flush=True)
    return (f"`llmaj run --workers T --concurrency C` against the mock at `--latency fixed:{latency_ms}` "
            f"(one HTTP thread), judge calls only ({len(METRICS)} metrics a record). Ideal = T × C / "
            f"{latency_ms / 1000:g} s. Rates from the mock's `/stats` over a {window} s window after a {warmup} s "
            f"warm-up; \"in flight\" is the mock's `in_flight` gauge averaged over the window; \"other load\" the "
            f"cores used meanwhile by programs this benchmark did not start.\n\n"
            + md_table(["T × C", "ideal calls/s", "achieved calls/s", "of ideal", "in flight (mean)",
                        "llmaj CPU", "other load", "target >= 95%"], rows) + "\n")


def scenario_quota(ctx):
    """Four llmaj-worker processes and a broker/scheduler against a mock that enforces RPM and TPM
    like a provider; the spec's limits are the provider's."""
    q = ctx.quick
    duration = ctx.args.duration or (40 if q else 150)
    warmup = 5 if q else 10
    rpm = ctx.args.rpm
    max_tokens = ctx.args.judge_max_tokens
    phases = [("as given", rpm, ctx.args.tpm)]
    if not ctx.args.no_rpm_phase:
        phases.append(("requests bind", rpm, ctx.args.rpm_phase_tpm))
    rows, notes = [], []
    for label, prpm, ptpm in phases:
        needed = prpm * (warmup + duration + 60) / 60
        records = ctx.args.records or int(needed / len(METRICS)) + 200
        tag = f"{int(prpm)}-{int(ptpm)}"
        ds = os.path.join(ctx.work, f"quota-{tag}.jsonl")
        write_dataset(ds, records)
        spec = os.path.join(ctx.work, f"quota-{tag}.json")
        write_spec(spec, ds, os.path.join(ctx.work, f"out-quota-{tag}"),
                   limits={"rpm": prpm, "tpm": ptpm}, judge_max_tokens=max_tokens)
        wait_quiet(ctx)
        procs = Procs(ctx.work)
        burst = ["--burst-seconds", f"{ctx.args.mock_burst:g}"] if ctx.args.mock_burst else []
        try:
            mock = start_mock(procs, ctx.bin, "--rpm", f"{prpm:g}", "--tpm", f"{ptpm:g}", "--threads", "1", *burst)
            broker, bp = start_broker(procs, ctx.bin)
            env = env_for(mock)
            workers = [start_worker(procs, ctx.bin, broker, env, "--threads", "1", name=f"worker{i + 1}")
                       for i in range(4)]
            time.sleep(0.5)
            sched = start_scheduler(procs, ctx.bin, broker, spec, env, name=f"scheduler-{tag}")
            print(f"quota {label}: rpm {prpm:g}, tpm {ptpm:g}: measuring {duration} s after a {warmup} s warm-up",
                  flush=True)
            samples = measure(procs, mock, [sched, bp, *workers], {}, warmup, duration)
        finally:
            procs.stop_all()
        minutes = span(samples) / 60
        ok = delta(samples, "judge_calls")
        reqs = delta(samples, "requests.chat_completions")
        r429 = delta(samples, "responses.429")
        tok_in = delta(samples, "tokens_in")
        tok_out = delta(samples, "tokens_out")
        charged = tok_in + ok * max_tokens      # what the mock's token bucket was charged
        a_rpm, a_tpm = ok / minutes, charged / minutes
        s_rpm, s_tpm = a_rpm / prpm, a_tpm / ptpm
        binding = "tokens" if s_tpm >= s_rpm else "requests"
        share = max(s_rpm, s_tpm)
        share429 = r429 / reqs if reqs else 0.0
        other = reqs - ok - r429
        rows.append([f"{prpm:,.0f} RPM, {ptpm:,.0f} TPM", fnum(a_rpm), pct(s_rpm), fnum(a_tpm), pct(s_tpm), binding,
                     pct(share), fnum(reqs), fnum(r429), pct(share429, 2), f"{others_load(samples):.2f}",
                     verdict(share >= 0.97 and share429 <= 0.01)])
        if other:
            notes.append(f"{prpm:,.0f} RPM, {ptpm:,.0f} TPM: {other} requests answered neither 2xx nor 429")
        if ok:
            notes.append(f"{prpm:,.0f} RPM, {ptpm:,.0f} TPM: {tok_in / ok:,.0f} input tokens a call (the mock's estimate) + "
                         f"max_tokens {max_tokens} = {charged / ok:,.0f} tokens charged a call; the replies "
                         f"reported a usage of {(tok_in + tok_out) / ok:,.0f} tokens a call (input + output)")
        print(f"  {a_rpm:,.0f} RPM ({pct(s_rpm)}), {a_tpm:,.0f} TPM ({pct(s_tpm)}), 429s {pct(share429, 2)}",
              flush=True)
    return (f"One `llmaj-broker`, four `llmaj-worker --threads 1` processes and `llmaj-scheduler`; the mock "
            f"enforces the limits per model with its token buckets (`--rpm`, `--tpm`, "
            f"{ctx.args.mock_burst or 1:g} s burst), and the spec "
            f"gives the same numbers as `limits` for `{JUDGE}`. A call is charged its input tokens plus its "
            f"`max_tokens` ({max_tokens}) when admitted, as providers do; achieved TPM is that charge. Judge calls "
            f"only ({len(METRICS)} metrics a record). Window: {duration} s after a {warmup} s warm-up (the "
            f"mock's buckets start full). The second row raises the TPM limit so that requests bind.\n\n"
            + md_table(["limits", "RPM", "of RPM", "TPM charged", "of TPM", "binds", "of binding limit",
                        "requests", "429s", "429 share", "other load", "target >= 97%, <= 1% 429"], rows) + "\n\n"
            + "".join(f"- {n}\n" for n in notes))


def scenario_memory(ctx):
    """One llmaj-worker process with 1,000 calls in flight (mock latency 3 s): VmRSS and VmHWM."""
    q = ctx.quick
    target = ctx.args.in_flight
    latency_ms = 3000
    hold = 8 if q else 20
    records = ctx.args.records or int(target / (latency_ms / 1000) * (hold + 60) / len(METRICS)) + 500
    ds = os.path.join(ctx.work, "memory.jsonl")
    write_dataset(ds, records)
    spec = os.path.join(ctx.work, "memory.json")
    write_spec(spec, ds, os.path.join(ctx.work, "out-memory"))
    shards = max(8, math.ceil(2 * target / (64 * len(METRICS))))
    wait_quiet(ctx)
    procs = Procs(ctx.work)
    try:
        mock = start_mock(procs, ctx.bin, "--latency", f"fixed:{latency_ms}", "--threads", "1")
        broker, bp = start_broker(procs, ctx.bin)
        env = env_for(mock)
        worker = start_worker(procs, ctx.bin, broker, env, "--threads", "1", "--concurrency", str(target),
                              "--max-shards", str(shards))
        time.sleep(1.0)
        procs.check_alive(worker)
        idle = mem_status(worker.pid)
        sched = start_scheduler(procs, ctx.bin, broker, spec, env)
        wait_first_call(procs, mock, [sched, bp, worker])
        deadline = time.monotonic() + 60
        while mock.stats()["in_flight"] < target:
            procs.check_alive(sched, bp, worker)
            if time.monotonic() > deadline:
                raise BenchError(f"the mock never saw {target} calls in flight within 60 s "
                                 f"(at most {mock.stats()['max_in_flight']})")
            time.sleep(0.1)
        print(f"{target} calls in flight; sampling the worker for {hold} s", flush=True)
        samples = measure(procs, mock, [sched, bp, worker], {"worker": worker.pid}, 0, hold)
    finally:
        procs.stop_all()
    rss = [s.mem["worker"]["VmRSS"] for s in samples if s.mem.get("worker")]
    hwm = samples[-1].mem["worker"]["VmHWM"]
    infl = [s.stats["in_flight"] for s in samples]
    mib = 2 ** 20
    rows = [["idle (registered, no job)", fnum(idle["VmRSS"] / mib, 1), fnum(idle["VmHWM"] / mib, 1), "0"],
            [f"{hold} s with calls in flight", f"{min(rss) / mib:.1f} – {max(rss) / mib:.1f}", fnum(hwm / mib, 1),
             f"{min(infl):,} – {max(infl):,} (mean {sum(infl) / len(infl):,.0f})"]]
    return (f"`llmaj-worker --threads 1 --concurrency {target} --max-shards {shards}` with a broker and a "
            f"scheduler; the mock answers every call after {latency_ms} ms, so the worker holds {target:,} "
            f"judge requests open. VmRSS/VmHWM from `/proc/PID/status`, sampled every {SAMPLE_S} s once the "
            f"mock's `in_flight` gauge first reached {target:,}.\n\n"
            + md_table(["state", "VmRSS MiB", "VmHWM MiB", "calls in flight (mock)"], rows) + "\n\n"
            + md_table(["figure", "value", "target", ""],
                       [["peak RSS (VmHWM) with 1,000 in flight", f"{hwm / mib:.1f} MiB", "<= 64 MiB",
                         verdict(hwm <= 64 * mib)]]) + "\n")


def scenario_scale(ctx):
    """1..4 llmaj-worker processes (one thread each) with a broker and a scheduler: once with mock
    latency 200 ms and 250 calls in flight per worker, once with a zero-latency mock."""
    q = ctx.quick
    warmup, window = (3, 6) if q else (5, 15)
    conc = ctx.args.concurrency or 250
    latency_ms = 200
    counts = ctx.args.workers_list or [1, 2, 3, 4]
    modes = [("latency 200 ms", f"fixed:{latency_ms}"), ("zero latency", "0")]
    rows = []
    for mode, lat in modes:
        # enough work for the window at the largest ideal rate (latency) or at 25,000 calls/s (zero)
        top = max(counts) * conc / (latency_ms / 1000) if lat != "0" else 25000
        records = ctx.args.records or int(top * (warmup + window + 20) / len(METRICS)) + 1000
        ds = os.path.join(ctx.work, f"scale-{'lat' if lat != '0' else 'zero'}.jsonl")
        write_dataset(ds, records)
        for n in counts:
            ideal = n * conc / (latency_ms / 1000) if lat != "0" else None
            tag = f"{'lat' if ideal else 'zero'}-{n}"
            spec = os.path.join(ctx.work, f"scale-{tag}.json")
            write_spec(spec, ds, os.path.join(ctx.work, f"out-scale-{tag}"))
            wait_quiet(ctx)
            procs = Procs(ctx.work)
            try:
                mock = start_mock(procs, ctx.bin, "--latency", lat, "--threads", "1")
                broker, bp = start_broker(procs, ctx.bin)
                env = env_for(mock)
                workers = [start_worker(procs, ctx.bin, broker, env, "--threads", "1", "--concurrency", str(conc),
                                        name=f"worker{i + 1}") for i in range(n)]
                time.sleep(0.5)
                sched = start_scheduler(procs, ctx.bin, broker, spec, env, name=f"scheduler-{tag}")
                pids = {"mock": mock.p.pid, "broker": bp.pid, "scheduler": sched.pid,
                        **{w.name: w.pid for w in workers}}
                samples = measure(procs, mock, [sched, bp, *workers], pids, warmup, window)
            finally:
                procs.stop_all()
            rate = delta(samples, "judge_calls") / span(samples)
            wcpu = sum(cpu_share(samples, w.name) or 0 for w in workers)
            rows.append([mode, n, fnum(ideal) if ideal else "—", fnum(rate), pct(rate / ideal) if ideal else "",
                         pct(wcpu, 0), pct(cpu_share(samples, "broker"), 0), pct(cpu_share(samples, "scheduler"), 0),
                         pct(cpu_share(samples, "mock"), 0), f"{others_load(samples):.2f}"])
            print(f"{mode}, {n} worker(s): {rate:,.0f} calls/s", flush=True)
    base = {}
    for r in rows:
        base.setdefault(r[0], float(r[3].replace(",", "")))
        r.insert(4, f"{float(r[3].replace(',', '')) / base[r[0]]:.2f}×")
    return (f"N × `llmaj-worker --threads 1 --concurrency {conc}`, one `llmaj-broker`, one `llmaj-scheduler` "
            f"and the mock (one HTTP thread), all unpinned on this {ctx.ncpu}-CPU machine; judge calls only. "
            f"Each row is a fresh fleet; rates from the mock's `/stats` over a {window} s window after a "
            f"{warmup} s warm-up. CPU columns are shares of one core over the window (workers summed); \"other "
            f"load\" is the cores used meanwhile by programs this benchmark did not start. With "
            f"latency the ideal is N × {conc} / {latency_ms / 1000:g} s; at zero latency the fleet and the mock "
            f"compete for the same {ctx.ncpu} cores.\n\n"
            + md_table(["mock", "workers", "ideal calls/s", "calls/s", "vs 1 worker", "of ideal", "workers CPU",
                        "broker CPU", "scheduler CPU", "mock CPU", "other load"], rows) + "\n")


def _svc_call(url, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"} if data else {})
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.loads(r.read() or b"null")


def _short_dataset(path, n):
    """n short records (no responses: inference and judge calls), quick to write and load."""
    with open(path, "w") as f:
        for i in range(n):
            f.write('{"id": "r%d", "prompt": "Question %d: explain item %d.", "referenceResponse": "Ref %d."}\n'
                    % (i, i, i % 97, i))


def _start_service(procs, ctx, broker, env, db, name="service"):
    port = free_port()
    p = procs.start(name, [os.path.join(ctx.bin, "llmaj-scheduler"), "--serve", "--listen", f"127.0.0.1:{port}",
                           "--broker", broker, "--db", db, "--max-jobs", "4", "--log-level", "info"], env=env)
    t0 = time.monotonic()
    wait_for_line(procs, p, "llmaj-scheduler listening on ", timeout=600)
    return p, f"http://127.0.0.1:{port}", time.monotonic() - t0


def _wait_job(procs, p, url, job, pred, timeout=1800, step=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        procs.check_alive(p)
        j = _svc_call(url, "GET", f"/v1/jobs/{job}")
        if pred(j):
            return j
        time.sleep(step)
    raise BenchError(f"job {job} did not reach the condition in {timeout} s")


def scenario_service(ctx):
    """The scheduler service: time from POST to the first model call, a small job's completion while a
    1,000,000-record job runs, and how long a restarted service takes to resume a 100,000-record job."""
    procs = Procs(ctx.work)
    try:
        spec = {"model": "openai-api/mock/ft", "evaluator_model": "openai-api/mock/judge",
                "builtin_metrics": ["Correctness"], "output_path": os.path.join(ctx.work, "out"), "shard_size": 64}
        # a. POST -> first model call: an idle fleet, a 50-record job, a zero-latency mock.
        mock = start_mock(procs, ctx.bin, "--threads", "2")
        env = {**env_for(mock), "LLMAJ_LOG_LEVEL": "warn"}
        broker, _ = start_broker(procs, ctx.bin)
        for i in (1, 2):
            start_worker(procs, ctx.bin, broker, env, "--concurrency", "250", name=f"worker{i}")
        svc, url, _ = _start_service(procs, ctx, broker, env, os.path.join(ctx.work, "a.db"))
        small = os.path.join(ctx.work, "small.jsonl")
        _short_dataset(small, 50)
        time.sleep(2.0)   # the workers have joined
        firsts, posts = [], []
        for _ in range(5 if not ctx.quick else 3):
            mock.reset()
            t0 = time.monotonic()
            _svc_call(url, "POST", "/v1/jobs", {**spec, "dataset": small})
            posts.append(time.monotonic() - t0)
            while mock.stats()["requests"]["chat_completions"] == 0:
                if time.monotonic() - t0 > 60:
                    raise BenchError("no model call within 60 s of the POST")
            firsts.append(time.monotonic() - t0)
            time.sleep(1.0)
        procs.stop_all()

        # b. A 50-record job beside a 1,000,000-record one: mock latency 100 ms.
        mock = start_mock(procs, ctx.bin, "--threads", "2", "--latency", "fixed:100")
        env = {**env_for(mock), "LLMAJ_LOG_LEVEL": "warn"}
        broker, _ = start_broker(procs, ctx.bin)
        for i in (1, 2):
            start_worker(procs, ctx.bin, broker, env, "--concurrency", "250", name=f"worker{i}")
        svc, url, _ = _start_service(procs, ctx, broker, env, os.path.join(ctx.work, "b.db"))
        big = os.path.join(ctx.work, "big.jsonl")
        n_big = 200_000 if ctx.quick else 1_000_000
        _short_dataset(big, n_big)
        t0 = time.monotonic()
        jb = _svc_call(url, "POST", "/v1/jobs", {**spec, "dataset": big})["job_id"]
        load_s = time.monotonic() - t0
        _wait_job(procs, svc, url, jb, lambda j: j["progress"]["shards"]["done"] >= 40, step=0.2)
        smalls = []
        for _ in range(3):
            t0 = time.monotonic()
            js = _svc_call(url, "POST", "/v1/jobs", {**spec, "dataset": small})["job_id"]
            _wait_job(procs, svc, url, js, lambda j: j["status"] in ("succeeded", "failed", "stopped"))
            smalls.append(time.monotonic() - t0)
        alone = []
        _svc_call(url, "POST", f"/v1/jobs/{jb}/stop")
        _wait_job(procs, svc, url, jb, lambda j: j["status"] == "stopped", step=0.2)
        for _ in range(3):
            t0 = time.monotonic()
            js = _svc_call(url, "POST", "/v1/jobs", {**spec, "dataset": small})["job_id"]
            _wait_job(procs, svc, url, js, lambda j: j["status"] in ("succeeded", "failed", "stopped"))
            alone.append(time.monotonic() - t0)
        procs.stop_all()

        # c. kill -9 the service with a 100,000-record job half done; start it again.
        mock = start_mock(procs, ctx.bin, "--threads", "2", "--latency", "fixed:20")
        env = {**env_for(mock), "LLMAJ_LOG_LEVEL": "warn"}
        broker, _ = start_broker(procs, ctx.bin)
        for i in (1, 2):
            start_worker(procs, ctx.bin, broker, env, "--concurrency", "250", name=f"worker{i}")
        db = os.path.join(ctx.work, "c.db")
        svc, url, _ = _start_service(procs, ctx, broker, env, db)
        mid = os.path.join(ctx.work, "mid.jsonl")
        n_mid = 100_000
        _short_dataset(mid, n_mid)
        jm = _svc_call(url, "POST", "/v1/jobs", {**spec, "dataset": mid})["job_id"]
        _wait_job(procs, svc, url, jm, lambda j: j["progress"]["units_done"] >= n_mid // 2, step=0.1)
        os.killpg(svc.pid, signal.SIGKILL)
        svc.wait()
        before = json.loads(subprocess.run(["sqlite3", db, f"SELECT counts FROM jobs WHERE job_id='{jm}'"],
                                           capture_output=True, text=True).stdout or "{}").get("units_done", 0)
        t_restart = time.monotonic()
        svc, url, t_listen = _start_service(procs, ctx, broker, env, db, name="service2")
        j = _wait_job(procs, svc, url, jm, lambda j: j["progress"]["units_done"] > before + 64, step=0.01)
        t_progress = time.monotonic() - t_restart
        j = _wait_job(procs, svc, url, jm, lambda j: j["status"] in ("succeeded", "failed"), step=0.2)
        t_end = time.monotonic() - t_restart
        if j["status"] != "succeeded" or j["progress"]["units_done"] != n_mid:
            raise BenchError(f"the resumed job ended {j['status']} with {j['progress']['units_done']} units")
        procs.stop_all()
    finally:
        procs.stop_all()

    def ms(x):
        return f"{1000 * x:,.0f} ms"
    med = lambda xs: sorted(xs)[len(xs) // 2]
    rows = [
        ["POST /v1/jobs answered (50 records validated and stored)", ms(med(posts)), ms(max(posts))],
        ["POST to the first model call at the mock", ms(med(firsts)), ms(max(firsts))],
        [f"50-record job, POST to succeeded, beside a {n_big:,}-record job", f"{med(smalls):.2f} s",
         f"{max(smalls):.2f} s"],
        ["the same 50-record job alone on the fleet", f"{med(alone):.2f} s", f"{max(alone):.2f} s"],
    ]
    body = (f"Two `llmaj-worker --concurrency 250`, one broker, `llmaj-scheduler --serve`, the mock (2 HTTP "
            f"threads), all unpinned. Jobs call `openai-api/mock/ft` for inference and `openai-api/mock/judge` for "
            f"one metric (Correctness), shards of 64. Times are wall clock, polled every 1–20 ms.\n\n"
            + md_table(["figure", "median", "max"], rows) +
            f"\n\nThe {n_big:,}-record job's POST (its dataset validated and stored) took {load_s:.1f} s; the small "
            f"jobs ran with mock latency 100 ms while it had its window of 64 shards queued.\n\n"
            + md_table(["restart of a 100,000-record job (kill -9 at half way, mock latency 20 ms)", "value"], [
                ["new process to listening (database opened, its jobs taken up)", f"{t_listen:.2f} s"],
                ["new process to the job committing new results", f"{t_progress:.2f} s"],
                ["new process to the job succeeded (the other half run)", f"{t_end:.1f} s"],
                ["record-targets committed before the kill (kept, not redone)", f"{before:,}"],
            ]))
    return body


SCENARIOS = {"overhead": scenario_overhead, "latency": scenario_latency, "quota": scenario_quota,
             "memory": scenario_memory, "scale": scenario_scale, "service": scenario_service}


# ---------------------------------------------------------------- main

def build_info(bin_dir):
    """Refuses a sanitizer build (its figures mean nothing); returns the build type."""
    cache = os.path.join(os.path.dirname(os.path.abspath(bin_dir)), "CMakeCache.txt")
    btype, sanitize = "build type unknown", False
    try:
        with open(cache) as f:
            for line in f:
                if line.startswith("CMAKE_BUILD_TYPE:"):
                    btype = line.split("=", 1)[1].strip() or "RelWithDebInfo"
                elif line.startswith("LLMAJ_SANITIZE:"):
                    sanitize = line.split("=", 1)[1].strip().upper() in ("ON", "1", "TRUE", "YES")
    except OSError:
        pass
    if sanitize:
        raise BenchError(f"{bin_dir} is a sanitizer build (LLMAJ_SANITIZE=ON in {cache}): benchmark the "
                         f"optimised build made by `bash scripts/build.sh`")
    if btype == "Debug":
        raise BenchError(f"{bin_dir} is a Debug build: benchmark the optimised build (`bash scripts/build.sh`)")
    return btype


def int_list(s):
    try:
        return [int(x) for x in s.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{s}' is not a comma-separated list of integers")


def main(argv=None):
    ap = argparse.ArgumentParser(prog="bench.py", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenario", choices=[*SCENARIOS, "all"])
    ap.add_argument("--quick", action="store_true", help="shorter windows and runs (about a minute each)")
    ap.add_argument("--bin", default=os.environ.get("LLMAJ_BIN") or os.path.join(ROOT, "build", "bin"),
                    help="directory of the llmaj programs (default build/bin, or $LLMAJ_BIN)")
    ap.add_argument("--no-record", action="store_true", help="print only; leave bench/RESULTS.md alone")
    ap.add_argument("--keep", action="store_true", help="keep the work dir (logs, datasets, outputs)")
    ap.add_argument("--records", type=int, help="dataset size (default: enough for the scenario's window)")
    ap.add_argument("--concurrency", type=int, help="calls in flight per worker thread (overhead: 256, scale: 250)")
    ap.add_argument("--concurrency-list", type=int_list, help="overhead, latency: concurrencies to run, one row each "
                    "(overhead default 32,256,1000, quick 256; latency default 100,1000)")
    ap.add_argument("--workers-list", type=int_list, help="scale: worker process counts (default 1,2,3,4)")
    ap.add_argument("--wrk-connections", type=int_list, default=[32, 64, 128],
                    help="overhead: wrk connection counts, the best counts as capacity (default 32,64,128)")
    ap.add_argument("--rpm", type=float, default=1200, help="quota: requests per minute (default 1200)")
    ap.add_argument("--tpm", type=float, default=200000, help="quota: tokens per minute (default 200000)")
    ap.add_argument("--rpm-phase-tpm", type=float, default=4000000,
                    help="quota: TPM of the second phase, where requests bind (default 4000000)")
    ap.add_argument("--no-rpm-phase", action="store_true", help="quota: run only the first phase")
    ap.add_argument("--judge-max-tokens", type=int, default=1024, help="quota: judge max_tokens (default 1024)")
    ap.add_argument("--duration", type=float, help="quota: measured seconds per phase (default 150, quick 40)")
    ap.add_argument("--mock-burst", type=float,
                    help="quota: the mock's --burst-seconds (default: the mock's own, 1 s)")
    ap.add_argument("--wait-quiet", type=float, default=0, metavar="S",
                    help="before each measurement wait up to S s for a quiet machine (default 0: don't)")
    ap.add_argument("--quiet-cores", type=float, default=0.3,
                    help="with --wait-quiet: busy cores that still count as quiet (default 0.3)")
    ap.add_argument("--in-flight", type=int, default=1000, help="memory: calls in flight (default 1000)")
    args = ap.parse_args(argv)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    ctx = Ctx()
    ctx.args, ctx.quick = args, args.quick
    ctx.bin = os.path.abspath(args.bin)
    ctx.bin_rel = os.path.relpath(ctx.bin, ROOT)
    ctx.ncpu = len(os.sched_getaffinity(0))
    ctx.command = " ".join(["python3", os.path.relpath(os.path.abspath(sys.argv[0]), ROOT) if argv is None
                            else "bench/bench.py", *(sys.argv[1:] if argv is None else argv)])
    try:
        missing = [p for p in ("llmaj", "llmaj-broker", "llmaj-worker", "llmaj-scheduler", "llmaj-mockllm")
                   if not os.access(os.path.join(ctx.bin, p), os.X_OK)]
        if missing:
            raise BenchError(f"{ctx.bin} lacks {', '.join(missing)}: build first with `bash scripts/build.sh` "
                             f"(or point --bin / LLMAJ_BIN at an optimised build's bin/)")
        ctx.build_type = build_info(ctx.bin)
        for tool in ("wrk", "taskset"):
            if not shutil.which(tool):
                raise BenchError(f"`{tool}` is not installed (Debian: apt-get install "
                                 f"{'wrk' if tool == 'wrk' else 'util-linux'})")
        ctx.machine = machine()
    except BenchError as e:
        print(f"bench: {e}", file=sys.stderr)
        return 2

    names = ORDER if args.scenario == "all" else [args.scenario]
    failed = []
    for name in names:
        ctx.work = tempfile.mkdtemp(prefix=f"llmaj-bench-{name}-")
        print(f"== {name} ({'quick' if ctx.quick else 'full'}); work dir {ctx.work}", flush=True)
        ok = False
        NOISE.clear()
        load0 = os.getloadavg()[0]
        try:
            body = SCENARIOS[name](ctx)
            ctx.noise = (f"programs this benchmark did not start used {sum(NOISE) / len(NOISE):.2f} cores on "
                         f"average (at most {max(NOISE):.2f}) during the measured windows; load average "
                         f"{load0:.2f} at the start" if NOISE else f"load average {load0:.2f} at the start")
            if args.no_record:
                print("\n" + body)
            else:
                record(name, ctx, body)
            ok = True
        except BenchError as e:
            print(f"bench {name}: {e}", file=sys.stderr)
            failed.append(name)
        except (KeyboardInterrupt, Interrupted) as e:
            print(f"bench {name}: interrupted ({e or 'SIGINT'}); every program it started was stopped",
                  file=sys.stderr)
            return 130
        finally:
            if ok and not args.keep:
                shutil.rmtree(ctx.work, ignore_errors=True)
            elif not ok:
                print(f"bench {name}: logs kept in {ctx.work}", file=sys.stderr)
    if failed:
        print(f"bench: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
