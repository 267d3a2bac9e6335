"""A local fleet for the tests that drive the scheduler service as a user does (the Python SDK,
the example walkthrough, the viewer in Chromium): mock LLMs, a broker, two workers and
`llmaj-scheduler --serve` with a token, all on 127.0.0.1 on free ports, all registered with a
`Procs` so they are stopped even when a test fails.

Two mocks: "fast" (no latency) and "slow" (every model call takes --latency fixed:SLOW_MS, so a
big job on it runs for minutes: long enough to be watched and stopped, whatever the machine's
load). Model strings reach them as `openai-api/fast/...` and `openai-api/slow/...`; the fast
mock is also the walkthrough's `openai-api/mock/...`, its Anthropic judge, Bedrock and SageMaker
(the AWS endpoint override; it describes the model packages of tests/data/aws), so the example
script runs unchanged against this fleet.

`Fleet.swap_workers(env)` replaces the workers with two new ones reaching the models through
`env`: a test stops a job on the slow mock, then retries it against the fast one."""
import json
import os
import signal
import time

from conftest import BIN, SRC, free_port, rest_call, start_broker, start_mock, start_worker, wait_for_line

TOKEN = "live-fleet-token-" + "0123456789abcdef"
SLOW_MS = 250
TERMINAL = ("succeeded", "failed", "stopped")
# SageMaker model packages the fast mock describes (the walkthrough's Part 2, section A).
MODEL_PACKAGES = os.path.join(SRC, "tests", "data", "aws", "model-packages.json")
MODEL_PACKAGE = "arn:aws:sagemaker:us-west-2:123456789012:model-package/gamma/28"


def model_env(fast, slow, tmp):
    """Every model string the tests and the walkthrough use, pointed at the mocks."""
    env = {"FAST_BASE_URL": fast.url + "/v1", "FAST_API_KEY": "k",
           "SLOW_BASE_URL": slow.url + "/v1", "SLOW_API_KEY": "k",
           "MOCK_BASE_URL": fast.url + "/v1", "MOCK_API_KEY": "k",
           "ANTHROPIC_BASE_URL": fast.url, "ANTHROPIC_API_KEY": "k",
           # Bedrock (the walkthrough's Nova model): the mock's AWS endpoints, a static key pair
           # (the mock checks no signature unless started with one), no other AWS setting.
           "AWS_ENDPOINT_URL": fast.url, "AWS_ACCESS_KEY_ID": "AKIDLIVEFLEET", "AWS_SECRET_ACCESS_KEY": "secret",
           "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": os.path.join(tmp, "no-aws-config"),
           "AWS_SHARED_CREDENTIALS_FILE": os.path.join(tmp, "no-aws-credentials")}
    return env


class Fleet:
    def __init__(self, procs, tmp, token=TOKEN, worker_concurrency=4):
        self.procs, self.tmp, self.token = procs, tmp, token
        self.fast = start_mock(procs, "--aws-model-packages", MODEL_PACKAGES, name="mock-fast")
        self.slow = start_mock(procs, "--latency", f"fixed:{SLOW_MS}", name="mock-slow")
        self.env = model_env(self.fast, self.slow, tmp)
        self.broker, _ = start_broker(procs)
        self.concurrency = worker_concurrency
        self.generation = 0
        self.workers = []
        self.swap_workers(self.env)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        token_path = os.path.join(tmp, "service-token")
        with open(token_path, "w") as f:
            f.write(token + "\n")
        argv = [os.path.join(BIN, "llmaj-scheduler"), "--serve", "--listen", f"127.0.0.1:{self.port}",
                "--broker", self.broker, "--db", os.path.join(tmp, "service.db"), "--max-jobs", "4",
                "--heartbeat-ms", "200", "--dead-after", "5", "--token-file", token_path]
        self.service = procs.start("service", argv, env=self.env)
        wait_for_line(self.service.out_path, "llmaj-scheduler listening on ", self.service, timeout=60)

    def swap_workers(self, env):
        """Stops the current workers (if any) and starts two reaching the models through `env`."""
        for w in self.workers:
            w.send_signal(signal.SIGTERM)
            w.wait(timeout=60)
        self.generation += 1
        self.workers = [start_worker(self.procs, self.broker, env, "--concurrency", str(self.concurrency),
                                     name=f"worker{self.generation}-{i}") for i in (1, 2)]

    def log(self):
        return self.procs.log(self.service)

    # ---- the REST API, plainly (to check what the SDK and the viewer show) ----

    def call(self, method, path, body=None, token=None):
        return rest_call(self.url, self.token if token is None else token, method, path, body)

    def job(self, job_id):
        st, j = self.call("GET", f"/v1/jobs/{job_id}")
        assert st == 200, (st, j)
        return j

    def submit(self, spec):
        st, ans = self.call("POST", "/v1/jobs", spec)
        assert st == 201, (st, ans, self.log())
        return ans["job_id"]

    def wait(self, job_id, pred, timeout=600, what="the condition"):
        """Polls the job until pred(job) holds (a generous deadline, never a timing assertion)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            j = self.job(job_id)
            if pred(j):
                return j
            assert self.service.poll() is None, self.log()
            time.sleep(0.1)
        raise AssertionError(f"job {job_id}: {what} not reached in {timeout}s: {self.job(job_id)}")

    def wait_ended(self, job_id, timeout=600):
        return self.wait(job_id, lambda j: j["status"] in TERMINAL, timeout, "its end")


def spec(tmp, svc, n, name, metrics=("Correctness",), base=False, **kw):
    """A job of n records (conftest.write_dataset) on the mock `svc` ("fast" or "slow")."""
    from conftest import write_dataset
    data = os.path.join(tmp, f"{name}.jsonl")
    write_dataset(data, n)
    s = {"name": name, "model": f"openai-api/{svc}/ft", "evaluator_model": f"openai-api/{svc}/judge",
         "builtin_metrics": list(metrics), "dataset": data, "output_path": os.path.join(tmp, "out"), "shard_size": 16}
    if base:
        s.update(base_model=f"openai-api/{svc}/base", evaluate_base_model=True)
    s.update(kw)
    return s
