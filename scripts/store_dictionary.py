# One message template per line reads better than wrapped ones.
# ruff: noqa: E501
"""Train the zstd dictionary the SQLite store compresses Events with (docs/sinks/sqlite.md).

    .venv/bin/python scripts/store_dictionary.py OUT.zdict [--samples 40000] [--size 32768]

The dictionary is trained on a corpus of synthetic core/v1 Events as the API server encodes them
(Go's field order, compact JSON, ``managedFields`` already dropped as the store drops it),
covering what clusters actually report: the kubelet's container lifecycle, probes, volumes and
image pulls, the scheduler, the workload controllers (Deployment, ReplicaSet, StatefulSet,
DaemonSet, Job, CronJob, HPA), nodes, volumes and services, in both the legacy shape
(``source``, ``firstTimestamp``) and the events.k8s.io shape (``eventTime``, ``series``). The
names, uids, IPs, images and times are random, so what the dictionary learns is the structure
(keys, the fixed words of each reason's message) and not one cluster's names.

A shipped dictionary is never changed: the store keeps a copy of every dictionary it used, and
a new one gets a new name (``kubevents-events-v2``), so old rows stay readable.
"""

from __future__ import annotations

import argparse
import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

_WORDS = [
    "web",
    "api",
    "worker",
    "cart",
    "checkout",
    "indexer",
    "redis",
    "postgres",
    "kafka",
    "prometheus",
    "grafana",
    "loki",
    "nginx",
    "coredns",
    "etcd",
    "gateway",
    "auth",
    "billing",
    "search",
    "frontend",
    "backend",
    "payments",
    "orders",
    "mailer",
    "cache",
    "scheduler",
    "exporter",
    "agent",
    "operator",
    "controller",
    "ingress",
    "metrics",
    "queue",
    "sync",
    "notifier",
]
_NAMESPACES = [
    "default",
    "kube-system",
    "monitoring",
    "ingress-nginx",
    "cert-manager",
    "shop",
    "payments",
    "team-a",
    "prod",
    "staging",
    "argocd",
    "logging",
    "istio-system",
    "data-platform",
]
_REGISTRIES = ("docker.io/library", "ghcr.io/acme", "quay.io/org", "registry.k8s.io",
               "123456789012.dkr.ecr.eu-west-1.amazonaws.com", "gcr.io/project")  # fmt: skip


class _Gen:
    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)
        self.now = datetime(2025, 1, 1, tzinfo=UTC)

    def word(self) -> str:
        return self.r.choice(_WORDS)

    def hexs(self, n: int) -> str:
        return "".join(self.r.choice("0123456789abcdef") for _ in range(n))

    def alnum(self, n: int) -> str:
        return "".join(self.r.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(n))

    def uid(self) -> str:
        return str(uuid.UUID(int=self.r.getrandbits(128), version=4))

    def ip(self) -> str:
        return f"10.{self.r.randint(0, 255)}.{self.r.randint(0, 255)}.{self.r.randint(1, 254)}"

    def node(self) -> str:
        return self.r.choice((
            f"ip-{self.ip().replace('.', '-')}.eu-west-1.compute.internal",
            f"node-{self.r.randint(1, 40)}", f"gke-prod-pool-{self.hexs(8)}-{self.alnum(4)}",
            f"aks-nodepool1-{self.r.randint(10**7, 10**8)}-vmss0000{self.r.randint(0, 9)}",
        ))  # fmt: skip

    def image(self) -> str:
        tag = self.r.choice((f"v1.{self.r.randint(0, 30)}.{self.r.randint(0, 9)}", "latest",
                             f"sha-{self.hexs(7)}", f"{self.r.randint(1, 9)}.{self.r.randint(0, 9)}"))  # fmt: skip
        return f"{self.r.choice(_REGISTRIES)}/{self.word()}:{tag}"

    def time(self) -> datetime:
        self.now += timedelta(seconds=self.r.randint(0, 90))
        return self.now

    def stamp(self, t: datetime) -> str:
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")

    def ref(self, kind: str, ns: str, name: str, api: str, path: str = "") -> dict[str, Any]:
        ref = {"kind": kind, "namespace": ns, "name": name, "uid": self.uid(),
               "apiVersion": api, "resourceVersion": str(self.r.randint(1000, 99_999_999))}  # fmt: skip
        if not ns:
            del ref["namespace"]
        if path:
            ref["fieldPath"] = path
        return ref


def _pod_events(g: _Gen, ns: str) -> list[tuple[str, str, str, str, dict[str, Any]]]:
    """(component, reason, type, message, involvedObject) of one pod's life."""
    app, c = g.word(), g.word()
    pod = f"{app}-{g.hexs(g.r.choice((9, 10)))}-{g.alnum(5)}"
    if g.r.random() < 0.2:
        pod = f"{app}-{g.r.randint(0, 5)}"
    uid, node, image = g.uid(), g.node(), g.image()
    ref = g.ref("Pod", ns, pod, "v1", f"spec.containers{{{c}}}")
    bare = {k: v for k, v in ref.items() if k != "fieldPath"}
    pull = g.r.uniform(0.2, 40)
    size = g.r.randint(10**6, 2 * 10**9)
    # fmt: off
    out = [
        ( "default-scheduler", "Scheduled", "Normal", f"Successfully assigned {ns}/{pod} to {node}", bare, ),
        ("kubelet", "Pulling", "Normal", f'Pulling image "{image}"', ref),
        ( "kubelet", "Pulled", "Normal", f'Successfully pulled image "{image}" in {pull:.3f}s ' f"({pull:.3f}s including waiting). Image size: {size} bytes.", ref, ),
        ( "kubelet", "Pulled", "Normal", f'Container image "{image}" already present on machine', ref, ),
        ("kubelet", "Created", "Normal", f"Created container: {c}", ref),
        ("kubelet", "Created", "Normal", f"Created container {c}", ref),
        ("kubelet", "Started", "Normal", f"Started container {c}", ref),
        ("kubelet", "Killing", "Normal", f"Stopping container {c}", ref),
        ( "kubelet", "BackOff", "Warning", f"Back-off restarting failed container {c} in pod {pod}_{ns}({uid})", ref, ),
        ("kubelet", "BackOff", "Warning", f'Back-off pulling image "{image}"', ref),
        ( "kubelet", "Failed", "Warning", f'Failed to pull image "{image}": rpc error: code = NotFound desc = failed to pull and unpack image "{image}": failed to resolve reference "{image}": not found', ref, ),
        ("kubelet", "Failed", "Warning", "Error: ErrImagePull", ref),
        ("kubelet", "Failed", "Warning", "Error: ImagePullBackOff", ref),
        ("kubelet", "Failed", "Warning", f'Error: secret "{app}-credentials" not found', ref),
        ( "kubelet", "Unhealthy", "Warning", f'Readiness probe failed: Get "http://{g.ip()}:{g.r.choice((80, 8080, 9090, 3000))}/healthz": dial tcp {g.ip()}:8080: connect: connection refused', ref, ),
        ( "kubelet", "Unhealthy", "Warning", f'Liveness probe failed: Get "http://{g.ip()}:8080/livez": context deadline exceeded (Client.Timeout exceeded while awaiting headers)', ref, ),
        ( "kubelet", "Unhealthy", "Warning", f"Readiness probe failed: HTTP probe failed with statuscode: {g.r.choice((500, 503, 404))}", ref, ),
        ("kubelet", "Unhealthy", "Warning", "Startup probe failed: command timed out", ref),
        ( "kubelet", "FailedMount", "Warning", f'MountVolume.SetUp failed for volume "{app}-config" : configmap "{app}-config" not found', bare, ),
        ( "kubelet", "FailedMount", "Warning", f"Unable to attach or mount volumes: unmounted volumes=[data], unattached volumes=[data kube-api-access-{g.alnum(5)}]: timed out waiting for the condition", bare, ),
        ( "kubelet", "SandboxChanged", "Normal", "Pod sandbox changed, it will be killed and re-created.", bare, ),
        ( "kubelet", "FailedCreatePodSandBox", "Warning", f'Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for sandbox "{g.hexs(64)}": plugin type="calico" failed (add): error getting ClusterInformation: connection is unauthorized: Unauthorized', bare, ),
        ( "kubelet", "Evicted", "Warning", f"The node was low on resource: memory. Threshold quantity: 100Mi, available: {g.r.randint(1, 99)}Mi. Container {c} was using {g.r.randint(100, 4000)}Mi, request is 0, has larger consumption of memory.", bare, ),
        ("kubelet", "FailedPreStopHook", "Warning", "PreStopHook failed", ref),
        ("kubelet", "ProbeWarning", "Warning", "Readiness probe warning: ", ref),
        ( "default-scheduler", "FailedScheduling", "Warning", f"0/{(n := g.r.randint(3, 60))} nodes are available: {g.r.randint(1, 3)} node(s) had untolerated taint {{node-role.kubernetes.io/control-plane: }}, {n - 3} Insufficient cpu, 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/{n} nodes are available: 1 Preemption is not helpful for scheduling, {n - 1} No preemption victims found for incoming pod.", bare, ),
        ( "default-scheduler", "FailedScheduling", "Warning", "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.", bare, ),
        ( "taint-eviction-controller", "TaintManagerEviction", "Normal", f"Marking for deletion Pod {ns}/{pod}", bare, ),
        ( "default-scheduler", "Preempted", "Normal", f"Preempted by pod {g.uid()} on node {node}", bare, ),
    ]
    # fmt: on
    return [e for e in out if g.r.random() < 0.45]


def _controller_events(g: _Gen, ns: str) -> list[tuple[str, str, str, str, dict[str, Any]]]:
    app = g.word()
    rs = f"{app}-{g.hexs(10)}"
    pod = f"{rs}-{g.alnum(5)}"
    job = f"{app}-{g.r.randint(28_000_000, 29_000_000)}"
    n = g.r.randint(1, 12)
    # fmt: off
    out = [
        ( "deployment-controller", "ScalingReplicaSet", "Normal", f"Scaled up replica set {rs} to {n}", g.ref("Deployment", ns, app, "apps/v1"), ),
        ( "deployment-controller", "ScalingReplicaSet", "Normal", f"Scaled down replica set {rs} to {n} from {n + 1}", g.ref("Deployment", ns, app, "apps/v1"), ),
        ( "replicaset-controller", "SuccessfulCreate", "Normal", f"Created pod: {pod}", g.ref("ReplicaSet", ns, rs, "apps/v1"), ),
        ( "replicaset-controller", "SuccessfulDelete", "Normal", f"Deleted pod: {pod}", g.ref("ReplicaSet", ns, rs, "apps/v1"), ),
        ( "replicaset-controller", "FailedCreate", "Warning", f'Error creating: pods "{pod}" is forbidden: exceeded quota: compute-resources, requested: limits.memory=1Gi, used: limits.memory=8Gi, limited: limits.memory=8Gi', g.ref("ReplicaSet", ns, rs, "apps/v1"), ),
        ( "statefulset-controller", "SuccessfulCreate", "Normal", f"create Pod {app}-{n} in StatefulSet {app} successful", g.ref("StatefulSet", ns, app, "apps/v1"), ),
        ( "statefulset-controller", "SuccessfulCreate", "Normal", f"create Claim data-{app}-{n} Pod {app}-{n} in StatefulSet {app} success", g.ref("StatefulSet", ns, app, "apps/v1"), ),
        ( "statefulset-controller", "SuccessfulDelete", "Normal", f"delete Pod {app}-{n} in StatefulSet {app} successful", g.ref("StatefulSet", ns, app, "apps/v1"), ),
        ( "daemonset-controller", "SuccessfulCreate", "Normal", f"Created pod: {app}-{g.alnum(5)}", g.ref("DaemonSet", ns, app, "apps/v1"), ),
        ( "job-controller", "SuccessfulCreate", "Normal", f"Created pod: {job}-{g.alnum(5)}", g.ref("Job", ns, job, "batch/v1"), ),
        ( "job-controller", "Completed", "Normal", "Job completed", g.ref("Job", ns, job, "batch/v1"), ),
        ( "job-controller", "BackoffLimitExceeded", "Warning", "Job has reached the specified backoff limit", g.ref("Job", ns, job, "batch/v1"), ),
        ( "cronjob-controller", "SuccessfulCreate", "Normal", f"Created job {job}", g.ref("CronJob", ns, app, "batch/v1"), ),
        ( "cronjob-controller", "SawCompletedJob", "Normal", f"Saw completed job: {job}, condition: Complete", g.ref("CronJob", ns, app, "batch/v1"), ),
        ( "cronjob-controller", "SuccessfulDelete", "Normal", f"Deleted job {job}", g.ref("CronJob", ns, app, "batch/v1"), ),
        ( "horizontal-pod-autoscaler", "SuccessfulRescale", "Normal", f"New size: {n}; reason: cpu resource utilization (percentage of request) above target", g.ref("HorizontalPodAutoscaler", ns, app, "autoscaling/v2"), ),
        ( "horizontal-pod-autoscaler", "FailedGetResourceMetric", "Warning", "failed to get cpu utilization: unable to get metrics for resource cpu: unable to fetch metrics from resource metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)", g.ref("HorizontalPodAutoscaler", ns, app, "autoscaling/v2"), ),
        ( "persistentvolume-controller", "WaitForFirstConsumer", "Normal", "waiting for first consumer to be created before binding", g.ref("PersistentVolumeClaim", ns, f"data-{app}-0", "v1"), ),
        ( "persistentvolume-controller", "ExternalProvisioning", "Normal", 'Waiting for a volume to be created either by the external provisioner "ebs.csi.aws.com" or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.', g.ref("PersistentVolumeClaim", ns, f"data-{app}-0", "v1"), ),
        ( "ebs.csi.aws.com_ebs-csi-controller", "ProvisioningSucceeded", "Normal", f"Successfully provisioned volume pvc-{g.uid()}", g.ref("PersistentVolumeClaim", ns, f"data-{app}-0", "v1"), ),
        ( "attachdetach-controller", "SuccessfulAttachVolume", "Normal", f'AttachVolume.Attach succeeded for volume "pvc-{g.uid()}"', g.ref("Pod", ns, pod, "v1"), ),
        ( "endpoint-slice-controller", "FailedToUpdateEndpointSlices", "Warning", f'Error updating Endpoint Slices for Service {ns}/{app}: failed to update {app}-{g.alnum(5)} EndpointSlice for Service {ns}/{app}: Operation cannot be fulfilled on endpointslices.discovery.k8s.io "{app}-{g.alnum(5)}": the object has been modified; please apply your changes to the latest version and try again', g.ref("Service", ns, app, "v1"), ),
        ( "service-controller", "EnsuringLoadBalancer", "Normal", "Ensuring load balancer", g.ref("Service", ns, app, "v1"), ),
        ( "nginx-ingress-controller", "Sync", "Normal", "Scheduled for sync", g.ref("Ingress", ns, app, "networking.k8s.io/v1"), ),
        ( "cert-manager-certificates-issuing", "Issuing", "Normal", "The certificate has been successfully issued", g.ref("Certificate", ns, f"{app}-tls", "cert-manager.io/v1"), ),
        ( "argocd-application-controller", "ResourceUpdated", "Normal", "Updated sync status: OutOfSync -> Synced", g.ref("Application", ns, app, "argoproj.io/v1alpha1"), ),
    ]
    # fmt: on
    return [e for e in out if g.r.random() < 0.35]


def _node_events(g: _Gen) -> list[tuple[str, str, str, str, dict[str, Any]]]:
    node = g.node()
    ref = g.ref("Node", "", node, "v1")
    ref["uid"] = node
    del ref["resourceVersion"]
    # fmt: off
    out = [
        ("kubelet", "Starting", "Normal", "Starting kubelet.", ref),
        ( "kubelet", "NodeHasSufficientMemory", "Normal", f"Node {node} status is now: NodeHasSufficientMemory", ref, ),
        ( "kubelet", "NodeHasNoDiskPressure", "Normal", f"Node {node} status is now: NodeHasNoDiskPressure", ref, ),
        ("kubelet", "NodeReady", "Normal", f"Node {node} status is now: NodeReady", ref),
        ( "node-controller", "NodeNotReady", "Normal", f"Node {node} status is now: NodeNotReady", ref, ),
        ( "node-controller", "RegisteredNode", "Normal", f"Node {node} event: Registered Node {node} in Controller", ref, ),
        ( "kubelet", "NodeAllocatableEnforced", "Normal", "Updated Node Allocatable limit across pods", ref, ),
        ( "kernel-monitor", "OOMKilling", "Warning", f"Memory cgroup out of memory: Killed process {g.r.randint(1000, 99999)} ({g.word()}) total-vm:{g.r.randint(10**5, 10**7)}kB, anon-rss:{g.r.randint(10**5, 10**7)}kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:{g.r.randint(100, 9999)}kB oom_score_adj:{g.r.choice((-997, 999, 1000))}", ref, ),
        ( "kubelet", "ImageGCFailed", "Warning", f"wanted to free {g.r.randint(10**8, 10**10)} bytes, but freed 0 bytes space with errors in image deletion", ref, ),
        ("cloud-node-controller", "Synced", "Normal", "Node synced successfully", ref),
    ]
    # fmt: on
    return [e for e in out if g.r.random() < 0.3]


def corpus(count: int, seed: int = 1) -> list[bytes]:
    """``count`` Events as the API server encodes them, ``managedFields`` dropped."""
    g = _Gen(seed)
    out: list[bytes] = []
    while len(out) < count:
        ns = g.r.choice(_NAMESPACES)
        batch = (
            g.r.choice((_pod_events, _pod_events, _controller_events))(g, ns)
            if g.r.random() < 0.9
            else _node_events(g)
        )
        for component, reason, type_, message, ref in batch:
            out.append(
                _event(
                    g,
                    ns if ref.get("namespace") else "default",
                    component,
                    reason,
                    type_,
                    message,
                    ref,
                )
            )
    return out[:count]


def _event(g: _Gen, ns: str, component: str, reason: str, type_: str, message: str,
           ref: dict[str, Any]) -> bytes:  # fmt: skip
    first = g.time()
    count = g.r.choice((1, 1, 1, 2, 3, 7, 42))
    last = first + timedelta(seconds=g.r.randint(0, 600)) if count > 1 else first
    name = f"{ref['name']}.{g.hexs(16)}"
    meta: dict[str, Any] = {"name": name, "namespace": ns, "uid": g.uid(),
                            "resourceVersion": str(g.r.randint(1000, 99_999_999)),
                            "creationTimestamp": g.stamp(first)}  # fmt: skip
    host = g.node() if component == "kubelet" else ""
    new_style = g.r.random() < 0.25 or component == "default-scheduler"
    event: dict[str, Any] = {"kind": "Event", "apiVersion": "v1"} if g.r.random() < 0.5 else {}
    event |= {"metadata": meta, "involvedObject": ref, "reason": reason, "message": message}
    if new_style:
        micro = first.strftime("%Y-%m-%dT%H:%M:%S.") + f"{g.r.randint(0, 999_999):06d}Z"
        event |= {"source": {}, "firstTimestamp": None, "lastTimestamp": None, "type": type_,
                  "eventTime": micro}  # fmt: skip
        if count > 1:
            event["series"] = {"count": count, "lastObservedTime": micro}
        event |= {"action": g.r.choice(("Binding", "Scheduling", "Reconcile", "Update")),
                  "reportingComponent": component,
                  "reportingInstance": f"{component}-{g.node()}"}  # fmt: skip
    else:
        event |= {"source": {"component": component, **({"host": host} if host else {})},
                  "firstTimestamp": g.stamp(first), "lastTimestamp": g.stamp(last),
                  "count": count, "type": type_, "eventTime": None,
                  "reportingComponent": component if g.r.random() < 0.7 else "",
                  "reportingInstance": host}  # fmt: skip
    raw = msgspec.json.encode(event)
    for plain, escaped in ((b"<", b"\\u003c"), (b">", b"\\u003e"), (b"&", b"\\u0026")):
        raw = raw.replace(plain, escaped)  # as Go's encoding/json writes them
    return raw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--samples", type=int, default=40_000)
    parser.add_argument("--size", type=int, default=32_768)
    args = parser.parse_args()
    try:
        from compression import zstd  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        from backports import zstd  # type: ignore[no-redef,unused-ignore]
    dictionary = zstd.train_dict(corpus(args.samples), args.size)
    args.out.write_bytes(dictionary.dict_content)
    print(f"{args.out}: {len(dictionary.dict_content)} bytes, dict id {dictionary.dict_id}")


if __name__ == "__main__":
    main()
