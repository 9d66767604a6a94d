"""Run the built image once as a pod would, against a fresh local apiserver (make image).

The shipped namespace, RBAC and configuration (deploy/), a TokenRequest token in a mounted
service-account directory, a read-only root file system with tmpfs for state, host networking
to reach the loopback apiserver. Passes when every Event recorded is printed by the container
(the shipped sink is JSON Lines on stdout), /readyz answers, and SIGTERM exits 0.

    python scripts/image_smoke.py localhost/kubevents:0.1.0
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import yaml

from kubevents.kube import KubeClient
from kubevents_testenv import LocalCluster, create_token, ensure_kubectl, free_ports
from kubevents_testenv.workload import record_workload

REPO = Path(__file__).resolve().parents[1]
NAME = "kubevents-smoke"


def free_port() -> int:
    [port] = free_ports(1)
    return port


def wait(condition: object, what: str, within: float) -> None:
    deadline = time.monotonic() + within
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit(f"image smoke test: timed out waiting for {what}")
        time.sleep(0.2)


async def record(cluster: LocalCluster) -> set[str]:
    async with await KubeClient.connect(cluster.kubeconfig) as kube:
        await record_workload(kube, "default")
        page = await kube.events.list("default", limit=None)
        return {f"{event.uid}:{event.count or 1}" for event in page.items}


def main(image: str) -> int:
    podman = shlex.split(os.environ.get("PODMAN_CMD", "podman --runtime runc"))
    limits = shlex.split(os.environ.get("PODMAN_LIMITS", ""))
    with LocalCluster() as cluster, tempfile.TemporaryDirectory() as tmp:
        kubectl = [str(ensure_kubectl()), "--kubeconfig", str(cluster.kubeconfig)]
        for manifest in ("00-namespace.yaml", "10-rbac.yaml"):
            subprocess.run([*kubectl, "apply", "-f", str(REPO / "deploy" / manifest)], check=True)
        sa = Path(tmp) / "serviceaccount"
        sa.mkdir()
        (sa / "token").write_text(create_token(cluster, "kubevents", "kubevents"))
        (sa / "ca.crt").write_bytes(cluster.ca_file.read_bytes())
        (sa / "namespace").write_text("kubevents")
        config_map = yaml.safe_load((REPO / "deploy" / "20-config.yaml").read_text())
        config = Path(tmp) / "config.yaml"
        config.write_text(config_map["data"]["config.yaml"])
        for path in (sa, *sa.iterdir(), config, Path(tmp)):
            path.chmod(0o755 if path.is_dir() else 0o644)  # readable by uid 10001
        state = Path(tmp) / "state"  # the pod's emptyDir, writable by the pod's user
        state.mkdir()
        os.chown(state, 10001, 10001)

        expected = asyncio.run(record(cluster))
        url, port = urlparse(cluster.url), free_port()
        subprocess.run([*podman, "rm", "--force", "--ignore", NAME], check=True)
        args = [
            *podman, "run", "--rm", "--name", NAME, "--network", "host", "--read-only", *limits,
            "-v", f"{state}:/var/lib/kubevents", "--tmpfs", "/tmp",
            "-v", f"{sa}:/var/run/secrets/kubernetes.io/serviceaccount:ro",
            "-v", f"{config}:/etc/kubevents/config.yaml:ro",
            "-e", f"KUBERNETES_SERVICE_HOST={url.hostname}",
            "-e", f"KUBERNETES_SERVICE_PORT={url.port}", "-e", "POD_NAME=smoke",
            "-e", f"KUBEVENTS_LISTEN=127.0.0.1:{port}", "-e", "KUBEVENTS_NAMESPACE=default",
            image, "export", "--config", "/etc/kubevents/config.yaml", "--no-progress",
        ]  # fmt: skip
        out, err = Path(tmp) / "stdout", Path(tmp) / "stderr"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            container = subprocess.Popen(args, stdout=stdout, stderr=stderr)
        try:

            def exported() -> set[str]:
                ids = set()
                for line in out.read_text(errors="replace").splitlines():
                    if line.startswith("{"):
                        ids.add(json.loads(line).get("id", ""))
                return ids

            wait(lambda: expected <= exported() or container.poll() is not None,
                 "the recorded Events on the container's stdout", 120)  # fmt: skip
            if container.poll() is not None:
                raise SystemExit(f"the container exited early:\n{err.read_text()[-3000:]}")
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=10) as ready:
                body = json.loads(ready.read())
            assert body["status"] == "ok" and body["role"] == "leader", body
            subprocess.run([*podman, "stop", "--time", "40", NAME], check=True,
                           capture_output=True)  # fmt: skip
            code = container.wait(60)
        finally:
            if container.poll() is None:
                container.kill()
        print(f"{len(expected)} occurrences exported by the container; it exited {code}")
        if code != 0:
            print(err.read_text()[-3000:], file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
