"""The Elasticsearch sink on a real Elasticsearch 8.15 node started from Maven Central jars.

The node (``kubevents_testenv.ElasticsearchNode``) runs Elastic's server jar with the netty4
HTTP module and no other module: ``GET /`` (module rest-root), the ``_data_stream`` APIs
(data-streams) and ILM (x-pack-ilm) are absent because those artifacts are not on Maven Central
(docs/sinks/elasticsearch.md). The sink is told the product and version, as for Amazon
OpenSearch Serverless, and its ``flattened`` labels, templates, data stream writes and dead
letters meet the real engine.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from kubevents.export.sinks.elasticsearch import ElasticsearchSink
from kubevents_testenv import ELASTICSEARCH_NODE_VERSION, ElasticsearchNode

from .test_elasticsearch_sink import BASE, call, documents, http, occ, prefix, write_all

__all__ = ["http", "prefix"]  # fixtures, imported for pytest


@pytest.fixture(scope="module")
def es8() -> Iterator[ElasticsearchNode]:
    with ElasticsearchNode() as node:
        yield node


def sink_on(node: ElasticsearchNode, prefix: str, **options: Any) -> ElasticsearchSink:
    options.setdefault("retry_initial_delay", 0.01)
    return ElasticsearchSink(
        [node.url], name="search", index=prefix, product="elasticsearch",
        version=ELASTICSEARCH_NODE_VERSION, **options,
    )  # fmt: skip


async def test_features_and_the_flattened_template(
    es8: ElasticsearchNode, prefix: str, http: aiohttp.ClientSession
) -> None:
    sink = sink_on(es8, prefix)
    await sink.start()
    await sink.close()
    assert sink.engine is not None
    assert sink.engine.flat_type == "flattened" and sink.flat_maps
    assert sink.engine.data_streams
    assert sink.lifecycle_status == "unavailable"  # no x-pack-ilm on Maven Central
    assert sink.installed == ["template"]
    status, got = await call(http, es8.url, "GET", f"/_index_template/{prefix}")
    assert status == 200, got
    mappings = got["index_templates"][0]["index_template"]["template"]["mappings"]
    assert mappings["properties"]["labels"]["type"] == "flattened"
    assert mappings["properties"]["annotations"]["type"] == "flattened"
    again = sink_on(es8, prefix)
    await again.start()
    await again.close()
    assert again.installed == []  # idempotent


async def test_dotted_labels_are_flattened_and_never_conflict(
    es8: ElasticsearchNode, prefix: str, http: aiohttp.ClientSession
) -> None:
    dotted = {"app.kubernetes.io/name": "web"}
    occurrences = [
        occ("plain", labels={"app": "web"}),
        occ("dotted", labels=dotted),
        occ("both", labels={"app": "web", **dotted}),
    ]
    sink = sink_on(es8, prefix)
    await sink.start()
    assert await write_all(sink, occurrences) == []
    await sink.close()
    assert set(await documents(http, es8.url, f"{prefix}-*")) == {"plain:1", "dotted:1", "both:1"}
    for field, expected in (
        ("labels.app", {"plain:1", "both:1"}),
        ("labels.app.kubernetes.io/name", {"dotted:1", "both:1"}),
    ):
        status, found = await call(
            http, es8.url, "POST", f"/{prefix}-*/_search",
            {"query": {"term": {field: "web"}}, "_source": False},
        )  # fmt: skip
        assert status == 200, found
        assert {hit["_id"] for hit in found["hits"]["hits"]} == expected, field


async def test_a_conflicting_document_is_rejected_alone(
    es8: ElasticsearchNode, prefix: str, http: aiohttp.ClientSession
) -> None:
    day = f"{prefix}-{BASE:%Y.%m.%d}"
    status, body = await call(
        http, es8.url, "PUT", f"/{day}", {"mappings": {"properties": {"message": {"type": "long"}}}}
    )
    assert status == 200, body
    sink = sink_on(es8, prefix)
    await sink.start()
    result = await sink.write([occ("bad"), occ("ok", when=BASE + timedelta(days=1))])
    await sink.close()
    assert [(r.occurrence.id, r.reason) for r in result.rejected] == [
        ("bad:1", "document_parsing_exception")
    ]
    assert set(await documents(http, es8.url, f"{prefix}-*")) == {"ok:1"}


async def test_data_stream_mode(
    es8: ElasticsearchNode, prefix: str, http: aiohttp.ClientSession
) -> None:
    sink = sink_on(es8, prefix, mode="data_stream")
    await sink.start()
    occurrences = [occ(f"d{i}", when=BASE - timedelta(days=i)) for i in range(4)]
    assert await write_all(sink, occurrences) == []
    assert await write_all(sink, occurrences) == []  # replayed: 409s, stored once
    await sink.close()
    assert sink.duplicates == 4
    stored = await documents(http, es8.url, prefix)
    assert set(stored) == {o.id for o in occurrences}
    assert all(d["index"].startswith(f".ds-{prefix}-") for d in stored.values())
