"""The fuzz targets: every place bytes from the API server or the operator enter kubevents.

Each target handles the outcomes its code documents (a value; a malformed object, counted and
skipped; the documented error class) and asserts the invariants that make the value usable
downstream. Anything else leaving the target is a crash.
"""

from __future__ import annotations

import asyncio
import tempfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import cast

import aiohttp
import msgspec
import yaml

from kubevents.cli._output import table_row
from kubevents.errors import StatusError, UnexpectedObjectError
from kubevents.export import (
    ConfigError,
    EventFields,
    EventTracker,
    Occurrence,
    RuleSet,
    TimeWindow,
    compile_rules,
    load_export_config,
)
from kubevents.export._document import (
    encode_array,
    encode_document,
    encode_lines,
    occurrence_document,
)
from kubevents.export._fields import event_fields_decoder
from kubevents.export.sinks._http import parse_retry_after
from kubevents.export.sinks.elasticsearch import ElasticsearchSink
from kubevents.export.sinks.elasticsearch._templates import search_document
from kubevents.export.sinks.jsonl._deadletter import _DeadLetter
from kubevents.export.sinks.sqlite import SQLiteSink
from kubevents.export.sinks.sqlite._encoder import encode_rows
from kubevents.export.sinks.webhook import idempotency_key
from kubevents.export.store import EventStore
from kubevents.kube import WatchStream
from kubevents.kube._events import decode_list
from kubevents.kube._transport import status_error
from kubevents.model import (
    DECODE_ERRORS,
    Event,
    EventsV1Event,
    decoder,
    to_core,
    to_events_v1,
)

from . import corpus
from .engine import HOSTILE_TOKENS, Target
from .spool_targets import SPOOL_TARGETS

__all__ = ["CI_CASES", "TARGETS"]

Run = Callable[[bytes], bool]

_EVENTS = decoder(Event)
_FIELDS = event_fields_decoder()
_DAYS = date.max.toordinal()
_EVENTS_V1 = decoder(EventsV1Event)


class _Content:
    """The part of ``aiohttp.ClientResponse.content`` a watch stream reads."""

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks

    async def readany(self) -> bytes:
        return self._chunks.pop(0) if self._chunks else b""


class _Response:
    def __init__(self, chunks: list[bytes]) -> None:
        self.content = _Content(chunks)

    def close(self) -> None:
        pass


def _split(data: bytes) -> list[bytes]:
    """``data`` in chunks whose sizes depend on ``data`` only (reproducible, all sizes)."""
    state, chunks, at = zlib.crc32(data) or 1, [], 0
    while at < len(data):
        state = (state * 1103515245 + 12345) & 0x7FFFFFFF
        size = 1 + state % (64 if state & 1 else 4096)
        chunks.append(data[at : at + size])
        at += size
    return chunks


class _Target:
    tokens: tuple[bytes, ...] = HOSTILE_TOKENS
    nesting = 3000
    max_size: int | None = None


class WatchLine(_Target):
    """``WatchStream._decode``: one line, as the compact fast path and the envelope path see it."""

    name = "watch_line"

    def seeds(self) -> Sequence[bytes]:
        return corpus.watch_lines()

    @contextmanager
    def session(self) -> Iterator[Run]:
        def run(data: bytes) -> bool:
            stream = WatchStream(cast(aiohttp.ClientResponse, None), _EVENTS, "1")
            try:
                change = stream._decode(data)
            except StatusError:
                return False  # an ERROR line: the documented way a watch fails
            if change is None:
                assert stream.malformed <= 1
                return False
            assert change.object is None or isinstance(change.object, Event)
            assert isinstance(change.resource_version, str) and isinstance(change.raw, bytes)
            return change.object is not None

        yield run


class WatchWhole(_Target):
    """A whole watch stream over a response delivering the bytes in arbitrary chunks."""

    name = "watch_stream"

    def seeds(self) -> Sequence[bytes]:
        lines = corpus.watch_lines()
        return [b"\n".join(lines[:n]) + b"\n" for n in range(1, len(lines) + 1)]

    @contextmanager
    def session(self) -> Iterator[Run]:
        loop = asyncio.new_event_loop()

        async def consume(data: bytes) -> bool:
            response = cast(aiohttp.ClientResponse, _Response(_split(data)))
            stream: WatchStream[Event] = WatchStream(response, _EVENTS, "1")
            try:
                async with stream:
                    async for change in stream:
                        assert change.object is None or isinstance(change.object, Event)
            except StatusError:
                pass
            assert stream.resource_version is not None
            return stream.received > 0

        try:
            yield lambda data: loop.run_until_complete(consume(data))
        finally:
            loop.close()


class ListPage(_Target):
    """``decode_list``: a LIST page as the exporter's relist reads it."""

    name = "list_page"

    def seeds(self) -> Sequence[bytes]:
        return corpus.list_pages()

    @contextmanager
    def session(self) -> Iterator[Run]:
        def run(data: bytes) -> bool:
            try:
                page = decode_list(data, _EVENTS, "Event")
            except UnexpectedObjectError:
                return False
            assert len(page.items) == len(page.raw_items)
            for item, raw in zip(page.items, page.raw_items, strict=True):
                assert _EVENTS.decode(raw) == item
            return bool(page.items)

        yield run


class StatusBody(_Target):
    """An error response body, and the same bytes as a Status in a watch ERROR line."""

    name = "status"

    def seeds(self) -> Sequence[bytes]:
        return corpus.status_bodies()

    @contextmanager
    def session(self) -> Iterator[Run]:
        def run(data: bytes) -> bool:
            error = status_error(503, "Service Unavailable", data)
            _use(error)
            stream = WatchStream(cast(aiohttp.ClientResponse, None), _EVENTS, "1")
            try:
                stream._decode(b'{"type":"ERROR","object":%s}' % data)
            except StatusError as exc:
                _use(exc)
            return error.code != 503  # the body's own code was read

        yield run


def _use(error: StatusError) -> None:
    """What callers do with a StatusError: print it, look at its code and causes."""
    assert isinstance(error, StatusError) and error.code > 0
    str(error)
    error.has_cause("FieldValueInvalid")
    assert all(isinstance(cause, dict) for cause in error.causes)


class Model(_Target):
    """The model's decoders, and what a decoded Event must then support."""

    name = "model"

    def seeds(self) -> Sequence[bytes]:
        return corpus.events()

    @contextmanager
    def session(self) -> Iterator[Run]:
        def run(data: bytes) -> bool:
            accepted = False
            for typed in (_EVENTS, _EVENTS_V1):
                try:
                    obj: Event | EventsV1Event = typed.decode(data)
                except DECODE_ERRORS:
                    continue
                accepted = True
                # What the model writes, it reads back, and from then on byte for byte (the
                # first pass may normalise: a zero creationTimestamp is written as null, which
                # reads as unset; through dicts, managedFields' key order is not kept); both
                # APIs convert both ways.
                encoded = type(obj).from_json(obj.to_json()).to_json()
                assert type(obj).from_json(encoded).to_json() == encoded
                type(obj).from_dict(obj.to_dict()).to_json()
                if isinstance(obj, Event):
                    to_core(to_events_v1(obj)).to_json()
                else:
                    to_events_v1(to_core(obj)).to_json()
            return accepted

        yield run


# Every kind of matcher: exact values, globs, regular expressions, the source fallback.
_RULE_SET = msgspec.convert(
    yaml.safe_load(
        """
drop:
  - {name: system, namespace: [kube-system, "kube-*"], type: Normal}
  - {reason: ["Pull*", "Created"], message: "^(Successfully|Back-off) .*[0-9]+"}
  - {source: ["kubelet", "*-controller"], kind: "[PN]o?d*"}
match:
  - {namespace: "*"}
  - {message: "."}
"""
    ),
    RuleSet,
)


def _same_fields(fields: EventFields, event: Event) -> None:
    """The exporter read what the model read, for every field it reads."""
    meta, model_meta = fields.metadata, event.metadata
    assert (meta.name, meta.namespace, meta.uid, meta.resource_version) == (
        model_meta.name,
        model_meta.namespace,
        model_meta.uid,
        model_meta.resource_version,
    )
    assert (meta.labels, meta.annotations) == (model_meta.labels, model_meta.annotations)
    assert meta.creation_timestamp == model_meta.creation_timestamp
    for ours, theirs in (
        (fields.involved_object, event.involved_object),
        (fields.related, event.related),
    ):
        if ours is None or theirs is None:
            assert ours is None and theirs is None
        else:
            assert (ours.kind, ours.namespace, ours.name, ours.uid, ours.api_version) == (
                theirs.kind,
                theirs.namespace,
                theirs.name,
                theirs.uid,
                theirs.api_version,
            )
            assert ours.field_path == theirs.field_path
    assert (fields.reason, fields.message, fields.type, fields.action) == (
        event.reason,
        event.message,
        event.type,
        event.action,
    )
    assert (fields.source.component, fields.source.host) == (
        event.source.component,
        event.source.host,
    )
    assert fields.count == event.count
    assert (fields.reporting_controller, fields.reporting_instance) == (
        event.reporting_controller,
        event.reporting_instance,
    )
    assert (fields.first_timestamp, fields.last_timestamp, fields.event_time) == (
        event.first_timestamp,
        event.last_timestamp,
        event.event_time,
    )
    for when in (meta.creation_timestamp, fields.first_timestamp, fields.last_timestamp):
        assert when is None or when.tzinfo is UTC
    if fields.series is None or event.series is None:
        assert fields.series is None and event.series is None
    else:
        assert fields.series.count == event.series.count
        assert fields.series.last_observed_time == event.series.last_observed_time


class ExporterPath(_Target):
    """What the exporter does with one decoded Event, down to a real SQLite insert.

    Occurrence.of with a time window, the tracker, compiled rules, every document encoder, the
    search sink's bulk lines (flat and de-dotted maps) and index choice, the SQLite sink's row
    builder and its insert into a real store (its worker-thread methods, called directly), and
    the store read back as ``kubevents query`` shows it.
    """

    name = "exporter_path"

    def seeds(self) -> Sequence[bytes]:
        return corpus.events()

    @contextmanager
    def session(self) -> Iterator[Run]:
        rules = compile_rules(_RULE_SET)
        assert rules is not None
        search = ElasticsearchSink(["http://127.0.0.1:9"], index="kubevents")
        tracker = EventTracker()
        window = TimeWindow()
        with tempfile.TemporaryDirectory(prefix="kubevents-fuzz-") as tmp, _Stores(tmp) as stores:

            def run(data: bytes) -> bool:
                try:
                    event = _FIELDS.decode(data)
                except DECODE_ERRORS:
                    # The exporter's decoder checks a subset of what the model's checks.
                    try:
                        _EVENTS.decode(data)
                    except DECODE_ERRORS:
                        return False
                    raise AssertionError("the model reads an Event the exporter rejects") from None
                try:
                    model = _EVENTS.decode(data)
                except DECODE_ERRORS:
                    pass  # bad where the exporter does not read (managedFields, kind, ...)
                else:
                    _same_fields(event, model)
                if not event.metadata.uid:
                    return False  # the watcher counts it as malformed
                # "now" anywhere in Python's calendar: the window must hold at its edges too.
                state_ = zlib.crc32(data)
                now = datetime.fromordinal(1 + state_ % _DAYS).replace(tzinfo=UTC) + timedelta(
                    seconds=state_ % 86_400
                )
                occ = Occurrence.of(event, data, "fuzz", window, now)
                assert occ.count >= 1 and occ.id.endswith(f":{occ.count}")
                _in_window(occ, window, now)
                decision = tracker.decide(occ.uid, occ.count)
                if decision.export:
                    tracker.stored(occ.uid, occ.count)
                msgspec.json.encode(tracker.snapshot("fuzz", event.metadata.resource_version))
                rules(event)
                _documents(occ)
                assert len(idempotency_key([occ])) == 64  # the webhook's header
                line = msgspec.json.encode(
                    _DeadLetter("sink", "reason", occurrence_document(occ))
                )  # what the dead-letter file appends
                assert b"\n" not in line
                for flat in (True, False):
                    msgspec.json.encode(search_document(occ, flat_maps=flat))
                lines = search._encode(occ).lines
                assert lines.count(b"\n") == 2 and lines.endswith(b"\n")
                assert search.index_for(occ).startswith("kubevents-")
                sink = stores.next()
                rows, rejected = encode_rows([occ], 0)
                assert len(rows) + len(rejected) == 1
                assert sink._write_sync([occ]) == rejected
                return True

            yield run


class _Stores:
    """Real SQLite stores, a new file every ``ROTATE`` inserts (so none grows without bound),
    each read back at the end as ``kubevents query`` reads it: rows, documents, table."""

    ROTATE = 2_000

    def __init__(self, directory: str) -> None:
        self._directory = Path(directory)
        self._sink: SQLiteSink | None = None
        self._inserts = 0
        self._files = 0

    def __enter__(self) -> _Stores:
        return self

    def __exit__(self, *exc: object) -> None:
        self._close()

    def next(self) -> SQLiteSink:
        if self._sink is None or self._inserts >= self.ROTATE:
            self._close()
            self._files += 1
            path = self._directory / f"store-{self._files}.db"
            self._sink = SQLiteSink(path, synchronous="normal", retention_days=30)
            self._sink._start_sync()
            self._inserts = 0
        self._inserts += 1
        return self._sink

    def _close(self) -> None:
        if self._sink is None:
            return
        self._sink._close_sync()
        path, self._sink = self._sink.path, None
        now = datetime.now(UTC)
        with EventStore(path) as store:
            stored = store.query()
            assert len(stored) <= self._inserts
            encode_lines([s.occurrence() for s in stored])  # query -o json
            for one in stored:
                assert one.event.metadata.uid == one.uid
                table_row(one, now, wide=True, namespaced=True)  # the table


def _in_window(occ: Occurrence, window: TimeWindow, now: datetime) -> None:
    try:
        low = now - window.past
    except OverflowError:
        low = datetime.min.replace(tzinfo=UTC)
    try:
        high = now + window.future
    except OverflowError:
        high = datetime.max.replace(tzinfo=UTC)
    assert low <= occ.filing_time <= high, (occ.filing_time, now)


def _documents(occ: Occurrence) -> None:
    one = encode_document(occ)
    assert b"\n" not in one
    lines = encode_lines([occ, occ])
    assert lines.count(b"\n") == 2 and lines == one + b"\n" + one + b"\n"
    assert encode_array([occ]) == b"[" + one + b"]"


class RetryAfter(_Target):
    """``Retry-After`` from a webhook or search engine answer: seconds, a date, or None."""

    name = "retry_after"

    def seeds(self) -> Sequence[bytes]:
        return [b"120", b"0", b"Wed, 21 Oct 2015 07:28:00 GMT", b"Sun, 06 Nov 1994 08:49:37 +0100"]

    @contextmanager
    def session(self) -> Iterator[Run]:
        now = datetime(2026, 1, 1, tzinfo=UTC)

        def run(data: bytes) -> bool:
            # aiohttp hands header values over as text decoded with surrogateescape.
            seconds = parse_retry_after(data.decode("utf-8", "surrogateescape"), now)
            assert seconds is None or seconds >= 0
            return seconds is not None

        yield run


class Config(_Target):
    """``load_export_config`` on a YAML file: a config, or a ConfigError naming the field."""

    name = "config"
    # A config file is the operator's, and PyYAML's pure-Python parser takes time quadratic in
    # nesting depth: small inputs, nesting just deep enough to exhaust its recursion.
    tokens: tuple[bytes, ...] = (
        *(t for t in HOSTILE_TOKENS if len(t) < 200),
        b"[" * 450 + b"]" * 450,
        b"{a: " * 450 + b"1" + b"}" * 450,
        b'"' + b"x" * 3000 + b'"',
    )
    nesting = 450
    max_size: int | None = 8192

    def seeds(self) -> Sequence[bytes]:
        as_json = [
            msgspec.json.encode(yaml.safe_load(text)) for text in corpus.CONFIGS if text.strip()
        ]
        return [*corpus.CONFIGS, *as_json]

    @contextmanager
    def session(self) -> Iterator[Run]:
        with tempfile.TemporaryDirectory(prefix="kubevents-fuzz-") as tmp:
            path = Path(tmp) / "kubevents.yaml"

            def run(data: bytes) -> bool:
                path.write_bytes(data)
                try:
                    config = load_export_config(path, environ={})
                except ConfigError:
                    return False
                # What the exporter derives from a valid config must work too.
                config.effective_sinks()
                config.checkpoint_path()
                config.time_window.window()
                compile_rules(config.rules)
                for field in ("state_ttl", "checkpoint_interval", "shutdown_timeout"):
                    assert 0 <= getattr(config, field) <= 365 * 86400, field
                return True

            yield run


TARGETS: tuple[Target, ...] = (
    WatchLine(),
    WatchWhole(),
    ListPage(),
    StatusBody(),
    Model(),
    ExporterPath(),
    RetryAfter(),
    Config(),
    *SPOOL_TARGETS,
)
# Mutants per target in CI, about 2 x 10^4 in all; the slow YAML parser gets fewer.
CI_CASES = {
    "watch_line": 4_000, "watch_stream": 2_000, "list_page": 2_500, "status": 2_500,
    "model": 3_000, "exporter_path": 3_000, "retry_after": 1_000, "config": 600,
    "spool_segments": 300, "spool_buffer": 100,
}  # fmt: skip
