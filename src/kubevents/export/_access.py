"""The RBAC the exporter needs, checked at start so a missing verb is named, not retried.

Without this a missing ``watch`` would surface only as a 403 on every re-watch, retried with
backoff forever. One SelfSubjectAccessReview per permission (every authenticated identity may
ask about itself) turns it into an exit with code 2 and the exact rule to add.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from kubevents.errors import KubeError, StatusError
from kubevents.export._config import ConfigError, ExportConfig
from kubevents.export._enrichconfig import KINDS
from kubevents.kube import KubeClient

__all__ = [
    "Permission",
    "check_access",
    "heartbeat_permissions",
    "missing_permissions",
    "required_permissions",
]

log = logging.getLogger(__name__)

COORDINATION_GROUP = "coordination.k8s.io"


@dataclass(frozen=True)
class Permission:
    verb: str
    resource: str
    group: str = ""
    namespace: str | None = None  # None: every namespace
    name: str | None = None

    def describe(self) -> str:
        resource = f"{self.resource}.{self.group}" if self.group else self.resource
        if self.name:
            resource += f" {self.name!r}"
        where = f"in namespace {self.namespace!r}" if self.namespace else "in all namespaces"
        return f"{self.verb} {resource} {where}"


def required_permissions(
    config: ExportConfig, lease_namespace: str | None = None
) -> list[Permission]:
    """Exactly what the exporter does: list and watch Events and every kind ``enrich``
    caches; get/create/update its Lease."""
    needed = [Permission(verb, "events", "", config.namespace) for verb in ("list", "watch")]
    for kind in config.enrich.kinds if config.enrich is not None else ():
        info = KINDS[kind]
        scope = config.namespace if info.namespaced else None
        needed += [Permission(v, info.resource, info.group, scope) for v in ("list", "watch")]
    if lease_namespace is not None:
        lease = config.leader_election.lease_name
        needed += [
            Permission("get", "leases", COORDINATION_GROUP, lease_namespace, lease),
            Permission("create", "leases", COORDINATION_GROUP, lease_namespace),
            Permission("update", "leases", COORDINATION_GROUP, lease_namespace, lease),
        ]
    return needed


def heartbeat_permissions(namespace: str) -> list[Permission]:
    """What the heartbeat needs (optional: without them it is off, the exporter runs): the
    recorder creates its Event, then patches its count, in the exporter's own namespace."""
    return [Permission(verb, "events", "", namespace) for verb in ("create", "patch")]


async def missing_permissions(
    client: KubeClient, permissions: list[Permission]
) -> list[Permission]:
    """Those of ``permissions`` this identity lacks, one self access review each, all in
    flight at once (each is a round trip the start would otherwise wait for in turn).

    Raises ``StatusError`` when the server refuses self-reviews, ``KubeError`` when it cannot
    be reached (the first permission's error, as when they were asked in turn).
    """
    answers = await asyncio.gather(
        *(_can_i(client, p) for p in permissions), return_exceptions=True
    )
    for answer in answers:
        if isinstance(answer, BaseException):
            raise answer
    return [p for p, allowed in zip(permissions, answers, strict=True) if not allowed]


async def check_access(
    client: KubeClient, config: ExportConfig, lease_namespace: str | None = None
) -> None:
    """Raise ``ConfigError`` naming every permission this identity lacks."""
    try:
        missing = await missing_permissions(client, required_permissions(config, lease_namespace))
    except StatusError as exc:
        # A server or policy that refuses self-reviews: the requests themselves will tell.
        log.warning("cannot check RBAC permissions (%s): not checking them", exc)
        return
    except KubeError as exc:
        raise ConfigError(f"cluster {client.cluster.host} is not reachable: {exc}") from None
    if not missing:
        return
    try:
        who = await client.whoami()
    except KubeError:
        who = "this identity"
    where = "deploy/10-rbac.yaml has the ClusterRole and Role the exporter needs"
    if any(p.resource not in ("events", "leases") for p in missing):
        where += "; deploy/enrichment/rbac.yaml those enrichment needs"
    raise ConfigError(
        f"missing RBAC permission for {who}: "
        + "; ".join(p.describe() for p in missing)
        + f" ({where})"
    )


async def _can_i(client: KubeClient, p: Permission) -> bool:
    return await client.can_i(p.verb, p.resource, group=p.group, namespace=p.namespace, name=p.name)
