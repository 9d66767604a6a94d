"""apimachinery pkg/watch/mux_test.go, ported, plus the properties the recorder relies on."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

import pytest

from kubevents.kube import ADDED, DELETED, MODIFIED
from kubevents.mux import (
    INCOMING_QUEUE_LENGTH,
    Broadcaster,
    BroadcasterStoppedError,
    ChannelClosedError,
    FullChannelBehavior,
    MuxEvent,
    Watcher,
)

WAIT = FullChannelBehavior.WAIT_IF_CHANNEL_FULL
DROP = FullChannelBehavior.DROP_IF_CHANNEL_FULL
# Generous bound for "this must not hang"; the tests finish in milliseconds.
DEADLOCK_TIMEOUT = 10.0


@dataclass
class MyType:
    id: str
    value: str


async def drain(watcher: Watcher[MyType]) -> list[MuxEvent[MyType]]:
    return [event async for event in watcher]


async def test_broadcaster() -> None:
    table = [
        MuxEvent(ADDED, MyType("foo", "hello world 1")),
        MuxEvent(ADDED, MyType("bar", "hello world 2")),
        MuxEvent(MODIFIED, MyType("foo", "goodbye world 3")),
        MuxEvent(DELETED, MyType("bar", "hello world 4")),
    ]
    # Unbuffered watchers that make the distributor wait: every event still reaches both.
    m: Broadcaster[MyType] = Broadcaster(0, WAIT)
    readers = [asyncio.create_task(drain(m.watch())) for _ in range(2)]
    for item in table:
        await m.action(item.type, item.object)
    await m.shutdown()
    results = await asyncio.wait_for(asyncio.gather(*readers), DEADLOCK_TIMEOUT)
    assert results == [table, table]


async def test_broadcaster_watcher_close() -> None:
    m: Broadcaster[MyType] = Broadcaster(0, WAIT)
    w = m.watch()
    w2 = m.watch()
    w.stop()
    await m.shutdown()
    with pytest.raises(ChannelClosedError):
        await w.recv()
    with pytest.raises(ChannelClosedError):
        await w2.recv()
    # Extra stops don't hurt.
    w.stop()
    w2.stop()


async def test_broadcaster_watcher_stop_deadlock() -> None:
    m: Broadcaster[MyType] = Broadcaster(0, WAIT)
    w = m.watch()
    w2 = m.watch()

    async def reader() -> None:
        # Once w has the event the distributor is stuck sending to w2, which nobody reads;
        # stopping w2 must release it.
        await w.recv()
        w2.stop()

    task = asyncio.create_task(reader())
    await m.action(ADDED, MyType("", ""))
    await asyncio.wait_for(task, DEADLOCK_TIMEOUT)
    await asyncio.wait_for(m.shutdown(), DEADLOCK_TIMEOUT)


async def test_broadcaster_drop_if_channel_full() -> None:
    m: Broadcaster[MyType] = Broadcaster(1, DROP)
    event1 = MuxEvent(ADDED, MyType("foo", "hello world 1"))
    event2 = MuxEvent(ADDED, MyType("bar", "hello world 2"))
    watches = [m.watch(), m.watch()]
    await m.action(event1.type, event1.object)
    await m.action(event2.type, event2.object)
    await m.shutdown()
    for watcher in watches:
        # Each queue of one held event 1, so event 2 was dropped for both.
        assert await drain(watcher) == [event1]
        assert watcher.dropped == 1


async def test_broadcaster_watch_after_shutdown() -> None:
    m: Broadcaster[MyType] = Broadcaster(0, WAIT)
    await m.shutdown()
    with pytest.raises(BroadcasterStoppedError, match="broadcaster already stopped"):
        m.watch()
    with pytest.raises(BroadcasterStoppedError, match="broadcaster already stopped"):
        m.watch_with_prefix([MuxEvent(ADDED, MyType("foo", "1"))])


async def test_broadcaster_send_event_after_shutdown() -> None:
    m: Broadcaster[MyType] = Broadcaster(1, DROP)
    m.watch()
    m.watch()
    await m.shutdown()
    with pytest.raises(BroadcasterStoppedError, match="broadcaster already stopped"):
        await m.action(ADDED, MyType("foo", "hello world"))
    with pytest.raises(BroadcasterStoppedError, match="broadcaster already stopped"):
        m.action_or_drop(ADDED, MyType("foo", "hello world"))
    assert m.rejected_stopped == 2


async def test_broadcaster_shutdown_race() -> None:
    # Watchers stopped independently while the broadcaster shuts down: nothing may hang.
    m: Broadcaster[MyType] = Broadcaster(1, WAIT)
    watchers = [m.watch(), m.watch()]
    await m.action(ADDED, MyType("foo", "hello world"))
    m.shutdown_nowait()
    for watcher in watchers:
        watcher.stop()
    await asyncio.wait_for(m.wait_closed(), DEADLOCK_TIMEOUT)


async def test_shutdown_distributes_queued_events() -> None:
    m: Broadcaster[int] = Broadcaster.long_queue(100, DROP)
    w = m.watch()
    for i in range(50):
        assert m.action_or_drop(ADDED, i)
    # Nothing has been distributed yet: the distributor has not had a turn.
    assert m.queued == 50
    await m.shutdown()
    assert m.queued == 0
    # Buffered events are still readable after shutdown, then the channel is closed.
    assert [event.object async for event in w] == list(range(50))


async def test_new_watcher_never_sees_earlier_events() -> None:
    m: Broadcaster[int] = Broadcaster.long_queue(100, DROP)
    early = m.watch()
    m.action_or_drop(ADDED, 1)
    m.action_or_drop(ADDED, 2)
    late = m.watch()  # queued behind events 1 and 2
    m.action_or_drop(ADDED, 3)
    await m.shutdown()
    assert [e.object async for e in early] == [1, 2, 3]
    assert [e.object async for e in late] == [3]


async def test_watch_with_prefix() -> None:
    m: Broadcaster[int] = Broadcaster(1, DROP)
    prefix = [MuxEvent(ADDED, i) for i in range(5)]
    w = m.watch_with_prefix(prefix)
    m.action_or_drop(ADDED, 99)
    await m.shutdown()
    # The channel grew to len(prefix) + 1, so the next event fit too.
    assert [e.object async for e in w] == [0, 1, 2, 3, 4, 99]


async def test_action_or_drop_full_incoming_queue() -> None:
    m: Broadcaster[int] = Broadcaster(10, DROP)
    results = [m.action_or_drop(ADDED, i) for i in range(INCOMING_QUEUE_LENGTH + 3)]
    assert results == [True] * INCOMING_QUEUE_LENGTH + [False] * 3
    assert (m.accepted, m.dropped_full) == (INCOMING_QUEUE_LENGTH, 3)
    await m.shutdown()


async def test_slow_watcher_does_not_hold_up_others() -> None:
    m: Broadcaster[int] = Broadcaster.long_queue(10, DROP)
    slow = m.watch()  # never read until the end
    fast = m.watch()
    received: list[int] = []

    async def read_fast() -> None:
        async for event in fast:
            received.append(event.object)

    reader = asyncio.create_task(read_fast())
    for i in range(30):
        # Wait for room: the incoming queue is only 10 long as well.
        await m.action(ADDED, i)
    await m.shutdown()
    await asyncio.wait_for(reader, DEADLOCK_TIMEOUT)
    assert received == list(range(30))
    # The slow watcher kept the first 10 in order and lost the rest, alone.
    assert [e.object async for e in slow] == list(range(10))
    assert slow.dropped == 20
    assert fast.dropped == 0


async def test_stopped_watcher_keeps_buffered_events_and_gets_no_new_ones() -> None:
    m: Broadcaster[int] = Broadcaster.long_queue(10, DROP)
    w = m.watch()
    m.action_or_drop(ADDED, 1)
    m.action_or_drop(ADDED, 2)
    distributed = asyncio.get_running_loop().create_future()
    m.run_in_order(lambda: distributed.set_result(None))
    await distributed
    # Like Go, events still in the incoming queue when a watcher stops may or may not reach
    # it; events already in its channel stay readable.
    w.stop()
    m.action_or_drop(ADDED, 3)
    assert w.stopped
    assert [e.object async for e in w] == [1, 2]
    await m.shutdown()


async def test_action_or_drop_from_threads_keeps_per_thread_order() -> None:
    m: Broadcaster[tuple[int, int]] = Broadcaster.long_queue(100_000, DROP)
    w = m.watch()
    per_thread = 2_000

    def produce(thread: int) -> None:
        for i in range(per_thread):
            assert m.action_or_drop(ADDED, (thread, i))

    threads = [threading.Thread(target=produce, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()

    def join_all() -> None:
        for thread in threads:
            thread.join()

    await asyncio.to_thread(join_all)
    await m.shutdown()
    seen: dict[int, list[int]] = {t: [] for t in range(4)}
    async for event in w:
        producer, i = event.object
        seen[producer].append(i)
    assert all(values == list(range(per_thread)) for values in seen.values())


async def test_run_in_order_runs_after_queued_events() -> None:
    m: Broadcaster[int] = Broadcaster.long_queue(10, DROP)
    w = m.watch()
    order: list[str] = []
    m.action_or_drop(ADDED, 1)
    assert m.run_in_order(lambda: order.append(f"ran with {len(w)} buffered"))
    await m.shutdown()
    assert order == ["ran with 1 buffered"]
    assert not m.run_in_order(lambda: order.append("never"))
