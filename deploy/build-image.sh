#!/usr/bin/env bash
# Builds the llmaj container image without a container daemon:
#   1. an optimised build of the five programs (no sanitizers) in BUILD_DIR;
#   2. a root filesystem in BUILD_DIR/image/rootfs: the stripped programs, exactly the shared
#      libraries they load (ldd, plus the dynamic loader), /etc/passwd and /etc/group for the
#      unprivileged user llmaj (uid/gid 10001), /etc/nsswitch.conf, the CA bundle, and the empty
#      folders the manifests mount over (/tmp, /var/lib/llmaj, /etc/llmaj); nothing else: no shell;
#   3. `buildah bud` of deploy/Containerfile (FROM scratch) with vfs storage and chroot isolation,
#      which work on a machine without a daemon or overlay support.
#
# usage: deploy/build-image.sh [--build-dir DIR] [--tag NAME:TAG] [--root DIR] [--rootfs-only]
#   --build-dir DIR  where to build and assemble (default build-image/ at the repository root)
#   --tag NAME:TAG   image name (default llmaj:VERSION, VERSION from CMakeLists.txt)
#   --root DIR       buildah storage root (default: buildah's own, /var/lib/containers/storage);
#                    the run root goes next to it
#   --rootfs-only    stop after step 2
# Prints the image's name, id and size as its last lines ("image: ...", "size: N bytes").
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build="$here/build-image"
tag=""
root=""
rootfs_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build=$(realpath -m "$2"); shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    --root) root=$(realpath -m "$2"); shift 2 ;;
    --rootfs-only) rootfs_only=1; shift ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-image: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
version=$(sed -n 's/^project(llmaj VERSION \([0-9.]*\).*/\1/p' "$here/CMakeLists.txt")
[ -n "$tag" ] || tag="llmaj:$version"
programs=(llmaj llmaj-broker llmaj-worker llmaj-scheduler llmaj-mockllm)
uid=10001

# 1. The programs (only them, not the tests): Release, no sanitizers, whatever the folder held before.
cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLLMAJ_SANITIZE=OFF >/dev/null
ninja -C "$build" -j"$(nproc)" "${programs[@]}" >/dev/null

# 2. The root filesystem, from scratch every time.
img="$build/image"
rootfs="$img/rootfs"
rm -rf "$img"
mkdir -p "$rootfs/usr/local/bin" "$rootfs/etc/ssl/certs" "$rootfs/etc/llmaj" "$rootfs/var/lib/llmaj" \
         "$rootfs/tmp" "$rootfs/home/llmaj"
for p in "${programs[@]}"; do
  src="$build/bin/$p"
  [ -x "$src" ] || { echo "build-image: $src was not built" >&2; exit 1; }
  if ldd "$src" | grep -q 'libasan\|libubsan'; then
    echo "build-image: $src is a sanitizer build; the image takes an optimised one" >&2; exit 1
  fi
  strip --strip-unneeded -o "$rootfs/usr/local/bin/$p" "$src"
done
# Every shared library the programs load, at the path the loader looks for it (symlinks resolved
# to the file they name, so the image holds no dangling link).
libs=$(for p in "${programs[@]}"; do ldd "$build/bin/$p"; done |
       awk '/=> \// {print $3} /^[[:space:]]*\/[^ ]*ld-linux/ {print $1}' | sort -u)
for lib in $libs; do
  mkdir -p "$rootfs$(dirname "$lib")"
  cp -L "$lib" "$rootfs$lib"
  strip --strip-unneeded "$rootfs$lib" 2>/dev/null || true   # some are stripped already
done
# The loader also looks in the usrmerged paths; Debian's /lib is a link to /usr/lib.
if [ -L /lib ] && [ -d "$rootfs/lib" ]; then
  mkdir -p "$rootfs/usr"
  cp -a "$rootfs/lib/." "$rootfs/usr/lib/" && rm -rf "$rootfs/lib" && ln -s usr/lib "$rootfs/lib"
fi
if [ -L /lib64 ] && [ -d "$rootfs/lib64" ]; then
  mkdir -p "$rootfs/usr/lib64"
  cp -a "$rootfs/lib64/." "$rootfs/usr/lib64/" && rm -rf "$rootfs/lib64" && ln -s usr/lib64 "$rootfs/lib64"
fi
ca=/etc/ssl/certs/ca-certificates.crt
[ -s "$ca" ] || { echo "build-image: $ca is missing (apt-get install ca-certificates)" >&2; exit 1; }
cp "$ca" "$rootfs$ca"
cat > "$rootfs/etc/passwd" <<EOF
root:x:0:0:root:/root:/nonexistent
llmaj:x:$uid:$uid:llmaj:/home/llmaj:/nonexistent
nobody:x:65534:65534:nobody:/nonexistent:/nonexistent
EOF
cat > "$rootfs/etc/group" <<EOF
root:x:0:
llmaj:x:$uid:
nogroup:x:65534:
EOF
printf 'hosts: files dns\n' > "$rootfs/etc/nsswitch.conf"
# The runtime (kubelet, buildah run) writes /etc/hosts and /etc/resolv.conf; empty ones to mount over.
: > "$rootfs/etc/hosts"
: > "$rootfs/etc/resolv.conf"
chmod 1777 "$rootfs/tmp"
chown -R "$uid:$uid" "$rootfs/home/llmaj" "$rootfs/var/lib/llmaj"
chmod 0755 "$rootfs/etc/llmaj"
rootfs_bytes=$(du -sb "$rootfs" | cut -f1)
echo "rootfs: $rootfs ($rootfs_bytes bytes, $(echo "$libs" | wc -w) shared libraries)"
[ "$rootfs_only" = 1 ] && exit 0

# 3. The image.
command -v buildah >/dev/null || { echo "build-image: buildah is missing (bash scripts/deps.sh)" >&2; exit 1; }
storage=(--storage-driver vfs)
[ -n "$root" ] && storage+=(--root "$root" --runroot "$root-run")
cp "$here/deploy/Containerfile" "$img/Containerfile"
tar --numeric-owner --sort=name -C "$rootfs" -cf "$img/rootfs.tar" .
buildah "${storage[@]}" bud --isolation chroot --layers=false -q \
  --build-arg "VERSION=$version" -f "$img/Containerfile" -t "$tag" "$img" >/dev/null
id=$(buildah "${storage[@]}" images --noheading --no-trunc --format '{{.ID}}' "$tag" | head -1)
size=$(buildah "${storage[@]}" inspect --type image --format '{{.Size}}' "$tag" 2>/dev/null || true)
case "$size" in ''|*[!0-9]*) size=$rootfs_bytes ;; esac
echo "image: $tag"
echo "id: $id"
echo "size: $size bytes ($(numfmt --to=iec-i --suffix=B "$size"))"
