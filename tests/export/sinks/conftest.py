"""Real search engines for the sink tests, and a fault-injecting proxy in front of them.

The engines never skip: if Maven or Java cannot provide them, the tests that ask for them
fail (a green run must mean a real engine was exercised). One of each is started per test run
(``shared_search_engine``), whichever directory's tests ask first.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import ssl
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import msgspec
import pytest
from aiohttp import web
from multidict import CIMultiDict

from kubevents_testenv import (
    ELASTICSEARCH_NODE_VERSIONS,
    ElasticsearchNode,
    Pki,
    SearchEngine,
    make_pki,
    shared_elasticsearch_node,
    shared_search_engine,
)

#: OpenSearch 2.19 (flat_object, data streams) and Elasticsearch 7.10.2 OSS (no x-pack:
#: de-dotted labels, no data streams), the runners Maven Central has; and Elasticsearch 8.15
#: and 9.1 (flattened, data streams; no ``GET /``, no ILM), nodes of the test environment's
#: own launcher over Elastic's server jars (docs/sinks/elasticsearch.md).
ENGINES = (
    "opensearch",
    "elasticsearch",
    *(f"elasticsearch-{version}" for version in ELASTICSEARCH_NODE_VERSIONS),
)

Engine = SearchEngine | ElasticsearchNode


def shared_engine(name: str) -> Engine:
    """A started engine of ``ENGINES``, shared by the whole test run."""
    if name.startswith("elasticsearch-"):
        return shared_elasticsearch_node(name.removeprefix("elasticsearch-"))
    return shared_search_engine(name)


@pytest.fixture(scope="session")
def opensearch() -> SearchEngine:
    return shared_search_engine("opensearch")


@pytest.fixture(scope="session")
def elasticsearch() -> SearchEngine:
    return shared_search_engine("elasticsearch")


@pytest.fixture(scope="session", params=ENGINES)
def engine(request: pytest.FixtureRequest) -> Engine:
    """Each test that takes ``engine`` runs once per engine."""
    return shared_engine(request.param)


# -- a proxy that forwards to a real engine and injects faults ----------------------------------

ItemFault = Callable[[list[str]], dict[str, int]]


@dataclass
class Seen:
    method: str
    path: str
    headers: CIMultiDict[str]
    ids: list[str]
    size: int
    raw_path: str = ""


@dataclass
class FaultProxy:
    """Forwards to ``upstream``; can answer whole requests or single bulk items itself.

    ``item_faults`` is consumed one per ``_bulk`` call: it maps the call's ids to the status
    each faulted item gets, and those items are *not* forwarded (so a retry really is needed).
    ``ism`` emulates the ISM policy API (the runners have no ISM plugin) with its optimistic
    ``if_seq_no`` contract; everything else reaches the real engine.
    """

    upstream: str
    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    statuses: deque[int] = field(default_factory=deque)
    item_faults: deque[ItemFault] = field(default_factory=deque)
    max_bulk_docs: int | None = None  # above this a _bulk answers 413
    delay: float = 0.0
    ism: dict[str, tuple[dict[str, Any], int]] | None = None
    session: aiohttp.ClientSession | None = None

    def bulks(self) -> list[Seen]:
        return [s for s in self.seen if s.path == "/_bulk"]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if request.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        ids = [
            next(iter(msgspec.json.decode(line).values()))["_id"]
            for line in body.splitlines()[0::2]
            if line
        ] if request.path == "/_bulk" else []  # fmt: skip
        headers = CIMultiDict(request.headers)
        seen = Seen(request.method, request.path, headers, ids, len(body), request.raw_path)
        self.seen.append(seen)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.statuses:
            status = self.statuses.popleft()
            return web.json_response({"error": "injected", "status": status}, status=status)
        if self.ism is not None and request.path.startswith("/_plugins/_ism/policies/"):
            return self._ism(request, body)
        if request.path == "/_bulk":
            if self.max_bulk_docs is not None and len(ids) > self.max_bulk_docs:
                return web.Response(status=413, text="request entity too large")
            if self.item_faults:
                return await self._faulty_bulk(request, body, ids, self.item_faults.popleft())
        status, payload = await self.forward(request.method, request.path_qs, body, request)
        return web.Response(status=status, body=payload, content_type="application/json")

    async def forward(
        self, method: str, path_qs: str, body: bytes, request: web.Request | None = None
    ) -> tuple[int, bytes]:
        assert self.session is not None
        headers = {"Content-Type": request.content_type} if request is not None and body else {}
        async with self.session.request(
            method, self.upstream + path_qs, data=body or None, headers=headers
        ) as response:
            return response.status, await response.read()

    async def _faulty_bulk(
        self, request: web.Request, body: bytes, ids: list[str], fault: ItemFault
    ) -> web.Response:
        faulted = fault(ids)
        lines = body.splitlines()
        keep = b"".join(
            lines[2 * i] + b"\n" + lines[2 * i + 1] + b"\n"
            for i, id_ in enumerate(ids)
            if id_ not in faulted
        )
        forwarded: list[Any] = []
        if keep:
            _, payload = await self.forward("POST", request.path_qs, keep, request)
            forwarded = msgspec.json.decode(payload)["items"]
        items = []
        answers = iter(forwarded)
        for id_ in ids:
            if id_ in faulted:
                items.append({"index": {"status": faulted[id_], "error": {
                    "type": "es_rejected_execution_exception", "reason": "injected"}}})  # fmt: skip
            else:
                items.append(next(answers))
        return web.json_response({"errors": True, "items": items})

    def _ism(self, request: web.Request, body: bytes) -> web.Response:
        assert self.ism is not None
        name = request.path.rsplit("/", 1)[1]
        if request.method == "GET":
            if name not in self.ism:
                error = {"type": "status_exception", "reason": "Policy not found"}
                return web.json_response({"error": error, "status": 404}, status=404)
            policy, seq_no = self.ism[name]
            return web.json_response(
                {"_id": name, "_seq_no": seq_no, "_primary_term": 1, "policy": policy}
            )
        existing = self.ism.get(name)
        if existing is not None and request.query.get("if_seq_no") != str(existing[1]):
            error = {"type": "version_conflict_engine_exception", "reason": "seq_no mismatch"}
            return web.json_response({"error": error, "status": 409}, status=409)
        seq_no = 0 if existing is None else existing[1] + 1
        self.ism[name] = (msgspec.json.decode(body)["policy"], seq_no)
        return web.json_response({"_id": name, "_seq_no": seq_no}, status=201)


@contextlib.asynccontextmanager
async def fault_proxy(
    upstream: str, tls: ssl.SSLContext | None = None
) -> AsyncIterator[FaultProxy]:
    proxy = FaultProxy(upstream)
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", proxy.handle)
    # auto_decompress=False: the proxy sees (and inflates) the body exactly as it was sent.
    runner = web.AppRunner(app, auto_decompress=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls)
    await site.start()
    port = runner.addresses[0][1]
    proxy.url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as session:
        proxy.session = session
        try:
            yield proxy
        finally:
            await runner.cleanup()


# -- TLS material -------------------------------------------------------------------------------


PKI = Pki


def server_context(pki: Pki, require_client_cert: bool = False) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    context.load_verify_locations(pki.ca)
    context.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    return context


@pytest.fixture(scope="session")
def search_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("search-pki"))
