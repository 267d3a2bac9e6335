"""The container image (deploy/Containerfile, deploy/build-image.sh): it builds here without a
daemon (buildah, vfs storage, chroot isolation), runs every program as the unprivileged user,
carries the CA bundle and nothing it does not need (no shell, no package manager, only the
libraries the programs load). Its size is printed. Needs root and buildah: exit 77 (ctest: skipped)
where they are missing."""
import os
import shutil
import subprocess

import pytest

from deploy_support import IMAGE_TAG, buildah, ensure_image

if os.geteuid() != 0 or not shutil.which("buildah"):
    pytest.exit("SKIPPED: building and running the image needs root and buildah (bash scripts/deps.sh)",
                returncode=77)

PROGRAMS = ["llmaj", "llmaj-broker", "llmaj-worker", "llmaj-scheduler", "llmaj-mockllm"]


@pytest.fixture(scope="module")
def ctr():
    size = ensure_image()
    print(f"\nimage {size}")
    name = buildah("from", IMAGE_TAG).stdout.strip()
    try:
        yield name
    finally:
        buildah("rm", name, check=False)


def run(ctr, *argv):
    return buildah("run", "--isolation", "chroot", ctr, "--", *argv, check=False)


def test_programs_run(ctr):
    for p in PROGRAMS:
        r = run(ctr, p, "--help")
        assert r.returncode == 0, (p, r.stderr)
        assert "usage" in (r.stdout + r.stderr).lower(), p
    r = run(ctr, "llmaj", "--version")
    assert r.returncode == 0 and r.stdout.startswith("llmaj ")
    # keygen writes where it may (/tmp), as the image's user
    r = run(ctr, "llmaj", "keygen", "/tmp/k")
    assert r.returncode == 0, r.stderr


def test_config_and_contents(ctr):
    cfg = buildah("inspect", "--type", "image", "--format", "{{.OCIv1.Config.User}}", IMAGE_TAG).stdout.strip()
    assert cfg == "10001:10001"
    fresh = buildah("from", IMAGE_TAG).stdout.strip()   # never run: the image's files only
    mnt = buildah("mount", fresh).stdout.strip()
    try:
        assert sorted(os.listdir(mnt)) == ["etc", "home", "lib", "lib64", "tmp", "usr", "var"]
        assert sorted(os.listdir(os.path.join(mnt, "usr/local/bin"))) == sorted(PROGRAMS)
        assert os.path.getsize(os.path.join(mnt, "etc/ssl/certs/ca-certificates.crt")) > 100000
        assert "llmaj:x:10001:10001:" in open(os.path.join(mnt, "etc/passwd")).read()
        st = os.stat(os.path.join(mnt, "var/lib/llmaj"))
        assert (st.st_uid, st.st_gid) == (10001, 10001)
        for shell in ("bin/sh", "bin/bash", "usr/bin/apt", "usr/bin/dpkg"):
            assert not os.path.lexists(os.path.join(mnt, shell)), shell
        # No sanitizer runtime and no debugging leftovers: only what the programs load.
        libs = os.listdir(os.path.join(mnt, "usr/lib/x86_64-linux-gnu"))
        assert not [l for l in libs if "asan" in l or "ubsan" in l]
        for p in PROGRAMS:
            out = subprocess.run(["file", "-b", os.path.join(mnt, "usr/local/bin", p)], capture_output=True,
                                 text=True).stdout if shutil.which("file") else "stripped"
            assert "not stripped" not in out, (p, out)
    finally:
        buildah("umount", fresh, check=False)
        buildah("rm", fresh, check=False)
    r = run(ctr, "/bin/sh", "-c", "true")
    assert r.returncode != 0   # no shell to run
