"""Metadata-only reads of any resource: ``PartialObjectMetadata`` lists and watches.

The API server answers a LIST or WATCH with only each object's ``metadata`` when the client
asks for it by content negotiation (``Accept: application/json;as=PartialObjectMetadataList;
g=meta.k8s.io;v=v1``), as client-go's metadata informers do: a Pod's spec and status never
cross the wire, so a cache of 50 000 Pods holds metadata, not specs. A server that cannot
convert falls back to the full objects (``application/json`` is the last choice offered),
which decode the same way.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import aiohttp
import msgspec

from kubevents.kube._events import EventList, decode_list, paged
from kubevents.kube._transport import CONTENT_TYPE_JSON, Transport
from kubevents.kube._watch import WatchStream

__all__ = [
    "ACCEPT_METADATA",
    "ACCEPT_METADATA_LIST",
    "MetadataReader",
    "ObjectMetadata",
    "OwnerReference",
    "PartialObjectMetadata",
]

ACCEPT_METADATA_LIST = (
    f"application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,{CONTENT_TYPE_JSON}"
)
ACCEPT_METADATA = (
    f"application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,{CONTENT_TYPE_JSON}"
)
_WATCH_READ_GRACE = 30.0


class OwnerReference(msgspec.Struct, rename="camel", gc=False):
    api_version: str = ""
    kind: str = ""
    name: str = ""
    uid: str = ""
    controller: bool | None = None


class ObjectMetadata(msgspec.Struct, rename="camel", gc=False):
    """The part of ``ObjectMeta`` a metadata cache reads; the rest is skipped unread."""

    name: str = ""
    namespace: str = ""
    uid: str = ""
    resource_version: str = ""
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    owner_references: list[OwnerReference] | None = None

    def controller(self) -> OwnerReference | None:
        """The owner reference marked ``controller: true`` (there is at most one)."""
        for owner in self.owner_references or ():
            if owner.controller:
                return owner
        return None


class PartialObjectMetadata(msgspec.Struct, gc=False):
    kind: str = ""
    metadata: ObjectMetadata = msgspec.field(default_factory=ObjectMetadata)


_decoder = msgspec.json.Decoder(PartialObjectMetadata)


class MetadataReader:
    """Paged LIST and WATCH of one resource (``apps/v1`` ``replicasets``), metadata only."""

    def __init__(self, transport: Transport, group_version: str, resource: str) -> None:
        self._transport = transport
        self.group_version = group_version
        self.resource = resource
        self._prefix = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"

    def _path(self, namespace: str | None) -> str:
        if namespace:
            return f"{self._prefix}/namespaces/{namespace}/{self.resource}"
        return f"{self._prefix}/{self.resource}"

    async def list(
        self,
        namespace: str | None = None,
        *,
        limit: int | None = 500,
        continue_token: str | None = None,
    ) -> EventList[PartialObjectMetadata]:
        """One page; a malformed item is logged, counted in ``malformed`` and skipped."""
        query: list[tuple[str, str]] = []
        if limit:
            query.append(("limit", str(limit)))
        if continue_token:
            query.append(("continue", continue_token))
        data = await self._transport.request(
            "GET", self._path(namespace), query=query, accept=ACCEPT_METADATA_LIST
        )
        return decode_list(data, _decoder, self.resource)

    async def list_pages(
        self, namespace: str | None = None, *, limit: int = 500
    ) -> AsyncIterator[EventList[PartialObjectMetadata]]:
        """Every page of one consistent list (``limit`` + ``continue``)."""
        async for page in paged(
            lambda token: self.list(namespace, limit=limit, continue_token=token)
        ):
            yield page

    async def watch(
        self,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        timeout_seconds: int | None = None,
    ) -> WatchStream[PartialObjectMetadata]:
        """A watch with bookmarks from ``resource_version``; 410 Gone raises ``GoneError``."""
        if timeout_seconds is None:
            timeout_seconds = int(300 * (1 + random.random()))
        query = [("watch", "1"), ("allowWatchBookmarks", "true")]
        if resource_version is not None:
            query.append(("resourceVersion", resource_version))
        query.append(("timeoutSeconds", str(timeout_seconds)))
        timeout = aiohttp.ClientTimeout(
            total=None, connect=30.0, sock_read=timeout_seconds + _WATCH_READ_GRACE
        )
        response = await self._transport.open(
            "GET", self._path(namespace), query=query, request_timeout=timeout,
            accept=ACCEPT_METADATA,
        )  # fmt: skip
        return WatchStream(response, _decoder, resource_version or "")
