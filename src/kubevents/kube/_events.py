"""The typed Event APIs (core/v1 and events.k8s.io/v1): requests, paged lists, watches.

``EventReader`` reads (get, paged list, watch) and decodes as any msgspec struct; ``EventsAPI``
adds the writes for the model's Event types.
"""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

import aiohttp
import msgspec

from kubevents.errors import RequestConstructionError, UnexpectedObjectError
from kubevents.kube._jsonsplit import array_elements, object_members
from kubevents.kube._transport import CONTENT_TYPE_STRATEGIC_MERGE_PATCH, Transport
from kubevents.kube._watch import WatchStream, excerpt
from kubevents.model import DECODE_ERRORS, Wire, decoder

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "EventList",
    "EventReader",
    "EventsAPI",
    "decode_list",
    "paged",
]

log = logging.getLogger(__name__)

_E = TypeVar("_E", bound=Wire)
_R = TypeVar("_R", bound=msgspec.Struct)
_V = TypeVar("_V", bound=msgspec.Struct)
_P = TypeVar("_P", bound=msgspec.Struct)

DEFAULT_PAGE_SIZE = 500
# How long past the server-side watch timeout the client waits for bytes before giving up.
_WATCH_READ_GRACE = 30.0


class _ListMeta(msgspec.Struct):
    resourceVersion: str = ""  # noqa: N815 - wire names
    # "continue" is a Python keyword, hence the rename.
    continue_: str = msgspec.field(default="", name="continue")
    remainingItemCount: int | None = None  # noqa: N815


class _List(msgspec.Struct):
    metadata: _ListMeta = msgspec.field(default_factory=_ListMeta)
    items: list[msgspec.Raw] | None = None


_list_decoder = msgspec.json.Decoder(_List)
_list_meta_decoder = msgspec.json.Decoder(_ListMeta)


@dataclass
class EventList(Generic[_R]):
    """One page of a list: the items, the list's resourceVersion and the continue token."""

    items: list[_R]
    resource_version: str
    continue_token: str
    remaining_item_count: int | None = None
    raw_items: list[bytes] = field(default_factory=list)
    malformed: int = 0


class EventReader(Generic[_R]):
    """get / list / watch for one Event API, decoded as ``model``."""

    def __init__(self, transport: Transport, prefix: str, model: type[_R], kind: str) -> None:
        self._transport = transport
        self._prefix = prefix  # "/api/v1" or "/apis/events.k8s.io/v1"
        self._model = model
        self._kind = kind
        self._decoder = decoder(model)
        self._readers: dict[type[msgspec.Struct], EventReader[Any]] = {}

    def decoding(self, model: type[_V]) -> EventReader[_V]:
        """This API with what it reads (get, list, watch) decoded as ``model``.

        For readers that need only some fields of each Event: a struct with fewer fields
        decodes faster and holds less, and each item's exact bytes stay available as ``raw``.
        The same ``model`` always gives the same reader.
        """
        reader = self._readers.get(model)
        if reader is None:
            reader = self._readers[model] = EventReader(
                self._transport, self._prefix, model, self._kind
            )
        return cast(EventReader[_V], reader)

    @property
    def api_version(self) -> str:
        return self._prefix.removeprefix("/api/").removeprefix("/apis/")

    def _path(self, namespace: str | None, name: str | None = None) -> str:
        if namespace is None or namespace == "":
            if name is not None:
                raise RequestConstructionError("a namespace is required to address an Event")
            return f"{self._prefix}/events"
        base = f"{self._prefix}/namespaces/{namespace}/events"
        if name is None:
            return base
        if not name:
            raise RequestConstructionError("an Event name is required")
        return f"{base}/{name}"

    def _decode(self, data: bytes) -> _R:
        try:
            obj = self._decoder.decode(data)
        except DECODE_ERRORS as exc:
            raise UnexpectedObjectError(
                f"server returned an undecodable {self._kind}: {excerpt(exc)}"
            ) from exc
        if getattr(obj, "kind", "") not in ("", self._kind):
            raise UnexpectedObjectError(
                f"expected {self._kind}, server returned {getattr(obj, 'kind', '')}"
            )
        return obj

    async def get(self, namespace: str, name: str) -> _R:
        return self._decode(await self._transport.request("GET", self._path(namespace, name)))

    async def list(
        self,
        namespace: str | None = None,
        *,
        field_selector: str | None = None,
        label_selector: str | None = None,
        limit: int | None = DEFAULT_PAGE_SIZE,
        continue_token: str | None = None,
        resource_version: str | None = None,
        resource_version_match: str | None = None,
    ) -> EventList[_R]:
        """One page of Events (all namespaces when ``namespace`` is None)."""
        query = _selectors(field_selector, label_selector)
        if limit:
            query.append(("limit", str(limit)))
        if continue_token:
            query.append(("continue", continue_token))
        if resource_version is not None:
            query.append(("resourceVersion", resource_version))
        if resource_version_match:
            query.append(("resourceVersionMatch", resource_version_match))
        data = await self._transport.request("GET", self._path(namespace), query=query)
        return decode_list(data, self._decoder, self._kind)

    async def list_pages(
        self,
        namespace: str | None = None,
        *,
        field_selector: str | None = None,
        label_selector: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
    ) -> AsyncIterator[EventList[_R]]:
        """Every page of a consistent paginated list (``limit`` + ``continue``)."""

        def fetch(token: str | None) -> Awaitable[EventList[_R]]:
            return self.list(
                namespace, field_selector=field_selector, label_selector=label_selector,
                limit=limit, continue_token=token,
            )  # fmt: skip

        async for page in paged(fetch):
            yield page

    async def watch(
        self,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        allow_bookmarks: bool = True,
        timeout_seconds: int | None = None,
        field_selector: str | None = None,
        label_selector: str | None = None,
        send_initial_events: bool = False,
    ) -> WatchStream[_R]:
        """Open a watch; iterate the returned stream. 410 Gone raises ``GoneError``.

        ``timeout_seconds`` is the server-side bound; when None a random 5-10 minute bound
        is used, as client-go's reflector does, so many watchers do not expire together.
        """
        if timeout_seconds is None:
            timeout_seconds = int(300 * (1 + random.random()))
        query = [("watch", "1")]
        query += _selectors(field_selector, label_selector)
        if resource_version is not None:
            query.append(("resourceVersion", resource_version))
        if allow_bookmarks:
            query.append(("allowWatchBookmarks", "true"))
        if send_initial_events:
            query += [("sendInitialEvents", "true"), ("resourceVersionMatch", "NotOlderThan")]
        query.append(("timeoutSeconds", str(timeout_seconds)))
        timeout = aiohttp.ClientTimeout(
            total=None, connect=30.0, sock_read=timeout_seconds + _WATCH_READ_GRACE
        )
        response = await self._transport.open(
            "GET", self._path(namespace), query=query, request_timeout=timeout
        )
        return WatchStream(response, self._decoder, resource_version or "")


class EventsAPI(EventReader[_E]):
    """create / get / update / patch / delete / list / watch for one Event API."""

    @staticmethod
    def _body(event: Wire) -> dict[str, Any]:
        return event.to_dict()

    async def create(self, event: _E, *, namespace: str | None = None) -> _E:
        ns = namespace if namespace is not None else _namespace_of(event)
        if not ns:
            raise RequestConstructionError("cannot create an Event without a namespace")
        data = await self._transport.request("POST", self._path(ns), body=self._body(event))
        return self._decode(data)

    async def update(self, event: _E) -> _E:
        ns, name = _namespace_of(event), _name_of(event)
        data = await self._transport.request("PUT", self._path(ns, name), body=self._body(event))
        return self._decode(data)

    async def patch(
        self,
        namespace: str,
        name: str,
        patch: bytes | dict[str, Any] | list[Any],
        *,
        content_type: str = CONTENT_TYPE_STRATEGIC_MERGE_PATCH,
    ) -> _E:
        """Patch an Event; strategic-merge by default (what client-go's event sinks send)."""
        body: Any = patch
        if isinstance(patch, bytes | bytearray):
            try:
                body = msgspec.json.decode(patch)
            except msgspec.MsgspecError as exc:
                raise RequestConstructionError(f"patch is not JSON: {exc}") from exc
        data = await self._transport.request(
            "PATCH", self._path(namespace, name), body=body, content_type=content_type
        )
        return self._decode(data)

    async def delete(self, namespace: str, name: str) -> None:
        await self._transport.request("DELETE", self._path(namespace, name))


async def paged(
    fetch: Callable[[str | None], Awaitable[EventList[_P]]],
) -> AsyncIterator[EventList[_P]]:
    """The pages ``fetch(continue_token)`` returns, from the first until one has no token."""
    token: str | None = None
    while True:
        page = await fetch(token)
        yield page
        if not page.continue_token:
            return
        token = page.continue_token


def _namespace_of(event: Wire) -> str:
    return str(getattr(getattr(event, "metadata", None), "namespace", "") or "")


def _name_of(event: Wire) -> str:
    return str(getattr(getattr(event, "metadata", None), "name", "") or "")


def decode_list(data: bytes, item_decoder: msgspec.json.Decoder[_R], kind: str) -> EventList[_R]:
    """One LIST page from the server's bytes.

    An item that does not decode is logged, counted in ``malformed`` and skipped; a page that
    does not decode at all raises ``UnexpectedObjectError``.
    """
    try:
        page = _list_decoder.decode(data)
    except RecursionError as exc:
        # Nesting too deep somewhere: split the page without recursion, so that only the
        # items nested too deep are lost, not the page (and every relist after it).
        split = _split_list(data)
        if split is None:
            raise UnexpectedObjectError(f"server returned an undecodable list: {exc}") from exc
        page = split
    except DECODE_ERRORS as exc:
        raise UnexpectedObjectError(f"server returned an undecodable list: {excerpt(exc)}") from exc
    result: EventList[_R] = EventList(
        [], page.metadata.resourceVersion, page.metadata.continue_,
        page.metadata.remainingItemCount,
    )  # fmt: skip
    for raw in page.items or ():
        item = bytes(raw)
        try:
            result.items.append(item_decoder.decode(item))
        except DECODE_ERRORS as exc:
            result.malformed += 1
            log.warning("skipping malformed %s in list: %s: %.200r", kind, excerpt(exc), item)
            continue
        result.raw_items.append(item)
    return result


def _split_list(data: bytes) -> _List | None:
    members = object_members(data)
    if members is None:
        return None
    items_value = members.get(b"items", b"null")
    items = [] if items_value == b"null" else array_elements(items_value)
    if items is None:
        return None
    try:
        metadata = _list_meta_decoder.decode(members.get(b"metadata", b"{}"))
    except DECODE_ERRORS:
        return None
    return _List(metadata, [msgspec.Raw(item) for item in items])


def _selectors(field_selector: str | None, label_selector: str | None) -> list[tuple[str, str]]:
    query: list[tuple[str, str]] = []
    if field_selector:
        query.append(("fieldSelector", field_selector))
    if label_selector:
        query.append(("labelSelector", label_selector))
    return query
