"""Leader election in virtual time, against an in-memory lock with the API's conflict rules.

The fake lock keeps one record and a version, and refuses a write based on an older version
(409) exactly as the API server refuses a stale resourceVersion; a candidate can be cut off
from it (transport errors) or left hanging. Time is virtual: ``FakeClock`` plus a scheduler of
the electors' sleeps, so the protocol's timing is checked exactly and instantly.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest

from kubevents.clock import FakeClock
from kubevents.errors import StatusError, TransportError
from kubevents.kube import (
    JITTER_FACTOR,
    ElectionRecord,
    LeaderElector,
    validate_timing,
)

LEASE, RENEW, RETRY = 15.0, 10.0, 2.0


class VirtualTime:
    """A FakeClock whose sleepers wake in time order when the test advances it."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self._timers: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        when = self.clock.now() + timedelta(seconds=seconds)
        heapq.heappush(self._timers, (when, next(self._seq), future))
        await future

    @staticmethod
    async def settle() -> None:
        # The lock never awaits anything real, so a woken task reaches its next sleep within
        # a few loop iterations.
        for _ in range(20):
            await asyncio.sleep(0)

    def elapsed(self, since: datetime) -> float:
        return (self.clock.now() - since).total_seconds()

    async def run_until(self, condition: Callable[[], bool], within: float) -> float:
        """Fire timers in order until ``condition`` holds; return the virtual seconds taken."""
        start = self.clock.now()
        end = start + timedelta(seconds=within)
        await self.settle()
        while not condition():
            if not self._timers or self._timers[0][0] > end:
                raise AssertionError(f"not reached within {within} virtual seconds")
            await self._fire_next()
        return self.elapsed(start)

    async def advance(self, seconds: float) -> None:
        end = self.clock.now() + timedelta(seconds=seconds)
        await self.settle()
        while self._timers and self._timers[0][0] <= end:
            await self._fire_next()
        self.clock.set(end)

    async def _fire_next(self) -> None:
        """Wake every sleeper due at the next instant together, then let them run."""
        when = self._timers[0][0]
        self.clock.set(max(when, self.clock.now()))
        while self._timers and self._timers[0][0] == when:
            _, _, future = heapq.heappop(self._timers)
            if not future.done():  # not a cancelled sleep
                future.set_result(None)
        await self.settle()


@dataclass
class Store:
    """One lock record with a version: the API server's optimistic concurrency in memory."""

    record: ElectionRecord | None = None
    version: int = 0
    cut_off: set[str] = field(default_factory=set)
    hanging: set[str] = field(default_factory=set)
    writes: list[tuple[str, ElectionRecord]] = field(default_factory=list)
    conflicts: int = 0


class FakeLock:
    def __init__(self, store: Store, identity: str) -> None:
        self.store = store
        self._identity = identity
        self._seen = -1

    @property
    def identity(self) -> str:
        return self._identity

    def describe(self) -> str:
        return "test/lock"

    async def _reach(self) -> None:
        # A request takes a loop iteration, so candidates polling at the same instant all read
        # before any of them writes: they really race.
        await asyncio.sleep(0)
        if self._identity in self.store.hanging:
            await asyncio.get_running_loop().create_future()  # never answers
        if self._identity in self.store.cut_off:
            raise TransportError("connection refused")

    async def get(self) -> tuple[ElectionRecord, bytes]:
        await self._reach()
        if self.store.record is None:
            raise StatusError(404, "NotFound", "lease not found")
        self._seen = self.store.version
        return self.store.record, repr(self.store.record).encode()

    async def create(self, record: ElectionRecord) -> None:
        await self._reach()
        if self.store.record is not None:
            raise StatusError(409, "AlreadyExists", "lease exists")
        self._write(record)

    async def update(self, record: ElectionRecord) -> None:
        await self._reach()
        if self._seen != self.store.version:
            self.store.conflicts += 1
            raise StatusError(409, "Conflict", "the object has been modified")
        self._write(record)

    def _write(self, record: ElectionRecord) -> None:
        self.store.record = record
        self.store.version += 1
        self._seen = self.store.version
        self.store.writes.append((self._identity, record))


class Candidate:
    """One elector and the task that runs it: acquire, then renew until lost."""

    def __init__(
        self,
        vt: VirtualTime,
        store: Store,
        identity: str,
        *,
        rand: float = 0.5,
        clock: FakeClock | None = None,
    ) -> None:
        self.leaders: list[str] = []
        self.elector = LeaderElector(
            FakeLock(store, identity),
            lease_duration=LEASE,
            renew_deadline=RENEW,
            retry_period=RETRY,
            clock=clock or vt.clock,
            sleep=vt.sleep,
            rand=lambda: rand,
            on_new_leader=self.leaders.append,
        )
        self.vt = vt
        self.acquired_at: datetime | None = None
        self.lost_at: datetime | None = None
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        await self.elector.acquire()
        self.acquired_at = self.vt.clock.now()
        await self.elector.renew()
        self.lost_at = self.vt.clock.now()

    @property
    def leading(self) -> bool:
        return self.acquired_at is not None and self.lost_at is None

    async def crash(self) -> None:
        """Stop without releasing (SIGKILL)."""
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def test_the_first_candidate_creates_the_lease_and_leads() -> None:
    vt, store = VirtualTime(), Store()
    a = Candidate(vt, store, "a")
    await vt.run_until(lambda: a.leading, within=1)
    assert store.record is not None
    assert store.record.holder_identity == "a"
    assert store.record.lease_duration_seconds == 15
    assert store.record.leader_transitions == 0
    assert a.elector.is_leader() and a.leaders == ["a"]
    await a.crash()


async def test_a_standby_never_takes_a_lease_that_is_renewed() -> None:
    vt, store = VirtualTime(), Store()
    a = Candidate(vt, store, "a")
    await vt.run_until(lambda: a.leading, within=1)
    b = Candidate(vt, store, "b")
    await vt.advance(10 * LEASE)
    assert a.leading and b.acquired_at is None
    assert b.leaders == ["a"]
    renewals = [w for w in store.writes if w[0] == "a"]
    # Renewed once per retry period (plus the request time, which is zero here).
    assert len(renewals) >= 10 * LEASE / RETRY
    assert all(w[0] == "a" for w in store.writes)
    await a.crash()
    await b.crash()


async def test_after_a_crash_the_standby_waits_out_the_lease_on_its_own_clock() -> None:
    vt, store = VirtualTime(), Store()
    a = Candidate(vt, store, "a")
    await vt.run_until(lambda: a.leading, within=1)
    b = Candidate(vt, store, "b", rand=1.0)  # the longest jitter: retry × 2.2
    await vt.advance(7.3)
    await a.crash()
    killed = vt.clock.now()
    last_renewal = store.writes[-1][1].renew_time
    assert last_renewal is not None
    await vt.run_until(lambda: b.leading, within=60)
    assert b.acquired_at is not None
    taken = (b.acquired_at - killed).total_seconds()
    # Not before the lease ran out as b observed it, and within a lease plus two jittered polls
    # (one to observe the last renewal, one after the expiry).
    assert b.elector.observed_time is not None
    assert (b.acquired_at - last_renewal).total_seconds() >= LEASE
    assert taken <= LEASE + 2 * RETRY * (1 + JITTER_FACTOR)
    assert store.record is not None
    assert store.record.holder_identity == "b"
    assert store.record.leader_transitions == 1
    assert b.leaders == ["a", "b"]
    await b.crash()


async def test_a_holder_whose_clock_is_wrong_keeps_the_lease_while_it_renews() -> None:
    # Leases carry the holder's timestamps, but a candidate never compares them with its own
    # clock: only how long the record has been unchanged counts.
    vt, store = VirtualTime(), Store()
    skewed = FakeClock(datetime(2023, 1, 1, tzinfo=vt.clock.now().tzinfo))  # a year behind
    a = Candidate(vt, store, "a", clock=skewed)
    await vt.run_until(lambda: a.leading, within=1)
    b = Candidate(vt, store, "b")
    for _ in range(40):
        skewed.step(1.0)
        await vt.advance(1.0)
    assert a.leading and b.acquired_at is None
    await a.crash()
    await b.crash()


async def test_a_released_lease_is_taken_at_the_next_poll() -> None:
    vt, store = VirtualTime(), Store()
    a = Candidate(vt, store, "a")
    await vt.run_until(lambda: a.leading, within=1)
    b = Candidate(vt, store, "b", rand=1.0)
    await vt.advance(5.0)
    a.task.cancel()
    await asyncio.gather(a.task, return_exceptions=True)
    assert await a.elector.release()
    released = vt.clock.now()
    assert store.record is not None
    assert store.record.holder_identity == "" and store.record.lease_duration_seconds == 1
    taken = await vt.run_until(lambda: b.leading, within=60)
    assert taken <= RETRY * (1 + JITTER_FACTOR)
    assert b.acquired_at is not None and (b.acquired_at - released).total_seconds() < LEASE
    assert store.record.holder_identity == "b"
    assert store.record.leader_transitions == 1  # release keeps the count; b's claim adds one
    await b.crash()


async def test_release_by_a_non_leader_writes_nothing() -> None:
    vt, store = VirtualTime(), Store()
    a = Candidate(vt, store, "a")
    await vt.run_until(lambda: a.leading, within=1)
    b = Candidate(vt, store, "b")
    await vt.advance(3.0)
    writes = len(store.writes)
    b.task.cancel()
    assert await b.elector.release()
    assert len(store.writes) == writes
    assert store.record is not None and store.record.holder_identity == "a"
    await a.crash()


async def test_candidates_racing_for_an_expired_lease_elect_exactly_one() -> None:
    vt, store = VirtualTime(), Store()
    a = Candidate(vt, store, "a")
    await vt.run_until(lambda: a.leading, within=1)
    # Same jitter: the two polls fall at the same instants, so they race for every write.
    others = [Candidate(vt, store, name, rand=0.5) for name in ("b", "c", "d")]
    await vt.advance(1.0)
    await a.crash()
    await vt.run_until(lambda: any(o.leading for o in others), within=60)
    await vt.advance(5 * LEASE)
    leaders = [o for o in others if o.acquired_at is not None]
    assert len(leaders) == 1
    assert store.conflicts >= 1  # the losers' writes were refused, not overwritten
    assert store.record is not None
    assert store.record.holder_identity == leaders[0].elector.identity
    for other in others:
        assert other.elector.leader == leaders[0].elector.identity
        await other.crash()


async def test_a_leader_cut_off_stops_within_the_renew_deadline_before_anyone_takes_over() -> None:
    vt, store = VirtualTime(), Store()
    a = Candidate(vt, store, "a")
    await vt.run_until(lambda: a.leading, within=1)
    b = Candidate(vt, store, "b")
    await vt.advance(6.0)
    last_renewal = store.writes[-1][1].renew_time
    assert last_renewal is not None
    store.cut_off.add("a")
    await vt.run_until(lambda: a.lost_at is not None, within=60)
    assert a.lost_at is not None
    # It gives up no later than the deadline after its last successful renewal cycle began...
    assert (a.lost_at - last_renewal).total_seconds() <= RETRY + RENEW
    await vt.run_until(lambda: b.leading, within=60)
    assert b.acquired_at is not None
    # ...which is before the standby may take over: the two never act at the same time.
    assert a.lost_at < b.acquired_at
    await b.crash()


async def test_a_hanging_lock_request_does_not_stretch_the_renew_deadline() -> None:
    vt, store = VirtualTime(), Store()
    a = Candidate(vt, store, "a")
    await vt.run_until(lambda: a.leading, within=1)
    await vt.advance(4.0)
    last_renewal = store.writes[-1][1].renew_time
    assert last_renewal is not None
    store.hanging.add("a")
    await vt.run_until(lambda: a.lost_at is not None, within=60)
    assert a.lost_at is not None
    assert (a.lost_at - last_renewal).total_seconds() <= RETRY + RENEW


async def test_a_leader_that_sees_another_holder_stops_at_once() -> None:
    vt, store = VirtualTime(), Store()
    a = Candidate(vt, store, "a")
    await vt.run_until(lambda: a.leading, within=1)
    # Someone else writes the lease (an operator, or a candidate after a long pause of a).
    store.record = ElectionRecord(
        holder_identity="intruder",
        lease_duration_seconds=15,
        acquire_time=vt.clock.now(),
        renew_time=vt.clock.now(),
    )
    store.version += 1
    lost = await vt.run_until(lambda: a.lost_at is not None, within=60)
    assert lost <= RETRY
    assert a.elector.leader == "intruder"


@pytest.mark.parametrize(
    ("lease", "renew", "retry", "message"),
    [
        (10, 10, 2, "greater than renew_deadline"),
        (15, 2, 2, "retry_period × 1.2"),
        (0.5, 0.3, 0.1, "at least 1s"),
        (15, 10, 0, "must be positive"),
    ],
)
def test_timing_constraints_are_client_gos(
    lease: float, renew: float, retry: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        validate_timing(lease, renew, retry)
    validate_timing(LEASE, RENEW, RETRY)
