"""Fixtures for the recorder tests: an in-memory sink (client-go's testEventSink), a counting
wrapper around the real API sink, and admin / RBAC-limited clients with a fresh namespace."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
import pytest

from kubevents.kube import KubeClient
from kubevents.model import Event
from kubevents.record import EventSink, KubeEventSink
from kubevents.record._keys import get_event_key

CreateFunc = Callable[[Event], Awaitable[Event]]
PatchFunc = Callable[[Event, bytes], Awaitable[Event]]


@dataclass
class Call:
    verb: str  # "create" | "update" | "patch"
    event: Event  # a snapshot of what the sink was given
    patch: bytes | None = None


class FakeSink:
    """client-go's testEventSink plus a call log.

    By default create stores the event and returns it, and patch applies the (merge) patch to
    the stored event as the OnPatchFactory of client-go's tests does; ``on_create`` /
    ``on_patch`` replace that behaviour (raise to fail the call).
    """

    def __init__(
        self, on_create: CreateFunc | None = None, on_patch: PatchFunc | None = None
    ) -> None:
        self.calls: list[Call] = []
        self.stored: dict[str, Event] = {}
        self._on_create = on_create
        self._on_patch = on_patch
        self.changed = asyncio.Condition()

    def verbs(self) -> list[str]:
        return [call.verb for call in self.calls]

    async def create(self, event: Event) -> Event:
        self.calls.append(Call("create", _snapshot(event)))
        if self._on_create is not None:
            return await self._on_create(event)
        self.stored[get_event_key(event)] = _snapshot(event)
        return event

    async def update(self, event: Event) -> Event:
        self.calls.append(Call("update", _snapshot(event)))
        return event

    async def patch(self, event: Event, patch: bytes) -> Event:
        self.calls.append(Call("patch", _snapshot(event), patch))
        if self._on_patch is not None:
            return await self._on_patch(event, patch)
        cached = self.stored.get(get_event_key(event))
        if cached is None:
            raise LookupError("couldn't find Event in the test cache")
        # For these scalar fields a strategic merge patch is a plain merge.
        merged = {**cached.to_dict(), **msgspec.json.decode(patch)}
        return Event.from_dict(merged)


def _snapshot(event: Event) -> Event:
    return Event.from_json(event.to_json())


@dataclass
class CountingSink:
    """Counts the API calls that reach the real sink (and records the verbs in order)."""

    inner: EventSink
    verbs: list[str] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)

    def count(self, verb: str) -> int:
        return self.verbs.count(verb)

    async def _call(self, verb: str, call: Awaitable[Event]) -> Event:
        self.verbs.append(verb)
        try:
            return await call
        except Exception as exc:
            self.errors.append(exc)
            raise

    async def create(self, event: Event) -> Event:
        return await self._call("create", self.inner.create(event))

    async def update(self, event: Event) -> Event:
        return await self._call("update", self.inner.update(event))

    async def patch(self, event: Event, patch: bytes) -> Event:
        return await self._call("patch", self.inner.patch(event, patch))

    async def aclose(self) -> None:
        aclose: Any = getattr(self.inner, "aclose", None)
        if aclose is not None:
            await aclose()


@pytest.fixture
def fake_sink() -> FakeSink:
    return FakeSink()


@pytest.fixture
def make_sink() -> type[FakeSink]:
    """The ``FakeSink`` class, for sinks with custom ``on_create`` / ``on_patch``."""
    return FakeSink


@pytest.fixture(params=["admin", "limited"])
async def api_sink(
    request: pytest.FixtureRequest, kube: KubeClient, kube_limited: KubeClient
) -> CountingSink:
    """A counting wrapper around ``KubeEventSink``, as the admin and as the limited user."""
    client = kube if request.param == "admin" else kube_limited
    return CountingSink(KubeEventSink(client))
