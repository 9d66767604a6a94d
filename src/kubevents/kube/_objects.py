"""``ObjectsAPI``: find any object by kubectl's type names (``pod``, ``deploy``,
``widgets.example.com``) through discovery, and read its identity.

Only what ``kubevents emit`` needs: the API resource a name stands for, and one object's
apiVersion/kind/metadata, read as a plain mapping.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import msgspec

from kubevents.errors import StatusError, UnexpectedObjectError
from kubevents.kube._transport import Transport
from kubevents.model import DECODE_ERRORS

__all__ = ["APIResource", "ObjectsAPI", "UnknownResourceError"]


class UnknownResourceError(LookupError):
    """No API resource of the server answers to the name."""


@dataclass(frozen=True)
class APIResource:
    """One resource of the server's discovery: ``pods`` of ``v1``, kind ``Pod``."""

    group_version: str
    kind: str
    name: str
    namespaced: bool

    @property
    def group(self) -> str:
        return self.group_version.rpartition("/")[0]

    def path(self, namespace: str | None, name: str) -> str:
        prefix = "/api/v1" if self.group_version == "v1" else f"/apis/{self.group_version}"
        scope = f"/namespaces/{quote(namespace, safe='')}" if self.namespaced and namespace else ""
        return f"{prefix}{scope}/{self.name}/{quote(name, safe='')}"


class _Resource(msgspec.Struct):
    name: str
    kind: str
    namespaced: bool = False
    singularName: str = ""  # noqa: N815 - wire name
    shortNames: list[str] = msgspec.field(default_factory=list)  # noqa: N815


class _ResourceList(msgspec.Struct):
    resources: list[_Resource] = msgspec.field(default_factory=list)


class _Version(msgspec.Struct):
    groupVersion: str  # noqa: N815 - wire name


class _Group(msgspec.Struct):
    name: str
    preferredVersion: _Version | None = None  # noqa: N815 - wire name


class _GroupList(msgspec.Struct):
    groups: list[_Group] = msgspec.field(default_factory=list)


class _Meta(msgspec.Struct):
    name: str = ""
    namespace: str = ""
    uid: str = ""
    resourceVersion: str = ""  # noqa: N815 - wire name


class _Object(msgspec.Struct):
    apiVersion: str = ""  # noqa: N815 - wire name
    kind: str = ""
    metadata: _Meta = msgspec.field(default_factory=_Meta)


def _decode(data: bytes, model: type[Any], what: str) -> Any:
    try:
        return msgspec.json.decode(data, type=model)
    except DECODE_ERRORS as exc:
        raise UnexpectedObjectError(f"undecodable {what}: {exc}") from exc


def _matches(resource: _Resource, name: str) -> bool:
    if "/" in resource.name:  # a subresource (pods/log)
        return False
    names = {resource.name, resource.singularName, resource.kind.lower(), *resource.shortNames}
    return name in names


class ObjectsAPI:
    """Discovery and reads of arbitrary objects (``client.objects``)."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    async def _resources(self, group_version: str) -> list[_Resource]:
        path = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
        try:
            data = await self._transport.request("GET", path)
        except StatusError as exc:
            if exc.code in (404, 503):  # a group gone, or an aggregated API that is down
                return []
            raise
        listed: _ResourceList = _decode(data, _ResourceList, f"resource list of {path}")
        return listed.resources

    async def resolve(self, type_name: str) -> APIResource:
        """The resource ``type_name`` names, as kubectl resolves it: a plural, singular, kind
        or short name, case-insensitive, optionally qualified by its group
        (``deployments.apps``). The core group wins over the others, then the server's order.
        Raises ``UnknownResourceError``."""
        wanted = type_name.lower()
        name, _, group = wanted.partition(".")
        candidates: list[str] = [] if group else ["v1"]
        groups: _GroupList = _decode(
            await self._transport.request("GET", "/apis"), _GroupList, "API group list"
        )
        for api_group in groups.groups:
            if api_group.preferredVersion is not None and (not group or api_group.name == group):
                candidates.append(api_group.preferredVersion.groupVersion)
        for group_version in candidates:
            for resource in await self._resources(group_version):
                if _matches(resource, name):
                    return APIResource(
                        group_version, resource.kind, resource.name, resource.namespaced
                    )
        raise UnknownResourceError(f"the server has no resource type {type_name!r}")

    async def identity(self, resource: APIResource, namespace: str | None, name: str) -> Any:
        """The object's apiVersion, kind and metadata (name, namespace, uid, resourceVersion),
        as a manifest dict; ``StatusError`` 404 when it does not exist."""
        data = await self._transport.request("GET", resource.path(namespace, name))
        found: _Object = _decode(data, _Object, f"{resource.kind} {name}")
        return msgspec.to_builtins(found)
