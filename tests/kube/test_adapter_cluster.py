"""The adapter against the real kube-apiserver: CRUD, paged lists, watches, errors."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

import pytest

from kubevents.errors import GoneError, StatusError
from kubevents.kube import ADDED, BOOKMARK, MODIFIED, KubeClient
from kubevents.model import (
    Event,
    EventSource,
    EventsV1Event,
    EventsV1EventSeries,
    MicroTime,
    ObjectMeta,
    ObjectReference,
    Time,
)
from kubevents_testenv import LocalCluster

pytestmark = pytest.mark.cluster


def core_event(namespace: str, name: str, *, obj: str = "web-0", message: str = "m") -> Event:
    now = Time.of(datetime.now(UTC))
    return Event(
        metadata=ObjectMeta(name=name, namespace=namespace, annotations={"b": "2", "a": "<&>"}),
        involved_object=ObjectReference(
            kind="Pod",
            namespace=namespace,
            name=obj,
            uid="uid-" + obj,
            api_version="v1",
            resource_version="1",
            field_path="spec.containers{web}",
        ),
        reason="BackOff",
        message=message,
        source=EventSource(component="kubevents-test", host="node-1"),
        first_timestamp=now,
        last_timestamp=now,
        count=1,
        type="Warning",
        reporting_controller="kubevents-test",
        reporting_instance="node-1",
    )


def v1_event(namespace: str, name: str) -> EventsV1Event:
    return EventsV1Event(
        metadata=ObjectMeta(name=name, namespace=namespace),
        event_time=MicroTime.of(datetime.now(UTC)),
        reporting_controller="kubevents.io/test",
        reporting_instance="kubevents.io/test-host",
        action="Scheduling",
        reason="FailedScheduling",
        regarding=ObjectReference(kind="Pod", namespace=namespace, name="web-0", api_version="v1"),
        related=ObjectReference(kind="Node", name="node-1", api_version="v1"),
        note="0/3 nodes are available",
        type="Warning",
    )


async def test_create_get_patch_update_delete_core(kube: KubeClient, namespace: str) -> None:
    created = await kube.events.create(core_event(namespace, "web-0.1"))
    assert created.uid and created.resource_version
    assert created.count == 1 and created.metadata.annotations == {"a": "<&>", "b": "2"}
    assert await kube.events.get(namespace, "web-0.1") == created

    # The recorder's patch body: strategic merge of count, lastTimestamp and message.
    patched = await kube.events.patch(
        namespace,
        "web-0.1",
        b'{"count":2,"lastTimestamp":"2030-01-01T00:00:07Z","message":"again"}',
    )
    assert (patched.count, patched.message) == (2, "again")
    assert patched.last_timestamp == datetime(2030, 1, 1, 0, 0, 7, tzinfo=UTC)
    assert patched.first_timestamp == created.first_timestamp
    assert int(patched.resource_version) > int(created.resource_version)

    patched.reason = "Updated"
    updated = await kube.events.update(patched)
    assert updated.reason == "Updated" and updated.count == 2

    await kube.events.delete(namespace, "web-0.1")
    with pytest.raises(StatusError) as info:
        await kube.events.get(namespace, "web-0.1")
    assert (info.value.code, info.value.reason) == (404, "NotFound")


async def test_events_v1_create_patch_and_core_view(kube: KubeClient, namespace: str) -> None:
    created = await kube.events_v1.create(v1_event(namespace, "web-0.v1"))
    assert created.api_version == "events.k8s.io/v1" and created.series is None
    series = EventsV1EventSeries(count=2, last_observed_time=MicroTime.of(datetime.now(UTC)))
    patch = {"series": series.to_dict()}
    patched = await kube.events_v1.patch(namespace, "web-0.v1", patch)
    assert patched.series is not None and patched.series.count == 2

    # The server's own conversion to core/v1 matches kubevents.model.to_core.
    from kubevents.model import to_core

    as_core = await kube.events.get(namespace, "web-0.v1")
    assert as_core.message == "0/3 nodes are available"
    assert as_core.series is not None and as_core.series.count == 2
    assert as_core.to_json() == to_core(patched).to_json()


async def test_server_objects_round_trip_byte_for_byte(kube: KubeClient, namespace: str) -> None:
    await kube.events.create(core_event(namespace, "raw.core", message="<html> & 'quotes' ünï"))
    await kube.events_v1.create(v1_event(namespace, "raw.v1"))
    for api, model, name in (
        ("/api/v1", Event, "raw.core"),
        ("/apis/events.k8s.io/v1", EventsV1Event, "raw.v1"),
        ("/api/v1", Event, "raw.v1"),
        ("/apis/events.k8s.io/v1", EventsV1Event, "raw.core"),
    ):
        raw = await kube._transport.request("GET", f"{api}/namespaces/{namespace}/events/{name}")
        raw = raw.rstrip(b"\n")
        decoded = model.from_json(raw)
        assert decoded.to_json() == raw, (api, name)
        assert model.from_dict(json.loads(raw)).to_json() == raw, (api, name)


async def test_paged_list(kube: KubeClient, namespace: str) -> None:
    for i in range(7):
        await kube.events.create(core_event(namespace, f"page.{i}"))
    pages = [page async for page in kube.events.list_pages(namespace, limit=3)]
    assert [len(p.items) for p in pages] == [3, 3, 1]
    assert all(p.continue_token for p in pages[:-1]) and not pages[-1].continue_token
    names = [e.name for p in pages for e in p.items]
    assert names == sorted(f"page.{i}" for i in range(7))
    assert pages[0].raw_items[0].startswith(b"{")

    selected = await kube.events.list(namespace, field_selector="metadata.name=page.4")
    assert [e.name for e in selected.items] == ["page.4"]
    everywhere = await kube.events.list(None, field_selector=f"metadata.namespace={namespace}")
    assert len(everywhere.items) == 7


async def test_watch_resumes_from_resource_version(kube: KubeClient, namespace: str) -> None:
    await kube.events.create(core_event(namespace, "w.0"))
    start_rv = (await kube.events.list(namespace)).resource_version
    await kube.events.create(core_event(namespace, "w.1"))
    await kube.events.patch(namespace, "w.1", {"count": 2})
    await kube.events.create(core_event(namespace, "w.2"))

    seen: list[tuple[str, str, int]] = []
    async with await kube.events.watch(
        namespace, resource_version=start_rv, timeout_seconds=30
    ) as stream:
        async for ev in stream:
            assert ev.object is not None
            seen.append((ev.type, ev.object.name, ev.object.count))
            if len(seen) == 1:
                after_first = stream.resource_version
            if len(seen) == 3:
                break
    assert seen == [(ADDED, "w.1", 1), (MODIFIED, "w.1", 2), (ADDED, "w.2", 1)]

    # Resuming from the first notification's resourceVersion replays exactly what followed.
    async with await kube.events.watch(
        namespace, resource_version=after_first, timeout_seconds=30
    ) as stream:
        resumed = []
        async for ev in stream:
            assert ev.object is not None
            resumed.append((ev.type, ev.object.name))
            if len(resumed) == 2:
                break
    assert resumed == [(MODIFIED, "w.1"), (ADDED, "w.2")]


async def test_watch_sees_live_changes(kube: KubeClient, namespace: str) -> None:
    rv = (await kube.events.list(namespace)).resource_version
    stream = await kube.events.watch(namespace, resource_version=rv, timeout_seconds=30)
    await kube.events.create(core_event(namespace, "live.0"))
    async with stream:
        first = await asyncio.wait_for(anext(aiter(stream)), timeout=30)
    assert first.type == ADDED and first.object is not None and first.object.name == "live.0"
    assert first.raw.startswith(b"{") and json.loads(first.raw)["metadata"]["name"] == "live.0"


async def test_compaction_makes_old_resource_versions_gone(
    local_cluster: LocalCluster, kube: KubeClient, namespace: str
) -> None:
    old_rv = (await kube.events.list(namespace)).resource_version
    for i in range(3):
        await kube.events.create(core_event(namespace, f"gone.{i}"))
    local_cluster.compact_etcd()
    stream = await kube.events.watch(namespace, resource_version=old_rv, timeout_seconds=30)
    with pytest.raises(GoneError) as info:
        await anext(aiter(stream))
    stream.close()
    assert info.value.code == 410


async def test_limited_identity_can_record_but_not_delete(
    kube_limited: KubeClient, namespace: str
) -> None:
    created = await kube_limited.events.create(core_event(namespace, "limited.0"))
    patched = await kube_limited.events.patch(namespace, created.name, {"count": 2})
    assert patched.count == 2
    assert (await kube_limited.events.list(namespace)).items
    with pytest.raises(StatusError) as info:
        await kube_limited.events.delete(namespace, created.name)
    assert (info.value.code, info.value.reason) == (403, "Forbidden")


async def test_has_api(kube: KubeClient) -> None:
    assert await kube.has_api("events.k8s.io/v1")
    assert await kube.has_api("v1")
    assert not await kube.has_api("events.k8s.io/v1beta1")


async def test_streaming_list_ends_with_the_initial_events_bookmark(
    local_cluster_watch_cache: LocalCluster,
) -> None:
    async with await KubeClient.connect(local_cluster_watch_cache.kubeconfig) as kube:
        namespace = f"t-{uuid.uuid4().hex[:10]}"
        await kube.ensure_namespace(namespace)
        for i in range(3):
            await kube.events.create(core_event(namespace, f"bm.{i}"))
        stream = await kube.events.watch(namespace, send_initial_events=True, timeout_seconds=30)
        async with stream:
            seen = []
            async for change in stream:
                seen.append(change.type)
                if change.type == BOOKMARK:
                    break
        assert seen == [ADDED, ADDED, ADDED, BOOKMARK]
        assert change.is_initial_events_end and change.object is None
        # The bookmark's resourceVersion is where a resumed watch continues.
        assert stream.resource_version == change.resource_version != ""
