"""Leader election on a Lease, with the semantics of client-go's ``tools/leaderelection``.

- A candidate polls every ``retry_period`` (jittered by up to ``JITTER_FACTOR`` times).
- It takes the lease when nobody holds it, or when the record it last observed has not
  changed for the record's ``leaseDurationSeconds`` as measured on *its own* clock: clocks of
  different machines are never compared, only the time since this process saw a change.
- Every write is conditional on the Lease's resourceVersion, so two candidates racing for an
  expired lease cannot both win: the loser gets 409 Conflict.
- The leader renews every ``retry_period``; when it cannot renew within ``renew_deadline`` it
  has lost the lease and must stop acting at once (``renew`` returns).
- ``release`` (client-go's ``ReleaseOnCancel``) clears the holder on a graceful exit, so the
  next candidate takes over at its next poll instead of waiting out the lease.

As in client-go this is not fencing: a leader stalled for longer than the lease (a stopped VM)
may act after another took over. The exporter's idempotent occurrence ids make that harmless.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

import msgspec

from kubevents.clock import Clock, RealClock
from kubevents.errors import KubeError, StatusError
from kubevents.kube._lease import Lease, LeasesAPI, LeaseSpec
from kubevents.model import MicroTime, ObjectMeta, go_json

__all__ = [
    "DEFAULT_LEASE_DURATION",
    "DEFAULT_RENEW_DEADLINE",
    "DEFAULT_RETRY_PERIOD",
    "JITTER_FACTOR",
    "ElectionRecord",
    "LeaderElector",
    "LeaseLock",
    "ResourceLock",
    "validate_timing",
]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

# client-go's defaults (kube-controller-manager's --leader-elect-* flags) and jitter factor.
DEFAULT_LEASE_DURATION = 15.0
DEFAULT_RENEW_DEADLINE = 10.0
DEFAULT_RETRY_PERIOD = 2.0
JITTER_FACTOR = 1.2


@dataclass(frozen=True)
class ElectionRecord:
    """What a lock stores: client-go's ``LeaderElectionRecord``."""

    holder_identity: str = ""
    lease_duration_seconds: int = 0
    acquire_time: datetime | None = None
    renew_time: datetime | None = None
    leader_transitions: int = 0


class ResourceLock(Protocol):
    """Where the record lives. ``get`` raises ``StatusError`` 404 when there is none yet."""

    @property
    def identity(self) -> str: ...

    def describe(self) -> str: ...

    async def get(self) -> tuple[ElectionRecord, bytes]: ...

    async def create(self, record: ElectionRecord) -> None: ...

    async def update(self, record: ElectionRecord) -> None: ...


class LeaseLock:
    """A ``ResourceLock`` on a coordination.k8s.io/v1 Lease.

    ``annotations`` (optional) is called on every write and its result merged into the
    Lease's annotations: the holder can publish small facts (the exporter publishes its
    acknowledged resume point) at no extra request and with no extra RBAC.
    """

    def __init__(
        self,
        leases: LeasesAPI,
        namespace: str,
        name: str,
        identity: str,
        *,
        annotations: Callable[[], Mapping[str, str]] | None = None,
    ) -> None:
        self._leases = leases
        self.namespace = namespace
        self.name = name
        self._identity = identity
        self._annotations = annotations
        self.lease: Lease | None = None  # the Lease as last read or written

    @property
    def identity(self) -> str:
        return self._identity

    def describe(self) -> str:
        return f"{self.namespace}/{self.name}"

    def observed_annotations(self) -> dict[str, str]:
        if self.lease is None:
            return {}
        return dict(self.lease.metadata.annotations or {})

    async def get(self) -> tuple[ElectionRecord, bytes]:
        self.lease = await self._leases.get(self.namespace, self.name)
        spec = self.lease.spec
        record = ElectionRecord(
            holder_identity=spec.holder_identity or "",
            lease_duration_seconds=spec.lease_duration_seconds or 0,
            acquire_time=spec.acquire_time,
            renew_time=spec.renew_time,
            leader_transitions=spec.lease_transitions or 0,
        )
        return record, go_json(spec)

    def _merged_annotations(self, current: Mapping[str, str] | None) -> dict[str, str] | None:
        extra = dict(self._annotations()) if self._annotations is not None else {}
        if not extra:
            return dict(current) if current else None
        return {**(current or {}), **extra}

    async def create(self, record: ElectionRecord) -> None:
        meta = ObjectMeta(
            name=self.name, namespace=self.namespace, annotations=self._merged_annotations(None)
        )
        self.lease = await self._leases.create(Lease(metadata=meta, spec=_spec(record)))

    async def update(self, record: ElectionRecord) -> None:
        if self.lease is None:
            raise RuntimeError("lease not initialised: get or create it first")
        meta = self.lease.metadata
        meta = msgspec.structs.replace(meta, annotations=self._merged_annotations(meta.annotations))
        lease = msgspec.structs.replace(self.lease, metadata=meta, spec=_spec(record))
        self.lease = await self._leases.update(lease)


def _spec(record: ElectionRecord) -> LeaseSpec:
    def micro(value: datetime | None) -> MicroTime | None:
        return None if value is None else MicroTime.of(value)

    return LeaseSpec(
        holder_identity=record.holder_identity,
        lease_duration_seconds=record.lease_duration_seconds,
        acquire_time=micro(record.acquire_time),
        renew_time=micro(record.renew_time),
        lease_transitions=record.leader_transitions,
    )


class LeaderElector:
    """One candidate. ``await acquire()``, then ``await renew()`` until it returns (lost).

    ``clock`` and ``sleep`` are injectable so tests run the protocol in virtual time.
    """

    def __init__(
        self,
        lock: ResourceLock,
        *,
        lease_duration: float = DEFAULT_LEASE_DURATION,
        renew_deadline: float = DEFAULT_RENEW_DEADLINE,
        retry_period: float = DEFAULT_RETRY_PERIOD,
        clock: Clock | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        rand: Callable[[], float] = random.random,
        on_new_leader: Callable[[str], None] | None = None,
    ) -> None:
        validate_timing(lease_duration, renew_deadline, retry_period)
        self._lock = lock
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self._clock = clock or RealClock()
        self._sleep = sleep or asyncio.sleep
        self._rand = rand
        self._on_new_leader = on_new_leader
        self.observed_record = ElectionRecord()
        self._observed_raw = b""
        self.observed_time: datetime | None = None
        self._reported_leader = ""
        self.last_attempt: datetime | None = None  # when the lock was last tried (liveness)

    @property
    def identity(self) -> str:
        return self._lock.identity

    @property
    def leader(self) -> str:
        """The holder this candidate last observed ("" for none)."""
        return self.observed_record.holder_identity

    def is_leader(self) -> bool:
        return self.observed_record.holder_identity == self._lock.identity

    async def acquire(self) -> None:
        """Return once this candidate holds the lease; cancel the call to stop trying."""
        log.info("trying to acquire leader lease %s as %s", self._lock.describe(), self.identity)
        while True:
            acquired = await self._attempt(self.renew_deadline)
            self._report_transition()
            if acquired:
                log.info("acquired leader lease %s", self._lock.describe())
                return
            await self._sleep(self.retry_period * (1 + self._rand() * JITTER_FACTOR))

    async def renew(self) -> None:
        """Renew every ``retry_period``; return when a renewal misses ``renew_deadline``."""
        while True:
            started = self._clock.now()
            while True:
                remaining = self.renew_deadline - self._since(started)
                if remaining <= 0:
                    log.error(
                        "failed to renew leader lease %s within %.1fs: leadership lost",
                        self._lock.describe(),
                        self.renew_deadline,
                    )
                    return
                renewed = await self._attempt(remaining)
                self._report_transition()
                if renewed:
                    break
                if not self.is_leader():
                    log.error("leader lease %s was taken by %r", self._lock.describe(), self.leader)
                    return
                remaining = self.renew_deadline - self._since(started)
                if remaining > 0:
                    await self._sleep(min(self.retry_period, remaining))
            await self._sleep(self.retry_period)

    async def release(self) -> bool:
        """Clear the holder if this candidate holds the lease (True when nothing is held)."""
        try:
            return await self._bounded(self._release(), self.renew_deadline)
        except TimeoutError:
            log.error("releasing leader lease %s timed out", self._lock.describe())
            return False

    async def _release(self) -> bool:
        try:
            old, _ = await self._lock.get()
        except KubeError as exc:
            log.error("cannot read leader lease %s to release it: %s", self._lock.describe(), exc)
            return False
        if not self.is_leader() or old.holder_identity != self.identity:
            # Only a record that names this candidate is cleared: after a failed renewal the
            # observed record may be stale and the lease already someone else's.
            return True
        now = self._clock.now()
        record = ElectionRecord(
            lease_duration_seconds=1,
            acquire_time=now,
            renew_time=now,
            leader_transitions=old.leader_transitions,
        )
        try:
            await self._lock.update(record)
        except KubeError as exc:
            log.error("failed to release leader lease %s: %s", self._lock.describe(), exc)
            return False
        self._set_observed(record)
        log.info("released leader lease %s", self._lock.describe())
        return True

    # -- the protocol ----------------------------------------------------------------------

    async def _attempt(self, within: float) -> bool:
        self.last_attempt = self._clock.now()
        try:
            return await self._bounded(self._try_acquire_or_renew(), within)
        except TimeoutError:
            log.warning("leader lease %s: no answer within %.1fs", self._lock.describe(), within)
            return False

    async def _try_acquire_or_renew(self) -> bool:
        now = self._clock.now()
        record = ElectionRecord(
            holder_identity=self.identity,
            lease_duration_seconds=int(self.lease_duration),
            acquire_time=now,
            renew_time=now,
        )
        if self.is_leader() and self._lease_valid(now):
            # The fast path: one conditional write on the Lease read or written last.
            observed = self.observed_record
            record = replace(
                record,
                acquire_time=observed.acquire_time,
                leader_transitions=observed.leader_transitions,
            )
            try:
                await self._lock.update(record)
            except KubeError as exc:
                log.info("renewing %s failed (%s): reading it again", self._lock.describe(), exc)
            else:
                self._set_observed(record)
                return True

        try:
            old, raw = await self._lock.get()
        except StatusError as exc:
            if exc.code != 404:
                log.warning("cannot read leader lease %s: %s", self._lock.describe(), exc)
                return False
            try:
                await self._lock.create(record)
            except KubeError as create_exc:
                log.warning("cannot create leader lease %s: %s", self._lock.describe(), create_exc)
                return False
            self._set_observed(record)
            return True
        except KubeError as exc:
            log.warning("cannot read leader lease %s: %s", self._lock.describe(), exc)
            return False

        if raw != self._observed_raw:
            self._set_observed(old)
            self._observed_raw = raw
        if old.holder_identity and self._lease_valid(now) and not self.is_leader():
            return False  # held by another, and not yet expired on this clock

        if self.is_leader():
            record = replace(
                record, acquire_time=old.acquire_time, leader_transitions=old.leader_transitions
            )
        else:
            record = replace(record, leader_transitions=old.leader_transitions + 1)
        try:
            await self._lock.update(record)
        except KubeError as exc:
            # 409: another candidate wrote first; it holds the lease now.
            log.info("taking leader lease %s failed: %s", self._lock.describe(), exc)
            return False
        self._set_observed(record)
        return True

    def _lease_valid(self, now: datetime) -> bool:
        if self.observed_time is None:
            return False
        duration = timedelta(seconds=self.observed_record.lease_duration_seconds)
        return self.observed_time + duration > now

    def _set_observed(self, record: ElectionRecord) -> None:
        self.observed_record = record
        self.observed_time = self._clock.now()

    def _since(self, then: datetime) -> float:
        return (self._clock.now() - then).total_seconds()

    def _report_transition(self) -> None:
        holder = self.observed_record.holder_identity
        if holder == self._reported_leader:
            return
        self._reported_leader = holder
        if holder:
            log.info("new leader of %s: %s", self._lock.describe(), holder)
        if self._on_new_leader is not None:
            self._on_new_leader(holder)

    async def _bounded(self, coro: Coroutine[Any, Any, _T], seconds: float) -> _T:
        """Run ``coro`` for at most ``seconds`` of this elector's (injectable) time."""
        call = asyncio.ensure_future(coro)
        timer = asyncio.ensure_future(self._sleep(seconds))
        try:
            await asyncio.wait({call, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
            if not call.done():
                call.cancel()
                await asyncio.gather(call, return_exceptions=True)
        if call.cancelled():
            raise TimeoutError
        return call.result()


def validate_timing(lease_duration: float, renew_deadline: float, retry_period: float) -> None:
    """client-go's constraints; ValueError names the one that is broken."""
    if lease_duration < 1:
        raise ValueError("lease_duration must be at least 1s (the Lease stores whole seconds)")
    if renew_deadline <= 0 or retry_period <= 0:
        raise ValueError("renew_deadline and retry_period must be positive")
    if lease_duration <= renew_deadline:
        raise ValueError("lease_duration must be greater than renew_deadline")
    if renew_deadline <= JITTER_FACTOR * retry_period:
        raise ValueError(
            f"renew_deadline must be greater than retry_period × {JITTER_FACTOR} (the jitter)"
        )
