"""``BroadcasterCollector``: both recorders write to the real apiserver, and a Prometheus
registry of the test's own is scraped over HTTP."""

from __future__ import annotations

import urllib.request

import pytest
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.parser import text_string_to_metric_families

from kubevents import events, record
from kubevents.kube import KubeClient
from kubevents.model import EventSource

pytestmark = pytest.mark.cluster


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_both_recorders_scraped_from_a_users_registry(
    kube: KubeClient, namespace: str
) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "web-0", "namespace": namespace, "uid": "7c1d"}}  # fmt: skip
    registry = CollectorRegistry()
    collector = record.BroadcasterCollector(registry=registry)
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    try:
        async with (
            record.EventBroadcaster() as legacy,
            events.EventBroadcaster(events.KubeEventSink(kube)) as new,
        ):
            collector.add(legacy, "legacy")
            collector.add(new, "new")
            legacy.start_recording_to_sink(record.KubeEventSink(kube))
            new.start_recording_to_sink()
            recorder = legacy.new_recorder(EventSource(component="metrics-test"))
            recorder_v1 = new.new_recorder("kubevents.io/metrics-test")
            for _ in range(3):
                recorder.event(pod, "Warning", "BackOff", "restarting")
                recorder_v1.eventf(pod, None, "Warning", "BackOff", "Restart", "restarting")
            recorder.event(pod, "Bogus", "BackOff", "refused: not Normal/Warning")
            assert await legacy.aflush(60)
            assert await new.aflush(60)
            got = scrape(server.server_port)
    finally:
        server.shutdown()
        thread.join(10)

    def value(name: str, broadcaster: str, **labels: str) -> float:
        key = tuple(sorted({"broadcaster": broadcaster, **labels}.items()))
        return got[(name, key)]

    # core/v1: a create, then a patch per repeat (count 2, 3); events.k8s.io/v1: a create and
    # the series patch of the 2nd occurrence, the 3rd only counted in memory.
    assert value("kubevents_recorder_events_recorded_total", "legacy") == 3
    assert value("kubevents_recorder_events_invalid_total", "legacy") == 1
    assert value("kubevents_recorder_api_writes_total", "legacy", verb="create") == 1
    assert value("kubevents_recorder_api_writes_total", "legacy", verb="patch") == 2
    assert value("kubevents_recorder_sink_events_total", "legacy", outcome="written") == 3
    assert value("kubevents_recorder_events_recorded_total", "new") == 3
    assert value("kubevents_recorder_api_writes_total", "new", verb="create") == 1
    assert value("kubevents_recorder_api_writes_total", "new", verb="patch") == 1
    assert value("kubevents_recorder_sink_events_total", "new", outcome="series") == 1
    for broadcaster in ("legacy", "new"):
        assert value("kubevents_recorder_queued_events", broadcaster) == 0
        for reason in ("queue_full", "after_shutdown", "watcher_full", "at_shutdown"):
            assert value("kubevents_recorder_events_dropped_total", broadcaster, reason=reason) == 0
    # What the collector reported is what the API holds.
    listed = (await kube.events.list(namespace)).items
    stored = {e.reporting_controller: e.series.count if e.series else e.count for e in listed}
    assert stored == {"metrics-test": 3, "kubevents.io/metrics-test": 2}


def test_a_second_broadcaster_needs_its_own_name() -> None:
    collector = record.BroadcasterCollector()
    with record.EventBroadcaster() as broadcaster:
        collector.add(broadcaster, "a")
        with pytest.raises(ValueError, match="'a' is already collected"):
            collector.add(broadcaster, "a")
