"""Build a Go program from a module directory once, cached by a hash of its sources.

Shared by the parity harness (client-go's tools/record) and the exporter benchmark (resmo's
kubernetes-event-exporter). Raises, never skips, when Go is missing or the build fails: a green
parity test or a benchmark row must mean the Go side actually ran.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

__all__ = ["cached_go_build"]


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kubevents"


def _source_hash(go: str, module: Path) -> str:
    digest = hashlib.sha256()
    version = subprocess.run([go, "env", "GOVERSION", "GOOS", "GOARCH"], capture_output=True,
                             text=True, check=True).stdout  # fmt: skip
    digest.update(version.encode())
    for path in sorted(module.iterdir()):
        if path.suffix == ".go" or path.name in ("go.mod", "go.sum"):
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


@contextlib.contextmanager
def _lock(directory: Path) -> Iterator[None]:
    with open(directory / ".build.lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def cached_go_build(module: Path, package: str, name: str, cache: str) -> Path:
    """``go build -trimpath <package>`` in ``module``, kept in ``~/.cache/kubevents/<cache>/``."""
    go = shutil.which("go")
    if go is None:
        raise RuntimeError(f"`go` is not on PATH: {name} is built from {module} (Go >= 1.24)")
    directory = _cache_root() / cache / _source_hash(go, module)
    binary = directory / name
    if binary.is_file() and os.access(binary, os.X_OK):
        return binary
    directory.mkdir(parents=True, exist_ok=True)
    with _lock(directory):
        if binary.is_file():
            return binary
        tmp = directory / f".{name}.tmp-{os.getpid()}"
        env = dict(os.environ, CGO_ENABLED="0")
        print(f"building {binary} (go build {package})", file=sys.stderr, flush=True)
        result = subprocess.run(
            [go, "build", "-trimpath", "-o", str(tmp), package],
            cwd=module, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            tmp.unlink(missing_ok=True)
            raise RuntimeError(
                f"go build {package} in {module} failed ({result.returncode}):\n"
                f"{result.stderr[-4000:]}"
            )
        # Renamed into place only once complete, so a killed build never looks usable.
        tmp.rename(binary)
    return binary
