"""Running ``kubevents export`` as a pod would, against the real local cluster.

The RBAC is the shipped one (deploy/10-rbac.yaml, applied with the real kubectl), renamed into
the test's namespace; the identity is a real service-account token from the TokenRequest API;
the pod environment is the service-account directory (token, ca.crt, namespace) plus
KUBERNETES_SERVICE_HOST/PORT. No kubeconfig exists for the process (HOME is a fresh directory).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import msgspec
import yaml

from kubevents.kube import ENV_SERVICE_ACCOUNT_DIR, KubeClient
from kubevents_testenv import LocalCluster, create_token, ensure_kubectl, free_ports

from .factories import make_event

REPO = Path(__file__).resolve().parents[2]
SHIPPED_RBAC = REPO / "deploy" / "10-rbac.yaml"
SERVICE_ACCOUNT = "kubevents"
KUBEVENTS = [sys.executable, "-m", "kubevents.cli"]


def kubectl(cluster: LocalCluster, *args: str, stdin: str | None = None) -> str:
    """Run the real kubectl (built from the apiserver's module) as the cluster admin."""
    result = subprocess.run(
        [str(ensure_kubectl()), "--kubeconfig", str(cluster.kubeconfig), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout + result.stderr


def shipped_rbac(namespace: str, *, drop: tuple[str, str] | None = None) -> list[dict[str, Any]]:
    """deploy/10-rbac.yaml moved into ``namespace`` (rules untouched, unless ``drop``ped).

    ``drop`` = (resource, verb) removes that one verb from the rule that grants it.
    """
    docs = [d for d in yaml.safe_load_all(SHIPPED_RBAC.read_text()) if d]
    cluster_wide = f"kubevents-{namespace}"
    for doc in docs:
        meta = doc["metadata"]
        if doc["kind"] in ("ClusterRole", "ClusterRoleBinding"):
            meta["name"] = cluster_wide
        else:
            meta["namespace"] = namespace
        if doc["kind"] == "ClusterRoleBinding":
            doc["roleRef"]["name"] = cluster_wide
        for subject in doc.get("subjects", []):
            subject["namespace"] = namespace
        if drop is not None and doc["kind"] in ("ClusterRole", "Role"):
            resource, verb = drop
            for rule in doc["rules"]:
                if resource in rule["resources"] and verb in rule["verbs"]:
                    rule["verbs"].remove(verb)
            doc["rules"] = [rule for rule in doc["rules"] if rule["verbs"]]
    return docs


def shipped_verbs(*, optional: bool = False) -> list[tuple[str, str]]:
    """Every (resource, verb) the shipped roles grant that the exporter requires, or with
    ``optional`` those it can run without (the heartbeat's)."""
    found = []
    for doc in yaml.safe_load_all(SHIPPED_RBAC.read_text()):
        if not doc or doc["kind"] not in ("ClusterRole", "Role"):
            continue
        if doc["metadata"]["name"].endswith("-heartbeat") == optional:
            for rule in doc["rules"]:
                found += [(res, verb) for res in rule["resources"] for verb in rule["verbs"]]
    return found


class Pod:
    """A service-account directory and the environment a kubelet gives a container."""

    def __init__(self, cluster: LocalCluster, namespace: str, directory: Path) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.directory = directory
        self._generation = 0
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "ca.crt").write_bytes(cluster.ca_file.read_bytes())
        (directory / "namespace").write_text(namespace)
        self.home = directory.parent / "home"
        self.home.mkdir(exist_ok=True)

    def write_token(self, token: str) -> None:
        """Replace the token file atomically, as the kubelet's projected volume does."""
        self._generation += 1
        tmp = self.directory / f".token.{self._generation}"
        tmp.write_text(token)
        os.replace(tmp, self.directory / "token")

    def env(self, **extra: str) -> dict[str, str]:
        url = urlparse(self.cluster.url)
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("KUBECONFIG", "KUBEVENTS_"))
        }
        env.update(
            KUBERNETES_SERVICE_HOST=url.hostname or "127.0.0.1",
            KUBERNETES_SERVICE_PORT=str(url.port),
            HOME=str(self.home),
            **{ENV_SERVICE_ACCOUNT_DIR: str(self.directory)},
            **extra,
        )
        return env


def install_shipped_rbac(
    cluster: LocalCluster, namespace: str, *, drop: tuple[str, str] | None = None
) -> None:
    docs = shipped_rbac(namespace, drop=drop)
    kubectl(cluster, "apply", "-f", "-", stdin=yaml.safe_dump_all(docs))


def new_token(cluster: LocalCluster, namespace: str, secret: str) -> str:
    """A token bound to Secret ``secret`` (created here): deleting the Secret retires it."""
    kubectl(cluster, "-n", namespace, "create", "secret", "generic", secret)
    return create_token(cluster, namespace, SERVICE_ACCOUNT, bound_secret=secret)


async def create_events(kube: KubeClient, namespace: str, prefix: str, n: int) -> set[str]:
    """``n`` new Events, created as a recorder sends them; their occurrence ids."""
    ids = set()
    for i in range(n):
        name = f"{prefix}-{i}"
        event = make_event(namespace=namespace, name=name, object_name=name)
        # The server assigns uid and resourceVersion.
        meta = msgspec.structs.replace(event.metadata, uid="", resource_version="")
        created = await kube.events.create(msgspec.structs.replace(event, metadata=meta))
        ids.add(f"{created.uid}:1")
    return ids


FAST_ELECTION = {"enabled": True, "lease_duration": "4s", "renew_deadline": "3s",
                 "retry_period": "0.5s"}  # fmt: skip


def exporter_config(path: Path, namespace: str, **extra: object) -> Path:
    """A replica's configuration file: SQLite next to it, leader election with short times."""
    config = {
        "cluster_name": "incluster",
        "namespace": namespace,  # the ClusterRole allows all; the test reads its own only
        "sinks": [{"type": "sqlite", "path": str(path.parent / "events.db")}],
        "checkpoint": str(path.parent / "events.checkpoint"),
        "leader_election": FAST_ELECTION,
        **extra,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config))
    return path


def free_port() -> int:
    [port] = free_ports(1)
    return port


class Replica:
    """One ``kubevents export`` process in the pod environment, restartable."""

    def __init__(self, name: str, pod: Pod, config: Path, workdir: Path) -> None:
        self.name = name
        self.pod = pod
        self.config = config
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.log = workdir / "exporter.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.starts = 0

    def start(self) -> None:
        self.port = free_port()
        args = [*KUBEVENTS, "export", "--config", str(self.config), "--listen",
                f"127.0.0.1:{self.port}", "--log-format", "json", "--no-progress"]  # fmt: skip
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                args,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                env=self.pod.env(POD_NAME=self.name),
                start_new_session=True,
            )
        self.starts += 1

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> float:
        """SIGKILL; the time it was sent."""
        assert self.proc is not None
        sent = time.time()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        return sent

    def terminate(self, timeout: float = 60) -> tuple[int, float]:
        """SIGTERM; (exit code, the time the process had exited)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        return code, time.time()

    def wait(self, timeout: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.running:
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait(30)

    def logs(self) -> str:
        return self.log.read_text(errors="replace")[-6000:] if self.log.exists() else ""

    def metrics(self) -> dict[str, float]:
        """The process's /metrics as {sample name with labels: value} (empty if unreachable)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
                text = r.read().decode()
        except OSError:
            return {}
        samples = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                samples[name] = float(value)
        return samples


@contextmanager
def replicas(*items: Replica) -> Iterator[tuple[Replica, ...]]:
    try:
        yield items
    finally:
        for replica in items:
            replica.stop()
