"""Locating, and if needed building, kube-apiserver, etcd, kubectl and helm.

The binaries come from wrapper Go modules (go.mod/go.sum only): ``testenv/kube`` for
kube-apiserver, etcd and kubectl (one k8s.io/kubernetes version for all three), and
``testenv/helm`` for Helm. The exact upstream versions are pinned by go.sum and nothing is
downloaded outside Go's own module machinery. Cold builds take minutes; afterwards the
binaries are cached per version.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ._support import directory_lock

KUBE_VERSION = "v1.34.4"
HELM_VERSION = "v4.3.2"
#: Informational: the etcd version is whatever the wrapper go.mod pins (the one k8s pins).
ETCD_VERSION = "v3.6.4"

_ENV_TESTBIN = "KUBEVENTS_TESTBIN"
_ENV_GO_MODULE = "KUBEVENTS_TESTENV_GO"
_HEARTBEAT_SECONDS = 60.0
_ERROR_TAIL_LINES = 40


@dataclass(frozen=True)
class Binaries:
    kube_apiserver: Path
    etcd: Path


def _log(message: str) -> None:
    print(f"kubevents_testenv: {message}", file=sys.stderr, flush=True)


def cache_dir(version: str = KUBE_VERSION) -> Path:
    """Directory holding the binaries for ``version`` (``$KUBEVENTS_TESTBIN`` wins)."""
    override = os.environ.get(_ENV_TESTBIN)
    if override:
        return Path(override).expanduser().resolve()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kubevents" / "testbin" / version


def find_go_module(name: str = "kube") -> Path:
    """The wrapper module directory ``testenv/<name>`` (the one containing ``go.mod``)."""
    override = os.environ.get(_ENV_GO_MODULE) if name == "kube" else None
    if override:
        path = Path(override).expanduser().resolve()
        if path.name == "go.mod":
            path = path.parent
        if not (path / "go.mod").is_file():
            raise RuntimeError(f"${_ENV_GO_MODULE}={override!r} does not contain a go.mod")
        return path
    # The Go modules are this package's siblings in the testenv/ project, which the dev setup
    # installs editable (scripts/dev.sh): testenv/src/kubevents_testenv -> testenv/<name>.
    candidate = Path(__file__).resolve().parents[2] / name
    if (candidate / "go.mod").is_file():
        return candidate
    raise RuntimeError(
        f"cannot find the testenv/{name} Go module: no {candidate / 'go.mod'} (install "
        "kubevents-testenv editable from the repository's testenv/ directory"
        + (f", or set ${_ENV_GO_MODULE} to the module's directory)" if name == "kube" else ")")
    )


def _pinned_kube_version(module: Path) -> str | None:
    text = (module / "go.mod").read_text()
    match = re.search(r"^\s*(?:require\s+)?k8s\.io/kubernetes\s+(v\S+)", text, re.MULTILINE)
    return match.group(1) if match else None


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _binaries_in(directory: Path) -> Binaries:
    return Binaries(kube_apiserver=directory / "kube-apiserver", etcd=directory / "etcd")


def _go_build(go: str, module: Path, package: str, output: Path, ldflags: str) -> None:
    # A temp name in the same directory makes the final rename atomic: an interrupted build
    # never leaves something at ``output`` that looks like a usable binary.
    tmp = output.with_name(f".{output.name}.tmp-{os.getpid()}")
    log_path = output.with_name(f".{output.name}.build.log")
    cmd = [go, "build", "-o", str(tmp), "-ldflags", ldflags, package]
    env = dict(os.environ, CGO_ENABLED="0")
    _log(f"building {output.name} from {package} (cold builds take 10-20 minutes) ...")
    started = time.monotonic()
    try:
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(cmd, cwd=module, env=env, stdout=log, stderr=subprocess.STDOUT)
            try:
                while True:
                    try:
                        rc = proc.wait(timeout=_HEARTBEAT_SECONDS)
                        break
                    except subprocess.TimeoutExpired:
                        _log(f"  still building {output.name}: {time.monotonic() - started:.0f}s")
            except BaseException:
                proc.kill()
                proc.wait()
                raise
        if rc != 0:
            tail = log_path.read_text(errors="replace").splitlines()[-_ERROR_TAIL_LINES:]
            raise RuntimeError(
                f"`{' '.join(cmd)}` failed with exit code {rc} (in {module}; full log: "
                f"{log_path}):\n" + "\n".join(tail)
            )
        if not _is_executable(tmp):
            raise RuntimeError(f"`go build` reported success but produced no binary at {tmp}")
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
    log_path.unlink(missing_ok=True)
    _log(f"built {output} in {time.monotonic() - started:.0f}s")


def _find_go() -> str | None:
    return shutil.which("go") or (
        "/usr/local/go/bin/go" if _is_executable(Path("/usr/local/go/bin/go")) else None
    )


def _kube_ldflags(version: str) -> str:
    minor = version.lstrip("v").split(".")[1]
    return (
        "-s -w"
        f" -X k8s.io/component-base/version.gitVersion={version}"
        " -X k8s.io/component-base/version.gitMajor=1"
        f" -X k8s.io/component-base/version.gitMinor={minor}"
    )


def _ensure_tool(name: str, directory: Path, module_name: str, package: str, ldflags: str) -> Path:
    """``directory/name`` built from ``testenv/<module_name>`` if it is not there yet."""
    binary = directory / name
    if _is_executable(binary):
        return binary
    if os.environ.get(_ENV_TESTBIN) and module_name == "kube":
        raise RuntimeError(f"${_ENV_TESTBIN}={directory} does not contain an executable {name}")
    go = _find_go()
    if go is None:
        raise RuntimeError(f"{name} is not in {directory} and `go` is not on PATH to build it")
    module = find_go_module(module_name)
    directory.mkdir(parents=True, exist_ok=True)
    with directory_lock(directory, "build", "building"):
        if not _is_executable(binary):
            _go_build(go, module, package, binary, ldflags)
    return binary


def ensure_kubectl(version: str = KUBE_VERSION) -> Path:
    """kubectl of the same Kubernetes version as the apiserver, built beside it."""
    module = find_go_module("kube")
    pinned = _pinned_kube_version(module)
    if pinned != version:
        raise RuntimeError(
            f"{module}/go.mod pins k8s.io/kubernetes {pinned}, cannot build {version} from it"
        )
    return _ensure_tool(
        "kubectl", cache_dir(version), "kube", "k8s.io/kubernetes/cmd/kubectl",
        _kube_ldflags(version),
    )  # fmt: skip


def ensure_helm(version: str = HELM_VERSION) -> Path:
    """Helm built from helm.sh/helm/v4 (``testenv/helm``), cached next to the kube binaries."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    directory = Path(base) / "kubevents" / "testbin" / f"helm-{version}"
    ldflags = f"-s -w -X helm.sh/helm/v4/internal/version.version={version}"
    return _ensure_tool("helm", directory, "helm", "helm.sh/helm/v4/cmd/helm", ldflags)


def ensure_binaries(version: str = KUBE_VERSION) -> Binaries:
    """Return the kube-apiserver and etcd binaries for ``version``, building them if missing.

    Raises RuntimeError (never skips) if they are missing and cannot be built, so a test run
    without Go fails loudly instead of silently testing nothing.
    """
    directory = cache_dir(version)
    binaries = _binaries_in(directory)
    if _is_executable(binaries.kube_apiserver) and _is_executable(binaries.etcd):
        return binaries

    if os.environ.get(_ENV_TESTBIN):
        # An explicit directory is a promise that the binaries are there; building into it
        # could silently mislabel the version.
        raise RuntimeError(
            f"${_ENV_TESTBIN}={directory} does not contain executable kube-apiserver and etcd"
        )
    go = _find_go()
    if go is None:
        raise RuntimeError(
            f"kube-apiserver/etcd {version} are not in {directory} and `go` is not on PATH "
            "to build them; install Go or point $KUBEVENTS_TESTBIN at prebuilt binaries"
        )
    module = find_go_module()
    pinned = _pinned_kube_version(module)
    if pinned != version:
        raise RuntimeError(
            f"{module}/go.mod pins k8s.io/kubernetes {pinned}, cannot build {version} from it"
        )

    directory.mkdir(parents=True, exist_ok=True)
    with directory_lock(directory, "build", "building"):
        # Re-check under the lock: another process may have finished the build meanwhile.
        if not _is_executable(binaries.kube_apiserver):
            _go_build(
                go, module, "k8s.io/kubernetes/cmd/kube-apiserver", binaries.kube_apiserver,
                _kube_ldflags(version),
            )  # fmt: skip
        if not _is_executable(binaries.etcd):
            _go_build(go, module, "go.etcd.io/etcd/server/v3", binaries.etcd, "-s -w")
    return binaries
