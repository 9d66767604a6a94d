"""Process, HTTP and file helpers for the local cluster (stdlib only)."""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import random
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

LOG_TAIL_LINES = 30

# Processes of every cluster still running, so that an interpreter exit without stop()
# (a crashed or interrupted test run) does not leave orphans behind.
live_processes: set[subprocess.Popen[bytes]] = set()


@contextlib.contextmanager
def directory_lock(directory: Path, name: str, doing: str) -> Iterator[None]:
    """Hold ``directory/.<name>.lock``: one process at a time fills a shared cache (a build, a
    Maven resolve); the others wait for it, saying so, and then find the work done."""
    with open(directory / f".{name}.lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(
                f"kubevents_testenv: another process is {doing} into {directory}; waiting for it",
                file=sys.stderr, flush=True,
            )  # fmt: skip
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def kill_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def terminate(proc: subprocess.Popen[bytes], timeout: float) -> None:
    if proc.poll() is None:
        kill_group(proc, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc, signal.SIGKILL)
            proc.wait()
    live_processes.discard(proc)


@atexit.register
def _kill_leftovers() -> None:
    for proc in list(live_processes):
        terminate(proc, timeout=5.0)


# Ports are picked below the kernel's ephemeral range: a port chosen there and bound a moment
# later by a child process can meanwhile become the source port of any outgoing connection on
# the machine (every HTTP request of a test, another suite running beside it), and the child's
# bind then fails. Below the range, only another listener can take it.
_PORTS_FLOOR = 10_000
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def _ephemeral_start() -> int:
    try:
        return int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default


def free_ports(count: int) -> list[int]:
    """``count`` distinct loopback TCP ports that were free a moment ago, outside the range
    the kernel hands out to outgoing connections (when it leaves room below it)."""
    top = _ephemeral_start()
    # Hold every socket open until all are chosen so that no port is handed out twice.
    socks: list[socket.socket] = []
    try:
        tries = 0
        while len(socks) < count:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(sock)
            tries += 1
            if top - _PORTS_FLOOR >= 1_000 and tries <= 200 * count:
                try:
                    sock.bind(("127.0.0.1", random.randrange(_PORTS_FLOOR, top)))
                    continue
                except OSError:
                    socks.pop().close()
                    continue
            sock.bind(("127.0.0.1", 0))  # no room below the range: the kernel's choice
        return [s.getsockname()[1] for s in socks]
    finally:
        for sock in socks:
            sock.close()


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"
    return "\n".join(text.splitlines()[-lines:])


def request(
    method: str,
    url: str,
    *,
    token: str | None = None,
    body: Any = None,
    context: ssl.SSLContext | None = None,
    timeout: float = 10.0,
) -> tuple[int, bytes]:
    """One request; HTTP error statuses are returned, connection errors are raised."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def kubeconfig_yaml(
    cluster_name: str,
    server: str,
    ca_file: Path,
    context: str,
    user: str,
    token: str | None,
    *,
    client_cert: str | None = None,
    client_key: str | None = None,
) -> str:
    """A kubeconfig with one context: a bearer ``token``, or a client certificate and key."""

    # JSON string literals are valid YAML scalars, which keeps odd paths safely quoted.
    def q(value: str) -> str:
        return json.dumps(value)

    credentials = f"    token: {q(token)}\n" if token is not None else ""
    if client_cert is not None and client_key is not None:
        credentials += f"    client-certificate: {q(client_cert)}\n"
        credentials += f"    client-key: {q(client_key)}\n"
    return (
        "apiVersion: v1\n"
        "kind: Config\n"
        "clusters:\n"
        f"- name: {q(cluster_name)}\n"
        "  cluster:\n"
        f"    server: {q(server)}\n"
        f"    certificate-authority: {q(str(ca_file))}\n"
        "users:\n"
        f"- name: {q(user)}\n"
        "  user:\n"
        f"{credentials}"
        "contexts:\n"
        f"- name: {q(context)}\n"
        "  context:\n"
        f"    cluster: {q(cluster_name)}\n"
        f"    user: {q(user)}\n"
        "    namespace: default\n"
        f"current-context: {q(context)}\n"
    )


def limited_rbac(user: str, verbs: Sequence[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """ClusterRole and ClusterRoleBinding granting ``user`` only ``verbs`` on Events."""
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": user},
        "rules": [
            {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": list(verbs)}
        ],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": user},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": user},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
    }
    return role, binding


class ServerProcess:
    """A server of the tests run as one child process group: ``start()`` waits until it
    serves, ``close()`` stops it for good; usable as a context manager."""

    proc: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        """Where the process writes its output."""
        raise NotImplementedError

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def launch(self, cmd: Sequence[str]) -> int:
        """Start ``cmd`` in its own process group, output appended to ``log_path``; return the
        log's size before it, where this start's output begins."""
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as output:
            self.proc = subprocess.Popen(
                list(cmd), stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
        live_processes.add(self.proc)
        return offset

    def wait_for_line(
        self, line: bytes, offset: int, what: str, timeout: float, ready: Callable[[], bool]
    ) -> None:
        """Until the output since ``offset`` holds ``line`` and ``ready()`` is true; raise with
        the log's tail if the process exits or ``timeout`` seconds pass."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{what} exited with code {self.proc.returncode} before it was ready; "
                    f"log {self.log_path}:\n{tail(self.log_path)}"
                )
            with open(self.log_path, "rb") as output:
                output.seek(offset)
                if line in output.read() and ready():
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{what} not ready after {timeout:.0f}s; log {self.log_path}:\n"
                    + tail(self.log_path)
                )
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 30 s); ``start()`` may follow."""
        if self.proc is not None:
            terminate(self.proc, 30.0)
            self.proc = None

    def start(self) -> Self:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
