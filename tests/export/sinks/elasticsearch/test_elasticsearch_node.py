"""What only Elasticsearch 8 and 9 have, on real nodes started from Maven Central jars.

The nodes (``kubevents_testenv.ElasticsearchNode``, 8.15.0 and 9.1.0) run Elastic's server jar
with the netty4 HTTP module and no other module. The rest of the sink's real-engine suite runs
on them too (``engine`` in ``test_elasticsearch_sink.py``); here: the ``flattened`` template,
data stream mode, and ILM, which the nodes cannot have (docs/sinks/elasticsearch.md):
``GET /`` (module rest-root), the ``_data_stream`` APIs (data-streams) and ILM (x-pack-ilm) are
absent because those artifacts are not on Maven Central. The sink is told the product and
version, as for Amazon OpenSearch Serverless.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from kubevents.export.sinks.elasticsearch import ElasticsearchSink
from kubevents_testenv import (
    ELASTICSEARCH_NODE_VERSIONS,
    ElasticsearchNode,
    shared_elasticsearch_node,
)

from .test_elasticsearch_sink import BASE, call, documents, http, occ, prefix, write_all

__all__ = ["http", "prefix"]  # fixtures, imported for pytest


@pytest.fixture(scope="session", params=ELASTICSEARCH_NODE_VERSIONS)
def node(request: pytest.FixtureRequest) -> ElasticsearchNode:
    return shared_elasticsearch_node(request.param)


def sink_on(node: ElasticsearchNode, prefix: str, **options: Any) -> ElasticsearchSink:
    options = {"retry_initial_delay": 0.01, **node.sink_options, **options}
    return ElasticsearchSink([node.url], name="search", index=prefix, **options)


async def missing(http: aiohttp.ClientSession, node: ElasticsearchNode, path: str) -> bool:
    """Whether the node has no handler for ``GET path`` (its module is not on the classpath)."""
    status, _ = await call(http, node.url, "GET", path)
    return status in (400, 405)


async def test_features_and_the_flattened_template(
    node: ElasticsearchNode, prefix: str, http: aiohttp.ClientSession
) -> None:
    sink = sink_on(node, prefix)
    await sink.start()
    await sink.close()
    assert sink.engine is not None
    assert sink.engine.flat_type == "flattened" and sink.flat_maps
    assert sink.engine.data_streams
    status, got = await call(http, node.url, "GET", f"/_index_template/{prefix}")
    assert status == 200, got
    mappings = got["index_templates"][0]["index_template"]["template"]["mappings"]
    assert mappings["properties"]["labels"]["type"] == "flattened"
    assert mappings["properties"]["annotations"]["type"] == "flattened"
    again = sink_on(node, prefix)
    await again.start()
    await again.close()
    assert again.installed == []  # idempotent


async def test_without_ilm_retention_is_reported_unenforced(
    node: ElasticsearchNode, prefix: str, http: aiohttp.ClientSession
) -> None:
    assert await missing(http, node, "/_ilm/policy")
    sink = sink_on(node, prefix, retention_days=7)
    await sink.start()
    await sink.close()
    assert sink.lifecycle_status == "unavailable"
    assert sink.installed == ["template"]
    status, got = await call(http, node.url, "GET", f"/_index_template/{prefix}")
    assert status == 200, got
    settings = got["index_templates"][0]["index_template"]["template"].get("settings", {})
    assert "lifecycle" not in settings.get("index", {})  # no dangling policy name


async def test_ilm_policy_installation(
    node: ElasticsearchNode, http: aiohttp.ClientSession
) -> None:
    if await missing(http, node, "/_ilm/policy"):
        pytest.skip(
            f"ILM is Elasticsearch's module x-pack-ilm: org.elasticsearch.plugin:x-pack-ilm:"
            f"{node.version} is not on Maven Central (x-pack-core is, without ILM's actions)"
        )
    raise AssertionError("the node has ILM: write the real ILM installation test")


async def test_data_stream_mode(
    node: ElasticsearchNode, prefix: str, http: aiohttp.ClientSession
) -> None:
    sink = sink_on(node, prefix, mode="data_stream")
    await sink.start()
    occurrences = [occ(f"d{i}", when=BASE - timedelta(days=i)) for i in range(4)]
    assert await write_all(sink, occurrences) == []
    assert await write_all(sink, occurrences) == []  # replayed: 409s, stored once
    await sink.close()
    assert sink.duplicates == 4
    stored = await documents(http, node.url, prefix)
    assert set(stored) == {o.id for o in occurrences}
    assert all(d["index"].startswith(f".ds-{prefix}-") for d in stored.values())
    # The _data_stream APIs are the module data-streams (not on Maven Central): the stream
    # is seen through its backing index instead.
    status, backing = await call(http, node.url, "GET", f"/.ds-{prefix}-*/_settings")
    assert status == 200 and len(backing) == 1, backing
