"""``heartbeat``: the exporter's own Event, recorded and then watched for in every sink.

The configuration block, its checks (exit 2 naming the field) and the object the heartbeat is
about: the exporter's Pod (``$POD_NAME`` / ``$POD_NAMESPACE`` / ``$POD_UID`` from the downward
API) or its leader-election Lease. docs/exporter.md, "Heartbeat", says why each bound is what
it is.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from kubevents.export._configbase import ConfigError, Seconds, StrictConfig
from kubevents.kube import in_cluster_namespace
from kubevents.model import ObjectReference

__all__ = [
    "HEARTBEAT_COMPONENT",
    "MIN_INTERVAL",
    "HeartbeatConfig",
    "HeartbeatTarget",
    "heartbeat_target",
    "validate_heartbeat",
]

#: ``source.component`` (and ``reportingComponent``) of the heartbeat Event: with the reason,
#: what tells it from every other Event about the same object.
HEARTBEAT_COMPONENT = "kubevents-export"
#: Each beat is one PATCH to the API server and one occurrence in every sink: faster than this
#: is a load test, not a heartbeat.
MIN_INTERVAL = 0.1
MAX_INTERVAL = 3600.0

_REASON = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,127}$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


class HeartbeatConfig(StrictConfig):
    """``heartbeat``: off unless ``enabled``."""

    enabled: bool = False
    interval: Seconds = Seconds.parse("30s")
    # None: the leader-election Lease when leader election is on, else the Pod.
    object: Literal["pod", "lease"] | None = None
    # None: pod: $POD_NAMESPACE, else the service account's namespace; lease: the Lease's.
    namespace: str | None = None
    # None: pod: $POD_NAME; lease: leader_election.lease_name.
    name: str | None = None
    reason: str = "KubeventsHeartbeat"
    # A sink whose newest stored heartbeat is older than this is late (health, with required).
    max_age: Seconds = Seconds.parse("2m")
    required: bool = False


@dataclass(frozen=True)
class HeartbeatTarget:
    """The object the heartbeat Event is about (the Event lives in its namespace)."""

    kind: str
    api_version: str
    namespace: str
    name: str
    uid: str = ""

    def reference(self) -> ObjectReference:
        return ObjectReference(
            kind=self.kind,
            api_version=self.api_version,
            namespace=self.namespace,
            name=self.name,
            uid=self.uid,
        )

    def describe(self) -> str:
        return f"{self.kind.lower()} {self.namespace}/{self.name}"


def _object(heartbeat: HeartbeatConfig, leader_election: bool) -> Literal["pod", "lease"]:
    if heartbeat.object is not None:
        return heartbeat.object
    return "lease" if leader_election else "pod"


def validate_heartbeat(heartbeat: HeartbeatConfig, leader_election: bool) -> None:
    """What can be known wrong before anything starts; ``ConfigError`` naming the field."""
    if not MIN_INTERVAL <= heartbeat.interval <= MAX_INTERVAL:
        raise ConfigError(
            f"heartbeat.interval: must be at least 100ms and at most 1h, got "
            f"{heartbeat.interval:g}s"
        )
    if heartbeat.max_age < 2 * heartbeat.interval:
        raise ConfigError(
            f"heartbeat.max_age: must be at least twice heartbeat.interval "
            f"({2 * heartbeat.interval:g}s), or every beat would be late before the next one; "
            f"got {heartbeat.max_age:g}s"
        )
    if not _REASON.match(heartbeat.reason):
        raise ConfigError(
            "heartbeat.reason: 1-128 letters and digits, starting with a letter "
            f"(UpperCamelCase, as Event reasons are), got {heartbeat.reason!r:.80}"
        )
    if heartbeat.name is not None and not _DNS_SUBDOMAIN.match(heartbeat.name):
        raise ConfigError(f"heartbeat.name: {heartbeat.name!r:.80} is not a valid object name")
    if heartbeat.namespace is not None and not _DNS_LABEL.match(heartbeat.namespace):
        raise ConfigError(f"heartbeat.namespace: {heartbeat.namespace!r:.80} is not a namespace")
    if heartbeat.object == "lease" and not leader_election:
        raise ConfigError(
            "heartbeat.object: lease needs leader_election.enabled (there is no Lease "
            "otherwise); use pod"
        )


def heartbeat_target(
    heartbeat: HeartbeatConfig,
    *,
    lease_name: str | None,
    lease_namespace: str | None,
    environ: Mapping[str, str] | None = None,
) -> HeartbeatTarget:
    """The object to report about, from the configuration, else the environment.

    ``lease_name`` / ``lease_namespace``: the leader-election Lease (None without leader
    election). ``ConfigError`` naming the field when something needed is unknown.
    """
    env = os.environ if environ is None else environ
    if _object(heartbeat, lease_name is not None) == "lease":
        name = heartbeat.name or lease_name
        namespace = heartbeat.namespace or lease_namespace
        if not name or not namespace:
            raise ConfigError("heartbeat.object: lease needs leader_election.enabled")
        return HeartbeatTarget("Lease", "coordination.k8s.io/v1", namespace, name)
    name = heartbeat.name or env.get("POD_NAME", "")
    if not name:
        raise ConfigError(
            "heartbeat.name: not set, and $POD_NAME is empty (give the pod's name to the "
            "container with the downward API, as deploy/30-deployment.yaml does)"
        )
    namespace = heartbeat.namespace or env.get("POD_NAMESPACE", "") or in_cluster_namespace()
    if not namespace:
        raise ConfigError(
            "heartbeat.namespace: not set, $POD_NAMESPACE is empty and there is no "
            "service-account namespace file (not running in a pod)"
        )
    for field, value in (("name", name), ("namespace", namespace)):
        pattern = _DNS_SUBDOMAIN if field == "name" else _DNS_LABEL
        if not pattern.match(value):
            raise ConfigError(f"heartbeat.{field}: {value!r:.80} (from the environment) is invalid")
    uid = env.get("POD_UID", "") if not heartbeat.name else ""
    return HeartbeatTarget("Pod", "v1", namespace, name, uid)
