"""A small fleet of "hosts" for tests/integration/test_multihost.py: each host is a network
namespace with a veth link to a bridge that lives in a namespace of its own (so every address is
inside namespaces the test made), and a buildah working container of the llmaj image whose
programs run there with `buildah run --isolation chroot`, with the command, arguments, environment
and volumes of the rendered manifests. Service names resolve through the namespaces' hosts files
(/etc/netns/NS/hosts, which `ip netns exec` puts in place and buildah copies into the container).
Everything is named with a prefix unique to the run and removed by Net.close, also on failure."""
import base64
import os
import resource
import secrets
import shutil
import signal
import subprocess
import time
import urllib.parse

from deploy_support import IMAGE_TAG, buildah

SUBNET = "10.77.0"


def sh(*cmd, check=True):
    return subprocess.run(cmd, check=check, capture_output=True, text=True)


def netns_usable():
    """None when network namespaces, veth and bridges work here; else why not."""
    if os.geteuid() != 0:
        return "not root"
    if not shutil.which("ip"):
        return "iproute2's ip is missing"
    if not shutil.which("buildah"):
        return "buildah is missing (bash scripts/deps.sh)"
    probe = "ljprobe" + secrets.token_hex(3)
    try:
        p = sh("ip", "netns", "add", probe, check=False)
        if p.returncode != 0:
            return "cannot create a network namespace: " + p.stderr.strip()
        p = sh("ip", "-n", probe, "link", "add", probe[:8] + "b", "type", "bridge", check=False)
        if p.returncode != 0:
            return "cannot create a bridge in a namespace: " + p.stderr.strip()
        p = sh("ip", "-n", probe, "link", "add", "a0", "type", "veth", "peer", "name", "a1", check=False)
        if p.returncode != 0:
            return "cannot create a veth pair: " + p.stderr.strip()
        return None
    finally:
        sh("ip", "netns", "del", probe, check=False)


class Proc:
    """A program started with buildah run in a host's namespace."""

    def __init__(self, host, name, popen, out_path, err_path):
        self.host, self.name, self.popen = host, name, popen
        self.out_path, self.err_path = out_path, err_path
        self.pid = None   # the program itself (under buildah's chroot helpers)

    def program_pid(self, timeout=60):
        if self.pid:
            return self.pid
        end = time.time() + timeout
        while time.time() < end:
            for pid in descendants(self.popen.pid):
                try:
                    with open(f"/proc/{pid}/comm") as f:
                        comm = f.read().strip()
                except OSError:
                    continue
                if comm.startswith("llmaj"):
                    self.pid = pid
                    return pid
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.popen.returncode}: {self.log()[-2000:]}")
            time.sleep(0.02)
        raise RuntimeError(f"{self.name}: no program process under buildah run")

    def signal(self, sig):
        os.kill(self.program_pid(), sig)

    def log(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode(errors="replace")

    def out(self):
        with open(self.out_path, "rb") as f:
            return f.read().decode(errors="replace")

    def wait(self, timeout):
        return self.popen.wait(timeout=timeout)

    def wait_line(self, prefix, timeout=60):
        end = time.time() + timeout
        while time.time() < end:
            for line in self.out().splitlines():
                if line.startswith(prefix):
                    return line[len(prefix):].strip()
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.popen.returncode}: {self.log()[-3000:]}")
            time.sleep(0.05)
        raise TimeoutError(f"{self.name} did not print {prefix!r}: {self.log()[-3000:]}")

    def vm_hwm_kib(self):
        with open(f"/proc/{self.program_pid()}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        return 0


def descendants(pid):
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for c in kids.get(p, []):
            out.append(c)
            todo.append(c)
    return out


class Net:
    """The hosts, their links and containers; close() removes everything."""

    def __init__(self, workdir, services):
        self.tag = "lj" + secrets.token_hex(3)
        self.workdir = workdir
        self.sw = self.tag + "sw"
        self.hosts = {}        # name -> (netns, ip, container, veth in the switch namespace)
        self.procs = []
        self.services = services   # Service name -> host name
        self.closed = False
        sh("ip", "netns", "add", self.sw)
        sh("ip", "-n", self.sw, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", self.sw, "link", "set", "br0", "up")

    def add_host(self, name, n):
        ns = f"{self.tag}-{name}"
        ip = f"{SUBNET}.{n}"
        sw_end = f"v{n}"
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", sw_end, "netns", self.sw)
        sh("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", "eth0")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        sh("ip", "-n", self.sw, "link", "set", sw_end, "master", "br0")
        sh("ip", "-n", self.sw, "link", "set", sw_end, "up")
        ctr = f"{self.tag}-{name}"
        # buildah's default open-files limit is 1,024; a kubelet's (containerd's) is far higher, and
        # the mock alone holds one connection per call in flight of every worker thread.
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        n = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
        buildah("from", "--ulimit", f"nofile={n}:{n}", "--name", ctr, IMAGE_TAG)
        self.hosts[name] = (ns, ip, ctr, sw_end)
        self.write_hosts()
        return ns

    def write_hosts(self):
        lines = ["127.0.0.1 localhost"]
        for svc, host in self.services.items():
            if host in self.hosts:
                lines.append(f"{self.hosts[host][1]} {svc}")
        for name, (ns, ip, ctr, sw) in self.hosts.items():
            os.makedirs(f"/etc/netns/{ns}", exist_ok=True)
            with open(f"/etc/netns/{ns}/hosts", "w") as f:
                f.write("\n".join(lines + [f"{ip} {name}"]) + "\n")

    def link(self, host, up):
        sh("ip", "-n", self.sw, "link", "set", self.hosts[host][3], "up" if up else "down")

    def run(self, host, name, argv, env=None, volumes=()):
        """Starts argv in host's container and namespace. volumes: (host path, container path, ro)."""
        ns, ip, ctr, sw = self.hosts[host]
        cmd = ["ip", "netns", "exec", ns, "buildah", "--storage-driver", "vfs"]
        store = buildah_store()
        cmd += ["--root", store, "--runroot", store + "-run", "run", "--isolation", "chroot", "--user", "10001:10001",
                "--hostname", host]
        for k, v in (env or {}).items():
            cmd += ["--env", f"{k}={v}"]
        for src, dst, ro in volumes:
            cmd += ["--volume", f"{src}:{dst}:{'ro' if ro else 'rw'}"]
        cmd += [ctr, "--", *argv]
        out = os.path.join(self.workdir, f"{name}.out")
        err = os.path.join(self.workdir, f"{name}.err")
        p = subprocess.Popen(cmd, stdout=open(out, "wb"), stderr=open(err, "wb"), start_new_session=True)
        proc = Proc(host, name, p, out, err)
        self.procs.append(proc)
        return proc

    def exec(self, host, *cmd, timeout=30):
        """A host tool (curl) inside host's namespace."""
        return subprocess.run(["ip", "netns", "exec", self.hosts[host][0], *cmd], capture_output=True, text=True,
                              timeout=timeout)

    def http(self, host, url):
        p = self.exec(host, "curl", "-sS", "--max-time", "10", url)
        if p.returncode != 0:
            raise RuntimeError(f"curl {url} in {host}: {p.stderr}")
        return p.stdout

    def metrics(self, host, port=9100):
        out = {}
        for line in self.http(host, f"http://127.0.0.1:{port}/metrics").splitlines():
            if line and not line.startswith("#"):
                k, v = line.rsplit(" ", 1)
                out[k] = float(v)
        return out

    def stop(self, proc, sig=signal.SIGTERM, timeout=60):
        if proc.popen.poll() is None:
            try:
                proc.signal(sig)
            except (ProcessLookupError, RuntimeError):
                pass
            try:
                proc.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.popen.pid, signal.SIGKILL)
                proc.popen.wait()

    def stop_all(self):
        for p in self.procs:
            if p.popen.poll() is None:
                try:
                    os.killpg(p.popen.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        end = time.time() + 20
        for p in self.procs:
            try:
                p.popen.wait(timeout=max(0.1, end - time.time()))
            except subprocess.TimeoutExpired:
                os.killpg(p.popen.pid, signal.SIGKILL)
                p.popen.wait()
        self.procs = []

    def close(self):
        if self.closed:
            return
        self.closed = True
        self.stop_all()
        for name, (ns, ip, ctr, sw) in self.hosts.items():
            p = sh("ip", "netns", "pids", ns, check=False)
            for pid in p.stdout.split():   # what our programs left (they were all started here)
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            buildah("rm", ctr, check=False)
            sh("ip", "netns", "del", ns, check=False)
            shutil.rmtree(f"/etc/netns/{ns}", ignore_errors=True)
        sh("ip", "netns", "del", self.sw, check=False)


def buildah_store():
    from deploy_support import IMAGE_STORE
    return IMAGE_STORE


# ---- the manifests, turned into what a kubelet would do ------------------------------------------

def env_of(container, objs):
    """The container's environment: env values and envFrom ConfigMaps/Secrets found in objs."""
    env = {}
    by_name = {(o["kind"], o["metadata"]["name"]): o for o in objs}
    for src in container.get("envFrom", []):
        if "configMapRef" in src:
            cm = by_name.get(("ConfigMap", src["configMapRef"]["name"]))
            if cm:
                env.update(cm.get("data", {}))
        if "secretRef" in src:
            s = by_name.get(("Secret", src["secretRef"]["name"]))
            if s:
                env.update({k: base64.b64decode(v).decode() for k, v in s.get("data", {}).items()})
    for e in container.get("env", []):
        env[e["name"]] = e["value"]
    return env


def volumes_of(pod, container, secret_dirs, scratch, claims=None):
    """(host path, mount path, read-only) for each volumeMount: a Secret from secret_dirs (the
    folder standing for it), an emptyDir as a fresh folder, a volumeClaimTemplate from claims."""
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    out = []
    for m in container.get("volumeMounts", []):
        v = vols.get(m["name"])
        if v is None and claims and m["name"] in claims:
            out.append((claims[m["name"]], m["mountPath"], False))
        elif v and "secret" in v:
            out.append((secret_dirs[v["secret"]["secretName"]], m["mountPath"], True))
        elif v and "emptyDir" in v:
            d = os.path.join(scratch, f"empty-{m['name']}-{secrets.token_hex(3)}")
            os.makedirs(d)
            os.chmod(d, 0o1777)
            out.append((d, m["mountPath"], False))
        else:
            raise AssertionError(f"volume {m['name']}: not one the test knows how to provide")
    return out


def tcp_host(endpoint):
    return urllib.parse.urlparse(endpoint.replace("tcp://", "http://")).hostname
