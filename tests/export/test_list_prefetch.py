"""The relist's page prefetch: order, errors in place, a fetch ahead, nothing left running."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from kubevents.export._source import prefetched


class Pages:
    """An async page source that records what was fetched and whether it was closed."""

    def __init__(self, count: int, fail_at: int | None = None) -> None:
        self.count = count
        self.fail_at = fail_at
        self.fetched: list[int] = []
        self.closed = False
        self.fetched_one = asyncio.Event()

    async def __call__(self) -> AsyncIterator[int]:
        try:
            for n in range(self.count):
                await asyncio.sleep(0)
                if n == self.fail_at:
                    raise ConnectionResetError(f"page {n}")
                self.fetched.append(n)
                self.fetched_one.set()
                yield n
        finally:
            self.closed = True


async def test_every_page_arrives_in_order() -> None:
    pages = Pages(7)
    assert [p async for p in prefetched(pages(), 2)] == list(range(7))
    assert pages.closed


async def test_the_next_pages_are_fetched_while_one_is_being_handled() -> None:
    pages = Pages(10)
    async with contextlib.aclosing(prefetched(pages(), 2)) as ahead:
        first = await anext(ahead)
        # While page 0 is in hand, the fetch goes on until the queue holds two more.
        async with asyncio.timeout(10):
            while len(pages.fetched) < 4:
                pages.fetched_one.clear()
                await pages.fetched_one.wait()
        for _ in range(10):
            await asyncio.sleep(0)
        assert first == 0
        # 0 handed out, 1 and 2 queued, 3 fetched and waiting for room: no further.
        assert pages.fetched == [0, 1, 2, 3]


async def test_a_fetch_error_is_raised_after_the_pages_before_it() -> None:
    pages = Pages(5, fail_at=3)
    seen: list[int] = []

    async def read() -> None:
        async for page in prefetched(pages(), 2):
            seen.append(page)

    with pytest.raises(ConnectionResetError, match="page 3"):
        await read()
    assert seen == [0, 1, 2]
    assert pages.closed


async def test_leaving_early_stops_the_fetch() -> None:
    pages = Pages(1000)
    async with contextlib.aclosing(prefetched(pages(), 2)) as ahead:
        async for page in ahead:
            if page == 1:
                break
    assert pages.closed
    fetched = len(pages.fetched)
    for _ in range(20):
        await asyncio.sleep(0)
    assert len(pages.fetched) == fetched < 10
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "list-prefetch"]


async def test_cancelling_the_reader_stops_the_fetch() -> None:
    pages = Pages(1000)
    release = asyncio.Event()

    async def read() -> None:
        async with contextlib.aclosing(prefetched(pages(), 2)) as ahead:
            async for _ in ahead:
                await release.wait()

    reader = asyncio.create_task(read())
    await pages.fetched_one.wait()
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    assert pages.closed
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "list-prefetch"]
