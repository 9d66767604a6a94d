"""Resolving a classpath from Maven Central once per machine (stdlib only).

The search engines and the Kafka broker of the tests are plain jars on Maven Central: a
generated pom in a cache directory, ``mvn dependency:build-classpath`` once (the jars land in
``~/.m2``), then the classpath cached next to the pom. A file lock makes concurrent test runs
wait for one resolve instead of racing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from ._support import directory_lock, tail

__all__ = ["log", "resolve_classpath"]

_RESOLVE_TIMEOUT = 900.0
_HEARTBEAT_SECONDS = 30.0


def log(message: str) -> None:
    print(f"kubevents_testenv: {message}", file=sys.stderr, flush=True)


def _cached_classpath(path: Path) -> str | None:
    try:
        classpath = path.read_text().strip()
    except OSError:
        return None
    # A cleaned ~/.m2 makes a cached classpath a list of missing jars: resolve again then.
    jars = classpath.split(os.pathsep) if classpath else []
    if not jars or not all(Path(jar).is_file() for jar in jars):
        return None
    return classpath


def _mvn_resolve(directory: Path, output: Path) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise RuntimeError("`mvn` (Maven) is not on PATH: it is needed to resolve the runner")
    tmp = output.with_name(f".{output.name}.tmp-{os.getpid()}")
    log_path = directory / "mvn.log"
    cmd = [mvn, "-q", "-B", "dependency:build-classpath", f"-Dmdep.outputFile={tmp}"]
    started = time.monotonic()
    try:
        with open(log_path, "wb") as mvn_log:
            proc = subprocess.Popen(cmd, cwd=directory, stdout=mvn_log, stderr=subprocess.STDOUT)
            try:
                while True:
                    try:
                        rc = proc.wait(timeout=_HEARTBEAT_SECONDS)
                        break
                    except subprocess.TimeoutExpired:
                        elapsed = time.monotonic() - started
                        if elapsed > _RESOLVE_TIMEOUT:
                            raise RuntimeError(
                                f"`{' '.join(cmd)}` still running after {elapsed:.0f}s"
                            ) from None
                        log(f"  still resolving with Maven: {elapsed:.0f}s")
            except BaseException:
                proc.kill()
                proc.wait()
                raise
        if rc != 0 or not tmp.is_file():
            raise RuntimeError(
                f"`{' '.join(cmd)}` failed with exit code {rc} in {directory}:\n"
                + tail(log_path, 40)
            )
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)


def resolve_classpath(directory: Path, pom: str, what: str) -> tuple[str, float]:
    """The classpath of ``pom`` (cached in ``directory``) and the seconds Maven took now."""
    directory.mkdir(parents=True, exist_ok=True)
    output = directory / "classpath.txt"
    resolve_seconds = 0.0
    classpath = _cached_classpath(output)
    if classpath is None:
        with directory_lock(directory, "resolve", "resolving"):
            # Re-check under the lock: another process may have resolved it meanwhile.
            classpath = _cached_classpath(output)
            if classpath is None:
                (directory / "pom.xml").write_text(pom)
                log(f"resolving {what} with Maven ...")
                started = time.monotonic()
                _mvn_resolve(directory, output)
                resolve_seconds = time.monotonic() - started
                log(f"resolved {what} in {resolve_seconds:.1f}s")
                classpath = _cached_classpath(output)
                if classpath is None:
                    raise RuntimeError(f"Maven wrote an unusable classpath to {output}")
    return classpath, resolve_seconds
