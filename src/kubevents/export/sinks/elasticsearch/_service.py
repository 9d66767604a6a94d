"""Elasticsearch 7/8/9 and OpenSearch 1/2/3 through one ``_bulk`` sink.

The official Python clients each refuse the other product (and other server majors), so the
sink speaks the one stable contract they share: NDJSON ``_bulk`` with per-item results.

- ``start()`` asks ``GET /`` what the cluster is, then what it can do (``flattened`` /
  ``flat_object``, ILM / ISM, data streams), and installs the lifecycle policy and the index
  template when they differ from what is there (fingerprints in their metadata, so a restart
  changes nothing). A cluster that does not answer yet is set up on the first write instead.
- ``_id`` is the occurrence id, so a replay overwrites (``index``) or is refused as already
  there (``create``: a 409 counts as stored). Daily indices are named by the occurrence's
  filing time (its own time, unless that lies outside the exporter's time window: an Event
  dated 9999 must not create an index per date), so a replay lands in the index that already
  holds it.
- Per-item results: 2xx and 409-on-create are stored; 429, 5xx, 401/403/404 and other
  409s are sent again (only those items) a few times with backoff, then the write raises
  ``SearchError`` and the pipeline retries the batch, skipping what this sink already stored;
  400-class content errors (mapping conflicts, parse errors) are ``Rejected`` with the
  engine's error type: dead-lettered and counted, never reported as stored.
- A request is bounded by documents and bytes; a 413 splits it in halves until the culprit
  is alone (then rejected as ``http_413``).

One module of about 420 lines: the write path (chunking, the bulk call, per-item
classification, item retries and the stored-id memory) shares one sink's state; setup
(``_setup``), the HTTP transport (``_transport``) and the templates (``_templates``) are apart.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Literal

import msgspec

from kubevents.export._occurrence import Occurrence
from kubevents.export.sinks._base import Rejected, SinkError, WriteResult
from kubevents.export.sinks._http import PERMANENT_STATUSES
from kubevents.export.sinks.elasticsearch._setup import ClusterSetup
from kubevents.export.sinks.elasticsearch._templates import Engine, Product, search_document
from kubevents.export.sinks.elasticsearch._transport import SearchAuth, SearchError, Transport

__all__ = ["ElasticsearchSink"]

log = logging.getLogger(__name__)

MiB = 1024 * 1024
# Item statuses that say "not now" or "not with this configuration", never "not this data".
_RETRY_ITEM_STATUSES = frozenset({401, 403, 404, 408, 409, 429})
_BULK_FILTER = "errors,items.*.status,items.*.error.type,items.*.error.reason"
# Ids stored by a write that then failed for other items: the pipeline's retry of that batch
# skips them. Bounded, because a batch that is never retried must not pin memory.
_STORED_MEMORY = 100_000
_ENCODER = msgspec.json.Encoder()


class _ItemError(msgspec.Struct):
    type: str = ""
    reason: str | None = None


class _ItemResult(msgspec.Struct):
    status: int = 0
    error: _ItemError | None = None


class _BulkResponse(msgspec.Struct):
    errors: bool = False
    items: list[dict[str, _ItemResult]] = msgspec.field(default_factory=list)


@dataclass(slots=True)
class _Item:
    occurrence: Occurrence
    lines: bytes
    create: bool


@dataclass(slots=True)
class _Failure:
    item: _Item
    status: int
    detail: str


class ElasticsearchSink:
    """Bulk-index occurrences into Elasticsearch or OpenSearch (see the module docstring).

    ``mode="daily"`` writes ``<index>-YYYY.MM.DD`` (UTC date of the occurrence's filing time);
    ``mode="data_stream"`` writes the data stream ``<index>`` with ``create`` operations.
    ``retention_days`` (None: none) becomes an ILM / ISM policy when the cluster has one.
    ``label_mapping``: ``auto`` uses ``flattened`` / ``flat_object`` when the cluster has it
    and the template is managed, else de-dots keys; ``flattened`` insists; ``dedot`` always
    de-dots. ``product``/``version`` skip detection (Amazon OpenSearch Serverless has no
    ``GET /``).
    """

    def __init__(
        self,
        hosts: Sequence[str],
        *,
        name: str = "elasticsearch",
        index: str = "kubevents",
        mode: Literal["daily", "data_stream"] = "daily",
        op_type: Literal["index", "create"] | None = None,
        manage_template: bool = True,
        retention_days: float | None = 30.0,
        label_mapping: Literal["auto", "flattened", "dedot"] = "auto",
        shards: int = 1,
        replicas: int | None = None,
        template_priority: int = 200,
        max_bulk_docs: int = 500,
        max_bulk_bytes: int = 5 * MiB,
        gzip: bool = True,
        timeout: float = 30.0,
        item_retries: int = 3,
        retry_initial_delay: float = 0.5,
        auth: SearchAuth | None = None,
        product: Product | None = None,
        version: str | None = None,
    ) -> None:
        if mode == "data_stream" and op_type == "index":
            raise SinkError("data streams accept only create operations", reason="config")
        if max_bulk_docs < 1 or max_bulk_bytes < 1:
            raise SinkError("max_bulk_docs and max_bulk_bytes must be positive", reason="config")
        if version is not None and product is None:
            raise SinkError("version is given without product", reason="config")
        self._name = name
        self.index = index
        self.mode = mode
        self.op_type: Literal["index", "create"] = op_type or (
            "create" if mode == "data_stream" else "index"
        )
        self.manage_template = manage_template
        self.retention_days = retention_days
        self.label_mapping = label_mapping
        self.shards = shards
        self.replicas = replicas
        self.template_priority = template_priority
        self.max_bulk_docs = max_bulk_docs
        self.max_bulk_bytes = max_bulk_bytes
        self.item_retries = item_retries
        self.retry_initial_delay = retry_initial_delay
        self._product = product
        self._version = version
        self._transport = Transport(
            hosts, auth or SearchAuth(), timeout=timeout, compress=gzip, name=name
        )
        self._cluster = ClusterSetup(
            self._transport,
            name=name,
            index=index,
            mode=mode,
            retention_days=retention_days,
            shards=shards,
            replicas=replicas,
            template_priority=template_priority,
        )
        self._setup_lock = asyncio.Lock()
        self._stored: OrderedDict[str, None] = OrderedDict()
        # Action line heads by the UTC date ordinal of the daily index (0: the data stream).
        self._action_heads: dict[int, bytes] = {}
        self._flat_maps = False
        #: The detected cluster, once set up.
        self.engine: Engine | None = None
        #: ``create`` operations answered 409: already stored, counted as stored.
        self.duplicates = 0

    @property
    def name(self) -> str:
        return self._name

    @property
    def flat_maps(self) -> bool:
        """Whether labels/annotations are stored as flat maps (else de-dotted objects)."""
        return self._flat_maps

    @property
    def installed(self) -> list[str]:
        """What the last set-up wrote (``template``, ``ilm``, ``ism``); empty when unchanged."""
        return self._cluster.installed

    @property
    def lifecycle_status(self) -> str:
        """``installed``, ``unchanged``, ``unavailable`` (no ILM/ISM) or ``disabled``."""
        return self._cluster.lifecycle_status

    def index_for(self, occ: Occurrence) -> str:
        if self.mode == "data_stream":
            return self.index
        t = occ.filing_time.astimezone(UTC)  # the UTC date, whatever the zone
        return f"{self.index}-{t.year:04d}.{t.month:02d}.{t.day:02d}"

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        await self._transport.open()
        try:
            await self._setup()
        except SearchError as exc:
            # Unreachable now is not a configuration error: the pipeline holds the events
            # (backpressure) and the first write sets the sink up once the cluster answers.
            log.warning(
                "sink %s: cluster not ready (%s); will set up on first write", self.name, exc
            )

    async def close(self) -> None:
        await self._transport.close()

    async def _setup(self) -> None:
        async with self._setup_lock:
            if self.engine is not None:
                return
            engine = await self._cluster.detect(self._product, self._version)
            if self.mode == "data_stream" and not engine.data_streams:
                raise SinkError(
                    f"{engine} has no data streams (Elasticsearch >= 7.9 with x-pack, or "
                    "OpenSearch); use mode: daily",
                    reason="config",
                )
            if self.label_mapping == "flattened" and engine.flat_type is None:
                raise SinkError(
                    f"{engine} has no flattened/flat_object type; use label_mapping: dedot",
                    reason="config",
                )
            # Flat maps need the mapping to say so: without a managed template the dynamic
            # mapping would make objects of dotted keys, so keys are de-dotted then.
            self._flat_maps = self.label_mapping == "flattened" or (
                self.label_mapping == "auto"
                and self.manage_template
                and engine.flat_type is not None
            )
            if self.manage_template:
                await self._cluster.install(engine, flat_maps=self._flat_maps)
            self.engine = engine
            log.info(
                "sink %s: %s at %s, %s into %s, labels %s, lifecycle %s%s",
                self.name,
                engine,
                self._transport.shown_hosts[0],
                self.op_type,
                self.index if self.mode == "data_stream" else self.index + "-*",
                "flat" if self._flat_maps else "de-dotted",
                self.lifecycle_status,
                f", installed {', '.join(self.installed)}" if self.installed else "",
            )

    # -- writing -------------------------------------------------------------------------------

    def _action_head(self, occ: Occurrence) -> bytes:
        """``{"<op>":{"_index":"<index>","_id":`` for ``occ``: one per index, reused."""
        key = 0 if self.mode == "data_stream" else occ.filing_time.astimezone(UTC).toordinal()
        head = self._action_heads.get(key)
        if head is None:
            if len(self._action_heads) >= 64:
                self._action_heads.clear()
            index = _ENCODER.encode(self.index_for(occ))
            head = b'{"%s":{"_index":%s,"_id":' % (self.op_type.encode(), index)
            self._action_heads[key] = head
        return head

    def _encode(self, occ: Occurrence) -> _Item:
        # The action line is byte for byte what encoding {op: {"_index": …, "_id": …}} gives.
        document = _ENCODER.encode(search_document(occ, flat_maps=self._flat_maps))
        lines = b"".join(
            (self._action_head(occ), _ENCODER.encode(occ.id), b"}}\n", document, b"\n")
        )
        return _Item(occ, lines, self.op_type == "create")

    def _chunks(self, items: list[_Item]) -> list[list[_Item]]:
        chunks: list[list[_Item]] = []
        current: list[_Item] = []
        size = 0
        for item in items:
            if current and (
                len(current) >= self.max_bulk_docs or size + len(item.lines) > self.max_bulk_bytes
            ):
                chunks.append(current)
                current, size = [], 0
            current.append(item)
            size += len(item.lines)
        if current:
            chunks.append(current)
        return chunks

    async def write(self, batch: Sequence[Occurrence]) -> WriteResult:
        if not batch:
            return WriteResult()
        if self.engine is None:
            await self._setup()
        # What an earlier, failed attempt at this batch already stored is not sent again.
        pending = [occ for occ in batch if occ.id not in self._stored]
        items = [self._encode(occ) for occ in pending]
        rejected: list[Rejected] = []
        stored: list[str] = []
        delay = self.retry_initial_delay
        try:
            for attempt in range(self.item_retries + 1):
                failures: list[_Failure] = []
                for chunk in self._chunks(items):
                    await self._bulk(chunk, stored, rejected, failures)
                if not failures:
                    break
                if attempt == self.item_retries:
                    worst = max(f.status for f in failures)
                    raise SearchError(
                        f"{len(failures)} of {len(batch)} documents still failing after "
                        f"{attempt + 1} attempts, e.g. HTTP {failures[0].status}: "
                        f"{failures[0].detail}",
                        reason=f"item_{worst}",
                        status=worst,
                        permanent=all(f.status in PERMANENT_STATUSES for f in failures),
                    )
                log.warning(
                    "sink %s: %d of %d documents answered e.g. HTTP %d (%s); sending them "
                    "again in %.1fs",
                    self.name,
                    len(failures),
                    len(batch),
                    failures[0].status,
                    failures[0].detail,
                    delay,
                )
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay *= 2
                items = [f.item for f in failures]
        except SinkError:
            self._remember(stored)
            raise
        for occ in batch:
            self._stored.pop(occ.id, None)
        return WriteResult(rejected)

    def _remember(self, ids: list[str]) -> None:
        for occurrence_id in ids:
            self._stored[occurrence_id] = None
        while len(self._stored) > _STORED_MEMORY:
            self._stored.popitem(last=False)

    async def _bulk(
        self,
        chunk: list[_Item],
        stored: list[str],
        rejected: list[Rejected],
        failures: list[_Failure],
    ) -> None:
        body = b"".join(item.lines for item in chunk)
        response = await self._transport.request(
            "POST",
            "/_bulk",
            body=body,
            query={"filter_path": _BULK_FILTER},
            content_type="application/x-ndjson",
            compress=True,
        )
        status = response.status
        if status == 413:
            if len(chunk) == 1:
                rejected.append(Rejected(chunk[0].occurrence, "http_413"))
                log.warning(
                    "sink %s: %s is too large for the cluster even alone (HTTP 413)",
                    self.name,
                    chunk[0].occurrence.id,
                )
                return
            middle = len(chunk) // 2
            await self._bulk(chunk[:middle], stored, rejected, failures)
            await self._bulk(chunk[middle:], stored, rejected, failures)
            return
        if status != 200:
            # A whole-request error is about the cluster or the configuration (auth, a proxy,
            # overload), never about one document: retried, and only a few times when it says
            # the configuration is wrong (the pipeline then dead-letters the batch).
            raise SearchError(
                f"{response.host}/_bulk answered HTTP {status}: {response.error_text()}",
                reason=f"http_{status}",
                status=status,
                retry_after=response.retry_after,
                permanent=status in PERMANENT_STATUSES,
            )
        try:
            result = msgspec.json.decode(response.body, type=_BulkResponse)
        except msgspec.DecodeError as exc:
            raise SearchError(f"unreadable _bulk answer: {exc}", reason="bad_response") from None
        if not result.errors and not result.items:
            stored.extend(item.occurrence.id for item in chunk)
            return
        if len(result.items) != len(chunk):
            raise SearchError(
                f"_bulk answered {len(result.items)} items for {len(chunk)}",
                reason="bad_response",
            )
        for item, answer in zip(chunk, result.items, strict=True):
            outcome = next(iter(answer.values()))
            self._classify(item, outcome, stored, rejected, failures)

    def _classify(
        self,
        item: _Item,
        outcome: _ItemResult,
        stored: list[str],
        rejected: list[Rejected],
        failures: list[_Failure],
    ) -> None:
        status = outcome.status
        error = outcome.error or _ItemError()
        if 200 <= status < 300:
            stored.append(item.occurrence.id)
        elif status == 409 and item.create:
            self.duplicates += 1
            stored.append(item.occurrence.id)
        elif status in _RETRY_ITEM_STATUSES or status >= 500:
            failures.append(_Failure(item, status, f"{error.type}: {error.reason}"))
        else:
            reason = error.type or f"http_{status}"
            log.warning(
                "sink %s: %s rejected %s (HTTP %d): %s",
                self.name,
                self.index_for(item.occurrence),
                item.occurrence.id,
                status,
                error.reason,
            )
            rejected.append(Rejected(item.occurrence, reason))
