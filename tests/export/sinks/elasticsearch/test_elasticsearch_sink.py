"""The Elasticsearch / OpenSearch sink against real engines (and a fault proxy in front of them).

``engine`` runs a test on OpenSearch 2.19, Elasticsearch 7.10.2 (OSS), 8.15 and 9.1 (the last
two without ``GET /``, so the sink is told product and version: ``engine.sink_options``); tests
that need one product's feature name it. Every test uses its own index prefix, so they share
engines.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest

from kubevents.export import (
    AckLog,
    BatchSettings,
    ConfigError,
    EventFields,
    EventTracker,
    ExportMetrics,
    Occurrence,
    Pipeline,
    TimeWindow,
    build_sink,
    load_export_config,
)
from kubevents.export.sinks import DeadLetterFile, SinkError
from kubevents.export.sinks.elasticsearch import ElasticsearchSink
from kubevents.export.sinks.elasticsearch._templates import ilm_policy, ism_policy, search_document
from kubevents.export.sinks.elasticsearch._transport import (
    AwsCredentials,
    AwsSigV4,
    SearchAuth,
    SearchError,
    sigv4_authorization,
)
from kubevents.model import Time
from kubevents_testenv import ElasticsearchNode, SearchEngine

from .._factory import make_event
from ..conftest import PKI, Engine, fault_proxy, server_context

BASE = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def occ(
    uid: str,
    *,
    when: datetime = BASE,
    count: int = 1,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    message: str = "Started container app",
) -> Occurrence:
    event = make_event(uid, count, message=message)
    event = msgspec.structs.replace(
        event,
        first_timestamp=Time.of(when),
        last_timestamp=Time.of(when),
        metadata=msgspec.structs.replace(event.metadata, labels=labels, annotations=annotations),
    )
    return Occurrence.of(EventFields.of(event), event.to_json(), "test-cluster")


def batch(n: int, prefix: str = "u", when: datetime = BASE) -> list[Occurrence]:
    return [occ(f"{prefix}{i}", when=when) for i in range(n)]


@pytest.fixture
def prefix() -> str:
    return f"kvt-{uuid.uuid4().hex[:12]}"


def make_sink(url: str, prefix: str, **options: Any) -> ElasticsearchSink:
    options.setdefault("retry_initial_delay", 0.01)
    return ElasticsearchSink([url], name="search", index=prefix, **options)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(
    http: aiohttp.ClientSession, url: str, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    async with http.request(method, url + path, json=body) as response:
        return response.status, await response.json(content_type=None)


async def documents(http: aiohttp.ClientSession, url: str, pattern: str) -> dict[str, Any]:
    """Every stored document under ``pattern``: _id -> {index, source}."""
    await call(http, url, "POST", f"/{pattern}/_refresh")
    status, found = await call(
        http, url, "POST", f"/{pattern}/_search", {"size": 10000, "query": {"match_all": {}}}
    )
    assert status == 200, found
    hits = found["hits"]["hits"]
    ids = [hit["_id"] for hit in hits]
    assert len(ids) == len(set(ids)), "an _id is stored twice"
    return {hit["_id"]: {"index": hit["_index"], "source": hit["_source"]} for hit in hits}


async def write_all(sink: ElasticsearchSink, occurrences: Sequence[Occurrence]) -> list[str]:
    result = await sink.write(occurrences)
    return [r.occurrence.id for r in result.rejected]


# -- detection, templates, lifecycle ----------------------------------------------------------


async def test_detects_product_version_and_features(engine: Engine, prefix: str) -> None:
    if isinstance(engine, ElasticsearchNode):
        pytest.skip(
            f"GET / is Elasticsearch's module rest-root: org.elasticsearch.plugin:rest-root:"
            f"{engine.version} is not on Maven Central, so the node cannot be detected"
        )
    sink = make_sink(engine.url, prefix)
    await sink.start()
    try:
        assert sink.engine is not None
        assert sink.engine.product == engine.product
        assert sink.engine.number == engine.info["version"]["number"]
        if engine.product == "opensearch":  # 2.19: flat_object and data streams, no ISM plugin
            assert sink.engine.flat_type == "flat_object" and sink.engine.data_streams
            assert sink.flat_maps
        else:  # 7.10.2 OSS: no x-pack at all
            assert sink.engine.flat_type is None and not sink.engine.data_streams
            assert not sink.flat_maps
        assert sink.engine.lifecycle is None
        assert sink.lifecycle_status == "unavailable"
    finally:
        await sink.close()


async def test_template_installation_is_idempotent(
    engine: Engine, prefix: str, http: aiohttp.ClientSession
) -> None:
    first = make_sink(engine.url, prefix, **engine.sink_options)
    await first.start()
    await first.close()
    assert first.installed == ["template"]
    status, got = await call(http, engine.url, "GET", f"/_index_template/{prefix}")
    assert status == 200
    template = got["index_templates"][0]["index_template"]
    assert template["index_patterns"] == [f"{prefix}-*"]
    assert template["_meta"]["managed_by"] == "kubevents"
    again = make_sink(engine.url, prefix, **engine.sink_options)
    await again.start()
    await again.close()
    assert again.installed == []  # nothing changed, nothing written
    status, unchanged = await call(http, engine.url, "GET", f"/_index_template/{prefix}")
    assert unchanged == got
    changed = make_sink(engine.url, prefix, replicas=0, **engine.sink_options)
    await changed.start()
    await changed.close()
    assert changed.installed == ["template"]


async def test_ism_policy_installation_is_idempotent(opensearch: SearchEngine, prefix: str) -> None:
    # The runner has no ISM plugin; the proxy plays its API (GET, PUT, if_seq_no) and
    # everything else, the template included, reaches the real OpenSearch.
    async with fault_proxy(opensearch.url) as proxy:
        proxy.ism = {}
        sinks = [make_sink(proxy.url, prefix, retention_days=days) for days in (7, 7, 14)]
        for sink in sinks:
            await sink.start()
            await sink.close()
    assert [s.lifecycle_status for s in sinks] == ["installed", "unchanged", "installed"]
    assert [s.installed for s in sinks] == [["ism", "template"], [], ["ism"]]
    policy, seq_no = proxy.ism[prefix]
    assert seq_no == 1  # created, then updated once with the seq_no it replaced
    assert policy["ism_template"] == [{"index_patterns": [f"{prefix}-*"], "priority": 100}]
    assert policy["states"][0]["transitions"][0]["conditions"] == {"min_index_age": "20160m"}


def test_lifecycle_policy_bodies() -> None:
    ilm = ilm_policy(retention_days=30, rollover=True, version=(8, 14, 1))["policy"]
    assert ilm["phases"]["delete"] == {"min_age": "43200m", "actions": {"delete": {}}}
    assert ilm["phases"]["hot"]["actions"]["rollover"] == {
        "max_age": "1d", "max_primary_shard_size": "50gb"
    }  # fmt: skip
    assert "fingerprint" in ilm["_meta"]
    old = ilm_policy(retention_days=30, rollover=True, version=(7, 10, 2))["policy"]
    assert "_meta" not in old and "max_size" in old["phases"]["hot"]["actions"]["rollover"]
    ism = ism_policy(retention_days=1.5, rollover=False, patterns=["x-*"])["policy"]
    assert ism["states"][0]["actions"] == []
    assert ism["states"][1]["actions"] == [{"delete": {}}]
    assert ism_policy(retention_days=1.5, rollover=False, patterns=["x-*"])["policy"] == ism


# -- documents ---------------------------------------------------------------------------------


async def test_index_names_follow_event_time_not_wall_clock(
    engine: Engine, prefix: str, http: aiohttp.ClientSession
) -> None:
    now = datetime.now(UTC)
    times = {"old": BASE, "d3": now - timedelta(days=3), "d10": now - timedelta(days=10)}
    sink = make_sink(engine.url, prefix, **engine.sink_options)
    await sink.start()
    assert await write_all(sink, [occ(uid, when=t) for uid, t in times.items()]) == []
    await sink.close()
    stored = await documents(http, engine.url, f"{prefix}-*")
    for uid, t in times.items():
        assert stored[f"{uid}:1"]["index"] == f"{prefix}-{t:%Y.%m.%d}"
        assert stored[f"{uid}:1"]["source"]["@timestamp"].startswith(f"{t:%Y-%m-%dT%H:%M:%S}")
    status, _ = await call(http, engine.url, "GET", f"/{prefix}-{now:%Y.%m.%d}")
    assert status == 404  # nothing was filed under today's date


async def test_attacker_dated_occurrences_go_to_todays_index_with_their_own_times(
    engine: Engine, prefix: str, http: aiohttp.ClientSession
) -> None:
    now = datetime.now(UTC)

    def dated(uid: str, when: datetime) -> Occurrence:
        # The Event's author chose its times; the API server created it just now.
        event = make_event(uid)
        event = msgspec.structs.replace(
            event,
            first_timestamp=Time.of(when),
            last_timestamp=Time.of(when),
            metadata=msgspec.structs.replace(event.metadata, creation_timestamp=Time.of(now)),
        )
        raw = event.to_json()
        return Occurrence.of(EventFields.from_json(raw), raw, "test-cluster", TimeWindow(), now)

    far = dated("far", datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC))
    ancient = dated("ancient", datetime(1, 1, 1, 0, 0, 1, tzinfo=UTC))
    sink = make_sink(engine.url, prefix, **engine.sink_options)
    await sink.start()
    assert await write_all(sink, [far, ancient]) == []
    await sink.close()
    stored = await documents(http, engine.url, f"{prefix}-*")
    for o, text in ((far, "9999-12-31T23:59:59"), (ancient, "0001-01-01T00:00:01")):
        assert stored[o.id]["index"] == f"{prefix}-{now:%Y.%m.%d}"
        source = stored[o.id]["source"]
        assert source["@timestamp"] == source["lastTimestamp"] == f"{text}.000000Z"
        assert source["event"]["lastTimestamp"] == f"{text}Z"


async def test_the_document_schema(
    engine: Engine, prefix: str, http: aiohttp.ClientSession
) -> None:
    o = occ("schema", labels={"team": "a"})
    sink = make_sink(engine.url, prefix, **engine.sink_options)
    await sink.start()
    assert await write_all(sink, [o]) == []
    await sink.close()
    source = (await documents(http, engine.url, f"{prefix}-*"))["schema:1"]["source"]
    assert list(source) == [
        "@timestamp", "id", "uid", "count", "cluster", "namespace", "name", "involvedObject",
        "type", "reason", "message", "source", "reportingController", "reportingInstance",
        "action", "firstTimestamp", "lastTimestamp", "eventTime", "resourceVersion", "labels",
        "event",
    ]  # fmt: skip
    assert source["@timestamp"] == "2024-05-01T12:00:00.000000Z"
    assert source["cluster"] == "test-cluster" and source["count"] == 1
    assert source["involvedObject"]["kind"] == "Pod"
    assert source["event"] == json.loads(o.raw)  # the server's Event, unchanged
    status, found = await call(
        http,
        engine.url,
        "POST",
        f"/{prefix}-*/_search",
        {
            "query": {
                "bool": {
                    "filter": [
                        {"term": {"reason": "Started"}},
                        {"term": {"involvedObject.kind": "Pod"}},
                        {"match": {"message": "container"}},
                    ]
                }
            }
        },
    )
    assert status == 200 and found["hits"]["total"]["value"] == 1


async def test_dotted_labels_and_annotations_never_conflict(
    engine: Engine, prefix: str, http: aiohttp.ClientSession
) -> None:
    dotted = {"app.kubernetes.io/name": "web", "app.kubernetes.io/part-of": "shop"}
    occurrences = [
        occ("plain", labels={"app": "web"}, annotations={"app": "x"}),
        occ("dotted", labels=dotted, annotations={"app.kubernetes.io/name": "y"}),
        occ("both", labels={"app": "web", **dotted}, annotations={"app": "x", **dotted}),
        occ("long", annotations={"big": "z" * 40_000}),  # over Lucene's term limit
    ]
    sink = make_sink(engine.url, prefix, **engine.sink_options)
    await sink.start()
    assert await write_all(sink, occurrences) == []
    await sink.close()
    assert len(await documents(http, engine.url, f"{prefix}-*")) == 4
    key = "app.kubernetes.io/name" if sink.flat_maps else "app_kubernetes_io/name"
    for field, value, expected in (
        ("labels.app", "web", {"plain:1", "both:1"}),
        (f"labels.{key}", "web", {"dotted:1", "both:1"}),
        (f"annotations.{key}", "y", {"dotted:1"}),
    ):
        status, found = await call(
            http,
            engine.url,
            "POST",
            f"/{prefix}-*/_search",
            {"query": {"term": {field: value}}, "_source": False},
        )
        assert status == 200, found
        assert {hit["_id"] for hit in found["hits"]["hits"]} == expected, field


async def test_a_conflicting_document_is_dead_lettered_and_counted(
    engine: Engine, prefix: str, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    # An index made by hand with a mapping that cannot take an event's message.
    day = f"{prefix}-{BASE:%Y.%m.%d}"
    mapping = {"mappings": {"properties": {"message": {"type": "long"}}}}
    status, body = await call(http, engine.url, "PUT", f"/{day}", mapping)
    assert status == 200, body
    occurrences = [*batch(3, "ok", when=BASE + timedelta(days=1)), occ("bad", when=BASE)]
    sink = make_sink(engine.url, prefix, **engine.sink_options)
    metrics = ExportMetrics()
    dead = tmp_path / "dead.jsonl"
    tracker = EventTracker()
    dead_letter = DeadLetterFile(dead)
    pipeline = Pipeline(
        [sink],
        tracker,
        AckLog("0"),
        metrics,
        BatchSettings(flush_delay=0.01),
        dead_letter=dead_letter,
    )
    await sink.start()
    await pipeline.start()
    try:
        for i, o in enumerate(occurrences):
            tracker.decide(o.uid, o.count)
            await pipeline.submit(o, str(i + 1))
        assert await pipeline.drain(30)
    finally:
        await pipeline.stop()
        await sink.close()
        dead_letter.close()
    letters = [json.loads(line) for line in dead.read_text().splitlines()]
    assert [(x["sink"], x["document"]["id"]) for x in letters] == [("search", "bad:1")]
    # Elasticsearch 8 renamed the error of a document that does not fit the mapping.
    es8 = isinstance(engine, ElasticsearchNode)
    assert letters[0]["reason"] == (
        "document_parsing_exception" if es8 else "mapper_parsing_exception"
    )
    value = metrics.registry.get_sample_value("kubevents_dead_letters_total", {"sink": "search"})
    assert value == 1
    assert set(await documents(http, engine.url, f"{prefix}-*")) == {"ok0:1", "ok1:1", "ok2:1"}


# -- write modes -------------------------------------------------------------------------------


async def test_a_409_on_create_counts_as_stored(
    engine: Engine, prefix: str, http: aiohttp.ClientSession
) -> None:
    sink = make_sink(engine.url, prefix, op_type="create", **engine.sink_options)
    await sink.start()
    occurrences = batch(5)
    assert await write_all(sink, occurrences) == []
    assert await write_all(sink, [*occurrences, occ("new")]) == []  # a replay plus one new
    await sink.close()
    assert sink.duplicates == 5
    assert len(await documents(http, engine.url, f"{prefix}-*")) == 6


async def test_data_stream_mode(
    opensearch: SearchEngine, prefix: str, http: aiohttp.ClientSession
) -> None:
    sink = make_sink(opensearch.url, prefix, mode="data_stream")
    await sink.start()
    assert sink.op_type == "create"
    occurrences = [occ(f"d{i}", when=BASE - timedelta(days=i)) for i in range(4)]
    assert await write_all(sink, occurrences) == []
    assert await write_all(sink, occurrences) == []  # replayed: 409s, stored once
    await sink.close()
    assert sink.duplicates == 4
    stored = await documents(http, opensearch.url, prefix)
    assert set(stored) == {o.id for o in occurrences}
    assert all(d["index"].startswith(f".ds-{prefix}-") for d in stored.values())
    status, streams = await call(http, opensearch.url, "GET", f"/_data_stream/{prefix}")
    assert status == 200 and streams["data_streams"][0]["name"] == prefix


async def test_data_stream_mode_without_data_streams_fails_at_start(
    elasticsearch: SearchEngine, prefix: str
) -> None:
    sink = make_sink(elasticsearch.url, prefix, mode="data_stream")
    with pytest.raises(SinkError) as caught:
        await sink.start()
    await sink.close()
    assert caught.value.reason == "config" and "data streams" in str(caught.value)


# -- failures and retries ----------------------------------------------------------------------


async def test_429_and_5xx_items_are_sent_again_alone(
    engine: Engine, prefix: str, http: aiohttp.ClientSession
) -> None:
    occurrences = batch(6)
    async with fault_proxy(engine.url) as proxy:
        proxy.item_faults.extend([
            lambda ids: {ids[1]: 429, ids[4]: 503},
            lambda ids: {ids[0]: 500},  # the second attempt carries only the two failed ones
        ])  # fmt: skip
        sink = make_sink(proxy.url, prefix, **engine.sink_options)
        await sink.start()
        assert await write_all(sink, occurrences) == []
        await sink.close()
    assert [b.ids for b in proxy.bulks()] == [
        [o.id for o in occurrences], ["u1:1", "u4:1"], ["u1:1"]
    ]  # fmt: skip
    assert set(await documents(http, engine.url, f"{prefix}-*")) == {o.id for o in occurrences}


async def test_items_still_failing_raise_and_the_retry_skips_what_is_stored(
    opensearch: SearchEngine, prefix: str, http: aiohttp.ClientSession
) -> None:
    occurrences = batch(4)
    async with fault_proxy(opensearch.url) as proxy:
        proxy.item_faults.extend([lambda ids: {ids[-1]: 429}] * 3)
        sink = make_sink(proxy.url, prefix, item_retries=2)
        await sink.start()
        with pytest.raises(SearchError) as caught:
            await sink.write(occurrences)
        assert caught.value.reason == "item_429"
        # The pipeline retries the whole batch; only the unstored occurrence goes out again.
        assert await write_all(sink, occurrences) == []
        await sink.close()
    assert [b.ids for b in proxy.bulks()] == [
        [o.id for o in occurrences], ["u3:1"], ["u3:1"], ["u3:1"]
    ]  # fmt: skip
    assert set(await documents(http, opensearch.url, f"{prefix}-*")) == {o.id for o in occurrences}


@pytest.mark.parametrize("status", [429, 500, 401, 403])
async def test_a_whole_request_error_is_retryable_never_a_rejection(
    opensearch: SearchEngine, prefix: str, status: int
) -> None:
    async with fault_proxy(opensearch.url) as proxy:
        sink = make_sink(proxy.url, prefix)
        await sink.start()
        proxy.statuses.append(status)
        with pytest.raises(SearchError) as caught:
            await sink.write(batch(2))
        assert caught.value.reason == f"http_{status}"
        assert await write_all(sink, batch(2)) == []
        await sink.close()


async def test_a_failing_host_fails_over_to_the_next(
    opensearch: SearchEngine, prefix: str, http: aiohttp.ClientSession
) -> None:
    async with fault_proxy(opensearch.url) as down, fault_proxy(opensearch.url) as up:
        down.statuses.extend([503] * 10)
        sink = ElasticsearchSink(
            ["http://127.0.0.1:9", down.url, up.url], index=prefix, retry_initial_delay=0.01
        )
        await sink.start()
        assert await write_all(sink, batch(3)) == []
        assert await write_all(sink, batch(2, "v")) == []
        await sink.close()
    # Detection skipped the dead and the failing host; writes then stick to the one that works.
    assert down.seen and not down.bulks() and len(up.bulks()) == 2
    assert len(await documents(http, opensearch.url, f"{prefix}-*")) == 5


async def test_an_engine_down_at_start_is_set_up_on_the_first_write(
    opensearch: SearchEngine, prefix: str
) -> None:
    async with fault_proxy(opensearch.url) as proxy:
        proxy.statuses.append(503)
        sink = make_sink(proxy.url, prefix)
        await sink.start()  # not fatal: the cluster may come back
        assert sink.engine is None
        assert await write_all(sink, batch(2)) == []
        await sink.close()
    assert sink.engine is not None and sink.installed == ["template"]


async def test_requests_are_bounded_by_documents_and_bytes_and_gzipped(
    engine: Engine, prefix: str, http: aiohttp.ClientSession
) -> None:
    async with fault_proxy(engine.url) as proxy:
        by_docs = make_sink(proxy.url, prefix, max_bulk_docs=3, **engine.sink_options)
        await by_docs.start()
        assert await write_all(by_docs, batch(8)) == []
        await by_docs.close()
        assert [len(b.ids) for b in proxy.bulks()] == [3, 3, 2]
        assert all(b.headers["Content-Encoding"] == "gzip" for b in proxy.bulks())
        proxy.seen.clear()
        big = [occ(f"big{i}", message="m" * 3000) for i in range(4)]
        by_bytes = make_sink(proxy.url, prefix, gzip=False, **engine.sink_options)
        await by_bytes.start()
        limit = by_bytes.max_bulk_bytes = 2 * len(by_bytes._encode(big[0]).lines) + 10
        assert await write_all(by_bytes, big) == []
        await by_bytes.close()
        assert [len(b.ids) for b in proxy.bulks()] == [2, 2]
        assert all(b.size <= limit for b in proxy.bulks())
        assert all("Content-Encoding" not in b.headers for b in proxy.bulks())
    assert len(await documents(http, engine.url, f"{prefix}-*")) == 12


async def test_413_splits_until_the_culprit_is_alone(
    opensearch: SearchEngine, prefix: str, http: aiohttp.ClientSession
) -> None:
    async with fault_proxy(opensearch.url) as proxy:
        proxy.max_bulk_docs = 2
        sink = make_sink(proxy.url, prefix)
        await sink.start()
        assert await write_all(sink, batch(5)) == []
        proxy.max_bulk_docs = 0
        assert await write_all(sink, batch(1, "huge")) == ["huge0:1"]
        await sink.close()
    assert len(await documents(http, opensearch.url, f"{prefix}-*")) == 5


async def test_a_timeout_is_retryable(opensearch: SearchEngine, prefix: str) -> None:
    async with fault_proxy(opensearch.url) as proxy:
        sink = make_sink(proxy.url, prefix, timeout=0.5)
        await sink.start()
        proxy.delay = 2.0
        with pytest.raises(SearchError) as caught:
            await sink.write(batch(1))
        assert caught.value.reason == "timeout"
        proxy.delay = 0.0
        await sink.close()


# -- auth and TLS ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        (SearchAuth(username="elastic", password="s3cret"), "Basic ZWxhc3RpYzpzM2NyZXQ="),
        (SearchAuth(api_key="id1:key1"), "ApiKey aWQxOmtleTE="),
        (SearchAuth(api_key="aWQxOmtleTE="), "ApiKey aWQxOmtleTE="),
        (SearchAuth(bearer_token="tok"), "Bearer tok"),
        (SearchAuth(), None),
    ],
)
async def test_auth_headers(
    opensearch: SearchEngine, prefix: str, auth: SearchAuth, expected: str | None
) -> None:
    async with fault_proxy(opensearch.url) as proxy:
        sink = make_sink(proxy.url, prefix, auth=auth)
        await sink.start()
        assert await write_all(sink, batch(1)) == []
        await sink.close()
    assert {s.headers.get("Authorization") for s in proxy.seen} == {expected}


async def test_extra_headers(opensearch: SearchEngine, prefix: str) -> None:
    async with fault_proxy(opensearch.url) as proxy:
        sink = make_sink(proxy.url, prefix, auth=SearchAuth(headers={"X-Tenant": "t1"}))
        await sink.start()
        await sink.close()
    assert {s.headers.get("X-Tenant") for s in proxy.seen} == {"t1"}


async def test_tls_is_verified_by_default(
    opensearch: SearchEngine, prefix: str, search_pki: PKI
) -> None:
    async with fault_proxy(opensearch.url, server_context(search_pki)) as proxy:
        sink = make_sink(proxy.url, prefix)
        await sink.start()  # logs, does not fail: an unverifiable peer may be a transient proxy
        with pytest.raises(SearchError) as caught:
            await sink.write(batch(1))
        assert caught.value.reason == "tls"
        await sink.close()
        for auth in (
            SearchAuth(ca_file=search_pki.ca),
            SearchAuth(insecure_skip_verify=True),
        ):
            sink = make_sink(proxy.url, prefix, auth=auth)
            await sink.start()
            assert await write_all(sink, batch(1)) == []
            await sink.close()


async def test_tls_client_certificate(
    opensearch: SearchEngine, prefix: str, search_pki: PKI
) -> None:
    tls = server_context(search_pki, require_client_cert=True)
    async with fault_proxy(opensearch.url, tls) as proxy:
        auth = SearchAuth(
            ca_file=search_pki.ca,
            client_cert=search_pki.client_cert,
            client_key=search_pki.client_key,
        )
        sink = make_sink(proxy.url, prefix, auth=auth)
        await sink.start()
        assert await write_all(sink, batch(1)) == []
        await sink.close()
        without = make_sink(proxy.url, prefix, auth=SearchAuth(ca_file=search_pki.ca))
        await without.start()
        with pytest.raises(SearchError):
            await without.write(batch(1))
        await without.close()


def test_sigv4_matches_the_aws_reference_vector() -> None:
    # "get-vanilla" from AWS's Signature Version 4 test suite.
    authorization = sigv4_authorization(
        method="GET",
        path="/",
        query={},
        headers={"Host": "example.amazonaws.com", "X-Amz-Date": "20150830T123600Z"},
        payload_sha256=hashlib.sha256(b"").hexdigest(),
        credentials=AwsCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
        region="us-east-1",
        service="service",
        amz_date="20150830T123600Z",
    )
    assert authorization == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, "
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    )


async def test_sigv4_signs_every_request(opensearch: SearchEngine, prefix: str) -> None:
    aws = AwsSigV4(
        "eu-west-1", "aoss", credentials=lambda: AwsCredentials("AKID", "secret", "session-tok")
    )
    async with fault_proxy(opensearch.url) as proxy:
        sink = make_sink(proxy.url, prefix, auth=SearchAuth(aws=aws))
        await sink.start()
        assert await write_all(sink, batch(2)) == []
        await sink.close()
    bulk = proxy.bulks()[0]
    auth = bulk.headers["Authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKID/")
    assert "/eu-west-1/aoss/aws4_request" in auth
    assert "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token" in auth
    assert bulk.headers["X-Amz-Security-Token"] == "session-tok"
    # The query goes out in canonical form, so no server can canonicalize it differently.
    assert "filter_path=errors%2Citems.%2A.status" in bulk.raw_path
    assert all("Authorization" in s.headers for s in proxy.seen)


# -- configuration -----------------------------------------------------------------------------


def test_config_builds_the_sink_under_both_names(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("pw\n")
    config = load_export_config(
        overrides={
            "sinks": [
                {
                    "type": "opensearch",
                    "hosts": ["https://a:9200", "https://b:9200"],
                    "index": "events",
                    "mode": "data_stream",
                    "username": "u",
                    "password_file": str(secret),
                },
                {
                    "type": "elasticsearch",
                    "hosts": ["http://es:9200"],
                    "name": "es",
                    "api_key": "k",
                    "timeout": "5s",
                    "retention_days": None,
                },
            ]
        },
        environ={},
    )
    first, second = (build_sink(c) for c in config.sinks)
    assert isinstance(first, ElasticsearchSink) and isinstance(second, ElasticsearchSink)
    assert first.name == "opensearch" and first.op_type == "create"
    # Read when the transport opens, and again whenever the file changes.
    assert first._transport.auth.password_file == secret
    assert second.name == "es" and second.retention_days is None
    assert second._transport.timeout == 5.0


@pytest.mark.parametrize(
    ("sink", "error"),
    [
        ({"hosts": []}, "hosts: at least one"),
        ({"hosts": ["es:9200"]}, "not an http(s) URL"),
        ({"index": "Events"}, "not a valid index name"),
        ({"mode": "data_stream", "op_type": "index"}, "only create"),
        ({"username": "u", "password": "p", "api_key": "k"}, "one authentication method"),
        ({"password": "p"}, "needs username"),
        ({"client_cert": "c.pem"}, "go together"),
        ({"version": "8.1"}, "needs product"),
        ({"retention_days": 0}, "retention_days"),
        ({"max_bulk_bytes": 10}, "max_bulk_bytes"),
    ],
)
def test_invalid_sink_configs_name_the_field(sink: dict[str, Any], error: str) -> None:
    entry = {"type": "elasticsearch", "hosts": ["http://es:9200"], **sink}
    with pytest.raises(ConfigError) as caught:
        load_export_config(overrides={"sinks": [entry]}, environ={})
    assert "sinks[0]" in str(caught.value) and error in str(caught.value)


def test_dedot_and_long_values_in_the_document() -> None:
    o = occ("d", labels={"app.kubernetes.io/name": "w"}, annotations={"a": "x" * 5000})
    flat = search_document(o, flat_maps=True)
    dotted = search_document(o, flat_maps=False)
    assert flat.labels == {"app.kubernetes.io/name": "w"}
    assert dotted.labels == {"app_kubernetes_io/name": "w"}
    assert isinstance(flat.annotations, dict) and len(flat.annotations["a"]) == 4096
    assert json.loads(bytes(flat.event))["metadata"]["annotations"]["a"] == "x" * 5000
