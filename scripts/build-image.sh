#!/usr/bin/env bash
# Build the kubevents OCI image without a Docker daemon, then check it:
#   scripts/build-image.sh            (make image)
# 1. wheels of kubevents, its `kafka` extra and their dependencies, built on this machine (the
#    build needs no network);
# 2. a base: $BASE if given (e.g. docker.io/library/python:3.11-slim-bookworm), else a Debian
#    bookworm root file system made by mmdebstrap from Debian packages (registries that serve
#    base images are not reachable from this project's machines);
# 3. podman build with the Containerfile;
# 4. checks: the image's user is not root, `kubevents --version` runs inside it, and
#    scripts/image_smoke.py runs it once against the local apiserver as a pod would.
# Needs root (mmdebstrap, rootful podman) and podman, runc, mmdebstrap (apt-get installs them
# when missing). Not part of `make test`: a cold run takes minutes (docs/operations.md).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-.venv/bin/python}"
VERSION=$("$PYTHON" -c 'import kubevents; print(kubevents.__version__)')
IMAGE="${IMAGE:-localhost/kubevents:${VERSION}}"
BASE="${BASE:-}"
DEBIAN_BASE="localhost/kubevents-base:bookworm"
WORK=build/image
# This kind of machine runs cgroup v1 in hybrid mode, which crun refuses ("cgroups in hybrid
# mode not supported"), and its sandbox forbids raising RLIMIT_NOFILE/NPROC to podman's
# defaults: so runc, and explicit limits below the machine's hard ones.
PODMAN=(podman ${PODMAN_FLAGS:---runtime runc})
LIMITS=(${PODMAN_LIMITS:---ulimit nofile=4096:4096 --ulimit nproc=4096:4096})

step() { echo "==> $*"; }

missing=()
for tool in podman runc mmdebstrap; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    step "installing ${missing[*]} (Debian packages)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc mmdebstrap uidmap >/dev/null
  else
    echo "build-image: needs ${missing[*]} (Debian: apt-get install podman runc mmdebstrap)" >&2
    exit 1
  fi
fi

step "wheels"
rm -rf "$WORK/wheels"
mkdir -p "$WORK/wheels"
"$PYTHON" -m pip wheel --quiet --wheel-dir "$WORK/wheels" ".[kafka]"

if [ -z "$BASE" ]; then
  BASE="$DEBIAN_BASE"
  if ! "${PODMAN[@]}" image exists "$BASE"; then
    step "base: Debian bookworm with python3 from Debian packages (mmdebstrap)"
    mmdebstrap --variant=essential --include=python3,python3-venv,ca-certificates \
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
      --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
      bookworm "$WORK/base.tar"
    "${PODMAN[@]}" import --change 'CMD ["/bin/sh"]' "$WORK/base.tar" "$BASE" >/dev/null
    rm -f "$WORK/base.tar"
  fi
fi

step "podman build $IMAGE (from $BASE)"
"${PODMAN[@]}" build --quiet --network none "${LIMITS[@]}" --build-arg "BASE=$BASE" \
  -f Containerfile -t "$IMAGE" "$WORK" >/dev/null

step "checks"
user=$("${PODMAN[@]}" image inspect --format '{{.Config.User}}' "$IMAGE")
case "${user%%:*}" in
  ""|0|root) echo "build-image: the image runs as root ($user)" >&2; exit 1 ;;
esac
uid=$("${PODMAN[@]}" run --rm --network none "${LIMITS[@]}" --entrypoint python3 "$IMAGE" \
  -c 'import os; print(os.getuid())')
[ "$uid" != 0 ] || { echo "build-image: the container runs as uid 0" >&2; exit 1; }
version=$("${PODMAN[@]}" run --rm --network none --read-only "${LIMITS[@]}" "$IMAGE" --version)
echo "user $user (uid $uid), read-only root: $version"
[ "$version" = "kubevents, version $VERSION" ] || { echo "build-image: unexpected: $version" >&2; exit 1; }
# The Kafka sink's client and codecs, imported as the sink imports them.
"${PODMAN[@]}" run --rm --network none --read-only "${LIMITS[@]}" --entrypoint python3 "$IMAGE" \
  -c 'import aiokafka, cramjam; from kubevents.export.sinks import KafkaSink' \
  || { echo "build-image: the Kafka sink cannot load in the image" >&2; exit 1; }
size=$("${PODMAN[@]}" image inspect --format '{{.Size}}' "$IMAGE")
echo "image $IMAGE: $((size / 1024 / 1024)) MiB"

step "smoke test against the local apiserver"
PODMAN_CMD="${PODMAN[*]}" PODMAN_LIMITS="${LIMITS[*]}" "$PYTHON" scripts/image_smoke.py "$IMAGE"
