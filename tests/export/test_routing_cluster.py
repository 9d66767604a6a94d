"""Per-sink routing on the real apiserver: Warnings to a webhook, everything to SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubevents.export import Exporter
from kubevents.kube import KubeClient
from kubevents_testenv import LocalCluster
from kubevents_testenv.workload import record_workload

from .cluster_support import running, sqlite_and_webhook, stored_ids, wait_for
from .webhook_receiver import Receiver

pytestmark = pytest.mark.cluster


async def server_events(kube: KubeClient, namespace: str) -> dict[str, tuple[str, int]]:
    """uid -> (type, count) of every Event in ``namespace``."""
    events: dict[str, tuple[str, int]] = {}
    async for page in kube.events.list_pages(namespace, limit=500):
        for event in page.items:
            events[event.uid] = (event.type, event.count or 1)
    return events


async def test_two_sinks_with_different_rules_each_get_their_subset(
    local_cluster: LocalCluster, kube: KubeClient, namespace: str, tmp_path: Path
) -> None:
    receiver = Receiver()
    await receiver.up()
    rules = {
        "match": [{"type": "Warning"}],
        "drop": [{"name": "no-scheduling", "reason": "FailedScheduling"}],
    }
    cfg, db = sqlite_and_webhook(tmp_path, namespace, receiver.url, rules=rules)
    exporter = Exporter(cfg, client=kube)
    async with running(exporter):
        await wait_for(lambda: exporter.health().ready, "the initial list")
        await record_workload(kube, namespace)
        server = await server_events(kube, namespace)
        finals = {f"{uid}:{count}" for uid, (_, count) in server.items()}
        await wait_for(lambda: finals <= set(stored_ids(db)), "SQLite to store every final count")
        stored = set(stored_ids(db))
        # The webhook's subset: Warnings except FailedScheduling, every occurrence of them.
        routed = {
            occurrence_id
            for occurrence_id in stored
            if (uid := occurrence_id.rpartition(":")[0]) in server and server[uid][0] == "Warning"
        }
        await wait_for(lambda: len(receiver.ids) >= 6, "the webhook deliveries")
        await wait_for(
            lambda: exporter.pipeline is not None and exporter.pipeline.settled(),
            "every sink to acknowledge",
        )
        metrics = exporter.metrics
    delivered = set(receiver.ids)
    assert all(receiver.documents[i]["type"] == "Warning" for i in delivered)
    assert all(receiver.documents[i]["reason"] == "BackOff" for i in delivered)
    assert delivered < routed  # a proper subset: FailedScheduling is routed away
    backoff_uid = {receiver.documents[i]["uid"] for i in delivered}
    assert len(backoff_uid) == 1
    (uid,) = backoff_uid
    assert delivered == {f"{uid}:{n}" for n in range(1, server[uid][1] + 1)}
    assert server[uid][1] == 6  # the worker's crash loop, every count delivered
    assert all(count == 1 for count in receiver.ids.values())
    normal = sum(1 for kind, _ in server.values() if kind == "Normal")
    assert normal == 9
    filtered = metrics.sink_filtered
    assert filtered.labels("alerts", "no_match")._value.get() == normal
    assert filtered.labels("alerts", "no-scheduling")._value.get() == len(routed) - 6
    assert len(stored) == len(stored_ids(db))  # no duplicates in SQLite
