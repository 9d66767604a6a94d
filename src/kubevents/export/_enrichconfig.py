"""The ``enrich`` block of the configuration, and the kinds enrichment can cache.

Validated at start (``validate_enrich``, called by ``_validate``): every error names the field
and the reason, and the CLI exits 2.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import msgspec

from kubevents.export._configbase import ConfigError, Seconds, StrictConfig

__all__ = ["KINDS", "MAX_KEYS", "EnrichConfig", "KindInfo", "validate_enrich"]

MAX_KEYS = 64


@dataclass(frozen=True, slots=True)
class KindInfo:
    kind: str
    group_version: str
    resource: str
    namespaced: bool

    @property
    def group(self) -> str:
        return self.group_version.rpartition("/")[0]


# The kinds Events are mostly about, and the controllers that own them.
KINDS = {
    k.kind: k
    for k in (
        KindInfo("Pod", "v1", "pods", True),
        KindInfo("ReplicaSet", "apps/v1", "replicasets", True),
        KindInfo("Deployment", "apps/v1", "deployments", True),
        KindInfo("StatefulSet", "apps/v1", "statefulsets", True),
        KindInfo("DaemonSet", "apps/v1", "daemonsets", True),
        KindInfo("Job", "batch/v1", "jobs", True),
        KindInfo("CronJob", "batch/v1", "cronjobs", True),
        KindInfo("ReplicationController", "v1", "replicationcontrollers", True),
        KindInfo("Service", "v1", "services", True),
        KindInfo("PersistentVolumeClaim", "v1", "persistentvolumeclaims", True),
        KindInfo("HorizontalPodAutoscaler", "autoscaling/v2", "horizontalpodautoscalers", True),
        KindInfo("Node", "v1", "nodes", False),
        KindInfo("Namespace", "v1", "namespaces", False),
        KindInfo("PersistentVolume", "v1", "persistentvolumes", False),
    )
}

_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)


class EnrichConfig(StrictConfig):
    """``enrich``: off unless given (docs/enrichment.md)."""

    kinds: list[str]
    labels: list[str] = msgspec.field(default_factory=list)
    annotations: list[str] = msgspec.field(default_factory=list)
    # How long the export waits for every cache's first LIST before it starts anyway.
    sync_timeout: Seconds = Seconds.parse("2m")
    page_size: int = 500


def validate_enrich(config: EnrichConfig) -> None:
    """Raise ``ConfigError`` naming the field of the first problem."""
    if not config.kinds:
        raise ConfigError(
            "enrich.kinds: list at least one kind (e.g. [Pod, ReplicaSet, Deployment])"
        )
    seen: set[str] = set()
    for i, kind in enumerate(config.kinds):
        if kind not in KINDS:
            raise ConfigError(
                f"enrich.kinds[{i}]: {kind!r} is not a kind enrichment caches "
                f"(one of {', '.join(KINDS)}; kinds are case-sensitive)"
            )
        if kind in seen:
            raise ConfigError(f"enrich.kinds[{i}]: {kind} is listed twice")
        seen.add(kind)
    for field in ("labels", "annotations"):
        keys: list[str] = getattr(config, field)
        if len(keys) > MAX_KEYS:
            raise ConfigError(f"enrich.{field}: at most {MAX_KEYS} keys, got {len(keys)}")
        for i, key in enumerate(keys):
            if not isinstance(key, str) or not _KEY.match(key):
                raise ConfigError(
                    f"enrich.{field}[{i}]: {key!r} is not a label or annotation key "
                    "([prefix/]name, e.g. app.kubernetes.io/name)"
                )
        if len(set(keys)) != len(keys):
            raise ConfigError(f"enrich.{field}: a key is listed twice")
    if config.sync_timeout <= 0:
        raise ConfigError("enrich.sync_timeout: must be more than 0")
    if not 1 <= config.page_size <= 10_000:
        raise ConfigError(f"enrich.page_size: must be 1-10000, got {config.page_size}")
