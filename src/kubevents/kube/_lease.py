"""coordination.k8s.io/v1 ``Lease``: the object leader election is built on.

Updates are optimistic: ``update`` sends the resourceVersion of the Lease it was given, so a
write based on a stale read fails with ``409 Conflict`` instead of overwriting another
candidate's claim.
"""

from __future__ import annotations

from typing import Any

import msgspec

from kubevents.errors import RequestConstructionError, UnexpectedObjectError
from kubevents.kube._transport import Transport
from kubevents.model import MicroTime, ObjectMeta, decoder, go_json

__all__ = ["LEASE_API_VERSION", "Lease", "LeaseSpec", "LeasesAPI"]

LEASE_API_VERSION = "coordination.k8s.io/v1"
_PREFIX = "/apis/coordination.k8s.io/v1"


class LeaseSpec(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel"):
    """``LeaseSpec``: every field optional on the wire, as in the Go type."""

    holder_identity: str | None = None
    lease_duration_seconds: int | None = None
    acquire_time: MicroTime | None = None
    renew_time: MicroTime | None = None
    lease_transitions: int | None = None
    strategy: str | None = None
    preferred_holder: str | None = None


class Lease(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel"):
    """A coordination.k8s.io/v1 Lease, the lock of leader election."""

    api_version: str = LEASE_API_VERSION
    kind: str = "Lease"
    metadata: ObjectMeta = msgspec.field(default_factory=ObjectMeta)
    spec: LeaseSpec = msgspec.field(default_factory=LeaseSpec)

    def body(self) -> dict[str, Any]:
        """The JSON object sent to the API server (apiVersion and kind always present)."""
        data: dict[str, Any] = msgspec.json.decode(go_json(self))
        data["apiVersion"], data["kind"] = self.api_version, self.kind
        return data


_lease_decoder = decoder(Lease)


class LeasesAPI:
    """get / create / update / delete for namespaced Leases."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    @staticmethod
    def _path(namespace: str, name: str | None = None) -> str:
        if not namespace:
            raise RequestConstructionError("a namespace is required to address a Lease")
        base = f"{_PREFIX}/namespaces/{namespace}/leases"
        if name is None:
            return base
        if not name:
            raise RequestConstructionError("a Lease name is required")
        return f"{base}/{name}"

    @staticmethod
    def _decode(data: bytes) -> Lease:
        try:
            lease = _lease_decoder.decode(data)
        except (msgspec.MsgspecError, ValueError, TypeError) as exc:
            raise UnexpectedObjectError(f"server returned an undecodable Lease: {exc}") from exc
        if lease.kind not in ("", "Lease"):
            raise UnexpectedObjectError(f"expected Lease, server returned {lease.kind}")
        return lease

    async def get(self, namespace: str, name: str) -> Lease:
        return self._decode(await self._transport.request("GET", self._path(namespace, name)))

    async def create(self, lease: Lease) -> Lease:
        path = self._path(lease.metadata.namespace)
        return self._decode(await self._transport.request("POST", path, body=lease.body()))

    async def update(self, lease: Lease) -> Lease:
        """PUT the Lease; its ``metadata.resourceVersion`` makes the write conditional (409)."""
        meta = lease.metadata
        path = self._path(meta.namespace, meta.name)
        return self._decode(await self._transport.request("PUT", path, body=lease.body()))

    async def delete(self, namespace: str, name: str) -> None:
        await self._transport.request("DELETE", self._path(namespace, name))
