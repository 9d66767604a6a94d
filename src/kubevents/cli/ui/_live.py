"""Live updates: new matching occurrences pushed to the page as server-sent events.

Each stream tails the store with ``EventStore.follow_batches`` (what ``kubevents query
--follow`` uses) in a thread of its own, with its own read-only connection, and hands each
batch to the event loop. The number of streams is bounded; a closed page stops its thread
within one poll interval.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from kubevents.cli.ui._html import Markup
from kubevents.export.store import EventStore, QueryFilter, StoredOccurrence, StoreError

__all__ = ["LiveStreams"]

_KEEPALIVE = 15.0


class LiveStreams:
    """Server-sent event streams of one store; at most ``limit`` at a time."""

    def __init__(self, db: Path, poll_interval: float, limit: int = 32) -> None:
        self._db = db
        self._poll = poll_interval
        self._slots = threading.BoundedSemaphore(limit)
        self._stops: set[threading.Event] = set()

    def close(self) -> None:
        for stop in list(self._stops):
            stop.set()

    async def stream(
        self,
        request: web.Request,
        flt: QueryFilter,
        after: int,
        render: Callable[[StoredOccurrence], Markup],
    ) -> web.StreamResponse:
        if not self._slots.acquire(blocking=False):
            raise web.HTTPServiceUnavailable(text="too many live views open")
        stop = threading.Event()
        self._stops.add(stop)
        loop = asyncio.get_running_loop()
        batches: asyncio.Queue[list[str] | BaseException] = asyncio.Queue(maxsize=64)

        def put(item: list[str] | BaseException) -> None:
            if batches.full():
                # The page cannot keep up; it reloads on the "lost" event.
                item = OverflowError("the page fell behind")
            batches.put_nowait(item)

        def tail() -> None:
            try:
                with EventStore(self._db) as store:
                    for batch in store.follow_batches(flt, self._poll, after=after, stop=stop):
                        # Rendered here, off the event loop; newest first, as the table runs.
                        rows: list[str] = [render(o) for o in reversed(batch)]
                        loop.call_soon_threadsafe(put, rows)
            except (StoreError, RuntimeError) as exc:
                if not stop.is_set():
                    loop.call_soon_threadsafe(put, exc)
            finally:
                self._slots.release()

        thread = threading.Thread(target=tail, name="kubevents-ui-live", daemon=True)
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
        )
        thread.start()  # from here on, the thread gives the slot back once ``stop`` is set
        try:
            await response.prepare(request)
            await response.write(b"retry: 3000\n\n")
            while True:
                try:
                    item = await asyncio.wait_for(batches.get(), _KEEPALIVE)
                except TimeoutError:
                    await response.write(b": keepalive\n\n")
                    continue
                if isinstance(item, BaseException):
                    await response.write(b"event: lost\ndata: {}\n\n")
                    break
                data = json.dumps({"rows": item})
                await response.write(f"event: rows\ndata: {data}\n\n".encode())
        except ConnectionResetError:
            pass
        finally:
            stop.set()
            self._stops.discard(stop)
        return response
