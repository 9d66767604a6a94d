"""A real kopf operator against the real apiserver, its handler failing repeatedly: posted by
kopf itself, then through ``kubevents.kopf``, watched through the API.

kopf creates one Event per posting. kubevents.kopf must show the same Events (type, reason,
message, object; kopf's "Error" type as Warning) with client-go's counts: the creates and
patches that client-go's correlator (``kubevents.record``'s, checked against client-go by the
parity harness) makes of the very trace kopf posted.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import pytest

from kubevents.kube import ADDED, MODIFIED, KubeClient
from kubevents.model import Event, EventSource, ObjectMeta, ObjectReference
from kubevents.record import EventCorrelator
from kubevents_testenv import LocalCluster
from support import eventually

from .support import admin

pytestmark = pytest.mark.cluster

OPERATOR = Path(__file__).with_name("widget_operator.py")
FAILURES = 6
GROUP = "kubevents.test"
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"widgets.{GROUP}"},
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
        "versions": [{
            "name": "v1", "served": True, "storage": True,
            "schema": {"openAPIV3Schema": {"type": "object",
                                           "x-kubernetes-preserve-unknown-fields": True}},
        }],
    },
}  # fmt: skip

# One user-visible Event: type (kopf's Error shown as Warning), reason, message, object name.
Key = tuple[str, str, str, str]


@pytest.fixture(scope="module")
def widgets(local_cluster: LocalCluster) -> str:
    path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.{GROUP}"
    try:
        admin(local_cluster, "GET", path)
    except AssertionError:
        admin(local_cluster, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", CRD)
    return path


class EventLog:
    """Every write to the namespace's Events, from a watch opened before the operator ran."""

    def __init__(self) -> None:
        self.writes: list[tuple[str, Event]] = []

    def verbs(self) -> Counter[str]:
        return Counter(verb for verb, _ in self.writes)

    def latest(self) -> dict[str, Event]:
        return {event.metadata.name: event for _, event in self.writes}

    def totals(self) -> Counter[Key]:
        """Occurrences per user-visible Event: the sum of the final counts (kopf sends none:
        the server keeps 0, which readers show as one occurrence)."""
        totals: Counter[Key] = Counter()
        for event in self.latest().values():
            totals[visible(event)] += event.count or 1
        return totals


def visible(event: Event) -> Key:
    kind = "Warning" if event.type == "Error" else event.type
    return kind, event.reason, event.message, event.involved_object.name


@asynccontextmanager
async def watched(kube: KubeClient, namespace: str) -> AsyncIterator[EventLog]:
    log = EventLog()
    page = await kube.events.list(namespace)

    async def follow() -> None:
        async with await kube.events.watch(namespace, resource_version=page.resource_version) as w:
            async for change in w:
                if change.type in (ADDED, MODIFIED) and change.object is not None:
                    log.writes.append((change.type, change.object))

    task = asyncio.create_task(follow())
    try:
        yield log
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@contextmanager
def operator(cluster: LocalCluster, namespace: str, posting: str, out: Path) -> Iterator[None]:
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig), "WIDGET_POSTING": posting,
           "WIDGET_FAILURES": str(FAILURES)}  # fmt: skip
    with out.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kopf", "run", "--standalone", "--namespace", namespace,
             str(OPERATOR)],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip
    try:
        yield
    finally:
        # SIGINT: kopf stops its watches and runs the cleanup handlers (kubevents.kopf flushes).
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired as exc:
            proc.kill()
            proc.wait(10)
            raise AssertionError(f"kopf did not stop:\n{out.read_text()[-3000:]}") from exc


@asynccontextmanager
async def run_widget(
    cluster: LocalCluster, kube: KubeClient, posting: str, tmp_path: Path
) -> AsyncIterator[EventLog]:
    """Create one widget under an operator posting with ``posting``, until kopf has processed
    it and stopped; the Events' writes, still watched."""
    namespace = f"widgets-{posting}-{os.urandom(3).hex()}"
    assert await kube.ensure_namespace(namespace)
    out = tmp_path / f"kopf-{posting}.log"
    async with watched(kube, namespace) as log:
        with operator(cluster, namespace, posting, out):
            body = {"apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": "w"}}
            admin(cluster, "POST", f"/apis/{GROUP}/v1/namespaces/{namespace}/widgets", body)

            def processed() -> bool:
                # kopf's last posting for the widget; kopf drops what is queued when it stops.
                messages = {event.message for event in log.latest().values()}
                return "Creation is processed: 1 succeeded; 0 failed." in messages

            await eventually(processed, f"the widget processed ({out})", within=120, interval=0.2)
        yield log


def client_go_writes(trace: list[Key], source: EventSource) -> Counter[str]:
    """The creates and patches client-go's correlator makes of ``trace``, each write answered
    as the server answers it."""
    correlator = EventCorrelator()
    writes: Counter[str] = Counter()
    for n, (type_, reason, message, name) in enumerate(trace):
        made = Event(
            metadata=ObjectMeta(name=f"{name}.{n:x}", namespace="ns"),
            involved_object=ObjectReference(kind="Widget", api_version=f"{GROUP}/v1",
                                            name=name, namespace="ns", uid="uid"),
            reason=reason, message=message, type=type_, source=source, count=1,
        )  # fmt: skip
        result = correlator.correlate(made)
        if result.skip:
            continue
        assert result.event is not None
        writes[ADDED if result.event.count == 1 else MODIFIED] += 1
        correlator.update_state(result.event)
    return writes


async def test_kubevents_kopf_posts_kopfs_events_with_client_gos_counts(
    widgets: str, local_cluster: LocalCluster, kube: KubeClient, tmp_path: Path
) -> None:
    async with run_widget(local_cluster, kube, "kopf", tmp_path) as by_kopf:
        pass
    # kopf: one create per posting, nothing patched.
    failures = ("Warning", "SyncFailed", "backend unreachable", "w")
    assert by_kopf.totals()[failures] == FAILURES
    assert by_kopf.verbs() == {ADDED: len(by_kopf.latest())}
    assert {event.count for event in by_kopf.latest().values()} <= {0, 1}

    async with run_widget(local_cluster, kube, "kubevents", tmp_path) as by_kubevents:
        # The same Events, as many occurrences of each (the last writes may still be arriving).
        await eventually(
            lambda: by_kubevents.totals() == by_kopf.totals(),
            "kubevents.kopf's counts to reach kopf's totals",
            within=30,
        )
    # ... written as client-go writes the trace kopf posted (in kopf's order of creation).
    trace = [visible(event) for verb, event in by_kopf.writes if verb == ADDED]
    (source,) = {(e.source.component, e.source.host) for e in by_kubevents.latest().values()}
    assert source == ("kopf", "dev")  # kopf's reporting component and instance
    assert by_kubevents.verbs() == client_go_writes(trace, EventSource(*source))
    assert by_kubevents.verbs()[MODIFIED] >= 2 * (FAILURES - 1)
    stored = {visible(event): event.count for event in by_kubevents.latest().values()}
    assert stored[failures] == FAILURES
