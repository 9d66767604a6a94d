"""Fixtures for the events.k8s.io/v1 recorder tests: client-go's testEventSeriesSink with a call
log, an in-memory API (the fake clientset of client-go's tests), a counting wrapper around the
real sink, and admin / RBAC-limited clients with a fresh namespace."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
import pytest

from kubevents.errors import StatusError
from kubevents.events import EventSink, KubeEventSink
from kubevents.kube import KubeClient
from kubevents.model import EventsV1Event

CreateFunc = Callable[[EventsV1Event], Awaitable[EventsV1Event]]
PatchFunc = Callable[[EventsV1Event, bytes], Awaitable[EventsV1Event]]


def snapshot(event: EventsV1Event) -> EventsV1Event:
    return EventsV1Event.from_json(event.to_json())


@dataclass
class Call:
    verb: str  # "create" | "update" | "patch"
    event: EventsV1Event  # a snapshot of what the sink was given
    patch: bytes | None = None


class SeriesSink:
    """client-go's testEventSeriesSink: each call is logged, then ``on_*`` answers it (by
    default the event itself is returned, as there)."""

    def __init__(
        self,
        on_create: CreateFunc | None = None,
        on_patch: PatchFunc | None = None,
        on_update: CreateFunc | None = None,
    ) -> None:
        self.calls: list[Call] = []
        self.on_create = on_create
        self.on_patch = on_patch
        self.on_update = on_update

    def verbs(self) -> list[str]:
        return [call.verb for call in self.calls]

    def of(self, verb: str) -> list[Call]:
        return [call for call in self.calls if call.verb == verb]

    async def create(self, event: EventsV1Event) -> EventsV1Event:
        self.calls.append(Call("create", snapshot(event)))
        return await self.on_create(event) if self.on_create else event

    async def update(self, event: EventsV1Event) -> EventsV1Event:
        self.calls.append(Call("update", snapshot(event)))
        return await self.on_update(event) if self.on_update else event

    async def patch(self, event: EventsV1Event, patch: bytes) -> EventsV1Event:
        self.calls.append(Call("patch", snapshot(event), patch))
        return await self.on_patch(event, patch) if self.on_patch else event


class ApiSink:
    """An in-memory events.k8s.io/v1 API (client-go's fake clientset behind EventSinkImpl):
    create fails with 409 AlreadyExists on a taken name, patch with 404 on a missing one."""

    def __init__(self) -> None:
        self.stored: dict[tuple[str, str], EventsV1Event] = {}
        self.verbs: list[str] = []
        self._rv = 0

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    async def create(self, event: EventsV1Event) -> EventsV1Event:
        self.verbs.append("create")
        key = (event.metadata.namespace, event.metadata.name)
        if key in self.stored:
            raise StatusError(409, "AlreadyExists", f"events {key[1]!r} already exists")
        stored = snapshot(event)
        stored.metadata.resource_version = self._next_rv()
        self.stored[key] = stored
        return snapshot(stored)

    async def update(self, event: EventsV1Event) -> EventsV1Event:
        raise AssertionError("the recorder never updates")

    async def patch(self, event: EventsV1Event, patch: bytes) -> EventsV1Event:
        self.verbs.append("patch")
        key = (event.metadata.namespace, event.metadata.name)
        if key not in self.stored:
            raise StatusError(404, "NotFound", f"events {key[1]!r} not found")
        # The patch only ever holds "series", a plain struct: a merge of that key.
        merged = {**self.stored[key].to_dict(), **msgspec.json.decode(patch)}
        stored = EventsV1Event.from_dict(merged)
        stored.metadata.resource_version = self._next_rv()
        self.stored[key] = stored
        return snapshot(stored)

    def items(self) -> list[EventsV1Event]:
        return list(self.stored.values())


@dataclass
class CountingSink:
    """Counts the API calls that reach the real sink (and records the verbs in order)."""

    inner: EventSink
    verbs: list[str] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    patches: list[bytes] = field(default_factory=list)

    async def _call(self, verb: str, call: Awaitable[EventsV1Event]) -> EventsV1Event:
        self.verbs.append(verb)
        try:
            return await call
        except Exception as exc:
            self.errors.append(exc)
            raise

    async def create(self, event: EventsV1Event) -> EventsV1Event:
        return await self._call("create", self.inner.create(event))

    async def update(self, event: EventsV1Event) -> EventsV1Event:
        return await self._call("update", self.inner.update(event))

    async def patch(self, event: EventsV1Event, patch: bytes) -> EventsV1Event:
        self.patches.append(patch)
        return await self._call("patch", self.inner.patch(event, patch))

    async def aclose(self) -> None:
        aclose: Any = getattr(self.inner, "aclose", None)
        if aclose is not None:
            await aclose()


@pytest.fixture
def series_sink() -> SeriesSink:
    return SeriesSink()


@pytest.fixture
def api_sink() -> ApiSink:
    return ApiSink()


@pytest.fixture(params=["admin", "limited"])
async def identity(
    request: pytest.FixtureRequest, kube: KubeClient, kube_limited: KubeClient
) -> KubeClient:
    """The client to record with: the admin, then the RBAC-limited user."""
    client: KubeClient = kube if request.param == "admin" else kube_limited
    return client


@pytest.fixture
def counting_sink(identity: KubeClient) -> CountingSink:
    """A counting wrapper around ``KubeEventSink``, as the admin and as the limited user."""
    return CountingSink(KubeEventSink(identity))
