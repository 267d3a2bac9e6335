"""Helpers for the tests of deploy/: rendering the kustomize overlays, building the container image
once per test run (under a lock, since ctest runs test modules in parallel), and reading the
containers of the rendered manifests."""
import fcntl
import os
import shutil
import subprocess

import yaml

SRC = os.environ.get("LLMAJ_SRC") or os.path.join(os.path.dirname(__file__), "..", "..")
BUILD = os.environ.get("LLMAJ_BUILD") or os.path.join(SRC, "build-asan")
KDIR = os.path.join(SRC, "deploy", "kubernetes")
OVERLAYS = ["dev", "production", "production-hpa"]
IMAGE_BUILD = os.path.join(BUILD, "image-build")      # the optimised build the image is made of
IMAGE_STORE = os.path.join(BUILD, "image-store")      # buildah's storage for the tests
IMAGE_TAG = "localhost/llmaj:test"


def kustomize_cmd():
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    raise RuntimeError("neither kubectl (with kustomize) nor kustomize is installed: the manifests cannot be "
                       "rendered")


def render(path):
    """The objects `kubectl kustomize PATH` renders, as (text, [dict])."""
    out = subprocess.run(kustomize_cmd() + [path], check=True, capture_output=True, text=True).stdout
    return out, [d for d in yaml.safe_load_all(out) if d]


def buildah(*args, check=True, **kw):
    cmd = ["buildah", "--storage-driver", "vfs", "--root", IMAGE_STORE, "--runroot", IMAGE_STORE + "-run", *args]
    return subprocess.run(cmd, check=check, capture_output=True, text=True, **kw)


def ensure_image():
    """Builds the image (deploy/build-image.sh) once per test run; returns its `size: ...` line.
    Several test modules may ask at once: the first builds, the others wait on the lock."""
    os.makedirs(BUILD, exist_ok=True)
    with open(os.path.join(BUILD, "image-build.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = os.path.join(BUILD, "image-build.stamp")
        run_id = os.environ.get("LLMAJ_IMAGE_RUN") or str(os.getppid())
        if os.path.exists(stamp):
            with open(stamp) as f:
                lines = f.read().splitlines()
            if lines and lines[0] == run_id and buildah("inspect", "--type", "image", IMAGE_TAG,
                                                        check=False).returncode == 0:
                return lines[1] if len(lines) > 1 else ""
        p = subprocess.run(["bash", os.path.join(SRC, "deploy", "build-image.sh"), "--build-dir", IMAGE_BUILD,
                            "--tag", IMAGE_TAG, "--root", IMAGE_STORE], capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError("deploy/build-image.sh failed:\n" + p.stdout[-3000:] + p.stderr[-3000:])
        size = [l for l in p.stdout.splitlines() if l.startswith("size: ")]
        with open(stamp, "w") as f:
            f.write(run_id + "\n" + (size[-1] if size else "") + "\n")
        return size[-1] if size else ""


def containers(objs):
    """{workload name: (kind, pod spec, container)} for every Deployment/StatefulSet."""
    out = {}
    for o in objs:
        if o.get("kind") in ("Deployment", "StatefulSet"):
            spec = o["spec"]["template"]["spec"]
            for c in spec["containers"]:
                out[o["metadata"]["name"]] = (o["kind"], spec, c)
    return out


def by_kind(objs, kind):
    return [o for o in objs if o.get("kind") == kind]
