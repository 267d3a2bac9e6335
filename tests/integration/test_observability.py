"""Observability of the daemons: llmaj-broker, llmaj-worker and llmaj-scheduler started with
`--metrics-addr 127.0.0.1:0` (or LLMAJ_METRICS_ADDR) serve /metrics (Prometheus text, checked by a
small parser written here from the exposition format), /healthz and /readyz. Readiness follows the
broker connection both ways; counters move with a real job and agree across the daemons and with
the mock LLM's own request count."""
import math
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from conftest import BIN, free_port, start_mock, wait_for_line, write_dataset, write_spec

# ---- a Prometheus text-format (0.0.4) parser ----

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


class ParseError(AssertionError):
    pass


def _unescape(s, quote):
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == "\\":
            if i + 1 >= len(s):
                raise ParseError(f"dangling backslash in {s!r}")
            n = s[i + 1]
            if n == "\\":
                out.append("\\")
            elif n == "n":
                out.append("\n")
            elif n == '"' and quote:
                out.append('"')
            else:
                raise ParseError(f"bad escape \\{n} in {s!r}")
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _parse_value(s, where):
    if s in ("+Inf", "Inf"):
        return math.inf
    if s == "-Inf":
        return -math.inf
    if s == "NaN":
        return math.nan
    if not re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", s):
        raise ParseError(f"{where}: {s!r} is not a number")
    return float(s)


def _parse_labels(s, i, where):
    """s[i] is '{'; returns (labels dict, index after '}')."""
    labels = {}
    i += 1
    while True:
        if i < len(s) and s[i] == "}":
            return labels, i + 1
        m = LABEL_NAME.match(s, i)
        if not m:
            raise ParseError(f"{where}: bad label name at {s[i:]!r}")
        name = m.group(0)
        i = m.end()
        if s[i:i + 2] != '="':
            raise ParseError(f"{where}: expected =\" after label {name}")
        i += 2
        j = i
        while j < len(s) and s[j] != '"':
            j += 2 if s[j] == "\\" else 1
        if j >= len(s):
            raise ParseError(f"{where}: unterminated label value")
        if name in labels:
            raise ParseError(f"{where}: label {name} twice")
        labels[name] = _unescape(s[i:j], quote=True)
        i = j + 1
        if i < len(s) and s[i] == ",":
            i += 1
        elif i < len(s) and s[i] == "}":
            continue
        else:
            raise ParseError(f"{where}: expected , or }} after a label value")


def parse_exposition(text):
    """Returns {family: {"type", "help", "samples": {tuple(sorted(labels.items())): value}}}.
    Strict: every sample belongs to a family announced by TYPE and HELP, a family's samples are
    contiguous, no sample is repeated, counters are named *_total and never negative."""
    fams = {}
    current = None
    closed = set()
    if text and not text.endswith("\n"):
        raise ParseError("the exposition does not end with a newline")
    for n, line in enumerate(text.split("\n")[:-1] if text else [], 1):
        where = f"line {n}"
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                if not METRIC_NAME.fullmatch(name):
                    raise ParseError(f"{where}: bad metric name {name!r}")
                if name in closed:
                    raise ParseError(f"{where}: family {name} appears in two places")
                if current and current != name:
                    closed.add(current)
                current = name
                f = fams.setdefault(name, {"type": None, "help": None, "samples": {}})
                rest = parts[3] if len(parts) > 3 else ""
                if parts[1] == "HELP":
                    if f["help"] is not None:
                        raise ParseError(f"{where}: second HELP for {name}")
                    f["help"] = _unescape(rest, quote=False)
                else:
                    if f["type"] is not None or f["samples"]:
                        raise ParseError(f"{where}: TYPE for {name} repeated or after its samples")
                    if rest not in TYPES:
                        raise ParseError(f"{where}: unknown type {rest!r}")
                    f["type"] = rest
            continue
        m = METRIC_NAME.match(line)
        if not m:
            raise ParseError(f"{where}: bad sample line {line!r}")
        name, i = m.group(0), m.end()
        labels = {}
        if i < len(line) and line[i] == "{":
            labels, i = _parse_labels(line, i, where)
        if i >= len(line) or line[i] != " ":
            raise ParseError(f"{where}: expected a space before the value")
        fields = line[i + 1:].split(" ")
        if len(fields) not in (1, 2):
            raise ParseError(f"{where}: expected a value and an optional timestamp")
        value = _parse_value(fields[0], where)
        if name != current or name not in fams or fams[name]["type"] is None or fams[name]["help"] is None:
            raise ParseError(f"{where}: sample of {name} outside its family (TYPE and HELP first)")
        key = tuple(sorted(labels.items()))
        if key in fams[name]["samples"]:
            raise ParseError(f"{where}: {name}{labels} repeated")
        if fams[name]["type"] == "counter" and (not name.endswith("_total") or value < 0):
            raise ParseError(f"{where}: counter {name} must end in _total and not be negative")
        fams[name]["samples"][key] = value
    return fams


def value(fams, name, **labels):
    assert name in fams, f"{name} missing from /metrics; have {sorted(fams)}"
    key = tuple(sorted(labels.items()))
    assert key in fams[name]["samples"], (name, labels, fams[name]["samples"])
    return fams[name]["samples"][key]


def test_parser_itself():
    text = ('# HELP a_total A "quoted" help \\\\ with\\nnewline\n# TYPE a_total counter\n'
            'a_total{k="x\\"y\\\\z\\n",j="2"} 3\na_total 1.5e3\n'
            '# HELP g G\n# TYPE g gauge\ng NaN\ng{s="+"} +Inf 1700000000000\n')
    f = parse_exposition(text)
    assert f["a_total"]["help"] == 'A "quoted" help \\ with\nnewline'
    assert value(f, "a_total", k='x"y\\z\n', j="2") == 3
    assert value(f, "a_total") == 1500
    assert math.isnan(value(f, "g")) and value(f, "g", s="+") == math.inf
    for bad in ["x 1\n",                                               # no TYPE/HELP
                "# HELP c c\n# TYPE c counter\nc 1\n",                 # counter without _total
                "# HELP g g\n# TYPE g gauge\ng{a=\"1\"} 1\ng{a=\"1\"} 2\n",  # repeated sample
                "# HELP g g\n# TYPE g gauge\ng{a=\"\\q\"} 1\n",         # bad escape
                "# HELP g g\n# TYPE g gauge\ng one\n",                  # not a number
                "# HELP g g\n# TYPE g gauge\ng 1",                      # no final newline
                "# HELP g g\n# TYPE g gauge\ng 1\n# HELP h h\n# TYPE h gauge\nh 1\ng 2\n"]:  # split family
        with pytest.raises(ParseError):
            parse_exposition(bad)


# ---- talking to the daemons ----

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http(url, method="GET", data=None):
    req = urllib.request.Request(url, method=method, data=data)
    try:
        with _opener.open(req, timeout=10) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def scrape(base):
    status, headers, body = http(base + "/metrics")
    assert status == 200, (status, body)
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4"), headers["Content-Type"]
    return parse_exposition(body)


def wait_until(what, pred, proc=None, timeout=60):
    deadline = time.time() + timeout
    while True:
        got = pred()
        if got:
            return got
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{proc.name} exited with {proc.returncode} while waiting for {what}")
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def scrape_until(what, base, pred, proc, timeout=60):
    """Scrapes `base` until pred(families) holds; returns those families."""
    got = {}

    def ok():
        got["f"] = scrape(base)
        return pred(got["f"])
    wait_until(what, ok, proc, timeout)
    return got["f"]


def readyz(base):
    status, _, body = http(base + "/readyz")
    return status, body


def metrics_url(p):
    url = wait_for_line(p.out_path, "metrics on ", p)
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url), url
    assert int(url.rsplit(":", 1)[1]) > 0
    return url


def start_broker_at(procs, port, name="broker", env=None):
    p = procs.start(name, [os.path.join(BIN, "llmaj-broker"), "--bind", f"tcp://127.0.0.1:{port}",
                           "--heartbeat-ms", "200", "--dead-after", "5", "--metrics-addr", "127.0.0.1:0"], env=env)
    wait_for_line(p.out_path, "llmaj-broker listening on ", p)
    return p, metrics_url(p)


def start_worker_at(procs, endpoint, env, *args, name="worker", metrics=("--metrics-addr", "127.0.0.1:0")):
    return procs.start(name, [os.path.join(BIN, "llmaj-worker"), "--broker", endpoint, "--heartbeat-ms", "200",
                              "--dead-after", "5", "--name", name, *metrics, *args], env=env)


def start_scheduler_at(procs, tmp, endpoint, mock, n_records, name="scheduler"):
    data = os.path.join(tmp, f"{name}-data.jsonl")
    write_dataset(data, n_records)
    spec_path = os.path.join(tmp, f"{name}-job.json")
    write_spec(spec_path, dataset=data, output_path=os.path.join(tmp, f"{name}-runs"))
    return procs.start(name, [os.path.join(BIN, "llmaj-scheduler"), "--spec", spec_path, "--broker", endpoint,
                              "--heartbeat-ms", "200", "--dead-after", "5", "--metrics-addr", "127.0.0.1:0"],
                       env=mock.env())


def check_common(base):
    """/healthz, 404, 405, 413 and HEAD, on any daemon."""
    status, _, body = http(base + "/healthz")
    assert (status, body) == (200, "ok\n")
    assert http(base + "/nope")[0] == 404
    status, headers, _ = http(base + "/metrics", method="DELETE")
    assert status == 405 and headers["Allow"] == "GET, HEAD"
    assert http(base + "/readyz", method="POST", data=b"x=1")[0] == 413
    status, _, body = http(base + "/metrics", method="HEAD")
    assert status == 200 and body == ""


# ---- the tests ----

def test_readiness_follows_the_broker(procs, tmp_path):
    """A worker and a scheduler whose broker is not there are alive but not ready, and say why;
    they become ready when their broker comes up, and the worker stops being ready when its
    broker dies."""
    mock = start_mock(procs)
    p_port, q_port = free_port(), free_port()
    while q_port == p_port:
        q_port = free_port()
    sched_ep, worker_ep = f"tcp://127.0.0.1:{p_port}", f"tcp://127.0.0.1:{q_port}"

    worker = start_worker_at(procs, worker_ep, mock.env())
    w_url = metrics_url(worker)
    sched = start_scheduler_at(procs, str(tmp_path), sched_ep, mock, 20)
    s_url = metrics_url(sched)

    status, body = readyz(w_url)
    assert status == 503 and worker_ep in body, (status, body)
    check_common(w_url)
    f = scrape(w_url)
    assert value(f, "llmaj_worker_threads_connected") == 0
    assert value(f, "llmaj_worker_threads") == 1
    ((build, one),) = f["llmaj_build_info"]["samples"].items()
    assert dict(build)["role"] == "worker" and re.fullmatch(r"\d+\.\d+\.\d+", dict(build)["version"]) and one == 1

    status, body = readyz(s_url)
    assert status == 503 and sched_ep in body, (status, body)
    check_common(s_url)
    # The job is validated and loaded (its progress is reported) but not connected.
    f = scrape_until("the scheduler's job in /metrics", s_url,
                     lambda f: f["llmaj_scheduler_job_info"]["samples"], sched)
    assert value(f, "llmaj_scheduler_broker_connected") == 0
    assert value(f, "llmaj_scheduler_job_records") == 20
    assert value(f, "llmaj_scheduler_job_units") == 40        # two targets
    assert value(f, "llmaj_scheduler_units_done_total") == 0
    (job_key,) = f["llmaj_scheduler_job_info"]["samples"].keys()
    assert dict(job_key)["job_id"]

    # The scheduler's broker comes up: the scheduler becomes ready (and, with no worker there,
    # its job waits in the broker's queue).
    broker_p, bp_url = start_broker_at(procs, p_port, name="broker-p")
    wait_until("broker ready", lambda: readyz(bp_url)[0] == 200, broker_p)
    assert readyz(bp_url) == (200, "ready\n")
    wait_until("scheduler ready", lambda: readyz(s_url)[0] == 200, sched)
    assert readyz(s_url) == (200, "ready\n")
    assert value(scrape(s_url), "llmaj_scheduler_broker_connected") == 1
    f = scrape_until("shards queued at the broker", bp_url, lambda f: value(f, "llmaj_broker_shards_queued") > 0,
                     broker_p)
    assert value(f, "llmaj_broker_schedulers_alive") == 1
    assert value(f, "llmaj_broker_workers_alive") == 0
    assert readyz(w_url)[0] == 503   # its broker is elsewhere

    # The worker's broker comes up, then dies.
    broker_q, bq_url = start_broker_at(procs, q_port, name="broker-q")
    wait_until("worker ready", lambda: readyz(w_url)[0] == 200, worker)
    assert readyz(w_url) == (200, "ready\n")
    assert value(scrape(w_url), "llmaj_worker_threads_connected") == 1
    wait_until("the broker sees the worker", lambda: value(scrape(bq_url), "llmaj_broker_workers_alive") == 1, broker_q)
    os.kill(broker_q.pid, signal.SIGKILL)
    broker_q.wait()
    wait_until("worker not ready after its broker died", lambda: readyz(w_url)[0] == 503, worker)
    assert http(w_url + "/healthz")[0] == 200

    # Clean exits: the worker says goodbye, the scheduler stops its job.
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0, procs.log(worker)
    sched.send_signal(signal.SIGTERM)
    assert sched.wait(timeout=60) == 1, procs.log(sched)   # the job ended STOPPED
    assert "STOPPED" in open(sched.out_path).read().upper()


def test_counters_move_with_a_job(procs, tmp_path):
    """A whole job through broker and worker: the broker's, the worker's and the scheduler's
    figures move, agree with each other and with the mock LLM's request count."""
    n_records, shard_size = 40, 16
    n_shards = (n_records + shard_size - 1) // shard_size
    units = n_records * 2
    mock = start_mock(procs, "--latency", "fixed:5")
    port = free_port()
    endpoint = f"tcp://127.0.0.1:{port}"
    broker, b_url = start_broker_at(procs, port)
    wait_until("broker ready", lambda: readyz(b_url)[0] == 200, broker)
    check_common(b_url)
    f = scrape(b_url)
    for name in ("llmaj_broker_shards_dispatched_total", "llmaj_broker_shards_done_total",
                 "llmaj_broker_results_forwarded_total", "llmaj_broker_shards_requeued_total",
                 "llmaj_broker_workers_died_total"):
        assert value(f, name) == 0, name
    assert f["llmaj_broker_workers_alive"]["type"] == "gauge"
    assert f["llmaj_broker_shards_done_total"]["type"] == "counter"

    # The scheduler first: connected and ready, its shards wait for a worker.
    sched = start_scheduler_at(procs, str(tmp_path), endpoint, mock, n_records)
    s_url = metrics_url(sched)
    wait_until("scheduler ready", lambda: readyz(s_url)[0] == 200, sched)
    f = scrape_until("shards in flight", s_url, lambda f: value(f, "llmaj_scheduler_shards_inflight") == n_shards,
                     sched)
    assert value(f, "llmaj_scheduler_job_shards") == n_shards
    assert value(f, "llmaj_scheduler_units_done_total") == 0
    assert value(f, "llmaj_scheduler_workers") == 0
    assert sum(f["llmaj_scheduler_scores_total"]["samples"].values()) == 0
    assert set(dict(k)["status"] for k in f["llmaj_scheduler_scores_total"]["samples"]) == \
        {"ok", "unscored", "error", "not_applicable"}

    # Then a worker, configured through the environment instead of the flag.
    worker = start_worker_at(procs, endpoint, {**mock.env(), "LLMAJ_METRICS_ADDR": "127.0.0.1:0"},
                             "--concurrency", "16", metrics=())
    w_url = metrics_url(worker)
    check_common(w_url)
    units_seen = []
    while sched.poll() is None:
        try:
            units_seen.append(value(scrape(s_url), "llmaj_scheduler_units_done_total"))
        except (OSError, urllib.error.URLError):
            break   # the scheduler finished between poll() and the scrape
        time.sleep(0.05)
    assert sched.wait(timeout=600) == 0, procs.log(sched)
    assert units_seen == sorted(units_seen), "a counter went down"
    assert all(0 <= u <= units for u in units_seen)

    # The worker publishes its counters every heartbeat: wait for the final figures.
    mreq = mock.model_requests()
    f = scrape_until("the worker's final counters", w_url,
                     lambda f: value(f, "llmaj_worker_shards_done_total") == n_shards and
                     value(f, "llmaj_worker_http_requests_total") == mreq, worker)
    assert value(f, "llmaj_worker_results_sent_total") >= units
    ok = value(f, "llmaj_worker_model_calls_total", result="ok")
    failed = value(f, "llmaj_worker_model_calls_total", result="failed")
    assert failed == 0 and value(f, "llmaj_worker_retries_total") == 0 and value(f, "llmaj_worker_http_429_total") == 0
    assert ok == mreq               # no failure, no retry: one HTTP request per model call
    assert ok >= units * 5          # 1 inference + 4 judge calls per (record, target)
    assert value(f, "llmaj_worker_input_tokens_total") > 0
    assert value(f, "llmaj_worker_output_tokens_total") > 0
    assert value(f, "llmaj_worker_shards_held") == 0
    assert value(f, "llmaj_worker_calls_pending") == 0
    assert value(f, "llmaj_worker_threads_connected") == 1

    f = scrape(b_url)
    assert value(f, "llmaj_broker_shards_dispatched_total") == n_shards
    assert value(f, "llmaj_broker_shards_done_total") == n_shards
    assert value(f, "llmaj_broker_results_forwarded_total") == value(scrape(w_url), "llmaj_worker_results_sent_total")
    assert value(f, "llmaj_broker_shards_queued") == 0
    assert value(f, "llmaj_broker_shards_leased") == 0
    assert value(f, "llmaj_broker_workers_alive") == 1
    assert value(f, "llmaj_broker_shards_requeued_total") == 0

    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0, procs.log(worker)
    broker.send_signal(signal.SIGTERM)
    assert broker.wait(timeout=30) == 0, procs.log(broker)


@pytest.mark.parametrize("prog", ["llmaj-broker", "llmaj-worker", "llmaj-scheduler"])
def test_bad_metrics_addr(prog, tmp_path):
    """A bad --metrics-addr stops the daemon at once with a message naming it."""
    args = {"llmaj-broker": ["--bind", f"tcp://127.0.0.1:{free_port()}"],
            "llmaj-worker": ["--broker", f"tcp://127.0.0.1:{free_port()}"],
            "llmaj-scheduler": ["--spec", str(tmp_path / "job.json"),
                                "--broker", f"tcp://127.0.0.1:{free_port()}"]}[prog]
    if prog == "llmaj-scheduler":
        write_dataset(str(tmp_path / "d.jsonl"), 2)
        write_spec(str(tmp_path / "job.json"), dataset=str(tmp_path / "d.jsonl"), output_path=str(tmp_path / "runs"))
    env = {**os.environ, "OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "OPENAI_API_KEY": "k",
           "ANTHROPIC_BASE_URL": "http://127.0.0.1:9", "ANTHROPIC_API_KEY": "k"}
    for addr in ("127.0.0.1:99999", "nonsense"):
        p = subprocess.run([os.path.join(BIN, prog), *args, "--metrics-addr", addr], env=env,
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
        assert "--metrics-addr" in p.stderr and addr in p.stderr, p.stderr
        assert "metrics on" not in p.stdout
