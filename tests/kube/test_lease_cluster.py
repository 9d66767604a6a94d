"""The Lease API and leader election against the real kube-apiserver."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import msgspec
import pytest

from kubevents.errors import StatusError
from kubevents.kube import KubeClient, LeaderElector, Lease, LeaseLock, LeaseSpec
from kubevents.model import MicroTime, ObjectMeta

pytestmark = pytest.mark.cluster

# Short, client-go-valid timings so the real-time tests stay quick.
LEASE, RENEW, RETRY = 2.0, 1.5, 0.2


async def test_lease_round_trip_and_optimistic_concurrency(
    kube: KubeClient, namespace: str
) -> None:
    now = MicroTime.of(datetime.now(UTC))
    spec = LeaseSpec(
        holder_identity="a",
        lease_duration_seconds=15,
        acquire_time=now,
        renew_time=now,
        lease_transitions=0,
    )
    created = await kube.leases.create(
        Lease(metadata=ObjectMeta(name="lock", namespace=namespace), spec=spec)
    )
    assert created.metadata.resource_version
    assert created.spec == spec  # microseconds survive the round trip
    read = await kube.leases.get(namespace, "lock")
    assert read.metadata.resource_version == created.metadata.resource_version

    newer = msgspec.structs.replace(read.spec, holder_identity="b", lease_transitions=1)
    updated = await kube.leases.update(msgspec.structs.replace(read, spec=newer))
    assert updated.spec.holder_identity == "b"
    assert updated.metadata.resource_version != read.metadata.resource_version

    # A write based on the older read is refused, not applied over b's claim.
    with pytest.raises(StatusError) as conflict:
        await kube.leases.update(msgspec.structs.replace(read, spec=spec))
    assert conflict.value.code == 409
    assert (await kube.leases.get(namespace, "lock")).spec.holder_identity == "b"

    with pytest.raises(StatusError) as missing:
        await kube.leases.get(namespace, "no-such-lease")
    assert missing.value.code == 404


async def test_two_candidates_elect_one_publish_and_hand_over_on_release(
    kube: KubeClient, namespace: str
) -> None:
    published = {"example.com/resume": "41"}
    lock_a = LeaseLock(kube.leases, namespace, "election", "a", annotations=lambda: published)
    lock_b = LeaseLock(kube.leases, namespace, "election", "b")
    a = LeaderElector(lock_a, lease_duration=LEASE, renew_deadline=RENEW, retry_period=RETRY)
    b = LeaderElector(lock_b, lease_duration=LEASE, renew_deadline=RENEW, retry_period=RETRY)

    await asyncio.wait_for(a.acquire(), timeout=10)
    renewing = asyncio.create_task(a.renew())
    candidate = asyncio.create_task(b.acquire())
    # Three lease durations of renewals: the standby must not take a lease that is renewed.
    done, _ = await asyncio.wait({renewing, candidate}, timeout=3 * LEASE)
    assert not done
    assert b.leader == "a"
    lease = await kube.leases.get(namespace, "election")
    assert lease.spec.holder_identity == "a"
    assert lease.spec.lease_duration_seconds == int(LEASE)
    assert (lease.metadata.annotations or {})["example.com/resume"] == "41"

    published["example.com/resume"] = "42"
    renewing.cancel()
    await asyncio.gather(renewing, return_exceptions=True)
    loop = asyncio.get_running_loop()
    assert await a.release()
    released = loop.time()
    await asyncio.wait_for(candidate, timeout=10)
    # Taken at b's next poll (at most 2.2 retry periods), not after the 2 s lease.
    assert loop.time() - released < LEASE
    lease = await kube.leases.get(namespace, "election")
    assert lease.spec.holder_identity == "b"
    assert lease.spec.lease_transitions == 1
    # The release carried the holder's last word; b sees it on the Lease it took.
    assert lock_b.observed_annotations()["example.com/resume"] == "42"


async def test_access_reviews_answer_for_the_identity(
    kube_limited: KubeClient, namespace: str
) -> None:
    assert await kube_limited.whoami() == "kubevents-limited"
    assert await kube_limited.can_i("watch", "events")
    assert await kube_limited.can_i("list", "events", namespace=namespace)
    assert not await kube_limited.can_i(
        "get", "leases", group="coordination.k8s.io", namespace=namespace, name="x"
    )
