"""deploy/kubernetes: every overlay renders with kustomize, validates against the Kubernetes schemas
that kubernetes-validate bundles (strict, its current version), and passes checkov with no failed
check (the ones skipped are explained in deploy/kubernetes/.checkov.yaml); and what the
manifests promise holds: hardened pods, probes, resources, a grace period longer than the
worker's drain and the scheduler service's shutdown, CURVE keys mounted where the programs are told
to read them, every LLMAJ_* variable and flag one the program knows, probes on declared ports,
autoscalers and monitors pointing at real objects (the scheduler's /metrics scraped with the API
token the service reads)."""
import os
import re
import subprocess

import pytest

from conftest import BIN
from deploy_support import BUILD, KDIR, OVERLAYS, by_kind, containers, render

VENV = os.path.join(BUILD, "venv-deploy", "bin")
CRDS = {"ScaledObject", "ServiceMonitor", "PodMonitor"}   # no bundled schema: checked below


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    d = tmp_path_factory.mktemp("rendered")
    out = {}
    for o in ["../base"] + OVERLAYS:
        text, objs = render(os.path.join(KDIR, "overlays", o))
        name = os.path.basename(o)
        path = d / f"{name}.yaml"
        path.write_text(text)
        out[name] = (str(path), objs)
    return out


def test_kubernetes_validate(rendered):
    files = [rendered[o][0] for o in OVERLAYS]
    p = subprocess.run([os.path.join(VENV, "kubernetes-validate"), "--strict", *files], capture_output=True,
                       text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    out = p.stdout + p.stderr
    passed = re.findall(r"^INFO .* passed for resource (\S+) against version (\S+)", out, re.M)
    assert len(passed) >= 40, out
    # Everything but the three custom resources has a schema, and passed.
    for line in out.splitlines():
        if line.startswith("WARN"):
            m = re.search(r"Couldn't find schema for kind (\w+)", line)
            assert m and m.group(1) in CRDS, line
        assert not line.startswith("ERROR"), line


def test_checkov(rendered, tmp_path):
    for o in OVERLAYS:
        os.symlink(rendered[o][0], tmp_path / f"{o}.yaml")
    p = subprocess.run([os.path.join(VENV, "checkov"), "-d", str(tmp_path), "--framework", "kubernetes", "--compact",
                        "--quiet", "--config-file", os.path.join(KDIR, ".checkov.yaml")],
                       capture_output=True, text=True)
    out = p.stdout + p.stderr
    m = re.search(r"Passed checks: (\d+), Failed checks: (\d+)", out)
    assert m, out[-3000:]
    assert int(m.group(1)) > 500 and int(m.group(2)) == 0, out[-6000:]
    assert p.returncode == 0, out[-3000:]


# Read by every daemon (lib/daemon.c), whether or not its --help names them.
DAEMON_ENV = {"LLMAJ_HEARTBEAT_MS", "LLMAJ_DEAD_AFTER", "LLMAJ_METRICS_ADDR", "LLMAJ_LOG_LEVEL", "LLMAJ_LOG_FORMAT"}


def program_knows(program):
    """Every flag and LLMAJ_* variable `PROGRAM --help` mentions (and the daemons' common ones)."""
    out = subprocess.run([os.path.join(BIN, program), "--help"], capture_output=True, text=True).stdout
    return set(re.findall(r"--[a-z][a-z-]+", out)), set(re.findall(r"LLMAJ_[A-Z_]+", out)) | DAEMON_ENV


def test_pods_hardened_and_coherent(rendered):
    for overlay in OVERLAYS:
        objs = rendered[overlay][1]
        for name, (kind, spec, c) in containers(objs).items():
            where = f"{overlay}: {kind} {name}"
            psc = spec["securityContext"]
            assert psc["runAsNonRoot"] is True and psc["runAsUser"] == 10001, where
            assert psc["seccompProfile"]["type"] == "RuntimeDefault", where
            assert spec["automountServiceAccountToken"] is False, where
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True, where
            assert sc["capabilities"]["drop"] == ["ALL"] and sc.get("privileged") is False, where
            assert c["livenessProbe"]["httpGet"]["path"] == "/healthz", where
            assert c["readinessProbe"]["httpGet"]["path"] in ("/readyz", "/healthz"), where
            assert c["resources"]["requests"]["memory"] and c["resources"]["limits"]["memory"], where
            assert c["image"].split("/")[-1].startswith("llmaj:"), where
            program = os.path.basename(c["command"][0])
            flags, env_names = program_knows(program)
            for e in c.get("env", []):
                if e["name"].startswith("LLMAJ_"):
                    assert e["name"] in env_names, f"{where}: {program} does not read {e['name']}"
            for a in c.get("args", []):
                if a.startswith("--"):
                    assert a in flags, f"{where}: {program} has no flag {a}"
            # The probes reach a port the container declares.
            ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
            for probe in ("livenessProbe", "readinessProbe"):
                port = c[probe]["httpGet"]["port"]
                assert port in ports or port in ports.values(), f"{where}: {probe} on undeclared port {port}"
            mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
            volumes = {v["name"]: v for v in spec.get("volumes", [])}
            # Every key file the program is told to read lies in a mounted Secret.
            for e in c.get("env", []):
                if e["name"].startswith("LLMAJ_CURVE_"):
                    folder = e["value"] if e["name"] == "LLMAJ_CURVE_CLIENTS" else os.path.dirname(e["value"])
                    assert folder in mounts, f"{where}: {e['value']} is not under a volume"
                    assert "secret" in volumes[mounts[folder]], f"{where}: {folder} is not a Secret"
        workers = containers(objs)["llmaj-worker"]
        env = {e["name"]: e["value"] for e in workers[2]["env"]}
        # The drain fits the grace period, with time left for the last results and the BYE.
        assert workers[1]["terminationGracePeriodSeconds"] >= int(env["LLMAJ_WORKER_DRAIN_TIMEOUT"]) + 5
        # So does the scheduler service's shutdown (it exits by itself at LLMAJ_SHUTDOWN_TIMEOUT).
        kind, spec, c = containers(objs)["llmaj-scheduler"]
        env = {e["name"]: e["value"] for e in c["env"]}
        assert spec["terminationGracePeriodSeconds"] >= int(env["LLMAJ_SHUTDOWN_TIMEOUT"]) + 5
        args = c["args"]
        assert "--serve" in args and "--token-file" in args
        # The service's probes and its /metrics share the API listener: the probes need no token,
        # /metrics does, so no metrics-only port (the service does not serve --metrics-addr).
        listen_port = int(args[args.index("--listen") + 1].rsplit(":", 1)[1])
        assert [p["containerPort"] for p in c["ports"]] == [listen_port]
        assert "--metrics-addr" not in args


def test_policies_and_scaling_point_at_real_objects(rendered):
    for overlay in OVERLAYS:
        objs = rendered[overlay][1]
        names = {(o["kind"], o["metadata"]["name"]) for o in objs}
        pods = {name: spec for name, (kind, spec, c) in containers(objs).items()}
        for so in by_kind(objs, "ScaledObject"):
            assert ("Deployment", so["spec"]["scaleTargetRef"]["name"]) in names
            q = so["spec"]["triggers"][0]["metadata"]["query"]
            assert "llmaj_broker_shards_queued" in q
        for h in by_kind(objs, "HorizontalPodAutoscaler"):
            assert ("Deployment", h["spec"]["scaleTargetRef"]["name"]) in names
        assert by_kind(objs, "ScaledObject") or by_kind(objs, "HorizontalPodAutoscaler") or overlay == "dev"
        # Monitors select Services that have the port they scrape; the scheduler's carries the API
        # token from the Secret and key the StatefulSet reads it from.
        sched_kind, sched_spec, sched_c = containers(objs)["llmaj-scheduler"]
        sched_args = sched_c["args"]
        token_path = sched_args[sched_args.index("--token-file") + 1]
        token_mount = [m for m in sched_c["volumeMounts"] if m["mountPath"] == os.path.dirname(token_path)][0]
        token_vol = [v for v in sched_spec["volumes"] if v["name"] == token_mount["name"]][0]
        for sm in by_kind(objs, "ServiceMonitor"):
            svcs = [s for s in by_kind(objs, "Service")
                    if all(s["metadata"]["labels"].get(k) == v for k, v in sm["spec"]["selector"]["matchLabels"].items())]
            assert len(svcs) == 1, (sm["metadata"]["name"], [s["metadata"]["name"] for s in svcs])
            for ep in sm["spec"]["endpoints"]:
                assert any(p["name"] == ep["port"] for p in svcs[0]["spec"]["ports"]), sm["metadata"]["name"]
            if svcs[0]["metadata"]["name"] == "llmaj-scheduler":
                cred = sm["spec"]["endpoints"][0]["authorization"]["credentials"]
                assert cred == {"name": token_vol["secret"]["secretName"], "key": os.path.basename(token_path)}
        # Every PDB, NetworkPolicy and Service selects at least one workload's pods.
        labels = [o["spec"]["template"]["metadata"]["labels"] for o in objs if o["kind"] in ("Deployment", "StatefulSet")]
        for o in by_kind(objs, "PodDisruptionBudget") + by_kind(objs, "NetworkPolicy") + by_kind(objs, "Service"):
            sel = o["spec"].get("podSelector") or o["spec"].get("selector") or {}
            want = sel.get("matchLabels", sel if o["kind"] == "Service" else {})
            assert any(all(l.get(k) == v for k, v in want.items()) for l in labels), o["metadata"]["name"]
        # Only workers and schedulers reach the broker's port.
        bi = [o for o in by_kind(objs, "NetworkPolicy") if o["metadata"]["name"] == "llmaj-broker-ingress"][0]
        rule = bi["spec"]["ingress"][0]
        assert rule["ports"] == [{"port": 5555, "protocol": "TCP"}]
        assert rule["from"][0]["podSelector"]["matchExpressions"][0]["values"] == ["worker", "scheduler"]
        sa = [o for o in by_kind(objs, "ServiceAccount") if o["metadata"]["name"] == "llmaj"][0]
        assert sa["automountServiceAccountToken"] is False
        if overlay != "dev":
            assert "eks.amazonaws.com/role-arn" in sa["metadata"]["annotations"]
        assert all(spec.get("serviceAccountName", "llmaj") in ("llmaj",) for n, spec in pods.items()
                   if n != "llmaj-mockllm")
