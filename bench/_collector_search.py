"""kubevents vs the OpenTelemetry collector into Elasticsearch 8.15.

The collector's ``elasticsearch`` exporter (contrib v0.111.0, go-elasticsearch v7.17) asks
``GET /`` before it sends anything and refuses OpenSearch and Elasticsearch 7.10 OSS (the product
check). The test environment's Elasticsearch 8.15 node, started with ``main_info`` (a ``GET /`` of
ours: the distribution's ``rest-root`` module is not on Maven Central), is a default-distribution
server it accepts. On that node, with the same Events: ``kubevents export`` → its elasticsearch
sink (every default, the engine detected through the same ``GET /``) vs ``k8sobjects`` → ``batch``
→ ``elasticsearch`` (``bench/_otelcol.py``), backfill in pull mode and burst in watch mode, as
into a file (``bench/_collector_race.py``). Documents are counted with ``_refresh`` +
``_count``, and afterwards every document's Event uid is read back (scroll) and audited.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bench._collector_race import Records, event_uids, race
from bench._exporter_support import MeasuredProcess, kubevents_export
from bench._otelcol import collector, elasticsearch_exporter
from bench._record_stores import IndexRecords

from kubevents_testenv import ElasticsearchNode, LocalCluster

__all__ = ["search_race"]


def search_race(
    cluster: LocalCluster,
    node: ElasticsearchNode,
    workdir: Path,
    burst: int,
    first: int,
    repeats: int,
) -> dict[str, Any]:
    """Backfill and burst into ``node``, each ``repeats`` times; the seeded Events must exist."""
    expected = asyncio.run(event_uids(cluster, None))

    def kubevents(name: str, namespace: str | None, mode: str) -> tuple[MeasuredProcess, Records]:
        sink = {"type": "elasticsearch", "hosts": [node.url], "index": name}
        process, _ = kubevents_export(cluster, workdir, name, sink, namespace)
        return process, IndexRecords(node.url, f"{name}-*")  # daily indices <name>-YYYY.MM.DD

    def otel(name: str, namespace: str | None, mode: str) -> tuple[MeasuredProcess, Records]:
        exporter = elasticsearch_exporter(node.url, name)
        process = collector(cluster, workdir, name, exporter, mode=mode, namespace=namespace)
        return process, IndexRecords(node.url, name)

    out = race(
        cluster, expected, {"kubevents": kubevents, "otelcol": otel}, tag="es",
        burst=burst, first=first, repeats=repeats,
    )  # fmt: skip
    out["engine"] = f"elasticsearch {node.version}"
    return out
