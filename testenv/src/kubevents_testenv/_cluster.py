"""A real single-node control plane (etcd + kube-apiserver) on loopback, for tests and demos.

There is no controller-manager, scheduler or kubelet: Events are plain API objects, so the
apiserver and its storage are all that is needed to exercise them faithfully (RBAC, watch
semantics, resourceVersions, 410 Gone after compaction).

One module of about 410 lines: etcd, the apiserver, certificates and identities start and stop
as one cluster.
"""

from __future__ import annotations

import atexit
import http.client
import json
import secrets
import shutil
import ssl
import subprocess
import tempfile
import time
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from ._build import Binaries, ensure_binaries
from ._pki import issue_client_cert, make_pki
from ._support import (
    free_ports,
    kubeconfig_yaml,
    limited_rbac,
    live_processes,
    request,
    tail,
    terminate,
)

LIMITED_USER = "kubevents-limited"
ADMIN_USER = "kubevents-admin"
# The admin identity of the client certificate (group system:masters), a user of its own so
# that a test can tell from SelfSubjectReview which credential the server saw.
CERT_ADMIN_USER = "kubevents-cert-admin"
CONTEXT = "kubevents-local"
LIMITED_CONTEXT = "kubevents-local-limited"
# The verbs an event recorder/exporter needs, and nothing else: anything broader would let
# RBAC bugs in kubevents go unnoticed in tests.
LIMITED_VERBS = ("get", "list", "watch", "create", "patch", "update")

_READY_TIMEOUT = 90.0
_STOP_TIMEOUT = 15.0


# Clusters not yet stopped: at interpreter exit they are stopped properly (temp workdir removed
# too); _support's process registry is the fallback for clusters already garbage-collected.
_live_clusters: weakref.WeakSet[LocalCluster] = weakref.WeakSet()


@atexit.register
def _stop_leftover_clusters() -> None:
    for cluster in list(_live_clusters):
        cluster.stop()


class LocalCluster:
    """etcd + kube-apiserver on free loopback ports, with an admin and an RBAC-limited user.

    Every start() is a fresh cluster: the etcd data directory is wiped first.
    """

    def __init__(
        self,
        workdir: Path | None = None,
        *,
        watch_cache_for_events: bool = False,
        extra_apiserver_args: Sequence[str] = (),
        binaries: Binaries | None = None,
    ) -> None:
        self._requested_workdir = None if workdir is None else Path(workdir).resolve()
        self._owns_workdir = False
        self._workdir: Path | None = None
        self.watch_cache_for_events = watch_cache_for_events
        self.extra_apiserver_args = tuple(extra_apiserver_args)
        self._binaries = binaries
        self._etcd: subprocess.Popen[bytes] | None = None
        self._apiserver: subprocess.Popen[bytes] | None = None
        self._log_files: list[IO[bytes]] = []
        self._started = False
        self._url = ""
        self._etcd_url = ""
        # The apiserver writes its self-signed serving cert followed by the CA that signed it.
        self._ca_file = Path()
        self._admin_token = ""
        self._limited_token = ""
        self._ssl_context: ssl.SSLContext | None = None
        self.start_seconds: float | None = None

    # ---- properties -------------------------------------------------------------------------

    def _require(self) -> Path:
        if not self._started or self._workdir is None:
            raise RuntimeError("LocalCluster is not started")
        return self._workdir

    @property
    def workdir(self) -> Path:
        return self._require()

    @property
    def url(self) -> str:
        self._require()
        return self._url

    @property
    def etcd_url(self) -> str:
        self._require()
        return self._etcd_url

    @property
    def ca_file(self) -> Path:
        self._require()
        return self._ca_file

    @property
    def admin_token(self) -> str:
        self._require()
        return self._admin_token

    @property
    def limited_token(self) -> str:
        self._require()
        return self._limited_token

    @property
    def kubeconfig(self) -> Path:
        return self._require() / "kubeconfig"

    @property
    def kubeconfig_limited(self) -> Path:
        return self._require() / "kubeconfig-limited"

    @property
    def kubeconfig_cert(self) -> Path:
        """An admin kubeconfig that authenticates with a client certificate (relative paths)."""
        return self._require() / "kubeconfig-cert"

    @property
    def apiserver_pid(self) -> int | None:
        """The kube-apiserver's process id while it runs (benchmarks read its CPU time)."""
        proc = self._apiserver
        return proc.pid if proc is not None and proc.poll() is None else None

    @property
    def running(self) -> bool:
        procs = (self._etcd, self._apiserver)
        return all(p is not None and p.poll() is None for p in procs)

    def ssl_context(self) -> ssl.SSLContext:
        """A client context trusting the apiserver's self-signed CA."""
        self._require()
        return self._client_context()

    def _client_context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context(cafile=str(self._ca_file))
        return self._ssl_context

    # ---- lifecycle --------------------------------------------------------------------------

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        if self._apiserver is not None:
            raise RuntimeError("LocalCluster is already started")
        binaries = self._binaries or ensure_binaries()
        began = time.monotonic()
        if self._requested_workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix="kubevents-cluster-"))
            self._owns_workdir = True
        else:
            self._workdir = self._requested_workdir
        _live_clusters.add(self)
        try:
            self._start(binaries, self._workdir)
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - began

    def _start(self, binaries: Binaries, workdir: Path) -> None:
        etcd_data = workdir / "etcd"
        shutil.rmtree(etcd_data, ignore_errors=True)
        for sub in ("certs", "pki", "auth", "logs"):
            (workdir / sub).mkdir(parents=True, exist_ok=True)
        etcd_data.mkdir(mode=0o700)
        etcd_port, peer_port, secure_port = free_ports(3)
        self._etcd_url = f"http://127.0.0.1:{etcd_port}"
        self._url = f"https://127.0.0.1:{secure_port}"
        self._ca_file = workdir / "certs" / "apiserver.crt"

        sa_key, sa_pub = workdir / "pki" / "sa.key", workdir / "pki" / "sa.pub"
        self._openssl("genrsa", "-out", str(sa_key), "2048")
        self._openssl("rsa", "-in", str(sa_key), "-pubout", "-out", str(sa_pub))

        self._admin_token = secrets.token_urlsafe(32)
        self._limited_token = secrets.token_urlsafe(32)
        tokens = workdir / "auth" / "tokens.csv"
        # token,user,uid,"groups"; the limited user gets only the implicit system:authenticated.
        tokens.write_text(
            f'{self._admin_token},{ADMIN_USER},{ADMIN_USER},"system:masters"\n'
            f"{self._limited_token},{LIMITED_USER},{LIMITED_USER}\n"
        )
        tokens.chmod(0o600)
        # Client certificates: a CA of their own, and an admin certificate (openssl, ~0.2 s).
        client_pki = make_pki(workdir / "client-pki", ca_name="kubevents test client CA")
        issue_client_cert(client_pki, "admin", CERT_ADMIN_USER, ("system:masters",))

        peer_url = f"http://127.0.0.1:{peer_port}"
        self._etcd = self._spawn(
            "etcd",
            [
                str(binaries.etcd),
                "--name=default",
                f"--data-dir={etcd_data}",
                f"--listen-client-urls={self._etcd_url}",
                f"--advertise-client-urls={self._etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=default={peer_url}",
                # Test data is disposable; fsync dominates etcd latency on CI disks.
                "--unsafe-no-fsync",
            ],
        )
        self._wait("etcd /health", self._etcd_healthy)

        args = [
            str(binaries.kube_apiserver),
            f"--etcd-servers={self._etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={secure_port}",
            f"--cert-dir={workdir / 'certs'}",
            "--service-cluster-ip-range=10.0.0.0/24",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-account-key-file={sa_pub}",
            f"--service-account-signing-key-file={sa_key}",
            f"--token-auth-file={tokens}",
            f"--client-ca-file={client_pki.ca}",
            "--authorization-mode=RBAC",
        ]
        if self.watch_cache_for_events:
            # kube-apiserver serves Events WITHOUT the watch cache by default (kubernetes#96052):
            # DefaultWatchCacheSizes() in pkg/kubeapiserver maps events (core and events.k8s.io)
            # to size 0. Both the core and the events.k8s.io REST storage are built with the core
            # GroupResource "events", so the single override "events#<n>" re-enables the cache for
            # /api/v1 and /apis/events.k8s.io/v1 alike; any n > 0 means "enabled" (the size is
            # dynamic since 1.19, and the apiserver logs "Dropping watch-cache-size" for it).
            args.append("--watch-cache-sizes=events#1000")
        args.extend(self.extra_apiserver_args)
        self._apiserver = self._spawn("kube-apiserver", args)
        self._wait("kube-apiserver /readyz", self._apiserver_ready)
        # readyz does not wait for the system-namespaces controller; callers expect "default".
        self._wait("namespace default", self._default_namespace_exists)
        self._setup_rbac()
        # The RBAC authorizer reads from informers, so the binding takes a moment to apply.
        self._wait("RBAC for the limited user", self._limited_user_authorized)

        for name, context, user, token in (
            ("kubeconfig", CONTEXT, ADMIN_USER, self._admin_token),
            ("kubeconfig-limited", LIMITED_CONTEXT, LIMITED_USER, self._limited_token),
        ):
            path = workdir / name
            path.write_text(
                kubeconfig_yaml(CONTEXT, self._url, self._ca_file, context, user, token)
            )
            path.chmod(0o600)
        # The certificate's paths are relative: clients resolve them against this file's folder.
        path = workdir / "kubeconfig-cert"
        path.write_text(
            kubeconfig_yaml(
                CONTEXT,
                self._url,
                self._ca_file,
                CONTEXT,
                CERT_ADMIN_USER,
                None,
                client_cert="client-pki/admin.pem",
                client_key="client-pki/admin.key",
            )
        )
        path.chmod(0o600)
        self._started = True

    def stop(self) -> None:
        """Stop apiserver then etcd; safe to call repeatedly and on a half-started cluster."""
        for proc in (self._apiserver, self._etcd):
            if proc is not None:
                terminate(proc, timeout=_STOP_TIMEOUT)
        self._apiserver = self._etcd = None
        self._started = False
        _live_clusters.discard(self)
        for handle in self._log_files:
            handle.close()
        self._log_files.clear()
        self._ssl_context = None
        if self._owns_workdir and self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
            self._owns_workdir = False

    # ---- etcd -------------------------------------------------------------------------------

    def compact_etcd(self) -> int:
        """Compact etcd at its current revision and return that revision.

        Afterwards a watch or an Exact list from an older resourceVersion gets 410 Gone (unless
        served from a watch cache that still holds it). kube-apiserver also compacts on its own,
        every --etcd-compaction-interval (default 5m).
        """
        self._require()
        # Any key will do: the response header carries the store's current revision.
        status, raw = request("POST", f"{self._etcd_url}/v3/kv/range", body={"key": "AA=="})
        if status != 200:
            raise RuntimeError(f"etcd range failed: HTTP {status}: {raw[:500]!r}")
        revision = int(json.loads(raw)["header"]["revision"])
        status, raw = request(
            "POST",
            f"{self._etcd_url}/v3/kv/compaction",
            body={"revision": str(revision), "physical": True},
            timeout=60.0,
        )
        if status != 200:
            raise RuntimeError(f"etcd compaction at {revision} failed: HTTP {status}: {raw!r}")
        return revision

    # ---- helpers ----------------------------------------------------------------------------

    def _openssl(self, *args: str) -> None:
        openssl = shutil.which("openssl")
        if openssl is None:
            raise RuntimeError("`openssl` is not on PATH; it is needed for the SA key pair")
        result = subprocess.run([openssl, *args], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"`openssl {' '.join(args)}` failed: {result.stderr.strip()}")

    def _log_path(self, name: str) -> Path:
        assert self._workdir is not None
        return self._workdir / "logs" / f"{name}.log"

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = open(self._log_path(name), "wb")  # noqa: SIM115 - closed in stop()
        self._log_files.append(log)
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Own process group: signals aimed at the test runner's group (Ctrl-C) don't race
            # our orderly shutdown, and killpg reaches anything the server may fork.
            start_new_session=True,
        )
        live_processes.add(proc)
        return proc

    def _logs_summary(self) -> str:
        parts = []
        for name in ("kube-apiserver", "etcd"):
            path = self._log_path(name)
            if path.exists():
                parts.append(f"--- tail of {path} ---\n{tail(path)}")
        return "\n".join(parts)

    def _wait(self, what: str, probe: Callable[[], bool], timeout: float = _READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        last_error: BaseException | None = None
        while True:
            for name, proc in (("etcd", self._etcd), ("kube-apiserver", self._apiserver)):
                if proc is not None and proc.poll() is not None:
                    raise RuntimeError(
                        f"{name} exited with code {proc.returncode} while waiting for {what}\n"
                        + self._logs_summary()
                    )
            try:
                if probe():
                    return
                last_error = None
            except (OSError, http.client.HTTPException, ValueError, KeyError) as exc:
                last_error = exc
            if time.monotonic() >= deadline:
                raise RuntimeError(
                    f"timed out after {timeout:.0f}s waiting for {what}"
                    + (f" (last error: {last_error!r})" if last_error else "")
                    + "\n"
                    + self._logs_summary()
                )
            time.sleep(0.1)

    def _etcd_healthy(self) -> bool:
        status, raw = request("GET", f"{self._etcd_url}/health", timeout=2.0)
        return status == 200 and json.loads(raw).get("health") == "true"

    def _admin(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        return request(
            method,
            self._url + path,
            token=self._admin_token,
            body=body,
            context=self._client_context(),
        )

    def _apiserver_ready(self) -> bool:
        if not self._ca_file.exists():
            return False
        status, raw = self._admin("GET", "/readyz")
        return status == 200 and raw.strip() == b"ok"

    def _default_namespace_exists(self) -> bool:
        return self._admin("GET", "/api/v1/namespaces/default")[0] == 200

    def _limited_user_authorized(self) -> bool:
        status, _ = request(
            "GET",
            f"{self._url}/api/v1/namespaces/default/events?limit=1",
            token=self._limited_token,
            context=self._client_context(),
        )
        return status == 200

    def _setup_rbac(self) -> None:
        rbac = "/apis/rbac.authorization.k8s.io/v1"
        role, binding = limited_rbac(LIMITED_USER, LIMITED_VERBS)
        for kind, obj in (("clusterroles", role), ("clusterrolebindings", binding)):
            status, raw = self._admin("POST", f"{rbac}/{kind}", obj)
            if status != 201:
                raise RuntimeError(f"creating {kind}/{LIMITED_USER} failed: HTTP {status}: {raw!r}")
