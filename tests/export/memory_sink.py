"""An in-memory sink for pipeline tests: records writes, can fail or block on demand."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from kubevents.export import EventFields, Occurrence
from kubevents.export.sinks import Rejected, SinkError, WriteResult


class MemorySink:
    def __init__(self, name: str = "memory") -> None:
        self._name = name
        self.stored: dict[str, Occurrence] = {}
        self.writes: list[list[str]] = []
        self.duplicates = 0
        self.fail_next = 0
        self.reject_ids: set[str] = set()
        self.gate: asyncio.Event | None = None  # when set to a cleared Event, writes wait on it
        self.in_flight = 0
        self.max_in_flight = 0
        self.started = False
        self.closed = False

    @property
    def name(self) -> str:
        return self._name

    async def start(self) -> None:
        self.started = True

    async def close(self) -> None:
        self.closed = True

    async def write(self, batch: Sequence[Occurrence]) -> WriteResult:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.gate is not None:
                await self.gate.wait()
            if self.fail_next > 0:
                self.fail_next -= 1
                raise SinkError("injected failure", reason="injected")
            self.writes.append([o.id for o in batch])
            rejected = [Rejected(o, "injected") for o in batch if o.id in self.reject_ids]
            for occurrence in batch:
                if occurrence.id in self.stored:
                    self.duplicates += 1
                self.stored[occurrence.id] = occurrence
            return WriteResult(rejected)
        finally:
            self.in_flight -= 1


def occurrence(uid: str, count: int = 1, *, namespace: str = "ns", reason: str = "R") -> Occurrence:
    """A minimal realistic occurrence for pipeline tests."""
    from datetime import UTC, datetime

    from kubevents.model import Event, ObjectMeta, ObjectReference, Time

    now = Time.of(datetime(2024, 1, 1, tzinfo=UTC))
    event = Event(
        metadata=ObjectMeta(name=f"{uid}.1", namespace=namespace, uid=uid, resource_version="1"),
        involved_object=ObjectReference(kind="Pod", namespace=namespace, name="p"),
        reason=reason,
        message="m",
        first_timestamp=now,
        last_timestamp=now,
        count=count,
        type="Normal",
    )
    return Occurrence.of(EventFields.of(event), event.to_json(), "test")
