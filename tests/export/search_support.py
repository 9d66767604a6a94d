"""Reading what the exporter stored in a real search engine, and an independent oracle."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from kubevents.kube import KubeClient
from kubevents_testenv import SearchEngine

__all__ = [
    "assert_exactly_the_expected_documents",
    "call",
    "oracle_watch",
    "stored_count",
    "stored_documents",
]


def call(url: str, method: str = "GET", body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as response:
        return json.loads(response.read())


def stored_count(engine: SearchEngine, index: str) -> int:
    """Documents in the exporter's indices (0 while none exists yet)."""
    if not engine.running:
        return 0
    try:
        call(f"{engine.url}/{index}-*/_refresh?allow_no_indices=true", "POST")
        return int(call(f"{engine.url}/{index}-*/_count?allow_no_indices=true")["count"])
    except urllib.error.HTTPError as exc:
        if exc.code != 503:
            raise
        # A daily index just created by the first bulk, whose shard is not started yet (all
        # shards failed): nothing is searchable yet. Callers poll, or compare exact counts.
        return 0


def stored_documents(engine: SearchEngine, index: str) -> list[dict[str, Any]]:
    """Every stored document's id, count and uid, paged past the 10 000-hit window."""
    call(f"{engine.url}/{index}-*/_refresh", "POST")
    found: list[dict[str, Any]] = []
    after: list[Any] | None = None
    while True:
        query: dict[str, Any] = {
            "size": 5000, "sort": [{"id": "asc"}], "_source": ["id", "uid", "count"],
        }  # fmt: skip
        if after is not None:
            query["search_after"] = after
        hits = call(f"{engine.url}/{index}-*/_search", "POST", query)["hits"]["hits"]
        if not hits:
            return found
        for hit in hits:
            assert hit["_id"] == hit["_source"]["id"]
            found.append(hit["_source"])
        after = hits[-1]["sort"]


def assert_exactly_the_expected_documents(
    engine: SearchEngine, index: str, server: dict[str, int], shown: set[str]
) -> None:
    docs = stored_documents(engine, index)
    ids = [d["id"] for d in docs]
    assert len(ids) == len(set(ids)), "an occurrence is stored twice"
    assert stored_count(engine, index) == len(ids)
    expected = {f"{uid}:{c}" for uid, count in server.items() for c in range(1, count + 1)}
    assert shown == expected  # the oracle saw every occurrence the recorder made
    assert set(ids) == expected
    for doc in docs:  # each document is the occurrence its id names
        assert doc["id"] == f"{doc['uid']}:{doc['count']}"


async def oracle_watch(client: KubeClient, namespace: str, shown: set[str]) -> None:
    """An independent record of every (uid, count) the server showed, never interrupted."""
    # What the list shows counts too: the flood may already have started when it returns.
    listed = await client.events.list(namespace, limit=None)
    shown.update(f"{event.uid}:{event.count or 1}" for event in listed.items)
    rv = listed.resource_version
    while True:
        async with await client.events.watch(namespace, resource_version=rv) as stream:
            async for change in stream:
                if change.object is not None:
                    shown.add(f"{change.object.uid}:{change.object.count or 1}")
            rv = stream.resource_version
