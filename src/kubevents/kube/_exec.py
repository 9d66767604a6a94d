"""Credentials from a kubeconfig ``exec`` plugin (client.authentication.k8s.io v1 and v1beta1).

client-go's protocol (plugin/pkg/client/auth/exec): the plugin gets the environment plus the
configured ``env`` and ``KUBERNETES_EXEC_INFO`` (an ``ExecCredential`` whose ``spec`` says it is
not interactive and, with ``provideClusterInfo``, which cluster it is for) and prints an
``ExecCredential`` whose ``status`` holds a token or a client certificate and key. The result is
cached until shortly before its ``expirationTimestamp`` (forever without one) and fetched again
after a 401 that used it. The plugin's stdout holds the secret and is never logged; its stderr
is quoted in errors because that is where plugins explain themselves.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kubevents.errors import ConfigError
from kubevents.kube._credentials import Auth, CertPair, Credentials

__all__ = ["EXEC_API_VERSIONS", "ExecCredentials", "ExecSpec"]

EXEC_API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")
# Fetch a new credential this long before it expires (at most half its life), so a request that
# is slow to reach the server does not arrive with an expired token.
REFRESH_MARGIN = 30.0
# A plugin that never exits would hang every request; client-go waits forever, kubevents not.
EXEC_TIMEOUT = 120.0
_STDERR_QUOTED = 1000


@dataclass(frozen=True)
class ExecSpec:
    """A kubeconfig user's ``exec`` block, paths already resolved."""

    user: str  # the kubeconfig user's name, for messages
    api_version: str
    command: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    install_hint: str = ""
    # The ExecCredential ``spec.cluster`` when provideClusterInfo is set, else None.
    cluster: Mapping[str, Any] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class _Fetched:
    auth: Auth
    refresh_at: float | None  # wall-clock seconds, None = until a 401


def _fail(spec: ExecSpec, reason: str) -> ConfigError:
    return ConfigError(f"users[{spec.user}].exec: {spec.command}: {reason}")


def _exec_info(spec: ExecSpec) -> str:
    info: dict[str, Any] = {
        "apiVersion": spec.api_version,
        "kind": "ExecCredential",
        "spec": {"interactive": False},
    }
    if spec.cluster is not None:
        info["spec"]["cluster"] = dict(spec.cluster)
    return json.dumps(info, separators=(",", ":"))


def _parse_time(spec: ExecSpec, value: object) -> float:
    if not isinstance(value, str):
        raise _fail(spec, "status.expirationTimestamp is not a string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _fail(spec, f"status.expirationTimestamp {value!r} is not RFC 3339") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def parse_exec_output(spec: ExecSpec, stdout: bytes, now: float) -> _Fetched:
    """The credential in a plugin's stdout, checked as client-go checks it."""
    try:
        doc = json.loads(stdout)
    except ValueError as exc:
        # The position only: the output may be a token the plugin printed bare.
        raise _fail(spec, f"stdout is not JSON (at character {getattr(exc, 'pos', 0)})") from None
    if not isinstance(doc, dict):
        raise _fail(spec, "stdout is not a JSON object")
    version, kind = doc.get("apiVersion"), doc.get("kind")
    if version != spec.api_version:
        raise _fail(
            spec,
            f"exec plugin is configured to use API version {spec.api_version}, "
            f"plugin returned version {version!r}",
        )
    if kind != "ExecCredential":
        raise _fail(spec, f"returned kind {kind!r}, not ExecCredential")
    status = doc.get("status")
    if not isinstance(status, dict):
        raise _fail(spec, "exec plugin didn't return a status field")
    token = status.get("token") or ""
    cert = status.get("clientCertificateData") or ""
    key = status.get("clientKeyData") or ""
    if not all(isinstance(v, str) for v in (token, cert, key)):
        raise _fail(spec, "status.token, clientCertificateData and clientKeyData must be strings")
    if not token and not cert and not key:
        raise _fail(spec, "exec plugin didn't return a token or cert/key pair")
    if bool(cert) != bool(key):
        raise _fail(spec, "exec plugin returned only certificate or key, not both")
    refresh_at: float | None = None
    expiry = status.get("expirationTimestamp")
    if expiry is not None:
        expires = _parse_time(spec, expiry)
        refresh_at = expires - min(REFRESH_MARGIN, max(0.0, (expires - now) / 2))
    auth = Auth(
        f"Bearer {token}" if token else None,
        CertPair(cert.encode(), key.encode()) if cert else None,
    )
    return _Fetched(auth, refresh_at)


class ExecCredentials(Credentials):
    """The credential an exec plugin prints, run again when it expires or is refused."""

    def __init__(
        self,
        spec: ExecSpec,
        *,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        timeout: float = EXEC_TIMEOUT,
    ) -> None:
        self.spec = spec
        self.description = f"exec plugin {spec.command}"
        self._environ = environ
        self._clock = clock
        self._timeout = timeout
        self._fetched: _Fetched | None = None
        self._lock = asyncio.Lock()
        self.runs = 0

    async def fetch(self) -> Auth:
        """Run the plugin now (``ConfigError`` if it fails) and cache what it printed."""
        async with self._lock:
            return await self._run_locked()

    async def current(self) -> Auth:
        fetched = self._fetched
        if fetched is not None and not self._expired(fetched):
            return fetched.auth
        async with self._lock:
            fetched = self._fetched
            if fetched is not None and not self._expired(fetched):
                return fetched.auth
            return await self._run_locked()

    async def unauthorized(self, used: Auth) -> bool:
        async with self._lock:
            fetched = self._fetched
            if fetched is not None and fetched.auth is not used:
                return True  # another request has fetched a new one meanwhile
            await self._run_locked()
            return True

    def _expired(self, fetched: _Fetched) -> bool:
        return fetched.refresh_at is not None and self._clock() >= fetched.refresh_at

    async def _run_locked(self) -> Auth:
        spec = self.spec
        env = dict(os.environ if self._environ is None else self._environ)
        env.update(spec.env)
        env["KUBERNETES_EXEC_INFO"] = _exec_info(spec)
        try:
            proc = await asyncio.create_subprocess_exec(
                spec.command,
                *spec.args,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except FileNotFoundError:
            hint = f" ({spec.install_hint.strip()})" if spec.install_hint.strip() else ""
            raise _fail(spec, f"executable not found{hint}") from None
        except OSError as exc:
            raise _fail(spec, f"cannot run: {exc.strerror or exc}") from None
        self.runs += 1
        try:
            stdout, stderr = await asyncio.wait_for(proc.communicate(), self._timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise _fail(spec, f"did not exit within {self._timeout:g} s") from None
        if proc.returncode != 0:
            text = stderr.decode("utf-8", "replace").strip()[-_STDERR_QUOTED:]
            raise _fail(
                spec,
                f"failed with exit code {proc.returncode}" + (f": {text}" if text else ""),
            )
        fetched = parse_exec_output(spec, stdout, self._clock())
        self._fetched = fetched
        return fetched.auth
